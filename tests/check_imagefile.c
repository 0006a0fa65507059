/* check_imagefile.c — unit tests for recognising uploaded images by content:
 * hand-built minimal headers for every format, their truncations and
 * corruptions, refusals of look-alikes, and real files made by ImageMagick
 * when it is installed. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imagefile.h"
#include "iotd.h"

#define MAX_SAMPLE 512

typedef struct sample {
    unsigned char b[MAX_SAMPLE];
    size_t len;
} sample;

static void put(sample *s, const void *p, size_t n)
{
    ck_assert_uint_le(s->len + n, MAX_SAMPLE);
    memcpy(s->b + s->len, p, n);
    s->len += n;
}

static void put_be32(sample *s, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    put(s, b, 4);
}

static void put_be16(sample *s, uint32_t v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(s, b, 2);
}

static void put_le16(sample *s, uint32_t v)
{
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(s, b, 2);
}

static void put_le24(sample *s, uint32_t v)
{
    unsigned char b[3] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16)};
    put(s, b, 3);
}

static void put_le32(sample *s, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(s, b, 4);
}

/* ---- hand-built files -------------------------------------------------- */

static void png_chunk(sample *s, const char *type, const void *data, uint32_t n)
{
    put_be32(s, n);
    put(s, type, 4);
    if (n)
        put(s, data, n);
    put_be32(s, 0); /* CRC: not checked */
}

static sample make_png(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "\x89PNG\r\n\x1a\n", 8);
    sample ihdr = {.len = 0};
    put_be32(&ihdr, w);
    put_be32(&ihdr, h);
    put(&ihdr, "\x08\x06\x00\x00\x00", 5); /* 8-bit RGBA, no interlace */
    png_chunk(&s, "IHDR", ihdr.b, (uint32_t)ihdr.len);
    png_chunk(&s, "IDAT", "\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);
    png_chunk(&s, "IEND", NULL, 0);
    return s;
}

static sample make_jpeg(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "\xFF\xD8", 2);
    put(&s, "\xFF\xE0", 2); /* APP0 JFIF */
    put_be16(&s, 16);
    put(&s, "JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00", 14);
    put(&s, "\xFF\xDB", 2); /* a short DQT, content irrelevant */
    put_be16(&s, 4);
    put(&s, "\x00\x01", 2);
    put(&s, "\xFF\xC0", 2); /* SOF0 */
    put_be16(&s, 11);
    put(&s, "\x08", 1);
    put_be16(&s, h);
    put_be16(&s, w);
    put(&s, "\x01\x01\x11\x00", 4);
    put(&s, "\xFF\xDA", 2); /* SOS */
    put_be16(&s, 8);
    put(&s, "\x01\x01\x00\x00\x3F\x00", 6);
    put(&s, "\x12\xFF\x00\x34", 4); /* entropy-coded data with a stuffed 0xFF */
    put(&s, "\xFF\xD9", 2);
    return s;
}

static sample make_gif(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "GIF89a", 6);
    put_le16(&s, w);
    put_le16(&s, h);
    put(&s, "\x80\x00\x00", 3);                     /* global table of 2 colours */
    put(&s, "\x00\x00\x00\xFF\xFF\xFF", 6);         /* black, white */
    put(&s, "\x21\xF9\x04\x00\x00\x00\x00\x00", 8); /* graphic control extension */
    put(&s, "\x2C", 1);
    put_le16(&s, 0);
    put_le16(&s, 0);
    put_le16(&s, w);
    put_le16(&s, h);
    put(&s, "\x00", 1);                 /* no local table */
    put(&s, "\x02\x02\x44\x01\x00", 5); /* LZW size 2, one sub-block, terminator */
    put(&s, "\x3B", 1);
    return s;
}

static void riff_fix_size(sample *s)
{
    uint32_t n = (uint32_t)s->len - 8;
    s->b[4] = (unsigned char)n;
    s->b[5] = (unsigned char)(n >> 8);
    s->b[6] = (unsigned char)(n >> 16);
    s->b[7] = (unsigned char)(n >> 24);
}

static sample make_webp_vp8(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "RIFF\0\0\0\0WEBPVP8 ", 16);
    put_le32(&s, 12);
    put(&s, "\x50\x01\x00\x9D\x01\x2A", 6); /* key frame tag, start code */
    put_le16(&s, w);
    put_le16(&s, h);
    put(&s, "\x00\x00", 2);
    riff_fix_size(&s);
    return s;
}

