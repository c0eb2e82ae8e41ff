/* sandbox.h - one Lua state per plugin, built from an allowlist (prefix sbx_).
 *
 * The checklist of ../shared/design/PLUGINS.md, item by item:
 *  1 one state per plugin per worker: sbx_new() is called once per plugin;
 *  2 the environment is built from an allowlist: no io, package, debug, load,
 *    loadfile, dofile, string.dump, collectgarbage, rawset/rawget/rawequal on
 *    host tables, setmetatable only on the plugin's own tables; os has only
 *    time, clock, date; require() loads only the plugin's own .lua files;
 *  3 text chunks only (luaL_loadbufferx mode "t");
 *  4 host tables are read-only proxies; the string metatable is protected;
 *  5 CPU: an instruction-count hook checks a deadline per call and, once
 *    past it, keeps raising so pcall cannot swallow it; string.rep and
 *    string.format widths are capped since the hook does not fire inside C;
 *  6 memory: a counting allocator with a cap per state; each time the cap is
 *    hit is counted so the host can disable a plugin that keeps hitting it;
 *  7 no secrets: the state never sees conf, the DB handle or other requests;
 *  8 host functions check their arguments (luaL_check*). */
#ifndef PORTAL_SANDBOX_H
#define PORTAL_SANDBOX_H
#include <stddef.h>
#include <lua.h>

typedef struct sbx sbx;

typedef struct sbx_limits {
	size_t mem_max;          /* bytes per state */
	double cpu_ms;           /* budget of one call (load, route, hook) */
	size_t rep_max;          /* largest string string.rep may build */
} sbx_limits;

/* A new sandboxed state. root is the plugin folder (require() resolves
 * "a.b" to root/a/b.lua only). NULL on failure. */
sbx *sbx_new(const sbx_limits *lim, const char *root);
void sbx_free(sbx *s);
lua_State *sbx_L(sbx *s);
/* Push the sandbox environment table (globals the plugin sees). */
void sbx_push_env(sbx *s);
/* Load file (relative to root) as a text chunk with the sandbox env and run it
 * under the CPU budget; leaves nresults on the stack. 0, or -1 with a message
 * (with traceback) in err. */
int sbx_dofile(sbx *s, const char *rel, int nresults, char *err, size_t errlen);
/* Load a string chunk (text only) with the sandbox env. 0 or -1 with err. */
int sbx_loadstring(sbx *s, const char *src, size_t n, const char *name, char *err, size_t errlen);
/* Call the function below nargs arguments on the stack under the CPU budget
 * (lua_pcall with a traceback handler). 0, or -1 with "message\ntraceback". */
int sbx_call(sbx *s, int nargs, int nresults, char *err, size_t errlen);
/* Run f in protected mode (lua_pcall) with ud as its first argument (a
 * light userdata) and the nargs values at the top of the stack (which it
 * takes) after it. Every host step that pushes data into the state or reads a
 * plugin's values must run this way (or inside sbx_call): an error outside
 * a protected call, "not enough memory" above all, makes Lua abort the
 * whole worker. Not under the CPU budget (host work); an sbx_call made
 * inside f is. Either way the stack is then as it was without the nargs
 * values; after a failure the garbage of the half-done step is collected.
 * 0, or -1 with the message
 * ("not enough memory" when the memory cap stopped it) in err. */
int sbx_protect(sbx *s, lua_CFunction f, void *ud, int nargs, char *err, size_t errlen);
/* Inside sbx_protect: on = the host is now pushing data of its own (a
 * request, a hook payload): allocations that fail then are an error of the
 * step but do not count as the plugin hitting its memory cap (which is
 * about the plugin's own allocating). sbx_protect resets it on return. */
void sbx_quiet(sbx *s, int on);
/* The log budget of print() and portal.log: 1 when a line of bytes may be
 * written now; 0 when it is to be dropped (per call: 100 lines or 32 KiB;
 * per minute in this state: 600 lines or 256 KiB). The first line cut of
 * a call or minute writes a "plugin log output cut" line instead. */
int sbx_log_allow(lua_State *L, size_t bytes);
/* Milliseconds left of the budget of the call in progress, -1 outside any
 * call. When it is spent this raises the budget error instead (as the
 * count hook would), so the result is always > 0 or -1. */
double sbx_budget_left(lua_State *L);
/* Mark the budget of the call in progress as spent (time the host waited
 * for on the plugin's behalf ran out: a database statement it stopped):
 * from the next instruction on, everything raises until the call returns. */
void sbx_expire(lua_State *L);
/* Move the deadline of the call in progress ms later: time the host spent
 * on the plugin's behalf in one C function (hashing a password), not the
 * plugin's own running. No effect outside a call. */
void sbx_extend(sbx *s, double ms);
/* Bytes in use, the cap, and the number of calls that hit the memory cap. */
size_t sbx_mem_max(const sbx *s);
size_t sbx_mem(const sbx *s);
unsigned sbx_mem_hits(const sbx *s);
/* Times a call ran out of its CPU budget. */
unsigned sbx_cpu_hits(const sbx *s);
/* Make the table at the top of the stack a read-only proxy of itself
 * (replaces it on the stack). Reading works, pairs() works through __pairs,
 * writing raises "read-only". Nested tables are proxied too. */
void sbx_readonly(lua_State *L);

#endif
