/* sandbox.c - Lua states for plugins, built from an allowlist.
 * The checklist this answers is in sandbox.h.
 *
 * The CPU budget is enforced at three places, because the count hook only
 * fires between Lua instructions: the hook itself; the allocator (every few
 * MiB a single instruction or C function allocates, the clock is read); and
 * the library functions whose loops run in C for as long as their arguments
 * say (pattern matching, table.insert/remove/move/concat/sort, string.rep
 * and the functions that scan long strings), which are replaced here by
 * versions that check the budget as they go. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif
#include "sandbox.h"
#include "log.h"
#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SBX_HOOK_EVERY 1000          /* instructions between deadline checks */
#define SBX_MAX_FILE (1u << 20)      /* largest plugin source file */
#define SBX_TICK_EVERY 1024u         /* loop iterations in C between deadline checks (power of 2) */
#define SBX_WORK_CHECK (1u << 20)    /* bytes scanned in C between deadline checks */
#define SBX_ALLOC_CHECK (4u << 20)   /* bytes allocated between deadline checks */
#define SBX_OUTSIDE_CHECKS 1000      /* checks allowed to Lua code run outside sbx_call */
/* The log budget of a plugin (print and portal.log): lines and bytes per
 * call, and per minute in each worker's state. A loop of print() wrote
 * 116 MiB in one request before; now the excess is dropped and the log
 * says so (once per call, once per minute). */
#define SBX_LOG_CALL_LINES 100
#define SBX_LOG_CALL_BYTES (32u << 10)
#define SBX_LOG_MIN_LINES 600
#define SBX_LOG_MIN_BYTES (256u << 10)

struct sbx {
	lua_State *L;
	size_t mem, mem_max;
	unsigned mem_hits;           /* calls (or host steps outside calls) that hit the cap */
	int mem_hit;                 /* the cap was hit during the current call or host step */
	int quiet;                   /* a host push: refused allocations are not counted as hits */
	int protect;                 /* nested sbx_protect depth */
	double cpu_ms, deadline;     /* deadline in monotonic ms; 0 = not in a call */
	int depth;                   /* nested sbx_call depth */
	int expired;                 /* the budget is spent: everything raises until the call returns */
	unsigned cpu_hits;
	unsigned ticks;              /* C loop iterations (sbx_tick) */
	unsigned outside;            /* checks since the last call (Lua run by the host outside calls) */
	size_t work;                 /* bytes scanned in C since the last check */
	size_t grown;                /* bytes allocated since the last check */
	size_t rep_max;
	char root[PATH_MAX];
	char rroot[PATH_MAX];        /* root with symlinks resolved */
	char name[64];
	int env_ref;
	/* the log budget (sbx_log_allow) */
	unsigned log_lines, log_dropped;     /* this call */
	size_t log_bytes;
	long log_minute;                     /* the minute (epoch / 60) counted below */
	unsigned min_lines, min_dropped;
	size_t min_bytes;
};

static double sbx_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static sbx *sbx_of(lua_State *L)
{
	return *(sbx **)lua_getextraspace(L);
}

/* ---- the CPU budget ---- */

static void sbx_hook(lua_State *L, lua_Debug *ar);

/* Raise the budget error. From now on every instruction of this thread
 * raises too (count hook of 1), so a pcall that swallowed the error gets no
 * further than its next instruction; sbx_call resets it. */
static int sbx_stop(lua_State *L, sbx *s)
{
	lua_sethook(L, sbx_hook, LUA_MASKCOUNT, 1);
	if (s->depth == 0)
		return luaL_error(L, "plugin code ran too long outside a plugin call");
	return luaL_error(L, "CPU budget of %d ms exceeded", (int)s->cpu_ms);
}

/* Raise if the budget is spent. Inside sbx_call that is the deadline. Lua
 * code the host runs outside any call (say a metamethod of a table a plugin
 * returned) has no deadline; it gets SBX_OUTSIDE_CHECKS checks (about a
 * million instructions) until the next call instead of running forever. */
static void sbx_check(lua_State *L)
{
	sbx *s = sbx_of(L);
	if (!s->expired && (s->depth > 0 ? sbx_now() > s->deadline : ++s->outside > SBX_OUTSIDE_CHECKS)) {
		s->cpu_hits++;
		s->expired = 1;
	}
	if (s->expired)
		sbx_stop(L, s);
}

/* One iteration of a loop in C whose length the plugin controls. */
static void sbx_tick(lua_State *L)
{
	sbx *s = sbx_of(L);
	if ((++s->ticks & (SBX_TICK_EVERY - 1)) == 0)
		sbx_check(L);
}

/* bytes of string about to be scanned in C. */
static void sbx_charge(lua_State *L, size_t bytes)
{
	sbx *s = sbx_of(L);
	s->work += bytes;
	if (s->work >= SBX_WORK_CHECK) {
		s->work = 0;
		sbx_check(L);
	}
}

/* Count hook: check the budget every SBX_HOOK_EVERY instructions; put back
 * that interval on a thread left at 1 by an earlier stop or by the allocator. */
static void sbx_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	sbx_check(L);
	if (lua_gethookcount(L) != SBX_HOOK_EVERY)
		lua_sethook(L, sbx_hook, LUA_MASKCOUNT, SBX_HOOK_EVERY);
}

/* The counting allocator: refuses growth past mem_max (Lua then raises
 * "not enough memory", which the plugin cannot allocate its way around).
 * During a call it also reads the clock every SBX_ALLOC_CHECK bytes, since
 * one instruction (a concatenation) or C function can copy megabytes; past
 * the deadline the next instruction raises (lua_sethook is safe anywhere). */
static void *sbx_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	sbx *s = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		s->mem -= old;
		return NULL;
	}
	if (nsize > old && s->mem + (nsize - old) > s->mem_max) {
		/* one bomb makes many refused allocations (Lua collects and
		 * retries); count the calls (and protected host steps) that
		 * hit the cap, not those. A host push of a client's data (a
		 * request body) is not the plugin's doing: not counted. */
		if (!s->quiet && (!s->mem_hit || (s->depth == 0 && s->protect == 0)))
			s->mem_hits++;
		s->mem_hit = 1;
		return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	s->mem = s->mem - old + nsize;
	if (nsize > old && s->deadline > 0 && (s->grown += nsize - old) >= SBX_ALLOC_CHECK) {
		s->grown = 0;
		if (!s->expired && sbx_now() > s->deadline) {
			s->cpu_hits++;
			s->expired = 1;
		}
		if (s->expired)
			lua_sethook(s->L, sbx_hook, LUA_MASKCOUNT, 1);
	}
	return p;
}

