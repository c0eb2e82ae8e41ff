/* t_form.c - urlencoded, multipart and cookie parsing: one behaviour per test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "arena.h"
#include "buf.h"
#include "form.h"

static arena *A;

/* urlencoded parse of a C string into a fresh form */
static int url(const char *s, const form_limits *lim, form *f)
{
	form init = FORM_INIT;
	*f = init;
	return form_parse_urlencoded(A, s, strlen(s), lim, f);
}

static int mp(const char *ctype, const char *body, size_t n, const form_limits *lim, form *f)
{
	form init = FORM_INIT;
	*f = init;
	return form_parse_multipart(A, ctype, body, n, lim, f);
}

static int cookies(const char *s, const form_limits *lim, form *f)
{
	form init = FORM_INIT;
	*f = init;
	return form_parse_cookies(A, s, strlen(s), lim, f);
}

#define MP_CT "multipart/form-data; boundary=XyZ"

/* ---- urlencoded ---- */

static void test_urlencoded_basic(void)
{
	form f;
	is_int(url("a=1&b=2", NULL, &f), FORM_OK, "urlencoded: a=1&b=2 parses");
	is_int(f.count, 2, "urlencoded: two fields");
	is_str(f.head->name, "a", "urlencoded: first name in input order");
	is_str(form_get(&f, "a"), "1", "urlencoded: value of a");
	is_str(form_get(&f, "b"), "2", "urlencoded: value of b");
	is_int(form_find(&f, "b")->vlen, 1, "urlencoded: vlen of b");
	ok(form_get(&f, "c") == NULL, "urlencoded: absent name gives NULL");
}

static void test_urlencoded_plus_and_pct(void)
{
	form f;
	is_int(url("q=hello+world&p=1%2B1&r=a%20b", NULL, &f), FORM_OK, "plus and percent: parses");
	is_str(form_get(&f, "q"), "hello world", "plus becomes a space");
	is_str(form_get(&f, "p"), "1+1", "%%2B stays a literal plus");
	is_str(form_get(&f, "r"), "a b", "%%20 is a space");
	is_int(url("first+name=x", NULL, &f), FORM_OK, "plus in a name parses");
	is_str(form_get(&f, "first name"), "x", "plus in a name becomes a space");
}

static void test_urlencoded_utf8(void)
{
	form f;
	is_int(url("name=%E5%BC%A0%E4%B8%89", NULL, &f), FORM_OK, "upper-case escapes of UTF-8");
	is_str(form_get(&f, "name"), "张三", "decoded to 张三");
	is_int(url("name=%e5%bc%a0", NULL, &f), FORM_OK, "lower-case hex digits");
	is_str(form_get(&f, "name"), "张", "decoded to 张");
	is_int(url("%E5%A7%93%E5%90%8D=%E7%8E%8B", NULL, &f), FORM_OK, "encoded name");
	is_str(form_get(&f, "姓名"), "王", "field found by its decoded name");
	is_int(url("raw=张三", NULL, &f), FORM_OK, "raw UTF-8 bytes are accepted");
	is_str(form_get(&f, "raw"), "张三", "raw UTF-8 kept");
}

static void test_urlencoded_bad_pct(void)
{
	form f;
	is_int(url("a=%zz", NULL, &f), FORM_EPCT, "%%zz is malformed");
	is_int(url("a=%4", NULL, &f), FORM_EPCT, "%%4 at the end is malformed");
	is_int(url("a=%", NULL, &f), FORM_EPCT, "trailing %% is malformed");
	is_int(url("a=%4&b=1", NULL, &f), FORM_EPCT, "%%4 before & is malformed");
	form g = FORM_INIT;
	is_int(form_parse_urlencoded(A, "a=%41", 4, NULL, &g), FORM_EPCT, "escape cut short by the input length");
	is_int(form_parse_urlencoded(A, "a=%41", 5, NULL, &g), FORM_OK, "the same escape within the length");
	is_int(url("a=%g0", NULL, &f), FORM_EPCT, "non-hex first digit");
	is_int(url("a=%0g", NULL, &f), FORM_EPCT, "non-hex second digit");
	is_int(url("%zz=1", NULL, &f), FORM_EPCT, "malformed escape in a name");
	is_int(url("ok=1&bad=%", NULL, &f), FORM_EPCT, "error after a good pair");
	is_int(f.count, 1, "the good pair before the error stays in the form");
}

