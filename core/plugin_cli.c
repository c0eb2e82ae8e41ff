/* plugin_cli.c - `portald plugin list | new ID | test DIR`.
 *
 * `plugin test` runs a plugin's own tests (the files in plugins/<id>/tests/ whose names end in _test.lua) in
 * the real sandbox, with the real host (routing, auth gate, CSRF, templates,
 * forms, portal.db), against throwaway tables: the plugin's migrations are
 * applied under a unique prefix and every such table is dropped at the end.
 * It connects as migrate_user, since it creates tables. Output is TAP. */
#include "app.h"
#include "auth.h"
#include "html.h"
#include "log.h"
#include "luajson.h"
#include "plugin.h"
#include "plugin_db.h"
#include "plugin_settings.h"
#include "sandbox.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ptest {
	const conf *cf;
	db *d;
	plugin *p;
	plug_set *set;          /* a set holding just p */
	tpl_set *core_tpl;
	arena *a;
	req r;
	auth_user user;         /* the pretend user of T.request{user = ...} */
};

static struct ptest *pt_of(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- the request builder: a real request through the real host ---- */

struct pt_env {
	const char *k[8], *v[8];
	int n;
	const char *body;
	size_t len, off;
};

static const char *pt_get(void *ctx, const char *name)
{
	struct pt_env *e = ctx;
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->k[i], name))
			return e->v[i];
	return NULL;
}

static long pt_read(void *ctx, char *p, size_t n)
{
	struct pt_env *e = ctx;
	size_t left = e->len - e->off;
	if (n > left)
		n = left;
	memcpy(p, e->body + e->off, n);
	e->off += n;
	return (long)n;
}

/* One key=value pair; the value at the top of the stack (string, number, boolean). */
static void pt_pair(lua_State *L, buf *b, const char *k)
{
	size_t vl;
	const char *v;
	if (lua_isboolean(L, -1))
		v = lua_toboolean(L, -1) ? "1" : "0", vl = 1;
	else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tolstring(L, -1, &vl);
	else
		return;
	if (b->len)
		buf_addc(b, '&');
	html_urlpart(b, k, strlen(k));
	buf_addc(b, '=');
	html_urlpart(b, v, vl);
}

/* The table at idx as urlencoded pairs; a list value repeats its key. */
static void pt_urlencode(lua_State *L, int idx, buf *b)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 1);
			continue;
		}
		const char *k = lua_tostring(L, -2);
		if (lua_istable(L, -1)) {
			for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
				lua_rawgeti(L, -1, i);
				pt_pair(L, b, k);
				lua_pop(L, 1);
			}
		} else
			pt_pair(L, b, k);
		lua_pop(L, 1);
	}
}

/* T.request{method, path, query, form, json, user = {roles, username, grid}, csrf = true}
 * -> {status, body, json, template, data, location} */
