/*
 * upload.c — streams a multipart body through the parser into the fields
 * of an iotd_upload. The file goes into a spool on disk (hashed on the
 * way), capped at the upload limit, so a worker holds one 64 KB chunk of
 * it at a time; text fields are small and capped; anything else in the
 * form is counted and ignored.
 */
#include "upload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iotd.h"
#include "log.h"
#include "multipart.h"
#include "request.h"

enum part_kind { PART_IGNORED, PART_NAME, PART_TAGLINE, PART_DATE, PART_CSRF, PART_FILE };

typedef struct reader {
    iotd_ctx *ctx;
    iotd_upload *up;
    enum part_kind kind;
    iotd_buf field;
    size_t max_file;
    int file_too_large;
    int field_too_large;
    int no_room; /* the spool could not be written */
} reader;

static int on_begin(void *ud, const char *name, const char *filename, const char *content_type)
{
    IOTD_UNUSED(content_type);
    reader *r = ud;
    iotd_buf_reset(&r->field);
    if (filename && strcmp(name, "file") == 0) {
        r->kind = PART_FILE;
        iotd_spool_close(&r->up->file); /* a second file part replaces the first */
        if (iotd_spool_open(&r->up->file, r->ctx->cfg->spool_dir, r->max_file) != IOTD_OK) {
            r->no_room = 1;
            return IOTD_ERROR;
        }
        r->up->filename = iotd_arena_strdup(r->ctx->arena, filename);
        return r->up->filename ? IOTD_OK : IOTD_ERROR;
    }
    r->kind = strcmp(name, "name") == 0           ? PART_NAME
              : strcmp(name, "tagline") == 0      ? PART_TAGLINE
              : strcmp(name, "feature_date") == 0 ? PART_DATE
              : strcmp(name, "csrf") == 0         ? PART_CSRF
                                                  : PART_IGNORED;
    return IOTD_OK;
}

static int on_data(void *ud, const char *data, size_t len)
{
    reader *r = ud;
    if (r->kind == PART_IGNORED)
        return IOTD_OK;
    if (r->kind == PART_FILE) {
        int rc = iotd_spool_write(&r->up->file, data, len);
        if (rc == IOTD_DECLINED)
            r->file_too_large = 1;
        else if (rc != IOTD_OK)
            r->no_room = 1;
        return rc == IOTD_OK ? IOTD_OK : IOTD_ERROR;
    }
    if (iotd_buf_append(&r->field, data, len) != IOTD_OK) {
        r->field_too_large = 1;
        return IOTD_ERROR;
    }
    return IOTD_OK;
}

static int on_end(void *ud)
{
    reader *r = ud;
    if (r->kind == PART_FILE) {
        if (iotd_spool_finish(&r->up->file) == IOTD_OK)
            return IOTD_OK;
        r->no_room = 1;
        return IOTD_ERROR;
    }
    if (r->kind == PART_IGNORED)
        return IOTD_OK;
    if (memchr(r->field.data ? r->field.data : "", '\0', r->field.len))
        return IOTD_ERROR;
    const char *value = iotd_arena_strndup(r->ctx->arena, r->field.data ? r->field.data : "", r->field.len);
    if (!value)
        return IOTD_ERROR;
    if (r->kind == PART_NAME)
        r->up->name = value;
    else if (r->kind == PART_TAGLINE)
        r->up->tagline = value;
    else if (r->kind == PART_DATE)
        r->up->feature_date = value;
    else
        r->up->csrf = value;
    return IOTD_OK;
}

static int too_large(int *status, const char **message, iotd_ctx *ctx, size_t max_file)
{
    *status = 413;
    *message = iotd_arena_printf(ctx->arena, "The file is larger than %zu MB. Please choose a smaller image.",
                                 max_file / (1024 * 1024));
    if (!*message)
        *message = "The file is too large.";
    return IOTD_ERROR;
}

int iotd_upload_read(iotd_ctx *ctx, size_t max_file, iotd_upload *up, int *status, const char **message)
{
    memset(up, 0, sizeof *up);
    up->file = (iotd_spool)IOTD_SPOOL_INIT;
    *status = 400;
    *message = "The form could not be read.";
    iotd_request *req = ctx->req;
    if (!iotd_media_type_is(req->content_type, "multipart/form-data")) {
        *status = 415;
        *message = "This form must be sent as multipart/form-data.";
        return IOTD_ERROR;
    }
    if (req->content_length < 0)
        return IOTD_ERROR;
    if ((unsigned long long)req->content_length > max_file + IOTD_UPLOAD_FORM_OVERHEAD)
        return too_large(status, message, ctx, max_file);
    char boundary[128];
    const char *why = NULL;
    if (iotd_multipart_boundary(req->content_type, boundary, sizeof boundary, &why) != IOTD_OK) {
        *message = why ? why : *message;
        return IOTD_ERROR;
    }
    reader r = {ctx, up, PART_IGNORED, IOTD_BUF_INIT, max_file, 0, 0, 0};
    r.field.max = IOTD_UPLOAD_MAX_FIELD_BYTES;
    iotd_multipart_limits lim = {IOTD_MAX_PARTS, IOTD_MAX_PART_HEADER_BYTES,
                                 max_file + IOTD_UPLOAD_FORM_OVERHEAD};
    iotd_multipart_callbacks cb = {on_begin, on_data, on_end};
    iotd_multipart *mp = iotd_multipart_new(boundary, &lim, &cb, &r);
    char *chunk = iotd_arena_alloc(ctx->arena, IOTD_UPLOAD_CHUNK);
    if (!mp || !chunk) {
        iotd_multipart_free(mp);
        iotd_buf_free(&r.field);
        *status = 500;
        return IOTD_ERROR;
    }
    int rc = IOTD_OK;
    long long left = req->content_length;
    while (rc == IOTD_OK && left > 0) {
        size_t want = left < IOTD_UPLOAD_CHUNK ? (size_t)left : IOTD_UPLOAD_CHUNK;
        long n = ctx->read_body(ctx->body_ud, chunk, want);
        if (n <= 0) {
            *message = "The upload was cut off before it finished.";
            rc = IOTD_ERROR;
            break;
        }
        left -= n;
        rc = iotd_multipart_feed(mp, chunk, (size_t)n);
    }
    if (rc == IOTD_OK)
        rc = iotd_multipart_finish(mp);
    if (rc != IOTD_OK && (r.file_too_large || iotd_multipart_error_status(mp) == 413)) {
        rc = too_large(status, message, ctx, max_file);
    } else if (rc != IOTD_OK && r.no_room) {
        iotd_log(IOTD_LOG_ERROR, "an upload could not be written to %s: %s", ctx->cfg->spool_dir,
                 strerror(errno));
        *status = 503;
        *message = "The server has no room for the upload right now. Nothing was saved; please try again.";
    } else if (rc != IOTD_OK && r.field_too_large) {
        *message = "A text field is too long.";
    } else if (rc != IOTD_OK && iotd_multipart_error(mp) && left == 0) {
        *message = iotd_arena_printf(ctx->arena, "The form could not be read: %s", iotd_multipart_error(mp));
        if (!*message)
            *message = "The form could not be read.";
    }
    iotd_multipart_free(mp);
    iotd_buf_free(&r.field);
    return rc == IOTD_OK ? IOTD_OK : IOTD_ERROR;
}

void iotd_upload_free(iotd_upload *u)
{
    iotd_spool_close(&u->file);
}
