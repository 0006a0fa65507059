/*
 * pool.c — the master process: binds the FastCGI socket, starts workers,
 * and keeps their number right, in the manner of php-fpm.
 *
 * It runs in iotd-master, a small program (libc, json-c, libfcgi) that
 * `iotd serve` becomes by exec once its start-up checks pass, so the
 * process that only supervises does not map libpq, libcurl, OpenSSL and
 * the rest. Each worker is `iotd worker --role page|admin`, forked and
 * exec'd with the listening socket as descriptor 3 and the ready pipe as
 * descriptor 4; the role on its command line is for ps and the tests.
 *
 * With IOTD_ADMIN_LISTEN there are two sockets and two sets of workers:
 * IOTD_WORKERS on IOTD_LISTEN for the pages, which nginx reaches through
 * kept connections, and IOTD_ADMIN_WORKERS on the admin socket for the
 * requests that may take seconds (uploads, sign-ins), so a page never waits
 * behind one on the same worker. Each is kept at its number separately.
 *
 * Signals only write their number to a self-pipe; all the work happens in
 * the poll loop, so nothing unsafe runs in a handler.
 *  - SIGCHLD: reap; a worker that died unexpectedly is replaced at once
 *    (after a 1 s pause if it died within a second of starting without
 *    having reported ready, so a worker that cannot start does not spin,
 *    while one killed soon after it began serving is replaced at once).
 *  - SIGTERM/SIGINT: ask workers to finish their request and exit, wait up
 *    to grace_seconds, then SIGKILL what is left; exit 0. The master keeps
 *    the listening socket open until it exits: connections that arrive
 *    during the drain wait in the backlog and are refused only when the
 *    drain is over, so nginx shows its static page after the drain, never
 *    while requests in flight are still being answered.
 *  - SIGHUP: re-read config and templates, then for each worker start a new
 *    one, wait until it reports ready, and only then retire an old one, so
 *    there is always a full pool accepting and no request fails.
 * Templates are parsed here too, only to refuse a reload that would start
 * workers on broken ones; each worker parses its own at start.
 */
#include "pool.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iotd.h"
#include "log.h"
#include "slots.h"
#include "template.h"
#include "worker.h" /* the descriptors a worker expects */

#define POOL_MAX_WORKERS 256
#define POOL_BACKLOG 1024
#define POOL_READY_TIMEOUT_MS 5000
#define POOL_CRASH_WINDOW_MS 1000
#define POOL_TICK_MS 100
#define POOL_FD_SCRATCH 10 /* above a worker's descriptors, while they are moved into place */

enum { POOL_PAGES, POOL_ADMIN, POOL_ROLES };
static const char *const pool_role_names[POOL_ROLES] = {"page", "admin"};

typedef struct slot {
    pid_t pid;
    unsigned generation;
    int role; /* POOL_PAGES or POOL_ADMIN: which socket it serves */
    int retiring;
    int ready; /* reported ready through the pipe */
    long long started_ms;
} slot;

typedef struct pool {
    iotd_config *cfg;
    const char *worker_bin; /* the iotd program, run as `iotd worker` */
    iotd_tpl_set *views;
    int listen_fds[POOL_ROLES]; /* -1 where there is no such socket */
    int ready_rd, ready_wr;
    slot slots[POOL_MAX_WORKERS * 2];
    unsigned generation;
    int stopping;
    long long stop_deadline_ms;
    long long respawn_after_ms; /* crash-loop pause */
    pid_t awaiting_ready;       /* reload: the new worker we wait for */
    int awaiting_role;
    long long awaiting_deadline_ms;
} pool;

static int pool_sigpipe[2] = {-1, -1}; /* written by signal handlers only */

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(pool_sigpipe[1], &b, 1) < 0) {
        /* the pipe is full: a wakeup is already pending */
    }
    errno = saved;
}

static int set_cloexec_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return IOTD_ERROR;
    return IOTD_OK;
}

