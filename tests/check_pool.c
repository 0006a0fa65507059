/*
 * check_pool.c — the prefork master on its own: starts `iotd serve` on a
 * free port with a copy of the templates and no database, and talks
 * FastCGI to it directly. Covers the worker count, rolling reload on
 * SIGHUP with no failed request (templates re-read), a reload with a
 * broken template being refused, and a clean stop on SIGTERM.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fcgi_client.h"
#include "iotd.h"
#include "testlib.h"

#define WORKERS 3

static char views[256];
static char address[64];
static pid_t master;

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

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* err (may be NULL) receives why a request failed. */
static int get_why(const char *path, int *status, iotd_buf *body, char *err, size_t errlen)
{
    char sink[256];
    iotd_buf_reset(body);
    return iotd_fcgi_get(address, path, 5000, status, body, err ? err : sink, err ? errlen : sizeof sink);
}

static int get(const char *path, int *status, iotd_buf *body)
{
    return get_why(path, status, body, NULL, 0);
}

static void start_pool(void)
{
    snprintf(views, sizeof views, "/tmp/iotd-pool-views.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(views));
    const char *src = getenv("IOTD_SRCDIR") ? getenv("IOTD_SRCDIR") : ".";
    const char *names[] = {"layout", "home", "error"};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(names); i++) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/views/%s.mustache", src, names[i]);
        snprintf(to, sizeof to, "%s/%s.mustache", views, names[i]);
        copy_file(from, to);
    }
    snprintf(address, sizeof address, "127.0.0.1:%d", free_port());
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/iotd", getenv("IOTD_BUILDDIR") ? getenv("IOTD_BUILDDIR") : ".");
    char log[300];
    snprintf(log, sizeof log, "%s.log", views);
    double t0 = tl_now();
    master = fork();
    ck_assert_int_ge(master, 0);
    if (master == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("IOTD_LISTEN", address, 1);
        setenv("IOTD_WORKERS", "3", 1);
        setenv("IOTD_VIEWS_DIR", views, 1);
        setenv("IOTD_GRACE_SECONDS", "5", 1);
        setenv("PGHOST", "127.0.0.1", 1);
        setenv("PGPORT", "1", 1); /* no database: these tests need none */
        setenv("IOTD_S3_BUCKET", "pool-test", 1);
        setenv("IOTD_S3_ENDPOINT", "http://127.0.0.1:1", 1);
        setenv("AWS_ACCESS_KEY_ID", "AKIDPOOL", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "pool-secret", 1);
        unsetenv("DATABASE_URL");
        execl(bin, "iotd", "serve", (char *)NULL);
        _exit(127);
    }
    iotd_buf body = IOTD_BUF_INIT;
    int status = 0;
    while (tl_now() - t0 < 10) {
        if (get("/healthz", &status, &body) == IOTD_OK && status == 200)
            break;
        usleep(10 * 1000);
    }
    iotd_buf_free(&body);
    ck_assert_int_eq(status, 200);
    printf("first 200 from /healthz %.0f ms after iotd serve started\n", (tl_now() - t0) * 1000);
}

