/* plugin_api.c - the `portal` table: what a plugin may ask of the host. */
#include "plugin_api.h"
#include "audit.h"
#include "auth.h"
#include "grants.h"
#include "log.h"
#include "plugin_accounts.h"
#include "luajson.h"
#include "plugin_db.h"
#include "plugin_events.h"
#include "plugin_form.h"
#include "plugin_text.h"
#include "utf8.h"
#include "valid.h"
#include <lauxlib.h>
#include <string.h>
#include <time.h>

#define PAPI_CSRF_COOKIE "portal_csrf"

static plug_ctx *papi_ctx(lua_State *L)
{
	plug_ctx *pc = plug_ctx_of(L);
	if (!pc)
		luaL_error(L, "no plugin context");
	return pc;
}

static req *papi_req(lua_State *L)
{
	plug_ctx *pc = papi_ctx(L);
	if (!pc->r)
		luaL_error(L, "this function needs a request in progress");
	return pc->r;
}

/* ---- user ---- */

static void papi_push_user(lua_State *L, const auth_user *u)
{
	lua_createtable(L, 0, 5);
	lua_pushinteger(L, u->id);
	lua_setfield(L, -2, "id");
	lua_pushstring(L, u->username);
	lua_setfield(L, -2, "username");
	lua_pushstring(L, u->display_name);
	lua_setfield(L, -2, "display_name");
	if (u->grid) {
		lua_pushstring(L, u->grid);
		lua_setfield(L, -2, "grid");
	}
	lua_newtable(L);
	int i = 1;
	for (unsigned b = 1; b && b <= ROLE_APPROVER; b <<= 1)
		if (u->roles & b) {
			lua_pushstring(L, auth_role_name(b));
			lua_rawseti(L, -2, i++);
		}
	lua_setfield(L, -2, "roles");
}

static int papi_user(lua_State *L)
{
	plug_ctx *pc = papi_ctx(L);
	auth_user *u = pc->r ? auth_identify(pc->r) : NULL;
	if (!u)
		return lua_pushnil(L), 1;
	papi_push_user(L, u);
	return 1;
}

static int papi_has_role(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	unsigned bit = auth_role_bit(name);
	if (!bit)
		return luaL_error(L, "portal.has_role: unknown role \"%s\"", name);
	plug_ctx *pc = papi_ctx(L);
	auth_user *u = pc->r ? auth_identify(pc->r) : NULL;
	lua_pushboolean(L, u && (u->roles & bit));
	return 1;
}

/* ---- log ---- */

static int papi_log_at(lua_State *L, enum log_level lv)
{
	plug_ctx *pc = papi_ctx(L);
	const char *msg = luaL_checkstring(L, 1);
	char q[600], f[1200] = "";
	if (lua_istable(L, 2)) {
		char err[128];
		json_t *j = lj_to_json(L, 2, err, sizeof err);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (s)
			log_quote(f, sizeof f, s);
		free(s);
		json_decref(j);
	}
	log_quote(q, sizeof q, msg);
	if (!sbx_log_allow(L, strlen(q) + strlen(f)))
		return 0;                   /* over the log budget (sandbox.c says so in the log) */
	log_msg(lv, "plugin log", "plugin=%s text=%s%s%s", pc->id, q, *f ? " fields=" : "", f);
	return 0;
}
static int papi_log_info(lua_State *L) { return papi_log_at(L, LOG_INFO); }
static int papi_log_warn(lua_State *L) { return papi_log_at(L, LOG_WARN); }
static int papi_log_error(lua_State *L) { return papi_log_at(L, LOG_ERR); }

/* ---- time (China time: the session time zone of the database too) ---- */

static int papi_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)time(NULL));
	return 1;
}

static int papi_date(lua_State *L)
{
	static const char allowed[] = "YmdHMSjaAbBuwp%";
	const char *fmt = luaL_optstring(L, 1, "%Y-%m-%d");
	lua_Integer t = luaL_optinteger(L, 2, (lua_Integer)time(NULL));
	for (const char *s = fmt; *s; s++)
		if (*s == '%' && (!s[1] || !strchr(allowed, *++s)))
			return luaL_error(L, "portal.time.date: unsupported conversion in \"%s\"", fmt);
	time_t tt = (time_t)t + 8 * 3600;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char out[200];
	/* fmt was checked against the allowed conversions above */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	size_t n = strftime(out, sizeof out, fmt, &tm);
#pragma GCC diagnostic pop
	lua_pushlstring(L, out, n);
	return 1;
}

