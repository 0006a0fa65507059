/*
 * worker.c — the FastCGI loop and everything around one request: reset the
 * arena, parse, route, add the common headers, send, log.
 *
 * A worker holds many FastCGI connections at once and answers one request
 * at a time. nginx keeps its connections open (fastcgi_keep_conn), so a
 * request costs no connect, accept or close; epoll says which connection
 * has the next request, and libfcgi reads and writes it (one FCGX_Request
 * per connection, with no listening socket of its own, so libfcgi never
 * blocks in accept). The listening socket is non-blocking and shared by
 * the pool's workers; each takes one connection per wake-up, so kept
 * connections spread over the workers that are free to take them.
 * A connection without FCGI_KEEP_CONN is closed after its request, as
 * FastCGI wants.
 *
 * Requests that take long (uploads, sign-ins) should arrive on a socket
 * whose workers hold no kept page connections (IOTD_ADMIN_LISTEN; pool.c),
 * or pages queued on the same worker wait behind them.
 *
 * Shutdown: SIGTERM sets a flag, which wakes epoll_wait. A request being
 * answered is finished; requests already waiting on this worker's
 * connections are answered, and for a moment those still on their way on
 * connections accepted just before; then the connections are closed (nginx
 * sends a GET again on another connection when a kept one closes under it).
 *
 * Public pages are answered from the worker's page cache when nothing they
 * show changed (pagecache.c); the handler runs otherwise.
 *
 * A handler may leave work for after its answer (ctx->after: an upload's
 * renditions); it runs once the connection is finished, so the editor is
 * not kept waiting for it. The workers that take uploads also look now and
 * then for images whose renditions a dead worker never made, and make them
 * (iotd_library_retry_stale).
 */
#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "iotd.h"
#include "library.h"
#include "log.h"
#include "migrate.h"
#include "pagecache.h"
#include "slots.h"
#include "router.h"
#include "s3.h"
#include "view.h"

#define WORKER_ARENA_BLOCK (64 * 1024)
#define WORKER_ACCEPT_ERROR_PAUSE_US 100000
/* Connections one worker holds at once. nginx opens about as many as it has
 * requests in flight to the pool; past this the worker stops accepting and
 * leaves new connections to the others. */
#define WORKER_MAX_CONNS 512
#define WORKER_EVENTS 64
/* A page request's unread body is read and dropped up to this much so the
 * connection can carry the next request; past it the connection is closed. */
#define WORKER_DRAIN_MAX (64 * 1024)
/* A request that stops arriving halfway, or a peer that stops reading an
 * answer, holds the worker (and its other connections) this long at most;
 * nginx sends whole requests and reads whole answers, so only a broken
 * peer meets it. */
#define WORKER_IO_TIMEOUT_S 30
/* After a request body this large (an upload), freed memory goes back to the
 * system, so one upload does not leave a worker tens of MB larger. */
#define WORKER_TRIM_AFTER_BODY_BYTES (1024 * 1024)
/* How often a worker that takes uploads looks for images left processing:
 * a quarter of IOTD_RENDER_RETRY, within these bounds. */
#define WORKER_RETRY_CHECK_MIN_MS 1000
#define WORKER_RETRY_CHECK_MAX_MS 5000
/* Stopping, a worker waits this long for the first request of connections
 * it accepted just before (their clients are still sending it). */
#define WORKER_STOP_FRESH_MS 200

/* Signal state: the only mutable statics in the worker. The handler sets
 * the flag and writes a byte to a pipe that epoll watches, so a stop that
 * arrives just before epoll_wait still wakes it. */
static volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_wake_fd = -1;

