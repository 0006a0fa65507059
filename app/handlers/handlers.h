/*
 * handlers.h — every route handler, one function per page or endpoint.
 */
#ifndef IOTD_HANDLERS_H
#define IOTD_HANDLERS_H

#include "ctx.h"

int iotd_handle_home(iotd_ctx *ctx);
int iotd_handle_healthz(iotd_ctx *ctx);
int iotd_handle_readyz(iotd_ctx *ctx);

#endif
