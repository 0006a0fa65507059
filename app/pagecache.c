/*
 * pagecache.c — the worker's cache of public pages.
 *
 * A public page (/, /day/..., /archive, /feed.atom, /api/v1/...) is a
 * function of its URL, the site's origin, the images table, today's date in
 * IOTD_TIMEZONE and the presign window its image URLs were signed for.
 * Rendering it costs a query, two presigns, a json-c tree, the template and
 * a SHA-256; serving it again costs a memcpy. So each worker keeps what it
 * rendered, keyed by origin + path + query, and serves it while none of the
 * inputs changed:
 *
 *  - images, changed by this pool (the admin): the worker that made the
 *    change adds one to a counter the pool's workers share (a file in the
 *    master's folder, mapped by each; iotd_pagecache_changed) after the
 *    commit and before its answer. Every other worker reads the counter
 *    before every hit, so such a change is visible on the very next
 *    request, on every worker, without asking Postgres anything.
 *  - images, changed by anyone else (`iotd image`, plain SQL, another task
 *    behind the load balancer): migration 0004 notifies channel iotd_images
 *    on every change. The worker LISTENs on its own connection and, before
 *    every hit, takes whatever notifications have arrived on the socket
 *    (without waiting). Such a change is visible once its notification has
 *    travelled, typically well under a millisecond after the commit.
 *    A worker with no shared counter (not started by the pool) makes one
 *    protocol round trip with no statement in it before every hit instead
 *    (a pipeline Sync, iotd_db_ping), which makes every writer's changes
 *    exact: the
 *    committing backend signals the listeners before its client sees the
 *    commit, and an idle backend sends the notifications it was signalled
 *    about before the ReadyForQuery that answers a Sync (postgres.c, the
 *    send_ready_for_query step). So a notification for any change committed
 *    before this request was sent reaches libpq before our answer does.
 *    Any notification, or a failed round trip, empties the cache.
 *  - the connection: LISTEN belongs to one server session. A replaced
 *    connection (iotd_db_generation changed) or any error empties the cache
 *    and forces a full sync, which LISTENs again on the new session.
 *  - the day: the full sync (one prepared SELECT) returns today's date and
 *    the seconds until the next day begins in IOTD_TIMEZONE, computed by
 *    Postgres with the zone's rules; the worker keeps that as a
 *    CLOCK_MONOTONIC deadline, measured from before the query was sent so
 *    it is never late, and syncs fully again at or after it. A new date
 *    empties the cache.
 *  - the presign window: an entry is served only in the window it was
 *    rendered in (and only kept when the window did not turn while it was
 *    rendered), so a kept page never carries a URL signed for an earlier
 *    window than the one a fresh render would use.
 *  - anything else (credentials rotating, clock steps, a zone's rules
 *    changing): the full sync runs at least every IOTD_PAGECACHE_MAX_AGE_S
 *    seconds, and entries are re-rendered at least that often.
 *
 * The full sync runs on first use, after a reconnection or an error, at the
 * day deadline and every IOTD_PAGECACHE_MAX_AGE_S; every other check reads
 * the shared counter and the socket (or, without a counter, is the bare
 * round trip, which costs Postgres no parse, plan or snapshot).
 *
 * A page is kept only after a second check that nothing changed while it
 * was being rendered. 304s are decided here from the kept ETag, so a
 * client's If-None-Match never stops a page from being kept. Memory is
 * bounded (entries, bytes, page size) with least-recently-used eviction;
 * a hit allocates nothing.
 */
#include "pagecache.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "iotd.h"
#include "sigv4.h"
#include "view.h"

#define PAGECACHE_MS_PER_S 1000
#define PAGECACHE_DEFAULT_TTL 3600 /* as s3.c, when no presign TTL is configured */

/* Routes whose answer depends only on the inputs above (see routes.c). */
static const char *const cacheable_routes[] = {
    "home", "day", "archive", "feed", "api_today", "api_day", "api_days", "api_openapi",
};

typedef struct entry {
    char *mem; /* one block: key, headers, body, etag; NULL = free slot */
    const char *key, *headers, *body, *etag;
    size_t key_len, headers_len, body_len, bytes;
    uint64_t hash;
    const char *route; /* a name from the route table, for the request log */
    int64_t window;    /* presign window the page was rendered in */
    time_t stored;     /* CLOCK_MONOTONIC seconds */
    unsigned long long used;
} entry;