/* An error raised where nothing catches it (host code touching plugin
 * values outside a protected call): Lua aborts the process after this;
 * say which plugin did it first. */
static int sbx_panic(lua_State *L)
{
	sbx *s = sbx_of(L);
	char q[600];
	log_err("plugin error outside a protected call", "plugin=%s error=%s", s->name,
	        log_quote(q, sizeof q, lua_tostring(L, -1)));
	return 0;
}

/* ---- replaced base and string functions ---- */

/* string.rep with a cap on the result: the count hook does not fire inside
 * C. An empty result is made here: Lua's own rep would still loop n times. */
static int sbx_rep(lua_State *L)
{
	sbx *s = sbx_of(L);
	size_t l, lsep = 0;
	luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (n <= 0 || l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	double total = (double)l * (double)n + (double)lsep * (double)(n - 1);
	if (total > (double)s->rep_max) {
		char msg[128];                   /* lua_pushfstring knows no %.0f */
		snprintf(msg, sizeof msg, "string.rep result too large (%.0f bytes, limit %zu)", total, s->rep_max);
		return luaL_error(L, "%s", msg);
	}
	sbx_charge(L, (size_t)total);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* A library function (upvalue 1) whose work in C grows with the length of
 * its string arguments: charge those bytes to the budget, then call it. */
static int sbx_metered(lua_State *L)
{
	int n = lua_gettop(L);
	size_t bytes = 0;
	for (int i = 1; i <= n; i++)
		if (lua_type(L, i) == LUA_TSTRING)
			bytes += lua_rawlen(L, i);
	sbx_charge(L, bytes);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	return lua_gettop(L);
}

/* setmetatable (upvalue 1) without __gc: a finalizer runs whenever the
 * collector gets to it, often outside any call and its budget, and at
 * lua_close. The field counts when the metatable is set (as in Lua), so
 * adding it later has no effect. */
static int sbx_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc is not available to plugins");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* xpcall's message handler around the plugin's own (upvalue 1). Once the
 * budget is spent the plugin's handler is skipped and the budget error goes
 * through as it is: that error is raised from the count hook, and Lua runs
 * the message handler of an error raised in a hook with hooks switched off,
 * so a handler that loops could never be stopped. */
static int sbx_xpcall_handler(lua_State *L)
{
	if (sbx_of(L)->expired)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* Results of xpcall: true and the function's results, or false and the
 * handler's result. base = the stack slots below them. */
static int sbx_xpcall_done(lua_State *L, int status, lua_KContext base)
{
	if (status != LUA_OK && status != LUA_YIELD) {
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)base;
}

/* xpcall(f, handler, ...) with the handler wrapped; a continuation keeps
 * yields inside f working, as with Lua's own. */
static int sbx_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, sbx_xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushboolean(L, 1);                   /* f, handler, true, f, args... */
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	int st = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, sbx_xpcall_done);
	return sbx_xpcall_done(L, st, 2);
}

/* ---- the log budget ---- */

/* Start a new minute window when the clock moved on; a window that dropped
 * lines says how many when it closes (lazily, at the next line). */
static void sbx_log_minute(sbx *s)
{
	long minute = (long)(time(NULL) / 60);
	if (minute == s->log_minute)
		return;
	if (s->min_dropped)
		log_warn("plugin log output cut", "plugin=%s dropped=%u per=minute limit_lines=%u limit_bytes=%u",
		         s->name, s->min_dropped, SBX_LOG_MIN_LINES, SBX_LOG_MIN_BYTES);
	s->log_minute = minute;
	s->min_lines = s->min_dropped = 0;
	s->min_bytes = 0;
}

int sbx_log_allow(lua_State *L, size_t bytes)
{
	sbx *s = sbx_of(L);
	sbx_log_minute(s);
	int minute_full = s->min_lines >= SBX_LOG_MIN_LINES || s->min_bytes + bytes > SBX_LOG_MIN_BYTES;
	int call_full = s->log_lines >= SBX_LOG_CALL_LINES || s->log_bytes + bytes > SBX_LOG_CALL_BYTES;
	if (!minute_full && !call_full) {
		s->log_lines++;
		s->log_bytes += bytes;
		s->min_lines++;
		s->min_bytes += bytes;
		return 1;
	}
	/* say it once: the first line cut in this minute, or in this call
	 * while the minute still has room */
	if (minute_full && s->min_dropped++ == 0)
		log_warn("plugin log output cut", "plugin=%s per=minute limit_lines=%u limit_bytes=%u "
		         "note=\"further lines of this minute are dropped\"", s->name, SBX_LOG_MIN_LINES, SBX_LOG_MIN_BYTES);
	else if (!minute_full && s->log_dropped == 0)
		log_warn("plugin log output cut", "plugin=%s per=call limit_lines=%u limit_bytes=%u "
		         "note=\"further lines of this call are dropped\"", s->name, SBX_LOG_CALL_LINES, SBX_LOG_CALL_BYTES);
	s->log_dropped++;
	return 0;
}

/* print() goes to the log, tagged with the plugin, never to stdout; the
 * text is cut at 2000 bytes (NUL bytes become '?'), and the lines count
 * against the log budget. */
static int sbx_print(lua_State *L)
{
	sbx *s = sbx_of(L);
	char text[2001];
	size_t o = 0;
	int n = lua_gettop(L);
	for (int i = 1; i <= n; i++) {
		size_t l;
		const char *v = luaL_tolstring(L, i, &l);
		if (i > 1 && o < sizeof text - 1)
			text[o++] = '\t';
		for (size_t k = 0; k < l && o < sizeof text - 1; k++)
			text[o++] = v[k] ? v[k] : '?';
		lua_pop(L, 1);
	}
	text[o] = 0;
	if (!sbx_log_allow(L, o))
		return 0;
	char q[2100];
	log_info("plugin print", "plugin=%s text=%s", s->name, log_quote(q, sizeof q, text));
	return 0;
}

/* require("a.b"): only the plugin's own files, root/a/b.lua, loaded once. */
static int sbx_require(lua_State *L)
{
	sbx *s = sbx_of(L);
	size_t n;
	const char *mod = luaL_checklstring(L, 1, &n);
	if (n == 0 || n > 100)
		return luaL_error(L, "require: bad module name");
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)mod[i]) || mod[i] == '_' || (mod[i] == '.' && i > 0 && mod[i - 1] != '.')))
			return luaL_error(L, "require: only the plugin's own modules can be loaded (\"%s\")", mod);
	lua_getfield(L, LUA_REGISTRYINDEX, "sbx.loaded");
	if (lua_getfield(L, -1, mod) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	char rel[160];
	snprintf(rel, sizeof rel, "%s.lua", mod);
	for (char *p = rel; *p && strcmp(p, ".lua") != 0; p++)
		if (*p == '.')
			*p = '/';
	char err[1024];
	if (sbx_dofile(s, rel, 1, err, sizeof err) != 0)
		return luaL_error(L, "require(\"%s\"): %s", mod, err);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, mod);
	return 1;
}

