/*
 * template.c — the Mustache engine that renders every page.
 *
 * Templates are compiled once, when the worker starts, in passes over a
 * temporary token list: tokenize (applying set-delimiter tags as they come),
 * pair sections with their closing tags, find standalone lines, measure the
 * indentation of standalone blocks, then emit a flat array of nodes. Text and
 * names live in one string pool per template; dotted names are split into
 * segments at compile time; a section node records the index just past its
 * body. Rendering is therefore a walk over that array, as lwan's template
 * actions are, with every piece of state on the C stack: it allocates nothing
 * but the growth of the output buffer and never looks at the source again.
 *
 * Covered: the spec's interpolation, sections, inverted sections, comments,
 * set delimiters, partials, plus the optional ~inheritance (parents and
 * blocks) and ~dynamic-names modules. Lambdas are not (a JSON context has no
 * functions). Partials and parents are found by name in the set at render
 * time, so templates can be added in any order; a missing one renders as "".
 */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotd.h"

#define TPL_MAX_DELIM_BYTES 16 /* a delimiter set with {{=<% %>=}} */
#define TPL_EXT ".mustache"
#define TPL_NUM_BYTES 40 /* a formatted number */

/* ---- the compiled form ---- */

enum node_kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL, N_PARENT, N_BLOCK };

#define NF_DYNAMIC 1u    /* the name is looked up in the context ({{>*name}}) */
#define NF_STANDALONE 2u /* the tag stood alone on its line: its body starts a line */

typedef struct tpl_node {
    uint8_t kind;
    uint8_t flags;
    uint16_t nseg;       /* dotted name: number of segments (0 = the implicit iterator ".") */
    uint32_t seg;        /* dotted name: index of the first segment in segs */
    uint32_t str;        /* text, or a static partial/parent/block name: offset into pool */
    uint32_t len;        /* length of that text */
    uint32_t indent;     /* standalone partial/parent/block: indentation, offset into pool */
    uint32_t indent_len; /* its length */
    uint32_t end;        /* section/inverted/parent/block: index of the node after the body */
} tpl_node;

typedef struct tpl {
    char *name;
    char *pool; /* texts, and NUL-terminated names and name segments */
    tpl_node *nodes;
    uint32_t *segs; /* pool offsets of dotted-name segments */
    uint32_t nnodes;
} tpl;

struct iotd_tpl_set {
    tpl **items; /* sorted by name */
    size_t n;
    size_t cap;
};

static void tpl_free(tpl *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->pool);
    free(t->nodes);
    free(t->segs);
    free(t);
}

/* ---- compiling ---- */

enum tok_kind {
    TK_VAR,
    TK_RAW,
    TK_SECTION,
    TK_INVERTED,
    TK_CLOSE,
    TK_PARTIAL,
    TK_PARENT,
    TK_BLOCK,
    TK_COMMENT,
    TK_DELIM,
};

typedef struct token {
    uint8_t kind;
    uint8_t closes;      /* TK_CLOSE: the kind of tag it closes */
    uint8_t standalone;  /* alone (or with its inheritance partner) on its line */
    uint8_t dynamic;     /* name began with '*' (partial, parent, close) */
    uint8_t has_prefix;  /* standalone block: its lines have a common indentation */
    uint32_t start, end; /* the tag, delimiters included */
    uint32_t name, name_len;
    uint32_t raw, raw_len; /* the trimmed content, before removing a dynamic '*' */
    uint32_t line;
    uint32_t cut;                /* the text before the tag ends here (line start when standalone) */
    uint32_t resume;             /* the text after the tag starts here (next line when standalone) */
    uint32_t match;              /* opener <-> closer */
    uint32_t prefix, prefix_len; /* standalone block: that common indentation */
} token;

typedef struct compiler {
    const char *tname;
    const char *src;
    size_t len;
    char *err;
    size_t errlen;
    token *toks;
    size_t ntoks, captoks;
    iotd_buf pool;
    tpl_node *nodes;
    size_t nnodes, capnodes;
    uint32_t *segs;
    size_t nsegs, capsegs;
} compiler;

