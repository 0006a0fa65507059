/*
 * worker.c — the FastCGI accept loop and everything around one request:
 * reset the arena, parse, route, add the common headers, send, log.
 *
 * Shutdown: SIGTERM sets a flag and closes this process's copy of the
 * listening socket, so a worker blocked in accept returns at once, while a
 * worker in the middle of a request finishes it first (libfcgi is told to
 * fail the accept on EINTR rather than retry).
 *
 * nginx may keep its FastCGI connections open (fastcgi_keep_conn); a worker
 * then waits for the next request on the same connection instead of in
 * accept. SIGTERM shuts that idle connection down so the worker leaves at
 * once; nginx retries a request that meets a closed kept connection. And
 * since a pinned worker cannot take new connections, it lets its kept one
 * go whenever another connection is already waiting for a worker, so no
 * connection waits long behind workers pinned to idle kept connections.
 *
 * Public pages are answered from the worker's page cache when nothing they
 * show changed (pagecache.c); the handler runs otherwise.
 */
#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "iotd.h"
#include "log.h"
#include "migrate.h"
#include "pagecache.h"
#include "slots.h"
#include "router.h"
#include "s3.h"
#include "view.h"

#define WORKER_ARENA_BLOCK (64 * 1024)
#define WORKER_ACCEPT_ERROR_PAUSE_US 100000
/* After a request body this large (an upload), freed memory goes back to the
 * system, so one upload does not leave a worker tens of MB larger. */
#define WORKER_TRIM_AFTER_BODY_BYTES (1024 * 1024)

/* Signal state: the only mutable statics in the worker. */
static volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_listen_fd = -1;
static volatile sig_atomic_t worker_idle_conn_fd = -1; /* a kept connection between requests */

static void on_stop_signal(int sig)
{
    IOTD_UNUSED(sig);
    worker_stop = 1;
    if (worker_listen_fd >= 0) {
        close(worker_listen_fd);
        worker_listen_fd = -1;
    }
    if (worker_idle_conn_fd >= 0)
        shutdown(worker_idle_conn_fd, SHUT_RDWR);
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: accept must return */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return IOTD_ERROR;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) || sigaction(SIGHUP, &sa, NULL))
        return IOTD_ERROR;
    sa.sa_handler = SIG_DFL;
    if (sigaction(SIGCHLD, &sa, NULL))
        return IOTD_ERROR;
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL) ? IOTD_ERROR : IOTD_OK;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int iotd_worker_db_ready(iotd_ctx *ctx)
{
    if (iotd_db_ready(ctx->db) != IOTD_OK)
        return IOTD_AGAIN;
    if (ctx->schema_ok)
        return IOTD_OK;
    int version;
    if (iotd_db_schema_version(ctx->db, &version) != IOTD_OK)
        return IOTD_AGAIN;
    if (version < IOTD_SCHEMA_VERSION) {
        iotd_log(IOTD_LOG_ERROR,
                 "database schema is at version %d but version %d is needed: run 'iotd migrate'", version,
                 IOTD_SCHEMA_VERSION);
        return IOTD_AGAIN;
    }
    ctx->schema_ok = 1;
    return IOTD_OK;
}

static void add_common_headers(iotd_ctx *ctx)
{
    iotd_response *res = ctx->res;
    (void)iotd_response_header(res, "X-Content-Type-Options", "nosniff");
    (void)iotd_response_header(res, "X-Frame-Options", "DENY");
    (void)iotd_response_header(res, "Referrer-Policy", "same-origin");
    if (ctx->csp)
        (void)iotd_response_header(res, "Content-Security-Policy", ctx->csp);
    if (ctx->req && ctx->req->is_https)
        (void)iotd_response_header(res, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (!iotd_response_has_header(res, "Cache-Control"))
        (void)iotd_response_header(res, "Cache-Control", "no-store");
}

void iotd_worker_handle(iotd_ctx *ctx)
{
    if (strcmp(ctx->req->method, "HEAD") == 0)
        ctx->res->head_only = 1;
    if (iotd_pagecache_serve(ctx) == IOTD_OK) {
        add_common_headers(ctx);
        return;
    }
    if (iotd_router_dispatch(ctx, iotd_routes, iotd_nroutes) != IOTD_OK) {
        iotd_response_reset(ctx->res);
        ctx->res->head_only = strcmp(ctx->req->method, "HEAD") == 0;
        (void)iotd_view_error(ctx, 500, NULL);
    } else {
        iotd_pagecache_keep(ctx);
    }
    add_common_headers(ctx);
}

static long read_fcgi_body(void *ud, char *buf, size_t len)
{
    FCGX_Request *fr = ud;
    if (len > (size_t)0x7fffffff)
        len = 0x7fffffff;
    int n = FCGX_GetStr(buf, (int)len, fr->in);
    if (n < 0 || FCGX_GetError(fr->in))
        return -1;
    return n;
}

static int put_all(const char *data, size_t len, FCGX_Stream *out)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (FCGX_PutStr(data, chunk, out) != chunk)
            return IOTD_ERROR;
        data += chunk;
        len -= (size_t)chunk;
    }
    return IOTD_OK;
}

