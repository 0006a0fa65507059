/*
 * check_cache.c — the workers' page cache (app/pagecache.c) never shows a
 * stale page.
 *
 * Runs its own pool (`iotd serve`, WORKERS workers) on a scratch database
 * created in the stack's PostgreSQL, and talks FastCGI to it over WORKERS
 * connections that ask to be kept open (FCGI_KEEP_CONN): a worker serves
 * one connection at a time, so each connection is answered by its own
 * worker, and "every worker" is exactly "every connection". Shows that
 *  - pages are really kept (a change made with the notify trigger disabled
 *    stays invisible),
 *  - a change made by the pool (the admin: a silent change in SQL, then the
 *    shared counter bumped as iotd_pagecache_changed does) is visible on
 *    the very next request on every worker, many times over,
 *  - an UPDATE, DELETE or INSERT in plain SQL is visible on every worker as
 *    soon as its notification has arrived (polled; the worst delay is
 *    printed and must stay under NOTIFY_LIMIT_MS),
 *  - a kept page never carries image URLs signed for an earlier presign
 *    window than the one current when the request was sent,
 *  - the check before a hit (a bare round trip) still sees every NOTIFY
 *    sent before it, and a replaced connection forces a full sync that
 *    LISTENs again,
 *  - the full sync's date and seconds until the next day, DST included.
 * Skips (77) when the stack's PostgreSQL is not reachable.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fcgi_client.h"
#include "db.h"
#include "iotd.h"
#include "pagecache.h"
#include "sigv4.h"
#include "slots.h"
#include "testlib.h"

#define WORKERS 3
#define PRESIGN_TTL_SHORT 4 /* a two-second presign window, so a test sees it turn */
#define PRESIGN_TTL_LONG 3600
#define CHANGE_ROUNDS 25
#define NOTIFY_LIMIT_MS 2000 /* a notification is usually there in well under 1 ms */
#define NOTIFY_ROUNDS 50
#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1
enum { FCGI_BEGIN_REQUEST = 1, FCGI_END_REQUEST = 3, FCGI_PARAMS = 4, FCGI_STDIN = 5, FCGI_STDOUT = 6 };

static char dbname[64];
static char address[64];
static int port;
static pid_t master;
static char logpath[128];
static int conns[WORKERS];
static long presign_ttl = PRESIGN_TTL_LONG;

/* ---- a FastCGI client that keeps its connection ------------------------- */

static void put_record(iotd_buf *b, int type, const void *data, size_t len)
{
    unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
    ck_assert_int_eq(iotd_buf_append(b, h, sizeof h), IOTD_OK);
    if (len)
        ck_assert_int_eq(iotd_buf_append(b, data, len), IOTD_OK);
}

static void put_param(iotd_buf *p, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    ck_assert(n < 128 && v < 128);
    unsigned char lens[2] = {(unsigned char)n, (unsigned char)v};
    ck_assert_int_eq(iotd_buf_append(p, lens, 2), IOTD_OK);
    ck_assert_int_eq(iotd_buf_append(p, name, n), IOTD_OK);
    ck_assert_int_eq(iotd_buf_append(p, value, v), IOTD_OK);
}

static int connect_pool(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void read_exactly(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        ck_assert_msg(n > 0, "the pool closed a kept connection or timed out");
        got += (size_t)n;
    }
}

