/*
 * s3.c — the S3 client: signed requests over one reused curl handle.
 *
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88 does not
 * send x-amz-content-sha256, which S3 requires, so it is sent here (the hex
 * SHA-256 of the body, so S3 refuses a corrupted upload) and libcurl signs
 * it with the other headers. libcurl 7.88 signs the path and the query as
 * written, so both are built here already in canonical form: keys encoded
 * as SigV4 asks (upper-case hex, '/' kept) and query parameters sorted.
 * Presigned URLs are made by sigv4.c. Error bodies and listings are parsed
 * with libxml2.
 */
#include "s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/rand.h>

#include "aws_credentials.h"
#include "iotd.h"
#include "sigv4.h"
#include "spool.h"

#define S3_DEFAULT_REGION "us-east-1"
#define S3_CONNECT_TIMEOUT_MS 2000L
#define S3_TIMEOUT_BASE_MS 10000L    /* every request gets this much ... */
#define S3_TIMEOUT_BYTES_PER_MS 256L /* ... plus 1 ms per 256 bytes (256 KB/s at worst) */
#define S3_MAX_ATTEMPTS 3
#define S3_RETRY_BASE_MS 100L         /* back-off: 100 ms, 200 ms, ... plus up to as much jitter */
#define S3_MAX_ERROR_BODY (64 * 1024) /* error documents are small */
#define S3_MAX_LIST_PAGE (8 * 1024 * 1024)
#define S3_MAX_LIST_PAGES 100000
#define S3_MAX_EXT_CHARS 8
#define S3_MAX_HEADER_LINE 8192 /* room for a session token */

struct iotd_s3 {
    iotd_s3_config cfg;
    iotd_aws_provider *creds;
    CURL *curl;
    iotd_buf error_body;
};

/* One request, described before it is sent. */
typedef struct s3_request {
    const char *method; /* GET, PUT, HEAD, DELETE */
    const char *key;    /* NULL for the bucket itself */
    const char *query;  /* canonical query (sorted, encoded) or NULL */
    const void *body;   /* PUT from memory ... */
    size_t body_len;
    const iotd_spool *file;   /* ... or from a spool (body_len = its length) */
    size_t file_offset;       /* how much of it was read in this attempt */
    const char *content_type; /* PUT */
    iotd_buf *out;            /* 2xx body, or NULL to discard */
    iotd_spool *out_spool;    /* or into a spool (emptied before each attempt) */
    size_t out_max;
    int64_t content_length; /* filled from the response */
} s3_request;

typedef struct s3_sink {
    CURL *curl;
    iotd_buf *ok_body;
    iotd_spool *ok_spool; /* instead of ok_body; its own max applies */
    size_t ok_max;
    iotd_buf *error_body;
    int too_large;
} s3_sink;

static void set_error(iotd_s3_error *err, long status, const char *code, const char *message)
{
    if (!err)
        return;
    err->http_status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", message);
}

static const char *region_of(const iotd_s3_config *cfg)
{
    return cfg->region[0] ? cfg->region : S3_DEFAULT_REGION;
}

/* ---- locations ---------------------------------------------------------- */

static int custom_endpoint(const iotd_s3_config *cfg, iotd_buf *base_url, iotd_buf *host, iotd_buf *path)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *hostname = NULL, *port = NULL, *upath = NULL;
    int rc = IOTD_ERROR;
    if (!u || curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &upath, 0) != CURLUE_OK)
        goto out;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        goto out;
    /* only an explicit, non-default port is part of the Host header */
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
        ((strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
         (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0))) {
        curl_free(port);
        port = NULL;
    }
    if (iotd_buf_puts(host, hostname) != IOTD_OK || (port && iotd_buf_printf(host, ":%s", port) != IOTD_OK) ||
        iotd_buf_printf(base_url, "%s://%s", scheme, host->data) != IOTD_OK)
        goto out;
    size_t plen = strlen(upath);
    while (plen && upath[plen - 1] == '/')
        plen--;
    if (iotd_buf_append(path, upath, plen) != IOTD_OK || iotd_buf_putc(path, '/') != IOTD_OK ||
        iotd_sigv4_uri_encode(path, cfg->bucket, strlen(cfg->bucket), 0) != IOTD_OK)
        goto out;
    rc = IOTD_OK;
out:
    curl_free(scheme);
    curl_free(hostname);
    curl_free(port);
    curl_free(upath);
    curl_url_cleanup(u);
    return rc;
}

