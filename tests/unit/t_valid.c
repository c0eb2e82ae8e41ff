/* t_valid.c - typed validation: one behaviour per test. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "arena.h"
#include "form.h"
#include "valid.h"

static arena *A;
static val_value V;
static val_error E;

/* Runs one rule over s; returns "ok" or the error code. */
static const char *run(const val_rule *r, const char *s)
{
	memset(&V, 0, sizeof V);
	memset(&E, 0, sizeof E);
	int rc = val_one(A, r, s, &V, &E);
	if (rc == 0)
		return "ok";
	return E.code ? E.code : "(no code)";
}

/* ---- INT ---- */

static void test_int(void)
{
	val_rule age = {"age", VAL_INT, 0, 0, 150, NULL, "年龄"};
	val_rule any = {"n", VAL_INT, 0, 0, 0, NULL, "数量"};

	is_str(run(&age, "42"), "ok", "int: 42 in [0,150]");
	is_int(V.i, 42, "int: value 42");
	ok(V.present, "int: present");
	is_str(run(&age, " 42 "), "ok", "int: surrounding spaces trimmed");
	is_str(run(&age, "007"), "ok", "int: leading zeros");
	is_str(V.s, "7", "int: normalised decimal");
	is_str(run(&age, "+7"), "ok", "int: leading plus");
	is_str(run(&age, "0"), "ok", "int: lower bound");
	is_str(run(&age, "150"), "ok", "int: upper bound");
	is_str(run(&age, "151"), "out_of_range", "int: one above the range");
	is_str(E.message, "年龄应在0到150之间", "int: range message names the field and bounds");
	ok(!V.present && V.i == 0, "int: a failed value is left absent");
	is_str(run(&age, "-1"), "out_of_range", "int: one below the range");
	is_str(run(&age, "4.2"), "invalid_int", "int: decimal point");
	is_str(E.message, "年龄请填写整数", "int: message");
	is_str(run(&age, "abc"), "invalid_int", "int: letters");
	is_str(run(&age, "-"), "invalid_int", "int: sign alone");
	is_str(run(&age, "1 2"), "invalid_int", "int: inner space");
	is_str(run(&age, "４２"), "ok", "int: full-width digits folded");
	is_int(V.i, 42, "int: full-width value");
	is_str(run(&any, "-9223372036854775808"), "ok", "int: LLONG_MIN unbounded");
	ok(V.i == LLONG_MIN, "int: LLONG_MIN value");
	is_str(run(&any, "9223372036854775807"), "ok", "int: LLONG_MAX unbounded");
	is_str(run(&any, "9223372036854775808"), "out_of_range", "int: LLONG_MAX + 1 overflows");
	is_str(run(&any, "99999999999999999999999"), "out_of_range", "int: huge number");
	is_str(run(&any, "-5"), "ok", "int: (0,0) means no range");
	val_rule neg = {"t", VAL_INT, 0, -40, -10, NULL, "温度"};
	is_str(run(&neg, "-10"), "ok", "int: negative range upper bound");
	is_str(run(&neg, "0"), "out_of_range", "int: outside a negative range");
	is_str(E.message, "温度应在-40到-10之间", "int: negative bounds in the message");
}

/* ---- required / absent ---- */

static void test_required(void)
{
	val_rule phone = {"phone", VAL_PHONE, 1, 0, 0, NULL, "手机号"};
	val_rule opt = {"phone", VAL_PHONE, 0, 0, 0, NULL, "手机号"};
	is_str(run(&phone, NULL), "required", "required: absent value");
	is_str(E.message, "请填写手机号", "required: message names the field");
	is_str(E.field, "phone", "required: error names the field");
	is_str(run(&phone, ""), "required", "required: empty value");
	is_str(run(&phone, "   "), "required", "required: spaces only");
	is_str(run(&phone, "\xE3\x80\x80"), "required", "required: ideographic space only");
	is_str(run(&opt, ""), "ok", "optional: empty is fine");
	ok(!V.present, "optional: empty is absent");
	is_str(V.s, "", "optional: absent value is an empty string");
	is_str(V.name, "phone", "optional: value carries the name");
	val_rule nolabel = {"mobile", VAL_PHONE, 1, 0, 0, NULL, NULL};
	run(&nolabel, NULL);
	is_str(E.message, "请填写mobile", "required: no label falls back to the name");
	val_rule sel = {"sex", VAL_ENUM, 1, 0, 0, NULL, "性别"};
	run(&sel, "");
	is_str(E.message, "请选择性别", "required choice: 请选择");
}

