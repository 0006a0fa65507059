/*
 * check_feed.c — /feed.atom over HTTP against the running stack, parsed
 * with libxml2 and read with XPath in the Atom namespace: the feed's id,
 * title, updated, author, self and alternate links; per entry id, title,
 * updated, alternate link, summary and enclosure (type, length, the stable
 * image URL); entries newest first, at most 30, days without an image left
 * out; RFC 3339 times; hostile names escaped (they come back as text);
 * caching headers and 304.
 *
 * Needs IOTD_BASE_URL and the PG* variables (./dev check); skips (exit 77)
 * without them. Rows are inserted by SQL relative to today in
 * IOTD_TIMEZONE with a marker in their names and removed at the end; the
 * S3 objects need not exist.
 */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "testlib.h"

#define MARKER "feedtest-"
#define ATOM_NS "http://www.w3.org/2005/Atom"
#define HOSTILE_NAME MARKER "X <script>alert(\"x\")</script> & \"quotes\" 'apos'"
#define HOSTILE_TAGLINE "a < b && c > \"d\" ]]> <![CDATA[ e"

static const char *base_url;
static const char *tz;
static char site[512];
static PGconn *pg;
static int old_rows; /* other images, all older than the fixture: they fill T-11..T-29 */

/* ---- HTTP ----------------------------------------------------------------- */

static tl_response http_get(const char *path, const char *if_none_match)
{
    return tl_fetch(NULL, path, if_none_match);
}

typedef struct feed {
    tl_response http;
    xmlDocPtr doc;
    xmlXPathContextPtr xp;
} feed;

