/* plugin.c - the plugin host: manifests, loading, routes, hooks, status.
 * The sandbox itself is sandbox.c; the portal.* API is plugin_api.c. */
#include "config.h"
#include "plugin.h"
#include "auth.h"
#include "grants.h"
#include "log.h"
#include "luajson.h"
#include "plugin_api.h"
#include "plugin_db.h"
#include "plugin_form.h"
#include "plugin_text.h"
#include "plugin_settings.h"
#include "ratelimit.h"
#include "router.h"
#include "sandbox.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Hook names the host calls. A manifest naming another hook is an error, so
 * a typo does not silently never run. */
static const char *const plug_hook_names[] = {
	"event.validate", "event.published", "event.cancelled",
	"registration.validate", "registration.keys", "registration.after_save", "registration.cancelled",
	"registration.promoted", "checkin", "daily", "hourly", NULL};

static const char *const plug_manifest_keys[] = {
	"id", "version", "api_version", "title", "description", "requires", "permissions", "config",
	"event_kinds", "forms", "tables", "queries", "routes", "hooks", "jobs", "strings", "grants", NULL};

/* The kinds of event the core itself provides (events.c: ev_kind_find). A
 * kind id names one provider: the core, or exactly one plugin. */
static const char *const plug_core_kinds[] = {"general", NULL};

/* Host capabilities a plugin may ask for. */
static const char *const plug_permissions[] = {"outbox", "audit", "accounts", NULL};

struct proute {
	char *method, *path, *pattern;   /* path as declared, pattern with the prefix */
	unsigned roles;
	int api, ref;
	char *scope;                     /* "grid" or NULL */
	char *grant;                     /* "<id>.<grant>" the caller must hold, or NULL */
};

struct phook {
	char *name;
	int ref;
	char *before[8], *after[8];
};

struct pjob {
	char *name, *every;
	int ref;
};

struct pquery {
	char *name, *sql;                /* sql expanded to real table names */
};

struct plugin {
	char id[PLUG_MAX_ID + 1];
	char *dir, *version, *title_zh, *title_en, *description;
	enum plug_status status;
	char *message;
	sbx *sb;
	plug_ctx ctx;
	struct proute *routes;
	size_t nroutes;
	rt_route *rt;                    /* match table built from routes */
	struct phook *hooks;
	size_t nhooks;
	struct pjob *jobs;
	size_t njobs;
	struct pquery *queries;
	size_t nqueries;
	pform **forms;
	size_t nforms;
	unsigned perms;                  /* bit i = plug_permissions[i] */
	json_t *kinds;                   /* event kinds */
	json_t *config;                  /* values, defaults applied */
	json_t *config_spec;             /* {key: {type, default, label, ...}} (plugin_settings.h) */
	json_t *grants;                  /* {name: {zh, en}} (grants.h) */
	json_t *strings;
	json_t *requires;                /* {name: range} */
	tpl_set *tpl;
	unsigned long errors;
	char *last_error;
};

struct plug_set {
	plugin **p;
	size_t n;
	const conf *cf;
	db *db;
};

/* ------------------------------------------------------------ small helpers */

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

static void plug_fail(plugin *p, enum plug_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void plug_fail(plugin *p, enum plug_status st, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(p->message);
	p->message = xstrdup(msg);
	p->status = st;
}

plug_ctx *plug_ctx_of(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "plug.ctx");  /* host-owned: plain get */
	plug_ctx *pc = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return pc;
}

/* Read field k of the table at idx without running any metamethod: tables a
 * plugin hands to the host (its manifest, a route's answer) are read outside
 * the sandbox's protected calls, where a plugin's __index must never run. */
static int plug_field(lua_State *L, int idx, const char *k)
{
	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx)) {
		lua_pushnil(L);
		return LUA_TNIL;
	}
	lua_pushstring(L, k);
	return lua_rawget(L, idx);
}

static int plug_valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > PLUG_MAX_ID || !islower((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

static int plug_in_list(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

/* "1.2.3" -> three numbers; 0 on success. */
static int plug_semver(const char *s, long v[3])
{
	char *end;
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v[i] = strtol(s, &end, 10);
		s = end;
		if (i < 2) {
			if (*s != '.')
				return i == 0 ? -1 : (v[2] = 0, 0);  /* "1.2" is 1.2.0 */
			s++;
		}
	}
	return *s ? -1 : 0;
}

static int plug_vcmp(const long a[3], const long b[3])
{
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Does version satisfy range ("" or ">=1.0 <2.0" or "=1.2.3" or "1.2")? -1 when the range is malformed. */
static int plug_satisfies(const char *version, const char *range)
{
	long v[3], w[3];
	if (plug_semver(version, v) != 0)
		return -1;
	char spec[128], *save = NULL;
	snprintf(spec, sizeof spec, "%s", range);
	for (char *tok = strtok_r(spec, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const char *op = tok;
		size_t ol = strspn(tok, "<>=");
		if (plug_semver(tok + ol, w) != 0 || ol > 2)
			return -1;
		int c = plug_vcmp(v, w);
		int ok;
		if (ol == 0 || (ol == 1 && op[0] == '='))
			ok = c == 0;
		else if (!strncmp(op, ">=", 2))
			ok = c >= 0;
		else if (!strncmp(op, "<=", 2))
			ok = c <= 0;
		else if (ol == 1 && op[0] == '>')
			ok = c > 0;
		else if (ol == 1 && op[0] == '<')
			ok = c < 0;
		else
			return -1;
		if (!ok)
			return 0;
	}
	return 1;
}

/* A zh/en text field: a string or {zh=..., en=...}. */
static int plug_text(lua_State *L, int idx, char **zh, char **en)
{
	if (lua_type(L, idx) == LUA_TSTRING) {
		*zh = xstrdup(lua_tostring(L, idx));
		if (en)
			*en = NULL;
		return 0;
	}
	if (lua_type(L, idx) != LUA_TTABLE)
		return -1;
	plug_field(L, idx, "zh");
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 1);
		return -1;
	}
	*zh = xstrdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	if (en) {
		plug_field(L, idx, "en");
		*en = lua_type(L, -1) == LUA_TSTRING ? xstrdup(lua_tostring(L, -1)) : NULL;
		lua_pop(L, 1);
	}
	return 0;
}

static unsigned plug_roles(lua_State *L, int idx, char *bad, size_t badn)
{
	unsigned bits = 0;
	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TSTRING) {
		unsigned b = auth_role_bit(lua_tostring(L, idx));
		if (!b)
			snprintf(bad, badn, "%s", lua_tostring(L, idx));
		return b;
	}
	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	size_t n = lua_rawlen(L, idx);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		unsigned b = lua_type(L, -1) == LUA_TSTRING ? auth_role_bit(lua_tostring(L, -1)) : 0;
		if (!b)
			snprintf(bad, badn, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
		bits |= b;
		lua_pop(L, 1);
	}
	return bits;
}

/* Route paths: "/" or segments of [a-z0-9_.-] or {name}. */
static int plug_valid_path(const char *p)
{
	if (p[0] != '/')
		return 0;
	for (const char *s = p + 1; *s; s++) {
		if (*s == '{') {
			const char *e = strchr(s, '}');
			if (!e || e == s + 1 || (s[-1] != '/') || (e[1] && e[1] != '/'))
				return 0;
			for (const char *q = s + 1; q < e; q++)
				if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_'))
					return 0;
			s = e;
		} else if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("/_.-", *s)))
			return 0;
		if (*s == '/' && s[1] == '/')
			return 0;
		if (*s == '.' && (s[-1] == '/' || s[-1] == '.'))
			return 0;
	}
	return 1;
}

/* Do two route patterns match the same requests? Parameter names do not
 * count ("/days/{id}" is "/days/{day}"), nor a trailing slash. */
static int plug_same_path(const char *a, const char *b)
{
	for (;;) {
		if (*a == '{' && *b == '{') {
			a = strchr(a, '}') + 1;
			b = strchr(b, '}') + 1;
			continue;
		}
		if ((*a == '/' && !a[1] && !*b) || (*b == '/' && !b[1] && !*a))
			return 1;
		if (*a != *b)
			return 0;
		if (!*a)
			return 1;
		a++;
		b++;
	}
}

/* ------------------------------------------------------------ manifest */

#define MERR(...) do { plug_fail(p, PLUG_ERROR, __VA_ARGS__); return -1; } while (0)