/* ---- TEXT ---- */

static void repeat(char *dst, const char *unit, int times)
{
	dst[0] = 0;
	for (int i = 0; i < times; i++)
		strcat(dst, unit);
}

static void test_text(void)
{
	static char s[8192];
	val_rule name = {"name", VAL_TEXT, 1, 0, 50, NULL, "姓名"};
	val_rule def = {"t", VAL_TEXT, 0, 0, 0, NULL, "标题"};
	val_rule min2 = {"n", VAL_TEXT, 0, 2, 10, NULL, "昵称"};

	is_str(run(&name, "  张三  "), "ok", "text: trims surrounding spaces");
	is_str(V.s, "张三", "text: trimmed value");
	is_str(run(&name, "\xE3\x80\x80张三\xE3\x80\x80"), "ok", "text: trims ideographic spaces");
	is_str(V.s, "张三", "text: ideographic spaces gone");
	is_str(run(&name, "Ｌｉ"), "ok", "text: full-width letters left alone");
	is_str(V.s, "Ｌｉ", "text: not folded");
	repeat(s, "张", 50);
	is_str(run(&name, s), "ok", "text: 50 characters within max 50 (150 bytes)");
	repeat(s, "张", 51);
	is_str(run(&name, s), "too_long", "text: 51 characters past max 50");
	is_str(E.message, "姓名不能超过50个字", "text: too_long message");
	repeat(s, "a", 200);
	is_str(run(&def, s), "ok", "text: 200 characters within the default");
	repeat(s, "a", 201);
	is_str(run(&def, s), "too_long", "text: default max is 200");
	is_str(E.message, "标题不能超过200个字", "text: default max in the message");
	is_str(run(&min2, "张"), "too_short", "text: below min");
	is_str(E.message, "昵称至少需要2个字", "text: too_short message");
	is_str(run(&min2, "张三"), "ok", "text: at min");
	is_str(run(&name, "a\x01" "b"), "invalid_chars", "text: control character");
	is_str(run(&name, "a\nb"), "invalid_chars", "text: newline in a single line");
	is_str(run(&name, "a\tb"), "invalid_chars", "text: tab in a single line");
	is_str(run(&name, "a\x7F"), "invalid_chars", "text: DEL");
	is_str(run(&name, "a\xC2\x85" "b"), "invalid_chars", "text: C1 control U+0085");
	is_str(run(&name, "a\xE2\x80\xA8" "b"), "invalid_chars", "text: U+2028 line separator");
	is_str(run(&name, "a\xC0\xAF"), "invalid_text", "text: overlong UTF-8");
	is_str(run(&name, "\xED\xA0\x80"), "invalid_text", "text: surrogate");
	is_str(run(&name, "\xE5\xBC"), "invalid_text", "text: truncated sequence");
	is_str(E.message, "姓名含有无法识别的字符", "text: invalid UTF-8 message");
	is_str(run(&name, "😀"), "ok", "text: emoji is one character");
}

/* Display spoofing in names (issue 12): bidi overrides and invisible
 * characters are taken out of single-line text; multi-line text loses the
 * bidi controls only. */
