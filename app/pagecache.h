/*
 * pagecache.h — each worker keeps the public pages it rendered (body and
 * headers per URL) and serves them again while nothing they show changed:
 * the images table (LISTEN/NOTIFY), the day in IOTD_TIMEZONE, and the
 * presign window. Checked against Postgres before every hit: a bare
 * protocol round trip, and a full sync query now and then.
 */
#ifndef IOTD_PAGECACHE_H
#define IOTD_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ctx.h"
#include "db.h"

#define IOTD_PAGECACHE_MAX_ENTRIES 64               /* URLs kept per worker */
#define IOTD_PAGECACHE_MAX_BYTES (2L * 1024 * 1024) /* all kept pages of a worker */
#define IOTD_PAGECACHE_MAX_PAGE_BYTES (256L * 1024) /* a larger page is not kept */
#define IOTD_PAGECACHE_MAX_AGE_S 60                 /* re-render at least this often */
#define IOTD_PAGECACHE_CHANNEL "iotd_images"        /* notified by migration 0004 */
#define IOTD_PAGECACHE_DATE_CHARS 16                /* "YYYY-MM-DD" and room */

typedef struct iotd_pagecache iotd_pagecache;

iotd_pagecache *iotd_pagecache_new(void);
void iotd_pagecache_free(iotd_pagecache *pc);

/* Before routing: answers a GET or HEAD from the cache (IOTD_OK, ctx->res
 * filled with status 200 or 304, headers and body) or declines, leaving the
 * request ready for the handler (IOTD_DECLINED). */
int iotd_pagecache_serve(iotd_ctx *ctx);
/* After the handler: keeps the response when its route is cacheable and
 * nothing changed meanwhile, and answers 304 to a matching If-None-Match. */
void iotd_pagecache_keep(iotd_ctx *ctx);

/* The pieces, for tests. */
/* Before a hit: a full sync when one is due (first use, a new connection,
 * after an error, the day's end, every IOTD_PAGECACHE_MAX_AGE_S), else the
 * shared counter and the notifications already on the socket (or, with no
 * shared counter, one bare round trip). Returns as iotd_pagecache_sync. */
int iotd_pagecache_check(iotd_pagecache *pc, iotd_db *db, const char *timezone);
/* Uses the pool's shared change counter (see iotd_slots_counter). */
void iotd_pagecache_share(iotd_pagecache *pc, uint64_t *counter);
/* This worker changed images (after the commit, before answering): every
 * worker's cache is emptied on its next request. pc may be NULL. */
void iotd_pagecache_changed(iotd_pagecache *pc);
/* The full sync: IOTD_OK when nothing changed since the last sync;
 * IOTD_DECLINED when something did (the cache is emptied); IOTD_AGAIN or
 * IOTD_ERROR when the database cannot be asked (the cache is emptied). */
int iotd_pagecache_sync(iotd_pagecache *pc, iotd_db *db, const char *timezone);
/* What the full sync asks, for an instant (at: a timestamptz literal, NULL
 * for now): the date in timezone and the seconds until the next one begins. */
int iotd_pagecache_day(iotd_db *db, const char *timezone, const char *at,
                       char date[IOTD_PAGECACHE_DATE_CHARS], double *seconds_left);
/* Kept pages and their total size in bytes. */
size_t iotd_pagecache_count(const iotd_pagecache *pc, size_t *bytes);

#endif
