/* plugin_form.c - forms declared as data by plugins: compile, validate, view model, schema.
 *
 * A form is compiled once per plugin load from the manifest's Lua table into
 * plain C structures held in the form's own arena, so validating and rendering
 * never touch Lua. Every check of a value is done by core/valid.c; this module
 * adds what a form needs around it: JSON type checks, multiselect counts,
 * one-sided number ranges, show_if conditions and the view model. */
#include "plugin_form.h"
#include "buf.h"
#include "utf8.h"
#include "valid.h"
#include <lauxlib.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_MAX_FIELDS 100          /* fields in one form */
#define PF_MAX_CHOICES 200         /* choices of one field */
#define PF_MAX_NAME 48             /* bytes of a field or form name */
#define PF_MAX_LABEL 200           /* characters of a label or title */
#define PF_MAX_HELP 1000           /* characters of help or purpose text */
#define PF_MAX_VALUE 100           /* bytes of a choice value */
#define PF_TEXT_MAX 100            /* default max characters, text */
#define PF_TEXTAREA_MAX 1000       /* default max characters, textarea */
#define PF_TEXT_CAP 2000           /* largest max a plugin may declare, text */
#define PF_TEXTAREA_CAP 20000      /* largest max a plugin may declare, textarea */
#define PF_RADIO_MAX 4             /* an enum with more choices is a select */
#define PF_LOCAL_OFFSET 480        /* Beijing time, UTC+08:00, minutes (no DST) */
#define PF_ID_RUN 15               /* digits in a row that look like an ID number */

enum pf_type {
	PF_TEXT, PF_TEXTAREA, PF_PHONE, PF_IDCARD, PF_DATE, PF_DATETIME, PF_NUMBER,
	PF_ENUM, PF_MULTI, PF_YESNO, PF_CONSENT, PF_NTYPES
};

/* Keys of a field declaration, as bits. */
enum {
	K_NAME = 1u << 0, K_TYPE = 1u << 1, K_LABEL = 1u << 2, K_HELP = 1u << 3,
	K_REQUIRED = 1u << 4, K_MIN = 1u << 5, K_MAX = 1u << 6, K_CHOICES = 1u << 7,
	K_PURPOSE = 1u << 8, K_SHOW_IF = 1u << 9
};
#define K_COMMON (K_NAME | K_TYPE | K_LABEL | K_HELP | K_REQUIRED | K_SHOW_IF)
static const char *const pf_keys[] = {
	"name", "type", "label", "help", "required", "min", "max", "choices", "purpose", "show_if"};
#define PF_NKEYS (sizeof pf_keys / sizeof pf_keys[0])

static const struct pf_typeinfo {
	const char *name;
	enum val_type vt;
	unsigned keys;          /* keys allowed besides K_COMMON */
	const char *input;      /* the view model's "input" (enum: decided per field) */
} pf_types[PF_NTYPES] = {
	[PF_TEXT] = {"text", VAL_TEXT, K_MIN | K_MAX, "text"},
	[PF_TEXTAREA] = {"textarea", VAL_MULTILINE, K_MIN | K_MAX, "textarea"},
	[PF_PHONE] = {"phone", VAL_PHONE, 0, "tel"},
	[PF_IDCARD] = {"idcard", VAL_IDCARD, 0, "text"},
	[PF_DATE] = {"date", VAL_DATE, 0, "date"},
	[PF_DATETIME] = {"datetime", VAL_DATETIME, 0, "datetime-local"},
	[PF_NUMBER] = {"number", VAL_INT, K_MIN | K_MAX, "number"},
	[PF_ENUM] = {"enum", VAL_ENUM, K_CHOICES, "select"},
	[PF_MULTI] = {"multiselect", VAL_ENUM, K_CHOICES | K_MIN | K_MAX, "checkbox"},
	[PF_YESNO] = {"yesno", VAL_BOOL, 0, "radio"},
	[PF_CONSENT] = {"consent", VAL_BOOL, K_PURPOSE, "checkbox"},
};

/* Messages of this module (valid.c has the rest). {label} is the field's
 * label, {n} a number. */
enum pf_msg {
	PM_UNKNOWN_FIELD, PM_TYPE_TEXT, PM_TYPE_NUMBER, PM_TYPE_BOOL, PM_TYPE_LIST,
	PM_TYPE_FILE, PM_TOO_FEW, PM_TOO_MANY, PM_BELOW, PM_ABOVE, PM_NOT_OBJECT
};
static const struct {
	const char *code;
	const char *tmpl;
} pf_msgs[] = {
	[PM_UNKNOWN_FIELD] = {"unknown_field", "不认识的字段"},
	[PM_TYPE_TEXT] = {"invalid_type", "{label}应为文字"},
	[PM_TYPE_NUMBER] = {"invalid_type", "{label}应为数字"},
	[PM_TYPE_BOOL] = {"invalid_type", "{label}应为 true 或 false"},
	[PM_TYPE_LIST] = {"invalid_type", "{label}应为选项值的列表"},
	[PM_TYPE_FILE] = {"invalid_type", "{label}不能是上传的文件"},
	[PM_TOO_FEW] = {"too_few", "{label}至少要选{n}项"},
	[PM_TOO_MANY] = {"too_many", "{label}最多只能选{n}项"},
	[PM_BELOW] = {"out_of_range", "{label}不能小于{n}"},
	[PM_ABOVE] = {"out_of_range", "{label}不能大于{n}"},
	[PM_NOT_OBJECT] = {"invalid_json", "提交的数据格式不正确，应为一个 JSON 对象"},
};

/* Words of the view model (zh-CN); the choice labels of yesno and consent
 * are pf_bool_choices and pf_tick_choices below. */
static const struct {
	const char *when, *or_word, *quote_l, *quote_r;
} pf_ui = {
	"（仅当“{label}”为{values}时需要填写）", "或", "“", "”",
};

typedef struct pf_choice {
	const char *value, *label, *label_en;
} pf_choice;

typedef struct pf_field {
	const char *name, *label, *label_en, *help, *help_en, *purpose, *purpose_en;
	enum pf_type type;
	int required;
	int has_min, has_max;
	long long min, max;         /* effective bounds (text defaults filled in) */
	const pf_choice *choices;   /* enum, multiselect; yesno and consent get true/false */
	size_t nchoices;
	const char *const *values;  /* choice values, NULL-terminated (for val_rule) */
	int cond;                   /* has a show_if */
	const char *cond_name;
	size_t cond_idx;
	const char **cond_eq;       /* normalised: choice values, "true"/"false" */
	size_t ncond_eq;
	val_rule rule;              /* what valid.c checks */
} pf_field;

struct pform {
	arena *a;
	const char *plugin, *name, *title, *title_en;
	pf_field *fields;
	size_t nfields;
	int validate_ref;
};

static const pf_choice pf_bool_choices[2] = {{"true", "是", NULL}, {"false", "否", NULL}};
static const pf_choice pf_tick_choices[2] = {{"true", "已勾选", NULL}, {"false", "未勾选", NULL}};
static const char *const pf_bool_values[3] = {"true", "false", NULL};

/* ---- small helpers ---- */