static sample make_webp_vp8l(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "RIFF\0\0\0\0WEBPVP8L", 16);
    put_le32(&s, 6);
    put(&s, "\x2F", 1);
    put_le32(&s, ((w - 1) & 0x3FFF) | ((h - 1) & 0x3FFF) << 14);
    put(&s, "\x00", 1);
    riff_fix_size(&s);
    return s;
}

static sample make_webp_vp8x(uint32_t w, uint32_t h)
{
    sample s = {.len = 0};
    put(&s, "RIFF\0\0\0\0WEBPVP8X", 16);
    put_le32(&s, 10);
    put(&s, "\x10\x00\x00\x00", 4); /* flags: alpha */
    put_le24(&s, w - 1);
    put_le24(&s, h - 1);
    put(&s, "ALPH", 4); /* an odd-sized chunk, padded */
    put_le32(&s, 3);
    put(&s, "\x00\x01\x02\x00", 4);
    sample vp8 = make_webp_vp8(w, h);
    put(&s, vp8.b + 12, vp8.len - 12);
    riff_fix_size(&s);
    return s;
}

typedef sample (*maker)(uint32_t w, uint32_t h);

static const struct {
    const char *name;
    maker make;
    const char *type;
    const char *ext;
    uint32_t max; /* the largest side the format can express */
} formats[] = {
    {"png", make_png, "image/png", "png", UINT32_MAX},
    {"jpeg", make_jpeg, "image/jpeg", "jpg", 65535},
    {"gif", make_gif, "image/gif", "gif", 65535},
    {"webp-vp8", make_webp_vp8, "image/webp", "webp", 16383},
    {"webp-vp8l", make_webp_vp8l, "image/webp", "webp", 16384},
    {"webp-vp8x", make_webp_vp8x, "image/webp", "webp", 1u << 24},
};

static int detect(const sample *s, iotd_imagefile_info *info, char *err)
{
    return iotd_imagefile_detect(s->b, s->len, info, err, IOTD_IMAGEFILE_ERR_LEN);
}

/* ---- valid headers ----------------------------------------------------- */

START_TEST(test_valid_headers)
{
    sample s = formats[_i].make(123, 45);
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    ck_assert_msg(detect(&s, &info, err) == IOTD_OK, "%s: %s", formats[_i].name, err);
    ck_assert_str_eq(info.content_type, formats[_i].type);
    ck_assert_str_eq(info.extension, formats[_i].ext);
    ck_assert_int_eq(info.width, 123);
    ck_assert_int_eq(info.height, 45);
    /* trailing bytes after a complete file do not matter */
    sample t = s;
    put(&t, "trailing", 8);
    ck_assert_msg(detect(&t, &info, err) == IOTD_OK, "%s with trailing bytes: %s", formats[_i].name, err);
    ck_assert_int_eq(info.width, 123);
}
END_TEST

START_TEST(test_every_truncation_refused)
{
    sample s = formats[_i].make(64, 32);
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    for (size_t n = 0; n < s.len; n++) {
        int rc = iotd_imagefile_detect(s.b, n, &info, err, sizeof err);
        ck_assert_msg(rc == IOTD_DECLINED, "%s cut to %zu of %zu bytes was accepted", formats[_i].name, n,
                      s.len);
        ck_assert_msg(err[0] != '\0', "%s cut to %zu bytes: no message", formats[_i].name, n);
        if (n > 0)
            ck_assert_msg(strstr(err, "cut short") || strstr(err, "no image") || strstr(err, "invalid") ||
                              strstr(err, "damaged") || strstr(err, "ends before"),
                          "%s cut to %zu bytes: unexpected message '%s'", formats[_i].name, n, err);
    }
}
END_TEST

START_TEST(test_dimension_limits)
{
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    sample s = formats[_i].make(
        IOTD_IMAGEFILE_MAX_DIMENSION < formats[_i].max ? IOTD_IMAGEFILE_MAX_DIMENSION : formats[_i].max, 1);
    ck_assert_msg(detect(&s, &info, err) == IOTD_OK, "%s at the limit: %s", formats[_i].name, err);
    if (formats[_i].max > IOTD_IMAGEFILE_MAX_DIMENSION) {
        s = formats[_i].make(IOTD_IMAGEFILE_MAX_DIMENSION + 1, 10);
        ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
        ck_assert_msg(strstr(err, "30001x10") && strstr(err, "at most 30000"), "%s: '%s'", formats[_i].name,
                      err);
        s = formats[_i].make(10, formats[_i].max);
        ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
    }
    /* zero sides: formats that store width - 1 cannot express them */
    if (strcmp(formats[_i].name, "webp-vp8l") != 0 && strcmp(formats[_i].name, "webp-vp8x") != 0) {
        s = formats[_i].make(0, 10);
        ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
        ck_assert_msg(strstr(err, "no width or height") != NULL, "%s: '%s'", formats[_i].name, err);
        s = formats[_i].make(10, 0);
        ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
    }
}
END_TEST

