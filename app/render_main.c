/*
 * render_main.c — iotd-render, the program that makes an upload's
 * renditions (libvips), run by iotd once per image.
 *
 *   iotd-render [--nice N] [--cpu-seconds S]  <original  3>thumbnail  4>display
 *
 * It reads the original from standard input (a file), writes the
 * thumbnail (longest side <= 400 px) to descriptor 3 and the display copy
 * (longest side <= 2560 px, never enlarged) to descriptor 4, and prints
 * lines on standard output: any number of "log LEVEL TEXT", then exactly
 * one answer:
 *
 *   ok TYPE WIDTH HEIGHT THUMB_TYPE THUMB_W THUMB_H DISPLAY_TYPE DISPLAY_W DISPLAY_H
 *   declined MESSAGE   (the file is not an image we take; MESSAGE is for the editor)
 *   error MESSAGE      (the program could not work)
 *
 * Why a program of its own:
 * - Image decoders are the largest body of code that reads hostile input.
 *   A crash, a hang or a memory spike in one ends this process, never a
 *   worker; iotd kills it at IOTD_RENDER_TIMEOUT.
 * - Its memory goes back to the system the moment it exits, and iotd's
 *   own processes do not map libvips and its dozens of libraries at all.
 * - It runs at a lower priority (--nice), so on a busy machine pages are
 *   served first and renditions take the time left over.
 *
 * How the images are made:
 * - The pixel count is checked twice before any pixel is decoded: from
 *   imagefile's reading of the header, and from libvips's own header (what
 *   it would actually decode). A 20 MB file can hold a 50000 x 50000 PNG of
 *   one colour; such a decompression bomb is refused, not decoded.
 * - vips_thumbnail_buffer decodes once, shrinking on load where the format
 *   allows (JPEG, WebP), turns the image upright by its EXIF orientation and
 *   converts an embedded ICC profile to sRGB. That display-sized copy is held
 *   in memory (at most 2560 x 2560 x 4 bytes) and both renditions are made
 *   from it, so the original is decoded only once.
 * - The decoder fails on errors, not only on missing data: a PNG whose
 *   pixel data does not inflate would otherwise come out as a grey
 *   rectangle and be shown to every visitor; the editor is asked to save
 *   the file again instead. Warnings (a JPEG's stray bytes, which browsers
 *   shrug off too) are tolerated and logged.
 * - Savers strip every piece of metadata (EXIF with GPS, XMP, IPTC, ICC):
 *   the pixels are sRGB by then, which is what browsers assume.
 * - Transparency is kept as PNG, not WebP: libvips 8.14's webpsave writes
 *   a fresh EXIF block even when asked to strip, and PNG keeps the alpha
 *   exact. An alpha channel that is opaque everywhere (common in
 *   screenshots) is dropped and the image is a JPEG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "imagefile.h"
#include "iotd.h"
#include "renditions.h"

#define RENDER_FD_ORIGINAL 0
#define RENDER_FD_THUMB 3
#define RENDER_FD_DISPLAY 4
#define RENDER_THREADS 2
#define OPAQUE_ALPHA 255.0 /* an 8-bit alpha channel's maximum */
#define LOG_TEXT_MAX 300
/* thumbnail's own fail_on is not passed to buffer loaders in libvips 8.14 */
#define LOADER_OPTIONS "fail_on=error"