/* ---- pattern matching under the budget ----
 * string.find, match, gmatch and gsub with Lua 5.4's pattern language and
 * results. Lua's own matcher backtracks inside one C call, where the count
 * hook never fires: string.find(("a"):rep(60), ("a?"):rep(40) .. ("a"):rep(40)
 * .. "b") runs for hours. This one counts its steps and checks the budget
 * every SBX_TICK_EVERY of them; plain searches use memmem (linear time). */

#define SBX_PM_MAXCAP 32
#define SBX_PM_MAXDEPTH 200          /* nesting of the matcher (C stack) */
#define SBX_PM_OPEN (-1)             /* capture still open */
#define SBX_PM_POS (-2)              /* position capture () */

typedef struct sbx_pm {
	lua_State *L;
	const char *src, *end;       /* the subject */
	const char *pend;            /* end of the pattern */
	unsigned work;
	int depth, level;
	struct {
		const char *at;
		ptrdiff_t len;
	} cap[SBX_PM_MAXCAP];
} sbx_pm;

static void sbx_pm_init(sbx_pm *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
	m->L = L;
	m->src = s;
	m->end = s + ls;
	m->pend = p + lp;
	m->work = 0;
}

/* Before each attempt at a position. */
static void sbx_pm_reset(sbx_pm *m)
{
	m->level = 0;
	m->depth = SBX_PM_MAXDEPTH;
}

static void sbx_pm_step(sbx_pm *m, unsigned w)
{
	m->work += w;
	if (m->work >= SBX_TICK_EVERY) {
		m->work = 0;
		sbx_check(m->L);
	}
}

/* Does c belong to class %cl (%a, %d, ..., upper case = complement)? */
static int sbx_pm_class(int c, int cl)
{
	int r;
	switch (tolower(cl)) {
	case 'a': r = isalpha(c); break;
	case 'c': r = iscntrl(c); break;
	case 'd': r = isdigit(c); break;
	case 'g': r = isgraph(c); break;
	case 'l': r = islower(c); break;
	case 'p': r = ispunct(c); break;
	case 's': r = isspace(c); break;
	case 'u': r = isupper(c); break;
	case 'w': r = isalnum(c); break;
	case 'x': r = isxdigit(c); break;
	case 'z': r = c == 0; break;         /* deprecated, still in 5.4 */
	default: return cl == c;
	}
	return isupper(cl) ? !r : r != 0;
}

/* Is c in the set [...] that starts at p and whose ']' is at close? */
static int sbx_pm_set(int c, const char *p, const char *close)
{
	int in = 1;
	if (p[1] == '^') {
		in = 0;
		p++;
	}
	while (++p < close) {
		if (*p == '%') {
			p++;
			if (sbx_pm_class(c, (unsigned char)*p))
				return in;
		} else if (p[1] == '-' && p + 2 < close) {
			p += 2;
			if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
				return in;
		} else if ((unsigned char)*p == c)
			return in;
	}
	return !in;
}

/* The end of the single-character class that starts at p. Patterns come
 * from Lua strings, which are NUL-terminated, so *pend can be read. */
static const char *sbx_pm_class_end(sbx_pm *m, const char *p)
{
	switch (*p++) {
	case '%':
		if (p == m->pend)
			luaL_error(m->L, "malformed pattern (ends with '%%')");
		return p + 1;
	case '[':
		if (*p == '^')
			p++;
		do {
			if (p == m->pend)
				luaL_error(m->L, "malformed pattern (missing ']')");
			if (*p++ == '%' && p < m->pend)
				p++;
		} while (*p != ']');
		return p + 1;
	default:
		return p;
	}
}

/* Does the character at s match the class p..ep? */
static int sbx_pm_single(const sbx_pm *m, const char *s, const char *p, const char *ep)
{
	if (s >= m->end)
		return 0;
	int c = (unsigned char)*s;
	switch (*p) {
	case '.': return 1;
	case '%': return sbx_pm_class(c, (unsigned char)p[1]);
	case '[': return sbx_pm_set(c, p, ep - 1);
	default: return (unsigned char)*p == c;
	}
}

static const char *sbx_pm_match(sbx_pm *m, const char *s, const char *p);

/* %bxy at s (p points at x). */
static const char *sbx_pm_balance(sbx_pm *m, const char *s, const char *p)
{
	if (p >= m->pend - 1)
		luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= m->end || *s != p[0])
		return NULL;
	int open = 1;
	while (++s < m->end) {
		sbx_pm_step(m, 1);
		if (*s == p[1]) {
			if (--open == 0)
				return s + 1;
		} else if (*s == p[0])
			open++;
	}
	return NULL;
}

/* class* (longest first), then the rest of the pattern. */
static const char *sbx_pm_max(sbx_pm *m, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;
	while (sbx_pm_single(m, s + i, p, ep)) {
		i++;
		sbx_pm_step(m, 1);
	}
	for (; i >= 0; i--) {
		const char *r = sbx_pm_match(m, s + i, ep + 1);
		if (r)
			return r;
	}
	return NULL;
}