START_TEST(test_huge_png_and_vp8x_dimensions)
{
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    sample s = make_png(0x7FFFFFFF, 0xFFFFFFFF);
    ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "2147483647x4294967295"));
    s = make_webp_vp8x(1u << 24, 1u << 24);
    ck_assert_int_eq(detect(&s, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "16777216x16777216"));
}
END_TEST

/* ---- look-alikes and damaged structures -------------------------------- */

static void assert_refused(const void *data, size_t len, const char *needle)
{
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    int rc = iotd_imagefile_detect(data, len, &info, err, sizeof err);
    ck_assert_msg(rc == IOTD_DECLINED, "accepted input expected to fail with '%s'", needle);
    ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
}

#define REFUSED(lit, needle) assert_refused(lit, sizeof(lit) - 1, needle)

START_TEST(test_not_images)
{
    assert_refused(NULL, 0, "empty");
    assert_refused("", 0, "empty");
    REFUSED("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
            "SVG");
    REFUSED("\xEF\xBB\xBF  <SVG width=\"1\"></SVG>", "SVG");
    REFUSED("<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", "HTML");
    REFUSED("\n<html><head></head></html>", "HTML");
    REFUSED("<?xml version=\"1.0\"?><rss/>", "XML or HTML");
    REFUSED("just some text\nwith lines\n", "looks like text");
    REFUSED("%PDF-1.7\n", "PDF");
    REFUSED("BM\x3a\x00\x00\x00\x00\x00", "BMP");
    REFUSED("II*\0\x08\0\0\0", "TIFF");
    REFUSED("\0\0\0\x1c"
            "ftypavif\0\0\0\0",
            "AVIF");
    REFUSED("\x00\x01\x02\x03\x04\x05", "not a JPEG, PNG, GIF or WebP image");
    REFUSED("RIFF\x24\0\0\0WAVEfmt ", "another RIFF format");
    REFUSED("\x89PN", "starts like a PNG");
    REFUSED("\xFF", "starts like a JPEG");
    REFUSED("GIF8", "starts like a GIF");
    REFUSED("GIF90a\x01\x00\x01\x00\x00\x00\x00\x3B", "not a JPEG");
}
END_TEST

START_TEST(test_damaged_jpeg)
{
    REFUSED("\xFF\xD8\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\xFF\xD9", "before its frame header");
    REFUSED("\xFF\xD8\xFF\xD9", "ends before any image data");
    REFUSED("\xFF\xD8\xFF\xE0\x00\x01", "segment length 1");
    REFUSED("\xFF\xD8\xFF\xE0\x00\x02\x00", "no marker at byte 6");
    REFUSED("\xFF\xD8\xFF\xD8", "unexpected marker 0xD8");
    /* DHT (C4) is in the SOF range but is not a frame header */
    REFUSED("\xFF\xD8\xFF\xC4\x00\x02\xFF\xDA\x00\x02\xFF\xD9", "before its frame header");
    /* a frame header too short to hold the dimensions */
    REFUSED("\xFF\xD8\xFF\xC0\x00\x05\x08\x00\x01\xFF\xD9", "invalid frame header");
    /* no components */
    REFUSED("\xFF\xD8\xFF\xC0\x00\x08\x08\x00\x01\x00\x01\x00\xFF\xDA\x00\x02\xFF\xD9",
            "invalid frame header");
    /* a segment claiming more bytes than the file has */
    REFUSED("\xFF\xD8\xFF\xE1\xFF\xFF\x00\x00", "cut short");
    /* fill bytes before a marker and RSTn markers are allowed */
    static const unsigned char ok[] =
        "\xFF\xD8\xFF\xFF\xFF\xD0\xFF\xC2\x00\x0B\x08\x00\x02\x00\x03\x01\x01\x11\x00"
        "\xFF\xDA\x00\x02\x00\xFF\xD9";
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    ck_assert_msg(iotd_imagefile_detect(ok, sizeof ok - 1, &info, err, sizeof err) == IOTD_OK, "%s", err);
    ck_assert_int_eq(info.width, 3);
    ck_assert_int_eq(info.height, 2);
}
END_TEST

