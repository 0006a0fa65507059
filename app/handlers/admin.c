/*
 * admin.c — the editors' pages: the image list, and the forms to add,
 * change and delete an image.
 *
 * Every page needs a session; every POST is checked for origin and CSRF
 * before anything is read from the database. A form with errors comes back
 * with what the editor typed and the message beside the field; a success
 * redirects (303) with a flash message, so reloading never repeats it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"
#include "images.h"
#include "iotd.h"
#include "library.h"
#include "log.h"
#include "media.h"
#include "pagecache.h"
#include "random.h"
#include "slots.h"
#include "upload.h"
#include "view.h"

#define ADMIN_MAX_QUERY_CHARS 200
#define ADMIN_MAX_PAGE 100000
#define TAGLINE_SHORT_CHARS 80
#define UPLOAD_BUSY_RETRY_MIN_S 3    /* Retry-After for an upload turned away: 3 s ... */
#define UPLOAD_BUSY_RETRY_SPREAD_S 6 /* ... to 9 s */
/* An upload waits this long for a slot before it is turned away: about
 * the time one upload's renditions take, which hold a slot after the
 * answer, so an editor sending images one after another is never told
 * to wait. */
#define UPLOAD_SLOT_WAIT_MS 3000
#define UPLOAD_SLOT_POLL_MS 25

/* Signs the editor in or sends them to the sign-in page. IOTD_OK when the
 * handler may go on; otherwise the response is complete. */
static int require_session(iotd_ctx *ctx, iotd_session *s)
{
    int rc = iotd_admin_session(ctx, s);
    if (rc == IOTD_OK)
        return IOTD_OK;
    if (rc == IOTD_DECLINED)
        iotd_admin_to_login(ctx);
    else
        iotd_admin_unavailable(ctx, rc);
    return IOTD_DECLINED;
}

/* The image id in the path (/admin/images/ID/...), or 0 when malformed. */
static long long path_id(const iotd_ctx *ctx)
{
    const char *p = ctx->nparams ? ctx->params[0] : "";
    if (!*p || strlen(p) > 18)
        return 0;
    for (const char *c = p; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    long long id = strtoll(p, NULL, 10);
    return id > 0 ? id : 0;
}

/* At most n characters of s (UTF-8 aware), with an ellipsis when cut. */
static const char *shorten(iotd_arena *a, const char *s, size_t n)
{
    size_t chars = 0, i = 0;
    while (s[i] && chars < n) {
        i++;
        while ((s[i] & 0xc0) == 0x80)
            i++;
        chars++;
    }
    if (!s[i])
        return s;
    return iotd_arena_printf(a, "%.*s…", (int)i, s);
}

static json_object *image_json(iotd_ctx *ctx, const iotd_image *img)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    const char *url = iotd_media_url(ctx, img->object_key);
    json_object_object_add(o, "id", json_object_new_int64(img->id));
    json_object_object_add(o, "name", json_object_new_string(img->name));
    json_object_object_add(o, "tagline", json_object_new_string(img->tagline));
    json_object_object_add(o, "tagline_short",
                           json_object_new_string(shorten(ctx->arena, img->tagline, TAGLINE_SHORT_CHARS)));
    json_object_object_add(o, "url", json_object_new_string(url ? url : ""));
    const char *thumb_url = iotd_media_rendition_url(ctx, img, IOTD_MEDIA_THUMB);
    json_object_object_add(o, "thumb_url", json_object_new_string(thumb_url ? thumb_url : ""));
    json_object_object_add(o, "processing", json_object_new_boolean(img->processing));
    json_object_object_add(o, "processing_error", json_object_new_string(img->processing_error));
    json_object_object_add(o, "width", json_object_new_int(img->width));
    json_object_object_add(o, "height", json_object_new_int(img->height));
    json_object_object_add(o, "uploaded_at", json_object_new_string(img->uploaded_at));
    char when[32];
    snprintf(when, sizeof when, "%.10s %.5s UTC", img->uploaded_at, img->uploaded_at + 11);
    json_object_object_add(o, "uploaded_at_text", json_object_new_string(when));
    return o;
}

static const char *page_link(iotd_ctx *ctx, const char *q, long long page)
{
    iotd_buf b = IOTD_BUF_INIT;
    int rc = iotd_buf_printf(&b, "/admin/?page=%lld", page);
    if (rc == IOTD_OK && q[0]) {
        rc = iotd_buf_puts(&b, "&q=");
        if (rc == IOTD_OK)
            rc = iotd_buf_append_uri(&b, q, strlen(q), 0);
    }
    const char *out = rc == IOTD_OK ? iotd_arena_strndup(ctx->arena, b.data, b.len) : NULL;
    iotd_buf_free(&b);
    return out;
}