/* class- (shortest first). */
static const char *sbx_pm_min(sbx_pm *m, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *r = sbx_pm_match(m, s, ep + 1);
		if (r)
			return r;
		if (!sbx_pm_single(m, s, p, ep))
			return NULL;
		s++;
	}
}

static const char *sbx_pm_open(sbx_pm *m, const char *s, const char *p, ptrdiff_t what)
{
	if (m->level >= SBX_PM_MAXCAP)
		luaL_error(m->L, "too many captures");
	m->cap[m->level].at = s;
	m->cap[m->level].len = what;
	m->level++;
	const char *r = sbx_pm_match(m, s, p);
	if (!r)
		m->level--;
	return r;
}

static const char *sbx_pm_close(sbx_pm *m, const char *s, const char *p)
{
	int l = m->level - 1;
	while (l >= 0 && m->cap[l].len != SBX_PM_OPEN)
		l--;
	if (l < 0)
		luaL_error(m->L, "invalid pattern capture");
	m->cap[l].len = s - m->cap[l].at;
	const char *r = sbx_pm_match(m, s, p);
	if (!r)
		m->cap[l].len = SBX_PM_OPEN;
	return r;
}

/* %1..%9: the text of an earlier capture again. */
static const char *sbx_pm_backref(sbx_pm *m, const char *s, int d)
{
	int l = d - '1';
	if (l < 0 || l >= m->level || m->cap[l].len == SBX_PM_OPEN)
		luaL_error(m->L, "invalid capture index %%%d", l + 1);
	ptrdiff_t len = m->cap[l].len;
	if (len < 0)                         /* a position capture matches no text */
		return NULL;
	sbx_pm_step(m, 1 + (unsigned)(len >> 6));
	if (m->end - s >= len && memcmp(m->cap[l].at, s, (size_t)len) == 0)
		return s + len;
	return NULL;
}

/* Match pattern p at s; the end of the match or NULL. */
static const char *sbx_pm_match(sbx_pm *m, const char *s, const char *p)
{
	const char *r;
	if (m->depth-- == 0)
		luaL_error(m->L, "pattern too complex");
	while (p != m->pend) {
		sbx_pm_step(m, 1);
		switch (*p) {
		case '(':
			r = p[1] == ')' ? sbx_pm_open(m, s, p + 2, SBX_PM_POS) : sbx_pm_open(m, s, p + 1, SBX_PM_OPEN);
			goto out;
		case ')':
			r = sbx_pm_close(m, s, p + 1);
			goto out;
		case '$':
			if (p + 1 == m->pend) {
				r = s == m->end ? s : NULL;
				goto out;
			}
			break;                       /* a '$' inside the pattern is itself */
		case '%':
			if (p[1] == 'b') {
				s = sbx_pm_balance(m, s, p + 2);
				if (!s) {
					r = NULL;
					goto out;
				}
				p += 4;
				continue;
			}
			if (p[1] == 'f') {
				p += 2;
				if (*p != '[')
					luaL_error(m->L, "missing '[' after '%%f' in pattern");
				const char *ep = sbx_pm_class_end(m, p);
				int prev = s == m->src ? 0 : (unsigned char)s[-1];
				int cur = s < m->end ? (unsigned char)*s : 0;
				if (!sbx_pm_set(prev, p, ep - 1) && sbx_pm_set(cur, p, ep - 1)) {
					p = ep;
					continue;
				}
				r = NULL;
				goto out;
			}
			if (isdigit((unsigned char)p[1])) {
				s = sbx_pm_backref(m, s, (unsigned char)p[1]);
				if (!s) {
					r = NULL;
					goto out;
				}
				p += 2;
				continue;
			}
			break;
		default:
			break;
		}
		/* a single-character class, perhaps with a quantifier */
		const char *ep = sbx_pm_class_end(m, p);
		int hit = sbx_pm_single(m, s, p, ep);
		switch (*ep) {
		case '?':
			if (hit && (r = sbx_pm_match(m, s + 1, ep + 1)) != NULL)
				goto out;
			p = ep + 1;
			continue;
		case '+':
			r = hit ? sbx_pm_max(m, s + 1, p, ep) : NULL;
			goto out;
		case '*':
			r = sbx_pm_max(m, s, p, ep);
			goto out;
		case '-':
			r = sbx_pm_min(m, s, p, ep);
			goto out;
		default:
			if (!hit) {
				r = NULL;
				goto out;
			}
			s++;
			p = ep;
		}
	}
	r = s;
out:
	m->depth++;
	return r;
}

/* Push capture i of the match s..e (the whole match when there are no
 * captures and i is 0). */
static void sbx_pm_push(sbx_pm *m, int i, const char *s, const char *e)
{
	if (i >= m->level) {
		if (i != 0)
			luaL_error(m->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(m->L, s, (size_t)(e - s));
		return;
	}
	ptrdiff_t l = m->cap[i].len;
	if (l == SBX_PM_OPEN)
		luaL_error(m->L, "unfinished capture");
	if (l == SBX_PM_POS)
		lua_pushinteger(m->L, (lua_Integer)(m->cap[i].at - m->src) + 1);
	else
		lua_pushlstring(m->L, m->cap[i].at, (size_t)l);
}

/* Push every capture; with s == NULL, none stands for nothing (find). */
static int sbx_pm_push_all(sbx_pm *m, const char *s, const char *e)
{
	int n = m->level == 0 && s ? 1 : m->level;
	luaL_checkstack(m->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		sbx_pm_push(m, i, s, e);
	return n;
}

/* A start position argument (1-based, negative from the end) as 1..len+1. */
static size_t sbx_pm_start(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

/* A pattern without magic characters is searched as plain text. */
static int sbx_pm_is_plain(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] && strchr("^$*+?.([%-", p[i]))
			return 0;
	return 1;
}

/* string.find (find = 1) and string.match (find = 0). */
static int sbx_pm_find(lua_State *L, int find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = sbx_pm_start(luaL_optinteger(L, 3, 1), ls) - 1;
	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || sbx_pm_is_plain(p, lp))) {
		sbx_charge(L, ls - init);
		const char *hit = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
		if (hit) {
			lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
			lua_pushinteger(L, (lua_Integer)(hit - s + (ptrdiff_t)lp));
			return 2;
		}
		luaL_pushfail(L);
		return 1;
	}
	int anchor = *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	sbx_pm m;
	sbx_pm_init(&m, L, s, ls, p, lp);
	const char *s1 = s + init;
	do {
		sbx_pm_reset(&m);
		const char *e = sbx_pm_match(&m, s1, p);
		if (e) {
			if (!find)
				return sbx_pm_push_all(&m, s1, e);
			lua_pushinteger(L, (lua_Integer)(s1 - s) + 1);
			lua_pushinteger(L, (lua_Integer)(e - s));
			return sbx_pm_push_all(&m, NULL, NULL) + 2;
		}
	} while (s1++ < m.end && !anchor);
	luaL_pushfail(L);
	return 1;
}