static void test_urlencoded_empty_pairs(void)
{
	form f;
	is_int(url("&&a=1&&", NULL, &f), FORM_OK, "empty pairs: parses");
	is_int(f.count, 1, "empty pairs are skipped");
	is_int(url("=x&b=2", NULL, &f), FORM_OK, "empty name: parses");
	is_int(f.count, 1, "a pair with an empty name is skipped");
	is_int(url("flag&e=", NULL, &f), FORM_OK, "name without = parses");
	is_str(form_get(&f, "flag"), "", "name without = has an empty value");
	is_str(form_get(&f, "e"), "", "a= has an empty value");
	is_int(url("", NULL, &f), FORM_OK, "empty input parses");
	is_int(f.count, 0, "empty input gives no fields");
	form g = FORM_INIT;
	is_int(form_parse_urlencoded(A, NULL, 0, NULL, &g), FORM_OK, "NULL input of length 0 parses");
	is_int(url("x=a=b", NULL, &f), FORM_OK, "second = belongs to the value");
	is_str(form_get(&f, "x"), "a=b", "value keeps its =");
}

static void test_urlencoded_duplicates(void)
{
	form f;
	is_int(url("t=1&t=2&t=3", NULL, &f), FORM_OK, "duplicates parse");
	is_int(f.count, 3, "all duplicates kept");
	is_str(form_get(&f, "t"), "1", "form_get returns the first value");
	is_str(f.tail->value, "3", "the last one is at the tail");
}

static void test_urlencoded_bad_utf8(void)
{
	form f;
	is_int(url("a=%C0%AF", NULL, &f), FORM_EUTF8, "overlong encoding rejected");
	is_int(url("a=%E0%80%AF", NULL, &f), FORM_EUTF8, "3-byte overlong rejected");
	is_int(url("a=%ED%A0%80", NULL, &f), FORM_EUTF8, "surrogate U+D800 rejected");
	is_int(url("a=%E5%BC", NULL, &f), FORM_EUTF8, "truncated sequence rejected");
	is_int(url("a=%80", NULL, &f), FORM_EUTF8, "lone continuation byte rejected");
	is_int(url("a=%F4%90%80%80", NULL, &f), FORM_EUTF8, "code point past U+10FFFF rejected");
	is_int(url("a=%FF", NULL, &f), FORM_EUTF8, "byte FF rejected");
	is_int(url("%C0%AF=1", NULL, &f), FORM_EUTF8, "invalid UTF-8 in a name rejected");
	is_int(url("a=\xC3", NULL, &f), FORM_EUTF8, "raw truncated byte rejected");
	is_int(url("a=%F0%9F%98%80", NULL, &f), FORM_OK, "4-byte emoji accepted");
}

static void test_urlencoded_nul(void)
{
	form f;
	is_int(url("a=x%00y", NULL, &f), FORM_EUTF8, "NUL via %%00 in a value rejected");
	is_int(url("a%00b=1", NULL, &f), FORM_EUTF8, "NUL via %%00 in a name rejected");
	is_int(form_parse_urlencoded(A, "a=x\0y", 5, NULL, &f), FORM_EUTF8, "raw NUL rejected");
}

static void test_urlencoded_too_many(void)
{
	buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%sf%d=%d", i ? "&" : "", i, i);
	form_limits lim = {1000, 64, 64};
	arena *big = ar_new(0);
	form f = FORM_INIT;
	is_int(form_parse_urlencoded(big, b.p, b.len, &lim, &f), FORM_ETOOMANY, "10,000 fields past a limit of 1000");
	is_int(f.count, 1000, "parsing stopped at the limit");
	ok(ar_footprint(big) < b.len * 2, "memory stays in proportion to the accepted fields (%zu bytes)",
	   ar_footprint(big));
	ar_free(big);

	form g = FORM_INIT;
	is_int(form_parse_urlencoded(A, b.p, b.len, NULL, &g), FORM_ETOOMANY, "default limit also stops 10,000 fields");
	is_int(g.count, FORM_DEFAULT_MAX_FIELDS, "default limit is FORM_DEFAULT_MAX_FIELDS");

	form_limits lim3 = {3, 0, 0};
	is_int(url("a=1&b=2&c=3", &lim3, &f), FORM_OK, "exactly max_fields is fine");
	is_int(url("a=1&b=2&c=3&d=4", &lim3, &f), FORM_ETOOMANY, "one more than max_fields");
	/* the limit counts fields already in the form (query + body) */
	form q = FORM_INIT;
	form_parse_urlencoded(A, "a=1&b=2", 7, &lim3, &q);
	is_int(form_parse_urlencoded(A, "c=3&d=4", 7, &lim3, &q), FORM_ETOOMANY, "limit counts fields already present");
	buf_free(&b);
}

