/*
 * aws_credentials.c — the AWS credential chain: environment, then ECS.
 *
 * On ECS the task role's temporary credentials come from the container
 * credentials endpoint and expire; a worker caches them and refreshes them
 * IOTD_AWS_REFRESH_BEFORE_S seconds early, so a request never signs with a
 * key that expires under it. A failing endpoint costs one log line and
 * IOTD_AGAIN (the page answers 503), never a crash, and the log never shows
 * a key, a secret or the authorization token.
 */
#include "aws_credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "iotd.h"
#include "log.h"
#include "sigv4.h"

#define AWS_CONNECT_TIMEOUT_MS 2000L
#define AWS_TOTAL_TIMEOUT_MS 5000L
#define AWS_MAX_JSON_DEPTH 8

struct iotd_aws_provider {
    iotd_aws_env env;
    iotd_aws_credentials creds;
    int have_creds;
    int64_t last_failure; /* when the endpoint last failed; 0 = never */
    CURL *curl;
    iotd_buf body;
};

iotd_aws_provider *iotd_aws_provider_new(const iotd_aws_env *env)
{
    iotd_aws_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->env = *env;
    iotd_buf_init(&p->body, IOTD_AWS_MAX_DOCUMENT_BYTES);
    return p;
}

void iotd_aws_provider_free(iotd_aws_provider *p)
{
    if (!p)
        return;
    if (p->curl)
        curl_easy_cleanup(p->curl);
    iotd_buf_free(&p->body);
    OPENSSL_cleanse(p, sizeof *p);
    free(p);
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return IOTD_ERROR;
    memcpy(dst, src, n + 1);
    return IOTD_OK;
}

/* A required (or, with optional, possibly absent) string member. */
static const char *json_string_member(struct json_object *obj, const char *name, int optional)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || json_object_is_type(v, json_type_null))
        return optional ? "" : NULL;
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int iotd_aws_parse_container_json(const char *json, size_t len, iotd_aws_credentials *out)
{
    if (len > IOTD_AWS_MAX_DOCUMENT_BYTES)
        return IOTD_ERROR;
    struct json_tokener *tok = json_tokener_new_ex(AWS_MAX_JSON_DEPTH);
    if (!tok)
        return IOTD_ERROR;
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    /* trailing bytes after the document are not accepted either */
    int complete =
        json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    int rc = IOTD_ERROR;
    if (!root || !complete || !json_object_is_type(root, json_type_object))
        goto out;
    const char *id = json_string_member(root, "AccessKeyId", 0);
    const char *secret = json_string_member(root, "SecretAccessKey", 0);
    const char *token = json_string_member(root, "Token", 1);
    const char *expiration = json_string_member(root, "Expiration", 1);
    if (!id || !secret || !token || !expiration || !id[0] || !secret[0])
        goto out;
    memset(out, 0, sizeof *out);
    if (copy_field(out->access_key_id, sizeof out->access_key_id, id) != IOTD_OK ||
        copy_field(out->secret_access_key, sizeof out->secret_access_key, secret) != IOTD_OK ||
        copy_field(out->session_token, sizeof out->session_token, token) != IOTD_OK)
        goto out;
    if (expiration[0] && iotd_sigv4_parse_iso8601(expiration, &out->expiration) != IOTD_OK)
        goto out;
    rc = IOTD_OK;
out:
    if (root)
        json_object_put(root);
    return rc;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    iotd_buf *b = userdata;
    if (iotd_buf_append(b, data, size * n) != IOTD_OK)
        return 0; /* too large: curl stops with CURLE_WRITE_ERROR */
    return size * n;
}