static int plug_read_tables(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"tables\": expected a table of tables", p->id);
	size_t cap = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		if (!plug_valid_id(name)) {
			lua_pop(L, 2);
			MERR("plugin %s: manifest field \"tables\": bad table name \"%s\" (lower case letters, digits, _)", p->id, name);
		}
		if (p->ctx.ntables == cap) {
			cap = cap ? cap * 2 : 8;
			p->ctx.tables = realloc(p->ctx.tables, cap * sizeof *p->ctx.tables);
		}
		plug_table *t = &p->ctx.tables[p->ctx.ntables++];
		memset(t, 0, sizeof *t);
		t->name = xstrdup(name);
		char real[128];
		snprintf(real, sizeof real, "%s%s", p->ctx.table_prefix, name);
		t->real = xstrdup(real);
		if (strlen(real) > PLUG_MAX_TABLE_NAME) {
			lua_pop(L, 2);
			MERR("plugin %s: tables.%s: its name in the database, %s, is longer than %d characters "
			     "(MariaDB's limit): choose a shorter table name", p->id, name, real, PLUG_MAX_TABLE_NAME);
		}
		plug_field(L, -1, "columns");
		if (!lua_istable(L, -1)) {
			lua_pop(L, 3);
			MERR("plugin %s: tables.%s.columns: expected a list of column names", p->id, name);
		}
		size_t n = lua_rawlen(L, -1);
		const char **cols = calloc(n + 1, sizeof *cols);
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i);
			const char *c = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
			if (!plug_valid_id(c) && strcmp(c, "id") != 0) {
				lua_pop(L, 4);
				t->columns = cols;
				t->ncolumns = i - 1;
				MERR("plugin %s: tables.%s.columns[%zu]: bad column name \"%s\"", p->id, name, i, c);
			}
			cols[i - 1] = xstrdup(c);
			lua_pop(L, 1);
		}
		t->columns = cols;
		t->ncolumns = n;
		lua_pop(L, 2);
	}
	return 0;
}

static int plug_read_routes(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"routes\": expected a list", p->id);
	size_t n = lua_rawlen(L, idx);
	p->routes = calloc(n ? n : 1, sizeof *p->routes);
	p->rt = calloc(n ? n : 1, sizeof *p->rt);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		int t = lua_gettop(L);
		struct proute *r = &p->routes[p->nroutes];
		r->ref = LUA_NOREF;
		if (!lua_istable(L, t))
			MERR("plugin %s: routes[%zu]: expected a table", p->id, i);
		lua_pushnil(L);
		while (lua_next(L, t)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
			static const char *const known[] = {"method", "path", "handler", "role", "roles", "api", "scope", "grant", NULL};
			if (plug_in_list(known, k) < 0) {
				lua_pop(L, 2);
				MERR("plugin %s: routes[%zu]: unknown field \"%s\"", p->id, i, k);
			}
			lua_pop(L, 1);
		}
		plug_field(L, t, "method");
		const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "GET";
		if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "PATCH") && strcmp(m, "DELETE"))
			MERR("plugin %s: routes[%zu].method: \"%s\" is not GET, POST, PUT, PATCH or DELETE", p->id, i, m);
		r->method = xstrdup(m);
		plug_field(L, t, "path");
		if (lua_type(L, -1) != LUA_TSTRING || !plug_valid_path(lua_tostring(L, -1)))
			MERR("plugin %s: routes[%zu].path: expected a path like \"/days/{id}\"", p->id, i);
		r->path = xstrdup(lua_tostring(L, -1));
		plug_field(L, t, "api");
		r->api = lua_toboolean(L, -1);
		char pat[512];
		snprintf(pat, sizeof pat, "%s/p/%s%s", r->api ? "/api" : "", p->id, strcmp(r->path, "/") ? r->path : "");
		for (size_t j = 0; j < p->nroutes; j++)
			if (!strcmp(p->routes[j].method, r->method) && plug_same_path(p->routes[j].pattern, pat)) {
				plug_fail(p, PLUG_ERROR, "plugin %s: routes[%zu] (%s %s%s): the same method and path as "
				          "routes[%zu]; only the first would ever answer", p->id, i, r->method,
				          r->api ? "api " : "", r->path, j + 1);
				free(r->method);
				free(r->path);
				r->method = r->path = NULL;
				return -1;
			}
		r->pattern = xstrdup(pat);
		char bad[64] = "";
		plug_field(L, t, "roles");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			plug_field(L, t, "role");
		}
		r->roles = plug_roles(L, -1, bad, sizeof bad);
		if (*bad)
			MERR("plugin %s: routes[%zu] (%s): unknown role \"%s\"", p->id, i, r->path, bad);
		plug_field(L, t, "scope");
		if (!lua_isnil(L, -1)) {
			if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "grid") != 0)
				MERR("plugin %s: routes[%zu].scope: only \"grid\" is known", p->id, i);
			if (!strstr(r->path, "{grid}"))
				MERR("plugin %s: routes[%zu].scope \"grid\" needs a {grid} segment in the path", p->id, i);
			r->scope = xstrdup("grid");
		}
		plug_field(L, t, "grant");
		if (!lua_isnil(L, -1)) {
			const char *g = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
			if (!json_object_get(p->grants, g))
				MERR("plugin %s: routes[%zu] (%s).grant: \"%s\" is not one of the manifest's grants", p->id, i, r->path, g);
			if (!r->roles)
				MERR("plugin %s: routes[%zu] (%s).grant needs roles too", p->id, i, r->path);
			char full[GRANT_MAX_FULL + PLUG_MAX_ID];
			snprintf(full, sizeof full, "%s.%s", p->id, g);
			r->grant = xstrdup(full);
		}
		plug_field(L, t, "handler");
		if (!lua_isfunction(L, -1))
			MERR("plugin %s: routes[%zu] (%s): handler must be a function", p->id, i, r->path);
		r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_settop(L, t - 1);
		p->rt[p->nroutes] = (rt_route){r->method, r->pattern, NULL, r->api ? RT_API : 0, r->roles};
		p->nroutes++;
	}
	return 0;
}

static int plug_read_names(lua_State *L, int idx, char **out, size_t max)
{
	if (lua_isnil(L, idx))
		return 0;
	if (lua_type(L, idx) == LUA_TSTRING) {
		out[0] = xstrdup(lua_tostring(L, idx));
		return 0;
	}
	if (!lua_istable(L, idx) || lua_rawlen(L, idx) > max)
		return -1;
	for (size_t i = 1; i <= lua_rawlen(L, idx); i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 1);
			return -1;
		}
		out[i - 1] = xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	return 0;
}

static int plug_add_hook(plugin *p, lua_State *L, const char *name, int fidx, int tidx)
{
	if (plug_in_list(plug_hook_names, name) < 0)
		MERR("plugin %s: hooks: unknown hook \"%s\"", p->id, name);
	p->hooks = realloc(p->hooks, (p->nhooks + 1) * sizeof *p->hooks);
	struct phook *h = &p->hooks[p->nhooks++];
	memset(h, 0, sizeof *h);
	h->name = xstrdup(name);
	h->ref = LUA_NOREF;
	if (tidx) {
		plug_field(L, tidx, "before");
		int rc = plug_read_names(L, -1, h->before, 7);
		lua_pop(L, 1);
		plug_field(L, tidx, "after");
		rc |= plug_read_names(L, -1, h->after, 7);
		lua_pop(L, 1);
		if (rc)
			MERR("plugin %s: hooks.%s: before/after must be plugin ids", p->id, name);
	}
	if (!lua_isfunction(L, fidx))
		MERR("plugin %s: hooks.%s: expected a function", p->id, name);
	lua_pushvalue(L, fidx);
	h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* hooks = { ["name"] = fn, ... } or { { name = "...", handler = fn, before = {..}, after = {..} }, ... } */
static int plug_read_hooks(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"hooks\": expected a table", p->id);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int v = lua_gettop(L);
		int rc;
		if (lua_type(L, -2) == LUA_TSTRING)
			rc = plug_add_hook(p, L, lua_tostring(L, -2), v, 0);
		else if (lua_istable(L, v)) {
			plug_field(L, v, "name");
			plug_field(L, v, "handler");
			const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
			rc = plug_add_hook(p, L, name, lua_gettop(L), v);
			lua_pop(L, 2);
		} else
			rc = (plug_fail(p, PLUG_ERROR, "plugin %s: hooks: expected name = function", p->id), -1);
		lua_pop(L, 1);
		if (rc) {
			lua_pop(L, 1);
			return -1;
		}
	}
	return 0;
}

static int plug_read_jobs(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"jobs\": expected a list", p->id);
	size_t n = lua_rawlen(L, idx);
	p->jobs = calloc(n ? n : 1, sizeof *p->jobs);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		int t = lua_gettop(L);
		plug_field(L, t, "name");
		plug_field(L, t, "every");
		plug_field(L, t, "handler");
		if (!lua_istable(L, t) || lua_type(L, t + 1) != LUA_TSTRING || !plug_valid_id(lua_tostring(L, t + 1)))
			MERR("plugin %s: jobs[%zu].name: expected a name like \"reminders\"", p->id, i);
		const char *every = lua_type(L, t + 2) == LUA_TSTRING ? lua_tostring(L, t + 2) : "";
		if (strcmp(every, "daily") && strcmp(every, "hourly"))
			MERR("plugin %s: jobs[%zu].every: \"daily\" or \"hourly\"", p->id, i);
		if (!lua_isfunction(L, t + 3))
			MERR("plugin %s: jobs[%zu].handler: expected a function", p->id, i);
		struct pjob *j = &p->jobs[p->njobs++];
		j->name = xstrdup(lua_tostring(L, t + 1));
		j->every = xstrdup(every);
		lua_pushvalue(L, t + 3);
		j->ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_settop(L, t - 1);
	}
	return 0;
}

