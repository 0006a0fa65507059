/*
 * library.c — adding, changing and removing images across Postgres and S3.
 *
 * The order is what keeps them consistent: PUT before INSERT (a failed
 * INSERT deletes the new objects), and row change before object DELETE (a
 * failed DELETE goes into object_deletions for `iotd gc`). A crash between
 * the two steps can at worst leave an unreferenced object, which gc finds.
 *
 * An image is three objects: the original and its two renditions, named
 * after the original's key; if a PUT fails, those already stored are
 * deleted again.
 *
 * Two ways to add one:
 * - At once (iotd_library_add: `iotd image add`; replacing a file works
 *   the same way): the renditions are made while the original is stored
 *   and before the row exists, so an image libvips cannot read is refused
 *   with nothing stored.
 * - Answered first (iotd_library_add_start, then _finish: the admin): the
 *   original is stored and the row inserted as processing, which keeps it
 *   off the public pages; the renditions follow after the answer. A file
 *   they cannot be made from fails the row with the reason; a worker that
 *   dies on the way leaves it processing, and iotd_library_retry_stale
 *   takes it up again from the original in S3.
 */
#include "library.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "days.h"
#include "deletions.h"
#include "imagefile.h"
#include "iotd.h"
#include "log.h"
#include "renditions.h"

#define LIBRARY_BYTES_PER_MB (1024L * 1024)
#define LIBRARY_OBJECTS_PER_IMAGE 3 /* the original, the thumbnail, the display copy */

static int fail(iotd_library_error *err, int status, const char *field, const char *message)
{
    err->status = status;
    err->field = field;
    snprintf(err->message, sizeof err->message, "%s", message);
    return IOTD_ERROR;
}

static void s3_error_text(const iotd_s3_error *e, char *out, size_t len)
{
    if (e->http_status)
        snprintf(out, len, "HTTP %ld %s: %s", e->http_status, e->code[0] ? e->code : "error", e->message);
    else
        snprintf(out, len, "%s: %s", e->code[0] ? e->code : "error",
                 e->message[0] ? e->message : "no answer");
}

long iotd_library_text_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    while (*p) {
        unsigned char c = *p;
        int extra;
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (c < 0x80)
            extra = 0;
        else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            extra = 1;
        else if ((c & 0xf0) == 0xe0)
            extra = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            extra = 3;
        else
            return -1;
        unsigned cp = extra == 0 ? c : c & (0x3f >> extra);
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return -1;
        if (cp >= 0x80 && cp < 0xa0) /* C1 controls */
            return -1;
        n++;
    }
    return n;
}

static const char *trim(iotd_arena *a, const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return iotd_arena_strndup(a, s, len);
}

int iotd_library_check_text(iotd_arena *a, const char **name, const char **tagline, iotd_library_error *err)
{
    const char *n = trim(a, *name ? *name : "");
    const char *t = trim(a, *tagline ? *tagline : "");
    if (!n || !t)
        return fail(err, 500, "", "Out of memory.");
    long nc = iotd_library_text_chars(n), tc = iotd_library_text_chars(t);
    if (nc < 0)
        return fail(err, 400, "name", "The name contains characters that are not allowed.");
    if (nc == 0)
        return fail(err, 400, "name", "Please give the image a name.");
    if (nc > IOTD_MAX_NAME_CHARS)
        return fail(err, 400, "name", "The name can be at most 200 characters long.");
    if (tc < 0)
        return fail(err, 400, "tagline", "The tagline contains characters that are not allowed.");
    if (tc > IOTD_MAX_TAGLINE_CHARS)
        return fail(err, 400, "tagline", "The tagline can be at most 500 characters long.");
    *name = n;
    *tagline = t;
    return IOTD_OK;
}

int iotd_library_check_date(const char *date, iotd_library_error *err)
{
    if (!date || !*date || iotd_date_valid(date))
        return IOTD_OK;
    return fail(err, 400, "feature_date", "The date must be a real day written YYYY-MM-DD.");
}

static int date_taken(iotd_library_error *err, const char *date)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Another image is already scheduled for %.10s.", date);
    err->stage = IOTD_LIBRARY_SAVE;
    snprintf(err->detail, sizeof err->detail, "another image is scheduled for %.10s", date);
    return fail(err, 409, "feature_date", msg);
}