/* A field or form name: [a-z][a-z0-9_]*, at most PF_MAX_NAME bytes. */
static int pf_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PF_MAX_NAME || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Expands {label} and {n} of tmpl into the arena. */
static const char *pf_render(arena *a, const char *tmpl, const char *label, long long n)
{
	buf b = BUF_INIT;
	char num[24];
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "{label}", 7) == 0) {
			buf_adds(&b, label);
			p += 7;
		} else if (strncmp(p, "{n}", 3) == 0) {
			snprintf(num, sizeof num, "%lld", n);
			buf_adds(&b, num);
			p += 3;
		} else
			buf_addc(&b, *p++);
	}
	const char *r = ar_strdup(a, buf_str(&b));
	buf_free(&b);
	return r;
}

/* ---- compiling the declaration ---- */

struct pf_cc {
	pform *f;
	char *err;
	size_t errlen;
	int failed;
	size_t fi;                  /* 1-based index of the field being compiled, 0: form */
	const char *fname;          /* its name once known */
};

/* Writes "plugin: forms.name[.fields[i] (fname)]: problem" and returns -1. */
__attribute__((format(printf, 2, 3)))
static int cc_fail(struct pf_cc *c, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	c->failed = 1;
	if (!c->err || !c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (c->fi == 0)
		snprintf(c->err, c->errlen, "%s: forms.%s: %s", c->f->plugin, c->f->name, what);
	else if (c->fname)
		snprintf(c->err, c->errlen, "%s: forms.%s.fields[%zu] (%s): %s", c->f->plugin, c->f->name,
		         c->fi, c->fname, what);
	else
		snprintf(c->err, c->errlen, "%s: forms.%s.fields[%zu]: %s", c->f->plugin, c->f->name, c->fi, what);
	c->failed = 1;
	return -1;
}

/* Pushes t[k] (raw: no metamethod runs) and returns its type. t absolute. */
static int cc_get(lua_State *L, int t, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, t);
}

/* Checks one declared string: valid UTF-8, no control characters or line
 * breaks, not empty, at most maxch characters. */
static int cc_str(struct pf_cc *c, const char *s, size_t n, size_t maxch, const char *what)
{
	if (n == 0)
		return cc_fail(c, "%s is empty", what);
	if (!utf8_valid(s, n))
		return cc_fail(c, "%s is not valid UTF-8", what);
	if (!utf8_printable(s, n, 0))
		return cc_fail(c, "%s holds a control character or line break", what);
	if (utf8_len(s, n) > maxch)
		return cc_fail(c, "%s is longer than %zu characters", what, maxch);
	return 0;
}

/* A text at idx: a string, or {zh = "...", en = "..."} (zh required). */
static int cc_text(struct pf_cc *c, lua_State *L, int idx, const char *what, size_t maxch,
                   const char **zh, const char **en)
{
	arena *a = c->f->a;
	size_t n;
	*zh = NULL;
	if (en)
		*en = NULL;
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, idx, &n);
		if (cc_str(c, s, n, maxch, what) < 0)
			return -1;
		*zh = ar_strndup(a, s, n);
		return 0;
	}
	if (lua_type(L, idx) != LUA_TTABLE)
		return cc_fail(c, "%s must be a string or {zh = ..., en = ...}", what);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int is_zh = k && strcmp(k, "zh") == 0, is_en = k && strcmp(k, "en") == 0;
		if (!is_zh && !is_en) {
			lua_pop(L, 2);
			return k ? cc_fail(c, "%s: unknown language \"%.40s\" (use zh and en)", what, k)
			         : cc_fail(c, "%s: keys must be zh and en", what);
		}
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 2);
			return cc_fail(c, "%s.%s must be a string", what, k);
		}
		const char *s = lua_tolstring(L, -1, &n);
		char sub[64];
		snprintf(sub, sizeof sub, "%s.%s", what, k);
		if (cc_str(c, s, n, maxch, sub) < 0) {
			lua_pop(L, 2);
			return -1;
		}
		if (is_zh)
			*zh = ar_strndup(a, s, n);
		else if (en)
			*en = ar_strndup(a, s, n);
		lua_pop(L, 1);
	}
	if (!*zh)
		return cc_fail(c, "%s has no zh text", what);
	return 0;
}

/* An integer at idx (a float with an integral value is accepted). */
static int cc_int(struct pf_cc *c, lua_State *L, int idx, const char *what, long long *out)
{
	int isnum = 0;
	lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &isnum) : 0;
	if (!isnum)
		return cc_fail(c, "%s must be an integer", what);
	*out = (long long)v;
	return 0;
}

/* The length of the list at idx; an error when it has other keys. */
static int cc_list(struct pf_cc *c, lua_State *L, int idx, const char *what, size_t maxn, size_t *out)
{
	size_t n = (size_t)lua_rawlen(L, idx), count = 0;
	if (n > maxn)
		return cc_fail(c, "%s has more than %zu entries", what, maxn);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (++count > n || !lua_isinteger(L, -1)) {
			lua_pop(L, 1);
			return cc_fail(c, "%s must be a list ({a, b, ...}) without other keys", what);
		}
	}
	*out = n;
	return 0;
}

/* A choice value: a string that could come back from a form unchanged. */
static int cc_value(struct pf_cc *c, lua_State *L, int idx, size_t k, const char **out)
{
	size_t n;
	if (lua_type(L, idx) != LUA_TSTRING)
		return cc_fail(c, "choices[%zu]: the value must be a string", k);
	const char *s = lua_tolstring(L, idx, &n);
	if (n > PF_MAX_VALUE)
		return cc_fail(c, "choices[%zu]: the value is longer than %d bytes", k, PF_MAX_VALUE);
	char what[48];
	snprintf(what, sizeof what, "choices[%zu] value", k);
	if (cc_str(c, s, n, PF_MAX_VALUE, what) < 0)
		return -1;
	if (s[0] == ' ' || s[n - 1] == ' ')
		return cc_fail(c, "choices[%zu]: the value starts or ends with a space", k);
	*out = ar_strndup(c->f->a, s, n);
	return 0;
}

/* One choice at idx: "x", {"x", "label"} or {value = "x", label = "label"}. */
static int cc_choice(struct pf_cc *c, lua_State *L, int idx, size_t k, pf_choice *ch)
{
	char what[48];
	snprintf(what, sizeof what, "choices[%zu] label", k);
	if (lua_type(L, idx) == LUA_TSTRING) {
		if (cc_value(c, L, idx, k, &ch->value) < 0)
			return -1;
		ch->label = ch->value;
		return 0;
	}
	if (lua_type(L, idx) != LUA_TTABLE)
		return cc_fail(c, "choices[%zu] must be a string, {value, label} or {value = ..., label = ...}", k);
	int keyed = cc_get(L, idx, "value") != LUA_TNIL;
	lua_pop(L, 1);
	int vi = lua_gettop(L) + 1, li = vi + 1;
	if (keyed) {
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			lua_pop(L, 1);
			const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
			if (!key || (strcmp(key, "value") != 0 && strcmp(key, "label") != 0)) {
				lua_pop(L, 1);
				return cc_fail(c, "choices[%zu]: only value and label may be given", k);
			}
		}
		cc_get(L, idx, "value");
		cc_get(L, idx, "label");
	} else {
		size_t n;
		char list[32];
		snprintf(list, sizeof list, "choices[%zu]", k);
		if (cc_list(c, L, idx, list, 2, &n) < 0)
			return -1;
		if (n != 2)
			return cc_fail(c, "choices[%zu] must be a pair {value, label}", k);
		lua_rawgeti(L, idx, 1);
		lua_rawgeti(L, idx, 2);
	}
	int rc = cc_value(c, L, vi, k, &ch->value);
	if (rc == 0) {
		if (lua_isnil(L, li))
			ch->label = ch->value;
		else
			rc = cc_text(c, L, li, what, PF_MAX_LABEL, &ch->label, &ch->label_en);
	}
	lua_pop(L, 2);
	return rc;
}

