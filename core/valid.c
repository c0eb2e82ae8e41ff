/* valid.c - typed validation of input fields against a rule table. */
#include "valid.h"
#include "utf8.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TEXT_DEFAULT_MAX 200
#define MULTILINE_DEFAULT_MAX 2000
#define YEAR_MIN 1900
#define YEAR_MAX 2200

/* Error kinds; VM_OK means no error. */
enum vmsg {
	VM_OK,
	VM_REQUIRED,
	VM_REQUIRED_CHOICE,
	VM_REQUIRED_TICK,
	VM_INT,
	VM_RANGE,
	VM_OVERFLOW,
	VM_TOO_SHORT,
	VM_TOO_LONG,
	VM_BAD_UTF8,
	VM_BAD_CHAR,
	VM_PHONE,
	VM_DATE,
	VM_DATETIME,
	VM_ENUM,
	VM_IDCARD,
	VM_IDCARD_SUM,
	VM_IDCARD_BIRTH,
	VM_BOOL
};

/* Stable codes and messages for residents. {label}, {min} and {max} are
 * replaced by the rule's label and bounds. */
static const struct {
	const char *code;
	const char *tmpl;
} val_msgs[] = {
	[VM_OK] = {"ok", ""},
	[VM_REQUIRED] = {"required", "请填写{label}"},
	[VM_REQUIRED_CHOICE] = {"required", "请选择{label}"},
	[VM_REQUIRED_TICK] = {"required", "请勾选{label}"},
	[VM_INT] = {"invalid_int", "{label}请填写整数"},
	[VM_RANGE] = {"out_of_range", "{label}应在{min}到{max}之间"},
	[VM_OVERFLOW] = {"out_of_range", "{label}数值太大"},
	[VM_TOO_SHORT] = {"too_short", "{label}至少需要{min}个字"},
	[VM_TOO_LONG] = {"too_long", "{label}不能超过{max}个字"},
	[VM_BAD_UTF8] = {"invalid_text", "{label}含有无法识别的字符"},
	[VM_BAD_CHAR] = {"invalid_chars", "{label}不能含有换行或控制字符"},
	[VM_PHONE] = {"invalid_phone", "{label}格式不正确，请填写11位手机号码"},
	[VM_DATE] = {"invalid_date", "{label}不是有效的日期，请按“年-月-日”填写，例如 2024-03-15"},
	[VM_DATETIME] = {"invalid_datetime", "{label}不是有效的时间，请按“年-月-日 时:分”填写，例如 2024-03-15 09:30"},
	[VM_ENUM] = {"invalid_choice", "{label}的选项无效，请重新选择"},
	[VM_IDCARD] = {"invalid_idcard", "{label}格式不正确，应为18位数字（最后一位可以是X）"},
	[VM_IDCARD_SUM] = {"idcard_checksum", "{label}校验位不正确"},
	[VM_IDCARD_BIRTH] = {"idcard_birthdate", "{label}中的出生日期不正确"},
	[VM_BOOL] = {"invalid_bool", "{label}的值无效"},
};

