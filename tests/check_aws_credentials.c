/*
 * check_aws_credentials.c — the credential chain against a local endpoint.
 *
 * tests/http_fixture.py plays the ECS container credentials endpoint on
 * 127.0.0.1: a valid document, one about to expire (must be refreshed), a
 * malformed one, one behind an authorization token; a closed port plays an
 * unreachable endpoint. stderr is captured to check the one log line and
 * that no secret ever reaches it.
 */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws_credentials.h"
#include "http_fixture.h"
#include "iotd.h"

static http_fixture fixture;

static long count_of(const char *name)
{
    char path[64], body[64];
    snprintf(path, sizeof path, "/count/%s", name);
    ck_assert_int_eq(http_fixture_get(&fixture, path, body, sizeof body), 200);
    return atol(body);
}

static iotd_aws_provider *relative_provider(const char *base, const char *uri)
{
    iotd_aws_env env = {0};
    snprintf(env.container_host, sizeof env.container_host, "%s", base);
    snprintf(env.container_relative_uri, sizeof env.container_relative_uri, "%s", uri);
    iotd_aws_provider *p = iotd_aws_provider_new(&env);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Redirects stderr to a temporary file; returns the saved descriptor. */
static int capture_stderr(FILE **tmp)
{
    fflush(stderr);
    *tmp = tmpfile();
    ck_assert_ptr_nonnull(*tmp);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(*tmp), STDERR_FILENO);
    return saved;
}

static void read_captured(FILE *tmp, int saved, char *out, size_t cap)
{
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, cap - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
}

START_TEST(test_environment_first)
{
    iotd_aws_env env = {0};
    strcpy(env.access_key_id, "AKIDENV");
    strcpy(env.secret_access_key, "env-secret");
    strcpy(env.session_token, "env-token");
    /* the container endpoint is set too, but the environment's keys win */
    strcpy(env.container_host, "http://127.0.0.1:1");
    strcpy(env.container_relative_uri, "/never");
    iotd_aws_provider *p = iotd_aws_provider_new(&env);
    const iotd_aws_credentials *c = NULL;
    ck_assert_int_eq(iotd_aws_credentials_get(p, time(NULL), &c), IOTD_OK);
    ck_assert_str_eq(c->access_key_id, "AKIDENV");
    ck_assert_str_eq(c->secret_access_key, "env-secret");
    ck_assert_str_eq(c->session_token, "env-token");
    ck_assert_int_eq(c->expiration, 0);
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_no_source)
{
    iotd_aws_env env = {0};
    iotd_aws_provider *p = iotd_aws_provider_new(&env);
    const iotd_aws_credentials *c = NULL;
    FILE *tmp;
    int saved = capture_stderr(&tmp);
    int rc = iotd_aws_credentials_get(p, time(NULL), &c);
    char log[4096];
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc, IOTD_AGAIN);
    ck_assert_ptr_nonnull(strstr(log, "aws credentials: none found"));
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_valid_document_cached)
{
    long before = count_of("valid");
    iotd_aws_provider *p = relative_provider(fixture.base, "/creds/valid");
    const iotd_aws_credentials *c = NULL;
    time_t now = time(NULL);
    ck_assert_int_eq(iotd_aws_credentials_get(p, now, &c), IOTD_OK);
    ck_assert_int_eq(count_of("valid"), before + 1);
    ck_assert_ptr_nonnull(strstr(c->access_key_id, "ASIAFIXTURE"));
    ck_assert_ptr_nonnull(strstr(c->secret_access_key, "fixture-secret-"));
    ck_assert_ptr_nonnull(strstr(c->session_token, "fixture-token-"));
    ck_assert_int_ge(c->expiration, now + 3500);
    ck_assert_int_le(c->expiration, now + 3700);
    /* cached: no second request while far from expiry */
    char first[128];
    strcpy(first, c->access_key_id);
    ck_assert_int_eq(iotd_aws_credentials_get(p, now + 60, &c), IOTD_OK);
    ck_assert_str_eq(c->access_key_id, first);
    ck_assert_int_eq(count_of("valid"), before + 1);
    /* within five minutes of Expiration: refreshed */
    ck_assert_int_eq(iotd_aws_credentials_get(p, (time_t)(c->expiration - 200), &c), IOTD_OK);
    ck_assert_int_eq(count_of("valid"), before + 2);
    ck_assert_str_ne(c->access_key_id, first);
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_about_to_expire_refreshes)
{
    long before = count_of("expiring");
    iotd_aws_provider *p = relative_provider(fixture.base, "/creds/expiring");
    const iotd_aws_credentials *c = NULL;
    time_t now = time(NULL);
    ck_assert_int_eq(iotd_aws_credentials_get(p, now, &c), IOTD_OK);
    char first[128];
    strcpy(first, c->access_key_id);
    ck_assert_int_eq(count_of("expiring"), before + 1);
    /* it expires in 60 s, inside the refresh margin: the next call asks again */
    ck_assert_int_eq(iotd_aws_credentials_get(p, now, &c), IOTD_OK);
    ck_assert_int_eq(count_of("expiring"), before + 2);
    ck_assert_str_ne(c->access_key_id, first);
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_malformed_document)
{
    iotd_aws_provider *p = relative_provider(fixture.base, "/creds/malformed");
    const iotd_aws_credentials *c = NULL;
    FILE *tmp;
    int saved = capture_stderr(&tmp);
    int rc = iotd_aws_credentials_get(p, time(NULL), &c);
    char log[4096];
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc, IOTD_AGAIN);
    ck_assert_ptr_nonnull(strstr(log, "aws credentials: ECS endpoint sent an invalid credentials document"));
    ck_assert_ptr_null(strchr(strchr(log, '\n') + 1, '\n')); /* one line */
    iotd_aws_provider_free(p);
}
END_TEST

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* bound, never listened, now closed: connections are refused */
    return ntohs(a.sin_port);
}