static void s3_failure(iotd_library_error *err, int rc, const iotd_s3_error *e)
{
    s3_error_text(e, err->detail, sizeof err->detail);
    iotd_log(IOTD_LOG_ERROR, "storing an image failed: %s", err->detail);
    err->stage = IOTD_LIBRARY_STORE;
    fail(err, rc == IOTD_AGAIN ? 503 : 500, "file",
         rc == IOTD_AGAIN ? "The image store is unreachable right now. Nothing was saved; please try again."
                          : "The image could not be stored. Nothing was saved; please try again.");
}

/* An object about to be stored. */
typedef struct new_object {
    const char *key;
    const iotd_spool *file;
    const char *content_type;
} new_object;

static int discard_keys(iotd_db *db, iotd_s3 *s3, const char *const *keys, size_t n, char *detail,
                        size_t detail_len);

/* PUTs objs[first..n) in order (those before first are stored already);
 * when one fails, all stored before it are deleted again (or recorded for
 * gc, err->object_kept). */
static int put_objects(iotd_db *db, iotd_s3 *s3, const new_object *objs, size_t n, size_t first,
                       iotd_library_error *err)
{
    for (size_t i = first; i < n; i++) {
        iotd_s3_error e;
        memset(&e, 0, sizeof e);
        int rc = iotd_s3_put_spool(s3, objs[i].key, objs[i].file, objs[i].content_type, &e);
        if (rc == IOTD_OK)
            continue;
        s3_failure(err, rc, &e);
        const char *stored[LIBRARY_OBJECTS_PER_IMAGE];
        for (size_t j = 0; j < i && j < IOTD_ARRAY_LEN(stored); j++)
            stored[j] = objs[j].key;
        char why[128];
        err->object_kept = discard_keys(db, s3, stored, i, why, sizeof why) != IOTD_OK;
        return IOTD_ERROR;
    }
    return IOTD_OK;
}

/* A fresh key for a rendition of original, in the arena. */
static const char *rendition_key(iotd_arena *a, const char *original, iotd_rendition_kind kind,
                                 const char *ext)
{
    iotd_buf key = IOTD_BUF_INIT;
    const char *out = NULL;
    if (iotd_renditions_key(original, kind, ext, &key) == IOTD_OK)
        out = iotd_arena_strndup(a, key.data, key.len);
    iotd_buf_free(&key);
    return out;
}

static void set_rendition(iotd_rendition *r, const char *key, const iotd_rendition_out *made)
{
    r->key = key;
    r->width = made->width;
    r->height = made->height;
}

/* The answer of a renditions run, as a form error on the file (an image
 * the renderer cannot read is refused; a busy renderer is a 503). */
static int renditions_failed(iotd_library_error *err, int rc, const char *why)
{
    err->stage = IOTD_LIBRARY_CHECK;
    snprintf(err->detail, sizeof err->detail, "making renditions: %s", why);
    if (rc == IOTD_DECLINED)
        return fail(err, 400, "file", why);
    if (rc == IOTD_AGAIN)
        return fail(err, 503, "file",
                    "The image took too long to process; the server may be busy. Nothing was saved; please "
                    "try again.");
    return fail(err, 500, "file", "The image could not be processed. Nothing was saved; please try again.");
}

/* Checks what the file is from its first bytes. */
static int sniff(const iotd_spool *upload, const iotd_config *cfg, iotd_imagefile_info *info,
                 iotd_library_error *err)
{
    if (upload->len > (size_t)cfg->max_upload_mb * LIBRARY_BYTES_PER_MB) {
        char msg[128];
        snprintf(msg, sizeof msg, "The file is larger than %ld MB.", cfg->max_upload_mb);
        return fail(err, 413, "file", msg);
    }
    if (upload->len == 0)
        return fail(err, 400, "file", "The file is empty. Please choose an image file.");
    unsigned char head[IOTD_IMAGEFILE_SNIFF_BYTES];
    long n = iotd_spool_pread(upload, head, sizeof head, 0);
    char why[IOTD_IMAGEFILE_ERR_LEN];
    if (n <= 0)
        return fail(err, 500, "file",
                    "The upload could not be read back. Nothing was saved; please try again.");
    if (iotd_imagefile_sniff(head, (size_t)n, info, why, sizeof why) != IOTD_OK)
        return fail(err, 400, "file", why);
    return IOTD_OK;
}

