/*
 * request.c — turns the FastCGI parameters of one request into an
 * iotd_request, refusing anything malformed before a handler sees it.
 *
 * It is the boundary between the client's bytes and the application: every
 * value read here has a named limit, the path is decoded exactly once and
 * checked for traversal, and failures carry the message and status the
 * worker's 4xx page shows. It knows nothing of FastCGI itself, so the tests
 * and the fuzzers drive it with a plain envp array.
 */
#include "request.h"

#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "iotd.h"

#define REQUEST_ID_RANDOM_BYTES 16
#define HEADER_NAME_MAX 64

static int fail(iotd_request *r, int status, const char *why)
{
    r->error = why;
    r->error_status = status;
    return IOTD_ERROR;
}

static const char *find_param(char **envp, const char *name)
{
    if (!envp || !name)
        return NULL;
    size_t n = strlen(name);
    for (char **e = envp; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

const char *iotd_request_param(const iotd_request *r, const char *name)
{
    return find_param(r->envp, name);
}

const char *iotd_request_header(const iotd_request *r, const char *name)
{
    char key[sizeof "HTTP_" + HEADER_NAME_MAX];
    size_t n = strnlen(name, HEADER_NAME_MAX + 1);
    if (n == 0 || n > HEADER_NAME_MAX)
        return NULL;
    if (strcasecmp(name, "Content-Type") == 0)
        return find_param(r->envp, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return find_param(r->envp, "CONTENT_LENGTH");
    memcpy(key, "HTTP_", 5);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c == '-')
            c = '_';
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return NULL;
        key[5 + i] = c;
    }
    key[5 + n] = '\0';
    return find_param(r->envp, key);
}

int iotd_media_type_is(const char *content_type, const char *type)
{
    if (!content_type || !type)
        return 0;
    size_t n = strlen(type);
    if (strncasecmp(content_type, type, n) != 0)
        return 0;
    const char *rest = content_type + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

/* A header we keep: absent is fine, longer than IOTD_MAX_HEADER_BYTES is not. */
static int bounded_header(iotd_request *r, const char *param, const char **out, const char *too_long)
{
    const char *v = find_param(r->envp, param);
    if (v && strnlen(v, IOTD_MAX_HEADER_BYTES + 1) > IOTD_MAX_HEADER_BYTES)
        return fail(r, 431, too_long);
    *out = v;
    return IOTD_OK;
}

static int parse_method(iotd_request *r)
{
    const char *m = find_param(r->envp, "REQUEST_METHOD");
    if (!m || !*m)
        return fail(r, 400, "missing request method");
    size_t n = strnlen(m, IOTD_MAX_METHOD_CHARS + 1);
    if (n > IOTD_MAX_METHOD_CHARS)
        return fail(r, 400, "request method too long");
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return fail(r, 400, "invalid request method");
    r->method = m;
    return IOTD_OK;
}

static int path_is_safe(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    for (size_t i = 0; i < len;) {
        /* p[i] == '/': the segment runs to the next '/' */
        size_t start = i + 1, end = start;
        while (end < len && p[end] != '/')
            end++;
        if (end - start == 2 && p[start] == '.' && p[start + 1] == '.')
            return 0;
        i = end;
    }
    return 1;
}

/* Skips "http://host" or "https://host" of an absolute-form target. */
static const char *skip_absolute_form(const char *uri)
{
    size_t scheme = strncasecmp(uri, "http://", 7) == 0 ? 7 : strncasecmp(uri, "https://", 8) == 0 ? 8 : 0;
    if (!scheme)
        return NULL;
    const char *p = uri + scheme;
    while (*p && *p != '/' && *p != '?' && *p != '#')
        p++;
    return p;
}

/*
 * REQUEST_URI is the raw target, so it is decoded here, once. DOCUMENT_URI
 * is nginx's $uri, already decoded (and normalised), so it is only checked:
 * decoding it again would turn "%2525" into "%" instead of "%25".
 */
static int parse_path_and_query(iotd_request *r)
{
    const char *uri = find_param(r->envp, "REQUEST_URI");
    const char *query_in_uri = NULL;
    size_t query_in_uri_len = 0;

    if (uri) {
        const char *target = uri;
        if (*target != '/') {
            target = skip_absolute_form(uri);
            if (!target)
                return fail(r, 400, "request target is not a path");
        }
        size_t n = 0;
        while (target[n] && target[n] != '?' && target[n] != '#') {
            if (n == IOTD_MAX_PATH_BYTES)
                return fail(r, 414, "request path too long");
            n++;
        }
        if (target[n] == '?') {
            query_in_uri = target + n + 1;
            query_in_uri_len = strcspn(query_in_uri, "#");
        }
        char *decoded;
        size_t dlen;
        if (n == 0) {
            r->path = "/";
        } else if (iotd_percent_decode(r->arena, target, n, 0, &decoded, &dlen) != IOTD_OK) {
            return fail(r, 400, "invalid percent-escape in request path");
        } else if (memchr(decoded, '\0', dlen)) {
            return fail(r, 400, "NUL byte in request path");
        } else if (!path_is_safe(decoded, dlen)) {
            return fail(r, 400, "invalid request path");
        } else {
            r->path = decoded;
        }
    } else {
        const char *doc = find_param(r->envp, "DOCUMENT_URI");
        if (!doc)
            return fail(r, 400, "missing request path");
        size_t n = strnlen(doc, IOTD_MAX_PATH_BYTES + 1);
        if (n > IOTD_MAX_PATH_BYTES)
            return fail(r, 414, "request path too long");
        if (!path_is_safe(doc, n))
            return fail(r, 400, "invalid request path");
        r->path = doc;
    }

    const char *q = find_param(r->envp, "QUERY_STRING");
    size_t qlen;
    if (q) {
        qlen = strnlen(q, IOTD_MAX_QUERY_BYTES + 1);
    } else if (query_in_uri) {
        qlen = query_in_uri_len;
        if (qlen <= IOTD_MAX_QUERY_BYTES) {
            q = iotd_arena_strndup(r->arena, query_in_uri, qlen);
            if (!q)
                return fail(r, 500, "out of memory");
        }
    } else {
        q = "";
        qlen = 0;
    }
    if (qlen > IOTD_MAX_QUERY_BYTES)
        return fail(r, 414, "query string too long");
    r->raw_query = q;
    const char *why = "invalid query string";
    if (iotd_form_parse_urlencoded(r->arena, q, qlen, IOTD_MAX_PARAMS, &r->query, &why) != IOTD_OK)
        return fail(r, 400, why);
    return IOTD_OK;
}

static int parse_host(iotd_request *r)
{
    const char *h = find_param(r->envp, "HTTP_HOST");
    if (!h)
        return IOTD_OK;
    size_t n = strnlen(h, IOTD_MAX_HOST_BYTES + 1);
    if (n == 0 || n > IOTD_MAX_HOST_BYTES)
        return fail(r, 400, "invalid Host header");
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return fail(r, 400, "invalid Host header");
    }
    r->host = h;
    return IOTD_OK;
}

static int parse_content_length(iotd_request *r)
{
    const char *v = find_param(r->envp, "CONTENT_LENGTH");
    r->content_length = -1;
    if (!v || !*v)
        return IOTD_OK;
    long long n = 0;
    size_t i = 0;
    for (; v[i]; i++) {
        if (v[i] < '0' || v[i] > '9' || i >= 18)
            return fail(r, 400, "invalid Content-Length");
        n = n * 10 + (v[i] - '0');
    }
    r->content_length = n;
    return IOTD_OK;
}

static int request_id_ok(const char *id)
{
    size_t n = strnlen(id, IOTD_MAX_REQUEST_ID_CHARS + 1);
    if (n == 0 || n > IOTD_MAX_REQUEST_ID_CHARS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int set_request_id(iotd_request *r)
{
    const char *id = find_param(r->envp, "REQUEST_ID");
    if (id && request_id_ok(id)) {
        r->request_id = id;
        return IOTD_OK;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[REQUEST_ID_RANDOM_BYTES];
    char *out = iotd_arena_alloc(r->arena, 2 * sizeof raw + 1);
    if (!out)
        return fail(r, 500, "out of memory");
    if (RAND_bytes(raw, sizeof raw) != 1)
        return fail(r, 500, "could not generate a request id");
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof raw] = '\0';
    r->request_id = out;
    return IOTD_OK;
}

/* Proxies append to X-Forwarded-Proto, so the last element is the nearest one. */
static int forwarded_https(const char *proto)
{
    if (!proto)
        return 0;
    const char *comma = strrchr(proto, ',');
    const char *s = comma ? comma + 1 : proto;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n == 5 && strncasecmp(s, "https", 5) == 0;
}

int iotd_request_init(iotd_request *r, iotd_arena *a, char **envp)
{
    memset(r, 0, sizeof *r);
    r->arena = a;
    r->envp = envp;
    r->raw_query = "";
    r->content_length = -1;

    if (parse_method(r) != IOTD_OK || parse_path_and_query(r) != IOTD_OK || parse_host(r) != IOTD_OK ||
        parse_content_length(r) != IOTD_OK || set_request_id(r) != IOTD_OK)
        return IOTD_ERROR;

    if (bounded_header(r, "REMOTE_ADDR", &r->remote_addr, "REMOTE_ADDR too long") != IOTD_OK ||
        bounded_header(r, "HTTP_X_FORWARDED_PROTO", &r->forwarded_proto,
                       "X-Forwarded-Proto header too long") != IOTD_OK ||
        bounded_header(r, "CONTENT_TYPE", &r->content_type, "Content-Type header too long") != IOTD_OK ||
        bounded_header(r, "HTTP_ORIGIN", &r->origin, "Origin header too long") != IOTD_OK ||
        bounded_header(r, "HTTP_REFERER", &r->referer, "Referer header too long") != IOTD_OK ||
        bounded_header(r, "HTTP_USER_AGENT", &r->user_agent, "User-Agent header too long") != IOTD_OK ||
        bounded_header(r, "HTTP_IF_NONE_MATCH", &r->if_none_match, "If-None-Match header too long") !=
            IOTD_OK)
        return IOTD_ERROR;

    const char *cookie = find_param(envp, "HTTP_COOKIE");
    const char *why = "invalid Cookie header";
    if (iotd_form_parse_cookies(a, cookie, &r->cookies, &why) != IOTD_OK)
        return fail(
            r, cookie && strnlen(cookie, IOTD_MAX_COOKIE_BYTES + 1) > IOTD_MAX_COOKIE_BYTES ? 431 : 400, why);

    const char *https = find_param(envp, "HTTPS");
    r->is_https = (https && strcasecmp(https, "on") == 0) || forwarded_https(r->forwarded_proto);
    return IOTD_OK;
}

int iotd_request_parse_form(iotd_request *r, const char *body, size_t len, iotd_kvlist *out)
{
    out->items = NULL;
    out->count = 0;
    if (!iotd_media_type_is(r->content_type, "application/x-www-form-urlencoded"))
        return fail(r, 415, "expected an application/x-www-form-urlencoded body");
    if (len > IOTD_MAX_FORM_BYTES)
        return fail(r, 413, "form body too large");
    const char *why = "invalid form body";
    if (iotd_form_parse_urlencoded(r->arena, body, len, IOTD_MAX_PARAMS, out, &why) != IOTD_OK)
        return fail(r, 400, why);
    return IOTD_OK;
}
