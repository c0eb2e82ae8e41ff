/* t_plugin_form.c - forms declared by plugins: compile, validate, view, schema, render.
 * Forms are compiled from Lua chunks run in a real sandboxed state, and the
 * view model is rendered with the real www/templates/form_fields.html. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "arena.h"
#include "buf.h"
#include "form.h"
#include "plugin_form.h"
#include "sandbox.h"
#include "tmpl.h"

static sbx *S;
static arena *A;
static char ERR[1024];
static json_t *V, *E, *C;     /* values, errors, codes of the last validation */

/* Runs the Lua chunk src (which returns a form table) and compiles it. */
static pform *compile_as(const char *src, const char *name)
{
	lua_State *L = sbx_L(S);
	int top = lua_gettop(L);
	ERR[0] = 0;
	if (sbx_loadstring(S, src, strlen(src), "=test", ERR, sizeof ERR) != 0 ||
	    sbx_call(S, 0, 1, ERR, sizeof ERR) != 0) {
		printf("# lua: %s\n", ERR);
		lua_settop(L, top);
		return NULL;
	}
	pform *f = pform_compile(L, -1, "outreach", name, ERR, sizeof ERR);
	lua_settop(L, top);
	return f;
}

static pform *compile(const char *src)
{
	return compile_as(src, "f");
}

/* Compiles src expecting failure; returns the message ("(compiled)" if none). */
static const char *compile_error(const char *src)
{
	pform *f = compile(src);
	if (f) {
		pform_free(f);
		return "(compiled)";
	}
	return ERR;
}

/* 1 if hay contains needle (both may be NULL). */
static int has(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle) != NULL;
}

static void reset_result(void)
{
	json_decref(V);
	json_decref(E);
	json_decref(C);
	V = E = C = NULL;
}

/* Validates a browser form given as name, value, name, value, ..., NULL. */
static int run_form(const pform *f, ...)
{
	form in = FORM_INIT;
	va_list ap;
	va_start(ap, f);
	for (const char *k; (k = va_arg(ap, const char *));) {
		const char *v = va_arg(ap, const char *);
		form_add(A, &in, k, v, strlen(v));
	}
	va_end(ap);
	reset_result();
	return pform_validate_codes(f, A, &in, NULL, &V, &E, &C);
}

static int run_json(const pform *f, const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		printf("# bad test JSON: %s\n", je.text);
	reset_result();
	int n = pform_validate_codes(f, A, NULL, j, &V, &E, &C);
	json_decref(j);
	return n;
}