/* GET path on a kept connection: returns the status, out gets head + body. */
static int fcgi_get(int fd, const char *path, const char *if_none_match, iotd_buf *out)
{
    iotd_buf req = IOTD_BUF_INIT, params = IOTD_BUF_INIT;
    unsigned char begin[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN, 0, 0, 0, 0, 0};
    put_record(&req, FCGI_BEGIN_REQUEST, begin, sizeof begin);
    put_param(&params, "REQUEST_METHOD", "GET");
    put_param(&params, "REQUEST_URI", path);
    put_param(&params, "DOCUMENT_URI", path);
    put_param(&params, "SCRIPT_NAME", path);
    put_param(&params, "QUERY_STRING", "");
    put_param(&params, "SERVER_PROTOCOL", "HTTP/1.1");
    put_param(&params, "REQUEST_SCHEME", "http");
    put_param(&params, "SERVER_NAME", "cache.test");
    put_param(&params, "SERVER_PORT", "80");
    put_param(&params, "HTTP_HOST", "cache.test");
    put_param(&params, "REMOTE_ADDR", "127.0.0.1");
    if (if_none_match)
        put_param(&params, "HTTP_IF_NONE_MATCH", if_none_match);
    put_record(&req, FCGI_PARAMS, params.data, params.len);
    put_record(&req, FCGI_PARAMS, NULL, 0);
    put_record(&req, FCGI_STDIN, NULL, 0);
    ck_assert_int_eq(write(fd, req.data, req.len), (ssize_t)req.len);
    iotd_buf_free(&req);
    iotd_buf_free(&params);

    iotd_buf_reset(out);
    for (;;) {
        unsigned char h[8], content[65536 + 256];
        read_exactly(fd, h, sizeof h);
        size_t len = (size_t)h[4] << 8 | h[5];
        read_exactly(fd, content, len + h[6]);
        if (h[1] == FCGI_STDOUT)
            ck_assert_int_eq(iotd_buf_append(out, content, len), IOTD_OK);
        else if (h[1] == FCGI_END_REQUEST)
            break;
    }
    ck_assert_msg(out->len > 8 && strncmp(out->data, "Status: ", 8) == 0, "no Status line");
    return atoi(out->data + 8);
}

/* ---- the scratch database and the pool ------------------------------------ */

static PGconn *db_named(const char *name)
{
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "dbname=%s", name);
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect to %s: %s", name, PQerrorMessage(c));
    return c;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void run_iotd(const char *arg, int wait_for_it)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/iotd", getenv("IOTD_BUILDDIR") ? getenv("IOTD_BUILDDIR") : ".");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("PGDATABASE", dbname, 1);
        unsetenv("DATABASE_URL");
        setenv("IOTD_LISTEN", address, 1);
        char n[16];
        snprintf(n, sizeof n, "%d", WORKERS);
        setenv("IOTD_WORKERS", n, 1);
        snprintf(n, sizeof n, "%ld", presign_ttl);
        setenv("IOTD_PRESIGN_TTL", n, 1);
        setenv("IOTD_TIMEZONE", "UTC", 1);
        setenv("IOTD_GRACE_SECONDS", "5", 1);
        setenv("IOTD_SITE_URL", "", 1);
        const char *src = getenv("IOTD_SRCDIR") ? getenv("IOTD_SRCDIR") : ".";
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/views", src);
        setenv("IOTD_VIEWS_DIR", dir, 1);
        snprintf(dir, sizeof dir, "%s/db/migrations", src);
        setenv("IOTD_MIGRATIONS_DIR", dir, 1);
        if (!getenv("IOTD_S3_BUCKET"))
            setenv("IOTD_S3_BUCKET", "cache-test", 1);
        if (!getenv("IOTD_S3_ENDPOINT"))
            setenv("IOTD_S3_ENDPOINT", "http://127.0.0.1:1", 1);
        if (!getenv("AWS_ACCESS_KEY_ID"))
            setenv("AWS_ACCESS_KEY_ID", "AKIDCACHE", 1);
        if (!getenv("AWS_SECRET_ACCESS_KEY"))
            setenv("AWS_SECRET_ACCESS_KEY", "cache-secret", 1);
        execl(bin, "iotd", arg, (char *)NULL);
        _exit(127);
    }
    if (wait_for_it) {
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "iotd %s failed (see %s)", arg, logpath);
    } else {
        master = pid;
    }
}