/* ---- dates ---- */

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int date_ok(int y, int m, int d)
{
	static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return 0;
	return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* n ASCII digits at s as a number, or -1. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" in s[0..n) */
static int date_n(const char *s, size_t n, int *y, int *m, int *d)
{
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
	if (yy < YEAR_MIN || yy > YEAR_MAX || !date_ok(yy, mm, dd))
		return 0;
	if (y)
		*y = yy;
	if (m)
		*m = mm;
	if (d)
		*d = dd;
	return 1;
}

int val_date(const char *s, int *y, int *m, int *d)
{
	return s && date_n(s, strlen(s), y, m, d);
}

static int datetime_n(const char *s, size_t n, char out[20], int *tz_minutes, int *has_tz)
{
	int y, mo, d, hh, mi, ss = 0, off = 0, has = 0;
	const char *sec = "00";

	if (n < 16 || !date_n(s, 10, &y, &mo, &d))
		return 0;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return 0;
	if ((hh = digits(s + 11, 2)) < 0 || s[13] != ':' || (mi = digits(s + 14, 2)) < 0)
		return 0;
	size_t i = 16;
	if (i < n && s[i] == ':') {
		if (n - i < 3 || (ss = digits(s + i + 1, 2)) < 0)
			return 0;
		sec = s + i + 1;
		i += 3;
		if (i < n && s[i] == '.') {
			size_t j = i + 1;
			while (j < n && j - i <= 9 && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j == i + 1)
				return 0;
			i = j;
		}
	}
	if (hh > 23 || mi > 59 || ss > 59)
		return 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		has = 1;
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (n - i < 6 || (oh = digits(s + i + 1, 2)) < 0 || s[i + 3] != ':' ||
		    (om = digits(s + i + 4, 2)) < 0 || oh > 14 || om > 59)
			return 0;
		off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
		has = 1;
		i += 6;
	}
	if (i != n)
		return 0;
	if (out) {
		memcpy(out, s, 10);
		out[10] = ' ';
		memcpy(out + 11, s + 11, 5);
		out[16] = ':';
		memcpy(out + 17, sec, 2);
		out[19] = 0;
	}
	if (tz_minutes)
		*tz_minutes = off;
	if (has_tz)
		*has_tz = has;
	return 1;
}

int val_datetime(const char *s, char out[20], int *tz_minutes, int *has_tz)
{
	return s && datetime_n(s, strlen(s), out, tz_minutes, has_tz);
}

/* ---- phone numbers ---- */

static int phone_n(const char *s, size_t n, char out[12])
{
	char d[16];
	size_t k = 0;
	int plus = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '-')
			continue;
		if (c == '+' && k == 0 && !plus)
			plus = 1;
		else if (c >= '0' && c <= '9' && k < sizeof d)
			d[k++] = c;
		else
			return 0;
	}
	const char *p = d;
	if (k == 13 && d[0] == '8' && d[1] == '6') {
		p += 2;
		k -= 2;
	} else if (!plus && k == 15 && memcmp(d, "0086", 4) == 0) {
		p += 4;
		k -= 4;
	} else if (plus)
		return 0;
	if (k != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
		return 0;
	if (out) {
		memcpy(out, p, 11);
		out[11] = 0;
	}
	return 1;
}

int val_phone(const char *s, char out[12])
{
	return s && phone_n(s, strlen(s), out);
}

/* ---- resident identity card numbers (GB 11643-1999) ---- */

/* Today as YYYYMMDD, local time. */
static long today_ymd(void)
{
	time_t t = time(NULL);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 99991231L;
	return (tm.tm_year + 1900) * 10000L + (tm.tm_mon + 1) * 100L + tm.tm_mday;
}

/* VM_OK or the reason s[0..n) is not a valid number. */
static enum vmsg idcard_n(const char *s, size_t n)
{
	static const unsigned char w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	if (n != 18 || digits(s, 9) < 0 || digits(s + 9, 8) < 0)
		return VM_IDCARD;
	char last = s[17] == 'x' ? 'X' : s[17];
	if (last != 'X' && (last < '0' || last > '9'))
		return VM_IDCARD;
	int y = digits(s + 6, 4), m = digits(s + 10, 2), d = digits(s + 12, 2);
	if (y < YEAR_MIN || !date_ok(y, m, d) || y * 10000L + m * 100L + d > today_ymd())
		return VM_IDCARD_BIRTH;
	unsigned sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (unsigned)(s[i] - '0') * w[i];
	return "10X98765432"[sum % 11] == last ? VM_OK : VM_IDCARD_SUM;
}

int val_idcard(const char *s)
{
	return s && idcard_n(s, strlen(s)) == VM_OK;
}

/* ---- helpers for val_one ---- */

