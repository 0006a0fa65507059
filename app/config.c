/*
 * config.c — reads and validates the environment into one iotd_config.
 *
 * This is the only module that calls getenv. Every variable has a default,
 * a range, and an error that names it, so a bad deployment fails at start
 * with a clear message rather than misbehaving later.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotd.h"

#ifndef IOTD_PKGDATADIR
#define IOTD_PKGDATADIR "/usr/local/share/iotd"
#endif

#define PRESIGN_TTL_MAX 604800L

static int set_str(char *dst, size_t dstlen, const char *var, const char *def, char *err, size_t errlen)
{
    const char *v = getenv(var);
    if (!v || !*v)
        v = def;
    if (strlen(v) >= dstlen) {
        snprintf(err, errlen, "%s is too long (at most %zu bytes)", var, dstlen - 1);
        return IOTD_ERROR;
    }
    memcpy(dst, v, strlen(v) + 1);
    return IOTD_OK;
}

static int set_long(long *dst, const char *var, long def, long min, long max, char *err, size_t errlen)
{
    const char *v = getenv(var);
    if (!v || !*v) {
        *dst = def;
        return IOTD_OK;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        snprintf(err, errlen, "%s must be a whole number from %ld to %ld (got \"%.32s\")", var, min, max, v);
        return IOTD_ERROR;
    }
    *dst = n;
    return IOTD_OK;
}

/* Area/Location style names: letters, digits, '_', '-', '+', '/' — no "..". */
static int valid_timezone(const char *tz)
{
    if (!tz[0] || tz[0] == '/' || strstr(tz, ".."))
        return 0;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '+' || *p == '/'))
            return 0;
    return 1;
}

static int valid_site_url(const char *url)
{
    const char *host = strncmp(url, "https://", 8) == 0  ? url + 8
                       : strncmp(url, "http://", 7) == 0 ? url + 7
                                                         : NULL;
    if (!host || !*host)
        return 0;
    for (const char *p = host; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            return 0;
    return 1;
}

static int default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    return (int)(2 * n);
}

int iotd_config_program_path(const char *name, char *dst, size_t len)
{
    char self[IOTD_CONF_STR];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1)
        return IOTD_ERROR;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return IOTD_ERROR;
    int w;
    if (name) {
        *slash = '\0';
        w = snprintf(dst, len, "%s/%s", self, name);
    } else {
        w = snprintf(dst, len, "%s", self);
    }
    return w > 0 && (size_t)w < len ? IOTD_OK : IOTD_ERROR;
}

