/*
 * check_core.c — unit tests for config, response, router and the request
 * path through a worker (iotd_worker_handle) without any server: the
 * database is pointed at a closed port, so pages that need it must answer
 * 503 and the rest must not care.
 */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctx.h"
#include "iotd.h"
#include "log.h"
#include "response.h"
#include "router.h"
#include "s3.h"
#include "slots.h"
#include "worker.h"

static void clear_env(void)
{
    const char *vars[] = {"IOTD_LISTEN",      "IOTD_WORKERS",       "IOTD_GRACE_SECONDS",
                          "IOTD_PRESIGN_TTL", "IOTD_S3_PREFIX",     "IOTD_MAX_UPLOAD_MB",
                          "AWS_REGION",       "AWS_DEFAULT_REGION", "DATABASE_URL"};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

START_TEST(test_config_defaults)
{
    clear_env();
    iotd_config c;
    char err[256];
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_OK);
    ck_assert_str_eq(c.listen, "127.0.0.1:9000");
    ck_assert_int_ge(c.workers, 2);
    ck_assert_int_eq(c.workers % 2, 0);
    ck_assert_int_eq(c.grace_seconds, 20);
    ck_assert_int_eq(c.s3.presign_ttl, 3600);
    ck_assert_str_eq(c.s3.prefix, "images/");
    ck_assert_str_eq(c.s3.region, "us-east-1");
    ck_assert_int_eq(c.max_upload_mb, 20);
}
END_TEST

START_TEST(test_config_errors_name_the_variable)
{
    clear_env();
    iotd_config c;
    char err[256];
    setenv("IOTD_WORKERS", "0", 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "IOTD_WORKERS"));
    setenv("IOTD_WORKERS", "4x", 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_ERROR);
    setenv("IOTD_WORKERS", "4", 1);
    setenv("IOTD_PRESIGN_TTL", "604801", 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "IOTD_PRESIGN_TTL"));
    setenv("IOTD_PRESIGN_TTL", "604800", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_OK);
    ck_assert_int_eq(c.workers, 4);
    ck_assert_str_eq(c.s3.region, "eu-west-1");
    setenv("AWS_REGION", "eu-south-2", 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_OK);
    ck_assert_str_eq(c.s3.region, "eu-south-2");
    char longv[1000];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    setenv("IOTD_LISTEN", longv, 1);
    ck_assert_int_eq(iotd_config_load(&c, err, sizeof err), IOTD_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "IOTD_LISTEN is too long"));
    clear_env();
}
END_TEST

START_TEST(test_response_headers)
{
    iotd_response r;
    iotd_response_init(&r);
    ck_assert_int_eq(iotd_response_header(&r, "X-A", "1"), IOTD_OK);
    ck_assert_int_eq(iotd_response_header(&r, "X-B", "evil\r\nSet-Cookie: x=1"), IOTD_ERROR);
    ck_assert_int_eq(iotd_response_header(&r, "X-C\n", "v"), IOTD_ERROR);
    ck_assert_int_eq(iotd_response_header(&r, "X:D", "v"), IOTD_ERROR);
    ck_assert(iotd_response_has_header(&r, "x-a"));
    ck_assert(!iotd_response_has_header(&r, "X-B"));
    ck_assert(!iotd_response_has_header(&r, "X"));
    iotd_buf_puts(&r.body, "hello");
    iotd_buf head = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_response_head(&r, &head), IOTD_OK);
    ck_assert_str_eq(head.data, "Status: 200 OK\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n");
    iotd_buf_reset(&head);
    r.status = 304;
    ck_assert_int_eq(iotd_response_head(&r, &head), IOTD_OK);
    ck_assert_str_eq(head.data, "Status: 304 Not Modified\r\nX-A: 1\r\n\r\n");
    iotd_response_reset(&r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.headers.len, 0);
    iotd_buf_free(&head);
    iotd_response_free(&r);
}
END_TEST

START_TEST(test_router_match)
{
    iotd_arena *a = iotd_arena_new(0);
    const char *p[IOTD_ROUTE_MAX_PARAMS];
    size_t n = 9;
    ck_assert(iotd_router_match("/", "/", p, &n, a));
    ck_assert_uint_eq(n, 0);
    ck_assert(!iotd_router_match("/", "/x", p, &n, a));
    ck_assert(!iotd_router_match("/healthz", "/healthz/", p, &n, a));
    ck_assert(iotd_router_match("/admin/images/*/edit", "/admin/images/42/edit", p, &n, a));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0], "42");
    ck_assert(!iotd_router_match("/admin/images/*/edit", "/admin/images//edit", p, &n, a));
    ck_assert(!iotd_router_match("/admin/images/*/edit", "/admin/images/4/2/edit", p, &n, a));
    ck_assert(iotd_router_match("/day/*/*", "/day/2026-01-02/image", p, &n, a));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(p[1], "image");
    iotd_arena_destroy(a);
}
END_TEST

