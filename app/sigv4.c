/*
 * sigv4.c — AWS Signature Version 4, step by step, and presigned S3 GETs.
 *
 * libcurl signs ordinary S3 requests (CURLOPT_AWS_SIGV4), but it cannot
 * presign a URL, and presigned URLs are what browsers load, so this module
 * owns the canonical request and the signature. Hashes and HMACs come from
 * OpenSSL; nothing here is a hand-written digest.
 */
#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "iotd.h"

#define SIGV4_MAX_HEADERS 32
#define SIGV4_SERVICE_S3 "s3"

void iotd_sigv4_digest_hex(const unsigned char digest[32], char out[IOTD_SIGV4_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[IOTD_SIGV4_HEX_LEN] = '\0';
}

int iotd_sigv4_sha256_hex(const void *data, size_t len, char out[IOTD_SIGV4_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return IOTD_ERROR;
    iotd_sigv4_digest_hex(md, out);
    return IOTD_OK;
}

int iotd_sigv4_format_date(int64_t t, char out[IOTD_SIGV4_DATE_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return IOTD_ERROR;
    if (strftime(out, IOTD_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != IOTD_SIGV4_DATE_LEN)
        return IOTD_ERROR;
    return IOTD_OK;
}

int iotd_sigv4_parse_date(const char *s, int64_t *t)
{
    if (!s || strlen(s) != IOTD_SIGV4_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return IOTD_ERROR;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return IOTD_ERROR;
    struct tm tm = {0};
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return IOTD_ERROR;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return IOTD_ERROR;
    int mday = tm.tm_mday, mon = tm.tm_mon;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t v = timegm(&tm);
    /* timegm normalises 31 February into March; refuse such dates */
    if (v == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon - 1)
        return IOTD_ERROR;
    *t = (int64_t)v;
    return IOTD_OK;
}

int64_t iotd_sigv4_window_start(time_t now, long ttl)
{
    int64_t window = ttl / 2;
    if (window < 1)
        window = 1;
    int64_t n = (int64_t)now;
    int64_t rem = n % window;
    if (rem < 0)
        rem += window;
    return n - rem;
}

int iotd_sigv4_uri_encode(iotd_buf *out, const char *s, size_t len, int keep_slash)
{
    return iotd_buf_append_uri(out, s, len, keep_slash);
}

static int header_cmp(const void *a, const void *b)
{
    const iotd_sigv4_header *x = a, *y = b;
    return strcasecmp(x->name, y->name);
}

/* Sorted copy of the headers, so the caller's order does not matter. */
static int sort_headers(const iotd_sigv4_header *headers, size_t n, iotd_sigv4_header *sorted)
{
    if (n > SIGV4_MAX_HEADERS)
        return IOTD_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (!headers[i].name || !headers[i].value || !headers[i].name[0])
            return IOTD_ERROR;
        sorted[i] = headers[i];
    }
    qsort(sorted, n, sizeof *sorted, header_cmp);
    return IOTD_OK;
}

static int append_lower(iotd_buf *out, const char *s)
{
    for (; *s; s++)
        if (iotd_buf_putc(out, (char)tolower((unsigned char)*s)) != IOTD_OK)
            return IOTD_ERROR;
    return IOTD_OK;
}

/* Trimmed, with runs of spaces collapsed to one, as SigV4 asks. */
static int append_header_value(iotd_buf *out, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int pending_space = 0;
    for (; *v; v++) {
        if (*v == '\r' || *v == '\n')
            return IOTD_ERROR;
        if (*v == ' ' || *v == '\t') {
            pending_space = 1;
            continue;
        }
        if (pending_space && iotd_buf_putc(out, ' ') != IOTD_OK)
            return IOTD_ERROR;
        pending_space = 0;
        if (iotd_buf_putc(out, *v) != IOTD_OK)
            return IOTD_ERROR;
    }
    return IOTD_OK;
}

static int append_signed_names(iotd_buf *out, const iotd_sigv4_header *sorted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i && iotd_buf_putc(out, ';') != IOTD_OK)
            return IOTD_ERROR;
        if (append_lower(out, sorted[i].name) != IOTD_OK)
            return IOTD_ERROR;
    }
    return IOTD_OK;
}

int iotd_sigv4_signed_headers(iotd_buf *out, const iotd_sigv4_header *headers, size_t n)
{
    iotd_sigv4_header sorted[SIGV4_MAX_HEADERS];
    if (sort_headers(headers, n, sorted) != IOTD_OK)
        return IOTD_ERROR;
    return append_signed_names(out, sorted, n);
}

int iotd_sigv4_canonical_request(iotd_buf *out, const char *method, const char *canonical_path,
                                 const char *canonical_query, const iotd_sigv4_header *headers, size_t n,
                                 const char *payload_hash)
{
    iotd_sigv4_header sorted[SIGV4_MAX_HEADERS];
    if (sort_headers(headers, n, sorted) != IOTD_OK)
        return IOTD_ERROR;
    if (iotd_buf_printf(out, "%s\n%s\n%s\n", method, canonical_path,
                        canonical_query ? canonical_query : "") != IOTD_OK)
        return IOTD_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (append_lower(out, sorted[i].name) != IOTD_OK || iotd_buf_putc(out, ':') != IOTD_OK ||
            append_header_value(out, sorted[i].value) != IOTD_OK || iotd_buf_putc(out, '\n') != IOTD_OK)
            return IOTD_ERROR;
    }
    if (iotd_buf_putc(out, '\n') != IOTD_OK || append_signed_names(out, sorted, n) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_buf_printf(out, "\n%s", payload_hash);
}

int iotd_sigv4_scope(iotd_buf *out, const char *amz_date, const char *region, const char *service)
{
    if (strlen(amz_date) != IOTD_SIGV4_DATE_LEN)
        return IOTD_ERROR;
    return iotd_buf_printf(out, "%.8s/%s/%s/aws4_request", amz_date, region, service);
}

int iotd_sigv4_string_to_sign(iotd_buf *out, const char *amz_date, const char *scope,
                              const char *canonical_request)
{
    char hash[IOTD_SIGV4_HEX_LEN + 1];
    if (iotd_sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_buf_printf(out, IOTD_SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) ||
        len != 32)
        return IOTD_ERROR;
    return IOTD_OK;
}

int iotd_sigv4_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                           unsigned char key[32])
{
    char date8[9];
    char first[4 + 256];
    if (strlen(amz_date) < 8 || strlen(secret) > 250)
        return IOTD_ERROR;
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    snprintf(first, sizeof first, "AWS4%s", secret);
    unsigned char k1[32], k2[32], k3[32];
    int rc = IOTD_ERROR;
    if (hmac(first, strlen(first), date8, k1) == IOTD_OK && hmac(k1, 32, region, k2) == IOTD_OK &&
        hmac(k2, 32, service, k3) == IOTD_OK && hmac(k3, 32, "aws4_request", key) == IOTD_OK)
        rc = IOTD_OK;
    OPENSSL_cleanse(first, sizeof first);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    return rc;
}

int iotd_sigv4_signature(const char *secret, const char *amz_date, const char *region, const char *service,
                         const char *string_to_sign, char out[IOTD_SIGV4_HEX_LEN + 1])
{
    unsigned char key[32], sig[32];
    int rc = iotd_sigv4_signing_key(secret, amz_date, region, service, key);
    if (rc == IOTD_OK)
        rc = hmac(key, sizeof key, string_to_sign, sig);
    OPENSSL_cleanse(key, sizeof key);
    if (rc != IOTD_OK)
        return IOTD_ERROR;
    iotd_sigv4_digest_hex(sig, out);
    return IOTD_OK;
}

void iotd_sigv4_presign_out_init(iotd_sigv4_presign_out *o)
{
    iotd_buf_init(&o->canonical_request, 0);
    iotd_buf_init(&o->string_to_sign, 0);
    iotd_buf_init(&o->url, 0);
    o->signature[0] = '\0';
}

void iotd_sigv4_presign_out_free(iotd_sigv4_presign_out *o)
{
    iotd_buf_free(&o->canonical_request);
    iotd_buf_free(&o->string_to_sign);
    iotd_buf_free(&o->url);
}

/* The X-Amz-* query parameters in sorted order (Security-Token sorts before
 * SignedHeaders), without the signature. */
static int presign_query(iotd_buf *q, const iotd_sigv4_presign_in *in, const char *amz_date,
                         const char *scope)
{
    iotd_buf cred = IOTD_BUF_INIT;
    int rc = IOTD_ERROR;
    if (iotd_buf_printf(&cred, "%s/%s", in->access_key_id, scope) != IOTD_OK)
        goto out;
    if (iotd_buf_puts(q, "X-Amz-Algorithm=" IOTD_SIGV4_ALGORITHM "&X-Amz-Credential=") != IOTD_OK ||
        iotd_sigv4_uri_encode(q, cred.data, cred.len, 0) != IOTD_OK ||
        iotd_buf_printf(q, "&X-Amz-Date=%s&X-Amz-Expires=%ld", amz_date, in->expires) != IOTD_OK)
        goto out;
    if (in->session_token && in->session_token[0]) {
        if (iotd_buf_puts(q, "&X-Amz-Security-Token=") != IOTD_OK ||
            iotd_sigv4_uri_encode(q, in->session_token, strlen(in->session_token), 0) != IOTD_OK)
            goto out;
    }
    if (iotd_buf_puts(q, "&X-Amz-SignedHeaders=host") != IOTD_OK)
        goto out;
    rc = IOTD_OK;
out:
    iotd_buf_free(&cred);
    return rc;
}

int iotd_sigv4_presign(const iotd_sigv4_presign_in *in, iotd_sigv4_presign_out *out)
{
    if (!in->base_url || !in->host || !in->path || in->path[0] != '/' || !in->region || !in->access_key_id ||
        !in->secret_access_key || in->expires < 1 || in->expires > IOTD_SIGV4_MAX_EXPIRES)
        return IOTD_ERROR;
    char amz_date[IOTD_SIGV4_DATE_LEN + 1];
    if (iotd_sigv4_format_date(in->signing_time, amz_date) != IOTD_OK)
        return IOTD_ERROR;
    iotd_buf scope = IOTD_BUF_INIT, query = IOTD_BUF_INIT;
    iotd_buf_reset(&out->canonical_request);
    iotd_buf_reset(&out->string_to_sign);
    iotd_buf_reset(&out->url);
    iotd_sigv4_header host = {"host", in->host};
    int rc = IOTD_ERROR;
    if (iotd_sigv4_scope(&scope, amz_date, in->region, SIGV4_SERVICE_S3) != IOTD_OK ||
        presign_query(&query, in, amz_date, scope.data) != IOTD_OK)
        goto out;
    if (iotd_sigv4_canonical_request(&out->canonical_request, "GET", in->path, query.data, &host, 1,
                                     IOTD_SIGV4_UNSIGNED_PAYLOAD) != IOTD_OK ||
        iotd_sigv4_string_to_sign(&out->string_to_sign, amz_date, scope.data, out->canonical_request.data) !=
            IOTD_OK ||
        iotd_sigv4_signature(in->secret_access_key, amz_date, in->region, SIGV4_SERVICE_S3,
                             out->string_to_sign.data, out->signature) != IOTD_OK)
        goto out;
    if (iotd_buf_printf(&out->url, "%s%s?%s&X-Amz-Signature=%s", in->base_url, in->path, query.data,
                        out->signature) != IOTD_OK)
        goto out;
    rc = IOTD_OK;
out:
    iotd_buf_free(&scope);
    iotd_buf_free(&query);
    return rc;
}

int iotd_sigv4_parse_iso8601(const char *s, int64_t *t)
{
    if (!s)
        return IOTD_ERROR;
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return IOTD_ERROR;
    if (*rest == '.') {
        rest++;
        if (!isdigit((unsigned char)*rest))
            return IOTD_ERROR;
        while (isdigit((unsigned char)*rest))
            rest++;
    }
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
        return IOTD_ERROR;
    time_t v = timegm(&tm);
    if (v == (time_t)-1)
        return IOTD_ERROR;
    *t = (int64_t)v;
    return IOTD_OK;
}