static int sbx_find(lua_State *L)
{
	return sbx_pm_find(L, 1);
}

static int sbx_match(lua_State *L)
{
	return sbx_pm_find(L, 0);
}

/* State of a gmatch iterator: where the next search starts, and the end of
 * the last match (an empty match right there is skipped); -1 = none yet. */
struct sbx_gm {
	size_t pos;
	ptrdiff_t last;
};

/* The iterator: upvalues subject, pattern, state. */
static int sbx_gmatch_next(lua_State *L)
{
	size_t ls, lp;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
	struct sbx_gm *g = lua_touserdata(L, lua_upvalueindex(3));
	sbx_pm m;
	sbx_pm_init(&m, L, s, ls, p, lp);
	for (size_t at = g->pos; at <= ls; at++) {
		sbx_pm_reset(&m);
		const char *e = sbx_pm_match(&m, s + at, p);
		if (e && e - s != g->last) {
			g->pos = (size_t)(e - s);
			g->last = e - s;
			return sbx_pm_push_all(&m, s + at, e);
		}
	}
	g->pos = ls + 1;
	return 0;
}

static int sbx_gmatch(lua_State *L)
{
	size_t ls;
	luaL_checklstring(L, 1, &ls);
	luaL_checkstring(L, 2);
	size_t init = sbx_pm_start(luaL_optinteger(L, 3, 1), ls) - 1;
	lua_settop(L, 2);
	struct sbx_gm *g = lua_newuserdatauv(L, sizeof *g, 0);
	g->pos = init > ls ? ls + 1 : init;
	g->last = -1;
	lua_pushcclosure(L, sbx_gmatch_next, 3);
	return 1;
}

/* gsub with a replacement string: %0..%9 and %%. */
static void sbx_gsub_string(sbx_pm *m, luaL_Buffer *b, const char *s, const char *e)
{
	lua_State *L = m->L;
	size_t l;
	const char *r = lua_tolstring(L, 3, &l);
	const char *q;
	while ((q = memchr(r, '%', l)) != NULL) {
		luaL_addlstring(b, r, (size_t)(q - r));
		q++;                                 /* the replacement is NUL-terminated */
		if (*q == '%')
			luaL_addchar(b, '%');
		else if (*q == '0')
			luaL_addlstring(b, s, (size_t)(e - s));
		else if (isdigit((unsigned char)*q)) {
			sbx_pm_push(m, *q - '1', s, e);
			luaL_addvalue(b);
		} else
			luaL_error(L, "invalid use of '%%' in replacement string");
		l -= (size_t)(q + 1 - r);
		r = q + 1;
	}
	luaL_addlstring(b, r, l);
}

/* Add the replacement of the match s..e to b. */
static void sbx_gsub_add(sbx_pm *m, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = m->L;
	if (tr == LUA_TFUNCTION) {
		lua_pushvalue(L, 3);
		int n = sbx_pm_push_all(m, s, e);
		lua_call(L, n, 1);
	} else if (tr == LUA_TTABLE) {
		sbx_pm_push(m, 0, s, e);
		lua_gettable(L, 3);
	} else {
		sbx_gsub_string(m, b, s, e);
		return;
	}
	if (!lua_toboolean(L, -1)) {             /* nil or false: keep the original */
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
	} else if (!lua_isstring(L, -1))
		luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	else
		luaL_addvalue(b);
}

static int sbx_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *src = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	int tr = lua_type(L, 3);
	lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
	luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
	                 "string/function/table");
	int anchor = *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	sbx_pm m;
	sbx_pm_init(&m, L, src, ls, p, lp);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	const char *last = NULL;
	lua_Integer n = 0;
	while (n < max) {
		sbx_pm_reset(&m);
		const char *e = sbx_pm_match(&m, src, p);
		if (e && e != last) {
			n++;
			sbx_gsub_add(&m, &b, src, e, tr);
			src = last = e;
		} else if (src < m.end)
			luaL_addchar(&b, *src++);
		else
			break;
		if (anchor)
			break;
	}
	luaL_addlstring(&b, src, (size_t)(m.end - src));
	luaL_pushresult(&b);
	lua_pushinteger(L, n);
	return 2;
}

/* ---- table functions under the budget ----
 * Lua's own insert, remove, move and concat loop in C over a range the
 * plugin picks (a __len of 1e15 is enough); these check the budget every
 * SBX_TICK_EVERY elements. Same arguments, results and messages. */

static lua_Integer sbx_tlen(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	return luaL_len(L, 1);
}

static int sbx_tinsert(lua_State *L)
{
	lua_Integer e = (lua_Integer)((lua_Unsigned)sbx_tlen(L) + 1u);   /* first empty slot */
	lua_Integer pos;
	switch (lua_gettop(L)) {
	case 2:
		pos = e;
		break;
	case 3:
		pos = luaL_checkinteger(L, 2);
		luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
		for (lua_Integer i = e; i > pos; i--) {
			sbx_tick(L);
			lua_geti(L, 1, i - 1);
			lua_seti(L, 1, i);
		}
		break;
	default:
		return luaL_error(L, "wrong number of arguments to 'insert'");
	}
	lua_seti(L, 1, pos);
	return 0;
}

