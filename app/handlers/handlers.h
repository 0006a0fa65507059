/*
 * handlers.h — every route handler, one function per page or endpoint.
 */
#ifndef IOTD_HANDLERS_H
#define IOTD_HANDLERS_H

#include "ctx.h"

int iotd_handle_home(iotd_ctx *ctx);
int iotd_handle_day(iotd_ctx *ctx);
int iotd_handle_day_image(iotd_ctx *ctx);
int iotd_handle_archive(iotd_ctx *ctx);
int iotd_handle_healthz(iotd_ctx *ctx);
int iotd_handle_readyz(iotd_ctx *ctx);

int iotd_handle_feed(iotd_ctx *ctx);
int iotd_handle_api_today(iotd_ctx *ctx);
int iotd_handle_api_day(iotd_ctx *ctx);
int iotd_handle_api_days(iotd_ctx *ctx);
int iotd_handle_api_openapi(iotd_ctx *ctx);
int iotd_handle_api_not_found(iotd_ctx *ctx);

int iotd_handle_login_form(iotd_ctx *ctx);
int iotd_handle_login(iotd_ctx *ctx);
int iotd_handle_logout(iotd_ctx *ctx);
int iotd_handle_admin_root(iotd_ctx *ctx);
int iotd_handle_admin_list(iotd_ctx *ctx);
int iotd_handle_admin_new(iotd_ctx *ctx);
int iotd_handle_admin_create(iotd_ctx *ctx);
int iotd_handle_admin_edit(iotd_ctx *ctx);
int iotd_handle_admin_update(iotd_ctx *ctx);
int iotd_handle_admin_delete_confirm(iotd_ctx *ctx);
int iotd_handle_admin_delete(iotd_ctx *ctx);

#endif
