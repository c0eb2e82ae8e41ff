/* luajson.h - Lua values <-> jansson values (prefix lj_).
 * Used to hand request data to plugins and to take template data, JSON
 * responses and hook payloads back. */
#ifndef PORTAL_LUAJSON_H
#define PORTAL_LUAJSON_H
#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* Push v as a Lua value: objects and arrays become tables, null becomes nil
 * (inside a table the key is then absent), integers stay integers. */
void lj_push(lua_State *L, json_t *v);
/* About how many bytes of Lua memory lj_push(v) takes (tables, their slots,
 * strings; a slight overestimate on 64-bit Lua 5.4), to refuse a value that
 * cannot fit before spending the time to push it. Counting stops once it
 * passes limit (the result is then > limit). */
size_t lj_push_cost(json_t *v, size_t limit);
/* The Lua value at idx as JSON (new reference). A table whose keys are exactly
 * 1..n is an array, an empty table is an empty object unless array_empty; other
 * tables are objects (keys must be strings or integers, integers become
 * strings). Functions, userdata, threads, cycles, non-finite numbers and nesting
 * deeper than 32 are errors: NULL with a message in err. */
json_t *lj_to_json(lua_State *L, int idx, char *err, size_t errlen);

#endif
