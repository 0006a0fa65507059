/*
 * check_template.c — the official Mustache spec against the template engine.
 *
 * Reads every JSON file in $IOTD_SPECS_DIR/mustache/ at run time (the spec files
 * stay in shared/specs, they are not copied into the repository) and runs
 * each case: partials and the template go into a fresh set, the data is the
 * context. Lambda cases are skipped (out of scope: a JSON context has no
 * code). One Check test per spec file; every failing case is printed with its
 * template, expected and actual output, and each file ends with a summary.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "iotd.h"
#include "template.h"

#define MAX_SPEC_FILES 32
#define TEMPLATE_NAME "(spec template)"

static char spec_dir[4096];
static char spec_files[MAX_SPEC_FILES][256];
static int nspec_files;

/* Lambda cases carry code for other languages: {"__tag__": "code", ...}. */
static int is_lambda_case(json_object *tc)
{
    json_object *data, *lambda, *tag;
    return json_object_object_get_ex(tc, "data", &data) &&
           json_object_object_get_ex(data, "lambda", &lambda) &&
           json_object_object_get_ex(lambda, "__tag__", &tag);
}

static const char *field(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Runs one case; returns 1 if it passed, printing what went wrong if not. */
static int run_case(const char *file, json_object *tc)
{
    char err[512] = "";
    iotd_buf out = IOTD_BUF_INIT;
    iotd_tpl_set *set = iotd_tpl_set_new();
    ck_assert_ptr_nonnull(set);
    const char *name = field(tc, "name"), *tmpl = field(tc, "template"), *expected = field(tc, "expected");
    int ok = 1;
    json_object *partials, *data = NULL;
    if (json_object_object_get_ex(tc, "partials", &partials)) {
        json_object_object_foreach(partials, pname, pval)
        {
            const char *psrc = json_object_get_string(pval);
            if (ok && iotd_tpl_set_add(set, pname, psrc, strlen(psrc), err, sizeof err) != IOTD_OK)
                ok = 0;
        }
    }
    json_object_object_get_ex(tc, "data", &data);
    if (ok && iotd_tpl_set_add(set, TEMPLATE_NAME, tmpl, strlen(tmpl), err, sizeof err) != IOTD_OK)
        ok = 0;
    int rc = ok ? iotd_tpl_render(set, TEMPLATE_NAME, data, &out) : IOTD_ERROR;
    const char *got = out.data ? out.data : "";
    if (rc != IOTD_OK || strcmp(got, expected) != 0) {
        json_object *got_json = json_object_new_string(got); /* printed as JSON to show \n and \r */
        printf("FAIL %s: %s\n  template: %s\n  expected: %s\n  got:      %s\n  (rc %d%s%s)\n", file, name,
               json_object_to_json_string(json_object_object_get(tc, "template")),
               json_object_to_json_string(json_object_object_get(tc, "expected")),
               json_object_to_json_string(got_json), rc, err[0] ? ", " : "", err);
        json_object_put(got_json);
        ok = 0;
    }
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
    return ok;
}

START_TEST(test_spec_file)
{
    const char *file = spec_files[_i];
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", spec_dir, file);
    json_object *root = json_object_from_file(path);
    ck_assert_msg(root != NULL, "cannot parse %s", path);
    json_object *tests;
    ck_assert(json_object_object_get_ex(root, "tests", &tests));
    int total = 0, passed = 0, skipped = 0;
    size_t n = json_object_array_length(tests);
    for (size_t i = 0; i < n; i++) {
        json_object *tc = json_object_array_get_idx(tests, i);
        if (is_lambda_case(tc)) {
            skipped++;
            continue;
        }
        total++;
        passed += run_case(file, tc);
    }
    printf("mustache spec %s: %d/%d passed%s\n", file, passed, total, skipped ? " (lambdas skipped)" : "");
    fflush(stdout);
    json_object_put(root);
    ck_assert_int_gt(total, 0);
    ck_assert_int_eq(passed, total);
}
END_TEST

static int is_spec_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0 && strncmp(e->d_name, "~lambdas", 8) != 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *specs = getenv("IOTD_SPECS_DIR");
    snprintf(spec_dir, sizeof spec_dir, "%s/mustache", specs && *specs ? specs : "../shared/specs");
    struct stat st;
    struct dirent **list = NULL;
    int n = stat(spec_dir, &st) == 0 && S_ISDIR(st.st_mode)
                ? scandir(spec_dir, &list, is_spec_file, alphasort)
                : -1;
    if (n <= 0) {
        printf("SKIP: mustache specs not found at %s (set IOTD_SPECS_DIR)\n", spec_dir);
        free(list);
        return 77;
    }
    for (int i = 0; i < n; i++) {
        if (nspec_files < MAX_SPEC_FILES)
            snprintf(spec_files[nspec_files++], sizeof spec_files[0], "%s", list[i]->d_name);
        free(list[i]);
    }
    free(list);

    Suite *s = suite_create("mustache spec");
    TCase *tc = tcase_create("spec files");
    tcase_add_loop_test(tc, test_spec_file, 0, nspec_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