static void on_stop_signal(int sig)
{
    IOTD_UNUSED(sig);
    worker_stop = 1;
    if (worker_wake_fd >= 0) {
        int saved = errno;
        char c = 1;
        if (write(worker_wake_fd, &c, 1) < 0) { /* the pipe is full: a wake-up is pending anyway */
        }
        errno = saved;
    }
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
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
    ctx->after = NULL;
    ctx->after_ud = NULL;

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

/* One FastCGI connection: libfcgi's request state for it, and a generation
 * number so an event for a closed connection never reaches the next one
 * that is given the same place. */
typedef struct worker_conn {
    FCGX_Request fr;
    uint32_t generation;
    int open;
    int fresh; /* accepted, and no request read from it yet */
} worker_conn;

typedef struct worker_loop {
    int epfd;
    int listen_fd;
    int listening; /* listen_fd is in the epoll set */
    int stopping;  /* never again */
    int wake_rd;
    worker_conn *conns;
    int nopen;
    int free_hint;
} worker_loop;

#define WORKER_EV_LISTEN UINT64_MAX
#define WORKER_EV_WAKE (UINT64_MAX - 1)

static uint64_t conn_token(const worker_loop *lp, int i)
{
    return ((uint64_t)lp->conns[i].generation << 32) | (uint32_t)i;
}

static void set_listening(worker_loop *lp, int on)
{
    if (on == lp->listening || (on && lp->stopping))
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = WORKER_EV_LISTEN};
    if (epoll_ctl(lp->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lp->listen_fd, &ev) == 0)
        lp->listening = on;
    else
        iotd_log(IOTD_LOG_WARN, "epoll on the listening socket failed: %s", strerror(errno));
}

/* libfcgi closed the connection (or we do): forget it. A closed descriptor
 * leaves the epoll set by itself, as nothing else holds it. */
static void conn_release(worker_loop *lp, int i)
{
    worker_conn *c = &lp->conns[i];
    if (c->fr.ipcFd >= 0) {
        close(c->fr.ipcFd);
        c->fr.ipcFd = -1;
    }
    c->open = 0;
    c->fresh = 0;
    c->generation++;
    lp->nopen--;
    lp->free_hint = i;
    if (!lp->listening && lp->listen_fd >= 0)
        set_listening(lp, 1);
}

/* Takes one connection from the listening socket: 1 when one was taken. */
static int accept_one(worker_loop *lp)
{
    int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
            iotd_log(IOTD_LOG_WARN, "accept failed: %s", strerror(errno));
            usleep(WORKER_ACCEPT_ERROR_PAUSE_US);
        }
        return 0;
    }
    /* A kept connection is never closed to flush a response's last
     * segment, so it must not wait for an ACK either. (Fails harmlessly
     * on a Unix socket.) */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval limit = {.tv_sec = WORKER_IO_TIMEOUT_S};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) != 0) {
        iotd_log(IOTD_LOG_WARN, "setsockopt failed: %s", strerror(errno));
        close(fd);
        return 0;
    }
    int i = lp->free_hint;
    if (lp->conns[i].open)
        for (i = 0; i < WORKER_MAX_CONNS && lp->conns[i].open; i++)
            ;
    worker_conn *c = &lp->conns[i];
    /* No listening socket: when the peer has gone, FCGX_Accept_r fails
     * instead of blocking in accept. keepConnection until the request's
     * own flag is read, so libfcgi does not close the new descriptor. */
    if (FCGX_InitRequest(&c->fr, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        close(fd);
        return 0;
    }
    c->fr.ipcFd = fd;
    c->fr.keepConnection = 1;
    c->open = 1;
    c->fresh = 1;
    lp->nopen++;
    lp->free_hint = (i + 1) % WORKER_MAX_CONNS;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = conn_token(lp, i)};
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        iotd_log(IOTD_LOG_WARN, "epoll_ctl failed: %s", strerror(errno));
        conn_release(lp, i);
        return 0;
    }
    /* The kernel wakes the first idle worker in the listening socket's wait
     * queue; going to its end after each accept spreads the connections,
     * and with them the requests, evenly over the workers. */
    set_listening(lp, 0);
    if (lp->nopen < WORKER_MAX_CONNS)
        set_listening(lp, 1);
    return 1;
}

/* Reads what is left of a request's body so the connection can carry the
 * next one; a connection whose body is too large to drop is closed. */
