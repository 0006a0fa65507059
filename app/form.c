/*
 * form.c — query strings, urlencoded forms, cookies and percent-decoding.
 *
 * These are the first functions to touch bytes a client chose, so they only
 * ever walk within (s, len), count before they allocate, and refuse rather
 * than guess: a bad escape or too many fields fails the whole input. Cookies
 * are the exception — another site on the same domain may set cookies we
 * cannot parse, so a pair we do not understand is skipped, not fatal.
 */
#include "form.h"

#include <string.h>

#include "iotd.h"

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int iotd_percent_decode(iotd_arena *a, const char *s, size_t len, int plus_is_space, char **out,
                        size_t *out_len)
{
    /* the decoded form is never longer than the input */
    char *d = iotd_arena_alloc(a, len + 1);
    if (!d)
        return IOTD_ERROR;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3)
                return IOTD_ERROR;
            int hi = hex_value((unsigned char)s[i + 1]);
            int lo = hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return IOTD_ERROR;
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            d[n++] = ' ';
        } else {
            d[n++] = (char)c;
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return IOTD_OK;
}

static void set_err(const char **err, const char *msg)
{
    if (err)
        *err = msg;
}

int iotd_form_parse_urlencoded(iotd_arena *a, const char *s, size_t len, size_t max_params, iotd_kvlist *out,
                               const char **err)
{
    out->items = NULL;
    out->count = 0;
    if (!s)
        len = 0;

    size_t pieces = 0;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i)
            pieces++;
        i = end + 1;
    }
    if (pieces > max_params) {
        set_err(err, "too many parameters");
        return IOTD_ERROR;
    }
    if (pieces == 0)
        return IOTD_OK;
    out->items = iotd_arena_calloc(a, pieces, sizeof(iotd_kv));
    if (!out->items) {
        set_err(err, "out of memory");
        return IOTD_ERROR;
    }

    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) {
            const char *piece = s + i;
            size_t plen = end - i;
            const char *eq = memchr(piece, '=', plen);
            size_t klen = eq ? (size_t)(eq - piece) : plen;
            char *key, *value;
            size_t key_len, value_len;
            if (iotd_percent_decode(a, piece, klen, 1, &key, &key_len) != IOTD_OK ||
                (eq ? iotd_percent_decode(a, eq + 1, plen - klen - 1, 1, &value, &value_len)
                    : iotd_percent_decode(a, "", 0, 1, &value, &value_len)) != IOTD_OK) {
                set_err(err, "invalid percent-escape in parameter");
                return IOTD_ERROR;
            }
            if (memchr(key, '\0', key_len)) {
                set_err(err, "NUL byte in parameter name");
                return IOTD_ERROR;
            }
            out->items[out->count++] = (iotd_kv){key, value, value_len};
        }
        i = end + 1;
    }
    return IOTD_OK;
}

static int is_cookie_space(char c)
{
    return c == ' ' || c == '\t';
}

static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Trims spaces and tabs from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len && is_cookie_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_cookie_space((*s)[*len - 1]))
        (*len)--;
}

int iotd_form_parse_cookies(iotd_arena *a, const char *header, iotd_kvlist *out, const char **err)
{
    out->items = NULL;
    out->count = 0;
    if (!header)
        return IOTD_OK;
    size_t len = strnlen(header, IOTD_MAX_COOKIE_BYTES + 1);
    if (len > IOTD_MAX_COOKIE_BYTES) {
        set_err(err, "Cookie header too long");
        return IOTD_ERROR;
    }

    size_t pieces = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || header[i] == ';')
            pieces++;
    if (pieces > IOTD_MAX_COOKIES) {
        set_err(err, "too many cookies");
        return IOTD_ERROR;
    }
    out->items = iotd_arena_calloc(a, pieces, sizeof(iotd_kv));
    if (!out->items) {
        set_err(err, "out of memory");
        return IOTD_ERROR;
    }

    for (size_t i = 0; i < len;) {
        const char *semi = memchr(header + i, ';', len - i);
        size_t end = semi ? (size_t)(semi - header) : len;
        const char *piece = header + i;
        size_t plen = end - i;
        i = end + 1;

        const char *eq = memchr(piece, '=', plen);
        if (!eq)
            continue;
        const char *name = piece, *value = eq + 1;
        size_t nlen = (size_t)(eq - piece), vlen = plen - nlen - 1;
        trim(&name, &nlen);
        trim(&value, &vlen);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value++;
            vlen -= 2;
        }
        if (nlen == 0 || has_control(name, nlen) || has_control(value, vlen))
            continue;
        char *k = iotd_arena_strndup(a, name, nlen);
        char *v = iotd_arena_strndup(a, value, vlen);
        if (!k || !v) {
            set_err(err, "out of memory");
            return IOTD_ERROR;
        }
        out->items[out->count++] = (iotd_kv){k, v, vlen};
    }
    return IOTD_OK;
}

const iotd_kv *iotd_kv_find(const iotd_kvlist *l, const char *key)
{
    if (!l || !key)
        return NULL;
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return &l->items[i];
    return NULL;
}

const char *iotd_kv_get(const iotd_kvlist *l, const char *key)
{
    const iotd_kv *kv = iotd_kv_find(l, key);
    return kv ? kv->value : NULL;
}