/* choices = {...} of field fd at idx. */
static int cc_choices(struct pf_cc *c, lua_State *L, int idx, pf_field *fd)
{
	size_t n;
	if (lua_type(L, idx) != LUA_TTABLE)
		return cc_fail(c, "choices must be a list");
	if (cc_list(c, L, idx, "choices", PF_MAX_CHOICES, &n) < 0)
		return -1;
	if (n == 0)
		return cc_fail(c, "choices is empty");
	pf_choice *cs = ar_calloc(c->f->a, n * sizeof *cs);
	const char **vs = ar_calloc(c->f->a, (n + 1) * sizeof *vs);
	for (size_t k = 0; k < n; k++) {
		lua_rawgeti(L, idx, (lua_Integer)k + 1);
		int rc = cc_choice(c, L, lua_gettop(L), k + 1, &cs[k]);
		lua_pop(L, 1);
		if (rc < 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (strcmp(cs[j].value, cs[k].value) == 0)
				return cc_fail(c, "choices[%zu]: duplicate value \"%s\"", k + 1, cs[k].value);
		vs[k] = cs[k].value;
	}
	fd->choices = cs;
	fd->values = vs;
	fd->nchoices = n;
	return 0;
}

/* One show_if value: a string, or a boolean (stored "true"/"false"). */
static int cc_eq(struct pf_cc *c, lua_State *L, int idx, const char **out)
{
	if (lua_type(L, idx) == LUA_TBOOLEAN) {
		*out = lua_toboolean(L, idx) ? "true" : "false";
		return 0;
	}
	if (lua_type(L, idx) != LUA_TSTRING)
		return cc_fail(c, "show_if.equals must be a string, a boolean or a list of them");
	*out = ar_strdup(c->f->a, lua_tostring(L, idx));
	return 0;
}

/* show_if = {field = "x", equals = v or {v, ...}}; checked against x later. */
static int cc_show_if(struct pf_cc *c, lua_State *L, int idx, pf_field *fd)
{
	if (lua_type(L, idx) != LUA_TTABLE)
		return cc_fail(c, "show_if must be {field = ..., equals = ...}");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (!key || (strcmp(key, "field") != 0 && strcmp(key, "equals") != 0)) {
			lua_pop(L, 1);
			return key ? cc_fail(c, "show_if: unknown key \"%.40s\" (use field and equals)", key)
			           : cc_fail(c, "show_if: keys must be field and equals");
		}
	}
	int rc = -1;
	int t = lua_gettop(L) + 1, e = t + 1;
	cc_get(L, idx, "field");
	cc_get(L, idx, "equals");
	if (lua_type(L, t) != LUA_TSTRING)
		cc_fail(c, "show_if.field must be a field name");
	else if (lua_isnil(L, e))
		cc_fail(c, "show_if.equals is missing");
	else if (lua_type(L, e) == LUA_TTABLE) {
		size_t n;
		if (cc_list(c, L, e, "show_if.equals", PF_MAX_CHOICES, &n) == 0) {
			if (n == 0)
				cc_fail(c, "show_if.equals is an empty list");
			else {
				fd->cond_eq = ar_calloc(c->f->a, n * sizeof *fd->cond_eq);
				rc = 0;
				for (size_t k = 0; k < n && rc == 0; k++) {
					lua_rawgeti(L, e, (lua_Integer)k + 1);
					rc = cc_eq(c, L, lua_gettop(L), &fd->cond_eq[k]);
					lua_pop(L, 1);
				}
				fd->ncond_eq = n;
			}
		}
	} else {
		fd->cond_eq = ar_calloc(c->f->a, sizeof *fd->cond_eq);
		fd->ncond_eq = 1;
		rc = cc_eq(c, L, e, &fd->cond_eq[0]);
	}
	if (rc == 0) {
		fd->cond = 1;
		fd->cond_name = ar_strdup(c->f->a, lua_tostring(L, t));
	}
	lua_pop(L, 2);
	return rc;
}

/* min/max of a text, number or multiselect field (keys already checked). */
static int cc_bounds(struct pf_cc *c, lua_State *L, int t, pf_field *fd)
{
	if (cc_get(L, t, "min") != LUA_TNIL) {
		if (cc_int(c, L, -1, "min", &fd->min) < 0)
			return -1;
		fd->has_min = 1;
	}
	lua_pop(L, 1);
	if (cc_get(L, t, "max") != LUA_TNIL) {
		if (cc_int(c, L, -1, "max", &fd->max) < 0)
			return -1;
		fd->has_max = 1;
	}
	lua_pop(L, 1);
	if (fd->has_min && fd->has_max && fd->min > fd->max)
		return cc_fail(c, "min (%lld) is greater than max (%lld)", fd->min, fd->max);
	switch (fd->type) {
	case PF_TEXT:
	case PF_TEXTAREA: {
		long long cap = fd->type == PF_TEXT ? PF_TEXT_CAP : PF_TEXTAREA_CAP;
		if (fd->has_min && fd->min < 0)
			return cc_fail(c, "min must not be negative");
		if (fd->has_max && (fd->max < 1 || fd->max > cap))
			return cc_fail(c, "max must be between 1 and %lld", cap);
		if (!fd->has_max)
			fd->max = fd->type == PF_TEXT ? PF_TEXT_MAX : PF_TEXTAREA_MAX;
		if (!fd->has_min)
			fd->min = 0;
		if (fd->min > fd->max)
			return cc_fail(c, "min (%lld) is greater than the default max (%lld)", fd->min, fd->max);
		fd->has_min = fd->has_max = 1;
		break;
	}
	case PF_MULTI:
		if (fd->has_min && fd->min < 0)
			return cc_fail(c, "min must not be negative");
		if (fd->has_max && fd->max < 1)
			return cc_fail(c, "max must be at least 1");
		if (fd->has_min && (size_t)fd->min > fd->nchoices)
			return cc_fail(c, "min (%lld) is more than the %zu choices", fd->min, fd->nchoices);
		break;
	default:
		break;
	}
	return 0;
}

/* Fills fd->rule for valid.c. */
static void cc_rule(pf_field *fd)
{
	val_rule *r = &fd->rule;
	r->name = fd->name;
	r->type = pf_types[fd->type].vt;
	r->required = fd->required;
	r->label = fd->label;
	r->choices = fd->values;
	r->min = r->max = 0;
	if (fd->type == PF_TEXT || fd->type == PF_TEXTAREA) {
		r->min = fd->min;
		r->max = fd->max;
	} else if (fd->type == PF_NUMBER && fd->has_min && fd->has_max && (fd->min || fd->max)) {
		r->min = fd->min;        /* two-sided: valid.c's range message */
		r->max = fd->max;
	}
}

