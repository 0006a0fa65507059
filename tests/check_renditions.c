/*
 * check_renditions.c — the thumbnail and display copies made by iotd-render,
 * run through renditions.c as the server runs it.
 *
 * Test images are drawn by ImageMagick's convert at run time; the EXIF
 * block (orientation 6, a camera make, a GPS position) and the XMP packet
 * are written by this file into the JPEG, so the metadata is known byte
 * for byte. Outputs are read back with libvips: dimensions after rotation,
 * where the colours ended up, no metadata left, the output format. Hostile
 * inputs (a pixel bomb, a PNG whose pixel data is garbage) are refused.
 * Stand-in programs (shell scripts) show how a renderer that hangs, fails,
 * answers nonsense or is missing is handled. Exits 77 without convert.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>
#include <zlib.h>

#include "buf.h"
#include "config.h"
#include "iotd.h"
#include "renditions.h"
#include "spool.h"

#define MAKE_TAG "IotdTestCamera"
#define XMP_TAG "IotdTestAuthor"
#define SCRATCH_MAX 512

static char scratch[SCRATCH_MAX];

/* A rendition read back into memory. */
typedef struct made_t {
    char *data;
    size_t len;
    int width;
    int height;
    const char *content_type;
    const char *extension;
} made_t;

static void made_free(made_t *m)
{
    free(m->data);
    memset(m, 0, sizeof *m);
}

/* ---- fixtures ------------------------------------------------------------- */

static void start_vips(void)
{
    ck_assert_int_eq(VIPS_INIT("check_renditions"), 0);
}

static char *path_of(const char *name)
{
    static char path[SCRATCH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    return path;
}

/* convert ARGS [FORMAT:]scratch/OUT */
static void convert_as(const char *args, const char *format, const char *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "convert %s '%s%s' 2>/dev/null", args, format, path_of(out));
    ck_assert_msg(system(cmd) == 0, "convert failed: %s", cmd);
}

static void convert(const char *args, const char *out)
{
    convert_as(args, "", out);
}

static void slurp(const char *name, iotd_buf *out)
{
    FILE *f = fopen(path_of(name), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", name);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ck_assert_int_eq(iotd_buf_append(out, chunk, n), IOTD_OK);
    fclose(f);
}

static void put16(iotd_buf *b, unsigned v)
{
    unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    ck_assert_int_eq(iotd_buf_append(b, p, 2), IOTD_OK);
}

static void put32(iotd_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    ck_assert_int_eq(iotd_buf_append(b, p, 4), IOTD_OK);
}

static void ifd_entry(iotd_buf *b, unsigned tag, unsigned type, uint32_t count, uint32_t value)
{
    put16(b, tag);
    put16(b, type);
    put32(b, count);
    put32(b, value);
}

/* An EXIF APP1 segment (big-endian TIFF): Make, Orientation and a GPS IFD
 * with a latitude. Offsets are from the TIFF header. */
static void exif_segment(iotd_buf *b, unsigned orientation)
{
    enum {
        IFD0 = 8,
        IFD0_LEN = 2 + 3 * 12 + 4,
        MAKE_AT = IFD0 + IFD0_LEN,
        MAKE_LEN = sizeof MAKE_TAG,
        GPS_AT = MAKE_AT + MAKE_LEN + (MAKE_LEN & 1),
        GPS_LEN = 2 + 2 * 12 + 4,
        LAT_AT = GPS_AT + GPS_LEN,
        TIFF_LEN = LAT_AT + 24
    };
    put16(b, 0xFFE1);
    put16(b, 2 + 6 + TIFF_LEN);
    ck_assert_int_eq(iotd_buf_append(b, "Exif\0\0MM\0\x2a", 10), IOTD_OK);
    put32(b, IFD0);
    put16(b, 3);
    ifd_entry(b, 0x010F, 2, MAKE_LEN, MAKE_AT);              /* Make, ASCII */
    ifd_entry(b, 0x0112, 3, 1, (uint32_t)orientation << 16); /* Orientation, SHORT, left-justified */
    ifd_entry(b, 0x8825, 4, 1, GPS_AT);                      /* GPSInfo IFD */
    put32(b, 0);
    ck_assert_int_eq(iotd_buf_append(b, MAKE_TAG "\0", MAKE_LEN + (MAKE_LEN & 1)), IOTD_OK);
    put16(b, 2);
    ifd_entry(b, 0x0001, 2, 2, (uint32_t)'N' << 24); /* GPSLatitudeRef "N" */
    ifd_entry(b, 0x0002, 5, 3, LAT_AT);              /* GPSLatitude, 3 RATIONAL */
    put32(b, 0);
    uint32_t lat[] = {48, 1, 51, 1, 2986, 100};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(lat); i++)
        put32(b, lat[i]);
}