static void test_hidden(void)
{
	val_rule name = {"name", VAL_TEXT, 1, 1, 50, NULL, "姓名"};
	val_rule opt = {"r", VAL_TEXT, 0, 0, 20, NULL, "关系"};
	val_rule two = {"n", VAL_TEXT, 1, 2, 4, NULL, "姓名"};
	val_rule note = {"note", VAL_MULTILINE, 0, 0, 100, NULL, "备注"};

	is_str(run(&name, "\xE2\x80\xAE" "abc"), "ok", "hidden: right-to-left override taken out");
	is_str(V.s, "abc", "hidden: RLO gone, the text reads as typed");
	is_str(run(&name, "adm\xE2\x80\xAEnimda"), "ok", "hidden: override inside a name");
	is_str(V.s, "admnimda", "hidden: inner RLO gone");
	is_str(run(&name, "\xE2\x81\xA6张三\xE2\x81\xA9"), "ok", "hidden: isolates (U+2066, U+2069)");
	is_str(V.s, "张三", "hidden: isolates gone");
	is_str(run(&name, "\xE2\x80\x8E张\xE2\x80\x8F三\xD8\x9C"), "ok", "hidden: LRM, RLM, ALM");
	is_str(V.s, "张三", "hidden: marks gone");
	is_str(run(&name, "张\xE2\x80\x8B三"), "ok", "hidden: zero-width space");
	is_str(V.s, "张三", "hidden: U+200B gone: the same string as the plain name");
	is_str(run(&name, "张\xE2\x80\x8C\xE2\x80\x8D\xE2\x81\xA0\xEF\xBB\xBF三"), "ok", "hidden: ZWNJ, ZWJ, WJ, BOM");
	is_str(V.s, "张三", "hidden: all four gone");
	is_str(run(&name, "张\xC2\xAD三\xEF\xB8\x8F\xE3\x85\xA4"), "ok", "hidden: soft hyphen, VS16, hangul filler");
	is_str(V.s, "张三", "hidden: gone");
	is_str(run(&name, "张\xF3\xA0\x80\x81三"), "ok", "hidden: a tag character (4 bytes)");
	is_str(V.s, "张三", "hidden: tag gone");
	is_str(run(&name, "\xE2\x80\x8B\xE2\x80\xAE\xE2\x80\x8B"), "required", "hidden: nothing visible is no name");
	is_str(E.message, "请填写姓名", "hidden: asked to fill it in");
	is_str(run(&opt, "\xE2\x80\x8B"), "ok", "hidden: optional field of hidden characters only is absent");
	ok(!V.present, "hidden: not present");
	is_str(run(&name, "\xE2\x80\x8B 张三 \xE2\x80\x8B"), "ok", "hidden: spaces behind hidden characters trimmed");
	is_str(V.s, "张三", "hidden: trimmed after stripping");
	is_str(run(&two, "张\xE2\x80\x8B\xE2\x80\x8B\xE2\x80\x8B\xE2\x80\x8B三"), "ok", "hidden: length counted without them");
	is_str(run(&two, "\xE2\x80\x8B张"), "too_short", "hidden: one visible character is too short");
	is_str(run(&name, "José Ünal"), "ok", "hidden: Latin-1 letters stay");
	is_str(V.s, "José Ünal", "hidden: unchanged");
	is_str(run(&name, "a\xE2\x80\xAE\xC0\xAF"), "invalid_text", "hidden: invalid UTF-8 is still refused");
	is_str(run(&note, "第一行\xE2\x80\xAE\n第二行"), "ok", "hidden: multiline loses bidi controls");
	is_str(V.s, "第一行\n第二行", "hidden: multiline value");
	is_str(run(&note, "👨\xE2\x80\x8D👩"), "ok", "hidden: multiline keeps emoji joiners");
	is_str(V.s, "👨\xE2\x80\x8D👩", "hidden: ZWJ kept in multiline");
}

