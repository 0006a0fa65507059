/*
 * check_integration.c — drives the running stack (nginx + pool + Postgres
 * + local S3, started by ./dev check) over HTTP with libcurl.
 *
 * Needs IOTD_BASE_URL, the PG* variables, IOTD_DEV (the ./dev script, to
 * stop and start services) and IOTD_POOL_PIDFILE; skips (exit 77) without
 * them. Tests run in order in one process because they share the stack;
 * the destructive ones (database stop, SIGTERM) come last.
 */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "testlib.h"

static void insert_image(PGconn *c, const char *name, const char *tagline, const char *key, const char *when)
{
    const char *values[] = {name, tagline, key, when};
    PGresult *r =
        PQexecParams(c,
                     "INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, "
                     "height, uploaded_at) VALUES ($1, $2, $3, 'image/jpeg', 1234, 800, 600, "
                     "$4::timestamptz)",
                     4, NULL, values, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "insert: %s", PQresultErrorMessage(r));
    PQclear(r);
}

static pid_t pool_master(void)
{
    FILE *f = fopen(getenv("IOTD_POOL_PIDFILE"), "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

START_TEST(test_empty_home)
{
    PGconn *c = tl_db();
    tl_sql(c, "DELETE FROM images");
    PQfinish(c);
    tl_response r = tl_http(NULL, "/", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "No images yet"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "href=\"/admin/\""));
    ck_assert(tl_header_has(&r, "Content-Type: text/html; charset=utf-8"));
    ck_assert(tl_header_has(&r, "X-Content-Type-Options: nosniff"));
    ck_assert(tl_header_has(&r, "Content-Security-Policy: default-src 'self'"));
    ck_assert(tl_header_has(&r, "X-Request-Id: "));
    ck_assert(!tl_header_has(&r, "Server: nginx/"));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_latest_image_wins_and_is_escaped)
{
    PGconn *c = tl_db();
    tl_sql(c, "DELETE FROM images");
    insert_image(c, "Old harbour", "from last year", "images/old.jpg", "2025-01-01T10:00:00Z");
    insert_image(c, "<script>alert(1)</script> & sunset", "Tag \"line\" <b>bold</b>", "images/new name+1.jpg",
                 "2026-06-01T10:00:00Z");
    insert_image(c, "Middle", "", "images/middle.jpg", "2026-01-01T10:00:00Z");
    PQfinish(c);
    tl_response r = tl_http(NULL, "/", NULL);
    ck_assert_int_eq(r.status, 200);
    const char *b = r.body.data;
    ck_assert_msg(strstr(b, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; sunset") != NULL, "escaped name: %s",
                  b);
    ck_assert_ptr_null(strstr(b, "<script>"));
    ck_assert_ptr_nonnull(strstr(b, "Tag &quot;line&quot; &lt;b&gt;bold&lt;/b&gt;"));
    ck_assert_ptr_null(strstr(b, "Old harbour"));
    ck_assert_ptr_null(strstr(b, "Middle"));
    ck_assert_ptr_null(strstr(b, "No images yet"));
    /* the image is a presigned URL of the newest object, key encoded */
    ck_assert_msg(strstr(b, "/images/new%20name%2B1.jpg?X-Amz-Algorithm&#61;AWS4-HMAC-SHA256") != NULL,
                  "presigned URL missing: %s", b);
    ck_assert_ptr_nonnull(strstr(b, "X-Amz-Signature&#61;"));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_not_found_and_method)
{
    tl_response r = tl_http(NULL, "/no/such/page", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(r.body.data, "<h1>Not Found</h1>"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "/static/css/site.css"));
    tl_response_free(&r);

    r = tl_http("POST", "/", NULL);
    ck_assert_int_eq(r.status, 405);
    ck_assert(tl_header_has(&r, "Allow: GET, HEAD"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "Method Not Allowed"));
    tl_response_free(&r);

    r = tl_http("DELETE", "/healthz", NULL);
    ck_assert_int_eq(r.status, 405);
    tl_response_free(&r);

    r = tl_http("HEAD", "/", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 0);
    tl_response_free(&r);
}
END_TEST

START_TEST(test_malformed_request)
{
    tl_response r = tl_http(NULL, "/?q=%ZZ", NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.data, "Bad Request"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "<!doctype html>"));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_static_files)
{
    tl_response r = tl_http(NULL, "/static/css/site.css", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert(tl_header_has(&r, "Cache-Control: max-age=604800"));
    ck_assert_ptr_nonnull(strstr(r.body.data, ".feature"));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_health)
{
    tl_response r = tl_http(NULL, "/healthz", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"status\":\"ok\""));
    tl_response_free(&r);
    r = tl_http(NULL, "/readyz", NULL);
    ck_assert_msg(r.status == 200, "readyz: %ld %s", r.status, r.body.data);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"database\":{\"ok\":true,\"ms\":"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"storage\":{\"ok\":true,\"ms\":"));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_request_log_line)
{
    tl_response r = tl_http(NULL, "/no/such/page?x=1", NULL);
    ck_assert_int_eq(r.status, 404);
    char id[128];
    ck_assert(tl_header_value(&r, "X-Request-Id", id, sizeof id));
    tl_response_free(&r);
    char path[1024];
    snprintf(path, sizeof path, "%s/log/iotd.log", getenv("IOTD_DEV_VAR"));
    json_object *found = NULL;
    for (int attempt = 0; attempt < 20 && !found; attempt++) {
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char line[8192];
        while (fgets(line, sizeof line, f))
            if (strstr(line, id)) {
                found = json_tokener_parse(line);
                break;
            }
        fclose(f);
        if (!found)
            usleep(50 * 1000);
    }
    ck_assert_msg(found != NULL, "no log line with request id %s", id);
    json_object *v;
    ck_assert(json_object_object_get_ex(found, "request_id", &v));
    ck_assert_str_eq(json_object_get_string(v), id);
    ck_assert(json_object_object_get_ex(found, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), "GET");
    ck_assert(json_object_object_get_ex(found, "path", &v));
    ck_assert_str_eq(json_object_get_string(v), "/no/such/page");
    ck_assert(json_object_object_get_ex(found, "status", &v));
    ck_assert_int_eq(json_object_get_int(v), 404);
    ck_assert(json_object_object_get_ex(found, "duration_ms", &v));
    ck_assert(json_object_get_double(v) >= 0.0);
    ck_assert(json_object_object_get_ex(found, "pid", &v));
    ck_assert_int_gt(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(found, "time", &v));
    ck_assert_uint_eq(strlen(json_object_get_string(v)), 24); /* 2026-01-02T03:04:05.678Z */
    ck_assert(json_object_object_get_ex(found, "_aws", &v));
    json_object_put(found);
}
END_TEST

