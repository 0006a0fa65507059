/*
 * check_template_unit.c — the template engine's own behaviour beyond the spec:
 * escaping, loading a views directory, syntax errors with line numbers, the
 * recursion limit, value formatting and truthiness, repeatable rendering of one
 * compiled template, and the return codes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "iotd.h"
#include "template.h"

/* Adds each name/source pair (NULL-terminated list) to a new set. */
static iotd_tpl_set *set_of(const char *const *pairs)
{
    iotd_tpl_set *set = iotd_tpl_set_new();
    ck_assert_ptr_nonnull(set);
    char err[256];
    for (; pairs[0]; pairs += 2)
        ck_assert_msg(iotd_tpl_set_add(set, pairs[0], pairs[1], strlen(pairs[1]), err, sizeof err) == IOTD_OK,
                      "%s: %s", pairs[0], err);
    return set;
}

/* Renders name with the JSON text ctx_json; returns the rc, out holds the text. */
static int render_json(const iotd_tpl_set *set, const char *name, const char *ctx_json, iotd_buf *out)
{
    json_object *ctx = json_tokener_parse(ctx_json);
    ck_assert_msg(ctx != NULL || strcmp(ctx_json, "null") == 0, "bad JSON %s", ctx_json);
    iotd_buf_reset(out);
    int rc = iotd_tpl_render(set, name, ctx, out);
    json_object_put(ctx);
    return rc;
}

static void check_render(const char *src, const char *ctx_json, const char *expected)
{
    const char *pairs[] = {"t", src, NULL};
    iotd_tpl_set *set = set_of(pairs);
    iotd_buf out = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "t", ctx_json, &out), IOTD_OK);
    ck_assert_str_eq(out.data, expected);
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}

START_TEST(test_escaping)
{
    const char *ctx = "{\"x\": \"<script>alert('hi & bye')</script>\"}";
    check_render("<p>{{x}}</p>", ctx, "<p>&lt;script&gt;alert(&#39;hi &amp; bye&#39;)&lt;/script&gt;</p>");
    check_render("{{{x}}}|{{&x}}", ctx,
                 "<script>alert('hi & bye')</script>|<script>alert('hi & bye')</script>");
    /* attribute context: quotes cannot break out */
    check_render("<a title=\"{{t}}\">", "{\"t\": \"\\\" onmouseover=\\\"x\"}",
                 "<a title=\"&quot; onmouseover&#61;&quot;x\">");
}
END_TEST

START_TEST(test_values_and_truthiness)
{
    check_render("{{i}} {{n}} {{d}} {{e}} {{big}}",
                 "{\"i\": 42, \"n\": -7, \"d\": 1.21, \"e\": 2.0, \"big\": 1e21}", "42 -7 1.21 2 1e+21");
    check_render("[{{t}}][{{f}}][{{z}}][{{missing}}]", "{\"t\": true, \"f\": false, \"z\": null}",
                 "[true][][][]");
    check_render(
        "{{#z}}A{{/z}}{{#e}}B{{/e}}{{#l}}C{{/l}}{{#f}}D{{/f}}{{^z}}a{{/z}}{{^e}}b{{/e}}{{^l}}c{{/l}}",
        "{\"z\": 0, \"e\": \"\", \"l\": [], \"f\": 0.0}", "abc");
    check_render("{{#o}}{{k}}{{/o}}{{#s}}<{{.}}>{{/s}}{{#n}}{{.}}{{/n}}",
                 "{\"o\": {\"k\": \"v\"}, \"s\": \"str\", \"n\": 3}", "v<str>3");
    check_render("{{#items}}{{name}}={{price}};{{/items}}",
                 "{\"items\": [{\"name\": \"a\", \"price\": 1.5}, {\"name\": \"b\", \"price\": 20}]}",
                 "a=1.5;b=20;");
    check_render("{{a.b.c}}|{{#a}}{{b.c}}{{/a}}", "{\"a\": {\"b\": {\"c\": \"deep\"}}}", "deep|deep");
}
END_TEST