int iotd_s3_object_location(const iotd_s3_config *cfg, const char *key, iotd_buf *base_url, iotd_buf *host,
                            iotd_buf *path)
{
    if (!cfg->bucket[0])
        return IOTD_ERROR;
    if (key && (!key[0] || strlen(key) > IOTD_S3_MAX_KEY_BYTES))
        return IOTD_ERROR;
    iotd_buf_reset(base_url);
    iotd_buf_reset(host);
    iotd_buf_reset(path);
    if (cfg->endpoint[0]) {
        if (custom_endpoint(cfg, base_url, host, path) != IOTD_OK)
            return IOTD_ERROR;
    } else {
        const char *region = region_of(cfg);
        int rc = strcmp(region, S3_DEFAULT_REGION) == 0
                     ? iotd_buf_printf(host, "%s.s3.amazonaws.com", cfg->bucket)
                     : iotd_buf_printf(host, "%s.s3.%s.amazonaws.com", cfg->bucket, region);
        if (rc != IOTD_OK || iotd_buf_printf(base_url, "https://%s", host->data) != IOTD_OK)
            return IOTD_ERROR;
    }
    if (iotd_buf_putc(path, '/') != IOTD_OK)
        return IOTD_ERROR;
    if (key && iotd_sigv4_uri_encode(path, key, strlen(key), 1) != IOTD_OK)
        return IOTD_ERROR;
    return IOTD_OK;
}

/* ---- XML ---------------------------------------------------------------- */

/* No network, no entity substitution, no messages on stderr. recover is for
 * error documents only: s3rver writes HTML entities (&eacute;) into them for
 * non-ASCII keys, and the Code is still worth reading. */
static xmlDocPtr parse_xml(const char *xml, size_t len, int recover)
{
    if (!xml || len == 0 || len > INT32_MAX)
        return NULL;
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    if (recover)
        options |= XML_PARSE_RECOVER;
    return xmlReadMemory(xml, (int)len, "s3.xml", NULL, options);
}

static int name_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent->children; n; n = n->next)
        if (name_is(n, name))
            return n;
    return NULL;
}

/* Copies the child's text into dst (truncated to cap); "" when absent. */
static void child_text(xmlNodePtr parent, const char *name, char *dst, size_t cap)
{
    dst[0] = '\0';
    xmlNodePtr n = child(parent, name);
    if (!n)
        return;
    xmlChar *t = xmlNodeGetContent(n);
    if (t) {
        snprintf(dst, cap, "%s", (const char *)t);
        xmlFree(t);
    }
}

static const char *status_code_name(long status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    default: return "HttpError";
    }
}

int iotd_s3_parse_error(const char *xml, size_t len, long http_status, iotd_s3_error *err)
{
    char msg[64];
    snprintf(msg, sizeof msg, "HTTP %ld", http_status);
    set_error(err, http_status, status_code_name(http_status), msg);
    xmlDocPtr doc = parse_xml(xml, len, 1);
    if (!doc)
        return IOTD_DECLINED; /* HEAD answers and proxies send no document */
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = IOTD_DECLINED;
    if (root && name_is(root, "Error") && err) {
        char code[sizeof err->code];
        child_text(root, "Code", code, sizeof code);
        if (code[0]) {
            snprintf(err->code, sizeof err->code, "%s", code);
            child_text(root, "Message", err->message, sizeof err->message);
            rc = IOTD_OK;
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

void iotd_s3_listing_init(iotd_s3_listing *l)
{
    l->items = NULL;
    l->len = l->cap = 0;
}

void iotd_s3_listing_free(iotd_s3_listing *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i].key);
    free(l->items);
    iotd_s3_listing_init(l);
}

static int list_push(iotd_s3_listing *l, const char *key, int64_t size, int64_t mtime)
{
    if (l->len >= IOTD_S3_MAX_LIST_OBJECTS)
        return IOTD_ERROR;
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        iotd_s3_object *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return IOTD_ERROR;
        l->items = p;
        l->cap = cap;
    }
    char *k = strdup(key);
    if (!k)
        return IOTD_ERROR;
    l->items[l->len++] = (iotd_s3_object){k, size, mtime};
    return IOTD_OK;
}