static int has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Fetches and parses the container document into fresh. Logs the reason on failure. */
static int fetch_container(iotd_aws_provider *p, iotd_aws_credentials *fresh)
{
    iotd_buf url = IOTD_BUF_INIT, auth = IOTD_BUF_INIT;
    struct curl_slist *headers = NULL;
    int rc = IOTD_AGAIN;
    if (p->env.container_relative_uri[0]) {
        const char *host = p->env.container_host[0] ? p->env.container_host : IOTD_AWS_DEFAULT_CONTAINER_HOST;
        if (iotd_buf_printf(&url, "%s%s", host, p->env.container_relative_uri) != IOTD_OK)
            goto out;
    } else {
        if (iotd_buf_puts(&url, p->env.container_full_uri) != IOTD_OK)
            goto out;
        if (p->env.container_auth_token[0]) {
            if (has_line_break(p->env.container_auth_token)) {
                iotd_log(IOTD_LOG_ERROR, "aws credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
                goto out;
            }
            if (iotd_buf_printf(&auth, "Authorization: %s", p->env.container_auth_token) != IOTD_OK ||
                !(headers = curl_slist_append(NULL, auth.data)))
                goto out;
        }
    }
    if (!p->curl && !(p->curl = curl_easy_init()))
        goto out;
    CURL *c = p->curl;
    curl_easy_reset(c);
    iotd_buf_reset(&p->body);
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, AWS_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, AWS_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->body);
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_WRITE_ERROR) {
        iotd_log(IOTD_LOG_ERROR, "aws credentials: ECS endpoint sent more than %d bytes",
                IOTD_AWS_MAX_DOCUMENT_BYTES);
        goto out;
    }
    if (cc != CURLE_OK) {
        iotd_log(IOTD_LOG_ERROR, "aws credentials: ECS endpoint unreachable: %s", curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        iotd_log(IOTD_LOG_ERROR, "aws credentials: ECS endpoint answered HTTP %ld", status);
        goto out;
    }
    if (iotd_aws_parse_container_json(p->body.data ? p->body.data : "", p->body.len, fresh) != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "aws credentials: ECS endpoint sent an invalid credentials document");
        goto out;
    }
    rc = IOTD_OK;
out:
    curl_slist_free_all(headers);
    if (auth.data)
        OPENSSL_cleanse(auth.data, auth.len);
    iotd_buf_free(&auth);
    iotd_buf_free(&url);
    if (p->body.data)
        OPENSSL_cleanse(p->body.data, p->body.len);
    iotd_buf_reset(&p->body);
    return rc;
}

static int fresh_enough(const iotd_aws_credentials *c, time_t now)
{
    return c->expiration == 0 || (int64_t)now < c->expiration - IOTD_AWS_REFRESH_BEFORE_S;
}

static int still_valid(const iotd_aws_credentials *c, time_t now)
{
    return c->expiration == 0 || (int64_t)now < c->expiration;
}

static int from_environment(iotd_aws_provider *p)
{
    iotd_aws_credentials *c = &p->creds;
    memset(c, 0, sizeof *c);
    if (copy_field(c->access_key_id, sizeof c->access_key_id, p->env.access_key_id) != IOTD_OK ||
        copy_field(c->secret_access_key, sizeof c->secret_access_key, p->env.secret_access_key) != IOTD_OK ||
        copy_field(c->session_token, sizeof c->session_token, p->env.session_token) != IOTD_OK)
        return IOTD_ERROR;
    p->have_creds = 1;
    return IOTD_OK;
}

int iotd_aws_credentials_get(iotd_aws_provider *p, time_t now, const iotd_aws_credentials **out)
{
    if (p->env.access_key_id[0] && p->env.secret_access_key[0]) {
        if (!p->have_creds && from_environment(p) != IOTD_OK) {
            iotd_log(IOTD_LOG_ERROR, "aws credentials: environment credentials too long");
            return IOTD_AGAIN;
        }
        *out = &p->creds;
        return IOTD_OK;
    }
    if (!p->env.container_relative_uri[0] && !p->env.container_full_uri[0]) {
        iotd_log(IOTD_LOG_ERROR, "aws credentials: none found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                        "or run where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set)");
        return IOTD_AGAIN;
    }
    if (p->have_creds && fresh_enough(&p->creds, now)) {
        *out = &p->creds;
        return IOTD_OK;
    }
    /* a failing endpoint is asked again only after a pause, so a worker does
     * not spend a connect timeout on every request */
    int recently_failed = p->last_failure &&
                          (int64_t)now - p->last_failure < IOTD_AWS_RETRY_AFTER_FAILURE_S &&
                          (int64_t)now >= p->last_failure;
    if (!recently_failed) {
        iotd_aws_credentials fresh;
        int rc = fetch_container(p, &fresh);
        if (rc == IOTD_OK) {
            p->creds = fresh;
            p->have_creds = 1;
            p->last_failure = 0;
            OPENSSL_cleanse(&fresh, sizeof fresh);
            *out = &p->creds;
            return IOTD_OK;
        }
        OPENSSL_cleanse(&fresh, sizeof fresh);
        p->last_failure = (int64_t)now;
    }
    /* the refresh failed, but what we hold has not expired yet: keep using it */
    if (p->have_creds && still_valid(&p->creds, now)) {
        *out = &p->creds;
        return IOTD_OK;
    }
    return IOTD_AGAIN;
}