static int papi_today(lua_State *L)
{
	lua_settop(L, 0);
	lua_pushliteral(L, "%Y-%m-%d");
	return papi_date(L);
}

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (China time) -> epoch seconds, or nil. */
static int papi_parse(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	int y, m, d, H = 0, M = 0, S = 0;
	char norm[20];
	int tz = 0, has_tz = 0;
	if (val_datetime(s, norm, &tz, &has_tz)) {
		if (sscanf(norm, "%d-%d-%d %d:%d:%d", &y, &m, &d, &H, &M, &S) != 6)
			return lua_pushnil(L), 1;
	} else if (!val_date(s, &y, &m, &d))
		return lua_pushnil(L), 1;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	lua_pushinteger(L, (lua_Integer)timegm(&tm) - (has_tz ? tz * 60 : 8 * 3600));
	return 1;
}

/* ---- strings, json ---- */

static int papi_t(lua_State *L)
{
	plug_ctx *pc = papi_ctx(L);
	const char *key = luaL_checkstring(L, 1);
	json_t *zh = json_object_get(plug_strings(pc->p), "zh");
	const char *v = json_string_value(json_object_get(zh, key));
	lua_pushstring(L, v ? v : key);
	return 1;
}

static int papi_json_encode(lua_State *L)
{
	char err[200];
	luaL_checkany(L, 1);
	json_t *j = lj_to_json(L, 1, err, sizeof err);
	if (!j)
		return luaL_error(L, "portal.json.encode: %s", err);
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	lua_pushstring(L, s ? s : "null");
	free(s);
	return 1;
}

static int papi_json_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	if (n > (1u << 20))
		return luaL_error(L, "portal.json.decode: text over 1 MiB");
	json_error_t je;
	json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		lua_pushnil(L);
		lua_pushstring(L, je.text);
		return 2;
	}
	lj_push(L, j);
	json_decref(j);
	return 1;
}

/* ---- outbox, audit ---- */

static int papi_outbox_queue(lua_State *L)
{
	plug_ctx *pc = papi_ctx(L);
	if (!plug_permitted(pc->p, "outbox"))
		return luaL_error(L, "portal.outbox.queue: the plugin did not ask for the \"outbox\" permission");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "phone");
	lua_getfield(L, 1, "body");
	lua_getfield(L, 1, "kind");
	lua_getfield(L, 1, "send_after");
	char phone[12];
	if (lua_type(L, 2) != LUA_TSTRING || !val_phone(lua_tostring(L, 2), phone))
		return luaL_error(L, "portal.outbox.queue: phone must be a mobile number");
	size_t bl;
	const char *body = lua_type(L, 3) == LUA_TSTRING ? lua_tolstring(L, 3, &bl) : NULL;
	if (!body || bl == 0 || bl > 2000 || !utf8_valid(body, bl))
		return luaL_error(L, "portal.outbox.queue: body must be text of 1 to 2000 bytes");
	const char *kind = luaL_optstring(L, 4, "notice");
	if (strlen(kind) > 32)
		return luaL_error(L, "portal.outbox.queue: kind too long");
	if (!pc->db)
		return luaL_error(L, "portal.outbox.queue: no database");
	char after[20] = "";
	if (!lua_isnil(L, 5)) {
		int tz, has_tz;
		if (lua_type(L, 5) != LUA_TSTRING || !val_datetime(lua_tostring(L, 5), after, &tz, &has_tz))
			return luaL_error(L, "portal.outbox.queue: send_after must be \"YYYY-MM-DD HH:MM\"");
	}
	arena *a = pc->a ? pc->a : ar_new(512);
	db_res *res = NULL;
	int rc = db_q(pc->db, a, &res,
	              "INSERT INTO outbox (plugin_id, kind, phone, body, send_after) VALUES (?, ?, ?, ?, COALESCE(?, NOW()))",
	              DB_TEXT(pc->id), DB_TEXT(kind), DB_TEXT(phone), DB_TEXTN(body, bl), *after ? DB_TEXT(after) : DB_NULL);
	lua_Integer id = rc == DB_OK ? (lua_Integer)res->insert_id : 0;
	if (!pc->a)
		ar_free(a);
	if (rc != DB_OK)
		return luaL_error(L, "portal.outbox.queue: the message could not be queued");
	lua_pushinteger(L, id);
	return 1;
}