START_TEST(test_worker_killed_is_replaced)
{
    pid_t master = pool_master();
    pid_t before[64], after[64];
    size_t n = tl_children_of(master, before, 64);
    ck_assert_uint_ge(n, 2);
    ck_assert_int_eq(kill(before[0], SIGKILL), 0);
    double t0 = tl_now();
    size_t m = 0;
    int replaced = 0;
    while (tl_now() - t0 < 1.0 && !replaced) {
        usleep(20 * 1000);
        m = tl_children_of(master, after, 64);
        int old_gone = 1;
        for (size_t i = 0; i < m; i++)
            if (after[i] == before[0])
                old_gone = 0;
        replaced = old_gone && m == n;
    }
    ck_assert_msg(replaced, "pool not back to %zu workers within 1 s (has %zu)", n, m);
    for (int i = 0; i < 50; i++) {
        tl_response r = tl_http(NULL, "/", NULL);
        ck_assert_int_eq(r.status, 200);
        tl_response_free(&r);
    }
}
END_TEST

START_TEST(test_database_outage)
{
    tl_dev("pg-stop");
    tl_response ready = tl_http(NULL, "/readyz", NULL);
    tl_response home = tl_http(NULL, "/", NULL);
    tl_response live = tl_http(NULL, "/healthz", NULL);
    /* Postgres comes back before any assertion, so a failure here cannot
     * leave the later suites without it */
    tl_dev("pg-start");
    long back = tl_wait_for_status("/readyz", 200, 10.0);

    ck_assert_int_eq(ready.status, 503);
    ck_assert_ptr_nonnull(strstr(ready.body.data, "\"database\":{\"ok\":false"));
    ck_assert_int_eq(home.status, 503);
    ck_assert(tl_header_has(&home, "Retry-After: "));
    ck_assert_ptr_nonnull(strstr(home.body.data, "briefly unavailable"));
    ck_assert_int_eq(live.status, 200); /* liveness does not depend on the database */
    ck_assert_int_eq(back, 200);
    tl_response_free(&ready);
    tl_response_free(&home);
    tl_response_free(&live);
    /* every worker recovers: enough requests to reach them all */
    for (int i = 0; i < 40; i++) {
        tl_response r = tl_http(NULL, "/", NULL);
        ck_assert_int_eq(r.status, 200);
        tl_response_free(&r);
    }
}
END_TEST