static void test_multiline(void)
{
	static char s[8192];
	val_rule note = {"note", VAL_MULTILINE, 0, 0, 0, NULL, "备注"};
	val_rule three = {"note", VAL_MULTILINE, 0, 0, 3, NULL, "备注"};

	is_str(run(&note, "第一行\r\n第二行"), "ok", "multiline: CRLF allowed");
	is_str(V.s, "第一行\n第二行", "multiline: CRLF becomes LF");
	is_str(run(&note, "a\rb"), "ok", "multiline: lone CR allowed");
	is_str(V.s, "a\nb", "multiline: lone CR becomes LF");
	is_str(run(&note, "a\tb"), "ok", "multiline: tab allowed");
	is_str(run(&note, "a\x07"), "invalid_chars", "multiline: bell rejected");
	is_str(run(&three, "a\r\nb"), "ok", "multiline: CRLF counts as one character");
	is_str(run(&three, "a\r\nbc"), "too_long", "multiline: four characters past 3");
	is_str(run(&note, "\r\n  text \r\n"), "ok", "multiline: surrounding newlines trimmed");
	is_str(V.s, "text", "multiline: trimmed value");
	repeat(s, "b", 2000);
	is_str(run(&note, s), "ok", "multiline: 2000 characters within the default");
	repeat(s, "b", 2001);
	is_str(run(&note, s), "too_long", "multiline: default max is 2000");
}

/* ---- PHONE ---- */

static void test_phone(void)
{
	val_rule r = {"phone", VAL_PHONE, 1, 0, 0, NULL, "手机号"};
	char out[12];

	is_str(run(&r, "13812345678"), "ok", "phone: 11 digits");
	is_str(V.s, "13812345678", "phone: value");
	is_str(run(&r, "+86 138 1234 5678"), "ok", "phone: +86 and spaces");
	is_str(V.s, "13812345678", "phone: normalised to 11 digits");
	is_str(run(&r, "+8613812345678"), "ok", "phone: +86 without space");
	is_str(run(&r, "86-138-1234-5678"), "ok", "phone: 86 and dashes");
	is_str(V.s, "13812345678", "phone: dashes removed");
	is_str(run(&r, "008613812345678"), "ok", "phone: 0086 prefix");
	is_str(run(&r, "19912345678"), "ok", "phone: 199 range");
	is_str(run(&r, "１３８１２３４５６７８"), "ok", "phone: full-width digits");
	is_str(V.s, "13812345678", "phone: full-width normalised");
	is_str(run(&r, "138123456789"), "invalid_phone", "phone: 12 digits");
	is_str(E.message, "手机号格式不正确，请填写11位手机号码", "phone: message");
	is_str(run(&r, "1381234567"), "invalid_phone", "phone: 10 digits");
	is_str(run(&r, "12812345678"), "invalid_phone", "phone: starts with 12");
	is_str(run(&r, "10812345678"), "invalid_phone", "phone: starts with 10");
	is_str(run(&r, "23812345678"), "invalid_phone", "phone: starts with 2");
	is_str(run(&r, "+1 3812345678"), "invalid_phone", "phone: another country code");
	is_str(run(&r, "138-1234-567a"), "invalid_phone", "phone: letter");
	is_str(run(&r, "1381234+5678"), "invalid_phone", "phone: plus in the middle");
	is_str(run(&r, "+86"), "invalid_phone", "phone: prefix alone");
	is_str(run(&r, "8613812345678 9"), "invalid_phone", "phone: 14 digits");
	ok(val_phone("+86 139-0000-0000", out) && strcmp(out, "13900000000") == 0, "val_phone: normalises");
	ok(!val_phone("12345678901", out), "val_phone: rejects 12x");
	ok(!val_phone(NULL, out), "val_phone: NULL is invalid");
	ok(val_phone("13900000000", NULL), "val_phone: output may be NULL");
}

/* ---- DATE ---- */

