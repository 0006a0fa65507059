/*
 * check_admin.c — the admin pages over HTTP against the running stack
 * (nginx + pool + Postgres + local S3, started by ./dev check): sign-in and
 * sign-out, session cookies, `next`, throttling, CSRF and Origin checks,
 * uploads of each image format and of bad files, size limits, escaping of
 * hostile names, SQL metacharacters, the list with its pages and search,
 * edit, replace, delete, flash messages and the security headers.
 *
 * Needs IOTD_BASE_URL, IOTD_BIN and the PG* variables (./dev check, or a
 * private stack: see ./dev env); skips (exit 77) without them. Every test
 * signs in on its own and uses its own usernames and image names, so the
 * tests do not depend on their order; failed sign-ins are cleared before
 * each test because all requests come from 127.0.0.1. The accounts and
 * images made here are removed at the end.
 */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define BOUNDARY "----iotdAdminTestBoundary7MA4YWxkTrZu0gW"
#define MAX_COOKIES 8
#define PASSWORD "admin-test-password-4711"
#define MB (1024L * 1024L)
#define UPLOAD_LIMIT_MB 20       /* the stack's IOTD_MAX_UPLOAD_MB */
#define PROCESSING_WAIT_MS 60000 /* renditions made after the answer, under sanitizers too */

static const char *base_url;
static const char *iotd_bin;
static char tmpdir[256];
static char marker[32]; /* in every image name made here */
static char user_a[32]; /* the editor most tests sign in as */
static char user_b[32]; /* a second editor (another session's token) */
static char user_c[32]; /* throttled by username */

/* ---- HTTP ----------------------------------------------------------------- */

typedef struct http_result {
    long status;
    iotd_buf body;
    iotd_buf headers;
} http_result;

/* A client with its own cookies, as a browser keeps them for /admin. */
typedef struct browser {
    struct {
        char name[64];
        char value[512];
    } c[MAX_COOKIES];
    size_t n;
    const char *proto; /* X-Forwarded-Proto to send, or NULL */
} browser;

/* Extra request options; a body makes it a POST. */
typedef struct rq {
    const char *body;
    size_t len;
    const char *type;
    const char *origin;
    const char *referer;
    const char *cookie; /* sent instead of the browser's cookies */
} rq;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return iotd_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static void http_free(http_result *r)
{
    iotd_buf_free(&r->body);
    iotd_buf_free(&r->headers);
}

static const char *cookie_get(const browser *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->c[i].name, name) == 0)
            return b->c[i].value;
    return NULL;
}

static void cookie_set(browser *b, const char *name, const char *value)
{
    size_t i;
    for (i = 0; i < b->n && strcmp(b->c[i].name, name) != 0; i++)
        ;
    if (!*value) { /* deleted */
        if (i < b->n) {
            b->c[i] = b->c[b->n - 1];
            b->n--;
        }
        return;
    }
    if (i == b->n) {
        ck_assert_uint_lt(b->n, MAX_COOKIES);
        b->n++;
    }
    snprintf(b->c[i].name, sizeof b->c[i].name, "%s", name);
    snprintf(b->c[i].value, sizeof b->c[i].value, "%s", value);
}

/* The value of the Set-Cookie line for name in r (attributes included), or
 * NULL. Returned in a static buffer. */
static const char *set_cookie_line(const http_result *r, const char *name)
{
    static char line[1024];
    char needle[96];
    snprintf(needle, sizeof needle, "\nSet-Cookie: %s=", name);
    const char *p = strcasestr(r->headers.data, needle);
    if (!p)
        return NULL;
    p += strlen("\nSet-Cookie: ");
    size_t n = strcspn(p, "\r\n");
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    return line;
}

/* Applies every Set-Cookie of a response to the browser. */
static void take_cookies(browser *b, const http_result *r)
{
    const char *p = r->headers.data;
    while ((p = strcasestr(p, "\nSet-Cookie: ")) != NULL) {
        p += strlen("\nSet-Cookie: ");
        size_t n = strcspn(p, "\r\n");
        char line[1024], name[64], value[512];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        size_t eq = strcspn(line, "=");
        size_t vend = strcspn(line, ";");
        ck_assert(eq < vend);
        snprintf(name, sizeof name, "%.*s", (int)eq, line);
        snprintf(value, sizeof value, "%.*s", (int)(vend - eq - 1), line + eq + 1);
        if (strcasestr(line, "Max-Age=0"))
            value[0] = '\0';
        cookie_set(b, name, value);
    }
}

static http_result go(browser *b, const char *method, const char *path, const rq *o)
{
    static const rq none;
    if (!o)
        o = &none;
    http_result r = {0, IOTD_BUF_INIT, IOTD_BUF_INIT};
    char url[4096];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    struct curl_slist *h = NULL;
    iotd_buf line = IOTD_BUF_INIT;
    if (o->cookie) {
        iotd_buf_printf(&line, "Cookie: %s", o->cookie);
        h = curl_slist_append(h, line.data);
    } else if (b && b->n) {
        iotd_buf_puts(&line, "Cookie: ");
        for (size_t i = 0; i < b->n; i++)
            iotd_buf_printf(&line, "%s%s=%s", i ? "; " : "", b->c[i].name, b->c[i].value);
        h = curl_slist_append(h, line.data);
    }
    iotd_buf_free(&line);
    char extra[1200];
    if (b && b->proto) {
        snprintf(extra, sizeof extra, "X-Forwarded-Proto: %s", b->proto);
        h = curl_slist_append(h, extra);
    }
    if (o->origin) {
        snprintf(extra, sizeof extra, "Origin: %s", o->origin);
        h = curl_slist_append(h, extra);
    }
    if (o->referer) {
        snprintf(extra, sizeof extra, "Referer: %s", o->referer);
        h = curl_slist_append(h, extra);
    }
    if (o->body) {
        snprintf(extra, sizeof extra, "Content-Type: %s", o->type);
        h = curl_slist_append(h, extra);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->len);
    }
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    else if (method && strcmp(method, "POST") == 0 && !o->body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = -1;
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    /* headers start with a newline so every header is found as "\nName: " */
    iotd_buf hs = IOTD_BUF_INIT;
    iotd_buf_putc(&hs, '\n');
    if (r.headers.data)
        iotd_buf_append(&hs, r.headers.data, r.headers.len);
    iotd_buf_free(&r.headers);
    r.headers = hs;
    if (!r.body.data)
        iotd_buf_append(&r.body, "", 0);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method ? method : "GET", path, curl_easy_strerror(rc));
    if (b)
        take_cookies(b, &r);
    return r;
}

static http_result get(browser *b, const char *path)
{
    return go(b, "GET", path, NULL);
}

/* A fetch of an absolute URL (the presigned S3 links). */
static http_result fetch(const char *url, const char *method)
{
    http_result r = {0, IOTD_BUF_INIT, IOTD_BUF_INIT};
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    if (!r.body.data)
        iotd_buf_append(&r.body, "", 0);
    if (!r.headers.data)
        iotd_buf_append(&r.headers, "", 0);
    return r;
}

/* The value of response header name (without CRLF) in a static buffer, or NULL. */
static const char *header(const http_result *r, const char *name)
{
    static char out[2048];
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s: ", name);
    const char *p = strcasestr(r->headers.data, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    size_t n = strcspn(p, "\r\n");
    snprintf(out, sizeof out, "%.*s", (int)n, p);
    return out;
}

static int has(const http_result *r, const char *text)
{
    return strstr(r->body.data, text) != NULL;
}

/* ---- forms ---------------------------------------------------------------- */

static void form_add(iotd_buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    char *k = curl_easy_escape(NULL, key, 0), *v = curl_easy_escape(NULL, value, 0);
    ck_assert(k && v);
    iotd_buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, v);
    curl_free(k);
    curl_free(v);
}

/* POST an urlencoded form: pairs of key, value (a NULL value is left out), ending with NULL. */
static http_result post_form(browser *b, const char *path, const rq *extra, ...)
{
    iotd_buf body = IOTD_BUF_INIT;
    iotd_buf_append(&body, "", 0);
    va_list ap;
    va_start(ap, extra);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        form_add(&body, k, v);
    }
    va_end(ap);
    rq o = extra ? *extra : (rq){0};
    o.body = body.data;
    o.len = body.len;
    o.type = "application/x-www-form-urlencoded";
    http_result r = go(b, "POST", path, &o);
    iotd_buf_free(&body);
    return r;
}

typedef struct file_part {
    const char *filename;
    const char *type;
    const void *data;
    size_t len;
} file_part;

/* POST the image form as multipart/form-data; NULL fields are left out. */
static http_result post_image(browser *b, const char *path, const char *csrf, const char *name,
                              const char *tagline, const file_part *file, const rq *extra)
{
    iotd_buf body = IOTD_BUF_INIT;
    const char *keys[] = {"csrf", "name", "tagline"};
    const char *vals[] = {csrf, name, tagline};
    for (int i = 0; i < 3; i++)
        if (vals[i])
            iotd_buf_printf(&body,
                            "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n",
                            keys[i], vals[i]);
    if (file) {
        iotd_buf_printf(&body,
                        "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                        "Content-Type: %s\r\n\r\n",
                        file->filename, file->type);
        ck_assert_int_eq(iotd_buf_append(&body, file->data, file->len), 0);
        iotd_buf_puts(&body, "\r\n");
    }
    iotd_buf_puts(&body, "--" BOUNDARY "--\r\n");
    rq o = extra ? *extra : (rq){0};
    o.body = body.data;
    o.len = body.len;
    o.type = "multipart/form-data; boundary=" BOUNDARY;
    http_result r = go(b, "POST", path, &o);
    iotd_buf_free(&body);
    return r;
}