int iotd_handle_admin_root(iotd_ctx *ctx)
{
    return iotd_admin_redirect(ctx, "/admin/");
}

int iotd_handle_admin_list(iotd_ctx *ctx)
{
    iotd_session s;
    if (require_session(ctx, &s) != IOTD_OK)
        return IOTD_OK;
    const char *q = iotd_kv_get(&ctx->req->query, "q");
    const char *page_s = iotd_kv_get(&ctx->req->query, "page");
    if (!q || strlen(q) > ADMIN_MAX_QUERY_CHARS * 4)
        q = "";
    long long page = page_s ? strtoll(page_s, NULL, 10) : 1;
    if (page < 1 || page > ADMIN_MAX_PAGE)
        page = 1;
    iotd_image *list;
    size_t count;
    long long total;
    int rc = iotd_images_search(ctx->db, ctx->arena, q, IOTD_ADMIN_PAGE_SIZE,
                                (page - 1) * IOTD_ADMIN_PAGE_SIZE, &list, &count, &total);
    if (rc != IOTD_OK)
        return iotd_admin_unavailable(ctx, rc);
    json_object *data = iotd_admin_page(ctx, &s, "Images");
    json_object *items = json_object_new_array();
    if (!data || !items) {
        json_object_put(data);
        json_object_put(items);
        return iotd_view_error(ctx, 500, NULL);
    }
    for (size_t i = 0; i < count; i++) {
        json_object *o = image_json(ctx, &list[i]);
        if (o)
            json_object_array_add(items, o);
    }
    long long pages = (total + IOTD_ADMIN_PAGE_SIZE - 1) / IOTD_ADMIN_PAGE_SIZE;
    json_object_object_add(data, "images", items);
    json_object_object_add(data, "has_images", json_object_new_boolean(count > 0));
    json_object_object_add(data, "q", json_object_new_string(q));
    json_object_object_add(data, "total", json_object_new_int64(total));
    json_object_object_add(data, "page", json_object_new_int64(page));
    json_object_object_add(data, "pages", json_object_new_int64(pages ? pages : 1));
    if (page > 1)
        json_object_object_add(data, "prev_url", json_object_new_string(page_link(ctx, q, page - 1)));
    if (page < pages)
        json_object_object_add(data, "next_url", json_object_new_string(page_link(ctx, q, page + 1)));
    return iotd_view_render(ctx, 200, "admin_list", data);
}

/* The add/edit form, with what the editor typed and an error beside its field. */
static int image_form(iotd_ctx *ctx, const iotd_session *s, int status, const iotd_image *existing,
                      const iotd_library_text *form, const iotd_library_error *err)
{
    const char *name = form->name, *tagline = form->tagline, *date = form->feature_date;
    json_object *data = iotd_admin_page(ctx, s, existing ? "Change image" : "Add image");
    if (!data)
        return iotd_view_error(ctx, 500, NULL);
    json_object_object_add(data, "form_name", json_object_new_string(name ? name : ""));
    json_object_object_add(data, "form_tagline", json_object_new_string(tagline ? tagline : ""));
    json_object_object_add(data, "form_date", json_object_new_string(date ? date : ""));
    json_object_object_add(data, "max_upload_mb", json_object_new_int64(ctx->cfg->max_upload_mb));
    if (existing) {
        json_object *img = image_json(ctx, existing);
        if (img)
            json_object_object_add(data, "image", img);
        json_object_object_add(
            data, "action",
            json_object_new_string(iotd_arena_printf(ctx->arena, "/admin/images/%lld/edit", existing->id)));
    } else {
        json_object_object_add(data, "action", json_object_new_string("/admin/images/new"));
        json_object_object_add(data, "file_required", json_object_new_boolean(1));
    }
    if (err) {
        const char *key = !err->field[0]                            ? "error"
                          : strcmp(err->field, "name") == 0         ? "error_name"
                          : strcmp(err->field, "tagline") == 0      ? "error_tagline"
                          : strcmp(err->field, "feature_date") == 0 ? "error_date"
                                                                    : "error_file";
        json_object_object_add(data, key, json_object_new_string(err->message));
        json_object_object_add(data, "has_errors", json_object_new_boolean(1));
    }
    return iotd_view_render(ctx, status, "admin_form", data);
}

int iotd_handle_admin_new(iotd_ctx *ctx)
{
    iotd_session s;
    if (require_session(ctx, &s) != IOTD_OK)
        return IOTD_OK;
    iotd_library_text empty = {"", "", ""};
    return image_form(ctx, &s, 200, NULL, &empty, NULL);
}

/* Takes an upload slot: IOTD_OK with *fd set (-1 when the pool sets no
 * limit), or the 503 page when every slot is busy. */