/* The field table at t, index i (1-based). */
static int cc_field(struct pf_cc *c, lua_State *L, int t, pf_field *fd)
{
	pform *f = c->f;
	if (lua_type(L, t) != LUA_TTABLE)
		return cc_fail(c, "a field must be a table");
	int ty = cc_get(L, t, "name");
	if (ty == LUA_TNIL) {
		lua_pop(L, 1);
		return cc_fail(c, "missing name");
	}
	if (ty != LUA_TSTRING || !pf_name_ok(lua_tostring(L, -1))) {
		lua_pop(L, 1);
		return cc_fail(c, "name must be lower-case letters, digits and _, starting with a letter, "
		               "at most %d bytes", PF_MAX_NAME);
	}
	fd->name = ar_strdup(f->a, lua_tostring(L, -1));
	lua_pop(L, 1);
	c->fname = fd->name;
	for (size_t j = 0; j + 1 < c->fi; j++)
		if (strcmp(f->fields[j].name, fd->name) == 0)
			return cc_fail(c, "duplicate name (also fields[%zu])", j + 1);

	ty = cc_get(L, t, "type");
	if (ty != LUA_TSTRING) {
		lua_pop(L, 1);
		return cc_fail(c, ty == LUA_TNIL ? "missing type" : "type must be a string");
	}
	const char *tn = lua_tostring(L, -1);
	int found = -1;
	for (int k = 0; k < PF_NTYPES; k++)
		if (strcmp(pf_types[k].name, tn) == 0)
			found = k;
	if (found < 0) {
		cc_fail(c, "unknown type \"%.40s\" (text, textarea, phone, idcard, date, datetime, "
		        "number, enum, multiselect, yesno, consent)", tn);
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	fd->type = (enum pf_type)found;

	unsigned seen = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		unsigned bit = 0;
		for (size_t j = 0; k && j < PF_NKEYS; j++)
			if (strcmp(pf_keys[j], k) == 0)
				bit = 1u << j;
		if (!bit) {
			if (k)
				cc_fail(c, "unknown key \"%.40s\"", k);
			else
				cc_fail(c, "a key that is not a string (a field is {name = ..., type = ..., ...})");
			lua_pop(L, 1);
			return -1;
		}
		if (!(bit & (K_COMMON | pf_types[fd->type].keys))) {
			cc_fail(c, "key \"%s\" does not apply to type %s", k, pf_types[fd->type].name);
			lua_pop(L, 1);
			return -1;
		}
		seen |= bit;
	}

	int top = lua_gettop(L);
	if (!(seen & K_LABEL))
		return cc_fail(c, "missing label");
	cc_get(L, t, "label");
	if (cc_text(c, L, top + 1, "label", PF_MAX_LABEL, &fd->label, &fd->label_en) < 0)
		return -1;
	lua_settop(L, top);
	if (seen & K_HELP) {
		cc_get(L, t, "help");
		if (cc_text(c, L, top + 1, "help", PF_MAX_HELP, &fd->help, &fd->help_en) < 0)
			return -1;
		lua_settop(L, top);
	}
	if (seen & K_REQUIRED) {
		cc_get(L, t, "required");
		if (!lua_isboolean(L, -1))
			return cc_fail(c, "required must be true or false");
		fd->required = lua_toboolean(L, -1);
		lua_settop(L, top);
	}
	if (fd->type == PF_ENUM || fd->type == PF_MULTI) {
		if (!(seen & K_CHOICES))
			return cc_fail(c, "type %s needs choices", pf_types[fd->type].name);
		cc_get(L, t, "choices");
		if (cc_choices(c, L, top + 1, fd) < 0)
			return -1;
		lua_settop(L, top);
	} else if (fd->type == PF_YESNO || fd->type == PF_CONSENT) {
		fd->choices = fd->type == PF_YESNO ? pf_bool_choices : pf_tick_choices;
		fd->nchoices = 2;
		fd->values = pf_bool_values;
	}
	if (fd->type == PF_CONSENT) {
		if (!(seen & K_PURPOSE))
			return cc_fail(c, "a consent needs a purpose (why the data is collected)");
		cc_get(L, t, "purpose");
		if (cc_text(c, L, top + 1, "purpose", PF_MAX_HELP, &fd->purpose, &fd->purpose_en) < 0)
			return -1;
		lua_settop(L, top);
	}
	if (cc_bounds(c, L, t, fd) < 0)
		return -1;
	if (seen & K_SHOW_IF) {
		cc_get(L, t, "show_if");
		if (cc_show_if(c, L, top + 1, fd) < 0)
			return -1;
		lua_settop(L, top);
	}
	cc_rule(fd);
	return 0;
}

/* Resolves every show_if against its target: known field, a choice field,
 * each value one of its choices, no cycle. */
static int cc_conditions(struct pf_cc *c)
{
	pform *f = c->f;
	for (size_t i = 0; i < f->nfields; i++) {
		pf_field *fd = &f->fields[i];
		c->fi = i + 1;
		c->fname = fd->name;
		if (!fd->cond)
			continue;
		size_t t = f->nfields;
		for (size_t j = 0; j < f->nfields; j++)
			if (strcmp(f->fields[j].name, fd->cond_name) == 0)
				t = j;
		if (t == f->nfields)
			return cc_fail(c, "show_if names an unknown field \"%.48s\"", fd->cond_name);
		if (t == i)
			return cc_fail(c, "show_if names the field itself");
		const pf_field *tg = &f->fields[t];
		if (!tg->nchoices)
			return cc_fail(c, "show_if field \"%s\" is a %s field; it must be enum, multiselect, "
			               "yesno or consent", tg->name, pf_types[tg->type].name);
		for (size_t k = 0; k < fd->ncond_eq; k++) {
			int hit = 0;
			for (size_t j = 0; j < tg->nchoices; j++)
				hit |= strcmp(tg->choices[j].value, fd->cond_eq[k]) == 0;
			if (!hit)
				return cc_fail(c, "show_if value \"%.60s\" is not a choice of field \"%s\"",
				               fd->cond_eq[k], tg->name);
		}
		fd->cond_idx = t;
	}
	for (size_t i = 0; i < f->nfields; i++) {
		size_t j = i, steps = 0;
		while (f->fields[j].cond) {
			j = f->fields[j].cond_idx;
			if (++steps > f->nfields) {
				c->fi = i + 1;
				c->fname = f->fields[i].name;
				return cc_fail(c, "show_if conditions form a cycle");
			}
		}
	}
	return 0;
}