START_TEST(test_damaged_png)
{
    sample s = make_png(4, 4);
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    sample t = s;
    t.b[11] = 12; /* IHDR length */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "IHDR"));
    t = s;
    t.b[24] = 3; /* bit depth 3 */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "invalid IHDR"));
    t = s;
    t.b[37] = '!'; /* IDAT's type */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "invalid chunk type"));
    t = s;
    t.b[33] = 0x80; /* IDAT's length > 2^31 - 1 */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "invalid length"));
    /* no IDAT */
    sample u = {.len = 0};
    put(&u, s.b, 33);
    png_chunk(&u, "IEND", NULL, 0);
    ck_assert_int_eq(detect(&u, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "no image data"));
}
END_TEST

START_TEST(test_damaged_gif)
{
    sample s = make_gif(4, 4);
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    sample t = s;
    t.b[19] = 0x99; /* the extension introducer */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "unknown block 0x99"));
    REFUSED("GIF87a\x01\x00\x01\x00\x00\x00\x00\x3B", "no image");
    /* a global colour table longer than the file */
    REFUSED("GIF87a\x01\x00\x01\x00\x87\x00\x00\x00\x00\x00\x3B", "cut short");
}
END_TEST

START_TEST(test_damaged_webp)
{
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    sample s = make_webp_vp8(4, 4);
    sample t = s;
    t.b[23] = 0x9C; /* start code */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "VP8 key frame"));
    t = s;
    t.b[20] |= 1; /* an inter frame */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    t = s;
    memcpy(t.b + 12, "VP9 ", 4);
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "unknown chunk"));
    t = s;
    t.b[16] = 0xFF; /* chunk size past the RIFF size */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    t = s;
    t.b[4] = 2; /* RIFF size smaller than a chunk header */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    s = make_webp_vp8l(4, 4);
    t = s;
    t.b[20] = 0x2E;
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "VP8L"));
    t = s;
    t.b[24] |= 0x20; /* version 1 */
    ck_assert_int_eq(detect(&t, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "version"));
    /* VP8X with no image chunk after it */
    sample x = {.len = 0};
    put(&x, "RIFF\0\0\0\0WEBPVP8X", 16);
    put_le32(&x, 10);
    put(&x, "\x00\x00\x00\x00\x03\x00\x00\x03\x00\x00", 10);
    put(&x,
        "EXIF\x02\x00\x00\x00"
        "ab",
        10);
    riff_fix_size(&x);
    ck_assert_int_eq(detect(&x, &info, err), IOTD_DECLINED);
    ck_assert_ptr_nonnull(strstr(err, "no image"));
}
END_TEST

/* Every single-byte change and many random ones: never a crash, and every
 * accepted result within the limits. Run under ASan or Valgrind to catch
 * out-of-bounds reads too. */
START_TEST(test_mutations_stay_in_bounds)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL + (uint64_t)_i;
    sample base = formats[_i].make(17, 9);
    for (size_t pos = 0; pos < base.len; pos++) {
        for (int v = 0; v < 256; v += 51) {
            sample t = base;
            t.b[pos] = (unsigned char)v;
            /* an exact-size heap copy, so reads past the end are caught by tools */
            unsigned char *heap = malloc(t.len);
            ck_assert_ptr_nonnull(heap);
            memcpy(heap, t.b, t.len);
            iotd_imagefile_info info;
            char err[IOTD_IMAGEFILE_ERR_LEN];
            if (iotd_imagefile_detect(heap, t.len, &info, err, sizeof err) == IOTD_OK) {
                ck_assert_int_ge(info.width, 1);
                ck_assert_int_le(info.width, IOTD_IMAGEFILE_MAX_DIMENSION);
                ck_assert_int_ge(info.height, 1);
                ck_assert_int_le(info.height, IOTD_IMAGEFILE_MAX_DIMENSION);
            } else {
                ck_assert(err[0] != '\0');
            }
            free(heap);
        }
    }
    for (int round = 0; round < 20000; round++) {
        sample t = base;
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            t.b[(seed >> 33) % t.len] = (unsigned char)(seed >> 21);
        }
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n = (seed >> 40) % (t.len + 1);
        unsigned char *heap = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(heap);
        memcpy(heap, t.b, n);
        iotd_imagefile_info info;
        char err[IOTD_IMAGEFILE_ERR_LEN];
        if (iotd_imagefile_detect(heap, n, &info, err, sizeof err) == IOTD_OK)
            ck_assert(info.width >= 1 && info.height >= 1);
        free(heap);
    }
}
END_TEST