int iotd_config_load(iotd_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    long workers, grace;
    const char *region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region)
        region = "us-east-1";
    const char *log_level = getenv("IOTD_LOG_LEVEL");

    if (set_str(c->listen, sizeof c->listen, "IOTD_LISTEN", "127.0.0.1:9000", err, errlen) ||
        set_long(&workers, "IOTD_WORKERS", default_workers(), 1, 256, err, errlen) ||
        set_long(&grace, "IOTD_GRACE_SECONDS", 20, 0, 3600, err, errlen) ||
        set_str(c->views_dir, sizeof c->views_dir, "IOTD_VIEWS_DIR", IOTD_PKGDATADIR "/views", err, errlen) ||
        set_str(c->migrations_dir, sizeof c->migrations_dir, "IOTD_MIGRATIONS_DIR",
                IOTD_PKGDATADIR "/migrations", err, errlen) ||
        set_str(c->database_url, sizeof c->database_url, "DATABASE_URL", "", err, errlen) ||
        set_long(&c->max_upload_mb, "IOTD_MAX_UPLOAD_MB", 20, 1, 1024, err, errlen) ||
        set_str(c->s3.bucket, sizeof c->s3.bucket, "IOTD_S3_BUCKET", "", err, errlen) ||
        set_str(c->s3.prefix, sizeof c->s3.prefix, "IOTD_S3_PREFIX", "images/", err, errlen) ||
        set_str(c->s3.endpoint, sizeof c->s3.endpoint, "IOTD_S3_ENDPOINT", "", err, errlen) ||
        set_long(&c->s3.presign_ttl, "IOTD_PRESIGN_TTL", 3600, 2, PRESIGN_TTL_MAX, err, errlen) ||
        set_str(c->aws.access_key_id, sizeof c->aws.access_key_id, "AWS_ACCESS_KEY_ID", "", err, errlen) ||
        set_str(c->aws.secret_access_key, sizeof c->aws.secret_access_key, "AWS_SECRET_ACCESS_KEY", "", err,
                errlen) ||
        set_str(c->aws.session_token, sizeof c->aws.session_token, "AWS_SESSION_TOKEN", "", err, errlen) ||
        set_str(c->aws.container_relative_uri, sizeof c->aws.container_relative_uri,
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "", err, errlen) ||
        set_str(c->aws.container_full_uri, sizeof c->aws.container_full_uri,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "", err, errlen) ||
        set_str(c->aws.container_auth_token, sizeof c->aws.container_auth_token,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN", "", err, errlen) ||
        set_str(c->aws.container_host, sizeof c->aws.container_host, "IOTD_AWS_CONTAINER_HOST",
                "http://169.254.170.2", err, errlen) ||
        set_str(c->admin_user, sizeof c->admin_user, "IOTD_ADMIN_USER", "", err, errlen) ||
        set_str(c->admin_password, sizeof c->admin_password, "IOTD_ADMIN_PASSWORD", "", err, errlen))
        return IOTD_ERROR;
    if (strlen(region) >= sizeof c->s3.region) {
        snprintf(err, errlen, "AWS_REGION is too long");
        return IOTD_ERROR;
    }
    memcpy(c->s3.region, region, strlen(region) + 1);
    c->workers = (int)workers;
    c->grace_seconds = (int)grace;
    c->log_debug = log_level && strcmp(log_level, "debug") == 0;
    if (set_str(c->timezone, sizeof c->timezone, "IOTD_TIMEZONE", "UTC", err, errlen) ||
        set_long(&c->page_max_age, "IOTD_PAGE_MAX_AGE", 60, 0, 86400, err, errlen) ||
        set_str(c->site_url, sizeof c->site_url, "IOTD_SITE_URL", "", err, errlen))
        return IOTD_ERROR;
    long admin_workers, slots;
    if (set_str(c->admin_listen, sizeof c->admin_listen, "IOTD_ADMIN_LISTEN", "", err, errlen) ||
        set_long(&admin_workers, "IOTD_ADMIN_WORKERS", 3, 1, 256, err, errlen))
        return IOTD_ERROR;
    if (c->admin_listen[0] && strcmp(c->admin_listen, c->listen) == 0) {
        snprintf(err, errlen, "IOTD_ADMIN_LISTEN must differ from IOTD_LISTEN");
        return IOTD_ERROR;
    }
    c->admin_workers = c->admin_listen[0] ? (int)admin_workers : 0;
    int shared = c->admin_listen[0] ? (c->admin_workers > 1 ? c->admin_workers - 1 : 1)
                                    : (c->workers > 1 ? c->workers / 2 : 1);
    if (set_long(&slots, "IOTD_UPLOAD_SLOTS", shared, 1, 256, err, errlen))
        return IOTD_ERROR;
    c->upload_slots = (int)slots;
    c->signin_slots = shared;
    const char *tmpdir = getenv("TMPDIR");
    if (set_str(c->spool_dir, sizeof c->spool_dir, "IOTD_SPOOL_DIR", tmpdir && *tmpdir ? tmpdir : "/tmp", err,
                errlen) ||
        set_str(c->render_bin, sizeof c->render_bin, "IOTD_RENDER_BIN", "", err, errlen) ||
        set_long(&c->render_nice, "IOTD_RENDER_NICE", 10, 0, 19, err, errlen) ||
        set_long(&c->render_timeout, "IOTD_RENDER_TIMEOUT", 45, 1, 3600, err, errlen) ||
        set_long(&c->render_retry, "IOTD_RENDER_RETRY", 120, 1, 86400, err, errlen))
        return IOTD_ERROR;
    if (!c->render_bin[0] &&
        iotd_config_program_path("iotd-render", c->render_bin, sizeof c->render_bin) != IOTD_OK) {
        snprintf(err, errlen, "IOTD_RENDER_BIN is not set and this program's own path is unknown");
        return IOTD_ERROR;
    }
    if (!valid_timezone(c->timezone)) {
        snprintf(err, errlen,
                 "IOTD_TIMEZONE must be an IANA time zone name such as Europe/Madrid (got \"%.32s\")",
                 c->timezone);
        return IOTD_ERROR;
    }
    if (c->site_url[0] && !valid_site_url(c->site_url)) {
        snprintf(err, errlen, "IOTD_SITE_URL must be http(s)://host[:port] with no path (got \"%.64s\")",
                 c->site_url);
        return IOTD_ERROR;
    }
    if (c->s3.prefix[0] == '/') {
        snprintf(err, errlen, "IOTD_S3_PREFIX must not start with '/'");
        return IOTD_ERROR;
    }
    return IOTD_OK;
}