/* The form table at idx. */
static int cc_form(struct pf_cc *c, lua_State *L, int idx)
{
	pform *f = c->f;
	if (lua_type(L, idx) != LUA_TTABLE)
		return cc_fail(c, "a form must be a table {title = ..., fields = {...}}");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (!k || (strcmp(k, "title") != 0 && strcmp(k, "fields") != 0 && strcmp(k, "validate") != 0)) {
			if (k)
				cc_fail(c, "unknown key \"%.40s\" (a form has title, fields and validate)", k);
			else
				cc_fail(c, "a key that is not a string (a form has title, fields and validate)");
			lua_pop(L, 1);
			return -1;
		}
	}
	int top = lua_gettop(L);
	if (cc_get(L, idx, "title") != LUA_TNIL) {
		if (cc_text(c, L, top + 1, "title", PF_MAX_LABEL, &f->title, &f->title_en) < 0)
			return -1;
	} else
		f->title = f->name;
	lua_settop(L, top);
	int vt = cc_get(L, idx, "validate");
	lua_settop(L, top);
	if (vt != LUA_TNIL && vt != LUA_TFUNCTION)
		return cc_fail(c, "validate must be a function");
	if (cc_get(L, idx, "fields") != LUA_TTABLE)
		return cc_fail(c, "fields must be a list of field tables");
	int fl = top + 1;
	size_t n;
	if (cc_list(c, L, fl, "fields", PF_MAX_FIELDS, &n) < 0)
		return -1;
	if (n == 0)
		return cc_fail(c, "fields is empty");
	f->fields = ar_calloc(f->a, n * sizeof *f->fields);
	for (size_t i = 0; i < n; i++) {
		c->fi = i + 1;
		c->fname = NULL;
		lua_rawgeti(L, fl, (lua_Integer)i + 1);
		if (cc_field(c, L, lua_gettop(L), &f->fields[i]) < 0)
			return -1;
		lua_settop(L, fl);
		f->nfields = i + 1;
	}
	if (cc_conditions(c) < 0)
		return -1;
	c->fi = 0;
	if (vt == LUA_TFUNCTION) {           /* last, so a failed compile holds no reference */
		cc_get(L, idx, "validate");
		f->validate_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_settop(L, top);
	return 0;
}

/* Runs under lua_pcall: (lightuserdata cc, form table). */
static int cc_protected(lua_State *L)
{
	struct pf_cc *c = lua_touserdata(L, 1);
	luaL_checkstack(L, 40, "form declaration");
	cc_form(c, L, 2);
	return 0;
}

pform *pform_compile(lua_State *L, int idx, const char *plugin_id, const char *name, char *err, size_t errlen)
{
	idx = lua_absindex(L, idx);
	arena *a = ar_new(0);
	pform *f = ar_calloc(a, sizeof *f);
	f->a = a;
	f->plugin = ar_strdup(a, plugin_id ? plugin_id : "?");
	f->name = ar_strdup(a, name ? name : "?");
	f->validate_ref = LUA_NOREF;
	struct pf_cc c = {.f = f, .err = err, .errlen = errlen};
	if (!name || !pf_name_ok(name))
		cc_fail(&c, "a form name must be lower-case letters, digits and _, starting with a letter");
	else if (!lua_checkstack(L, 4))
		cc_fail(&c, "Lua stack exhausted");
	else {
		lua_pushcfunction(L, cc_protected);
		lua_pushlightuserdata(L, &c);
		lua_pushvalue(L, idx);
		if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
			const char *m = lua_tostring(L, -1);
			c.fi = 0;
			cc_fail(&c, "%s", m ? m : "error while reading the declaration");
			lua_pop(L, 1);
			if (f->validate_ref != LUA_NOREF)
				luaL_unref(L, LUA_REGISTRYINDEX, f->validate_ref);
		}
	}
	if (c.failed) {
		ar_free(a);
		return NULL;
	}
	return f;
}

void pform_free(pform *f)
{
	if (f)
		ar_free(f->a);
}

const char *pform_name(const pform *f)
{
	return f->name;
}

const char *pform_title(const pform *f)
{
	return f->title;
}

int pform_validate_ref(const pform *f)
{
	return f->validate_ref;
}

/* ---- validating input ---- */

/* The result of one field. */
struct pf_res {
	int shown;                  /* -1 not yet known, 0, 1 */
	const char *code, *msg;     /* error, or NULL */
	json_t *value;              /* normalised value (owned), NULL when absent */
};

static void res_fail(struct pf_res *r, arena *a, const pf_field *fd, enum pf_msg m, long long n)
{
	r->code = pf_msgs[m].code;
	r->msg = pf_render(a, pf_msgs[m].tmpl, fd->label, n);
}

static void res_val_error(struct pf_res *r, const val_error *e)
{
	r->code = e->code;
	r->msg = e->message;
}

/* s[0..n) as a C string for valid.c: a NUL inside becomes U+0001, which
 * every check rejects with its own message (a NUL would otherwise cut the
 * value short unseen). */
