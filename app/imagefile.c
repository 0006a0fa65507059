/*
 * imagefile.c — recognises JPEG, PNG, GIF and WebP by content and reads
 * their dimensions.
 *
 * An upload's name and declared type are the uploader's claims; its bytes
 * are the truth. Each format's structure is walked far enough to find the
 * dimensions and to see that the file is whole (PNG up to IEND, GIF up to
 * its trailer, JPEG to the EOI after its first scan, WebP to the end of its
 * RIFF size), so a truncated upload is refused rather than stored. Every
 * read is bounds-checked against len: this function takes hostile input
 * and is fuzzed. Pixel data is not decoded; checksums are not verified.
 */
#include "imagefile.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iotd.h"

#define PNG_SIGNATURE "\x89PNG\r\n\x1a\n"
#define PNG_SIGNATURE_LEN 8
#define PNG_CHUNK_OVERHEAD 12 /* length, type, CRC */
#define PNG_IHDR_LEN 13
#define PNG_MAX_CHUNK_LEN 0x7fffffffUL /* the PNG specification's limit */

#define JPEG_SOI_LEN 2
#define JPEG_SOF_MIN_LEN 8 /* length(2) precision(1) height(2) width(2) components(1) */

#define GIF_HEADER_LEN 13          /* signature, logical screen descriptor */
#define GIF_IMAGE_DESCRIPTOR_LEN 9 /* after the 0x2C separator */

#define WEBP_HEADER_LEN 12 /* "RIFF", size, "WEBP" */
#define WEBP_CHUNK_HEADER_LEN 8
#define WEBP_VP8_MIN_LEN 10
#define WEBP_VP8L_MIN_LEN 5
#define WEBP_VP8X_MIN_LEN 10

#define SNIFF_BYTES 1024 /* how far in we look to name a file we refuse */

