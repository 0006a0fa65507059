/*
 * routes.c — the route table: every URL the application answers.
 * nginx serves /static/ itself; everything else arrives here.
 */
#include "handlers/handlers.h"
#include "router.h"

const iotd_route iotd_routes[] = {
    {"/", IOTD_GET, iotd_handle_home, "home"},
    {"/day/*", IOTD_GET, iotd_handle_day, "day"},
    {"/day/*/image", IOTD_GET, iotd_handle_day_image, "day_image"},
    {"/archive", IOTD_GET, iotd_handle_archive, "archive"},
    {"/feed.atom", IOTD_GET, iotd_handle_feed, "feed"},
    {"/api/v1/today", IOTD_GET, iotd_handle_api_today, "api_today"},
    {"/api/v1/days", IOTD_GET, iotd_handle_api_days, "api_days"},
    {"/api/v1/days/*", IOTD_GET, iotd_handle_api_day, "api_day"},
    {"/api/v1/openapi.json", IOTD_GET, iotd_handle_api_openapi, "api_openapi"},
    /* any other /api path (up to four segments deep, or another method) is a JSON error */
    {"/api", IOTD_GET | IOTD_POST, iotd_handle_api_not_found, "api_not_found"},
    {"/api/*", IOTD_GET | IOTD_POST, iotd_handle_api_not_found, "api_not_found"},
    {"/api/*/*", IOTD_GET | IOTD_POST, iotd_handle_api_not_found, "api_not_found"},
    {"/api/*/*/*", IOTD_GET | IOTD_POST, iotd_handle_api_not_found, "api_not_found"},
    {"/api/*/*/*/*", IOTD_GET | IOTD_POST, iotd_handle_api_not_found, "api_not_found"},
    {"/healthz", IOTD_GET, iotd_handle_healthz, "healthz"},
    {"/readyz", IOTD_GET, iotd_handle_readyz, "readyz"},
    {"/admin", IOTD_GET, iotd_handle_admin_root, "admin"},
    {"/admin/", IOTD_GET, iotd_handle_admin_list, "admin"},
    {"/admin/login", IOTD_GET, iotd_handle_login_form, "admin_login"},
    {"/admin/login", IOTD_POST, iotd_handle_login, "admin_login"},
    {"/admin/logout", IOTD_POST, iotd_handle_logout, "admin_login"},
    {"/admin/images/new", IOTD_GET, iotd_handle_admin_new, "admin"},
    {"/admin/images/new", IOTD_POST, iotd_handle_admin_create, "admin"},
    {"/admin/images/*/edit", IOTD_GET, iotd_handle_admin_edit, "admin"},
    {"/admin/images/*/edit", IOTD_POST, iotd_handle_admin_update, "admin"},
    {"/admin/images/*/delete", IOTD_GET, iotd_handle_admin_delete_confirm, "admin"},
    {"/admin/images/*/delete", IOTD_POST, iotd_handle_admin_delete, "admin"},
};

const size_t iotd_nroutes = sizeof iotd_routes / sizeof iotd_routes[0];