static void setup(void)
{
    PGconn *admin = tl_db();
    snprintf(dbname, sizeof dbname, "iotd_cache_test_%d", (int)getpid());
    char q[256];
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s", dbname);
    tl_sql(admin, q);
    snprintf(q, sizeof q, "CREATE DATABASE %s", dbname);
    tl_sql(admin, q);
    PQfinish(admin);
    snprintf(logpath, sizeof logpath, "/tmp/%s.log", dbname);
    port = free_port();
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    run_iotd("migrate", 1);

    PGconn *c = db_named(dbname);
    /* an older upload, and the image scheduled for today */
    tl_sql(c, "INSERT INTO images (name, object_key, content_type, byte_size, width, height, uploaded_at)"
              " VALUES ('Older upload', 'cache-test/older.jpg', 'image/jpeg', 100, 40, 30,"
              "         now() - interval '2 days')");
    tl_sql(c, "INSERT INTO images (name, object_key, content_type, byte_size, width, height, feature_date)"
              " VALUES ('Scheduled today', 'cache-test/today.jpg', 'image/jpeg', 100, 40, 30,"
              "         (now() AT TIME ZONE 'UTC')::date)");
    PQfinish(c);

    run_iotd("serve", 0);
    /* Wait with a whole request (answered and closed), not a bare connect:
     * a connection left in the queue would make a worker let its kept
     * connection go, which is what the pool does when others wait. */
    double t0 = tl_now();
    int up = 0;
    while (!up && tl_now() - t0 < 15) {
        iotd_buf body = IOTD_BUF_INIT;
        char err[128];
        int status = 0;
        up = iotd_fcgi_get(address, "/healthz", 2000, &status, &body, err, sizeof err) == IOTD_OK &&
             status == 200;
        iotd_buf_free(&body);
        if (!up)
            usleep(20 * 1000);
    }
    for (int i = 0; i < WORKERS; i++)
        conns[i] = connect_pool();
    usleep(200 * 1000); /* every worker has taken one of them off the queue */
}

static void setup_short_window(void)
{
    presign_ttl = PRESIGN_TTL_SHORT;
    setup();
}

static int64_t window_now(void)
{
    return iotd_sigv4_window_start(time(NULL), presign_ttl);
}

static void teardown(void)
{
    for (int i = 0; i < WORKERS; i++)
        if (conns[i] > 0)
            close(conns[i]);
    if (master > 0) {
        kill(master, SIGTERM);
        int st;
        waitpid(master, &st, 0);
        master = 0;
    }
    PGconn *admin = tl_db();
    char q[256];
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    tl_sql(admin, q);
    PQfinish(admin);
    unlink(logpath);
}

static void sql(const char *q)
{
    PGconn *c = db_named(dbname);
    tl_sql(c, q);
    PQfinish(c);
}

/* GET / on worker i; the page must be a 200 and mention want. */
static void expect_home(int i, const char *want, iotd_buf *page)
{
    int status = fcgi_get(conns[i], "/", NULL, page);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(strstr(page->data, want) != NULL, "worker %d did not show \"%s\"", i, want);
}

/* GET / on worker i until it mentions want (a notification on its way);
 * returns the milliseconds that took. */
static double expect_home_soon(int i, const char *want, iotd_buf *page)
{
    double t0 = tl_now();
    for (;;) {
        int status = fcgi_get(conns[i], "/", NULL, page);
        ck_assert_int_eq(status, 200);
        double ms = (tl_now() - t0) * 1000;
        if (strstr(page->data, want))
            return ms;
        ck_assert_msg(ms < NOTIFY_LIMIT_MS, "worker %d did not show \"%s\" within %d ms", i, want,
                      NOTIFY_LIMIT_MS);
        usleep(1000);
    }
}

/* The pool's shared change counter, found as the tests' pool made it: the
 * folder named on a worker's command line. */