static int papi_audit(lua_State *L)
{
	plug_ctx *pc = papi_ctx(L);
	if (!plug_permitted(pc->p, "audit"))
		return luaL_error(L, "portal.audit: the plugin did not ask for the \"audit\" permission");
	const char *action = luaL_checkstring(L, 1);
	const char *otype = luaL_optstring(L, 2, "");
	const char *oid = luaL_optstring(L, 3, "");
	json_t *detail = NULL;
	if (!lua_isnoneornil(L, 4)) {
		char err[200];
		detail = lj_to_json(L, 4, err, sizeof err);
		if (!detail)
			return luaL_error(L, "portal.audit: detail: %s", err);
	}
	if (strlen(action) > 40 || strlen(otype) > 40 || strlen(oid) > 64)
		return luaL_error(L, "portal.audit: action, object type or id too long");
	char full[80];
	snprintf(full, sizeof full, "%s.%s", pc->id, action);
	if (!pc->r) {
		json_decref(detail);
		return luaL_error(L, "portal.audit: needs a request in progress");
	}
	if (audit_log(pc->r, full, otype, oid, detail) != 0)
		return luaL_error(L, "portal.audit: the entry could not be written");
	return 0;
}

/* ---- forms ---- */

static const pform *papi_form(lua_State *L, int idx)
{
	plug_ctx *pc = papi_ctx(L);
	const char *name = luaL_checkstring(L, idx);
	const pform *f = plug_find_form(pc->p, name);
	if (!f)
		luaL_error(L, "no form named \"%s\" in plugin %s", name, pc->id);
	return f;
}

/* validate(name [, input]) -> ok, values, errors. input: a table (as from
 * JSON) or nil for the current request's form / JSON body. The form's own
 * validate function runs after the declarative checks pass. When not ok and
 * the input was a browser form, values is what was typed (for view()). */
static int papi_form_validate(lua_State *L)
{
	const pform *f = papi_form(L, 1);
	plug_ctx *pc = papi_ctx(L);
	json_t *values = NULL, *errors = NULL, *jin = NULL;
	char err[256];
	arena *a = pc->a ? pc->a : ar_new(1024);
	if (lua_istable(L, 2)) {
		jin = lj_to_json(L, 2, err, sizeof err);
		if (!jin || !json_is_object(jin)) {
			json_decref(jin);
			if (!pc->a)
				ar_free(a);
			return luaL_error(L, "portal.form.validate: input must be a table of fields");
		}
		pform_validate(f, a, NULL, jin, &values, &errors);
	} else {
		req *r = papi_req(L);
		if (r->is_api && r->body_len) {
			json_error_t je;
			jin = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
			if (!jin || !json_is_object(jin)) {
				json_decref(jin);
				jin = NULL;
				errors = json_pack("{s:s}", "_body", "提交的内容不是有效的 JSON 对象。");
				values = json_object();
			}
		}
		if (!errors)
			pform_validate(f, a, jin ? NULL : &r->post, jin, &values, &errors);
	}
	json_decref(jin);
	if (!pc->a)
		ar_free(a);
	if (json_object_size(errors) == 0 && pform_validate_ref(f) != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, pform_validate_ref(f));
		lj_push(L, values);
		lua_call(L, 1, 1);           /* inside the route's budget already */
		if (lua_istable(L, -1)) {
			json_t *more = lj_to_json(L, -1, err, sizeof err);
			if (json_is_object(more))
				json_object_update(errors, more);
			json_decref(more);
		} else if (lua_type(L, -1) == LUA_TSTRING)
			json_object_set_new(errors, "_form", json_string(lua_tostring(L, -1)));
		lua_pop(L, 1);
	}
	int ok = json_object_size(errors) == 0;
	if (!ok && !lua_istable(L, 2) && pc->r && !pc->r->is_api) {
		/* on errors, values is what was typed, so view() can show it again */
		json_t *typed = pform_input(f, &pc->r->post);
		if (typed) {
			json_decref(values);
			values = typed;
		}
	}
	lua_pushboolean(L, ok);
	lj_push(L, values);
	lj_push(L, errors);
	json_decref(values);
	json_decref(errors);
	return 3;
}

