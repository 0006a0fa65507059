/*
 * fuzz_s3_list.c — ListObjectsV2 pages.
 *
 * The input is one page. An accepted page appends objects with non-empty
 * keys of at most IOTD_S3_MAX_KEY_BYTES and non-negative sizes, and a
 * truncated page always carries its continuation token. The listing is
 * parsed twice into the same list to exercise appending.
 */
#include "fuzz.h"

#include "buf.h"
#include "iotd.h"
#include "s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotd_s3_listing l;
    iotd_s3_listing_init(&l);
    iotd_buf token = IOTD_BUF_INIT;
    for (int round = 0; round < 2; round++) {
        size_t before = l.len;
        if (iotd_s3_parse_list((const char *)data, size, &l, &token) != IOTD_OK)
            break;
        for (size_t i = before; i < l.len; i++) {
            size_t n = strlen(l.items[i].key);
            FUZZ_CHECK(n > 0 && n <= IOTD_S3_MAX_KEY_BYTES);
            FUZZ_CHECK(l.items[i].size >= 0);
        }
        FUZZ_CHECK(!token.data || strlen(token.data) == token.len);
    }
    iotd_buf_free(&token);
    iotd_s3_listing_free(&l);
    return 0;
}
