/*
 * cli_image.c — `iotd presign`, `iotd image add|list|rm|rebuild` and `iotd gc`.
 *
 * The order of the two stores is what keeps them consistent: an upload is
 * PUT to S3 before its row is inserted (and deleted again if the insert
 * fails), and a removal commits the row's deletion together with a record
 * in object_deletions before the object is deleted, so a failure in
 * between leaves at worst an object that gc can find, never a row that
 * points nowhere. gc retries the records, reports objects that no row
 * references (and deletes those old enough to rule out an upload in
 * progress), and reports rows whose object is missing.
 *
 * Failures print one line on stderr and exit 1; usage errors exit 2.
 * Credentials are never printed.
 */
#include "cli_image.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "days.h"
#include "deletions.h"
#include "imagefile.h"
#include "library.h"
#include "images.h"
#include "iotd.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"

#define CLI_ARENA_BLOCK (64 * 1024)
#define CLI_LIST_PAGE 500L /* rows per query for image list */
#define CLI_BYTES_PER_MB (1024L * 1024)
#define GC_MAX_DELETIONS_PER_RUN 10000L  /* recorded deletions retried by one gc run */
#define GC_MAX_MIN_AGE_S (3650L * 86400) /* --min-age accepts up to ten years */
#define CLI_ERR_LEN 512
#define GC_KEYS_PER_ROW 3 /* object_key, thumb_key, display_key */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_presign[] = "usage: iotd presign KEY [--expires SECONDS] [--date YYYYMMDDTHHMMSSZ]\n";
static const char usage_image[] =
    "usage: iotd image add FILE --name NAME [--tagline TEXT] [--date YYYY-MM-DD]\n"
    "       iotd image list\n"
    "       iotd image rm ID\n"
    "       iotd image rebuild [ID...]\n";
static const char usage_gc[] = "usage: iotd gc [--delete] [--json] [--min-age SECONDS]\n";

/* ---- small helpers ------------------------------------------------------- */

static int fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iotd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iotd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fputs(usage, stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Matches "--opt VALUE" or "--opt=VALUE" at argv[*i]: 1 matched (*i moved
 * past the value), 0 another argument, -1 the value is missing. */
static int take_option(int argc, char **argv, int *i, const char *opt, const char **value)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || *end || n < min || n > max)
        return IOTD_ERROR;
    *out = n;
    return IOTD_OK;
}

static int load_config(const char *cmd, iotd_config *cfg)
{
    char err[CLI_ERR_LEN];
    if (iotd_config_load(cfg, err, sizeof err) != IOTD_OK)
        return fail(cmd, "configuration error: %s", err);
    iotd_log_init(iotd_log_level_for(cfg->log_debug, IOTD_LOG_OFF), STDERR_FILENO);
    return EXIT_OK;
}

static void s3_error_text(const iotd_s3_error *e, char *out, size_t len)
{
    if (e->http_status)
        snprintf(out, len, "HTTP %ld %s: %s", e->http_status, e->code[0] ? e->code : "error", e->message);
    else
        snprintf(out, len, "%s: %s", e->code[0] ? e->code : "error", e->message);
}

static const char *db_problem(int rc)
{
    return rc == IOTD_AGAIN ? "the database is unreachable"
                            : "the database refused the statement (see the log)";
}

/* The pieces every S3-and-database command needs, opened in order. */
typedef struct session {
    const char *cmd;
    iotd_config cfg;
    iotd_db *db;
    iotd_s3 *s3;
    iotd_arena *arena;
} session;

static int session_open(session *s, const char *cmd, int need_db, int need_s3)
{
    memset(s, 0, sizeof *s);
    s->cmd = cmd;
    if (load_config(cmd, &s->cfg) != EXIT_OK)
        return EXIT_FAIL;
    if (need_s3 && !s->cfg.s3.bucket[0])
        return fail(cmd, "IOTD_S3_BUCKET is not set");
    if (!(s->arena = iotd_arena_new(CLI_ARENA_BLOCK)))
        return fail(cmd, "out of memory");
    if (need_db) {
        if (!(s->db = iotd_db_new(s->cfg.database_url)))
            return fail(cmd, "out of memory");
        int rc = iotd_db_ready(s->db);
        if (rc != IOTD_OK)
            return fail(cmd, "%s", db_problem(rc));
    }
    if (need_s3 && !(s->s3 = iotd_s3_new(&s->cfg.s3, &s->cfg.aws)))
        return fail(cmd, "cannot set up the S3 client");
    return EXIT_OK;
}

