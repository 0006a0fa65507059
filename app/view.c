/*
 * view.c — rendering. Every page goes through the templates, so even an
 * error has the site's look; if rendering itself fails, a minimal built-in
 * page is sent rather than a blank one.
 */
#include "view.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iotd.h"
#include "log.h"
#include "sigv4.h"

#define SITE_NAME "Image of the Day"
#define RETRY_AFTER_SECONDS "5"

static const char *default_message(int status)
{
    switch (status) {
    case 400: return "The request could not be understood.";
    case 403: return "You are not allowed to do that.";
    case 404: return "There is nothing at this address.";
    case 405: return "That method is not allowed here.";
    case 413: return "The upload is too large.";
    case 503: return "The site is briefly unavailable. Please try again in a few seconds.";
    default: return "Something went wrong on our side. Please try again.";
    }
}

static void fallback_page(iotd_ctx *ctx, int status)
{
    iotd_buf *b = &ctx->res->body;
    iotd_buf_reset(b);
    (void)iotd_buf_printf(
        b,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%d %s</title>"
        "</head><body><h1>%d %s</h1><p>%s</p></body></html>\n",
        status, iotd_status_reason(status), status, iotd_status_reason(status), default_message(status));
}

int iotd_view_render(iotd_ctx *ctx, int status, const char *name, json_object *data)
{
    if (!data)
        return iotd_view_error(ctx, 500, NULL);
    json_object_object_add(data, "site_name", json_object_new_string(SITE_NAME));
    ctx->res->status = status;
    if (iotd_response_header(ctx->res, "Content-Type", "text/html; charset=utf-8") != IOTD_OK) {
        json_object_put(data);
        return IOTD_ERROR;
    }
    iotd_buf_reset(&ctx->res->body);
    int rc = iotd_tpl_render(ctx->views, name, data, &ctx->res->body);
    json_object_put(data);
    if (rc != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "rendering template %s failed", name);
        ctx->res->status = 500;
        fallback_page(ctx, 500);
    }
    return IOTD_OK;
}

int iotd_view_error(iotd_ctx *ctx, int status, const char *message)
{
    json_object *data = json_object_new_object();
    if (status == 503 && !iotd_response_has_header(ctx->res, "Retry-After"))
        (void)iotd_response_header(ctx->res, "Retry-After", RETRY_AFTER_SECONDS);
    if (!data) {
        ctx->res->status = status;
        (void)iotd_response_header(ctx->res, "Content-Type", "text/html; charset=utf-8");
        fallback_page(ctx, status);
        return IOTD_OK;
    }
    json_object_object_add(data, "status", json_object_new_int(status));
    json_object_object_add(data, "reason", json_object_new_string(iotd_status_reason(status)));
    json_object_object_add(data, "message",
                           json_object_new_string(message ? message : default_message(status)));
    (void)iotd_response_header(ctx->res, "Cache-Control", "no-store");
    return iotd_view_render(ctx, status, "error", data);
}

int iotd_view_json(iotd_ctx *ctx, int status, json_object *obj)
{
    if (!obj)
        return iotd_view_error(ctx, 500, NULL);
    size_t len;
    const char *s =
        json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    ctx->res->status = status;
    iotd_buf_reset(&ctx->res->body);
    int rc = s ? iotd_buf_append(&ctx->res->body, s, len) : IOTD_ERROR;
    if (rc == IOTD_OK)
        rc = iotd_buf_putc(&ctx->res->body, '\n');
    json_object_put(obj);
    if (rc != IOTD_OK || iotd_response_header(ctx->res, "Content-Type", "application/json") != IOTD_OK)
        return IOTD_ERROR;
    return IOTD_OK;
}

#define ETAG_HASH_BYTES 16 /* 128 bits of SHA-256: plenty to tell bodies apart */

int iotd_view_etag_matches(const char *header, const char *etag)
{
    if (!header)
        return 0;
    size_t n = strlen(etag);
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
        const char *comma = strchr(p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int iotd_view_public(iotd_ctx *ctx, const char *last_modified)
{
    iotd_response *res = ctx->res;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(res->body.data ? res->body.data : "", res->body.len, digest, &dlen, EVP_sha256(), NULL))
        return IOTD_ERROR;
    iotd_buf etag = IOTD_BUF_INIT;
    int rc = iotd_buf_putc(&etag, '"');
    if (rc == IOTD_OK)
        rc = iotd_buf_append_hex(&etag, digest, ETAG_HASH_BYTES);
    if (rc == IOTD_OK)
        rc = iotd_buf_putc(&etag, '"');

    time_t now = time(NULL);
    int64_t modified = iotd_sigv4_window_start(now, ctx->cfg->s3.presign_ttl);
    int64_t row_time;
    if (last_modified && iotd_sigv4_parse_iso8601(last_modified, &row_time) == IOTD_OK && row_time > modified)
        modified = row_time;
    if (modified > (int64_t)now)
        modified = now;
    char http_date[64], max_age[64];
    struct tm tm;
    time_t m = (time_t)modified;
    gmtime_r(&m, &tm);
    strftime(http_date, sizeof http_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(max_age, sizeof max_age, "public, max-age=%ld", ctx->cfg->page_max_age);

    if (rc == IOTD_OK)
        rc = iotd_response_header(res, "ETag", etag.data);
    if (rc == IOTD_OK)
        rc = iotd_response_header(res, "Last-Modified", http_date);
    if (rc == IOTD_OK)
        rc = iotd_response_header(res, "Cache-Control", max_age);
    if (rc == IOTD_OK && res->status == 200 && iotd_view_etag_matches(ctx->req->if_none_match, etag.data)) {
        res->status = 304;
        iotd_buf_reset(&res->body);
    }
    iotd_buf_free(&etag);
    return rc;
}
