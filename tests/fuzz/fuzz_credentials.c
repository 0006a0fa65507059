/*
 * fuzz_credentials.c — the ECS container credentials document.
 *
 * The input is the HTTP body the endpoint would send. An accepted document
 * must fill a non-empty key id and secret, every field NUL-terminated within
 * its array.
 */
#include "fuzz.h"

#include "aws_credentials.h"
#include "iotd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotd_aws_credentials c;
    memset(&c, 0xAA, sizeof c);
    if (iotd_aws_parse_container_json((const char *)data, size, &c) == IOTD_OK) {
        FUZZ_CHECK(memchr(c.access_key_id, '\0', sizeof c.access_key_id) && c.access_key_id[0]);
        FUZZ_CHECK(memchr(c.secret_access_key, '\0', sizeof c.secret_access_key) && c.secret_access_key[0]);
        FUZZ_CHECK(memchr(c.session_token, '\0', sizeof c.session_token));
    }
    return 0;
}