static void test_date(void)
{
	val_rule r = {"day", VAL_DATE, 0, 0, 0, NULL, "日期"};
	int y = 0, m = 0, d = 0;

	is_str(run(&r, "2024-03-15"), "ok", "date: ordinary date");
	is_str(V.s, "2024-03-15", "date: value");
	is_str(run(&r, "2024-02-29"), "ok", "date: Feb 29 in a leap year");
	is_str(run(&r, "2023-02-29"), "invalid_date", "date: Feb 29 in a common year");
	is_str(run(&r, "2000-02-29"), "ok", "date: Feb 29 in 2000 (divisible by 400)");
	is_str(run(&r, "1900-02-29"), "invalid_date", "date: Feb 29 in 1900 (century, not leap)");
	is_str(run(&r, "2024-02-30"), "invalid_date", "date: Feb 30");
	is_str(run(&r, "2024-04-31"), "invalid_date", "date: April 31");
	is_str(run(&r, "2024-12-31"), "ok", "date: Dec 31");
	is_str(run(&r, "2024-13-01"), "invalid_date", "date: month 13");
	is_str(run(&r, "2024-00-10"), "invalid_date", "date: month 0");
	is_str(run(&r, "2024-01-00"), "invalid_date", "date: day 0");
	is_str(run(&r, "1900-01-01"), "ok", "date: year 1900");
	is_str(run(&r, "1899-12-31"), "invalid_date", "date: year 1899");
	is_str(run(&r, "2200-12-31"), "ok", "date: year 2200");
	is_str(run(&r, "2201-01-01"), "invalid_date", "date: year 2201");
	is_str(run(&r, "2024-3-5"), "invalid_date", "date: one-digit month and day");
	is_str(run(&r, "2024/03/05"), "invalid_date", "date: slashes");
	is_str(run(&r, "2024-03-15x"), "invalid_date", "date: trailing text");
	is_str(run(&r, "２０２４－０３－１５"), "ok", "date: full-width digits and dashes");
	is_str(V.s, "2024-03-15", "date: full-width normalised");
	is_str(run(&r, "tomorrow"), "invalid_date", "date: words rejected");
	is_str(E.message, "日期不是有效的日期，请按“年-月-日”填写，例如 2024-03-15", "date: message names the field");
	ok(val_date("2024-02-29", &y, &m, &d) && y == 2024 && m == 2 && d == 29, "val_date: parts");
	ok(!val_date(NULL, &y, &m, &d), "val_date: NULL");
	ok(val_date("2020-01-01", NULL, NULL, NULL), "val_date: output pointers may be NULL");
}

/* ---- DATETIME ---- */

static void test_datetime(void)
{
	val_rule r = {"at", VAL_DATETIME, 0, 0, 0, NULL, "预约时间"};
	char out[20];
	int tz = 1, has = 1;

	is_str(run(&r, "2024-03-15T09:30"), "ok", "datetime: ISO without seconds");
	is_str(V.s, "2024-03-15 09:30:00", "datetime: seconds added");
	ok(!V.has_tz && V.tz_minutes == 0, "datetime: no offset given");
	is_str(run(&r, "2024-03-15 09:30:15"), "ok", "datetime: space separator with seconds");
	is_str(V.s, "2024-03-15 09:30:15", "datetime: seconds kept");
	is_str(run(&r, "2024-03-15t09:30"), "ok", "datetime: lower-case t");
	is_str(run(&r, "2024-03-15T09:30:00Z"), "ok", "datetime: Z");
	ok(V.has_tz && V.tz_minutes == 0, "datetime: Z is offset 0");
	is_str(run(&r, "2024-03-15T09:30:00+08:00"), "ok", "datetime: +08:00");
	is_int(V.tz_minutes, 480, "datetime: +08:00 is 480 minutes");
	ok(V.has_tz, "datetime: has_tz set");
	is_str(V.s, "2024-03-15 09:30:00", "datetime: offset not applied to the text");
	is_str(run(&r, "2024-03-15T09:30-05:30"), "ok", "datetime: -05:30 without seconds");
	is_int(V.tz_minutes, -330, "datetime: -05:30 is -330 minutes");
	is_str(run(&r, "2024-03-15T09:30:15.250"), "ok", "datetime: fraction of a second");
	is_str(V.s, "2024-03-15 09:30:15", "datetime: fraction dropped");
	is_str(run(&r, "2024-03-15T23:59:59"), "ok", "datetime: last second of a day");
	is_str(run(&r, "2024-03-15T24:00"), "invalid_datetime", "datetime: hour 24");
	is_str(run(&r, "2024-03-15T09:60"), "invalid_datetime", "datetime: minute 60");
	is_str(run(&r, "2024-03-15T09:30:60"), "invalid_datetime", "datetime: second 60");
	is_str(run(&r, "2024-02-30T10:00"), "invalid_datetime", "datetime: impossible date");
	is_str(run(&r, "2024-03-15"), "invalid_datetime", "datetime: date only");
	is_str(run(&r, "2024-03-15T9:30"), "invalid_datetime", "datetime: one-digit hour");
	is_str(run(&r, "2024-03-15T09:30+08"), "invalid_datetime", "datetime: incomplete offset");
	is_str(run(&r, "2024-03-15T09:30+0800"), "invalid_datetime", "datetime: offset without colon");
	is_str(run(&r, "2024-03-15T09:30+15:00"), "invalid_datetime", "datetime: offset past 14 hours");
	is_str(run(&r, "2024-03-15T09:30Zx"), "invalid_datetime", "datetime: text after Z");
	is_str(run(&r, "2024-03-15T09:30:1"), "invalid_datetime", "datetime: one-digit second");
	is_str(run(&r, "2024-03-15T09:30:15."), "invalid_datetime", "datetime: empty fraction");
	is_str(E.message, "预约时间不是有效的时间，请按“年-月-日 时:分”填写，例如 2024-03-15 09:30",
	       "datetime: message");
	ok(val_datetime("2024-02-29T00:00+14:00", out, &tz, &has) && tz == 840 && has &&
	   strcmp(out, "2024-02-29 00:00:00") == 0, "val_datetime: +14:00 on a leap day");
	ok(!val_datetime(NULL, out, &tz, &has), "val_datetime: NULL");
}

