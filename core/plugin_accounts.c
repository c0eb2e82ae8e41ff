/* plugin_accounts.c - portal.accounts: volunteer accounts made by plugins
 * (contract in plugin_accounts.h). */
#include "plugin_accounts.h"
#include "audit.h"
#include "auth.h"
#include "plugin.h"
#include "sandbox.h"
#include "valid.h"
#include <lauxlib.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PACC_ONE_TIME_LEN 12

static const val_rule pacc_rule_display = {"display_name", VAL_TEXT, 1, 1, 50, NULL, "姓名"};

/* The calling plugin's context, after checking its "accounts" permission. */
static plug_ctx *pacc_ctx(lua_State *L, const char *fn)
{
	plug_ctx *pc = plug_ctx_of(L);
	if (!pc)
		luaL_error(L, "no plugin context");
	if (!plug_permitted(pc->p, "accounts"))
		luaL_error(L, "portal.accounts.%s: the plugin did not ask for the \"accounts\" permission", fn);
	if (!pc->db)
		luaL_error(L, "portal.accounts.%s: no database", fn);
	return pc;
}

/* Who the audit entry names: the signed-in user of the request, else the
 * plugin itself (a job). */
static audit_actor pacc_actor(plug_ctx *pc, arena *a)
{
	auth_user *u = pc->r ? auth_identify(pc->r) : NULL;
	if (u)
		return (audit_actor){u->id, u->token_id, u->username, pc->r->remote_addr ? pc->r->remote_addr : ""};
	return (audit_actor){0, 0, ar_printf(a, "plugin:%s", pc->id), pc->r && pc->r->remote_addr ? pc->r->remote_addr : ""};
}

/* Run fn inside the caller's transaction when there is one (portal.db.
 * transaction), else in one of its own. */
static int pacc_tx(db *d, db_tx_fn fn, void *ctx)
{
	return db_in_tx(d) ? fn(d, ctx) : db_tx(d, fn, ctx);
}

/* ---- create */

struct pacc_create {
	plug_ctx *pc;
	arena *a;
	const char *username, *display_name, *hash;
	long long id;
};

static int pacc_create_tx(db *d, void *ctx)
{
	struct pacc_create *t = ctx;
	int rc = auth_user_insert(d, t->a, t->username, t->display_name, NULL, ROLE_VOLUNTEER, t->hash, &t->id);
	if (rc == DB_OK)
		rc = auth_user_must_change(d, t->a, t->id, 1);
	if (rc != DB_OK)
		return rc;
	audit_actor who = pacc_actor(t->pc, t->a);
	return audit_write(d, t->a, &who, "user.create", "user", ar_printf(t->a, "%lld", t->id),
	                   json_pack("{s:s, s:s, s:[s], s:s, s:b}", "username", t->username, "display_name",
	                             t->display_name, "roles", "volunteer", "plugin", t->pc->id, "one_time_password", 1));
}

/* A one-time password: PACC_ONE_TIME_LEN characters from an alphabet without
 * look-alikes (read out over the phone), accepted by the password rules. */