static int pt_request(lua_State *L)
{
	struct ptest *t = pt_of(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "method");
	const char *method = luaL_optstring(L, -1, "GET");
	lua_getfield(L, 1, "path");
	const char *path = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "api");
	int api = lua_toboolean(L, -1);
	lua_getfield(L, 1, "csrf");
	int csrf = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 2);

	buf uri = BUF_INIT, body = BUF_INIT, cookie = BUF_INIT;
	if (!strncmp(path, "/p/", 3) || !strncmp(path, "/api/", 5))
		buf_adds(&uri, path);
	else
		buf_printf(&uri, "%s/p/%s%s", api ? "/api" : "", t->p ? plug_ctx_of(L)->id : "", path);
	lua_getfield(L, 1, "query");
	if (lua_istable(L, -1)) {
		buf q = BUF_INIT;
		pt_urlencode(L, lua_gettop(L), &q);
		if (q.len)
			buf_printf(&uri, "?%s", q.p);
		buf_free(&q);
	}
	lua_pop(L, 1);

	/* the pretend user: what auth_identify would have found in a session */
	int has_user = 0;
	lua_getfield(L, 1, "user");
	if (lua_istable(L, -1)) {
		has_user = 1;
		memset(&t->user, 0, sizeof t->user);
		t->user.id = 1;
		lua_getfield(L, -1, "username");
		t->user.username = ar_strdup(t->a, luaL_optstring(L, -1, "tester"));
		t->user.display_name = t->user.username;
		lua_getfield(L, -2, "grid");
		t->user.grid = lua_isstring(L, -1) ? ar_strdup(t->a, lua_tostring(L, -1)) : NULL;
		lua_getfield(L, -3, "roles");
		if (lua_istable(L, -1))
			for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
				lua_rawgeti(L, -1, i);
				unsigned bit = lua_isstring(L, -1) ? auth_role_bit(lua_tostring(L, -1)) : 0;
				if (!bit) {
					buf_free(&uri);
					return luaL_error(L, "T.request: unknown role in user.roles");
				}
				t->user.roles |= bit;
				lua_pop(L, 1);
			}
		t->user.session_id = 1;
		t->user.csrf = "plugin-test-csrf-token";
		lua_pop(L, 3);
		/* grants: this plugin's grant names (grants.h); none when absent */
		lua_getfield(L, -1, "grants");
		buf g = BUF_INIT;
		buf_addc(&g, ',');
		if (lua_istable(L, -1))
			for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
				lua_rawgeti(L, -1, i);
				const char *gn = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
				if (!json_object_get(plug_grants(t->p), gn)) {
					buf_free(&g);
					buf_free(&uri);
					return luaL_error(L, "T.request: user.grants: the plugin declares no grant \"%s\"", gn);
				}
				buf_printf(&g, "%s.%s,", plug_ctx_of(L)->id, gn);
				lua_pop(L, 1);
			}
		else if (!lua_isnil(L, -1)) {
			buf_free(&g);
			buf_free(&uri);
			return luaL_error(L, "T.request: user.grants must be a list of grant names");
		}
		t->user.grants = ar_strdup(t->a, buf_str(&g));
		buf_free(&g);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);

	const char *ctype = "";
	lua_getfield(L, 1, "json");
	if (!lua_isnil(L, -1)) {
		char err[200];
		json_t *j = lj_to_json(L, -1, err, sizeof err);
		if (!j)
			return luaL_error(L, "T.request: json: %s", err);
		char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_adds(&body, s);
		free(s);
		json_decref(j);
		ctype = "application/json";
	}
	lua_pop(L, 1);
	/* an API path takes JSON bodies only (docs/api.md): a POST there without
	 * form or json goes without a body, its token in the header */
	int to_api = !strncmp(uri.p, "/api/", 5);
	lua_getfield(L, 1, "form");
	if (lua_istable(L, -1) || (csrf && strcmp(method, "GET") && !*ctype && !to_api)) {
		if (lua_istable(L, -1))
			pt_urlencode(L, lua_gettop(L), &body);
		if (csrf) {
			const char *tok = has_user ? t->user.csrf : "plugin-test-anonymous-csrf-token-012345678A";
			buf_printf(&body, "%scsrf=%s", body.len ? "&" : "", tok);
			if (!has_user)
				buf_printf(&cookie, "portal_csrf=%s", tok);
		}
		ctype = "application/x-www-form-urlencoded";
	}
	lua_pop(L, 1);

	char clen[24];
	snprintf(clen, sizeof clen, "%zu", body.len);
	struct pt_env e = {{0}, {0}, 0, body.p ? body.p : "", body.len, 0};
	e.k[e.n] = "REQUEST_METHOD", e.v[e.n++] = method;
	e.k[e.n] = "REQUEST_URI", e.v[e.n++] = uri.p;
	e.k[e.n] = "CONTENT_TYPE", e.v[e.n++] = ctype;
	e.k[e.n] = "CONTENT_LENGTH", e.v[e.n++] = clen;
	e.k[e.n] = "REMOTE_ADDR", e.v[e.n++] = "127.0.0.1";
	if (cookie.len)
		e.k[e.n] = "HTTP_COOKIE", e.v[e.n++] = cookie.p;
	/* a JSON body of a signed-in user carries the session's token in the header, as
	 * the portal's own scripts send it */
	if (csrf && has_user && (!strcmp(ctype, "application/json") || (to_api && !body.len)))
		e.k[e.n] = "HTTP_X_CSRF_TOKEN", e.v[e.n++] = t->user.csrf;

	req *r = &t->r;
	r->db = t->d;
	r->tpl = t->core_tpl;
	plug_ctx *pc = plug_ctx_of(L);
	pc->capture = 1;
	pc->last_template[0] = 0;
	int rc = req_init(r, t->a, t->cf, pt_get, &e);
	if (rc == 0)
		rc = req_read(r, pt_read, &e, pt_get, &e);
	if (rc == 0) {
		r->user = has_user ? &t->user : NULL;
		r->plugins = t->set;    /* the core's events call this plugin's hooks */
		if (!plug_dispatch(t->set, r))
			app_core_dispatch(r);
	}
	/* plug_dispatch emptied this C function's stack frame: build the result fresh */
	lua_settop(L, 0);
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, r->body_out.p ? r->body_out.p : "", r->body_out.len);
	lua_setfield(L, -2, "body");
	if (r->ctype && !strncmp(r->ctype, "application/json", 16)) {
		json_t *j = json_loadb(r->body_out.p, r->body_out.len, JSON_DECODE_ANY, NULL);
		if (j) {
			lj_push(L, j);
			lua_setfield(L, -2, "json");
			json_decref(j);
		}
	}
	if (pc->last_template[0]) {
		lua_pushstring(L, pc->last_template);
		lua_setfield(L, -2, "template");
		lj_push(L, pc->last_data);
		lua_setfield(L, -2, "data");
	}
	const char *loc = strstr(buf_str(&r->headers), "Location: ");
	if (loc) {
		loc += 10;
		lua_pushlstring(L, loc, strcspn(loc, "\r"));
		lua_setfield(L, -2, "location");
	}
	req_done(r);
	buf_free(&uri);
	buf_free(&body);
	buf_free(&cookie);
	return 1;
}