static const char *sval(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

#define VS(k) sval(V, k)
#define ES(k) sval(E, k)
#define CS(k) sval(C, k)

/* ---- compiling: every kind of declaration error ---- */

#define ONE(field) "return {fields = {" field "}}"

static void test_compile_errors(void)
{
	is_str(compile_error(ONE("{name = 'a', type = 'text', label = 'A', colour = 'red'}")),
	       "outreach: forms.f.fields[1] (a): unknown key \"colour\"", "compile: unknown key in a field");
	is_str(compile_error("return {fields = {{name = 'a', type = 'text', label = 'A'},"
	                     "{name = 'b', type = 'text', label = 'B'},"
	                     "{name = 'months', type = 'num', label = 'M'}}}"),
	       "outreach: forms.f.fields[3] (months): unknown type \"num\" (text, textarea, phone, idcard, "
	       "date, datetime, number, enum, multiselect, yesno, consent)",
	       "compile: unknown type names plugin, form, index, field and type");
	is_str(compile_error(ONE("{type = 'text', label = 'A'}")),
	       "outreach: forms.f.fields[1]: missing name", "compile: missing name");
	is_str(compile_error(ONE("{name = 'a', label = 'A'}")),
	       "outreach: forms.f.fields[1] (a): missing type", "compile: missing type");
	is_str(compile_error(ONE("{name = 'a', type = 'text'}")),
	       "outreach: forms.f.fields[1] (a): missing label", "compile: missing label");
	ok(has(compile_error(ONE("{name = 'Name', type = 'text', label = 'A'}")), "fields[1]: name must be lower-case"),
	   "compile: an upper-case name is refused");
	ok(has(compile_error(ONE("{name = 'a b', type = 'text', label = 'A'}")), "name must be"),
	   "compile: a name with a space is refused");
	is_str(compile_error("return {fields = {{name = 'a', type = 'text', label = 'A'},"
	                     "{name = 'a', type = 'phone', label = 'B'}}}"),
	       "outreach: forms.f.fields[2] (a): duplicate name (also fields[1])", "compile: duplicate names");
	is_str(compile_error(ONE("{name = 'a', type = 'text', label = 'A', min = 10, max = 5}")),
	       "outreach: forms.f.fields[1] (a): min (10) is greater than max (5)", "compile: text min > max");
	ok(has(compile_error(ONE("{name = 'n', type = 'number', label = 'N', min = 7, max = 3}")),
	       "min (7) is greater than max (3)"), "compile: number min > max");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', min = 200}")),
	       "greater than the default max (100)"), "compile: text min above the default max");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', max = 1.5}")), "max must be an integer"),
	   "compile: a fractional max");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', max = 0}")), "max must be between 1 and 2000"),
	   "compile: a text max of 0");
	is_str(compile_error(ONE("{name = 'b', type = 'enum', label = 'B'}")),
	       "outreach: forms.f.fields[1] (b): type enum needs choices", "compile: enum without choices");
	ok(has(compile_error(ONE("{name = 'b', type = 'enum', label = 'B', choices = {}}")), "(b): choices is empty"),
	   "compile: enum with an empty choice list");
	ok(has(compile_error(ONE("{name = 'b', type = 'multiselect', label = 'B'}")), "type multiselect needs choices"),
	   "compile: multiselect without choices");
	ok(has(compile_error(ONE("{name = 'b', type = 'enum', label = 'B', choices = {'x', 'y', 'x'}}")),
	       "choices[3]: duplicate value \"x\""), "compile: duplicate choice values");
	ok(has(compile_error(ONE("{name = 'b', type = 'enum', label = 'B', choices = {{1, 'one'}}}")),
	       "choices[1]: the value must be a string"), "compile: a number as a choice value");
	ok(has(compile_error(ONE("{name = 'b', type = 'enum', label = 'B', choices = {{'x', 'X', 'extra'}}}")),
	       "choices[1] has more than 2 entries"), "compile: a choice with three entries");
	ok(has(compile_error(ONE("{name = 'b', type = 'enum', label = 'B', choices = {{value = 'x', colour = 'red'}}}")),
	       "choices[1]: only value and label may be given"), "compile: unknown key in a keyed choice");
	ok(has(compile_error(ONE("{name = 'b', type = 'multiselect', label = 'B', choices = {'x', 'y'}, min = 3}")),
	       "min (3) is more than the 2 choices"), "compile: multiselect min above the number of choices");
	is_str(compile_error("return {fields = {{name = 'a', type = 'text', label = 'A', "
	                     "show_if = {field = 'nope', equals = 'x'}}}}"),
	       "outreach: forms.f.fields[1] (a): show_if names an unknown field \"nope\"", "compile: show_if unknown field");
	is_str(compile_error("return {fields = {{name = 'basis', type = 'enum', label = 'B', choices = {'local', 'resident'}},"
	                     "{name = 'months', type = 'number', label = 'M', show_if = {field = 'basis', equals = 'elsewhere'}}}}"),
	       "outreach: forms.f.fields[2] (months): show_if value \"elsewhere\" is not a choice of field \"basis\"",
	       "compile: show_if value not among the choices");
	ok(has(compile_error("return {fields = {{name = 'basis', type = 'enum', label = 'B', choices = {'local', 'resident'}},"
	                     "{name = 'm', type = 'number', label = 'M', show_if = {field = 'basis', equals = {'local', 'x'}}}}}"),
	       "show_if value \"x\" is not a choice"), "compile: one bad value in a show_if list");
	ok(has(compile_error("return {fields = {{name = 'y', type = 'yesno', label = 'Y'},"
	                     "{name = 'm', type = 'number', label = 'M', show_if = {field = 'y', equals = 'maybe'}}}}"),
	       "show_if value \"maybe\" is not a choice of field \"y\""), "compile: show_if on yesno wants true/false");
	ok(has(compile_error("return {fields = {{name = 't', type = 'text', label = 'T'},"
	                     "{name = 'm', type = 'number', label = 'M', show_if = {field = 't', equals = 'x'}}}}"),
	       "show_if field \"t\" is a text field"), "compile: show_if on a text field");
	ok(has(compile_error(ONE("{name = 'a', type = 'yesno', label = 'A', show_if = {field = 'a', equals = true}}")),
	       "show_if names the field itself"), "compile: show_if on itself");
	ok(has(compile_error("return {fields = {"
	                     "{name = 'a', type = 'yesno', label = 'A', show_if = {field = 'b', equals = true}},"
	                     "{name = 'b', type = 'yesno', label = 'B', show_if = {field = 'a', equals = true}}}}"),
	       "(a): show_if conditions form a cycle"), "compile: show_if cycle");
	ok(has(compile_error(ONE("{name = 'a', type = 'yesno', label = 'A', show_if = {field = 'a'}}")),
	       "show_if.equals is missing"), "compile: show_if without equals");
	ok(has(compile_error(ONE("{name = 'a', type = 'yesno', label = 'A', show_if = {field = 'a', is = 1}}")),
	       "show_if: unknown key \"is\""), "compile: unknown key in show_if");
	is_str(compile_error(ONE("{name = 'p', type = 'phone', label = 'P', max = 11}")),
	       "outreach: forms.f.fields[1] (p): key \"max\" does not apply to type phone",
	       "compile: a key that does not apply to the type");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', purpose = 'why'}")),
	       "key \"purpose\" does not apply to type text"), "compile: purpose on a text field");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', choices = {'x'}}")),
	       "key \"choices\" does not apply to type text"), "compile: choices on a text field");
	ok(has(compile_error(ONE("{name = 'c', type = 'consent', label = '我同意'}")), "(c): a consent needs a purpose"),
	   "compile: consent without a purpose");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', required = 'yes'}")),
	       "required must be true or false"), "compile: required not a boolean");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 42}")), "label must be a string or {zh = ..., en = ...}"),
	   "compile: a number as label");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = {en = 'Name'}}")), "label has no zh text"),
	   "compile: a label without zh");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = {zh = '姓名', fr = 'Nom'}}")),
	       "label: unknown language \"fr\""), "compile: a label with another language");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'two\\nlines'}")), "label holds a control character"),
	   "compile: a label with a line break");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = ''}")), "label is empty"), "compile: an empty label");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = '\\xff'}")), "label is not valid UTF-8"),
	   "compile: a label that is not UTF-8");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = string.rep('字', 201)}")),
	       "label is longer than 200 characters"), "compile: a label past 200 characters");
	ok(has(compile_error(ONE("'just a string'")), "fields[1]: a field must be a table"), "compile: a field that is a string");
	ok(has(compile_error(ONE("{'a', 'text', 'A'}")), "fields[1]: missing name"), "compile: a positional field");
	ok(has(compile_error(ONE("{name = 'a', type = 'text', label = 'A', [1] = 'x'}")),
	       "(a): a key that is not a string"), "compile: a positional entry inside a field");
	is_str(compile_error("return {fields = {}}"), "outreach: forms.f: fields is empty", "compile: no fields");
	ok(has(compile_error("return {title = 'T'}"), "forms.f: fields must be a list"), "compile: fields missing");
	ok(has(compile_error("return {fields = {x = {name = 'a', type = 'text', label = 'A'}}}"), "fields must be a list"),
	   "compile: fields as a map");
	ok(has(compile_error("return {fields = {{name = 'a', type = 'text', label = 'A'}}, submit = 'Go'}"),
	       "forms.f: unknown key \"submit\""), "compile: unknown key in a form");
	ok(has(compile_error("return {fields = {{name = 'a', type = 'text', label = 'A'}}, validate = 'no'}"),
	       "validate must be a function"), "compile: validate that is not a function");
	ok(has(compile_error("return 'not a table'"), "a form must be a table"), "compile: a form that is not a table");
	ok(has(compile_error("local t = {} for i = 1, 101 do t[i] = {name = 'f' .. i, type = 'text', label = 'L'} end "
	                     "return {fields = t}"), "fields has more than 100 entries"), "compile: more than 100 fields");
	pform *f = compile_as(ONE("{name = 'a', type = 'text', label = 'A'}"), "Bad-Name");
	ok(f == NULL && has(ERR, "outreach: forms.Bad-Name: a form name must be"), "compile: a bad form name");
	pform_free(f);
}

/* A table with metamethods cannot run code during compile: only raw reads. */
static void test_compile_hostile(void)
{
	const char *src =
		"probe = 0\n"
		"local mt = {__index = function(t, k) probe = probe + 1; return 'text' end}\n"
		"return {fields = {setmetatable({name = 'a', label = 'A'}, mt)}}";
	ok(has(compile_error(src), "(a): missing type"), "hostile: __index is not consulted (type stays missing)");
	lua_State *L = sbx_L(S);
	sbx_loadstring(S, "return probe", 12, "=probe", ERR, sizeof ERR);
	sbx_call(S, 0, 1, ERR, sizeof ERR);
	is_int(lua_tointeger(L, -1), 0, "hostile: the metamethod never ran");
	lua_pop(L, 1);
	ok(has(compile_error("return setmetatable({}, {__index = function() error('boom') end})"),
	       "fields must be a list"), "hostile: an erroring __index on the form is never called");
	is_int(lua_gettop(L), 0, "hostile: the Lua stack is left balanced");
}

static void test_compile_ok(void)
{
	lua_State *L = sbx_L(S);
	pform *f = compile_as("return {title = {zh = '孕前检查登记', en = 'Pre-pregnancy check'},"
	                      "fields = {{name = 'a', type = 'text', label = 'A'}},"
	                      "validate = function(values, ctx) return nil end}", "couple");
	ok(f != NULL, "compile: a good form compiles (%s)", f ? "" : ERR);
	if (!f)
		return;
	is_str(pform_name(f), "couple", "compile: the form keeps its name");
	is_str(pform_title(f), "孕前检查登记", "compile: the title is the zh text");
	int ref = pform_validate_ref(f);
	ok(ref != LUA_NOREF && ref != LUA_REFNIL, "compile: validate is kept as a registry reference");
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	ok(lua_isfunction(L, -1), "compile: the reference is the validate function");
	lua_pop(L, 1);
	pform_free(f);
	f = compile(ONE("{name = 'a', type = 'text', label = 'A'}"));
	ok(f && pform_validate_ref(f) == LUA_NOREF, "compile: without validate the reference is LUA_NOREF");
	ok(f && strcmp(pform_title(f), "f") == 0, "compile: without a title the name stands in");
	pform_free(f);
	pform_free(NULL);
	is_int(lua_gettop(L), 0, "compile: the Lua stack is left balanced");
}