static void test_urlencoded_too_long(void)
{
	form f;
	form_limits lim = {10, 4, 8};
	is_int(url("abcd=12345678", &lim, &f), FORM_OK, "name and value at their limits");
	is_int(url("abcde=1", &lim, &f), FORM_ETOOLONG, "name one byte too long");
	is_int(url("a=123456789", &lim, &f), FORM_ETOOLONG, "value one byte too long");
	is_int(url("a=%41%42%43%44%45%46%47%48", &lim, &f), FORM_OK, "limit applies to the decoded length");
	is_str(form_get(&f, "a"), "ABCDEFGH", "decoded value");
	is_int(url("a=%41%42%43%44%45%46%47%48%49", &lim, &f), FORM_ETOOLONG, "decoded length past the limit");

	size_t n = 2 * 1024 * 1024;
	char *s = malloc(n + 3);
	memcpy(s, "v=", 2);
	memset(s + 2, 'x', n);
	s[n + 2] = 0;
	form g = FORM_INIT;
	is_int(form_parse_urlencoded(A, s, n + 2, NULL, &g), FORM_ETOOLONG, "2 MiB value past the default limit");
	form_limits biglim = {10, 10, n};
	form h = FORM_INIT;
	is_int(form_parse_urlencoded(A, s, n + 2, &biglim, &h), FORM_OK, "2 MiB value within a raised limit");
	is_int(h.head ? h.head->vlen : 0, n, "the whole long value kept");
	free(s);
}

static void test_pct_decode(void)
{
	size_t n = 99;
	char *d = form_pct_decode(A, "a+b%21", 6, 0, &n);
	is_str(d, "a+b!", "plus kept when plus_space is 0");
	is_int(n, 4, "decoded length");
	is_str(form_pct_decode(A, "a+b", 3, 1, NULL), "a b", "plus becomes space when asked; outn may be NULL");
	ok(form_pct_decode(A, "%4", 2, 0, &n) == NULL, "malformed input gives NULL");
	d = form_pct_decode(A, "x%00y", 5, 0, &n);
	ok(d && n == 3 && d[1] == 0 && d[2] == 'y', "%%00 decodes to a NUL byte and counts it");
	d = form_pct_decode(A, "", 0, 1, &n);
	ok(d && d[0] == 0 && n == 0, "empty input decodes to an empty string");
}

static void test_form_add(void)
{
	form f = FORM_INIT;
	char name[8] = "k", val[8] = "v1";
	form_add(A, &f, name, val, 2);
	name[0] = 'z';
	val[1] = '9';
	is_str(form_get(&f, "k"), "v1", "form_add copies name and value");
	form_add(A, &f, "bin", "a\0b", 3);
	const form_field *x = form_find(&f, "bin");
	ok(x && x->vlen == 3 && x->value[2] == 'b' && x->value[3] == 0, "form_add keeps vlen bytes and a NUL after");
	ok(x && x->filename == NULL && x->ctype == NULL, "form_add makes a text field");
	is_int(f.count, 2, "count follows form_add");
	ok(form_find(NULL, "k") == NULL, "form_find(NULL) is NULL");
}

/* ---- multipart ---- */