/* T.hook(name, payload) -> list of {plugin, result} */
static int pt_hook(lua_State *L)
{
	struct ptest *t = pt_of(L);
	const char *name = luaL_checkstring(L, 1);
	char err[200];
	json_t *payload = lua_isnoneornil(L, 2) ? json_object() : lj_to_json(L, 2, err, sizeof err);
	if (!payload)
		return luaL_error(L, "T.hook: payload: %s", err);
	char *hname = strdup(name);
	json_t *results = NULL;
	int rc = plug_hook(t->set, NULL, hname, payload, &results);
	free(hname);
	json_decref(payload);
	lua_settop(L, 0);
	if (rc != 0) {
		json_decref(results);
		return luaL_error(L, "T.hook: the hook raised an error (see the log)");
	}
	lj_push(L, results);
	json_decref(results);
	return 1;
}

/* T.jobs("daily"|"hourly") runs the plugin's jobs of that schedule. */
static int pt_jobs(lua_State *L)
{
	struct ptest *t = pt_of(L);
	char *every = strdup(luaL_checkstring(L, 1));
	int rc = plug_run_jobs(t->set, every);
	free(every);
	lua_settop(L, 0);
	if (rc != 0)
		return luaL_error(L, "T.jobs: a job raised an error (see the log)");
	return 0;
}

/* T.config{ key = value, ... }: settings for the rest of the run, checked as
 * the settings page checks them (a bad value raises with its message). */
static int pt_config(lua_State *L)
{
	struct ptest *t = pt_of(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	json_t *schema = plug_config_spec(t->p), *values = json_object();
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		json_t *spec = json_object_get(schema, k);
		char err[200];
		json_t *v = spec ? lj_to_json(L, -1, err, sizeof err) : NULL;
		const char *why = spec ? pset_check(t->a, spec, v) : NULL;
		if (!spec || why) {
			json_decref(v);
			json_decref(values);
			return spec ? luaL_error(L, "T.config: %s: %s", k, why)
			            : luaL_error(L, "T.config: the plugin has no setting \"%s\"", k);
		}
		json_object_set_new(values, k, v);
		lua_pop(L, 1);
	}
	int rc = pset_apply(t->p, values);
	json_decref(values);
	return rc == 0 ? 0 : luaL_error(L, "T.config: the settings do not fit in the plugin's memory");
}

/* The assertions and the test registry are plain Lua, run in the sandbox. */
static const char pt_lib[] =
	"local T, tests = ...\n"
	"local function show(v) if type(v) == 'string' then return string.format('%q', v) end return tostring(v) end\n"
	"function T.test(name, fn) tests[#tests + 1] = {name = name, fn = fn} end\n"
	"function T.ok(v, msg) if not v then error((msg or 'expected a true value'), 2) end return v end\n"
	"function T.eq(got, want, msg)\n"
	"  if got ~= want then error((msg and msg .. ': ' or '') .. 'got ' .. show(got) .. ', want ' .. show(want), 2) end\n"
	"end\n"
	"function T.match(s, pat, msg)\n"
	"  if type(s) ~= 'string' or not s:find(pat) then error((msg and msg .. ': ' or '') .. show(s) .. ' does not match ' .. show(pat), 2) end\n"
	"end\n"
	"function T.fails(fn, pat, msg)\n"
	"  local ok, e = pcall(fn)\n"
	"  if ok then error((msg or 'expected an error'), 2) end\n"
	"  if pat and not tostring(e):find(pat) then error((msg and msg .. ': ' or '') .. 'error ' .. show(tostring(e)) .. ' does not match ' .. show(pat), 2) end\n"
	"end\n";

/* One test file, run by sbx_protect (the host pushes names and tables into
 * the plugin's state between the tests, which may have filled it). */
struct pt_file {
	struct ptest *t;
	sbx *sb;
	const char *rel;
	int *n, *failed, rc;
};

static int pt_run_file_step(lua_State *L);

static int pt_run_file(struct ptest *t, sbx *sb, const char *rel, int *n, int *failed)
{
	struct pt_file f = {t, sb, rel, n, failed, 0};
	char err[256];
	lua_settop(sbx_L(sb), 0);
	if (sbx_protect(sb, pt_run_file_step, &f, 0, err, sizeof err) != 0) {
		printf("not ok %d - %s: the test runner stopped: %s\n", ++*n, rel, err);
		fflush(stdout);
		++*failed;
		plug_ctx_for(t->p)->a = NULL;
	}
	return f.rc;
}

