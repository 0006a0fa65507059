/*
 * template.h — Mustache views: compiled once into node lists, rendered many times.
 *
 * A set holds named templates. Partials ({{>name}}) and parents ({{<name}})
 * are looked up in the set by name when rendering, so templates may be added
 * in any order and a missing partial renders as nothing. Values come from a
 * json-c context; {{x}} is HTML-escaped, {{{x}}} and {{&x}} are not.
 * Truthiness follows the spec's `!!data`: null, false, 0, "" and [] are falsy.
 */
#ifndef IOTD_TEMPLATE_H
#define IOTD_TEMPLATE_H

#include <json-c/json.h>
#include <stddef.h>

#include "buf.h"

#define IOTD_TPL_MAX_DEPTH 64       /* nested sections, partials and blocks while rendering */
#define IOTD_TPL_MAX_NESTING 32     /* sections open at once within one template source */
#define IOTD_TPL_MAX_NAME_BYTES 256 /* a tag's name, a template's name */

typedef struct iotd_tpl_set iotd_tpl_set;

iotd_tpl_set *iotd_tpl_set_new(void);
void iotd_tpl_set_free(iotd_tpl_set *set);
/* Compiles src as name (replacing one of that name); syntax errors go to err with a line number. */
int iotd_tpl_set_add(iotd_tpl_set *set, const char *name, const char *src, size_t len, char *err,
                     size_t errlen);
/* Adds DIR/NAME.mustache as NAME and DIR/partials/NAME.mustache as partials/NAME. */
int iotd_tpl_set_load_dir(iotd_tpl_set *set, const char *dir, char *err, size_t errlen);
int iotd_tpl_set_has(const iotd_tpl_set *set, const char *name);
/* Appends the rendering to out; IOTD_DECLINED if there is no such template, IOTD_ERROR if the
 * depth limit or out's maximum is hit (out then holds a partial page: discard it). */
int iotd_tpl_render(const iotd_tpl_set *set, const char *name, json_object *ctx, iotd_buf *out);

#endif