static void xmp_segment(iotd_buf *b)
{
    static const char ns[] = "http://ns.adobe.com/xap/1.0/";
    static const char packet[] = "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
                                 "xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
                                 "xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:creator>" XMP_TAG
                                 "</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>";
    put16(b, 0xFFE1);
    put16(b, (unsigned)(2 + sizeof ns + sizeof packet - 1));
    ck_assert_int_eq(iotd_buf_append(b, ns, sizeof ns), IOTD_OK);
    ck_assert_int_eq(iotd_buf_append(b, packet, sizeof packet - 1), IOTD_OK);
}

/* A JPEG drawn by convert with our EXIF and XMP segments after its SOI. */
static void jpeg_with_metadata(const char *convert_args, unsigned orientation, iotd_buf *out)
{
    convert(convert_args, "plain.jpg");
    iotd_buf plain = IOTD_BUF_INIT;
    slurp("plain.jpg", &plain);
    ck_assert(plain.len > 2 && (unsigned char)plain.data[0] == 0xFF && (unsigned char)plain.data[1] == 0xD8);
    ck_assert_int_eq(iotd_buf_append(out, plain.data, 2), IOTD_OK);
    exif_segment(out, orientation);
    xmp_segment(out);
    ck_assert_int_eq(iotd_buf_append(out, plain.data + 2, plain.len - 2), IOTD_OK);
    iotd_buf_free(&plain);
}

static void png_chunk(iotd_buf *b, const char *type, const void *data, uint32_t len)
{
    put32(b, len);
    ck_assert_int_eq(iotd_buf_append(b, type, 4), IOTD_OK);
    if (len)
        ck_assert_int_eq(iotd_buf_append(b, data, len), IOTD_OK);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, (const Bytef *)data, len);
    put32(b, (uint32_t)crc);
}

/* A PNG whose chunks are all well-formed, with the given IDAT payload. */
static void png_with_idat(uint32_t width, uint32_t height, const void *idat, uint32_t idat_len, iotd_buf *out)
{
    ck_assert_int_eq(iotd_buf_append(out, "\x89PNG\r\n\x1a\n", 8), IOTD_OK);
    unsigned char ihdr[13] = {0};
    for (int i = 0; i < 4; i++) {
        ihdr[i] = (unsigned char)(width >> (24 - 8 * i));
        ihdr[4 + i] = (unsigned char)(height >> (24 - 8 * i));
    }
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    png_chunk(out, "IHDR", ihdr, sizeof ihdr);
    png_chunk(out, "IDAT", idat, idat_len);
    png_chunk(out, "IEND", NULL, 0);
}

/* ---- reading results back ------------------------------------------------- */

static VipsImage *load(const made_t *r)
{
    VipsImage *img = vips_image_new_from_buffer(r->data, r->len, "", NULL);
    ck_assert_msg(img != NULL, "libvips cannot read the rendition: %s", vips_error_buffer());
    return img;
}

static int contains(const made_t *r, const char *needle)
{
    return memmem(r->data, r->len, needle, strlen(needle)) != NULL;
}

