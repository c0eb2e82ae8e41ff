/* plugin_events.c - portal.events (see plugin_events.h). */
#include "plugin_events.h"
#include "luajson.h"
#include "plugin.h"
#include "valid.h"
#include <jansson.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define PEV_MAX_EVENTS 500
#define PEV_TIME(col) "DATE_FORMAT(" col ", '%Y-%m-%d %H:%i:%s')"

/* Counts of one event's or one slot's registrations (a no-show was confirmed). */
#define PEV_CONFIRMED "r.status IN ('confirmed', 'no_show')"

typedef struct pev_call {
	lua_State *L;
	plug_ctx *pc;
	const char *fn;           /* "list", "get", ... for messages */
	json_t *kinds;            /* the plugin's event kinds (borrowed) */
} pev_call;

/* The context of a call that needs the database; raises without one. */
static pev_call pev_begin(lua_State *L, const char *fn)
{
	pev_call c = {L, plug_ctx_of(L), fn, NULL};
	if (!c.pc || !c.pc->db || !c.pc->a)
		luaL_error(L, "portal.events.%s: no database connection here", fn);
	c.kinds = plug_kinds(c.pc->p);
	return c;
}

/* 1 when kind is one of the plugin's own event kinds. */
static int pev_own(const pev_call *c, const char *kind)
{
	size_t i;
	json_t *k;
	json_array_foreach(c->kinds, i, k) {
		const char *id = json_string_value(json_object_get(k, "id"));
		if (id && kind && strcmp(id, kind) == 0)
			return 1;
	}
	return 0;
}

/* Run a query; a database failure raises (after nothing was allocated that
 * outlives the arena). */
static db_res *pev_query(pev_call *c, const char *sql, const db_param *p, size_t np)
{
	db_res *res = NULL;
	if (db_exec(c->pc->db, c->pc->a, &res, sql, p, np) != DB_OK)
		luaL_error(c->L, "portal.events.%s: %s", c->fn, db_errmsg(c->pc->db));
	return res;
}

