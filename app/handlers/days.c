/*
 * days.c — the public pages: today's image on /, any past day on
 * /day/YYYY-MM-DD with links to the days around it, the day's image file
 * on /day/YYYY-MM-DD/image (a redirect to a fresh presigned URL, so shared
 * links never expire), and the archive of past days.
 *
 * All of them are public and cacheable (iotd_view_public); a date that is
 * malformed, impossible, in the future or before the first day is a 404.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "days.h"
#include "handlers.h"
#include "iotd.h"
#include "media.h"
#include "s3.h"
#include "sigv4.h"
#include "site.h"
#include "view.h"
#include "worker.h"

#define ARCHIVE_PAGE_DAYS 30
#define ARCHIVE_MAX_PAGE 10000
#define NO_SUCH_DAY "There is no image of the day for that date."

/* "Friday 27 November 2026" for YYYY-MM-DD (the C locale's names). */
static const char *date_text(iotd_arena *a, const char *date)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8);
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm norm;
    gmtime_r(&t, &norm);
    char out[64];
    if (!strftime(out, sizeof out, "%A %d %B %Y", &norm))
        return date;
    if (out[strcspn(out, " ") + 1] == '0') /* "07 May" reads better as "7 May" */
        memmove(out + strcspn(out, " ") + 1, out + strcspn(out, " ") + 2,
                strlen(out) - strcspn(out, " ") - 1);
    const char *s = iotd_arena_strdup(a, out);
    return s ? s : date;
}

static const char *day_path(iotd_arena *a, const char *date, const char *suffix)
{
    return iotd_arena_printf(a, "/day/%s%s", date, suffix);
}

/* The image of a day as page data: URLs for every size, a srcset, and the
 * Open Graph fields. NULL when an URL cannot be made. */
static json_object *image_json(iotd_ctx *ctx, const iotd_image *img, const char *date)
{
    const char *display = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_DISPLAY);
    const char *thumb = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_THUMB);
    const char *stable = iotd_site_url_str(ctx, day_path(ctx->arena, date, "/image"));
    if (!display || !thumb || !stable)
        return NULL;
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    int w = img->display.key[0] ? img->display.width : img->width;
    int h = img->display.key[0] ? img->display.height : img->height;
    json_object_object_add(o, "name", json_object_new_string(img->name));
    json_object_object_add(o, "tagline", json_object_new_string(img->tagline));
    json_object_object_add(o, "url", json_object_new_string(display));
    json_object_object_add(o, "width", json_object_new_int(w));
    json_object_object_add(o, "height", json_object_new_int(h));
    json_object_object_add(o, "thumb_url", json_object_new_string(thumb));
    if (img->thumb.key[0] && img->display.key[0]) {
        const char *srcset = iotd_arena_printf(ctx->arena, "%s %dw, %s %dw", thumb, img->thumb.width, display,
                                               img->display.width);
        if (srcset)
            json_object_object_add(o, "srcset", json_object_new_string(srcset));
    }
    json_object_object_add(o, "stable_url", json_object_new_string(stable));
    json_object_object_add(o, "uploaded_at", json_object_new_string(img->uploaded_at));
    return o;
}

/* Page data shared by / and /day/...: the day, its neighbours, the image,
 * and link-preview fields. */
static json_object *day_json(iotd_ctx *ctx, const iotd_day *day, int is_home)
{
    json_object *data = json_object_new_object();
    if (!data)
        return NULL;
    const char *permalink = day_path(ctx->arena, day->date, "");
    json_object_object_add(data, "date", json_object_new_string(day->date));
    json_object_object_add(data, "date_text", json_object_new_string(date_text(ctx->arena, day->date)));
    json_object_object_add(data, "permalink", json_object_new_string(permalink));
    json_object_object_add(data, "canonical", json_object_new_string(iotd_site_url_str(ctx, permalink)));
    if (day->prev[0])
        json_object_object_add(data, "prev", json_object_new_string(day_path(ctx->arena, day->prev, "")));
    if (day->next[0])
        json_object_object_add(data, "next", json_object_new_string(day_path(ctx->arena, day->next, "")));
    if (is_home)
        json_object_object_add(data, "is_home", json_object_new_boolean(1));
    if (day->has_image) {
        json_object *img = image_json(ctx, &day->image, day->date);
        if (!img) {
            json_object_put(data);
            return NULL;
        }
        json_object_object_add(data, "image", img);
    }
    return data;
}

