/*
 * sessions.c — server-side sessions in Postgres, CSRF tokens, cookies and
 * the Origin/Referer check.
 *
 * Tokens come from getrandom(2); the table holds SHA-256(token), so a
 * leaked table or backup cannot be replayed as a cookie. Expiry slides:
 * a lookup more than IOTD_SESSION_RENEW_SECONDS after the last renewal
 * moves it to two weeks from now, so an active editor stays signed in
 * while a busy page costs one write per five minutes, not one per request.
 *
 * The CSRF token is HMAC-SHA256(csrf_secret, "iotd-csrf"): bound to one
 * session, useless in another, and the secret itself never leaves the
 * server.
 */
#include "sessions.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iotd.h"
#include "random.h"

#define TOKEN_BYTES 32
#define CSRF_SECRET_BYTES 32
#define CSRF_MESSAGE "iotd-csrf"
#define HEX_SHA256_CHARS 64
#define SQLSTATE_FOREIGN_KEY_VIOLATION "23503"

static const iotd_db_stmt stmt_create = {
    "sessions_create",
    "WITH pruned AS (DELETE FROM sessions WHERE expires_at <= now()), "
    "s AS (INSERT INTO sessions (token_hash, user_id, csrf_secret, expires_at) "
    "VALUES ($1, $2::bigint, $3, now() + $4::bigint * interval '1 second') RETURNING user_id, expires_at) "
    "SELECT u.username, floor(extract(epoch FROM s.expires_at))::bigint FROM s JOIN users u ON u.id = "
    "s.user_id",
    4, 0};
static const iotd_db_stmt stmt_lookup = {
    "sessions_lookup",
    "SELECT s.user_id, u.username, s.csrf_secret, floor(extract(epoch FROM s.expires_at))::bigint, "
    "s.last_seen < now() - $2::bigint * interval '1 second' "
    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > now()",
    2, 1};
static const iotd_db_stmt stmt_renew = {
    "sessions_renew",
    "UPDATE sessions SET last_seen = now(), expires_at = now() + $2::bigint * interval '1 second' "
    "WHERE token_hash = $1 RETURNING floor(extract(epoch FROM expires_at))::bigint",
    2, 1};
static const iotd_db_stmt stmt_delete = {"sessions_delete", "DELETE FROM sessions WHERE token_hash = $1", 1,
                                         0};

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int is_token(const char *token)
{
    if (!token || strnlen(token, IOTD_SESSION_TOKEN_CHARS + 1) != IOTD_SESSION_TOKEN_CHARS)
        return 0;
    for (size_t i = 0; i < IOTD_SESSION_TOKEN_CHARS; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return 0;
    return 1;
}

static int hash_token(const char *token, char out[HEX_SHA256_CHARS + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(token, IOTD_SESSION_TOKEN_CHARS, md, &n, EVP_sha256(), NULL) != 1 ||
        n * 2 != HEX_SHA256_CHARS)
        return IOTD_ERROR;
    to_hex(md, n, out);
    return IOTD_OK;
}

static void ttl_params(char *ttl, size_t n, long seconds)
{
    snprintf(ttl, n, "%ld", seconds);
}

int iotd_session_create(iotd_db *db, iotd_arena *a, long long user_id, char *token_out, iotd_session *out)
{
    unsigned char raw[TOKEN_BYTES > CSRF_SECRET_BYTES ? TOKEN_BYTES : CSRF_SECRET_BYTES];
    char token[IOTD_SESSION_TOKEN_CHARS + 1], secret[2 * CSRF_SECRET_BYTES + 1], hash[HEX_SHA256_CHARS + 1];
    if (iotd_random_bytes(raw, TOKEN_BYTES) != IOTD_OK)
        return IOTD_ERROR;
    to_hex(raw, TOKEN_BYTES, token);
    if (iotd_random_bytes(raw, CSRF_SECRET_BYTES) != IOTD_OK)
        return IOTD_ERROR;
    to_hex(raw, CSRF_SECRET_BYTES, secret);
    OPENSSL_cleanse(raw, sizeof raw);
    if (hash_token(token, hash) != IOTD_OK)
        return IOTD_ERROR;

    char uid[24], ttl[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    ttl_params(ttl, sizeof ttl, IOTD_SESSION_TTL_SECONDS);
    const char *values[] = {hash, uid, secret, ttl};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_create, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1) {
        out->user_id = user_id;
        out->username = iotd_arena_strdup(a, PQgetvalue(r, 0, 0));
        out->expires_at = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        out->token_hash = iotd_arena_strdup(a, hash);
        out->csrf_secret = iotd_arena_strdup(a, secret);
        out->renewed = 0;
        if (!out->username || !out->token_hash || !out->csrf_secret)
            rc = IOTD_ERROR;
        else
            memcpy(token_out, token, sizeof token);
    } else if (rc == IOTD_OK ||
               (rc == IOTD_ERROR && strcmp(iotd_db_sqlstate(r), SQLSTATE_FOREIGN_KEY_VIOLATION) == 0)) {
        rc = IOTD_DECLINED; /* no such user */
    }
    PQclear(r);
    OPENSSL_cleanse(token, sizeof token);
    return rc;
}

int iotd_session_lookup(iotd_db *db, iotd_arena *a, const char *token, iotd_session *out)
{
    char hash[HEX_SHA256_CHARS + 1], ttl[24], renew[24];
    if (!is_token(token))
        return IOTD_DECLINED;
    if (hash_token(token, hash) != IOTD_OK)
        return IOTD_ERROR;
    ttl_params(renew, sizeof renew, IOTD_SESSION_RENEW_SECONDS);
    const char *values[] = {hash, renew};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_lookup, values, &r);
    int stale = 0;
    if (rc == IOTD_OK && PQntuples(r) == 0) {
        rc = IOTD_DECLINED;
    } else if (rc == IOTD_OK) {
        out->user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        out->username = iotd_arena_strdup(a, PQgetvalue(r, 0, 1));
        out->csrf_secret = iotd_arena_strdup(a, PQgetvalue(r, 0, 2));
        out->expires_at = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        out->token_hash = iotd_arena_strdup(a, hash);
        out->renewed = 0;
        stale = PQgetvalue(r, 0, 4)[0] == 't';
        if (!out->username || !out->csrf_secret || !out->token_hash)
            rc = IOTD_ERROR;
    }
    PQclear(r);
    if (rc != IOTD_OK || !stale)
        return rc;

    ttl_params(ttl, sizeof ttl, IOTD_SESSION_TTL_SECONDS);
    const char *renew_values[] = {hash, ttl};
    rc = iotd_db_exec(db, &stmt_renew, renew_values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1) {
        out->expires_at = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        out->renewed = 1;
    } else if (rc == IOTD_OK) {
        rc = IOTD_DECLINED; /* signed out meanwhile */
    }
    PQclear(r);
    return rc;
}

