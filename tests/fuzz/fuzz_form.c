/* fuzz_form.c - libFuzzer harness for form.c, valid.c and utf8.c.
 *
 * Input layout: the first byte picks the parser and the limits, the rest is
 * the parser's input (the seeds use the digits '0'..'7' as that byte):
 *   byte0 & 3 == 0  urlencoded body
 *              1  multipart: first line (up to '\n') is the Content-Type, the rest the body
 *              2  Cookie header
 *              3  all three over the same bytes (multipart with a fixed boundary)
 *   byte0 & 4       tight limits (4 fields, 16-byte names and values)
 * Whatever was parsed (also after an error) is checked against a rule table
 * with every type, and the single checks run on the raw text. Invariants
 * that must hold are checked with abort(), so a violation is a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "form.h"
#include "utf8.h"
#include "valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_choices[] = {"a", "b", "男", "女", NULL};

static const val_rule fz_rules[] = {
	{"i", VAL_INT, 0, -100, 100, NULL, "数字"},
	{"n", VAL_INT, 0, 0, 0, NULL, "数量"},
	{"t", VAL_TEXT, 1, 1, 10, NULL, "姓名"},
	{"m", VAL_MULTILINE, 0, 0, 0, NULL, "备注"},
	{"p", VAL_PHONE, 1, 0, 0, NULL, "手机号"},
	{"d", VAL_DATE, 0, 0, 0, NULL, "日期"},
	{"dt", VAL_DATETIME, 0, 0, 0, NULL, "时间"},
	{"e", VAL_ENUM, 0, 0, 0, fz_choices, "选项"},
	{"id", VAL_IDCARD, 0, 0, 0, NULL, "身份证号码"},
	{"b", VAL_BOOL, 1, 0, 0, NULL, "同意"},
	{"a", VAL_TEXT, 0, 0, 0, NULL, NULL},
};

#define FZ_NRULES (sizeof fz_rules / sizeof fz_rules[0])

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

/* Every field a parser returns must keep the form.h promises. */
static void fz_check_form(const form *f, const form_limits *lim, int rc)
{
	size_t count = 0;
	for (const form_field *x = f->head; x; x = x->next) {
		count++;
		fz_check(x->name && x->value);
		fz_check(x->value[x->vlen] == 0);
		fz_check(utf8_valid(x->name, strlen(x->name)));
		fz_check(strlen(x->name) <= lim->max_name && x->vlen <= lim->max_value);
		if (!x->filename)
			fz_check(utf8_valid(x->value, x->vlen));
		else
			fz_check(utf8_valid(x->filename, strlen(x->filename)));
		if (!x->next)
			fz_check(f->tail == x);
	}
	fz_check(count == f->count && count <= lim->max_fields);
	fz_check(form_strerror(rc) != NULL && form_errcode(rc) != NULL);
}

static void fz_validate(arena *a, const form *f)
{
	val_result res;
	int n = val_check(a, fz_rules, FZ_NRULES, f, &res);
	fz_check(n >= 0 && (size_t)n == res.nerrors && res.nerrors <= FZ_NRULES);
	for (size_t i = 0; i < res.nerrors; i++)
		fz_check(res.errors[i].code && res.errors[i].message && res.errors[i].field);
	for (size_t i = 0; i < res.nvalues; i++) {
		const val_value *v = &res.values[i];
		fz_check(v->s != NULL);
		if (v->present && (fz_rules[i].type == VAL_TEXT || fz_rules[i].type == VAL_MULTILINE))
			fz_check(utf8_valid(v->s, strlen(v->s)));
		if (v->present && fz_rules[i].type == VAL_PHONE)
			fz_check(strlen(v->s) == 11 && v->s[0] == '1');
		if (v->present && fz_rules[i].type == VAL_DATETIME)
			fz_check(strlen(v->s) == 19);
	}
}

/* The single checks on the raw text (NUL-terminated copy). */
static void fz_single(arena *a, const char *s, size_t n)
{
	char *z = ar_strndup(a, s, n);
	char phone[12], dt[20];
	int y, m, d, tz, has;
	if (val_phone(z, phone))
		fz_check(strlen(phone) == 11);
	if (val_date(z, &y, &m, &d))
		fz_check(y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
	if (val_datetime(z, dt, &tz, &has))
		fz_check(strlen(dt) == 19 && tz >= -14 * 60 - 59 && tz <= 14 * 60 + 59);
	if (val_idcard(z))
		fz_check(strlen(z) == 18);
	for (size_t i = 0; i < FZ_NRULES; i++) {
		val_value v;
		val_error e;
		if (val_one(a, &fz_rules[i], z, &v, &e))
			fz_check(e.code && e.message);
	}
	size_t dn;
	char *dec = form_pct_decode(a, s, n, 1, &dn);
	if (dec)
		fz_check(dn <= n && dec[dn] == 0);
	if (utf8_valid(s, n)) {
		fz_check(utf8_len(s, n) <= n);
		fz_check(memchr(s, 0, n) == NULL);
	}
	(void)utf8_printable(s, n, 0);
	(void)utf8_printable(s, n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned mode = data[0] & 3;
	form_limits tight = {4, 16, 16}, loose = {64, 256, 65536};
	const form_limits *lim = (data[0] & 4) ? &tight : &loose;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	arena *a = ar_new(4096);
	form f = FORM_INIT;
	int rc;

	if (mode == 0 || mode == 3) {
		rc = form_parse_urlencoded(a, s, n, lim, &f);
		fz_check_form(&f, lim, rc);
		fz_validate(a, &f);
	}
	if (mode == 1 || mode == 3) {
		form g = FORM_INIT;
		const char *body = s, *ctype = "multipart/form-data; boundary=fuzz";
		size_t bn = n;
		if (mode == 1) {
			const char *nl = memchr(s, '\n', n);
			size_t cl = nl ? (size_t)(nl - s) : n;
			ctype = ar_strndup(a, s, cl);
			body = nl ? nl + 1 : s + n;
			bn = nl ? n - cl - 1 : 0;
		}
		/* a heap copy of exactly bn bytes lets ASan see any over-read */
		char *copy = malloc(bn ? bn : 1);
		if (bn)
			memcpy(copy, body, bn);
		rc = form_parse_multipart(a, ctype, copy, bn, lim, &g);
		fz_check_form(&g, lim, rc);
		fz_validate(a, &g);
		free(copy);
	}
	if (mode == 2 || mode == 3) {
		form c = FORM_INIT;
		rc = form_parse_cookies(a, s, n, lim, &c);
		fz_check_form(&c, lim, rc);
		fz_validate(a, &c);
	}
	fz_single(a, s, n);
	ar_free(a);
	return 0;
}