/* The first half of storing a file: checks what it is, starts its
 * renditions (job, unless NULL) and stores the original under a fresh key
 * while they are made. On failure nothing is stored and the renderer is
 * stopped. */
static int store_original(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                          const iotd_spool *upload, iotd_image *file, iotd_renditions *job,
                          iotd_library_error *err)
{
    iotd_imagefile_info info;
    memset(file, 0, sizeof *file);
    if (sniff(upload, cfg, &info, err) != IOTD_OK)
        return IOTD_ERROR;
    char why[IOTD_RENDITIONS_ERR_LEN];
    int rc = job ? iotd_renditions_start(job, cfg, upload, why, sizeof why) : IOTD_OK;
    if (rc != IOTD_OK)
        return renditions_failed(err, rc, why);
    iotd_buf key = IOTD_BUF_INIT;
    rc = IOTD_ERROR;
    if (iotd_s3_make_key(&cfg->s3, info.extension, &key) != IOTD_OK ||
        !(file->object_key = iotd_arena_strndup(a, key.data, key.len))) {
        fail(err, 500, "file", "Could not name the new objects.");
    } else {
        new_object original = {file->object_key, upload, info.content_type};
        rc = put_objects(db, s3, &original, 1, 0, err);
    }
    iotd_buf_free(&key);
    if (rc != IOTD_OK) {
        if (job)
            iotd_renditions_free(job);
        return IOTD_ERROR;
    }
    file->content_type = info.content_type;
    file->byte_size = (long long)upload->len;
    return IOTD_OK;
}

/* The second half: waits for the renditions of file (its original stored)
 * and stores them. On failure the renditions stored are deleted again and
 * the original is left to the caller; a file the renderer refuses is
 * status 400. */
static int store_renditions(iotd_db *db, iotd_s3 *s3, iotd_arena *a, iotd_image *file, iotd_renditions *job,
                            iotd_library_error *err)
{
    char why[IOTD_RENDITIONS_ERR_LEN];
    int made = iotd_renditions_finish(job, why, sizeof why);
    if (made == IOTD_OK && strcmp(job->original.content_type, file->content_type) != 0) {
        made = IOTD_DECLINED;
        snprintf(why, sizeof why, "The file is not a valid %s image.", file->content_type);
    }
    if (made == IOTD_OK && (!(file->thumb.key = rendition_key(a, file->object_key, IOTD_RENDITION_THUMB,
                                                              job->thumb.extension)) ||
                            !(file->display.key = rendition_key(a, file->object_key, IOTD_RENDITION_DISPLAY,
                                                                job->display.extension)))) {
        made = IOTD_ERROR;
        snprintf(why, sizeof why, "could not name the renditions");
    }
    if (made != IOTD_OK)
        return renditions_failed(err, made, why);
    new_object objs[] = {
        {file->thumb.key, &job->thumb.file, job->thumb.content_type},
        {file->display.key, &job->display.file, job->display.content_type},
    };
    if (put_objects(db, s3, objs, IOTD_ARRAY_LEN(objs), 0, err) != IOTD_OK)
        return IOTD_ERROR;
    file->width = job->original.width;
    file->height = job->original.height;
    set_rendition(&file->thumb, file->thumb.key, &job->thumb);
    set_rendition(&file->display, file->display.key, &job->display);
    return IOTD_OK;
}

int iotd_library_store_file(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                            const iotd_spool *upload, iotd_image *file, iotd_library_error *err)
{
    iotd_renditions job;
    if (store_original(db, s3, cfg, a, upload, file, &job, err) != IOTD_OK)
        return IOTD_ERROR;
    int rc = store_renditions(db, s3, a, file, &job, err);
    iotd_renditions_free(&job);
    if (rc != IOTD_OK) {
        char detail[128];
        const char *stored[] = {file->object_key};
        err->object_kept = discard_keys(db, s3, stored, 1, detail, sizeof detail) != IOTD_OK;
    }
    return rc;
}

