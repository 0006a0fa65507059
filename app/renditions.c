/*
 * renditions.c — the thumbnail and display copies of an image (libvips).
 *
 * Why it is shaped this way:
 * - The pixel count is checked twice before any pixel is decoded: from
 *   imagefile's reading of the header, and from libvips's own header (what
 *   it would actually decode). A 20 MB file can hold a 50000 x 50000 PNG of
 *   one colour; such a decompression bomb is refused, not decoded.
 * - vips_thumbnail_buffer decodes once, shrinking on load where the format
 *   allows (JPEG, WebP), turns the image upright by its EXIF orientation and
 *   converts an embedded ICC profile to sRGB. The display copy is kept in
 *   memory (at most 2560 x 2560 x 4 bytes) and the thumbnail is made from
 *   it, so the original is decoded only once.
 * - The decoder stops at its first warning, not only at errors: a PNG
 *   whose pixel data does not inflate, or a JPEG with corrupt scans, would
 *   otherwise come out grey or striped and be shown to every visitor. The
 *   editor is asked to save the file again instead.
 * - The decoder fails on errors, not only on missing data: a PNG whose
 *   pixel data does not inflate would otherwise come out as a grey
 *   rectangle and be shown to every visitor; the editor is asked to save
 *   the file again instead. Warnings (a JPEG's stray bytes, which browsers
 *   shrug off too) are tolerated.
 * - Savers strip every piece of metadata (EXIF with GPS, XMP, IPTC, ICC):
 *   the pixels are sRGB by then, which is what browsers assume.
 * - Transparency is kept as PNG, not WebP: libvips 8.14's webpsave writes
 *   a fresh EXIF block even when asked to strip (check_renditions saw it),
 *   and PNG keeps the alpha exact. An alpha channel that is opaque
 *   everywhere (common in screenshots) is dropped and the image is a JPEG.
 * - libvips starts lazily, once per process, on first use: never in the
 *   `iotd serve` master, because its thread pool would not survive fork;
 *   each worker (one request at a time) starts its own with one thread and
 *   no operation cache, so a worker's memory is bounded by the image in
 *   hand and the pool's workers do not compete for the cores. The pthread
 *   once-flag is the only process-wide state, and it is write-once.
 * - libvips's warnings go to the log, not to stderr, so a refused upload
 *   on the command line stays a one-line failure.
 */
#include "renditions.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "imagefile.h"
#include "iotd.h"
#include "log.h"
#include "random.h"
#include "s3.h"

#define RENDITIONS_KEY_RANDOM_BYTES 6 /* 48 bits: a rebuild never reuses a key */
#define OPAQUE_ALPHA 255.0            /* an 8-bit alpha channel's maximum */
/* thumbnail's own fail_on is not passed to buffer loaders in libvips 8.14 */
#define LOADER_OPTIONS "fail_on=error"

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_started; /* written once, inside vips_once */

static void log_vips_message(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    IOTD_UNUSED(data);
    iotd_log_level ours = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) ? IOTD_LOG_ERROR
                          : (level & G_LOG_LEVEL_WARNING)                      ? IOTD_LOG_WARN
                                                                               : IOTD_LOG_DEBUG;
    iotd_log(ours, "%s: %s", domain ? domain : "vips", message);
}

static void start_vips(void)
{
    if (VIPS_INIT("iotd") != 0) {
        iotd_log(IOTD_LOG_ERROR, "libvips failed to start: %s", vips_error_buffer());
        vips_error_clear();
        return;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK, log_vips_message, NULL);
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_started = 1;
}

static int ready(void)
{
    return pthread_once(&vips_once, start_vips) == 0 && vips_started;
}

static int refuse(char *err, size_t errlen, const char *message)
{
    snprintf(err, errlen, "%s", message);
    return IOTD_DECLINED;
}

