/*
 * pool.h — the prefork master behind `iotd serve`.
 */
#ifndef IOTD_POOL_H
#define IOTD_POOL_H

#include "config.h"

/* Binds cfg->listen, forks and supervises cfg->workers workers until
 * SIGTERM or SIGINT; SIGHUP replaces them one by one with fresh config and
 * templates. Returns the exit status. */
int iotd_pool_run(iotd_config *cfg);

#endif