static void drain_body(FCGX_Request *fr)
{
    if (!fr->keepConnection || !fr->in)
        return;
    char buf[4096];
    size_t total = 0;
    int n;
    while ((n = FCGX_GetStr(buf, sizeof buf, fr->in)) > 0) {
        total += (size_t)n;
        if (total > WORKER_DRAIN_MAX) {
            fr->keepConnection = 0;
            return;
        }
    }
    if (FCGX_GetError(fr->in))
        fr->keepConnection = 0;
}

/* The connection at i is readable: its next request, or its end. */
static void serve_conn(worker_loop *lp, int i, iotd_ctx *ctx, iotd_buf *head)
{
    worker_conn *c = &lp->conns[i];
    if (FCGX_Accept_r(&c->fr) < 0) { /* closed by the peer, or not FastCGI */
        conn_release(lp, i);
        return;
    }
    c->fresh = 0;
    serve_one(ctx, &c->fr, head);
    drain_body(&c->fr);
    FCGX_Finish_r(&c->fr); /* closes the connection unless it is kept */
    if (c->fr.ipcFd < 0)
        conn_release(lp, i);
    if (ctx->after) { /* the answer is on its way */
        void (*after)(iotd_ctx *, void *) = ctx->after;
        ctx->after = NULL;
        after(ctx, ctx->after_ud);
    }
}

static int has_fresh(const worker_loop *lp)
{
    for (int i = 0; i < WORKER_MAX_CONNS; i++)
        if (lp->conns[i].open && lp->conns[i].fresh)
            return 1;
    return 0;
}

static long retry_check_ms(const iotd_config *cfg)
{
    long ms = cfg->render_retry * 1000 / 4;
    return ms < WORKER_RETRY_CHECK_MIN_MS   ? WORKER_RETRY_CHECK_MIN_MS
           : ms > WORKER_RETRY_CHECK_MAX_MS ? WORKER_RETRY_CHECK_MAX_MS
                                            : ms;
}

/* Takes up one image left processing, when an upload slot is free (its
 * renditions cost what an upload's do). */
static void retry_stale(iotd_ctx *ctx)
{
    const iotd_config *cfg = ctx->cfg;
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return;
    int slot = -1;
    if (cfg->upload_slots_dir[0] &&
        (slot = iotd_slot_take(cfg->upload_slots_dir, IOTD_SLOT_UPLOAD, cfg->upload_slots)) < 0)
        return;
    iotd_arena_reset(ctx->arena);
    long long id = 0;
    iotd_library_error err = IOTD_LIBRARY_ERROR_INIT;
    int rc = iotd_library_retry_stale(ctx->db, ctx->s3, cfg, ctx->arena, cfg->render_retry, &id, &err);
    if (rc == IOTD_OK)
        iotd_pagecache_changed(ctx->pages);
    else if (rc != IOTD_DECLINED)
        iotd_log(IOTD_LOG_WARN, "taking up images left processing failed%s%s", err.detail[0] ? ": " : "",
                 err.detail);
    iotd_slot_give(slot);
}

static void dispatch(worker_loop *lp, const struct epoll_event *ev, iotd_ctx *ctx, iotd_buf *head,
                     int accepting)
{
    uint64_t t = ev->data.u64;
    if (t == WORKER_EV_WAKE) {
        char sink[64];
        while (read(lp->wake_rd, sink, sizeof sink) > 0)
            ;
        return;
    }
    if (t == WORKER_EV_LISTEN) {
        if (accepting && lp->nopen < WORKER_MAX_CONNS)
            (void)accept_one(lp);
        return;
    }
    int i = (int)(uint32_t)t;
    if (i < 0 || i >= WORKER_MAX_CONNS || !lp->conns[i].open || conn_token(lp, i) != t)
        return; /* closed earlier in this batch */
    serve_conn(lp, i, ctx, head);
}

