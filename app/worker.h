/*
 * worker.h — one FastCGI worker: accepts and answers requests one at a
 * time until told to stop.
 */
#ifndef IOTD_WORKER_H
#define IOTD_WORKER_H

#include "config.h"
#include "ctx.h"
#include "template.h"

#define WORKER_FD_LISTEN 3 /* where iotd-master puts the listening socket ... */
#define WORKER_FD_READY 4  /* ... and the write end of its ready pipe */

typedef struct iotd_worker_args {
    const iotd_config *cfg;
    const iotd_tpl_set *views;
    int listen_fd; /* the master's FastCGI socket */
    int ready_fd;  /* pipe to the master: our pid is written once we are ready; -1 for none */
    int retries;   /* takes up images left processing (iotd_library_retry_stale): the workers that
                      take uploads */
} iotd_worker_args;

/* Runs the accept loop; returns the process exit status. */
int iotd_worker_run(const iotd_worker_args *args);
/* Handles one request already parsed into ctx->req; fills ctx->res. */
void iotd_worker_handle(iotd_ctx *ctx);
/* Database ready and schema recent enough: IOTD_OK, else IOTD_AGAIN. */
int iotd_worker_db_ready(iotd_ctx *ctx);

#endif
