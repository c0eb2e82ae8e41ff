/* grants.c - plugin-defined permissions for users (contract in grants.h). */
#include "grants.h"
#include "auth.h"
#include "log.h"
#include "plugin.h"
#include <ctype.h>
#include <lauxlib.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int grant_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > GRANT_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

/* The text at the top of the stack: a string, else NULL. */
static const char *grant_str(lua_State *L)
{
	return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

json_t *grant_read_manifest(lua_State *L, int idx, const char *plugin_id, char *err, size_t errlen)
{
	idx = lua_absindex(L, idx);
	json_t *out = json_object();
	if (lua_isnil(L, idx))
		return out;
	if (!lua_istable(L, idx)) {
		snprintf(err, errlen, "plugin %s: manifest field \"grants\": expected { name = { zh = \"...\", en = \"...\" } }",
		         plugin_id);
		json_decref(out);
		return NULL;
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		const char *zh = NULL, *en = NULL;
		if (lua_istable(L, -1)) {
			lua_pushliteral(L, "zh");
			lua_rawget(L, -2);
			zh = grant_str(L);
			lua_pushliteral(L, "en");
			lua_rawget(L, -3);
			en = grant_str(L);
		} else {
			lua_pushvalue(L, -1);
			zh = grant_str(L);      /* a plain text is the zh label */
			lua_pushnil(L);
		}
		if (!grant_name_ok(name))
			snprintf(err, errlen, "plugin %s: grants: bad grant name \"%s\" (2-32 lower case letters, digits, _)",
			         plugin_id, name);
		else if (!zh || !*zh)
			snprintf(err, errlen, "plugin %s: grants.%s: expected { zh = \"...\", en = \"...\" }", plugin_id, name);
		else
			json_object_set_new(out, name, json_pack("{s:s, s:s}", "zh", zh, "en", en ? en : zh));
		lua_pop(L, 3);
		if (json_object_get(out, name) == NULL) {
			lua_pop(L, 1);
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The caller's grants, read once per request into u->grants (",a.b,c.d,"). */
static const char *grant_load(req *r, auth_user *u)
{
	if (u->grants)
		return u->grants;
	db_res *res = NULL;
	if (!r->db || db_q(r->db, r->a, &res, "SELECT grant_name FROM user_grants WHERE user_id = ?", DB_INT(u->id)) != DB_OK)
		return NULL;
	buf b = BUF_INIT;
	buf_addc(&b, ',');
	for (size_t i = 0; i < res->nrows; i++)
		buf_printf(&b, "%s,", res->rows[i][0]);
	u->grants = ar_strdup(r->a, buf_str(&b));
	buf_free(&b);
	return u->grants;
}

int grant_user_has(req *r, const char *full)
{
	auth_user *u = auth_identify(r);
	if (!u)
		return 0;
	const char *all = grant_load(r, u);
	if (!all)
		return -1;
	size_t n = strlen(full);
	for (const char *s = strstr(all, full); s; s = strstr(s + 1, full))
		if (s > all && s[-1] == ',' && s[n] == ',')
			return 1;
	return 0;
}

int grant_set(db *d, arena *a, long long user_id, const char *full, int on, long long by, int *changed)
{
	db_res *res = NULL;
	int rc = on ? db_q(d, a, &res, "INSERT IGNORE INTO user_grants (user_id, grant_name, granted_by) VALUES (?, ?, ?)",
	                   DB_INT(user_id), DB_TEXT(full), by ? DB_INT(by) : DB_NULL)
	            : db_q(d, a, &res, "DELETE FROM user_grants WHERE user_id = ? AND grant_name = ?", DB_INT(user_id),
	                   DB_TEXT(full));
	*changed = rc == DB_OK && res->affected > 0;
	return rc;
}

int grant_known(req *r, const char *full)
{
	const char *dot = strchr(full, '.');
	if (!dot || dot == full || (size_t)(dot - full) > PLUG_MAX_ID)
		return 0;
	char id[PLUG_MAX_ID + 1];
	memcpy(id, full, (size_t)(dot - full));
	id[dot - full] = 0;
	plugin *p = plug_find(r->plugins, id);
	return p && json_object_get(plug_grants(p), dot + 1) != NULL;
}

json_t *grant_choices(req *r, long long user_id)
{
	db_res *res = NULL;
	if (db_q(r->db, r->a, &res, "SELECT grant_name FROM user_grants WHERE user_id = ?", DB_INT(user_id)) != DB_OK)
		return NULL;
	json_t *all = json_array();
	for (size_t i = 0; i < plug_count(r->plugins); i++) {
		plugin *p = plug_at(r->plugins, i);
		json_t *g = plug_grants(p);
		if (json_object_size(g) == 0)
			continue;
		const char *id = plug_ctx_for(p)->id;
		json_t *list = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(g, k, v) {
			const char *full = ar_printf(r->a, "%s.%s", id, k);
			int checked = 0;
			for (size_t j = 0; j < res->nrows && !checked; j++)
				checked = strcmp(res->rows[j][0], full) == 0;
			json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "name", full, "label",
			                                      json_string_value(json_object_get(v, "zh")), "checked", checked));
		}
		json_array_append_new(all, json_pack("{s:s, s:s, s:o}", "plugin", id, "title", plug_title_of(p), "grants", list));
	}
	return all;
}

int grant_lua_has(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	plug_ctx *pc = plug_ctx_of(L);
	if (!pc)
		return luaL_error(L, "no plugin context");
	if (!json_object_get(plug_grants(pc->p), name))
		return luaL_error(L, "portal.has_grant: plugin %s declares no grant \"%s\" (see its manifest's grants)", pc->id,
		                  name);
	if (!pc->r)
		return lua_pushboolean(L, 0), 1;
	char full[GRANT_MAX_FULL + PLUG_MAX_ID];
	snprintf(full, sizeof full, "%s.%s", pc->id, name);
	int has = grant_user_has(pc->r, full);
	if (has < 0)
		return luaL_error(L, "portal.has_grant: the database is not available");
	lua_pushboolean(L, has);
	return 1;
}

/* ---- the command line */

struct grant_cli_tx {
	arena *a;
	audit_actor who;
	long long uid;
	const char *full, *os_user;
	int on, changed;
};

static int grant_cli_tx(db *d, void *ctx)
{
	struct grant_cli_tx *t = ctx;
	int rc = grant_set(d, t->a, t->uid, t->full, t->on, 0, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	return audit_write(d, t->a, &t->who, t->on ? "grant.add" : "grant.remove", "user", ar_printf(t->a, "%lld", t->uid),
	                   json_pack("{s:s, s:s, s:s}", "grant", t->full, "via", "cli", "os_user", t->os_user));
}

int grant_cmd(const conf *cf, int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: portald user grant|revoke USERNAME PLUGIN.GRANT\n");
		return 2;
	}
	int on = strcmp(argv[1], "grant") == 0;
	const char *username = argv[2], *full = argv[3];
	char err[1024];
	db *d = db_open(cf, err, sizeof err);
	if (!d) {
		fprintf(stderr, "portald: database: %s\n", err);
		return 1;
	}
	arena *a = ar_new(0);
	int rc = 1;
	/* the grant must be declared by an installed plugin (a typo is an error,
	 * not a row nobody ever checks); taking one away is always allowed */
	plug_set *s = plug_load(cf, d, 0, err, sizeof err);
	req fake;
	memset(&fake, 0, sizeof fake);
	fake.plugins = s;
	long long uid = auth_user_id(d, a, username);
	struct passwd *pw = getpwuid(geteuid());
	if (on && !grant_known(&fake, full))
		fprintf(stderr, "portald: no installed plugin declares the grant \"%s\" (PLUGIN.GRANT, e.g. outreach.health)\n",
		        full);
	else if (uid < 0)
		fprintf(stderr, "portald: database: %s\n", db_errmsg(d));
	else if (uid == 0)
		fprintf(stderr, "portald: no user \"%s\"\n", username);
	else {
		struct grant_cli_tx t = {a, {0, 0, "cli", ""}, uid, full, pw ? pw->pw_name : "?", on, 0};
		if (db_tx(d, grant_cli_tx, &t) != DB_OK)
			fprintf(stderr, "portald: database: %s\n", db_errmsg(d));
		else {
			printf("%s %s %s%s\n", username, on ? "now holds" : "no longer holds", full,
			       t.changed ? "" : " (unchanged)");
			rc = 0;
		}
	}
	plug_free(s);
	ar_free(a);
	db_close(d);
	return rc;
}