static void serve_one(iotd_ctx *ctx, FCGX_Request *fr, iotd_buf *head)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    iotd_request req;
    iotd_arena_reset(ctx->arena);
    iotd_response_reset(ctx->res);
    ctx->req = &req;
    ctx->route = NULL;
    ctx->nparams = 0;
    ctx->read_body = read_fcgi_body;
    ctx->body_ud = fr;

    if (iotd_request_init(&req, ctx->arena, fr->envp) != IOTD_OK) {
        ctx->route = "bad_request";
        (void)iotd_view_error(ctx, req.error_status ? req.error_status : 400, NULL);
        add_common_headers(ctx);
    } else {
        iotd_worker_handle(ctx);
    }

    iotd_buf_reset(head);
    if (iotd_response_head(ctx->res, head) != IOTD_OK || put_all(head->data, head->len, fr->out) != IOTD_OK ||
        (!ctx->res->head_only && put_all(ctx->res->body.data, ctx->res->body.len, fr->out) != IOTD_OK))
        iotd_log(IOTD_LOG_WARN, "client went away before the response was sent");

    iotd_log_request_info info = {
        .request_id = req.request_id,
        .method = req.method ? req.method : "",
        .path = req.path ? req.path : "",
        .route = ctx->route,
        .status = ctx->res->status,
        .duration_ms = elapsed_ms(&t0),
    };
    iotd_log_request(&info);
    if (req.content_length > WORKER_TRIM_AFTER_BODY_BYTES)
        (void)malloc_trim(0);
}

/* Images come from the bucket's origin; everything else from this site. */
static const char *build_csp(const iotd_config *cfg, iotd_arena *a)
{
    iotd_buf origin = IOTD_BUF_INIT, host = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    int have_origin = iotd_s3_object_location(&cfg->s3, NULL, &origin, &host, &path) == IOTD_OK;
    const char *csp = iotd_arena_printf(a,
                                        "default-src 'self'; img-src 'self' blob:%s%s; style-src 'self'; "
                                        "script-src 'self'; object-src 'none'; base-uri 'none'; "
                                        "form-action 'self'; frame-ancestors 'none'",
                                        have_origin ? " " : "", have_origin ? origin.data : "");
    iotd_buf_free(&origin);
    iotd_buf_free(&host);
    iotd_buf_free(&path);
    return csp;
}

int iotd_worker_run(const iotd_worker_args *args)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the master */
    worker_listen_fd = args->listen_fd;
    if (install_signals() != IOTD_OK || FCGX_Init() != 0) {
        iotd_log(IOTD_LOG_ERROR, "worker start failed: %s", strerror(errno));
        return 1;
    }
    iotd_arena *life = iotd_arena_new(4096); /* worker-lifetime strings */
    iotd_arena *arena = iotd_arena_new(WORKER_ARENA_BLOCK);
    iotd_db *db = iotd_db_new(args->cfg->database_url);
    iotd_aws_env aws = args->cfg->aws; /* the S3 client keeps a pointer to it */
    iotd_s3 *s3 = iotd_s3_new(&args->cfg->s3, &aws);
    iotd_pagecache *pages = iotd_pagecache_new();
    if (pages && args->cfg->upload_slots_dir[0]) {
        uint64_t *counter = iotd_slots_counter(args->cfg->upload_slots_dir);
        if (counter)
            iotd_pagecache_share(pages, counter); /* else each hit asks Postgres (exact too) */
    }
    iotd_response res;
    iotd_response_init(&res);
    iotd_buf head;
    iotd_buf_init(&head, 0);
    FCGX_Request fr;
    int status = 1;
    if (!life || !arena || !db || !s3 || !pages ||
        FCGX_InitRequest(&fr, args->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        iotd_log(IOTD_LOG_ERROR, "worker start failed: out of memory");
        goto done;
    }
    iotd_ctx ctx = {
        .cfg = args->cfg,
        .views = args->views,
        .db = db,
        .s3 = s3,
        .pages = pages,
        .csp = build_csp(args->cfg, life),
        .arena = arena,
        .res = &res,
    };
    (void)iotd_worker_db_ready(&ctx); /* connect early; failure is retried per request */
    if (args->ready_fd >= 0) {
        pid_t me = getpid();
        if (write(args->ready_fd, &me, sizeof me) != (ssize_t)sizeof me)
            iotd_log(IOTD_LOG_WARN, "could not tell the master this worker is ready");
        close(args->ready_fd);
    }
    while (!worker_stop) {
        /* with a kept connection, Accept waits on it for the next request */
        worker_idle_conn_fd = fr.ipcFd >= 0 && fr.keepConnection ? fr.ipcFd : -1;
        if (worker_stop)
            break;
        int accepted = FCGX_Accept_r(&fr);
        worker_idle_conn_fd = -1;
        if (accepted < 0) {
            if (worker_stop)
                break;
            if (errno != EINTR) {
                iotd_log(IOTD_LOG_WARN, "accept failed: %s", strerror(errno));
                usleep(WORKER_ACCEPT_ERROR_PAUSE_US);
            }
            continue;
        }
        serve_one(&ctx, &fr, &head);
        FCGX_Finish_r(&fr);
    }
    status = 0;
done:
    iotd_buf_free(&head);
    iotd_response_free(&res);
    iotd_pagecache_free(pages);
    iotd_s3_free(s3);
    iotd_db_free(db);
    iotd_arena_destroy(arena);
    iotd_arena_destroy(life);
    return status;
}