/* The value attribute of the first input named name, in a static buffer. */
static const char *input_value(const http_result *r, const char *name)
{
    static char out[512];
    char needle[96];
    snprintf(needle, sizeof needle, "name=\"%s\" value=\"", name);
    const char *p = strstr(r->body.data, needle);
    ck_assert_msg(p != NULL, "no input %s in: %s", name, r->body.data);
    p += strlen(needle);
    size_t n = strcspn(p, "\"");
    snprintf(out, sizeof out, "%.*s", (int)n, p);
    return out;
}

/* Undoes the HTML escaping of an attribute value. */
static char *html_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n;) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'},  {"&lt;", '<'},  {"&gt;", '>'},  {"&quot;", '"'},
                    {"&#39;", '\''}, {"&#96;", '`'}, {"&#61;", '='}, {"&#x2F;", '/'}};
        int done = 0;
        for (size_t k = 0; k < sizeof ents / sizeof ents[0] && !done; k++) {
            size_t el = strlen(ents[k].ent);
            if (i + el <= n && strncmp(s + i, ents[k].ent, el) == 0) {
                *o++ = ents[k].c;
                i += el;
                done = 1;
            }
        }
        if (!done)
            *o++ = s[i++];
    }
    *o = '\0';
    return out;
}

/* ---- the database, the command line, files -------------------------------- */

static PGconn *db(void)
{
    PGconn *c = PQconnectdb("");
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(c));
    return c;
}

/* Runs q with params; returns the first column of the first row (malloc'd) or NULL. */
static char *sql_value(const char *q, int n, const char *const *params)
{
    PGconn *c = db();
    PGresult *r = PQexecParams(c, q, n, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", q,
                  PQresultErrorMessage(r));
    char *out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    PQfinish(c);
    return out;
}

static long long sql_count(const char *q, int n, const char *const *params)
{
    char *v = sql_value(q, n, params);
    ck_assert_ptr_nonnull(v);
    long long x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

static void sql_exec(const char *q)
{
    free(sql_value(q, 0, NULL));
}

/* The newest image with this exact name: its id, or 0. */
static long long image_id(const char *name)
{
    const char *p[] = {name};
    char *v = sql_value("SELECT id FROM images WHERE name = $1 ORDER BY id DESC LIMIT 1", 1, p);
    long long id = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return id;
}

/* One column of the images row id (malloc'd). */
static char *image_column(long long id, const char *column)
{
    char q[160], idbuf[24];
    snprintf(q, sizeof q, "SELECT %s::text FROM images WHERE id = $1::bigint", column);
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *p[] = {idbuf};
    char *v = sql_value(q, 1, p);
    ck_assert_msg(v != NULL, "no image %lld", id);
    return v;
}

/* Waits until image id is no longer processing (its renditions are made
 * after the upload is answered); returns its processing_error, "" when
 * none (malloc'd). */
static char *wait_processed(long long id)
{
    for (int i = 0; i < PROCESSING_WAIT_MS / 50; i++) {
        char *done = image_column(id, "(processing_since IS NULL OR processing_error IS NOT NULL)");
        int finished = strcmp(done, "true") == 0;
        free(done);
        if (finished)
            return image_column(id, "coalesce(processing_error, '')");
        usleep(50 * 1000);
    }
    ck_abort_msg("image %lld still processing after %d ms", id, PROCESSING_WAIT_MS);
    return NULL;
}

static long long image_count(void)
{
    return sql_count("SELECT count(*) FROM images", 0, NULL);
}

/* Runs the iotd command line; returns its exit status. stdin_text may be NULL. */
static int iotd_cli(const char *args, const char *stdin_text, char *out, size_t outlen)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" %s", iotd_bin, args);
    /* no ck_assert here: main uses this outside the tests */
    if (stdin_text) {
        FILE *f = popen(cmd, "w");
        if (!f)
            return -1;
        fputs(stdin_text, f);
        return pclose(f);
    }
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    size_t n = out ? fread(out, 1, outlen - 1, f) : 0;
    if (out)
        out[n] = '\0';
    char sink[256];
    while (fread(sink, 1, sizeof sink, f) > 0)
        ;
    return pclose(f);
}

/* A presigned GET URL for an object key, from `iotd presign`. */
static char *presign(const char *key)
{
    char cmd[1200], out[4096];
    snprintf(cmd, sizeof cmd, "presign '%s'", key);
    ck_assert_int_eq(iotd_cli(cmd, NULL, out, sizeof out), 0);
    out[strcspn(out, "\r\n")] = '\0';
    ck_assert_msg(strncmp(out, "http", 4) == 0, "presign printed: %s", out);
    return strdup(out);
}

static long object_status(const char *key)
{
    char *url = presign(key);
    http_result r = fetch(url, "GET");
    long s = r.status;
    http_free(&r);
    free(url);
    return s;
}

typedef struct blob {
    char *data;
    size_t len;
} blob;

static blob read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    blob b = {NULL, 0};
    struct stat st;
    ck_assert_int_eq(fstat(fileno(f), &st), 0);
    b.len = (size_t)st.st_size;
    b.data = malloc(b.len + 1);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_uint_eq(fread(b.data, 1, b.len, f), b.len);
    b.data[b.len] = '\0';
    fclose(f);
    return b;
}

/* An image made by ImageMagick's convert: ext is jpg, png, gif or webp. */
static blob make_image(const char *ext, int w, int h, const char *colour)
{
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/%dx%d-%s.%s", tmpdir, w, h, colour, ext);
    snprintf(cmd, sizeof cmd, "convert -size %dx%d xc:%s '%s' 2>/dev/null", w, h, colour, path);
    ck_assert_msg(system(cmd) == 0, "convert failed: %s", cmd);
    return read_file(path);
}

static blob text_blob(const char *s)
{
    blob b = {strdup(s), strlen(s)};
    ck_assert_ptr_nonnull(b.data);
    return b;
}

/* ---- signing in ----------------------------------------------------------- */

/* Fetches the sign-in form (next may be NULL) and posts it. */
static http_result try_signin(browser *b, const char *user, const char *password, const char *next)
{
    char path[1024] = "/admin/login";
    if (next) {
        char *e = curl_easy_escape(NULL, next, 0);
        snprintf(path, sizeof path, "/admin/login?next=%s", e);
        curl_free(e);
    }
    http_result form = get(b, path);
    ck_assert_int_eq(form.status, 200);
    char token[128];
    snprintf(token, sizeof token, "%s", input_value(&form, "login_token"));
    char next_field[1024];
    snprintf(next_field, sizeof next_field, "%s", input_value(&form, "next"));
    http_free(&form);
    char *nf = html_unescape(next_field, strlen(next_field));
    http_result r = post_form(b, "/admin/login", NULL, "login_token", token, "next", nf, "username", user,
                              "password", password, NULL);
    free(nf);
    return r;
}

static void signin(browser *b, const char *user)
{
    http_result r = try_signin(b, user, PASSWORD, NULL);
    ck_assert_msg(r.status == 303, "sign-in as %s: %ld %s", user, r.status, r.body.data);
    ck_assert_ptr_nonnull(cookie_get(b, "iotd_session"));
    http_free(&r);
}

/* The CSRF token on a page the browser can see. */
static char *csrf_of(browser *b, const char *path)
{
    http_result r = get(b, path);
    ck_assert_msg(r.status == 200, "GET %s: %ld", path, r.status);
    char *t = strdup(input_value(&r, "csrf"));
    http_free(&r);
    ck_assert_uint_eq(strlen(t), 64);
    return t;
}

/* Adds an image through the form; returns its id. */
static long long upload(browser *b, const char *name, const char *tagline, const blob *img,
                        const char *filename, const char *type)
{
    char *csrf = csrf_of(b, "/admin/images/new");
    file_part f = {filename, type, img->data, img->len};
    http_result r = post_image(b, "/admin/images/new", csrf, name, tagline, &f, NULL);
    free(csrf);
    ck_assert_msg(r.status == 303, "upload %s: %ld %s", name, r.status, r.body.data);
    ck_assert_str_eq(header(&r, "Location"), "/admin/");
    http_free(&r);
    long long id = image_id(name);
    ck_assert_int_gt(id, 0);
    char *failed = wait_processed(id);
    ck_assert_msg(failed[0] == '\0', "upload %s failed: %s", name, failed);
    free(failed);
    return id;
}

static int session_valid(browser *b)
{
    http_result r = get(b, "/admin/");
    int ok = r.status == 200;
    ck_assert(ok || r.status == 303);
    http_free(&r);
    return ok;
}

static void mkname(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s %s", what, marker);
}

/* ---- sign-in -------------------------------------------------------------- */

START_TEST(test_wrong_password_same_message_as_unknown_user)
{
    browser b1 = {0}, b2 = {0};
    char unknown[64];
    snprintf(unknown, sizeof unknown, "nosuch%s", user_a);
    http_result wrong = try_signin(&b1, user_a, "not-the-password", NULL);
    http_result nouser = try_signin(&b2, unknown, PASSWORD, NULL);
    ck_assert_int_eq(wrong.status, 200);
    ck_assert_int_eq(nouser.status, 200);
    const char *msg = "Please enter a correct username and password. Both are case-sensitive.";
    ck_assert_msg(has(&wrong, msg), "%s", wrong.body.data);
    ck_assert(has(&nouser, msg));
    ck_assert_ptr_null(set_cookie_line(&wrong, "iotd_session"));
    ck_assert_ptr_null(set_cookie_line(&nouser, "iotd_session"));
    ck_assert_ptr_null(cookie_get(&b1, "iotd_session"));
    /* the username is kept, escaped, and nothing else differs in the error */
    ck_assert(has(&wrong, "id=\"login-error\">Please enter a correct username"));
    ck_assert(has(&nouser, "id=\"login-error\">Please enter a correct username"));
    http_free(&wrong);
    http_free(&nouser);
    ck_assert(!session_valid(&b1));
}
END_TEST

