/*
 * multipart.c — the streaming multipart/form-data parser.
 *
 * A byte-driven state machine, so a boundary split across any two chunks is
 * found exactly as in one chunk. The body scan holds back only the bytes
 * that match a prefix of the delimiter "\r\n--boundary": those bytes are the
 * delimiter's own prefix, so nothing needs to be buffered, and because a
 * valid boundary cannot contain CR, a mismatch can only restart the match at
 * the current byte (no KMP table needed). Part headers are gathered into a
 * fixed buffer of max_header_bytes and parsed once complete. Any violation
 * stops the parser for good with a fixed message.
 */
#include "multipart.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iotd.h"

#define DELIM_PREFIX "\r\n--"
#define DELIM_PREFIX_LEN 4
#define MAX_TRANSPORT_PADDING 64 /* spaces allowed between a boundary and its CRLF */

enum state {
    S_PREAMBLE,    /* before the first boundary; bytes ignored */
    S_BODY,        /* in a part's body */
    S_AFTER_DELIM, /* just after "--boundary": padding, then CRLF or "--" */
    S_AFTER_CR,    /* seen CR after a boundary */
    S_CLOSE_DASH,  /* seen the first '-' of the closing "--" */
    S_HEADERS,     /* in a part's header block */
    S_EPILOGUE,    /* after the closing boundary; bytes ignored */
    S_ERROR,
};

struct iotd_multipart {
    char delim[DELIM_PREFIX_LEN + IOTD_MAX_BOUNDARY_CHARS + 1];
    size_t delim_len;
    size_t match; /* bytes of delim matched and held back */
    enum state state;
    iotd_multipart_limits lim;
    iotd_multipart_callbacks cb;
    void *ud;
    size_t total, parts, padding;
    char *hdr; /* max_header_bytes raw header bytes of the current part */
    size_t hdr_len;
    char *strs; /* NUL-terminated name, filename and type for on_part_begin */
    size_t strs_cap, strs_used;
    const char *error;
    int error_status;
};

static int fail(iotd_multipart *m, int status, const char *why)
{
    m->state = S_ERROR;
    m->error = why;
    m->error_status = status;
    return IOTD_ERROR;
}

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_bchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("'()+_,-./:=? ", c) != NULL;
}