START_TEST(test_upload_slots)
{
    char dir[256];
    ck_assert_int_eq(iotd_slots_create(2, 1, dir, sizeof dir), IOTD_OK);
    /* the sign-in slot is a kind of its own: taking it leaves both upload slots */
    int signin = iotd_slot_take(dir, IOTD_SLOT_SIGNIN, 1);
    ck_assert_int_ge(signin, 0);
    ck_assert_int_eq(iotd_slot_take(dir, IOTD_SLOT_SIGNIN, 1), -1);
    int a = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2), b = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_eq(iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2), -1); /* both taken */
    iotd_slot_give(a);
    int c = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2);
    ck_assert_int_ge(c, 0);
    iotd_slot_give(b);
    iotd_slot_give(c);
    iotd_slot_give(signin);
    int again = iotd_slot_take(dir, IOTD_SLOT_SIGNIN, 1);
    ck_assert_int_ge(again, 0);
    iotd_slot_give(again);
    /* a process killed while holding a slot gives it back */
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int x = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2), y = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2);
        char ok = (x >= 0 && y >= 0) ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    ck_assert_int_eq(read(ready[0], &ok, 1), 1);
    ck_assert_int_eq(ok, 'y');
    ck_assert_int_eq(iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2), -1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int d = iotd_slot_take(dir, IOTD_SLOT_UPLOAD, 2);
    ck_assert_int_ge(d, 0);
    iotd_slot_give(d);
    iotd_slots_remove(dir, 2, 1);
    ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

/* A worker context with the real templates and an unreachable database. */
typedef struct fixture {
    iotd_config cfg;
    iotd_tpl_set *views;
    iotd_db *db;
    iotd_s3 *s3;
    iotd_arena *arena;
    iotd_response res;
    iotd_request req;
    iotd_ctx ctx;
} fixture;

static fixture fx;

