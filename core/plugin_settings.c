/* plugin_settings.c - a plugin's settings, editable by an admin (contract in
 * plugin_settings.h). */
#include "plugin_settings.h"
#include "log.h"
#include "luajson.h"
#include "sandbox.h"
#include <lauxlib.h>
#include "utf8.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PSET_CHECK_MS 1000           /* a worker asks whether settings changed at most this often */

/* Field k of the table at idx, raw (a manifest's metamethods never run). */
static int pset_field(lua_State *L, int idx, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, idx);
}

json_t *pset_spec(lua_State *L, int idx, const char *plugin_id, const char *key, char *err, size_t errlen)
{
	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx)) {
		snprintf(err, errlen, "plugin %s: config.%s: expected { type = ..., default = ... }", plugin_id, key);
		return NULL;
	}
	int top = lua_gettop(L);
	pset_field(L, idx, "type");
	pset_field(L, idx, "default");
	pset_field(L, idx, "label");
	pset_field(L, idx, "min");
	pset_field(L, idx, "max");
	pset_field(L, idx, "max_len");
	const char *type = lua_type(L, top + 1) == LUA_TSTRING ? lua_tostring(L, top + 1) : "";
	int d = top + 2, lab = top + 3, mn = top + 4, mx = top + 5, ml = top + 6;
	json_t *spec = NULL;
	if (!strcmp(type, "number") && lua_isinteger(L, d)) {
		spec = json_pack("{s:s, s:I}", "type", "number", "default", (json_int_t)lua_tointeger(L, d));
		long long def = lua_tointeger(L, d), lo = LLONG_MIN, hi = LLONG_MAX;
		int bad = (!lua_isnil(L, mn) && !lua_isinteger(L, mn)) || (!lua_isnil(L, mx) && !lua_isinteger(L, mx));
		if (!bad && lua_isinteger(L, mn))
			json_object_set_new(spec, "min", json_integer(lo = lua_tointeger(L, mn)));
		if (!bad && lua_isinteger(L, mx))
			json_object_set_new(spec, "max", json_integer(hi = lua_tointeger(L, mx)));
		if (bad || lo > hi || def < lo || def > hi) {
			snprintf(err, errlen, "plugin %s: config.%s: min and max must be integers with min <= default <= max",
			         plugin_id, key);
			json_decref(spec);
			spec = NULL;
		}
	} else if (!strcmp(type, "text") && lua_type(L, d) == LUA_TSTRING) {
		size_t n;
		const char *s = lua_tolstring(L, d, &n);
		long long max = lua_isinteger(L, ml) ? lua_tointeger(L, ml) : PSET_TEXT_MAX;
		if (!utf8_valid(s, n)) {
			snprintf(err, errlen, "plugin %s: config.%s: the default is not valid UTF-8", plugin_id, key);
		} else if ((!lua_isnil(L, ml) && !lua_isinteger(L, ml)) || max < 1 || max > 100000 ||
		           (long long)utf8_len(s, n) > max) {
			snprintf(err, errlen, "plugin %s: config.%s: max_len must be a whole number from 1 to 100000, "
			         "at least the default's length", plugin_id, key);
		} else
			spec = json_pack("{s:s, s:s%, s:I}", "type", "text", "default", s, n, "max_len", (json_int_t)max);
	} else if (!strcmp(type, "yesno") && lua_isboolean(L, d)) {
		spec = json_pack("{s:s, s:b}", "type", "yesno", "default", lua_toboolean(L, d));
	} else
		snprintf(err, errlen, "plugin %s: config.%s: type must be number, text or yesno with a default of that type",
		         plugin_id, key);
	if (spec) {
		const char *label = lua_type(L, lab) == LUA_TSTRING ? lua_tostring(L, lab) : key;
		json_object_set_new(spec, "label", json_string(utf8_valid(label, strlen(label)) ? label : key));
	}
	lua_settop(L, top);
	return spec;
}

static const char *pset_label(const json_t *spec)
{
	const char *l = json_string_value(json_object_get(spec, "label"));
	return l ? l : "";
}

/* 1 when s has a control character other than newline and tab. */
static int pset_has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)
			return 1;
	return 0;
}

