/*
 * admin.c — the admin area's shared request logic.
 *
 * Sessions live in Postgres (sessions.c); this file turns them into
 * cookies and redirects. Flash messages travel in a short-lived cookie
 * scoped to /admin and are always rendered escaped.
 */
#include "admin.h"

#include <string.h>

#include "iotd.h"
#include "log.h"
#include "view.h"
#include "worker.h"

#define FLASH_MAX_BYTES 512

static int set_cookie(iotd_ctx *ctx, const char *value)
{
    return iotd_response_header(ctx->res, "Set-Cookie", value);
}

int iotd_admin_session(iotd_ctx *ctx, iotd_session *s)
{
    const char *token = iotd_kv_get(&ctx->req->cookies, IOTD_SESSION_COOKIE);
    if (!token || !*token)
        return IOTD_DECLINED;
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return IOTD_AGAIN;
    int rc = iotd_session_lookup(ctx->db, ctx->arena, token, s);
    if (rc == IOTD_OK && s->renewed) {
        iotd_buf cookie = IOTD_BUF_INIT;
        if (iotd_session_cookie(token, ctx->req->is_https, IOTD_SESSION_TTL_SECONDS, &cookie) == IOTD_OK)
            (void)set_cookie(ctx, cookie.data);
        iotd_buf_free(&cookie);
    }
    return rc;
}

int iotd_admin_redirect(iotd_ctx *ctx, const char *location)
{
    ctx->res->status = 303;
    iotd_buf_reset(&ctx->res->body);
    if (iotd_response_header(ctx->res, "Location", location) != IOTD_OK)
        return iotd_view_error(ctx, 500, NULL);
    return IOTD_OK;
}

int iotd_admin_safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return 0;
    size_t n = strnlen(next, IOTD_ADMIN_MAX_NEXT_BYTES + 1);
    if (n > IOTD_ADMIN_MAX_NEXT_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)next[i];
        if (c < 0x21 || c == 0x7f || c == '\\')
            return 0;
    }
    return 1;
}

int iotd_admin_to_login(iotd_ctx *ctx)
{
    iotd_buf loc = IOTD_BUF_INIT;
    const char *path = ctx->req->path;
    int rc = iotd_buf_puts(&loc, "/admin/login");
    if (rc == IOTD_OK && strcmp(path, "/admin/") != 0 && strcmp(ctx->req->method, "GET") == 0) {
        rc = iotd_buf_puts(&loc, "?next=");
        if (rc == IOTD_OK)
            rc = iotd_buf_append_uri(&loc, path, strlen(path), 1);
        if (rc == IOTD_OK && ctx->req->raw_query[0]) {
            rc = iotd_buf_append_uri(&loc, "?", 1, 0);
            if (rc == IOTD_OK)
                rc = iotd_buf_append_uri(&loc, ctx->req->raw_query, strlen(ctx->req->raw_query), 1);
        }
    }
    rc = rc == IOTD_OK ? iotd_admin_redirect(ctx, loc.data) : iotd_view_error(ctx, 500, NULL);
    iotd_buf_free(&loc);
    return rc;
}

int iotd_admin_flash(iotd_ctx *ctx, const char *message)
{
    iotd_buf c = IOTD_BUF_INIT;
    size_t len = strnlen(message, FLASH_MAX_BYTES);
    int rc = iotd_buf_puts(&c, IOTD_FLASH_COOKIE "=");
    if (rc == IOTD_OK)
        rc = iotd_buf_append_uri(&c, message, len, 0);
    if (rc == IOTD_OK)
        rc = iotd_buf_printf(&c, "; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=60%s",
                             ctx->req->is_https ? "; Secure" : "");
    if (rc == IOTD_OK)
        rc = set_cookie(ctx, c.data);
    iotd_buf_free(&c);
    return rc;
}

/* The pending flash message, decoded; clears the cookie. NULL when none. */
static const char *take_flash(iotd_ctx *ctx)
{
    const char *raw = iotd_kv_get(&ctx->req->cookies, IOTD_FLASH_COOKIE);
    if (!raw || !*raw)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    (void)set_cookie(ctx, ctx->req->is_https
                              ? IOTD_FLASH_COOKIE "=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
                              : IOTD_FLASH_COOKIE "=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0");
    if (iotd_percent_decode(ctx->arena, raw, strnlen(raw, FLASH_MAX_BYTES * 3), 0, &text, &len) != IOTD_OK ||
        memchr(text, '\0', len))
        return NULL;
    return text;
}

json_object *iotd_admin_page(iotd_ctx *ctx, const iotd_session *s, const char *title)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "title", json_object_new_string(title));
    if (s) {
        iotd_buf csrf = IOTD_BUF_INIT;
        if (iotd_csrf_token(s, &csrf) != IOTD_OK) {
            iotd_buf_free(&csrf);
            json_object_put(o);
            return NULL;
        }
        json_object_object_add(o, "csrf", json_object_new_string(csrf.data));
        json_object_object_add(o, "username", json_object_new_string(s->username));
        iotd_buf_free(&csrf);
    }
    const char *flash = take_flash(ctx);
    if (flash)
        json_object_object_add(o, "flash", json_object_new_string(flash));
    return o;
}

int iotd_admin_check_post(iotd_ctx *ctx, const iotd_session *s, const char *csrf)
{
    const iotd_request *r = ctx->req;
    if (iotd_origin_check(r->origin, r->referer, r->host, r->is_https) != IOTD_OK) {
        iotd_log(IOTD_LOG_WARN, "refused a cross-origin POST to %s", r->path);
        iotd_view_error(ctx, 403, "This form was sent from another site, so it was refused.");
        return IOTD_DECLINED;
    }
    if (!csrf || iotd_csrf_check(s, csrf) != IOTD_OK) {
        iotd_log(IOTD_LOG_WARN, "refused a POST to %s without a valid CSRF token", r->path);
        iotd_view_error(ctx, 403,
                        "This form has expired or was not sent from this site. Go back, reload "
                        "the page and try again.");
        return IOTD_DECLINED;
    }
    return IOTD_OK;
}

int iotd_admin_read_form(iotd_ctx *ctx, iotd_kvlist *out)
{
    iotd_request *r = ctx->req;
    if (!iotd_media_type_is(r->content_type, "application/x-www-form-urlencoded")) {
        iotd_view_error(ctx, 415, "This form must be sent as application/x-www-form-urlencoded.");
        return IOTD_DECLINED;
    }
    if (r->content_length < 0 || r->content_length > IOTD_MAX_FORM_BYTES) {
        iotd_view_error(ctx, r->content_length < 0 ? 400 : 413, NULL);
        return IOTD_DECLINED;
    }
    size_t want = (size_t)r->content_length;
    char *body = iotd_arena_alloc(ctx->arena, want + 1);
    if (!body)
        return iotd_view_error(ctx, 500, NULL) == IOTD_OK ? IOTD_DECLINED : IOTD_DECLINED;
    size_t got = 0;
    while (got < want) {
        long n = ctx->read_body(ctx->body_ud, body + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    body[got] = '\0';
    if (got != want || iotd_request_parse_form(r, body, got, out) != IOTD_OK) {
        iotd_view_error(ctx, 400, "The form could not be read.");
        return IOTD_DECLINED;
    }
    return IOTD_OK;
}

int iotd_admin_unavailable(iotd_ctx *ctx, int rc)
{
    return iotd_view_error(ctx, rc == IOTD_AGAIN ? 503 : 500, NULL);
}