static void test_multipart_happy(void)
{
	static const char file[] = "\x89PNG\r\n\x00\x01--XyZ not a delimiter\r\n--XyZa\r\n\xff";
	buf b = BUF_INIT;
	buf_adds(&b, "--XyZ\r\n"
	         "Content-Disposition: form-data; name=\"name\"\r\n"
	         "\r\n"
	         "张三\r\n"
	         "--XyZ\r\n"
	         "content-disposition: form-data; name=\"note\"\r\n"
	         "Content-Type: text/plain; charset=UTF-8\r\n"
	         "\r\n"
	         "line 1\r\nline 2\r\n"
	         "--XyZ\r\n"
	         "Content-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n"
	         "Content-Type: image/png\r\n"
	         "\r\n");
	buf_add(&b, file, sizeof file - 1);
	buf_adds(&b, "\r\n--XyZ--\r\n");
	form f;
	is_int(mp(MP_CT, b.p, b.len, NULL, &f), FORM_OK, "multipart: two fields and a file parse");
	is_int(f.count, 3, "multipart: three parts");
	is_str(form_get(&f, "name"), "张三", "multipart: text value");
	const form_field *n = form_find(&f, "note");
	is_str(n ? n->value : NULL, "line 1\r\nline 2", "multipart: value keeps inner CRLF, loses the delimiter's");
	is_str(n ? n->ctype : NULL, "text/plain; charset=UTF-8", "multipart: part Content-Type");
	ok(n && n->filename == NULL, "multipart: text part has no filename");
	const form_field *p = form_find(&f, "photo");
	is_str(p ? p->filename : NULL, "a.png", "multipart: filename");
	is_str(p ? p->ctype : NULL, "image/png", "multipart: file Content-Type");
	ok(p && p->vlen == sizeof file - 1 && memcmp(p->value, file, sizeof file - 1) == 0,
	   "multipart: binary file content intact (NUL, boundary-like text)");
	ok(p && p->value[p->vlen] == 0, "multipart: file content NUL-terminated");
	buf_free(&b);
}

static void test_multipart_boundary_param(void)
{
	static const char body[] = "--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b--";
	form f;
	is_int(mp("multipart/form-data; boundary=\"a b\"", body, sizeof body - 1, NULL, &f), FORM_OK,
	       "quoted boundary with a space");
	is_str(form_get(&f, "x"), "1", "quoted boundary: value (token name)");
	static const char body2[] = "--B1\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n2\r\n--B1--\r\n";
	is_int(mp("Multipart/Form-Data; charset=utf-8; BOUNDARY=B1", body2, sizeof body2 - 1, NULL, &f), FORM_OK,
	       "type and parameter names are case-insensitive, other parameters ignored");
	is_str(form_get(&f, "x"), "2", "case-insensitive: value");
	is_int(mp("multipart/form-data;boundary=\"B1\"  ", body2, sizeof body2 - 1, NULL, &f), FORM_OK,
	       "no space after ';' and trailing space");
}

static void test_multipart_bad_boundary(void)
{
	static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n";
	size_t n = sizeof body - 1;
	form f;
	is_int(mp("multipart/form-data", body, n, NULL, &f), FORM_EBOUNDARY, "missing boundary");
	is_int(mp("multipart/form-data; charset=utf-8", body, n, NULL, &f), FORM_EBOUNDARY, "other parameter only");
	is_int(mp("multipart/form-data; boundary=", body, n, NULL, &f), FORM_EBOUNDARY, "empty boundary");
	is_int(mp("multipart/form-data; boundary=\"\"", body, n, NULL, &f), FORM_EBOUNDARY, "empty quoted boundary");
	is_int(mp("multipart/form-data; boundary=\"b ", body, n, NULL, &f), FORM_EBOUNDARY, "unterminated quote");
	is_int(mp("multipart/form-data; boundary=\"b \"", body, n, NULL, &f), FORM_EBOUNDARY, "boundary ending in a space");
	is_int(mp("multipart/form-data; boundary=a\x01", body, n, NULL, &f), FORM_EBOUNDARY, "control character in boundary");
	is_int(mp(NULL, body, n, NULL, &f), FORM_EBOUNDARY, "no Content-Type at all");
	is_int(mp("text/plain; boundary=b", body, n, NULL, &f), FORM_EMALFORMED, "not multipart/form-data");

	char ct[1200], b70[71], b71[72];
	memset(b70, 'q', 70);
	b70[70] = 0;
	memset(b71, 'q', 71);
	b71[71] = 0;
	char longb[1001];
	memset(longb, 'k', 1000);
	longb[1000] = 0;
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", longb);
	buf bb = BUF_INIT;
	buf_printf(&bb, "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--%s--\r\n", longb, longb);
	is_int(mp(ct, bb.p, bb.len, NULL, &f), FORM_EBOUNDARY, "1000-byte boundary rejected");
	buf_reset(&bb);
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b71);
	buf_printf(&bb, "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--%s--\r\n", b71, b71);
	is_int(mp(ct, bb.p, bb.len, NULL, &f), FORM_EBOUNDARY, "71-byte boundary rejected");
	buf_reset(&bb);
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
	buf_printf(&bb, "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--%s--\r\n", b70, b70);
	is_int(mp(ct, bb.p, bb.len, NULL, &f), FORM_OK, "70-byte boundary accepted");
	is_str(form_get(&f, "x"), "1", "70-byte boundary: value");
	buf_free(&bb);

	is_int(mp("multipart/form-data; boundary=other", body, n, NULL, &f), FORM_EBOUNDARY, "boundary not in the body");
	is_int(mp("multipart/form-data; boundary=b", "", 0, NULL, &f), FORM_EBOUNDARY, "empty body");
}