static int install_signals(void)
{
    if (pipe(pool_sigpipe) || set_cloexec_nonblock(pool_sigpipe[0]) || set_cloexec_nonblock(pool_sigpipe[1]))
        return IOTD_ERROR;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(sigs); i++)
        if (sigaction(sigs[i], &sa, NULL))
            return IOTD_ERROR;
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    return sigaction(SIGPIPE, &sa, NULL) ? IOTD_ERROR : IOTD_OK;
}

/* Live, not retiring workers of a role: of the current generation, or
 * (current 0) of an older one, still to be replaced after a reload. */
static size_t count_workers(const pool *p, int role, int current)
{
    size_t n = 0;
    for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++) {
        const slot *s = &p->slots[i];
        if (s->pid > 0 && s->role == role && !s->retiring && (s->generation == p->generation) == current)
            n++;
    }
    return n;
}

static size_t wanted(const pool *p, int role)
{
    if (role == POOL_ADMIN)
        return p->listen_fds[POOL_ADMIN] >= 0 ? (size_t)p->cfg->admin_workers : 0;
    return (size_t)p->cfg->workers;
}

static pid_t spawn(pool *p, int role)
{
    size_t i;
    for (i = 0; i < IOTD_ARRAY_LEN(p->slots); i++)
        if (p->slots[i].pid <= 0)
            break;
    if (i == IOTD_ARRAY_LEN(p->slots))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        iotd_log(IOTD_LOG_ERROR, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* only async-signal-safe calls from here to exec */
        sigset_t none;
        sigemptyset(&none);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int lfd = fcntl(p->listen_fds[role], F_DUPFD, POOL_FD_SCRATCH);
        int rfd = fcntl(p->ready_wr, F_DUPFD, POOL_FD_SCRATCH);
        if (lfd < 0 || rfd < 0 || dup2(lfd, WORKER_FD_LISTEN) != WORKER_FD_LISTEN ||
            dup2(rfd, WORKER_FD_READY) != WORKER_FD_READY)
            _exit(127);
        close_range(WORKER_FD_READY + 1, ~0U, 0);
        char *argv[] = {"iotd",        "worker",
                        "--slots-dir", p->cfg->upload_slots_dir,
                        "--role",      (char *)pool_role_names[role],
                        NULL};
        execv(p->worker_bin, argv);
        _exit(127);
    }
    p->slots[i] = (slot){pid, p->generation, role, 0, 0, iotd_now_ms()};
    return pid;
}

static void signal_all(pool *p, int sig)
{
    for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, sig);
}

static void log_exit(pid_t pid, int status, int expected)
{
    if (WIFEXITED(status))
        iotd_log(expected ? IOTD_LOG_INFO : IOTD_LOG_WARN, "worker %d exited with status %d", (int)pid,
                 WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        iotd_log(expected ? IOTD_LOG_INFO : IOTD_LOG_WARN, "worker %d was killed by signal %d", (int)pid,
                 WTERMSIG(status));
}

static void reap(pool *p)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++) {
            slot *s = &p->slots[i];
            if (s->pid != pid)
                continue;
            int expected = p->stopping || s->retiring;
            log_exit(pid, status, expected);
            if (!expected && !s->ready && iotd_now_ms() - s->started_ms < POOL_CRASH_WINDOW_MS)
                p->respawn_after_ms = iotd_now_ms() + POOL_CRASH_WINDOW_MS;
            if (p->awaiting_ready == pid)
                p->awaiting_ready = 0;
            s->pid = 0;
            break;
        }
    }
}

static void retire_one_old(pool *p, int role)
{
    for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++) {
        slot *s = &p->slots[i];
        if (s->pid > 0 && s->generation != p->generation && s->role == role && !s->retiring) {
            s->retiring = 1;
            kill(s->pid, SIGTERM);
            return;
        }
    }
}

/* Brings each set of workers to its number in the current generation,
 * replacing old-generation ones one at a time during a reload. */