const char *pset_check(arena *a, const json_t *spec, const json_t *value)
{
	const char *type = json_string_value(json_object_get(spec, "type"));
	const char *label = pset_label(spec);
	if (!type || !value)
		return ar_printf(a, "%s：没有这一项设置。", label);
	if (!strcmp(type, "number")) {
		if (!json_is_integer(value))
			return ar_printf(a, "%s：请填写整数。", label);
		json_int_t v = json_integer_value(value);
		json_t *mn = json_object_get(spec, "min"), *mx = json_object_get(spec, "max");
		if (mn && v < json_integer_value(mn))
			return ar_printf(a, "%s：不能小于 %lld。", label, (long long)json_integer_value(mn));
		if (mx && v > json_integer_value(mx))
			return ar_printf(a, "%s：不能大于 %lld。", label, (long long)json_integer_value(mx));
		return NULL;
	}
	if (!strcmp(type, "text")) {
		if (!json_is_string(value))
			return ar_printf(a, "%s：请填写文字。", label);
		const char *s = json_string_value(value);
		size_t n = json_string_length(value);
		if (!utf8_valid(s, n) || pset_has_control(s, n))
			return ar_printf(a, "%s：包含无法使用的字符。", label);
		json_int_t max = json_integer_value(json_object_get(spec, "max_len"));
		if ((json_int_t)utf8_len(s, n) > max)
			return ar_printf(a, "%s：最多 %lld 个字。", label, (long long)max);
		return NULL;
	}
	if (!strcmp(type, "yesno"))
		return json_is_boolean(value) ? NULL : ar_printf(a, "%s：请选择“是”或“否”。", label);
	return ar_printf(a, "%s：没有这一项设置。", label);
}

json_t *pset_parse(arena *a, const json_t *spec, const char *text, int present, const char **why)
{
	const char *type = json_string_value(json_object_get(spec, "type"));
	const char *label = pset_label(spec);
	*why = NULL;
	if (!type) {
		*why = ar_printf(a, "%s：没有这一项设置。", label);
		return NULL;
	}
	if (!strcmp(type, "yesno")) {
		static const char *const yes[] = {"1", "on", "yes", "true", "是", NULL};
		static const char *const no[] = {"0", "off", "no", "false", "否", "", NULL};
		if (!present)
			return json_false();
		for (int i = 0; yes[i]; i++)
			if (!strcmp(text, yes[i]))
				return json_true();
		for (int i = 0; no[i]; i++)
			if (!strcmp(text, no[i]))
				return json_false();
		*why = ar_printf(a, "%s：请选择“是”或“否”。", label);
		return NULL;
	}
	if (!text)
		text = "";
	if (!strcmp(type, "number")) {
		while (*text == ' ')
			text++;
		char *end;
		errno = 0;
		long long v = strtoll(text, &end, 10);
		while (*end == ' ')
			end++;
		if (!*text || *end || errno == ERANGE || (*text != '-' && *text != '+' && (*text < '0' || *text > '9'))) {
			*why = ar_printf(a, "%s：请填写整数。", label);
			return NULL;
		}
		return json_integer(v);
	}
	size_t n = strlen(text);
	if (!utf8_valid(text, n)) {
		*why = ar_printf(a, "%s：包含无法使用的字符。", label);
		return NULL;
	}
	return json_stringn(text, n);
}

json_t *pset_values(db *d, arena *a, const char *id, const json_t *schema)
{
	db_res *res = NULL;
	if (!d || db_q(d, a, &res, "SELECT name, value_json FROM plugin_settings WHERE plugin_id = ?", DB_TEXT(id)) != DB_OK)
		return NULL;
	json_t *out = json_object();
	const char *k;
	json_t *spec;
	json_object_foreach((json_t *)schema, k, spec)
		json_object_set(out, k, json_object_get(spec, "default"));
	for (size_t i = 0; i < res->nrows; i++) {
		const char *name = res->rows[i][0], *text = res->rows[i][1];
		spec = json_object_get(schema, name);
		if (!spec)
			continue;             /* a setting the manifest dropped */
		json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
		const char *why = pset_check(a, spec, v);
		if (why)
			log_warn("plugin setting ignored", "plugin=%s key=%s reason=\"stored value does not fit the manifest\"",
			         id, name);
		else
			json_object_set(out, name, v);
		json_decref(v);
	}
	return out;
}

int pset_store(db *d, arena *a, const audit_actor *who, const char *id, const json_t *old, const json_t *changes)
{
	json_t *detail = json_object();
	const char *k;
	json_t *v;
	int rc = DB_OK;
	json_object_foreach((json_t *)changes, k, v) {
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		rc = db_q(d, a, NULL,
		          "INSERT INTO plugin_settings (plugin_id, name, value_json, updated_by) VALUES (?, ?, ?, ?)"
		          " ON DUPLICATE KEY UPDATE value_json = VALUES(value_json), updated_by = VALUES(updated_by),"
		          " updated_at = NOW(), version = version + 1",
		          DB_TEXT(id), DB_TEXT(k), DB_TEXT(text), who->user_id ? DB_INT(who->user_id) : DB_NULL);
		free(text);
		if (rc != DB_OK)
			break;
		json_t *o = json_object_get(old, k);
		json_object_set_new(detail, k, json_pack("{s:O?, s:O}", "old", o, "new", v));
	}
	if (rc != DB_OK || json_object_size(detail) == 0) {
		json_decref(detail);
		return rc;
	}
	return audit_write(d, a, who, "plugin.settings", "plugin", id, detail);
}