int iotd_library_discard_object(iotd_db *db, iotd_s3 *s3, const char *key, char *detail, size_t detail_len)
{
    iotd_s3_error e;
    memset(&e, 0, sizeof e);
    int rc = iotd_s3_delete(s3, key, &e);
    if (rc == IOTD_OK || rc == IOTD_DECLINED) {
        /* if forgetting the record fails, gc deletes an absent object once: harmless */
        (void)iotd_deletions_done(db, key);
        return IOTD_OK;
    }
    s3_error_text(&e, detail, detail_len);
    iotd_log(IOTD_LOG_WARN, "deleting object %s failed (%s); recorded for iotd gc", key, detail);
    if (iotd_deletions_failed(db, key, detail) != IOTD_OK)
        iotd_log(IOTD_LOG_ERROR, "could not record object %s for deletion: iotd gc will list it as an orphan",
                 key);
    return IOTD_AGAIN;
}

/* Discards each non-empty key; IOTD_OK, or IOTD_AGAIN when any is kept
 * for gc (the last cause in detail). */
static int discard_keys(iotd_db *db, iotd_s3 *s3, const char *const *keys, size_t n, char *detail,
                        size_t detail_len)
{
    int rc = IOTD_OK;
    for (size_t i = 0; i < n; i++)
        if (keys[i] && keys[i][0] &&
            iotd_library_discard_object(db, s3, keys[i], detail, detail_len) != IOTD_OK)
            rc = IOTD_AGAIN;
    return rc;
}

static int discard_image_keys(iotd_db *db, iotd_s3 *s3, const iotd_image_keys *k, char *detail,
                              size_t detail_len)
{
    const char *keys[] = {k->original, k->thumb, k->display};
    return discard_keys(db, s3, keys, IOTD_ARRAY_LEN(keys), detail, detail_len);
}

/* Records each of the row's objects for deletion (inside the caller's transaction). */
static int request_deletions(iotd_db *db, const iotd_image_keys *k)
{
    const char *keys[] = {k->original, k->thumb, k->display};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(keys); i++) {
        if (!keys[i] || !keys[i][0])
            continue;
        int rc = iotd_deletions_request(db, keys[i]);
        if (rc != IOTD_OK)
            return rc;
    }
    return IOTD_OK;
}

static void stored_keys(const iotd_image *file, iotd_image_keys *k)
{
    k->original = file->object_key;
    k->thumb = file->thumb.key;
    k->display = file->display.key;
}

/* Ends a transaction after the caller's statements (rc): records the
 * objects deleted (may be NULL) and commits, or rolls back. */
static int end_transaction(iotd_db *db, int rc, const iotd_image_keys *deleted)
{
    if (rc == IOTD_OK && deleted)
        rc = request_deletions(db, deleted);
    if (rc == IOTD_OK)
        rc = iotd_db_commit(db);
    if (rc != IOTD_OK)
        iotd_db_rollback(db);
    return rc;
}

static int db_failure(iotd_library_error *err, int rc)
{
    err->stage = IOTD_LIBRARY_SAVE;
    snprintf(err->detail, sizeof err->detail, "%s",
             rc == IOTD_AGAIN ? "the database is unreachable"
                              : "the database refused the statement (see the log)");
    return fail(err, rc == IOTD_AGAIN ? 503 : 500, "",
                rc == IOTD_AGAIN
                    ? "The database is unreachable right now. Nothing was saved; please try again."
                    : "The change could not be saved. Please try again.");
}

/* Checks a new image's text and date (trimmed into img) and that the
 * database is there, before anything is stored. */
static int check_new(iotd_db *db, iotd_arena *a, const iotd_library_text *text, iotd_image *img,
                     iotd_library_error *err)
{
    const char *name = text->name, *tagline = text->tagline,
               *date = text->feature_date ? text->feature_date : "";
    if (iotd_library_check_text(a, &name, &tagline, err) != IOTD_OK ||
        iotd_library_check_date(date, err) != IOTD_OK)
        return IOTD_ERROR;
    if (iotd_db_ready(db) != IOTD_OK) {
        db_failure(err, IOTD_AGAIN);
        err->stage = IOTD_LIBRARY_CHECK; /* checked before anything was stored */
        return IOTD_ERROR;
    }
    img->name = name;
    img->tagline = tagline;
    img->feature_date = date;
    return IOTD_OK;
}

/* Inserts the row of img, whose objects are stored; they are deleted
 * again when the insert fails. */
static int insert_row(iotd_db *db, iotd_s3 *s3, iotd_arena *a, iotd_image *img, iotd_library_error *err)
{
    int rc = iotd_images_insert(db, a, img);
    if (rc == IOTD_OK)
        return IOTD_OK;
    if (rc == IOTD_DECLINED)
        date_taken(err, img->feature_date);
    else
        db_failure(err, rc);
    char why[128];
    iotd_image_keys stored;
    stored_keys(img, &stored);
    err->object_kept = discard_image_keys(db, s3, &stored, why, sizeof why) != IOTD_OK;
    return IOTD_ERROR;
}

