/* luajson.c - Lua values <-> jansson values. */
#include "luajson.h"
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LJ_MAXDEPTH 32

void lj_push(lua_State *L, json_t *v)
{
	luaL_checkstack(L, 4, "json too deep");
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		lua_createtable(L, 0, (int)json_object_size(v));
		json_object_foreach(v, k, x) {
			if (json_is_null(x))
				continue;
			lj_push(L, x);
			lua_setfield(L, -2, k);
		}
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		lua_createtable(L, (int)json_array_size(v), 0);
		json_array_foreach(v, i, x) {
			lj_push(L, x);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	default:
		lua_pushnil(L);
	}
}

/* Lua 5.4 on 64 bits: a table header is 56 bytes, an array slot 16, a hash
 * node 32 (slots grow in powers of two: counted as 1.5 times the entries),
 * a string 24 + its length + 1. */
static size_t lj_cost(json_t *v, size_t sum, size_t limit)
{
	if (sum > limit)
		return sum;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		sum += 56 + json_object_size(v) * 48;
		json_object_foreach(v, k, x) {
			sum += 25 + strlen(k);
			sum = lj_cost(x, sum, limit);
			if (sum > limit)
				break;
		}
		return sum;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		sum += 56 + json_array_size(v) * 16;
		json_array_foreach(v, i, x) {
			sum = lj_cost(x, sum, limit);
			if (sum > limit)
				break;
		}
		return sum;
	}
	case JSON_STRING:
		return sum + 25 + json_string_length(v);
	default:
		return sum;
	}
}

size_t lj_push_cost(json_t *v, size_t limit)
{
	return v ? lj_cost(v, 0, limit) : 0;
}

/* 1 when the table at idx has exactly the keys 1..n (n >= 1). */
static int lj_is_array(lua_State *L, int idx, size_t *n)
{
	size_t count = 0;
	lua_Integer max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
			lua_pop(L, 1);
			return 0;
		}
		lua_Integer k = lua_tointeger(L, -1);
		if (k > max)
			max = k;
		count++;
	}
	*n = count;
	return count > 0 && (lua_Integer)count == max;
}

static json_t *lj_conv(lua_State *L, int idx, int depth, char *err, size_t errlen)
{
	idx = lua_absindex(L, idx);
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		if (!isfinite(lua_tonumber(L, idx))) {
			snprintf(err, errlen, "a number that is not finite cannot be JSON");
			return NULL;
		}
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		json_t *j = json_stringn(s, n);
		if (!j)
			snprintf(err, errlen, "a string is not valid UTF-8");
		return j;
	}
	case LUA_TTABLE:
		break;
	default:
		snprintf(err, errlen, "a %s cannot be JSON", luaL_typename(L, idx));
		return NULL;
	}
	if (depth >= LJ_MAXDEPTH) {
		snprintf(err, errlen, "nested deeper than %d (or a cycle)", LJ_MAXDEPTH);
		return NULL;
	}
	luaL_checkstack(L, 6, "json conversion");
	/* read-only proxies (sandbox.c) iterate through __pairs: copy via pairs() */
	if (luaL_getmetafield(L, idx, "__target") != LUA_TNIL) {
		json_t *j = lj_conv(L, -1, depth, err, errlen);
		lua_pop(L, 1);
		return j;
	}
	size_t n;
	if (lj_is_array(L, idx, &n)) {
		json_t *a = json_array();
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, (lua_Integer)i);
			json_t *x = lj_conv(L, -1, depth + 1, err, errlen);
			lua_pop(L, 1);
			if (!x) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, x);
		}
		return a;
	}
	json_t *o = json_object();
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		char kbuf[32];
		const char *k;
		if (lua_type(L, -2) == LUA_TSTRING)
			k = lua_tostring(L, -2);
		else if (lua_isinteger(L, -2)) {
			snprintf(kbuf, sizeof kbuf, "%lld", (long long)lua_tointeger(L, -2));
			k = kbuf;
		} else {
			snprintf(err, errlen, "table keys must be strings or integers, not %s", luaL_typename(L, -2));
			lua_pop(L, 2);
			json_decref(o);
			return NULL;
		}
		json_t *x = lj_conv(L, -1, depth + 1, err, errlen);
		lua_pop(L, 1);
		if (!x) {
			lua_pop(L, 1);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, k, x);
	}
	return o;
}

json_t *lj_to_json(lua_State *L, int idx, char *err, size_t errlen)
{
	return lj_conv(L, idx, 0, err, errlen);
}
