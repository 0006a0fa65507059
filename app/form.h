/*
 * form.h — key/value lists from query strings, urlencoded bodies and the
 * Cookie header, and percent-decoding.
 *
 * Pure functions over bytes: results live in the caller's arena and every
 * failure comes with a fixed message in *err (err may be NULL).
 */
#ifndef IOTD_FORM_H
#define IOTD_FORM_H

#include <stddef.h>

#include "arena.h"

/* value is NUL-terminated; value_len counts bytes, which may include NULs. */
typedef struct iotd_kv {
    const char *key;
    const char *value;
    size_t value_len;
} iotd_kv;

typedef struct iotd_kvlist {
    iotd_kv *items;
    size_t count;
} iotd_kvlist;

/* "%41+b" -> "A b" when plus_is_space; a bad %XX escape is IOTD_ERROR. */
int iotd_percent_decode(iotd_arena *a, const char *s, size_t len, int plus_is_space, char **out,
                        size_t *out_len);
/* "a=1&b=x+y%20z&flag": empty pieces skipped, "flag" has value "", keys may not decode to NUL. */
int iotd_form_parse_urlencoded(iotd_arena *a, const char *s, size_t len, size_t max_params, iotd_kvlist *out,
                               const char **err);
/* "a=1; b=\"2\"": values kept raw (quotes removed), pairs with control characters skipped. */
int iotd_form_parse_cookies(iotd_arena *a, const char *header, iotd_kvlist *out, const char **err);
/* First match, or NULL. */
const iotd_kv *iotd_kv_find(const iotd_kvlist *l, const char *key);
const char *iotd_kv_get(const iotd_kvlist *l, const char *key);

#endif
