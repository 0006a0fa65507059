/*
 * check_pages.c — the public pages over HTTP: the date rule as visitors
 * see it on / and /day/YYYY-MM-DD (scheduled days, fallback days, the
 * first day, today, impossible and future dates), /day/.../image, the
 * archive, link previews, and HTTP caching (ETag, 304, Cache-Control).
 *
 * Rows are inserted by SQL relative to today in the stack's time zone
 * (UTC by default); the objects need not exist, since presigning needs no
 * network. Skips (exit 77) without the stack.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* Dates relative to today: day[0] is today, day[k] is k days ago. */
static char day[8][16]; /* YYYY-MM-DD */
static char tomorrow[16];

static void load_dates(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT to_char((now() AT TIME ZONE 'UTC')::date - g, 'YYYY-MM-DD') "
                            "FROM generate_series(-1, 7) AS g ORDER BY g");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(tomorrow, sizeof tomorrow, "%s", PQgetvalue(r, 0, 0));
    for (int k = 0; k < 8; k++)
        snprintf(day[k], sizeof day[k], "%s", PQgetvalue(r, k + 1, 0));
    PQclear(r);
}

/* An image uploaded `ago` days ago at noon UTC, optionally scheduled. */
static void insert(PGconn *c, const char *name, int ago, const char *scheduled)
{
    char ago_s[16];
    snprintf(ago_s, sizeof ago_s, "%d", ago);
    const char *values[] = {name, ago_s, scheduled ? scheduled : ""};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, "
        "height, uploaded_at, updated_at, feature_date) VALUES ($1, 'Tagline of ' || $1, "
        "'pages/' || $1 || '.jpg', 'image/jpeg', 1234, 1600, 900, "
        "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - ($2 || ' days')::interval "
        "+ interval '12 hours', now(), nullif($3, '')::date)",
        3, NULL, values, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "insert: %s", PQresultErrorMessage(r));
    PQclear(r);
}

static void setup(void)
{
    PGconn *c = tl_db();
    tl_sql(c, "DELETE FROM images");
    load_dates(c);
    insert(c, "Alpha", 5, NULL);   /* the first day ever */
    insert(c, "Bravo", 3, day[1]); /* uploaded 3 days ago, scheduled for yesterday */
    insert(c, "Charlie", 2, NULL); /* the latest upload */
    PQfinish(c);
}

static void teardown(void)
{
    PGconn *c = tl_db();
    tl_sql(c, "DELETE FROM images WHERE object_key LIKE 'pages/%'");
    PQfinish(c);
}

/* GET /day/DATE; returns the status and copies the <h1> text into h1. */
static long get_day(const char *date, char *h1, size_t h1len, tl_response *keep)
{
    char path[64];
    snprintf(path, sizeof path, "/day/%s", date);
    tl_response r = tl_http(NULL, path, NULL);
    h1[0] = '\0';
    const char *p = strstr(r.body.data, "<h1>");
    if (p) {
        p += 4;
        snprintf(h1, h1len, "%.*s", (int)strcspn(p, "<"), p);
    }
    long status = r.status;
    if (keep)
        *keep = r;
    else
        tl_response_free(&r);
    return status;
}

START_TEST(test_date_rule_on_day_pages)
{
    struct {
        int ago;
        const char *want;
    } cases[] = {
        {5, "Alpha"},   /* first day */
        {4, "Alpha"},   /* no upload that day: the latest before it */
        {3, "Alpha"},   /* Bravo was uploaded but waits for its date */
        {2, "Charlie"}, /* Charlie's upload day */
        {1, "Bravo"},   /* Bravo's scheduled day */
        {0, "Charlie"}, /* today: no schedule, the latest upload */
    };
    char h1[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long status = get_day(day[cases[i].ago], h1, sizeof h1, NULL);
        ck_assert_msg(status == 200, "%s: status %ld", day[cases[i].ago], status);
        ck_assert_msg(strcmp(h1, cases[i].want) == 0, "%s (%d days ago): got %s, want %s", day[cases[i].ago],
                      cases[i].ago, h1, cases[i].want);
    }
}
END_TEST