/* ---- validating each type ---- */

static const char *ALL =
	"return {fields = {\n"
	" {name = 'name', type = 'text', label = '姓名', min = 2, max = 5},\n"
	" {name = 'note', type = 'textarea', label = '备注'},\n"
	" {name = 'nick', type = 'text', label = '昵称'},\n"
	" {name = 'phone', type = 'phone', label = '手机号'},\n"
	" {name = 'idno', type = 'idcard', label = '身份证号码'},\n"
	" {name = 'born', type = 'date', label = '出生日期'},\n"
	" {name = 'at', type = 'datetime', label = '预约时间'},\n"
	" {name = 'months', type = 'number', label = '居住月数', min = 0, max = 600},\n"
	" {name = 'floor', type = 'number', label = '楼层', min = 1},\n"
	" {name = 'temp', type = 'number', label = '温度', max = -10},\n"
	" {name = 'count', type = 'number', label = '人数'},\n"
	" {name = 'basis', type = 'enum', label = '资格依据', choices = {{'local', '本地户籍'}, {'resident', '居住满6个月'}}},\n"
	" {name = 'area', type = 'enum', label = '所在小区', choices = {'东区', '西区', '南区', '北区', '中区'}},\n"
	" {name = 'needs', type = 'multiselect', label = '需要的服务', min = 2, max = 3, choices = {\n"
	"   {value = 'bp', label = '测血压'}, {value = 'bg', label = '测血糖'}, {value = 'visit', label = '上门'},\n"
	"   {value = 'meal', label = {zh = '送餐', en = 'Meals'}}}},\n"
	" {name = 'is_local', type = 'yesno', label = '是否本地户籍'},\n"
	" {name = 'agree', type = 'consent', label = '同意记录血压', purpose = '用于异常时转诊'},\n"
	"}}";

static void test_text(const pform *f)
{
	is_int(run_form(f, "name", "王小明", NULL), 0, "text: valid");
	is_str(VS("name"), "王小明", "text: value kept");
	is_int(run_form(f, "name", "  王五  ", NULL), 0, "text: trimmed");
	is_str(VS("name"), "王五", "text: trimmed value");
	is_int(run_form(f, "name", "一二三四五", NULL), 0, "text: exactly max (5 characters)");
	is_int(run_form(f, "name", "一二三四五六", NULL), 1, "text: max + 1 characters");
	is_str(ES("name"), "姓名不能超过5个字", "text: too-long message from valid.c names the label");
	is_str(CS("name"), "too_long", "text: too_long code");
	ok(json_object_get(V, "name") == NULL, "text: a rejected value is not kept");
	is_int(run_form(f, "name", "王", NULL), 1, "text: under min");
	is_str(ES("name"), "姓名至少需要2个字", "text: too-short message");
	is_int(run_form(f, "name", "a\tb", NULL), 1, "text: a tab in single-line text");
	is_str(CS("name"), "invalid_chars", "text: invalid_chars code");
	char big[102];
	memset(big, 'x', 101);
	big[101] = 0;
	is_int(run_form(f, "nick", big, NULL), 1, "text: default max is 100 (101 refused)");
	big[100] = 0;
	is_int(run_form(f, "nick", big, NULL), 0, "text: default max is 100 (100 accepted)");
	is_int(run_form(f, NULL), 0, "text: optional and absent is fine");
	ok(json_object_get(V, "name") == NULL, "text: absent optional value is left out");
	is_int(run_form(f, "note", "第一行\r\n第二行", NULL), 0, "textarea: line breaks allowed");
	is_str(VS("note"), "第一行\n第二行", "textarea: CRLF becomes LF");
	buf b = BUF_INIT;
	for (int i = 0; i < 1001; i++)
		buf_adds(&b, "字");
	is_int(run_form(f, "note", b.p, NULL), 1, "textarea: default max is 1000 characters");
	is_str(ES("note"), "备注不能超过1000个字", "textarea: message with the default max");
	buf_free(&b);
}

static void test_phone_id_dates(const pform *f)
{
	is_int(run_form(f, "phone", "138 1234-5678", NULL), 0, "phone: spaces and dashes");
	is_str(VS("phone"), "13812345678", "phone: normalised to 11 digits");
	is_int(run_form(f, "phone", "+86 13812345678", NULL), 0, "phone: +86 prefix");
	is_int(run_form(f, "phone", "１３８１２３４５６７８", NULL), 0, "phone: full-width digits");
	is_int(run_form(f, "phone", "1381234567", NULL), 1, "phone: 10 digits");
	is_str(ES("phone"), "手机号格式不正确，请填写11位手机号码", "phone: message from valid.c");
	is_str(CS("phone"), "invalid_phone", "phone: code");
	is_int(run_form(f, "phone", "12812345678", NULL), 1, "phone: second digit 2");

	is_int(run_form(f, "idno", "11010519491231002x", NULL), 0, "idcard: valid with lower-case x");
	is_str(VS("idno"), "11010519491231002X", "idcard: x becomes X");
	is_int(run_form(f, "idno", "110101199003074478", NULL), 1, "idcard: wrong check digit");
	is_str(CS("idno"), "idcard_checksum", "idcard: checksum code");
	is_str(ES("idno"), "身份证号码校验位不正确", "idcard: message names the field");
	ok(!has(ES("idno"), "110101199003074478") && !has(ES("idno"), "1101011990"),
	   "idcard: the error does not echo the number");
	is_int(run_form(f, "idno", "110105199902300015", NULL), 1, "idcard: impossible birth date");
	is_str(CS("idno"), "idcard_birthdate", "idcard: birth date code");

	is_int(run_form(f, "born", "2024-02-29", NULL), 0, "date: leap day");
	is_str(VS("born"), "2024-02-29", "date: value");
	is_int(run_form(f, "born", "2023-02-29", NULL), 1, "date: not a leap year");
	is_str(CS("born"), "invalid_date", "date: code");
	is_int(run_form(f, "born", "2024/02/01", NULL), 1, "date: slashes refused");

	is_int(run_form(f, "at", "2024-03-15T09:30", NULL), 0, "datetime: datetime-local form");
	is_str(VS("at"), "2024-03-15 09:30:00", "datetime: normalised");
	is_int(run_form(f, "at", "2024-03-15T01:30:00Z", NULL), 0, "datetime: UTC");
	is_str(VS("at"), "2024-03-15 09:30:00", "datetime: UTC converted to Beijing time");
	is_int(run_form(f, "at", "2024-12-31T20:15:00Z", NULL), 0, "datetime: UTC late on New Year's Eve");
	is_str(VS("at"), "2025-01-01 04:15:00", "datetime: conversion crosses the year");
	is_int(run_form(f, "at", "2024-03-01T07:00:00+09:00", NULL), 0, "datetime: +09:00");
	is_str(VS("at"), "2024-03-01 06:00:00", "datetime: +09:00 to Beijing time");
	is_int(run_form(f, "at", "2024-03-01T02:00:00+08:00", NULL), 0, "datetime: +08:00");
	is_str(VS("at"), "2024-03-01 02:00:00", "datetime: +08:00 unchanged");
	is_int(run_form(f, "at", "2024-02-29T20:00:00-05:00", NULL), 0, "datetime: negative offset");
	is_str(VS("at"), "2024-03-01 09:00:00", "datetime: negative offset across a leap day");
	is_int(run_form(f, "at", "2024-03-15 25:00", NULL), 1, "datetime: hour 25");
	is_str(CS("at"), "invalid_datetime", "datetime: code");
}