static int pt_run_file_step(lua_State *L)
{
	struct pt_file *f = lua_touserdata(L, 1);
	struct ptest *t = f->t;
	sbx *sb = f->sb;
	const char *rel = f->rel;
	int *n = f->n, *failed = f->failed;
	char err[4096];
	lua_settop(L, 0);
	luaL_checkstack(L, 20, NULL);
	sbx_push_env(sb);
	lua_getfield(L, -1, "T");
	int T = lua_gettop(L);
	lua_newtable(L);
	int tests = lua_gettop(L);
	if (sbx_loadstring(sb, pt_lib, sizeof pt_lib - 1, "=T", err, sizeof err) != 0) {
		printf("Bail out! test library: %s\n", err);
		f->rc = -1;
		return 0;
	}
	lua_pushvalue(L, T);
	lua_pushvalue(L, tests);
	if (sbx_call(sb, 2, 0, err, sizeof err) != 0) {
		printf("Bail out! test library: %s\n", err);
		f->rc = -1;
		return 0;
	}
	if (sbx_dofile(sb, rel, 0, err, sizeof err) != 0) {
		printf("not ok %d - %s: does not load\n", ++*n, rel);
		printf("# %s\n", err);
		++*failed;
		return 0;
	}
	size_t count = lua_rawlen(L, tests);
	/* test bodies may use portal.db directly (to seed or check data) */
	plug_ctx *pc = plug_ctx_for(t->p);
	pc->a = t->a;
	for (size_t i = 1; i <= count; i++) {
		lua_rawgeti(L, tests, (lua_Integer)i);
		lua_getfield(L, -1, "name");
		char name[200];
		snprintf(name, sizeof name, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
		lua_getfield(L, -2, "fn");
		int ok = sbx_call(sb, 0, 0, err, sizeof err) == 0;
		printf("%sok %d - %s: %s\n", ok ? "" : "not ", ++*n, rel, name);
		if (!ok) {
			++*failed;
			for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
				printf("#   %s\n", line);
		}
		fflush(stdout);
		lua_settop(L, tests);
	}
	pc->a = NULL;
	return 0;
}

/* The T table in the plugin's environment (run by sbx_protect). */
static int pt_install_step(lua_State *L)
{
	struct ptest *t = lua_touserdata(L, 1);
	sbx *sb = plug_sbx_of(t->p);
	sbx_push_env(sb);
	lua_newtable(L);
	static const luaL_Reg fns[] = {{"request", pt_request}, {"hook", pt_hook}, {"jobs", pt_jobs}, {"config", pt_config},
	                               {NULL, NULL}};
	lua_pushlightuserdata(L, t);
	luaL_setfuncs(L, fns, 1);
	lua_setfield(L, -2, "T");
	return 0;
}

static int pt_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int plug_cmd_test(const conf *cf_in, const char *dir)
{
	char path[PATH_MAX];
	if (!realpath(dir, path)) {
		fprintf(stderr, "portald plugin test: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	const char *id = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	conf cf = *cf_in;              /* shallow: only numbers change below */
	cf.plugin_cpu_ms = cf.plugin_cpu_ms < 10000 ? 10000 : cf.plugin_cpu_ms;  /* a whole test shares one budget */
	cf.rate_limits = 0;            /* tests post far more than a resident would */
	if (cf.migrate_user && *cf.migrate_user) {
		cf.db_user = cf.migrate_user;
		cf.db_password = cf.migrate_password;
	}
	char err[2048];
	db *d = db_open(&cf, err, sizeof err);
	if (!d) {
		printf("Bail out! database: %s\n", err);
		return 1;
	}
	char prefix[48];
	snprintf(prefix, sizeof prefix, "zt%ld_%.20s_", (long)getpid(), id);
	plugin *p = plug_load_dir(&cf, NULL, path, id, prefix);
	struct ptest t;
	memset(&t, 0, sizeof t);
	t.cf = &cf;
	t.d = d;
	t.p = p;
	t.a = ar_new(0);
	int n = 0, failed = 0, rc = 0;
	plug_set *set = plug_set_of(&cf, d, p);
	t.set = set;
	t.core_tpl = tpl_new();
	if (tpl_load_dir(t.core_tpl, cf.template_dir, err, sizeof err) < 0) {
		printf("Bail out! templates: %s\n", err);
		rc = 1;
		goto done;
	}
	if (plug_status_of(p) == PLUG_ERROR) {
		printf("not ok 1 - %s loads\n# %s\n1..1\n", id, plug_message_of(p));
		rc = 1;
		goto done;
	}
	printf("ok %d - %s loads\n", ++n, id);
	char mdir[PATH_MAX + 16];
	struct stat st;
	snprintf(mdir, sizeof mdir, "%s/migrations", path);
	if (stat(mdir, &st) == 0) {
		mig_status ms;
		/* recorded under the throwaway prefix, not the plugin's id, so the
		 * real plugin's migration history is never touched */
		plug_ctx *pc = plug_ctx_for(p);
		const char *real_id = pc->id;
		pc->id = prefix;
		int mrc = pdb_migrate(d, pc, mdir, NULL, &ms, err, sizeof err);
		pc->id = real_id;
		if (mrc != 0) {
			printf("not ok %d - migrations apply\n# %s\n", ++n, err);
			failed++;
			goto finish;
		}
		printf("ok %d - %d migration(s) apply to throwaway tables %s*\n", ++n, ms.applied, prefix);
	}
	pset_pin(p);                    /* defaults and T.config only: never the real plugin's stored settings */
	plug_set_db(set, d);
	sbx *sb = plug_sbx_of(p);
	if (sbx_protect(sb, pt_install_step, &t, 0, err, sizeof err) != 0) {
		printf("Bail out! installing T: %s\n", err);
		failed++;
		goto finish;
	}

	char tdir[PATH_MAX + 16];
	snprintf(tdir, sizeof tdir, "%s/tests", path);
	DIR *dd = opendir(tdir);
	char **files = NULL;
	size_t nf = 0;
	struct dirent *e;
	while (dd && (e = readdir(dd))) {
		size_t l = strlen(e->d_name);
		if (l > 9 && !strcmp(e->d_name + l - 9, "_test.lua")) {
			files = realloc(files, (nf + 1) * sizeof *files);
			files[nf++] = strdup(e->d_name);
		}
	}
	if (dd)
		closedir(dd);
	if (nf)
		qsort(files, nf, sizeof *files, pt_cmp);
	if (nf == 0) {
		printf("not ok %d - the plugin has tests (tests/*_test.lua)\n", ++n);
		failed++;
	}
	for (size_t i = 0; i < nf; i++) {
		char rel[PATH_MAX];
		snprintf(rel, sizeof rel, "tests/%s", files[i]);
		if (pt_run_file(&t, sb, rel, &n, &failed) != 0)
			failed++;
		free(files[i]);
	}
	free(files);
finish:
	if (pdb_drop_all(d, plug_ctx_for(p), err, sizeof err) != 0) {
		printf("not ok %d - throwaway tables dropped\n# %s\n", ++n, err);
		failed++;
	}
	arena *a = ar_new(256);
	db_q(d, a, NULL, "DELETE FROM schema_migrations WHERE scope = ?", DB_TEXT(prefix));
	ar_free(a);
	printf("1..%d\n", n);
	rc = failed ? 1 : 0;
	if (failed)
		printf("# %d of %d failed\n", failed, n);
done:
	buf_free(&t.r.headers);
	buf_free(&t.r.body_out);
	tpl_free(t.core_tpl);
	plug_free(set);                 /* frees p too */
	ar_free(t.a);
	db_close(d);
	return rc;
}

/* ---- plugin new ---- */

/* What `plugin new ID` writes: a plugin in the house style of docs/plugins.md (the manifest
 * names handlers that live in lib/; a handler says no with refuse() of lib/refusal.lua),
 * with a form, a table, a refusal and tests. "@ID@" stands for the plugin's id. */

/* plugin.lua: the manifest, naming handlers of lib/ (docs/plugins.md, "House style") */
static const char pt_new_manifest[] =
	"-- @ID@: a new plugin. Read docs/plugins.md (\"House style\"); run its tests with\n"
	"--   scripts/portal cli plugin test plugins/@ID@\n"
	"--\n"
	"-- This file is the manifest: it declares what the plugin is and provides, in the house\n"
	"-- order (id, version, api_version, title, description, requires, permissions, config,\n"
	"-- grants, event_kinds, forms, tables, queries, routes, hooks, jobs), and names a function\n"
	"-- of lib/ for every handler. The code is in lib/, one module per group of pages.\n"
	"local pages = require(\"lib.pages\")\n"
	"local refusal = require(\"lib.refusal\")\n"
	"\n"
	"local STAFF = { \"staff\", \"admin\" }   -- roles are not ranked: admin does not imply staff\n"
	"\n"
	"return {\n"
	"  id = \"@ID@\",\n"
	"  version = \"0.1.0\",\n"
	"  api_version = 1,\n"
	"  title = { zh = \"@ID@\", en = \"@ID@\" },\n"
	"  requires = { core = \">=0.1\" },\n"
	"\n"
	"  forms = {\n"
	"    note = { fields = {\n"
	"      { name = \"name\", type = \"text\", label = \"姓名\", required = true, max = 50 },\n"
	"      { name = \"phone\", type = \"phone\", label = \"手机号\", required = true },\n"
	"      { name = \"text\", type = \"textarea\", label = \"留言\", required = true, max = 500 },\n"
	"    } },\n"
	"  },\n"
	"\n"
	"  -- one table of our own: {notes} in SQL, named after the plugin in the database (docs/plugins.md §3)\n"
	"  tables = { notes = { columns = { \"name\", \"phone\", \"text\", \"created_at\" } } },\n"
	"\n"
	"  -- The host checks roles (and CSRF) before a handler runs; a handler may refuse()\n"
	"  -- (lib/refusal.lua).\n"
	"  routes = refusal.routes {\n"
	"    -- the public page with the form\n"
	"    { method = \"GET\", path = \"/\", handler = pages.form },\n"
	"    { method = \"POST\", path = \"/\", handler = pages.submit },\n"
	"    { method = \"GET\", path = \"/thanks\", handler = pages.thanks },\n"
	"    -- staff only\n"
	"    { method = \"GET\", path = \"/list\", roles = STAFF, api = true, handler = pages.list },\n"
	"    { method = \"GET\", path = \"/notes/{id}\", roles = STAFF, api = true, handler = pages.note },\n"
	"  },\n"
	"}\n";

/* lib/pages.lua: the handlers */
static const char pt_new_pages[] =
	"-- lib/pages.lua - the handlers of the manifest's routes: the public form, what it posts,\n"
	"-- the thank-you page, and the staff's JSON list. A handler gets the request and returns one\n"
	"-- table (docs/plugins.md §4); when it cannot do what was asked it calls refuse().\n"
	"local refuse = require(\"lib.refusal\").refuse\n"
	"\n"
	"local M = {}\n"
	"\n"
	"local function form_page(status, values, errors)\n"
	"  return { status = status, template = \"@ID@_index\",\n"
	"           data = { title = \"留言\", fields = portal.form.view(\"note\", values, errors) } }\n"
	"end\n"
	"\n"
	"-- GET /: the form.\n"
	"function M.form()\n"
	"  return form_page(200)\n"
	"end\n"
	"\n"
	"-- POST /: check the form, store the note, on to the thank-you page. A form with mistakes\n"
	"-- comes back with a message by each field (that is a page, not a refusal).\n"
	"function M.submit()\n"
	"  local ok, values, errors = portal.form.validate(\"note\")\n"
	"  if not ok then\n"
	"    return form_page(422, values, errors)\n"
	"  end\n"
	"  values.created_at = portal.time.date(\"%Y-%m-%d %H:%M:%S\")\n"
	"  portal.db.insert(\"notes\", values)\n"
	"  return { redirect = \"/p/@ID@/thanks\" }\n"
	"end\n"
	"\n"
	"-- GET /thanks\n"
	"function M.thanks()\n"
	"  return { template = \"@ID@_thanks\", data = { title = \"谢谢\" } }\n"
	"end\n"
	"\n"
	"-- GET /api/p/@ID@/list (staff): the latest notes.\n"
	"function M.list()\n"
	"  return { json = portal.db.find(\"notes\", {}, { order_by = \"id desc\", limit = 50 }) }\n"
	"end\n"
	"\n"
	"-- GET /api/p/@ID@/notes/{id} (staff): one note, or a refusal (404).\n"
	"function M.note(req)\n"
	"  local id = math.tointeger(tonumber(req.params.id))\n"
	"  local note = id and portal.db.get(\"notes\", id) or refuse(\"没有这条留言。\", 404, \"not_found\")\n"
	"  return { json = note }\n"
	"end\n"
	"\n"
	"return M\n";

/* lib/refusal.lua: the same file as in every shipped plugin (tests/integration/plugin_new.test.mjs compares them) */
static const char pt_new_refusal[] =
	"-- lib/refusal.lua - the one way a plugin says no to a request (the house style of\n"
	"-- docs/plugins.md, \"House style\"). Every shipped plugin has this same file and\n"
	"-- `portald plugin new` writes it: plugins cannot share code (require stays inside the\n"
	"-- plugin's folder), so copy it unchanged.\n"
	"--\n"
	"--   refuse(\"这一户已经在名单上了。\")                    -- 409, code \"refused\"\n"
	"--   refuse(\"找不到这个班次。\", 404, \"not_found\")\n"
	"--   local c = find(id) or refuse(\"找不到这次活动。\", 404, \"not_found\")\n"
	"--\n"
	"-- refuse() raises, so it works at any depth: in a handler, in a helper the handler calls,\n"
	"-- inside portal.db.transaction (which then rolls back: nothing is half-written). The\n"
	"-- manifest wraps its route list in routes(), which turns a refusal into the host's error\n"
	"-- response: the error page for pages, {\"error\": {message, code, fields}} for API routes.\n"
	"-- Any other error goes on to the host unchanged (a clean 500, logged with the plugin id).\n"
	"local M = {}\n"
	"\n"
	"local MARK = {}   -- tells a refusal from every other error: no other code can make this value\n"
	"\n"
	"local function is_refusal(e)\n"
	"  return type(e) == \"table\" and e[MARK] == true\n"
	"end\n"
	"\n"
	"-- Refuse the request: message is what the person reads (zh-CN), status 4xx (default 409),\n"
	"-- code a short English word for API clients (default \"refused\"), fields an optional\n"
	"-- { field = message } table. Does not return.\n"
	"function M.refuse(message, status, code, fields)\n"
	"  error({ [MARK] = true, message = message, status = status or 409, code = code or \"refused\",\n"
	"          fields = fields }, 0)\n"
	"end\n"
	"\n"
	"-- Call fn(...). Returns its results; when it refused, nil and the refusal\n"
	"-- { message, status, code, fields }, for a page that shows the message itself instead of\n"
	"-- the error page. Any other error is raised again.\n"
	"function M.catch(fn, ...)\n"
	"  local res = table.pack(pcall(fn, ...))\n"
	"  if res[1] then\n"
	"    return table.unpack(res, 2, res.n)\n"
	"  end\n"
	"  if is_refusal(res[2]) then\n"
	"    return nil, res[2]\n"
	"  end\n"
	"  error(res[2], 0)\n"
	"end\n"
	"\n"
	"-- The host's error response for a refusal caught by catch().\n"
	"function M.response(r)\n"
	"  return { status = r.status, error = r.message, code = r.code, fields = r.fields }\n"
	"end\n"
	"\n"
	"-- The manifest's route list, each handler wrapped so that a refusal becomes the host's\n"
	"-- error response. A handler that is not a function is left for the host to report.\n"
	"function M.routes(list)\n"
	"  for _, route in ipairs(list) do\n"
	"    local handler = route.handler\n"
	"    if type(handler) == \"function\" then\n"
	"      route.handler = function(req)\n"
	"        local ok, res = pcall(handler, req)\n"
	"        if ok then\n"
	"          return res\n"
	"        elseif is_refusal(res) then\n"
	"          return M.response(res)\n"
	"        end\n"
	"        error(res, 0)\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  return list\n"
	"end\n"
	"\n"
	"return M\n";

/* tests/notes_test.lua */
static const char pt_new_test[] =
	"-- Runs inside the real sandbox: scripts/portal cli plugin test plugins/@ID@\n"
	"local STAFF = { roles = { \"staff\" } }\n"
	"\n"
	"T.test(\"a resident leaves a note and staff see it\", function()\n"
	"  local r = T.request{ method = \"POST\", path = \"/\",\n"
	"                       form = { name = \"张三\", phone = \"13812345678\", text = \"你好\" } }\n"
	"  T.eq(r.status, 303, \"redirected to the thanks page\")\n"
	"  local list = T.request{ path = \"/list\", api = true, user = STAFF }\n"
	"  T.eq(list.status, 200)\n"
	"  T.eq(list.json[1].name, \"张三\")\n"
	"  local one = T.request{ path = \"/notes/\" .. list.json[1].id, api = true, user = STAFF }\n"
	"  T.eq(one.json.text, \"你好\")\n"
	"end)\n"
	"\n"
	"T.test(\"a bad phone number is refused with a message\", function()\n"
	"  local r = T.request{ method = \"POST\", path = \"/\", form = { name = \"李四\", phone = \"123\", text = \"x\" } }\n"
	"  T.eq(r.status, 422)\n"
	"  T.match(r.body, \"手机号\")\n"
	"end)\n"
	"\n"
	"T.test(\"a note that does not exist is refused in the API's error shape\", function()\n"
	"  local r = T.request{ path = \"/notes/999999999\", api = true, user = STAFF }\n"
	"  T.eq(r.status, 404)\n"
	"  T.eq(r.json.error.code, \"not_found\")\n"
	"  T.match(r.json.error.message, \"没有这条留言\")\n"
	"end)\n"
	"\n"
	"T.test(\"residents cannot read the list\", function()\n"
	"  T.eq(T.request{ path = \"/list\", api = true }.status, 401)\n"
	"end)\n";

static const char pt_new_migration[] =
	"CREATE TABLE IF NOT EXISTS {notes} (\n"
	"  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
	"  name VARCHAR(50) NOT NULL,\n"
	"  phone CHAR(11) NOT NULL,\n"
	"  text TEXT NOT NULL,\n"
	"  created_at DATETIME NOT NULL\n"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n";

static const char pt_new_index[] =
	"{{layout \"layout\"}}\n<h1>{{title}}</h1>\n<form method=\"post\" action=\"/p/@ID@\">\n"
	"  <input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n  {{> form_fields}}\n"
	"  <button class=\"btn\" type=\"submit\">提交</button>\n</form>\n";

static const char pt_new_thanks[] = "{{layout \"layout\"}}\n<h1>{{title}}</h1>\n<p>我们已收到您的留言。</p>\n";

/* Write text to dir/name (never over an existing file), each "@ID@" in it and in name
 * replaced by id. 0, or -1 with a message on stderr. */
static int pt_write(const char *dir, const char *name, const char *text, const char *id)
{
	char path[PATH_MAX + 128], rel[128];
	const char *at = strstr(name, "@ID@");
	if (at)
		snprintf(rel, sizeof rel, "%.*s%s%s", (int)(at - name), name, id, at + 4);
	else
		snprintf(rel, sizeof rel, "%s", name);
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "wx");
	if (!f) {
		fprintf(stderr, "portald plugin new: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (const char *s = text; *s;) {
		at = strstr(s, "@ID@");
		size_t n = at ? (size_t)(at - s) : strlen(s);
		fwrite(s, 1, n, f);
		if (!at)
			break;
		fputs(id, f);
		s = at + 4;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "portald plugin new: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int plug_cmd_new(const conf *cf, const char *id)
{
	for (const char *s = id; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_') || !islower((unsigned char)id[0]) ||
		    strlen(id) > PLUG_MAX_ID) {
			fprintf(stderr, "portald plugin new: the id must be lower case letters, digits and _ (at most %d)\n",
			        PLUG_MAX_ID);
			return 2;
		}
	char dir[PATH_MAX], p[PATH_MAX + 64];
	snprintf(dir, sizeof dir, "%s/%s", cf->plugin_dir, id);
	if (mkdir(dir, 0755) != 0) {
		fprintf(stderr, "portald plugin new: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	const char *subs[] = {"lib", "templates", "migrations", "tests"};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
		mkdir(p, 0755);
	}
	static const struct {
		const char *name, *text;
	} files[] = {
		{"plugin.lua", pt_new_manifest},
		{"lib/pages.lua", pt_new_pages},
		{"lib/refusal.lua", pt_new_refusal},
		{"migrations/0001_notes.sql", pt_new_migration},
		{"templates/@ID@_index.html", pt_new_index},
		{"templates/@ID@_thanks.html", pt_new_thanks},
		{"tests/notes_test.lua", pt_new_test},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (pt_write(dir, files[i].name, files[i].text, id))
			return 1;
	printf("created %s: plugin.lua, lib/pages.lua, lib/refusal.lua, migrations/0001_notes.sql, templates/, "
	       "tests/notes_test.lua\n"
	       "next: portald migrate, then portald plugin test %s\n", dir, dir);
	return 0;
}

/* ---- plugin list ---- */

static int plug_cmd_list(const conf *cf)
{
	char err[1024];
	db *d = db_open(cf, err, sizeof err);
	if (!d)
		fprintf(stderr, "portald: database unavailable (%s); statuses may be incomplete\n", err);
	plug_set *s = plug_load(cf, d, 0, err, sizeof err);
	json_t *all = plug_describe(s);
	size_t i;
	json_t *o;
	printf("%-16s %-10s %-18s %s\n", "ID", "VERSION", "STATUS", "ROUTES / MESSAGE");
	json_array_foreach(all, i, o) {
		const char *msg = json_string_value(json_object_get(o, "message"));
		printf("%-16s %-10s %-18s ", json_string_value(json_object_get(o, "id")),
		       json_string_value(json_object_get(o, "version")), json_string_value(json_object_get(o, "status")));
		if (msg)
			printf("%s\n", msg);
		else
			printf("%zu routes, %zu hooks, %zu tables\n", json_array_size(json_object_get(o, "routes")),
			       json_array_size(json_object_get(o, "hooks")), json_array_size(json_object_get(o, "tables")));
	}
	json_decref(all);
	plug_free(s);
	db_close(d);
	return 0;
}

int plug_cmd(const conf *cf, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	if (!strcmp(sub, "list"))
		return plug_cmd_list(cf);
	if (!strcmp(sub, "new") && argc > 2)
		return plug_cmd_new(cf, argv[2]);
	if (!strcmp(sub, "set"))
		return pset_cmd_set(cf, argc, argv);
	if (!strcmp(sub, "test") && argc > 2) {
		int rc = 0;
		for (int i = 2; i < argc; i++)
			rc |= plug_cmd_test(cf, argv[i]);
		return rc;
	}
	fprintf(stderr, "usage: portald plugin list | new ID | test DIR... | set ID KEY VALUE\n");
	return 2;
}