static void session_close(session *s)
{
    iotd_s3_free(s->s3);
    iotd_db_free(s->db);
    if (s->arena)
        iotd_arena_destroy(s->arena);
}

/* ---- iotd presign -------------------------------------------------------- */

int iotd_cli_presign(int argc, char **argv)
{
    const char *cmd = "presign", *key = NULL, *expires_arg = NULL, *date_arg = NULL;
    int positional_only = 0;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        int m = 0;
        if (!positional_only) {
            if (is_help(arg)) {
                fputs(usage_presign, stdout);
                return EXIT_OK;
            }
            if (strcmp(arg, "--") == 0) {
                positional_only = 1;
                continue;
            }
            if ((m = take_option(argc, argv, &i, "--expires", &expires_arg)) == 0)
                m = take_option(argc, argv, &i, "--date", &date_arg);
            if (m < 0)
                return usage_error(cmd, usage_presign, "%s needs a value", arg);
            if (m > 0)
                continue;
            if (arg[0] == '-' && arg[1])
                return usage_error(cmd, usage_presign, "unknown option '%s'", arg);
        }
        if (key)
            return usage_error(cmd, usage_presign, "unexpected argument '%s'", arg);
        key = arg;
    }
    if (!key)
        return usage_error(cmd, usage_presign, "KEY is required");
    if (!key[0] || strlen(key) > IOTD_S3_MAX_KEY_BYTES)
        return usage_error(cmd, usage_presign, "KEY must be 1 to %d bytes", IOTD_S3_MAX_KEY_BYTES);
    long expires = 0;
    if (expires_arg && parse_long(expires_arg, 1, IOTD_SIGV4_MAX_EXPIRES, &expires) != IOTD_OK)
        return usage_error(cmd, usage_presign, "--expires must be a whole number of seconds from 1 to %ld",
                           IOTD_SIGV4_MAX_EXPIRES);
    int64_t signing_time = 0;
    if (date_arg && iotd_sigv4_parse_date(date_arg, &signing_time) != IOTD_OK)
        return usage_error(cmd, usage_presign, "--date must look like 20240301T120000Z (UTC)");

    session s;
    int status = session_open(&s, cmd, 0, 1);
    if (status != EXIT_OK) {
        session_close(&s);
        return status;
    }
    if (!expires_arg)
        expires = s.cfg.s3.presign_ttl;
    if (!date_arg) /* the stable window: one URL per key for expires/2 seconds */
        signing_time = iotd_sigv4_window_start(time(NULL), expires);
    iotd_buf url = IOTD_BUF_INIT;
    int rc = iotd_s3_presign_get_at(s.s3, key, signing_time, expires, &url);
    if (rc == IOTD_AGAIN)
        status =
            fail(cmd, "no AWS credentials are available (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                      "or run where the ECS credentials endpoint is)");
    else if (rc != IOTD_OK)
        status = fail(cmd, "cannot presign this key with the configured bucket and endpoint");
    else
        printf("%s\n", url.data);
    iotd_buf_free(&url);
    session_close(&s);
    return status;
}

/* ---- iotd image add ------------------------------------------------------ */

/* Copies a regular file of at most max bytes into a spool in spool_dir;
 * IOTD_DECLINED when it is larger. */
static int read_upload(const char *path, size_t max, const char *spool_dir, iotd_spool *out, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return IOTD_ERROR;
    }
    struct stat st;
    int rc = IOTD_ERROR;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > max) {
        rc = IOTD_DECLINED;
        goto out;
    }
    /* copied to EOF, in case the file grew since fstat */
    rc = iotd_spool_open(out, spool_dir, max) == IOTD_OK ? iotd_spool_copy_fd(out, fd) : IOTD_ERROR;
    if (rc == IOTD_OK)
        rc = iotd_spool_finish(out);
    if (rc == IOTD_ERROR)
        snprintf(err, errlen, "cannot copy %.200s to %.200s: %s", path, spool_dir, strerror(errno));
    goto out;

