/*
 * s3.h — the S3 client: objects, listings, the bucket check, presigned GETs.
 *
 * One client per worker, holding one reused curl handle (keep-alive) and the
 * worker's credential cache. Operations return IOTD_OK, IOTD_DECLINED (no
 * such key), IOTD_AGAIN (S3 or credentials unavailable right now) or
 * IOTD_ERROR, and fill an iotd_s3_error when one is given.
 */
#ifndef IOTD_S3_H
#define IOTD_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "spool.h"

#define IOTD_S3_MAX_KEY_BYTES 1024       /* S3's own limit */
#define IOTD_S3_MAX_LIST_OBJECTS 1000000 /* a listing longer than this is refused */
#define IOTD_S3_KEY_RANDOM_BYTES 16      /* 128 random bits per generated name */

typedef struct iotd_s3_error {
    long http_status; /* 0 when no response arrived */
    char code[64];    /* S3's Code (NoSuchKey, AccessDenied, ...) or ours (Unreachable, ...) */
    char message[256];
} iotd_s3_error;

typedef struct iotd_s3_object {
    char *key;
    int64_t size;
    int64_t last_modified; /* epoch seconds */
} iotd_s3_object;

typedef struct iotd_s3_listing {
    iotd_s3_object *items;
    size_t len, cap;
} iotd_s3_listing;

typedef struct iotd_s3 iotd_s3;

/* env is copied; the client owns its credential cache. */
iotd_s3 *iotd_s3_new(const iotd_s3_config *cfg, iotd_aws_env *env);
void iotd_s3_free(iotd_s3 *s3);

int iotd_s3_put(iotd_s3 *s3, const char *key, const void *body, size_t len, const char *content_type,
                iotd_s3_error *err);
/* The same from a finished spool, read in pieces (the hash is the spool's). */
int iotd_s3_put_spool(iotd_s3 *s3, const char *key, const iotd_spool *file, const char *content_type,
                      iotd_s3_error *err);
/* size may be NULL. */
int iotd_s3_head(iotd_s3 *s3, const char *key, int64_t *size, iotd_s3_error *err);
/* Fails with IOTD_ERROR (code "TooLarge") past max bytes. */
int iotd_s3_get(iotd_s3 *s3, const char *key, size_t max, iotd_buf *out, iotd_s3_error *err);
/* The same into an open spool (its max is the limit); finished on success. */
int iotd_s3_get_spool(iotd_s3 *s3, const char *key, iotd_spool *out, iotd_s3_error *err);
int iotd_s3_delete(iotd_s3 *s3, const char *key, iotd_s3_error *err);
/* Appends every object under prefix, following continuation tokens. */
int iotd_s3_list(iotd_s3 *s3, const char *prefix, iotd_s3_listing *out, iotd_s3_error *err);
int iotd_s3_head_bucket(iotd_s3 *s3, iotd_s3_error *err);

/* Presigned GET for key as given: the stable window and cfg->presign_ttl. */
int iotd_s3_presign_get(iotd_s3 *s3, const char *key, time_t now, iotd_buf *out);
/* The same with an explicit signing time and lifetime (iotd presign --date --expires). */
int iotd_s3_presign_get_at(iotd_s3 *s3, const char *key, int64_t signing_time, long expires, iotd_buf *out);

/* prefix + 32 random hex digits + "." + ext; ext is [a-z0-9]{1,8}. */
int iotd_s3_make_key(const iotd_s3_config *cfg, const char *ext, iotd_buf *out);

void iotd_s3_listing_init(iotd_s3_listing *l);
void iotd_s3_listing_free(iotd_s3_listing *l);

/* Pieces exposed for tests. base_url = scheme://host[:port], host = the Host
 * header, path = encoded "/KEY" (virtual-hosted) or "/BUCKET/KEY" (path style). */
int iotd_s3_object_location(const iotd_s3_config *cfg, const char *key, iotd_buf *base_url, iotd_buf *host,
                            iotd_buf *path);
int iotd_s3_parse_error(const char *xml, size_t len, long http_status, iotd_s3_error *err);
/* Appends the page's objects; next_token gets NextContinuationToken (empty when done). */
int iotd_s3_parse_list(const char *xml, size_t len, iotd_s3_listing *out, iotd_buf *next_token);

#endif