START_TEST(test_signin_sets_session_cookie)
{
    browser b = {0};
    http_result r = try_signin(&b, user_a, PASSWORD, NULL);
    ck_assert_int_eq(r.status, 303);
    ck_assert_str_eq(header(&r, "Location"), "/admin/");
    const char *c = set_cookie_line(&r, "iotd_session");
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(strstr(c, "; HttpOnly") && strstr(c, "; SameSite=Lax") && strstr(c, "; Path=/admin;"),
                  "cookie: %s", c);
    ck_assert_msg(strstr(c, "Secure") == NULL, "Secure over plain HTTP: %s", c);
    ck_assert_ptr_null(header(&r, "Strict-Transport-Security"));
    const char *token = cookie_get(&b, "iotd_session");
    ck_assert_uint_eq(strlen(token), 64);
    ck_assert_uint_eq(strspn(token, "0123456789abcdef"), 64);
    /* the one-time sign-in cookie is cleared */
    ck_assert_ptr_null(cookie_get(&b, "iotd_login"));
    http_free(&r);
    r = get(&b, "/admin/");
    ck_assert_int_eq(r.status, 200);
    ck_assert(has(&r, user_a));
    ck_assert(has(&r, "action=\"/admin/logout\""));
    http_free(&r);
    /* the token is stored only hashed */
    const char *p[] = {token};
    ck_assert_int_eq(sql_count("SELECT count(*) FROM sessions WHERE token_hash = $1", 1, p), 0);
}
END_TEST

START_TEST(test_signin_over_https_is_secure)
{
    browser b = {0};
    b.proto = "https";
    http_result form = get(&b, "/admin/login");
    ck_assert_int_eq(form.status, 200);
    ck_assert_ptr_nonnull(strstr(set_cookie_line(&form, "iotd_login"), "; Secure"));
    const char *hsts = header(&form, "Strict-Transport-Security");
    ck_assert_msg(hsts && strstr(hsts, "max-age="), "no HSTS: %s", form.headers.data);
    http_free(&form);
    http_result r = try_signin(&b, user_a, PASSWORD, NULL);
    ck_assert_int_eq(r.status, 303);
    const char *c = set_cookie_line(&r, "iotd_session");
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(strstr(c, "; Secure") && strstr(c, "; HttpOnly") && strstr(c, "; SameSite=Lax"), "%s", c);
    ck_assert_ptr_nonnull(header(&r, "Strict-Transport-Security"));
    http_free(&r);
    r = get(&b, "/admin/");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(header(&r, "Strict-Transport-Security"));
    http_free(&r);
    /* plain HTTP: no HSTS */
    browser plain = {0};
    r = get(&plain, "/admin/login");
    ck_assert_ptr_null(header(&r, "Strict-Transport-Security"));
    ck_assert_ptr_null(strstr(set_cookie_line(&r, "iotd_login"), "Secure"));
    http_free(&r);
}
END_TEST

START_TEST(test_session_fixation)
{
    /* a made-up token planted before sign-in */
    browser b = {0};
    const char *planted = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    cookie_set(&b, "iotd_session", planted);
    ck_assert(!session_valid(&b));
    signin(&b, user_a);
    ck_assert_str_ne(cookie_get(&b, "iotd_session"), planted);
    /* a real session of another editor planted in the victim's browser */
    browser attacker = {0};
    signin(&attacker, user_b);
    char theirs[128];
    snprintf(theirs, sizeof theirs, "%s", cookie_get(&attacker, "iotd_session"));
    browser victim = {0};
    cookie_set(&victim, "iotd_session", theirs);
    http_result r = get(&victim, "/admin/login");
    ck_assert_int_eq(r.status, 303); /* already signed in (as user_b) */
    http_free(&r);
    cookie_set(&victim, "iotd_session", ""); /* the form is reached again, cookie still sent below */
    http_result form = get(&victim, "/admin/login");
    char token[128];
    snprintf(token, sizeof token, "%s", input_value(&form, "login_token"));
    http_free(&form);
    cookie_set(&victim, "iotd_session", theirs);
    r = post_form(&victim, "/admin/login", NULL, "login_token", token, "next", "/admin/", "username", user_a,
                  "password", PASSWORD, NULL);
    ck_assert_int_eq(r.status, 303);
    ck_assert_ptr_nonnull(set_cookie_line(&r, "iotd_session"));
    http_free(&r);
    ck_assert_str_ne(cookie_get(&victim, "iotd_session"), theirs);
    r = get(&victim, "/admin/");
    ck_assert_int_eq(r.status, 200);
    ck_assert(has(&r, user_a));
    http_free(&r);
}
END_TEST

START_TEST(test_next_parameter)
{
    browser b = {0};
    http_result r = get(&b, "/admin/images/new");
    ck_assert_int_eq(r.status, 303);
    const char *loc = header(&r, "Location");
    ck_assert_msg(strcmp(loc, "/admin/login?next=/admin/images/new") == 0 ||
                      strcmp(loc, "/admin/login?next=%2Fadmin%2Fimages%2Fnew") == 0,
                  "Location: %s", loc);
    char login[256];
    snprintf(login, sizeof login, "%s", loc);
    http_free(&r);
    r = get(&b, login);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(input_value(&r, "next"), "/admin/images/new");
    http_free(&r);
    /* an unsafe next is not even put in the form */
    r = get(&b, "/admin/login?next=%2F%2Fevil.example");
    ck_assert_str_eq(input_value(&r, "next"), "/admin/");
    http_free(&r);
    r = try_signin(&b, user_a, PASSWORD, "/admin/images/new");
    ck_assert_int_eq(r.status, 303);
    ck_assert_str_eq(header(&r, "Location"), "/admin/images/new");
    http_free(&r);
    static const char *const evil[] = {
        "//evil.example",     "https://evil.example", "/\\evil",  "//evil.example/admin/",
        "http:/evil.example", "/\\/evil.example",     " /admin/", "javascript:alert(1)"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        browser e = {0};
        r = try_signin(&e, user_a, PASSWORD, evil[i]);
        ck_assert_int_eq(r.status, 303);
        ck_assert_msg(strcmp(header(&r, "Location"), "/admin/") == 0, "next=%s went to %s", evil[i],
                      header(&r, "Location"));
        http_free(&r);
    }
}
END_TEST

START_TEST(test_signout)
{
    browser b = {0};
    signin(&b, user_a);
    char old[128];
    snprintf(old, sizeof old, "%s", cookie_get(&b, "iotd_session"));
    /* GET does not sign out */
    http_result r = get(&b, "/admin/logout");
    ck_assert_int_eq(r.status, 405);
    http_free(&r);
    ck_assert(session_valid(&b));
    char *csrf = csrf_of(&b, "/admin/");
    r = post_form(&b, "/admin/logout", NULL, "csrf", csrf, NULL);
    free(csrf);
    ck_assert_int_eq(r.status, 303);
    ck_assert_str_eq(header(&r, "Location"), "/admin/login");
    const char *c = set_cookie_line(&r, "iotd_session");
    ck_assert_msg(c && strstr(c, "Max-Age=0"), "cookie not cleared: %s", r.headers.data);
    http_free(&r);
    ck_assert_ptr_null(cookie_get(&b, "iotd_session"));
    r = get(&b, "/admin/login");
    ck_assert(has(&r, "You have signed out."));
    http_free(&r);
    /* the old token no longer works, even if a copy was kept */
    browser copy = {0};
    cookie_set(&copy, "iotd_session", old);
    r = get(&copy, "/admin/");
    ck_assert_int_eq(r.status, 303);
    ck_assert_str_eq(header(&r, "Location"), "/admin/login");
    http_free(&r);
}
END_TEST

/* ---- throttling ----------------------------------------------------------- */

static long retry_after(const http_result *r)
{
    const char *v = header(r, "Retry-After");
    ck_assert_msg(v != NULL, "no Retry-After: %s", r->headers.data);
    return strtol(v, NULL, 10);
}

static void fail_signins(const char *user, int times)
{
    for (int i = 0; i < times; i++) {
        browser b = {0};
        http_result r = try_signin(&b, user, "wrong-password", NULL);
        ck_assert_msg(r.status == 200, "failure %d for %s: %ld", i + 1, user, r.status);
        http_free(&r);
    }
}

START_TEST(test_throttle_known_username)
{
    fail_signins(user_c, 5);
    browser b = {0};
    http_result r = try_signin(&b, user_c, PASSWORD, NULL); /* even the right password */
    ck_assert_int_eq(r.status, 429);
    long wait = retry_after(&r);
    ck_assert(wait >= 1 && wait <= 15 * 60);
    ck_assert(has(&r, "Too many failed sign-in attempts. Please wait "));
    ck_assert_ptr_null(set_cookie_line(&r, "iotd_session"));
    http_free(&r);
    /* another username from the same address still signs in */
    browser other = {0};
    signin(&other, user_a);
    /* the same name in another case is the same account */
    char upper[64];
    snprintf(upper, sizeof upper, "%s", user_c);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    r = try_signin(&b, upper, PASSWORD, NULL);
    ck_assert_int_eq(r.status, 429);
    http_free(&r);
}
END_TEST

START_TEST(test_throttle_unknown_username)
{
    char unknown[64], known_msg[256] = "", unknown_msg[256] = "";
    snprintf(unknown, sizeof unknown, "ghost%s", user_c);
    fail_signins(unknown, 5);
    fail_signins(user_c, 5);
    browser b = {0};
    http_result r1 = try_signin(&b, unknown, "anything", NULL);
    http_result r2 = try_signin(&b, user_c, "anything", NULL);
    ck_assert_int_eq(r1.status, 429);
    ck_assert_int_eq(r2.status, 429);
    retry_after(&r1);
    const char *p1 = strstr(r1.body.data, "Too many"), *p2 = strstr(r2.body.data, "Too many");
    ck_assert(p1 && p2);
    snprintf(unknown_msg, sizeof unknown_msg, "%.*s", (int)strcspn(p1, "<"), p1);
    snprintf(known_msg, sizeof known_msg, "%.*s", (int)strcspn(p2, "<"), p2);
    ck_assert_str_eq(unknown_msg, known_msg);
    http_free(&r1);
    http_free(&r2);
}
END_TEST