/* One protocol line; text loses its line breaks and is cut at LOG_TEXT_MAX. */
static void say(const char *word, const char *text)
{
    char clean[LOG_TEXT_MAX + 1];
    size_t n = 0;
    for (const char *p = text; *p && n < LOG_TEXT_MAX; p++)
        clean[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
    clean[n] = '\0';
    printf("%s %s\n", word, clean);
    fflush(stdout);
}

static void log_vips_message(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    IOTD_UNUSED(domain);
    IOTD_UNUSED(data);
    say((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) ? "log error"
        : (level & G_LOG_LEVEL_WARNING)                      ? "log warn"
                                                             : "log debug",
        message);
}

static void drop_vips_message(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    IOTD_UNUSED(domain);
    IOTD_UNUSED(level);
    IOTD_UNUSED(message);
    IOTD_UNUSED(data);
}

static int decline(const char *message)
{
    say("declined", message);
    return 0;
}

/* libvips's message goes to the log; the editor gets plain words. */
static int undecodable(const char *step)
{
    char detail[LOG_TEXT_MAX];
    snprintf(detail, sizeof detail, "making renditions failed while %s: %s", step, vips_error_buffer());
    vips_error_clear();
    say("log warn", detail);
    return decline("The image could not be read: its data is damaged or uses a variant that is not "
                   "supported. Please save it again and upload that file.");
}

static int too_many_pixels(long long width, long long height)
{
    if (width * height <= IOTD_RENDITIONS_MAX_PIXELS)
        return 0;
    char msg[LOG_TEXT_MAX];
    snprintf(msg, sizeof msg, "The image is %lld x %lld pixels; at most %lld megapixels are accepted.", width,
             height, IOTD_RENDITIONS_MAX_PIXELS / 1000000);
    decline(msg);
    return 1;
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

/* 8-bit sRGB, with alpha only when keep_alpha: a pipeline over in. */
static int normalise(VipsImage *in, int keep_alpha, VipsImage *t[3], VipsImage **out)
{
    VipsImage *cur = in;
    if (vips_image_hasalpha(cur) && !keep_alpha) {
        if (vips_flatten(cur, &t[0], NULL) != 0)
            return IOTD_ERROR;
        cur = t[0];
    }
    if (vips_image_guess_interpretation(cur) != VIPS_INTERPRETATION_sRGB ||
        vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(cur, &t[1], VIPS_INTERPRETATION_sRGB, NULL) != 0)
            return IOTD_ERROR;
        cur = t[1];
        if (vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
            if (vips_cast_uchar(cur, &t[2], NULL) != 0)
                return IOTD_ERROR;
            cur = t[2];
        }
    }
    *out = cur;
    return IOTD_OK;
}

static int encode(VipsImage *img, int transparent, int fd)
{
    VipsTarget *target = vips_target_new_to_descriptor(fd);
    if (!target)
        return IOTD_ERROR;
    int rc = transparent ? vips_pngsave_target(img, target, "strip", TRUE, NULL)
                         : vips_jpegsave_target(img, target, "Q", IOTD_RENDITIONS_QUALITY, "interlace", TRUE,
                                                "optimize_coding", TRUE, "strip", TRUE, NULL);
    g_object_unref(target);
    return rc == 0 ? IOTD_OK : IOTD_ERROR;
}

/* The original, mapped: IOTD_OK, or IOTD_ERROR after answering. */
static int map_original(const unsigned char **bytes, size_t *len)
{
    struct stat st;
    if (fstat(RENDER_FD_ORIGINAL, &st) != 0 || !S_ISREG(st.st_mode)) {
        say("error", "standard input is not a file");
        return IOTD_ERROR;
    }
    if (st.st_size == 0) {
        decline("The file is empty. Please choose an image file.");
        return IOTD_ERROR;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, RENDER_FD_ORIGINAL, 0);
    if (p == MAP_FAILED) {
        say("error", strerror(errno));
        return IOTD_ERROR;
    }
    *bytes = p;
    *len = (size_t)st.st_size;
    return IOTD_OK;
}

static int render(const unsigned char *bytes, size_t len, const iotd_imagefile_info *info)
{
    VipsImage *header = vips_image_new_from_buffer(bytes, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!header)
        return undecodable("reading the header");
    int refused = too_many_pixels(vips_image_get_width(header), vips_image_get_height(header));
    g_object_unref(header);
    if (refused)
        return 0;

    VipsImage *decoded = NULL, *held = NULL, *small = NULL, *big_t[3] = {NULL, NULL, NULL},
              *small_t[3] = {NULL, NULL, NULL}, *big, *small_n;
    int transparent = 0;
    if (vips_thumbnail_buffer((void *)bytes, len, &decoded, IOTD_RENDITIONS_DISPLAY_SIDE, "height",
                              IOTD_RENDITIONS_DISPLAY_SIDE, "size", VIPS_SIZE_DOWN, "option_string",
                              LOADER_OPTIONS, NULL) != 0 ||
        !(held = vips_image_copy_memory(decoded)) || has_transparency(held, &transparent) != IOTD_OK ||
        normalise(held, transparent, big_t, &big) != IOTD_OK) {
        undecodable("decoding");
    } else if (vips_thumbnail_image(big, &small, IOTD_RENDITIONS_THUMB_SIDE, "height",
                                    IOTD_RENDITIONS_THUMB_SIDE, "size", VIPS_SIZE_DOWN, "no_rotate", TRUE,
                                    NULL) != 0 ||
               normalise(small, transparent, small_t, &small_n) != IOTD_OK) {
        undecodable("making the thumbnail");
    } else if (encode(big, transparent, RENDER_FD_DISPLAY) != IOTD_OK ||
               encode(small_n, transparent, RENDER_FD_THUMB) != IOTD_OK) {
        undecodable("encoding");
    } else {
        const char *type = transparent ? "image/png" : "image/jpeg";
        printf("ok %s %d %d %s %d %d %s %d %d\n", info->content_type, info->width, info->height, type,
               vips_image_get_width(small_n), vips_image_get_height(small_n), type, vips_image_get_width(big),
               vips_image_get_height(big));
        fflush(stdout);
    }
    VipsImage *all[] = {decoded,  held,       small,      big_t[0],  big_t[1],
                        big_t[2], small_t[0], small_t[1], small_t[2]};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(all); i++)
        if (all[i])
            g_object_unref(all[i]);
    return 0;
}