static int render_day(iotd_ctx *ctx, const iotd_day *day, int is_home)
{
    json_object *data = day_json(ctx, day, is_home);
    if (!data)
        return iotd_view_error(ctx, 503, NULL);
    if (iotd_view_render(ctx, 200, is_home ? "home" : "day", data) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_view_public(ctx, day->has_image ? day->image.updated_at : NULL);
}

int iotd_handle_home(iotd_ctx *ctx)
{
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return iotd_view_error(ctx, 503, NULL);
    iotd_day day;
    int rc = iotd_days_get(ctx->db, ctx->arena, NULL, ctx->cfg->timezone, &day);
    if (rc == IOTD_AGAIN)
        return iotd_view_error(ctx, 503, NULL);
    if (rc == IOTD_ERROR)
        return iotd_view_error(ctx, 500, NULL);
    if (rc == IOTD_DECLINED) /* no images at all: today has no image */
        day.has_image = 0;
    return render_day(ctx, &day, 1);
}

/* Loads the day named by the first path parameter; on failure the error
 * page is already in the response and IOTD_DECLINED is returned. */
static int load_day(iotd_ctx *ctx, iotd_day *day)
{
    const char *date = ctx->nparams ? ctx->params[0] : "";
    if (!iotd_date_valid(date)) {
        iotd_view_error(ctx, 404, NO_SUCH_DAY);
        return IOTD_DECLINED;
    }
    if (iotd_worker_db_ready(ctx) != IOTD_OK) {
        iotd_view_error(ctx, 503, NULL);
        return IOTD_DECLINED;
    }
    int rc = iotd_days_get(ctx->db, ctx->arena, date, ctx->cfg->timezone, day);
    if (rc == IOTD_OK)
        return IOTD_OK;
    if (rc == IOTD_DECLINED)
        iotd_view_error(ctx, 404, NO_SUCH_DAY);
    else
        iotd_view_error(ctx, rc == IOTD_AGAIN ? 503 : 500, NULL);
    return IOTD_DECLINED;
}

int iotd_handle_day(iotd_ctx *ctx)
{
    iotd_day day;
    if (load_day(ctx, &day) != IOTD_OK)
        return IOTD_OK;
    return render_day(ctx, &day, 0);
}

int iotd_handle_day_image(iotd_ctx *ctx)
{
    iotd_day day;
    if (load_day(ctx, &day) != IOTD_OK)
        return IOTD_OK;
    if (!day.has_image)
        return iotd_view_error(ctx, 404, NO_SUCH_DAY);
    const char *url = iotd_media_rendition_url(ctx, &day.image, IOTD_MEDIA_DISPLAY);
    if (!url)
        return iotd_view_error(ctx, 503, NULL);
    /* The URL stays the same until the presign window turns: cache the
     * redirect until then. */
    long ttl = ctx->cfg->s3.presign_ttl;
    time_t now = time(NULL);
    long left = (long)(iotd_sigv4_window_start(now, ttl) + ttl / 2 - now);
    char cache[64];
    snprintf(cache, sizeof cache, "public, max-age=%ld", left > 1 ? left : 1);
    ctx->res->status = 302;
    iotd_buf_reset(&ctx->res->body);
    if (iotd_response_header(ctx->res, "Location", url) != IOTD_OK ||
        iotd_response_header(ctx->res, "Cache-Control", cache) != IOTD_OK)
        return iotd_view_error(ctx, 500, NULL);
    return IOTD_OK;
}

int iotd_handle_archive(iotd_ctx *ctx)
{
    const char *page_s = iotd_kv_get(&ctx->req->query, "page");
    long page = page_s ? strtol(page_s, NULL, 10) : 1;
    if (page < 1 || page > ARCHIVE_MAX_PAGE)
        return iotd_view_error(ctx, 404, "There is no such archive page.");
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return iotd_view_error(ctx, 503, NULL);
    iotd_day *days;
    size_t n;
    int rc = iotd_days_page(ctx->db, ctx->arena, ctx->cfg->timezone, (page - 1) * ARCHIVE_PAGE_DAYS,
                            ARCHIVE_PAGE_DAYS + 1, &days, &n);
    if (rc != IOTD_OK)
        return iotd_view_error(ctx, rc == IOTD_AGAIN ? 503 : 500, NULL);
    if (n == 0 && page > 1)
        return iotd_view_error(ctx, 404, "There is no such archive page.");
    json_object *data = json_object_new_object();
    json_object *list = json_object_new_array();
    if (!data || !list) {
        json_object_put(data);
        json_object_put(list);
        return iotd_view_error(ctx, 500, NULL);
    }
    const char *last_modified = NULL;
    for (size_t i = 0; i < n && i < ARCHIVE_PAGE_DAYS; i++) {
        json_object *d = json_object_new_object();
        if (!d)
            continue;
        json_object_object_add(d, "date", json_object_new_string(days[i].date));
        json_object_object_add(d, "date_text", json_object_new_string(date_text(ctx->arena, days[i].date)));
        json_object_object_add(d, "permalink",
                               json_object_new_string(day_path(ctx->arena, days[i].date, "")));
        if (days[i].has_image) {
            const iotd_image *img = &days[i].image;
            const char *thumb = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_THUMB);
            json_object_object_add(d, "name", json_object_new_string(img->name));
            json_object_object_add(d, "thumb_url", json_object_new_string(thumb ? thumb : ""));
            json_object_object_add(d, "has_image", json_object_new_boolean(1));
            if (!last_modified || strcmp(img->updated_at, last_modified) > 0)
                last_modified = img->updated_at;
        }
        json_object_array_add(list, d);
    }
    json_object_object_add(data, "days", list);
    json_object_object_add(data, "page", json_object_new_int64(page));
    if (page > 1)
        json_object_object_add(
            data, "newer",
            json_object_new_string(page == 2 ? "/archive"
                                             : iotd_arena_printf(ctx->arena, "/archive?page=%ld", page - 1)));
    if (n > ARCHIVE_PAGE_DAYS)
        json_object_object_add(
            data, "older",
            json_object_new_string(iotd_arena_printf(ctx->arena, "/archive?page=%ld", page + 1)));
    if (iotd_view_render(ctx, 200, "archive", data) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_view_public(ctx, last_modified);
}