static void maintain(pool *p)
{
    if (p->stopping)
        return;
    if (p->awaiting_ready) {
        if (iotd_now_ms() < p->awaiting_deadline_ms)
            return;
        iotd_log(IOTD_LOG_WARN, "worker %d did not report ready in time", (int)p->awaiting_ready);
        p->awaiting_ready = 0;
        retire_one_old(p, p->awaiting_role);
    }
    for (int role = 0; role < POOL_ROLES; role++) {
        size_t want = wanted(p, role);
        size_t have = count_workers(p, role, 1);
        size_t old = count_workers(p, role, 0);
        if (have >= want) {
            while (old--)
                retire_one_old(p, role);
            continue;
        }
        if (iotd_now_ms() < p->respawn_after_ms)
            return;
        if (old) {
            /* reload: one new worker, then retire one old once it is ready */
            pid_t pid = spawn(p, role);
            if (pid > 0) {
                p->awaiting_ready = pid;
                p->awaiting_role = role;
                p->awaiting_deadline_ms = iotd_now_ms() + POOL_READY_TIMEOUT_MS;
            }
            return;
        }
        while (have < want && spawn(p, role) > 0)
            have++;
    }
}

static void read_ready(pool *p)
{
    pid_t pid;
    while (read(p->ready_rd, &pid, sizeof pid) == (ssize_t)sizeof pid) {
        for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++)
            if (p->slots[i].pid == pid)
                p->slots[i].ready = 1;
        if (pid == p->awaiting_ready) {
            p->awaiting_ready = 0;
            retire_one_old(p, p->awaiting_role);
        }
    }
}

static void reload(pool *p)
{
    iotd_config fresh;
    char err[512];
    if (iotd_config_load(&fresh, err, sizeof err) != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "reload refused, keeping the running configuration: %s", err);
        return;
    }
    iotd_tpl_set *views = iotd_tpl_set_new();
    if (!views || iotd_tpl_set_load_dir(views, fresh.views_dir, err, sizeof err) != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "reload refused, keeping the running templates: %s", err);
        iotd_tpl_set_free(views);
        return;
    }
    if (strcmp(fresh.listen, p->cfg->listen) != 0 || strcmp(fresh.admin_listen, p->cfg->admin_listen) != 0 ||
        fresh.upload_slots != p->cfg->upload_slots || fresh.signin_slots != p->cfg->signin_slots)
        iotd_log(IOTD_LOG_WARN, "IOTD_LISTEN, IOTD_ADMIN_LISTEN and the upload and sign-in slots change on "
                                "restart, not reload");
    memcpy(fresh.listen, p->cfg->listen, sizeof fresh.listen);
    if (strcmp(fresh.admin_listen, p->cfg->admin_listen) != 0) {
        memcpy(fresh.admin_listen, p->cfg->admin_listen, sizeof fresh.admin_listen);
        fresh.admin_workers = p->cfg->admin_workers; /* the sockets stay as they are */
    }
    fresh.upload_slots = p->cfg->upload_slots;
    fresh.signin_slots = p->cfg->signin_slots;
    memcpy(fresh.upload_slots_dir, p->cfg->upload_slots_dir, sizeof fresh.upload_slots_dir);
    *p->cfg = fresh;
    iotd_tpl_set_free(p->views); /* only kept to check the next reload against */
    p->views = views;
    p->generation++;
    iotd_log(IOTD_LOG_INFO, "reloading: replacing workers one by one");
}

static void begin_stop(pool *p)
{
    if (p->stopping)
        return;
    p->stopping = 1;
    p->stop_deadline_ms = iotd_now_ms() + (long long)p->cfg->grace_seconds * 1000;
    iotd_log(IOTD_LOG_INFO, "stopping: waiting up to %d s for requests in flight", p->cfg->grace_seconds);
    signal_all(p, SIGTERM);
}

static int any_alive(const pool *p)
{
    for (size_t i = 0; i < IOTD_ARRAY_LEN(p->slots); i++)
        if (p->slots[i].pid > 0)
            return 1;
    return 0;
}