static uint64_t *pool_counter(void)
{
    char path[128], list[256] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(list, sizeof list, f));
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/cmdline", atoi(list));
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char cmd[1024];
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = '\0';
    const char *dir = NULL;
    for (size_t at = 0; at < n; at += strlen(cmd + at) + 1)
        if (strcmp(cmd + at, "--slots-dir") == 0 && at + strlen(cmd + at) + 1 < n)
            dir = cmd + at + strlen(cmd + at) + 1;
    ck_assert_msg(dir != NULL, "no --slots-dir on worker %d's command line", atoi(list));
    uint64_t *counter = iotd_slots_counter(dir);
    ck_assert_ptr_nonnull(counter);
    return counter;
}

/* ---- the tests -------------------------------------------------------------- */

START_TEST(test_pages_are_kept)
{
    iotd_buf page = IOTD_BUF_INIT;
    int64_t window = window_now();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < WORKERS; i++)
            expect_home(i, "Scheduled today", &page);
    /* A change that notifies nobody stays invisible: the page is kept
     * (unless the presign window turned meanwhile, which renders afresh). */
    sql("BEGIN; ALTER TABLE images DISABLE TRIGGER images_notify;"
        " UPDATE images SET name = 'Silent rename' WHERE object_key = 'cache-test/today.jpg';"
        " ALTER TABLE images ENABLE TRIGGER images_notify; COMMIT");
    for (int i = 0; i < WORKERS; i++) {
        int status = fcgi_get(conns[i], "/", NULL, &page);
        ck_assert_int_eq(status, 200);
        if (window_now() == window)
            ck_assert_msg(strstr(page.data, "Scheduled today"), "worker %d rendered afresh: nothing kept", i);
    }
    /* The same page through the API is rendered afresh (another URL). */
    ck_assert_int_eq(fcgi_get(conns[0], "/api/v1/today", NULL, &page), 200);
    ck_assert_ptr_nonnull(strstr(page.data, "Silent rename"));
    /* A notified change shows everywhere as its notification arrives. */
    sql("UPDATE images SET tagline = 'now notified' WHERE object_key = 'cache-test/today.jpg'");
    for (int i = 0; i < WORKERS; i++)
        expect_home_soon(i, "Silent rename", &page);
    iotd_buf_free(&page);
}
END_TEST

/* What the admin does: commit, then bump the shared counter, then answer.
 * The change is silent in SQL here, so only the counter can reveal it. */
START_TEST(test_pool_change_visible_on_next_request_on_every_worker)
{
    iotd_buf page = IOTD_BUF_INIT;
    uint64_t *counter = pool_counter();
    char q[512], want[64];
    for (int i = 0; i < WORKERS; i++) {
        expect_home(i, "Scheduled today", &page);
        expect_home(i, "Scheduled today", &page); /* now from the cache */
    }
    for (int round = 0; round < CHANGE_ROUNDS; round++) {
        snprintf(want, sizeof want, "Pool rename %d", round);
        snprintf(q, sizeof q,
                 "BEGIN; ALTER TABLE images DISABLE TRIGGER images_notify;"
                 " UPDATE images SET name = '%s' WHERE object_key = 'cache-test/today.jpg';"
                 " ALTER TABLE images ENABLE TRIGGER images_notify; COMMIT",
                 want);
        sql(q);
        __atomic_add_fetch(counter, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < WORKERS; i++)
            expect_home(i, want, &page);
        for (int i = 0; i < WORKERS; i++)
            expect_home(i, want, &page);
    }
    iotd_buf_free(&page);
}
END_TEST