/* ASCII case-insensitive s[0..n) == lit (lit lower case). */
static int ieq(const char *s, size_t n, const char *lit)
{
	size_t i = 0;
	for (; i < n && lit[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return i == n && lit[i] == 0;
}

static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Trims ASCII whitespace and U+3000 (E3 80 80) from both ends. */
static void trim(const char **sp, size_t *np)
{
	const unsigned char *s = (const unsigned char *)*sp;
	size_t n = *np;
	for (;;) {
		if (n && is_space(s[0])) {
			s++;
			n--;
		} else if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) {
			s += 3;
			n -= 3;
		} else
			break;
	}
	for (;;) {
		if (n && is_space(s[n - 1]))
			n--;
		else if (n >= 3 && s[n - 3] == 0xE3 && s[n - 2] == 0x80 && s[n - 1] == 0x80)
			n -= 3;
		else
			break;
	}
	*sp = (const char *)s;
	*np = n;
}

/* Folds full-width ASCII variants (U+FF01..U+FF5E) and U+3000 to ASCII.
 * Returns s itself when there is nothing to fold. */
static const char *fold_fullwidth(arena *a, const char *s, size_t *np)
{
	size_t n = *np, i = 0;
	while (i < n && (unsigned char)s[i] != 0xEF && (unsigned char)s[i] != 0xE3)
		i++;
	if (i == n)
		return s;
	char *d = ar_alloc(a, n + 1);
	size_t o = 0;
	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)s + i;
		if (n - i >= 3 && p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x81 && p[2] <= 0xBF) {
			d[o++] = (char)(p[2] - 0x60);      /* U+FF01..U+FF3F -> '!'..'_' */
			i += 2;
		} else if (n - i >= 3 && p[0] == 0xEF && p[1] == 0xBD && p[2] >= 0x80 && p[2] <= 0x9E) {
			d[o++] = (char)(p[2] - 0x20);      /* U+FF40..U+FF5E -> '`'..'~' */
			i += 2;
		} else if (n - i >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
			d[o++] = ' ';
			i += 2;
		} else
			d[o++] = s[i];
	}
	d[o] = 0;
	*np = o;
	return d;
}

/* Text without the hidden characters of the kinds in what (utf8.h): a
 * single line (names, titles, places: what staff lists show) loses bidi
 * controls and invisible characters, so "\u202Eabc" cannot display as "cba"
 * and "\u5f20\u200b\u4e09" is "\u5f20\u4e09"; multi-line text loses the bidi controls
 * only (emoji sequences with joiners stay). Stripped, not refused: they come
 * in pasted from chat apps, and what is left is what a reader sees. Returns s
 * itself when there is nothing to strip or s is not valid UTF-8 (check_text
 * reports that). */
static const char *strip_hidden(arena *a, const char *s, size_t *np, unsigned what)
{
	size_t n = *np, i = 0;
	while (i < n && (unsigned char)s[i] < 0xC2)
		i++;                    /* only a lead byte from 0xC2 up can start one */
	if (i == n || !utf8_valid(s, n) || !utf8_has_hidden(s, n, what))
		return s;
	char *d = ar_alloc(a, n + 1);
	*np = utf8_strip_hidden(d, s, n, what);
	d[*np] = 0;
	return d;
}

static void text_bounds(const val_rule *r, long long *min, long long *max)
{
	*min = r->min > 0 ? r->min : 0;
	*max = r->max > 0 ? r->max : r->type == VAL_MULTILINE ? MULTILINE_DEFAULT_MAX : TEXT_DEFAULT_MAX;
}

/* Expands a message template into dst (NULL: only measure). Returns the length. */
static size_t render(char *dst, const char *tmpl, const char *label, long long min, long long max)
{
	char num[24];
	size_t o = 0;
	for (const char *p = tmpl; *p;) {
		const char *ins = NULL;
		if (strncmp(p, "{label}", 7) == 0) {
			ins = label;
			p += 7;
		} else if (strncmp(p, "{min}", 5) == 0 || strncmp(p, "{max}", 5) == 0) {
			snprintf(num, sizeof num, "%lld", p[2] == 'i' ? min : max);
			ins = num;
			p += 5;
		}
		if (ins) {
			size_t l = strlen(ins);
			if (dst)
				memcpy(dst + o, ins, l);
			o += l;
		} else {
			if (dst)
				dst[o] = *p;
			o++;
			p++;
		}
	}
	return o;
}

