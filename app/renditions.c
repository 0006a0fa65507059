/*
 * renditions.c — runs iotd-render (app/render_main.c) on an upload.
 *
 * The program is started with posix_spawn: the original spool as its
 * standard input, two fresh spools as descriptors 3 and 4, a pipe as its
 * standard output, every other descriptor closed. Starting and finishing
 * are separate so the caller can store the original in S3 while the
 * renditions are being made. The answer is read with a deadline; a program
 * that overruns it is killed. Its log lines go to iotd's log, its run time
 * and peak memory (from wait4) to a debug line.
 */
#include "renditions.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iotd.h"
#include "log.h"
#include "random.h"
#include "s3.h"

#define RENDITIONS_KEY_RANDOM_BYTES 6 /* 48 bits: a rebuild never reuses a key */
#define RENDITIONS_MAX_ANSWER 8192    /* the program's whole output */
#define RENDITIONS_FD_THUMB 3
#define RENDITIONS_FD_DISPLAY 4
#define RENDITIONS_CPU_SLACK_S 5 /* its CPU limit = timeout + this: a backstop to the deadline */

extern char **environ;

static int say(char *err, size_t errlen, int rc, const char *message)
{
    snprintf(err, errlen, "%s", message);
    return rc;
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (long)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

int iotd_renditions_start(iotd_renditions *job, const iotd_config *cfg, const iotd_spool *original, char *err,
                          size_t errlen)
{
    memset(job, 0, sizeof *job);
    job->answer = -1;
    job->thumb.file = (iotd_spool)IOTD_SPOOL_INIT;
    job->display.file = (iotd_spool)IOTD_SPOOL_INIT;
    if (!original || original->fd < 0)
        return say(err, errlen, IOTD_ERROR, "there is no file to render");
    if (iotd_spool_open(&job->thumb.file, cfg->spool_dir, 0) != IOTD_OK ||
        iotd_spool_open(&job->display.file, cfg->spool_dir, 0) != IOTD_OK) {
        iotd_renditions_free(job);
        return say(err, errlen, IOTD_ERROR, "could not make the temporary files for the renditions");
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        iotd_renditions_free(job);
        return say(err, errlen, IOTD_ERROR, "could not make a pipe for the renderer");
    }
    char nice_arg[24], cpu_arg[24];
    snprintf(nice_arg, sizeof nice_arg, "%ld", cfg->render_nice);
    snprintf(cpu_arg, sizeof cpu_arg, "%ld", cfg->render_timeout + RENDITIONS_CPU_SLACK_S);
    char *argv[] = {(char *)cfg->render_bin, "--nice", nice_arg, "--cpu-seconds", cpu_arg, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = posix_spawn_file_actions_init(&fa) == 0;
    int attr_ok = posix_spawnattr_init(&attr) == 0;
    sigset_t none;
    sigemptyset(&none);
    int rc = !fa_ok || !attr_ok || posix_spawn_file_actions_adddup2(&fa, original->fd, STDIN_FILENO) != 0 ||
             posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO) != 0 ||
             posix_spawn_file_actions_adddup2(&fa, job->thumb.file.fd, RENDITIONS_FD_THUMB) != 0 ||
             posix_spawn_file_actions_adddup2(&fa, job->display.file.fd, RENDITIONS_FD_DISPLAY) != 0 ||
             posix_spawn_file_actions_addclosefrom_np(&fa, RENDITIONS_FD_DISPLAY + 1) != 0 ||
             posix_spawnattr_setsigmask(&attr, &none) != 0 ||
             posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0;
    /* the worker ignores or catches these; the renderer starts with the defaults */
    sigset_t reset;
    sigemptyset(&reset);
    const int worker_signals[] = {SIGPIPE, SIGHUP, SIGTERM, SIGINT, SIGCHLD};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(worker_signals); i++)
        sigaddset(&reset, worker_signals[i]);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &reset) != 0;
    int spawned = -1;
    if (!rc && lseek(original->fd, 0, SEEK_SET) == 0)
        spawned = posix_spawn(&job->pid, cfg->render_bin, &fa, &attr, argv, environ);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    job->answer = pipefd[0];
    if (spawned != 0) {
        job->pid = 0;
        iotd_log(IOTD_LOG_ERROR, "could not start %s: %s", cfg->render_bin,
                 spawned > 0 ? strerror(spawned) : "setup failed");
        iotd_renditions_free(job);
        return say(err, errlen, IOTD_ERROR, "the image processor could not be started");
    }
    clock_gettime(CLOCK_MONOTONIC, &job->deadline);
    job->deadline.tv_sec += cfg->render_timeout;
    return IOTD_OK;
}