START_TEST(test_days_that_do_not_exist)
{
    const char *dates[] = {tomorrow,   day[6],     day[7],      "2026-02-30",  "2026-13-01",
                           "26-01-01", "2026-1-1", "yesterday", "2026-01-01x", "0000-01-01"};
    char h1[256];
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        long status = get_day(dates[i], h1, sizeof h1, NULL);
        ck_assert_msg(status == 404, "/day/%s answered %ld", dates[i], status);
        ck_assert_str_eq(h1, "Not Found");
    }
    char path[64];
    snprintf(path, sizeof path, "/day/%s/image", tomorrow);
    tl_response r = tl_http(NULL, path, NULL);
    ck_assert_int_eq(r.status, 404);
    tl_response_free(&r);
}
END_TEST

START_TEST(test_neighbour_links)
{
    char h1[256], link[64];
    tl_response r;
    ck_assert_int_eq(get_day(day[5], h1, sizeof h1, &r), 200);
    ck_assert_msg(strstr(r.body.data, "rel=\"prev\"") == NULL, "the first day has no previous day");
    snprintf(link, sizeof link, "href=\"/day/%s\" rel=\"next\"", day[4]);
    ck_assert_msg(strstr(r.body.data, link) != NULL, "next link missing: %s", link);
    tl_response_free(&r);

    ck_assert_int_eq(get_day(day[2], h1, sizeof h1, &r), 200);
    snprintf(link, sizeof link, "href=\"/day/%s\" rel=\"prev\"", day[3]);
    ck_assert(strstr(r.body.data, link) != NULL);
    snprintf(link, sizeof link, "href=\"/day/%s\" rel=\"next\"", day[1]);
    ck_assert(strstr(r.body.data, link) != NULL);
    tl_response_free(&r);

    ck_assert_int_eq(get_day(day[0], h1, sizeof h1, &r), 200);
    ck_assert_msg(strstr(r.body.data, "rel=\"next\"") == NULL, "today has no next day");
    tl_response_free(&r);
}
END_TEST

START_TEST(test_home_links_and_previews)
{
    tl_response r = tl_http(NULL, "/", NULL);
    ck_assert_int_eq(r.status, 200);
    const char *b = r.body.data;
    char want[256];
    ck_assert_ptr_nonnull(strstr(b, "<h1>Charlie</h1>"));
    snprintf(want, sizeof want, "<a href=\"/day/%s\"><time datetime=\"%s\">", day[0], day[0]);
    ck_assert_msg(strstr(b, want) != NULL, "permalink missing");
    const char *base = getenv("IOTD_BASE_URL");
    snprintf(want, sizeof want, "<meta property=\"og:image\" content=\"%s/day/%s/image\">", base, day[0]);
    ck_assert_msg(strstr(b, want) != NULL, "og:image missing: %s", want);
    snprintf(want, sizeof want, "<meta property=\"og:url\" content=\"%s/day/%s\">", base, day[0]);
    ck_assert(strstr(b, want) != NULL);
    ck_assert_ptr_nonnull(strstr(b, "<meta property=\"og:title\" content=\"Charlie\">"));
    ck_assert_ptr_nonnull(strstr(b, "<meta property=\"og:description\" content=\"Tagline of Charlie\">"));
    ck_assert_ptr_nonnull(strstr(b, "<meta property=\"og:image:width\" content=\"1600\">"));
    ck_assert_ptr_nonnull(strstr(b, "<meta property=\"og:image:height\" content=\"900\">"));
    ck_assert_ptr_nonnull(strstr(b, "<meta name=\"twitter:card\" content=\"summary_large_image\">"));
    ck_assert_ptr_nonnull(strstr(b, "href=\"/archive\""));
    tl_response_free(&r);
}
END_TEST

START_TEST(test_day_image_redirects_to_a_presigned_url)
{
    char path[64];
    snprintf(path, sizeof path, "/day/%s/image", day[1]);
    tl_response r = tl_http(NULL, path, NULL);
    ck_assert_int_eq(r.status, 302);
    char location[4096], cache[128];
    ck_assert(tl_header_value(&r, "Location", location, sizeof location));
    ck_assert_msg(strstr(location, "/pages/Bravo.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256") != NULL, "%s",
                  location);
    ck_assert_ptr_nonnull(strstr(location, "X-Amz-Signature="));
    ck_assert(tl_header_value(&r, "Cache-Control", cache, sizeof cache));
    long max_age = -1;
    ck_assert_int_eq(sscanf(cache, "public, max-age=%ld", &max_age), 1);
    ck_assert(max_age >= 1 && max_age <= 3600 / 2);
    tl_response_free(&r);
}
END_TEST

