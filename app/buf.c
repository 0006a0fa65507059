/*
 * buf.c — the growable byte buffer every module builds strings with.
 *
 * Growth doubles the capacity; an optional maximum turns runaway input into
 * an IOTD_ERROR instead of unbounded memory.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotd.h"

void iotd_buf_init(iotd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void iotd_buf_free(iotd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void iotd_buf_reset(iotd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int iotd_buf_reserve(iotd_buf *b, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - b->len)
        return IOTD_ERROR;
    size_t need = b->len + extra + 1;
    if (b->max && need > b->max + 1)
        return IOTD_ERROR;
    if (need <= b->cap)
        return IOTD_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return IOTD_ERROR;
    b->data = p;
    b->cap = cap;
    return IOTD_OK;
}

int iotd_buf_append(iotd_buf *b, const void *data, size_t len)
{
    if (iotd_buf_reserve(b, len) != IOTD_OK)
        return IOTD_ERROR;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return IOTD_OK;
}

int iotd_buf_puts(iotd_buf *b, const char *s)
{
    return iotd_buf_append(b, s, strlen(s));
}

int iotd_buf_putc(iotd_buf *b, char c)
{
    return iotd_buf_append(b, &c, 1);
}

int iotd_buf_vprintf(iotd_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return IOTD_ERROR;
    if ((size_t)n < sizeof small)
        return iotd_buf_append(b, small, (size_t)n);
    if (iotd_buf_reserve(b, (size_t)n) != IOTD_OK)
        return IOTD_ERROR;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return IOTD_OK;
}

int iotd_buf_printf(iotd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = iotd_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int iotd_buf_append_html(iotd_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '`': rep = "&#96;"; break;
        case '=': rep = "&#61;"; break;
        default: continue;
        }
        if (iotd_buf_append(b, s + start, i - start) != IOTD_OK || iotd_buf_puts(b, rep) != IOTD_OK)
            return IOTD_ERROR;
        start = i + 1;
    }
    return iotd_buf_append(b, s + start, len - start);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int iotd_buf_append_uri(iotd_buf *b, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    if (iotd_buf_reserve(b, len) != IOTD_OK)
        return IOTD_ERROR;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (iotd_buf_putc(b, (char)c) != IOTD_OK)
                return IOTD_ERROR;
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (iotd_buf_append(b, enc, 3) != IOTD_OK)
                return IOTD_ERROR;
        }
    }
    return IOTD_OK;
}

int iotd_buf_append_hex(iotd_buf *b, const unsigned char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (iotd_buf_reserve(b, len * 2) != IOTD_OK)
        return IOTD_ERROR;
    for (size_t i = 0; i < len; i++) {
        b->data[b->len++] = hex[p[i] >> 4];
        b->data[b->len++] = hex[p[i] & 15];
    }
    b->data[b->len] = '\0';
    return IOTD_OK;
}

char *iotd_buf_detach(iotd_buf *b, size_t *len)
{
    if (!b->data && iotd_buf_reserve(b, 0) != IOTD_OK)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