struct iotd_pagecache {
    entry entries[IOTD_PAGECACHE_MAX_ENTRIES];
    size_t bytes;
    unsigned long long clock;
    char today[IOTD_PAGECACHE_DATE_CHARS]; /* "" until synced: the next check is a full sync */
    unsigned long generation;              /* the db connection the LISTEN was made on */
    long long day_ends_ms;                 /* CLOCK_MONOTONIC: sync fully at or after this */
    long long resync_ms;                   /* CLOCK_MONOTONIC: and at least this often */
    uint64_t *shared;                      /* the pool's change counter, or NULL */
    uint64_t shared_seen;                  /* its value when the cache was last known good */
    /* the current request, between serve and keep */
    iotd_buf key;
    uint64_t key_hash;
    int eligible;
    int64_t window;
    const char *if_none_match;
};

/*
 * Today's date in the zone, whether this session LISTENs, and the seconds
 * until the next date begins there. $2 is the instant to ask about (NULL:
 * now; tests pass fixed instants). The next local midnight m is converted
 * with the zone's rules; where midnight itself is repeated (a zone leaving
 * DST at 01:00, back to 00:00), Postgres picks the later of the two
 * instants, so m is also reached from three local hours before it, which
 * gives the earlier one. The earliest candidate still in the future wins:
 * the deadline is never late, and at worst one extra sync is early.
 */
static const iotd_db_stmt stmt_sync = {
    "pagecache_sync",
    "WITH t AS (SELECT coalesce($2::timestamptz, now()) AS n),"
    " d AS (SELECT n, date_trunc('day', n AT TIME ZONE $1) + interval '1 day' AS m FROM t)"
    " SELECT to_char((n AT TIME ZONE $1)::date, 'YYYY-MM-DD'),"
    " EXISTS (SELECT 1 FROM pg_listening_channels() AS c WHERE c = '" IOTD_PAGECACHE_CHANNEL "'),"
    " extract(epoch FROM (SELECT min(c) FROM (VALUES (m AT TIME ZONE $1),"
    "   ((m - interval '3 hours') AT TIME ZONE $1 + interval '3 hours')) AS v(c) WHERE c > n) - n)"
    " FROM d",
    2, 1};
static const iotd_db_stmt stmt_listen = {"pagecache_listen", "LISTEN " IOTD_PAGECACHE_CHANNEL, 0, 1};

iotd_pagecache *iotd_pagecache_new(void)
{
    iotd_pagecache *pc = calloc(1, sizeof *pc);
    if (pc)
        iotd_buf_init(&pc->key, 0);
    return pc;
}

static void drop(iotd_pagecache *pc, entry *e)
{
    if (!e->mem)
        return;
    pc->bytes -= e->bytes;
    free(e->mem);
    memset(e, 0, sizeof *e);
}

static void clear(iotd_pagecache *pc)
{
    for (size_t i = 0; i < IOTD_PAGECACHE_MAX_ENTRIES; i++)
        drop(pc, &pc->entries[i]);
}

void iotd_pagecache_free(iotd_pagecache *pc)
{
    if (!pc)
        return;
    clear(pc);
    iotd_buf_free(&pc->key);
    free(pc);
}

size_t iotd_pagecache_count(const iotd_pagecache *pc, size_t *bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < IOTD_PAGECACHE_MAX_ENTRIES; i++)
        n += pc->entries[i].mem != NULL;
    if (bytes)
        *bytes = pc->bytes;
    return n;
}

static time_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * PAGECACHE_MS_PER_S + ts.tv_nsec / 1000000;
}

static int64_t current_window(const iotd_ctx *ctx)
{
    long ttl = ctx->cfg->s3.presign_ttl > 0 ? ctx->cfg->s3.presign_ttl : PAGECACHE_DEFAULT_TTL;
    return iotd_sigv4_window_start(time(NULL), ttl);
}

/* ---- the database side ------------------------------------------------- */

/* Empties the cache and makes the next check a full sync. */
static void forget(iotd_pagecache *pc)
{
    clear(pc);
    pc->today[0] = '\0';
}

/* Peeks without waiting: 1 when data waits, 0 when nothing does, -1 when
 * the peer has closed or reset the connection. */