/* No metadata at all: not in the bytes, not as a libvips field. */
static void assert_no_metadata(const made_t *r)
{
    ck_assert_msg(!contains(r, "Exif"), "an EXIF block survived");
    ck_assert_msg(!contains(r, MAKE_TAG), "the camera make survived");
    ck_assert_msg(!contains(r, "http://ns.adobe.com/xap"), "an XMP packet survived");
    ck_assert_msg(!contains(r, XMP_TAG), "the XMP creator survived");
    ck_assert_msg(!contains(r, "ICC_PROFILE") && !contains(r, "ICCP"), "an ICC profile survived");
    VipsImage *img = load(r);
    ck_assert_int_eq(vips_image_get_typeof(img, VIPS_META_EXIF_NAME), 0);
    ck_assert_int_eq(vips_image_get_typeof(img, VIPS_META_XMP_NAME), 0);
    ck_assert_int_eq(vips_image_get_typeof(img, VIPS_META_ICC_NAME), 0);
    ck_assert_int_eq(vips_image_get_typeof(img, VIPS_META_ORIENTATION), 0);
    g_object_unref(img);
}

static void assert_jpeg(const made_t *r)
{
    ck_assert_str_eq(r->content_type, "image/jpeg");
    ck_assert_str_eq(r->extension, "jpg");
    ck_assert(r->len > 4 && memcmp(r->data, "\xFF\xD8\xFF", 3) == 0);
    ck_assert_msg(contains(r, "\xFF\xC2"), "not progressive (no SOF2 marker)");
}

static void assert_png(const made_t *r)
{
    ck_assert_str_eq(r->content_type, "image/png");
    ck_assert_str_eq(r->extension, "png");
    ck_assert(r->len > 8 && memcmp(r->data, "\x89PNG\r\n\x1a\n", 8) == 0);
    ck_assert_msg(!contains(r, "eXIf") && !contains(r, "tEXt") && !contains(r, "iTXt") &&
                      !contains(r, "zTXt"),
                  "a metadata chunk survived");
}

static void assert_size(const made_t *r, int width, int height)
{
    ck_assert_int_eq(r->width, width);
    ck_assert_int_eq(r->height, height);
    VipsImage *img = load(r);
    ck_assert_int_eq(vips_image_get_width(img), width);
    ck_assert_int_eq(vips_image_get_height(img), height);
    g_object_unref(img);
}

/* The pixel at (x, y), as 0..255 per band (at most 4). */
static void pixel(const made_t *r, int x, int y, double px[4])
{
    VipsImage *img = load(r);
    double *v = NULL;
    int n = 0;
    ck_assert_int_eq(vips_getpoint(img, &v, &n, x, y, NULL), 0);
    ck_assert(n >= 1 && n <= 4);
    for (int i = 0; i < 4; i++)
        px[i] = i < n ? v[i] : -1;
    g_free(v);
    g_object_unref(img);
}

static int is_red(const double px[4])
{
    return px[0] > 200 && px[1] < 60 && px[2] < 60;
}

static int is_blue(const double px[4])
{
    return px[0] < 60 && px[1] < 60 && px[2] > 200;
}

static void config_for(iotd_config *cfg, const char *bin, long timeout)
{
    memset(cfg, 0, sizeof *cfg);
    const char *builddir = getenv("IOTD_BUILDDIR") ? getenv("IOTD_BUILDDIR") : ".";
    if (bin)
        snprintf(cfg->render_bin, sizeof cfg->render_bin, "%s", bin);
    else
        snprintf(cfg->render_bin, sizeof cfg->render_bin, "%s/iotd-render", builddir);
    snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "%s", scratch);
    cfg->render_nice = 7;
    cfg->render_timeout = timeout;
}

static void read_back(const iotd_rendition_out *r, made_t *out)
{
    ck_assert_int_ge(r->file.fd, 0);
    ck_assert_str_eq(r->file.sha256_hex[0] ? "hashed" : "", "hashed");
    out->data = malloc(r->file.len + 1);
    ck_assert_ptr_nonnull(out->data);
    ck_assert_int_eq(iotd_spool_pread(&r->file, out->data, r->file.len, 0), (long)r->file.len);
    out->len = r->file.len;
    out->width = r->width;
    out->height = r->height;
    out->content_type = r->content_type;
    out->extension = r->extension;
}