/* ---- ENUM and BOOL ---- */

static void test_enum(void)
{
	static const char *const sexes[] = {"男", "女", NULL};
	static const char *const sizes[] = {"small", "large", NULL};
	val_rule sex = {"sex", VAL_ENUM, 1, 0, 0, sexes, "性别"};
	val_rule size = {"size", VAL_ENUM, 0, 0, 0, sizes, "规格"};
	val_rule none = {"x", VAL_ENUM, 0, 0, 0, NULL, "选项"};

	is_str(run(&sex, "女"), "ok", "enum: second choice");
	is_int(V.i, 1, "enum: index of the choice");
	is_str(V.s, "女", "enum: value is the choice");
	is_str(run(&sex, "男"), "ok", "enum: first choice");
	is_int(V.i, 0, "enum: index 0");
	is_str(run(&sex, "未知"), "invalid_choice", "enum: not a choice");
	is_str(E.message, "性别的选项无效，请重新选择", "enum: message");
	is_str(run(&size, "Small"), "invalid_choice", "enum: match is exact (case)");
	is_str(run(&size, "smal"), "invalid_choice", "enum: prefix is not a match");
	is_str(run(&size, "smalll"), "invalid_choice", "enum: longer is not a match");
	is_str(run(&size, " large "), "ok", "enum: surrounding spaces trimmed");
	is_str(run(&none, "a"), "invalid_choice", "enum: no choices accept nothing");
}

static void test_bool(void)
{
	val_rule opt = {"sms", VAL_BOOL, 0, 0, 0, NULL, "短信提醒"};
	val_rule agree = {"agree", VAL_BOOL, 1, 0, 0, NULL, "我已阅读并同意"};
	const char *yes[] = {"1", "on", "true", "yes", "TRUE", "On", "Yes"};
	const char *no[] = {"0", "off", "false", "no", "NO"};
	int all = 1;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		all &= strcmp(run(&opt, yes[i]), "ok") == 0 && V.i == 1 && V.present;
	ok(all, "bool: 1 on true yes (any case) are true");
	all = 1;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		all &= strcmp(run(&opt, no[i]), "ok") == 0 && V.i == 0 && V.present;
	ok(all, "bool: 0 off false no are false");
	is_str(run(&opt, "maybe"), "invalid_bool", "bool: other words rejected");
	is_str(run(&opt, "2"), "invalid_bool", "bool: 2 rejected");
	is_str(run(&opt, NULL), "ok", "bool: unchecked box is absent");
	ok(!V.present && V.i == 0, "bool: absent is false");
	is_str(run(&agree, NULL), "required", "bool: required box not ticked");
	is_str(E.message, "请勾选我已阅读并同意", "bool: required message");
	is_str(run(&agree, "off"), "required", "bool: required box must be true");
	is_str(run(&agree, "on"), "ok", "bool: required box ticked");
}

