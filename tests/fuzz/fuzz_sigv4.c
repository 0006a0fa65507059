/*
 * fuzz_sigv4.c — SigV4 URI encoding and the date parsers it relies on.
 *
 * The first byte chooses keep_slash. The encoding must contain only
 * unreserved characters, '/' when kept, and %XX with upper-case hex, and
 * must decode back to the input exactly. The rest of the input, as a C
 * string, also goes to the X-Amz-Date and ISO 8601 parsers: a date they
 * accept must format back to a valid YYYYMMDDTHHMMSSZ.
 */
#include "fuzz.h"

#include "arena.h"
#include "buf.h"
#include "form.h"
#include "iotd.h"
#include "sigv4.h"

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int upper_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_date(int64_t t)
{
    char out[IOTD_SIGV4_DATE_LEN + 1];
    if (iotd_sigv4_format_date(t, out) == IOTD_OK) {
        FUZZ_CHECK(strlen(out) == IOTD_SIGV4_DATE_LEN);
        int64_t back;
        FUZZ_CHECK(iotd_sigv4_parse_date(out, &back) == IOTD_OK && back == t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int keep_slash = data[0] & 1;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    iotd_buf enc = IOTD_BUF_INIT;
    FUZZ_CHECK(iotd_sigv4_uri_encode(&enc, s, len, keep_slash) == IOTD_OK);
    for (size_t i = 0; i < enc.len; i++) {
        unsigned char c = (unsigned char)enc.data[i];
        if (c == '%') {
            FUZZ_CHECK(i + 2 < enc.len && upper_hex((unsigned char)enc.data[i + 1]) &&
                       upper_hex((unsigned char)enc.data[i + 2]));
            i += 2;
        } else {
            FUZZ_CHECK(unreserved(c) || (keep_slash && c == '/'));
        }
    }
    iotd_arena *a = iotd_arena_new(4096);
    FUZZ_CHECK(a);
    char *back;
    size_t back_len;
    FUZZ_CHECK(iotd_percent_decode(a, enc.data ? enc.data : "", enc.len, 0, &back, &back_len) == IOTD_OK);
    FUZZ_CHECK(back_len == len && memcmp(back, s, len) == 0);
    iotd_arena_destroy(a);
    iotd_buf_free(&enc);

    char *str = fuzz_strndup((const uint8_t *)s, len);
    FUZZ_CHECK(str);
    int64_t t;
    if (iotd_sigv4_parse_date(str, &t) == IOTD_OK)
        check_date(t);
    if (iotd_sigv4_parse_iso8601(str, &t) == IOTD_OK)
        check_date(t);
    free(str);
    return 0;
}