static feed fetch_feed(void)
{
    feed f;
    f.http = http_get("/feed.atom", NULL);
    ck_assert_msg(f.http.status == 200, "status %ld: %s", f.http.status, f.http.body.data);
    f.doc = xmlReadMemory(f.http.body.data, (int)f.http.body.len, "feed.atom", "UTF-8",
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ck_assert_msg(f.doc != NULL, "the feed is not well-formed XML:\n%s", f.http.body.data);
    f.xp = xmlXPathNewContext(f.doc);
    ck_assert_ptr_nonnull(f.xp);
    ck_assert_int_eq(xmlXPathRegisterNs(f.xp, BAD_CAST "a", BAD_CAST ATOM_NS), 0);
    return f;
}

static void feed_free(feed *f)
{
    xmlXPathFreeContext(f->xp);
    xmlFreeDoc(f->doc);
    tl_response_free(&f->http);
}

/* string(expr), in a static buffer (two of them, alternating). */
static const char *xs(feed *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *xs(feed *f, const char *fmt, ...)
{
    static char out[2][2048];
    static int which;
    char expr[512], wrapped[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    snprintf(wrapped, sizeof wrapped, "string(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST wrapped, f->xp);
    ck_assert_msg(o && o->type == XPATH_STRING, "XPath %s", wrapped);
    which ^= 1;
    snprintf(out[which], sizeof out[which], "%s", (const char *)o->stringval);
    xmlXPathFreeObject(o);
    return out[which];
}

static int xcount(feed *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xcount(feed *f, const char *fmt, ...)
{
    char expr[512], wrapped[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    snprintf(wrapped, sizeof wrapped, "count(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST wrapped, f->xp);
    ck_assert_msg(o && o->type == XPATH_NUMBER, "XPath %s", wrapped);
    int n = (int)o->floatval;
    xmlXPathFreeObject(o);
    return n;
}

static int is_rfc3339(const char *s)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
                             "(Z|[+-][0-9]{2}:[0-9]{2})$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* ---- fixture -------------------------------------------------------------- */

static void sql_do(const char *query, int n, const char *const *values)
{
    PGresult *r = PQexecParams(pg, query, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", query, PQerrorMessage(pg));
    PQclear(r);
}

static void remove_rows(void)
{
    PQclear(PQexec(pg, "DELETE FROM images WHERE name LIKE '" MARKER "%'"));
}

/* An image uploaded at local noon `uploaded` days before today, scheduled
 * `scheduled` days before today (or not, when NULL). */
static void insert(const char *name, const char *tagline, const char *type, const char *size,
                   const char *uploaded, const char *scheduled, const char *updated_at)
{
    char key[160];
    snprintf(key, sizeof key, "images/" MARKER "%d-%s", (int)getpid(), uploaded);
    if (scheduled)
        snprintf(key + strlen(key), sizeof key - strlen(key), "-s%s", scheduled);
    const char *v[] = {name, tagline, key, type, size, uploaded, tz, scheduled, updated_at};
    sql_do("INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, height,"
           " uploaded_at, feature_date, updated_at)"
           " VALUES ($1, $2, $3, $4, $5::bigint, 640, 480,"
           " ((now() AT TIME ZONE $7)::date - $6::integer + time '12:00') AT TIME ZONE $7,"
           " (now() AT TIME ZONE $7)::date - $8::integer, $9::timestamptz)",
           9, v);
}

/* The local date `back` days before today. */
static void date_back(int back, char *out, size_t size)
{
    char n[16];
    snprintf(n, sizeof n, "%d", back);
    const char *v[] = {tz, n};
    PGresult *r =
        PQexecParams(pg, "SELECT to_char((now() AT TIME ZONE $1)::date - $2::integer, 'YYYY-MM-DD')", 2, NULL,
                     v, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* Today is T. X uploaded T-10 (hostile name); Y uploaded T-20, scheduled
 * for T-2; Z uploaded T-1 but scheduled for T-35 (the first day). So T and
 * T-1 show Z, T-2 Y, T-3..T-10 X, and T-11..T-29 nothing: 11 entries. */
static void setup(void)
{
    remove_rows();
    insert(HOSTILE_NAME, HOSTILE_TAGLINE, "image/jpeg", "1111", "10", NULL, "2021-01-01T00:00:00Z");
    insert(MARKER "Y", "the scheduled one", "image/png", "222222", "20", "2", "2023-06-07T08:09:10Z");
    insert(MARKER "Z", "control\001character", "image/webp", "33", "1", "35", "2022-02-03T04:05:06Z");
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_feed_elements)
{
    setup();
    feed f = fetch_feed();
    ck_assert_str_eq(tl_header(&f.http, "Content-Type"), "application/atom+xml; charset=utf-8");
    ck_assert_str_eq((const char *)xmlDocGetRootElement(f.doc)->name, "feed");
    ck_assert_str_eq((const char *)xmlDocGetRootElement(f.doc)->ns->href, ATOM_NS);

    char url[700];
    snprintf(url, sizeof url, "%s/", site);
    ck_assert_str_eq(xs(&f, "/a:feed/a:id"), url);
    ck_assert_str_eq(xs(&f, "/a:feed/a:title"), "Image of the Day");
    ck_assert_int_gt((int)strlen(xs(&f, "/a:feed/a:author/a:name")), 0);
    ck_assert_int_eq(xcount(&f, "/a:feed/a:id"), 1);
    ck_assert_int_eq(xcount(&f, "/a:feed/a:updated"), 1);
    /* updated is the latest entry's updated (Y's), not the first entry's */
    ck_assert_str_eq(xs(&f, "/a:feed/a:updated"), "2023-06-07T08:09:10Z");
    ck_assert(is_rfc3339(xs(&f, "/a:feed/a:updated")));

    ck_assert_int_eq(xcount(&f, "/a:feed/a:link[@rel='self']"), 1);
    snprintf(url, sizeof url, "%s/feed.atom", site);
    ck_assert_str_eq(xs(&f, "/a:feed/a:link[@rel='self']/@href"), url);
    ck_assert_str_eq(xs(&f, "/a:feed/a:link[@rel='self']/@type"), "application/atom+xml");
    snprintf(url, sizeof url, "%s/", site);
    ck_assert_str_eq(xs(&f, "/a:feed/a:link[@rel='alternate']/@href"), url);
    feed_free(&f);
}
END_TEST

START_TEST(test_entries)
{
    setup();
    feed f = fetch_feed();
    int n = xcount(&f, "/a:feed/a:entry");
    ck_assert_int_eq(n, old_rows ? 30 : 11);
    ck_assert_int_le(n, 30);
    static const struct {
        int back;
        const char *name, *type, *length, *updated, *summary;
    } want[] = {
        {0, MARKER "Z", "image/webp", "33", "2022-02-03T04:05:06Z", "control character"},
        {1, MARKER "Z", "image/webp", "33", "2022-02-03T04:05:06Z", "control character"},
        {2, MARKER "Y", "image/png", "222222", "2023-06-07T08:09:10Z", "the scheduled one"},
        {3, HOSTILE_NAME, "image/jpeg", "1111", "2021-01-01T00:00:00Z", HOSTILE_TAGLINE},
        {10, HOSTILE_NAME, "image/jpeg", "1111", "2021-01-01T00:00:00Z", HOSTILE_TAGLINE},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int pos = want[i].back + 1; /* entries are consecutive days, newest first */
        char date[16], permalink[700], image[700];
        date_back(want[i].back, date, sizeof date);
        snprintf(permalink, sizeof permalink, "%s/day/%s", site, date);
        snprintf(image, sizeof image, "%s/day/%s/image", site, date);
        const char *e = "/a:feed/a:entry";
        ck_assert_str_eq(xs(&f, "%s[%d]/a:id", e, pos), permalink);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:title", e, pos), want[i].name);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:updated", e, pos), want[i].updated);
        ck_assert(is_rfc3339(xs(&f, "%s[%d]/a:updated", e, pos)));
        ck_assert_str_eq(xs(&f, "%s[%d]/a:link[@rel='alternate']/@href", e, pos), permalink);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:summary", e, pos), want[i].summary);
        ck_assert_int_eq(xcount(&f, "%s[%d]/a:link[@rel='enclosure']", e, pos), 1);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:link[@rel='enclosure']/@href", e, pos), image);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:link[@rel='enclosure']/@type", e, pos), want[i].type);
        ck_assert_str_eq(xs(&f, "%s[%d]/a:link[@rel='enclosure']/@length", e, pos), want[i].length);
    }
    /* every entry has each required element exactly once, ids are unique and descending */
    char prev[700] = "";
    for (int i = 1; i <= n; i++) {
        static const char *const one[] = {"a:id",
                                          "a:title",
                                          "a:updated",
                                          "a:summary",
                                          "a:link[@rel='alternate']",
                                          "a:link[@rel='enclosure']"};
        for (size_t k = 0; k < sizeof one / sizeof one[0]; k++)
            ck_assert_msg(xcount(&f, "/a:feed/a:entry[%d]/%s", i, one[k]) == 1, "entry %d: %s", i, one[k]);
        const char *id = xs(&f, "/a:feed/a:entry[%d]/a:id", i);
        if (prev[0])
            ck_assert_msg(strcmp(id, prev) < 0, "entry %d (%s) is not older than %s", i, id, prev);
        snprintf(prev, sizeof prev, "%s", id);
    }
    feed_free(&f);
}
END_TEST

START_TEST(test_enclosure_follows_the_display_rendition)
{
    setup();
    /* /day/D/image leads to the display rendition when there is one */
    sql_do("UPDATE images SET display_key = object_key || '.display.jpg', display_width = 10, display_height "
           "= 10,"
           " updated_at = now() WHERE name = '" MARKER "Y'",
           0, NULL);
    feed f = fetch_feed();
    const char *e = "/a:feed/a:entry[3]";
    ck_assert_str_eq(xs(&f, "%s/a:title", e), MARKER "Y");
    ck_assert_str_eq(xs(&f, "%s/a:link[@rel='enclosure']/@type", e), "image/jpeg");
    ck_assert_int_eq(xcount(&f, "%s/a:link[@rel='enclosure']/@length", e), 0);
    feed_free(&f);
}
END_TEST

START_TEST(test_escaping)
{
    setup();
    feed f = fetch_feed();
    /* no element came out of the name, and the raw text is escaped */
    ck_assert_int_eq(xcount(&f, "//*[local-name()='script']"), 0);
    ck_assert_ptr_null(strstr(f.http.body.data, "<script>"));
    ck_assert_ptr_nonnull(strstr(f.http.body.data, "&lt;script&gt;"));
    /* and it reads back as the same text */
    ck_assert_str_eq(xs(&f, "/a:feed/a:entry[4]/a:title"), HOSTILE_NAME);
    ck_assert_str_eq(xs(&f, "/a:feed/a:entry[4]/a:summary"), HOSTILE_TAGLINE);
    ck_assert_str_eq(xs(&f, "/a:feed/a:entry[4]/a:summary/@type"), "text");
    feed_free(&f);
}
END_TEST

START_TEST(test_caching)
{
    setup();
    tl_response r = http_get("/feed.atom", NULL);
    ck_assert_int_eq(r.status, 200);
    char etag[256];
    ck_assert_ptr_nonnull(tl_header(&r, "ETag"));
    snprintf(etag, sizeof etag, "%s", tl_header(&r, "ETag"));
    ck_assert_ptr_nonnull(tl_header(&r, "Last-Modified"));
    ck_assert_str_eq(tl_header(&r, "Cache-Control"), "public, max-age=60");
    tl_response_free(&r);
    r = http_get("/feed.atom", etag);
    ck_assert_int_eq(r.status, 304);
    ck_assert_uint_eq(r.body.len, 0);
    tl_response_free(&r);
    /* a rename shows in the feed and changes its ETag */
    sql_do("UPDATE images SET name = '" MARKER "Y renamed', updated_at = now() WHERE name = '" MARKER "Y'", 0,
           NULL);
    r = tl_fetch_changed("/feed.atom", etag); /* by NOTIFY, a moment after the commit */
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, MARKER "Y renamed"));
    ck_assert_str_ne(tl_header(&r, "ETag"), etag);
    tl_response_free(&r);
}
END_TEST

int main(void)
{
    base_url = getenv("IOTD_BASE_URL");
    if (!base_url || !getenv("PGHOST")) {
        printf("SKIP: the local stack is not running (run ./dev check)\n");
        return 77;
    }
    pg = PQconnectdb("");
    if (PQstatus(pg) != CONNECTION_OK) {
        printf("SKIP: cannot connect to PostgreSQL (run ./dev check)\n");
        PQfinish(pg);
        return 77;
    }
    tz = getenv("IOTD_TIMEZONE") && *getenv("IOTD_TIMEZONE") ? getenv("IOTD_TIMEZONE") : "UTC";
    tl_set_base_url(base_url);
    tl_site_origin(base_url, site, sizeof site);
    /* Other images are fine when they are older than the fixture's days. */
    const char *v[] = {tz};
    PGresult *r = PQexecParams(pg,
                               "SELECT count(*) FILTER (WHERE uploaded_at >= now() - interval '40 days'"
                               "   OR feature_date >= (now() AT TIME ZONE $1)::date - 40), count(*)"
                               " FROM images WHERE name NOT LIKE '" MARKER "%'",
                               1, NULL, v, NULL, NULL, 0);
    int recent = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    old_rows = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 1)) : 0;
    PQclear(r);
    if (recent != 0) {
        fprintf(stderr, "%d images from the last 40 days are in the way of the feed fixture\n", recent);
        PQfinish(pg);
        return EXIT_FAILURE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();

    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_feed_elements);
    tcase_add_test(tc, test_entries);
    tcase_add_test(tc, test_enclosure_follows_the_display_rendition);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_caching);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    remove_rows();
    PQfinish(pg);
    xmlCleanupParser();
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