static void test_multipart_preamble_epilogue(void)
{
	static const char body[] = "This is a preamble.\r\n--XyZ  \t\r\n"
	                           "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
	                           "--XyZ--\r\nepilogue --XyZ\r\n garbage";
	form f;
	is_int(mp(MP_CT, body, sizeof body - 1, NULL, &f), FORM_OK, "preamble, padding after boundary, epilogue");
	is_int(f.count, 1, "one part between preamble and epilogue");
	is_str(form_get(&f, "a"), "1", "value read");
	static const char empty[] = "--XyZ--\r\n";
	is_int(mp(MP_CT, empty, sizeof empty - 1, NULL, &f), FORM_OK, "close delimiter alone: no parts");
	is_int(f.count, 0, "no parts");
	static const char ev[] = "--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--";
	is_int(mp(MP_CT, ev, sizeof ev - 1, NULL, &f), FORM_OK, "part with an empty value");
	is_str(form_get(&f, "e"), "", "empty value");
	static const char fake[] = "--XyZ\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n"
	                           "a\r\n--XyZabc\r\nb\r\n--XyZ--";
	is_int(mp(MP_CT, fake, sizeof fake - 1, NULL, &f), FORM_OK, "boundary followed by other text is content");
	is_str(form_get(&f, "t"), "a\r\n--XyZabc\r\nb", "content keeps the boundary-like line");
}