/* Runs last in its case: it fills the address's quota; the fixture clears it. */
START_TEST(test_throttle_per_address)
{
    char name[64];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "addr%d%s", i, user_c);
        fail_signins(name, 1);
    }
    browser b = {0};
    http_result r = try_signin(&b, user_a, PASSWORD, NULL);
    ck_assert_int_eq(r.status, 429);
    retry_after(&r);
    ck_assert(has(&r, "Too many failed sign-in attempts."));
    http_free(&r);
    sql_exec("DELETE FROM login_attempts");
    signin(&b, user_a);
}
END_TEST

/* ---- CSRF and Origin ------------------------------------------------------- */

typedef struct snapshot {
    long long images;
    char *name;
    char *key;
} snapshot;

static snapshot take_snapshot(long long id)
{
    snapshot s = {image_count(), image_column(id, "name"), image_column(id, "object_key")};
    return s;
}

static void snapshot_free(snapshot *s)
{
    free(s->name);
    free(s->key);
}

static void assert_unchanged(const snapshot *s, long long id)
{
    ck_assert_int_eq(image_count(), s->images);
    char *n = image_column(id, "name"), *k = image_column(id, "object_key");
    ck_assert_str_eq(n, s->name);
    ck_assert_str_eq(k, s->key);
    free(n);
    free(k);
}

static void assert_forbidden(http_result *r, const char *what)
{
    ck_assert_msg(r->status == 403, "%s: %ld %s", what, r->status, r->body.data);
    ck_assert_msg(has(r, "<h1>Forbidden</h1>"), "%s: %s", what, r->body.data);
    ck_assert_ptr_null(header(r, "Location"));
    http_free(r);
}

START_TEST(test_csrf_refused)
{
    browser a = {0}, other = {0};
    signin(&a, user_a);
    signin(&other, user_b);
    char name[128];
    mkname(name, sizeof name, "Guarded");
    blob png = make_image("png", 20, 10, "blue");
    long long id = upload(&a, name, "", &png, "g.png", "image/png");
    snapshot s = take_snapshot(id);
    char *mine = csrf_of(&a, "/admin/");
    char *theirs = csrf_of(&other, "/admin/");
    ck_assert_str_ne(mine, theirs);
    const char *forged = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *const bad[] = {NULL, "", forged, theirs, "short"};
    char edit[64], del[64];
    snprintf(edit, sizeof edit, "/admin/images/%lld/edit", id);
    snprintf(del, sizeof del, "/admin/images/%lld/delete", id);
    file_part f = {"x.png", "image/png", png.data, png.len};
    char newname[128];
    mkname(newname, sizeof newname, "Forged add");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_result r = post_image(&a, "/admin/images/new", bad[i], newname, "t", &f, NULL);
        ck_assert(has(&r, "This form has expired or was not sent from this site."));
        assert_forbidden(&r, "new");
        r = post_image(&a, edit, bad[i], "Renamed by a forgery", "t", &f, NULL);
        assert_forbidden(&r, "edit");
        r = post_form(&a, del, NULL, "csrf", bad[i], NULL);
        assert_forbidden(&r, "delete");
        r = post_form(&a, "/admin/logout", NULL, "csrf", bad[i], NULL);
        assert_forbidden(&r, "logout");
        assert_unchanged(&s, id);
        ck_assert_int_eq(image_id(newname), 0);
        ck_assert(session_valid(&a));
    }
    /* a token from one session does not work with another session's cookie, either way */
    http_result r = post_form(&other, del, NULL, "csrf", mine, NULL);
    assert_forbidden(&r, "delete with another session's token");
    assert_unchanged(&s, id);
    /* the real token works (so the refusals above were about the token) */
    r = post_form(&a, del, NULL, "csrf", mine, NULL);
    ck_assert_int_eq(r.status, 303);
    http_free(&r);
    ck_assert_int_eq(image_id(name), 0);
    free(mine);
    free(theirs);
    free(png.data);
    snapshot_free(&s);
}
END_TEST

START_TEST(test_origin_refused)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128];
    mkname(name, sizeof name, "Origin");
    blob gif = make_image("gif", 12, 12, "green");
    long long id = upload(&a, name, "", &gif, "o.gif", "image/gif");
    snapshot s = take_snapshot(id);
    char *csrf = csrf_of(&a, "/admin/");
    char edit[64], del[64];
    snprintf(edit, sizeof edit, "/admin/images/%lld/edit", id);
    snprintf(del, sizeof del, "/admin/images/%lld/delete", id);
    file_part f = {"x.gif", "image/gif", gif.data, gif.len};
    static const rq evil_origin = {.origin = "https://evil.example"};
    static const rq null_origin = {.origin = "null"};
    static const rq evil_referer = {.referer = "https://evil.example/page"};
    const rq *const bad[] = {&evil_origin, &null_origin, &evil_referer};
    for (size_t i = 0; i < 3; i++) {
        http_result r = post_image(&a, "/admin/images/new", csrf, "Cross-site add", "", &f, bad[i]);
        ck_assert(has(&r, "sent from another site"));
        assert_forbidden(&r, "new");
        r = post_image(&a, edit, csrf, "Cross-site rename", "", NULL, bad[i]);
        assert_forbidden(&r, "edit");
        r = post_form(&a, del, bad[i], "csrf", csrf, NULL);
        assert_forbidden(&r, "delete");
        r = post_form(&a, "/admin/logout", bad[i], "csrf", csrf, NULL);
        assert_forbidden(&r, "logout");
        assert_unchanged(&s, id);
        ck_assert(session_valid(&a));
    }
    ck_assert_int_eq(image_id("Cross-site add"), 0);
    /* the sign-in form too */
    browser e = {0};
    http_result form = get(&e, "/admin/login");
    char token[128];
    snprintf(token, sizeof token, "%s", input_value(&form, "login_token"));
    http_free(&form);
    http_result r = post_form(&e, "/admin/login", &evil_origin, "login_token", token, "username", user_a,
                              "password", PASSWORD, NULL);
    assert_forbidden(&r, "login");
    ck_assert_ptr_null(cookie_get(&e, "iotd_session"));
    /* our own origin is accepted */
    char ours[256];
    snprintf(ours, sizeof ours, "%s", base_url);
    rq same = {.origin = ours};
    r = post_form(&a, del, &same, "csrf", csrf, NULL);
    ck_assert_msg(r.status == 303, "same-origin delete: %ld %s", r.status, r.body.data);
    http_free(&r);
    ck_assert_int_eq(image_id(name), 0);
    free(csrf);
    free(gif.data);
    snapshot_free(&s);
}
END_TEST

START_TEST(test_get_changes_nothing)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128];
    mkname(name, sizeof name, "Safe from GET");
    blob jpg = make_image("jpg", 16, 16, "orange");
    long long id = upload(&a, name, "", &jpg, "s.jpg", "image/jpeg");
    snapshot s = take_snapshot(id);
    char *csrf = csrf_of(&a, "/admin/");
    char paths[5][256];
    snprintf(paths[0], sizeof paths[0], "/admin/images/%lld/delete", id);
    snprintf(paths[1], sizeof paths[1], "/admin/images/%lld/delete?csrf=%s", id, csrf);
    snprintf(paths[2], sizeof paths[2], "/admin/images/%lld/edit?name=changed&csrf=%s", id, csrf);
    snprintf(paths[3], sizeof paths[3], "/admin/images/new?name=x&csrf=%s", csrf);
    snprintf(paths[4], sizeof paths[4], "/admin/logout?csrf=%s", csrf);
    for (size_t i = 0; i < 5; i++) {
        http_result r = get(&a, paths[i]);
        ck_assert_msg(r.status == (i == 4 ? 405 : 200), "GET %s: %ld", paths[i], r.status);
        http_free(&r);
        r = go(&a, "HEAD", paths[i], NULL);
        http_free(&r);
        assert_unchanged(&s, id);
        ck_assert(session_valid(&a));
    }
    http_result r = go(&a, "DELETE", "/admin/images/1/delete", NULL);
    ck_assert_int_eq(r.status, 405);
    http_free(&r);
    r = go(&a, "PUT", paths[2], NULL);
    ck_assert_int_eq(r.status, 405);
    http_free(&r);
    assert_unchanged(&s, id);
    free(csrf);
    free(jpg.data);
    snapshot_free(&s);
}
END_TEST

/* ---- uploads -------------------------------------------------------------- */

/* The presigned thumbnail URL of image id on the list page (malloc'd). */
static char *thumbnail_url(const http_result *list, long long id)
{
    char edit[96];
    snprintf(edit, sizeof edit, "<a href=\"/admin/images/%lld/edit\">", id);
    const char *row = strstr(list->body.data, edit);
    ck_assert_msg(row != NULL, "image %lld not on the page", id);
    const char *needle = "class=\"thumb\"><img src=\"";
    const char *best = NULL;
    for (const char *p = list->body.data; (p = strstr(p, needle)) != NULL && p < row; p++)
        best = p;
    ck_assert_ptr_nonnull(best);
    best += strlen(needle);
    return html_unescape(best, strcspn(best, "\""));
}

/* The presigned URL of the current image on an edit page (malloc'd). */
static char *current_image_url(const http_result *edit)
{
    const char *end = strstr(edit->body.data, "\" alt=\"The current image\"");
    ck_assert_ptr_nonnull(end);
    const char *start = end;
    while (start > edit->body.data && strncmp(start, "src=\"", 5) != 0)
        start--;
    ck_assert(strncmp(start, "src=\"", 5) == 0);
    start += 5;
    return html_unescape(start, (size_t)(end - start));
}

