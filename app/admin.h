/*
 * admin.h — what every admin page needs: the signed-in editor, CSRF and
 * origin checks on POST, flash messages, redirects, and request bodies.
 */
#ifndef IOTD_ADMIN_H
#define IOTD_ADMIN_H

#include <json-c/json.h>

#include "ctx.h"
#include "form.h"
#include "sessions.h"

#define IOTD_ADMIN_PAGE_SIZE 25
#define IOTD_ADMIN_MAX_NEXT_BYTES 512
#define IOTD_FLASH_COOKIE "iotd_flash"
#define IOTD_LOGIN_COOKIE "iotd_login"

/* The editor behind the session cookie: IOTD_OK, IOTD_DECLINED (not signed
 * in), IOTD_AGAIN (database down). Re-sends the cookie when the sliding
 * expiry moved. */
int iotd_admin_session(iotd_ctx *ctx, iotd_session *s);
/* Sends the editor to the sign-in page, remembering where they were going. */
int iotd_admin_to_login(iotd_ctx *ctx);
/* 303 See Other to a path on this site. */
int iotd_admin_redirect(iotd_ctx *ctx, const char *location);
/* 1 when next is a path on this site that is safe to redirect to. */
int iotd_admin_safe_next(const char *next);
/* A message shown once on the next admin page. */
int iotd_admin_flash(iotd_ctx *ctx, const char *message);
/* The common context of an admin page (editor name, CSRF token, flash, title);
 * s may be NULL on the sign-in page. */
json_object *iotd_admin_page(iotd_ctx *ctx, const iotd_session *s, const char *title);
/* Origin/Referer and the CSRF field of a POST; on failure the 403 page is
 * already in the response and IOTD_DECLINED is returned. */
int iotd_admin_check_post(iotd_ctx *ctx, const iotd_session *s, const char *csrf);
/* Reads and parses an application/x-www-form-urlencoded body. On failure
 * the error page is in the response and IOTD_DECLINED is returned. */
int iotd_admin_read_form(iotd_ctx *ctx, iotd_kvlist *out);
/* The 503 page for IOTD_AGAIN, the 500 page otherwise. */
int iotd_admin_unavailable(iotd_ctx *ctx, int rc);

#endif
