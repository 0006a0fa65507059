/*
 * sigv4.h — AWS Signature Version 4: the pieces, and presigned S3 GET URLs.
 *
 * Each step (canonical request, string to sign, signing key, signature) is
 * its own function so tests can compare every piece byte for byte with the
 * worked examples in the S3 documentation.
 */
#ifndef IOTD_SIGV4_H
#define IOTD_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define IOTD_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define IOTD_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define IOTD_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define IOTD_SIGV4_MAX_EXPIRES 604800L /* seven days, S3's limit for presigned URLs */
#define IOTD_SIGV4_DATE_LEN 16         /* YYYYMMDDTHHMMSSZ */
#define IOTD_SIGV4_HEX_LEN 64          /* a hex SHA-256 or signature */

typedef struct iotd_sigv4_header {
    const char *name; /* any case; lower-cased in the canonical form */
    const char *value;
} iotd_sigv4_header;

/* Hex SHA-256 of len bytes into out (65 bytes with the NUL). */
int iotd_sigv4_sha256_hex(const void *data, size_t len, char out[IOTD_SIGV4_HEX_LEN + 1]);
/* Lower-case hex of a 32-byte digest (a SHA-256, a signature), NUL-terminated. */
void iotd_sigv4_digest_hex(const unsigned char digest[32], char out[IOTD_SIGV4_HEX_LEN + 1]);
/* Epoch seconds <-> YYYYMMDDTHHMMSSZ (UTC). */
int iotd_sigv4_format_date(int64_t t, char out[IOTD_SIGV4_DATE_LEN + 1]);
int iotd_sigv4_parse_date(const char *s, int64_t *t);
/* 2024-03-01T12:00:00Z, optionally with .fraction or +00:00 (S3 and ECS timestamps). */
int iotd_sigv4_parse_iso8601(const char *s, int64_t *t);
/* Start of the current window of ttl/2 seconds, aligned to the epoch. */
int64_t iotd_sigv4_window_start(time_t now, long ttl);
/* SigV4 URI encoding: unreserved kept, '/' kept when keep_slash, rest %XX. */
int iotd_sigv4_uri_encode(iotd_buf *out, const char *s, size_t len, int keep_slash);

/* METHOD\nPATH\nQUERY\nheaders\n\nsigned;names\nPAYLOAD_HASH. path and query are
 * already canonical (encoded, query sorted); headers are sorted here. */
int iotd_sigv4_canonical_request(iotd_buf *out, const char *method, const char *canonical_path,
                                 const char *canonical_query, const iotd_sigv4_header *headers, size_t n,
                                 const char *payload_hash);
/* The semicolon-separated, sorted, lower-case header names. */
int iotd_sigv4_signed_headers(iotd_buf *out, const iotd_sigv4_header *headers, size_t n);
/* DATE8/REGION/SERVICE/aws4_request */
int iotd_sigv4_scope(iotd_buf *out, const char *amz_date, const char *region, const char *service);
int iotd_sigv4_string_to_sign(iotd_buf *out, const char *amz_date, const char *scope,
                              const char *canonical_request);
int iotd_sigv4_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                           unsigned char key[32]);
int iotd_sigv4_signature(const char *secret, const char *amz_date, const char *region, const char *service,
                         const char *string_to_sign, char out[IOTD_SIGV4_HEX_LEN + 1]);

/* A presigned GET: the inputs, and every intermediate piece as output. */
typedef struct iotd_sigv4_presign_in {
    const char *base_url; /* scheme://host[:port], no trailing slash */
    const char *host;     /* the Host header the client will send */
    const char *path;     /* canonical (encoded) path, starting with '/' */
    const char *region;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when none */
    int64_t signing_time;
    long expires; /* 1..IOTD_SIGV4_MAX_EXPIRES */
} iotd_sigv4_presign_in;

typedef struct iotd_sigv4_presign_out {
    iotd_buf canonical_request;
    iotd_buf string_to_sign;
    char signature[IOTD_SIGV4_HEX_LEN + 1];
    iotd_buf url;
} iotd_sigv4_presign_out;

void iotd_sigv4_presign_out_init(iotd_sigv4_presign_out *o);
void iotd_sigv4_presign_out_free(iotd_sigv4_presign_out *o);
int iotd_sigv4_presign(const iotd_sigv4_presign_in *in, iotd_sigv4_presign_out *out);

#endif