static int fail(compiler *c, uint32_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(compiler *c, uint32_t line, const char *fmt, ...)
{
    if (!c->errlen)
        return IOTD_ERROR;
    int n = line ? snprintf(c->err, c->errlen, "%s: line %u: ", c->tname, line)
                 : snprintf(c->err, c->errlen, "%s: ", c->tname);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return IOTD_ERROR;
}

static int oom(compiler *c)
{
    return fail(c, 0, "out of memory");
}

/* Makes room for need elements of size elem; returns the (maybe moved) array or NULL. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static uint32_t count_lines(const char *s, size_t len)
{
    uint32_t n = 0;
    for (const char *p = s; (p = memchr(p, '\n', len - (size_t)(p - s))) != NULL; p++)
        n++;
    return n;
}

static int has_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_space(s[i]))
            return 1;
    return 0;
}

static int tok_kind_for(char sigil)
{
    switch (sigil) {
    case '{':
    case '&': return TK_RAW;
    case '#': return TK_SECTION;
    case '^': return TK_INVERTED;
    case '/': return TK_CLOSE;
    case '>': return TK_PARTIAL;
    case '<': return TK_PARENT;
    case '$': return TK_BLOCK;
    case '!': return TK_COMMENT;
    case '=': return TK_DELIM;
    default: return TK_VAR;
    }
}

/* {{=<% %>=}}: content is "<% %>"; both must be non-empty, without whitespace or '='. */
static int set_delimiters(compiler *c, const token *t, char *open, size_t *olen, char *close, size_t *clen)
{
    const char *s = c->src + t->name;
    size_t n = t->name_len, a = 0;
    while (a < n && !is_space(s[a]))
        a++;
    size_t b = a;
    while (b < n && is_space(s[b]))
        b++;
    if (a == 0 || b == n || a > TPL_MAX_DELIM_BYTES || n - b > TPL_MAX_DELIM_BYTES ||
        has_space(s + b, n - b) || memchr(s, '=', a) || memchr(s + b, '=', n - b))
        return fail(c, t->line, "invalid set-delimiter tag");
    memcpy(open, s, a);
    *olen = a;
    memcpy(close, s + b, n - b);
    *clen = n - b;
    return IOTD_OK;
}

static int push_token(compiler *c, const token *t)
{
    token *p = grow(c->toks, &c->captoks, c->ntoks + 1, sizeof *p);
    if (!p)
        return oom(c);
    c->toks = p;
    c->toks[c->ntoks++] = *t;
    return IOTD_OK;
}

/* Pass 1: the tags, in order, each with its (trimmed) name and line. */
static int tokenize(compiler *c)
{
    char open[TPL_MAX_DELIM_BYTES] = "{{", close[TPL_MAX_DELIM_BYTES] = "}}";
    size_t olen = 2, clen = 2, pos = 0;
    const char *s = c->src;
    uint32_t line = 1;

    while (pos < c->len) {
        const char *p = memmem(s + pos, c->len - pos, open, olen);
        if (!p)
            break;
        size_t ts = (size_t)(p - s), q = ts + olen;
        line += count_lines(s + pos, ts - pos);
        if (q >= c->len)
            return fail(c, line, "unclosed tag");
        token t = {0};
        t.kind = (uint8_t)tok_kind_for(s[q]);
        char pat[TPL_MAX_DELIM_BYTES + 1];
        size_t plen = 0;
        if (s[q] == '{' || s[q] == '=')
            pat[plen++] = s[q] == '{' ? '}' : '=';
        if (t.kind != TK_VAR)
            q++;
        memcpy(pat + plen, close, clen);
        plen += clen;
        const char *f = memmem(s + q, c->len - q, pat, plen);
        if (!f)
            return fail(c, line, "unclosed tag, expected '%.*s'", (int)plen, pat);
        size_t a = q, b = (size_t)(f - s);
        while (a < b && is_space(s[a]))
            a++;
        while (b > a && is_space(s[b - 1]))
            b--;
        t.start = (uint32_t)ts;
        t.end = (uint32_t)((size_t)(f - s) + plen);
        t.raw = t.name = (uint32_t)a;
        t.raw_len = t.name_len = (uint32_t)(b - a);
        t.line = line;
        t.cut = t.start;
        t.resume = t.end;
        if (t.kind == TK_DELIM) {
            if (set_delimiters(c, &t, open, &olen, close, &clen) != IOTD_OK)
                return IOTD_ERROR;
        } else if (t.kind != TK_COMMENT) {
            if ((t.kind == TK_PARTIAL || t.kind == TK_PARENT || t.kind == TK_CLOSE) && a < b && s[a] == '*') {
                t.dynamic = 1;
                for (a++; a < b && is_space(s[a]);)
                    a++;
                t.name = (uint32_t)a;
                t.name_len = (uint32_t)(b - a);
            }
            if (t.name_len == 0 || has_space(s + t.name, t.name_len))
                return fail(c, line, "invalid tag name '%.*s'", (int)t.raw_len, s + t.raw);
            if (t.name_len >= IOTD_TPL_MAX_NAME_BYTES)
                return fail(c, line, "tag name longer than %d bytes", IOTD_TPL_MAX_NAME_BYTES - 1);
        }
        if (push_token(c, &t) != IOTD_OK)
            return IOTD_ERROR;
        line += count_lines(s + ts, t.end - ts);
        pos = t.end;
    }
    return IOTD_OK;
}

static int is_opener(int kind)
{
    return kind == TK_SECTION || kind == TK_INVERTED || kind == TK_PARENT || kind == TK_BLOCK;
}

static int same_name(const compiler *c, const token *a, const token *b)
{
    if (a->raw_len == b->raw_len && memcmp(c->src + a->raw, c->src + b->raw, a->raw_len) == 0)
        return 1;
    return a->dynamic == b->dynamic && a->name_len == b->name_len &&
           memcmp(c->src + a->name, c->src + b->name, a->name_len) == 0;
}

/* Pass 2: every section, parent and block is closed, by a tag of the same name. */
static int match_sections(compiler *c)
{
    uint32_t stack[IOTD_TPL_MAX_NESTING];
    size_t sp = 0;
    for (size_t i = 0; i < c->ntoks; i++) {
        token *t = &c->toks[i];
        if (is_opener(t->kind)) {
            if (sp == IOTD_TPL_MAX_NESTING)
                return fail(c, t->line, "sections nested deeper than %d", IOTD_TPL_MAX_NESTING);
            stack[sp++] = (uint32_t)i;
        } else if (t->kind == TK_CLOSE) {
            if (sp == 0)
                return fail(c, t->line, "closing tag '%.*s' without an open section", (int)t->raw_len,
                            c->src + t->raw);
            token *o = &c->toks[stack[sp - 1]];
            if (!same_name(c, o, t))
                return fail(c, t->line, "closing tag '%.*s' does not match '%.*s' opened on line %u",
                            (int)t->raw_len, c->src + t->raw, (int)o->raw_len, c->src + o->raw, o->line);
            o->match = (uint32_t)i;
            t->match = stack[--sp];
            t->closes = o->kind;
        }
    }
    if (sp) {
        const token *o = &c->toks[stack[sp - 1]];
        return fail(c, o->line, "section '%.*s' is never closed", (int)o->raw_len, c->src + o->raw);
    }
    return IOTD_OK;
}

/* Parent and block tags may share a standalone line with their partners. */
static int inheritance_tag(const token *t)
{
    return t->kind == TK_PARENT || t->kind == TK_BLOCK ||
           (t->kind == TK_CLOSE && (t->closes == TK_PARENT || t->closes == TK_BLOCK));
}

/*
 * Pass 3: a line holding only whitespace and one non-interpolating tag (or a
 * run of adjacent parent/block tags) is standalone: its leading whitespace
 * and line ending are dropped. A block opened and closed on one line keeps
 * its line ending, since the line's content is the block's.
 */
static void mark_standalone(compiler *c)
{
    const char *s = c->src;
    size_t i = 0;
    while (i < c->ntoks) {
        size_t j = i;
        while (j + 1 < c->ntoks && c->toks[j + 1].start == c->toks[j].end)
            j++;
        int ok = 1;
        for (size_t k = i; k <= j && ok; k++) {
            const token *t = &c->toks[k];
            if (t->kind == TK_VAR || t->kind == TK_RAW || (j > i && !inheritance_tag(t)))
                ok = 0;
        }
        size_t ls = c->toks[i].start, prev_end = i ? c->toks[i - 1].end : 0;
        while (ok && ls > prev_end && is_blank(s[ls - 1]))
            ls--;
        if (ls != 0 && s[ls - 1] != '\n')
            ok = 0;
        size_t te = c->toks[j].end, next = j + 1 < c->ntoks ? c->toks[j + 1].start : c->len, nl_end = 0;
        while (ok && te < next && is_blank(s[te]))
            te++;
        if (te == c->len)
            nl_end = te;
        else if (te < next && s[te] == '\n')
            nl_end = te + 1;
        else if (te + 1 < next && s[te] == '\r' && s[te + 1] == '\n')
            nl_end = te + 2;
        else
            ok = 0;
        if (ok) {
            int block_pair = j == i + 1 && c->toks[i].kind == TK_BLOCK && c->toks[i].match == j;
            c->toks[i].cut = (uint32_t)ls;
            c->toks[j].resume = (uint32_t)(block_pair ? te : nl_end);
            for (size_t k = i; k <= j; k++)
                c->toks[k].standalone = 1;
        }
        i = j + 1;
    }
}

/* The longest whitespace prefix common to the non-blank lines in [from, to). */
static int common_indent(const char *s, size_t from, size_t to, uint32_t *start, uint32_t *len)
{
    int found = 0;
    size_t p = from;
    while (p < to) {
        size_t ws = p;
        while (ws < to && is_blank(s[ws]))
            ws++;
        const char *nl = memchr(s + p, '\n', to - p);
        size_t next = nl ? (size_t)(nl - s) + 1 : to;
        if (ws < to && s[ws] != '\n' && s[ws] != '\r') {
            if (!found) {
                *start = (uint32_t)p;
                *len = (uint32_t)(ws - p);
                found = 1;
            } else {
                uint32_t k = 0;
                while (k < *len && p + k < ws && s[*start + k] == s[p + k])
                    k++;
                *len = k;
            }
        }
        p = next;
    }
    return found;
}

/*
 * Pass 4: a standalone block's body is stored without its common indentation
 * and re-indented where it is expanded, so an override lines up with the
 * default it replaces ("Block indentation is removed at the site of
 * definition and added at the site of expansion").
 */
static void measure_blocks(compiler *c)
{
    for (size_t i = 0; i < c->ntoks; i++) {
        token *t = &c->toks[i];
        if (t->kind != TK_BLOCK || !t->standalone)
            continue;
        size_t from = t->resume > t->end ? t->resume : t->end;
        size_t to = c->toks[t->match].cut;
        if (from < to)
            t->has_prefix = (uint8_t)common_indent(c->src, from, to, &t->prefix, &t->prefix_len);
    }
}

static tpl_node *new_node(compiler *c, int kind)
{
    tpl_node *p = grow(c->nodes, &c->capnodes, c->nnodes + 1, sizeof *p);
    if (!p)
        return NULL;
    c->nodes = p;
    p = &c->nodes[c->nnodes++];
    memset(p, 0, sizeof *p);
    p->kind = (uint8_t)kind;
    return p;
}

/* Copies s into the pool with a terminating NUL; *off gets its offset. */
static int pool_str(compiler *c, const char *s, size_t len, uint32_t *off)
{
    *off = (uint32_t)c->pool.len;
    if (iotd_buf_append(&c->pool, s, len) != IOTD_OK || iotd_buf_putc(&c->pool, '\0') != IOTD_OK)
        return oom(c);
    return IOTD_OK;
}

/* A dotted name, split into pool strings: "a.b.c" -> a, b, c; "." -> no segments. */
static int set_path(compiler *c, size_t ni, const token *t)
{
    const char *s = c->src + t->name;
    size_t n = t->name_len;
    uint32_t first = (uint32_t)c->nsegs, count = 0;
    if (!(n == 1 && s[0] == '.')) {
        size_t a = 0;
        for (;;) {
            const char *dot = memchr(s + a, '.', n - a);
            size_t b = dot ? (size_t)(dot - s) : n;
            if (b == a)
                return fail(c, t->line, "invalid name '%.*s'", (int)n, s);
            uint32_t *p = grow(c->segs, &c->capsegs, c->nsegs + 1, sizeof *p);
            if (!p)
                return oom(c);
            c->segs = p;
            if (pool_str(c, s + a, b - a, &c->segs[c->nsegs]) != IOTD_OK)
                return IOTD_ERROR;
            c->nsegs++;
            count++;
            if (!dot)
                break;
            a = b + 1;
        }
    }
    c->nodes[ni].seg = first;
    c->nodes[ni].nseg = (uint16_t)count;
    return IOTD_OK;
}

/* Text between tags; strip drops that much indentation from each line start. */
static int emit_text(compiler *c, size_t from, size_t to, uint32_t strip)
{
    size_t off = c->pool.len;
    for (size_t p = from; p < to;) {
        if (strip && (p == 0 || c->src[p - 1] == '\n'))
            for (uint32_t k = 0; k < strip && p < to && is_blank(c->src[p]); k++)
                p++;
        const char *nl = memchr(c->src + p, '\n', to - p);
        size_t e = nl ? (size_t)(nl - c->src) + 1 : to;
        if (iotd_buf_append(&c->pool, c->src + p, e - p) != IOTD_OK)
            return oom(c);
        p = e;
    }
    if (c->pool.len == off)
        return IOTD_OK;
    tpl_node *n = new_node(c, N_TEXT);
    if (!n)
        return oom(c);
    n->str = (uint32_t)off;
    n->len = (uint32_t)(c->pool.len - off);
    return IOTD_OK;
}

/* The whitespace before a standalone tag, less the enclosing block's indentation. */
static int set_indent(compiler *c, size_t ni, const char *s, size_t len, uint32_t strip)
{
    size_t k = 0;
    while (k < strip && k < len && is_blank(s[k]))
        k++;
    uint32_t off;
    if (pool_str(c, s + k, len - k, &off) != IOTD_OK)
        return IOTD_ERROR;
    c->nodes[ni].indent = off;
    c->nodes[ni].indent_len = (uint32_t)(len - k);
    return IOTD_OK;
}

static int emit_tag(compiler *c, const token *t, uint32_t strip, uint32_t *inner_strip)
{
    static const uint8_t kinds[] = {
        [TK_VAR] = N_VAR,           [TK_RAW] = N_RAW,         [TK_SECTION] = N_SECTION,
        [TK_INVERTED] = N_INVERTED, [TK_PARTIAL] = N_PARTIAL, [TK_PARENT] = N_PARENT,
        [TK_BLOCK] = N_BLOCK,
    };
    size_t ni = c->nnodes;
    tpl_node *n = new_node(c, kinds[t->kind]);
    if (!n)
        return oom(c);
    *inner_strip = strip;
    if (t->standalone && (t->kind == TK_PARTIAL || t->kind == TK_PARENT || t->kind == TK_BLOCK))
        n->flags |= NF_STANDALONE;
    if (t->dynamic)
        n->flags |= NF_DYNAMIC;
    if (t->kind == TK_VAR || t->kind == TK_RAW || t->kind == TK_SECTION || t->kind == TK_INVERTED)
        return set_path(c, ni, t);
    if (t->dynamic) {
        if (set_path(c, ni, t) != IOTD_OK)
            return IOTD_ERROR;
    } else {
        uint32_t off;
        if (pool_str(c, c->src + t->name, t->name_len, &off) != IOTD_OK)
            return IOTD_ERROR;
        c->nodes[ni].str = off;
        c->nodes[ni].len = t->name_len;
    }
    if (!t->standalone)
        return IOTD_OK;
    if (t->kind == TK_BLOCK && t->has_prefix && t->prefix_len > strip) {
        *inner_strip = t->prefix_len;
        return set_indent(c, ni, c->src + t->prefix, t->prefix_len, strip);
    }
    if (t->kind == TK_BLOCK && t->has_prefix)
        *inner_strip = t->prefix_len;
    return set_indent(c, ni, c->src + t->cut, t->start - t->cut, strip);
}

/* Pass 5: the node array. */
static int emit_nodes(compiler *c)
{
    struct {
        uint32_t node;
        uint8_t kind;
        uint32_t strip;
    } stack[IOTD_TPL_MAX_NESTING] = {{0, 0, 0}};
    size_t sp = 0;
    uint32_t strip = 0;
    size_t text_from = 0;
    for (size_t i = 0; i < c->ntoks; i++) {
        const token *t = &c->toks[i];
        int in_parent = sp && stack[sp - 1].kind == TK_PARENT; /* text there is ignored */
        if (!in_parent && text_from < t->cut && emit_text(c, text_from, t->cut, strip) != IOTD_OK)
            return IOTD_ERROR;
        text_from = t->resume;
        if (t->kind == TK_COMMENT || t->kind == TK_DELIM)
            continue;
        if (t->kind == TK_CLOSE) {
            sp--;
            c->nodes[stack[sp].node].end = (uint32_t)c->nnodes;
            strip = stack[sp].strip;
            continue;
        }
        uint32_t node = (uint32_t)c->nnodes, inner = strip;
        if (emit_tag(c, t, strip, &inner) != IOTD_OK)
            return IOTD_ERROR;
        if (is_opener(t->kind)) {
            stack[sp].node = node;
            stack[sp].kind = t->kind;
            stack[sp].strip = strip;
            sp++;
            strip = inner;
        }
    }
    if (text_from < c->len)
        return emit_text(c, text_from, c->len, strip);
    return IOTD_OK;
}

static tpl *compile(const char *name, const char *src, size_t len, char *err, size_t errlen)
{
    compiler c = {.tname = name, .src = src, .len = len, .err = err, .errlen = errlen};
    iotd_buf_init(&c.pool, 0);
    tpl *t = NULL;
    int rc = iotd_buf_putc(&c.pool, '\0') == IOTD_OK ? IOTD_OK : oom(&c);
    if (rc == IOTD_OK)
        rc = tokenize(&c);
    if (rc == IOTD_OK)
        rc = match_sections(&c);
    if (rc == IOTD_OK) {
        mark_standalone(&c);
        measure_blocks(&c);
        rc = emit_nodes(&c);
    }
    if (rc == IOTD_OK && (c.nnodes > UINT32_MAX / 2 || c.pool.len > UINT32_MAX / 2))
        rc = fail(&c, 0, "template too large");
    if (rc == IOTD_OK && ((t = calloc(1, sizeof *t)) == NULL || (t->name = strdup(name)) == NULL)) {
        rc = oom(&c);
        free(t);
        t = NULL;
    }
    free(c.toks);
    if (rc != IOTD_OK) {
        iotd_buf_free(&c.pool);
        free(c.nodes);
        free(c.segs);
        return NULL;
    }
    t->pool = iotd_buf_detach(&c.pool, NULL);
    t->nodes = c.nodes;
    t->segs = c.segs;
    t->nnodes = (uint32_t)c.nnodes;
    return t;
}

/* ---- the set ---- */

iotd_tpl_set *iotd_tpl_set_new(void)
{
    return calloc(1, sizeof(iotd_tpl_set));
}

void iotd_tpl_set_free(iotd_tpl_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        tpl_free(set->items[i]);
    free(set->items);
    free(set);
}

/* Index of name in the sorted set, or where it would go; *found says which. */
static size_t set_pos(const iotd_tpl_set *set, const char *name, int *found)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(set->items[mid]->name, name);
        if (cmp == 0) {
            *found = 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static const tpl *set_find(const iotd_tpl_set *set, const char *name)
{
    int found;
    size_t i = set_pos(set, name, &found);
    return found ? set->items[i] : NULL;
}

int iotd_tpl_set_has(const iotd_tpl_set *set, const char *name)
{
    return set && name && set_find(set, name) != NULL;
}

int iotd_tpl_set_add(iotd_tpl_set *set, const char *name, const char *src, size_t len, char *err,
                     size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen >= IOTD_TPL_MAX_NAME_BYTES) {
        if (errlen)
            snprintf(err, errlen, "template name empty or longer than %d bytes", IOTD_TPL_MAX_NAME_BYTES - 1);
        return IOTD_ERROR;
    }
    if (len > IOTD_MAX_TEMPLATE_BYTES || (!src && len)) {
        if (errlen)
            snprintf(err, errlen, "%s: larger than %d bytes", name, IOTD_MAX_TEMPLATE_BYTES);
        return IOTD_ERROR;
    }
    tpl *t = compile(name, src ? src : "", len, err, errlen);
    if (!t)
        return IOTD_ERROR;
    int found;
    size_t i = set_pos(set, name, &found);
    if (found) {
        tpl_free(set->items[i]);
        set->items[i] = t;
        return IOTD_OK;
    }
    tpl **items = grow(set->items, &set->cap, set->n + 1, sizeof *items);
    if (!items) {
        tpl_free(t);
        if (errlen)
            snprintf(err, errlen, "%s: out of memory", name);
        return IOTD_ERROR;
    }
    set->items = items;
    memmove(&items[i + 1], &items[i], (set->n - i) * sizeof *items);
    items[i] = t;
    set->n++;
    return IOTD_OK;
}

static int load_file(iotd_tpl_set *set, const char *path, const char *name, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return IOTD_ERROR;
    }
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int rc = IOTD_ERROR;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = IOTD_DECLINED; /* a directory or device named *.mustache: not a template */
    } else if (st.st_size > IOTD_MAX_TEMPLATE_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, IOTD_MAX_TEMPLATE_BYTES);
    } else if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
    } else {
        ssize_t r;
        while ((r = read(fd, data + len, (size_t)st.st_size + 1 - len)) > 0 &&
               len + (size_t)r <= (size_t)st.st_size)
            len += (size_t)r;
        if (r < 0)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        else if (r > 0)
            snprintf(err, errlen, "%s: changed while being read", path);
        else
            rc = iotd_tpl_set_add(set, name, data, len, err, errlen);
    }
    free(data);
    close(fd);
    return rc;
}

