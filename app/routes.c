/*
 * routes.c — the route table: every URL the application answers.
 * nginx serves /static/ itself; everything else arrives here.
 */
#include "handlers/handlers.h"
#include "router.h"

const iotd_route iotd_routes[] = {
    {"/", IOTD_GET, iotd_handle_home, "home"},
    {"/healthz", IOTD_GET, iotd_handle_healthz, "healthz"},
    {"/readyz", IOTD_GET, iotd_handle_readyz, "readyz"},
};

const size_t iotd_nroutes = sizeof iotd_routes / sizeof iotd_routes[0];