/* config = { key = { type = "number"|"text"|"yesno", default = v, label = "...", min =, max =, max_len = } }
 * (the schema is checked by plugin_settings.c; the defaults are the values until an admin changes one) */
static int plug_read_config(plugin *p, lua_State *L, int idx)
{
	p->config = json_object();
	p->config_spec = json_object();
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"config\": expected a table", p->id);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		char err[512];
		json_t *spec = plug_valid_id(k) ? pset_spec(L, -1, p->id, k, err, sizeof err) : NULL;
		if (!plug_valid_id(k))
			snprintf(err, sizeof err, "plugin %s: config: bad key \"%s\"", p->id, k);
		if (!spec) {
			lua_pop(L, 2);
			MERR("%s", err);
		}
		json_object_set(p->config, k, json_object_get(spec, "default"));
		json_object_set_new(p->config_spec, k, spec);
		lua_pop(L, 1);
	}
	return 0;
}

static int plug_read_grants(plugin *p, lua_State *L, int idx)
{
	char err[512];
	p->grants = grant_read_manifest(L, idx, p->id, err, sizeof err);
	if (!p->grants)
		MERR("%s", err);
	return 0;
}

static int plug_read_forms(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"forms\": expected a table of forms", p->id);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		char err[512];
		if (!plug_valid_id(name)) {
			lua_pop(L, 2);
			MERR("plugin %s: forms: bad form name \"%s\"", p->id, name);
		}
		pform *f = pform_compile(L, lua_gettop(L), p->id, name, err, sizeof err);
		lua_pop(L, 1);
		if (!f) {
			lua_pop(L, 1);
			MERR("%s", err);
		}
		p->forms = realloc(p->forms, (p->nforms + 1) * sizeof *p->forms);
		p->forms[p->nforms++] = f;
	}
	return 0;
}

static const pform *plug_form(const plugin *p, const char *name)
{
	for (size_t i = 0; i < p->nforms; i++)
		if (strcmp(pform_name(p->forms[i]), name) == 0)
			return p->forms[i];
	return NULL;
}

const pform *plug_find_form(plugin *p, const char *name)
{
	return plug_form(p, name);
}

/* event_kinds = { { id = "prepregnancy", title = {zh=..,en=..}, form = "couple", retention_days = 365, description = "..." } } */
static int plug_read_kinds(plugin *p, lua_State *L, int idx)
{
	p->kinds = json_array();
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"event_kinds\": expected a list", p->id);
	for (size_t i = 1; i <= lua_rawlen(L, idx); i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		int t = lua_gettop(L);
		char err[256];
		json_t *k = lua_istable(L, t) ? lj_to_json(L, t, err, sizeof err) : NULL;
		if (!k || !json_is_object(k))
			MERR("plugin %s: event_kinds[%zu]: expected a table", p->id, i);
		json_array_append_new(p->kinds, k);
		const char *id = json_string_value(json_object_get(k, "id"));
		if (!id || !plug_valid_id(id))
			MERR("plugin %s: event_kinds[%zu].id: expected a name like \"screening\"", p->id, i);
		if (plug_in_list(plug_core_kinds, id) >= 0)
			MERR("plugin %s: event_kinds[%zu] (%s): \"%s\" is a kind of the portal itself; "
			     "a kind belongs to one provider: choose another id", p->id, i, id, id);
		for (size_t j = 0; j + 1 < json_array_size(p->kinds); j++)
			if (!strcmp(json_string_value(json_object_get(json_array_get(p->kinds, j), "id")), id))
				MERR("plugin %s: event_kinds[%zu] (%s): declared twice", p->id, i, id);
		json_t *title = json_object_get(k, "title");
		if (!json_is_string(title) && !json_is_string(json_object_get(title, "zh")))
			MERR("plugin %s: event_kinds[%zu] (%s).title: expected a text or {zh=..., en=...}", p->id, i, id);
		const char *fname = json_string_value(json_object_get(k, "form"));
		if (fname && !plug_form(p, fname))
			MERR("plugin %s: event_kinds[%zu] (%s).form: no form named \"%s\"", p->id, i, id, fname);
		json_t *rd = json_object_get(k, "retention_days");
		if (rd && (!json_is_integer(rd) || json_integer_value(rd) < 1 || json_integer_value(rd) > 3650))
			MERR("plugin %s: event_kinds[%zu] (%s).retention_days: a whole number of days, 1 to 3650", p->id, i, id);
		json_object_set_new(k, "plugin", json_string(p->id));
		lua_pop(L, 1);
	}
	return 0;
}

static int plug_read_queries(plugin *p, lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		MERR("plugin %s: manifest field \"queries\": expected name = \"SELECT ...\"", p->id);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		if (!plug_valid_id(name) || lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 2);
			MERR("plugin %s: queries: expected name = \"SELECT ...\" (bad entry \"%s\")", p->id, name);
		}
		char err[512];
		arena *a = ar_new(0);
		char *sql = pdb_expand(a, &p->ctx, lua_tostring(L, -1), PDB_SELECT, err, sizeof err);
		if (!sql) {
			ar_free(a);
			lua_pop(L, 2);
			MERR("plugin %s: queries.%s: %s", p->id, name, err);
		}
		p->queries = realloc(p->queries, (p->nqueries + 1) * sizeof *p->queries);
		p->queries[p->nqueries].name = xstrdup(name);
		p->queries[p->nqueries].sql = xstrdup(sql);
		p->nqueries++;
		ar_free(a);
		lua_pop(L, 1);
	}
	return 0;
}

const char *plug_query_sql(plugin *p, const char *name)
{
	for (size_t i = 0; i < p->nqueries; i++)
		if (strcmp(p->queries[i].name, name) == 0)
			return p->queries[i].sql;
	return NULL;
}

static int plug_read_manifest(plugin *p, lua_State *L, int m)
{
	if (!lua_istable(L, m))
		MERR("plugin %s: plugin.lua must return the manifest table", p->id);
	lua_pushnil(L);
	while (lua_next(L, m)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		if (plug_in_list(plug_manifest_keys, k) < 0) {
			lua_pop(L, 2);
			MERR("plugin %s: unknown manifest field \"%s\"", p->id, k);
		}
		lua_pop(L, 1);
	}
	plug_field(L, m, "id");
	if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), p->id) != 0)
		MERR("plugin %s: manifest field \"id\": must be \"%s\", the folder's name", p->id, p->id);
	plug_field(L, m, "version");
	long v[3];
	if (lua_type(L, -1) != LUA_TSTRING || plug_semver(lua_tostring(L, -1), v) != 0)
		MERR("plugin %s: manifest field \"version\": expected a version like \"1.0.0\"", p->id);
	p->version = xstrdup(lua_tostring(L, -1));
	plug_field(L, m, "api_version");
	if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) != PLUG_API_VERSION)
		MERR("plugin %s: manifest field \"api_version\": this portal provides API version %d", p->id, PLUG_API_VERSION);
	plug_field(L, m, "title");
	if (plug_text(L, -1, &p->title_zh, &p->title_en) != 0)
		MERR("plugin %s: manifest field \"title\": expected {zh = \"...\", en = \"...\"}", p->id);
	plug_field(L, m, "description");
	if (!lua_isnil(L, -1) && plug_text(L, -1, &p->description, NULL) != 0)
		MERR("plugin %s: manifest field \"description\": expected a text", p->id);
	lua_settop(L, m);

	plug_field(L, m, "requires");
	char err[256];
	p->requires = lua_isnil(L, -1) ? json_object() : lj_to_json(L, -1, err, sizeof err);
	if (!json_is_object(p->requires))
		MERR("plugin %s: manifest field \"requires\": expected { core = \">=0.1\", other = \">=1.0 <2.0\" }", p->id);
	const char *rk;
	json_t *rv;
	json_object_foreach(p->requires, rk, rv) {
		if (!json_is_string(rv) || plug_satisfies("0.0.0", json_string_value(rv)) < 0)
			MERR("plugin %s: requires.%s: expected a version range like \">=1.0 <2.0\"", p->id, rk);
		if (!strcmp(rk, "core") && plug_satisfies(PACKAGE_VERSION, json_string_value(rv)) != 1)
			MERR("plugin %s: requires core %s, this is %s", p->id, json_string_value(rv), PACKAGE_VERSION);
	}
	lua_settop(L, m);

	plug_field(L, m, "permissions");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			MERR("plugin %s: manifest field \"permissions\": expected a list", p->id);
		for (size_t i = 1; i <= lua_rawlen(L, -1); i++) {
			lua_rawgeti(L, -1, (lua_Integer)i);
			int bit = lua_type(L, -1) == LUA_TSTRING ? plug_in_list(plug_permissions, lua_tostring(L, -1)) : -1;
			if (bit < 0)
				MERR("plugin %s: permissions[%zu]: unknown permission \"%s\" (known: outbox, audit, accounts)",
				     p->id, i, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
			p->perms |= 1u << bit;
			lua_pop(L, 1);
		}
	}
	lua_settop(L, m);

	plug_field(L, m, "strings");
	p->strings = lua_isnil(L, -1) ? json_object() : lj_to_json(L, -1, err, sizeof err);
	if (!json_is_object(p->strings))
		MERR("plugin %s: manifest field \"strings\": expected { zh = { key = \"...\" }, en = { ... } }", p->id);
	lua_settop(L, m);