/* libvips's message goes to the log; the uploader gets plain words. */
static int undecodable(char *err, size_t errlen, const char *step)
{
    char detail[IOTD_RENDITIONS_ERR_LEN];
    snprintf(detail, sizeof detail, "%s", vips_error_buffer());
    vips_error_clear();
    for (char *p = detail; *p; p++)
        if (*p == '\n')
            *p = ' ';
    iotd_log(IOTD_LOG_WARN, "making renditions failed while %s: %s", step, detail);
    return refuse(err, errlen,
                  "The image could not be read: its data is damaged or uses a variant that is not "
                  "supported. Please save it again and upload that file.");
}

static int too_many_pixels(long long width, long long height, char *err, size_t errlen)
{
    if (width * height <= IOTD_RENDITIONS_MAX_PIXELS)
        return 0;
    snprintf(err, errlen, "The image is %lld x %lld pixels; at most %lld megapixels are accepted.", width,
             height, IOTD_RENDITIONS_MAX_PIXELS / 1000000);
    return 1;
}

/* The dimensions libvips would decode, read from the header alone. */
static int check_vips_header(const void *bytes, size_t len, char *err, size_t errlen)
{
    VipsImage *header = vips_image_new_from_buffer(bytes, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!header)
        return undecodable(err, errlen, "reading the header");
    int refused = too_many_pixels(vips_image_get_width(header), vips_image_get_height(header), err, errlen);
    g_object_unref(header);
    return refused ? IOTD_DECLINED : IOTD_OK;
}

/* Whether img's alpha channel (if any) is transparent anywhere. */
static int has_transparency(VipsImage *img, int *out)
{
    *out = 0;
    if (!vips_image_hasalpha(img))
        return IOTD_OK;
    VipsImage *alpha = NULL;
    double min = OPAQUE_ALPHA;
    int rc = vips_extract_band(img, &alpha, vips_image_get_bands(img) - 1, NULL) == 0 &&
                     vips_min(alpha, &min, NULL) == 0
                 ? IOTD_OK
                 : IOTD_ERROR;
    if (alpha)
        g_object_unref(alpha);
    *out = min < OPAQUE_ALPHA;
    return rc;
}

/* 8-bit sRGB, with alpha only when keep_alpha, held in memory. */
static int normalise(VipsImage *in, int keep_alpha, VipsImage **out)
{
    VipsImage *t[3] = {NULL, NULL, NULL};
    int rc = IOTD_ERROR;
    VipsImage *cur = in;
    if (vips_image_hasalpha(cur) && !keep_alpha) {
        if (vips_flatten(cur, &t[0], NULL) != 0)
            goto out;
        cur = t[0];
    }
    if (vips_image_guess_interpretation(cur) != VIPS_INTERPRETATION_sRGB ||
        vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(cur, &t[1], VIPS_INTERPRETATION_sRGB, NULL) != 0)
            goto out;
        cur = t[1];
        if (vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
            if (vips_cast_uchar(cur, &t[2], NULL) != 0)
                goto out;
            cur = t[2];
        }
    }
    if (!(*out = vips_image_copy_memory(cur)))
        goto out;
    rc = IOTD_OK;
out:
    for (size_t i = 0; i < IOTD_ARRAY_LEN(t); i++)
        if (t[i])
            g_object_unref(t[i]);
    return rc;
}

static int encode(VipsImage *img, int transparent, iotd_rendition_out *out)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (transparent) {
        rc = vips_pngsave_buffer(img, &out->data, &out->len, "strip", TRUE, NULL);
        out->content_type = "image/png";
        out->extension = "png";
    } else {
        rc = vips_jpegsave_buffer(img, &out->data, &out->len, "Q", IOTD_RENDITIONS_QUALITY, "interlace", TRUE,
                                  "optimize_coding", TRUE, "strip", TRUE, NULL);
        out->content_type = "image/jpeg";
        out->extension = "jpg";
    }
    if (rc != 0)
        return IOTD_ERROR;
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    return IOTD_OK;
}