static const char *pf_cstr(arena *a, const char *s, size_t n)
{
	if (!s || !memchr(s, 0, n))
		return s;
	char *d = ar_memdup(a, s, n);
	for (size_t i = 0; i < n; i++)
		if (!d[i])
			d[i] = 1;
	return d;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static long long pf_days(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void pf_civil(long long z, int *y, int *m, int *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DD HH:MM:SS" given at offset tz (minutes) as Beijing time. */
static json_t *pf_local_time(const char *s, int tz)
{
	int y, mo, d, h, mi, se;
	if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
		return json_string(s);
	long long t = (pf_days(y, (unsigned)mo, (unsigned)d) * 1440 + h * 60 + mi) + (PF_LOCAL_OFFSET - tz);
	long long days = t >= 0 ? t / 1440 : -((-t + 1439) / 1440);
	long long mins = t - days * 1440;
	pf_civil(days, &y, &mo, &d);
	char out[40];
	snprintf(out, sizeof out, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, (int)(mins / 60), (int)(mins % 60), se);
	return json_string(out);
}

/* A single-valued field whose raw text s (NULL: absent) is known. */
static void pf_check_one(const pf_field *fd, arena *a, const char *s, struct pf_res *r)
{
	val_value v;
	val_error e;
	val_rule rule = fd->rule;

	if (fd->type == PF_YESNO)
		rule.required = 0;       /* required: an answer, not a "yes" */
	if (val_one(a, &rule, s, &v, &e)) {
		res_val_error(r, &e);
		return;
	}
	switch (fd->type) {
	case PF_YESNO:
		if (v.present)
			r->value = json_boolean(v.i);
		else if (fd->required) {
			val_rule choose = {fd->name, VAL_ENUM, 1, 0, 0, pf_bool_values, fd->label};
			val_one(a, &choose, NULL, &v, &e);   /* "请选择{label}" */
			res_val_error(r, &e);
		}
		return;
	case PF_CONSENT:
		r->value = json_boolean(v.present && v.i);
		return;
	case PF_NUMBER:
		if (!v.present)
			return;
		if (fd->has_min && v.i < fd->min) {
			res_fail(r, a, fd, PM_BELOW, fd->min);
			return;
		}
		if (fd->has_max && v.i > fd->max) {
			res_fail(r, a, fd, PM_ABOVE, fd->max);
			return;
		}
		r->value = json_integer(v.i);
		return;
	case PF_DATETIME:
		if (v.present)
			r->value = v.has_tz ? pf_local_time(v.s, v.tz_minutes) : json_string(v.s);
		return;
	default:
		if (v.present)
			r->value = json_string(v.s);
		return;
	}
}

/* A multiselect from raw values vals[0..n) (NULL entries are skipped). */
static void pf_check_multi(const pf_field *fd, arena *a, const char *const *vals, size_t n, struct pf_res *r)
{
	val_rule one = fd->rule;
	one.required = 0;
	unsigned char *sel = ar_calloc(a, fd->nchoices);
	size_t count = 0;
	for (size_t k = 0; k < n; k++) {
		val_value v;
		val_error e;
		if (!vals[k])
			continue;
		if (val_one(a, &one, vals[k], &v, &e)) {
			res_val_error(r, &e);
			return;
		}
		if (v.present && !sel[v.i]) {
			sel[v.i] = 1;
			count++;
		}
	}
	if (count == 0 && fd->required) {
		val_value v;
		val_error e;
		val_rule req = fd->rule;
		val_one(a, &req, NULL, &v, &e);            /* "请选择{label}" */
		res_val_error(r, &e);
		return;
	}
	if (count > 0 && fd->has_min && count < (size_t)fd->min) {
		res_fail(r, a, fd, PM_TOO_FEW, fd->min);
		return;
	}
	if (fd->has_max && count > (size_t)fd->max) {
		res_fail(r, a, fd, PM_TOO_MANY, fd->max);
		return;
	}
	r->value = json_array();
	for (size_t k = 0; k < fd->nchoices; k++)
		if (sel[k])
			json_array_append_new(r->value, json_string(fd->choices[k].value));
}

/* Field fd from a browser form. */
static void pf_from_form(const pf_field *fd, arena *a, const form *in, struct pf_res *r)
{
	if (fd->type == PF_MULTI) {
		size_t n = 0, k = 0;
		for (const form_field *x = in ? in->head : NULL; x; x = x->next)
			n += strcmp(x->name, fd->name) == 0;
		const char **vals = ar_calloc(a, (n + 1) * sizeof *vals);
		for (const form_field *x = in ? in->head : NULL; x; x = x->next) {
			if (strcmp(x->name, fd->name) != 0)
				continue;
			if (x->filename) {
				res_fail(r, a, fd, PM_TYPE_FILE, 0);
				return;
			}
			vals[k++] = pf_cstr(a, x->value, x->vlen);
		}
		pf_check_multi(fd, a, vals, k, r);
		return;
	}
	const form_field *x = in ? form_find(in, fd->name) : NULL;
	if (x && x->filename) {
		res_fail(r, a, fd, PM_TYPE_FILE, 0);
		return;
	}
	pf_check_one(fd, a, x ? pf_cstr(a, x->value, x->vlen) : NULL, r);
}

/* Field fd from a JSON object: the JSON type must fit the field type. */
static void pf_from_json(const pf_field *fd, arena *a, json_t *jin, struct pf_res *r)
{
	json_t *j = json_object_get(jin, fd->name);
	if (j && json_is_null(j))
		j = NULL;
	switch (fd->type) {
	case PF_MULTI: {
		if (j && !json_is_array(j)) {
			res_fail(r, a, fd, PM_TYPE_LIST, 0);
			return;
		}
		size_t n = j ? json_array_size(j) : 0;
		const char **vals = ar_calloc(a, (n + 1) * sizeof *vals);
		for (size_t k = 0; k < n; k++) {
			json_t *e = json_array_get(j, k);
			if (!json_is_string(e)) {
				res_fail(r, a, fd, PM_TYPE_LIST, 0);
				return;
			}
			vals[k] = pf_cstr(a, json_string_value(e), json_string_length(e));
		}
		pf_check_multi(fd, a, vals, n, r);
		return;
	}
	case PF_NUMBER:
		if (!j)
			pf_check_one(fd, a, NULL, r);
		else if (json_is_integer(j))
			pf_check_one(fd, a, ar_printf(a, "%lld", (long long)json_integer_value(j)), r);
		else if (json_is_real(j))      /* 5.0 is 5; 4.2 gets valid.c's "请填写整数" */
			pf_check_one(fd, a, ar_printf(a, "%.17g", json_real_value(j)), r);
		else
			res_fail(r, a, fd, PM_TYPE_NUMBER, 0);
		return;
	case PF_YESNO:
	case PF_CONSENT:
		if (!j)
			pf_check_one(fd, a, NULL, r);
		else if (json_is_boolean(j))
			pf_check_one(fd, a, json_is_true(j) ? "true" : "false", r);
		else if (json_is_string(j) && (strcmp(json_string_value(j), "true") == 0 ||
		                               strcmp(json_string_value(j), "false") == 0))
			pf_check_one(fd, a, json_string_value(j), r);
		else
			res_fail(r, a, fd, PM_TYPE_BOOL, 0);
		return;
	default:
		if (!j)
			pf_check_one(fd, a, NULL, r);
		else if (json_is_string(j))
			pf_check_one(fd, a, pf_cstr(a, json_string_value(j), json_string_length(j)), r);
		else
			res_fail(r, a, fd, PM_TYPE_TEXT, 0);
		return;
	}
}

/* 1 if the value v of a choice field equals one of fd's show_if values. */
static int pf_matches(const pf_field *fd, json_t *v)
{
	const char *s[PF_MAX_CHOICES];
	size_t n = 0;
	if (json_is_string(v))
		s[n++] = json_string_value(v);
	else if (json_is_boolean(v))
		s[n++] = json_is_true(v) ? "true" : "false";
	else if (json_is_array(v))
		for (size_t k = 0; k < json_array_size(v) && n < PF_MAX_CHOICES; k++)
			if (json_is_string(json_array_get(v, k)))
				s[n++] = json_string_value(json_array_get(v, k));
	for (size_t k = 0; k < n; k++)
		for (size_t e = 0; e < fd->ncond_eq; e++)
			if (strcmp(s[k], fd->cond_eq[e]) == 0)
				return 1;
	return 0;
}

/* Whether field i is shown: its condition holds and its target is shown
 * (conditions are acyclic, checked at compile). */
static int pf_shown(const pform *f, struct pf_res *res, size_t i)
{
	if (res[i].shown < 0) {
		const pf_field *fd = &f->fields[i];
		size_t t = fd->cond_idx;
		res[i].shown = !fd->cond || (pf_shown(f, res, t) && !res[t].code && res[t].value &&
		                             pf_matches(fd, res[t].value));
	}
	return res[i].shown;
}

/* An "unknown_field" error for every key of jin that is not a field. */
static void pf_unknown_keys(const pform *f, json_t *jin, json_t *errs, json_t *cods)
{
	const char *key;
	json_t *jv;
	json_object_foreach(jin, key, jv) {
		size_t i = 0;
		while (i < f->nfields && strcmp(f->fields[i].name, key) != 0)
			i++;
		if (i == f->nfields) {
			json_object_set_new(errs, key, json_string(pf_msgs[PM_UNKNOWN_FIELD].tmpl));
			json_object_set_new(cods, key, json_string(pf_msgs[PM_UNKNOWN_FIELD].code));
		}
	}
}

int pform_validate_codes(const pform *f, arena *a, const form *in, json_t *jin,
                         json_t **values, json_t **errors, json_t **codes)
{
	json_t *vals = json_object(), *errs = json_object(), *cods = json_object();
	if (jin && !json_is_object(jin)) {
		json_object_set_new(errs, "_form", json_string(pf_msgs[PM_NOT_OBJECT].tmpl));
		json_object_set_new(cods, "_form", json_string(pf_msgs[PM_NOT_OBJECT].code));
	} else {
		struct pf_res *res = ar_calloc(a, f->nfields * sizeof *res);
		for (size_t i = 0; i < f->nfields; i++) {
			res[i].shown = -1;
			if (jin)
				pf_from_json(&f->fields[i], a, jin, &res[i]);
			else
				pf_from_form(&f->fields[i], a, in, &res[i]);
		}
		for (size_t i = 0; i < f->nfields; i++) {
			const char *name = f->fields[i].name;
			if (pf_shown(f, res, i)) {
				if (res[i].code) {
					json_object_set_new(errs, name, json_string(res[i].msg));
					json_object_set_new(cods, name, json_string(res[i].code));
				} else if (res[i].value)
					json_object_set(vals, name, res[i].value);
			}
		}
		for (size_t i = 0; i < f->nfields; i++)
			json_decref(res[i].value);
		if (jin)
			pf_unknown_keys(f, jin, errs, cods);
	}
	int n = (int)json_object_size(errs);
	*values = vals;
	*errors = errs;
	if (codes)
		*codes = cods;
	else
		json_decref(cods);
	return n;
}

int pform_validate(const pform *f, arena *a, const form *in, json_t *jin, json_t **values, json_t **errors)
{
	return pform_validate_codes(f, a, in, jin, values, errors, NULL);
}

json_t *pform_input(const pform *f, const form *in)
{
	json_t *o = json_object();
	for (size_t i = 0; i < f->nfields; i++) {
		const pf_field *fd = &f->fields[i];
		json_t *list = fd->type == PF_MULTI ? json_array() : NULL;
		for (const form_field *x = in ? in->head : NULL; x; x = x->next) {
			if (x->filename || strcmp(x->name, fd->name) != 0)
				continue;
			json_t *s = json_stringn(x->value, x->vlen);   /* NULL when not UTF-8 */
			if (!s)
				continue;
			if (!list) {
				json_object_set_new(o, fd->name, s);
				break;
			}
			json_array_append_new(list, s);
		}
		if (list)
			json_object_set_new(o, fd->name, list);
	}
	return o;
}

/* ---- the view model ---- */

/* msg with every run of PF_ID_RUN+ digits (an ID number, X included) masked
 * to its last four characters. */
static json_t *pf_masked(const char *msg)
{
	size_t n = strlen(msg);
	char *d = malloc(n + 1);
	if (!d)
		return json_string("");
	memcpy(d, msg, n + 1);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && d[j] >= '0' && d[j] <= '9')
			j++;
		if (j < n && j > i && (d[j] == 'X' || d[j] == 'x'))
			j++;
		if (j - i >= PF_ID_RUN)
			memset(d + i, '*', j - i - 4);
		i = j > i ? j : i + 1;
	}
	json_t *r = json_string(d);
	free(d);
	return r ? r : json_string("");
}

/* The text to show in an input for value v (string, number or boolean). */
static const char *pf_shown_text(const pf_field *fd, json_t *v, char *tmp, size_t n)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char dt[20];
		if (fd->type == PF_DATETIME && val_datetime(s, dt, NULL, NULL)) {
			/* datetime-local wants "YYYY-MM-DDTHH:MM[:SS]" */
			dt[10] = 'T';
			if (strcmp(dt + 16, ":00") == 0)
				dt[16] = 0;
			snprintf(tmp, n, "%s", dt);
			return tmp;
		}
		return s;
	}
	if (json_is_integer(v)) {
		snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	if (json_is_real(v)) {
		snprintf(tmp, n, "%.17g", json_real_value(v));
		return tmp;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return "";
}

/* 1 if choice value cv is selected by v: equal string, boolean for
 * yesno/consent (any spelling valid.c accepts), or member of an array. */
static int pf_selected(const pf_field *fd, arena *a, json_t *v, const char *cv)
{
	if (json_is_array(v)) {
		for (size_t k = 0; k < json_array_size(v); k++)
			if (pf_selected(fd, a, json_array_get(v, k), cv))
				return 1;
		return 0;
	}
	if (fd->type == PF_YESNO || fd->type == PF_CONSENT) {
		if (json_is_boolean(v))
			return strcmp(cv, json_is_true(v) ? "true" : "false") == 0;
		if (!json_is_string(v))
			return 0;
		val_rule r = {fd->name, VAL_BOOL, 0, 0, 0, NULL, fd->label};
		val_value x;
		val_error e;
		if (val_one(a, &r, json_string_value(v), &x, &e) || !x.present)
			return 0;
		return strcmp(cv, x.i ? "true" : "false") == 0;
	}
	return json_is_string(v) && strcmp(json_string_value(v), cv) == 0;
}

/* "（仅当“目标”为“甲”或“乙”时需要填写）" for a conditional field. */
static json_t *pf_when_text(const pform *f, const pf_field *fd)
{
	const pf_field *tg = &f->fields[fd->cond_idx];
	buf vals = BUF_INIT, out = BUF_INIT;
	for (size_t k = 0; k < fd->ncond_eq; k++) {
		const char *label = fd->cond_eq[k];
		for (size_t j = 0; j < tg->nchoices; j++)
			if (strcmp(tg->choices[j].value, fd->cond_eq[k]) == 0)
				label = tg->choices[j].label;
		if (k)
			buf_adds(&vals, pf_ui.or_word);
		buf_adds(&vals, pf_ui.quote_l);
		buf_adds(&vals, label);
		buf_adds(&vals, pf_ui.quote_r);
	}
	for (const char *p = pf_ui.when; *p;) {
		if (strncmp(p, "{label}", 7) == 0) {
			buf_adds(&out, tg->label);
			p += 7;
		} else if (strncmp(p, "{values}", 8) == 0) {
			buf_adds(&out, buf_str(&vals));
			p += 8;
		} else
			buf_addc(&out, *p++);
	}
	json_t *r = json_string(buf_str(&out));
	buf_free(&vals);
	buf_free(&out);
	return r;
}

static json_t *pf_str_or_empty(const char *s)
{
	return json_string(s ? s : "");
}

static json_t *pf_view_field(const pform *f, const pf_field *fd, arena *a, json_t *v, json_t *err)
{
	json_t *o = json_object();
	char id[2 * PF_MAX_NAME + 8], tmp[64];
	snprintf(id, sizeof id, "pf-%s-%s", f->name, fd->name);
	const char *input = pf_types[fd->type].input;
	if (fd->type == PF_ENUM)
		input = fd->nchoices > PF_RADIO_MAX ? "select" : "radio";
	const char *error = json_is_string(err) ? json_string_value(err) : "";

	json_object_set_new(o, "name", json_string(fd->name));
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "label", json_string(fd->label));
	json_object_set_new(o, "type", json_string(pf_types[fd->type].name));
	json_object_set_new(o, "input", json_string(input));
	json_object_set_new(o, "help", pf_str_or_empty(fd->help));
	json_object_set_new(o, "purpose", pf_str_or_empty(fd->purpose));
	json_object_set_new(o, "required", json_boolean(fd->required));
	json_object_set_new(o, "error", error[0] ? pf_masked(error) : json_string(""));

	json_t *w = json_object();
	json_object_set_new(w, "input", json_boolean(strcmp(input, "textarea") != 0 && !fd->nchoices));
	json_object_set_new(w, "textarea", json_boolean(fd->type == PF_TEXTAREA));
	json_object_set_new(w, "select", json_boolean(strcmp(input, "select") == 0));
	json_object_set_new(w, "radios", json_boolean(strcmp(input, "radio") == 0));
	json_object_set_new(w, "checkboxes", json_boolean(fd->type == PF_MULTI));
	json_object_set_new(w, "group", json_boolean(strcmp(input, "radio") == 0 || fd->type == PF_MULTI));
	json_object_set_new(w, "consent", json_boolean(fd->type == PF_CONSENT));
	json_object_set_new(o, "widget", w);

	if (fd->type == PF_MULTI) {
		json_t *sel = json_array();
		for (size_t k = 0; k < fd->nchoices; k++)
			if (v && pf_selected(fd, a, v, fd->choices[k].value))
				json_array_append_new(sel, json_string(fd->choices[k].value));
		json_object_set_new(o, "value", sel);
	} else
		json_object_set_new(o, "value", json_string(v ? pf_shown_text(fd, v, tmp, sizeof tmp) : ""));
	json_object_set_new(o, "checked", json_boolean(fd->type == PF_CONSENT && v && pf_selected(fd, a, v, "true")));

	json_t *choices = json_array();
	if (fd->type != PF_CONSENT) {
		for (size_t k = 0; k < fd->nchoices; k++) {
			json_t *ch = json_object();
			snprintf(tmp, sizeof tmp, "-%zu", k + 1);
			json_object_set_new(ch, "id", json_sprintf("%s%s", id, tmp));
			json_object_set_new(ch, "value", json_string(fd->choices[k].value));
			json_object_set_new(ch, "label", json_string(fd->choices[k].label));
			json_object_set_new(ch, "selected", json_boolean(v && pf_selected(fd, a, v, fd->choices[k].value)));
			json_array_append_new(choices, ch);
		}
	}
	json_object_set_new(o, "choices", choices);

	json_t *sif = json_null();
	if (fd->cond) {
		sif = json_object();
		json_t *eq = json_array();
		for (size_t k = 0; k < fd->ncond_eq; k++)
			json_array_append_new(eq, json_string(fd->cond_eq[k]));
		char *ej = json_dumps(eq, JSON_COMPACT);
		json_object_set_new(sif, "field", json_string(f->fields[fd->cond_idx].name));
		json_object_set_new(sif, "equals", eq);
		json_object_set_new(sif, "equals_json", json_string(ej ? ej : "[]"));
		json_object_set_new(sif, "text", pf_when_text(f, fd));
		free(ej);
	}
	json_object_set_new(o, "show_if", sif);

	int number = fd->type == PF_NUMBER, text = fd->type == PF_TEXT || fd->type == PF_TEXTAREA;
	json_object_set_new(o, "min", number && fd->has_min ? json_sprintf("%lld", fd->min) : json_string(""));
	json_object_set_new(o, "max", number && fd->has_max ? json_sprintf("%lld", fd->max) : json_string(""));
	json_object_set_new(o, "maxlength", text ? json_sprintf("%lld", fd->max) : json_string(""));
	json_object_set_new(o, "inputmode", json_string(
		fd->type == PF_PHONE || (number && fd->has_min && fd->min >= 0) ? "numeric" : ""));
	json_object_set_new(o, "autocomplete", json_string(fd->type == PF_IDCARD ? "off" : ""));

	buf db = BUF_INIT;
	if (fd->purpose)
		buf_printf(&db, "%s-purpose", id);
	if (fd->help)
		buf_printf(&db, "%s%s-help", db.len ? " " : "", id);
	if (error[0])
		buf_printf(&db, "%s%s-error", db.len ? " " : "", id);
	json_object_set_new(o, "describedby", json_string(buf_str(&db)));
	buf_free(&db);
	return o;
}