static void *slow_get(void *arg)
{
    tl_response *out = arg;
    /* a URL no worker has cached, so the page is rendered and waits on the lock */
    char path[64];
    snprintf(path, sizeof path, "/?drain=%d", (int)getpid());
    *out = tl_http(NULL, path, NULL);
    return NULL;
}

START_TEST(test_sigterm_drains)
{
    PGconn *c = tl_db();
    tl_sql(c, "BEGIN");
    tl_sql(c, "LOCK TABLE images IN ACCESS EXCLUSIVE MODE");
    tl_response slow;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, slow_get, &slow), 0);
    usleep(500 * 1000); /* the request is now waiting on the lock inside a worker */
    pid_t master = pool_master();
    int signalled = kill(master, SIGTERM) == 0;
    usleep(500 * 1000);
    int draining = kill(master, 0) == 0;
    tl_sql(c, "COMMIT");
    PQfinish(c);
    pthread_join(t, NULL);
    double t0 = tl_now();
    while (kill(master, 0) == 0 && tl_now() - t0 < 10)
        usleep(50 * 1000);
    int exited = kill(master, 0) != 0;
    /* with the pool gone, nginx answers with its own static page */
    tl_response down = tl_http(NULL, "/", NULL);
    /* the pool comes back before any assertion, so a failure here cannot
     * leave the later suites without one */
    tl_dev("pool-start");
    long back = tl_wait_for_status("/", 200, 10.0);

    ck_assert(signalled);
    ck_assert_msg(draining, "the master exited while a request was still in flight");
    ck_assert_int_eq(slow.status, 200);
    ck_assert_ptr_nonnull(strstr(slow.body.data, "</html>"));
    ck_assert_msg(exited, "the master did not exit after draining");
    ck_assert_int_eq(down.status, 502);
    ck_assert_ptr_nonnull(strstr(down.body.data, "Briefly unavailable"));
    ck_assert(!tl_header_has(&down, "Server: nginx/"));
    ck_assert_int_eq(back, 200);
    tl_response_free(&slow);
    tl_response_free(&down);
}
END_TEST

int main(void)
{
    const char *base_url = getenv("IOTD_BASE_URL");
    if (!base_url || !getenv("IOTD_DEV") || !getenv("IOTD_POOL_PIDFILE") || !getenv("PGHOST")) {
        printf("SKIP: the local stack is not running (run ./dev check)\n");
        return 77;
    }
    tl_set_base_url(base_url);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("stack");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_empty_home);
    tcase_add_test(tc, test_latest_image_wins_and_is_escaped);
    tcase_add_test(tc, test_not_found_and_method);
    tcase_add_test(tc, test_malformed_request);
    tcase_add_test(tc, test_static_files);
    tcase_add_test(tc, test_health);
    tcase_add_test(tc, test_request_log_line);
    tcase_add_test(tc, test_worker_killed_is_replaced);
    tcase_add_test(tc, test_database_outage);
    tcase_add_test(tc, test_sigterm_drains);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