static int boundary_ok(const char *b, size_t n)
{
    if (n == 0 || n > IOTD_MAX_BOUNDARY_CHARS || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

/*
 * Reads the next "; name=value" parameter of a header value in [*sp, end).
 * Values are tokens or quoted strings; backslash is literal (browsers
 * percent-encode '"' in names and filenames and send Windows paths as is).
 * Returns 1 with a parameter, 0 at the end, -1 when malformed.
 */
static int next_param(const char **sp, const char *end, const char **name, size_t *nlen, const char **val,
                      size_t *vlen)
{
    const char *p = *sp;
    while (p < end && is_ows(*p))
        p++;
    if (p == end)
        return 0;
    if (*p != ';')
        return -1;
    p++;
    while (p < end && is_ows(*p))
        p++;
    if (p == end)
        return 0;
    *name = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    *nlen = (size_t)(p - *name);
    while (p < end && is_ows(*p))
        p++;
    if (*nlen == 0 || p == end || *p != '=')
        return -1;
    p++;
    while (p < end && is_ows(*p))
        p++;
    if (p < end && *p == '"') {
        p++;
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return -1;
        *val = p;
        *vlen = (size_t)(q - p);
        p = q + 1;
    } else {
        *val = p;
        while (p < end && *p != ';' && !is_ows(*p) && *p != '"')
            p++;
        *vlen = (size_t)(p - *val);
        if (*vlen == 0)
            return -1;
    }
    *sp = p;
    return 1;
}

/* Splits "type; params" and checks type case-insensitively; *rest points at the params. */
static int media_type_is(const char *s, const char *end, const char *type, const char **rest)
{
    while (s < end && is_ows(*s))
        s++;
    const char *t = s;
    while (s < end && *s != ';')
        s++;
    const char *te = s;
    while (te > t && is_ows(te[-1]))
        te--;
    *rest = s;
    size_t n = strlen(type);
    return (size_t)(te - t) == n && strncasecmp(t, type, n) == 0;
}

int iotd_multipart_boundary(const char *content_type, char *out, size_t outlen, const char **err)
{
    const char *why = NULL;
    if (!content_type) {
        why = "missing Content-Type";
    } else {
        size_t len = strnlen(content_type, IOTD_MAX_HEADER_BYTES + 1);
        const char *end = content_type + len, *p, *name, *val, *found = NULL;
        size_t nlen, vlen, flen = 0;
        int rc;
        if (len > IOTD_MAX_HEADER_BYTES)
            why = "Content-Type too long";
        else if (!media_type_is(content_type, end, "multipart/form-data", &p))
            why = "Content-Type is not multipart/form-data";
        while (!why && (rc = next_param(&p, end, &name, &nlen, &val, &vlen)) != 0) {
            if (rc < 0) {
                why = "malformed Content-Type parameters";
            } else if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
                if (found)
                    why = "duplicate boundary parameter";
                found = val;
                flen = vlen;
            }
        }
        if (!why && !found)
            why = "missing multipart boundary";
        else if (!why && !boundary_ok(found, flen))
            why = "invalid multipart boundary";
        else if (!why && flen >= outlen)
            why = "multipart boundary too long";
        if (!why) {
            memcpy(out, found, flen);
            out[flen] = '\0';
            return IOTD_OK;
        }
    }
    if (err)
        *err = why;
    return IOTD_ERROR;
}

iotd_multipart *iotd_multipart_new(const char *boundary, const iotd_multipart_limits *lim,
                                   const iotd_multipart_callbacks *cb, void *ud)
{
    if (!boundary)
        return NULL;
    size_t blen = strnlen(boundary, IOTD_MAX_BOUNDARY_CHARS + 1);
    if (!boundary_ok(boundary, blen))
        return NULL;
    iotd_multipart *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memcpy(m->delim, DELIM_PREFIX, DELIM_PREFIX_LEN);
    memcpy(m->delim + DELIM_PREFIX_LEN, boundary, blen);
    m->delim_len = DELIM_PREFIX_LEN + blen;
    m->delim[m->delim_len] = '\0';
    /* the first boundary may open the body without a CRLF before it */
    m->match = 2;
    m->state = S_PREAMBLE;
    m->lim.max_parts = lim && lim->max_parts ? lim->max_parts : IOTD_MAX_PARTS;
    m->lim.max_header_bytes =
        lim && lim->max_header_bytes ? lim->max_header_bytes : IOTD_MAX_PART_HEADER_BYTES;
    m->lim.max_total_bytes =
        lim && lim->max_total_bytes ? lim->max_total_bytes : (size_t)IOTD_MAX_UPLOAD_BYTES;
    if (cb)
        m->cb = *cb;
    m->ud = ud;
    if (m->lim.max_header_bytes > (size_t)1 << 30) {
        free(m);
        return NULL;
    }
    /* each of the three strings is shorter than its source span, plus a NUL */
    m->strs_cap = m->lim.max_header_bytes + 3;
    m->hdr = malloc(m->lim.max_header_bytes);
    m->strs = malloc(m->strs_cap);
    if (!m->hdr || !m->strs) {
        iotd_multipart_free(m);
        return NULL;
    }
    return m;
}

void iotd_multipart_free(iotd_multipart *m)
{
    if (!m)
        return;
    free(m->hdr);
    free(m->strs);
    free(m);
}

const char *iotd_multipart_error(const iotd_multipart *m)
{
    return m->error ? m->error : "";
}

int iotd_multipart_error_status(const iotd_multipart *m)
{
    return m->error_status ? m->error_status : 400;
}

const char *iotd_multipart_filename_base(const char *filename)
{
    if (!filename)
        return NULL;
    const char *slash = strrchr(filename, '/'), *back = strrchr(filename, '\\');
    const char *last = slash > back ? slash : back;
    return last ? last + 1 : filename;
}

static const char *keep_string(iotd_multipart *m, const char *s, size_t n)
{
    if (n + 1 > m->strs_cap - m->strs_used)
        return NULL;
    char *d = m->strs + m->strs_used;
    memcpy(d, s, n);
    d[n] = '\0';
    m->strs_used += n + 1;
    return d;
}

static int parse_disposition(iotd_multipart *m, const char *v, const char *end, const char **name,
                             const char **filename)
{
    const char *p, *pn, *pv;
    size_t pnlen, pvlen;
    int rc;
    if (!media_type_is(v, end, "form-data", &p))
        return fail(m, 400, "part Content-Disposition is not form-data");
    while ((rc = next_param(&p, end, &pn, &pnlen, &pv, &pvlen)) != 0) {
        if (rc < 0)
            return fail(m, 400, "malformed part Content-Disposition");
        const char **slot = NULL;
        if (pnlen == 4 && strncasecmp(pn, "name", 4) == 0)
            slot = name;
        else if (pnlen == 8 && strncasecmp(pn, "filename", 8) == 0)
            slot = filename;
        if (!slot)
            continue;
        if (*slot)
            return fail(m, 400, "duplicate parameter in part Content-Disposition");
        *slot = keep_string(m, pv, pvlen);
        if (!*slot)
            return fail(m, 400, "part headers too long");
    }
    return IOTD_OK;
}

/* The header block is complete (ends with CRLF CRLF, or is a lone CRLF). */
static int begin_part(iotd_multipart *m)
{
    const char *h = m->hdr, *end = m->hdr + m->hdr_len;
    const char *name = NULL, *filename = NULL, *type = NULL;
    int have_disposition = 0;
    m->strs_used = 0;
    while (h < end) {
        const char *eol = memchr(h, '\r', (size_t)(end - h)); /* every CR is followed by LF */
        if (!eol || eol == h)
            break;
        if (is_ows(*h))
            return fail(m, 400, "folded part header lines are not supported");
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon)
            return fail(m, 400, "part header line without a colon");
        if (colon == h)
            return fail(m, 400, "empty part header name");
        for (const char *c = h; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return fail(m, 400, "invalid part header name");
        size_t hn = (size_t)(colon - h);
        const char *v = colon + 1, *ve = eol;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        if (hn == 19 && strncasecmp(h, "Content-Disposition", 19) == 0) {
            if (have_disposition)
                return fail(m, 400, "duplicate part Content-Disposition");
            have_disposition = 1;
            if (parse_disposition(m, v, ve, &name, &filename) != IOTD_OK)
                return IOTD_ERROR;
        } else if (hn == 12 && strncasecmp(h, "Content-Type", 12) == 0) {
            if (type)
                return fail(m, 400, "duplicate part Content-Type");
            type = keep_string(m, v, (size_t)(ve - v));
            if (!type)
                return fail(m, 400, "part headers too long");
        }
        h = eol + 2;
    }
    if (!have_disposition)
        return fail(m, 400, "part without Content-Disposition");
    if (!name || !*name)
        return fail(m, 400, "part without a name");
    if (m->cb.on_part_begin && m->cb.on_part_begin(m->ud, name, filename, type) != IOTD_OK)
        return fail(m, 400, "part rejected");
    m->state = S_BODY;
    m->match = 0;
    return IOTD_OK;
}

static int header_byte(iotd_multipart *m, unsigned char c)
{
    char prev = m->hdr_len ? m->hdr[m->hdr_len - 1] : '\0';
    if (m->hdr_len == m->lim.max_header_bytes)
        return fail(m, 400, "part headers too long");
    if (c == '\n' && prev != '\r')
        return fail(m, 400, "bare LF in part headers");
    if (c != '\n' && prev == '\r')
        return fail(m, 400, "CR without LF in part headers");
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
        return fail(m, 400, "control character in part headers");
    m->hdr[m->hdr_len++] = (char)c;
    if (c == '\n' &&
        (m->hdr_len == 2 || (m->hdr_len >= 4 && memcmp(m->hdr + m->hdr_len - 4, "\r\n\r\n", 4) == 0)))
        return begin_part(m);
    return IOTD_OK;
}

static int emit(iotd_multipart *m, const char *p, size_t n)
{
    if (m->state != S_BODY || n == 0 || !m->cb.on_part_data)
        return IOTD_OK;
    if (m->cb.on_part_data(m->ud, p, n) != IOTD_OK)
        return fail(m, 400, "part data rejected");
    return IOTD_OK;
}

/* Scans preamble or body bytes for the delimiter; *used is how many were consumed. */
static int scan(iotd_multipart *m, const char *p, size_t len, size_t *used)
{
    size_t i = 0;
    while (i < len) {
        if (m->match == 0) {
            const char *cr = memchr(p + i, '\r', len - i);
            size_t stop = cr ? (size_t)(cr - p) : len;
            if (emit(m, p + i, stop - i) != IOTD_OK)
                return IOTD_ERROR;
            if (!cr) {
                i = len;
                break;
            }
            i = stop + 1;
            m->match = 1;
            continue;
        }
        if (p[i] == m->delim[m->match]) {
            i++;
            if (++m->match == m->delim_len) {
                m->match = 0;
                if (m->state == S_BODY && m->cb.on_part_end && m->cb.on_part_end(m->ud) != IOTD_OK)
                    return fail(m, 400, "part rejected");
                m->state = S_AFTER_DELIM;
                m->padding = 0;
                break;
            }
            continue;
        }
        /* the held-back bytes were data after all; p[i] is looked at again */
        if (emit(m, m->delim, m->match) != IOTD_OK)
            return IOTD_ERROR;
        m->match = 0;
    }
    *used = i;
    return IOTD_OK;
}

int iotd_multipart_feed(iotd_multipart *m, const char *data, size_t len)
{
    if (m->state == S_ERROR)
        return IOTD_ERROR;
    if (len > m->lim.max_total_bytes - m->total)
        return fail(m, 413, "multipart body too large");
    m->total += len;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];
        size_t used;
        switch (m->state) {
        case S_PREAMBLE:
        case S_BODY:
            if (scan(m, data + i, len - i, &used) != IOTD_OK)
                return IOTD_ERROR;
            i += used;
            break;
        case S_AFTER_DELIM:
            i++;
            if (c == '-')
                m->state = S_CLOSE_DASH;
            else if (c == '\r')
                m->state = S_AFTER_CR;
            else if (!is_ows((char)c) || ++m->padding > MAX_TRANSPORT_PADDING)
                return fail(m, 400, "malformed multipart boundary line");
            break;
        case S_CLOSE_DASH:
            i++;
            if (c != '-')
                return fail(m, 400, "malformed multipart boundary line");
            m->state = S_EPILOGUE;
            break;
        case S_AFTER_CR:
            i++;
            if (c != '\n')
                return fail(m, 400, "malformed multipart boundary line");
            if (m->parts == m->lim.max_parts)
                return fail(m, 400, "too many multipart parts");
            m->parts++;
            m->hdr_len = 0;
            m->state = S_HEADERS;
            break;
        case S_HEADERS:
            i++;
            if (header_byte(m, c) != IOTD_OK)
                return IOTD_ERROR;
            break;
        case S_EPILOGUE: i = len; break;
        case S_ERROR: return IOTD_ERROR;
        }
    }
    return IOTD_OK;
}

int iotd_multipart_finish(iotd_multipart *m)
{
    if (m->state == S_ERROR)
        return IOTD_ERROR;
    if (m->state != S_EPILOGUE)
        return fail(m, 400, "multipart body ended before its closing boundary");
    return IOTD_OK;
}