START_TEST(test_sql_change_visible_on_every_worker_once_notified)
{
    iotd_buf page = IOTD_BUF_INIT;
    char q[256], want[64];
    for (int i = 0; i < WORKERS; i++) {
        expect_home(i, "Scheduled today", &page);
        expect_home(i, "Scheduled today", &page); /* now from the cache */
    }
    double worst = 0;
    for (int round = 0; round < CHANGE_ROUNDS; round++) {
        snprintf(want, sizeof want, "Renamed %d", round);
        snprintf(q, sizeof q, "UPDATE images SET name = '%s' WHERE object_key = 'cache-test/today.jpg'",
                 want);
        sql(q);
        for (int i = 0; i < WORKERS; i++) {
            double ms = expect_home_soon(i, want, &page);
            worst = ms > worst ? ms : worst;
        }
        for (int i = 0; i < WORKERS; i++)
            expect_home(i, want, &page); /* and it stays */
    }
    /* DELETE: the older upload stands for today */
    sql("DELETE FROM images WHERE object_key = 'cache-test/today.jpg'");
    for (int i = 0; i < WORKERS; i++)
        expect_home_soon(i, "Older upload", &page);
    /* INSERT: a new schedule for today wins again */
    sql("INSERT INTO images (name, object_key, content_type, byte_size, width, height, feature_date)"
        " VALUES ('Inserted today', 'cache-test/new.jpg', 'image/jpeg', 100, 40, 30,"
        "         (now() AT TIME ZONE 'UTC')::date)");
    for (int i = 0; i < WORKERS; i++)
        expect_home_soon(i, "Inserted today", &page);
    printf("check_cache: the slowest notification took %.1f ms to show\n", worst);
    iotd_buf_free(&page);
}
END_TEST

START_TEST(test_conditional_get_from_the_cache)
{
    iotd_buf page = IOTD_BUF_INIT;
    int64_t window = window_now();
    expect_home(0, "Scheduled today", &page);
    expect_home(0, "Scheduled today", &page);
    const char *e = strstr(page.data, "ETag: ");
    ck_assert_ptr_nonnull(e);
    char etag[128];
    size_t n = strcspn(e + 6, "\r\n");
    ck_assert_uint_lt(n, sizeof etag);
    memcpy(etag, e + 6, n);
    etag[n] = '\0';
    int first = fcgi_get(conns[0], "/", etag, &page);
    int second = fcgi_get(conns[1], "/", etag, &page); /* rendered afresh there: the same ETag */
    if (window_now() == window) {
        ck_assert_int_eq(first, 304);
        ck_assert_int_eq(second, 304);
        ck_assert_uint_eq(strlen(strstr(page.data, "\r\n\r\n")), 4); /* no body */
    }
    sql("UPDATE images SET name = 'Changed' WHERE object_key = 'cache-test/today.jpg'");
    /* once the notification is in, the old ETag no longer matches */
    double t0 = tl_now();
    int status;
    while ((status = fcgi_get(conns[0], "/", etag, &page)) == 304 && (tl_now() - t0) * 1000 < NOTIFY_LIMIT_MS)
        usleep(1000);
    ck_assert_int_eq(status, 200);
    iotd_buf_free(&page);
}
END_TEST

/* The signing time (X-Amz-Date) of the first presigned URL in a page. */
static int64_t signing_time(const char *page)
{
    const char *d = strstr(page, "X-Amz-Date");
    ck_assert_ptr_nonnull(d);
    d += strlen("X-Amz-Date");
    d += strncmp(d, "&#61;", 5) == 0 ? 5 : 1; /* "=", HTML-escaped in attributes */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    ck_assert_ptr_nonnull(strptime(d, "%Y%m%dT%H%M%SZ", &tm));
    return (int64_t)timegm(&tm);
}

