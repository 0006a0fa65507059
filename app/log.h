/*
 * log.h — one JSON line per event on stdout.
 *
 * Request lines carry CloudWatch Embedded Metric Format fields so that
 * request count and latency become metrics without an agent.
 */
#ifndef IOTD_LOG_H
#define IOTD_LOG_H

typedef enum { IOTD_LOG_DEBUG, IOTD_LOG_INFO, IOTD_LOG_WARN, IOTD_LOG_ERROR } iotd_log_level;

typedef struct iotd_log_request_info {
    const char *request_id;
    const char *method;
    const char *path;
    const char *route; /* the router's name for the handler, e.g. "home" */
    int status;
    double duration_ms;
} iotd_log_request_info;

void iotd_log_init(int debug);
void iotd_log(iotd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iotd_log_request(const iotd_log_request_info *info);

#endif