START_TEST(test_render_twice)
{
    const char *pairs[] = {"page",
                           "{{>head}}{{#images}}<li>{{name}}</li>\n{{/images}}{{^images}}none{{/images}}",
                           "head", "<h1>{{title}}</h1>\n", NULL};
    iotd_tpl_set *set = set_of(pairs);
    const char *ctx = "{\"title\": \"Today\", \"images\": [{\"name\": \"a<b\"}, {\"name\": \"c\"}]}";
    const char *want = "<h1>Today</h1>\n<li>a&lt;b</li>\n<li>c</li>\n";
    iotd_buf a = IOTD_BUF_INIT, b = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "page", ctx, &a), IOTD_OK);
    ck_assert_int_eq(render_json(set, "page", ctx, &b), IOTD_OK);
    ck_assert_str_eq(a.data, want);
    ck_assert_str_eq(b.data, a.data);
    /* the same compiled template with another context: nothing was cached from the first */
    ck_assert_int_eq(render_json(set, "page", "{\"title\": \"Empty\", \"images\": []}", &b), IOTD_OK);
    ck_assert_str_eq(b.data, "<h1>Empty</h1>\nnone");
    /* rendering appends */
    iotd_buf_reset(&a);
    iotd_buf_puts(&a, "<!doctype html>");
    json_object *ctx2 = json_tokener_parse("{\"title\": \"x\"}");
    ck_assert_int_eq(iotd_tpl_render(set, "head", ctx2, &a), IOTD_OK);
    ck_assert_str_eq(a.data, "<!doctype html><h1>x</h1>\n");
    json_object_put(ctx2);
    iotd_buf_free(&a);
    iotd_buf_free(&b);
    iotd_tpl_set_free(set);
}
END_TEST

START_TEST(test_unknown_template)
{
    const char *pairs[] = {"known", "hi", NULL};
    iotd_tpl_set *set = set_of(pairs);
    iotd_buf out = IOTD_BUF_INIT;
    iotd_buf_puts(&out, "kept");
    ck_assert_int_eq(iotd_tpl_render(set, "unknown", NULL, &out), IOTD_DECLINED);
    ck_assert_str_eq(out.data, "kept");
    ck_assert(iotd_tpl_set_has(set, "known"));
    ck_assert(!iotd_tpl_set_has(set, "unknown"));
    /* a missing partial is not an error: it renders as nothing */
    ck_assert_int_eq(iotd_tpl_set_add(set, "p", "[{{>nope}}]", 11, NULL, 0), IOTD_OK);
    ck_assert_int_eq(render_json(set, "p", "{}", &out), IOTD_OK);
    ck_assert_str_eq(out.data, "[]");
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}
END_TEST

static void check_syntax_error(const char *src, const char *want1, const char *want2)
{
    iotd_tpl_set *set = iotd_tpl_set_new();
    char err[256] = "";
    ck_assert_int_eq(iotd_tpl_set_add(set, "bad", src, strlen(src), err, sizeof err), IOTD_ERROR);
    ck_assert_msg(strstr(err, want1) && strstr(err, want2), "error for %s was: %s", src, err);
    ck_assert(!iotd_tpl_set_has(set, "bad"));
    iotd_tpl_set_free(set);
}

START_TEST(test_syntax_errors)
{
    check_syntax_error("<ul>\n{{#images}}\n<li>{{name}}</li>\n</ul>\n",
                       "bad: line 2:", "'images' is never closed");
    check_syntax_error("{{#a}}\n{{#b}}\nx\n{{/a}}\n{{/b}}\n",
                       "line 4:", "'a' does not match 'b' opened on line 2");
    check_syntax_error("a\n\nb{{/c}}", "line 3:", "without an open section");
    check_syntax_error("one\ntwo {{name\nthree", "line 2:", "unclosed tag");
    check_syntax_error("{{=<% %>=}}\n<%x}}", "line 2:", "unclosed tag");
    check_syntax_error("x\n{{= a =}}", "line 2:", "set-delimiter");
    check_syntax_error("{{a b}}", "line 1:", "invalid tag name");
    check_syntax_error("{{}}", "line 1:", "invalid tag name");
    check_syntax_error("{{a..b}}", "line 1:", "invalid name");
    check_syntax_error("{{<layout}}\n{{$title}}x{{/layout}}", "line 2:", "does not match");
    /* a comment spanning lines moves the line count on */
    check_syntax_error("{{!\n\n}}\n{{/x}}", "line 4:", "without an open section");

    /* a failed replacement keeps the template that was there */
    const char *pairs[] = {"page", "good", NULL};
    iotd_tpl_set *set = set_of(pairs);
    char err[256];
    ck_assert_int_eq(iotd_tpl_set_add(set, "page", "{{#x}}", 6, err, sizeof err), IOTD_ERROR);
    iotd_buf out = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "page", "{}", &out), IOTD_OK);
    ck_assert_str_eq(out.data, "good");
    ck_assert_int_eq(iotd_tpl_set_add(set, "page", "better", 6, err, sizeof err), IOTD_OK);
    ck_assert_int_eq(render_json(set, "page", "{}", &out), IOTD_OK);
    ck_assert_str_eq(out.data, "better");
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}
END_TEST

