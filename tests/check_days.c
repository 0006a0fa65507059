/*
 * check_days.c — the date rule (days.c) against PostgreSQL in a scratch
 * database: time zones (UTC, Pacific/Kiritimati at UTC+14 and
 * Pacific/Pago_Pago at UTC-11, with uploads near midnight UTC so the local
 * date differs), days with and without a schedule, an image scheduled for a
 * later date not shown early, the first day ever, today and the future, an
 * empty table, and ranges.
 *
 * Needs the PG* variables and IOTD_BIN (./dev check); skips (exit 77)
 * without them. Creates the database iotd_days_PID, migrates it with
 * `iotd migrate` and drops it at the end.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "days.h"
#include "db.h"
#include "images.h"
#include "iotd.h"

#define KIRITIMATI "Pacific/Kiritimati"
#define PAGO_PAGO "Pacific/Pago_Pago"

static char dbname[64];
static PGconn *pg; /* to the scratch database, for the fixture */
static iotd_db *db;
static iotd_arena *arena;

static void sql_do(const char *query)
{
    PGresult *r = PQexec(pg, query);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", query, PQerrorMessage(pg));
    PQclear(r);
}

/* The result of one SQL value, in a static buffer. */
static const char *sql_value(const char *query, const char *param)
{
    static char out[64];
    const char *v[] = {param};
    PGresult *r = PQexecParams(pg, query, param ? 1 : 0, NULL, v, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", query, PQerrorMessage(pg));
    snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

static void add(const char *name, const char *uploaded_at, const char *feature_date)
{
    char q[512];
    snprintf(q, sizeof q,
             "INSERT INTO images (name, object_key, content_type, byte_size, width, height, uploaded_at,"
             " feature_date) VALUES ('%s', 'images/%s.jpg', 'image/jpeg', 1, 1, 1, '%s', %s%s%s)",
             name, name, uploaded_at, feature_date ? "'" : "", feature_date ? feature_date : "NULL",
             feature_date ? "'" : "");
    sql_do(q);
}

/* P 06-10 12:00Z (the first upload), S uploaded 06-12 12:00Z for 06-18,
 * N1 06-15 23:30Z, N2 06-20 05:00Z; all in 2020. */
static void fixture(void)
{
    sql_do("TRUNCATE images");
    add("P", "2020-06-10 12:00:00+00", NULL);
    add("S", "2020-06-12 12:00:00+00", "2020-06-18");
    add("N1", "2020-06-15 23:30:00+00", NULL);
    add("N2", "2020-06-20 05:00:00+00", NULL);
}

static void reset(void)
{
    iotd_arena_reset(arena);
    fixture();
}

/* The name of date's image in tz: "-" when the day has none, "DECLINED"
 * when it does not exist. */
static const char *image_of(const char *date, const char *tz)
{
    iotd_day day;
    int rc = iotd_days_get(db, arena, date, tz, &day);
    if (rc == IOTD_DECLINED)
        return "DECLINED";
    ck_assert_int_eq(rc, IOTD_OK);
    if (date)
        ck_assert_str_eq(day.date, date);
    return day.has_image ? day.image.name : "-";
}

static void expect(const char *tz, const char *const (*want)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char date[16];
        snprintf(date, sizeof date, "2020-06-%s", want[i][0]);
        const char *got = image_of(date, tz);
        ck_assert_msg(strcmp(got, want[i][1]) == 0, "%s in %s: %s, want %s", date, tz, got, want[i][1]);
    }
}

START_TEST(test_utc)
{
    reset();
    static const char *const want[][2] = {
        {"09", "DECLINED"}, {"10", "P"},  {"11", "P"},  {"12", "P"}, {"13", "P"}, /* S waits */
        {"15", "N1"},       {"16", "N1"}, {"17", "N1"}, {"18", "S"},              /* scheduled */
        {"19", "N1"},       {"20", "N2"}, {"30", "N2"},
    };
    expect("UTC", want, IOTD_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_kiritimati)
{
    reset();
    /* UTC+14: P is uploaded on 06-11 local, N1 on 06-16, N2 on 06-20 */
    static const char *const want[][2] = {
        {"10", "DECLINED"}, {"11", "P"}, {"15", "P"},  {"16", "N1"},
        {"17", "N1"},       {"18", "S"}, {"19", "N1"}, {"20", "N2"},
    };
    expect(KIRITIMATI, want, IOTD_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_pago_pago)
{
    reset();
    /* UTC-11: P on 06-10 local (01:00), N1 on 06-15 (12:30), N2 on 06-19 (18:00) */
    static const char *const want[][2] = {
        {"09", "DECLINED"}, {"10", "P"}, {"14", "P"}, {"15", "N1"}, {"18", "S"}, {"19", "N2"}, {"20", "N2"},
    };
    expect(PAGO_PAGO, want, IOTD_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_first_day_and_neighbours)
{
    reset();
    iotd_day day;
    ck_assert_int_eq(iotd_days_get(db, arena, "2020-06-10", "UTC", &day), IOTD_OK);
    ck_assert_str_eq(day.first, "2020-06-10");
    ck_assert_str_eq(day.prev, "");
    ck_assert_str_eq(day.next, "2020-06-11");
    ck_assert_int_eq(iotd_days_get(db, arena, "2020-06-10", KIRITIMATI, &day), IOTD_DECLINED);
    ck_assert_str_eq(day.first, "2020-06-11");
    ck_assert_int_eq(iotd_days_get(db, arena, "2020-06-15", "UTC", &day), IOTD_OK);
    ck_assert_str_eq(day.prev, "2020-06-14");
    ck_assert_str_eq(day.next, "2020-06-16");

    /* a schedule before every upload moves the first day; until an upload
     * exists, those days have no image */
    add("E", "2020-06-25 12:00:00+00", "2020-06-01");
    ck_assert_str_eq(image_of("2020-05-31", "UTC"), "DECLINED");
    ck_assert_str_eq(image_of("2020-06-01", "UTC"), "E");
    ck_assert_str_eq(image_of("2020-06-02", "UTC"), "-");
    ck_assert_str_eq(image_of("2020-06-09", "UTC"), "-");
    ck_assert_str_eq(image_of("2020-06-10", "UTC"), "P");
}
END_TEST

/* An image whose renditions are still being made (or could not be) is on
 * no public page: not as its day's image, not as the latest upload, not
 * as the first day; once ready it is. */
START_TEST(test_processing_images_are_not_public)
{
    reset();
    add("Q", "2020-06-16 12:00:00+00", "2020-06-17");
    add("R", "2020-06-01 12:00:00+00", NULL);
    sql_do("UPDATE images SET processing_since = now(), processing_attempts = 1 WHERE name IN ('Q', 'R')");
    const char *const processing[][2] = {{"10", "P"}, {"16", "N1"}, {"17", "N1"}, {"18", "S"}, {"19", "N1"}};
    expect("UTC", processing, IOTD_ARRAY_LEN(processing));
    ck_assert_str_eq(image_of("2020-06-01", "UTC"), "DECLINED"); /* R does not move the first day */
    iotd_image latest;
    sql_do("UPDATE images SET uploaded_at = '2030-01-01 00:00:00+00' WHERE name = 'Q'");
    ck_assert_int_eq(iotd_images_latest(db, arena, &latest), IOTD_OK);
    ck_assert_str_eq(latest.name, "N2");

    /* failed: still not public; the admin sees why */
    ck_assert_int_eq(iotd_images_set_failed(
                         db, strtoll(sql_value("SELECT id FROM images WHERE name = 'Q'", NULL), NULL, 10),
                         "images/Q.jpg", "The file is not a valid image."),
                     IOTD_OK);
    ck_assert_str_eq(sql_value("SELECT processing_error FROM images WHERE name = 'Q'", NULL),
                     "The file is not a valid image.");
    ck_assert_str_eq(image_of("2020-06-17", "UTC"), "N1");
    /* a row not processing cannot fail, nor one whose file changed */
    long long n1 = strtoll(sql_value("SELECT id FROM images WHERE name = 'N1'", NULL), NULL, 10);
    ck_assert_int_eq(iotd_images_set_failed(db, n1, "images/N1.jpg", "no"), IOTD_DECLINED);
    long long r = strtoll(sql_value("SELECT id FROM images WHERE name = 'R'", NULL), NULL, 10);
    ck_assert_int_eq(iotd_images_set_failed(db, r, "images/other.jpg", "no"), IOTD_DECLINED);

    /* ready: public again */
    sql_do("UPDATE images SET uploaded_at = '2020-06-16 12:00:00+00' WHERE name = 'Q'");
    sql_do("UPDATE images SET processing_since = NULL, processing_error = NULL");
    const char *const ready[][2] = {{"16", "N1"}, {"17", "Q"}, {"18", "S"}};
    expect("UTC", ready, IOTD_ARRAY_LEN(ready));
    ck_assert_str_eq(image_of("2020-06-01", "UTC"), "R");
}
END_TEST

/* Images left processing are taken up one at a time, oldest first, never
 * twice at once, and fail after the last attempt. */
START_TEST(test_claiming_stale_processing_images)
{
    reset();
    long long id = 0;
    int gave_up = -1;
    ck_assert_int_eq(iotd_images_claim_stale(db, 60, 3, &id, &gave_up), IOTD_DECLINED); /* none */
    sql_do("UPDATE images SET processing_since = now() - interval '10 minutes', processing_attempts = 1"
           " WHERE name = 'N1'");
    sql_do("UPDATE images SET processing_since = now() - interval '20 minutes', processing_attempts = 3"
           " WHERE name = 'N2'");
    sql_do("UPDATE images SET processing_since = now() - interval '30 seconds', processing_attempts = 1"
           " WHERE name = 'P'"); /* still within its attempt */
    long long n1 = strtoll(sql_value("SELECT id FROM images WHERE name = 'N1'", NULL), NULL, 10);
    long long n2 = strtoll(sql_value("SELECT id FROM images WHERE name = 'N2'", NULL), NULL, 10);
    /* N2, the oldest, has had its 3 attempts: it fails */
    ck_assert_int_eq(iotd_images_claim_stale(db, 60, 3, &id, &gave_up), IOTD_OK);
    ck_assert_int_eq(id, n2);
    ck_assert_int_eq(gave_up, 1);
    ck_assert(strstr(sql_value("SELECT processing_error FROM images WHERE name = 'N2'", NULL), "3 attempts"));
    /* then N1: its attempt starts again now, so it is not taken twice */
    ck_assert_int_eq(iotd_images_claim_stale(db, 60, 3, &id, &gave_up), IOTD_OK);
    ck_assert_int_eq(id, n1);
    ck_assert_int_eq(gave_up, 0);
    ck_assert_str_eq(sql_value("SELECT processing_attempts FROM images WHERE name = 'N1'", NULL), "2");
    ck_assert_str_eq(sql_value("SELECT processing_since > now() - interval '5 seconds' FROM images"
                               " WHERE name = 'N1'",
                               NULL),
                     "t");
    ck_assert_int_eq(iotd_images_claim_stale(db, 60, 3, &id, &gave_up), IOTD_DECLINED);
    /* an attempt spoiled by an outage is given back, down to the first */
    ck_assert_int_eq(iotd_images_release_attempt(db, n1), IOTD_OK);
    ck_assert_str_eq(sql_value("SELECT processing_attempts FROM images WHERE name = 'N1'", NULL), "1");
    ck_assert_int_eq(iotd_images_release_attempt(db, n1), IOTD_DECLINED);
    ck_assert_int_eq(iotd_images_release_attempt(db, n2), IOTD_DECLINED); /* failed: stays failed */
    long long s_id = strtoll(sql_value("SELECT id FROM images WHERE name = 'S'", NULL), NULL, 10);
    ck_assert_int_eq(iotd_images_release_attempt(db, s_id), IOTD_DECLINED); /* not processing */
    /* P's attempt is younger than the limit */
    ck_assert_int_eq(iotd_images_claim_stale(db, 3600, 3, &id, &gave_up), IOTD_DECLINED);
    ck_assert_int_eq(iotd_images_claim_stale(db, 10, 3, &id, &gave_up), IOTD_OK);
    ck_assert_int_eq(id, strtoll(sql_value("SELECT id FROM images WHERE name = 'P'", NULL), NULL, 10));
}
END_TEST

START_TEST(test_today_and_future)
{
    reset();
    static const char *const zones[] = {"UTC", KIRITIMATI, PAGO_PAGO};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(zones); i++) {
        iotd_day day;
        ck_assert_int_eq(iotd_days_get(db, arena, NULL, zones[i], &day), IOTD_OK);
        const char *today =
            sql_value("SELECT to_char((now() AT TIME ZONE $1)::date, 'YYYY-MM-DD')", zones[i]);
        ck_assert_str_eq(day.date, today);
        ck_assert_str_eq(day.today, today);
        ck_assert_str_eq(day.next, "");
        ck_assert_str_eq(day.image.name, "N2");
        const char *tomorrow =
            sql_value("SELECT to_char((now() AT TIME ZONE $1)::date + 1, 'YYYY-MM-DD')", zones[i]);
        char t[16];
        snprintf(t, sizeof t, "%s", tomorrow);
        ck_assert_str_eq(image_of(t, zones[i]), "DECLINED");
    }

    /* uploaded now, scheduled for tomorrow: not shown early */
    char q[256], tomorrow[16];
    snprintf(tomorrow, sizeof tomorrow, "%s",
             sql_value("SELECT to_char((now() AT TIME ZONE $1)::date + 1, 'YYYY-MM-DD')", "UTC"));
    snprintf(q, sizeof q,
             "INSERT INTO images (name, object_key, content_type, byte_size, width, height, feature_date)"
             " VALUES ('F', 'images/F.jpg', 'image/png', 1, 1, 1, '%s')",
             tomorrow);
    sql_do(q);
    ck_assert_str_eq(image_of(NULL, "UTC"), "N2");
    ck_assert_str_eq(image_of(tomorrow, "UTC"), "DECLINED");
    /* uploaded now without a schedule: today's image at once */
    sql_do("INSERT INTO images (name, object_key, content_type, byte_size, width, height)"
           " VALUES ('U', 'images/U.jpg', 'image/png', 1, 1, 1)");
    ck_assert_str_eq(image_of(NULL, "UTC"), "U");
    /* scheduled for today: wins over the newer upload */
    snprintf(q, sizeof q, "UPDATE images SET feature_date = '%s'::date - 1 WHERE name = 'P'", tomorrow);
    sql_do(q);
    ck_assert_str_eq(image_of(NULL, "UTC"), "P");
}
END_TEST

START_TEST(test_empty_and_invalid)
{
    iotd_arena_reset(arena);
    sql_do("TRUNCATE images");
    iotd_day day;
    ck_assert_int_eq(iotd_days_get(db, arena, NULL, "UTC", &day), IOTD_DECLINED);
    ck_assert_int_eq((int)strlen(day.today), IOTD_DATE_CHARS);
    ck_assert_str_eq(day.first, "");
    ck_assert_int_eq(day.has_image, 0);
    fixture();
    ck_assert_int_eq(iotd_days_get(db, arena, "2020-02-30", "UTC", &day), IOTD_DECLINED);
    ck_assert_int_eq(iotd_days_get(db, arena, "2020-6-15", "UTC", &day), IOTD_DECLINED);
    ck_assert(iotd_date_valid("2020-02-29"));
    ck_assert(!iotd_date_valid("2019-02-29"));
    ck_assert(!iotd_date_valid("2100-02-29"));
    ck_assert(iotd_date_valid("2000-02-29"));
    ck_assert(!iotd_date_valid("0000-01-01"));
    ck_assert(!iotd_date_valid("2020-06-15 "));
}
END_TEST

START_TEST(test_range)
{
    reset();
    iotd_day *days;
    size_t n;
    ck_assert_int_eq(iotd_days_range(db, arena, "2020-06-01", "2020-06-20", "UTC", 100, &days, &n), IOTD_OK);
    ck_assert_uint_eq(n, 11); /* clipped to the first day, 06-10 */
    static const char *const names[] = {"N2", "N1", "S", "N1", "N1", "N1", "P", "P", "P", "P", "P"};
    for (size_t i = 0; i < n; i++) {
        char date[16];
        snprintf(date, sizeof date, "2020-06-%02zu", 20 - i);
        ck_assert_str_eq(days[i].date, date);
        ck_assert(days[i].has_image);
        ck_assert_str_eq(days[i].image.name, names[i]);
    }
    ck_assert_int_eq(iotd_days_range(db, arena, "2020-06-01", "2020-06-20", "UTC", 3, &days, &n), IOTD_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(days[2].date, "2020-06-18");
    ck_assert_int_eq(iotd_days_range(db, arena, "2020-06-16", "2020-06-16", KIRITIMATI, 10, &days, &n),
                     IOTD_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(days[0].image.name, "N1");
}
END_TEST

int main(void)
{
    const char *bin = getenv("IOTD_BIN");
    if (!bin || !getenv("PGHOST")) {
        printf("SKIP: no PostgreSQL or IOTD_BIN (run ./dev check)\n");
        return 77;
    }
    PGconn *admin = PQconnectdb("dbname=postgres");
    if (PQstatus(admin) != CONNECTION_OK) {
        printf("SKIP: cannot connect to PostgreSQL (run ./dev check)\n");
        PQfinish(admin);
        return 77;
    }
    const char *src = getenv("IOTD_SRCDIR");
    char migrations[1024];
    snprintf(migrations, sizeof migrations, "%s/db/migrations", src ? src : ".");
    if (!getenv("IOTD_MIGRATIONS_DIR"))
        setenv("IOTD_MIGRATIONS_DIR", migrations, 1);

    snprintf(dbname, sizeof dbname, "iotd_days_%d", (int)getpid());
    char q[256], cmd[1400];
    snprintf(q, sizeof q, "CREATE DATABASE %s", dbname);
    PGresult *r = PQexec(admin, q);
    int created = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    snprintf(cmd, sizeof cmd, "PGDATABASE=%s '%s' migrate >/dev/null 2>&1", dbname, bin);
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
    int failed = 1;
    if (!created || system(cmd) != 0) {
        fprintf(stderr, "cannot create and migrate the scratch database %s\n", dbname);
    } else {
        pg = PQconnectdb(conninfo);
        db = iotd_db_new(conninfo);
        arena = iotd_arena_new(64 * 1024);
        if (PQstatus(pg) != CONNECTION_OK || !db || !arena || iotd_db_ready(db) != IOTD_OK) {
            fprintf(stderr, "cannot connect to %s\n", dbname);
        } else {
            Suite *s = suite_create("days");
            TCase *tc = tcase_create("rule");
            tcase_add_test(tc, test_utc);
            tcase_add_test(tc, test_kiritimati);
            tcase_add_test(tc, test_pago_pago);
            tcase_add_test(tc, test_first_day_and_neighbours);
            tcase_add_test(tc, test_today_and_future);
            tcase_add_test(tc, test_processing_images_are_not_public);
            tcase_add_test(tc, test_claiming_stale_processing_images);
            tcase_add_test(tc, test_empty_and_invalid);
            tcase_add_test(tc, test_range);
            suite_add_tcase(s, tc);
            SRunner *sr = srunner_create(s);
            srunner_set_fork_status(sr, CK_NOFORK);
            srunner_run_all(sr, CK_VERBOSE);
            failed = srunner_ntests_failed(sr);
            srunner_free(sr);
        }
        iotd_arena_destroy(arena);
        iotd_db_free(db);
        PQfinish(pg);
    }
    if (created) {
        snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
        PQclear(PQexec(admin, q));
    }
    PQfinish(admin);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
