/*
 * buf.h — iotd_buf, the one growable byte buffer (the string builder).
 *
 * The data is always NUL-terminated after len bytes, so it can be used as a
 * C string when it holds text. Reset keeps the capacity, so a worker reuses
 * its buffers across requests without reallocating.
 */
#ifndef IOTD_BUF_H
#define IOTD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct iotd_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = no limit; appends past it fail with IOTD_ERROR */
} iotd_buf;

#define IOTD_BUF_INIT {NULL, 0, 0, 0}

void iotd_buf_init(iotd_buf *b, size_t max);
void iotd_buf_free(iotd_buf *b);
void iotd_buf_reset(iotd_buf *b);
int iotd_buf_reserve(iotd_buf *b, size_t extra);
int iotd_buf_append(iotd_buf *b, const void *data, size_t len);
int iotd_buf_puts(iotd_buf *b, const char *s);
int iotd_buf_putc(iotd_buf *b, char c);
int iotd_buf_printf(iotd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int iotd_buf_vprintf(iotd_buf *b, const char *fmt, va_list ap);
/* HTML-escapes & < > " ' ` = (as the Mustache spec and OWASP ask). */
int iotd_buf_append_html(iotd_buf *b, const char *s, size_t len);
/* Percent-encodes all but unreserved characters (RFC 3986); keeps '/' when keep_slash. */
int iotd_buf_append_uri(iotd_buf *b, const char *s, size_t len, int keep_slash);
/* Lower-case hex of len bytes. */
int iotd_buf_append_hex(iotd_buf *b, const unsigned char *p, size_t len);
/* Takes the data out; the buffer is left empty. Caller frees. */
char *iotd_buf_detach(iotd_buf *b, size_t *len);

#endif
