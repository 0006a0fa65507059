/*
 * check_accounts.c — the users repository, sessions, CSRF tokens, cookies,
 * the Origin/Referer check and sign-in throttling, against a real
 * PostgreSQL: a scratch database is created, migrated with the project's
 * migrations, and dropped at the end. Needs the PG* variables of the local
 * stack (./dev check, or ./dev pg-start and eval "$(./dev env)"); skips
 * (exit 77) without them.
 */
#include <check.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "db.h"
#include "iotd.h"
#include "migrate.h"
#include "password.h"
#include "sessions.h"
#include "throttle.h"
#include "users.h"

#define DJANGO_PASSWORD "correct horse battery staple \xc3\xbc"
/* made with Python's hashlib (see check_password.c) */
#define DJANGO_260000                                                                                        \
    "pbkdf2_sha256$260000$yVuNpBJ7ShYEmhWJvbjA1Q$nvF9D/OZZt6QraaI1SHdh7gA1JTaRmgqQDZ4cZ41qco="

static char dbname[64];
static char conninfo[128];
static iotd_db *db;
static iotd_arena *arena;

static void setup(void)
{
    db = iotd_db_new(conninfo);
    arena = iotd_arena_new(16 * 1024);
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void)
{
    iotd_db_free(db);
    iotd_arena_destroy(arena);
}

/* Runs SQL on a side connection; returns the first value of the first row ("" when none). */
static char *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql(const char *fmt, ...)
{
    static char value[256];
    char q[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
                  PQresultErrorMessage(r));
    value[0] = '\0';
    if (PQntuples(r) > 0 && PQnfields(r) > 0)
        snprintf(value, sizeof value, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return value;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n;
    ck_assert_int_eq(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static long long add_user(const char *name, const char *password)
{
    long long id = 0;
    ck_assert_int_eq(iotd_users_create(db, name, password, &id), IOTD_OK);
    ck_assert_int_gt(id, 0);
    return id;
}

/* ---- users */

START_TEST(test_users_crud)
{
    long long before, after;
    ck_assert_int_eq(iotd_users_count(db, &before), IOTD_OK);
    long long id = add_user("Alice", "first password");
    ck_assert_int_eq(iotd_users_count(db, &after), IOTD_OK);
    ck_assert_int_eq(after, before + 1);

    iotd_user u;
    ck_assert_int_eq(iotd_users_get(db, arena, "aLiCe", &u), IOTD_OK);
    ck_assert_int_eq(u.id, id);
    ck_assert_str_eq(u.username, "Alice");
    ck_assert_str_eq(u.last_login, "");
    ck_assert_int_eq(strlen(u.created_at), 20);
    ck_assert_int_eq(iotd_password_verify("first password", u.password_hash), IOTD_OK);
    ck_assert_int_eq(strncmp(u.password_hash, "pbkdf2_sha256$600000$", 21), 0);

    iotd_user *list;
    size_t n;
    ck_assert_int_eq(iotd_users_list(db, arena, &list, &n), IOTD_OK);
    ck_assert_uint_eq(n, (size_t)after);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += strcmp(list[i].username, "Alice") == 0;
    ck_assert_int_eq(found, 1);

    ck_assert_int_eq(iotd_users_set_password(db, "ALICE", "second password"), IOTD_OK);
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "alice", "first password", &u), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "alice", "second password", &u), IOTD_OK);
    ck_assert_int_eq(u.id, id);
    ck_assert_int_eq(iotd_users_get(db, arena, "alice", &u), IOTD_OK);
    ck_assert_int_eq(strlen(u.last_login), 20);

    ck_assert_int_eq(iotd_users_delete(db, "ALICE"), IOTD_OK);
    ck_assert_int_eq(iotd_users_get(db, arena, "alice", &u), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_delete(db, "alice"), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_set_password(db, "alice", "third password"), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_count(db, &after), IOTD_OK);
    ck_assert_int_eq(after, before);
}
END_TEST