out:
    close(fd);
    return rc;
}

static int check_text_arg(const char *cmd, const char *what, const char *s, size_t min, size_t max)
{
    long n = iotd_library_text_chars(s);
    if (n < 0)
        return usage_error(cmd, usage_image, "%s must be UTF-8 text without control characters", what);
    size_t chars = (size_t)n;
    if (chars < min || chars > max)
        return usage_error(cmd, usage_image, "%s must be %zu to %zu characters (got %zu)", what, min, max,
                           chars);
    return EXIT_OK;
}

static int image_add(int argc, char **argv)
{
    const char *cmd = "image add", *path = NULL, *name = NULL, *tagline = "", *date = "";
    for (int i = 3; i < argc; i++) {
        const char *arg = argv[i];
        if (is_help(arg)) {
            fputs(usage_image, stdout);
            return EXIT_OK;
        }
        int m = take_option(argc, argv, &i, "--name", &name);
        if (m == 0)
            m = take_option(argc, argv, &i, "--tagline", &tagline);
        if (m == 0)
            m = take_option(argc, argv, &i, "--date", &date);
        if (m < 0)
            return usage_error(cmd, usage_image, "%s needs a value", arg);
        if (m > 0)
            continue;
        if (arg[0] == '-' && arg[1])
            return usage_error(cmd, usage_image, "unknown option '%s'", arg);
        if (path)
            return usage_error(cmd, usage_image, "unexpected argument '%s'", arg);
        path = arg;
    }
    if (!path)
        return usage_error(cmd, usage_image, "FILE is required");
    if (!name)
        return usage_error(cmd, usage_image, "--name is required");
    if (check_text_arg(cmd, "--name", name, 1, IOTD_MAX_NAME_CHARS) != EXIT_OK ||
        check_text_arg(cmd, "--tagline", tagline, 0, IOTD_MAX_TAGLINE_CHARS) != EXIT_OK)
        return EXIT_USAGE;
    if (*date && !iotd_date_valid(date))
        return usage_error(cmd, usage_image, "--date must be a real day written YYYY-MM-DD");

    session s;
    iotd_spool body = IOTD_SPOOL_INIT;
    int status = session_open(&s, cmd, 0, 1);
    if (status != EXIT_OK)
        goto out;
    char err[CLI_ERR_LEN];
    size_t max = (size_t)s.cfg.max_upload_mb * CLI_BYTES_PER_MB;
    int rc = read_upload(path, max, s.cfg.spool_dir, &body, err, sizeof err);
    if (rc == IOTD_DECLINED) {
        status = fail(cmd, "%s is larger than the upload limit of %ld MB (IOTD_MAX_UPLOAD_MB)", path,
                      s.cfg.max_upload_mb);
        goto out;
    }
    if (rc != IOTD_OK) {
        status = fail(cmd, "%s", err);
        goto out;
    }
    if (!(s.db = iotd_db_new(s.cfg.database_url))) {
        status = fail(cmd, "out of memory");
        goto out;
    }
    iotd_image img;
    iotd_library_error le = IOTD_LIBRARY_ERROR_INIT;
    iotd_library_text text = {name, tagline, date};
    if (iotd_library_add(s.db, s.s3, &s.cfg, s.arena, &body, &text, &img, &le) != IOTD_OK) {
        if (le.stage == IOTD_LIBRARY_CHECK)
            status = fail(cmd, "%s: %s", path, le.message);
        else if (le.stage == IOTD_LIBRARY_STORE)
            status = fail(cmd, "uploading to S3 failed (%s); nothing was saved", le.detail);
        else if (le.status == 409)
            status = fail(cmd, "%s; nothing was saved", le.detail);
        else if (le.object_kept)
            status = fail(cmd,
                          "saving the image failed (%s), and deleting the uploaded object failed too; it is "
                          "recorded for iotd gc",
                          le.detail);
        else
            status =
                fail(cmd, "saving the image failed (%s); the uploaded object was deleted again", le.detail);
        goto out;
    }
    printf("%lld\n", img.id);
out:
    iotd_spool_close(&body);
    session_close(&s);
    return status;
}

/* ---- iotd image list ----------------------------------------------------- */

