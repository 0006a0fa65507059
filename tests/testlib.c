/*
 * testlib.c — shared helpers for the suites that drive the running stack.
 * Failures inside a helper fail the calling test through Check's asserts.
 */
#include "testlib.h"

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *tl_base_url = "http://127.0.0.1:8080";

void tl_set_base_url(const char *url)
{
    tl_base_url = url;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return iotd_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

tl_response tl_http(const char *method, const char *path, const char *extra_header)
{
    tl_response r = {0, IOTD_BUF_INIT, IOTD_BUF_INIT};
    char url[4096];
    snprintf(url, sizeof url, "%s%s", tl_base_url, path);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    struct curl_slist *headers = extra_header ? curl_slist_append(NULL, extra_header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (method && strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    } else if (method && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = -1;
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (!r.body.data)
        iotd_buf_append(&r.body, "", 0);
    if (!r.headers.data)
        iotd_buf_append(&r.headers, "", 0);
    return r;
}

void tl_response_free(tl_response *r)
{
    iotd_buf_free(&r->body);
    iotd_buf_free(&r->headers);
}

int tl_header_has(const tl_response *r, const char *needle)
{
    return strcasestr(r->headers.data, needle) != NULL;
}

int tl_header_value(const tl_response *r, const char *name, char *out, size_t outlen)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s: ", name);
    const char *p = strcasestr(r->headers.data, needle);
    if (!p)
        return 0;
    p += strlen(needle);
    size_t n = strcspn(p, "\r\n");
    snprintf(out, outlen, "%.*s", (int)n, p);
    return 1;
}

const char *tl_header(const tl_response *r, const char *name)
{
    static char value[1024];
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s:", name);
    const char *p = strcasestr(r->headers.data, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    snprintf(value, sizeof value, "%.*s", (int)strcspn(p, "\r\n"), p);
    return value;
}

tl_response tl_fetch(const char *method, const char *path, const char *if_none_match)
{
    char inm[256];
    if (if_none_match)
        snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
    tl_response r = tl_http(method, path, if_none_match ? inm : NULL);
    ck_assert_msg(r.status >= 0, "%s %s: no answer", method ? method : "GET", path);
    return r;
}

tl_response tl_fetch_changed(const char *path, const char *etag)
{
    double t0 = tl_now();
    tl_response r = tl_fetch(NULL, path, etag);
    while (r.status == 304 && tl_now() - t0 < TL_NOTIFY_BOUND_S) {
        tl_response_free(&r);
        usleep(5 * 1000);
        r = tl_fetch(NULL, path, etag);
    }
    return r;
}

void tl_site_origin(const char *base_url, char *out, size_t outlen)
{
    const char *site_url = getenv("IOTD_SITE_URL");
    snprintf(out, outlen, "%s", site_url && *site_url ? site_url : base_url);
    while (out[0] && out[strlen(out) - 1] == '/')
        out[strlen(out) - 1] = '\0';
}

double tl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long tl_wait_for_status(const char *path, long want, double seconds)
{
    double deadline = tl_now() + seconds;
    long got = -1;
    while (tl_now() < deadline) {
        tl_response r = tl_http(NULL, path, NULL);
        got = r.status;
        tl_response_free(&r);
        if (got == want)
            return got;
        usleep(100 * 1000);
    }
    return got;
}

PGconn *tl_db(void)
{
    PGconn *c = PQconnectdb("");
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(c));
    return c;
}

void tl_sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
                  PQresultErrorMessage(r));
    PQclear(r);
}

void tl_dev(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" %s >/dev/null 2>&1", getenv("IOTD_DEV"), what);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

size_t tl_children_of(pid_t parent, pid_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        char path[64], buf[512];
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *close_paren = strrchr(buf, ')');
        char state;
        int ppid;
        if (close_paren && sscanf(close_paren + 2, "%c %d", &state, &ppid) == 2 && ppid == parent &&
            state != 'Z')
            out[n++] = (pid_t)pid;
    }
    closedir(d);
    return n;
}