/* Runs the renderer (bin, or the built iotd-render) on in. */
static int make_with(const char *bin, long timeout, const iotd_buf *in, made_t *thumb, made_t *display,
                     char *err)
{
    memset(thumb, 0, sizeof *thumb);
    memset(display, 0, sizeof *display);
    iotd_config cfg;
    config_for(&cfg, bin, timeout);
    iotd_spool orig = IOTD_SPOOL_INIT;
    ck_assert_int_eq(iotd_spool_open(&orig, scratch, 0), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&orig, in->data ? in->data : "", in->len), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&orig), IOTD_OK);
    iotd_renditions job;
    int rc = iotd_renditions_make(&job, &cfg, &orig, err, IOTD_RENDITIONS_ERR_LEN);
    ck_assert_int_eq(job.pid, 0); /* always reaped */
    if (rc == IOTD_OK) {
        read_back(&job.thumb, thumb);
        read_back(&job.display, display);
    }
    iotd_renditions_free(&job);
    iotd_spool_close(&orig);
    return rc;
}

static int make(const iotd_buf *in, made_t *thumb, made_t *display, char *err)
{
    return make_with(NULL, 60, in, thumb, display, err);
}

/* A stand-in renderer: a shell script in the scratch folder. */
static const char *fake_renderer(const char *name, const char *body)
{
    char *path = path_of(name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0755), 0);
    static char copy[SCRATCH_MAX + 64];
    snprintf(copy, sizeof copy, "%s", path);
    return copy;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_exif_orientation_and_metadata)
{
    /* stored 3000x2000: red top half, blue bottom; orientation 6 = turn 90 degrees clockwise to view,
     * so the viewer sees 2000x3000 with the red half on the right */
    iotd_buf in = IOTD_BUF_INIT;
    jpeg_with_metadata("-size 3000x1000 xc:red -size 3000x1000 xc:blue -append -strip -quality 90", 6, &in);
    VipsImage *src = vips_image_new_from_buffer(in.data, in.len, "", NULL);
    ck_assert_ptr_nonnull(src);
    int orientation = 0;
    ck_assert_int_eq(vips_image_get_int(src, VIPS_META_ORIENTATION, &orientation), 0);
    ck_assert_int_eq(orientation, 6); /* the fixture really carries the tag */
    g_object_unref(src);

    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_size(&thumb, 267, 400);
    assert_size(&display, 1707, 2560);
    assert_jpeg(&thumb);
    assert_jpeg(&display);
    assert_no_metadata(&thumb);
    assert_no_metadata(&display);
    double px[4];
    pixel(&thumb, 230, 200, px);
    ck_assert_msg(is_red(px), "right side should be red, got %.0f,%.0f,%.0f", px[0], px[1], px[2]);
    pixel(&thumb, 30, 200, px);
    ck_assert_msg(is_blue(px), "left side should be blue, got %.0f,%.0f,%.0f", px[0], px[1], px[2]);
    pixel(&display, 1600, 100, px);
    ck_assert(is_red(px));
    made_free(&thumb);
    made_free(&display);
    ck_assert_ptr_null(thumb.data);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_small_image_is_not_enlarged_but_reencoded)
{
    iotd_buf in = IOTD_BUF_INIT;
    jpeg_with_metadata("-size 300x200 gradient:red-blue -strip", 1, &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_size(&display, 300, 200);
    assert_size(&thumb, 300, 200);
    assert_jpeg(&display);
    assert_no_metadata(&display); /* re-encoded although no smaller */
    assert_no_metadata(&thumb);
    ck_assert(display.len != in.len || memcmp(display.data, in.data, in.len) != 0);
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_landscape_sizes)
{
    iotd_buf in = IOTD_BUF_INIT;
    convert("-size 4000x1000 gradient:", "wide.png");
    slurp("wide.png", &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_size(&thumb, 400, 100);
    assert_size(&display, 2560, 640);
    assert_jpeg(&thumb); /* an opaque PNG becomes JPEG */
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_png_with_alpha_stays_png)
{
    iotd_buf in = IOTD_BUF_INIT;
    convert("-size 800x400 xc:none -fill red -draw 'circle 400,200 400,60'", "alpha.png");
    slurp("alpha.png", &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_png(&thumb);
    assert_png(&display);
    assert_size(&thumb, 400, 200);
    assert_size(&display, 800, 400);
    assert_no_metadata(&thumb);
    double px[4];
    pixel(&thumb, 2, 2, px);
    ck_assert_msg(px[3] >= 0 && px[3] < 10, "the corner should stay transparent (alpha %.0f)", px[3]);
    pixel(&thumb, 200, 100, px);
    ck_assert(is_red(px) && px[3] > 245);
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_opaque_alpha_channel_becomes_jpeg)
{
    iotd_buf in = IOTD_BUF_INIT;
    convert_as("-size 500x500 xc:green -alpha on", "PNG32:", "opaque.png");
    slurp("opaque.png", &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_jpeg(&thumb);
    assert_jpeg(&display);
    assert_size(&thumb, 400, 400);
    VipsImage *img = load(&display);
    ck_assert_int_eq(vips_image_get_bands(img), 3);
    g_object_unref(img);
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_animated_gif_first_frame)
{
    iotd_buf in = IOTD_BUF_INIT;
    convert("-delay 10 -size 100x80 xc:red xc:blue xc:blue -loop 0", "anim.gif");
    slurp("anim.gif", &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_jpeg(&display);
    assert_size(&display, 100, 80); /* one frame, not a strip of three */
    double px[4];
    pixel(&display, 50, 40, px);
    ck_assert(is_red(px));
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_icc_and_16_bit_grey_become_srgb)
{
    iotd_buf in = IOTD_BUF_INIT;
    const char *icc = "/usr/share/color/icc/ghostscript/a98.icc";
    char args[512];
    if (access(icc, R_OK) == 0)
        snprintf(args, sizeof args, "-size 600x400 gradient:white-black -depth 16 -profile %s", icc);
    else
        snprintf(args, sizeof args, "-size 600x400 gradient:white-black -depth 16");
    convert(args, "grey16.png");
    slurp("grey16.png", &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_OK);
    assert_jpeg(&display);
    assert_no_metadata(&display);
    VipsImage *img = load(&display);
    ck_assert_int_eq(vips_image_get_bands(img), 3);
    ck_assert_int_eq(vips_image_get_format(img), VIPS_FORMAT_UCHAR);
    g_object_unref(img);
    made_free(&thumb);
    made_free(&display);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_pixel_bomb_is_refused_before_decoding)
{
    /* 20000 x 10000 = 200 megapixels in a few hundred bytes: the pixel data is a
     * compressed run of zeros that would inflate to 600 MB */
    unsigned char zeros[4096] = {0}, idat[512];
    uLongf idat_len = sizeof idat;
    ck_assert_int_eq(compress(idat, &idat_len, zeros, sizeof zeros), Z_OK);
    iotd_buf in = IOTD_BUF_INIT;
    png_with_idat(20000, 10000, idat, (uint32_t)idat_len, &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_DECLINED);
    ck_assert_msg(strstr(err, "20000 x 10000") && strstr(err, "at most 100 megapixels"), "%s", err);
    ck_assert_ptr_null(thumb.data);
    ck_assert_ptr_null(display.data);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_corrupt_pixel_data_is_refused)
{
    unsigned char garbage[256];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)(i * 37 + 11);
    iotd_buf in = IOTD_BUF_INIT;
    png_with_idat(64, 48, garbage, sizeof garbage, &in);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_DECLINED);
    ck_assert_msg(strstr(err, "could not be read") != NULL, "%s", err);
    ck_assert_ptr_null(thumb.data);
    ck_assert_ptr_null(display.data);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_not_an_image_is_refused)
{
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    const char text[] = "<svg xmlns='http://www.w3.org/2000/svg'/>";
    iotd_buf in = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&in, text), IOTD_OK);
    ck_assert_int_eq(make(&in, &thumb, &display, err), IOTD_DECLINED);
    ck_assert_msg(strstr(err, "not a JPEG, PNG, GIF or WebP") != NULL, "%s", err);
    iotd_buf_free(&in);
}
END_TEST

/* The renderer is run with --nice from the configuration and its log
 * lines are taken; its answer decides. */
START_TEST(test_declined_answer_and_arguments)
{
    const char *bin =
        fake_renderer("declines", "echo \"log warn args: $*\"; echo \"declined Not today ($*).\"");
    iotd_buf in = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&in, "whatever"), IOTD_OK);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make_with(bin, 10, &in, &thumb, &display, err), IOTD_DECLINED);
    ck_assert_str_eq(err, "Not today (--nice 7 --cpu-seconds 15).");
    iotd_buf_free(&in);
}
END_TEST