#define STEP(field, fn) do { plug_field(L, m, field); int rc_ = fn(p, L, lua_gettop(L)); lua_settop(L, m); if (rc_) return -1; } while (0)
	STEP("tables", plug_read_tables);
	STEP("config", plug_read_config);
	STEP("forms", plug_read_forms);
	STEP("event_kinds", plug_read_kinds);
	STEP("queries", plug_read_queries);
	STEP("grants", plug_read_grants);
	STEP("routes", plug_read_routes);
	STEP("hooks", plug_read_hooks);
	STEP("jobs", plug_read_jobs);
#undef STEP
	return 0;
}

int plug_permitted(const plugin *p, const char *perm)
{
	int bit = plug_in_list(plug_permissions, perm);
	return bit >= 0 && (p->perms & (1u << bit));
}

json_t *plug_config(plugin *p)
{
	return p->config;
}

json_t *plug_strings(plugin *p)
{
	return p->strings;
}

json_t *plug_kinds(plugin *p)
{
	return p->kinds;
}

json_t *plug_config_spec(plugin *p)
{
	return p->config_spec;
}

json_t *plug_grants(plugin *p)
{
	return p->grants;
}

/* ------------------------------------------------------------ loading */

static void plug_free_one(plugin *p)
{
	if (!p)
		return;
	sbx_free(p->sb);
	for (size_t i = 0; i < p->nroutes; i++) {
		free(p->routes[i].method);
		free(p->routes[i].path);
		free(p->routes[i].pattern);
		free(p->routes[i].scope);
		free(p->routes[i].grant);
	}
	free(p->routes);
	free(p->rt);
	for (size_t i = 0; i < p->nhooks; i++) {
		free(p->hooks[i].name);
		for (int j = 0; j < 8; j++) {
			free(p->hooks[i].before[j]);
			free(p->hooks[i].after[j]);
		}
	}
	free(p->hooks);
	for (size_t i = 0; i < p->njobs; i++) {
		free(p->jobs[i].name);
		free(p->jobs[i].every);
	}
	free(p->jobs);
	for (size_t i = 0; i < p->nqueries; i++) {
		free(p->queries[i].name);
		free(p->queries[i].sql);
	}
	free(p->queries);
	for (size_t i = 0; i < p->nforms; i++)
		pform_free(p->forms[i]);
	free(p->forms);
	for (size_t i = 0; i < p->ctx.ntables; i++) {
		free((char *)p->ctx.tables[i].name);
		free((char *)p->ctx.tables[i].real);
		for (size_t j = 0; j < p->ctx.tables[i].ncolumns; j++)
			free((char *)p->ctx.tables[i].columns[j]);
		free((void *)p->ctx.tables[i].columns);
	}
	free(p->ctx.tables);
	free((char *)p->ctx.table_prefix);
	json_decref(p->ctx.last_data);
	json_decref(p->kinds);
	json_decref(p->config);
	json_decref(p->config_spec);
	json_decref(p->grants);
	json_decref(p->strings);
	json_decref(p->requires);
	tpl_free(p->tpl);
	free(p->dir);
	free(p->version);
	free(p->title_zh);
	free(p->title_en);
	free(p->description);
	free(p->message);
	free(p->last_error);
	free(p);
}

/* Steps of loading that touch the plugin's state, each run by sbx_protect
 * (argument 1 is what the step needs). */
static int plug_install_step(lua_State *L)
{
	plugin *p = lua_touserdata(L, 1);
	luaL_checkstack(L, 20, NULL);
	lua_pushlightuserdata(L, &p->ctx);
	lua_setfield(L, LUA_REGISTRYINDEX, "plug.ctx");
	papi_install(p->sb, p);
	return 0;
}

/* Argument 2: the manifest plugin.lua returned. */
static int plug_manifest_step(lua_State *L)
{
	void **ud = lua_touserdata(L, 1);
	luaL_checkstack(L, 60, NULL);
	*(int *)ud[1] = plug_read_manifest(ud[0], L, 2);
	return 0;
}

static int plug_config_step(lua_State *L)
{
	plugin *p = lua_touserdata(L, 1);
	luaL_checkstack(L, 20, NULL);
	papi_set_config(p->sb, p->config, p->version);
	return 0;
}

/* Every file a plugin ships must really be inside its folder. Templates,
 * migrations, lib modules, tests, demo.json, anything: the host reads them
 * by path, and a symlink templates/x.html -> var/portal.conf rendered the
 * database passwords. So before anything of the plugin is read, its whole
 * tree is walked (links are not followed) and every link is resolved: one
 * whose target is outside the folder's real path, or missing, stops the
 * plugin from loading; so do FIFOs, devices and sockets (a FIFO would hang
 * a read). The folder itself may be a link (the test stack links each
 * plugin folder into its plugin_dir); what counts is where its files
 * really are. Names starting with '.' are skipped: the host never reads
 * them. */
#define PLUG_MAX_FILES 5000
#define PLUG_MAX_DEPTH 8

