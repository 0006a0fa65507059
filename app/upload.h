/*
 * upload.h — reads an admin image form (multipart/form-data) from the
 * request body: text fields and at most one file, all within limits.
 */
#ifndef IOTD_UPLOAD_H
#define IOTD_UPLOAD_H

#include "buf.h"
#include "ctx.h"
#include "spool.h"

#define IOTD_UPLOAD_MAX_FIELD_BYTES 8192        /* one text field */
#define IOTD_UPLOAD_FORM_OVERHEAD (1024 * 1024) /* the form around the file */
#define IOTD_UPLOAD_CHUNK (64 * 1024)

typedef struct iotd_upload {
    const char *name;
    const char *tagline;
    const char *feature_date;
    const char *csrf;
    const char *filename; /* as the browser sent it; never used to name anything */
    iotd_spool file;      /* finished; fd -1 or len 0 when no file was chosen */
} iotd_upload;

/* Reads the whole body; the file goes to a spool in ctx->cfg->spool_dir.
 * IOTD_OK, or IOTD_ERROR with *status (400, 413, 415, 503) and a message
 * for the editor. Free with iotd_upload_free. */
int iotd_upload_read(iotd_ctx *ctx, size_t max_file_bytes, iotd_upload *out, int *status,
                     const char **message);
void iotd_upload_free(iotd_upload *u);

#endif