START_TEST(test_recursion_limit)
{
    const char *pairs[] = {"self", "x{{>self}}",
                           "ping", "{{>pong}}",
                           "pong", "{{>ping}}",
                           "heir", "{{<heir}}{{/heir}}",
                           "tree", "{{name}}({{#kids}}{{>tree}}{{/kids}})",
                           NULL};
    iotd_tpl_set *set = set_of(pairs);
    iotd_buf out = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "self", "{}", &out), IOTD_ERROR);
    ck_assert_int_eq(render_json(set, "ping", "{}", &out), IOTD_ERROR);
    ck_assert_int_eq(render_json(set, "heir", "{}", &out), IOTD_ERROR);
    /* recursion that ends with the data is fine (a leaf needs its own empty "kids": a missing
     * key would be found further up the context stack, as the spec says) */
    ck_assert_int_eq(
        render_json(set, "tree",
                    "{\"name\":\"a\",\"kids\":[{\"name\":\"b\",\"kids\":[{\"name\":\"c\",\"kids\":[]}]}]}",
                    &out),
        IOTD_OK);
    ck_assert_str_eq(out.data, "a(b(c()))");
    /* but data nested deeper than the limit is stopped too */
    json_object *deep = json_object_new_object();
    json_object_object_add(deep, "kids", json_object_new_array());
    for (int i = 0; i < IOTD_TPL_MAX_DEPTH; i++) {
        json_object *up = json_object_new_object(), *kids = json_object_new_array();
        json_object_array_add(kids, deep);
        json_object_object_add(up, "name", json_object_new_string("n"));
        json_object_object_add(up, "kids", kids);
        deep = up;
    }
    iotd_buf_reset(&out);
    ck_assert_int_eq(iotd_tpl_render(set, "tree", deep, &out), IOTD_ERROR);
    json_object_put(deep);
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}
END_TEST

START_TEST(test_output_limit)
{
    const char *pairs[] = {"t", "{{#l}}0123456789{{/l}}", NULL};
    iotd_tpl_set *set = set_of(pairs);
    iotd_buf out;
    iotd_buf_init(&out, 25);
    ck_assert_int_eq(render_json(set, "t", "{\"l\": [1, 2]}", &out), IOTD_OK);
    ck_assert_int_eq(render_json(set, "t", "{\"l\": [1, 2, 3]}", &out), IOTD_ERROR);
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}
END_TEST

START_TEST(test_layout_inheritance)
{
    /* added child first: parents and partials are found at render time */
    const char *pairs[] = {"home",
                           "{{<layout}}\n"
                           "{{$title}}Home{{/title}}\n"
                           "{{$body}}\n"
                           "    <p>{{greeting}}</p>\n"
                           "{{/body}}\n"
                           "{{/layout}}\n",
                           "layout",
                           "<title>{{$title}}iotd{{/title}}</title>\n"
                           "<main>\n"
                           "  {{$body}}\n"
                           "  nothing here\n"
                           "  {{/body}}\n"
                           "</main>\n"
                           "{{>partials/footer}}\n",
                           "partials/footer",
                           "<footer>{{year}}</footer>",
                           NULL};
    iotd_tpl_set *set = set_of(pairs);
    iotd_buf out = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "home", "{\"greeting\": \"Hi & welcome\", \"year\": 2025}", &out),
                     IOTD_OK);
    ck_assert_str_eq(
        out.data, "<title>Home</title>\n<main>\n  <p>Hi &amp; welcome</p>\n</main>\n<footer>2025</footer>");
    ck_assert_int_eq(render_json(set, "layout", "{}", &out), IOTD_OK);
    ck_assert_str_eq(out.data, "<title>iotd</title>\n<main>\n  nothing here\n</main>\n<footer></footer>");
    iotd_buf_free(&out);
    iotd_tpl_set_free(set);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