START_TEST(test_usernames)
{
    add_user("bob", "password one");
    ck_assert_int_eq(iotd_users_create(db, "BOB", "password two", NULL), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_create(db, "Bob", "password two", NULL), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_create(db, "bad name", "password", NULL), IOTD_ERROR);
    ck_assert_int_eq(iotd_users_create(db, "", "password", NULL), IOTD_ERROR);
    ck_assert_int_eq(iotd_users_create(db, "x'; DROP TABLE users; --", "password", NULL), IOTD_ERROR);
    char name[160];
    memset(name, 'n', 151);
    name[151] = '\0';
    ck_assert_int_eq(iotd_users_valid_username(name), 0);
    ck_assert_int_eq(iotd_users_create(db, name, "password", NULL), IOTD_ERROR);
    name[150] = '\0';
    add_user(name, "password");
    add_user("zo\xc3\xab.o+k@x-y_z", "password"); /* Django allows letters beyond ASCII */
    ck_assert_int_eq(iotd_users_valid_username("tab\tname"), 0);
    ck_assert_int_eq(iotd_users_valid_username("slash/name"), 0);
}
END_TEST

START_TEST(test_authenticate_unknown_and_upgrade)
{
    iotd_user u;
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "no-such-user", "whatever", &u), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "not a valid name", "whatever", &u), IOTD_DECLINED);
    /* an account moved over from Django with an older iteration count */
    sql("INSERT INTO users (username, password_hash) VALUES ('django', '%s')", DJANGO_260000);
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "django", "wrong", &u), IOTD_DECLINED);
    ck_assert_str_eq(sql("SELECT password_hash FROM users WHERE username = 'django'"), DJANGO_260000);
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "Django", DJANGO_PASSWORD, &u), IOTD_OK);
    char *stored = sql("SELECT password_hash FROM users WHERE username = 'django'");
    ck_assert_int_eq(strncmp(stored, "pbkdf2_sha256$600000$", 21), 0);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, stored), IOTD_OK);
    /* an unreadable stored hash refuses sign-in rather than failing */
    sql("INSERT INTO users (username, password_hash) VALUES ('broken', '!')");
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "broken", "!", &u), IOTD_DECLINED);
}
END_TEST

START_TEST(test_create_first)
{
    sql("DELETE FROM users");
    long long id = 0, count;
    ck_assert_int_eq(iotd_users_create_first(db, "admin", "first admin password", &id), IOTD_OK);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(iotd_users_create_first(db, "admin", "other password", &id), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_create_first(db, "someone", "other password", &id), IOTD_DECLINED);
    ck_assert_int_eq(iotd_users_count(db, &count), IOTD_OK);
    ck_assert_int_eq(count, 1);
    iotd_user u;
    ck_assert_int_eq(iotd_users_authenticate(db, arena, "admin", "first admin password", &u), IOTD_OK);
}
END_TEST

/* ---- sessions */

START_TEST(test_session_lifecycle)
{
    long long uid = add_user("carol", "carol password");
    char token[IOTD_SESSION_TOKEN_CHARS + 1], hash[65];
    iotd_session s, found;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token, &s), IOTD_OK);
    ck_assert_uint_eq(strlen(token), 64);
    ck_assert_uint_eq(strspn(token, "0123456789abcdef"), 64);
    ck_assert_str_eq(s.username, "carol");
    ck_assert_int_eq(s.user_id, uid);
    long long now = (long long)time(NULL);
    ck_assert_int_ge(s.expires_at, now + IOTD_SESSION_TTL_SECONDS - 60);
    ck_assert_int_le(s.expires_at, now + IOTD_SESSION_TTL_SECONDS + 60);

    /* only the SHA-256 of the token is stored */
    sha256_hex(token, hash);
    ck_assert_str_eq(s.token_hash, hash);
    ck_assert_str_eq(sql("SELECT count(*) FROM sessions WHERE token_hash = '%s'", token), "0");
    ck_assert_str_eq(sql("SELECT count(*) FROM sessions WHERE token_hash = '%s'", hash), "1");

    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &found), IOTD_OK);
    ck_assert_int_eq(found.user_id, uid);
    ck_assert_str_eq(found.username, "carol");
    ck_assert_str_eq(found.csrf_secret, s.csrf_secret);
    ck_assert_int_eq(found.renewed, 0);

    /* another sign-in gets another token */
    char token2[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s2;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token2, &s2), IOTD_OK);
    ck_assert_str_ne(token, token2);
    ck_assert_str_ne(s.csrf_secret, s2.csrf_secret);

    /* malformed or unknown tokens */
    char upper[IOTD_SESSION_TOKEN_CHARS + 1];
    for (int i = 0; i <= IOTD_SESSION_TOKEN_CHARS; i++)
        upper[i] = (char)(token[i] >= 'a' && token[i] <= 'f' ? token[i] - 32 : token[i]);
    const char *bad[] = {"", "abc", upper, "0000000000000000000000000000000000000000000000000000000000000000",
                         "' OR '1'='1"};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++)
        ck_assert_int_eq(iotd_session_lookup(db, arena, bad[i], &found), IOTD_DECLINED);
    ck_assert_int_eq(iotd_session_lookup(db, arena, NULL, &found), IOTD_DECLINED);

    /* sign-out */
    ck_assert_int_eq(iotd_session_delete(db, token), IOTD_OK);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &found), IOTD_DECLINED);
    ck_assert_int_eq(iotd_session_delete(db, token), IOTD_DECLINED);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token2, &found), IOTD_OK);

    /* no such user */
    ck_assert_int_eq(iotd_session_create(db, arena, 987654321, token, &s), IOTD_DECLINED);
}
END_TEST