/* Reads the program's output until EOF or the deadline. */
static int read_answer(iotd_renditions *job, iotd_buf *out)
{
    char chunk[1024];
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = ms_between(&now, &job->deadline);
        if (left <= 0)
            return IOTD_AGAIN;
        struct pollfd p = {job->answer, POLLIN, 0};
        int n = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return IOTD_ERROR;
        if (n == 0)
            continue; /* the deadline is checked above */
        ssize_t got = read(job->answer, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return IOTD_ERROR;
        if (got == 0)
            return IOTD_OK;
        if (iotd_buf_append(out, chunk, (size_t)got) != IOTD_OK)
            return IOTD_ERROR; /* past RENDITIONS_MAX_ANSWER */
    }
}

/* Reaps the program (killing it first when kill_it); records its figures. */
static int reap(iotd_renditions *job, int kill_it, int *status)
{
    if (job->pid <= 0)
        return IOTD_ERROR;
    if (kill_it)
        kill(job->pid, SIGKILL);
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t r;
    while ((r = wait4(job->pid, status, 0, &ru)) < 0 && errno == EINTR)
        ;
    job->pid = 0;
    job->peak_rss_kb = ru.ru_maxrss;
    return r > 0 ? IOTD_OK : IOTD_ERROR;
}

static const char *line_end(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl : p + strlen(p);
}

/* "TYPE W H" at *p: a known content type and sane dimensions. */
static int parse_image(const char **p, const char **type, int *w, int *h)
{
    char t[32];
    int used = 0;
    if (sscanf(*p, " %31s %d %d%n", t, w, h, &used) != 3 || *w <= 0 || *h <= 0 ||
        *w > IOTD_IMAGEFILE_MAX_DIMENSION || *h > IOTD_IMAGEFILE_MAX_DIMENSION ||
        !(*type = iotd_imagefile_content_type(t)))
        return IOTD_ERROR;
    *p += used;
    return IOTD_OK;
}

int iotd_renditions_parse(iotd_renditions *job, const char *output, char *err, size_t errlen)
{
    for (const char *p = output; *p;) {
        const char *end = line_end(p);
        int len = (int)(end - p);
        if (strncmp(p, "log ", 4) == 0) {
            const char *rest = p + 4;
            const char *space = memchr(rest, ' ', (size_t)(end - rest));
            const char *text = space ? space + 1 : end;
            iotd_log_level level = strncmp(rest, "error ", 6) == 0  ? IOTD_LOG_ERROR
                                   : strncmp(rest, "warn ", 5) == 0 ? IOTD_LOG_WARN
                                                                    : IOTD_LOG_DEBUG;
            iotd_log(level, "iotd-render: %.*s", (int)(end - text), text);
        } else if (strncmp(p, "declined ", 9) == 0) {
            snprintf(err, errlen, "%.*s", len - 9, p + 9);
            return IOTD_DECLINED;
        } else if (strncmp(p, "error ", 6) == 0) {
            snprintf(err, errlen, "%.*s", len - 6, p + 6);
            return IOTD_ERROR;
        } else if (strncmp(p, "ok ", 3) == 0) {
            const char *q = p + 3;
            if (parse_image(&q, &job->original.content_type, &job->original.width, &job->original.height) !=
                    IOTD_OK ||
                parse_image(&q, &job->thumb.content_type, &job->thumb.width, &job->thumb.height) != IOTD_OK ||
                parse_image(&q, &job->display.content_type, &job->display.width, &job->display.height) !=
                    IOTD_OK ||
                q != end)
                return say(err, errlen, IOTD_ERROR, "the image processor gave a malformed answer");
            job->original.extension = iotd_imagefile_extension(job->original.content_type);
            job->thumb.extension = iotd_imagefile_extension(job->thumb.content_type);
            job->display.extension = iotd_imagefile_extension(job->display.content_type);
            return IOTD_OK;
        } else {
            return say(err, errlen, IOTD_ERROR, "the image processor gave a malformed answer");
        }
        p = *end ? end + 1 : end;
    }
    return say(err, errlen, IOTD_ERROR, "the image processor stopped without an answer");
}

