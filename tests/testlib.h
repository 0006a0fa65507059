/*
 * testlib.h — helpers the stack-facing suites share: HTTP with libcurl,
 * SQL with libpq, the pool's processes, the clock.
 */
#ifndef IOTD_TESTLIB_H
#define IOTD_TESTLIB_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

typedef struct tl_response {
    long status; /* -1 when the request failed */
    iotd_buf body;
    iotd_buf headers;
} tl_response;

/* IOTD_BASE_URL, for tl_http. */
void tl_set_base_url(const char *url);
/* method NULL means GET; extra_header (e.g. "If-None-Match: x") may be NULL. */
tl_response tl_http(const char *method, const char *path, const char *extra_header);
void tl_response_free(tl_response *r);
/* 1 when a header line contains needle (case-insensitive). */
int tl_header_has(const tl_response *r, const char *needle);
/* Copies the value of header name into out; 0 when absent. */
int tl_header_value(const tl_response *r, const char *name, char *out, size_t outlen);
/* The value of header name (case-insensitive, leading spaces skipped), in a
 * static buffer that the next call overwrites; NULL when absent. */
const char *tl_header(const tl_response *r, const char *name);
/* GET (or HEAD, or an empty POST) that must get an answer; if_none_match may be NULL. */
tl_response tl_fetch(const char *method, const char *path, const char *if_none_match);
/* How long a change made by plain SQL may take to reach the workers' page
 * caches: it arrives by LISTEN/NOTIFY, a moment after the commit (changes
 * made through the admin reach them before its answer). */
#define TL_NOTIFY_BOUND_S 1.0
/* GET path with If-None-Match: etag until the answer is not 304 (the page
 * changed) or TL_NOTIFY_BOUND_S pass; returns the last answer. */
tl_response tl_fetch_changed(const char *path, const char *etag);
/* The origin absolute links start with: IOTD_SITE_URL when set, else
 * base_url; no trailing slash. */
void tl_site_origin(const char *base_url, char *out, size_t outlen);
/* Polls path until it answers want or seconds pass; returns the last status. */
long tl_wait_for_status(const char *path, long want, double seconds);

/* A connection from the PG* variables; fails the test when it cannot connect. */
PGconn *tl_db(void);
/* Runs a statement that must succeed. */
void tl_sql(PGconn *c, const char *q);

/* Runs `$IOTD_DEV what` (e.g. "pg-stop"), which must succeed. */
void tl_dev(const char *what);
/* Live (non-zombie) children of parent, from /proc. */
size_t tl_children_of(pid_t parent, pid_t *out, size_t max);
/* Seconds on the monotonic clock. */
double tl_now(void);

#endif