START_TEST(test_archive)
{
    tl_response r = tl_http(NULL, "/archive", NULL);
    ck_assert_int_eq(r.status, 200);
    const char *b = r.body.data;
    /* six days, newest first, each with its image */
    const char *prev = b;
    for (int k = 0; k <= 5; k++) {
        char want[160];
        snprintf(want, sizeof want, "<time datetime=\"%s\">", day[k]);
        const char *p = strstr(b, want);
        ck_assert_msg(p != NULL, "archive lacks %s", day[k]);
        ck_assert_msg(p >= prev, "archive is not newest first at %s", day[k]);
        prev = p;
    }
    char before[160];
    snprintf(before, sizeof before, "<time datetime=\"%s\">", day[6]);
    ck_assert_ptr_null(strstr(b, before));
    ck_assert_ptr_nonnull(strstr(b, "<span class=\"archive-name\">Bravo</span>"));
    ck_assert_ptr_null(strstr(b, "rel=\"next\"")); /* one page only */
    tl_response_free(&r);

    r = tl_http(NULL, "/archive?page=2", NULL);
    ck_assert_int_eq(r.status, 404);
    tl_response_free(&r);
    r = tl_http(NULL, "/archive?page=0", NULL);
    ck_assert_int_eq(r.status, 404);
    tl_response_free(&r);
}
END_TEST

START_TEST(test_caching)
{
    const char *paths[] = {"/", "/archive", NULL};
    char daypath[64];
    snprintf(daypath, sizeof daypath, "/day/%s", day[2]);
    paths[2] = daypath;
    for (size_t i = 0; i < 3; i++) {
        tl_response r = tl_http(NULL, paths[i], NULL);
        ck_assert_int_eq(r.status, 200);
        char etag[128], header[256], modified[64];
        ck_assert_msg(tl_header_value(&r, "ETag", etag, sizeof etag), "%s has no ETag", paths[i]);
        ck_assert(tl_header_value(&r, "Last-Modified", modified, sizeof modified));
        ck_assert_msg(strstr(modified, " GMT") != NULL, "Last-Modified: %s", modified);
        ck_assert(tl_header_has(&r, "Cache-Control: public, max-age=60"));
        tl_response_free(&r);

        snprintf(header, sizeof header, "If-None-Match: %s", etag);
        r = tl_http(NULL, paths[i], header);
        ck_assert_msg(r.status == 304, "%s with its ETag answered %ld", paths[i], r.status);
        ck_assert_uint_eq(r.body.len, 0);
        tl_response_free(&r);

        r = tl_http(NULL, paths[i], "If-None-Match: \"0000\"");
        ck_assert_int_eq(r.status, 200);
        tl_response_free(&r);
    }

    /* an edit changes the page, so the old ETag no longer matches */
    tl_response r = tl_http(NULL, "/", NULL);
    char etag[128];
    ck_assert(tl_header_value(&r, "ETag", etag, sizeof etag));
    tl_response_free(&r);
    PGconn *c = tl_db();
    tl_sql(c, "UPDATE images SET name = 'Charlie renamed', updated_at = now() WHERE object_key = "
              "'pages/Charlie.jpg'");
    PQfinish(c);
    r = tl_fetch_changed("/", etag); /* by NOTIFY, a moment after the commit */
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "<h1>Charlie renamed</h1>"));
    tl_response_free(&r);
}
END_TEST

int main(void)
{
    const char *base = getenv("IOTD_BASE_URL");
    if (!base || !getenv("PGHOST")) {
        printf("SKIP: the local stack is not running (run ./dev check)\n");
        return 77;
    }
    tl_set_base_url(base);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("pages");
    TCase *tc = tcase_create("days");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_date_rule_on_day_pages);
    tcase_add_test(tc, test_days_that_do_not_exist);
    tcase_add_test(tc, test_neighbour_links);
    tcase_add_test(tc, test_home_links_and_previews);
    tcase_add_test(tc, test_day_image_redirects_to_a_presigned_url);
    tcase_add_test(tc, test_archive);
    tcase_add_test(tc, test_caching);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