static int sbx_tremove(lua_State *L)
{
	lua_Integer size = sbx_tlen(L);
	lua_Integer pos = luaL_optinteger(L, 2, size);
	if (pos != size)
		luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 1, "position out of bounds");  /* sic, as 5.4.4 */
	lua_geti(L, 1, pos);                     /* the result */
	for (; pos < size; pos++) {
		sbx_tick(L);
		lua_geti(L, 1, pos + 1);
		lua_seti(L, 1, pos);
	}
	lua_pushnil(L);
	lua_seti(L, 1, pos);
	return 1;
}

/* table.move(a1, f, e, t [, a2]) */
static int sbx_tmove(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2);
	lua_Integer e = luaL_checkinteger(L, 3);
	lua_Integer t = luaL_checkinteger(L, 4);
	int tt = lua_isnoneornil(L, 5) ? 1 : 5;
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, tt, LUA_TTABLE);
	if (e >= f) {
		luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
		lua_Integer n = e - f;               /* elements - 1 */
		luaL_argcheck(L, t <= LUA_MAXINTEGER - n, 4, "destination wrap around");
		if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
			for (lua_Integer i = 0; i <= n; i++) {
				sbx_tick(L);
				lua_geti(L, 1, f + i);
				lua_seti(L, tt, t + i);
			}
		} else {
			for (lua_Integer i = n; i >= 0; i--) {
				sbx_tick(L);
				lua_geti(L, 1, f + i);
				lua_seti(L, tt, t + i);
			}
		}
	}
	lua_pushvalue(L, tt);
	return 1;
}

static void sbx_tconcat_add(lua_State *L, luaL_Buffer *b, lua_Integer i)
{
	lua_geti(L, 1, i);
	if (!lua_isstring(L, -1))
		luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1), (lua_Integer)i);
	luaL_addvalue(b);
}

/* table.concat(t [, sep [, i [, j]]]) */
static int sbx_tconcat(lua_State *L)
{
	lua_Integer last = sbx_tlen(L);
	size_t lsep;
	const char *sep = luaL_optlstring(L, 2, "", &lsep);
	lua_Integer i = luaL_optinteger(L, 3, 1);
	last = luaL_optinteger(L, 4, last);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (; i < last; i++) {
		sbx_tick(L);
		sbx_tconcat_add(L, &b, i);
		luaL_addlstring(&b, sep, lsep);
	}
	if (i == last)
		sbx_tconcat_add(L, &b, i);
	luaL_pushresult(&b);
	return 1;
}

/* The comparison table.sort makes: the plugin's function (upvalue 1) or <.
 * Counting comparisons bounds the sort, since its swaps are in step with them. */
static int sbx_sort_cmp(lua_State *L)
{
	sbx_tick(L);
	if (lua_isnil(L, lua_upvalueindex(1))) {
		lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	lua_pushboolean(L, lua_toboolean(L, -1));
	return 1;
}

/* table.sort (upvalue 1: Lua's own) with the counting comparison. */
static int sbx_tsort(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, sbx_sort_cmp, 1);
	lua_call(L, 2, 0);
	return 0;
}

/* ---- read-only proxies ---- */

static void sbx_push_proxy(lua_State *L, int idx);

static int sbx_ro_index(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__target");
	lua_pushvalue(L, 2);
	lua_gettable(L, -2);
	if (lua_type(L, -1) == LUA_TTABLE)
		sbx_push_proxy(L, lua_gettop(L));
	return 1;
}

static int sbx_ro_newindex(lua_State *L)
{
	return luaL_error(L, "attempt to change a read-only host table (key \"%s\")", luaL_tolstring(L, 2, NULL));
}

static int sbx_ro_len(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__target");
	lua_pushinteger(L, (lua_Integer)luaL_len(L, -1));
	return 1;
}

static int sbx_ro_next(lua_State *L)
{
	/* upvalue 1: the target table; arguments: (proxy, key) */
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)) == 0)
		return 0;
	if (lua_type(L, -1) == LUA_TTABLE) {
		sbx_push_proxy(L, lua_gettop(L));
		lua_replace(L, -2);                  /* key, proxy: never the table itself */
	}
	return 2;
}