static int socket_state(int fd)
{
    char c;
    ssize_t n;
    while ((n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT)) < 0 && errno == EINTR)
        ;
    if (n > 0)
        return 1;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* Whether the server is still there, judged from the socket alone. A quiet
 * socket costs one peek. When something has arrived (a notification, or a
 * stopping server's FATAL message followed by its close), libpq reads it in
 * and the socket is looked at again, so the close is not missed. */
static int connection_alive(iotd_db *db)
{
    PGconn *conn = iotd_db_conn(db);
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return 0;
    int state = socket_state(PQsocket(conn));
    if (state > 0) {
        if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
            return 0;
        state = socket_state(PQsocket(conn));
    }
    return state >= 0;
}

/* Drains the notifications libpq holds: 1 when there was any. */
static int drain_notifies(PGconn *conn)
{
    int any = 0;
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        any = 1;
        PQfreemem(n);
    }
    return any;
}

/* Reads the socket, then drains: 1 when there was any notification. */
static int notified(iotd_db *db)
{
    PGconn *conn = iotd_db_conn(db);
    if (!conn)
        return 0;
    (void)PQconsumeInput(conn); /* anything that arrived after our answer, too */
    return drain_notifies(conn);
}

static int run_sync(iotd_db *db, const char *timezone, const char *at, PGresult **r)
{
    const char *values[] = {timezone && timezone[0] ? timezone : "UTC", at};
    int rc = iotd_db_exec(db, &stmt_sync, values, r);
    if (rc == IOTD_OK && (PQntuples(*r) != 1 || PQnfields(*r) != 3 || PQgetisnull(*r, 0, 2) ||
                          PQgetlength(*r, 0, 0) >= IOTD_PAGECACHE_DATE_CHARS))
        rc = IOTD_ERROR;
    return rc;
}

int iotd_pagecache_day(iotd_db *db, const char *timezone, const char *at,
                       char date[IOTD_PAGECACHE_DATE_CHARS], double *seconds_left)
{
    PGresult *r;
    int rc = run_sync(db, timezone, at, &r);
    if (rc == IOTD_OK) {
        snprintf(date, IOTD_PAGECACHE_DATE_CHARS, "%s", PQgetvalue(r, 0, 0));
        *seconds_left = strtod(PQgetvalue(r, 0, 2), NULL);
    }
    PQclear(r);
    return rc;
}

static uint64_t shared_now(const iotd_pagecache *pc)
{
    return pc->shared ? __atomic_load_n(pc->shared, __ATOMIC_ACQUIRE) : 0;
}

void iotd_pagecache_share(iotd_pagecache *pc, uint64_t *counter)
{
    pc->shared = counter;
    pc->shared_seen = shared_now(pc);
    forget(pc);
}

void iotd_pagecache_changed(iotd_pagecache *pc)
{
    if (!pc)
        return;
    if (pc->shared)
        (void)__atomic_add_fetch(pc->shared, 1, __ATOMIC_RELEASE);
    clear(pc);
}

int iotd_pagecache_sync(iotd_pagecache *pc, iotd_db *db, const char *timezone)
{
    long long asked_ms = mono_ms();   /* before the server's now(): the deadline is never late */
    pc->shared_seen = shared_now(pc); /* before the query: a change from now on is seen next time */
    PGresult *r;
    int rc = run_sync(db, timezone, NULL, &r);
    if (rc != IOTD_OK) {
        PQclear(r);
        forget(pc);
        return rc;
    }
    int changed = strcmp(PQgetvalue(r, 0, 0), pc->today) != 0;
    if (changed)
        snprintf(pc->today, sizeof pc->today, "%s", PQgetvalue(r, 0, 0));
    int listening = PQgetvalue(r, 0, 1)[0] == 't';
    double left_s = strtod(PQgetvalue(r, 0, 2), NULL);
    PQclear(r);
    if (!listening) {
        /* a new connection: whatever changed before it listened is unknown */
        changed = 1;
        rc = iotd_db_exec(db, &stmt_listen, NULL, &r);
        PQclear(r);
        if (rc != IOTD_OK) {
            forget(pc);
            return rc;
        }
    }
    if (!(left_s > 0))
        left_s = 0; /* sync again on the next check */
    if (left_s > IOTD_PAGECACHE_MAX_AGE_S)
        left_s = IOTD_PAGECACHE_MAX_AGE_S; /* and at least this often anyway */
    pc->day_ends_ms = asked_ms + (long long)(left_s * PAGECACHE_MS_PER_S);
    pc->resync_ms = asked_ms + (long long)IOTD_PAGECACHE_MAX_AGE_S * PAGECACHE_MS_PER_S;
    pc->generation = iotd_db_generation(db);
    if (notified(db))
        changed = 1;
    if (changed) {
        clear(pc);
        return IOTD_DECLINED;
    }
    return IOTD_OK;
}