static int reject(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int reject(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return IOTD_DECLINED;
}

static uint32_t be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const unsigned char *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int accepted(const char *kind, const char *type, const char *ext, uint32_t w, uint32_t h,
                    iotd_imagefile_info *out, char *err, size_t errlen)
{
    if (w == 0 || h == 0)
        return reject(err, errlen, "the %s image has no width or height", kind);
    if (w > IOTD_IMAGEFILE_MAX_DIMENSION || h > IOTD_IMAGEFILE_MAX_DIMENSION)
        return reject(err, errlen,
                      "the %s image is %" PRIu32 "x%" PRIu32 " pixels; at most %d per side is accepted", kind,
                      w, h, IOTD_IMAGEFILE_MAX_DIMENSION);
    out->content_type = type;
    out->extension = ext;
    out->width = (int)w;
    out->height = (int)h;
    return IOTD_OK;
}

/* ---- PNG: signature, IHDR first, chunks up to IEND ----------------------- */

static int png_depth_ok(unsigned depth, unsigned color_type)
{
    switch (color_type) {
    case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6: return depth == 8 || depth == 16;
    default: return 0;
    }
}

static int detect_png(const unsigned char *p, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    if (len < PNG_SIGNATURE_LEN + PNG_CHUNK_OVERHEAD + PNG_IHDR_LEN)
        return reject(err, errlen, "the PNG file is cut short");
    const unsigned char *ihdr = p + PNG_SIGNATURE_LEN;
    if (be32(ihdr) != PNG_IHDR_LEN || memcmp(ihdr + 4, "IHDR", 4) != 0)
        return reject(err, errlen, "the PNG file does not start with an IHDR chunk");
    uint32_t w = be32(ihdr + 8), h = be32(ihdr + 12);
    if (!png_depth_ok(ihdr[16], ihdr[17]) || ihdr[18] != 0 || ihdr[19] != 0 || ihdr[20] > 1)
        return reject(err, errlen, "the PNG file has an invalid IHDR chunk");
    int have_data = 0;
    size_t off = PNG_SIGNATURE_LEN;
    for (;;) {
        if (len - off < PNG_CHUNK_OVERHEAD)
            return reject(err, errlen, "the PNG file is cut short (it has no IEND chunk)");
        uint32_t n = be32(p + off);
        const unsigned char *type = p + off + 4;
        if (n > PNG_MAX_CHUNK_LEN)
            return reject(err, errlen, "the PNG file has a chunk with an invalid length");
        for (int i = 0; i < 4; i++)
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
                return reject(err, errlen, "the PNG file is damaged (invalid chunk type)");
        if (n > len - off - PNG_CHUNK_OVERHEAD)
            return reject(err, errlen, "the PNG file is cut short");
        if (memcmp(type, "IDAT", 4) == 0)
            have_data = 1;
        if (memcmp(type, "IEND", 4) == 0)
            break;
        off += PNG_CHUNK_OVERHEAD + n;
    }
    if (!have_data)
        return reject(err, errlen, "the PNG file has no image data");
    return accepted("PNG", "image/png", "png", w, h, out, err, errlen);
}

/* ---- JPEG: markers from SOI to the frame header, then the EOI ------------ */

static int jpeg_is_sof(unsigned m)
{
    /* C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int jpeg_has_eoi(const unsigned char *p, size_t from, size_t len)
{
    /* Entropy-coded data stuffs every 0xFF with 0x00, so FF D9 after the
     * first scan header can only be the end-of-image marker. */
    for (size_t i = len; i >= from + 2; i--)
        if (p[i - 2] == 0xFF && p[i - 1] == 0xD9)
            return 1;
    return 0;
}

static int detect_jpeg(const unsigned char *p, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    size_t off = JPEG_SOI_LEN;
    uint32_t w = 0, h = 0;
    int have_frame = 0;
    for (;;) {
        if (off >= len)
            return reject(err, errlen, "the JPEG file is cut short");
        if (p[off] != 0xFF)
            return reject(err, errlen, "the JPEG file is damaged (no marker at byte %zu)", off);
        while (off < len && p[off] == 0xFF) /* fill bytes */
            off++;
        if (off >= len)
            return reject(err, errlen, "the JPEG file is cut short");
        unsigned m = p[off++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) /* TEM, RSTn: no length */
            continue;
        if (m == 0x00 || m == 0xD8)
            return reject(err, errlen, "the JPEG file is damaged (unexpected marker 0x%02X)", m);
        if (m == 0xD9)
            return reject(err, errlen, "the JPEG file ends before any image data");
        if (len - off < 2)
            return reject(err, errlen, "the JPEG file is cut short");
        size_t seg = be16(p + off);
        if (seg < 2)
            return reject(err, errlen, "the JPEG file is damaged (segment length %zu)", seg);
        if (seg > len - off)
            return reject(err, errlen, "the JPEG file is cut short");
        if (jpeg_is_sof(m)) {
            if (have_frame)
                return reject(err, errlen, "the JPEG file has two frame headers");
            if (seg < JPEG_SOF_MIN_LEN || p[off + 7] == 0)
                return reject(err, errlen, "the JPEG file has an invalid frame header");
            h = be16(p + off + 3);
            w = be16(p + off + 5);
            have_frame = 1;
        } else if (m == 0xDA) {
            if (!have_frame)
                return reject(err, errlen, "the JPEG file has image data before its frame header");
            if (!jpeg_has_eoi(p, off + seg, len))
                return reject(err, errlen, "the JPEG file is cut short (it has no end-of-image marker)");
            break;
        }
        off += seg;
    }
    return accepted("JPEG", "image/jpeg", "jpg", w, h, out, err, errlen);
}

/* ---- GIF: header, colour tables and blocks up to the trailer ------------- */

/* Skips a chain of data sub-blocks ending with an empty one. */
static int gif_skip_sub_blocks(const unsigned char *p, size_t len, size_t *off)
{
    for (;;) {
        if (*off >= len)
            return IOTD_ERROR;
        size_t n = p[(*off)++];
        if (n == 0)
            return IOTD_OK;
        if (n > len - *off)
            return IOTD_ERROR;
        *off += n;
    }
}

static size_t gif_color_table_len(unsigned packed)
{
    return (packed & 0x80) ? (size_t)3 << ((packed & 0x07) + 1) : 0;
}

static int detect_gif(const unsigned char *p, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    if (len < GIF_HEADER_LEN)
        return reject(err, errlen, "the GIF file is cut short");
    uint32_t w = le16(p + 6), h = le16(p + 8);
    size_t off = GIF_HEADER_LEN, table = gif_color_table_len(p[10]);
    if (table > len - off)
        return reject(err, errlen, "the GIF file is cut short");
    off += table;
    int images = 0;
    for (;;) {
        if (off >= len)
            return reject(err, errlen, "the GIF file is cut short (it has no trailer)");
        unsigned block = p[off++];
        if (block == 0x3B)
            break;
        if (block == 0x21) { /* extension: label, then sub-blocks */
            if (off >= len)
                return reject(err, errlen, "the GIF file is cut short");
            off++;
        } else if (block == 0x2C) { /* image: descriptor, local table, LZW size, data */
            if (len - off < GIF_IMAGE_DESCRIPTOR_LEN + 1)
                return reject(err, errlen, "the GIF file is cut short");
            table = gif_color_table_len(p[off + 8]);
            off += GIF_IMAGE_DESCRIPTOR_LEN;
            if (table > len - off - 1)
                return reject(err, errlen, "the GIF file is cut short");
            off += table + 1;
            images++;
        } else {
            return reject(err, errlen, "the GIF file is damaged (unknown block 0x%02X)", block);
        }
        if (gif_skip_sub_blocks(p, len, &off) != IOTD_OK)
            return reject(err, errlen, "the GIF file is cut short");
    }
    if (images == 0)
        return reject(err, errlen, "the GIF file contains no image");
    return accepted("GIF", "image/gif", "gif", w, h, out, err, errlen);
}

/* ---- WebP: RIFF container, first chunk VP8, VP8L or VP8X ---------------- */

/* Looks through the chunks after VP8X for the image itself. */
static int webp_has_image_chunk(const unsigned char *p, size_t end, size_t off)
{
    while (end - off >= WEBP_CHUNK_HEADER_LEN) {
        const unsigned char *fourcc = p + off;
        size_t n = le32(p + off + 4);
        if (n > end - off - WEBP_CHUNK_HEADER_LEN)
            return 0;
        if (memcmp(fourcc, "VP8 ", 4) == 0 || memcmp(fourcc, "VP8L", 4) == 0 ||
            memcmp(fourcc, "ANMF", 4) == 0)
            return 1;
        off += WEBP_CHUNK_HEADER_LEN + n;
        if (n & 1) { /* chunks are padded to even sizes */
            if (off >= end)
                return 0;
            off++;
        }
    }
    return 0;
}

static int detect_webp(const unsigned char *p, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    if (len < WEBP_HEADER_LEN)
        return reject(err, errlen, "the file is cut short (it starts like a WebP file)");
    if (memcmp(p + 8, "WEBP", 4) != 0)
        return reject(err, errlen,
                      "the file is not a JPEG, PNG, GIF or WebP image (it is another RIFF format)");
    size_t riff = le32(p + 4);
    if (riff < 4 + WEBP_CHUNK_HEADER_LEN)
        return reject(err, errlen, "the WebP file is damaged (RIFF size %zu)", riff);
    if (riff > len - 8)
        return reject(err, errlen, "the WebP file is cut short");
    size_t end = 8 + riff;
    const unsigned char *chunk = p + WEBP_HEADER_LEN;
    size_t n = le32(chunk + 4);
    if (n > end - WEBP_HEADER_LEN - WEBP_CHUNK_HEADER_LEN)
        return reject(err, errlen, "the WebP file is cut short");
    const unsigned char *d = chunk + WEBP_CHUNK_HEADER_LEN;
    uint32_t w, h;
    if (memcmp(chunk, "VP8 ", 4) == 0) {
        if (n < WEBP_VP8_MIN_LEN)
            return reject(err, errlen, "the WebP file has an invalid VP8 header");
        if ((d[0] & 1) != 0 || d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return reject(err, errlen, "the WebP file has an invalid VP8 key frame");
        w = le16(d + 6) & 0x3FFF;
        h = le16(d + 8) & 0x3FFF;
    } else if (memcmp(chunk, "VP8L", 4) == 0) {
        if (n < WEBP_VP8L_MIN_LEN || d[0] != 0x2F)
            return reject(err, errlen, "the WebP file has an invalid VP8L header");
        uint32_t bits = le32(d + 1);
        if (bits >> 29 != 0)
            return reject(err, errlen, "the WebP file has an unknown VP8L version");
        w = (bits & 0x3FFF) + 1;
        h = ((bits >> 14) & 0x3FFF) + 1;
    } else if (memcmp(chunk, "VP8X", 4) == 0) {
        if (n < WEBP_VP8X_MIN_LEN)
            return reject(err, errlen, "the WebP file has an invalid VP8X header");
        w = le24(d + 4) + 1;
        h = le24(d + 7) + 1;
        size_t next = WEBP_HEADER_LEN + WEBP_CHUNK_HEADER_LEN + n + (n & 1);
        if (next > end || !webp_has_image_chunk(p, end, next))
            return reject(err, errlen, "the WebP file contains no image");
    } else {
        return reject(err, errlen, "the WebP file starts with an unknown chunk");
    }
    return accepted("WebP", "image/webp", "webp", w, h, out, err, errlen);
}

/* ---- everything else: name it in the refusal ----------------------------- */

static int contains_nocase(const unsigned char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        size_t j = 0;
        while (j < n && (p[i + j] | 0x20) == (unsigned char)needle[j])
            j++;
        if (j == n)
            return 1;
    }
    return 0;
}

static const char *guess_other(const unsigned char *p, size_t len)
{
    size_t n = len < SNIFF_BYTES ? len : SNIFF_BYTES;
    if (len >= 4 && memcmp(p, "%PDF", 4) == 0)
        return "PDF";
    if (len >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
        return "TIFF";
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
        return "HEIC, AVIF or video";
    if (len >= 2 && memcmp(p, "BM", 2) == 0)
        return "BMP";
    size_t i = 0;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < n && p[i] == '<') {
        if (contains_nocase(p + i, n - i, "<svg"))
            return "SVG";
        if (contains_nocase(p + i, n - i, "<html") || contains_nocase(p + i, n - i, "<!doctype html"))
            return "HTML";
        return "XML or HTML";
    }
    for (i = 0; i < n; i++)
        if (p[i] < 0x09 || (p[i] > 0x0D && p[i] < 0x20) || p[i] == 0x7F)
            return NULL;
    return "text";
}

typedef struct format {
    const char *magic;
    size_t len;
    const char *kind;
    const char *content_type;
    const char *extension;
    int (*detect)(const unsigned char *, size_t, iotd_imagefile_info *, char *, size_t);
} format;

static const format formats[] = {
    {"\xFF\xD8\xFF", 3, "JPEG", "image/jpeg", "jpg", detect_jpeg},
    {PNG_SIGNATURE, PNG_SIGNATURE_LEN, "PNG", "image/png", "png", detect_png},
    {"GIF87a", 6, "GIF", "image/gif", "gif", detect_gif},
    {"GIF89a", 6, "GIF", "image/gif", "gif", detect_gif},
    {"RIFF", 4, "WebP", "image/webp", "webp", detect_webp},
};

/* The format whose magic p starts with, or NULL with the reason in err. */
static const format *by_magic(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!p || len == 0) {
        reject(err, errlen, "the file is empty");
        return NULL;
    }
    for (size_t i = 0; i < IOTD_ARRAY_LEN(formats); i++) {
        size_t m = formats[i].len;
        if (len >= m && memcmp(p, formats[i].magic, m) == 0)
            return &formats[i];
        if (len < m && memcmp(p, formats[i].magic, len) == 0) {
            reject(err, errlen, "the file is cut short (it starts like a %s file)", formats[i].kind);
            return NULL;
        }
    }
    const char *other = guess_other(p, len);
    if (other)
        reject(err, errlen, "the file is not a JPEG, PNG, GIF or WebP image (it looks like %s)", other);
    else
        reject(err, errlen, "the file is not a JPEG, PNG, GIF or WebP image");
    return NULL;
}