json_t *pform_view(const pform *f, json_t *values, json_t *errors)
{
	arena *a = ar_new(0);
	json_t *arr = json_array();
	for (size_t i = 0; i < f->nfields; i++) {
		const pf_field *fd = &f->fields[i];
		json_t *v = json_is_object(values) ? json_object_get(values, fd->name) : NULL;
		json_t *e = json_is_object(errors) ? json_object_get(errors, fd->name) : NULL;
		if (v && json_is_null(v))
			v = NULL;
		json_array_append_new(arr, pf_view_field(f, fd, a, v, e));
	}
	ar_free(a);
	return arr;
}

/* ---- the schema ---- */

static void pf_set_text(json_t *o, const char *key, const char *zh, const char *en)
{
	if (zh)
		json_object_set_new(o, key, json_string(zh));
	if (en) {
		char k[32];
		snprintf(k, sizeof k, "%s_en", key);
		json_object_set_new(o, k, json_string(en));
	}
}

json_t *pform_schema(const pform *f)
{
	json_t *o = json_object(), *fields = json_array();
	json_object_set_new(o, "name", json_string(f->name));
	pf_set_text(o, "title", f->title, f->title_en);
	for (size_t i = 0; i < f->nfields; i++) {
		const pf_field *fd = &f->fields[i];
		json_t *x = json_object();
		json_object_set_new(x, "name", json_string(fd->name));
		json_object_set_new(x, "type", json_string(pf_types[fd->type].name));
		pf_set_text(x, "label", fd->label, fd->label_en);
		json_object_set_new(x, "required", json_boolean(fd->required));
		if (fd->has_min)
			json_object_set_new(x, "min", json_integer(fd->min));
		if (fd->has_max)
			json_object_set_new(x, "max", json_integer(fd->max));
		if (fd->type == PF_ENUM || fd->type == PF_MULTI) {
			json_t *cs = json_array();
			for (size_t k = 0; k < fd->nchoices; k++) {
				json_t *ch = json_object();
				json_object_set_new(ch, "value", json_string(fd->choices[k].value));
				pf_set_text(ch, "label", fd->choices[k].label, fd->choices[k].label_en);
				json_array_append_new(cs, ch);
			}
			json_object_set_new(x, "choices", cs);
		}
		if (fd->cond) {
			const pf_field *tg = &f->fields[fd->cond_idx];
			int boolean = tg->type == PF_YESNO || tg->type == PF_CONSENT;
			json_t *s = json_object(), *eq = json_array();
			for (size_t k = 0; k < fd->ncond_eq; k++)
				json_array_append_new(eq, boolean ? json_boolean(strcmp(fd->cond_eq[k], "true") == 0)
				                                  : json_string(fd->cond_eq[k]));
			json_object_set_new(s, "field", json_string(tg->name));
			json_object_set_new(s, "equals", eq);
			json_object_set_new(x, "show_if", s);
		}
		pf_set_text(x, "help", fd->help, fd->help_en);
		pf_set_text(x, "purpose", fd->purpose, fd->purpose_en);
		json_array_append_new(fields, x);
	}
	json_object_set_new(o, "fields", fields);
	return o;
}
