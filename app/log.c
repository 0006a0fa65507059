/*
 * log.c — structured logging: every line is a JSON object written with one
 * write(2), so lines from many workers sharing one stream never interleave.
 *
 * Secrets never reach here: callers log names and codes, not values.
 */
#include "log.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX 2048

static iotd_log_level log_min_level = IOTD_LOG_INFO; /* set once at start from the config */
static int log_fd = STDERR_FILENO;                   /* likewise */

void iotd_log_init(iotd_log_level min_level, int fd)
{
    log_min_level = min_level;
    log_fd = fd;
}

iotd_log_level iotd_log_level_for(int debug, iotd_log_level otherwise)
{
    return debug ? IOTD_LOG_DEBUG : otherwise;
}

static const char *level_name(iotd_log_level level)
{
    switch (level) {
    case IOTD_LOG_DEBUG: return "debug";
    case IOTD_LOG_INFO: return "info";
    case IOTD_LOG_WARN: return "warn";
    case IOTD_LOG_ERROR: return "error";
    case IOTD_LOG_OFF: break;
    }
    return "info";
}

static void format_time(char *out, size_t len, long long *epoch_ms)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned ms = (unsigned)(tv.tv_usec / 1000) % 1000;
    if (n + 6 <= len) {
        out[n++] = '.';
        out[n++] = (char)('0' + ms / 100);
        out[n++] = (char)('0' + ms / 10 % 10);
        out[n++] = (char)('0' + ms % 10);
        out[n++] = 'Z';
        out[n] = '\0';
    }
    if (epoch_ms)
        *epoch_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void emit(json_object *o)
{
    size_t len;
    const char *s =
        json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        return;
    char line[LOG_MSG_MAX * 2 + 1024];
    if (len + 1 > sizeof line)
        len = sizeof line - 1; /* only on absurd input; still one line */
    memcpy(line, s, len);
    line[len] = '\n';
    size_t off = 0;
    while (off < len + 1) {
        ssize_t n = write(log_fd, line + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void add_str(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

void iotd_log(iotd_log_level level, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char when[40];
    format_time(when, sizeof when, NULL);
    json_object *o = json_object_new_object();
    if (!o) {
        fprintf(stderr, "%s %s\n", level_name(level), msg);
        return;
    }
    add_str(o, "time", when);
    add_str(o, "level", level_name(level));
    json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
    add_str(o, "msg", msg);
    emit(o);
    json_object_put(o);
}

static json_object *emf_metadata(long long epoch_ms)
{
    /* {"Timestamp":..,"CloudWatchMetrics":[{"Namespace":"iotd","Dimensions":[["Route","StatusClass"]],
     *   "Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]} */
    json_object *aws = json_object_new_object();
    json_object *list = json_object_new_array();
    json_object *directive = json_object_new_object();
    json_object *dims = json_object_new_array();
    json_object *dimset = json_object_new_array();
    json_object *metrics = json_object_new_array();
    json_object *requests = json_object_new_object();
    json_object *latency = json_object_new_object();
    if (!aws || !list || !directive || !dims || !dimset || !metrics || !requests || !latency) {
        json_object_put(aws);
        json_object_put(list);
        json_object_put(directive);
        json_object_put(dims);
        json_object_put(dimset);
        json_object_put(metrics);
        json_object_put(requests);
        json_object_put(latency);
        return NULL;
    }
    json_object_array_add(dimset, json_object_new_string("Route"));
    json_object_array_add(dimset, json_object_new_string("StatusClass"));
    json_object_array_add(dims, dimset);
    add_str(requests, "Name", "Requests");
    add_str(requests, "Unit", "Count");
    add_str(latency, "Name", "Latency");
    add_str(latency, "Unit", "Milliseconds");
    json_object_array_add(metrics, requests);
    json_object_array_add(metrics, latency);
    add_str(directive, "Namespace", "iotd");
    json_object_object_add(directive, "Dimensions", dims);
    json_object_object_add(directive, "Metrics", metrics);
    json_object_array_add(list, directive);
    json_object_object_add(aws, "Timestamp", json_object_new_int64(epoch_ms));
    json_object_object_add(aws, "CloudWatchMetrics", list);
    return aws;
}

/* The request line's JSON tree is built once per process and refilled for
 * each request: json-c's setters reuse the nodes and the root's print
 * buffer, so logging a request allocates nothing (a fresh tree cost about
 * thirty allocations per request, a tenth of a cached page's time). */
typedef struct request_line {
    json_object *root, *time, *level, *request_id, *method, *path, *status, *duration, *pid, *route,
        *status_class, *latency, *timestamp;
} request_line;

static request_line log_request_line; /* process-local scratch, built on first use */

static json_object *member(json_object *o, const char *key, json_object *value)
{
    if (!value || json_object_object_add(o, key, value) != 0) {
        json_object_put(value);
        return NULL;
    }
    return value;
}

/* 0, or -1 when out of memory (the line is then skipped). */
static int build_request_line(request_line *l)
{
    json_object *o = json_object_new_object();
    if (!o)
        return -1;
    l->time = member(o, "time", json_object_new_string(""));
    l->level = member(o, "level", json_object_new_string("info"));
    l->request_id = member(o, "request_id", json_object_new_string(""));
    l->method = member(o, "method", json_object_new_string(""));
    l->path = member(o, "path", json_object_new_string(""));
    l->status = member(o, "status", json_object_new_int(0));
    l->duration = member(o, "duration_ms", json_object_new_double(0));
    /* the process's own: workers are exec'd, so no request line outlives a fork */
    l->pid = member(o, "pid", json_object_new_int((int)getpid()));
    l->route = member(o, "Route", json_object_new_string(""));
    l->status_class = member(o, "StatusClass", json_object_new_string(""));
    json_object *requests = member(o, "Requests", json_object_new_int(1));
    l->latency = member(o, "Latency", json_object_new_double(0));
    json_object *aws = member(o, "_aws", emf_metadata(0));
    l->timestamp = NULL;
    if (aws)
        json_object_object_get_ex(aws, "Timestamp", &l->timestamp);
    if (!l->time || !l->level || !l->request_id || !l->method || !l->path || !l->status || !l->duration ||
        !l->pid || !l->route || !l->status_class || !requests || !l->latency || !l->timestamp) {
        json_object_put(o);
        memset(l, 0, sizeof *l);
        return -1;
    }
    l->root = o;
    return 0;
}

/* Sets a string member. json-c 0.16 loses a string's buffer when it is set
 * to "" and later to a longer one (found by LeakSanitizer: requests without
 * a request id, such as `iotd healthcheck`, alternate with nginx's), so an
 * empty value gets a fresh node instead; the old one is freed by the add. */
static void set_member_string(json_object *parent, const char *key, json_object **node, const char *value)
{
    if (value && *value) {
        json_object_set_string(*node, value);
        return;
    }
    json_object *fresh = json_object_new_string("");
    if (fresh && json_object_object_add(parent, key, fresh) == 0)
        *node = fresh;
    else
        json_object_put(fresh); /* out of memory: the old value stays in this line */
}

void iotd_log_request(const iotd_log_request_info *info)
{
    request_line *l = &log_request_line;
    if (!l->root && build_request_line(l) != 0)
        return;
    char when[40];
    long long epoch_ms;
    format_time(when, sizeof when, &epoch_ms);
    char status_class[4] = {(char)('0' + (info->status / 100) % 10), 'x', 'x', '\0'};
    double ms = (double)(long long)(info->duration_ms * 1000.0) / 1000.0;
    json_object_set_string(l->time, when);
    json_object_set_string(l->level, info->status >= 500 ? "error" : "info");
    set_member_string(l->root, "request_id", &l->request_id, info->request_id);
    set_member_string(l->root, "method", &l->method, info->method);
    set_member_string(l->root, "path", &l->path, info->path);
    json_object_set_int(l->status, info->status);
    json_object_set_double(l->duration, ms);
    json_object_set_string(l->route, info->route ? info->route : "none");
    json_object_set_string(l->status_class, status_class);
    json_object_set_double(l->latency, ms);
    json_object_set_int64(l->timestamp, epoch_ms);
    emit(l->root);
}