int main(int argc, char **argv)
{
    int nice_level = 0;
    long cpu_seconds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nice") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 19) {
                fprintf(stderr, "iotd-render: --nice takes 0 to 19\n");
                return 2;
            }
            nice_level = (int)v;
        } else if (strcmp(argv[i], "--cpu-seconds") == 0 && i + 1 < argc) {
            char *end;
            cpu_seconds = strtol(argv[++i], &end, 10);
            if (*end || cpu_seconds < 1) {
                fprintf(stderr, "iotd-render: --cpu-seconds takes a positive number\n");
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: iotd-render [--nice N] [--cpu-seconds S] <original 3>thumbnail 4>display\n");
            return 2;
        }
    }
    if (nice_level && setpriority(PRIO_PROCESS, 0, nice_level) != 0)
        say("log warn", "could not lower this process's priority");
    /* a backstop to the caller's deadline: SIGXCPU past this much CPU time */
    struct rlimit cpu = {(rlim_t)cpu_seconds, (rlim_t)cpu_seconds};
    if (cpu_seconds && setrlimit(RLIMIT_CPU, &cpu) != 0)
        say("log warn", "could not limit this process's CPU time");

    const unsigned char *bytes;
    size_t len;
    if (map_original(&bytes, &len) != IOTD_OK)
        return 0;
    iotd_imagefile_info info;
    char why[IOTD_IMAGEFILE_ERR_LEN];
    if (iotd_imagefile_detect(bytes, len, &info, why, sizeof why) != IOTD_OK)
        return decline(why);
    if (too_many_pixels(info.width, info.height))
        return 0;
    if (VIPS_INIT(argv[0]) != 0) {
        say("error", vips_error_buffer());
        return 1;
    }
    /* warnings and worse: libvips's info and debug lines would be a dozen per image */
    g_log_set_handler("VIPS", G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING,
                      log_vips_message, NULL);
    g_log_set_handler("VIPS", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, drop_vips_message,
                      NULL);
    vips_concurrency_set(RENDER_THREADS);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    int rc = render(bytes, len, &info);
    munmap((void *)bytes, len);
    vips_shutdown();
    return rc;
}
