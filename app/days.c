/*
 * days.c — resolving dates to images, in SQL.
 *
 * Postgres does the calendar work: "today" in the configured time zone,
 * local midnights, and the walk over a range of days, each day being two
 * index probes (the schedule, then the latest upload before the day's end).
 */
#include "days.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotd.h"

/* Today and the first day ever, in time zone $TZ. */
#define DAYS_BOUNDS(TZ)                                                                                      \
    "SELECT (now() AT TIME ZONE " TZ ")::date AS today,"                                                     \
    " least((SELECT min(feature_date) FROM images WHERE " IOTD_IMAGE_PUBLIC "),"                             \
    "       ((SELECT min(uploaded_at) FROM images WHERE " IOTD_IMAGE_PUBLIC ") AT TIME ZONE " TZ             \
    ")::date) AS first"

/* The image of day D (a date expression) in time zone TZ, as a lateral subquery. */
#define DAY_IMAGE(D, TZ)                                                                                     \
    "((SELECT " IOTD_IMAGE_COLUMNS " FROM images WHERE feature_date = " D " AND " IOTD_IMAGE_PUBLIC ")"      \
    " UNION ALL"                                                                                             \
    " (SELECT " IOTD_IMAGE_COLUMNS " FROM images"                                                            \
    "   WHERE uploaded_at < ((" D " + 1)::timestamp AT TIME ZONE " TZ ") AND " IOTD_IMAGE_PUBLIC             \
    "     AND (feature_date IS NULL OR feature_date <= " D ")"                                               \
    "   ORDER BY uploaded_at DESC, id DESC LIMIT 1)"                                                         \
    " LIMIT 1)"

#define FMT(X) "to_char(" X ", 'YYYY-MM-DD')"

/* Columns: day, today, first, exists, prev, next, has image, image... */
static const iotd_db_stmt stmt_day = {
    "days_get",
    "WITH b AS (" DAYS_BOUNDS(
        "$2") "),"
              " d AS (SELECT coalesce(nullif($1, '')::date, b.today) AS day FROM b)"
              " SELECT " FMT("d.day") ", " FMT("b.today") ", coalesce(" FMT(
                  "b.first") ", ''),"
                             "  coalesce(d.day BETWEEN b.first AND b.today, false),"
                             "  CASE WHEN d.day > b.first THEN " FMT(
                                 "d.day - 1") " ELSE '' END,"
                                              "  CASE WHEN d.day < b.today THEN " FMT(
                                                  "d.day + 1") " ELSE '' END,"
                                                               "  i.id IS NOT NULL, i.*"
                                                               " FROM b CROSS JOIN d LEFT JOIN "
                                                               "LATERAL " DAY_IMAGE("d.day",
                                                                                    "$2") " AS i ON true",
    2, 1};

/* Columns: day, has image, image...; newest first. $1 start, $2 end (either ''),
 * $3 time zone, $4 days to skip from the newest, $5 how many. */
static const iotd_db_stmt stmt_range = {
    "days_range",
    "WITH b AS (" DAYS_BOUNDS(
        "$3") "),"
              " days AS (SELECT g::date AS day FROM b,"
              "   generate_series((least(coalesce(nullif($2, '')::date, b.today), b.today) - "
              "$4::integer)::timestamp,"
              "                   greatest(coalesce(nullif($1, '')::date, b.first), b.first)::timestamp,"
              "                   interval '-1 day') AS g"
              "   WHERE b.first IS NOT NULL LIMIT $5::integer)"
              " SELECT " FMT("days.day") ", i.id IS NOT NULL, i.*"
                                         " FROM days LEFT JOIN LATERAL " DAY_IMAGE(
                                             "days.day", "$3") " AS i ON true"
                                                               " ORDER BY days.day DESC",
    5, 1};

static const iotd_db_stmt stmt_bounds = {
    "days_bounds",
    "SELECT " FMT("today") ", coalesce(" FMT("first") ", '') FROM (" DAYS_BOUNDS("$1") ") AS b", 1, 1};