/* A renderer that overruns the timeout is killed; the answer is AGAIN. */
START_TEST(test_hanging_renderer_is_killed)
{
    const char *bin = fake_renderer("hangs", "exec sleep 30");
    iotd_buf in = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&in, "whatever"), IOTD_OK);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    time_t t0 = time(NULL);
    ck_assert_int_eq(make_with(bin, 1, &in, &thumb, &display, err), IOTD_AGAIN);
    ck_assert_int_le(time(NULL) - t0, 5);
    ck_assert_msg(strstr(err, "ran out of time") != NULL, "%s", err);
    iotd_buf_free(&in);
}
END_TEST

/* Missing program, a crash, nonsense, "ok" without files: all errors. */
START_TEST(test_broken_renderers_are_errors)
{
    iotd_buf in = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&in, "whatever"), IOTD_OK);
    made_t thumb, display;
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(make_with(path_of("no-such-program"), 10, &in, &thumb, &display, err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "could not be started") != NULL, "%s", err);
    const char *crash = fake_renderer("crashes", "kill -SEGV $$");
    ck_assert_int_eq(make_with(crash, 10, &in, &thumb, &display, err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "signal 11") != NULL, "%s", err);
    const char *nonsense =
        fake_renderer("nonsense", "echo 'ok image/tiff 1 1 image/jpeg 1 1 image/jpeg 1 1'");
    ck_assert_int_eq(make_with(nonsense, 10, &in, &thumb, &display, err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "malformed") != NULL, "%s", err);
    const char *silent = fake_renderer("silent", "exit 0");
    ck_assert_int_eq(make_with(silent, 10, &in, &thumb, &display, err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "without an answer") != NULL, "%s", err);
    const char *empty =
        fake_renderer("no-files", "echo 'ok image/png 10 10 image/jpeg 4 4 image/jpeg 10 10'");
    ck_assert_int_eq(make_with(empty, 10, &in, &thumb, &display, err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "read back") != NULL, "%s", err);
    const char *failing =
        fake_renderer("exit-1", "echo 'ok image/png 10 10 image/jpeg 4 4 image/jpeg 10 10'; exit 1");
    ck_assert_int_eq(make_with(failing, 10, &in, &thumb, &display, err), IOTD_ERROR);
    iotd_buf_free(&in);
}
END_TEST