START_TEST(test_load_dir)
{
    char dir[] = "/tmp/iotd-tpl-XXXXXX", sub[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/partials", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    const char *page = "<h1>{{title}}</h1>\n{{>partials/footer}}";
    write_file(dir, "page.mustache", page, strlen(page));
    write_file(dir, "notes.txt", "{{#not a template", 17);
    write_file(dir, ".hidden.mustache", "{{#broken", 9);
    write_file(sub, "footer.mustache", "<footer>{{year}}</footer>\n", 26);

    iotd_tpl_set *set = iotd_tpl_set_new();
    char err[512] = "";
    ck_assert_msg(iotd_tpl_set_load_dir(set, dir, err, sizeof err) == IOTD_OK, "%s", err);
    ck_assert(iotd_tpl_set_has(set, "page"));
    ck_assert(iotd_tpl_set_has(set, "partials/footer"));
    ck_assert(!iotd_tpl_set_has(set, "notes"));
    ck_assert(!iotd_tpl_set_has(set, ".hidden"));
    iotd_buf out = IOTD_BUF_INIT;
    ck_assert_int_eq(render_json(set, "page", "{\"title\": \"<b>\", \"year\": 2025}", &out), IOTD_OK);
    ck_assert_str_eq(out.data, "<h1>&lt;b&gt;</h1>\n<footer>2025</footer>\n");
    iotd_tpl_set_free(set);

    /* a syntax error names the file's template and the line */
    write_file(dir, "broken.mustache", "ok\n{{/nothing}}\n", 16);
    set = iotd_tpl_set_new();
    ck_assert_int_eq(iotd_tpl_set_load_dir(set, dir, err, sizeof err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "broken: line 2:") != NULL, "%s", err);
    iotd_tpl_set_free(set);
    remove_file(dir, "broken.mustache");

    /* files over the limit are refused */
    size_t big = IOTD_MAX_TEMPLATE_BYTES + 1;
    char *text = malloc(big);
    ck_assert_ptr_nonnull(text);
    memset(text, 'a', big);
    write_file(dir, "huge.mustache", text, big);
    set = iotd_tpl_set_new();
    ck_assert_int_eq(iotd_tpl_set_load_dir(set, dir, err, sizeof err), IOTD_ERROR);
    ck_assert_msg(strstr(err, "huge.mustache") && strstr(err, "larger than"), "%s", err);
    ck_assert_int_eq(iotd_tpl_set_add(set, "huge", text, big, err, sizeof err), IOTD_ERROR);
    iotd_tpl_set_free(set);
    free(text);
    remove_file(dir, "huge.mustache");

    /* a missing directory is an error with its name */
    set = iotd_tpl_set_new();
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ck_assert_int_eq(iotd_tpl_set_load_dir(set, missing, err, sizeof err), IOTD_ERROR);
    ck_assert_msg(strstr(err, missing) != NULL, "%s", err);
    iotd_tpl_set_free(set);

    iotd_buf_free(&out);
    remove_file(dir, "page.mustache");
    remove_file(dir, "notes.txt");
    remove_file(dir, ".hidden.mustache");
    remove_file(sub, "footer.mustache");
    rmdir(sub);
    rmdir(dir);
}
END_TEST

static Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_values_and_truthiness);
    tcase_add_test(tc, test_render_twice);
    tcase_add_test(tc, test_unknown_template);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_recursion_limit);
    tcase_add_test(tc, test_output_limit);
    tcase_add_test(tc, test_layout_inheritance);
    tcase_add_test(tc, test_load_dir);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(template_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
