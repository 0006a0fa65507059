/*
 * api.c — the read-only JSON API under /api/v1, modelled on NASA's APOD API:
 * one day (/today, /days/YYYY-MM-DD), a range of days (/days?start=&end=),
 * and its own OpenAPI 3.1 description (/openapi.json).
 *
 * Every answer is JSON with Access-Control-Allow-Origin: *, errors included
 * ({"error":{"code","message"}}): 400 for what the client got wrong
 * (malformed or impossible dates, bad parameters, ranges), 404 for days
 * that do not exist or have no image and for unknown /api paths, 503 when
 * the database or the presigner is unavailable. Successful answers are
 * public and cacheable (iotd_view_public: ETag, Last-Modified, 304).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "days.h"
#include "handlers.h"
#include "iotd.h"
#include "media.h"
#include "router.h"
#include "site.h"
#include "view.h"
#include "worker.h"

#define API_MAX_RANGE_DAYS 100    /* days one /days request may cover */
#define API_DEFAULT_RANGE_DAYS 30 /* when start is omitted: end and the 29 days before */
#define API_RETRY_AFTER "5"
#define API_OPENAPI_VIEW "api_openapi"

/* ---- responses ------------------------------------------------------------ */

static int api_headers(iotd_ctx *ctx)
{
    return iotd_response_header(ctx->res, "Access-Control-Allow-Origin", "*");
}

static int api_error(iotd_ctx *ctx, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    if (!o || !e) {
        json_object_put(o);
        json_object_put(e);
        return iotd_view_error(ctx, 500, NULL);
    }
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(o, "error", e);
    if (api_headers(ctx) != IOTD_OK ||
        iotd_response_header(ctx->res, "Cache-Control", "no-store") != IOTD_OK ||
        (status == 503 && iotd_response_header(ctx->res, "Retry-After", API_RETRY_AFTER) != IOTD_OK)) {
        json_object_put(o);
        return IOTD_ERROR;
    }
    return iotd_view_json(ctx, status, o);
}

static int api_unavailable(iotd_ctx *ctx)
{
    return api_error(ctx, 503, "unavailable",
                     "The service is briefly unavailable; try again in a few seconds.");
}

static int api_internal(iotd_ctx *ctx)
{
    return api_error(ctx, 500, "internal", "Something went wrong on our side.");
}

/* Maps a repository failure to its error response. */
static int api_failure(iotd_ctx *ctx, int rc)
{
    return rc == IOTD_AGAIN ? api_unavailable(ctx) : api_internal(ctx);
}

static int api_ok(iotd_ctx *ctx, json_object *body, const char *last_modified)
{
    if (api_headers(ctx) != IOTD_OK) {
        json_object_put(body);
        return IOTD_ERROR;
    }
    if (iotd_view_json(ctx, 200, body) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_view_public(ctx, last_modified);
}

/* ---- days as JSON --------------------------------------------------------- */

/* The JSON of a day that has an image; NULL when an URL cannot be made. */
static json_object *day_json(iotd_ctx *ctx, const iotd_day *day)
{
    const iotd_image *img = &day->image;
    const char *image_url = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_DISPLAY);
    const char *thumb_url = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_THUMB);
    const char *path = iotd_arena_printf(ctx->arena, "/day/%s", day->date);
    const char *permalink = path ? iotd_site_url_str(ctx, path) : NULL;
    if (!image_url || !thumb_url || !permalink)
        return NULL;
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "date", json_object_new_string(day->date));
    json_object_object_add(o, "title", json_object_new_string(img->name));
    json_object_object_add(o, "tagline", json_object_new_string(img->tagline));
    json_object_object_add(o, "image_url", json_object_new_string(image_url));
    json_object_object_add(o, "thumbnail_url", json_object_new_string(thumb_url));
    json_object_object_add(o, "width", json_object_new_int(img->width));
    json_object_object_add(o, "height", json_object_new_int(img->height));
    json_object_object_add(o, "content_type", json_object_new_string(img->content_type));
    json_object_object_add(o, "uploaded_at", json_object_new_string(img->uploaded_at));
    json_object_object_add(o, "permalink", json_object_new_string(permalink));
    return o;
}

/* One day: date NULL for today. */
static int answer_day(iotd_ctx *ctx, const char *date)
{
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return api_unavailable(ctx);
    iotd_day day;
    int rc = iotd_days_get(ctx->db, ctx->arena, date, ctx->cfg->timezone, &day);
    if (rc == IOTD_DECLINED)
        return api_error(ctx, 404, "not_found",
                         date ? "There is no image of the day for that date: it is before the first day or "
                                "in the future."
                              : "No image has been published yet.");
    if (rc != IOTD_OK)
        return api_failure(ctx, rc);
    if (!day.has_image)
        return api_error(ctx, 404, "not_found", "There is no image of the day for that date.");
    json_object *o = day_json(ctx, &day);
    if (!o)
        return api_unavailable(ctx);
    return api_ok(ctx, o, day.image.updated_at);
}

int iotd_handle_api_today(iotd_ctx *ctx)
{
    return answer_day(ctx, NULL);
}

int iotd_handle_api_day(iotd_ctx *ctx)
{
    const char *date = ctx->nparams == 1 ? ctx->params[0] : "";
    if (!iotd_date_valid(date))
        return api_error(ctx, 400, "invalid_date",
                         "The date must be a real calendar date written YYYY-MM-DD.");
    return answer_day(ctx, date);
}

/* ---- ranges --------------------------------------------------------------- */

/* Days since 1970-01-01 of a valid YYYY-MM-DD (H. Hinnant's days_from_civil). */
static long days_from_date(const char *s)
{
    long y = atol(s), m = atol(s + 5), d = atol(s + 8);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DD of days since 1970-01-01 (years 1..9999). */
static void date_from_days(long z, char *out, size_t size)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);
    snprintf(out, size, "%04ld-%02ld-%02ld", y, m, d);
}

