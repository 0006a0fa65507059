/*
 * auth.c — /admin/login and /admin/logout.
 *
 * The sign-in form has no session yet, so its CSRF protection is a
 * double-submit token: a random value in a SameSite=Strict cookie that
 * must come back in the form. Failed sign-ins are throttled in Postgres
 * and answered with the same words whether or not the username exists.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "handlers.h"
#include "iotd.h"
#include "log.h"
#include "random.h"
#include "slots.h"
#include "throttle.h"
#include "users.h"
#include "view.h"
#include "worker.h"

#define LOGIN_TOKEN_CHARS 32
#define LOGIN_FAILED_MESSAGE "Please enter a correct username and password. Both are case-sensitive."
#define MAX_PASSWORD_BYTES 4096
#define SIGNIN_BUSY_RETRY_AFTER "1" /* seconds: a hash takes well under one */

static const char *next_or_default(const char *next)
{
    return iotd_admin_safe_next(next) ? next : "/admin/";
}

/* Renders the form with a fresh double-submit token. */
static int login_form(iotd_ctx *ctx, int status, const char *username, const char *next, const char *error)
{
    char token[LOGIN_TOKEN_CHARS + 1];
    if (iotd_random_string(token, sizeof token, "0123456789abcdef") != IOTD_OK)
        return iotd_view_error(ctx, 500, NULL);
    char cookie[160];
    snprintf(cookie, sizeof cookie,
             IOTD_LOGIN_COOKIE "=%s; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=3600%s", token,
             ctx->req->is_https ? "; Secure" : "");
    if (iotd_response_header(ctx->res, "Set-Cookie", cookie) != IOTD_OK)
        return iotd_view_error(ctx, 500, NULL);
    json_object *page = iotd_admin_page(ctx, NULL, "Sign in");
    if (!page)
        return iotd_view_error(ctx, 500, NULL);
    json_object_object_add(page, "login_token", json_object_new_string(token));
    json_object_object_add(page, "next", json_object_new_string(next_or_default(next)));
    json_object_object_add(page, "form_username", json_object_new_string(username ? username : ""));
    if (error)
        json_object_object_add(page, "error", json_object_new_string(error));
    return iotd_view_render(ctx, status, "admin_login", page);
}

int iotd_handle_login_form(iotd_ctx *ctx)
{
    iotd_session s;
    int rc = iotd_admin_session(ctx, &s);
    const char *next = iotd_kv_get(&ctx->req->query, "next");
    if (rc == IOTD_OK)
        return iotd_admin_redirect(ctx, next_or_default(next));
    return login_form(ctx, 200, NULL, next, NULL);
}

static int throttled(iotd_ctx *ctx, const char *username, const char *next, long retry_after)
{
    long minutes = (retry_after + 59) / 60;
    char seconds[24], message[200];
    snprintf(seconds, sizeof seconds, "%ld", retry_after);
    snprintf(message, sizeof message,
             "Too many failed sign-in attempts. Please wait %ld minute%s before trying again.", minutes,
             minutes == 1 ? "" : "s");
    (void)iotd_response_header(ctx->res, "Retry-After", seconds);
    return login_form(ctx, 429, username, next, message);
}