static void stop_pool(void)
{
    if (master > 0) {
        kill(master, SIGTERM);
        int st;
        waitpid(master, &st, 0);
        master = 0;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log'", views, views);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

START_TEST(test_pool_has_configured_workers)
{
    start_pool();
    pid_t w[16];
    double t0 = tl_now();
    size_t n = 0;
    while ((n = tl_children_of(master, w, 16)) != WORKERS && tl_now() - t0 < 5)
        usleep(20 * 1000);
    ck_assert_uint_eq(n, WORKERS);
    stop_pool();
}
END_TEST

typedef struct hammer {
    volatile int stop;
    long requests;
    long failures;
    char first_failure[300]; /* what went wrong first, for the report */
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    iotd_buf body = IOTD_BUF_INIT;
    while (!h->stop) {
        int status = 0;
        char err[256] = "";
        const char *path = h->requests % 2 ? "/healthz" : "/no-such-page";
        int rc = get_why(path, &status, &body, err, sizeof err);
        int want = h->requests % 2 ? 200 : 404;
        if ((rc != IOTD_OK || status != want) && h->failures++ == 0)
            snprintf(h->first_failure, sizeof h->first_failure, "GET %s: %s (status %d) after %ld requests",
                     path, rc != IOTD_OK ? err : "answered", status, h->requests);
        h->requests++;
    }
    iotd_buf_free(&body);
    return NULL;
}

START_TEST(test_reload_replaces_workers_without_failures)
{
    start_pool();
    pid_t before[16], after[16];
    double t0 = tl_now();
    size_t n;
    while ((n = tl_children_of(master, before, 16)) != WORKERS && tl_now() - t0 < 5)
        usleep(20 * 1000);
    ck_assert_uint_eq(n, WORKERS);

    /* change a template, then reload while requests keep coming */
    char path[300];
    snprintf(path, sizeof path, "%s/error.mustache", views);
    write_file(path, "{{<layout}}{{$content}}<p>RELOADED-MARKER {{reason}}</p>{{/content}}{{/layout}}\n");
    hammer h = {0, 0, 0, ""};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, hammer_run, &h), 0);
    usleep(200 * 1000);
    ck_assert_int_eq(kill(master, SIGHUP), 0);

    int all_new = 0;
    t0 = tl_now();
    while (!all_new && tl_now() - t0 < 15) {
        usleep(50 * 1000);
        size_t m = tl_children_of(master, after, 16);
        all_new = m == WORKERS;
        for (size_t i = 0; all_new && i < m; i++)
            for (size_t j = 0; j < WORKERS; j++)
                if (after[i] == before[j])
                    all_new = 0;
    }
    usleep(300 * 1000);
    h.stop = 1;
    pthread_join(t, NULL);
    printf("reload: %ld requests during the reload, %ld failed\n", h.requests, h.failures);
    ck_assert_msg(all_new, "not every worker was replaced");
    ck_assert_int_gt(h.requests, 20);
    ck_assert_msg(h.failures == 0, "%ld failed, the first: %s", h.failures, h.first_failure);

    iotd_buf body = IOTD_BUF_INIT;
    int status;
    ck_assert_int_eq(get("/no-such-page", &status, &body), IOTD_OK);
    ck_assert_int_eq(status, 404);
    ck_assert_ptr_nonnull(strstr(body.data, "RELOADED-MARKER Not Found"));

    /* a broken template: the reload is refused and the old workers stay */
    write_file(path, "{{#unclosed}}\n");
    pid_t again[16];
    tl_children_of(master, after, 16);
    ck_assert_int_eq(kill(master, SIGHUP), 0);
    usleep(1000 * 1000);
    ck_assert_uint_eq(tl_children_of(master, again, 16), WORKERS);
    for (size_t i = 0; i < WORKERS; i++) {
        int found = 0;
        for (size_t j = 0; j < WORKERS; j++)
            found |= again[i] == after[j];
        ck_assert_msg(found, "a worker was replaced although the reload was refused");
    }
    ck_assert_int_eq(get("/no-such-page", &status, &body), IOTD_OK);
    ck_assert_ptr_nonnull(strstr(body.data, "RELOADED-MARKER"));
    iotd_buf_free(&body);
    stop_pool();
}
END_TEST

START_TEST(test_sigterm_stops_cleanly)
{
    start_pool();
    pid_t w[16];
    size_t n = tl_children_of(master, w, 16);
    ck_assert_int_eq(kill(master, SIGTERM), 0);
    int st = 0;
    double t0 = tl_now();
    pid_t r = 0;
    while ((r = waitpid(master, &st, WNOHANG)) == 0 && tl_now() - t0 < 10)
        usleep(20 * 1000);
    ck_assert_int_eq(r, master);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(kill(w[i], 0) != 0, "worker %d outlived the master", (int)w[i]);
    master = 0;
    iotd_buf body = IOTD_BUF_INIT;
    int status;
    ck_assert_int_eq(get("/healthz", &status, &body), IOTD_ERROR); /* nothing listens any more */
    iotd_buf_free(&body);
    stop_pool();
}
END_TEST

int main(void)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/iotd", getenv("IOTD_BUILDDIR") ? getenv("IOTD_BUILDDIR") : ".");
    if (access(bin, X_OK) != 0) {
        printf("SKIP: %s not built\n", bin);
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("master");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pool_has_configured_workers);
    tcase_add_test(tc, test_reload_replaces_workers_without_failures);
    tcase_add_test(tc, test_sigterm_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