static int plug_walk(plugin *p, const char *root, const char *dir, const char *rel, int depth, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		plug_fail(p, PLUG_ERROR, "plugin %s: %s: %s", p->id, *rel ? rel : ".", strerror(errno));
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	size_t rootlen = strlen(root);
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX], name[PATH_MAX], real[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (++*count > PLUG_MAX_FILES) {
			plug_fail(p, PLUG_ERROR, "plugin %s: more than %d files in the folder", p->id, PLUG_MAX_FILES);
			rc = -1;
		} else if (lstat(path, &st) != 0) {
			plug_fail(p, PLUG_ERROR, "plugin %s: %s: %s", p->id, name, strerror(errno));
			rc = -1;
		} else if (S_ISLNK(st.st_mode)) {
			/* a link to a folder inside is walked where it really is */
			if (!realpath(path, real)) {
				plug_fail(p, PLUG_ERROR, "plugin %s: %s: a link to nothing (%s)", p->id, name, strerror(errno));
				rc = -1;
			} else if (strncmp(real, root, rootlen) != 0 || (real[rootlen] != '/' && real[rootlen] != 0)) {
				plug_fail(p, PLUG_ERROR, "plugin %s: %s: a link to %s, outside the plugin's folder; every file "
				          "of a plugin must be inside its folder", p->id, name, real);
				rc = -1;
			}
		} else if (S_ISDIR(st.st_mode)) {
			if (depth >= PLUG_MAX_DEPTH) {
				plug_fail(p, PLUG_ERROR, "plugin %s: %s: folders nested deeper than %d", p->id, name, PLUG_MAX_DEPTH);
				rc = -1;
			} else
				rc = plug_walk(p, root, path, name, depth + 1, count);
		} else if (!S_ISREG(st.st_mode)) {
			plug_fail(p, PLUG_ERROR, "plugin %s: %s: not a regular file or folder", p->id, name);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

static int plug_check_files(plugin *p, const char *dir)
{
	char root[PATH_MAX];
	if (!realpath(dir, root)) {
		plug_fail(p, PLUG_ERROR, "plugin %s: %s: %s", p->id, dir, strerror(errno));
		return -1;
	}
	size_t count = 0;
	return plug_walk(p, root, dir, "", 0, &count);
}

/* Load one plugin folder. Returns the plugin (status says how it went). */
plugin *plug_load_dir(const conf *cf, db *d, const char *dir, const char *id, const char *prefix)
{
	plugin *p = calloc(1, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	p->dir = xstrdup(dir);
	p->ctx.p = p;
	p->ctx.id = p->id;
	p->ctx.cf = cf;
	p->ctx.db = NULL;                 /* no database while the manifest runs */
	char pre[64];
	if (prefix)
		snprintf(pre, sizeof pre, "%s", prefix);
	else
		pdb_live_prefix(pre, sizeof pre, id);
	p->ctx.table_prefix = xstrdup(pre);
	if (!plug_valid_id(id)) {
		plug_fail(p, PLUG_ERROR, "plugin folder \"%s\": the id must be 2-32 lower case letters, digits or _", id);
		return p;
	}
	if (plug_check_files(p, dir) != 0)
		return p;
	sbx_limits lim = {cf->plugin_mem_mb ? (size_t)cf->plugin_mem_mb << 20 : 0, cf->plugin_cpu_ms, 0};
	p->sb = sbx_new(&lim, dir);
	if (!p->sb) {
		plug_fail(p, PLUG_ERROR, "plugin %s: cannot create a Lua state", id);
		return p;
	}
	char err[2048];
	if (sbx_protect(p->sb, plug_install_step, p, 0, err, sizeof err) != 0) {
		plug_fail(p, PLUG_ERROR, "plugin %s: setting up its Lua state: %s", id, err);
		return p;
	}
	if (sbx_dofile(p->sb, "plugin.lua", 1, err, sizeof err) != 0) {
		plug_fail(p, PLUG_ERROR, "plugin %s: %s", id, err);
		return p;
	}
	/* plugin.lua may have filled its memory: reading the manifest pushes
	 * strings and references, so it is protected too */
	int rc = -1;
	void *ud[2] = {p, &rc};
	if (sbx_protect(p->sb, plug_manifest_step, ud, 1, err, sizeof err) != 0) {
		plug_fail(p, PLUG_ERROR, "plugin %s: reading the manifest: %s", id, err);
		return p;
	}
	if (rc != 0)
		return p;
	if (sbx_protect(p->sb, plug_config_step, p, 0, err, sizeof err) != 0) {
		plug_fail(p, PLUG_ERROR, "plugin %s: passing its settings: %s", id, err);
		return p;
	}
	/* templates: the core's, then the plugin's own (which may add or replace) */
	p->tpl = tpl_new();
	char tdir[PATH_MAX];
	snprintf(tdir, sizeof tdir, "%s/templates", dir);
	struct stat st;
	if (tpl_load_dir(p->tpl, cf->template_dir, err, sizeof err) < 0 ||
	    (stat(tdir, &st) == 0 && tpl_load_dir(p->tpl, tdir, err, sizeof err) < 0)) {
		plug_fail(p, PLUG_ERROR, "plugin %s: templates: %s", id, err);
		return p;
	}
	p->ctx.db = d;
	if (d) {
		char mdir[PATH_MAX];
		mig_status ms;
		snprintf(mdir, sizeof mdir, "%s/migrations", dir);
		if (stat(mdir, &st) == 0) {
			if (pdb_pending(d, &p->ctx, mdir, &ms, err, sizeof err) != 0) {
				plug_fail(p, PLUG_ERROR, "plugin %s: migrations: %s", id, err);
				return p;
			}
			if (ms.pending) {
				plug_fail(p, PLUG_PENDING_MIGRATION,
				          "plugin %s: %d migration(s) not applied yet: run `portald migrate`", id, ms.pending);
				return p;
			}
		}
		int legacy = pdb_legacy_pending(d, &p->ctx);
		if (legacy != 0) {
			plug_fail(p, legacy > 0 ? PLUG_PENDING_MIGRATION : PLUG_ERROR,
			          legacy > 0 ? "plugin %s: %d table(s) still have their old names (p_<id>_...): "
			                       "run `portald migrate` to rename them"
			                     : "plugin %s: cannot look up its tables (%d)", id, legacy);
			return p;
		}
		/* disabled by an admin? (the table exists once core migrations ran) */
		arena *a = ar_new(1024);
		db_res *res = NULL;
		if (db_q(d, a, &res, "SELECT enabled FROM plugin_state WHERE plugin_id = ?", DB_TEXT(id)) == DB_OK &&
		    res->nrows == 1 && db_cell_int(res, 0, "enabled") == 0)
			plug_fail(p, PLUG_DISABLED, "plugin %s: disabled by an administrator", id);
		ar_free(a);
	}
	return p;
}

static int plug_cmp(const void *a, const void *b)
{
	return strcmp((*(plugin *const *)a)->id, (*(plugin *const *)b)->id);
}

plugin *plug_find(plug_set *s, const char *id)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->p[i]->id, id) == 0)
			return s->p[i];
	return NULL;
}

/* A kind id names one provider. When two plugins declare the same kind,
 * neither is loaded: a plugin that claimed another's kind would read that
 * kind's registrations (names, phone numbers, health answers) through
 * portal.events and take its form away, and which of two folders is the
 * rightful owner cannot be told from them. In a reload that is an error
 * like any other: the old set keeps serving. */
static void plug_check_kinds(plug_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		plugin *p = s->p[i];
		for (size_t a = 0; p->kinds && a < json_array_size(p->kinds); a++) {
			const char *kid = json_string_value(json_object_get(json_array_get(p->kinds, a), "id"));
			for (size_t j = 0; kid && j < s->n; j++) {
				plugin *q = s->p[j];
				for (size_t b = 0; j != i && q->kinds && b < json_array_size(q->kinds); b++) {
					const char *qk = json_string_value(json_object_get(json_array_get(q->kinds, b), "id"));
					if (!qk || strcmp(kid, qk) != 0)
						continue;
					if (p->status != PLUG_ERROR)
						plug_fail(p, PLUG_ERROR, "plugin %s: event_kinds: the kind \"%s\" is also declared by "
						          "plugin %s; a kind belongs to one plugin, so neither is loaded", p->id, kid, q->id);
					if (q->status != PLUG_ERROR)
						plug_fail(q, PLUG_ERROR, "plugin %s: event_kinds: the kind \"%s\" is also declared by "
						          "plugin %s; a kind belongs to one plugin, so neither is loaded", q->id, kid, p->id);
				}
			}
		}
	}
}

/* Dependencies between plugins: each required plugin must be loaded, OK,
 * and within the version range. Repeats until nothing changes, so a plugin
 * whose dependency failed fails too. */
static void plug_check_requires(plug_set *s)
{
	int changed = 1;
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < s->n; i++) {
			plugin *p = s->p[i];
			if (p->status != PLUG_OK)
				continue;
			const char *rk;
			json_t *rv;
			json_object_foreach(p->requires, rk, rv) {
				if (!strcmp(rk, "core"))
					continue;
				plugin *q = plug_find(s, rk);
				if (!q || q->status != PLUG_OK) {
					plug_fail(p, PLUG_ERROR, "plugin %s: requires plugin %s, which is %s", p->id, rk,
					          q ? "not working" : "not installed");
					changed = 1;
					break;
				}
				if (plug_satisfies(q->version, json_string_value(rv)) != 1) {
					plug_fail(p, PLUG_ERROR, "plugin %s: requires %s %s, installed is %s", p->id, rk,
					          json_string_value(rv), q->version);
					changed = 1;
					break;
				}
			}
		}
	}
}

plug_set *plug_load(const conf *cf, db *d, int strict, char *err, size_t errlen)
{
	plug_set *s = calloc(1, sizeof *s);
	s->cf = cf;
	s->db = d;
	DIR *dir = opendir(cf->plugin_dir);
	if (!dir) {
		if (errno == ENOENT)
			return s;                 /* no plugins installed */
		snprintf(err, errlen, "%s: %s", cf->plugin_dir, strerror(errno));
		if (strict) {
			free(s);
			return NULL;
		}
		return s;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX], manifest[PATH_MAX + 16];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", cf->plugin_dir, e->d_name);
		snprintf(manifest, sizeof manifest, "%s/plugin.lua", path);
		if (stat(manifest, &st) != 0)
			continue;               /* not a plugin folder */
		s->p = realloc(s->p, (s->n + 1) * sizeof *s->p);
		s->p[s->n++] = plug_load_dir(cf, d, path, e->d_name, NULL);
	}
	closedir(dir);
	if (s->n)
		qsort(s->p, s->n, sizeof *s->p, plug_cmp);
	plug_check_kinds(s);
	plug_check_requires(s);
	for (size_t i = 0; i < s->n; i++) {
		plugin *p = s->p[i];
		if (p->status == PLUG_ERROR) {
			log_err("plugin not loaded", "plugin=%s error=\"%s\"", p->id, p->message);
			if (strict) {
				snprintf(err, errlen, "%s", p->message);
				plug_free(s);
				return NULL;
			}
		} else if (p->status != PLUG_OK)
			log_warn("plugin not served", "plugin=%s reason=\"%s\"", p->id, p->message);
	}
	return s;
}

void plug_free(plug_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		plug_free_one(s->p[i]);
	free(s->p);
	free(s);
}

void plug_set_db(plug_set *s, db *d)
{
	if (!s)
		return;
	s->db = d;
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i]->status != PLUG_ERROR)
			s->p[i]->ctx.db = d;
}

/* ------------------------------------------------------------ calling */

/* Record a plugin error: log with the plugin id and traceback, count it. */
static void plug_error(plugin *p, const char *what, const char *err)
{
	p->errors++;
	free(p->last_error);
	p->last_error = xstrdup(err);
	char q[1800];
	log_err("plugin error", "plugin=%s in=%s error=%s", p->id, what, log_quote(q, sizeof q, err));
	/* a plugin that keeps hitting its memory cap is switched off in this worker */
	if (sbx_mem_hits(p->sb) >= 3 && p->status == PLUG_OK)
		plug_fail(p, PLUG_ERROR, "plugin %s: disabled after hitting its memory limit %u times", p->id,
		          sbx_mem_hits(p->sb));
}