/* ---- IDCARD ---- */

/* Check character by ISO 7064 MOD 11-2 for the first 17 digits. */
static char id_check(const char *s17)
{
	static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	int sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (s17[i] - '0') * w[i];
	return "10X98765432"[sum % 11];
}

/* An ID number born on the date t + days (local time) with a correct check digit. */
static void id_for_day(char out[19], int days)
{
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;
	localtime_r(&t, &tm);
	char ymd[16];
	strftime(ymd, sizeof ymd, "%Y%m%d", &tm);
	memcpy(out, "110105", 6);
	memcpy(out + 6, ymd, 8);
	memcpy(out + 14, "001", 3);
	out[17] = id_check(out);
	out[18] = 0;
}

static void test_idcard(void)
{
	val_rule r = {"id", VAL_IDCARD, 1, 0, 0, NULL, "身份证号码"};
	char id[19];

	/* examples computed by hand with the GB 11643 weights */
	is_str(run(&r, "11010519491231002X"), "ok", "idcard: valid, check character X");
	is_str(V.s, "11010519491231002X", "idcard: value");
	is_str(run(&r, "11010519491231002x"), "ok", "idcard: lower-case x accepted");
	is_str(V.s, "11010519491231002X", "idcard: x normalised to X");
	is_str(run(&r, "440304198506151237"), "ok", "idcard: valid, check digit 7");
	is_str(run(&r, "320106198808080037"), "ok", "idcard: valid, check digit 7 (1988)");
	is_str(run(&r, "110101199003074477"), "ok", "idcard: valid (1990)");
	is_str(run(&r, " 110101199003074477 "), "ok", "idcard: spaces trimmed");
	is_str(run(&r, "110101199003074478"), "idcard_checksum", "idcard: wrong check digit");
	is_str(E.message, "身份证号码校验位不正确", "idcard: checksum message");
	is_str(run(&r, "11010519491231002Y"), "invalid_idcard", "idcard: Y as last character");
	is_str(run(&r, "110105194912310020"), "idcard_checksum", "idcard: 0 where X belongs");
	is_str(run(&r, "310104200002290014"), "ok", "idcard: born Feb 29, 2000");
	is_str(run(&r, "110105199902300015"), "idcard_birthdate", "idcard: born Feb 30");
	is_str(E.message, "身份证号码中的出生日期不正确", "idcard: birth date message");
	is_str(run(&r, "110105190002290017"), "idcard_birthdate", "idcard: Feb 29, 1900 is not a date");
	is_str(run(&r, "110105209901010012"), "idcard_birthdate", "idcard: born in 2099 (future)");
	is_str(run(&r, "110105189901010017"), "idcard_birthdate", "idcard: born 1899");
	id_for_day(id, 0);
	is_str(run(&r, id), "ok", "idcard: born today");
	id_for_day(id, 2);
	is_str(run(&r, id), "idcard_birthdate", "idcard: born the day after tomorrow");
	is_str(run(&r, "11010519491231002"), "invalid_idcard", "idcard: 17 characters");
	is_str(E.message, "身份证号码格式不正确，应为18位数字（最后一位可以是X）", "idcard: format message");
	is_str(run(&r, "11010519491231002X1"), "invalid_idcard", "idcard: 19 characters");
	is_str(run(&r, "110105194912A1002X"), "invalid_idcard", "idcard: letter inside");
	is_str(run(&r, "110105491231002"), "invalid_idcard", "idcard: old 15-digit number");
	is_str(run(&r, "１１０１０５１９４９１２３１００２Ｘ"), "ok", "idcard: full-width characters folded");
	ok(val_idcard("11010519491231002X"), "val_idcard: valid");
	ok(val_idcard("11010519491231002x"), "val_idcard: lower-case x");
	ok(!val_idcard("11010519491231002Y"), "val_idcard: invalid");
	ok(!val_idcard(NULL), "val_idcard: NULL");
}