int iotd_library_add(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, const iotd_spool *file,
                     const iotd_library_text *text, iotd_image *out, iotd_library_error *err)
{
    iotd_image checked;
    memset(&checked, 0, sizeof checked);
    if (check_new(db, a, text, &checked, err) != IOTD_OK ||
        iotd_library_store_file(db, s3, cfg, a, file, out, err) != IOTD_OK)
        return IOTD_ERROR;
    out->name = checked.name;
    out->tagline = checked.tagline;
    out->feature_date = checked.feature_date;
    return insert_row(db, s3, a, out, err);
}

/* The image's type and size as its headers give them (the checks
 * iotd-render makes before decoding), from the spool mapped, not read:
 * only the pages the headers are on are touched. */
static int file_info(const iotd_spool *upload, iotd_imagefile_info *info, char *why, size_t whylen)
{
    snprintf(why, whylen, "the upload could not be read back");
    if (upload->fd < 0 || upload->len == 0)
        return IOTD_ERROR;
    void *map = mmap(NULL, upload->len, PROT_READ, MAP_PRIVATE, upload->fd, 0);
    if (map == MAP_FAILED)
        return IOTD_ERROR;
    int rc = iotd_imagefile_detect(map, upload->len, info, why, whylen);
    munmap(map, upload->len);
    return rc;
}

int iotd_library_add_start(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                           const iotd_spool *file, const iotd_library_text *text, iotd_library_pending *p,
                           iotd_library_error *err)
{
    memset(p, 0, sizeof *p);
    iotd_imagefile_info info;
    char why[IOTD_IMAGEFILE_ERR_LEN];
    if (file_info(file, &info, why, sizeof why) != IOTD_OK) /* refused below, with the renderer's words */
        return iotd_library_add(db, s3, cfg, a, file, text, &p->image, err);
    iotd_image checked;
    memset(&checked, 0, sizeof checked);
    if (check_new(db, a, text, &checked, err) != IOTD_OK)
        return IOTD_ERROR;
    iotd_image *img = &p->image;
    /* the renderer starts after the answer: the original's PUT, which the
     * editor waits for, has the machine to itself */
    if (store_original(db, s3, cfg, a, file, img, NULL, err) != IOTD_OK)
        return IOTD_ERROR;
    img->width = info.width;
    img->height = info.height;
    img->name = checked.name;
    img->tagline = checked.tagline;
    img->feature_date = checked.feature_date;
    img->thumb.key = img->display.key = "";
    img->processing = 1;
    img->processing_error = "";
    if (insert_row(db, s3, a, img, err) != IOTD_OK)
        return IOTD_ERROR;
    p->running = 1;
    return IOTD_OK;
}

/* Points a processing row at its renditions, which ends its processing;
 * when the row was deleted or its file replaced meanwhile, the renditions
 * belong to nothing and are deleted. */
static int record_renditions(iotd_db *db, iotd_s3 *s3, iotd_arena *a, const iotd_image *img,
                             iotd_library_error *err)
{
    iotd_image_keys old = {NULL, NULL, NULL};
    int rc = iotd_db_begin(db);
    if (rc == IOTD_OK)
        rc = iotd_images_set_renditions(db, a, img->id, img->object_key, &img->thumb, &img->display, &old);
    old.original = NULL; /* stays */
    rc = end_transaction(db, rc, &old);
    if (rc != IOTD_OK) {
        if (rc == IOTD_DECLINED) {
            err->stage = IOTD_LIBRARY_SAVE;
            snprintf(err->detail, sizeof err->detail, "the image was removed or its file replaced meanwhile");
            fail(err, 409, "", "The image changed while its renditions were made.");
        } else {
            db_failure(err, rc);
        }
        char why[128];
        const char *stored[] = {img->thumb.key, img->display.key};
        err->object_kept = discard_keys(db, s3, stored, IOTD_ARRAY_LEN(stored), why, sizeof why) != IOTD_OK;
        return rc == IOTD_DECLINED ? IOTD_DECLINED : IOTD_ERROR;
    }
    err->object_kept = discard_image_keys(db, s3, &old, err->detail, sizeof err->detail) != IOTD_OK;
    return IOTD_OK;
}