static int parse_contents(xmlNodePtr n, iotd_s3_listing *out)
{
    char key[IOTD_S3_MAX_KEY_BYTES + 2], size[32], mtime[64];
    child_text(n, "Key", key, sizeof key);
    child_text(n, "Size", size, sizeof size);
    child_text(n, "LastModified", mtime, sizeof mtime);
    if (!key[0] || strlen(key) > IOTD_S3_MAX_KEY_BYTES)
        return IOTD_ERROR;
    char *end;
    errno = 0;
    long long sz = strtoll(size, &end, 10);
    if (errno || end == size || *end || sz < 0)
        return IOTD_ERROR;
    int64_t t;
    if (iotd_sigv4_parse_iso8601(mtime, &t) != IOTD_OK)
        return IOTD_ERROR;
    return list_push(out, key, (int64_t)sz, t);
}

int iotd_s3_parse_list(const char *xml, size_t len, iotd_s3_listing *out, iotd_buf *next_token)
{
    iotd_buf_reset(next_token);
    xmlDocPtr doc = parse_xml(xml, len, 0);
    if (!doc)
        return IOTD_ERROR;
    int rc = IOTD_ERROR;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !name_is(root, "ListBucketResult"))
        goto out;
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (name_is(n, "Contents") && parse_contents(n, out) != IOTD_OK)
            goto out;
    char truncated[16], token[IOTD_S3_MAX_KEY_BYTES * 2];
    child_text(root, "IsTruncated", truncated, sizeof truncated);
    child_text(root, "NextContinuationToken", token, sizeof token);
    if (strcmp(truncated, "true") == 0) {
        if (!token[0] || iotd_buf_puts(next_token, token) != IOTD_OK)
            goto out; /* truncated without a way to continue */
    }
    rc = IOTD_OK;
out:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- the client --------------------------------------------------------- */

iotd_s3 *iotd_s3_new(const iotd_s3_config *cfg, iotd_aws_env *env)
{
    iotd_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return NULL;
    s3->cfg = *cfg;
    iotd_buf_init(&s3->error_body, S3_MAX_ERROR_BODY);
    s3->creds = iotd_aws_provider_new(env);
    s3->curl = curl_easy_init();
    if (!s3->creds || !s3->curl) {
        iotd_s3_free(s3);
        return NULL;
    }
    return s3;
}

void iotd_s3_free(iotd_s3 *s3)
{
    if (!s3)
        return;
    if (s3->curl)
        curl_easy_cleanup(s3->curl);
    iotd_aws_provider_free(s3->creds);
    iotd_buf_free(&s3->error_body);
    free(s3);
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    s3_sink *sink = userdata;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        if (sink->ok_spool) {
            int rc = iotd_spool_write(sink->ok_spool, data, len);
            if (rc == IOTD_DECLINED)
                sink->too_large = 1;
            return rc == IOTD_OK ? len : 0;
        }
        if (!sink->ok_body)
            return len;
        if (sink->ok_body->len + len > sink->ok_max || iotd_buf_append(sink->ok_body, data, len) != IOTD_OK) {
            sink->too_large = 1;
            return 0;
        }
        return len;
    }
    /* keep the start of an error document; the rest is not needed */
    size_t room = S3_MAX_ERROR_BODY - sink->error_body->len;
    if (room && iotd_buf_append(sink->error_body, data, len < room ? len : room) != IOTD_OK)
        return 0;
    return len;
}

static int retryable_curl_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: return 1;
    default: return 0;
    }
}

static void back_off(int attempt)
{
    long base = S3_RETRY_BASE_MS << attempt;
    unsigned int r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = 0;
    long ms = base + (long)(r % (unsigned int)base);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[S3_MAX_HEADER_LINE];
    if (strpbrk(value, "\r\n"))
        return IOTD_ERROR;
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return IOTD_ERROR;
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return IOTD_ERROR;
    *list = l;
    return IOTD_OK;
}

/* libcurl asks for the next piece of a spooled body. */
static size_t read_spool(char *dst, size_t size, size_t n, void *userdata)
{
    s3_request *req = userdata;
    size_t want = size * n, left = req->body_len - req->file_offset;
    if (want > left)
        want = left;
    if (want == 0)
        return 0;
    long got = iotd_spool_pread(req->file, dst, want, req->file_offset);
    if (got <= 0)
        return CURL_READFUNC_ABORT; /* the file shrank or failed: never send a short body */
    req->file_offset += (size_t)got;
    return (size_t)got;
}

