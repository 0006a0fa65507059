/*
 * renditions.h — web-sized copies of an uploaded image, made with libvips.
 *
 * A thumbnail (longest side <= 400 px) and a display copy (longest side
 * <= 2560 px, never enlarged), upright by the EXIF orientation, converted
 * to sRGB and stripped of all metadata. Opaque images become progressive
 * JPEG (quality 82); images with real transparency become PNG.
 */
#ifndef IOTD_RENDITIONS_H
#define IOTD_RENDITIONS_H

#include <stddef.h>

#include "buf.h"

#define IOTD_RENDITIONS_MAX_PIXELS (100LL * 1000 * 1000) /* refused before decoding: decompression bombs */
#define IOTD_RENDITIONS_THUMB_SIDE 400
#define IOTD_RENDITIONS_DISPLAY_SIDE 2560
#define IOTD_RENDITIONS_QUALITY 82 /* JPEG */
#define IOTD_RENDITIONS_ERR_LEN 200

typedef enum { IOTD_RENDITION_THUMB, IOTD_RENDITION_DISPLAY } iotd_rendition_kind;

/* One encoded rendition; free with iotd_rendition_out_free. */
typedef struct iotd_rendition_out {
    void *data;
    size_t len;
    int width;
    int height;
    const char *content_type; /* "image/jpeg" or "image/png" (static) */
    const char *extension;    /* "jpg" or "png" (static) */
} iotd_rendition_out;

/* Makes both renditions from an original's bytes. IOTD_OK; IOTD_DECLINED
 * when the image is refused (not an image, too many pixels, undecodable),
 * with a message fit for the uploader in err; IOTD_ERROR when libvips
 * could not start. libvips is started in the calling process on first use. */
int iotd_renditions_make(const void *bytes, size_t len, iotd_rendition_out *thumb,
                         iotd_rendition_out *display, char *err, size_t errlen);
void iotd_rendition_out_free(iotd_rendition_out *r);

/* The key of a rendition beside original_key: "images/abc.jpg" gives
 * "images/abc.thumb-<12 random hex>.<ext>", fresh on every call. */
int iotd_renditions_key(const char *original_key, iotd_rendition_kind kind, const char *ext, iotd_buf *out);

#endif
