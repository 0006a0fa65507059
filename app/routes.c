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
