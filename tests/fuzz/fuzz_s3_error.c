/*
 * fuzz_s3_error.c — S3 error documents (parsed with libxml2's recover mode).
 *
 * The first two bytes pick the HTTP status; the rest is the body. Whatever
 * the document, the error's code and message stay NUL-terminated within
 * their arrays and the code is never empty.
 */
#include "fuzz.h"

#include "iotd.h"
#include "s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    long status = 100 + (long)((data[0] << 8 | data[1]) % 500);
    iotd_s3_error err;
    memset(&err, 0xAA, sizeof err);
    int rc = iotd_s3_parse_error((const char *)data + 2, size - 2, status, &err);
    FUZZ_CHECK(rc == IOTD_OK || rc == IOTD_DECLINED);
    FUZZ_CHECK(err.http_status == status);
    FUZZ_CHECK(memchr(err.code, '\0', sizeof err.code) && err.code[0]);
    FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message));
    return 0;
}