static long long pset_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sbx_protect body of pset_apply: values into portal.config. */
static int pset_apply_body(lua_State *L)
{
	const json_t *values = lua_touserdata(L, 1);
	luaL_checkstack(L, 8, NULL);
	lua_getfield(L, LUA_REGISTRYINDEX, "papi.portal");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "config");
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)values, k, v) {
			lj_push(L, v);
			lua_setfield(L, -2, k);
		}
	}
	return 0;
}

int pset_apply(plugin *p, const json_t *values)
{
	char err[256];
	/* the state may be full: pushing there must not abort the worker */
	if (sbx_protect(plug_sbx_of(p), pset_apply_body, (void *)values, 0, err, sizeof err) != 0) {
		log_warn("plugin settings not applied", "plugin=%s error=\"%s\"", plug_ctx_for(p)->id, err);
		return -1;
	}
	json_object_update(plug_config(p), (json_t *)values);
	return 0;
}

void pset_pin(plugin *p)
{
	plug_ctx_for(p)->pset_pinned = 1;
}

void pset_refresh(plugin *p)
{
	plug_ctx *pc = plug_ctx_for(p);
	json_t *schema = plug_config_spec(p);
	if (!pc->db || !plug_sbx_of(p) || json_object_size(schema) == 0)
		return;
	long long now = pset_now_ms();
	if (pc->pset_pinned || (pc->pset_ver[0] && now - pc->pset_at < PSET_CHECK_MS))
		return;
	pc->pset_at = now;
	arena *a = ar_new(2048);
	db_res *res = NULL;
	if (db_q(pc->db, a, &res, "SELECT COALESCE(SUM(version), 0) AS v, COUNT(*) AS n FROM plugin_settings"
	                          " WHERE plugin_id = ?", DB_TEXT(pc->id)) == DB_OK && res->nrows == 1) {
		const char *ver = ar_printf(a, "%s:%s", db_cell(res, 0, "v"), db_cell(res, 0, "n"));
		if (strcmp(ver, pc->pset_ver) != 0) {
			json_t *values = pset_values(pc->db, a, pc->id, schema);
			if (values && pset_apply(p, values) == 0)
				snprintf(pc->pset_ver, sizeof pc->pset_ver, "%s", ver);
			json_decref(values);
		}
	}
	ar_free(a);
}

/* ---- portald plugin set ID KEY VALUE */

struct pset_cli_tx {
	arena *a;
	audit_actor who;
	const char *id;
	const json_t *schema;
	json_t *changes;
};

static int pset_cli_tx(db *d, void *ctx)
{
	struct pset_cli_tx *t = ctx;
	json_t *old = pset_values(d, t->a, t->id, t->schema);
	if (!old)
		return DB_EFAIL;
	int rc = pset_store(d, t->a, &t->who, t->id, old, t->changes);
	json_decref(old);
	return rc;
}

int pset_cmd_set(const conf *cf, int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: portald plugin set ID KEY VALUE\n");
		return 2;
	}
	const char *id = argv[2], *key = argv[3], *text = argv[4];
	char dir[PATH_MAX], err[1024];
	snprintf(dir, sizeof dir, "%s/%s", cf->plugin_dir, id);
	plugin *p = plug_load_dir(cf, NULL, dir, id, NULL);
	plug_set *s = plug_set_of(cf, NULL, p);      /* frees p with it */
	arena *a = ar_new(0);
	int rc = 1;
	json_t *spec = json_object_get(plug_config_spec(p), key), *v = NULL;
	const char *why = NULL;
	if (plug_status_of(p) == PLUG_ERROR)
		fprintf(stderr, "portald: %s\n", plug_message_of(p));
	else if (!spec)
		fprintf(stderr, "portald: plugin %s has no setting \"%s\"\n", id, key);
	else if (!(v = pset_parse(a, spec, text, 1, &why)) || (why = pset_check(a, spec, v)))
		fprintf(stderr, "portald: %s\n", why);
	else {
		db *d = db_open(cf, err, sizeof err);
		struct pset_cli_tx t = {a, {0, 0, "cli", ""}, id, plug_config_spec(p), json_pack("{s:O}", key, v)};
		if (!d)
			fprintf(stderr, "portald: database: %s\n", err);
		else if (db_tx(d, pset_cli_tx, &t) != DB_OK)
			fprintf(stderr, "portald: database: %s\n", db_errmsg(d));
		else {
			char *shown = json_dumps(v, JSON_ENCODE_ANY);
			printf("%s.%s = %s\n", id, key, shown ? shown : "?");
			free(shown);
			rc = 0;
		}
		json_decref(t.changes);
		db_close(d);
	}
	json_decref(v);
	ar_free(a);
	plug_free(s);
	return rc;
}