static void test_numbers(const pform *f)
{
	is_int(run_form(f, "months", "0", NULL), 0, "number: lower bound");
	ok(json_is_integer(json_object_get(V, "months")) && json_integer_value(json_object_get(V, "months")) == 0,
	   "number: value is a JSON integer");
	is_int(run_form(f, "months", "600", NULL), 0, "number: upper bound");
	is_int(run_form(f, "months", "601", NULL), 1, "number: upper bound + 1");
	is_str(ES("months"), "居住月数应在0到600之间", "number: range message from valid.c");
	is_str(CS("months"), "out_of_range", "number: out_of_range code");
	is_int(run_form(f, "months", "-1", NULL), 1, "number: lower bound - 1");
	is_int(run_form(f, "months", "12.5", NULL), 1, "number: a fraction");
	is_str(ES("months"), "居住月数请填写整数", "number: integer message");
	is_int(run_form(f, "floor", "1", NULL), 0, "number: min only, at min");
	is_int(run_form(f, "floor", "0", NULL), 1, "number: min only, below");
	is_str(ES("floor"), "楼层不能小于1", "number: min-only message");
	is_int(run_form(f, "floor", "999999", NULL), 0, "number: min only, no upper bound");
	is_int(run_form(f, "temp", "-10", NULL), 0, "number: max only, at max");
	is_int(run_form(f, "temp", "-9", NULL), 1, "number: max only, above");
	is_str(ES("temp"), "温度不能大于-10", "number: max-only message");
	is_str(CS("temp"), "out_of_range", "number: max-only code");
	is_int(run_form(f, "count", "-123", NULL), 0, "number: unbounded accepts negatives");
	is_int(run_form(f, "count", "99999999999999999999", NULL), 1, "number: overflow");
}

static void test_choices(const pform *f)
{
	is_int(run_form(f, "basis", "resident", NULL), 0, "enum: a choice value");
	is_str(VS("basis"), "resident", "enum: value");
	is_int(run_form(f, "basis", "本地户籍", NULL), 1, "enum: a label is not a value");
	is_str(ES("basis"), "资格依据的选项无效，请重新选择", "enum: message from valid.c");
	is_str(CS("basis"), "invalid_choice", "enum: code");
	is_int(run_form(f, "area", "中区", NULL), 0, "enum: plain-string choices");

	is_int(run_form(f, "needs", "visit", "needs", "bp", "needs", "bp", NULL), 0,
	       "multiselect: repeated names in a form (a duplicate counts once)");
	json_t *n = json_object_get(V, "needs");
	ok(json_is_array(n) && json_array_size(n) == 2 && strcmp(json_string_value(json_array_get(n, 0)), "bp") == 0 &&
	   strcmp(json_string_value(json_array_get(n, 1)), "visit") == 0,
	   "multiselect: an array in declared order without duplicates");
	is_int(run_form(f, "needs", "bp", NULL), 1, "multiselect: fewer than min");
	is_str(ES("needs"), "需要的服务至少要选2项", "multiselect: too-few message");
	is_str(CS("needs"), "too_few", "multiselect: too_few code");
	is_int(run_form(f, "needs", "bp", "needs", "bg", "needs", "visit", "needs", "meal", NULL), 1,
	       "multiselect: more than max");
	is_str(ES("needs"), "需要的服务最多只能选3项", "multiselect: too-many message");
	is_str(CS("needs"), "too_many", "multiselect: too_many code");
	is_int(run_form(f, "needs", "bp", "needs", "taxi", NULL), 1, "multiselect: a value that is not a choice");
	is_str(CS("needs"), "invalid_choice", "multiselect: invalid_choice code");
	is_int(run_form(f, "needs", "bp", "needs", "bg", "needs", "bg", "needs", "bg", NULL), 0,
	       "multiselect: max counts distinct values");
	is_int(run_form(f, NULL), 0, "multiselect: optional, nothing ticked");
	ok(json_is_array(json_object_get(V, "needs")) && json_array_size(json_object_get(V, "needs")) == 0,
	   "multiselect: nothing ticked is an empty array");

	is_int(run_form(f, "is_local", "true", NULL), 0, "yesno: true");
	ok(json_is_true(json_object_get(V, "is_local")), "yesno: value is JSON true");
	is_int(run_form(f, "is_local", "false", NULL), 0, "yesno: false");
	ok(json_is_false(json_object_get(V, "is_local")), "yesno: value is JSON false");
	is_int(run_form(f, "is_local", "maybe", NULL), 1, "yesno: neither yes nor no");
	is_str(CS("is_local"), "invalid_bool", "yesno: code");
	is_int(run_form(f, NULL), 0, "yesno: optional and unanswered");
	ok(json_object_get(V, "is_local") == NULL, "yesno: unanswered is left out");

	is_int(run_form(f, "agree", "true", NULL), 0, "consent: ticked");
	ok(json_is_true(json_object_get(V, "agree")), "consent: value true");
	is_int(run_form(f, NULL), 0, "consent: optional and not ticked");
	ok(json_is_false(json_object_get(V, "agree")), "consent: not ticked is false");
}

static void test_required(void)
{
	pform *f = compile("return {fields = {\n"
	                   " {name = 'name', type = 'text', label = '姓名', required = true},\n"
	                   " {name = 'phone', type = 'phone', label = '手机号', required = true},\n"
	                   " {name = 'basis', type = 'enum', label = '资格依据', required = true, choices = {'a', 'b'}},\n"
	                   " {name = 'needs', type = 'multiselect', label = '服务', required = true, choices = {'x', 'y'}},\n"
	                   " {name = 'is_local', type = 'yesno', label = '是否本地户籍', required = true},\n"
	                   " {name = 'agree', type = 'consent', label = '同意收集健康信息', required = true,\n"
	                   "  purpose = '仅用于本次孕前优生健康检查'},\n"
	                   "}}");
	ok(f != NULL, "required: form compiles (%s)", f ? "" : ERR);
	if (!f)
		return;
	is_int(run_form(f, NULL), 6, "required: every missing field is an error");
	is_str(ES("name"), "请填写姓名", "required: text message");
	is_str(ES("phone"), "请填写手机号", "required: phone message");
	is_str(ES("basis"), "请选择资格依据", "required: enum message");
	is_str(ES("needs"), "请选择服务", "required: multiselect message");
	is_str(ES("is_local"), "请选择是否本地户籍", "required: yesno asks for an answer");
	is_str(ES("agree"), "请勾选同意收集健康信息", "consent: required and not ticked");
	is_str(CS("agree"), "required", "consent: required code");
	is_int(json_object_size(V), 0, "required: no values when all failed");
	is_int(run_form(f, "name", "王五", "phone", "13812345678", "basis", "a", "needs", "y",
	                "is_local", "false", "agree", "false", NULL), 1, "consent: an explicit false is still unticked");
	is_str(CS("agree"), "required", "consent: explicit false gives required");
	is_int(run_form(f, "name", "王五", "phone", "13812345678", "basis", "a", "needs", "y",
	                "is_local", "false", "agree", "on", NULL), 0, "required: all given (yesno false is an answer)");
	ok(json_is_true(json_object_get(V, "agree")), "consent: a browser's \"on\" is true");
	pform_free(f);
}

/* ---- show_if ---- */

