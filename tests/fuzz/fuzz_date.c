/*
 * fuzz_date.c — date paths: /day/YYYY-MM-DD.
 *
 * The input is a request path (up to its first NUL). It is matched against
 * "/day/<star>" and every pattern of the route table with iotd_router_match, and
 * the captured segment (or the whole input) goes to iotd_date_valid. A date
 * it accepts must be a real calendar day: it survives a round trip through
 * timegm and gmtime unchanged.
 */
#include "fuzz.h"

#include <time.h>

#include "arena.h"
#include "days.h"
#include "iotd.h"
#include "router.h"

static void check_date(const char *s)
{
    if (!iotd_date_valid(s))
        return;
    FUZZ_CHECK(strlen(s) == IOTD_DATE_CHARS);
    struct tm tm = {0};
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm back;
    FUZZ_CHECK(gmtime_r(&t, &back));
    FUZZ_CHECK(back.tm_year == y - 1900 && back.tm_mon == m - 1 && back.tm_mday == d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > IOTD_MAX_PATH_BYTES)
        return 0;
    char *path = fuzz_strndup(data, size);
    iotd_arena *a = iotd_arena_new(4096);
    FUZZ_CHECK(path && a);
    check_date(path);
    const char *params[IOTD_ROUTE_MAX_PARAMS];
    size_t n = 0;
    if (iotd_router_match("/day/*", path, params, &n, a)) {
        FUZZ_CHECK(n == 1 && params[0][0] && !strchr(params[0], '/'));
        check_date(params[0]);
    }
    for (size_t i = 0; i < iotd_nroutes; i++) {
        n = 0;
        if (iotd_router_match(iotd_routes[i].pattern, path, params, &n, a)) {
            FUZZ_CHECK(n <= IOTD_ROUTE_MAX_PARAMS);
            for (size_t j = 0; j < n; j++) {
                FUZZ_CHECK(params[j][0] && !strchr(params[j], '/'));
                check_date(params[j]);
            }
        }
    }
    iotd_arena_destroy(a);
    free(path);
    return 0;
}