/* GETs url: 200, the given Content-Type, and the body. */
static http_result fetch_typed(const char *url, const char *type)
{
    ck_assert_msg(strstr(url, "X-Amz-Signature=") != NULL, "not presigned: %s", url);
    http_result obj = fetch(url, "GET");
    ck_assert_msg(obj.status == 200, "GET %s: %ld", url, obj.status);
    const char *got_type = strcasestr(obj.headers.data, "\nContent-Type: ");
    ck_assert_ptr_nonnull(got_type);
    ck_assert_msg(strncasecmp(got_type + 15, type, strlen(type)) == 0, "S3 Content-Type %.40s, expected %s",
                  got_type + 15, type);
    return obj;
}

START_TEST(test_each_format_accepted)
{
    browser a = {0};
    signin(&a, user_a);
    static const struct {
        const char *ext;
        const char *type;
        const char *claimed; /* what the "browser" says; the app must not believe it */
        int w, h;
    } formats[] = {{"jpg", "image/jpeg", "application/octet-stream", 40, 30},
                   {"png", "image/png", "image/jpeg", 33, 21},
                   {"gif", "image/gif", "text/plain", 17, 9},
                   {"webp", "image/webp", "image/png", 64, 48}};
    for (size_t i = 0; i < 4; i++) {
        char name[128], filename[64], tagline[64];
        snprintf(name, sizeof name, "Format %s %s", formats[i].ext, marker);
        snprintf(tagline, sizeof tagline, "a %s file", formats[i].ext);
        snprintf(filename, sizeof filename, "upload.%s", i % 2 ? "bin" : formats[i].ext);
        blob img = make_image(formats[i].ext, formats[i].w, formats[i].h, "purple");
        long long id = upload(&a, name, tagline, &img, filename, formats[i].claimed);
        char *ct = image_column(id, "content_type"), *w = image_column(id, "width"),
             *h = image_column(id, "height"), *size = image_column(id, "byte_size"),
             *key = image_column(id, "object_key"), *tl = image_column(id, "tagline");
        ck_assert_str_eq(ct, formats[i].type);
        ck_assert_int_eq(atoi(w), formats[i].w);
        ck_assert_int_eq(atoi(h), formats[i].h);
        ck_assert_int_eq(atoll(size), (long long)img.len);
        ck_assert_str_eq(tl, tagline);
        ck_assert_ptr_null(strstr(key, "upload")); /* the browser's filename names nothing */
        /* the list page shows the thumbnail rendition: an opaque image becomes a JPEG, never enlarged */
        char path[256];
        char *q = curl_easy_escape(NULL, name, 0);
        snprintf(path, sizeof path, "/admin/?q=%s", q);
        curl_free(q);
        http_result list = get(&a, path);
        ck_assert_int_eq(list.status, 200);
        char *url = thumbnail_url(&list, id);
        http_free(&list);
        char *thumb_key = image_column(id, "thumb_key"), *tw = image_column(id, "thumb_width");
        ck_assert_msg(strstr(url, thumb_key) != NULL, "list thumbnail %s is not %s", url, thumb_key);
        ck_assert_int_eq(atoi(tw), formats[i].w);
        http_result obj = fetch_typed(url, "image/jpeg");
        ck_assert(obj.body.len > 3 && memcmp(obj.body.data, "\xFF\xD8\xFF", 3) == 0);
        http_free(&obj);
        free(url);
        free(thumb_key);
        free(tw);
        /* the edit page links a presigned URL that serves the same bytes with the detected type */
        snprintf(path, sizeof path, "/admin/images/%lld/edit", id);
        http_result edit = get(&a, path);
        ck_assert_int_eq(edit.status, 200);
        url = current_image_url(&edit);
        http_free(&edit);
        obj = fetch_typed(url, formats[i].type);
        ck_assert_uint_eq(obj.body.len, img.len);
        ck_assert(memcmp(obj.body.data, img.data, img.len) == 0);
        http_free(&obj);
        free(url);
        free(ct);
        free(w);
        free(h);
        free(size);
        free(key);
        free(tl);
        free(img.data);
    }
}
END_TEST

/* Posts a bad file and checks the form comes back with the fields kept and the error beside the file. */
static void refused(browser *a, const char *what, const blob *file, const char *filename, const char *type,
                    const char *message)
{
    char name[128];
    snprintf(name, sizeof name, "Refused %s %s", what, marker);
    const char *tagline = "kept \"tagline\" <b>";
    long long before = image_count();
    char *csrf = csrf_of(a, "/admin/images/new");
    file_part f = {filename, type, file->data, file->len};
    http_result r = post_image(a, "/admin/images/new", csrf, name, tagline, &f, NULL);
    free(csrf);
    ck_assert_msg(r.status == 400, "%s: %ld %s", what, r.status, r.body.data);
    ck_assert(has(&r, "<p class=\"field-error\" id=\"file-error\">"));
    ck_assert_msg(has(&r, message), "%s: no '%s' in %s", what, message, r.body.data);
    char kept[256];
    snprintf(kept, sizeof kept, "value=\"%s\"", name);
    ck_assert_msg(has(&r, kept), "%s: the name was not kept", what);
    ck_assert(has(&r, "value=\"kept &quot;tagline&quot; &lt;b&gt;\""));
    ck_assert(has(&r, "aria-describedby=\"file-error\""));
    http_free(&r);
    ck_assert_int_eq(image_count(), before);
    ck_assert_int_eq(image_id(name), 0);
}

START_TEST(test_bad_files_refused)
{
    browser a = {0};
    signin(&a, user_a);
    blob svg = text_blob("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" "
                         "height=\"10\"><script>alert(1)</script></svg>\n");
    refused(&a, "svg", &svg, "x.svg", "image/svg+xml", "not a JPEG, PNG, GIF or WebP image");
    blob html = text_blob("<!doctype html><html><body><script>alert(1)</script></body></html>\n");
    refused(&a, "html", &html, "photo.jpg", "image/jpeg", "not a JPEG, PNG, GIF or WebP image");
    blob text = text_blob("just some words, nothing like an image\n");
    refused(&a, "text", &text, "photo.png", "image/png", "not a JPEG, PNG, GIF or WebP image");
    blob png = make_image("png", 50, 50, "red");
    blob cut = {png.data, png.len - 12}; /* without IEND */
    refused(&a, "truncated png", &cut, "cut.png", "image/png", "cut short");
    blob half = {png.data, 20};
    refused(&a, "png header only", &half, "half.png", "image/png", "cut short");
    blob jpg = make_image("jpg", 50, 50, "red");
    blob cutj = {jpg.data, jpg.len / 2};
    refused(&a, "truncated jpeg", &cutj, "cut.jpg", "image/jpeg", "cut short");
    blob empty = {png.data, 0};
    refused(&a, "empty", &empty, "empty.png", "image/png", "Please choose an image file.");
    free(svg.data);
    free(html.data);
    free(text.data);
    free(png.data);
    free(jpg.data);
}
END_TEST

START_TEST(test_no_file_refused)
{
    browser a = {0};
    signin(&a, user_a);
    char *csrf = csrf_of(&a, "/admin/images/new");
    char name[128];
    mkname(name, sizeof name, "No file");
    file_part none = {"", "application/octet-stream", "", 0};
    http_result r = post_image(&a, "/admin/images/new", csrf, name, "", &none, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "Please choose an image file."));
    http_free(&r);
    r = post_image(&a, "/admin/images/new", csrf, name, "", NULL, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "Please choose an image file."));
    http_free(&r);
    free(csrf);
    ck_assert_int_eq(image_id(name), 0);
}
END_TEST

START_TEST(test_name_limits)
{
    browser a = {0};
    signin(&a, user_a);
    blob png = make_image("png", 8, 8, "white");
    file_part f = {"n.png", "image/png", png.data, png.len};
    long long before = image_count();
    char *csrf = csrf_of(&a, "/admin/images/new");
    char long_name[256];
    memset(long_name, 'n', 201);
    long_name[201] = '\0';
    http_result r = post_image(&a, "/admin/images/new", csrf, long_name, "the tagline stays", &f, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(
        has(&r, "<p class=\"field-error\" id=\"name-error\">The name can be at most 200 characters long."));
    ck_assert(has(&r, "aria-describedby=\"name-error\""));
    ck_assert(has(&r, "value=\"the tagline stays\""));
    http_free(&r);
    r = post_image(&a, "/admin/images/new", csrf, "   ", "the tagline stays", &f, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "<p class=\"field-error\" id=\"name-error\">Please give the image a name."));
    http_free(&r);
    r = post_image(&a, "/admin/images/new", csrf, "", "", &f, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "Please give the image a name."));
    http_free(&r);
    ck_assert_int_eq(image_count(), before);
    /* exactly 200 characters (multi-byte ones) is fine */
    char name200[1024] = "";
    for (int i = 0; i < 200 - (int)strlen(marker) - 1; i++)
        strcat(name200, "\xc3\xa9"); /* é */
    strcat(name200, " ");
    strcat(name200, marker);
    file_part f2 = f;
    r = post_image(&a, "/admin/images/new", csrf, name200, "", &f2, NULL);
    ck_assert_msg(r.status == 303, "200 characters: %ld %s", r.status, r.body.data);
    http_free(&r);
    ck_assert_int_gt(image_id(name200), 0);
    free(csrf);
    free(png.data);
}
END_TEST