START_TEST(test_session_expiry)
{
    long long uid = add_user("dave", "dave password");
    char token[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token, &s), IOTD_OK);
    sql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = '%s'", s.token_hash);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_DECLINED);
    /* the next sign-in prunes expired sessions */
    char other[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s2;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, other, &s2), IOTD_OK);
    char hash[65];
    sha256_hex(token, hash);
    ck_assert_str_eq(sql("SELECT count(*) FROM sessions WHERE token_hash = '%s'", hash), "0");
}
END_TEST

START_TEST(test_session_sliding_renewal)
{
    long long uid = add_user("erin", "erin password");
    char token[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token, &s), IOTD_OK);
    long long now = (long long)time(NULL);

    /* used recently: no write, expiry unchanged */
    sql("UPDATE sessions SET last_seen = now() - interval '1 minute', expires_at = now() + interval '1 hour' "
        "WHERE token_hash = '%s'",
        s.token_hash);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_OK);
    ck_assert_int_eq(s.renewed, 0);
    ck_assert_int_le(s.expires_at, now + 3600 + 60);

    /* last renewed over five minutes ago: pushed to two weeks from now */
    sql("UPDATE sessions SET last_seen = now() - interval '6 minutes', expires_at = now() + interval '1 "
        "hour' "
        "WHERE token_hash = '%s'",
        s.token_hash);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_OK);
    ck_assert_int_eq(s.renewed, 1);
    ck_assert_int_ge(s.expires_at, now + IOTD_SESSION_TTL_SECONDS - 60);
    ck_assert_str_eq(
        sql("SELECT expires_at > now() + interval '13 days' FROM sessions WHERE token_hash = '%s'",
            s.token_hash),
        "t");
    /* and the very next request writes nothing */
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_OK);
    ck_assert_int_eq(s.renewed, 0);
}
END_TEST

START_TEST(test_sessions_end_with_password_change_and_user)
{
    long long uid = add_user("frank", "frank password");
    char token[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token, &s), IOTD_OK);
    ck_assert_int_eq(iotd_users_set_password(db, "frank", "new frank password"), IOTD_OK);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_DECLINED);
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token, &s), IOTD_OK);
    ck_assert_int_eq(iotd_users_delete(db, "frank"), IOTD_OK);
    ck_assert_int_eq(iotd_session_lookup(db, arena, token, &s), IOTD_DECLINED);
    ck_assert_str_eq(sql("SELECT count(*) FROM sessions WHERE user_id = %lld", uid), "0");
}
END_TEST

/* ---- CSRF */