int iotd_session_delete(iotd_db *db, const char *token)
{
    char hash[HEX_SHA256_CHARS + 1];
    if (!is_token(token))
        return IOTD_DECLINED;
    if (hash_token(token, hash) != IOTD_OK)
        return IOTD_ERROR;
    const char *values[] = {hash};
    return iotd_db_change(db, &stmt_delete, values);
}

static int csrf_expected(const iotd_session *s, char out[IOTD_CSRF_TOKEN_CHARS + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!s || !s->csrf_secret || !*s->csrf_secret)
        return IOTD_ERROR;
    if (!HMAC(EVP_sha256(), s->csrf_secret, (int)strlen(s->csrf_secret), (const unsigned char *)CSRF_MESSAGE,
              sizeof CSRF_MESSAGE - 1, md, &n) ||
        n * 2 != IOTD_CSRF_TOKEN_CHARS)
        return IOTD_ERROR;
    to_hex(md, n, out);
    return IOTD_OK;
}

int iotd_csrf_token(const iotd_session *s, iotd_buf *out)
{
    char expected[IOTD_CSRF_TOKEN_CHARS + 1];
    if (csrf_expected(s, expected) != IOTD_OK)
        return IOTD_ERROR;
    iotd_buf_reset(out);
    return iotd_buf_puts(out, expected);
}

int iotd_csrf_check(const iotd_session *s, const char *submitted)
{
    char expected[IOTD_CSRF_TOKEN_CHARS + 1];
    if (!submitted || strnlen(submitted, IOTD_CSRF_TOKEN_CHARS + 1) != IOTD_CSRF_TOKEN_CHARS ||
        csrf_expected(s, expected) != IOTD_OK)
        return IOTD_DECLINED;
    return CRYPTO_memcmp(expected, submitted, IOTD_CSRF_TOKEN_CHARS) == 0 ? IOTD_OK : IOTD_DECLINED;
}

int iotd_session_cookie(const char *token, int secure, long max_age, iotd_buf *out)
{
    if (!token || (*token && !is_token(token)) || max_age < 0)
        return IOTD_ERROR;
    iotd_buf_reset(out);
    return iotd_buf_printf(out, IOTD_SESSION_COOKIE "=%s; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=%ld%s",
                           token, max_age, secure ? "; Secure" : "");
}

int iotd_session_cookie_clear(int secure, iotd_buf *out)
{
    return iotd_session_cookie("", secure, 0, out);
}

/* "scheme://authority..." → its authority (lower-cased, default port
 * dropped) in out, when the scheme matches. 0 when it does not fit. */
static int site_of(const char *url, int https, char *out, size_t outlen)
{
    const char *prefix = https ? "https://" : "http://";
    size_t plen = strlen(prefix);
    if (strncasecmp(url, prefix, plen) != 0)
        return 0;
    const char *auth = url + plen;
    size_t n = strcspn(auth, "/?#");
    if (n == 0 || n >= outlen || memchr(auth, '@', n))
        return 0;
    memcpy(out, auth, n);
    out[n] = '\0';
    return 1;
}

static void normalise_host(char *host, int https)
{
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *default_port = https ? ":443" : ":80";
    size_t n = strlen(host), d = strlen(default_port);
    if (n > d && strcmp(host + n - d, default_port) == 0)
        host[n - d] = '\0';
}

int iotd_origin_check(const char *origin, const char *referer, const char *host, int https)
{
    const char *claimed = origin && *origin ? origin : referer && *referer ? referer : NULL;
    if (!claimed)
        return IOTD_OK; /* neither sent: the CSRF token alone decides */
    char ours[IOTD_MAX_HOST_BYTES + 1], theirs[IOTD_MAX_HOST_BYTES + 1];
    if (!host || !*host || strlen(host) > IOTD_MAX_HOST_BYTES)
        return IOTD_DECLINED;
    memcpy(ours, host, strlen(host) + 1);
    if (!site_of(claimed, https, theirs, sizeof theirs))
        return IOTD_DECLINED;
    normalise_host(ours, https);
    normalise_host(theirs, https);
    return strcmp(ours, theirs) == 0 ? IOTD_OK : IOTD_DECLINED;
}