static void pev_set_str(lua_State *L, const char *k, const char *v)
{
	if (!v)
		return;
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void pev_set_int(lua_State *L, const char *k, long long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

/* ---- events ---- */

#define PEV_EVENT_COLS \
	"e.id, e.kind, e.title, e.location, " PEV_TIME("e.starts_at") " AS starts_at, " \
	PEV_TIME("e.ends_at") " AS ends_at, e.status, e.capacity," \
	" (SELECT COUNT(*) FROM registrations r WHERE r.event_id = e.id AND " PEV_CONFIRMED ") AS confirmed," \
	" (SELECT COUNT(*) FROM registrations r WHERE r.event_id = e.id AND r.status = 'waitlisted') AS waitlisted," \
	" (SELECT COUNT(*) FROM registrations r WHERE r.event_id = e.id AND r.checked_in_at IS NOT NULL" \
	"  AND r.status <> 'cancelled') AS checked_in"

#define PEV_SLOT_COLS \
	"s.id, s.event_id, " PEV_TIME("s.starts_at") " AS starts_at, " PEV_TIME("s.ends_at") " AS ends_at, s.capacity," \
	" (SELECT COUNT(*) FROM registrations r WHERE r.event_id = s.event_id AND r.slot_id = s.id AND " \
	PEV_CONFIRMED ") AS confirmed," \
	" (SELECT COUNT(*) FROM registrations r WHERE r.event_id = s.event_id AND r.slot_id = s.id" \
	"  AND r.status = 'waitlisted') AS waitlisted"

/* Push row i of an event result: full for the plugin's own kinds (with the
 * slots found in slots, rows of any events), public fields otherwise. */
static void pev_push_event(pev_call *c, const db_res *res, size_t i, const db_res *slots)
{
	lua_State *L = c->L;
	int own = pev_own(c, db_cell(res, i, "kind"));
	lua_createtable(L, 0, own ? 11 : 7);
	long long id = db_cell_int(res, i, "id");
	pev_set_int(L, "id", id);
	pev_set_str(L, "kind", db_cell(res, i, "kind"));
	pev_set_str(L, "title", db_cell(res, i, "title"));
	pev_set_str(L, "location", db_cell(res, i, "location"));
	pev_set_str(L, "starts_at", db_cell(res, i, "starts_at"));
	pev_set_str(L, "ends_at", db_cell(res, i, "ends_at"));
	pev_set_str(L, "status", db_cell(res, i, "status"));
	if (!own)
		return;
	pev_set_int(L, "capacity", db_cell_int(res, i, "capacity"));
	pev_set_int(L, "confirmed", db_cell_int(res, i, "confirmed"));
	pev_set_int(L, "waitlisted", db_cell_int(res, i, "waitlisted"));
	pev_set_int(L, "checked_in", db_cell_int(res, i, "checked_in"));
	lua_newtable(L);
	int n = 0;
	for (size_t j = 0; slots && j < slots->nrows; j++) {
		if (db_cell_int(slots, j, "event_id") != id)
			continue;
		lua_createtable(L, 0, 6);
		pev_set_int(L, "id", db_cell_int(slots, j, "id"));
		pev_set_str(L, "starts_at", db_cell(slots, j, "starts_at"));
		pev_set_str(L, "ends_at", db_cell(slots, j, "ends_at"));
		pev_set_int(L, "capacity", db_cell_int(slots, j, "capacity"));
		pev_set_int(L, "confirmed", db_cell_int(slots, j, "confirmed"));
		pev_set_int(L, "waitlisted", db_cell_int(slots, j, "waitlisted"));
		lua_rawseti(L, -2, ++n);
	}
	lua_setfield(L, -2, "slots");
}

/* The slots of the own-kind events among res (one query), or NULL when none. */
static db_res *pev_slots_of(pev_call *c, const db_res *res)
{
	size_t n = 0;
	db_param *p = ar_alloc(c->pc->a, (res->nrows + 1) * sizeof *p);
	for (size_t i = 0; i < res->nrows; i++)
		if (pev_own(c, db_cell(res, i, "kind")))
			p[n++] = DB_INT(db_cell_int(res, i, "id"));
	if (n == 0)
		return NULL;
	const char *sql = ar_printf(c->pc->a, "SELECT %s FROM event_slots s WHERE s.event_id IN (%s)"
	                            " ORDER BY s.event_id, s.starts_at, s.id", PEV_SLOT_COLS, db_marks(c->pc->a, n));
	return pev_query(c, sql, p, n);
}

/* A "YYYY-MM-DD" option, or NULL when absent; raises when malformed. */
static const char *pev_day_opt(pev_call *c, int opts, const char *k)
{
	lua_getfield(c->L, opts, k);
	const char *s = NULL;
	int y, m, d;
	if (!lua_isnil(c->L, -1)) {
		if (lua_type(c->L, -1) != LUA_TSTRING || !val_date(lua_tostring(c->L, -1), &y, &m, &d))
			luaL_error(c->L, "portal.events.list: %s must be a day like \"2026-05-01\"", k);
		s = ar_strdup(c->pc->a, lua_tostring(c->L, -1));
	}
	lua_pop(c->L, 1);
	return s;
}

static const char *const pev_statuses[] = {"draft", "published", "closed", "cancelled", NULL};

/* list{ kind?, from?, to?, status?, all_kinds? } */
static int pev_list(lua_State *L)
{
	pev_call c = pev_begin(L, "list");
	if (lua_isnoneornil(L, 1))
		lua_newtable(L), lua_replace(L, 1);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	static const char *const known[] = {"kind", "from", "to", "status", "all_kinds", NULL};
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		int ok = 0;
		for (int i = 0; known[i] && lua_type(L, -2) == LUA_TSTRING; i++)
			ok |= strcmp(known[i], lua_tostring(L, -2)) == 0;
		if (!ok)
			return luaL_error(L, "portal.events.list: unknown option \"%s\" (kind, from, to, status, all_kinds)",
			                  lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
		lua_pop(L, 1);
	}
	lua_getfield(L, 1, "all_kinds");
	int all = lua_toboolean(L, -1);
	lua_getfield(L, 1, "kind");
	const char *kind = lua_isnil(L, -1) ? NULL : ar_strdup(c.pc->a, luaL_checkstring(L, -1));
	lua_getfield(L, 1, "status");
	const char *status = lua_isnil(L, -1) ? NULL : ar_strdup(c.pc->a, luaL_checkstring(L, -1));
	lua_settop(L, 1);
	const char *from = pev_day_opt(&c, 1, "from"), *to = pev_day_opt(&c, 1, "to");
	if (status) {
		int ok = 0;
		for (int i = 0; pev_statuses[i]; i++)
			ok |= strcmp(pev_statuses[i], status) == 0;
		if (!ok)
			return luaL_error(L, "portal.events.list: status must be draft, published, closed or cancelled");
		if (all && strcmp(status, "published") != 0)
			return luaL_error(L, "portal.events.list: with all_kinds, only published events are listed");
	}
	if (kind && !all && !pev_own(&c, kind))
		return luaL_error(L, "portal.events.list: \"%s\" is not an event kind of plugin %s (all_kinds = true "
		                     "lists published events of every kind)", kind, c.pc->id);
	size_t nk = json_array_size(c.kinds);
	db_param *p = ar_alloc(c.pc->a, (nk + 5) * sizeof *p);
	size_t np = 0;
	char *where = ar_strdup(c.pc->a, "1 = 1");
	if (all)
		where = ar_printf(c.pc->a, "%s AND e.status = 'published'", where);
	else {
		if (nk == 0) {
			lua_newtable(L);          /* a plugin without kinds owns no events */
			return 1;
		}
		where = ar_printf(c.pc->a, "%s AND e.kind IN (%s)", where, db_marks(c.pc->a, nk));
		for (size_t i = 0; i < nk; i++)
			p[np++] = DB_TEXT(json_string_value(json_object_get(json_array_get(c.kinds, i), "id")));
	}
	const struct { const char *sql, *v; } opt[] = {
		{" AND e.kind = ?", kind}, {" AND e.status = ?", status}, {" AND e.starts_at >= ?", from},
		{" AND e.starts_at < DATE_ADD(?, INTERVAL 1 DAY)", to}};
	for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
		if (opt[i].v) {
			where = ar_printf(c.pc->a, "%s%s", where, opt[i].sql);
			p[np++] = DB_TEXT(opt[i].v);
		}
	const char *sql = ar_printf(c.pc->a, "SELECT %s FROM events e WHERE %s ORDER BY e.starts_at, e.id LIMIT %d",
	                            PEV_EVENT_COLS, where, PEV_MAX_EVENTS);
	db_res *res = pev_query(&c, sql, p, np);
	db_res *slots = pev_slots_of(&c, res);
	lua_createtable(L, (int)res->nrows, 0);
	for (size_t i = 0; i < res->nrows; i++) {
		pev_push_event(&c, res, i, slots);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* get(id) */
static int pev_get(lua_State *L)
{
	pev_call c = pev_begin(L, "get");
	lua_Integer id = luaL_checkinteger(L, 1);
	db_res *res = pev_query(&c, "SELECT " PEV_EVENT_COLS " FROM events e WHERE e.id = ?", (db_param[]){DB_INT(id)}, 1);
	if (res->nrows == 0 ||
	    (!pev_own(&c, db_cell(res, 0, "kind")) && strcmp(db_cell(res, 0, "status"), "published") != 0)) {
		lua_pushnil(L);
		return 1;
	}
	pev_push_event(&c, res, 0, pev_slots_of(&c, res));
	return 1;
}

/* ---- registrations ---- */

#define PEV_REG_COLS \
	"r.code, r.event_id, r.name, r.phone, r.status, r.waitlist_position, r.slot_id, r.answers, r.consent," \
	" " PEV_TIME("r.checked_in_at") " AS checked_in_at, " PEV_TIME("r.created_at") " AS created_at," \
	" r.registered_by, e.kind"

static void pev_push_reg(pev_call *c, const db_res *res, size_t i, int with_event)
{
	lua_State *L = c->L;
	lua_createtable(L, 0, 13);
	pev_set_str(L, "code", db_cell(res, i, "code"));
	if (with_event)
		pev_set_int(L, "event_id", db_cell_int(res, i, "event_id"));
	pev_set_str(L, "name", db_cell(res, i, "name"));
	pev_set_str(L, "phone", db_cell(res, i, "phone"));
	const char *st = db_cell(res, i, "status");
	int no_show = st && strcmp(st, "no_show") == 0;
	pev_set_str(L, "status", no_show ? "confirmed" : st);
	lua_pushboolean(L, no_show);
	lua_setfield(L, -2, "no_show");
	if (db_cell(res, i, "waitlist_position"))
		pev_set_int(L, "position", db_cell_int(res, i, "waitlist_position"));
	if (db_cell(res, i, "slot_id"))
		pev_set_int(L, "slot_id", db_cell_int(res, i, "slot_id"));
	const char *ans = db_cell(res, i, "answers");
	json_t *ja = ans ? json_loads(ans, 0, NULL) : NULL;
	if (json_is_object(ja))
		lj_push(L, ja);
	else
		lua_newtable(L);
	json_decref(ja);
	lua_setfield(L, -2, "answers");
	lua_pushboolean(L, db_cell_int(res, i, "consent") != 0);
	lua_setfield(L, -2, "consent");
	pev_set_str(L, "checked_in_at", db_cell(res, i, "checked_in_at"));
	pev_set_str(L, "created_at", db_cell(res, i, "created_at"));
	lua_pushboolean(L, db_cell(res, i, "registered_by") != NULL);
	lua_setfield(L, -2, "by_staff");
}

/* registrations(event_id [, { status?, slot_id? }]) */
static int pev_registrations(lua_State *L)
{
	pev_call c = pev_begin(L, "registrations");
	lua_Integer id = luaL_checkinteger(L, 1);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	const char *status = NULL;
	lua_Integer slot = 0;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "status");
		if (!lua_isnil(L, -1)) {
			status = lua_tostring(L, -1);
			if (!status || (strcmp(status, "confirmed") && strcmp(status, "waitlisted") && strcmp(status, "cancelled")))
				return luaL_error(L, "portal.events.registrations: status must be confirmed, waitlisted or cancelled");
			status = ar_strdup(c.pc->a, status);
		}
		lua_getfield(L, 2, "slot_id");
		if (!lua_isnil(L, -1)) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
				return luaL_error(L, "portal.events.registrations: slot_id must be a slot's id (a whole number)");
			slot = lua_tointeger(L, -1);
		}
		lua_pop(L, 2);
	}
	db_res *ev = pev_query(&c, "SELECT kind FROM events WHERE id = ?", (db_param[]){DB_INT(id)}, 1);
	if (ev->nrows == 0 || !pev_own(&c, db_cell(ev, 0, "kind")))
		return luaL_error(L, "portal.events.registrations: event %I is not an event of plugin %s's kinds",
		                  (LUAI_UACINT)id, c.pc->id);
	const char *st_sql = !status ? "1 = 1"
	                     : !strcmp(status, "confirmed") ? PEV_CONFIRMED
	                     : !strcmp(status, "waitlisted") ? "r.status = 'waitlisted'" : "r.status = 'cancelled'";
	const char *sql = ar_printf(c.pc->a, "SELECT %s FROM registrations r JOIN events e ON e.id = r.event_id"
	                            " WHERE r.event_id = ? AND %s AND (? = 0 OR r.slot_id = ?) ORDER BY r.id",
	                            PEV_REG_COLS, st_sql);
	db_res *res = pev_query(&c, sql, (db_param[]){DB_INT(id), DB_INT(slot), DB_INT(slot)}, 3);
	lua_createtable(L, (int)res->nrows, 0);
	for (size_t i = 0; i < res->nrows; i++) {
		pev_push_reg(&c, res, i, 0);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* registration(code) */
static int pev_registration(lua_State *L)
{
	pev_call c = pev_begin(L, "registration");
	size_t n;
	const char *in = luaL_checklstring(L, 1, &n);
	char code[8];
	if (n < 1 || n > 6) {
		lua_pushnil(L);
		return 1;
	}
	for (size_t i = 0; i <= n; i++)
		code[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 'a' + 'A' : in[i]);
	db_res *res = pev_query(&c, "SELECT " PEV_REG_COLS " FROM registrations r JOIN events e ON e.id = r.event_id"
	                        " WHERE r.code = ?", (db_param[]){DB_TEXT(code)}, 1);
	if (res->nrows == 0 || !pev_own(&c, db_cell(res, 0, "kind"))) {
		lua_pushnil(L);
		return 1;
	}
	pev_push_reg(&c, res, 0, 1);
	return 1;
}

void pev_push(lua_State *L)
{
	static const luaL_Reg fns[] = {{"list", pev_list}, {"get", pev_get}, {"registrations", pev_registrations},
	                               {"registration", pev_registration}, {NULL, NULL}};
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
}