/* Fills *err for rule r and error kind m; returns 1. */
static int fail(arena *a, const val_rule *r, enum vmsg m, val_error *err)
{
	long long min = r->min, max = r->max;
	if (r->type == VAL_TEXT || r->type == VAL_MULTILINE)
		text_bounds(r, &min, &max);
	const char *label = r->label ? r->label : r->name;
	size_t len = render(NULL, val_msgs[m].tmpl, label, min, max);
	char *msg = ar_alloc(a, len + 1);
	render(msg, val_msgs[m].tmpl, label, min, max);
	msg[len] = 0;
	err->field = r->name;
	err->code = val_msgs[m].code;
	err->message = msg;
	return 1;
}

/* ---- one check per type; each returns VM_OK and fills *v, or an error ---- */

static enum vmsg check_int(arena *a, const val_rule *r, const char *s, size_t n, val_value *v)
{
	size_t i = 0;
	int neg = 0, over = 0;
	unsigned long long acc = 0;

	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return VM_INT;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return VM_INT;
		if (acc > (ULLONG_MAX - 9) / 10)
			over = 1;
		else
			acc = acc * 10 + (unsigned)(s[i] - '0');
	}
	int bounded = r->min != 0 || r->max != 0;
	if (over || acc > (unsigned long long)LLONG_MAX + (unsigned)neg)
		return bounded ? VM_RANGE : VM_OVERFLOW;
	long long val = !neg ? (long long)acc : acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc;
	if (bounded && (val < r->min || val > r->max))
		return VM_RANGE;
	v->i = val;
	v->s = ar_printf(a, "%lld", val);
	return VM_OK;
}

static enum vmsg check_text(arena *a, const val_rule *r, const char *s, size_t n, val_value *v)
{
	int multi = r->type == VAL_MULTILINE;
	long long min, max;

	if (!utf8_valid(s, n))
		return VM_BAD_UTF8;
	if (!utf8_printable(s, n, multi))
		return VM_BAD_CHAR;
	char *d = ar_alloc(a, n + 1);
	size_t o = 0;
	if (multi) {
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '\r') {
				d[o++] = '\n';
				if (i + 1 < n && s[i + 1] == '\n')
					i++;
			} else
				d[o++] = s[i];
		}
	} else {
		memcpy(d, s, n);
		o = n;
	}
	d[o] = 0;
	text_bounds(r, &min, &max);
	size_t len = utf8_len(d, o);
	if (len > (unsigned long long)max)
		return VM_TOO_LONG;
	if (len < (unsigned long long)min)
		return VM_TOO_SHORT;
	v->s = d;
	return VM_OK;
}

static enum vmsg check_enum(const val_rule *r, const char *s, size_t n, val_value *v)
{
	if (!r->choices)
		return VM_ENUM;
	for (size_t k = 0; r->choices[k]; k++) {
		if (strlen(r->choices[k]) == n && memcmp(r->choices[k], s, n) == 0) {
			v->i = (long long)k;
			v->s = r->choices[k];
			return VM_OK;
		}
	}
	return VM_ENUM;
}

static enum vmsg check_bool(const val_rule *r, const char *s, size_t n, val_value *v)
{
	static const char *const yes[] = {"1", "on", "true", "yes"};
	static const char *const no[] = {"0", "off", "false", "no"};
	for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++) {
		if (ieq(s, n, yes[k])) {
			v->i = 1;
			v->s = "1";
			return VM_OK;
		}
		if (ieq(s, n, no[k])) {
			v->i = 0;
			v->s = "0";
			return r->required ? VM_REQUIRED_TICK : VM_OK;
		}
	}
	return VM_BOOL;
}