/* libcurl rewinds a spooled body (a resend on a reused connection). */
static int seek_spool(void *userdata, curl_off_t offset, int origin)
{
    s3_request *req = userdata;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    req->file_offset = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Sets up the handle for req; headers receives the list to free afterwards. */
static int prepare(iotd_s3 *s3, s3_request *req, const iotd_aws_credentials *cred, s3_sink *sink,
                   struct curl_slist **headers, iotd_buf *url, iotd_buf *sigv4_param)
{
    iotd_buf base = IOTD_BUF_INIT, host = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    char hash[IOTD_SIGV4_HEX_LEN + 1];
    int rc = IOTD_ERROR;
    if (iotd_s3_object_location(&s3->cfg, req->key, &base, &host, &path) != IOTD_OK ||
        iotd_buf_printf(url, "%s%s", base.data, path.data) != IOTD_OK ||
        (req->query && iotd_buf_printf(url, "?%s", req->query) != IOTD_OK) ||
        iotd_buf_printf(sigv4_param, "aws:amz:%s:s3", region_of(&s3->cfg)) != IOTD_OK)
        goto out;
    if (req->file)
        snprintf(hash, sizeof hash, "%s", req->file->sha256_hex);
    else if (iotd_sigv4_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, hash) !=
             IOTD_OK)
        goto out;
    if (strlen(hash) != IOTD_SIGV4_HEX_LEN || add_header(headers, "x-amz-content-sha256", hash) != IOTD_OK ||
        (cred->session_token[0] &&
         add_header(headers, "x-amz-security-token", cred->session_token) != IOTD_OK))
        goto out;
    CURL *c = s3->curl;
    curl_easy_reset(c); /* keeps the connection cache: keep-alive survives */
    curl_easy_setopt(c, CURLOPT_URL, url->data);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* keys are names, not paths: no dot-segment squashing */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, S3_CONNECT_TIMEOUT_MS);
    size_t scale = req->body_len > req->out_max ? req->body_len : req->out_max;
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, S3_TIMEOUT_BASE_MS + (long)(scale / S3_TIMEOUT_BYTES_PER_MS));
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4_param->data);
    curl_easy_setopt(c, CURLOPT_USERNAME, cred->access_key_id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, cred->secret_access_key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        if (add_header(headers, "Content-Type",
                       req->content_type ? req->content_type : "application/octet-stream") != IOTD_OK)
            goto out;
        if (req->file) {
            req->file_offset = 0;
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_spool);
            curl_easy_setopt(c, CURLOPT_READDATA, req);
            curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_spool);
            curl_easy_setopt(c, CURLOPT_SEEKDATA, req);
        } else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
        }
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
    rc = IOTD_OK;
out:
    iotd_buf_free(&base);
    iotd_buf_free(&host);
    iotd_buf_free(&path);
    return rc;
}