int iotd_renditions_finish(iotd_renditions *job, char *err, size_t errlen)
{
    if (job->pid <= 0)
        return say(err, errlen, IOTD_ERROR, "the image processor is not running");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    iotd_buf out;
    iotd_buf_init(&out, RENDITIONS_MAX_ANSWER);
    int read_rc = read_answer(job, &out);
    int status = 0;
    int reaped = reap(job, read_rc != IOTD_OK, &status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc;
    if (read_rc == IOTD_AGAIN) {
        rc = say(err, errlen, IOTD_AGAIN, "the image processor ran out of time");
    } else if (read_rc != IOTD_OK || reaped != IOTD_OK) {
        rc = say(err, errlen, IOTD_ERROR, "the image processor's answer could not be read");
    } else if (WIFSIGNALED(status)) {
        char msg[96];
        snprintf(msg, sizeof msg, "the image processor was stopped by signal %d", WTERMSIG(status));
        rc = say(err, errlen, WTERMSIG(status) == SIGXCPU ? IOTD_AGAIN : IOTD_ERROR, msg);
    } else {
        rc = iotd_renditions_parse(job, out.data ? out.data : "", err, errlen);
        if (rc == IOTD_OK && (WEXITSTATUS(status) != 0 || !job->original.extension || !job->thumb.extension ||
                              !job->display.extension))
            rc = say(err, errlen, IOTD_ERROR, "the image processor failed");
    }
    if (rc == IOTD_OK) {
        int t = iotd_spool_finish_written(&job->thumb.file, IOTD_RENDITIONS_MAX_BYTES);
        int d = t == IOTD_OK ? iotd_spool_finish_written(&job->display.file, IOTD_RENDITIONS_MAX_BYTES) : t;
        if (d != IOTD_OK || job->thumb.file.len == 0 || job->display.file.len == 0)
            rc = say(err, errlen, IOTD_ERROR, "the renditions could not be read back");
    }
    iotd_buf_free(&out);
    job->ms = (double)ms_between(&t0, &t1);
    iotd_log(rc == IOTD_OK ? IOTD_LOG_INFO : IOTD_LOG_WARN,
             "iotd-render: %s, waited %.0f ms, peak RSS %ld kB", rc == IOTD_OK ? "ok" : err, job->ms,
             job->peak_rss_kb);
    return rc;
}

int iotd_renditions_make(iotd_renditions *job, const iotd_config *cfg, const iotd_spool *original, char *err,
                         size_t errlen)
{
    int rc = iotd_renditions_start(job, cfg, original, err, errlen);
    return rc == IOTD_OK ? iotd_renditions_finish(job, err, errlen) : rc;
}

void iotd_renditions_free(iotd_renditions *job)
{
    if (job->pid > 0) {
        int status;
        reap(job, 1, &status);
    }
    if (job->answer >= 0)
        close(job->answer);
    job->answer = -1;
    iotd_spool_close(&job->thumb.file);
    iotd_spool_close(&job->display.file);
}

int iotd_renditions_key(const char *original_key, iotd_rendition_kind kind, const char *ext, iotd_buf *out)
{
    const char *slash = strrchr(original_key, '/');
    const char *dot = strrchr(slash ? slash + 1 : original_key, '.');
    size_t stem = dot ? (size_t)(dot - original_key) : strlen(original_key);
    unsigned char rnd[RENDITIONS_KEY_RANDOM_BYTES];
    if (stem == 0 || !ext || !*ext || iotd_random_bytes(rnd, sizeof rnd) != IOTD_OK)
        return IOTD_ERROR;
    iotd_buf_reset(out);
    if (iotd_buf_append(out, original_key, stem) != IOTD_OK ||
        iotd_buf_puts(out, kind == IOTD_RENDITION_THUMB ? ".thumb-" : ".display-") != IOTD_OK ||
        iotd_buf_append_hex(out, rnd, sizeof rnd) != IOTD_OK || iotd_buf_printf(out, ".%s", ext) != IOTD_OK)
        return IOTD_ERROR;
    return out->len <= IOTD_S3_MAX_KEY_BYTES ? IOTD_OK : IOTD_ERROR;
}
