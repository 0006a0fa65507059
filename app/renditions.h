/*
 * renditions.h — web-sized copies of an uploaded image, made by the
 * iotd-render program (app/render_main.c, libvips) in a process of its own.
 *
 * A thumbnail (longest side <= 400 px) and a display copy (longest side
 * <= 2560 px, never enlarged), upright by the EXIF orientation, converted
 * to sRGB and stripped of all metadata. Opaque images become progressive
 * JPEG (quality 82); images with real transparency become PNG. Both come
 * back as spools, so the caller streams them to S3.
 */
#ifndef IOTD_RENDITIONS_H
#define IOTD_RENDITIONS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "imagefile.h"
#include "spool.h"

#define IOTD_RENDITIONS_MAX_PIXELS (100LL * 1000 * 1000) /* refused before decoding: decompression bombs */
#define IOTD_RENDITIONS_THUMB_SIDE 400
#define IOTD_RENDITIONS_DISPLAY_SIDE 2560
#define IOTD_RENDITIONS_QUALITY 82 /* JPEG */
#define IOTD_RENDITIONS_ERR_LEN 320
#define IOTD_RENDITIONS_MAX_BYTES (64L * 1024 * 1024) /* a rendition larger than this is refused */

typedef enum { IOTD_RENDITION_THUMB, IOTD_RENDITION_DISPLAY } iotd_rendition_kind;

/* One encoded rendition, in its spool (finished: length and hash known). */
typedef struct iotd_rendition_out {
    iotd_spool file;
    int width;
    int height;
    const char *content_type; /* "image/jpeg" or "image/png" (static) */
    const char *extension;    /* "jpg" or "png" (static) */
} iotd_rendition_out;

/* One run of iotd-render: started, then finished (or freed, which stops it). */
typedef struct iotd_renditions {
    pid_t pid;  /* 0 when not running */
    int answer; /* read end of the program's standard output */
    struct timespec deadline;
    iotd_imagefile_info original; /* the original as the program read it */
    iotd_rendition_out thumb, display;
    long peak_rss_kb; /* of the program, once finished */
    double ms;        /* its run time */
} iotd_renditions;

/* Starts making the renditions of original (a finished spool) with
 * cfg->render_bin at cfg->render_nice; the spools go in cfg->spool_dir.
 * IOTD_OK, or IOTD_ERROR with the reason in err. */
int iotd_renditions_start(iotd_renditions *job, const iotd_config *cfg, const iotd_spool *original, char *err,
                          size_t errlen);
/* Waits for the answer (at most cfg->render_timeout from the start).
 * IOTD_OK; IOTD_DECLINED when the image is refused (not an image, too many
 * pixels, undecodable), with a message fit for the uploader in err;
 * IOTD_AGAIN when the program ran out of time (it is killed); IOTD_ERROR
 * when it failed. */
int iotd_renditions_finish(iotd_renditions *job, char *err, size_t errlen);
/* Start and finish. */
int iotd_renditions_make(iotd_renditions *job, const iotd_config *cfg, const iotd_spool *original, char *err,
                         size_t errlen);
/* Stops the program if it still runs, and closes the spools. */
void iotd_renditions_free(iotd_renditions *job);

/* Parses the program's output (exposed for tests). Same answers as finish. */
int iotd_renditions_parse(iotd_renditions *job, const char *output, char *err, size_t errlen);

/* The key of a rendition beside original_key: "images/abc.jpg" gives
 * "images/abc.thumb-<12 random hex>.<ext>", fresh on every call. */
int iotd_renditions_key(const char *original_key, iotd_rendition_kind kind, const char *ext, iotd_buf *out);

#endif