static int papi_form_view(lua_State *L)
{
	const pform *f = papi_form(L, 1);
	char err[256];
	json_t *values = lua_istable(L, 2) ? lj_to_json(L, 2, err, sizeof err) : NULL;
	json_t *errors = lua_istable(L, 3) ? lj_to_json(L, 3, err, sizeof err) : NULL;
	json_t *v = pform_view(f, values, errors);
	lj_push(L, v);
	json_decref(v);
	json_decref(values);
	json_decref(errors);
	return 1;
}

static int papi_form_schema(lua_State *L)
{
	const pform *f = papi_form(L, 1);
	json_t *s = pform_schema(f);
	lj_push(L, s);
	json_decref(s);
	return 1;
}

/* ---- masks: show no more of a phone or name than the task needs ---- */

/* A name shown no more than the task needs: "张*华", "王*". */
static void papi_mask_name(const char *in, char *out, size_t n)
{
	/* keep the first and (for 3+ characters) the last character: 张*华, 王* */
	size_t l = strlen(in), first = 1, last = 0;
	while (first < l && ((unsigned char)in[first] & 0xC0) == 0x80)
		first++;
	size_t chars = utf8_valid(in, l) ? utf8_len(in, l) : 0;
	if (chars >= 3) {
		last = l - 1;
		while (last > 0 && ((unsigned char)in[last] & 0xC0) == 0x80)
			last--;
	}
	if (chars <= 1) {
		snprintf(out, n, "%s", chars ? "*" : "");
		return;
	}
	snprintf(out, n, "%.*s*%s", (int)first, in, chars >= 3 ? in + last : "");
}

static int papi_mask_phone_l(lua_State *L)
{
	char out[12];
	val_mask_phone(luaL_checkstring(L, 1), out);
	lua_pushstring(L, out);
	return 1;
}

static int papi_mask_name_l(lua_State *L)
{
	char out[64];
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	if (n > 60)
		return luaL_error(L, "portal.mask.name: name too long");
	papi_mask_name(s, out, sizeof out);
	lua_pushstring(L, out);
	return 1;
}

static int papi_mask_idcard_l(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	char out[32];
	snprintf(out, sizeof out, "%s%s", n > 4 ? "**************" : "", n > 4 ? s + n - 4 : "****");
	lua_pushstring(L, out);
	return 1;
}

/* The CSRF token for a form on a plugin page: the session's when a staff
 * member is logged in, else a double-submit token in the cookie portal_csrf
 * (residents have no session; a cross-site page can neither read the cookie
 * nor set it). */
static const char *papi_csrf_token(req *r)
{
	auth_user *u = auth_identify(r);
	if (u && u->session_id && u->csrf)
		return u->csrf;
	return auth_anon_csrf(r, PAPI_CSRF_COOKIE, "/p/");
}

static int papi_csrf(lua_State *L)
{
	lua_pushstring(L, papi_csrf_token(papi_req(L)));
	return 1;
}

/* ---- building the table ---- */

static void papi_lib(lua_State *L, const char *name, const luaL_Reg *fns)
{
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	lua_setfield(L, -2, name);
}