START_TEST(test_csrf)
{
    long long uid = add_user("grace", "grace password");
    char token_a[IOTD_SESSION_TOKEN_CHARS + 1], token_b[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session a, b, a_again;
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token_a, &a), IOTD_OK);
    ck_assert_int_eq(iotd_session_create(db, arena, uid, token_b, &b), IOTD_OK);
    iotd_buf ta = IOTD_BUF_INIT, tb = IOTD_BUF_INIT, again = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_csrf_token(&a, &ta), IOTD_OK);
    ck_assert_int_eq(iotd_csrf_token(&b, &tb), IOTD_OK);
    ck_assert_uint_eq(ta.len, IOTD_CSRF_TOKEN_CHARS);
    ck_assert_uint_eq(strspn(ta.data, "0123456789abcdef"), IOTD_CSRF_TOKEN_CHARS);
    ck_assert_str_ne(ta.data, a.csrf_secret); /* the secret itself is never shown */

    /* the same token on the next request (session read back from the database) */
    ck_assert_int_eq(iotd_session_lookup(db, arena, token_a, &a_again), IOTD_OK);
    ck_assert_int_eq(iotd_csrf_token(&a_again, &again), IOTD_OK);
    ck_assert_str_eq(again.data, ta.data);
    ck_assert_int_eq(iotd_csrf_check(&a_again, ta.data), IOTD_OK);

    /* forged, truncated, extended, from another session */
    char forged[IOTD_CSRF_TOKEN_CHARS + 1];
    memcpy(forged, ta.data, sizeof forged);
    forged[10] = forged[10] == '0' ? '1' : '0';
    ck_assert_int_eq(iotd_csrf_check(&a, forged), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(&a, tb.data), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(&b, ta.data), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(&b, tb.data), IOTD_OK);
    char longer[IOTD_CSRF_TOKEN_CHARS + 2];
    snprintf(longer, sizeof longer, "%s0", ta.data);
    ck_assert_int_eq(iotd_csrf_check(&a, longer), IOTD_DECLINED);
    ta.data[IOTD_CSRF_TOKEN_CHARS - 1] = '\0';
    ck_assert_int_eq(iotd_csrf_check(&a, ta.data), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(&a, ""), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(&a, NULL), IOTD_DECLINED);
    ck_assert_int_eq(iotd_csrf_check(NULL, tb.data), IOTD_DECLINED);
    iotd_buf_free(&ta);
    iotd_buf_free(&tb);
    iotd_buf_free(&again);
}
END_TEST

START_TEST(test_cookies)
{
    const char *token = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_session_cookie(token, 0, IOTD_SESSION_TTL_SECONDS, &b), IOTD_OK);
    ck_assert_str_eq(b.data, "iotd_session=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff; "
                             "Path=/admin; HttpOnly; SameSite=Lax; Max-Age=1209600");
    ck_assert_int_eq(iotd_session_cookie(token, 1, IOTD_SESSION_TTL_SECONDS, &b), IOTD_OK);
    ck_assert_str_eq(b.data, "iotd_session=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff; "
                             "Path=/admin; HttpOnly; SameSite=Lax; Max-Age=1209600; Secure");
    ck_assert_int_eq(iotd_session_cookie_clear(1, &b), IOTD_OK);
    ck_assert_str_eq(b.data, "iotd_session=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
    ck_assert_int_eq(iotd_session_cookie_clear(0, &b), IOTD_OK);
    ck_assert_str_eq(b.data, "iotd_session=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0");
    /* nothing but a token goes into the header */
    ck_assert_int_eq(iotd_session_cookie("x; Domain=evil.example", 0, 60, &b), IOTD_ERROR);
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_origin_check)
{
    const char *host = "iotd.example.com";
    /* absent: allowed (the CSRF token still decides) */
    ck_assert_int_eq(iotd_origin_check(NULL, NULL, host, 1), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("", "", host, 1), IOTD_OK);
    /* same origin */
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", NULL, host, 1), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("HTTPS://IOTD.Example.com", NULL, host, 1), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com:443", NULL, host, 1), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", NULL, "iotd.example.com:443", 1), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("http://127.0.0.1:8080", NULL, "127.0.0.1:8080", 0), IOTD_OK);
    ck_assert_int_eq(iotd_origin_check(NULL, "https://iotd.example.com/admin/login?next=/admin/", host, 1),
                     IOTD_OK);
    ck_assert_int_eq(iotd_origin_check(NULL, "https://iotd.example.com", host, 1), IOTD_OK);
    /* Origin wins over Referer */
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", "https://evil.example/", host, 1),
                     IOTD_OK);
    ck_assert_int_eq(iotd_origin_check("https://evil.example", "https://iotd.example.com/", host, 1),
                     IOTD_DECLINED);
    /* cross-site, wrong scheme or port, look-alikes */
    const char *bad[] = {"https://evil.example",
                         "null",
                         "http://iotd.example.com",
                         "https://iotd.example.com:8443",
                         "https://iotd.example.com.evil.example",
                         "https://eviliotd.example.com",
                         "https://iotd.example.co",
                         "https://user@iotd.example.com",
                         "iotd.example.com",
                         "https://"};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++) {
        ck_assert_msg(iotd_origin_check(bad[i], NULL, host, 1) == IOTD_DECLINED, "origin %s", bad[i]);
        char referer[128];
        snprintf(referer, sizeof referer, "%s/admin/", bad[i]);
        ck_assert_msg(iotd_origin_check(NULL, referer, host, 1) == IOTD_DECLINED, "referer %s", referer);
    }
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", NULL, host, 0), IOTD_DECLINED);
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", NULL, NULL, 1), IOTD_DECLINED);
    ck_assert_int_eq(iotd_origin_check("https://iotd.example.com", NULL, "", 1), IOTD_DECLINED);
}
END_TEST