int iotd_pagecache_check(iotd_pagecache *pc, iotd_db *db, const char *timezone)
{
    int rc = iotd_db_ready(db);
    if (rc != IOTD_OK) {
        forget(pc);
        return rc;
    }
    long long now = mono_ms();
    if (!pc->today[0] || pc->generation != iotd_db_generation(db) || now >= pc->day_ends_ms ||
        now >= pc->resync_ms)
        return iotd_pagecache_sync(pc, db, timezone);
    if (pc->shared) {
        uint64_t seen = shared_now(pc);
        if (seen != pc->shared_seen) {
            pc->shared_seen = seen;
            clear(pc);
            return IOTD_DECLINED;
        }
        /* the socket shows a server that went away (an outage, a restart) too */
        if (!connection_alive(db)) {
            forget(pc);
            return IOTD_AGAIN;
        }
        if (drain_notifies(iotd_db_conn(db))) { /* connection_alive has read the socket */
            clear(pc);
            return IOTD_DECLINED;
        }
        return IOTD_OK;
    }
    rc = iotd_db_ping(db);
    if (rc != IOTD_OK || pc->generation != iotd_db_generation(db)) {
        forget(pc);
        return rc != IOTD_OK ? rc : IOTD_DECLINED;
    }
    if (notified(db)) {
        clear(pc);
        return IOTD_DECLINED;
    }
    return IOTD_OK;
}

/* ---- keys and lookups ---------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* origin (only when it comes from the request) + path + query */
static int make_key(iotd_pagecache *pc, const iotd_ctx *ctx)
{
    const iotd_request *req = ctx->req;
    iotd_buf *k = &pc->key;
    iotd_buf_reset(k);
    int rc = IOTD_OK;
    if (!ctx->cfg->site_url[0])
        rc = iotd_buf_printf(k, "%s://%s\n", req->is_https ? "https" : "http", req->host ? req->host : "");
    if (rc == IOTD_OK)
        rc = iotd_buf_puts(k, req->path ? req->path : "");
    if (rc == IOTD_OK)
        rc = iotd_buf_putc(k, '?');
    if (rc == IOTD_OK)
        rc = iotd_buf_puts(k, req->raw_query ? req->raw_query : "");
    if (rc == IOTD_OK)
        pc->key_hash = fnv1a(k->data, k->len);
    return rc;
}

static entry *find(iotd_pagecache *pc)
{
    for (size_t i = 0; i < IOTD_PAGECACHE_MAX_ENTRIES; i++) {
        entry *e = &pc->entries[i];
        if (e->mem && e->hash == pc->key_hash && e->key_len == pc->key.len &&
            memcmp(e->key, pc->key.data, pc->key.len) == 0)
            return e;
    }
    return NULL;
}

static int fresh(const entry *e, int64_t window)
{
    return e->window == window && mono_seconds() - e->stored < IOTD_PAGECACHE_MAX_AGE_S;
}

/* ---- serving --------------------------------------------------------------- */

static void answer_conditional(iotd_response *res, const char *if_none_match, const char *etag)
{
    if (res->status == 200 && if_none_match && iotd_view_etag_matches(if_none_match, etag)) {
        res->status = 304;
        iotd_buf_reset(&res->body);
    }
}

int iotd_pagecache_serve(iotd_ctx *ctx)
{
    iotd_pagecache *pc = ctx->pages;
    if (!pc)
        return IOTD_DECLINED;
    pc->eligible = 0;
    const char *method = ctx->req->method;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return IOTD_DECLINED;
    if (make_key(pc, ctx) != IOTD_OK)
        return IOTD_DECLINED;
    pc->eligible = 1;
    pc->window = current_window(ctx);
    /* The handler renders the whole page whatever the client holds; the
     * 304 is decided from the ETag afterwards (here or in keep). */
    pc->if_none_match = ctx->req->if_none_match;
    ctx->req->if_none_match = NULL;

    entry *e = find(pc);
    if (!e)
        return IOTD_DECLINED;
    if (!fresh(e, pc->window)) {
        drop(pc, e);
        return IOTD_DECLINED;
    }
    if (iotd_pagecache_check(pc, ctx->db, ctx->cfg->timezone) != IOTD_OK)
        return IOTD_DECLINED; /* emptied: render afresh */
    iotd_response *res = ctx->res;
    iotd_buf_reset(&res->headers);
    iotd_buf_reset(&res->body);
    if (iotd_buf_append(&res->headers, e->headers, e->headers_len) != IOTD_OK ||
        iotd_buf_append(&res->body, e->body, e->body_len) != IOTD_OK) {
        iotd_response_reset(res);
        res->head_only = strcmp(method, "HEAD") == 0;
        return IOTD_DECLINED;
    }
    res->status = 200;
    e->used = ++pc->clock;
    ctx->route = e->route;
    answer_conditional(res, pc->if_none_match, e->etag);
    pc->eligible = 0;
    return IOTD_OK;
}