START_TEST(test_presign_window_is_never_earlier_than_now)
{
    iotd_buf page = IOTD_BUF_INIT;
    int64_t seen_first = -1, seen_last = -1;
    double t0 = tl_now();
    long requests = 0;
    while (tl_now() - t0 < 3.0 * PRESIGN_TTL_SHORT / 2 + 0.5) { /* at least two turns of the window */
        for (int i = 0; i < WORKERS; i++) {
            int64_t before = window_now();
            ck_assert_int_eq(fcgi_get(conns[i], "/", NULL, &page), 200);
            int64_t after = window_now();
            int64_t signed_at = signing_time(page.data);
            ck_assert_msg(signed_at >= before, "worker %d served a URL from an earlier window", i);
            ck_assert_int_le(signed_at, after);
            if (seen_first < 0)
                seen_first = signed_at;
            seen_last = signed_at;
            requests++;
        }
    }
    ck_assert_msg(seen_last >= seen_first + PRESIGN_TTL_SHORT / 2, "the window did not turn during the test");
    ck_assert_int_gt(requests, 3 * WORKERS);
    iotd_buf_free(&page);
}
END_TEST

/* ---- the check itself, on one connection ------------------------------------ */

START_TEST(test_day_and_seconds_until_the_next)
{
    static const struct {
        const char *zone, *at, *date;
        double left;
    } cases[] = {
        {"UTC", "2024-03-10 12:00:00+00", "2024-03-10", 43200},
        {"Asia/Kolkata", "2024-03-10 12:00:00+00", "2024-03-10", 23400},     /* 17:30 there */
        {"America/New_York", "2024-03-10 00:30:00-05", "2024-03-10", 81000}, /* a 23-hour day */
        {"America/New_York", "2024-11-03 00:30:00-04", "2024-11-03", 88200}, /* a 25-hour day */
        /* Cuba leaves DST at 01:00, back to 00:00: the first midnight counts */
        {"America/Havana", "2024-11-02 23:00:00-04", "2024-11-02", 3600},
        {"America/Havana", "2024-11-03 00:30:00-05", "2024-11-03", 84600},
        /* and enters it at midnight: the day begins at 01:00 */
        {"America/Havana", "2024-03-09 23:00:00-05", "2024-03-09", 3600},
        /* Samoa skipped 30 December 2011 */
        {"Pacific/Apia", "2011-12-29 12:00:00-10", "2011-12-29", 43200},
    };
    iotd_db *db = iotd_db_new("");
    ck_assert_ptr_nonnull(db);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char date[IOTD_PAGECACHE_DATE_CHARS] = "";
        double left = -1;
        ck_assert_int_eq(iotd_pagecache_day(db, cases[i].zone, cases[i].at, date, &left), IOTD_OK);
        ck_assert_msg(strcmp(date, cases[i].date) == 0, "%s at %s: date %s", cases[i].zone, cases[i].at,
                      date);
        ck_assert_msg(left == cases[i].left, "%s at %s: %.0f s left, want %.0f", cases[i].zone, cases[i].at,
                      left, cases[i].left);
    }
    /* now, in a real zone: a day ahead at most (25 h on a DST day) */
    char date[IOTD_PAGECACHE_DATE_CHARS] = "";
    double left = -1;
    ck_assert_int_eq(iotd_pagecache_day(db, "Europe/Paris", NULL, date, &left), IOTD_OK);
    ck_assert_uint_eq(strlen(date), 10);
    ck_assert(left > 0 && left <= 25 * 3600);
    ck_assert_int_ne(iotd_pagecache_day(db, "No/Such_Zone", NULL, date, &left), IOTD_OK);
    iotd_db_free(db);
}
END_TEST

static void kill_backend(PGconn *admin, iotd_db *db)
{
    char q[128];
    snprintf(q, sizeof q, "SELECT pg_terminate_backend(%d)", PQbackendPID(iotd_db_conn(db)));
    tl_sql(admin, q);
    usleep(100 * 1000); /* the backend is gone */
}