/* ---- throttling */

static void fail_n(const char *user, const char *addr_prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "%s%d", addr_prefix, i);
        ck_assert_int_eq(iotd_throttle_record_failure(db, user, addr), IOTD_OK);
    }
}

START_TEST(test_throttle_per_username)
{
    long retry = -1;
    add_user("heidi", "heidi password");
    /* failures from different addresses, so only the username counts */
    fail_n("heidi", "198.51.100.", IOTD_THROTTLE_MAX_PER_USERNAME - 1);
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_OK);
    ck_assert_int_eq(retry, 0);
    fail_n("HEIDI", "198.51.101.", 1); /* any case counts for the same name */
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_DECLINED);
    ck_assert_int_gt(retry, 0);
    ck_assert_int_le(retry, IOTD_THROTTLE_WINDOW_SECONDS);
    ck_assert_int_eq(iotd_throttle_check(db, "Heidi", "203.0.113.2", &retry), IOTD_DECLINED);
    ck_assert_int_eq(iotd_throttle_check(db, "someone-else", "203.0.113.1", &retry), IOTD_OK);

    /* retry-after counts down from the fifth most recent failure */
    sql("UPDATE login_attempts SET attempted_at = now() - interval '14 minutes' WHERE username = 'heidi'");
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_DECLINED);
    ck_assert_int_ge(retry, 55);
    ck_assert_int_le(retry, 61);
    /* out of the window: allowed again */
    sql("UPDATE login_attempts SET attempted_at = now() - interval '16 minutes' WHERE username = 'heidi'");
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_OK);
    ck_assert_int_eq(retry, 0);

    /* cleared after a successful sign-in */
    fail_n("heidi", "198.51.102.", IOTD_THROTTLE_MAX_PER_USERNAME);
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_DECLINED);
    ck_assert_int_eq(iotd_throttle_clear(db, "Heidi"), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_check(db, "heidi", "203.0.113.1", &retry), IOTD_OK);
}
END_TEST

START_TEST(test_throttle_unknown_username_same)
{
    long retry_known = 0, retry_unknown = 0;
    add_user("ivan", "ivan password");
    fail_n("ivan", "198.51.103.", IOTD_THROTTLE_MAX_PER_USERNAME);
    fail_n("no-such-ivan", "198.51.104.", IOTD_THROTTLE_MAX_PER_USERNAME);
    ck_assert_int_eq(iotd_throttle_check(db, "ivan", "203.0.113.3", &retry_known), IOTD_DECLINED);
    ck_assert_int_eq(iotd_throttle_check(db, "no-such-ivan", "203.0.113.3", &retry_unknown), IOTD_DECLINED);
    ck_assert_int_gt(retry_unknown, 0);
    ck_assert_int_le(labs(retry_known - retry_unknown), 2);
    /* one failure short is allowed for both */
    fail_n("ivan2", "198.51.105.", IOTD_THROTTLE_MAX_PER_USERNAME - 1);
    fail_n("no-such-ivan2", "198.51.106.", IOTD_THROTTLE_MAX_PER_USERNAME - 1);
    ck_assert_int_eq(iotd_throttle_check(db, "ivan2", "203.0.113.3", &retry_known), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_check(db, "no-such-ivan2", "203.0.113.3", &retry_unknown), IOTD_OK);
}
END_TEST

