/*
 * feed.c — GET /feed.atom: the last days as an Atom feed (RFC 4287).
 *
 * One entry per day of the last FEED_DAYS that has an image, newest first;
 * the entry's id is the day's permalink, so a reader sees each day once even
 * when the same image stands for several days. The enclosure points at the
 * stable /day/YYYY-MM-DD/image address rather than a presigned URL, which
 * would expire while the entry sits in a reader. libxml2's text writer does
 * all the escaping; characters XML 1.0 cannot carry are replaced first.
 */
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <string.h>

#include "days.h"
#include "handlers.h"
#include "iotd.h"
#include "site.h"
#include "view.h"
#include "worker.h"

#define FEED_DAYS 30
#define FEED_TITLE "Image of the Day"
#define FEED_AUTHOR "Image of the Day"
#define ATOM_NS "http://www.w3.org/2005/Atom"
#define ATOM_TYPE "application/atom+xml"

typedef struct feed_writer {
    iotd_ctx *ctx;
    xmlTextWriterPtr w;
    int ok;
} feed_writer;

/* s with the C0 control characters XML 1.0 forbids turned into spaces. */
static const char *xml_text(feed_writer *f, const char *s)
{
    size_t n = strlen(s), i;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            break;
    if (i == n)
        return s;
    char *copy = iotd_arena_strndup(f->ctx->arena, s, n);
    if (!copy) {
        f->ok = 0;
        return "";
    }
    for (; i < n; i++)
        if ((unsigned char)copy[i] < 0x20 && copy[i] != '\t' && copy[i] != '\n' && copy[i] != '\r')
            copy[i] = ' ';
    return copy;
}

static const char *absolute(feed_writer *f, const char *path)
{
    const char *url = path ? iotd_site_url_str(f->ctx, path) : NULL;
    if (!url) {
        f->ok = 0;
        return "";
    }
    return url;
}

static void element(feed_writer *f, const char *name, const char *text)
{
    if (f->ok && xmlTextWriterWriteElement(f->w, BAD_CAST name, BAD_CAST xml_text(f, text)) < 0)
        f->ok = 0;
}

static void attribute(feed_writer *f, const char *name, const char *value)
{
    if (f->ok && xmlTextWriterWriteAttribute(f->w, BAD_CAST name, BAD_CAST value) < 0)
        f->ok = 0;
}

static void start(feed_writer *f, const char *name)
{
    if (f->ok && xmlTextWriterStartElement(f->w, BAD_CAST name) < 0)
        f->ok = 0;
}

static void end(feed_writer *f)
{
    if (f->ok && xmlTextWriterEndElement(f->w) < 0)
        f->ok = 0;
}

/* <link rel= href= [type=] [length=]/> */
static void atom_link(feed_writer *f, const char *rel, const char *href, const char *type, long long length)
{
    start(f, "link");
    attribute(f, "rel", rel);
    attribute(f, "href", href);
    if (type)
        attribute(f, "type", type);
    if (length >= 0 && f->ok &&
        xmlTextWriterWriteFormatAttribute(f->w, BAD_CAST "length", "%lld", length) < 0)
        f->ok = 0;
    end(f);
}

static void entry(feed_writer *f, const iotd_day *day)
{
    const iotd_image *img = &day->image;
    iotd_arena *a = f->ctx->arena;
    const char *permalink = absolute(f, iotd_arena_printf(a, "/day/%s", day->date));
    const char *image = absolute(f, iotd_arena_printf(a, "/day/%s/image", day->date));
    start(f, "entry");
    element(f, "id", permalink);
    element(f, "title", img->name);
    element(f, "updated", img->updated_at);
    atom_link(f, "alternate", permalink, "text/html", -1);
    /* /day/D/image redirects to the display rendition when there is one:
     * describe what it leads to (a rendition's size is not recorded, and
     * the length attribute is optional in RFC 4287). */
    if (img->display.key[0]) {
        size_t n = strlen(img->display.key);
        int png = n > 4 && strcmp(img->display.key + n - 4, ".png") == 0;
        atom_link(f, "enclosure", image, png ? "image/png" : "image/jpeg", -1);
    } else {
        atom_link(f, "enclosure", image, img->content_type, img->byte_size);
    }
    start(f, "summary");
    attribute(f, "type", "text");
    if (f->ok && xmlTextWriterWriteString(f->w, BAD_CAST xml_text(f, img->tagline)) < 0)
        f->ok = 0;
    end(f);
    end(f);
}

/* Writes the feed for days (newest first) into out. */
static int write_feed(iotd_ctx *ctx, const iotd_day *days, size_t n, const char *updated, iotd_buf *out)
{
    xmlBufferPtr xb = xmlBufferCreate();
    xmlTextWriterPtr w = xb ? xmlNewTextWriterMemory(xb, 0) : NULL;
    if (!w) {
        if (xb)
            xmlBufferFree(xb);
        return IOTD_ERROR;
    }
    feed_writer f = {ctx, w, 1};
    if (xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElementNS(w, NULL, BAD_CAST "feed", BAD_CAST ATOM_NS) < 0)
        f.ok = 0;
    element(&f, "id", absolute(&f, "/"));
    element(&f, "title", FEED_TITLE);
    element(&f, "updated", updated);
    start(&f, "author");
    element(&f, "name", FEED_AUTHOR);
    end(&f);
    atom_link(&f, "self", absolute(&f, "/feed.atom"), ATOM_TYPE, -1);
    atom_link(&f, "alternate", absolute(&f, "/"), "text/html", -1);
    for (size_t i = 0; i < n; i++)
        if (days[i].has_image)
            entry(&f, &days[i]);
    end(&f);
    if (f.ok && xmlTextWriterEndDocument(w) < 0)
        f.ok = 0;
    xmlFreeTextWriter(w); /* flushes into xb */
    int rc = f.ok ? iotd_buf_append(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb)) : IOTD_ERROR;
    xmlBufferFree(xb);
    return rc;
}

int iotd_handle_feed(iotd_ctx *ctx)
{
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return iotd_view_error(ctx, 503, NULL);
    iotd_day *days;
    size_t n;
    int rc = iotd_days_range(ctx->db, ctx->arena, NULL, NULL, ctx->cfg->timezone, FEED_DAYS, &days, &n);
    if (rc != IOTD_OK)
        return iotd_view_error(ctx, rc == IOTD_AGAIN ? 503 : 500, NULL);
    /* The feed changed when its newest-changed entry did; with no entries, a
     * fixed time keeps the body (and its ETag) stable. */
    const char *updated = NULL;
    for (size_t i = 0; i < n; i++)
        if (days[i].has_image && (!updated || strcmp(days[i].image.updated_at, updated) > 0))
            updated = days[i].image.updated_at;
    const char *empty_updated = "1970-01-01T00:00:00Z";
    ctx->res->status = 200;
    iotd_buf_reset(&ctx->res->body);
    if (write_feed(ctx, days, n, updated ? updated : empty_updated, &ctx->res->body) != IOTD_OK) {
        iotd_buf_reset(&ctx->res->body);
        return iotd_view_error(ctx, 500, NULL);
    }
    if (iotd_response_header(ctx->res, "Content-Type", ATOM_TYPE "; charset=utf-8") != IOTD_OK)
        return IOTD_ERROR;
    return iotd_view_public(ctx, updated);
}