START_TEST(test_unreachable)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", closed_port());
    iotd_aws_provider *p = relative_provider(base, "/creds/valid");
    const iotd_aws_credentials *c = NULL;
    FILE *tmp;
    int saved = capture_stderr(&tmp);
    time_t now = time(NULL);
    int rc = iotd_aws_credentials_get(p, now, &c);
    /* asked again at once: no second attempt, no second line */
    int rc2 = iotd_aws_credentials_get(p, now + 1, &c);
    char log[4096];
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc, IOTD_AGAIN);
    ck_assert_int_eq(rc2, IOTD_AGAIN);
    ck_assert_ptr_nonnull(strstr(log, "aws credentials: ECS endpoint unreachable: "));
    ck_assert_ptr_null(strchr(strchr(log, '\n') + 1, '\n'));
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_full_uri_with_token)
{
    iotd_aws_env env = {0};
    snprintf(env.container_full_uri, sizeof env.container_full_uri, "%s/creds/auth", fixture.base);
    iotd_aws_provider *p = iotd_aws_provider_new(&env);
    const iotd_aws_credentials *c = NULL;
    FILE *tmp;
    int saved = capture_stderr(&tmp);
    int rc = iotd_aws_credentials_get(p, time(NULL), &c);
    char log[4096];
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc, IOTD_AGAIN); /* no token: 401 */
    ck_assert_ptr_nonnull(strstr(log, "HTTP 401"));
    iotd_aws_provider_free(p);

    strcpy(env.container_auth_token, "test-auth-token");
    p = iotd_aws_provider_new(&env);
    ck_assert_int_eq(iotd_aws_credentials_get(p, time(NULL), &c), IOTD_OK);
    ck_assert_ptr_nonnull(strstr(c->access_key_id, "ASIAFIXTURE"));
    iotd_aws_provider_free(p);

    /* a token that would inject a header is refused */
    strcpy(env.container_auth_token, "x\r\nX-Evil: 1");
    p = iotd_aws_provider_new(&env);
    saved = capture_stderr(&tmp);
    rc = iotd_aws_credentials_get(p, time(NULL), &c);
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc, IOTD_AGAIN);
    ck_assert_ptr_null(strstr(log, "X-Evil"));
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_failed_refresh_keeps_valid_credentials)
{
    http_fixture own;
    ck_assert_int_eq(http_fixture_start(&own), 0);
    iotd_aws_provider *p = relative_provider(own.base, "/creds/valid");
    const iotd_aws_credentials *c = NULL;
    time_t now = time(NULL);
    ck_assert_int_eq(iotd_aws_credentials_get(p, now, &c), IOTD_OK);
    int64_t exp = c->expiration;
    http_fixture_stop(&own);
    FILE *tmp;
    int saved = capture_stderr(&tmp);
    /* inside the margin, endpoint gone: the unexpired credentials still serve */
    int rc1 = iotd_aws_credentials_get(p, (time_t)(exp - 100), &c);
    /* expired and the endpoint still gone: unavailable */
    int rc2 = iotd_aws_credentials_get(p, (time_t)(exp + 10), &c);
    char log[4096];
    read_captured(tmp, saved, log, sizeof log);
    ck_assert_int_eq(rc1, IOTD_OK);
    ck_assert_int_eq(rc2, IOTD_AGAIN);
    ck_assert_ptr_null(strstr(log, "fixture-secret"));
    ck_assert_ptr_null(strstr(log, "fixture-token"));
    iotd_aws_provider_free(p);
}
END_TEST