/* Adds DIR/NAME.mustache as PREFIX NAME. */
static int load_one_dir(iotd_tpl_set *set, const char *dir, const char *prefix, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return IOTD_ERROR;
    }
    const size_t extlen = sizeof TPL_EXT - 1;
    int rc = IOTD_OK;
    struct dirent *e;
    while (rc == IOTD_OK && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= extlen || strcmp(e->d_name + n - extlen, TPL_EXT) != 0)
            continue;
        char path[4096], name[IOTD_TPL_MAX_NAME_BYTES];
        int pn = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int nn = snprintf(name, sizeof name, "%s%.*s", prefix, (int)(n - extlen), e->d_name);
        if (pn < 0 || (size_t)pn >= sizeof path || nn < 0 || (size_t)nn >= sizeof name) {
            snprintf(err, errlen, "%s/%s: path or template name too long", dir, e->d_name);
            rc = IOTD_ERROR;
            break;
        }
        rc = load_file(set, path, name, err, errlen);
        if (rc == IOTD_DECLINED)
            rc = IOTD_OK;
    }
    closedir(d);
    return rc;
}

int iotd_tpl_set_load_dir(iotd_tpl_set *set, const char *dir, char *err, size_t errlen)
{
    char scratch[256];
    if (!errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (load_one_dir(set, dir, "", err, errlen) != IOTD_OK)
        return IOTD_ERROR;
    char sub[4096];
    struct stat st;
    int n = snprintf(sub, sizeof sub, "%s/partials", dir);
    if (n < 0 || (size_t)n >= sizeof sub || stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
        return IOTD_OK;
    return load_one_dir(set, sub, "partials/", err, errlen);
}

/* ---- rendering ---- */

typedef struct ctx_frame {
    json_object *val;
    const struct ctx_frame *up;
} ctx_frame;

typedef struct renderer {
    const iotd_tpl_set *set;
    iotd_buf *out;
    int depth;
    int bol;     /* the output is at the start of a line: indentation is due */
    int nindent; /* indentation of the standalone partials/blocks being rendered */
    int nparents;
    const char *indent[IOTD_TPL_MAX_DEPTH];
    uint32_t indent_len[IOTD_TPL_MAX_DEPTH];
    struct {
        const tpl *t;
        uint32_t node; /* a parent tag whose blocks override, outermost first */
    } parents[IOTD_TPL_MAX_DEPTH];
} renderer;

static int render_range(renderer *r, const tpl *t, uint32_t from, uint32_t to, const ctx_frame *ctx);

/* The spec's name resolution: the first segment up the context stack, the rest strictly. */
static json_object *lookup(const tpl *t, const tpl_node *n, const ctx_frame *f)
{
    if (n->nseg == 0)
        return f->val;
    json_object *v = NULL;
    const char *key = t->pool + t->segs[n->seg];
    while (f &&
           !(json_object_is_type(f->val, json_type_object) && json_object_object_get_ex(f->val, key, &v)))
        f = f->up;
    if (!f)
        return NULL;
    for (uint32_t k = 1; k < n->nseg; k++)
        if (!json_object_is_type(v, json_type_object) ||
            !json_object_object_get_ex(v, t->pool + t->segs[n->seg + k], &v))
            return NULL;
    return v;
}

static int truthy(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean: return json_object_get_boolean(v);
    case json_type_int: return json_object_get_int64(v) != 0;
    case json_type_double: return json_object_get_double(v) != 0.0;
    case json_type_string: return json_object_get_string_len(v) > 0;
    case json_type_array: return json_object_array_length(v) > 0;
    case json_type_object: return 1;
    default: return 0;
    }
}

/* A scalar as text: strings as they are, numbers as JSON writes them, null/false as "". */
static const char *value_text(json_object *v, char *num, size_t *len)
{
    int n = 0;
    switch (json_object_get_type(v)) {
    case json_type_string: *len = (size_t)json_object_get_string_len(v); return json_object_get_string(v);
    case json_type_int: n = snprintf(num, TPL_NUM_BYTES, "%" PRId64, json_object_get_int64(v)); break;
    case json_type_double: {
        double d = json_object_get_double(v);
        n = snprintf(num, TPL_NUM_BYTES, "%.15g", d);
        if (strtod(num, NULL) != d)
            n = snprintf(num, TPL_NUM_BYTES, "%.17g", d);
        break;
    }
    case json_type_boolean: n = json_object_get_boolean(v) ? snprintf(num, TPL_NUM_BYTES, "true") : 0; break;
    default: break; /* null, and objects and arrays, which have no text form here */
    }
    *len = n > 0 ? (size_t)n : 0;
    return num;
}

static int put_indent(renderer *r)
{
    r->bol = 0;
    for (int k = 0; k < r->nindent; k++)
        if (iotd_buf_append(r->out, r->indent[k], r->indent_len[k]) != IOTD_OK)
            return IOTD_ERROR;
    return IOTD_OK;
}

static int put_value(renderer *r, json_object *v, int escape)
{
    char num[TPL_NUM_BYTES];
    size_t len;
    const char *s = value_text(v, num, &len);
    if (len == 0)
        return IOTD_OK;
    if (r->bol && r->nindent && put_indent(r) != IOTD_OK)
        return IOTD_ERROR;
    r->bol = 0;
    return escape ? iotd_buf_append_html(r->out, s, len) : iotd_buf_append(r->out, s, len);
}

/* Template text; under a standalone partial each non-empty line gets the indentation. */
static int put_text(renderer *r, const char *s, size_t len)
{
    if (!r->nindent) {
        r->bol = s[len - 1] == '\n';
        return iotd_buf_append(r->out, s, len);
    }
    while (len) {
        const char *nl = memchr(s, '\n', len);
        size_t n = nl ? (size_t)(nl - s) + 1 : len;
        int empty = s[0] == '\n' || (n == 2 && s[0] == '\r');
        if (r->bol && !empty && put_indent(r) != IOTD_OK)
            return IOTD_ERROR;
        if (iotd_buf_append(r->out, s, n) != IOTD_OK)
            return IOTD_ERROR;
        r->bol = s[n - 1] == '\n';
        s += n;
        len -= n;
    }
    return IOTD_OK;
}

/* Renders nodes [from, to) of t one level deeper; site (a node of site_t) supplies indentation. */
static int nested(renderer *r, const tpl *t, uint32_t from, uint32_t to, const ctx_frame *ctx,
                  const tpl *site_t, const tpl_node *site)
{
    if (r->depth >= IOTD_TPL_MAX_DEPTH)
        return IOTD_ERROR;
    int indented = 0;
    if (site && (site->flags & NF_STANDALONE)) {
        r->bol = 1;
        if (site->indent_len) {
            r->indent[r->nindent] = site_t->pool + site->indent;
            r->indent_len[r->nindent] = site->indent_len;
            r->nindent++;
            indented = 1;
        }
    }
    r->depth++;
    int rc = render_range(r, t, from, to, ctx);
    r->depth--;
    r->nindent -= indented;
    return rc;
}

static int render_section(renderer *r, const tpl *t, uint32_t i, const ctx_frame *ctx)
{
    const tpl_node *n = &t->nodes[i];
    json_object *v = lookup(t, n, ctx);
    ctx_frame f = {v, ctx};
    if (!json_object_is_type(v, json_type_array))
        return truthy(v) ? nested(r, t, i + 1, n->end, &f, NULL, NULL) : IOTD_OK;
    size_t count = json_object_array_length(v);
    for (size_t k = 0; k < count; k++) {
        f.val = json_object_array_get_idx(v, k);
        if (nested(r, t, i + 1, n->end, &f, NULL, NULL) != IOTD_OK)
            return IOTD_ERROR;
    }
    return IOTD_OK;
}

/* The template a partial or parent tag names, static or looked up ({{>*name}}); NULL if none. */
static const tpl *named_template(renderer *r, const tpl *t, const tpl_node *n, const ctx_frame *ctx)
{
    if (!(n->flags & NF_DYNAMIC))
        return set_find(r->set, t->pool + n->str);
    json_object *v = lookup(t, n, ctx);
    if (json_object_is_type(v, json_type_string))
        return set_find(r->set, json_object_get_string(v));
    char num[TPL_NUM_BYTES];
    size_t len;
    const char *s = value_text(v, num, &len);
    return len ? set_find(r->set, s) : NULL;
}

static int render_parent(renderer *r, const tpl *t, uint32_t i, const ctx_frame *ctx)
{
    const tpl *p = named_template(r, t, &t->nodes[i], ctx);
    if (!p)
        return IOTD_OK;
    if (r->nparents >= IOTD_TPL_MAX_DEPTH)
        return IOTD_ERROR;
    r->parents[r->nparents].t = t;
    r->parents[r->nparents].node = i;
    r->nparents++;
    int rc = nested(r, p, 0, p->nnodes, ctx, t, &t->nodes[i]);
    r->nparents--;
    return rc;
}

static int has_body(const tpl_node *n)
{
    return n->kind == N_SECTION || n->kind == N_INVERTED || n->kind == N_PARENT || n->kind == N_BLOCK;
}

/* A block renders the outermost parent tag's override of that name, else its own body. */
static int render_block(renderer *r, const tpl *t, uint32_t i, const ctx_frame *ctx)
{
    const tpl_node *n = &t->nodes[i];
    const char *name = t->pool + n->str;
    for (int k = 0; k < r->nparents; k++) {
        const tpl *pt = r->parents[k].t;
        const tpl_node *parent = &pt->nodes[r->parents[k].node];
        for (uint32_t j = r->parents[k].node + 1; j < parent->end;) {
            const tpl_node *b = &pt->nodes[j];
            if (b->kind == N_BLOCK && strcmp(pt->pool + b->str, name) == 0)
                return nested(r, pt, j + 1, b->end, ctx, t, n);
            j = has_body(b) ? b->end : j + 1;
        }
    }
    return nested(r, t, i + 1, n->end, ctx, t, n);
}

static int render_range(renderer *r, const tpl *t, uint32_t from, uint32_t to, const ctx_frame *ctx)
{
    for (uint32_t i = from; i < to;) {
        const tpl_node *n = &t->nodes[i];
        int rc = IOTD_OK;
        switch (n->kind) {
        case N_TEXT: rc = put_text(r, t->pool + n->str, n->len); break;
        case N_VAR: rc = put_value(r, lookup(t, n, ctx), 1); break;
        case N_RAW: rc = put_value(r, lookup(t, n, ctx), 0); break;
        case N_SECTION: rc = render_section(r, t, i, ctx); break;
        case N_INVERTED:
            if (!truthy(lookup(t, n, ctx)))
                rc = nested(r, t, i + 1, n->end, ctx, NULL, NULL);
            break;
        case N_PARTIAL: {
            const tpl *p = named_template(r, t, n, ctx);
            if (p)
                rc = nested(r, p, 0, p->nnodes, ctx, t, n);
            break;
        }
        case N_PARENT: rc = render_parent(r, t, i, ctx); break;
        case N_BLOCK: rc = render_block(r, t, i, ctx); break;
        }
        if (rc != IOTD_OK)
            return rc;
        i = has_body(n) ? n->end : i + 1;
    }
    return IOTD_OK;
}

int iotd_tpl_render(const iotd_tpl_set *set, const char *name, json_object *ctx, iotd_buf *out)
{
    const tpl *t = set && name ? set_find(set, name) : NULL;
    if (!t)
        return IOTD_DECLINED;
    renderer r;
    r.set = set;
    r.out = out;
    r.depth = 0;
    r.bol = 1;
    r.nindent = 0;
    r.nparents = 0;
    ctx_frame root = {ctx, NULL};
    /* make sure out is a valid C string even when the template renders nothing */
    if (iotd_buf_reserve(out, 0) != IOTD_OK)
        return IOTD_ERROR;
    out->data[out->len] = '\0';
    return render_range(&r, t, 0, t->nnodes, &root);
}