/* Renditions that could not be made: a file the renderer refuses fails the
 * row with the reason for the editor; anything else leaves it processing,
 * for a worker to take up again. */
static void processing_failed(iotd_db *db, const iotd_image *img, const iotd_library_error *err)
{
    if (err->status != 400 && err->status != 404) { /* not the file itself, nor its original gone */
        iotd_log(IOTD_LOG_WARN, "renditions of image %lld failed (%s); it will be tried again", img->id,
                 err->detail);
        return;
    }
    iotd_log(IOTD_LOG_INFO, "image %lld cannot be made into renditions: %s", img->id, err->detail);
    if (iotd_images_set_failed(db, img->id, img->object_key, err->message) == IOTD_ERROR)
        iotd_log(IOTD_LOG_ERROR, "could not mark image %lld as failed; it will be tried again", img->id);
}

int iotd_library_add_finish(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                            const iotd_spool *file, iotd_library_pending *p, iotd_library_error *err)
{
    if (!p->running)
        return IOTD_OK;
    p->running = 0;
    iotd_renditions job;
    char why[IOTD_RENDITIONS_ERR_LEN];
    int rc = iotd_renditions_start(&job, cfg, file, why, sizeof why);
    if (rc != IOTD_OK) {
        rc = renditions_failed(err, rc, why);
    } else {
        rc = store_renditions(db, s3, a, &p->image, &job, err);
        iotd_renditions_free(&job);
    }
    if (rc == IOTD_OK)
        rc = record_renditions(db, s3, a, &p->image, err);
    else
        processing_failed(db, &p->image, err);
    return rc;
}

int iotd_library_update(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long long id,
                        const iotd_library_text *text, const iotd_spool *upload, iotd_library_error *err)
{
    const char *name = text->name, *tagline = text->tagline,
               *date = text->feature_date ? text->feature_date : "";
    if (iotd_library_check_text(a, &name, &tagline, err) != IOTD_OK ||
        iotd_library_check_date(date, err) != IOTD_OK)
        return IOTD_ERROR;
    iotd_image file;
    int have_file = upload != NULL && upload->fd >= 0 && upload->len > 0;
    if (have_file && iotd_library_store_file(db, s3, cfg, a, upload, &file, err) != IOTD_OK)
        return IOTD_ERROR;
    iotd_image_keys old = {NULL, NULL, NULL};
    int rc = iotd_db_begin(db);
    int taken = 0;
    if (rc == IOTD_OK)
        rc = iotd_images_update_text(db, id, name, tagline, date, &taken);
    if (rc == IOTD_OK && have_file)
        rc = iotd_images_update_file(db, a, id, &file, &old);
    rc = end_transaction(db, rc, have_file ? &old : NULL);
    if (rc != IOTD_OK) {
        if (rc == IOTD_DECLINED) {
            err->stage = IOTD_LIBRARY_SAVE;
            fail(err, 404, "", "That image no longer exists.");
        } else if (taken) {
            date_taken(err, date);
        } else {
            db_failure(err, rc);
        }
        char why[128];
        if (have_file) {
            iotd_image_keys stored;
            stored_keys(&file, &stored);
            err->object_kept = discard_image_keys(db, s3, &stored, why, sizeof why) != IOTD_OK;
        }
        return IOTD_ERROR;
    }
    if (have_file)
        err->object_kept = discard_image_keys(db, s3, &old, err->detail, sizeof err->detail) != IOTD_OK;
    return IOTD_OK;
}

int iotd_library_remove(iotd_db *db, iotd_s3 *s3, iotd_arena *a, long long id, iotd_library_error *err)
{
    /* The row goes and the object's deletion is recorded in one transaction,
     * so a crash or an S3 outage afterwards leaves work for gc, never an orphan. */
    iotd_image_keys keys = {NULL, NULL, NULL};
    int rc = iotd_db_begin(db);
    if (rc == IOTD_OK)
        rc = iotd_images_delete(db, a, id, &keys);
    rc = end_transaction(db, rc, &keys);
    if (rc != IOTD_OK) {
        if (rc == IOTD_DECLINED) {
            err->stage = IOTD_LIBRARY_SAVE;
            fail(err, 404, "", "That image no longer exists.");
            return IOTD_DECLINED;
        }
        return db_failure(err, rc);
    }
    err->object_kept = discard_image_keys(db, s3, &keys, err->detail, sizeof err->detail) != IOTD_OK;
    return IOTD_OK;
}

