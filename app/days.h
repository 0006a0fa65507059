/*
 * days.h — the image of the day: which image belongs to which date.
 *
 * The rule, for a date D in IOTD_TIMEZONE: the image scheduled for D; if
 * none, the most recent upload made on or before D (images scheduled for a
 * later date wait for it). Days run from the first day ever (the earliest
 * upload or schedule) to today; others do not exist.
 */
#ifndef IOTD_DAYS_H
#define IOTD_DAYS_H

#include <stddef.h>

#include "arena.h"
#include "db.h"
#include "images.h"

#define IOTD_DATE_CHARS 10 /* YYYY-MM-DD */

/* 1 when s is exactly YYYY-MM-DD and a real calendar date (years 1..9999). */
int iotd_date_valid(const char *s);

typedef struct iotd_day {
    const char *date;  /* YYYY-MM-DD */
    const char *today; /* today in the time zone */
    const char *first; /* the first day ever */
    const char *prev;  /* the day before, "" when date is the first day */
    const char *next;  /* the day after, "" when date is today */
    int has_image;
    iotd_image image;
} iotd_day;

/* The day for date (NULL = today) in time zone tz. IOTD_OK; IOTD_DECLINED
 * when the date is before the first day or after today, or when no image
 * exists at all (day->date and today are still filled); IOTD_AGAIN,
 * IOTD_ERROR. */
int iotd_days_get(iotd_db *db, iotd_arena *a, const char *date, const char *tz, iotd_day *day);
/* Days from newest to oldest between start and end inclusive (clamped to
 * the first day and today), each with its image; at most limit. */
int iotd_days_range(iotd_db *db, iotd_arena *a, const char *start, const char *end, const char *tz,
                    size_t limit, iotd_day **out, size_t *count);
/* The archive's pages: skip days back from today, then up to limit days. */
int iotd_days_page(iotd_db *db, iotd_arena *a, const char *tz, long skip, size_t limit, iotd_day **out,
                   size_t *count);
/* Today and the first day ever in tz ("" when there are no images). */
int iotd_days_bounds(iotd_db *db, iotd_arena *a, const char *tz, const char **today, const char **first);

#endif