/* Names come from editors; keep terminal control sequences out of the table. */
static void print_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        putchar(*p < 0x20 || *p == 0x7F ? '?' : *p);
}

static int image_list(int argc, char **argv)
{
    const char *cmd = "image list";
    if (argc > 3 && is_help(argv[3])) {
        fputs(usage_image, stdout);
        return EXIT_OK;
    }
    if (argc > 3)
        return usage_error(cmd, usage_image, "unexpected argument '%s'", argv[3]);
    session s;
    int status = session_open(&s, cmd, 1, 0);
    if (status != EXIT_OK)
        goto out;
    printf("%-8s %-20s %-11s %10s  %s\n", "ID", "UPLOADED", "SIZE", "BYTES", "NAME");
    for (long long offset = 0;; offset += CLI_LIST_PAGE) {
        iotd_image *list;
        size_t n;
        iotd_arena_reset(s.arena);
        int rc = iotd_images_list(s.db, s.arena, CLI_LIST_PAGE, offset, &list, &n);
        if (rc != IOTD_OK) {
            status = fail(cmd, "%s", db_problem(rc));
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            char dims[32];
            snprintf(dims, sizeof dims, "%dx%d", list[i].width, list[i].height);
            printf("%-8lld %-20s %-11s %10lld  ", list[i].id, list[i].uploaded_at, dims, list[i].byte_size);
            print_clean(list[i].name);
            putchar('\n');
        }
        if ((long)n < CLI_LIST_PAGE)
            break;
    }
out:
    session_close(&s);
    return status;
}

/* ---- iotd image rm ------------------------------------------------------- */

static int image_rm(int argc, char **argv)
{
    const char *cmd = "image rm";
    if (argc > 3 && is_help(argv[3])) {
        fputs(usage_image, stdout);
        return EXIT_OK;
    }
    if (argc != 4)
        return usage_error(cmd, usage_image, "%s", argc < 4 ? "ID is required" : "unexpected argument");
    char *end;
    errno = 0;
    long long id = strtoll(argv[3], &end, 10);
    if (errno || end == argv[3] || *end || id < 1)
        return usage_error(cmd, usage_image, "ID must be a positive whole number (see iotd image list)");

    session s;
    int status = session_open(&s, cmd, 1, 1);
    if (status != EXIT_OK)
        goto out;
    iotd_library_error le = IOTD_LIBRARY_ERROR_INIT;
    int rc = iotd_library_remove(s.db, s.s3, s.arena, id, &le);
    if (rc == IOTD_DECLINED) {
        status = fail(cmd, "there is no image with id %lld", id);
        goto out;
    }
    if (rc != IOTD_OK) {
        status = fail(cmd, "%s; nothing was removed", le.detail);
        goto out;
    }
    printf("removed image %lld\n", id);
    if (le.object_kept)
        fprintf(stderr, "iotd %s: warning: deleting the image's object failed (%s); iotd gc will retry it\n",
                cmd, le.detail);
out:
    session_close(&s);
    return status;
}

/* ---- iotd image rebuild --------------------------------------------------- */

/* One image: a line on stdout when done, on stderr when not; 1 on failure. */
static int rebuild_one(session *s, long long id)
{
    iotd_arena_reset(s->arena);
    iotd_image img;
    iotd_library_error le = IOTD_LIBRARY_ERROR_INIT;
    int rc = iotd_library_rebuild(s->db, s->s3, &s->cfg, s->arena, id, &img, &le);
    if (rc != IOTD_OK) {
        fprintf(stderr, "iotd %s: image %lld: %s\n", s->cmd, id, le.detail[0] ? le.detail : le.message);
        return 1;
    }
    printf("image %lld: thumb %dx%d %s, display %dx%d %s\n", id, img.thumb.width, img.thumb.height,
           img.thumb.key, img.display.width, img.display.height, img.display.key);
    if (le.object_kept)
        fprintf(
            stderr,
            "iotd %s: image %lld: warning: deleting an old rendition failed (%s); iotd gc will retry it\n",
            s->cmd, id, le.detail);
    return 0;
}