static enum vmsg check_typed(arena *a, const val_rule *r, const char *s, size_t n, val_value *v)
{
	switch (r->type) {
	case VAL_INT:
		return check_int(a, r, s, n, v);
	case VAL_TEXT:
	case VAL_MULTILINE:
		return check_text(a, r, s, n, v);
	case VAL_PHONE: {
		char *out = ar_alloc(a, 12);
		if (!phone_n(s, n, out))
			return VM_PHONE;
		v->s = out;
		return VM_OK;
	}
	case VAL_DATE:
		if (!date_n(s, n, NULL, NULL, NULL))
			return VM_DATE;
		v->s = ar_strndup(a, s, n);
		return VM_OK;
	case VAL_DATETIME: {
		char *out = ar_alloc(a, 20);
		if (!datetime_n(s, n, out, &v->tz_minutes, &v->has_tz))
			return VM_DATETIME;
		v->s = out;
		return VM_OK;
	}
	case VAL_ENUM:
		return check_enum(r, s, n, v);
	case VAL_IDCARD: {
		enum vmsg m = idcard_n(s, n);
		if (m != VM_OK)
			return m;
		char *out = ar_strndup(a, s, n);
		if (out[17] == 'x')
			out[17] = 'X';
		v->s = out;
		return VM_OK;
	}
	case VAL_BOOL:
		return check_bool(r, s, n, v);
	}
	return VM_BOOL;         /* an unknown type never validates */
}

/* val_one on the bytes s[0..n) (which may hold a NUL: a form value's vlen). */
static int val_span(arena *a, const val_rule *r, const char *s, size_t n, val_value *v, val_error *err)
{
	v->name = r->name;
	v->present = 0;
	v->s = "";
	v->i = 0;
	v->tz_minutes = 0;
	v->has_tz = 0;
	if (!s)
		n = 0;
	if (n && r->type != VAL_TEXT && r->type != VAL_MULTILINE && r->type != VAL_ENUM)
		s = fold_fullwidth(a, s, &n);
	if (n && (r->type == VAL_TEXT || r->type == VAL_MULTILINE))
		s = strip_hidden(a, s, &n, r->type == VAL_TEXT ? UTF8_BIDI | UTF8_INVISIBLE : UTF8_BIDI);
	trim(&s, &n);
	if (n == 0) {
		if (!r->required)
			return 0;
		return fail(a, r, r->type == VAL_ENUM ? VM_REQUIRED_CHOICE :
		            r->type == VAL_BOOL ? VM_REQUIRED_TICK : VM_REQUIRED, err);
	}
	enum vmsg m = check_typed(a, r, s, n, v);
	if (m != VM_OK) {
		v->s = "";
		v->i = 0;
		v->tz_minutes = 0;
		v->has_tz = 0;
		return fail(a, r, m, err);
	}
	v->present = 1;
	return 0;
}

int val_one(arena *a, const val_rule *r, const char *s, val_value *v, val_error *err)
{
	return val_span(a, r, s, s ? strlen(s) : 0, v, err);
}

int val_check(arena *a, const val_rule *rules, size_t n, const form *f, val_result *out)
{
	out->values = ar_calloc(a, n * sizeof *out->values);
	out->errors = ar_alloc(a, n * sizeof *out->errors);
	out->nvalues = n;
	out->nerrors = 0;
	for (size_t i = 0; i < n; i++) {
		const form_field *x = form_find(f, rules[i].name);
		if (val_span(a, &rules[i], x ? x->value : NULL, x ? x->vlen : 0,
		             &out->values[i], &out->errors[out->nerrors]))
			out->nerrors++;
	}
	return (int)out->nerrors;
}

const val_value *val_get(const val_result *res, const char *name)
{
	if (!res || !name)
		return NULL;
	for (size_t i = 0; i < res->nvalues; i++)
		if (res->values[i].name && strcmp(res->values[i].name, name) == 0)
			return &res->values[i];
	return NULL;
}

void val_mask_phone(const char *phone, char out[12])
{
	if (phone && strlen(phone) == 11)
		snprintf(out, 12, "%.3s****%.4s", phone, phone + 7);
	else
		snprintf(out, 12, "****");
}