START_TEST(test_upload_limits)
{
    browser a = {0};
    signin(&a, user_a);
    char *csrf = csrf_of(&a, "/admin/images/new");
    long long before = image_count();
    /* over nginx's client_max_body_size (the limit + 1 MB): nginx's own 413 */
    size_t big = (size_t)(UPLOAD_LIMIT_MB + 1) * MB + MB / 2;
    char *bytes = malloc(big);
    ck_assert_ptr_nonnull(bytes);
    memset(bytes, 'A', big);
    memcpy(bytes, "\x89PNG\r\n\x1a\n", 8);
    char name[128];
    mkname(name, sizeof name, "Too big");
    file_part f = {"big.png", "image/png", bytes, big};
    http_result r = post_image(&a, "/admin/images/new", csrf, name, "", &f, NULL);
    ck_assert_msg(r.status == 413, "21.5 MB: %ld", r.status);
    ck_assert(has(&r, "Upload too large"));
    http_free(&r);
    /* within nginx's limit, over the app's: the app's 413 with the limit in words */
    f.len = (size_t)UPLOAD_LIMIT_MB * MB + MB / 2;
    r = post_image(&a, "/admin/images/new", csrf, name, "", &f, NULL);
    ck_assert_msg(r.status == 413, "20.5 MB: %ld %s", r.status, r.body.data);
    ck_assert_msg(has(&r, "larger than 20 MB"), "%s", r.body.data);
    http_free(&r);
    ck_assert_int_eq(image_count(), before);
    ck_assert(session_valid(&a)); /* and the pool still answers */
    free(bytes);
    free(csrf);
}
END_TEST

/* ---- hostile text --------------------------------------------------------- */

static void assert_escaped(const http_result *r, const char *where)
{
    const char *b = r->body.data;
    ck_assert_msg(strstr(b, "<script>alert(1)") == NULL, "raw <script> on %s", where);
    ck_assert_msg(strstr(b, "<img src=x") == NULL, "raw <img> on %s", where);
    ck_assert_msg(strstr(b, "<svg onload") == NULL, "raw <svg> on %s", where);
    ck_assert_msg(strcasestr(b, "href=\"javascript:") == NULL && strcasestr(b, "src=\"javascript:") == NULL,
                  "javascript: URL on %s", where);
    ck_assert_msg(strstr(b, "onerror=alert") == NULL, "unescaped = in onerror on %s", where);
}

START_TEST(test_xss_escaped)
{
    browser a = {0};
    signin(&a, user_a);
    char name[256];
    snprintf(name, sizeof name, "<script>alert(1)</script>\"><img src=x onerror=alert(1)> %s", marker);
    const char *tagline = "javascript:alert(1) '\"><svg onload=alert(1)> `x` &amp;";
    blob webp = make_image("webp", 30, 20, "yellow");
    long long id = upload(&a, name, tagline, &webp, "<img src=x>.webp", "image/webp");
    char *stored = image_column(id, "name");
    ck_assert_str_eq(stored, name);
    free(stored);
    /* the flash on the list page after the redirect */
    http_result r = get(&a, "/admin/");
    ck_assert_int_eq(r.status, 200);
    assert_escaped(&r, "admin list");
    ck_assert_msg(has(&r, "<p class=\"flash\" role=\"status\">“&lt;script&gt;alert(1)&lt;/script&gt;"),
                  "flash: %s", r.body.data);
    ck_assert(
        has(&r, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#61;x onerror&#61;alert(1)&gt;"));
    ck_assert(
        has(&r, "javascript:alert(1) &#39;&quot;&gt;&lt;svg onload&#61;alert(1)&gt; &#96;x&#96; &amp;amp;"));
    http_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/admin/images/%lld/edit", id);
    r = get(&a, path);
    ck_assert_int_eq(r.status, 200);
    assert_escaped(&r, "edit page");
    ck_assert(has(&r, "value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#61;x"));
    ck_assert(has(&r, "value=\"javascript:alert(1) &#39;&quot;&gt;&lt;svg onload&#61;alert(1)&gt;"));
    http_free(&r);
    snprintf(path, sizeof path, "/admin/images/%lld/delete", id);
    r = get(&a, path);
    ck_assert_int_eq(r.status, 200);
    assert_escaped(&r, "delete page");
    ck_assert(has(&r, "<h1>Delete “&lt;script&gt;alert(1)&lt;/script&gt;"));
    http_free(&r);
    /* the home page shows the newest image: this one */
    r = get(NULL, "/");
    ck_assert_int_eq(r.status, 200);
    assert_escaped(&r, "home page");
    ck_assert_msg(has(&r, "<h1>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#61;x"), "home: %s",
                  r.body.data);
    ck_assert(has(&r, "alt=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;"));
    ck_assert(
        has(&r, "<p class=\"tagline\">javascript:alert(1) &#39;&quot;&gt;&lt;svg onload&#61;alert(1)&gt;"));
    http_free(&r);
    /* a search for the payload is escaped in the search box and the empty-result text */
    r = get(&a,
            "/admin/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3Exx");
    ck_assert_int_eq(r.status, 200);
    assert_escaped(&r, "search");
    ck_assert(has(&r, "No images match “&lt;script&gt;"));
    http_free(&r);
    free(webp.data);
}
END_TEST

START_TEST(test_sql_metacharacters_verbatim)
{
    browser a = {0};
    signin(&a, user_a);
    char name[256];
    snprintf(name, sizeof name, "'; DROP TABLE images; -- %s", marker);
    const char *tagline = "100%_\\ off; SELECT * FROM users WHERE '1'='1' \\x00 $1";
    blob gif = make_image("gif", 10, 5, "black");
    long long id = upload(&a, name, tagline, &gif, "q.gif", "image/gif");
    char *n = image_column(id, "name"), *t = image_column(id, "tagline");
    ck_assert_str_eq(n, name);
    ck_assert_str_eq(t, tagline);
    free(n);
    free(t);
    ck_assert_int_ge(image_count(), 1); /* the table is still there */
    /* searchable by the metacharacters themselves; % and _ are not wildcards */
    http_result r = get(&a, "/admin/?q=%27%3B%20DROP%20TABLE");
    ck_assert_int_eq(r.status, 200);
    char link[96];
    snprintf(link, sizeof link, "href=\"/admin/images/%lld/edit\"", id);
    ck_assert(has(&r, link));
    http_free(&r);
    r = get(&a, "/admin/?q=100%25_%5C");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(has(&r, link), "search for %%_\\ missed it");
    ck_assert(has(&r, "value=\"100%_\\\""));
    http_free(&r);
    const char *p[] = {"%_\\"};
    long long matching =
        sql_count("SELECT count(*) FROM images WHERE strpos(name, $1) > 0 OR strpos(tagline, $1) > 0", 1, p);
    r = get(&a, "/admin/?q=%25_%5C");
    char total[64];
    snprintf(total, sizeof total, "· %lld image(s)", matching);
    ck_assert_msg(has(&r, total), "want %s", total);
    http_free(&r);
    r = get(&a, "/admin/?q=%25");
    long long percent =
        sql_count("SELECT count(*) FROM images WHERE strpos(name, '%') > 0 OR strpos(tagline, "
                  "'%') > 0",
                  0, NULL);
    snprintf(total, sizeof total, "· %lld image(s)", percent);
    ck_assert_msg(has(&r, total), "a %% search is not a wildcard: want %s", total);
    http_free(&r);
    free(gif.data);
}
END_TEST

/* ---- the list, edit, delete ----------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

START_TEST(test_list_pages_and_search)
{
    browser a = {0};
    signin(&a, user_a);
    char word[48];
    snprintf(word, sizeof word, "Pagetest%s", marker + 1);
    PGconn *c = db();
    for (int i = 1; i <= 30; i++) {
        char nm[128], tl[128], key[128], when[64];
        snprintf(nm, sizeof nm, "%s item %02d %s", word, i, marker);
        snprintf(tl, sizeof tl, "%s", i % 10 == 0 ? "special TAGWORD here" : "plain");
        snprintf(key, sizeof key, "images/test-%s-%02d.png", marker, i);
        snprintf(when, sizeof when, "2020-01-01T00:%02d:00Z", i);
        const char *v[] = {nm, tl, key, when};
        PGresult *r =
            PQexecParams(c,
                         "INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, "
                         "height, uploaded_at) VALUES ($1, $2, $3, 'image/png', 100, 8, 8, $4)",
                         4, NULL, v, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    char path[256];
    snprintf(path, sizeof path, "/admin/?q=%s", word);
    http_result p1 = get(&a, path);
    ck_assert_int_eq(p1.status, 200);
    ck_assert_int_eq(count_of(p1.body.data, "<td class=\"thumb\"><img src=\"http"), 25);
    ck_assert_int_eq(count_of(p1.body.data, "X-Amz-Signature&#61;"), 25);
    ck_assert(has(&p1, "Page 1 of 2 · 30 image(s)"));
    ck_assert(!has(&p1, "rel=\"prev\""));
    /* newest first: 30, 29, ... 06 */
    char first[128], last[128], beyond[128];
    snprintf(first, sizeof first, ">%s item 30 %s</a>", word, marker);
    snprintf(last, sizeof last, ">%s item 06 %s</a>", word, marker);
    snprintf(beyond, sizeof beyond, ">%s item 05 %s</a>", word, marker);
    const char *f = strstr(p1.body.data, first), *l = strstr(p1.body.data, last);
    ck_assert(f && l && f < l);
    ck_assert(!has(&p1, beyond));
    for (int i = 30; i > 6; i--) {
        char x[128], y[128];
        snprintf(x, sizeof x, ">%s item %02d ", word, i);
        snprintf(y, sizeof y, ">%s item %02d ", word, i - 1);
        ck_assert_msg(strstr(p1.body.data, x) < strstr(p1.body.data, y), "order at %d", i);
    }
    char next_href[256];
    snprintf(next_href, sizeof next_href, "<a href=\"/admin/?page&#61;2&amp;q&#61;%s\" rel=\"next\">", word);
    ck_assert_msg(has(&p1, next_href), "no next link %s", next_href);
    http_free(&p1);
    snprintf(path, sizeof path, "/admin/?page=2&q=%s", word);
    http_result p2 = get(&a, path);
    ck_assert_int_eq(p2.status, 200);
    ck_assert_int_eq(count_of(p2.body.data, "<td class=\"thumb\"><img src=\"http"), 5);
    ck_assert(has(&p2, "Page 2 of 2 · 30 image(s)"));
    ck_assert(has(&p2, beyond));
    ck_assert(!has(&p2, "rel=\"next\""));
    char prev_href[256];
    snprintf(prev_href, sizeof prev_href, "<a href=\"/admin/?page&#61;1&amp;q&#61;%s\" rel=\"prev\">", word);
    ck_assert(has(&p2, prev_href));
    http_free(&p2);
    /* search covers taglines, ignores case */
    http_result t = get(&a, "/admin/?q=tagword");
    ck_assert_int_eq(t.status, 200);
    ck_assert_int_ge(count_of(t.body.data, "<td class=\"thumb\">"), 3);
    char ten[128];
    snprintf(ten, sizeof ten, ">%s item 10 %s</a>", word, marker);
    ck_assert(has(&t, ten));
    ck_assert(has(&t, "special TAGWORD here"));
    http_free(&t);
    /* nonsense page numbers fall back to page 1 */
    snprintf(path, sizeof path, "/admin/?page=-3&q=%s", word);
    t = get(&a, path);
    ck_assert(has(&t, "Page 1 of 2"));
    http_free(&t);
    c = db();
    const char *pat[] = {marker};
    PQclear(PQexecParams(c, "DELETE FROM images WHERE object_key LIKE 'images/test-' || $1 || '-%'", 1, NULL,
                         pat, NULL, NULL, 0));
    PQfinish(c);
}
END_TEST

START_TEST(test_flash_once)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128];
    mkname(name, sizeof name, "Sunset");
    blob jpg = make_image("jpg", 24, 12, "orange");
    upload(&a, name, "Evening light", &jpg, "sunset.jpg", "image/jpeg");
    ck_assert_ptr_nonnull(cookie_get(&a, "iotd_flash"));
    char flash[256];
    snprintf(flash, sizeof flash, "<p class=\"flash\" role=\"status\">“%s” was added.</p>", name);
    http_result r = get(&a, "/admin/");
    ck_assert_msg(has(&r, flash), "no flash %s", flash);
    http_free(&r);
    r = get(&a, "/admin/");
    ck_assert(!has(&r, "class=\"flash\""));
    http_free(&r);
    free(jpg.data);
}
END_TEST