int iotd_date_valid(const char *s)
{
    if (!s || strlen(s) != IOTD_DATE_CHARS || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < IOTD_DATE_CHARS; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static const char *dup(iotd_arena *a, const PGresult *r, int row, int col, int *ok)
{
    const char *s = iotd_arena_strdup(a, PQgetvalue(r, row, col));
    if (!s)
        *ok = 0;
    return s;
}

int iotd_days_get(iotd_db *db, iotd_arena *a, const char *date, const char *tz, iotd_day *day)
{
    memset(day, 0, sizeof *day);
    if (date && !iotd_date_valid(date))
        return IOTD_DECLINED;
    const char *values[] = {date ? date : "", tz};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_day, values, &r);
    if (rc != IOTD_OK || PQntuples(r) != 1) {
        PQclear(r);
        return rc == IOTD_OK ? IOTD_ERROR : rc;
    }
    int ok = 1;
    day->date = dup(a, r, 0, 0, &ok);
    day->today = dup(a, r, 0, 1, &ok);
    day->first = dup(a, r, 0, 2, &ok);
    int exists = PQgetvalue(r, 0, 3)[0] == 't';
    day->prev = dup(a, r, 0, 4, &ok);
    day->next = dup(a, r, 0, 5, &ok);
    day->has_image = PQgetvalue(r, 0, 6)[0] == 't';
    if (ok && day->has_image && iotd_images_from_row(a, r, 0, 7, &day->image) != IOTD_OK)
        ok = 0;
    PQclear(r);
    if (!ok)
        return IOTD_ERROR;
    return exists ? IOTD_OK : IOTD_DECLINED;
}

static int range(iotd_db *db, iotd_arena *a, const char *start, const char *end, const char *tz, long skip,
                 size_t limit, iotd_day **out, size_t *count)
{
    char skip_s[24], limit_s[24];
    snprintf(skip_s, sizeof skip_s, "%ld", skip);
    snprintf(limit_s, sizeof limit_s, "%zu", limit);
    const char *values[] = {start ? start : "", end ? end : "", tz, skip_s, limit_s};
    PGresult *r;
    *out = NULL;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_range, values, &r);
    if (rc != IOTD_OK) {
        PQclear(r);
        return rc;
    }
    int n = PQntuples(r), ok = 1;
    iotd_day *days = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *days);
    if (!days)
        ok = 0;
    for (int i = 0; ok && i < n; i++) {
        days[i].date = dup(a, r, i, 0, &ok);
        days[i].has_image = PQgetvalue(r, i, 1)[0] == 't';
        if (ok && days[i].has_image && iotd_images_from_row(a, r, i, 2, &days[i].image) != IOTD_OK)
            ok = 0;
    }
    PQclear(r);
    if (!ok)
        return IOTD_ERROR;
    *out = days;
    *count = (size_t)n;
    return IOTD_OK;
}

int iotd_days_range(iotd_db *db, iotd_arena *a, const char *start, const char *end, const char *tz,
                    size_t limit, iotd_day **out, size_t *count)
{
    if ((start && *start && !iotd_date_valid(start)) || (end && *end && !iotd_date_valid(end)))
        return IOTD_ERROR;
    return range(db, a, start, end, tz, 0, limit, out, count);
}

int iotd_days_page(iotd_db *db, iotd_arena *a, const char *tz, long skip, size_t limit, iotd_day **out,
                   size_t *count)
{
    return range(db, a, NULL, NULL, tz, skip, limit, out, count);
}

int iotd_days_bounds(iotd_db *db, iotd_arena *a, const char *tz, const char **today, const char **first)
{
    const char *values[] = {tz};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_bounds, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1) {
        int ok = 1;
        *today = dup(a, r, 0, 0, &ok);
        *first = dup(a, r, 0, 1, &ok);
        rc = ok ? IOTD_OK : IOTD_ERROR;
    } else if (rc == IOTD_OK) {
        rc = IOTD_ERROR;
    }
    PQclear(r);
    return rc;
}