static int loop_init(worker_loop *lp, int listen_fd)
{
    memset(lp, 0, sizeof *lp);
    lp->listen_fd = listen_fd;
    lp->wake_rd = -1;
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->conns = calloc(WORKER_MAX_CONNS, sizeof *lp->conns);
    int wake[2];
    if (lp->epfd < 0 || !lp->conns || pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return IOTD_ERROR;
    lp->wake_rd = wake[0];
    worker_wake_fd = wake[1];
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WORKER_EV_WAKE};
    int fl = fcntl(listen_fd, F_GETFL);
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, wake[0], &ev) != 0 || fl < 0 ||
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return IOTD_ERROR;
    set_listening(lp, 1);
    return lp->listening ? IOTD_OK : IOTD_ERROR;
}

static void loop_close(worker_loop *lp)
{
    if (lp->listen_fd >= 0)
        set_listening(lp, 0);
    lp->listen_fd = -1;
    if (lp->conns)
        for (int i = 0; i < WORKER_MAX_CONNS; i++)
            if (lp->conns[i].open) {
                FCGX_Free(&lp->conns[i].fr, 0);
                conn_release(lp, i);
            }
    free(lp->conns);
    if (lp->epfd >= 0)
        close(lp->epfd);
    if (worker_wake_fd >= 0) {
        int w = worker_wake_fd;
        worker_wake_fd = -1;
        close(w);
    }
    if (lp->wake_rd >= 0)
        close(lp->wake_rd);
}

int iotd_worker_run(const iotd_worker_args *args)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the master */
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
    worker_loop loop;
    int status = 1;
    if (loop_init(&loop, args->listen_fd) != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "worker start failed: %s", strerror(errno));
        goto done;
    }
    if (!life || !arena || !db || !s3 || !pages) {
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
    struct epoll_event evs[WORKER_EVENTS];
    long long next_retry_ms = iotd_now_ms() + retry_check_ms(args->cfg);
    while (!worker_stop) {
        int timeout = -1;
        if (args->retries) {
            long long left = next_retry_ms - iotd_now_ms();
            if (left <= 0) {
                retry_stale(&ctx);
                next_retry_ms = iotd_now_ms() + retry_check_ms(args->cfg);
                continue;
            }
            timeout = (int)left;
        }
        int n = epoll_wait(loop.epfd, evs, WORKER_EVENTS, timeout);
        if (n < 0) {
            if (errno != EINTR) {
                iotd_log(IOTD_LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
                goto done;
            }
            continue;
        }
        for (int k = 0; k < n; k++)
            dispatch(&loop, &evs[k], &ctx, &head, !worker_stop);
    }
    /* Stopping: answer what already waits on our connections, take no new
     * ones, then close them. */
    loop.stopping = 1;
    set_listening(&loop, 0);
    /* The kernel wakes one waiting worker per new connection; a wake-up
     * that came to this one must not be lost with it, or the connection
     * waits in the queue until the next one wakes another worker. Once out
     * of the wait queue, take what is queued and answer it below. */
    while (loop.nopen < WORKER_MAX_CONNS && accept_one(&loop))
        ;
    loop.listen_fd = -1; /* the master's; ours is closed with the process */
    int n = epoll_wait(loop.epfd, evs, WORKER_EVENTS, 0);
    for (int k = 0; k < n; k++)
        dispatch(&loop, &evs[k], &ctx, &head, 0);
    long long fresh_until_ms = iotd_now_ms() + WORKER_STOP_FRESH_MS;
    long long left;
    while (has_fresh(&loop) && (left = fresh_until_ms - iotd_now_ms()) > 0) {
        n = epoll_wait(loop.epfd, evs, WORKER_EVENTS, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n; k++)
            dispatch(&loop, &evs[k], &ctx, &head, 0);
    }
    status = 0;
done:
    loop_close(&loop);
    iotd_buf_free(&head);
    iotd_response_free(&res);
    iotd_pagecache_free(pages);
    iotd_s3_free(s3);
    iotd_db_free(db);
    iotd_arena_destroy(arena);
    iotd_arena_destroy(life);
    return status;
}