static int image_rebuild(int argc, char **argv)
{
    const char *cmd = "image rebuild";
    long long *ids = NULL;
    size_t nids = 0;
    for (int i = 3; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_image, stdout);
            return EXIT_OK;
        }
        char *end;
        errno = 0;
        long long id = strtoll(argv[i], &end, 10);
        if (errno || end == argv[i] || *end || id < 1)
            return usage_error(cmd, usage_image, "ID must be a positive whole number (got '%s')", argv[i]);
    }
    session s;
    int status = session_open(&s, cmd, 1, 1);
    if (status != EXIT_OK)
        goto out;
    if (argc > 3) {
        nids = (size_t)(argc - 3);
        if (!(ids = calloc(nids, sizeof *ids))) {
            status = fail(cmd, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nids; i++)
            ids[i] = strtoll(argv[3 + i], NULL, 10);
    } else { /* every image, oldest first; ids outlive the arena resets below */
        iotd_image_ref *refs;
        int rc = iotd_images_refs(s.db, s.arena, &refs, &nids);
        if (rc != IOTD_OK) {
            status = fail(cmd, "%s", db_problem(rc));
            goto out;
        }
        if (!(ids = calloc(nids ? nids : 1, sizeof *ids))) {
            status = fail(cmd, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nids; i++)
            ids[i] = refs[i].id;
    }
    size_t failed = 0;
    for (size_t i = 0; i < nids; i++)
        failed += (size_t)rebuild_one(&s, ids[i]);
    if (failed)
        status = fail(cmd, "%zu of %zu image%s failed", failed, nids, nids == 1 ? "" : "s");
out:
    free(ids);
    session_close(&s);
    return status;
}

int iotd_cli_image(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage_image, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[2];
    if (is_help(sub) || strcmp(sub, "help") == 0) {
        fputs(usage_image, stdout);
        return EXIT_OK;
    }
    if (strcmp(sub, "add") == 0)
        return image_add(argc, argv);
    if (strcmp(sub, "list") == 0)
        return image_list(argc, argv);
    if (strcmp(sub, "rm") == 0)
        return image_rm(argc, argv);
    if (strcmp(sub, "rebuild") == 0)
        return image_rebuild(argc, argv);
    return usage_error("image", usage_image, "unknown subcommand '%s'", sub);
}

/* ---- iotd gc ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int contains(const char **sorted, size_t n, const char *key)
{
    return n && bsearch(&key, sorted, n, sizeof *sorted, cmp_str) != NULL;
}

/* JSON building with every allocation checked: a NULL anywhere sets *ok = 0. */
static json_object *jcheck(json_object *o, int *ok)
{
    if (!o)
        *ok = 0;
    return o;
}

static void jset(json_object *obj, const char *k, json_object *v, int *ok)
{
    if (!obj || !v || json_object_object_add(obj, k, v) != 0) {
        json_object_put(v);
        *ok = 0;
    }
}

static void jpush(json_object *arr, json_object *v, int *ok)
{
    if (!arr || !v || json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        *ok = 0;
    }
}

typedef struct gc_run {
    session s;
    int delete;
    long min_age;
    json_object *report, *retry_failures, *orphans, *missing, *errors;
    long long retried, retry_done, objects, referenced, pending;
    int ok;       /* every JSON allocation succeeded */
    int problems; /* steps that failed: the exit status is 1 */
} gc_run;

static void gc_error(gc_run *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void gc_error(gc_run *g, const char *fmt, ...)
{
    char msg[CLI_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jpush(g->errors, json_object_new_string(msg), &g->ok);
    g->problems++;
}

/* Step 1: the deletions recorded by image rm (or a failed add) are retried. */
static int gc_retry_deletions(gc_run *g, const char ***still_pending, size_t *npending)
{
    iotd_deletion *list;
    size_t n;
    int rc = iotd_deletions_list(g->s.db, g->s.arena, GC_MAX_DELETIONS_PER_RUN, &list, &n);
    if (rc != IOTD_OK)
        return fail(g->s.cmd, "reading the recorded deletions failed: %s", db_problem(rc));
    const char **pending = iotd_arena_calloc(g->s.arena, n ? n : 1, sizeof *pending);
    if (!pending)
        return fail(g->s.cmd, "out of memory");
    *npending = 0;
    for (size_t i = 0; i < n; i++) {
        iotd_s3_error e;
        g->retried++;
        rc = iotd_s3_delete(g->s.s3, list[i].object_key, &e);
        if (rc == IOTD_OK || rc == IOTD_DECLINED) {
            g->retry_done++;
            if (iotd_deletions_done(g->s.db, list[i].object_key) == IOTD_ERROR)
                gc_error(g, "object %s is deleted but its record could not be removed", list[i].object_key);
            continue;
        }
        char text[CLI_ERR_LEN];
        s3_error_text(&e, text, sizeof text);
        (void)iotd_deletions_failed(g->s.db, list[i].object_key, text);
        pending[(*npending)++] = list[i].object_key;
        json_object *f = jcheck(json_object_new_object(), &g->ok);
        jset(f, "key", json_object_new_string(list[i].object_key), &g->ok);
        jset(f, "attempts", json_object_new_int(list[i].attempts + 1), &g->ok);
        jset(f, "error", json_object_new_string(text), &g->ok);
        jpush(g->retry_failures, f, &g->ok);
        g->problems++;
    }
    qsort(pending, *npending, sizeof *pending, cmp_str);
    *still_pending = pending;
    return EXIT_OK;
}

/* Step 2: objects under the prefix that no row references. */
static void gc_orphan(gc_run *g, const iotd_s3_object *o, time_t now)
{
    long long age = (long long)now - o->last_modified;
    if (age < 0)
        age = 0; /* clocks disagree: treat as brand new */
    const char *action = "kept";
    char text[CLI_ERR_LEN] = "";
    if (g->delete &&age < g->min_age) {
        action = "too young";
    } else if (g->delete) {
        iotd_s3_error e;
        int rc = iotd_s3_delete(g->s.s3, o->key, &e);
        if (rc == IOTD_OK || rc == IOTD_DECLINED) {
            action = "deleted";
        } else {
            action = "delete failed";
            s3_error_text(&e, text, sizeof text);
            g->problems++;
        }
    }
    json_object *j = jcheck(json_object_new_object(), &g->ok);
    jset(j, "key", json_object_new_string(o->key), &g->ok);
    jset(j, "size", json_object_new_int64(o->size), &g->ok);
    jset(j, "age_seconds", json_object_new_int64(age), &g->ok);
    jset(j, "action", json_object_new_string(action), &g->ok);
    if (text[0])
        jset(j, "error", json_object_new_string(text), &g->ok);
    jpush(g->orphans, j, &g->ok);
}

static int gc_scan(gc_run *g, const char **pending, size_t npending)
{
    iotd_image_ref *refs;
    size_t nrefs;
    int rc = iotd_images_refs(g->s.db, g->s.arena, &refs, &nrefs);
    if (rc != IOTD_OK) /* without the rows nothing may be called an orphan */
        return fail(g->s.cmd, "reading the images failed: %s", db_problem(rc));
    /* every object a row points at: the original and its renditions */
    const char **ref_keys = iotd_arena_calloc(g->s.arena, GC_KEYS_PER_ROW * nrefs + 1, sizeof *ref_keys);
    if (!ref_keys)
        return fail(g->s.cmd, "out of memory");
    size_t nkeys = 0;
    for (size_t i = 0; i < nrefs; i++) {
        const char *keys[GC_KEYS_PER_ROW] = {refs[i].object_key, refs[i].thumb_key, refs[i].display_key};
        for (size_t k = 0; k < GC_KEYS_PER_ROW; k++)
            if (keys[k][0])
                ref_keys[nkeys++] = keys[k];
    }
    qsort(ref_keys, nkeys, sizeof *ref_keys, cmp_str);

    iotd_s3_listing listing;
    iotd_s3_listing_init(&listing);
    iotd_s3_error e;
    const char *prefix = g->s.cfg.s3.prefix;
    if (iotd_s3_list(g->s.s3, prefix, &listing, &e) != IOTD_OK) {
        char text[CLI_ERR_LEN];
        s3_error_text(&e, text, sizeof text);
        iotd_s3_listing_free(&listing);
        return fail(g->s.cmd, "listing the objects under '%s' failed (%s)", prefix, text);
    }
    int status = EXIT_OK;
    const char **listed = iotd_arena_calloc(g->s.arena, listing.len ? listing.len : 1, sizeof *listed);
    if (!listed) {
        status = fail(g->s.cmd, "out of memory");
        goto out;
    }
    time_t now = time(NULL);
    for (size_t i = 0; i < listing.len; i++) {
        const iotd_s3_object *o = &listing.items[i];
        listed[i] = o->key;
        g->objects++;
        if (contains(ref_keys, nkeys, o->key))
            g->referenced++;
        else if (contains(pending, npending, o->key))
            g->pending++;
        else
            gc_orphan(g, o, now);
    }
    qsort(listed, listing.len, sizeof *listed, cmp_str);
    /* Step 3: rows whose object (original or rendition) is gone. The listing
     * settles most; HEAD confirms. */
    for (size_t i = 0; i < nrefs; i++) {
        const char *keys[GC_KEYS_PER_ROW] = {refs[i].object_key, refs[i].thumb_key, refs[i].display_key};
        for (size_t k = 0; k < GC_KEYS_PER_ROW; k++) {
            if (!keys[k][0] || contains(listed, listing.len, keys[k]))
                continue;
            rc = iotd_s3_head(g->s.s3, keys[k], NULL, &e);
            if (rc == IOTD_OK)
                continue;
            if (rc != IOTD_DECLINED) {
                char text[CLI_ERR_LEN];
                s3_error_text(&e, text, sizeof text);
                gc_error(g, "checking the object %s of image %lld failed (%s)", keys[k], refs[i].id, text);
                continue;
            }
            json_object *m = jcheck(json_object_new_object(), &g->ok);
            jset(m, "id", json_object_new_int64(refs[i].id), &g->ok);
            jset(m, "key", json_object_new_string(keys[k]), &g->ok);
            jpush(g->missing, m, &g->ok);
        }
    }
out:
    iotd_s3_listing_free(&listing);
    return status;
}

static void gc_print_summary(const gc_run *g)
{
    const char *prefix = g->s.cfg.s3.prefix;
    if (g->delete)
        printf("gc of s3://%s/%s: deleting unreferenced objects older than %ld s\n", g->s.cfg.s3.bucket,
               prefix, g->min_age);
    else
        printf("gc of s3://%s/%s: report only (--delete removes unreferenced objects older than %ld s)\n",
               g->s.cfg.s3.bucket, prefix, g->min_age);
    size_t nfail = json_object_array_length(g->retry_failures);
    printf("recorded deletions: %lld retried, %lld done, %zu still failing\n", g->retried, g->retry_done,
           nfail);
    for (size_t i = 0; i < nfail; i++) {
        json_object *f = json_object_array_get_idx(g->retry_failures, i), *k, *err;
        json_object_object_get_ex(f, "key", &k);
        json_object_object_get_ex(f, "error", &err);
        printf("  still failing: %s (%s)\n", json_object_get_string(k), json_object_get_string(err));
    }
    size_t norphans = json_object_array_length(g->orphans);
    printf("objects: %lld listed, %lld referenced, %lld awaiting a recorded deletion, %zu unreferenced\n",
           g->objects, g->referenced, g->pending, norphans);
    for (size_t i = 0; i < norphans; i++) {
        json_object *o = json_object_array_get_idx(g->orphans, i), *k, *size, *age, *action, *err;
        json_object_object_get_ex(o, "key", &k);
        json_object_object_get_ex(o, "size", &size);
        json_object_object_get_ex(o, "age_seconds", &age);
        json_object_object_get_ex(o, "action", &action);
        printf("  unreferenced: %s (%lld bytes, %lld s old): %s", json_object_get_string(k),
               (long long)json_object_get_int64(size), (long long)json_object_get_int64(age),
               json_object_get_string(action));
        if (json_object_object_get_ex(o, "error", &err))
            printf(" (%s)", json_object_get_string(err));
        putchar('\n');
    }
    size_t nmissing = json_object_array_length(g->missing);
    printf("rows whose object is missing: %zu\n", nmissing);
    for (size_t i = 0; i < nmissing; i++) {
        json_object *m = json_object_array_get_idx(g->missing, i), *id, *k;
        json_object_object_get_ex(m, "id", &id);
        json_object_object_get_ex(m, "key", &k);
        printf("  missing: image %lld, object %s\n", (long long)json_object_get_int64(id),
               json_object_get_string(k));
    }
    size_t nerr = json_object_array_length(g->errors);
    for (size_t i = 0; i < nerr; i++)
        printf("error: %s\n", json_object_get_string(json_object_array_get_idx(g->errors, i)));
}

int iotd_cli_gc(int argc, char **argv)
{
    const char *cmd = "gc", *min_age_arg = NULL;
    int json = 0;
    gc_run g;
    memset(&g, 0, sizeof g);
    g.min_age = IOTD_GC_DEFAULT_MIN_AGE_S;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (is_help(arg)) {
            fputs(usage_gc, stdout);
            return EXIT_OK;
        }
        if (strcmp(arg, "--delete") == 0) {
            g.delete = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            json = 1;
            continue;
        }
        int m = take_option(argc, argv, &i, "--min-age", &min_age_arg);
        if (m < 0)
            return usage_error(cmd, usage_gc, "%s needs a value", arg);
        if (m > 0) {
            if (parse_long(min_age_arg, 0, GC_MAX_MIN_AGE_S, &g.min_age) != IOTD_OK)
                return usage_error(cmd, usage_gc, "--min-age must be a whole number of seconds from 0 to %ld",
                                   GC_MAX_MIN_AGE_S);
            continue;
        }
        return usage_error(cmd, usage_gc, "unexpected argument '%s'", arg);
    }

    int status = session_open(&g.s, cmd, 1, 1);
    if (status != EXIT_OK)
        goto out;
    g.ok = 1;
    g.report = jcheck(json_object_new_object(), &g.ok);
    g.retry_failures = jcheck(json_object_new_array(), &g.ok);
    g.orphans = jcheck(json_object_new_array(), &g.ok);
    g.missing = jcheck(json_object_new_array(), &g.ok);
    g.errors = jcheck(json_object_new_array(), &g.ok);
    if (!g.ok) {
        status = fail(cmd, "out of memory");
        goto out;
    }
    const char **pending = NULL;
    size_t npending = 0;
    if ((status = gc_retry_deletions(&g, &pending, &npending)) != EXIT_OK)
        goto out;
    if ((status = gc_scan(&g, pending, npending)) != EXIT_OK)
        goto out;

    jset(g.report, "bucket", json_object_new_string(g.s.cfg.s3.bucket), &g.ok);
    jset(g.report, "prefix", json_object_new_string(g.s.cfg.s3.prefix), &g.ok);
    jset(g.report, "delete", json_object_new_boolean(g.delete), &g.ok);
    jset(g.report, "min_age_seconds", json_object_new_int64(g.min_age), &g.ok);
    json_object *del = jcheck(json_object_new_object(), &g.ok);
    jset(del, "retried", json_object_new_int64(g.retried), &g.ok);
    jset(del, "done", json_object_new_int64(g.retry_done), &g.ok);
    jset(del, "failed", json_object_get(g.retry_failures), &g.ok);
    jset(g.report, "deletions", del, &g.ok);
    jset(g.report, "objects", json_object_new_int64(g.objects), &g.ok);
    jset(g.report, "referenced", json_object_new_int64(g.referenced), &g.ok);
    jset(g.report, "pending_deletion", json_object_new_int64(g.pending), &g.ok);
    jset(g.report, "orphans", json_object_get(g.orphans), &g.ok);
    jset(g.report, "missing", json_object_get(g.missing), &g.ok);
    jset(g.report, "errors", json_object_get(g.errors), &g.ok);
    if (!g.ok) {
        status = fail(cmd, "out of memory building the report");
        goto out;
    }
    if (json) {
        const char *text = json_object_to_json_string_ext(g.report, JSON_C_TO_STRING_PRETTY |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text) {
            status = fail(cmd, "out of memory building the report");
            goto out;
        }
        printf("%s\n", text);
    } else {
        gc_print_summary(&g);
    }
    if (g.problems)
        status =
            fail(cmd, "finished with %d problem%s (see the report)", g.problems, g.problems == 1 ? "" : "s");
out:
    json_object_put(g.report);
    json_object_put(g.retry_failures);
    json_object_put(g.orphans);
    json_object_put(g.missing);
    json_object_put(g.errors);
    session_close(&g.s);
    return status;
}
