/*
 * migrate.h — applies db/migrations/NNNN_*.sql in order, once each.
 */
#ifndef IOTD_MIGRATE_H
#define IOTD_MIGRATE_H

#include <stdio.h>

#include "db.h"

/* The schema this build needs; iotd serve refuses an older one. */
#define IOTD_SCHEMA_VERSION 5

/* Applies every pending migration from dir under an advisory lock, each in
 * its own transaction; reports progress to out. Re-running is a no-op. */
int iotd_migrate_run(iotd_db *db, const char *dir, FILE *out);

#endif
