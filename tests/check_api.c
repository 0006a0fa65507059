/*
 * check_api.c — the JSON API over HTTP against the running stack: every
 * field of a day, scheduled and fallback days, a day with no image, today,
 * ranges (order, omission, the 100-day limit, defaults), every 400 and 404,
 * CORS, 304 with If-None-Match, an ETag that follows a rename, JSON errors
 * for unknown API paths and other methods, and the OpenAPI document.
 *
 * Needs IOTD_BASE_URL and the PG* variables (./dev check, or a private
 * stack: see ./dev env); skips (exit 77) without them. The rows are
 * inserted by SQL in March 1999 (local noon in IOTD_TIMEZONE, so the dates
 * hold in any zone), before anything real, and carry a marker in their
 * names; they are removed at the end (and at the start, after a crash).
 * The S3 objects need not exist: the API only presigns their URLs.
 */
#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "testlib.h"

#define MARKER "apitest-"

static const char *base_url;
static const char *tz;
static char site[512]; /* what permalinks start with */
static char today[16]; /* in the server's time zone */
static char tomorrow[16];
static PGconn *pg;

/* ---- HTTP ----------------------------------------------------------------- */

/* method NULL = GET; if_none_match may be NULL. */

static tl_response http(const char *method, const char *path, const char *if_none_match)
{
    return tl_fetch(method, path, if_none_match);
}

static json_object *parse(const tl_response *r)
{
    json_object *o = json_tokener_parse(r->body.data);
    ck_assert_msg(o != NULL, "not JSON: %s", r->body.data);
    return o;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
    ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string", key);
    return json_object_get_string(v);
}

static int num(json_object *o, const char *key)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
    ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer", key);
    return json_object_get_int(v);
}