int iotd_pool_run(iotd_config *cfg, const char *worker_bin)
{
    pool p;
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.worker_bin = worker_bin;
    char err[512];
    p.listen_fds[POOL_PAGES] = p.listen_fds[POOL_ADMIN] = -1;
    if (cfg->workers + cfg->admin_workers > POOL_MAX_WORKERS) {
        fprintf(stderr, "iotd serve: IOTD_WORKERS and IOTD_ADMIN_WORKERS together are at most %d\n",
                POOL_MAX_WORKERS);
        return 1;
    }
    p.views = iotd_tpl_set_new();
    if (!p.views || iotd_tpl_set_load_dir(p.views, cfg->views_dir, err, sizeof err) != IOTD_OK) {
        fprintf(stderr, "iotd serve: cannot load templates from %s: %s\n", cfg->views_dir, err);
        iotd_tpl_set_free(p.views);
        return 1;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "iotd serve: FastCGI library failed to start\n");
        return 1;
    }
    const char *addrs[POOL_ROLES] = {cfg->listen, cfg->admin_listen};
    for (int role = 0; role < POOL_ROLES; role++) {
        if (!addrs[role][0])
            continue;
        p.listen_fds[role] = FCGX_OpenSocket(addrs[role], POOL_BACKLOG);
        if (p.listen_fds[role] < 0) {
            fprintf(stderr, "iotd serve: cannot listen on %s: %s\n", addrs[role], strerror(errno));
            iotd_tpl_set_free(p.views);
            return 1;
        }
    }
    if (iotd_slots_create(cfg->upload_slots, cfg->signin_slots, cfg->upload_slots_dir,
                          sizeof cfg->upload_slots_dir) != IOTD_OK) {
        fprintf(stderr, "iotd serve: cannot make the upload slots: %s\n", strerror(errno));
        iotd_tpl_set_free(p.views);
        return 1;
    }
    int ready[2];
    if (pipe(ready) || install_signals() != IOTD_OK || set_cloexec_nonblock(ready[0])) {
        fprintf(stderr, "iotd serve: cannot set up signals: %s\n", strerror(errno));
        return 1;
    }
    p.ready_rd = ready[0];
    p.ready_wr = ready[1];
    for (int role = 0; role < POOL_ROLES; role++)
        if (p.listen_fds[role] >= 0)
            iotd_log(IOTD_LOG_INFO, "listening on %s with %zu %s workers", addrs[role], wanted(&p, role),
                     pool_role_names[role]);

    while (!p.stopping || any_alive(&p)) {
        maintain(&p);
        struct pollfd fds[2] = {{pool_sigpipe[0], POLLIN, 0}, {p.ready_rd, POLLIN, 0}};
        int n = poll(fds, 2, POOL_TICK_MS);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN)
            read_ready(&p);
        if (fds[0].revents & POLLIN) {
            unsigned char sigs[64];
            ssize_t got;
            while ((got = read(pool_sigpipe[0], sigs, sizeof sigs)) > 0) {
                for (ssize_t i = 0; i < got; i++) {
                    if (sigs[i] == SIGCHLD)
                        reap(&p);
                    else if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
                        begin_stop(&p);
                    else if (sigs[i] == SIGHUP && !p.stopping)
                        reload(&p);
                }
            }
        }
        reap(&p);
        if (p.stopping && any_alive(&p) && iotd_now_ms() >= p.stop_deadline_ms) {
            iotd_log(IOTD_LOG_WARN, "grace period over: killing the remaining workers");
            signal_all(&p, SIGKILL);
            p.stop_deadline_ms = iotd_now_ms() + 60 * 1000;
        }
    }
    for (int role = 0; role < POOL_ROLES; role++)
        if (p.listen_fds[role] >= 0)
            close(p.listen_fds[role]); /* connections still in the backlog are refused now */
    iotd_slots_remove(cfg->upload_slots_dir, cfg->upload_slots, cfg->signin_slots);
    iotd_log(IOTD_LOG_INFO, "stopped");
    iotd_tpl_set_free(p.views);
    close(p.ready_rd);
    close(p.ready_wr);
    return 0;
}
