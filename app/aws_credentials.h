/*
 * aws_credentials.h — AWS credentials in the SDKs' order, cached per worker.
 *
 * The environment's keys first; else the ECS container endpoint, whose
 * temporary credentials are refreshed before they expire.
 */
#ifndef IOTD_AWS_CREDENTIALS_H
#define IOTD_AWS_CREDENTIALS_H

#include <stdint.h>
#include <time.h>

#include "config.h"

#define IOTD_AWS_REFRESH_BEFORE_S 300    /* refresh this long before Expiration */
#define IOTD_AWS_RETRY_AFTER_FAILURE_S 5 /* do not call a failing endpoint more often */
#define IOTD_AWS_MAX_DOCUMENT_BYTES (64 * 1024)
#define IOTD_AWS_DEFAULT_CONTAINER_HOST "http://169.254.170.2"

typedef struct iotd_aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096]; /* "" when none */
    int64_t expiration;       /* epoch seconds; 0 = does not expire */
} iotd_aws_credentials;

typedef struct iotd_aws_provider iotd_aws_provider;

/* env is copied. */
iotd_aws_provider *iotd_aws_provider_new(const iotd_aws_env *env);
void iotd_aws_provider_free(iotd_aws_provider *p);
/* IOTD_OK with *out valid until the next call; IOTD_AGAIN when no source
 * works (one line logged, never a secret). */
int iotd_aws_credentials_get(iotd_aws_provider *p, time_t now, const iotd_aws_credentials **out);
/* Parses an ECS credentials document (for tests too). */
int iotd_aws_parse_container_json(const char *json, size_t len, iotd_aws_credentials *out);

#endif