START_TEST(test_edit_rename_and_replace)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128], renamed[128];
    mkname(name, sizeof name, "Before");
    mkname(renamed, sizeof renamed, "After");
    blob jpg = make_image("jpg", 40, 20, "navy");
    long long id = upload(&a, name, "old tagline", &jpg, "a.jpg", "image/jpeg");
    char *key = image_column(id, "object_key");
    char path[96];
    snprintf(path, sizeof path, "/admin/images/%lld/edit", id);
    http_result page = get(&a, path);
    ck_assert_int_eq(page.status, 200);
    ck_assert(has(&page, "Current file: 40 × 20"));
    ck_assert(has(&page, "value=\"old tagline\""));
    char *csrf = strdup(input_value(&page, "csrf"));
    http_free(&page);
    /* rename only: the browser sends an empty file part */
    file_part none = {"", "application/octet-stream", "", 0};
    http_result r = post_image(&a, path, csrf, renamed, "new tagline", &none, NULL);
    ck_assert_msg(r.status == 303, "rename: %ld %s", r.status, r.body.data);
    http_free(&r);
    char *n = image_column(id, "name"), *t = image_column(id, "tagline"), *k = image_column(id, "object_key");
    ck_assert_str_eq(n, renamed);
    ck_assert_str_eq(t, "new tagline");
    ck_assert_str_eq(k, key);
    free(n);
    free(t);
    free(k);
    r = get(&a, "/admin/");
    char flash[256];
    snprintf(flash, sizeof flash, "“%s” was changed.", renamed);
    ck_assert(has(&r, flash));
    http_free(&r);
    ck_assert_int_eq(object_status(key), 200);
    /* an invalid edit keeps what was typed and changes nothing */
    r = post_image(&a, path, csrf, "", "typed tagline", &none, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "Please give the image a name."));
    ck_assert(has(&r, "value=\"typed tagline\""));
    http_free(&r);
    blob svg = text_blob("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    file_part bad = {"b.png", "image/png", svg.data, svg.len};
    r = post_image(&a, path, csrf, renamed, "x", &bad, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert(has(&r, "id=\"file-error\""));
    http_free(&r);
    k = image_column(id, "object_key");
    ck_assert_str_eq(k, key);
    free(k);
    /* a new file replaces the object; the old one is gone */
    blob png = make_image("png", 30, 60, "teal");
    file_part f = {"b.png", "image/jpeg", png.data, png.len};
    r = post_image(&a, path, csrf, renamed, "new tagline", &f, NULL);
    ck_assert_msg(r.status == 303, "replace: %ld %s", r.status, r.body.data);
    http_free(&r);
    char *k2 = image_column(id, "object_key"), *ct = image_column(id, "content_type"),
         *w = image_column(id, "width");
    ck_assert_str_ne(k2, key);
    ck_assert_str_eq(ct, "image/png");
    ck_assert_int_eq(atoi(w), 30);
    ck_assert_int_eq(object_status(k2), 200);
    long old = object_status(key);
    ck_assert_msg(old == 404, "old object still there: %ld", old);
    const char *p[] = {key};
    ck_assert_int_eq(sql_count("SELECT count(*) FROM object_deletions WHERE object_key = $1", 1, p), 0);
    free(k2);
    free(ct);
    free(w);
    free(key);
    free(csrf);
    free(jpg.data);
    free(png.data);
    free(svg.data);
    /* editing something that is not there */
    r = get(&a, "/admin/images/999999999/edit");
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    r = get(&a, "/admin/images/abc/edit");
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
}
END_TEST

/* A PNG whose chunks are all well formed but whose pixel data does not
 * inflate: its headers pass every check made before the answer, and only
 * decoding it fails. */
static blob undecodable_png(void)
{
    char path[512], cmd[1536];
    snprintf(path, sizeof path, "%s/undecodable.png", tmpdir);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import struct, sys, zlib\n"
             "def chunk(t, d): return struct.pack(\">I\", len(d)) + t + d + struct.pack(\">I\", "
             "zlib.crc32(t + d))\n"
             "ihdr = struct.pack(\">IIBBBBB\", 64, 48, 8, 2, 0, 0, 0)\n"
             "idat = bytes((i * 37 + 11) %% 256 for i in range(256))\n"
             "open(sys.argv[1], \"wb\").write(b\"\\x89PNG\\r\\n\\x1a\\n\" + chunk(b\"IHDR\", ihdr) + "
             "chunk(b\"IDAT\", idat) + chunk(b\"IEND\", b\"\"))' '%s'",
             path);
    ck_assert_msg(system(cmd) == 0, "python3 failed: %s", cmd);
    return read_file(path);
}

/* The list row of image id (from its edit link to the end of the row). */
static const char *list_row(const http_result *list, long long id)
{
    char edit[96];
    snprintf(edit, sizeof edit, "<a href=\"/admin/images/%lld/edit\">", id);
    const char *row = strstr(list->body.data, edit);
    ck_assert_msg(row != NULL, "image %lld not on the list: %s", id, list->body.data);
    return row;
}

/* The thumbnail cell before image id's name on the list. */
static int cell_before(const http_result *list, long long id, const char *needle)
{
    const char *row = list_row(list, id);
    const char *cell = row;
    while (cell > list->body.data && strncmp(cell, "<td class=\"thumb\">", 18) != 0)
        cell--;
    const char *hit = strstr(cell, needle);
    return hit != NULL && hit < row;
}

/* An upload is answered once its original is stored; the renditions are
 * made after. Until they are, the admin lists it as processing (and the
 * list loads itself again); a file that cannot be decoded is accepted,
 * then fails with the renderer's reason for the editor; an image left
 * processing by a worker that died is taken up again by another. */
START_TEST(test_renditions_after_the_answer)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128];
    mkname(name, sizeof name, "Undecodable");
    blob bad = undecodable_png();
    char *csrf = csrf_of(&a, "/admin/images/new");
    file_part f = {"u.png", "image/png", bad.data, bad.len};
    http_result r = post_image(&a, "/admin/images/new", csrf, name, "", &f, NULL);
    free(csrf);
    ck_assert_msg(r.status == 303, "%ld %s", r.status, r.body.data);
    http_free(&r);
    long long bad_id = image_id(name);
    ck_assert_int_gt(bad_id, 0);
    char *why = wait_processed(bad_id);
    ck_assert_msg(why[0] != '\0', "an undecodable PNG was made into renditions");
    http_result list = get(&a, "/admin/");
    ck_assert(cell_before(&list, bad_id, "<span class=\"processing failed\">Failed</span>"));
    ck_assert_msg(has(&list, why), "no '%s' on the list", why);
    ck_assert(!cell_before(&list, bad_id, "data-processing")); /* a failed image: no reloading */
    http_free(&list);
    free(why);
    char *thumb = image_column(bad_id, "coalesce(thumb_key, '')");
    ck_assert_str_eq(thumb, ""); /* nothing was made */
    free(thumb);
    free(bad.data);

    /* a good image, then as if its worker had died before the renditions */
    mkname(name, sizeof name, "Left processing");
    blob png = make_image("png", 30, 20, "orange");
    long long id = upload(&a, name, "", &png, "l.png", "image/png");
    free(png.data);
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *p[] = {idbuf};
    free(sql_value("UPDATE images SET thumb_key = NULL, thumb_width = NULL, thumb_height = NULL,"
                   " display_key = NULL, display_width = NULL, display_height = NULL,"
                   " processing_since = now(), processing_attempts = 1 WHERE id = $1::bigint RETURNING id",
                   1, p));
    list = get(&a, "/admin/");
    ck_assert(cell_before(&list, id, "<span class=\"processing\" data-processing>Processing…</span>"));
    ck_assert(has(&list, "Not on the site until it is processed."));
    http_free(&list);
    /* within IOTD_RENDER_RETRY nothing happens; after it, a worker takes it up */
    free(sql_value("UPDATE images SET processing_since = now() - interval '1 day' WHERE id = $1::bigint"
                   " RETURNING id",
                   1, p));
    char *again = wait_processed(id);
    ck_assert_str_eq(again, "");
    free(again);
    char *attempts = image_column(id, "processing_attempts");
    ck_assert_str_eq(attempts, "2");
    free(attempts);
    thumb = image_column(id, "coalesce(thumb_key, '')");
    ck_assert_msg(thumb[0] != '\0', "no thumbnail after the retry");
    free(thumb);
    list = get(&a, "/admin/");
    ck_assert(cell_before(&list, id, "<img src=\""));
    http_free(&list);
}
END_TEST