static void test_show_if(void)
{
	pform *f = compile("return {fields = {\n"
	                   " {name = 'basis', type = 'enum', label = '资格依据', required = true,\n"
	                   "  choices = {{'local', '本地户籍'}, {'resident', '居住满6个月'}, {'other', '其他'}}},\n"
	                   " {name = 'months', type = 'number', label = '居住月数', required = true, min = 6, max = 600,\n"
	                   "  show_if = {field = 'basis', equals = 'resident'}},\n"
	                   " {name = 'detail', type = 'text', label = '情况说明', required = true,\n"
	                   "  show_if = {field = 'basis', equals = {'other', 'resident'}}},\n"
	                   " {name = 'pregnant', type = 'yesno', label = '是否已怀孕', show_if = {field = 'basis', equals = 'local'}},\n"
	                   " {name = 'weeks', type = 'number', label = '孕周', required = true, min = 1, max = 42,\n"
	                   "  show_if = {field = 'pregnant', equals = true}},\n"
	                   " {name = 'needs', type = 'multiselect', label = '服务', choices = {'测血压', '测血糖'}},\n"
	                   " {name = 'bp_time', type = 'text', label = '方便的时间', required = true,\n"
	                   "  show_if = {field = 'needs', equals = '测血压'}},\n"
	                   "}}");
	ok(f != NULL, "show_if: form compiles (%s)", f ? "" : ERR);
	if (!f)
		return;
	is_int(run_form(f, "basis", "local", "months", "abc", "detail", "x", NULL), 0,
	       "show_if: hidden fields are neither required nor checked");
	ok(!json_object_get(V, "months") && !json_object_get(V, "detail") && !json_object_get(E, "months"),
	   "show_if: hidden fields are not kept, nor their errors");
	ok(!json_object_get(V, "weeks") && !json_object_get(E, "weeks"),
	   "show_if: condition on an unanswered yesno does not hold");
	is_int(run_form(f, "basis", "resident", NULL), 2, "show_if: shown fields are required");
	is_str(ES("months"), "请填写居住月数", "show_if: required message for a shown field");
	is_str(ES("detail"), "请填写情况说明", "show_if: equals a list");
	is_int(run_form(f, "basis", "resident", "months", "5", "detail", "在本小区租房", NULL), 1,
	       "show_if: a shown field is validated");
	is_str(ES("months"), "居住月数应在6到600之间", "show_if: range of the shown field");
	is_int(run_form(f, "basis", "resident", "months", "24", "detail", "租房", NULL), 0, "show_if: all shown given");
	ok(json_integer_value(json_object_get(V, "months")) == 24 && VS("detail"), "show_if: shown values kept");
	is_int(run_form(f, "basis", "local", "pregnant", "true", NULL), 1, "show_if: yesno true shows its field");
	is_str(ES("weeks"), "请填写孕周", "show_if: field under a yesno is required");
	is_int(run_form(f, "basis", "resident", "months", "24", "detail", "租房", "pregnant", "true", NULL), 0,
	       "show_if: a chain: the yesno is hidden, so its dependent is too");
	ok(!json_object_get(V, "pregnant") && !json_object_get(V, "weeks"), "show_if: chain values dropped");
	is_int(run_form(f, "basis", "x", NULL), 1, "show_if: an invalid target value shows nothing");
	ok(!json_object_get(E, "months") && !json_object_get(E, "detail"), "show_if: only the target's own error");
	is_int(run_form(f, "basis", "other", "detail", "d", "needs", "测血糖", "needs", "测血压", NULL), 1,
	       "show_if: a multiselect target holds when any ticked value matches");
	is_str(ES("bp_time"), "请填写方便的时间", "show_if: multiselect condition");
	is_int(run_json(f, "{\"basis\": \"local\", \"months\": \"not a number\"}"), 0,
	       "show_if: a hidden field's wrong JSON type is ignored too");
	pform_free(f);
}

/* ---- JSON input ---- */

static void test_json(const pform *f)
{
	is_int(run_json(f, "{\"name\": \"王五\", \"phone\": \"13812345678\", \"months\": 12, \"is_local\": true,"
	                   " \"needs\": [\"meal\", \"bp\"], \"agree\": true, \"at\": \"2024-03-15T09:30\"}"), 0,
	       "json: good values of each JSON type");
	ok(json_integer_value(json_object_get(V, "months")) == 12, "json: number");
	ok(json_is_true(json_object_get(V, "is_local")), "json: yesno true");
	json_t *n = json_object_get(V, "needs");
	ok(json_array_size(n) == 2 && strcmp(json_string_value(json_array_get(n, 0)), "bp") == 0,
	   "json: multiselect from an array, in declared order");
	is_int(run_json(f, "{\"name\": 42}"), 1, "json: a number for a text field");
	is_str(ES("name"), "姓名应为文字", "json: type message names the field");
	is_str(CS("name"), "invalid_type", "json: invalid_type code");
	is_int(run_json(f, "{\"phone\": 13812345678}"), 1, "json: a number for a phone");
	is_str(CS("phone"), "invalid_type", "json: phone must be a string");
	is_int(run_json(f, "{\"is_local\": \"yes\"}"), 1, "json: \"yes\" for a yesno");
	is_str(ES("is_local"), "是否本地户籍应为 true 或 false", "json: yesno type message");
	is_int(run_json(f, "{\"is_local\": \"false\"}"), 0, "json: \"false\" for a yesno is accepted");
	ok(json_is_false(json_object_get(V, "is_local")), "json: \"false\" gives false");
	is_int(run_json(f, "{\"is_local\": 1}"), 1, "json: 1 for a yesno");
	is_int(run_json(f, "{\"agree\": \"on\"}"), 1, "json: \"on\" for a consent");
	is_str(CS("agree"), "invalid_type", "json: consent type code");
	is_int(run_json(f, "{\"months\": \"12\"}"), 1, "json: a string for a number");
	is_str(ES("months"), "居住月数应为数字", "json: number type message");
	is_int(run_json(f, "{\"months\": 12.0}"), 0, "json: 12.0 is the integer 12");
	is_int(run_json(f, "{\"months\": 12.5}"), 1, "json: 12.5 for a number");
	is_str(CS("months"), "invalid_int", "json: a fraction gets valid.c's code");
	is_int(run_json(f, "{\"months\": 601}"), 1, "json: range still checked");
	is_int(run_json(f, "{\"needs\": \"bp\"}"), 1, "json: a string for a multiselect");
	is_str(ES("needs"), "需要的服务应为选项值的列表", "json: list type message");
	is_int(run_json(f, "{\"needs\": [\"bp\", 2]}"), 1, "json: a number inside the list");
	is_int(run_json(f, "{\"needs\": [\"bp\", \"taxi\"]}"), 1, "json: a list item that is not a choice");
	is_str(CS("needs"), "invalid_choice", "json: invalid_choice code");
	is_int(run_json(f, "{\"basis\": [\"local\"]}"), 1, "json: a list for an enum");
	is_int(run_json(f, "{\"name\": null, \"is_local\": null}"), 0, "json: null is absent");
	is_int(run_json(f, "{\"name\": \"王五\", \"wife_name\": \"x\", \"admin\": true}"), 2, "json: unknown fields are errors");
	is_str(ES("wife_name"), "不认识的字段", "json: unknown field message");
	is_str(CS("admin"), "unknown_field", "json: unknown_field code");
	is_str(VS("name"), "王五", "json: known fields still validated");
	is_int(run_json(f, "[1, 2]"), 1, "json: an array instead of an object");
	is_str(CS("_form"), "invalid_json", "json: _form error");
	is_int(run_json(f, "{\"name\": \"a\\u0000b\"}"), 1, "json: a NUL inside text");
	is_str(CS("name"), "invalid_chars", "json: NUL is refused, not cut short");
	json_t *vals = NULL, *errs = NULL;
	json_t *j = json_loads("{\"nope\": 1}", 0, NULL);
	is_int(pform_validate(f, A, NULL, j, &vals, &errs), 1, "json: pform_validate counts the same errors");
	is_str(sval(errs, "nope"), "不认识的字段", "json: pform_validate message");
	json_decref(j);
	json_decref(vals);
	json_decref(errs);
}