/* The original, into a spool, for a rebuild. */
static int fetch_original(iotd_s3 *s3, const iotd_config *cfg, const char *key, iotd_spool *body,
                          iotd_library_error *err)
{
    size_t max = (size_t)cfg->max_upload_mb * LIBRARY_BYTES_PER_MB;
    if (max < IOTD_LIBRARY_REBUILD_MAX_BYTES) /* the limit may have been lowered since the upload */
        max = IOTD_LIBRARY_REBUILD_MAX_BYTES;
    if (iotd_spool_open(body, cfg->spool_dir, max) != IOTD_OK) {
        err->stage = IOTD_LIBRARY_STORE;
        snprintf(err->detail, sizeof err->detail, "no temporary file in %.200s", cfg->spool_dir);
        return fail(err, 500, "", "The original could not be fetched: there is no room for it.");
    }
    iotd_s3_error e;
    memset(&e, 0, sizeof e);
    int rc = iotd_s3_get_spool(s3, key, body, &e);
    if (rc == IOTD_OK)
        return IOTD_OK;
    err->stage = IOTD_LIBRARY_STORE;
    if (rc == IOTD_DECLINED) {
        snprintf(err->detail, sizeof err->detail, "the original object %.200s is missing", key);
        return fail(err, 404, "", "The image's original file is missing from the store.");
    }
    s3_error_text(&e, err->detail, sizeof err->detail);
    return fail(err, rc == IOTD_AGAIN ? 503 : 500, "", "The original could not be fetched from the store.");
}

int iotd_library_rebuild(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long long id,
                         iotd_image *out, iotd_library_error *err)
{
    int rc = iotd_images_get(db, a, id, out);
    if (rc == IOTD_DECLINED) {
        err->stage = IOTD_LIBRARY_CHECK;
        snprintf(err->detail, sizeof err->detail, "there is no image with id %lld", id);
        fail(err, 404, "", "That image no longer exists.");
        return IOTD_DECLINED;
    }
    if (rc != IOTD_OK)
        return db_failure(err, rc);
    iotd_spool body = IOTD_SPOOL_INIT;
    rc = fetch_original(s3, cfg, out->object_key, &body, err);
    if (rc == IOTD_OK) {
        iotd_renditions job;
        char why[IOTD_RENDITIONS_ERR_LEN];
        int started = iotd_renditions_start(&job, cfg, &body, why, sizeof why);
        if (started != IOTD_OK) {
            rc = renditions_failed(err, started, why);
        } else {
            rc = store_renditions(db, s3, a, out, &job, err);
            iotd_renditions_free(&job);
        }
    }
    iotd_spool_close(&body);
    if (rc == IOTD_OK)
        rc = record_renditions(db, s3, a, out, err);
    return rc == IOTD_OK ? IOTD_OK : IOTD_ERROR;
}

int iotd_library_retry_stale(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long retry_s,
                             long long *id, iotd_library_error *err)
{
    int gave_up = 0;
    int rc = iotd_images_claim_stale(db, retry_s, IOTD_LIBRARY_ATTEMPTS, id, &gave_up);
    if (rc != IOTD_OK)
        return rc;
    if (gave_up) {
        iotd_log(IOTD_LOG_WARN, "image %lld could not be made into renditions in %d attempts; marked failed",
                 *id, IOTD_LIBRARY_ATTEMPTS);
        return IOTD_OK;
    }
    iotd_log(IOTD_LOG_INFO, "image %lld was still processing after %ld s; making its renditions again", *id,
             retry_s);
    iotd_image img;
    rc = iotd_library_rebuild(db, s3, cfg, a, *id, &img, err);
    if (rc == IOTD_ERROR && err->status != 409)
        processing_failed(db, &img, err);
    if (rc == IOTD_ERROR && err->status == 503 && err->stage != IOTD_LIBRARY_CHECK &&
        iotd_images_release_attempt(db, *id) == IOTD_OK) /* S3 or Postgres away, not the file */
        iotd_log(IOTD_LOG_INFO, "image %lld: that attempt does not count", *id);
    return rc == IOTD_DECLINED ? IOTD_OK : rc; /* deleted meanwhile: nothing left to do */
}