START_TEST(test_throttle_per_address)
{
    long retry = 0;
    const char *addr = "2001:db8::bad";
    for (int i = 0; i < IOTD_THROTTLE_MAX_PER_ADDR - 1; i++) {
        char user[32];
        snprintf(user, sizeof user, "sprayed-%d", i);
        ck_assert_int_eq(iotd_throttle_record_failure(db, user, addr), IOTD_OK);
    }
    ck_assert_int_eq(iotd_throttle_check(db, "fresh-name", addr, &retry), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_record_failure(db, "sprayed-last", addr), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_check(db, "fresh-name", addr, &retry), IOTD_DECLINED);
    ck_assert_int_gt(retry, 0);
    ck_assert_int_eq(iotd_throttle_check(db, "fresh-name", "2001:db8::900d", &retry), IOTD_OK);
    /* a success clears the username, not the address */
    ck_assert_int_eq(iotd_throttle_clear(db, "sprayed-last"), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_check(db, "sprayed-last", addr, &retry), IOTD_DECLINED);
    sql("UPDATE login_attempts SET attempted_at = now() - interval '15 minutes 1 second' WHERE client_addr = "
        "'%s'",
        addr);
    ck_assert_int_eq(iotd_throttle_check(db, "fresh-name", addr, &retry), IOTD_OK);
}
END_TEST

START_TEST(test_throttle_prunes_and_bounds)
{
    sql("INSERT INTO login_attempts (username, client_addr, attempted_at) "
        "VALUES ('ancient', '192.0.2.1', now() - interval '2 hours')");
    ck_assert_int_eq(iotd_throttle_record_failure(db, "judy", "192.0.2.2"), IOTD_OK);
    ck_assert_str_eq(sql("SELECT count(*) FROM login_attempts WHERE username = 'ancient'"), "0");
    /* over-long inputs are cut, not refused, and still counted */
    char longname[400], longaddr[200];
    memset(longname, 'L', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    memset(longaddr, 'a', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    long retry;
    for (int i = 0; i < IOTD_THROTTLE_MAX_PER_USERNAME; i++)
        ck_assert_int_eq(iotd_throttle_record_failure(db, longname, longaddr), IOTD_OK);
    ck_assert_int_eq(iotd_throttle_check(db, longname, "192.0.2.3", &retry), IOTD_DECLINED);
    ck_assert_int_eq(iotd_throttle_record_failure(db, "sql'; --", "192.0.2.4"), IOTD_OK);
    ck_assert_str_eq(sql("SELECT count(*) FROM login_attempts WHERE username = 'sql''; --'"), "1");
}
END_TEST

/* ---- scratch database */

static int create_database(void)
{
    snprintf(dbname, sizeof dbname, "iotd_accounts_%d", (int)getpid());
    snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
    PGconn *c = PQconnectdb("dbname=postgres");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "check_accounts: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return IOTD_ERROR;
    }
    char q[128];
    snprintf(q, sizeof q, "CREATE DATABASE %s", dbname);
    PGresult *r = PQexec(c, q);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "check_accounts: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return IOTD_ERROR;
    const char *src = getenv("IOTD_SRCDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/db/migrations", src ? src : ".");
    iotd_db *m = iotd_db_new(conninfo);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = m && devnull ? iotd_migrate_run(m, dir, devnull) : IOTD_ERROR;
    if (devnull)
        fclose(devnull);
    iotd_db_free(m);
    return rc;
}

static void drop_database(void)
{
    PGconn *c = PQconnectdb("dbname=postgres");
    char q[128];
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    PQclear(PQexec(c, q));
    PQfinish(c);
}

int main(void)
{
    if (!getenv("PGHOST")) {
        fprintf(stderr, "check_accounts: SKIP: no PostgreSQL (PGHOST unset; run ./dev check)\n");
        return 77;
    }
    if (create_database() != IOTD_OK) {
        drop_database();
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("accounts");
    TCase *users = tcase_create("users");
    TCase *sessions = tcase_create("sessions");
    TCase *throttle = tcase_create("throttle");
    TCase *all[] = {users, sessions, throttle};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(all); i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 120);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(users, test_users_crud);
    tcase_add_test(users, test_usernames);
    tcase_add_test(users, test_authenticate_unknown_and_upgrade);
    tcase_add_test(users, test_create_first);
    tcase_add_test(sessions, test_session_lifecycle);
    tcase_add_test(sessions, test_session_expiry);
    tcase_add_test(sessions, test_session_sliding_renewal);
    tcase_add_test(sessions, test_sessions_end_with_password_change_and_user);
    tcase_add_test(sessions, test_csrf);
    tcase_add_test(sessions, test_cookies);
    tcase_add_test(sessions, test_origin_check);
    tcase_add_test(throttle, test_throttle_per_username);
    tcase_add_test(throttle, test_throttle_unknown_username_same);
    tcase_add_test(throttle, test_throttle_per_address);
    tcase_add_test(throttle, test_throttle_prunes_and_bounds);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    drop_database();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