/* The per-call context, saved so that calls can nest (`plugin test` makes
 * requests from inside a test function). */
struct plug_frame {
	req *r;
	arena *a;
	int own;
};

/* Set the per-call context. A call outside a request
 * (a job, a hook from a command) gets an arena of its own for portal.db,
 * unless an outer call already has one. */
static void plug_enter(plugin *p, req *r, struct plug_frame *f)
{
	f->r = p->ctx.r;
	f->a = p->ctx.a;
	f->own = p->ctx.own_arena;
	p->ctx.r = r;
	p->ctx.own_arena = 0;
	pset_refresh(p);                    /* settings an admin changed, seen within a second */
	if (r)
		p->ctx.a = r->a;
	else if (!f->a) {
		p->ctx.a = ar_new(0);
		p->ctx.own_arena = 1;
	}
}

static void plug_leave(plugin *p, const struct plug_frame *f)
{
	if (p->ctx.own_arena)
		ar_free(p->ctx.a);
	p->ctx.r = f->r;
	p->ctx.a = f->a;
	p->ctx.own_arena = f->own;
	p->ctx.req_gen++;
	if (!f->r && !f->a)
		lua_settop(sbx_L(p->sb), 0);    /* outermost call: nothing of it stays */
}

/* The request as the plugin sees it: a read-only table of plain data.
 * files: hand multipart uploads over as req.files (routes with roles only).
 * json: the parsed body of an API request, or NULL (parsed by the caller,
 * outside the protected call, so that a failure here cannot leak it). */
static void plug_push_request(lua_State *L, req *r, int files, json_t *json)
{
	luaL_checkstack(L, 20, NULL);
	lua_createtable(L, 0, 10);
	lua_pushstring(L, r->method);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, r->path);
	lua_setfield(L, -2, "path");
	lua_pushstring(L, r->remote_addr);
	lua_setfield(L, -2, "remote_addr");
	lua_pushboolean(L, r->is_api);
	lua_setfield(L, -2, "is_api");
	lua_createtable(L, 0, (int)r->params.n);
	for (size_t i = 0; i < r->params.n; i++) {
		lua_pushstring(L, r->params.value[i]);
		lua_setfield(L, -2, r->params.name[i]);
	}
	lua_setfield(L, -2, "params");
	const form *fs[2] = {&r->query, &r->post};
	const char *names[2] = {"query", "form"};
	for (int k = 0; k < 2; k++) {
		lua_createtable(L, 0, (int)fs[k]->count);
		for (const form_field *f = fs[k]->head; f; f = f->next) {
			if (f->filename)
				continue;          /* uploads are not handed to plugins */
			if (plug_field(L, -1, f->name) == LUA_TNIL) {
				lua_pop(L, 1);
				lua_pushlstring(L, f->value, f->vlen);
				lua_setfield(L, -2, f->name);
			} else
				lua_pop(L, 1);     /* first value wins; repeated names via portal.form */
		}
		lua_setfield(L, -2, names[k]);
	}
	if (files)
		ptx_push_files(L, &r->post);
	if (json) {
		lj_push(L, json);
		lua_setfield(L, -2, "json");
	}
	sbx_readonly(L);
}

/* One call into a plugin: a route, a hook or a job. Everything that touches
 * the plugin's state for it (pushing the request or the payload, the call
 * itself under its budget, reading what it returned) runs inside one
 * sbx_protect, so that running out of memory anywhere is an error of this
 * call and never a Lua panic that aborts the worker. */
enum { PLUG_AT_PUSH = 0, PLUG_AT_CALL, PLUG_AT_RESULT };

static int plug_respond(plugin *p, req *r, lua_State *L);

struct plug_call {
	plugin *p;
	req *r;
	int ref;                         /* the function to call */
	const struct proute *route;      /* a route: its entry */
	json_t *json;                    /* a route: the parsed JSON body, or NULL */
	json_t *payload;                 /* a hook: its payload (NULL: an empty table) */
	json_t *results;                 /* a hook: where results are collected, or NULL */
	int nargs;                       /* 0 for a job, 1 otherwise */
	int at;                          /* how far it got (PLUG_AT_*) */
	int raised;                      /* the plugin's function raised: err says what */
	char err[4096];
};

static int plug_call_step(lua_State *L)
{
	struct plug_call *c = lua_touserdata(L, 1);
	plugin *p = c->p;
	luaL_checkstack(L, 20, NULL);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	/* what the host hands over is not the plugin's own allocating: a push
	 * that does not fit fails this call but is not counted as the plugin
	 * hitting its cap (which switches it off after three) */
	sbx_quiet(p->sb, 1);
	if (c->route)
		plug_push_request(L, c->r, c->route->roles != 0, c->json);
	else if (c->nargs) {
		if (c->payload)
			lj_push(L, c->payload);
		else
			lua_newtable(L);
		sbx_readonly(L);
	}
	sbx_quiet(p->sb, 0);
	c->at = PLUG_AT_CALL;
	if (sbx_call(p->sb, c->nargs, 1, c->err, sizeof c->err) != 0) {
		c->raised = 1;
		return 0;
	}
	c->at = PLUG_AT_RESULT;
	if (c->route)
		plug_respond(p, c->r, L);
	else if (c->results && !lua_isnil(L, -1)) {
		json_t *j = lj_to_json(L, -1, c->err, sizeof c->err);
		if (j)
			json_array_append_new(c->results, json_pack("{s:s, s:o}", "plugin", p->id, "result", j));
		else
			c->raised = 1;
	}
	return 0;
}

/* Run c (set up by the caller) in p. 0, or -1 when the call failed: the
 * function raised, or the host step around it did (then perr says what). */
static int plug_call_run(plugin *p, struct plug_call *c, char *perr, size_t perrlen)
{
	c->p = p;
	c->at = PLUG_AT_PUSH;
	c->raised = 0;
	*perr = 0;
	if (sbx_protect(p->sb, plug_call_step, c, 0, perr, perrlen) != 0)
		return -1;
	return c->raised ? -1 : 0;
}

/* Relative, same-site paths only: no open redirect. A browser resolving a
 * Location drops tabs and line breaks anywhere, trims spaces and control
 * characters at the ends and reads '\\' as '/', so "/\t/evil.com",
 * "/\\evil.com" and " //evil.com" all lead to evil.com. Refused: anything
 * not starting with exactly one '/', every control character, space and
 * backslash, DEL, and the percent-encoded control characters, DEL and
 * backslash (never part of a path of this site; a proxy or a client that
 * decodes once would turn "/%09/evil.com" into the first case; "%20" in a
 * query stays allowed). */
static int plug_safe_redirect(const char *s)
{
	if (s[0] != '/' || s[1] == '/')
		return 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c <= 0x20 || *c == 0x7f || *c == '\\')
			return 0;
		if (*c == '%' && isxdigit(c[1]) && isxdigit(c[2])) {
			int v = (int)strtol((const char[]){(char)c[1], (char)c[2], 0}, NULL, 16);
			if (v < 0x20 || v == 0x7f || v == '\\')
				return 0;
		}
	}
	return 1;
}

static const char *const plug_text_types[] = {
	"text/plain; charset=utf-8", "text/csv; charset=utf-8", "text/calendar; charset=utf-8", NULL};

/* Turn what a route handler returned (at the top of the stack) into the
 * response. Raw HTML strings are refused: pages come from templates, which
 * escape everything. */
