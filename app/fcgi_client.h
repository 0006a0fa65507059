/*
 * fcgi_client.h — a minimal FastCGI client, for `iotd healthcheck`: asks
 * the pool for a path exactly as nginx would and returns the status.
 */
#ifndef IOTD_FCGI_CLIENT_H
#define IOTD_FCGI_CLIENT_H

#include "buf.h"

/* GET path from the FastCGI server at address ("host:port" or a unix
 * socket path). Fills *status and the response body (without headers).
 * IOTD_OK, or IOTD_ERROR with a reason in err. */
int iotd_fcgi_get(const char *address, const char *path, int timeout_ms, int *status, iotd_buf *body, char *err,
                  size_t errlen);

#endif