int iotd_imagefile_detect(const void *data, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    const format *f = by_magic(data, len, err, errlen);
    return f ? f->detect(data, len, out, err, errlen) : IOTD_DECLINED;
}

int iotd_imagefile_sniff(const void *data, size_t len, iotd_imagefile_info *out, char *err, size_t errlen)
{
    const format *f = by_magic(data, len, err, errlen);
    if (!f)
        return IOTD_DECLINED;
    if (f->detect == detect_webp && len < WEBP_HEADER_LEN)
        return reject(err, errlen, "the file is cut short (it starts like a WebP file)");
    if (f->detect == detect_webp && memcmp((const char *)data + 8, "WEBP", 4) != 0)
        return reject(err, errlen,
                      "the file is not a JPEG, PNG, GIF or WebP image (it is another RIFF format)");
    memset(out, 0, sizeof *out);
    out->content_type = f->content_type;
    out->extension = f->extension;
    return IOTD_OK;
}

const char *iotd_imagefile_extension(const char *content_type)
{
    for (size_t i = 0; i < IOTD_ARRAY_LEN(formats); i++)
        if (content_type && strcmp(content_type, formats[i].content_type) == 0)
            return formats[i].extension;
    return NULL;
}

const char *iotd_imagefile_content_type(const char *content_type)
{
    for (size_t i = 0; i < IOTD_ARRAY_LEN(formats); i++)
        if (content_type && strcmp(content_type, formats[i].content_type) == 0)
            return formats[i].content_type;
    return NULL;
}