static int take_upload_slot(iotd_ctx *ctx, int *fd)
{
    *fd = -1;
    if (!ctx->cfg->upload_slots_dir[0])
        return IOTD_OK;
    for (int waited = 0;; waited += UPLOAD_SLOT_POLL_MS) {
        *fd = iotd_slot_take(ctx->cfg->upload_slots_dir, IOTD_SLOT_UPLOAD, ctx->cfg->upload_slots);
        if (*fd >= 0)
            return IOTD_OK;
        if (waited >= UPLOAD_SLOT_WAIT_MS)
            break;
        struct timespec pause = {0, UPLOAD_SLOT_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    /* A spread of pauses, so the uploads turned away together (and sent
     * again by the admin page) do not all come back at the same moment. */
    unsigned char r = 0;
    (void)iotd_random_bytes(&r, 1);
    char wait[8];
    snprintf(wait, sizeof wait, "%d", UPLOAD_BUSY_RETRY_MIN_S + r % (UPLOAD_BUSY_RETRY_SPREAD_S + 1));
    (void)iotd_response_header(ctx->res, "Retry-After", wait);
    iotd_view_error(ctx, 503,
                    "Other uploads are being processed right now. Nothing was saved; please try again "
                    "in a few seconds.");
    return IOTD_DECLINED;
}

/* Reads the multipart form of a POST and checks it came from our page. */
static int read_image_form(iotd_ctx *ctx, const iotd_session *s, iotd_upload *up)
{
    int status;
    const char *message;
    size_t max = (size_t)ctx->cfg->max_upload_mb * 1024 * 1024;
    if (iotd_upload_read(ctx, max, up, &status, &message) != IOTD_OK) {
        iotd_view_error(ctx, status, message);
        return IOTD_DECLINED;
    }
    return iotd_admin_check_post(ctx, s, up->csrf);
}

/* The flash text "“NAME” was VERB." */
static const char *quoted(iotd_ctx *ctx, const char *name, const char *verb)
{
    const char *m = iotd_arena_printf(ctx->arena, "“%s” was %s.", shorten(ctx->arena, name, 60), verb);
    return m ? m : "Done.";
}

/* An upload answered before its renditions were made: they are finished
 * after the answer, holding the upload slot until then. */
typedef struct upload_after {
    iotd_library_pending pending;
    iotd_upload up;
    int slot;
} upload_after;

static void finish_upload(iotd_ctx *ctx, void *ud)
{
    upload_after *u = ud;
    iotd_library_error err = IOTD_LIBRARY_ERROR_INIT;
    if (iotd_library_add_finish(ctx->db, ctx->s3, ctx->cfg, ctx->arena, &u->up.file, &u->pending, &err) ==
        IOTD_OK)
        iotd_log(IOTD_LOG_INFO, "image %lld is ready", u->pending.image.id);
    iotd_pagecache_changed(ctx->pages);
    iotd_upload_free(&u->up);
    iotd_slot_give(u->slot);
}

int iotd_handle_admin_create(iotd_ctx *ctx)
{
    iotd_session s;
    if (require_session(ctx, &s) != IOTD_OK)
        return IOTD_OK;
    upload_after *u = iotd_arena_calloc(ctx->arena, 1, sizeof *u);
    if (!u)
        return iotd_view_error(ctx, 500, NULL);
    if (take_upload_slot(ctx, &u->slot) != IOTD_OK)
        return IOTD_OK;
    long long t0 = iotd_now_ms();
    if (read_image_form(ctx, &s, &u->up) != IOTD_OK) {
        iotd_upload_free(&u->up);
        iotd_slot_give(u->slot);
        return IOTD_OK;
    }
    iotd_library_error err = IOTD_LIBRARY_ERROR_INIT;
    iotd_library_text text = {u->up.name, u->up.tagline, u->up.feature_date};
    long long t1 = iotd_now_ms();
    int rc =
        iotd_library_add_start(ctx->db, ctx->s3, ctx->cfg, ctx->arena, &u->up.file, &text, &u->pending, &err);
    iotd_pagecache_changed(ctx->pages); /* whatever happened: a commit is possible */
    long long t2 = iotd_now_ms();
    if (rc != IOTD_OK || !u->pending.running) {
        iotd_upload_free(&u->up);
        iotd_slot_give(u->slot);
    } else {
        ctx->after = finish_upload;
        ctx->after_ud = u;
    }
    if (rc != IOTD_OK)
        return image_form(ctx, &s, err.status, NULL, &text, &err);
    const iotd_image *img = &u->pending.image;
    iotd_log(IOTD_LOG_INFO, "editor %s added image %lld (%.1f MB: read in %lld ms, stored in %lld ms)",
             s.username, img->id, (double)img->byte_size / (1024 * 1024), t1 - t0, t2 - t1);
    (void)iotd_admin_flash(ctx, quoted(ctx, img->name, "added"));
    return iotd_admin_redirect(ctx, "/admin/");
}

/* Loads the image named by the path; IOTD_DECLINED with a 404 page otherwise. */
static int load_image(iotd_ctx *ctx, iotd_image *img)
{
    long long id = path_id(ctx);
    int rc = id ? iotd_images_get(ctx->db, ctx->arena, id, img) : IOTD_DECLINED;
    if (rc == IOTD_OK)
        return IOTD_OK;
    if (rc == IOTD_DECLINED)
        iotd_view_error(ctx, 404, "There is no such image. It may have been deleted.");
    else
        iotd_admin_unavailable(ctx, rc);
    return IOTD_DECLINED;
}

int iotd_handle_admin_edit(iotd_ctx *ctx)
{
    iotd_session s;
    iotd_image img;
    if (require_session(ctx, &s) != IOTD_OK || load_image(ctx, &img) != IOTD_OK)
        return IOTD_OK;
    iotd_library_text current = {img.name, img.tagline, img.feature_date};
    return image_form(ctx, &s, 200, &img, &current, NULL);
}

int iotd_handle_admin_update(iotd_ctx *ctx)
{
    iotd_session s;
    iotd_image img;
    if (require_session(ctx, &s) != IOTD_OK)
        return IOTD_OK;
    int slot;
    if (take_upload_slot(ctx, &slot) != IOTD_OK)
        return IOTD_OK;
    iotd_upload up;
    if (read_image_form(ctx, &s, &up) != IOTD_OK || load_image(ctx, &img) != IOTD_OK) {
        iotd_upload_free(&up);
        iotd_slot_give(slot);
        return IOTD_OK;
    }
    iotd_library_error err = IOTD_LIBRARY_ERROR_INIT;
    iotd_library_text text = {up.name, up.tagline, up.feature_date};
    int rc = iotd_library_update(ctx->db, ctx->s3, ctx->cfg, ctx->arena, img.id, &text,
                                 up.file.len ? &up.file : NULL, &err);
    iotd_pagecache_changed(ctx->pages);
    int replaced = up.file.len > 0;
    iotd_upload_free(&up);
    iotd_slot_give(slot);
    if (rc != IOTD_OK)
        return image_form(ctx, &s, err.status, &img, &text, &err);
    iotd_log(IOTD_LOG_INFO, "editor %s changed image %lld%s", s.username, img.id,
             replaced ? " and its file" : "");
    const char *name = up.name;
    iotd_image fresh;
    if (iotd_images_get(ctx->db, ctx->arena, img.id, &fresh) == IOTD_OK)
        name = fresh.name;
    (void)iotd_admin_flash(ctx, quoted(ctx, name, "changed"));
    return iotd_admin_redirect(ctx, "/admin/");
}

int iotd_handle_admin_delete_confirm(iotd_ctx *ctx)
{
    iotd_session s;
    iotd_image img;
    if (require_session(ctx, &s) != IOTD_OK || load_image(ctx, &img) != IOTD_OK)
        return IOTD_OK;
    json_object *data = iotd_admin_page(ctx, &s, "Delete image");
    json_object *o = image_json(ctx, &img);
    if (!data || !o) {
        json_object_put(data);
        json_object_put(o);
        return iotd_view_error(ctx, 500, NULL);
    }
    json_object_object_add(data, "image", o);
    return iotd_view_render(ctx, 200, "admin_delete", data);
}

int iotd_handle_admin_delete(iotd_ctx *ctx)
{
    iotd_session s;
    if (require_session(ctx, &s) != IOTD_OK)
        return IOTD_OK;
    iotd_kvlist form;
    if (iotd_admin_read_form(ctx, &form) != IOTD_OK)
        return IOTD_OK;
    if (iotd_admin_check_post(ctx, &s, iotd_kv_get(&form, "csrf")) != IOTD_OK)
        return IOTD_OK;
    iotd_image img;
    if (load_image(ctx, &img) != IOTD_OK)
        return IOTD_OK;
    iotd_library_error err = IOTD_LIBRARY_ERROR_INIT;
    int rc = iotd_library_remove(ctx->db, ctx->s3, ctx->arena, img.id, &err);
    iotd_pagecache_changed(ctx->pages);
    if (rc == IOTD_DECLINED)
        return iotd_view_error(ctx, 404, err.message);
    if (rc != IOTD_OK)
        return iotd_view_error(ctx, err.status, err.message);
    iotd_log(IOTD_LOG_INFO, "editor %s deleted image %lld", s.username, img.id);
    (void)iotd_admin_flash(ctx, quoted(ctx, img.name, "deleted"));
    return iotd_admin_redirect(ctx, "/admin/");
}