/* ---- val_check over a form ---- */

static void test_check(void)
{
	static const char *const sexes[] = {"男", "女", NULL};
	const val_rule rules[] = {
		{"name", VAL_TEXT, 1, 0, 50, NULL, "姓名"},
		{"phone", VAL_PHONE, 1, 0, 0, NULL, "手机号"},
		{"sex", VAL_ENUM, 0, 0, 0, sexes, "性别"},
		{"age", VAL_INT, 0, 0, 150, NULL, "年龄"},
		{"note", VAL_MULTILINE, 0, 0, 0, NULL, "备注"},
	};
	size_t n = sizeof rules / sizeof rules[0];
	form f = FORM_INIT;
	val_result res;

	static const char good[] = "name=%E5%BC%A0%E4%B8%89&phone=%2B86+138-1234-5678&sex=%E5%A5%B3&age=30";
	is_int(form_parse_urlencoded(A, good, strlen(good), NULL, &f), FORM_OK, "check: form parses");
	is_int(val_check(A, rules, n, &f, &res), 0, "check: a good form has no errors");
	is_int(res.nvalues, n, "check: one value per rule");
	is_int(res.nerrors, 0, "check: nerrors 0");
	is_str(val_get(&res, "name")->s, "张三", "check: name value");
	is_str(val_get(&res, "phone")->s, "13812345678", "check: phone normalised");
	is_int(val_get(&res, "sex")->i, 1, "check: enum index");
	is_int(val_get(&res, "age")->i, 30, "check: int value");
	ok(!val_get(&res, "note")->present, "check: optional absent field not present");
	ok(val_get(&res, "nothing") == NULL, "check: val_get of an unknown name");
	is_str(res.values[1].name, "phone", "check: values in rule order");

	form g = FORM_INIT;
	static const char bad[] = "name=&phone=12812345678&sex=x&age=200";
	is_int(form_parse_urlencoded(A, bad, strlen(bad), NULL, &g), FORM_OK, "check: bad form parses");
	is_int(val_check(A, rules, n, &g, &res), 4, "check: all four errors collected");
	is_int(res.nerrors, 4, "check: nerrors 4");
	is_str(res.errors[0].field, "name", "check: first error is the first rule");
	is_str(res.errors[0].code, "required", "check: empty name is required");
	is_str(res.errors[0].message, "请填写姓名", "check: required message");
	is_str(res.errors[1].code, "invalid_phone", "check: bad phone");
	is_str(res.errors[2].code, "invalid_choice", "check: bad enum");
	is_str(res.errors[3].code, "out_of_range", "check: age out of range");
	ok(!val_get(&res, "phone")->present, "check: failed value not present");

	form h = FORM_INIT;
	form_add(A, &h, "name", "a\0b", 3);
	form_add(A, &h, "phone", "13812345678", 11);
	is_int(val_check(A, rules, n, &h, &res), 1, "check: NUL inside a value is caught (uses vlen)");
	is_str(res.errors[0].code, "invalid_text", "check: NUL is invalid text");

	form empty = FORM_INIT;
	is_int(val_check(A, rules, 0, &empty, &res), 0, "check: no rules, no errors");
	is_int(val_check(A, rules, n, &empty, &res), 2, "check: empty form misses both required fields");
}

int main(void)
{
	A = ar_new(0);
	test_int();
	test_required();
	test_text();
	test_hidden();
	test_multiline();
	test_phone();
	test_date();
	test_datetime();
	test_enum();
	test_bool();
	test_idcard();
	test_check();
	ar_free(A);
	return tap_done();
}