/* ---- keeping --------------------------------------------------------------- */

/* The value of header name in a "Name: value\r\n" block, or NULL. */
static const char *header_value(const iotd_buf *h, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = h->data, *end = h->data ? h->data + h->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol)
            return NULL;
        if ((size_t)(eol - p) > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

static int route_cacheable(const char *route)
{
    if (!route)
        return 0;
    for (size_t i = 0; i < IOTD_ARRAY_LEN(cacheable_routes); i++)
        if (strcmp(route, cacheable_routes[i]) == 0)
            return 1;
    return 0;
}

static entry *free_slot(iotd_pagecache *pc, size_t need)
{
    for (;;) {
        entry *lru = NULL, *empty = NULL;
        for (size_t i = 0; i < IOTD_PAGECACHE_MAX_ENTRIES; i++) {
            entry *e = &pc->entries[i];
            if (!e->mem)
                empty = empty ? empty : e;
            else if (!lru || e->used < lru->used)
                lru = e;
        }
        if (empty && pc->bytes + need <= (size_t)IOTD_PAGECACHE_MAX_BYTES)
            return empty;
        if (!lru)
            return NULL;
        drop(pc, lru);
    }
}

static void store(iotd_pagecache *pc, const iotd_ctx *ctx, const char *etag, size_t etag_len)
{
    const iotd_response *res = ctx->res;
    size_t need = pc->key.len + res->headers.len + res->body.len + etag_len + 4;
    entry *old = find(pc);
    if (old)
        drop(pc, old);
    entry *e = free_slot(pc, need);
    char *mem = e ? malloc(need) : NULL;
    if (!mem)
        return;
    char *p = mem;
    e->key = p;
    memcpy(p, pc->key.data, pc->key.len);
    p += pc->key.len;
    *p++ = '\0';
    e->headers = p;
    if (res->headers.len)
        memcpy(p, res->headers.data, res->headers.len);
    p += res->headers.len;
    *p++ = '\0';
    e->body = p;
    if (res->body.len)
        memcpy(p, res->body.data, res->body.len);
    p += res->body.len;
    *p++ = '\0';
    e->etag = p;
    memcpy(p, etag, etag_len);
    p[etag_len] = '\0';
    e->mem = mem;
    e->key_len = pc->key.len;
    e->headers_len = res->headers.len;
    e->body_len = res->body.len;
    e->bytes = need;
    e->hash = pc->key_hash;
    e->route = ctx->route;
    e->window = pc->window;
    e->stored = mono_seconds();
    e->used = ++pc->clock;
    pc->bytes += need;
}

void iotd_pagecache_keep(iotd_ctx *ctx)
{
    iotd_pagecache *pc = ctx->pages;
    if (!pc || !pc->eligible)
        return;
    pc->eligible = 0;
    iotd_response *res = ctx->res;
    size_t etag_len = 0, cc_len = 0, cookie_len = 0;
    const char *etag = res->status == 200 ? header_value(&res->headers, "ETag", &etag_len) : NULL;
    if (!etag)
        return;
    /* the ETag is copied: answer_conditional may reset the buffers it points into */
    char etag_copy[128];
    if (etag_len >= sizeof etag_copy)
        return;
    memcpy(etag_copy, etag, etag_len);
    etag_copy[etag_len] = '\0';
    const char *cc = header_value(&res->headers, "Cache-Control", &cc_len);
    if (route_cacheable(ctx->route) && cc && cc_len >= 6 && strncmp(cc, "public", 6) == 0 &&
        !header_value(&res->headers, "Set-Cookie", &cookie_len) &&
        res->body.len <= (size_t)IOTD_PAGECACHE_MAX_PAGE_BYTES && current_window(ctx) == pc->window &&
        iotd_pagecache_check(pc, ctx->db, ctx->cfg->timezone) == IOTD_OK)
        store(pc, ctx, etag_copy, etag_len);
    answer_conditional(res, pc->if_none_match, etag_copy);
}
