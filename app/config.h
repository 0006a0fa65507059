/*
 * config.h — the process configuration, read once from the environment.
 *
 * config.c is the only module that calls getenv (libpq reads its own PG*
 * variables). Every value is validated at start; a bad one stops the
 * program with a message naming the variable.
 */
#ifndef IOTD_CONFIG_H
#define IOTD_CONFIG_H

#include <stddef.h>

#define IOTD_CONF_STR 512

/* Where and how to reach the bucket. */
typedef struct iotd_s3_config {
    char bucket[64];              /* IOTD_S3_BUCKET */
    char prefix[256];             /* IOTD_S3_PREFIX, default "images/" */
    char endpoint[IOTD_CONF_STR]; /* IOTD_S3_ENDPOINT; empty = AWS virtual-hosted */
    char region[64];              /* AWS_REGION or AWS_DEFAULT_REGION, default us-east-1 */
    long presign_ttl;             /* IOTD_PRESIGN_TTL seconds, default 3600, 1..604800 */
} iotd_s3_config;

/* The sources of AWS credentials, in the SDKs' order. */
typedef struct iotd_aws_env {
    char access_key_id[128];                    /* AWS_ACCESS_KEY_ID */
    char secret_access_key[128];                /* AWS_SECRET_ACCESS_KEY */
    char session_token[2048];                   /* AWS_SESSION_TOKEN */
    char container_relative_uri[IOTD_CONF_STR]; /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI */
    char container_full_uri[IOTD_CONF_STR];     /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
    char container_auth_token[2048];            /* AWS_CONTAINER_AUTHORIZATION_TOKEN */
    char container_host[IOTD_CONF_STR];         /* base for the relative URI, http://169.254.170.2 */
} iotd_aws_env;

typedef struct iotd_config {
    char listen[IOTD_CONF_STR];         /* IOTD_LISTEN, default 127.0.0.1:9000 */
    int workers;                        /* IOTD_WORKERS, default 2 x online CPUs */
    char admin_listen[IOTD_CONF_STR];   /* IOTD_ADMIN_LISTEN: a second socket for /admin; empty = none */
    int admin_workers;                  /* IOTD_ADMIN_WORKERS, default 3: its workers (with admin_listen) */
    int grace_seconds;                  /* IOTD_GRACE_SECONDS, default 20 */
    char views_dir[IOTD_CONF_STR];      /* IOTD_VIEWS_DIR */
    char migrations_dir[IOTD_CONF_STR]; /* IOTD_MIGRATIONS_DIR */
    char database_url[IOTD_CONF_STR];   /* DATABASE_URL; empty = libpq's PG* variables */
    long max_upload_mb;                 /* IOTD_MAX_UPLOAD_MB, default 20 */
    int log_debug;                      /* IOTD_LOG_LEVEL=debug */
    iotd_s3_config s3;
    iotd_aws_env aws;
    char admin_user[IOTD_CONF_STR];     /* IOTD_ADMIN_USER: first editor (iotd user ensure-admin) */
    char admin_password[IOTD_CONF_STR]; /* IOTD_ADMIN_PASSWORD: its password; never logged */
    char timezone[64];                  /* IOTD_TIMEZONE, IANA name, default UTC: when a day starts */
    long page_max_age;                  /* IOTD_PAGE_MAX_AGE seconds, default 60: public page caching */
    char site_url[IOTD_CONF_STR]; /* IOTD_SITE_URL, e.g. https://iotd.example; empty = from the request */
    /* Uploads and password checks at once. They share workers with the
     * admin pages: with admin_listen, default admin_workers - 1 (at least 1),
     * so one admin worker is always free for the rest; without it, workers / 2. */
    int upload_slots;                     /* IOTD_UPLOAD_SLOTS */
    int signin_slots;                     /* not from the environment */
    char upload_slots_dir[IOTD_CONF_STR]; /* made by iotd serve's master; not from the environment */
    char spool_dir[IOTD_CONF_STR];        /* IOTD_SPOOL_DIR, default $TMPDIR or /tmp: uploads on disk */
    char render_bin[IOTD_CONF_STR];       /* IOTD_RENDER_BIN, default iotd-render beside this program */
    long render_nice;                     /* IOTD_RENDER_NICE, default 10: renditions yield to pages */
    long render_timeout;                  /* IOTD_RENDER_TIMEOUT seconds, default 45 */
    long render_retry; /* IOTD_RENDER_RETRY seconds, default 120: an image still processing this long
                          after its attempt began (its worker died) is taken up again */
} iotd_config;

/* Fills c from the environment; on a bad value writes a message to err and
 * returns IOTD_ERROR. */
int iotd_config_load(iotd_config *c, char *err, size_t errlen);
/* The path of this program (name NULL) or of the program name installed
 * beside it (iotd-render, iotd-master). */
int iotd_config_program_path(const char *name, char *dst, size_t len);

#endif