/* One attempt. *retry is set when another attempt may succeed. */
static int attempt(iotd_s3 *s3, s3_request *req, iotd_s3_error *err, int *retry)
{
    *retry = 0;
    const iotd_aws_credentials *cred;
    if (iotd_aws_credentials_get(s3->creds, time(NULL), &cred) != IOTD_OK) {
        set_error(err, 0, "CredentialsUnavailable", "no AWS credentials are available");
        return IOTD_AGAIN;
    }
    struct curl_slist *headers = NULL;
    iotd_buf url = IOTD_BUF_INIT, sigv4_param = IOTD_BUF_INIT;
    s3_sink sink = {s3->curl, req->out, req->out_spool, req->out_max, &s3->error_body, 0};
    if (req->out_spool && req->out_spool->len && iotd_spool_reset(req->out_spool) != IOTD_OK) {
        set_error(err, 0, "LocalError", "the temporary file could not be emptied for another attempt");
        return IOTD_ERROR;
    }
    iotd_buf_reset(&s3->error_body);
    if (req->out)
        iotd_buf_reset(req->out);
    int rc = IOTD_ERROR;
    if (prepare(s3, req, cred, &sink, &headers, &url, &sigv4_param) != IOTD_OK) {
        set_error(err, 0, "InvalidRequest", "the request could not be built (bad key or configuration)");
        goto out;
    }
    CURLcode cc = curl_easy_perform(s3->curl);
    long status = 0;
    curl_easy_getinfo(s3->curl, CURLINFO_RESPONSE_CODE, &status);
    if (sink.too_large) {
        set_error(err, status, "TooLarge", "the object is larger than allowed");
        goto out;
    }
    if (cc != CURLE_OK) {
        set_error(err, 0, "Unreachable", curl_easy_strerror(cc));
        *retry = retryable_curl_error(cc);
        rc = *retry ? IOTD_AGAIN : IOTD_ERROR;
        goto out;
    }
    if (status >= 200 && status < 300) {
        curl_off_t cl = -1;
        curl_easy_getinfo(s3->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        req->content_length = cl;
        rc = IOTD_OK;
        goto out;
    }
    iotd_s3_parse_error(s3->error_body.data, s3->error_body.len, status, err);
    int slow_down = err && strcmp(err->code, "SlowDown") == 0;
    if (status == 404) {
        rc = IOTD_DECLINED;
    } else if (status == 503 || slow_down) {
        *retry = 1;
        rc = IOTD_AGAIN;
    } else if (status == 500) {
        *retry = 1;
        rc = IOTD_ERROR;
    }
out:
    curl_slist_free_all(headers);
    iotd_buf_free(&url);
    iotd_buf_free(&sigv4_param);
    return rc;
}

static int perform(iotd_s3 *s3, s3_request *req, iotd_s3_error *err)
{
    iotd_s3_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    int rc = IOTD_ERROR;
    for (int i = 0; i < S3_MAX_ATTEMPTS; i++) {
        int retry;
        rc = attempt(s3, req, err, &retry);
        if (rc == IOTD_OK || !retry || i + 1 == S3_MAX_ATTEMPTS)
            break;
        back_off(i);
    }
    return rc;
}

int iotd_s3_put(iotd_s3 *s3, const char *key, const void *body, size_t len, const char *content_type,
                iotd_s3_error *err)
{
    s3_request req = {
        .method = "PUT", .key = key, .body = body ? body : "", .body_len = len, .content_type = content_type};
    return perform(s3, &req, err);
}

int iotd_s3_put_spool(iotd_s3 *s3, const char *key, const iotd_spool *file, const char *content_type,
                      iotd_s3_error *err)
{
    if (!file || file->fd < 0 || file->hash) { /* open and finished */
        if (err)
            set_error(err, 0, "InvalidRequest", "the file to store is not ready");
        return IOTD_ERROR;
    }
    s3_request req = {
        .method = "PUT", .key = key, .file = file, .body_len = file->len, .content_type = content_type};
    return perform(s3, &req, err);
}

int iotd_s3_head(iotd_s3 *s3, const char *key, int64_t *size, iotd_s3_error *err)
{
    s3_request req = {.method = "HEAD", .key = key};
    int rc = perform(s3, &req, err);
    if (rc == IOTD_OK && size)
        *size = req.content_length;
    return rc;
}

int iotd_s3_get(iotd_s3 *s3, const char *key, size_t max, iotd_buf *out, iotd_s3_error *err)
{
    s3_request req = {.method = "GET", .key = key, .out = out, .out_max = max};
    return perform(s3, &req, err);
}

int iotd_s3_get_spool(iotd_s3 *s3, const char *key, iotd_spool *out, iotd_s3_error *err)
{
    s3_request req = {.method = "GET", .key = key, .out_spool = out, .out_max = out->max};
    int rc = perform(s3, &req, err);
    if (rc == IOTD_OK && iotd_spool_finish(out) != IOTD_OK) {
        set_error(err, 0, "LocalError", "the downloaded object could not be kept");
        rc = IOTD_ERROR;
    }
    return rc;
}

int iotd_s3_delete(iotd_s3 *s3, const char *key, iotd_s3_error *err)
{
    s3_request req = {.method = "DELETE", .key = key};
    return perform(s3, &req, err);
}

int iotd_s3_head_bucket(iotd_s3 *s3, iotd_s3_error *err)
{
    s3_request req = {.method = "HEAD"};
    return perform(s3, &req, err);
}

/* continuation-token, list-type, prefix: already in the sorted order SigV4 needs. */
static int list_query(iotd_buf *q, const char *prefix, const iotd_buf *token)
{
    iotd_buf_reset(q);
    if (token->len &&
        (iotd_buf_puts(q, "continuation-token=") != IOTD_OK ||
         iotd_sigv4_uri_encode(q, token->data, token->len, 0) != IOTD_OK || iotd_buf_putc(q, '&') != IOTD_OK))
        return IOTD_ERROR;
    if (iotd_buf_puts(q, "list-type=2&prefix=") != IOTD_OK ||
        iotd_sigv4_uri_encode(q, prefix, strlen(prefix), 0) != IOTD_OK)
        return IOTD_ERROR;
    return IOTD_OK;
}

int iotd_s3_list(iotd_s3 *s3, const char *prefix, iotd_s3_listing *out, iotd_s3_error *err)
{
    iotd_buf query = IOTD_BUF_INIT, token = IOTD_BUF_INIT, page = IOTD_BUF_INIT;
    int rc = IOTD_ERROR;
    for (int pages = 0; pages < S3_MAX_LIST_PAGES; pages++) {
        if (list_query(&query, prefix ? prefix : "", &token) != IOTD_OK)
            goto out;
        s3_request req = {.method = "GET", .query = query.data, .out = &page, .out_max = S3_MAX_LIST_PAGE};
        rc = perform(s3, &req, err);
        if (rc != IOTD_OK)
            goto out;
        if (iotd_s3_parse_list(page.data, page.len, out, &token) != IOTD_OK) {
            set_error(err, 200, "InvalidListing", "the object listing could not be parsed");
            rc = IOTD_ERROR;
            goto out;
        }
        if (!token.len)
            goto out;
    }
    set_error(err, 200, "InvalidListing", "too many listing pages");
    rc = IOTD_ERROR;
out:
    iotd_buf_free(&query);
    iotd_buf_free(&token);
    iotd_buf_free(&page);
    return rc;
}

/* ---- presigning and keys ------------------------------------------------ */

int iotd_s3_presign_get_at(iotd_s3 *s3, const char *key, int64_t signing_time, long expires, iotd_buf *out)
{
    const iotd_aws_credentials *cred;
    if (iotd_aws_credentials_get(s3->creds, time(NULL), &cred) != IOTD_OK)
        return IOTD_AGAIN;
    iotd_buf base = IOTD_BUF_INIT, host = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    iotd_sigv4_presign_out po;
    iotd_sigv4_presign_out_init(&po);
    int rc = IOTD_ERROR;
    if (!key || iotd_s3_object_location(&s3->cfg, key, &base, &host, &path) != IOTD_OK)
        goto out;
    iotd_sigv4_presign_in in = {
        .base_url = base.data,
        .host = host.data,
        .path = path.data,
        .region = region_of(&s3->cfg),
        .access_key_id = cred->access_key_id,
        .secret_access_key = cred->secret_access_key,
        .session_token = cred->session_token,
        .signing_time = signing_time,
        .expires = expires,
    };
    if (iotd_sigv4_presign(&in, &po) != IOTD_OK)
        goto out;
    iotd_buf_reset(out);
    rc = iotd_buf_append(out, po.url.data, po.url.len);
out:
    iotd_sigv4_presign_out_free(&po);
    iotd_buf_free(&base);
    iotd_buf_free(&host);
    iotd_buf_free(&path);
    return rc;
}

int iotd_s3_presign_get(iotd_s3 *s3, const char *key, time_t now, iotd_buf *out)
{
    long ttl = s3->cfg.presign_ttl > 0 ? s3->cfg.presign_ttl : 3600;
    return iotd_s3_presign_get_at(s3, key, iotd_sigv4_window_start(now, ttl), ttl, out);
}

int iotd_s3_make_key(const iotd_s3_config *cfg, const char *ext, iotd_buf *out)
{
    size_t n = ext ? strlen(ext) : 0;
    if (n < 1 || n > S3_MAX_EXT_CHARS)
        return IOTD_ERROR;
    for (size_t i = 0; i < n; i++)
        if (!((ext[i] >= 'a' && ext[i] <= 'z') || (ext[i] >= '0' && ext[i] <= '9')))
            return IOTD_ERROR;
    unsigned char rnd[IOTD_S3_KEY_RANDOM_BYTES];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return IOTD_ERROR;
    iotd_buf_reset(out);
    if (iotd_buf_puts(out, cfg->prefix) != IOTD_OK || iotd_buf_append_hex(out, rnd, sizeof rnd) != IOTD_OK ||
        iotd_buf_printf(out, ".%s", ext) != IOTD_OK)
        return IOTD_ERROR;
    if (out->len > IOTD_S3_MAX_KEY_BYTES)
        return IOTD_ERROR;
    return IOTD_OK;
}