static int sbx_ro_pairs(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__target");
	lua_pushcclosure(L, sbx_ro_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* Push a read-only proxy of the table at idx (cached per table, weakly). */
static void sbx_push_proxy(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_getfield(L, LUA_REGISTRYINDEX, "sbx.proxies");
	lua_pushvalue(L, idx);
	if (lua_rawget(L, -2) == LUA_TTABLE) {
		lua_remove(L, -2);
		return;
	}
	lua_pop(L, 1);
	lua_newtable(L);                       /* proxy */
	lua_createtable(L, 0, 7);              /* its metatable */
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__target");
	lua_pushcfunction(L, sbx_ro_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, sbx_ro_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, sbx_ro_len);
	lua_setfield(L, -2, "__len");
	lua_pushcfunction(L, sbx_ro_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushliteral(L, "read-only host table");
	lua_setfield(L, -2, "__metatable");   /* getmetatable() shows this; setmetatable() refuses */
	lua_setmetatable(L, -2);
	lua_pushvalue(L, idx);
	lua_pushvalue(L, -2);
	lua_rawset(L, -4);                     /* cache[target] = proxy */
	lua_remove(L, -2);
}

void sbx_readonly(lua_State *L)
{
	sbx_push_proxy(L, -1);
	lua_remove(L, -2);
}

/* ---- the environment ---- */

/* Copy names from the table at from into the table at to; metered: wrap
 * each in sbx_metered. */
static void sbx_copy(lua_State *L, int from, int to, const char *const *names, int metered)
{
	for (; *names; names++) {
		lua_getfield(L, from, *names);
		if (metered)
			lua_pushcclosure(L, sbx_metered, 1);
		lua_setfield(L, to, *names);
	}
}

/* Set field name of the table at the top to function f with the field
 * upname of the table at up as its upvalue (up = 0: no upvalue). */
static void sbx_set(lua_State *L, const char *name, lua_CFunction f, int up, const char *upname)
{
	if (up) {
		lua_getfield(L, up, upname);
		lua_pushcclosure(L, f, 1);
	} else
		lua_pushcfunction(L, f);
	lua_setfield(L, -2, name);
}

/* Replace field name of the full library at lib (hidden from plugins) by
 * the field of the same name of the filtered table at the top, so that
 * error messages name it as Lua names its own ("bad argument #1 to
 * 'string.find'": luaL_argerror looks functions up in the loaded libraries). */
static void sbx_rename(lua_State *L, int lib, const char *name)
{
	lua_getfield(L, -1, name);
	lua_setfield(L, lib, name);
}

static const char *const sbx_base[] = {
	"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tostring", "type",
	"getmetatable", "rawequal", "rawlen", "_VERSION", NULL};
static const char *const sbx_base_metered[] = {"tonumber", NULL};
static const char *const sbx_string[] = {"char", "len", "packsize", NULL};
static const char *const sbx_string_metered[] = {
	"byte", "format", "lower", "upper", "reverse", "sub", "pack", "unpack", NULL};
static const char *const sbx_table[] = {"pack", "unpack", NULL};
static const char *const sbx_math[] = {
	"abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max", "maxinteger", "min",
	"mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan", "tointeger", "type",
	"ult", "atan", "asin", "acos", NULL};
static const char *const sbx_utf8[] = {"char", "charpattern", "codes", NULL};
static const char *const sbx_utf8_metered[] = {"codepoint", "len", "offset", NULL};
static const char *const sbx_os[] = {"time", "clock", "date", "difftime", NULL};
static const char *const sbx_coroutine[] = {
	"create", "isyieldable", "resume", "running", "status", "wrap", "yield", "close", NULL};
static const char *const sbx_none[] = {NULL};

/* Build the env table from the full libraries (opened in the real globals,
 * which the plugin never sees) and store it in the registry. Run through
 * sbx_protect: argument 1 is the sbx. */
static int sbx_build_env(lua_State *L)
{
	sbx *s = lua_touserdata(L, 1);
	luaL_openlibs(L);
	lua_pushglobaltable(L);
	int G = lua_gettop(L);
	lua_newtable(L);
	int env = lua_gettop(L);
	sbx_copy(L, G, env, sbx_base, 0);
	sbx_copy(L, G, env, sbx_base_metered, 1);
	sbx_set(L, "setmetatable", sbx_setmetatable, G, "setmetatable");
	sbx_set(L, "xpcall", sbx_xpcall, 0, NULL);
	sbx_set(L, "print", sbx_print, 0, NULL);
	sbx_set(L, "require", sbx_require, 0, NULL);
	lua_pushvalue(L, env);
	lua_setfield(L, env, "_G");
	struct {
		const char *lib;
		const char *const *names, *const *metered;
	} libs[] = {
		{"string", sbx_string, sbx_string_metered}, {"table", sbx_table, sbx_none},
		{"math", sbx_math, sbx_none}, {"utf8", sbx_utf8, sbx_utf8_metered},
		{"os", sbx_os, sbx_none}, {"coroutine", sbx_coroutine, sbx_none}};
	for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		lua_getfield(L, G, libs[i].lib);
		int full = lua_gettop(L);
		lua_newtable(L);
		sbx_copy(L, full, full + 1, libs[i].names, 0);
		sbx_copy(L, full, full + 1, libs[i].metered, 1);
		if (strcmp(libs[i].lib, "string") == 0) {
			sbx_set(L, "rep", sbx_rep, full, "rep");
			sbx_set(L, "find", sbx_find, 0, NULL);
			sbx_set(L, "match", sbx_match, 0, NULL);
			sbx_set(L, "gmatch", sbx_gmatch, 0, NULL);
			sbx_set(L, "gsub", sbx_gsub, 0, NULL);
			sbx_rename(L, full, "rep");
			sbx_rename(L, full, "find");
			sbx_rename(L, full, "match");
			sbx_rename(L, full, "gmatch");
			sbx_rename(L, full, "gsub");
			/* methods on strings ("x"):upper() use this filtered table;
			 * the metatable itself is hidden from getmetatable("") */
			lua_pushliteral(L, "");
			lua_getmetatable(L, -1);
			lua_pushvalue(L, -3);
			lua_setfield(L, -2, "__index");
			lua_pushboolean(L, 0);
			lua_setfield(L, -2, "__metatable");
			lua_pop(L, 2);
		} else if (strcmp(libs[i].lib, "table") == 0) {
			sbx_set(L, "insert", sbx_tinsert, 0, NULL);
			sbx_set(L, "remove", sbx_tremove, 0, NULL);
			sbx_set(L, "move", sbx_tmove, 0, NULL);
			sbx_set(L, "concat", sbx_tconcat, 0, NULL);
			sbx_set(L, "sort", sbx_tsort, full, "sort");   /* Lua's sort stays in the full table */
			sbx_rename(L, full, "insert");
			sbx_rename(L, full, "remove");
			sbx_rename(L, full, "move");
			sbx_rename(L, full, "concat");
		}
		lua_setfield(L, env, libs[i].lib);
		lua_pop(L, 1);
	}
	s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);                          /* G */
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "sbx.loaded");
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, "sbx.proxies");
	return 0;
}

sbx *sbx_new(const sbx_limits *lim, const char *root)
{
	sbx *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->mem_max = lim->mem_max ? lim->mem_max : (32u << 20);
	s->cpu_ms = lim->cpu_ms > 0 ? lim->cpu_ms : 1000;
	s->rep_max = lim->rep_max ? lim->rep_max : (1u << 20);
	snprintf(s->root, sizeof s->root, "%s", root ? root : ".");
	if (!realpath(s->root, s->rroot))
		snprintf(s->rroot, sizeof s->rroot, "%s", s->root);
	const char *base = strrchr(s->root, '/');
	snprintf(s->name, sizeof s->name, "%.63s", base ? base + 1 : s->root);
	s->L = lua_newstate(sbx_alloc, s);
	if (!s->L) {
		free(s);
		return NULL;
	}
	*(sbx **)lua_getextraspace(s->L) = s;
	lua_atpanic(s->L, sbx_panic);
	lua_sethook(s->L, sbx_hook, LUA_MASKCOUNT, SBX_HOOK_EVERY);
	char err[256];
	if (sbx_protect(s, sbx_build_env, s, 0, err, sizeof err) != 0) {
		log_err("cannot build a plugin's Lua state", "plugin=%s error=\"%s\"", s->name, err);
		sbx_free(s);
		return NULL;
	}
	return s;
}