/* Asserts a JSON API response: CORS and the content type. */
static void assert_api_headers(const tl_response *r)
{
    const char *acao = tl_header(r, "Access-Control-Allow-Origin");
    ck_assert_msg(acao && strcmp(acao, "*") == 0, "no CORS header (status %ld)", r->status);
    if (r->status != 304) {
        const char *ct = tl_header(r, "Content-Type");
        ck_assert_msg(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s", ct ? ct : "(none)");
    }
}

/* Asserts an error response with status and code. */
static void expect_error(const char *path, long status, const char *code)
{
    tl_response r = http(NULL, path, NULL);
    ck_assert_msg(r.status == status, "%s: status %ld, want %ld: %s", path, r.status, status, r.body.data);
    assert_api_headers(&r);
    json_object *o = parse(&r), *e;
    ck_assert_msg(json_object_object_get_ex(o, "error", &e), "%s: no error object", path);
    ck_assert_str_eq(str(e, "code"), code);
    ck_assert_int_gt((int)strlen(str(e, "message")), 0);
    ck_assert_ptr_null(tl_header(&r, "ETag"));
    json_object_put(o);
    tl_response_free(&r);
}

/* GET path: asserts 200 and returns the parsed body. */
static json_object *get_ok(const char *path, tl_response *keep)
{
    tl_response r = http(NULL, path, NULL);
    ck_assert_msg(r.status == 200, "%s: status %ld: %s", path, r.status, r.body.data);
    assert_api_headers(&r);
    ck_assert_ptr_nonnull(tl_header(&r, "ETag"));
    ck_assert_ptr_nonnull(tl_header(&r, "Last-Modified"));
    ck_assert_str_eq(tl_header(&r, "Cache-Control"), "public, max-age=60");
    json_object *o = parse(&r);
    if (keep)
        *keep = r;
    else
        tl_response_free(&r);
    return o;
}

/* ---- SQL ------------------------------------------------------------------ */

static PGresult *sql(const char *query, int n, const char *const *values)
{
    PGresult *r = PQexecParams(pg, query, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", query, PQerrorMessage(pg));
    return r;
}

static void sql_do(const char *query, int n, const char *const *values)
{
    PQclear(sql(query, n, values));
}

/* Inserts an image uploaded at local noon of date (IOTD_TIMEZONE) with an
 * optional schedule and renditions. */
static void insert(const char *tag, const char *uploaded_date, const char *feature_date, int renditions)
{
    char name[64], key[96], thumb[96], display[96];
    snprintf(name, sizeof name, MARKER "%s", tag);
    snprintf(key, sizeof key, "images/" MARKER "%d-%s.jpg", (int)getpid(), tag);
    snprintf(thumb, sizeof thumb, "images/" MARKER "%d-%s.thumb.jpg", (int)getpid(), tag);
    snprintf(display, sizeof display, "images/" MARKER "%d-%s.display.jpg", (int)getpid(), tag);
    const char *v[] = {
        name, key, uploaded_date, tz, feature_date, renditions ? thumb : NULL, renditions ? display : NULL};
    sql_do("INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, height,"
           " uploaded_at, updated_at, feature_date, thumb_key, thumb_width, thumb_height,"
           " display_key, display_width, display_height)"
           " VALUES ($1, 'tagline of ' || $1, $2, 'image/jpeg', 12345, 4000, 3000,"
           " ($3::date + time '12:00') AT TIME ZONE $4, ($3::date + time '12:00') AT TIME ZONE $4,"
           " $5::date, $6::text, CASE WHEN $6::text IS NULL THEN NULL ELSE 400 END,"
           " CASE WHEN $6::text IS NULL THEN NULL ELSE 300 END, $7::text,"
           " CASE WHEN $7::text IS NULL THEN NULL ELSE 2560 END, CASE WHEN $7::text IS NULL THEN NULL ELSE "
           "1920 END)",
           7, v);
}

static void remove_rows(void)
{
    PQclear(PQexec(pg, "DELETE FROM images WHERE name LIKE '" MARKER "%'"));
}

/* The fixture, days in local time (see the date rule in days.h):
 *   A uploaded 03-01            E uploaded 03-03, scheduled for 02-25
 *   S uploaded 03-02, scheduled for 03-05 (with renditions)
 *   B uploaded 03-04
 * so 02-25 E (the first day), 02-26..02-28 no image, 03-01 A, 03-02 A (S
 * waits for its date), 03-03 E, 03-04 B, 03-05 S, 03-06 and later B. */
static void setup(void)
{
    remove_rows();
    insert("A", "1999-03-01", NULL, 0);
    insert("S", "1999-03-02", "1999-03-05", 1);
    insert("E", "1999-03-03", "1999-02-25", 0);
    insert("B", "1999-03-04", NULL, 0);
}

/* The title of date's image, or NULL for a 404. */
static const char *title_of(const char *date)
{
    static char title[128];
    char path[64];
    snprintf(path, sizeof path, "/api/v1/days/%s", date);
    tl_response r = http(NULL, path, NULL);
    assert_api_headers(&r);
    ck_assert_msg(r.status == 200 || r.status == 404, "%s: %ld", path, r.status);
    const char *out = NULL;
    if (r.status == 200) {
        json_object *o = parse(&r);
        ck_assert_str_eq(str(o, "date"), date);
        snprintf(title, sizeof title, "%s", str(o, "title"));
        json_object_put(o);
        out = title;
    }
    tl_response_free(&r);
    return out;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_day_fields)
{
    setup();
    json_object *o = get_ok("/api/v1/days/1999-03-05", NULL);
    char permalink[600];
    snprintf(permalink, sizeof permalink, "%s/day/1999-03-05", site);
    ck_assert_int_eq(json_object_object_length(o), 10);
    ck_assert_str_eq(str(o, "date"), "1999-03-05");
    ck_assert_str_eq(str(o, "title"), MARKER "S");
    ck_assert_str_eq(str(o, "tagline"), "tagline of " MARKER "S");
    ck_assert_msg(strstr(str(o, "image_url"), ".display.jpg?") &&
                      strstr(str(o, "image_url"), "X-Amz-Signature="),
                  "image_url %s", str(o, "image_url"));
    ck_assert_msg(strstr(str(o, "thumbnail_url"), ".thumb.jpg?") &&
                      strstr(str(o, "thumbnail_url"), "X-Amz-Signature="),
                  "thumbnail_url %s", str(o, "thumbnail_url"));
    ck_assert_int_eq(num(o, "width"), 4000); /* the original's, not the display copy's */
    ck_assert_int_eq(num(o, "height"), 3000);
    ck_assert_str_eq(str(o, "content_type"), "image/jpeg");
    ck_assert_str_eq(str(o, "permalink"), permalink);
    /* uploaded_at: local noon of 03-02 in UTC, as Postgres computes it */
    const char *v[] = {tz};
    PGresult *r = sql("SELECT to_char(('1999-03-02'::date + time '12:00') AT TIME ZONE $1 AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                      1, v);
    ck_assert_str_eq(str(o, "uploaded_at"), PQgetvalue(r, 0, 0));
    PQclear(r);
    json_object_put(o);

    /* without renditions both URLs fall back to the original */
    o = get_ok("/api/v1/days/1999-03-01", NULL);
    ck_assert_str_eq(str(o, "title"), MARKER "A");
    ck_assert_msg(strstr(str(o, "image_url"), "-A.jpg?"), "image_url %s", str(o, "image_url"));
    ck_assert_msg(strstr(str(o, "thumbnail_url"), "-A.jpg?"), "thumbnail_url %s", str(o, "thumbnail_url"));
    json_object_put(o);
}
END_TEST

START_TEST(test_scheduled_and_fallback_days)
{
    setup();
    static const struct {
        const char *date, *tag; /* tag NULL: 404 */
    } want[] = {
        {"1999-02-24", NULL}, {"1999-02-25", "E"}, {"1999-02-26", NULL}, {"1999-02-28", NULL},
        {"1999-03-01", "A"},  {"1999-03-02", "A"}, {"1999-03-03", "E"},  {"1999-03-04", "B"},
        {"1999-03-05", "S"},  {"1999-03-06", "B"}, {"1999-12-31", "B"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *title = title_of(want[i].date);
        if (!want[i].tag) {
            ck_assert_msg(title == NULL, "%s: %s, want 404", want[i].date, title);
            continue;
        }
        char expect[64];
        snprintf(expect, sizeof expect, MARKER "%s", want[i].tag);
        ck_assert_msg(title && strcmp(title, expect) == 0, "%s: %s, want %s", want[i].date,
                      title ? title : "404", expect);
    }
    expect_error("/api/v1/days/1999-02-24", 404, "not_found"); /* before the first day */
    expect_error("/api/v1/days/1999-02-27", 404, "not_found"); /* a day without an image */
}
END_TEST

START_TEST(test_today_and_future)
{
    setup();
    json_object *o = get_ok("/api/v1/today", NULL);
    ck_assert_str_eq(str(o, "date"), today);
    json_object_put(o);

    char path[64];
    snprintf(path, sizeof path, "/api/v1/days/%s", tomorrow);
    /* scheduled for tomorrow: not shown early, neither today nor tomorrow */
    const char *v[] = {tomorrow};
    PGresult *r = sql("SELECT count(*) FROM images WHERE feature_date IN ($1::date, $1::date - 1)", 1, v);
    int taken = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_msg(taken == 0, "today or tomorrow is already scheduled by another image");
    insert("F", "1999-03-06", tomorrow, 0);
    expect_error(path, 404, "not_found");
    expect_error("/api/v1/days/9999-12-31", 404, "not_found");
    o = get_ok("/api/v1/today", NULL);
    ck_assert_str_ne(str(o, "title"), MARKER "F");
    json_object_put(o);

    /* scheduled for today: today shows it, and so does its permalink */
    insert("T", "1999-03-06", today, 0);
    o = get_ok("/api/v1/today", NULL);
    ck_assert_str_eq(str(o, "date"), today);
    ck_assert_str_eq(str(o, "title"), MARKER "T");
    json_object_put(o);
    snprintf(path, sizeof path, "/api/v1/days/%s", today);
    o = get_ok(path, NULL);
    ck_assert_str_eq(str(o, "title"), MARKER "T");
    json_object_put(o);
}
END_TEST

START_TEST(test_range)
{
    setup();
    json_object *a = get_ok("/api/v1/days?start=1999-02-20&end=1999-03-07", NULL);
    ck_assert(json_object_is_type(a, json_type_array));
    static const char *const want[][2] = {{"1999-03-07", "B"}, {"1999-03-06", "B"}, {"1999-03-05", "S"},
                                          {"1999-03-04", "B"}, {"1999-03-03", "E"}, {"1999-03-02", "A"},
                                          {"1999-03-01", "A"}, {"1999-02-25", "E"}};
    ck_assert_uint_eq(json_object_array_length(a), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_object *d = json_object_array_get_idx(a, i);
        char title[64];
        snprintf(title, sizeof title, MARKER "%s", want[i][1]);
        ck_assert_str_eq(str(d, "date"), want[i][0]);
        ck_assert_str_eq(str(d, "title"), title);
        ck_assert_int_eq(json_object_object_length(d), 10);
    }
    json_object_put(a);

    /* a single day; a range of days that have no image is empty */
    a = get_ok("/api/v1/days?start=1999-03-05&end=1999-03-05", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 1);
    json_object_put(a);
    a = get_ok("/api/v1/days?start=1999-02-26&end=1999-02-28", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 0);
    json_object_put(a);

    /* exactly 100 days is allowed (clipped to the first day), 101 is not */
    a = get_ok("/api/v1/days?start=1999-01-01&end=1999-04-10", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 8 + 34); /* 02-25 .. 04-10 less 02-26..02-28 */
    ck_assert_str_eq(str(json_object_array_get_idx(a, 0), "date"), "1999-04-10");
    json_object_put(a);
    expect_error("/api/v1/days?start=1999-01-01&end=1999-04-11", 400, "range_too_long");
    expect_error("/api/v1/days?start=1999-03-02&end=1999-03-01", 400, "invalid_range");
    expect_error("/api/v1/days?start=1999-3-1&end=1999-03-05", 400, "invalid_date");
    expect_error("/api/v1/days?start=1999-02-29&end=1999-03-05", 400, "invalid_date");
    expect_error("/api/v1/days?start=1999-03-01&end=tomorrow", 400, "invalid_date");
    expect_error("/api/v1/days?start=1999-03-01&until=1999-03-05", 400, "invalid_parameter");
    expect_error("/api/v1/days?start=1999-03-01&start=1999-03-02", 400, "invalid_parameter");
    /* a range entirely in the future is empty, not an error */
    a = get_ok("/api/v1/days?start=9999-12-01&end=9999-12-31", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 0);
    json_object_put(a);

    /* the defaults: end today, start 29 days before */
    a = get_ok("/api/v1/days", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 30); /* every day since 1999 has an image */
    ck_assert_str_eq(str(json_object_array_get_idx(a, 0), "date"), today);
    json_object_put(a);
    a = get_ok("/api/v1/days?end=1999-03-05", NULL);
    ck_assert_uint_eq(json_object_array_length(a), 6); /* 02-25 and 03-01..03-05 */
    json_object_put(a);
}
END_TEST

START_TEST(test_bad_dates)
{
    setup();
    expect_error("/api/v1/days/2026-02-30", 400, "invalid_date");
    expect_error("/api/v1/days/1999-13-01", 400, "invalid_date");
    expect_error("/api/v1/days/1999-3-5", 400, "invalid_date");
    expect_error("/api/v1/days/19990305", 400, "invalid_date");
    expect_error("/api/v1/days/1999-03-05x", 400, "invalid_date");
    expect_error("/api/v1/days/0000-01-01", 400, "invalid_date");
    expect_error("/api/v1/days/today", 400, "invalid_date");
}
END_TEST

START_TEST(test_unknown_paths_and_methods)
{
    expect_error("/api/v1/nothing", 404, "not_found");
    expect_error("/api/v1/days/1999-03-05/extra", 404, "not_found");
    expect_error("/api/v2/today", 404, "not_found");
    expect_error("/api", 404, "not_found");
    tl_response r = http("POST", "/api/v1/today", NULL);
    ck_assert_int_eq(r.status, 405);
    assert_api_headers(&r);
    ck_assert_str_eq(tl_header(&r, "Allow"), "GET, HEAD");
    json_object *o = parse(&r), *e;
    ck_assert(json_object_object_get_ex(o, "error", &e));
    ck_assert_str_eq(str(e, "code"), "method_not_allowed");
    json_object_put(o);
    tl_response_free(&r);
    r = http("POST", "/api/v1/nothing", NULL);
    ck_assert_int_eq(r.status, 404);
    assert_api_headers(&r);
    tl_response_free(&r);
}
END_TEST

START_TEST(test_conditional_requests)
{
    setup();
    tl_response r;
    json_object *o = get_ok("/api/v1/days/1999-03-04", &r);
    json_object_put(o);
    char etag[256], modified[128];
    snprintf(etag, sizeof etag, "%s", tl_header(&r, "ETag"));
    snprintf(modified, sizeof modified, "%s", tl_header(&r, "Last-Modified"));
    tl_response_free(&r);
    ck_assert_msg(etag[0] == '"', "ETag %s", etag);

    r = http(NULL, "/api/v1/days/1999-03-04", etag);
    ck_assert_int_eq(r.status, 304);
    ck_assert_uint_eq(r.body.len, 0);
    assert_api_headers(&r);
    ck_assert_str_eq(tl_header(&r, "ETag"), etag);
    tl_response_free(&r);
    r = http("HEAD", "/api/v1/days/1999-03-04", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(tl_header(&r, "ETag"), etag);
    tl_response_free(&r);

    /* a rename changes the body, so the ETag; the old one no longer matches.
     * The rename is plain SQL, a writer outside iotd, whose changes reach the
     * workers' page caches by NOTIFY, asynchronously (check_cache measures
     * how fast): the old ETag may still match for that long, never longer
     * than the bound here. Changes made through iotd are exact on the next
     * request (check_cache, check_admin). */
    sql_do("UPDATE images SET name = '" MARKER "B2', updated_at = now() WHERE name = '" MARKER "B'", 0, NULL);
    r = tl_fetch_changed("/api/v1/days/1999-03-04", etag);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_ne(tl_header(&r, "ETag"), etag);
    ck_assert_ptr_nonnull(strstr(r.body.data, MARKER "B2"));
    tl_response_free(&r);

    /* a range answers conditional requests too */
    o = get_ok("/api/v1/days?start=1999-03-01&end=1999-03-07", &r);
    json_object_put(o);
    snprintf(etag, sizeof etag, "%s", tl_header(&r, "ETag"));
    tl_response_free(&r);
    r = http(NULL, "/api/v1/days?start=1999-03-01&end=1999-03-07", etag);
    ck_assert_int_eq(r.status, 304);
    tl_response_free(&r);
}
END_TEST

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(o && json_object_object_get_ex(o, key, &v), "OpenAPI: no %s", key);
    return v;
}

/* Follows a local "#/a/b/c" reference to its target. */
static json_object *resolve(json_object *root, const char *ref)
{
    ck_assert_msg(strncmp(ref, "#/", 2) == 0, "OpenAPI: non-local $ref %s", ref);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", ref + 2);
    json_object *o = root;
    for (char *save, *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save))
        o = at(o, p);
    return o;
}

/* Every $ref in o resolves; counts them. */
static int check_refs(json_object *root, json_object *o)
{
    int n = 0;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += check_refs(root, json_object_array_get_idx(o, i));
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            if (strcmp(key, "$ref") == 0) {
                resolve(root, json_object_get_string(val));
                n++;
            } else {
                n += check_refs(root, val);
            }
        }
    }
    return n;
}

START_TEST(test_openapi)
{
    json_object *doc = get_ok("/api/v1/openapi.json", NULL);
    ck_assert_str_eq(json_object_get_string(at(doc, "openapi")), "3.1.0");
    json_object *info = at(doc, "info");
    ck_assert_int_gt((int)strlen(json_object_get_string(at(info, "title"))), 0);
    ck_assert_int_gt((int)strlen(json_object_get_string(at(info, "version"))), 0);
    json_object *server = json_object_array_get_idx(at(doc, "servers"), 0);
    char api[600];
    snprintf(api, sizeof api, "%s/api/v1", site);
    ck_assert_str_eq(json_object_get_string(at(server, "url")), api);

    json_object *paths = at(doc, "paths");
    ck_assert_int_eq(json_object_object_length(paths), 4);
    static const char *const names[] = {"/today", "/days/{date}", "/days", "/openapi.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_object *get = at(at(paths, names[i]), "get");
        ck_assert_ptr_nonnull(at(get, "operationId"));
        json_object *ok = at(at(get, "responses"), "200");
        ck_assert_ptr_nonnull(at(at(at(ok, "content"), "application/json"), "schema"));
    }
    json_object *p = json_object_array_get_idx(at(at(at(paths, "/days/{date}"), "get"), "parameters"), 0);
    ck_assert_str_eq(json_object_get_string(at(p, "name")), "date");
    ck_assert_str_eq(json_object_get_string(at(p, "in")), "path");
    ck_assert(json_object_get_boolean(at(p, "required")));
    json_object *qs = at(at(at(paths, "/days"), "get"), "parameters");
    ck_assert_uint_eq(json_object_array_length(qs), 2);
    ck_assert_str_eq(json_object_get_string(at(json_object_array_get_idx(qs, 0), "in")), "query");
    ck_assert_ptr_nonnull(at(at(at(at(paths, "/days"), "get"), "responses"), "400"));

    /* the Day schema lists exactly the fields a day has */
    json_object *schemas = at(at(doc, "components"), "schemas");
    json_object *day = at(schemas, "Day");
    json_object *required = at(day, "required");
    json_object *props = at(day, "properties");
    setup();
    json_object *sample = get_ok("/api/v1/days/1999-03-05", NULL);
    ck_assert_int_eq(json_object_object_length(props), json_object_object_length(sample));
    ck_assert_uint_eq(json_object_array_length(required), (size_t)json_object_object_length(sample));
    json_object_object_foreach(sample, key, val)
    {
        (void)val;
        ck_assert_ptr_nonnull(at(props, key));
    }
    json_object_put(sample);
    json_object *err = at(at(at(schemas, "Error"), "properties"), "error");
    ck_assert_ptr_nonnull(at(at(err, "properties"), "code"));
    ck_assert_int_ge(check_refs(doc, doc), 10);
    json_object_put(doc);
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
    const char *v[] = {tz};
    PGresult *r = PQexecParams(pg,
                               "SELECT to_char((now() AT TIME ZONE $1)::date, 'YYYY-MM-DD'),"
                               " to_char((now() AT TIME ZONE $1)::date + 1, 'YYYY-MM-DD'),"
                               " (SELECT count(*) FROM images WHERE name NOT LIKE '" MARKER "%'"
                               "  AND (uploaded_at < '1999-04-11' OR feature_date < '1999-04-11'))",
                               1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "cannot read today: %s", PQerrorMessage(pg));
        return EXIT_FAILURE;
    }
    snprintf(today, sizeof today, "%s", PQgetvalue(r, 0, 0));
    snprintf(tomorrow, sizeof tomorrow, "%s", PQgetvalue(r, 0, 1));
    int early = atoi(PQgetvalue(r, 0, 2));
    PQclear(r);
    if (early) {
        fprintf(stderr, "%d images from before April 1999 are in the way of the fixture\n", early);
        return EXIT_FAILURE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    Suite *s = suite_create("api");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_day_fields);
    tcase_add_test(tc, test_scheduled_and_fallback_days);
    tcase_add_test(tc, test_today_and_future);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_bad_dates);
    tcase_add_test(tc, test_unknown_paths_and_methods);
    tcase_add_test(tc, test_conditional_requests);
    tcase_add_test(tc, test_openapi);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    remove_rows();
    PQfinish(pg);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
