/* tmpl.h - HTML templates with escaping by default (prefix tpl_).
 *
 * No C template library with context-aware escaping is packaged in Debian, so
 * this is our own, small and fuzzed (tests/fuzz/fuzz_tmpl.c).
 *
 * Templates are parsed once at load into an op list; data is a jansson value.
 * Syntax (whitespace inside tags is ignored):
 *   {{ a.b }}            value, HTML-escaped (text and quoted attributes)
 *   {{ a | url }}        value percent-encoded as a URL component (query values)
 *   {{ a | href }}       a whole URL for href/src: unsafe schemes become "#"
 *   {{ a | json }}       value as JSON for <script type="application/json">
 *   {{#if a}} .. {{else}} .. {{/if}}   truthy: not null/false/0/""/[]/{}
 *   {{#unless a}} .. {{/unless}}
 *   {{#each a}} .. {{else}} .. {{/each}}  over an array (or object values);
 *                        inside, "." is the item, "@index" (0-based),
 *                        "@number" (1-based), "@first", "@last";
 *                        names resolve on the item first, then outward
 *   {{> name}}           include another template of the set (a partial)
 *   {{layout "name"}}    first tag only: render this template, then render
 *                        layout "name" with the result placed at {{yield}}
 *   {{yield}}            only meaningful in a layout
 *   {{! comment }}
 * There is no way to output a data value unescaped. Numbers print as
 * integers when integral; true/false print as "true"/"false"; null prints as "".
 *
 * Details:
 * - Names: a path is "." or segments of [A-Za-z0-9_-] joined by "."; a
 *   segment of digits also indexes an array ("items.0.title"). The first
 *   segment is looked up in the innermost {{#each}} item, then in each outer
 *   item, then in the root data; the rest of the path only inside what was
 *   found. A missing value prints as "" and is falsy. Arrays and objects print
 *   as "" (use | json). "@key" is the current key when {{#each}} walks an
 *   object. The @ names outside an {{#each}} are missing.
 * - Template names in {{> name}} and {{layout "name"}} use [A-Za-z0-9_./-].
 * - "else", "yield" and "layout" are tag words; {{else.x}} is still a path.
 *   A literal "{{" cannot appear in template text.
 * - Whitespace: text is copied exactly as written, including the newlines
 *   around block tags standing alone on a line; nothing is stripped. HTML
 *   does not mind; for text/plain output write tags inline.
 * - Comments end at the first "}}".
 * - Because lookup goes outward, a recursive partial over a tree needs every
 *   node to carry the key it recurses on ("kids": [] on leaves); otherwise a
 *   leaf finds its parent's list and the recursion ends in the depth error.
 * - Partials see the data and scope of the place they are included from. A
 *   template with {{layout}} is wrapped in its layout wherever it is rendered,
 *   also as a partial. {{yield}} in a partial included by a layout works.
 * - At most 16 templates are in progress at once (each partial, layout and
 *   yield counts one): deeper is a render error, which stops recursion.
 *   Blocks nest at most 64 deep inside one template (a load error).
 * - A render stops with an error after a number of steps (ops executed plus
 *   loop iterations) or bytes of output, set with tpl_limits(): a guard
 *   against a runaway template, far above what a real page needs. */
#ifndef PORTAL_TMPL_H
#define PORTAL_TMPL_H
#include <stddef.h>
#include <jansson.h>
#include "buf.h"

typedef struct tpl_set tpl_set;

/* New empty set. */
tpl_set *tpl_new(void);
void tpl_free(tpl_set *s);
/* Parse src[0..n) as template name and add it to the set (replacing a
 * previous one of that name). Returns 0, or -1 with "name:line: problem" in err.
 * On error the set is unchanged. */
int tpl_add(tpl_set *s, const char *name, const char *src, size_t n, char *err, size_t errlen);
/* Load every *.html file of dir (name = file name without .html). Returns the
 * number loaded, or -1 with a message in err. Checks that every partial and
 * layout referenced exists. On error the set may hold some of the files:
 * discard it. */
int tpl_load_dir(tpl_set *s, const char *dir, char *err, size_t errlen);
/* Check that references (partials, layouts) resolve and that no chain of
 * layouts is circular. 0 or -1 with err. */
int tpl_check(tpl_set *s, char *err, size_t errlen);
/* Render template name with data into out. Returns 0, or -1 with err (unknown
 * template, include depth over 16). out may hold partial output on error. */
int tpl_render(tpl_set *s, const char *name, json_t *data, buf *out, char *err, size_t errlen);
/* 1 if the set has a template of that name. */
int tpl_has(tpl_set *s, const char *name);
/* Per-render guards of the set: at most max_steps steps and max_out bytes of
 * output per tpl_render call; 0 keeps the current value. Defaults: 16 million
 * steps, 64 MiB. */
void tpl_limits(tpl_set *s, size_t max_steps, size_t max_out);
/* Parse the NUL-terminated src as one template (named "string") and render it
 * with data into out: for tests and the fuzzer. Returns 0, or -1 with err
 * (load or render error). Partials other than itself are not found. */
int tpl_render_string(const char *src, json_t *data, buf *out, char *err, size_t errlen);

#endif
