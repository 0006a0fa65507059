/*
 * fuzz_form.c — urlencoded bodies, query strings and percent-decoding.
 *
 * The first byte picks the field limit and whether '+' means a space; the
 * rest is parsed as a form (the query string takes the same path). Checks:
 * decoding never grows the input, keys hold no NUL, values are terminated,
 * and a decoded value re-encoded and decoded again is unchanged.
 */
#include "fuzz.h"

#include "arena.h"
#include "buf.h"
#include "form.h"
#include "iotd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_params = (data[0] & 0x3F) + 1;
    int plus = data[0] >> 7;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    iotd_arena *a = iotd_arena_new(4096);
    FUZZ_CHECK(a);
    iotd_kvlist l;
    const char *err = NULL;
    if (iotd_form_parse_urlencoded(a, s, len, max_params, &l, &err) == IOTD_OK) {
        FUZZ_CHECK(l.count <= max_params);
        for (size_t i = 0; i < l.count; i++) {
            FUZZ_CHECK(l.items[i].key && l.items[i].value);
            FUZZ_CHECK(strlen(l.items[i].key) <= len);
            FUZZ_CHECK(l.items[i].value[l.items[i].value_len] == '\0');
            FUZZ_CHECK(iotd_kv_find(&l, l.items[i].key) != NULL);
        }
    } else {
        FUZZ_CHECK(err != NULL);
    }

    char *out;
    size_t out_len;
    if (iotd_percent_decode(a, s, len, plus, &out, &out_len) == IOTD_OK) {
        FUZZ_CHECK(out_len <= len && out[out_len] == '\0');
        iotd_buf enc = IOTD_BUF_INIT;
        FUZZ_CHECK(iotd_buf_append_uri(&enc, out, out_len, 0) == IOTD_OK);
        char *back;
        size_t back_len;
        FUZZ_CHECK(iotd_percent_decode(a, enc.data ? enc.data : "", enc.len, 0, &back, &back_len) == IOTD_OK);
        FUZZ_CHECK(back_len == out_len && memcmp(back, out, out_len) == 0);
        iotd_buf_free(&enc);
    }
    iotd_arena_destroy(a);
    return 0;
}
