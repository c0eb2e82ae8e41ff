/* t_plugin_settings.c - the settings schema and its checks (plugin_settings.h) and
 * the grants declared in a manifest (grants.h): one behaviour per test. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include "tap.h"
#include "arena.h"
#include "grants.h"
#include "plugin_settings.h"

static lua_State *L;
static arena *A;
static char err[512];

/* The schema of one config entry written in Lua, or NULL with err. */
static json_t *spec_of(const char *lua)
{
	err[0] = 0;
	if (luaL_dostring(L, lua) != LUA_OK) {
		snprintf(err, sizeof err, "lua: %s", lua_tostring(L, -1));
		lua_settop(L, 0);
		return NULL;
	}
	json_t *s = pset_spec(L, -1, "demo", "k", err, sizeof err);
	lua_settop(L, 0);
	return s;
}

static void test_spec(void)
{
	json_t *s = spec_of("return { type = 'number', default = 40, label = '名额', min = 1, max = 500 }");
	ok(s != NULL, "a number with min and max");
	is_int(json_integer_value(json_object_get(s, "max")), 500, "max kept");
	is_str(json_string_value(json_object_get(s, "label")), "名额", "label kept");
	json_decref(s);
	s = spec_of("return { type = 'text', default = 'x' }");
	is_int(json_integer_value(json_object_get(s, "max_len")), PSET_TEXT_MAX, "text gets a default max_len");
	is_str(json_string_value(json_object_get(s, "label")), "k", "no label: the key");
	json_decref(s);
	ok(spec_of("return { type = 'number', default = 0, min = 1 }") == NULL, "default below min refused");
	ok(strstr(err, "config.k: min and max") != NULL, "message names plugin and key: %s", err);
	ok(spec_of("return { type = 'number', default = 1.5 }") == NULL, "a number default must be an integer");
	ok(strstr(err, "type must be number, text or yesno") != NULL, "%s", err);
	ok(spec_of("return { type = 'text', default = 'abc', max_len = 2 }") == NULL, "default longer than max_len");
	ok(spec_of("return { type = 'yesno', default = 'yes' }") == NULL, "yesno needs a boolean default");
	ok(spec_of("return 'number'") == NULL, "an entry must be a table");
}

static void test_check(void)
{
	json_t *n = spec_of("return { type = 'number', default = 40, label = '名额', min = 1, max = 500 }");
	json_t *t = spec_of("return { type = 'text', default = '', label = '欢迎语', max_len = 4 }");
	json_t *y = spec_of("return { type = 'yesno', default = true, label = '提醒' }");
	json_t *v;
	ok(pset_check(A, n, v = json_integer(1)) == NULL, "min itself is fine");
	json_decref(v);
	is_str(pset_check(A, n, v = json_integer(0)), "名额：不能小于 1。", "below min");
	json_decref(v);
	is_str(pset_check(A, n, v = json_integer(501)), "名额：不能大于 500。", "above max");
	json_decref(v);
	is_str(pset_check(A, n, v = json_string("3")), "名额：请填写整数。", "a string is not a number");
	json_decref(v);
	ok(pset_check(A, t, v = json_string("你好世界")) == NULL, "max_len counts characters, not bytes");
	json_decref(v);
	is_str(pset_check(A, t, v = json_string("你好世界!")), "欢迎语：最多 4 个字。", "one too many");
	json_decref(v);
	is_str(pset_check(A, t, v = json_string("a\x01")), "欢迎语：包含无法使用的字符。", "control characters");
	json_decref(v);
	is_str(pset_check(A, y, v = json_integer(1)), "提醒：请选择“是”或“否”。", "yesno needs a boolean");
	json_decref(v);
	ok(pset_check(A, y, json_false()) == NULL, "false is a yesno");
	/* stored JSON of another type (the manifest changed) does not fit */
	is_str(pset_check(A, n, v = json_true()), "名额：请填写整数。", "a stale boolean for a number");
	json_decref(v);
	json_decref(n);
	json_decref(t);
	json_decref(y);
}

static void test_parse(void)
{
	json_t *n = spec_of("return { type = 'number', default = 40, label = '名额' }");
	json_t *y = spec_of("return { type = 'yesno', default = true, label = '提醒' }");
	const char *why;
	json_t *v = pset_parse(A, n, " 42 ", 1, &why);
	is_int(json_integer_value(v), 42, "spaces around a number are dropped");
	json_decref(v);
	ok(pset_parse(A, n, "4x", 1, &why) == NULL && !strcmp(why, "名额：请填写整数。"), "4x is not a number");
	ok(pset_parse(A, n, "", 1, &why) == NULL, "empty is not a number");
	ok(pset_parse(A, n, "99999999999999999999", 1, &why) == NULL, "overflow is not a number");
	ok(json_is_false(pset_parse(A, y, NULL, 0, &why)), "an unticked checkbox is false");
	ok(json_is_true(pset_parse(A, y, "1", 1, &why)), "a ticked checkbox is true");
	ok(json_is_false(pset_parse(A, y, "no", 1, &why)), "no on the command line");
	ok(pset_parse(A, y, "maybe", 1, &why) == NULL, "maybe is refused");
	json_decref(n);
	json_decref(y);
}

/* Leave what the Lua chunk returns on the stack. */
static void push(const char *lua)
{
	if (luaL_dostring(L, lua) != LUA_OK)
		printf("# lua: %s\n", lua_tostring(L, -1));
}

static void test_grants(void)
{
	ok(grant_name_ok("health"), "health is a grant name");
	ok(!grant_name_ok("h"), "one letter is too short");
	ok(!grant_name_ok("Health"), "upper case refused");
	ok(!grant_name_ok("outreach.health"), "a dot is not part of a name");
	push("return { health = { zh = '查看健康敏感信息', en = 'See health data' }, notes = '备注' }");
	json_t *g = grant_read_manifest(L, -1, "outreach", err, sizeof err);
	lua_settop(L, 0);
	is_int(json_object_size(g), 2, "two grants");
	is_str(json_string_value(json_object_get(json_object_get(g, "notes"), "zh")), "备注", "a plain text is the zh label");
	json_decref(g);
	push("return { ['Bad'] = { zh = 'x' } }");
	ok(grant_read_manifest(L, -1, "outreach", err, sizeof err) == NULL, "a bad name refused");
	ok(strstr(err, "plugin outreach: grants: bad grant name \"Bad\"") != NULL, "%s", err);
	lua_settop(L, 0);
	push("return { health = { en = 'x' } }");
	ok(grant_read_manifest(L, -1, "outreach", err, sizeof err) == NULL, "zh is required");
	lua_settop(L, 0);
	lua_pushnil(L);
	g = grant_read_manifest(L, -1, "outreach", err, sizeof err);
	ok(g && json_object_size(g) == 0, "no grants: an empty table");
	json_decref(g);
	lua_settop(L, 0);
}

int main(void)
{
	L = luaL_newstate();
	A = ar_new(0);
	test_spec();
	test_check();
	test_parse();
	test_grants();
	ar_free(A);
	lua_close(L);
	return tap_done();
}
