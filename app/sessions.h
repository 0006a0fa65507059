/*
 * sessions.h — editor sessions, their CSRF tokens, and the checks that
 * guard state-changing requests.
 *
 * A session token is 256 random bits sent to the browser as 64 hex digits
 * in the iotd_session cookie; Postgres keeps only its SHA-256, so any
 * worker can serve any editor. Sessions last two weeks from the last use
 * (the expiry is pushed forward at most once per IOTD_SESSION_RENEW_SECONDS).
 * Database calls return IOTD_OK, IOTD_DECLINED (see each), IOTD_AGAIN
 * when the database is unreachable, or IOTD_ERROR.
 */
#ifndef IOTD_SESSIONS_H
#define IOTD_SESSIONS_H

#include "arena.h"
#include "buf.h"
#include "db.h"

#define IOTD_SESSION_COOKIE "iotd_session"
#define IOTD_SESSION_TTL_SECONDS (14L * 24 * 3600) /* 1209600, sliding */
#define IOTD_SESSION_RENEW_SECONDS 300             /* at most one expiry write per 5 minutes */
#define IOTD_SESSION_TOKEN_CHARS 64                /* 32 random bytes, hex */
#define IOTD_CSRF_TOKEN_CHARS 64                   /* HMAC-SHA256, hex */

typedef struct iotd_session {
    long long user_id;
    const char *username;
    const char *token_hash;  /* SHA-256 of the token, hex */
    const char *csrf_secret; /* hex; never sent to the browser (see iotd_csrf_token) */
    long long expires_at;    /* Unix seconds */
    int renewed;             /* 1 when this lookup pushed the expiry forward (re-send the cookie) */
} iotd_session;

/* Starts a session for user_id. token_out receives a fresh token
 * (IOTD_SESSION_TOKEN_CHARS + 1 bytes) for the cookie. Sign-in always
 * calls this, so a token planted before sign-in never becomes valid.
 * Expired sessions are pruned here. */
int iotd_session_create(iotd_db *db, iotd_arena *a, long long user_id, char *token_out, iotd_session *out);
/* The live session for a cookie token. DECLINED: malformed, unknown or expired. */
int iotd_session_lookup(iotd_db *db, iotd_arena *a, const char *token, iotd_session *out);
/* Sign-out. DECLINED: no such session. */
int iotd_session_delete(iotd_db *db, const char *token);

/* The CSRF token to embed in this session's forms (replaces out's contents). */
int iotd_csrf_token(const iotd_session *s, iotd_buf *out);
/* IOTD_OK when submitted is this session's token (constant time), else IOTD_DECLINED. */
int iotd_csrf_check(const iotd_session *s, const char *submitted);

/* Set-Cookie values: "iotd_session=TOKEN; Path=/admin; HttpOnly; SameSite=Lax;
 * Max-Age=N[; Secure]" and the variant that clears it (empty, Max-Age=0).
 * secure: the request came over HTTPS. Both replace out's contents. */
int iotd_session_cookie(const char *token, int secure, long max_age, iotd_buf *out);
int iotd_session_cookie_clear(int secure, iotd_buf *out);

/* For a POST: IOTD_OK when Origin (or, without it, Referer) is absent or
 * names this site (scheme from https, host from the Host header), else
 * IOTD_DECLINED. An Origin of "null" is refused. */
int iotd_origin_check(const char *origin, const char *referer, const char *host, int https);

#endif
