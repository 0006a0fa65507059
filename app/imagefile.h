/*
 * imagefile.h — what an uploaded file really is, judged by its bytes.
 *
 * JPEG, PNG, GIF and WebP are recognised by their magic numbers and their
 * width and height read from the headers; everything else is refused with a
 * message fit to show the uploader. A pure function over a buffer.
 */
#ifndef IOTD_IMAGEFILE_H
#define IOTD_IMAGEFILE_H

#include <stddef.h>

#define IOTD_IMAGEFILE_MAX_DIMENSION 30000 /* pixels, per side */
#define IOTD_IMAGEFILE_ERR_LEN 160         /* room for any message */

typedef struct iotd_imagefile_info {
    const char *content_type; /* "image/jpeg", ... (static) */
    const char *extension;    /* "jpg", "png", "gif", "webp" (static) */
    int width;
    int height;
} iotd_imagefile_info;

/* IOTD_OK with *out filled, or IOTD_DECLINED with the reason in err. */
int iotd_imagefile_detect(const void *data, size_t len, iotd_imagefile_info *out, char *err, size_t errlen);
/* The format from the first bytes alone (IOTD_IMAGEFILE_SNIFF_BYTES are
 * enough); width and height are left 0. Same answers as detect otherwise. */
#define IOTD_IMAGEFILE_SNIFF_BYTES 64
int iotd_imagefile_sniff(const void *data, size_t len, iotd_imagefile_info *out, char *err, size_t errlen);
/* The extension of a content type we take ("image/png" -> "png"), or NULL;
 * content_type gives our static copy of the string, or NULL. */
const char *iotd_imagefile_extension(const char *content_type);
const char *iotd_imagefile_content_type(const char *content_type);

#endif