/* ---- the view model ---- */

static json_t *view_item(json_t *view, const char *name)
{
	for (size_t i = 0; i < json_array_size(view); i++)
		if (strcmp(sval(json_array_get(view, i), "name"), name) == 0)
			return json_array_get(view, i);
	return NULL;
}

static void test_view(const pform *f)
{
	form in = FORM_INIT;
	const char *pairs[][2] = {
		{"name", "王小明"}, {"phone", "1381234567"}, {"idno", "110101199003074478"},
		{"months", "700"}, {"needs", "bp"}, {"needs", "meal"}, {"is_local", "false"},
		{"agree", "true"}, {"area", "南区"}, {"at", "2024-03-15 09:30"}, {"_csrf", "tok"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		form_add(A, &in, pairs[i][0], pairs[i][1], strlen(pairs[i][1]));
	reset_result();
	pform_validate(f, A, &in, NULL, &V, &E);
	json_t *raw = pform_input(f, &in);
	ok(json_object_get(raw, "_csrf") == NULL, "input: fields outside the form are left out");
	ok(json_array_size(json_object_get(raw, "needs")) == 2, "input: multiselect as an array");
	json_t *view = pform_view(f, raw, E);
	is_int(json_array_size(view), 16, "view: one item per field");

	static const char *const keys[] = {
		"name", "id", "label", "type", "input", "help", "purpose", "required", "error", "value", "checked",
		"choices", "show_if", "widget", "min", "max", "maxlength", "inputmode", "autocomplete", "describedby"};
	int all = 1;
	for (size_t i = 0; i < json_array_size(view); i++)
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			all &= json_object_get(json_array_get(view, i), keys[k]) != NULL;
	ok(all, "view: every key is present in every item");

	json_t *x = view_item(view, "phone");
	is_str(sval(x, "value"), "1381234567", "view: a rejected value is kept as typed");
	is_str(sval(x, "error"), "手机号格式不正确，请填写11位手机号码", "view: the error is attached");
	is_str(sval(x, "input"), "tel", "view: phone is a tel input");
	is_str(sval(x, "inputmode"), "numeric", "view: phone has a numeric keypad");
	is_str(sval(x, "describedby"), "pf-all-phone-error", "view: describedby points at the error");
	is_str(sval(x, "id"), "pf-all-phone", "view: id from form and field names");

	x = view_item(view, "idno");
	ok(has(sval(x, "error"), "身份证号码") && !has(sval(x, "error"), "1101011990"),
	   "view: the ID error does not echo the number");
	is_str(sval(x, "autocomplete"), "off", "view: the browser does not store ID numbers");

	x = view_item(view, "name");
	is_str(sval(x, "value"), "王小明", "view: a good value kept");
	is_str(sval(x, "error"), "", "view: no error is \"\"");
	is_str(sval(x, "maxlength"), "5", "view: text maxlength");
	is_str(sval(x, "describedby"), "", "view: nothing to describe");

	x = view_item(view, "months");
	is_str(sval(x, "value"), "700", "view: number kept");
	is_str(sval(x, "min"), "0", "view: number min as text (0 is shown)");
	is_str(sval(x, "max"), "600", "view: number max");
	is_str(sval(x, "inputmode"), "numeric", "view: numeric keypad when min >= 0");
	is_str(sval(view_item(view, "temp"), "inputmode"), "", "view: no numeric keypad when negatives are allowed");

	x = view_item(view, "needs");
	json_t *ch = json_object_get(x, "choices");
	ok(json_array_size(ch) == 4 && json_is_true(json_object_get(json_array_get(ch, 0), "selected")) &&
	   json_is_false(json_object_get(json_array_get(ch, 1), "selected")) &&
	   json_is_true(json_object_get(json_array_get(ch, 3), "selected")),
	   "view: multiselect choices marked selected");
	is_str(sval(json_array_get(ch, 3), "label"), "送餐", "view: choice label in zh");
	is_str(sval(json_array_get(ch, 3), "id"), "pf-all-needs-4", "view: choice ids");
	is_str(sval(x, "input"), "checkbox", "view: multiselect is checkboxes");
	ok(json_is_true(json_object_get(json_object_get(x, "widget"), "checkboxes")), "view: checkboxes widget");
	is_str(sval(x, "error"), "", "view: two ticked is within 2..3");

	x = view_item(view, "is_local");
	ch = json_object_get(x, "choices");
	ok(json_array_size(ch) == 2 && strcmp(sval(json_array_get(ch, 0), "label"), "是") == 0 &&
	   json_is_true(json_object_get(json_array_get(ch, 1), "selected")) &&
	   json_is_false(json_object_get(json_array_get(ch, 0), "selected")),
	   "view: yesno is 是/否 with 否 selected");
	is_str(sval(x, "input"), "radio", "view: yesno is radios");

	x = view_item(view, "agree");
	ok(json_is_true(json_object_get(x, "checked")), "view: consent checked");
	is_str(sval(x, "purpose"), "用于异常时转诊", "view: consent purpose");
	is_str(sval(x, "describedby"), "pf-all-agree-purpose", "view: consent described by its purpose");
	is_int(json_array_size(json_object_get(x, "choices")), 0, "view: consent has no choices");

	is_str(sval(view_item(view, "area"), "input"), "select", "view: enum with 5 choices is a select");
	ok(json_is_true(json_object_get(json_array_get(json_object_get(view_item(view, "area"), "choices"), 2), "selected")),
	   "view: select option selected");
	is_str(sval(view_item(view, "basis"), "input"), "radio", "view: enum with 2 choices is radios");
	pform *four = compile(ONE("{name = 'e', type = 'enum', label = 'E', choices = {'a', 'b', 'c', 'd'}}"));
	json_t *fv = four ? pform_view(four, NULL, NULL) : NULL;
	is_str(sval(json_array_get(fv, 0), "input"), "radio", "view: enum with 4 choices is still radios");
	json_decref(fv);
	pform_free(four);
	is_str(sval(view_item(view, "at"), "value"), "2024-03-15T09:30", "view: datetime in datetime-local form");
	is_str(sval(view_item(view, "note"), "input"), "textarea", "view: textarea");
	is_str(sval(view_item(view, "note"), "maxlength"), "1000", "view: textarea default maxlength");
	json_decref(view);

	/* normalised values (from pform_validate) show as well */
	is_int(run_form(f, "months", "24", "is_local", "yes", "at", "2024-03-15T09:30:15", NULL), 0, "view: valid input");
	view = pform_view(f, V, NULL);
	is_str(sval(view_item(view, "months"), "value"), "24", "view: an integer value as text");
	ok(json_is_true(json_object_get(json_array_get(json_object_get(view_item(view, "is_local"), "choices"), 0),
	                                "selected")), "view: a JSON true selects 是");
	is_str(sval(view_item(view, "at"), "value"), "2024-03-15T09:30:15", "view: datetime seconds kept");
	json_decref(view);

	/* a message from a plugin's validate() that quotes an ID number is masked */
	json_t *errs = json_pack("{s:s, s:s}", "idno", "身份证号 11010519491231002X 已登记", "phone", "电话 13812345678 已登记");
	view = pform_view(f, NULL, errs);
	is_str(sval(view_item(view, "idno"), "error"), "身份证号 **************002X 已登记", "view: an ID in an error is masked");
	is_str(sval(view_item(view, "phone"), "error"), "电话 13812345678 已登记", "view: a phone number is not an ID");
	is_str(sval(view_item(view, "phone"), "value"), "", "view: no values is an empty value");
	json_decref(view);
	json_decref(errs);
	json_decref(raw);

	/* show_if in the view */
	pform *g = compile_as("return {fields = {\n"
	                      " {name = 'basis', type = 'enum', label = '资格依据', choices = {{'local', '本地户籍'}, {'resident', '居住满6个月'}}},\n"
	                      " {name = 'months', type = 'number', label = '居住月数', help = '从迁入当月算起',\n"
	                      "  show_if = {field = 'basis', equals = {'resident', 'local'}}},\n"
	                      " {name = 'ok', type = 'consent', label = '同意', purpose = '用途', help = '说明'},\n"
	                      " {name = 'more', type = 'text', label = '补充', show_if = {field = 'ok', equals = true}},\n"
	                      "}}", "cond");
	ok(g != NULL, "view: conditional form compiles (%s)", g ? "" : ERR);
	if (!g)
		return;
	view = pform_view(g, NULL, NULL);
	json_t *s = json_object_get(view_item(view, "months"), "show_if");
	is_str(sval(s, "field"), "basis", "view: show_if field");
	is_str(sval(s, "equals_json"), "[\"resident\",\"local\"]", "view: show_if values as a JSON array");
	is_str(sval(s, "text"), "（仅当“资格依据”为“居住满6个月”或“本地户籍”时需要填写）", "view: show_if text for the label");
	ok(json_is_null(json_object_get(view_item(view, "basis"), "show_if")), "view: no condition is null");
	is_str(sval(json_object_get(view_item(view, "more"), "show_if"), "text"), "（仅当“同意”为“已勾选”时需要填写）",
	       "view: a condition on a consent");
	is_str(sval(view_item(view, "months"), "describedby"), "pf-cond-months-help", "view: described by help");
	is_str(sval(view_item(view, "ok"), "describedby"), "pf-cond-ok-purpose pf-cond-ok-help",
	       "view: consent described by purpose and help");
	json_decref(view);
	pform_free(g);
}

/* ---- the schema ---- */

static void test_schema(const pform *f)
{
	json_t *s = pform_schema(f);
	is_str(sval(s, "name"), "all", "schema: name");
	json_t *fl = json_object_get(s, "fields");
	is_int(json_array_size(fl), 16, "schema: every field");
	json_t *x = json_array_get(fl, 0);
	is_str(sval(x, "type"), "text", "schema: type");
	is_str(sval(x, "label"), "姓名", "schema: label");
	ok(json_integer_value(json_object_get(x, "min")) == 2 && json_integer_value(json_object_get(x, "max")) == 5,
	   "schema: text bounds");
	ok(json_is_false(json_object_get(x, "required")), "schema: required false");
	ok(json_integer_value(json_object_get(json_array_get(fl, 2), "max")) == 100, "schema: default text max exported");
	x = json_array_get(fl, 8);
	ok(json_integer_value(json_object_get(x, "min")) == 1 && !json_object_get(x, "max"), "schema: one-sided number");
	x = json_array_get(fl, 13);
	json_t *ch = json_object_get(x, "choices");
	ok(json_array_size(ch) == 4 && strcmp(sval(json_array_get(ch, 3), "value"), "meal") == 0 &&
	   strcmp(sval(json_array_get(ch, 3), "label_en"), "Meals") == 0, "schema: choices with en labels");
	ok(!json_object_get(json_array_get(fl, 3), "choices") && !json_object_get(json_array_get(fl, 3), "min"),
	   "schema: keys that do not apply are left out");
	is_str(sval(json_array_get(fl, 15), "purpose"), "用于异常时转诊", "schema: consent purpose");
	json_decref(s);

	pform *g = compile_as("return {title = {zh = '登记', en = 'Registration'}, fields = {\n"
	                      " {name = 'y', type = 'yesno', label = {zh = '是否', en = 'Whether'}, help = {zh = '帮助', en = 'Help'},\n"
	                      "  required = true},\n"
	                      " {name = 'w', type = 'number', label = '周', show_if = {field = 'y', equals = true}},\n"
	                      " {name = 'c', type = 'consent', label = '同意', purpose = {zh = '用途', en = 'Purpose'}},\n"
	                      "}}", "reg");
	ok(g != NULL, "schema: second form compiles (%s)", g ? "" : ERR);
	if (!g)
		return;
	s = pform_schema(g);
	is_str(sval(s, "title"), "登记", "schema: title");
	is_str(sval(s, "title_en"), "Registration", "schema: title_en");
	fl = json_object_get(s, "fields");
	is_str(sval(json_array_get(fl, 0), "label_en"), "Whether", "schema: label_en");
	is_str(sval(json_array_get(fl, 0), "help_en"), "Help", "schema: help_en");
	ok(json_is_true(json_object_get(json_array_get(fl, 0), "required")), "schema: required true");
	json_t *sif = json_object_get(json_array_get(fl, 1), "show_if");
	ok(sif && strcmp(sval(sif, "field"), "y") == 0 && json_is_true(json_array_get(json_object_get(sif, "equals"), 0)),
	   "schema: show_if on a yesno with a boolean");
	is_str(sval(json_array_get(fl, 2), "purpose_en"), "Purpose", "schema: purpose_en");
	ok(!json_object_get(json_array_get(fl, 0), "show_if"), "schema: no show_if when unconditional");
	json_decref(s);
	pform_free(g);
}

/* ---- rendering with the real template ---- */

static char *read_file(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	buf b = BUF_INIT;
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_add(&b, chunk, k);
	fclose(fp);
	*n = b.len;
	return b.p;
}

/* Renders page "<form>{{> form_fields}}</form>" with view as fields into out. */
static int render(tpl_set *ts, json_t *view, buf *out)
{
	char err[256];
	json_t *data = json_pack("{s:O, s:s, s:s, s:s, s:s}", "fields", view, "error", "PAGE-ERROR",
	                         "help", "PAGE-HELP", "purpose", "PAGE-PURPOSE", "value", "PAGE-VALUE");
	buf_reset(out);
	int rc = tpl_render(ts, "page", data, out, err, sizeof err);
	if (rc)
		printf("# render: %s\n", err);
	json_decref(data);
	return rc;
}

static void test_render(const pform *f)
{
	const char *top = getenv("top_srcdir");
	char path[1024], err[256];
	snprintf(path, sizeof path, "%s/www/templates/form_fields.html", top ? top : ".");
	size_t n = 0;
	char *src = read_file(path, &n);
	ok(src != NULL, "render: read %s", path);
	if (!src)
		return;
	tpl_set *ts = tpl_new();
	int rc = tpl_add(ts, "form_fields", src, n, err, sizeof err);
	ok(rc == 0, "render: form_fields.html parses (%s)", rc ? err : "");
	free(src);
	const char *page = "<form method=\"post\">{{> form_fields}}</form>";
	tpl_add(ts, "page", page, strlen(page), err, sizeof err);
	buf out = BUF_INIT;

	/* a hostile plugin label and a hostile submitted value */
	pform *h = compile_as("return {fields = {\n"
	                      " {name = 'who', type = 'text', label = '<script>alert(1)</script>', required = true,\n"
	                      "  help = 'a \"quoted\" & <b>bold</b> help'},\n"
	                      " {name = 'pick', type = 'enum', label = '选', choices = {{'a\"b', '<i>x</i>'}, 'c'}},\n"
	                      "}}", "evil");
	ok(h != NULL, "render: hostile form compiles (%s)", h ? "" : ERR);
	if (h) {
		json_t *vals = json_pack("{s:s, s:s}", "who", "\"><script>alert(2)</script>", "pick", "a\"b");
		json_t *errs = json_pack("{s:s}", "who", "<img src=x onerror=alert(3)>");
		json_t *view = pform_view(h, vals, errs);
		ok(render(ts, view, &out) == 0, "render: the hostile form renders");
		ok(!has(out.p, "<script>") && !has(out.p, "alert(1)</") && !has(out.p, "<img") && !has(out.p, "<b>") && !has(out.p, "<i>"),
		   "render: no markup from labels, help, values or errors gets through");
		ok(has(out.p, "&lt;script&gt;alert(1)&lt;/script&gt;"), "render: the label is escaped text");
		ok(has(out.p, "value=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""),
		   "render: the value cannot leave its attribute");
		ok(has(out.p, "value=\"a&quot;b\" checked"), "render: a choice value with a quote is escaped and checked");
		ok(has(out.p, "&lt;img src") && has(out.p, "aria-invalid=\"true\""), "render: the error shows, escaped");
		ok(!has(out.p, "PAGE-"), "render: no name falls through to the page's data");
		json_decref(view);
		json_decref(vals);
		json_decref(errs);
		pform_free(h);
	}

	/* every widget of the all-types form, after a rejected submission */
	is_int(run_form(f, "phone", "1381234567", "needs", "bp", "needs", "meal", "agree", "true",
	                "is_local", "true", "area", "西区", NULL), 1, "render: one error in the submission");
	form in = FORM_INIT;
	form_add(A, &in, "phone", "1381234567", 10);
	form_add(A, &in, "needs", "bp", 2);
	form_add(A, &in, "needs", "meal", 4);
	form_add(A, &in, "agree", "true", 4);
	form_add(A, &in, "is_local", "true", 4);
	form_add(A, &in, "area", "西区", strlen("西区"));
	json_t *raw = pform_input(f, &in);
	json_t *view = pform_view(f, raw, E);
	ok(render(ts, view, &out) == 0, "render: the all-types form renders");
	const char *p = out.p;
	ok(has(p, "<input type=\"tel\" id=\"pf-all-phone\" name=\"phone\" value=\"1381234567\" inputmode=\"numeric\""),
	   "render: phone is a tel input with a numeric keypad and the typed value");
	ok(has(p, "aria-describedby=\"pf-all-phone-error\"") &&
	   has(p, "<p class=\"field-error\" id=\"pf-all-phone-error\">手机号格式不正确"),
	   "render: the error sits next to the field and describes it");
	ok(has(p, "class=\"field pf-field pf-phone has-error\""), "render: the field is marked has-error");
	ok(has(p, "<input type=\"date\" id=\"pf-all-born\""), "render: date input");
	ok(has(p, "<input type=\"datetime-local\" id=\"pf-all-at\""), "render: datetime-local input");
	ok(has(p, "<input type=\"number\" id=\"pf-all-months\" name=\"months\" value=\"\" min=\"0\" max=\"600\""),
	   "render: number input with min 0 and max");
	ok(has(p, "<textarea id=\"pf-all-note\" name=\"note\" rows=\"4\" maxlength=\"1000\""), "render: textarea");
	ok(has(p, "<select id=\"pf-all-area\" name=\"area\"") && has(p, "<option value=\"西区\" selected>西区</option>") &&
	   has(p, "<option value=\"\">请选择</option>"), "render: select for an enum with 5 choices, option kept");
	ok(has(p, "<input type=\"radio\" id=\"pf-all-basis-1\" name=\"basis\" value=\"local\">"),
	   "render: radios for an enum with 2 choices");
	ok(has(p, "<input type=\"checkbox\" id=\"pf-all-needs-1\" name=\"needs\" value=\"bp\" checked>") &&
	   has(p, "<input type=\"checkbox\" id=\"pf-all-needs-2\" name=\"needs\" value=\"bg\">"),
	   "render: checkboxes for a multiselect, ticked ones kept");
	ok(has(p, "<input type=\"radio\" id=\"pf-all-is_local-1\" name=\"is_local\" value=\"true\" checked><span>是</span>") &&
	   has(p, "value=\"false\"><span>否</span>"), "render: yes/no radios");
	ok(has(p, "<p class=\"pf-purpose\" id=\"pf-all-agree-purpose\">") && has(p, "用于异常时转诊") &&
	   has(p, "<input type=\"checkbox\" id=\"pf-all-agree\" name=\"agree\" value=\"true\" checked"),
	   "render: consent box with its purpose");
	ok(has(p, "<label for=\"pf-all-name\">姓名</label>"), "render: a label tied to its input");
	ok(!has(p, "{{") && !has(p, "PAGE-"), "render: no template syntax or page data leaks");
	json_decref(view);
	json_decref(raw);

	pform *r = compile_as("return {fields = {\n"
	                      " {name = 'basis', type = 'enum', label = '资格依据', required = true, choices = {{'local', '本地户籍'}, {'resident', '居住满6个月'}}},\n"
	                      " {name = 'months', type = 'number', label = '居住月数', required = true, help = '整月',\n"
	                      "  show_if = {field = 'basis', equals = 'resident'}},\n"
	                      "}}", "cond");
	if (r) {
		view = pform_view(r, NULL, NULL);
		ok(render(ts, view, &out) == 0, "render: conditional form renders");
		ok(has(out.p, "<legend>资格依据 <span class=\"pf-req\">必填</span></legend>"), "render: a visible 必填 mark");
		ok(has(out.p, "data-show-if-field=\"basis\" data-show-if-equals=\"[&quot;resident&quot;]\""),
		   "render: show_if data attributes (escaped JSON)");
		ok(has(out.p, "<span class=\"pf-when\">（仅当“资格依据”为“居住满6个月”时需要填写）</span></label>"),
		   "render: the label says when the field applies");
		ok(has(out.p, "<p class=\"hint\" id=\"pf-cond-months-help\">整月</p>") &&
		   has(out.p, "aria-describedby=\"pf-cond-months-help\""), "render: help text describes the input");
		ok(has(out.p, "aria-required=\"true\""), "render: required announced without native validation");
		ok(!has(out.p, " required"), "render: no native required attribute (hidden fields would block submit)");
		ok(has(out.p, "<script src=\"/static/forms.js\" defer></script>") && !has(out.p, "<script>"),
		   "render: forms.js is an external script (CSP script-src 'self'), no inline script");
		json_decref(view);
		pform_free(r);
	}
	buf_free(&out);
	tpl_free(ts);
}

int main(void)
{
	sbx_limits lim = {8u << 20, 1000, 1u << 20};
	S = sbx_new(&lim, ".");
	A = ar_new(0);
	if (!S || !A) {
		printf("Bail out! no sandbox\n");
		return 1;
	}
	test_compile_errors();
	test_compile_hostile();
	test_compile_ok();
	pform *all = compile_as(ALL, "all");
	ok(all != NULL, "all types: form compiles (%s)", all ? "" : ERR);
	if (all) {
		test_text(all);
		test_phone_id_dates(all);
		test_numbers(all);
		test_choices(all);
		test_json(all);
		test_view(all);
		test_schema(all);
		test_render(all);
	}
	test_required();
	test_show_if();
	reset_result();
	pform_free(all);
	ar_free(A);
	sbx_free(S);
	return tap_done();
}