static int plug_respond(plugin *p, req *r, lua_State *L)
{
	char err[512];
	int t = lua_gettop(L);
	if (!lua_istable(L, t)) {
		plug_error(p, "route", "a route must return a table such as {template = \"name\", data = {...}} or {json = ...}");
		return resp_error(r, 500, NULL, NULL, NULL);
	}
	plug_field(L, t, "status");
	int status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 200;
	if (status < 200 || status > 599)
		status = 500;
	plug_field(L, t, "headers");
	if (lua_istable(L, -1)) {
		plug_field(L, -1, "Cache-Control");
		if (lua_type(L, -1) == LUA_TSTRING)
			resp_header(r, "Cache-Control", lua_tostring(L, -1));
		lua_pop(L, 1);
		plug_field(L, -1, "Content-Disposition");
		if (lua_type(L, -1) == LUA_TSTRING)
			resp_header(r, "Content-Disposition", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	lua_settop(L, t);
	if (plug_field(L, t, "redirect") == LUA_TSTRING) {
		const char *to = lua_tostring(L, -1);
		if (!plug_safe_redirect(to)) {
			plug_error(p, "route", "redirect target must be a path on this site");
			return resp_error(r, 500, NULL, NULL, NULL);
		}
		return resp_redirect(r, 303, to);
	}
	lua_settop(L, t);
	if (plug_field(L, t, "error") == LUA_TSTRING) {
		const char *msg = lua_tostring(L, -1);
		plug_field(L, t, "code");
		const char *code = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		plug_field(L, t, "fields");
		json_t *fields = lua_istable(L, -1) ? lj_to_json(L, -1, err, sizeof err) : NULL;
		return resp_error(r, status >= 400 ? status : 400, code ? ar_strdup(r->a, code) : NULL,
		                  ar_strdup(r->a, msg), fields);
	}
	lua_settop(L, t);
	if (plug_field(L, t, "json") != LUA_TNIL) {
		json_t *j = lj_to_json(L, -1, err, sizeof err);
		if (!j) {
			plug_error(p, "route", err);
			return resp_error(r, 500, NULL, NULL, NULL);
		}
		return resp_json(r, status, j);
	}
	lua_settop(L, t);
	if (plug_field(L, t, "text") == LUA_TSTRING) {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		plug_field(L, t, "content_type");
		const char *ct = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : plug_text_types[0];
		int k = plug_in_list(plug_text_types, ct);
		if (k < 0) {
			plug_error(p, "route", "content_type must be text/plain, text/csv or text/calendar (with charset=utf-8)");
			return resp_error(r, 500, NULL, NULL, NULL);
		}
		return resp_text(r, status, plug_text_types[k], ar_memdup(r->a, s, n), n);
	}
	lua_settop(L, t);
	if (plug_field(L, t, "template") == LUA_TSTRING) {
		const char *tpl = ar_strdup(r->a, lua_tostring(L, -1));
		plug_field(L, t, "data");
		json_t *data = lua_isnil(L, -1) ? json_object() : lj_to_json(L, -1, err, sizeof err);
		if (!data || !json_is_object(data)) {
			plug_error(p, "route", data ? "data must be a table with named fields" : err);
			json_decref(data);
			return resp_error(r, 500, NULL, NULL, NULL);
		}
		papi_page_data(p, r, data);
		if (p->ctx.capture) {
			json_decref(p->ctx.last_data);
			p->ctx.last_data = json_deep_copy(data);
			snprintf(p->ctx.last_template, sizeof p->ctx.last_template, "%s", tpl);
		}
		struct tpl_set *core = r->tpl;
		r->tpl = p->tpl;
		int rc = resp_page(r, status, tpl, data);
		r->tpl = core;
		json_decref(data);
		return rc;
	}
	plug_error(p, "route", "a route must return {template=...}, {json=...}, {text=...}, {redirect=...} or {error=...}");
	return resp_error(r, 500, NULL, NULL, NULL);
}

/* Residents' submissions to a plugin (public routes that change something)
 * are limited per client address and plugin, in MariaDB so every worker and
 * machine counts together. 1 when the request was refused (429 set). */
static int plug_rate_limited(req *r, plugin *p)
{
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD") || !r->cf->rate_limits || !r->db ||
	    r->cf->plugin_post_limit <= 0)
		return 0;
	char bucket[128];
	snprintf(bucket, sizeof bucket, "plugin:%s:addr:%.45s", p->id, r->remote_addr);
	int over = rl_hit(r->db, r->a, bucket, r->cf->plugin_post_limit, 60, NULL);
	if (over != 1)
		return 0;    /* a database error does not lock residents out */
	resp_header(r, "Retry-After", "60");
	resp_error(r, 429, "rate_limited", "提交太频繁，请一分钟后再试。", NULL);
	return 1;
}

int plug_dispatch(plug_set *s, req *r)
{
	const char *path = r->path;
	const char *rest = !strncmp(path, "/api/p/", 7) ? path + 7 : !strncmp(path, "/p/", 3) ? path + 3 : NULL;
	if (!s || !rest)
		return 0;
	char id[PLUG_MAX_ID + 1];
	size_t n = strcspn(rest, "/");
	if (n == 0 || n > PLUG_MAX_ID)
		return 0;
	memcpy(id, rest, n);
	id[n] = 0;
	plugin *p = plug_find(s, id);
	if (!p || p->status == PLUG_DISABLED) {
		resp_error(r, 404, NULL, NULL, NULL);
		return 1;
	}
	if (p->status != PLUG_OK) {
		resp_error(r, 503, "plugin_unavailable", "此功能暂时无法使用，请稍后再试。", NULL);
		return 1;
	}
	const rt_route *route;
	char allow[128];
	/* "/p/x/" is "/p/x": a trailing slash never makes a different page */
	size_t pl = strlen(path);
	const char *mpath = pl > 1 && path[pl - 1] == '/' ? ar_strndup(r->a, path, pl - 1) : path;
	int m = rt_match(r->a, p->rt, p->nroutes, r->method, mpath, &route, &r->params, allow, sizeof allow);
	if (m == RT_NOT_FOUND) {
		resp_error(r, 404, NULL, NULL, NULL);
		return 1;
	}
	if (m == RT_METHOD_NOT_ALLOWED) {
		resp_header(r, "Allow", allow);
		resp_error(r, 405, NULL, NULL, NULL);
		return 1;
	}
	const struct proute *pr = &p->routes[route - p->rt];
	if (pr->api)
		r->is_api = 1;
	/* the host applies auth, roles, CSRF and scope; the plugin never does */
	if (pr->roles && auth_gate(r, pr->roles) != 0)
		return 1;
	if (!pr->roles && papi_anon_csrf_check(r) != 0)
		return 1;
	if (!pr->roles && plug_rate_limited(r, p))
		return 1;
	if (pr->scope && !auth_in_grid(r, rt_param(&r->params, "grid"))) {
		resp_error(r, 403, "out_of_scope", "这不是您负责的网格，无法查看。", NULL);
		return 1;
	}
	int held = pr->grant ? grant_user_has(r, pr->grant) : 1;
	if (held != 1) {
		if (held < 0)
			resp_error(r, 503, "unavailable", "系统暂时无法核实您的权限，请稍后再试。", NULL);
		else
			resp_error(r, 403, "forbidden", "您没有查看此内容的权限。", NULL);
		return 1;
	}
	struct plug_frame fr;
	plug_enter(p, r, &fr);
	struct plug_call c = {.r = r, .ref = pr->ref, .route = pr, .nargs = 1};
	if (r->is_api && r->body_len && strncmp(r->content_type, "application/json", 16) == 0)
		c.json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
	size_t max = sbx_mem_max(p->sb), before = sbx_mem(p->sb), room = max - before;
	size_t cost = c.json ? lj_push_cost(c.json, max) : 0;
	char perr[512] = "";
	int rc;
	if (cost > room) {
		/* it cannot fit: no need to spend the time trying */
		snprintf(perr, sizeof perr, "the JSON body needs more than the %zu KiB the plugin has free", room >> 10);
		rc = -1;
	} else
		rc = plug_call_run(p, &c, perr, sizeof perr);
	if (rc == 0)
		;                               /* plug_respond answered */
	else if (c.raised) {
		plug_error(p, pr->path, c.err);
		resp_error(r, 500, NULL, NULL, NULL);
	} else if (c.at == PLUG_AT_PUSH && (cost > max / 2 || before < max / 2)) {
		/* the request alone does not fit in a plugin's memory (a huge or
		 * deeply nested JSON body): the client's doing, not the plugin's */
		log_warn("plugin request too large", "plugin=%s in=%s body_bytes=%zu error=\"%s\"", p->id, pr->path,
		         r->body_len, perr);
		resp_error(r, 413, "too_complex", "提交的内容太大或太复杂，无法处理。", NULL);
	} else {
		char why[700];
		snprintf(why, sizeof why, "%s (while %s)", perr,
		         c.at == PLUG_AT_PUSH ? "passing the request to the plugin" : "reading what the route returned");
		plug_error(p, pr->path, why);
		resp_error(r, 500, NULL, NULL, NULL);
	}
	json_decref(c.json);
	plug_leave(p, &fr);
	return 1;
}

/* Order the plugins that implement hook name: every "before"/"after"
 * constraint respected, ties broken by id. Returns the count; cycles fall
 * back to id order for the plugins involved (and are logged once at load). */
static size_t plug_hook_order(plug_set *s, const char *name, plugin **out, struct phook **hooks)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->p[i]->status != PLUG_OK)
			continue;
		for (size_t j = 0; j < s->p[i]->nhooks; j++)
			if (strcmp(s->p[i]->hooks[j].name, name) == 0) {
				out[n] = s->p[i];
				hooks[n++] = &s->p[i]->hooks[j];
				break;
			}
	}
	/* repeated passes of "must x come before y?" swaps: n is small */
	for (size_t pass = 0; pass < n * n + 1; pass++) {
		int moved = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			for (size_t j = i + 1; j < n; j++) {
				int jfirst = 0;
				for (int k = 0; k < 8; k++) {
					if (hooks[j]->before[k] && !strcmp(hooks[j]->before[k], out[i]->id))
						jfirst = 1;
					if (hooks[i]->after[k] && !strcmp(hooks[i]->after[k], out[j]->id))
						jfirst = 1;
				}
				if (jfirst) {
					plugin *tp = out[j];
					struct phook *th = hooks[j];
					memmove(&out[i + 1], &out[i], (j - i) * sizeof *out);
					memmove(&hooks[i + 1], &hooks[i], (j - i) * sizeof *hooks);
					out[i] = tp;
					hooks[i] = th;
					moved = 1;
				}
			}
		}
		if (!moved)
			break;
	}
	return n;
}