static void setup(void)
{
    clear_env();
    setenv("IOTD_S3_BUCKET", "unit-bucket", 1);
    setenv("IOTD_S3_ENDPOINT", "http://127.0.0.1:1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
    char err[256];
    ck_assert_int_eq(iotd_config_load(&fx.cfg, err, sizeof err), IOTD_OK);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/views", getenv("IOTD_SRCDIR") ? getenv("IOTD_SRCDIR") : ".");
    fx.views = iotd_tpl_set_new();
    ck_assert_int_eq(iotd_tpl_set_load_dir(fx.views, dir, err, sizeof err), IOTD_OK);
    fx.db = iotd_db_new("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1");
    fx.s3 = iotd_s3_new(&fx.cfg.s3, &fx.cfg.aws);
    fx.arena = iotd_arena_new(0);
    iotd_response_init(&fx.res);
    fx.ctx = (iotd_ctx){.cfg = &fx.cfg,
                        .views = fx.views,
                        .db = fx.db,
                        .s3 = fx.s3,
                        .arena = fx.arena,
                        .res = &fx.res,
                        .csp = "default-src 'self'"};
}

static void teardown(void)
{
    iotd_response_free(&fx.res);
    iotd_arena_destroy(fx.arena);
    iotd_s3_free(fx.s3);
    iotd_db_free(fx.db);
    iotd_tpl_set_free(fx.views);
}

static void run(const char *method, const char *uri)
{
    char m[64], u[512], d[512];
    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
    snprintf(d, sizeof d, "DOCUMENT_URI=%.*s", (int)strcspn(uri, "?"), uri);
    const char *q = strchr(uri, '?');
    char qs[512];
    snprintf(qs, sizeof qs, "QUERY_STRING=%s", q ? q + 1 : "");
    char *envp[] = {m,   u, d, qs, "REMOTE_ADDR=127.0.0.1", "REQUEST_ID=0123456789abcdef0123456789abcdef",
                    NULL};
    iotd_arena_reset(fx.arena);
    iotd_response_reset(&fx.res);
    fx.ctx.req = &fx.req;
    ck_assert_int_eq(iotd_request_init(&fx.req, fx.arena, envp), IOTD_OK);
    iotd_worker_handle(&fx.ctx);
}

START_TEST(test_worker_healthz_without_database)
{
    run("GET", "/healthz");
    ck_assert_int_eq(fx.res.status, 200);
    ck_assert_str_eq(fx.res.body.data, "{\"status\":\"ok\"}\n");
    ck_assert(iotd_response_has_header(&fx.res, "Content-Type"));
    ck_assert(iotd_response_has_header(&fx.res, "X-Content-Type-Options"));
    ck_assert(iotd_response_has_header(&fx.res, "Content-Security-Policy"));
}
END_TEST

START_TEST(test_worker_home_503_when_database_down)
{
    run("GET", "/");
    ck_assert_int_eq(fx.res.status, 503);
    ck_assert(iotd_response_has_header(&fx.res, "Retry-After"));
    ck_assert_ptr_nonnull(strstr(fx.res.body.data, "Service Unavailable"));
    ck_assert_ptr_nonnull(strstr(fx.res.body.data, "<!doctype html>"));
}
END_TEST

START_TEST(test_worker_readyz_reports_each_dependency)
{
    run("GET", "/readyz");
    ck_assert_int_eq(fx.res.status, 503);
    json_object *o = json_tokener_parse(fx.res.body.data);
    ck_assert_ptr_nonnull(o);
    json_object *checks, *dbc, *ok, *ms;
    ck_assert(json_object_object_get_ex(o, "checks", &checks));
    ck_assert(json_object_object_get_ex(checks, "database", &dbc));
    ck_assert(json_object_object_get_ex(dbc, "ok", &ok));
    ck_assert(!json_object_get_boolean(ok));
    ck_assert(json_object_object_get_ex(dbc, "ms", &ms));
    ck_assert(json_object_object_get_ex(checks, "storage", &dbc));
    json_object_put(o);
}
END_TEST

START_TEST(test_worker_not_found_and_method)
{
    run("GET", "/nothing-here");
    ck_assert_int_eq(fx.res.status, 404);
    ck_assert_ptr_nonnull(strstr(fx.res.body.data, "Not Found"));
    run("POST", "/healthz");
    ck_assert_int_eq(fx.res.status, 405);
    ck_assert_ptr_nonnull(strstr(fx.res.headers.data, "Allow: GET, HEAD\r\n"));
    run("PUT", "/");
    ck_assert_int_eq(fx.res.status, 405);
    run("HEAD", "/healthz");
    ck_assert_int_eq(fx.res.status, 200);
    ck_assert(fx.res.head_only);
}
END_TEST

/* The request log line reuses one json-c tree. Requests without an id (a
 * FastCGI healthcheck) alternate with nginx's: every line must carry its
 * own values, and nothing may leak (the sanitizer build's LeakSanitizer
 * checks this test's process as it exits). */
START_TEST(test_request_log_lines_with_and_without_ids)
{
    char path[] = "/tmp/check_core_log.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    iotd_log_init(IOTD_LOG_INFO, fd);
    const char *ids[] = {"0123456789abcdef0123456789abcdef", "", "fedcba9876543210fedcba9876543210", "", "",
                         "00112233445566778899aabbccddeeff"};
    const char *paths[] = {"/day/2026-01-02/a-long-enough-path", "", "/", "/x", "", "/api/v1/today"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        iotd_log_request_info info = {ids[i], i % 2 ? "" : "GET", paths[i], "home", 200, 1.5};
        iotd_log_request(&info);
    }
    iotd_log_init(IOTD_LOG_OFF, STDERR_FILENO);
    char out[8192];
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
    char *save = NULL;
    size_t line = 0;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        ck_assert_uint_lt(line, sizeof ids / sizeof ids[0]);
        char want[160];
        snprintf(want, sizeof want, "\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%s\"", ids[line],
                 line % 2 ? "" : "GET", paths[line]);
        ck_assert_msg(strstr(l, want) != NULL, "line %zu lacks %s: %s", line, want, l);
    }
    ck_assert_uint_eq(line, sizeof ids / sizeof ids[0]);
}
END_TEST

int main(void)
{
    iotd_log_init(IOTD_LOG_OFF, STDERR_FILENO);
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("units");
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_errors_name_the_variable);
    tcase_add_test(tc, test_response_headers);
    tcase_add_test(tc, test_router_match);
    tcase_add_test(tc, test_upload_slots);
    tcase_add_test(tc, test_request_log_lines_with_and_without_ids);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("worker");
    tcase_add_checked_fixture(tw, setup, teardown);
    tcase_set_timeout(tw, 30);
    tcase_add_test(tw, test_worker_healthz_without_database);
    tcase_add_test(tw, test_worker_home_503_when_database_down);
    tcase_add_test(tw, test_worker_readyz_reports_each_dependency);
    tcase_add_test(tw, test_worker_not_found_and_method);
    suite_add_tcase(s, tw);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
