/*
 * pool.h — the prefork master behind `iotd serve`.
 */
#ifndef IOTD_POOL_H
#define IOTD_POOL_H

#include "config.h"

/* Binds cfg->listen, starts and supervises cfg->workers workers (the
 * program worker_bin run as `iotd worker`) until SIGTERM or SIGINT; SIGHUP
 * replaces them one by one with fresh config and templates. Returns the
 * exit status. */
int iotd_pool_run(iotd_config *cfg, const char *worker_bin);

#endif