int plug_hook(plug_set *s, req *r, const char *name, json_t *payload, json_t **results)
{
	if (!s || s->n == 0)
		return 0;
	plugin **order = calloc(s->n, sizeof *order);
	struct phook **hooks = calloc(s->n, sizeof *hooks);
	size_t n = plug_hook_order(s, name, order, hooks);
	int rc = 0;
	if (results)
		*results = json_array();
	for (size_t i = 0; i < n; i++) {
		plugin *p = order[i];
		struct plug_frame fr;
		plug_enter(p, r, &fr);
		struct plug_call c = {.r = r, .ref = hooks[i]->ref, .payload = payload,
		                      .results = results ? *results : NULL, .nargs = 1};
		char perr[512];
		if (plug_call_run(p, &c, perr, sizeof perr) != 0) {
			/* a payload that does not fit: the plugin's state is full */
			char why[700];
			if (!c.raised)
				snprintf(why, sizeof why, "%s (while %s)", perr,
				         c.at == PLUG_AT_PUSH ? "passing the payload to the hook" : "reading what the hook returned");
			plug_error(p, name, c.raised ? c.err : why);
			rc = -1;
		}
		plug_leave(p, &fr);
	}
	free(order);
	free(hooks);
	return rc;
}

static const char *plug_status_name(enum plug_status st)
{
	switch (st) {
	case PLUG_OK: return "ok";
	case PLUG_DISABLED: return "disabled";
	case PLUG_PENDING_MIGRATION: return "pending_migration";
	default: return "error";
	}
}

json_t *plug_describe(plug_set *s)
{
	json_t *all = json_array();
	for (size_t i = 0; s && i < s->n; i++) {
		plugin *p = s->p[i];
		json_t *routes = json_array(), *hooks = json_array(), *tables = json_array(), *forms = json_array(),
		       *jobs = json_array();
		for (size_t j = 0; j < p->nroutes; j++) {
			json_t *roles = json_array();
			for (unsigned b = 1; b; b <<= 1)
				if (p->routes[j].roles & b)
					json_array_append_new(roles, json_string(auth_role_name(b)));
			json_array_append_new(routes, json_pack("{s:s, s:s, s:o}", "method", p->routes[j].method, "path",
			                                        p->routes[j].pattern, "roles", roles));
		}
		for (size_t j = 0; j < p->nhooks; j++)
			json_array_append_new(hooks, json_string(p->hooks[j].name));
		for (size_t j = 0; j < p->ctx.ntables; j++)
			json_array_append_new(tables, json_string(p->ctx.tables[j].real));
		for (size_t j = 0; j < p->nforms; j++)
			json_array_append_new(forms, json_string(pform_name(p->forms[j])));
		for (size_t j = 0; j < p->njobs; j++)
			json_array_append_new(jobs, json_pack("{s:s, s:s}", "name", p->jobs[j].name, "every", p->jobs[j].every));
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "id", p->id, "version",
		                      p->version ? p->version : "", "title", p->title_zh ? p->title_zh : p->id, "status",
		                      plug_status_name(p->status), "routes", routes, "hooks", hooks, "tables", tables,
		                      "forms", forms, "jobs", jobs, "errors", (json_int_t)p->errors, "memory_kb",
		                      (json_int_t)(p->sb ? sbx_mem(p->sb) / 1024 : 0));
		if (p->message)
			json_object_set_new(o, "message", json_string(p->message));
		if (p->last_error)
			json_object_set_new(o, "last_error", json_string(p->last_error));
		json_object_set_new(o, "disabled", json_boolean(p->status == PLUG_DISABLED));
		json_t *perms = json_array(), *grants = json_array();
		for (int k = 0; plug_permissions[k]; k++)
			if (p->perms & (1u << k))
				json_array_append_new(perms, json_string(plug_permissions[k]));
		const char *gk;
		json_t *gv;
		json_object_foreach(p->grants, gk, gv)
			json_array_append_new(grants, json_pack("{s:s, s:O}", "name", gk, "label", json_object_get(gv, "zh")));
		json_object_set_new(o, "permissions", perms);
		json_object_set_new(o, "grants", grants);
		json_object_set_new(o, "has_settings", json_boolean(json_object_size(p->config_spec) > 0));
		static const char *const labels[] = {"正常", "已停用", "出错，未启用", "等待数据库升级，未启用"};
		json_object_set_new(o, "status_label", json_string(labels[p->status]));
		json_object_set(o, "event_kinds", p->kinds ? p->kinds : json_array());
		json_array_append_new(all, o);
	}
	return all;
}

json_t *plug_event_kinds(plug_set *s)
{
	json_t *all = json_array();
	for (size_t i = 0; s && i < s->n; i++)
		if (s->p[i]->status == PLUG_OK && s->p[i]->kinds)
			json_array_extend(all, s->p[i]->kinds);
	return all;
}

/* Run every job of a schedule ("daily" or "hourly") of every plugin. */
int plug_run_jobs(plug_set *s, const char *every)
{
	int rc = 0;
	for (size_t i = 0; s && i < s->n; i++) {
		plugin *p = s->p[i];
		if (p->status != PLUG_OK)
			continue;
		for (size_t j = 0; j < p->njobs; j++) {
			if (strcmp(p->jobs[j].every, every) != 0)
				continue;
			struct plug_frame fr;
			plug_enter(p, NULL, &fr);
			struct plug_call c = {.ref = p->jobs[j].ref};
			char perr[512];
			if (plug_call_run(p, &c, perr, sizeof perr) != 0) {
				plug_error(p, p->jobs[j].name, c.raised ? c.err : perr);
				rc = -1;
			} else
				log_info("plugin job done", "plugin=%s job=%s", p->id, p->jobs[j].name);
			plug_leave(p, &fr);
		}
	}
	return rc;
}

int plug_migrate(const conf *cf, db *d, FILE *logf, char *err, size_t errlen)
{
	DIR *dir = opendir(cf->plugin_dir);
	if (!dir)
		return 0;
	struct dirent *e;
	int rc = 0;
	char **names = NULL;
	size_t n = 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			names = realloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(e->d_name);
		}
	closedir(dir);
	/* every manifest first: renaming a table from its old name needs to
	 * know every other plugin's tables */
	plugin **ps = calloc(n ? n : 1, sizeof *ps);
	const plug_ctx **ctxs = calloc(n ? n : 1, sizeof *ctxs);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], manifest[PATH_MAX + 16];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", cf->plugin_dir, names[i]);
		snprintf(manifest, sizeof manifest, "%s/plugin.lua", path);
		if (stat(manifest, &st) == 0) {
			ps[i] = plug_load_dir(cf, NULL, path, names[i], NULL);
			ctxs[i] = &ps[i]->ctx;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char mdir[PATH_MAX + 16];
		struct stat st;
		snprintf(mdir, sizeof mdir, "%s/%s/migrations", cf->plugin_dir, names[i]);
		plugin *p = ps[i];
		if (rc == 0 && p && stat(mdir, &st) == 0) {
			if (p->status == PLUG_ERROR) {
				snprintf(err, errlen, "%s", p->message);
				rc = -1;
			} else {
				mig_status ms;
				rc = pdb_rename_legacy(d, &p->ctx, ctxs, n, logf, err, errlen);
				if (rc == 0)
					rc = pdb_migrate(d, &p->ctx, mdir, logf, &ms, err, errlen);
				if (rc == 0 && logf)
					fprintf(logf, "%s: %d applied now, %d in total\n", p->id, ms.applied, ms.total);
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		plug_free_one(ps[i]);
		free(names[i]);
	}
	free(ps);
	free(ctxs);
	free(names);
	return rc;
}

plug_set *plug_set_of(const conf *cf, db *d, plugin *p)
{
	plug_set *s = calloc(1, sizeof *s);
	s->cf = cf;
	s->db = d;
	s->p = calloc(1, sizeof *s->p);
	s->p[0] = p;
	s->n = 1;
	return s;
}

size_t plug_count(const plug_set *s)
{
	return s ? s->n : 0;
}

plugin *plug_at(plug_set *s, size_t i)
{
	return s && i < s->n ? s->p[i] : NULL;
}

const char *plug_title_of(const plugin *p)
{
	return p->title_zh ? p->title_zh : p->id;
}

enum plug_status plug_status_of(const plugin *p)
{
	return p->status;
}

const char *plug_message_of(const plugin *p)
{
	return p->message ? p->message : "";
}

plug_ctx *plug_ctx_for(plugin *p)
{
	return &p->ctx;
}

struct sbx *plug_sbx_of(plugin *p)
{
	return p->sb;
}