START_TEST(test_delete)
{
    browser a = {0};
    signin(&a, user_a);
    char name[128];
    mkname(name, sizeof name, "Doomed");
    blob webp = make_image("webp", 20, 20, "gray");
    long long id = upload(&a, name, "", &webp, "d.webp", "image/webp");
    char *key = image_column(id, "object_key");
    ck_assert_int_eq(object_status(key), 200);
    char path[96];
    snprintf(path, sizeof path, "/admin/images/%lld/delete", id);
    http_result page = get(&a, path);
    ck_assert_int_eq(page.status, 200);
    char title[192];
    snprintf(title, sizeof title, "<h1>Delete “%s”?</h1>", name);
    ck_assert(has(&page, title));
    char action[128];
    snprintf(action, sizeof action, "<form method=\"post\" action=\"%s\"", path);
    ck_assert(has(&page, action));
    char *csrf = strdup(input_value(&page, "csrf"));
    http_free(&page);
    ck_assert_int_eq(image_id(name), id); /* the confirmation page deletes nothing */
    http_result r = post_form(&a, path, NULL, "csrf", csrf, NULL);
    ck_assert_int_eq(r.status, 303);
    ck_assert_str_eq(header(&r, "Location"), "/admin/");
    http_free(&r);
    ck_assert_int_eq(image_id(name), 0);
    ck_assert_int_eq(object_status(key), 404);
    r = get(&a, "/admin/");
    char flash[192];
    snprintf(flash, sizeof flash, "“%s” was deleted.", name);
    ck_assert(has(&r, flash));
    http_free(&r);
    /* again: it is gone */
    r = post_form(&a, path, NULL, "csrf", csrf, NULL);
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    r = get(&a, path);
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    free(csrf);
    free(key);
    free(webp.data);
}
END_TEST

/* ---- headers -------------------------------------------------------------- */

static void assert_admin_headers(const http_result *r, const char *what)
{
    const char *csp = header(r, "Content-Security-Policy");
    ck_assert_msg(csp != NULL, "%s: no CSP", what);
    ck_assert_msg(strstr(csp, "script-src 'self'") && !strstr(csp, "unsafe-inline") &&
                      strstr(csp, "frame-ancestors 'none'") && strstr(csp, "img-src 'self'"),
                  "%s: CSP %s", what, csp);
    const char *s3 = getenv("IOTD_S3_ENDPOINT");
    if (s3)
        ck_assert_msg(strstr(csp, s3) != NULL, "%s: CSP without the S3 origin %s: %s", what, s3, csp);
    const char *v = header(r, "X-Content-Type-Options");
    ck_assert_msg(v && strcmp(v, "nosniff") == 0, "%s: X-Content-Type-Options", what);
    v = header(r, "X-Frame-Options");
    ck_assert_msg(v && strcmp(v, "DENY") == 0, "%s: X-Frame-Options", what);
    v = header(r, "Referrer-Policy");
    ck_assert_msg(v && strcmp(v, "same-origin") == 0, "%s: Referrer-Policy", what);
    v = header(r, "Cache-Control");
    ck_assert_msg(v && strcmp(v, "no-store") == 0, "%s: Cache-Control %s", what, v ? v : "(none)");
}

START_TEST(test_security_headers)
{
    browser a = {0}, anon = {0};
    char name[128];
    mkname(name, sizeof name, "Headers");
    signin(&a, user_a);
    blob png = make_image("png", 9, 9, "pink");
    long long id = upload(&a, name, "", &png, "h.png", "image/png");
    char edit[64], del[64];
    snprintf(edit, sizeof edit, "/admin/images/%lld/edit", id);
    snprintf(del, sizeof del, "/admin/images/%lld/delete", id);
    const char *pages[] = {"/admin/", "/admin/?q=x&page=2",          "/admin/images/new", edit,
                           del,       "/admin/images/999999999/edit"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        http_result r = get(&a, pages[i]);
        assert_admin_headers(&r, pages[i]);
        http_free(&r);
    }
    const char *anon_pages[] = {"/admin/login", "/admin/", "/admin", "/admin/images/new", "/admin/logout"};
    for (size_t i = 0; i < sizeof anon_pages / sizeof anon_pages[0]; i++) {
        http_result r = get(&anon, anon_pages[i]);
        assert_admin_headers(&r, anon_pages[i]);
        http_free(&r);
    }
    http_result r = post_form(&a, del, NULL, "csrf", "forged", NULL);
    ck_assert_int_eq(r.status, 403);
    assert_admin_headers(&r, "403");
    http_free(&r);
    r = try_signin(&anon, user_a, "wrong", NULL);
    assert_admin_headers(&r, "failed sign-in");
    http_free(&r);
    r = try_signin(&anon, user_a, PASSWORD, NULL);
    ck_assert_int_eq(r.status, 303);
    assert_admin_headers(&r, "sign-in redirect");
    http_free(&r);
    free(png.data);
}
END_TEST

/* ---- fixtures and main ---------------------------------------------------- */

static void clear_attempts(void)
{
    sql_exec("DELETE FROM login_attempts");
}

static void remove_user(const char *name)
{
    char args[128];
    snprintf(args, sizeof args, "user rm '%s' >/dev/null 2>&1", name);
    (void)iotd_cli(args, NULL, NULL, 0);
}

static int add_user(const char *name)
{
    char args[128];
    remove_user(name);
    snprintf(args, sizeof args, "user add '%s' >/dev/null", name);
    return iotd_cli(args, PASSWORD "\n", NULL, 0);
}

/* Removes the images made here through the command line, so their objects go too. */
static void remove_images(void)
{
    PGconn *c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%%%s%%", marker);
    const char *p[] = {pattern};
    PGresult *r = PQexecParams(c, "SELECT id FROM images WHERE name LIKE $1", 1, NULL, p, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        char args[96];
        snprintf(args, sizeof args, "image rm %s >/dev/null 2>&1", PQgetvalue(r, i, 0));
        (void)iotd_cli(args, NULL, NULL, 0);
    }
    PQclear(r);
    PQclear(PQexec(c, "DELETE FROM login_attempts"));
    PQfinish(c);
}

int main(void)
{
    base_url = getenv("IOTD_BASE_URL");
    iotd_bin = getenv("IOTD_BIN");
    if (!base_url || !iotd_bin || !getenv("PGHOST")) {
        printf("SKIP: the local stack is not running (run ./dev check)\n");
        return 77;
    }
    if (system("convert -version >/dev/null 2>&1") != 0) {
        printf("SKIP: ImageMagick's convert is not installed\n");
        return 77;
    }
    PGconn *probe = PQconnectdb("");
    int up = PQstatus(probe) == CONNECTION_OK;
    PQfinish(probe);
    if (!up) {
        printf("SKIP: cannot connect to PostgreSQL (run ./dev check)\n");
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int pid = (int)getpid();
    snprintf(marker, sizeof marker, "t%dadm", pid);
    snprintf(user_a, sizeof user_a, "admtest%da", pid);
    snprintf(user_b, sizeof user_b, "admtest%db", pid);
    snprintf(user_c, sizeof user_c, "admtest%dc", pid);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_admin.XXXXXX");
    if (!mkdtemp(tmpdir) || add_user(user_a) != 0 || add_user(user_b) != 0 || add_user(user_c) != 0) {
        fprintf(stderr, "cannot prepare: a temporary folder or test accounts via %s\n", iotd_bin);
        remove_user(user_a);
        remove_user(user_b);
        if (tmpdir[0] && strcmp(tmpdir, "/tmp/check_admin.XXXXXX") != 0)
            rmdir(tmpdir);
        return EXIT_FAILURE;
    }
    PGconn *c = PQconnectdb("");
    PQclear(PQexec(c, "DELETE FROM login_attempts"));
    PQfinish(c);

    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, clear_attempts, NULL);
    tcase_add_test(tc, test_wrong_password_same_message_as_unknown_user);
    tcase_add_test(tc, test_signin_sets_session_cookie);
    tcase_add_test(tc, test_signin_over_https_is_secure);
    tcase_add_test(tc, test_session_fixation);
    tcase_add_test(tc, test_next_parameter);
    tcase_add_test(tc, test_signout);
    tcase_add_test(tc, test_csrf_refused);
    tcase_add_test(tc, test_origin_refused);
    tcase_add_test(tc, test_get_changes_nothing);
    tcase_add_test(tc, test_each_format_accepted);
    tcase_add_test(tc, test_bad_files_refused);
    tcase_add_test(tc, test_no_file_refused);
    tcase_add_test(tc, test_name_limits);
    tcase_add_test(tc, test_upload_limits);
    tcase_add_test(tc, test_xss_escaped);
    tcase_add_test(tc, test_sql_metacharacters_verbatim);
    tcase_add_test(tc, test_list_pages_and_search);
    tcase_add_test(tc, test_flash_once);
    tcase_add_test(tc, test_edit_rename_and_replace);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_renditions_after_the_answer);
    tcase_add_test(tc, test_security_headers);
    tcase_add_test(tc, test_throttle_known_username);
    tcase_add_test(tc, test_throttle_unknown_username);
    tcase_add_test(tc, test_throttle_per_address);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    remove_images();
    remove_user(user_a);
    remove_user(user_b);
    remove_user(user_c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