void papi_install(sbx *sb, plugin *p)
{
	lua_State *L = sbx_L(sb);
	sbx_push_env(sb);
	lua_newtable(L);                       /* portal */
	static const luaL_Reg top[] = {
		{"user", papi_user}, {"has_role", papi_has_role}, {"t", papi_t}, {"audit", papi_audit},
		{"csrf", papi_csrf}, {NULL, NULL}};
	luaL_setfuncs(L, top, 0);
	static const luaL_Reg logf[] = {{"info", papi_log_info}, {"warn", papi_log_warn}, {"error", papi_log_error}, {NULL, NULL}};
	papi_lib(L, "log", logf);
	static const luaL_Reg timef[] = {{"now", papi_now}, {"today", papi_today}, {"date", papi_date}, {"parse", papi_parse}, {NULL, NULL}};
	papi_lib(L, "time", timef);
	static const luaL_Reg jsonf[] = {{"encode", papi_json_encode}, {"decode", papi_json_decode}, {NULL, NULL}};
	papi_lib(L, "json", jsonf);
	static const luaL_Reg outf[] = {{"queue", papi_outbox_queue}, {NULL, NULL}};
	papi_lib(L, "outbox", outf);
	static const luaL_Reg formf[] = {{"validate", papi_form_validate}, {"view", papi_form_view}, {"schema", papi_form_schema}, {NULL, NULL}};
	papi_lib(L, "form", formf);
	static const luaL_Reg maskf[] = {{"phone", papi_mask_phone_l}, {"name", papi_mask_name_l}, {"idcard", papi_mask_idcard_l}, {NULL, NULL}};
	papi_lib(L, "mask", maskf);
	pdb_push(L);
	lua_setfield(L, -2, "db");
	pev_push(L);                           /* portal.events, portal.text, portal.csv */
	lua_setfield(L, -2, "events");
	ptx_install(L);
	lua_pushcfunction(L, grant_lua_has);    /* grants.c: portal.has_grant(name) */
	lua_setfield(L, -2, "has_grant");
	pacc_push(L);                           /* plugin_accounts.c: portal.accounts.* */
	lua_setfield(L, -2, "accounts");
	/* config: filled after the manifest is read; a function keeps it lazy */
	lua_createtable(L, 0, 2);
	lua_pushstring(L, plug_ctx_of(L)->id);
	lua_setfield(L, -2, "id");
	lua_setfield(L, -2, "plugin");
	lua_newtable(L);
	lua_setfield(L, -2, "config");        /* filled by papi_set_config */
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "papi.portal");
	sbx_readonly(L);
	lua_setfield(L, -2, "portal");
	lua_pop(L, 1);                         /* env */
	(void)p;
}

void papi_set_config(sbx *sb, json_t *config, const char *version)
{
	/* filled in place: a plugin that kept `local cfg = portal.config` while
	 * its file ran sees the values too */
	lua_State *L = sbx_L(sb);
	lua_getfield(L, LUA_REGISTRYINDEX, "papi.portal");
	lua_getfield(L, -1, "plugin");
	lua_pushstring(L, version);
	lua_setfield(L, -2, "version");
	lua_pop(L, 1);
	lua_getfield(L, -1, "config");
	const char *k;
	json_t *v;
	json_object_foreach(config, k, v) {
		lj_push(L, v);
		lua_setfield(L, -2, k);
	}
	lua_pop(L, 2);
}

void papi_page_data(plugin *p, req *r, json_t *data)
{
	json_object_set_new(data, "csrf", json_string(papi_csrf_token(r)));
	auth_page_data(r, data);
	auth_user *u = auth_identify(r);
	if (u)
		json_object_set_new(data, "user", json_pack("{s:s, s:s}", "username", u->username, "display_name",
		                                              u->display_name ? u->display_name : u->username));
	(void)p;
}

int papi_anon_csrf_check(req *r)
{
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
		return 0;
	if (r->is_api) {
		/* cross-site forms cannot send JSON without a preflight */
		if (strncmp(r->content_type, "application/json", 16) != 0)
			return resp_error(r, 415, "json_required", "请以 JSON 格式提交。", NULL);
		return 0;
	}
	/* a logged-in staff member's session token, or the double-submit pair */
	auth_user *u = auth_identify(r);
	int ok = (u && u->session_id) ? auth_csrf_ok(r) : auth_anon_csrf_ok(r, PAPI_CSRF_COOKIE);
	if (!ok)
		return resp_error(r, 403, "csrf", "页面已过期，请返回刷新后重新提交。", NULL);
	return 0;
}