static void pacc_password(const char *username, char out[PACC_ONE_TIME_LEN + 1])
{
	static const char abc[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	do {
		for (int i = 0; i < PACC_ONE_TIME_LEN; i++)
			out[i] = abc[randombytes_uniform(sizeof abc - 1)];
		out[PACC_ONE_TIME_LEN] = 0;
	} while (auth_password_problem(out, username));
}

/* create{username, display_name, role} -> {id, username, password} | nil, "taken" */
static int pacc_create(lua_State *L)
{
	plug_ctx *pc = pacc_ctx(L, "create");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "username");
	lua_getfield(L, 1, "display_name");
	lua_getfield(L, 1, "role");
	const char *username = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
	const char *role = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : "";
	if (strcmp(role, "volunteer") != 0)
		return luaL_error(L, "portal.accounts.create: role must be \"volunteer\" (the only role a plugin may give)");
	if (!auth_username_ok(username))
		return luaL_error(L, "portal.accounts.create: username must be 2-32 of a-z 0-9 . _ -, starting with a letter or digit");
	arena *a = ar_new(1024);
	val_value v;
	val_error e;
	if (lua_type(L, 3) != LUA_TSTRING || val_one(a, &pacc_rule_display, lua_tostring(L, 3), &v, &e) != 0) {
		ar_free(a);
		return luaL_error(L, "portal.accounts.create: display_name must be a text of 1 to 50 characters");
	}
	char pw[PACC_ONE_TIME_LEN + 1], hash[AUTH_PWHASH_BUF];
	pacc_password(username, pw);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int hrc = auth_password_hash(pw, hash);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* argon2id takes about 0.1 s by design: the host's time, not the plugin's budget */
	sbx_extend(plug_sbx_of(pc->p), (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (hrc != 0) {
		ar_free(a);
		return luaL_error(L, "portal.accounts.create: out of memory");
	}
	struct pacc_create t = {pc, a, ar_strdup(a, username), v.s, hash, 0};
	int rc = pacc_tx(pc->db, pacc_create_tx, &t);
	ar_free(a);
	if (rc == DB_EDUP) {
		sodium_memzero(pw, sizeof pw);
		lua_pushnil(L);
		lua_pushliteral(L, "taken");
		return 2;
	}
	if (rc != DB_OK) {
		sodium_memzero(pw, sizeof pw);
		return luaL_error(L, "portal.accounts.create: the account could not be saved");
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, t.id);
	lua_setfield(L, -2, "id");
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, "username");
	lua_pushstring(L, pw);
	lua_setfield(L, -2, "password");
	sodium_memzero(pw, sizeof pw);
	return 1;
}

/* ---- get, set_disabled */

/* The account's row (id, username, display_name, disabled, roles) or NULL. */
static db_res *pacc_row(lua_State *L, plug_ctx *pc, arena *a, long long id, const char *fn)
{
	db_res *res = NULL;
	if (db_q(pc->db, a, &res,
	         "SELECT u.id, u.username, u.display_name, u.disabled,"
	         " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	         " FROM users u WHERE u.id = ?", DB_INT(id)) != DB_OK) {
		ar_free(a);
		luaL_error(L, "portal.accounts.%s: the database is not available", fn);
	}
	return res->nrows == 1 ? res : NULL;
}

static int pacc_get(lua_State *L)
{
	plug_ctx *pc = pacc_ctx(L, "get");
	lua_Integer id = luaL_checkinteger(L, 1);
	arena *a = ar_new(1024);
	db_res *res = pacc_row(L, pc, a, id, "get");
	if (!res) {
		ar_free(a);
		return lua_pushnil(L), 1;
	}
	lua_createtable(L, 0, 5);
	lua_pushinteger(L, db_cell_int(res, 0, "id"));
	lua_setfield(L, -2, "id");
	lua_pushstring(L, db_cell(res, 0, "username"));
	lua_setfield(L, -2, "username");
	lua_pushstring(L, db_cell(res, 0, "display_name"));
	lua_setfield(L, -2, "display_name");
	lua_pushboolean(L, db_cell_int(res, 0, "disabled") != 0);
	lua_setfield(L, -2, "disabled");
	unsigned roles = auth_roles_parse(db_cell(res, 0, "roles"), NULL);
	lua_newtable(L);
	int i = 1;
	for (const unsigned *b = auth_roles_all; *b; b++)
		if (roles & *b) {
			lua_pushstring(L, auth_role_name(*b));
			lua_rawseti(L, -2, i++);
		}
	lua_setfield(L, -2, "roles");
	ar_free(a);
	return 1;
}

struct pacc_disable {
	plug_ctx *pc;
	arena *a;
	long long id;
	int disable, changed;
};

static int pacc_disable_tx(db *d, void *ctx)
{
	struct pacc_disable *t = ctx;
	int rc = auth_user_set_disabled(d, t->a, t->id, t->disable, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	audit_actor who = pacc_actor(t->pc, t->a);
	return audit_write(d, t->a, &who, t->disable ? "user.disable" : "user.enable", "user",
	                   ar_printf(t->a, "%lld", t->id), json_pack("{s:s}", "plugin", t->pc->id));
}

static int pacc_set_disabled(lua_State *L)
{
	plug_ctx *pc = pacc_ctx(L, "set_disabled");
	lua_Integer id = luaL_checkinteger(L, 1);
	luaL_checktype(L, 2, LUA_TBOOLEAN);
	arena *a = ar_new(1024);
	db_res *res = pacc_row(L, pc, a, id, "set_disabled");
	if (!res || auth_roles_parse(db_cell(res, 0, "roles"), NULL) != ROLE_VOLUNTEER) {
		ar_free(a);
		return luaL_error(L, "portal.accounts.set_disabled: account %I is not an account whose only role is volunteer",
		                  (lua_Integer)id);
	}
	struct pacc_disable t = {pc, a, id, lua_toboolean(L, 2), 0};
	int rc = pacc_tx(pc->db, pacc_disable_tx, &t);
	ar_free(a);
	if (rc != DB_OK)
		return luaL_error(L, "portal.accounts.set_disabled: the change could not be saved");
	return 0;
}

void pacc_push(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"create", pacc_create}, {"get", pacc_get}, {"set_disabled", pacc_set_disabled}, {NULL, NULL}};
	lua_createtable(L, 0, 3);
	luaL_setfuncs(L, fns, 0);
}