int sbx_protect(sbx *s, lua_CFunction f, void *ud, int nargs, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int top = lua_gettop(L) - nargs, quiet = s->quiet;
	if (s->depth == 0 && s->protect == 0)
		s->mem_hit = 0;
	s->protect++;
	/* a light C function and a light userdata: pushing them allocates
	 * nothing (the stack has room: callers leave it near empty), so
	 * nothing can fail before the protection is in place */
	lua_pushcfunction(L, f);
	lua_insert(L, top + 1);
	lua_pushlightuserdata(L, ud);
	lua_insert(L, top + 2);
	int rc = lua_pcall(L, nargs + 1, 0, 0);
	s->protect--;
	s->quiet = quiet;
	if (rc == LUA_OK) {
		lua_settop(L, top);
		return 0;
	}
	const char *m = lua_tostring(L, -1);
	snprintf(err, errlen, "%s", rc == LUA_ERRMEM ? "not enough memory" : m ? m : "error object is not a string");
	lua_settop(L, top);
	/* what was half built is garbage now: give the room back at once */
	lua_gc(L, LUA_GCCOLLECT);
	return -1;
}

void sbx_quiet(sbx *s, int on)
{
	s->quiet = on;
}


double sbx_budget_left(lua_State *L)
{
	sbx *s = sbx_of(L);
	if (s->depth == 0)
		return -1;
	double left = s->deadline - sbx_now();
	if (left <= 0 || s->expired) {
		if (!s->expired)
			s->cpu_hits++;
		s->expired = 1;
		sbx_stop(L, s);
	}
	return left;
}

void sbx_expire(lua_State *L)
{
	sbx *s = sbx_of(L);
	if (s->depth == 0 || s->expired)
		return;
	s->cpu_hits++;
	s->expired = 1;
	lua_sethook(L, sbx_hook, LUA_MASKCOUNT, 1);
}

void sbx_extend(sbx *s, double ms)
{
	if (s && s->deadline > 0 && ms > 0)
		s->deadline += ms;
}

void sbx_free(sbx *s)
{
	if (!s)
		return;
	lua_close(s->L);
	free(s);
}

lua_State *sbx_L(sbx *s)
{
	return s->L;
}

void sbx_push_env(sbx *s)
{
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->env_ref);
}

int sbx_loadstring(sbx *s, const char *src, size_t n, const char *name, char *err, size_t errlen)
{
	lua_State *L = s->L;
	if (luaL_loadbufferx(L, src, n, name, "t") != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	sbx_push_env(s);
	if (!lua_setupvalue(L, -2, 1))     /* _ENV of the main chunk */
		lua_pop(L, 1);
	return 0;
}

static int sbx_traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = luaL_tolstring(L, 1, NULL);
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int sbx_call(sbx *s, int nargs, int nresults, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int fidx = lua_gettop(L) - nargs;
	lua_pushcfunction(L, sbx_traceback);
	lua_insert(L, fidx);
	if (s->depth++ == 0) {
		s->deadline = sbx_now() + s->cpu_ms;
		s->expired = 0;
		s->outside = 0;
		s->work = 0;
		s->grown = 0;
		s->mem_hit = 0;
		s->log_lines = s->log_dropped = 0;
		s->log_bytes = 0;
		lua_sethook(L, sbx_hook, LUA_MASKCOUNT, SBX_HOOK_EVERY);
	}
	int rc = lua_pcall(L, nargs, nresults, fidx);
	if (--s->depth == 0) {
		s->deadline = 0;
		s->expired = 0;
		s->outside = 0;
		lua_sethook(L, sbx_hook, LUA_MASKCOUNT, SBX_HOOK_EVERY);
		/* keep headroom: string buffers (luaL_Buffer) are allocated without
		 * the emergency collection Lua does elsewhere, so garbage left near
		 * the cap would make the next call fail for nothing */
		if (s->mem > s->mem_max / 2)
			lua_gc(L, LUA_GCCOLLECT);
	}
	lua_remove(L, fidx);
	if (rc != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		snprintf(err, errlen, "%s", m ? m : "error object is not a string");
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

/* Is the file path really inside the plugin folder? A symlink to a file
 * outside would let require() run it, and a config file of key = value
 * lines is valid Lua: with an _ENV whose __index returns the key, every
 * value would land in the plugin's globals. */
static int sbx_inside(const sbx *s, const char *path, char *real)
{
	if (!realpath(path, real))
		return -1;
	size_t n = strlen(s->rroot);
	return strncmp(real, s->rroot, n) == 0 && real[n] == '/' ? 0 : 1;
}

int sbx_dofile(sbx *s, const char *rel, int nresults, char *err, size_t errlen)
{
	if (strstr(rel, "..") || rel[0] == '/') {
		snprintf(err, errlen, "%s: path outside the plugin", rel);
		return -1;
	}
	char path[PATH_MAX + 200], real[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", s->root, rel);
	int in = sbx_inside(s, path, real);
	if (in != 0) {
		if (in < 0)
			snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		else
			snprintf(err, errlen, "%s: path outside the plugin", rel);
		return -1;
	}
	FILE *f = fopen(real, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		return -1;
	}
	char *src = malloc(SBX_MAX_FILE + 1);
	size_t n = src ? fread(src, 1, SBX_MAX_FILE + 1, f) : 0;
	fclose(f);
	if (!src || n > SBX_MAX_FILE) {
		free(src);
		snprintf(err, errlen, "%s: file too large", rel);
		return -1;
	}
	char chunk[200];
	snprintf(chunk, sizeof chunk, "@%s/%s", s->name, rel);
	int rc = sbx_loadstring(s, src, n, chunk, err, errlen);
	free(src);
	if (rc != 0)
		return -1;
	return sbx_call(s, 0, nresults, err, errlen);
}

size_t sbx_mem_max(const sbx *s)
{
	return s->mem_max;
}

size_t sbx_mem(const sbx *s)
{
	return s->mem;
}

unsigned sbx_mem_hits(const sbx *s)
{
	return s->mem_hits;
}

unsigned sbx_cpu_hits(const sbx *s)
{
	return s->cpu_hits;
}
