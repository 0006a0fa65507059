/*
 * log.h — one JSON line per event on stdout.
 *
 * Request lines carry CloudWatch Embedded Metric Format fields so that
 * request count and latency become metrics without an agent.
 */
#ifndef IOTD_LOG_H
#define IOTD_LOG_H

typedef enum { IOTD_LOG_DEBUG, IOTD_LOG_INFO, IOTD_LOG_WARN, IOTD_LOG_ERROR, IOTD_LOG_OFF } iotd_log_level;

typedef struct iotd_log_request_info {
    const char *request_id;
    const char *method;
    const char *path;
    const char *route; /* the router's name for the handler, e.g. "home" */
    int status;
    double duration_ms;
} iotd_log_request_info;

/* Lines at min_level and above go to fd: the server logs to stdout (the
 * container's stream); the command line, whose stdout is its output and
 * which reports failures itself in one line, logs to stderr only when
 * asked (IOTD_LOG_LEVEL=debug). Until set: info and above, to stderr. */
void iotd_log_init(iotd_log_level min_level, int fd);
/* The level for a command: debug when asked, else `otherwise`. */
iotd_log_level iotd_log_level_for(int debug, iotd_log_level otherwise);
void iotd_log(iotd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iotd_log_request(const iotd_log_request_info *info);

#endif