START_TEST(test_parse_answers)
{
    iotd_renditions job;
    memset(&job, 0, sizeof job);
    char err[IOTD_RENDITIONS_ERR_LEN] = "";
    ck_assert_int_eq(
        iotd_renditions_parse(&job, "log debug x\nok image/webp 30 20 image/png 30 20 image/png 30 20\n", err,
                              sizeof err),
        IOTD_OK);
    ck_assert_str_eq(job.original.content_type, "image/webp");
    ck_assert_str_eq(job.original.extension, "webp");
    ck_assert_str_eq(job.thumb.extension, "png");
    ck_assert_int_eq(job.display.width, 30);
    const char *bad[] = {
        "ok image/jpeg 0 10 image/jpeg 1 1 image/jpeg 1 1\n",        /* zero width */
        "ok image/jpeg 10 10 image/jpeg 1 1 image/jpeg 1 99999\n",   /* too tall */
        "ok image/jpeg 10 10 image/jpeg 1 1 image/jpeg 1 1 extra\n", /* trailing words */
        "ok image/jpeg 10 10\n",                                     /* short */
        "hello\n",                                                   /* unknown line */
        "",                                                          /* nothing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(iotd_renditions_parse(&job, bad[i], err, sizeof err) == IOTD_ERROR, "accepted: %s",
                      bad[i]);
    ck_assert_int_eq(iotd_renditions_parse(&job, "declined Too big.", err, sizeof err), IOTD_DECLINED);
    ck_assert_str_eq(err, "Too big.");
}
END_TEST

START_TEST(test_keys_beside_the_original)
{
    iotd_buf a = IOTD_BUF_INIT, b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_renditions_key("images/abc.jpg", IOTD_RENDITION_THUMB, "jpg", &a), IOTD_OK);
    ck_assert_int_eq(iotd_renditions_key("images/abc.jpg", IOTD_RENDITION_THUMB, "jpg", &b), IOTD_OK);
    ck_assert_uint_eq(a.len, strlen("images/abc.thumb-") + 12 + strlen(".jpg"));
    ck_assert(strncmp(a.data, "images/abc.thumb-", 17) == 0 && strcmp(a.data + a.len - 4, ".jpg") == 0);
    ck_assert(strspn(a.data + 17, "0123456789abcdef") == 12);
    ck_assert_str_ne(a.data, b.data); /* fresh every time: a rebuild never overwrites */
    ck_assert_int_eq(iotd_renditions_key("images/abc.png", IOTD_RENDITION_DISPLAY, "webp", &a), IOTD_OK);
    ck_assert(strncmp(a.data, "images/abc.display-", 19) == 0 && strcmp(a.data + a.len - 5, ".webp") == 0);
    /* a dot in a folder name is not the extension */
    ck_assert_int_eq(iotd_renditions_key("a.b/c", IOTD_RENDITION_THUMB, "jpg", &a), IOTD_OK);
    ck_assert(strncmp(a.data, "a.b/c.thumb-", 12) == 0);
    ck_assert_int_eq(iotd_renditions_key("", IOTD_RENDITION_THUMB, "jpg", &a), IOTD_ERROR);
    ck_assert_int_eq(iotd_renditions_key("images/x.jpg", IOTD_RENDITION_THUMB, "", &a), IOTD_ERROR);
    iotd_buf_free(&a);
    iotd_buf_free(&b);
}
END_TEST

static Suite *renditions_suite(void)
{
    Suite *s = suite_create("renditions");
    TCase *tc = tcase_create("make");
    tcase_add_checked_fixture(tc, start_vips, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exif_orientation_and_metadata);
    tcase_add_test(tc, test_small_image_is_not_enlarged_but_reencoded);
    tcase_add_test(tc, test_landscape_sizes);
    tcase_add_test(tc, test_png_with_alpha_stays_png);
    tcase_add_test(tc, test_opaque_alpha_channel_becomes_jpeg);
    tcase_add_test(tc, test_animated_gif_first_frame);
    tcase_add_test(tc, test_icc_and_16_bit_grey_become_srgb);
    tcase_add_test(tc, test_pixel_bomb_is_refused_before_decoding);
    tcase_add_test(tc, test_corrupt_pixel_data_is_refused);
    tcase_add_test(tc, test_not_an_image_is_refused);
    tcase_add_test(tc, test_declined_answer_and_arguments);
    tcase_add_test(tc, test_hanging_renderer_is_killed);
    tcase_add_test(tc, test_broken_renderers_are_errors);
    tcase_add_test(tc, test_parse_answers);
    tcase_add_test(tc, test_keys_beside_the_original);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (system("convert -version >/dev/null 2>&1") != 0) {
        fprintf(stderr,
                "SKIP: ImageMagick's convert is needed to draw test images (apt-get install imagemagick)\n");
        return 77;
    }
    snprintf(scratch, sizeof scratch, "%s/check_renditions.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(renditions_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[SCRATCH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    return failed ? 1 : 0;
}
