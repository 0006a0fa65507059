/*
 * throttle.h — sign-in throttling, kept in Postgres so that it holds
 * across workers and tasks.
 *
 * A sign-in is refused for a while after IOTD_THROTTLE_MAX_PER_USERNAME
 * failures for one username (any case) or IOTD_THROTTLE_MAX_PER_ADDR from
 * one client address within IOTD_THROTTLE_WINDOW_SECONDS. Whether the
 * username exists plays no part. Calls return IOTD_OK, IOTD_DECLINED
 * (check only), IOTD_AGAIN when the database is unreachable, or IOTD_ERROR.
 */
#ifndef IOTD_THROTTLE_H
#define IOTD_THROTTLE_H

#include "db.h"

#define IOTD_THROTTLE_MAX_PER_USERNAME 5
#define IOTD_THROTTLE_MAX_PER_ADDR 20
#define IOTD_THROTTLE_WINDOW_SECONDS (15 * 60)
#define IOTD_THROTTLE_MAX_ADDR_CHARS 64      /* longer addresses are cut (IPv6 needs 45) */
#define IOTD_THROTTLE_MAX_USERNAME_CHARS 150 /* longer names are cut before counting */

/* Before checking a password: IOTD_OK to go ahead, IOTD_DECLINED when too
 * many failures; *retry_after is then the seconds until one more try is
 * allowed (>= 1), else 0. */
int iotd_throttle_check(iotd_db *db, const char *username, const char *client_addr, long *retry_after);
/* After a failed sign-in (unknown user or wrong password alike). Also
 * deletes attempts older than the window. */
int iotd_throttle_record_failure(iotd_db *db, const char *username, const char *client_addr);
/* After a successful sign-in: forgets that username's failures (the
 * address's count stays, so one valid account cannot reset it). */
int iotd_throttle_clear(iotd_db *db, const char *username);

#endif