static void test_multipart_malformed(void)
{
	form f;
	static const char nocd[] = "--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, nocd, sizeof nocd - 1, NULL, &f), FORM_EMALFORMED, "part without Content-Disposition");
	static const char nohdr[] = "--XyZ\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, nohdr, sizeof nohdr - 1, NULL, &f), FORM_EMALFORMED, "part without headers");
	static const char att[] = "--XyZ\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, att, sizeof att - 1, NULL, &f), FORM_EMALFORMED, "disposition other than form-data");
	static const char noname[] = "--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, noname, sizeof noname - 1, NULL, &f), FORM_EMALFORMED, "disposition without a name");
	static const char emptyname[] = "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, emptyname, sizeof emptyname - 1, NULL, &f), FORM_EMALFORMED, "empty name");
	static const char lf[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\n\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, lf, sizeof lf - 1, NULL, &f), FORM_EMALFORMED, "bare LF line ends in headers");
	static const char nocolon[] = "--XyZ\r\nContent-Disposition form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, nocolon, sizeof nocolon - 1, NULL, &f), FORM_EMALFORMED, "header line without a colon");
	static const char fold[] = "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, fold, sizeof fold - 1, NULL, &f), FORM_EMALFORMED, "folded header line");
	static const char twocd[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n"
	                            "Content-Disposition: form-data; name=\"y\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, twocd, sizeof twocd - 1, NULL, &f), FORM_EMALFORMED, "two Content-Disposition headers");
	static const char badq[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, badq, sizeof badq - 1, NULL, &f), FORM_EMALFORMED, "unterminated quoted name");
	static const char trunc[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1234";
	is_int(mp(MP_CT, trunc, sizeof trunc - 1, NULL, &f), FORM_EMALFORMED, "body ends inside a part");
	static const char trunch[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"";
	is_int(mp(MP_CT, trunch, sizeof trunch - 1, NULL, &f), FORM_EMALFORMED, "body ends inside headers");
	static const char nocrlf[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ";
	is_int(mp(MP_CT, nocrlf, sizeof nocrlf - 1, NULL, &f), FORM_EMALFORMED, "no close delimiter");

	buf b = BUF_INIT;
	buf_adds(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: ");
	for (int i = 0; i < FORM_MAX_PART_HEADERS; i++)
		buf_addc(&b, 'p');
	buf_adds(&b, "\r\n\r\n1\r\n--XyZ--\r\n");
	is_int(mp(MP_CT, b.p, b.len, NULL, &f), FORM_EMALFORMED, "part header section over FORM_MAX_PART_HEADERS");
	buf_free(&b);
}

static void test_multipart_names_and_files(void)
{
	form f;
	static const char esc[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a%22b%0Ac\"; "
	                          "filename=\"C:\\Users\\li\\photo %22x%22.jpg\"\r\n\r\nz\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, esc, sizeof esc - 1, NULL, &f), FORM_OK, "escaped name and Windows path parse");
	is_str(f.head ? f.head->name : NULL, "a\"b\nc", "%%22 and %%0A decoded in the name");
	is_str(f.head ? f.head->filename : NULL, "photo \"x\".jpg", "filename keeps its base name only");
	static const char unix_path[] = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\nz\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, unix_path, sizeof unix_path - 1, NULL, &f), FORM_OK, "path filename parses");
	is_str(f.head ? f.head->filename : NULL, "passwd", "directory parts removed from filename");
	static const char nofile[] = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
	                             "Content-Type: application/octet-stream\r\n\r\n\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, nofile, sizeof nofile - 1, NULL, &f), FORM_OK, "empty file input parses");
	ok(f.head && f.head->filename && f.head->filename[0] == 0 && f.head->vlen == 0,
	   "empty file input: empty filename, no content");
	static const char badtext[] = "--XyZ\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n\xC0\xAF\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, badtext, sizeof badtext - 1, NULL, &f), FORM_EUTF8, "text part with invalid UTF-8");
	static const char nultext[] = "--XyZ\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\na\0b\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, nultext, sizeof nultext - 1, NULL, &f), FORM_EUTF8, "text part with a NUL byte");
	static const char badfile[] = "--XyZ\r\nContent-Disposition: form-data; name=\"t\"; filename=\"b.bin\"\r\n\r\n\xC0\xAF\0\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, badfile, sizeof badfile - 1, NULL, &f), FORM_OK, "file part may hold any bytes");
	is_int(f.head ? f.head->vlen : 0, 3, "file part length counts the NUL");
	static const char badname[] = "--XyZ\r\nContent-Disposition: form-data; name=\"\xFF\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, badname, sizeof badname - 1, NULL, &f), FORM_EUTF8, "name with invalid UTF-8");
	static const char utfname[] = "--XyZ\r\nContent-Disposition: form-data; name=\"备注\"; filename=\"照片.jpg\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, utfname, sizeof utfname - 1, NULL, &f), FORM_OK, "UTF-8 name and filename");
	is_str(f.head ? f.head->filename : NULL, "照片.jpg", "UTF-8 filename kept");
}

static void test_multipart_limits(void)
{
	form f;
	static const char three[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
	                            "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
	                            "--XyZ\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n3\r\n--XyZ--\r\n";
	form_limits two = {2, 0, 0};
	is_int(mp(MP_CT, three, sizeof three - 1, &two, &f), FORM_ETOOMANY, "more parts than max_fields");
	is_int(f.count, 2, "parts before the limit kept");
	form_limits shortv = {0, 0, 1};
	static const char longv[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, longv, sizeof longv - 1, &shortv, &f), FORM_ETOOLONG, "part value past max_value");
	form_limits shortn = {0, 1, 0};
	is_int(mp(MP_CT, longv, sizeof longv - 1, &shortn, &f), FORM_OK, "one-byte name within max_name 1");
	static const char longn[] = "--XyZ\r\nContent-Disposition: form-data; name=\"ab\"\r\n\r\n1\r\n--XyZ--\r\n";
	is_int(mp(MP_CT, longn, sizeof longn - 1, &shortn, &f), FORM_ETOOLONG, "part name past max_name");
}

static double seconds_since(clock_t t0)
{
	return (double)(clock() - t0) / CLOCKS_PER_SEC;
}

static void test_multipart_linear(void)
{
	/* 10,000 parts and a 4 MiB file: a quadratic scan would take minutes */
	buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nvalue %d\r\n", i, i);
	buf_adds(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"big\"; filename=\"big.bin\"\r\n\r\n");
	size_t big = 4u << 20;
	for (size_t i = 0; i < big; i++)
		buf_addc(&b, (char)('-' + (i % 3 == 0)));   /* many '-' runs, no CRLF */
	buf_adds(&b, "\r\n--XyZ--\r\n");
	form_limits lim = {20000, 0, 8u << 20};
	arena *ar = ar_new(0);
	form f = FORM_INIT;
	clock_t t0 = clock();
	int rc = form_parse_multipart(ar, MP_CT, b.p, b.len, &lim, &f);
	double dt = seconds_since(t0);
	is_int(rc, FORM_OK, "10,000 parts and a 4 MiB file parse");
	is_int(f.count, 10001, "all parts read");
	is_str(form_get(&f, "f9999"), "value 9999", "last small part read");
	const form_field *x = form_find(&f, "big");
	is_int(x ? x->vlen : 0, big, "big file length");
	printf("# 10,000 parts + 4 MiB took %.3f s\n", dt);   /* reported, not asserted: no timing in tests */
	ar_free(ar);

	/* many almost-delimiters: "\r\n--XyZ" followed by junk, over and over */
	buf_reset(&b);
	buf_adds(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"t\"; filename=\"t\"\r\n\r\n");
	for (int i = 0; i < 50000; i++)
		buf_adds(&b, "\r\n--XyZ!");
	buf_adds(&b, "\r\n--XyZ--");
	ar = ar_new(0);
	form g = FORM_INIT;
	t0 = clock();
	rc = form_parse_multipart(ar, MP_CT, b.p, b.len, &lim, &g);
	dt = seconds_since(t0);
	is_int(rc, FORM_OK, "50,000 false delimiters parse");
	printf("# 50,000 false delimiters took %.3f s\n", dt);   /* reported, not asserted: no timing in tests */
	ar_free(ar);
	buf_free(&b);
}

static void test_urlencoded_linear(void)
{
	buf b = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_printf(&b, "%sk%d=%%E5%%BC%%A0+%d", i ? "&" : "", i, i);
	form_limits lim = {200000, 0, 0};
	arena *ar = ar_new(0);
	form f = FORM_INIT;
	clock_t t0 = clock();
	int rc = form_parse_urlencoded(ar, b.p, b.len, &lim, &f);
	double dt = seconds_since(t0);
	is_int(rc, FORM_OK, "100,000 urlencoded fields parse");
	is_str(f.tail ? f.tail->value : NULL, "张 99999", "last field decoded");
	printf("# 100,000 urlencoded fields took %.3f s\n", dt);   /* reported, not asserted: no timing in tests */
	ar_free(ar);
	buf_free(&b);
}

/* ---- cookies ---- */

static void test_cookies(void)
{
	form f;
	is_int(cookies("a=1; b=2", NULL, &f), FORM_OK, "cookies: a=1; b=2");
	is_int(f.count, 2, "cookies: two");
	is_str(form_get(&f, "b"), "2", "cookies: value of b");
	is_int(cookies("  a = 1 ;b=2;   c=3  ", NULL, &f), FORM_OK, "cookies with extra spaces");
	is_str(form_get(&f, "a"), "1", "spaces around name and value trimmed");
	is_str(form_get(&f, "c"), "3", "trailing spaces trimmed");
	is_int(cookies("sid=\"abc def\"; e=\"\"", NULL, &f), FORM_OK, "quoted values");
	is_str(form_get(&f, "sid"), "abc def", "quotes removed, inner space kept");
	is_str(form_get(&f, "e"), "", "empty quoted value");
	is_int(cookies("a=; b=x", NULL, &f), FORM_OK, "empty value");
	is_str(form_get(&f, "a"), "", "empty value kept as \"\"");
	is_int(cookies("pct=%41%zz", NULL, &f), FORM_OK, "values are not percent-decoded");
	is_str(form_get(&f, "pct"), "%41%zz", "value kept raw");
	is_int(cookies(";;novalue; =x; a b=1; ok=1; bad=\x01; q=\"a\"b\"; u=\xC0\xAF", NULL, &f), FORM_OK,
	       "malformed pairs are not fatal");
	is_int(f.count, 1, "only the good pair kept");
	is_str(form_get(&f, "ok"), "1", "good pair among bad ones");
	is_int(cookies("", NULL, &f), FORM_OK, "empty header");
	is_int(f.count, 0, "empty header: no cookies");
	is_int(cookies("__Host-sid=abc123; lang=zh-CN", NULL, &f), FORM_OK, "prefixed names");
	is_str(form_get(&f, "__Host-sid"), "abc123", "prefixed name read");
	is_int(cookies("n=张三", NULL, &f), FORM_OK, "UTF-8 value");
	is_str(form_get(&f, "n"), "张三", "UTF-8 value kept");
	is_int(cookies("t=a=b", NULL, &f), FORM_OK, "= inside a value");
	is_str(form_get(&f, "t"), "a=b", "value keeps its =");
}

static void test_cookies_limits(void)
{
	form f;
	form_limits two = {2, 4, 4};
	is_int(cookies("a=1; b=2; c=3", &two, &f), FORM_ETOOMANY, "cookies past max_fields");
	is_int(f.count, 2, "cookies before the limit kept");
	is_int(cookies("abcde=1", &two, &f), FORM_ETOOLONG, "cookie name past max_name");
	is_int(cookies("a=12345", &two, &f), FORM_ETOOLONG, "cookie value past max_value");
	is_int(cookies("abcd=1234", &two, &f), FORM_OK, "cookie name and value at their limits");
}

/* ---- messages ---- */

static void test_messages(void)
{
	is_str(form_strerror(FORM_EPCT), "提交的内容编码有误，请返回重试。", "EPCT message for residents");
	is_str(form_errcode(FORM_EPCT), "bad_percent_encoding", "EPCT code");
	is_str(form_errcode(FORM_EUTF8), "bad_utf8", "EUTF8 code");
	is_str(form_errcode(FORM_ETOOMANY), "too_many_fields", "ETOOMANY code");
	is_str(form_errcode(FORM_ETOOLONG), "too_long", "ETOOLONG code");
	is_str(form_errcode(FORM_EBOUNDARY), "bad_boundary", "EBOUNDARY code");
	is_str(form_errcode(FORM_EMALFORMED), "malformed", "EMALFORMED code");
	is_str(form_errcode(FORM_OK), "ok", "OK code");
	is_str(form_errcode(99), "unknown", "unknown error code");
	is_str(form_errcode(-1), "unknown", "negative error code");
	ok(form_strerror(99) && strstr(form_strerror(99), "请"), "unknown error still has a message");
	int distinct = 1;
	for (int i = FORM_EPCT; i <= FORM_EMALFORMED; i++)
		for (int j = i + 1; j <= FORM_EMALFORMED; j++)
			if (!strcmp(form_strerror(i), form_strerror(j)) || !strcmp(form_errcode(i), form_errcode(j)))
				distinct = 0;
	ok(distinct, "every error has its own message and code");
}

int main(void)
{
	A = ar_new(0);
	test_urlencoded_basic();
	test_urlencoded_plus_and_pct();
	test_urlencoded_utf8();
	test_urlencoded_bad_pct();
	test_urlencoded_empty_pairs();
	test_urlencoded_duplicates();
	test_urlencoded_bad_utf8();
	test_urlencoded_nul();
	test_urlencoded_too_many();
	test_urlencoded_too_long();
	test_urlencoded_linear();
	test_pct_decode();
	test_form_add();
	test_multipart_happy();
	test_multipart_boundary_param();
	test_multipart_bad_boundary();
	test_multipart_preamble_epilogue();
	test_multipart_malformed();
	test_multipart_names_and_files();
	test_multipart_limits();
	test_multipart_linear();
	test_cookies();
	test_cookies_limits();
	test_messages();
	ar_free(A);
	return tap_done();
}