START_TEST(test_check_sees_every_notify_and_relistens)
{
    iotd_db *db = iotd_db_new("");
    iotd_pagecache *pc = iotd_pagecache_new();
    PGconn *other = tl_db();
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_nonnull(pc);
    /* first use: a full sync, which listens and reports a change */
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK);
    unsigned long generation = iotd_db_generation(db);
    for (int round = 0; round < NOTIFY_ROUNDS; round++) {
        tl_sql(other, "NOTIFY " IOTD_PAGECACHE_CHANNEL);
        ck_assert_msg(iotd_pagecache_check(pc, db, "UTC") == IOTD_DECLINED, "round %d: the NOTIFY was missed",
                      round);
        ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK);
    }
    ck_assert_uint_eq(iotd_db_generation(db), generation); /* all on one connection */

    /* the server ends our session: the round trip fails, the cache is emptied */
    kill_backend(other, db);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_AGAIN);
    usleep(1100 * 1000); /* the db layer's longest back-off */
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED); /* full sync, LISTEN again */
    ck_assert_uint_ne(iotd_db_generation(db), generation);
    tl_sql(other, "NOTIFY " IOTD_PAGECACHE_CHANNEL);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK);

    /* replaced under us by another statement's retry: noticed all the same */
    generation = iotd_db_generation(db);
    kill_backend(other, db);
    int version = -1;
    ck_assert_int_eq(iotd_db_schema_version(db, &version), IOTD_OK);
    ck_assert_uint_ne(iotd_db_generation(db), generation);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED);
    tl_sql(other, "NOTIFY " IOTD_PAGECACHE_CHANNEL);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK);

    /* a statement still runs normally after the round trips */
    ck_assert_int_eq(iotd_db_schema_version(db, &version), IOTD_OK);
    PQfinish(other);
    iotd_pagecache_free(pc);
    iotd_db_free(db);
}
END_TEST

/* With the pool's shared counter a hit asks Postgres nothing, so the socket
 * alone must show a server that ended the session: its FATAL message and
 * its close arrive together, and reading the one must not hide the other. */
START_TEST(test_shared_counter_hit_sees_a_closed_session)
{
    iotd_db *db = iotd_db_new("");
    iotd_pagecache *pc = iotd_pagecache_new();
    PGconn *other = tl_db();
    uint64_t counter = 0;
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_nonnull(pc);
    iotd_pagecache_share(pc, &counter);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED); /* first sync */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK); /* quiet socket: hits */
    tl_sql(other, "NOTIFY " IOTD_PAGECACHE_CHANNEL);
    usleep(100 * 1000);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_DECLINED); /* data on the socket: read */
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_OK);
    kill_backend(other, db);
    ck_assert_int_eq(iotd_pagecache_check(pc, db, "UTC"), IOTD_AGAIN);
    PQfinish(other);
    iotd_pagecache_free(pc);
    iotd_db_free(db);
}
END_TEST

int main(void)
{
    if (!getenv("PGHOST") && !getenv("DATABASE_URL")) {
        printf("SKIP: no stack (PGHOST unset; run under ./dev check)\n");
        return 77;
    }
    PGconn *probe = PQconnectdb("");
    int reachable = PQstatus(probe) == CONNECTION_OK;
    PQfinish(probe);
    if (!reachable) {
        printf("SKIP: the stack's PostgreSQL is not reachable\n");
        return 77;
    }
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("pages");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pages_are_kept);
    tcase_add_test(tc, test_pool_change_visible_on_next_request_on_every_worker);
    tcase_add_test(tc, test_sql_change_visible_on_every_worker_once_notified);
    tcase_add_test(tc, test_conditional_get_from_the_cache);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("presign window");
    tcase_add_checked_fixture(tw, setup_short_window, teardown);
    tcase_set_timeout(tw, 60);
    tcase_add_test(tw, test_presign_window_is_never_earlier_than_now);
    suite_add_tcase(s, tw);
    TCase *tk = tcase_create("check");
    tcase_set_timeout(tk, 60);
    tcase_add_test(tk, test_day_and_seconds_until_the_next);
    tcase_add_test(tk, test_check_sees_every_notify_and_relistens);
    tcase_add_test(tk, test_shared_counter_hit_sees_a_closed_session);
    suite_add_tcase(s, tk);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