/* Reads start and end; only those two parameters, each at most once. */
static int range_params(iotd_ctx *ctx, const char **start, const char **end, const char **why)
{
    const iotd_kvlist *q = &ctx->req->query;
    *start = *end = NULL;
    for (size_t i = 0; i < q->count; i++) {
        const char **slot = strcmp(q->items[i].key, "start") == 0 ? start
                            : strcmp(q->items[i].key, "end") == 0 ? end
                                                                  : NULL;
        if (!slot) {
            *why = "Unknown parameter: only start and end are accepted.";
            return IOTD_ERROR;
        }
        if (*slot) {
            *why = "start and end may each be given once.";
            return IOTD_ERROR;
        }
        *slot = q->items[i].value;
    }
    return IOTD_OK;
}

int iotd_handle_api_days(iotd_ctx *ctx)
{
    const char *start, *end, *why = NULL;
    if (range_params(ctx, &start, &end, &why) != IOTD_OK)
        return api_error(ctx, 400, "invalid_parameter", why);
    if ((start && !iotd_date_valid(start)) || (end && !iotd_date_valid(end)))
        return api_error(ctx, 400, "invalid_date",
                         "start and end must be real calendar dates written YYYY-MM-DD.");
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return api_unavailable(ctx);
    if (!end) {
        const char *first;
        int rc = iotd_days_bounds(ctx->db, ctx->arena, ctx->cfg->timezone, &end, &first);
        if (rc != IOTD_OK)
            return api_failure(ctx, rc);
    }
    long end_n = days_from_date(end);
    char start_buf[64]; /* room for any long, to please the format checker */
    if (!start) {
        long first_n = days_from_date("0001-01-01");
        long s = end_n - (API_DEFAULT_RANGE_DAYS - 1);
        date_from_days(s < first_n ? first_n : s, start_buf, sizeof start_buf);
        start = start_buf;
    }
    long start_n = days_from_date(start);
    if (start_n > end_n)
        return api_error(ctx, 400, "invalid_range", "start must not be after end.");
    if (end_n - start_n + 1 > API_MAX_RANGE_DAYS)
        return api_error(ctx, 400, "range_too_long", "A range may cover at most 100 days.");

    iotd_day *days;
    size_t n;
    int rc =
        iotd_days_range(ctx->db, ctx->arena, start, end, ctx->cfg->timezone, API_MAX_RANGE_DAYS, &days, &n);
    if (rc != IOTD_OK)
        return api_failure(ctx, rc);
    json_object *list = json_object_new_array();
    if (!list)
        return api_internal(ctx);
    const char *last_modified = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!days[i].has_image)
            continue;
        json_object *o = day_json(ctx, &days[i]);
        if (!o || json_object_array_add(list, o) != 0) {
            json_object_put(o);
            json_object_put(list);
            return api_unavailable(ctx);
        }
        if (!last_modified || strcmp(days[i].image.updated_at, last_modified) > 0)
            last_modified = days[i].image.updated_at;
    }
    return api_ok(ctx, list, last_modified);
}

/* ---- the description and everything else ---------------------------------- */

int iotd_handle_api_openapi(iotd_ctx *ctx)
{
    iotd_buf server = IOTD_BUF_INIT;
    json_object *data = json_object_new_object();
    json_object *url = NULL;
    int rc = data && iotd_site_url(ctx, "/api/v1", &server) == IOTD_OK ? IOTD_OK : IOTD_ERROR;
    if (rc == IOTD_OK && !(url = json_object_new_string_len(server.data, (int)server.len)))
        rc = IOTD_ERROR;
    if (rc == IOTD_OK) {
        /* the template inserts it unescaped, so give it as a JSON string literal */
        const char *lit =
            json_object_to_json_string_ext(url, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!lit)
            rc = IOTD_ERROR;
        else
            json_object_object_add(data, "server_url_json", json_object_new_string(lit));
    }
    json_object_put(url);
    iotd_buf_free(&server);
    if (rc == IOTD_OK) {
        ctx->res->status = 200;
        iotd_buf_reset(&ctx->res->body);
        rc = iotd_tpl_render(ctx->views, API_OPENAPI_VIEW, data, &ctx->res->body);
    }
    json_object_put(data);
    if (rc != IOTD_OK)
        return api_internal(ctx);
    if (api_headers(ctx) != IOTD_OK ||
        iotd_response_header(ctx->res, "Content-Type", "application/json") != IOTD_OK)
        return IOTD_ERROR;
    return iotd_view_public(ctx, NULL);
}

/* 1 when a route other than the catch-alls serves this path (so another
 * method than the one asked for would work). */
static int known_api_path(iotd_ctx *ctx)
{
    for (size_t i = 0; i < iotd_nroutes; i++)
        if (iotd_routes[i].handler != iotd_handle_api_not_found &&
            iotd_router_match(iotd_routes[i].pattern, ctx->req->path, NULL, NULL, ctx->arena))
            return 1;
    return 0;
}

int iotd_handle_api_not_found(iotd_ctx *ctx)
{
    int is_get = strcmp(ctx->req->method, "GET") == 0 || strcmp(ctx->req->method, "HEAD") == 0;
    if (!is_get && known_api_path(ctx)) {
        int rc = api_error(ctx, 405, "method_not_allowed", "The API is read-only: use GET.");
        if (rc == IOTD_OK)
            rc = iotd_response_header(ctx->res, "Allow", "GET, HEAD");
        return rc;
    }
    return api_error(ctx, 404, "not_found",
                     "There is no API endpoint at this address; see /api/v1/openapi.json.");
}
