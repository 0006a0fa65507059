/*
 * iotd.h — the return codes, named limits and clock shared by every module.
 *
 * Every function that can fail returns one of the IOTD_* codes (or NULL for
 * constructors) and every caller checks it, as nginx does with NGX_OK and
 * NGX_ERROR. Limits on outside input live here so that they are named once.
 */
#ifndef IOTD_H
#define IOTD_H

#include <stddef.h>
#include <time.h>

enum {
    IOTD_OK = 0,        /* done */
    IOTD_ERROR = -1,    /* failed; the callee logged or set an error */
    IOTD_DECLINED = -2, /* nothing to do / not found; not an error */
    IOTD_AGAIN = -3,    /* a dependency is unavailable right now; retry later */
};

/* Limits on outside input. */
#define IOTD_MAX_NAME_CHARS 200         /* image name, in characters */
#define IOTD_MAX_TAGLINE_CHARS 500      /* image tagline, in characters */
#define IOTD_MAX_PATH_BYTES 2048        /* request path */
#define IOTD_MAX_QUERY_BYTES 4096       /* query string */
#define IOTD_MAX_COOKIE_BYTES 4096      /* Cookie header */
#define IOTD_MAX_PARAMS 64              /* query or form fields per request */
#define IOTD_MAX_FORM_BYTES (64 * 1024) /* urlencoded body */
#define IOTD_MAX_TEMPLATE_BYTES (256 * 1024)

#define IOTD_UNUSED(x) ((void)(x))

/* Milliseconds on the monotonic clock, for deadlines and timings. */
static inline long long iotd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
#define IOTD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Limits on request parsing (request.c, form.c, multipart.c). */
#define IOTD_MAX_COOKIES 64                       /* cookie pairs in the Cookie header */
#define IOTD_MAX_HEADER_BYTES 8192                /* any other request header or parameter we read */
#define IOTD_MAX_METHOD_CHARS 16                  /* REQUEST_METHOD */
#define IOTD_MAX_HOST_BYTES 255                   /* Host header */
#define IOTD_MAX_REQUEST_ID_CHARS 64              /* REQUEST_ID passed by nginx */
#define IOTD_MAX_PARTS 32                         /* parts in a multipart/form-data body */
#define IOTD_MAX_PART_HEADER_BYTES 4096           /* header block of one multipart part */
#define IOTD_MAX_UPLOAD_BYTES (20L * 1024 * 1024) /* multipart body, unless configured */
#define IOTD_MAX_BOUNDARY_CHARS 70                /* multipart boundary (RFC 2046) */

#endif