/* ---- real files from ImageMagick --------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return data;
}

static int run(const char *dir, const char *args, const char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "convert %s '%s/%s' >/dev/null 2>&1", args, dir, out);
    return system(cmd) == 0;
}

START_TEST(test_real_files)
{
    char dir[] = "/tmp/check_imagefile.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (!run(dir, "-size 7x5 xc:red", "probe.jpg") || !run(dir, "-size 7x5 xc:red", "probe.webp")) {
        printf("# SKIP real files: ImageMagick's convert is not installed (apt-get install imagemagick)\n");
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        return;
    }
    static const struct {
        const char *args, *file, *type;
        int w, h;
    } cases[] = {
        {"-size 123x45 xc:red", "a.jpg", "image/jpeg", 123, 45},
        {"-size 123x45 gradient:red-blue -interlace Plane", "progressive.jpg", "image/jpeg", 123, 45},
        {"-size 123x45 gradient: -colorspace Gray", "gray.jpg", "image/jpeg", 123, 45},
        {"-size 123x45 xc:red", "a.png", "image/png", 123, 45},
        {"-size 123x45 gradient:red-blue -depth 16", "deep.png", "image/png", 123, 45},
        {"-size 123x45 xc:red -interlace PNG", "interlaced.png", "image/png", 123, 45},
        {"-size 123x45 xc:red", "a.gif", "image/gif", 123, 45},
        {"-delay 10 -size 30x20 xc:red xc:blue -loop 0", "anim.gif", "image/gif", 30, 20},
        {"-size 123x45 gradient:red-blue", "lossy.webp", "image/webp", 123, 45},
        {"-size 123x45 xc:red -define webp:lossless=true", "lossless.webp", "image/webp", 123, 45},
        {"-size 123x45 'xc:rgba(255,0,0,0.5)'", "alpha.webp", "image/webp", 123, 45},
        {"-size 1x1 xc:white", "one.png", "image/png", 1, 1},
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(cases); i++) {
        ck_assert_msg(run(dir, cases[i].args, cases[i].file), "convert %s %s failed", cases[i].args,
                      cases[i].file);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        size_t len = 0;
        char *data = slurp(path, &len);
        ck_assert_ptr_nonnull(data);
        iotd_imagefile_info info;
        char err[IOTD_IMAGEFILE_ERR_LEN];
        ck_assert_msg(iotd_imagefile_detect(data, len, &info, err, sizeof err) == IOTD_OK, "%s: %s",
                      cases[i].file, err);
        ck_assert_str_eq(info.content_type, cases[i].type);
        ck_assert_int_eq(info.width, cases[i].w);
        ck_assert_int_eq(info.height, cases[i].h);
        /* the same file cut anywhere past its first bytes is refused */
        for (size_t n = 1; n < len; n += (len / 17) + 1) {
            ck_assert_msg(iotd_imagefile_detect(data, n, &info, err, sizeof err) == IOTD_DECLINED,
                          "%s cut to %zu of %zu bytes was accepted", cases[i].file, n, len);
        }
        ck_assert_msg(iotd_imagefile_detect(data, len - 1, &info, err, sizeof err) == IOTD_DECLINED,
                      "%s missing its last byte was accepted", cases[i].file);
        free(data);
        unlink(path);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/probe.jpg", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/probe.webp", dir);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("imagefile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    int n = (int)IOTD_ARRAY_LEN(formats);
    tcase_add_loop_test(tc, test_valid_headers, 0, n);
    tcase_add_loop_test(tc, test_every_truncation_refused, 0, n);
    tcase_add_loop_test(tc, test_dimension_limits, 0, n);
    tcase_add_test(tc, test_huge_png_and_vp8x_dimensions);
    tcase_add_test(tc, test_not_images);
    tcase_add_test(tc, test_damaged_jpeg);
    tcase_add_test(tc, test_damaged_png);
    tcase_add_test(tc, test_damaged_gif);
    tcase_add_test(tc, test_damaged_webp);
    tcase_add_loop_test(tc, test_mutations_stay_in_bounds, 0, n);
    tcase_add_test(tc, test_real_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
