/*
 * fuzz_template.c — Mustache compile and render.
 *
 * The input is compiled as template "t" and as partial "p", beside a fixed
 * parent "layout", then "t" is rendered against a fixed context that has
 * strings needing escapes, numbers, booleans, nested objects and lists. The
 * output buffer has a maximum, so self-including partials end in
 * IOTD_ERROR rather than exhausting memory; a failed compile must say why.
 */
#include "fuzz.h"

#include "buf.h"
#include "iotd.h"
#include "template.h"

#define FUZZ_MAX_OUTPUT (1024 * 1024)

static const char context_json[] =
    "{\"title\":\"<b>&\\\"x'\\u0000y\",\"n\":42,\"f\":1.5,\"yes\":true,\"no\":false,\"nil\":null,"
    "\"empty\":\"\",\"list\":[1,\"two\",{\"name\":\"three\"},[4],null],\"none\":[],"
    "\"a\":{\"b\":{\"c\":\"deep\",\"list\":[{\"x\":1},{\"x\":2}]}},\"name\":\"p\","
    "\"image\":{\"url\":\"https://example/a?b=1&c=2\",\"tagline\":\"<script>\"}}";

static const char layout[] = "<html>{{$title}}default{{/title}}\n{{$body}}{{/body}}</html>\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_object *ctx;
    if (!ctx) {
        ctx = json_tokener_parse(context_json);
        FUZZ_CHECK(ctx);
    }
    if (size > IOTD_MAX_TEMPLATE_BYTES)
        return 0;
    iotd_tpl_set *set = iotd_tpl_set_new();
    FUZZ_CHECK(set);
    char err[256] = "";
    FUZZ_CHECK(iotd_tpl_set_add(set, "layout", layout, sizeof layout - 1, err, sizeof err) == IOTD_OK);
    if (iotd_tpl_set_add(set, "t", (const char *)data, size, err, sizeof err) != IOTD_OK) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(!iotd_tpl_set_has(set, "t"));
    } else {
        FUZZ_CHECK(iotd_tpl_set_has(set, "t"));
        FUZZ_CHECK(iotd_tpl_set_add(set, "p", (const char *)data, size, err, sizeof err) == IOTD_OK);
        iotd_buf out;
        iotd_buf_init(&out, FUZZ_MAX_OUTPUT);
        int rc = iotd_tpl_render(set, "t", ctx, &out);
        FUZZ_CHECK(rc == IOTD_OK || rc == IOTD_ERROR);
        FUZZ_CHECK(out.len <= FUZZ_MAX_OUTPUT && out.data && out.data[out.len] == '\0');
        iotd_buf_free(&out);
    }
    iotd_tpl_set_free(set);
    return 0;
}
