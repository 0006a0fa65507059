/*
 * fuzz_cookies.c — the Cookie header parser.
 *
 * The input is the header value (as a C string, so up to its first NUL).
 * Checks: within IOTD_MAX_COOKIES, names non-empty, no control characters
 * in what is kept, every value terminated at its length.
 */
#include "fuzz.h"

#include "arena.h"
#include "form.h"
#include "iotd.h"

static int clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = fuzz_strndup(data, size);
    iotd_arena *a = iotd_arena_new(4096);
    FUZZ_CHECK(header && a);
    iotd_kvlist l;
    const char *err = NULL;
    if (iotd_form_parse_cookies(a, header, &l, &err) == IOTD_OK) {
        FUZZ_CHECK(l.count <= IOTD_MAX_COOKIES);
        for (size_t i = 0; i < l.count; i++) {
            const iotd_kv *kv = &l.items[i];
            FUZZ_CHECK(kv->key[0] != '\0' && clean(kv->key, strlen(kv->key)));
            FUZZ_CHECK(strlen(kv->value) == kv->value_len && clean(kv->value, kv->value_len));
            FUZZ_CHECK(iotd_kv_get(&l, kv->key) != NULL);
        }
    } else {
        FUZZ_CHECK(err != NULL);
    }
    iotd_arena_destroy(a);
    free(header);
    return 0;
}