void iotd_rendition_out_free(iotd_rendition_out *r)
{
    if (!r)
        return;
    g_free(r->data);
    memset(r, 0, sizeof *r);
}

int iotd_renditions_make(const void *bytes, size_t len, iotd_rendition_out *thumb,
                         iotd_rendition_out *display, char *err, size_t errlen)
{
    memset(thumb, 0, sizeof *thumb);
    memset(display, 0, sizeof *display);
    iotd_imagefile_info info;
    char why[IOTD_IMAGEFILE_ERR_LEN];
    if (iotd_imagefile_detect(bytes, len, &info, why, sizeof why) != IOTD_OK)
        return refuse(err, errlen, why);
    if (too_many_pixels(info.width, info.height, err, errlen))
        return IOTD_DECLINED;
    if (!ready()) {
        snprintf(err, errlen, "The image processor is not available.");
        return IOTD_ERROR;
    }
    int rc = check_vips_header(bytes, len, err, errlen);
    if (rc != IOTD_OK)
        return rc;

    /* decoded is a sequential pipeline: it is read once, into memory */
    VipsImage *img[5] = {NULL, NULL, NULL, NULL, NULL};
    VipsImage **decoded = &img[0], **held = &img[1], **big = &img[2], **small = &img[3],
              **small_mem = &img[4];
    int transparent = 0;
    rc = IOTD_DECLINED;
    if (vips_thumbnail_buffer((void *)bytes, len, decoded, IOTD_RENDITIONS_DISPLAY_SIDE, "height",
                              IOTD_RENDITIONS_DISPLAY_SIDE, "size", VIPS_SIZE_DOWN, "option_string",
                              LOADER_OPTIONS, NULL) != 0 ||
        !(*held = vips_image_copy_memory(*decoded)) || has_transparency(*held, &transparent) != IOTD_OK ||
        normalise(*held, transparent, big) != IOTD_OK) {
        undecodable(err, errlen, "decoding");
    } else if (vips_thumbnail_image(*big, small, IOTD_RENDITIONS_THUMB_SIDE, "height",
                                    IOTD_RENDITIONS_THUMB_SIDE, "size", VIPS_SIZE_DOWN, "no_rotate", TRUE,
                                    NULL) != 0 ||
               normalise(*small, transparent, small_mem) != IOTD_OK) {
        undecodable(err, errlen, "making the thumbnail");
    } else if (encode(*big, transparent, display) != IOTD_OK ||
               encode(*small_mem, transparent, thumb) != IOTD_OK) {
        undecodable(err, errlen, "encoding");
        iotd_rendition_out_free(display);
        iotd_rendition_out_free(thumb);
    } else {
        rc = IOTD_OK;
    }
    for (size_t i = 0; i < IOTD_ARRAY_LEN(img); i++)
        if (img[i])
            g_object_unref(img[i]);
    return rc;
}

int iotd_renditions_key(const char *original_key, iotd_rendition_kind kind, const char *ext, iotd_buf *out)
{
    const char *slash = strrchr(original_key, '/');
    const char *dot = strrchr(slash ? slash + 1 : original_key, '.');
    size_t stem = dot ? (size_t)(dot - original_key) : strlen(original_key);
    unsigned char rnd[RENDITIONS_KEY_RANDOM_BYTES];
    if (stem == 0 || !ext || !*ext || iotd_random_bytes(rnd, sizeof rnd) != IOTD_OK)
        return IOTD_ERROR;
    iotd_buf_reset(out);
    if (iotd_buf_append(out, original_key, stem) != IOTD_OK ||
        iotd_buf_puts(out, kind == IOTD_RENDITION_THUMB ? ".thumb-" : ".display-") != IOTD_OK ||
        iotd_buf_append_hex(out, rnd, sizeof rnd) != IOTD_OK || iotd_buf_printf(out, ".%s", ext) != IOTD_OK)
        return IOTD_ERROR;
    return out->len <= IOTD_S3_MAX_KEY_BYTES ? IOTD_OK : IOTD_ERROR;
}