int iotd_handle_login(iotd_ctx *ctx)
{
    iotd_kvlist form;
    if (iotd_admin_read_form(ctx, &form) != IOTD_OK)
        return IOTD_OK;
    const iotd_request *r = ctx->req;
    const char *username = iotd_kv_get(&form, "username");
    const char *password = iotd_kv_get(&form, "password");
    const char *next = iotd_kv_get(&form, "next");
    const char *sent = iotd_kv_get(&form, "login_token");
    const char *expected = iotd_kv_get(&r->cookies, IOTD_LOGIN_COOKIE);
    if (iotd_origin_check(r->origin, r->referer, r->host, r->is_https) != IOTD_OK)
        return iotd_view_error(ctx, 403, "This form was sent from another site, so it was refused.");
    if (!sent || !expected || strlen(sent) != LOGIN_TOKEN_CHARS || strlen(expected) != LOGIN_TOKEN_CHARS ||
        CRYPTO_memcmp(sent, expected, LOGIN_TOKEN_CHARS) != 0)
        return login_form(ctx, 403, username, next, "The sign-in form had expired. Please sign in again.");
    if (!username || !*username || !password || !*password)
        return login_form(ctx, 200, username, next, LOGIN_FAILED_MESSAGE);
    if (strlen(username) > IOTD_MAX_USERNAME_CHARS * 4 || strlen(password) > MAX_PASSWORD_BYTES)
        return login_form(ctx, 200, NULL, next, LOGIN_FAILED_MESSAGE);
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return iotd_view_error(ctx, 503, NULL);

    long retry_after = 0;
    const char *addr = r->remote_addr ? r->remote_addr : "";
    int rc = iotd_throttle_check(ctx->db, username, addr, &retry_after);
    if (rc == IOTD_DECLINED)
        return throttled(ctx, username, next, retry_after);
    if (rc != IOTD_OK)
        return iotd_admin_unavailable(ctx, rc);

    /* The hash is slow on purpose: at most signin_slots workers compute one
     * at a time, so a burst of sign-ins cannot take the pages' workers. */
    int slot = -1;
    if (ctx->cfg->upload_slots_dir[0]) {
        slot = iotd_slot_take(ctx->cfg->upload_slots_dir, IOTD_SLOT_SIGNIN, ctx->cfg->signin_slots);
        if (slot < 0) {
            (void)iotd_response_header(ctx->res, "Retry-After", SIGNIN_BUSY_RETRY_AFTER);
            return login_form(ctx, 503, username, next,
                              "Many sign-ins are being checked right now. Please try again in a moment.");
        }
    }
    iotd_user user;
    rc = iotd_users_authenticate(ctx->db, ctx->arena, username, password, &user);
    iotd_slot_give(slot);
    if (rc == IOTD_DECLINED) {
        iotd_log(IOTD_LOG_INFO, "failed sign-in from %s", addr);
        if ((rc = iotd_throttle_record_failure(ctx->db, username, addr)) != IOTD_OK)
            return iotd_admin_unavailable(ctx, rc);
        return login_form(ctx, 200, username, next, LOGIN_FAILED_MESSAGE);
    }
    if (rc != IOTD_OK)
        return iotd_admin_unavailable(ctx, rc);
    (void)iotd_throttle_clear(ctx->db, username);

    /* A new token at every sign-in: a token planted earlier never becomes valid. */
    char token[IOTD_SESSION_TOKEN_CHARS + 1];
    iotd_session s;
    if ((rc = iotd_session_create(ctx->db, ctx->arena, user.id, token, &s)) != IOTD_OK)
        return iotd_admin_unavailable(ctx, rc);
    iotd_buf cookie = IOTD_BUF_INIT;
    rc = iotd_session_cookie(token, r->is_https, IOTD_SESSION_TTL_SECONDS, &cookie);
    if (rc == IOTD_OK)
        rc = iotd_response_header(ctx->res, "Set-Cookie", cookie.data);
    iotd_buf_free(&cookie);
    if (rc != IOTD_OK)
        return iotd_view_error(ctx, 500, NULL);
    (void)iotd_response_header(ctx->res, "Set-Cookie",
                               r->is_https ? IOTD_LOGIN_COOKIE "=; Path=/admin; Max-Age=0; HttpOnly; Secure"
                                           : IOTD_LOGIN_COOKIE "=; Path=/admin; Max-Age=0; HttpOnly");
    iotd_log(IOTD_LOG_INFO, "editor %s signed in", user.username);
    return iotd_admin_redirect(ctx, next_or_default(next));
}

int iotd_handle_logout(iotd_ctx *ctx)
{
    iotd_kvlist form;
    if (iotd_admin_read_form(ctx, &form) != IOTD_OK)
        return IOTD_OK;
    iotd_session s;
    int rc = iotd_admin_session(ctx, &s);
    if (rc == IOTD_DECLINED)
        return iotd_admin_redirect(ctx, "/admin/login");
    if (rc != IOTD_OK)
        return iotd_admin_unavailable(ctx, rc);
    if (iotd_admin_check_post(ctx, &s, iotd_kv_get(&form, "csrf")) != IOTD_OK)
        return IOTD_OK;
    rc = iotd_session_delete(ctx->db, iotd_kv_get(&ctx->req->cookies, IOTD_SESSION_COOKIE));
    if (rc != IOTD_OK && rc != IOTD_DECLINED)
        return iotd_admin_unavailable(ctx, rc);
    iotd_buf cookie = IOTD_BUF_INIT;
    if (iotd_session_cookie_clear(ctx->req->is_https, &cookie) != IOTD_OK ||
        iotd_response_header(ctx->res, "Set-Cookie", cookie.data) != IOTD_OK) {
        iotd_buf_free(&cookie);
        return iotd_view_error(ctx, 500, NULL);
    }
    iotd_buf_free(&cookie);
    (void)iotd_admin_flash(ctx, "You have signed out.");
    return iotd_admin_redirect(ctx, "/admin/login");
}