START_TEST(test_parse_documents)
{
    iotd_aws_credentials c;
    const char *ok = "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                     "\"Expiration\":\"2024-03-01T12:00:00Z\",\"RoleArn\":\"r\"}";
    ck_assert_int_eq(iotd_aws_parse_container_json(ok, strlen(ok), &c), IOTD_OK);
    ck_assert_str_eq(c.access_key_id, "ASIA1");
    ck_assert_str_eq(c.session_token, "t");
    ck_assert_int_eq(c.expiration, 1709294400);
    const char *bad[] = {
        "",
        "[]",
        "{\"AccessKeyId\":\"ASIA1\"}",
        "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":7}",
        "{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"s\"}",
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}",
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"} trailing",
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"x\":[[[[[[[[[[1]]]]]]]]]]}",
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++)
        ck_assert_msg(iotd_aws_parse_container_json(bad[i], strlen(bad[i]), &c) == IOTD_ERROR, "accepted %s",
                      bad[i]);
    /* a token longer than the field is refused, not truncated */
    size_t n = sizeof c.session_token + 100;
    char *doc = malloc(n + 100);
    ck_assert_ptr_nonnull(doc);
    int len = sprintf(doc, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"");
    memset(doc + len, 'x', n);
    strcpy(doc + len + n, "\"}");
    ck_assert_int_eq(iotd_aws_parse_container_json(doc, strlen(doc), &c), IOTD_ERROR);
    free(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aws_credentials");
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, test_environment_first);
    tcase_add_test(unit, test_no_source);
    tcase_add_test(unit, test_parse_documents);
    suite_add_tcase(s, unit);
    int have_fixture = http_fixture_start(&fixture) == 0;
    if (have_fixture) {
        TCase *ecs = tcase_create("ecs");
        tcase_add_test(ecs, test_valid_document_cached);
        tcase_add_test(ecs, test_about_to_expire_refreshes);
        tcase_add_test(ecs, test_malformed_document);
        tcase_add_test(ecs, test_unreachable);
        tcase_add_test(ecs, test_full_uri_with_token);
        tcase_add_test(ecs, test_failed_refresh_keeps_valid_credentials);
        suite_add_tcase(s, ecs);
    } else {
        fprintf(stderr, "check_aws_credentials: /usr/bin/python3 or tests/http_fixture.py missing; "
                        "ECS endpoint tests skipped\n");
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (have_fixture)
        http_fixture_stop(&fixture);
    return failed ? 1 : 0;
}
