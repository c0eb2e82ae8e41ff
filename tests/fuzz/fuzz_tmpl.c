/* fuzz_tmpl.c - libFuzzer harness for the template engine and html.c.
 *
 * Input: up to four template sources separated by "\n===\n" (named t0, t1,
 * ... so they can include each other), then optionally "\n---\n" and a JSON
 * document. When the JSON is missing or invalid a fixed sample is used. t0
 * is rendered with the data, then twice more with every string of the data
 * replaced: once by harmless letters, once by the same number of characters
 * that matter in HTML. Strings decide nothing but emptiness, so both renders
 * take the same path; escaping must then leave every '<' and '>' of the
 * output to the template text, so both outputs hold the same number of each.
 * The escaping functions also run on the raw input, with their output
 * checked against what their contract promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "html.h"
#include "tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEMPLATES 4

static const char sample[] =
	"{\"title\":\"<b>T</b>\",\"n\":3,\"r\":2.5,\"t\":true,\"f\":false,\"z\":null,"
	"\"u\":\"javascript:alert(1)\",\"e\":\"\",\"empty\":[],"
	"\"xs\":[{\"name\":\"a\",\"kids\":[]},{\"name\":\"<i>\",\"kids\":[{\"name\":\"c\",\"kids\":[]}]}],"
	"\"o\":{\"k\":\"v\",\"e\":\"\",\"q\":\"'\\\"\"}}";

/* 1 when c is one of the characters of set (never for NUL). */
static int in(const char *set, char c)
{
	return c != 0 && strchr(set, c) != NULL;
}

static void fail(const char *what, const buf *b)
{
	fprintf(stderr, "fuzz_tmpl: %s\noutput: %.300s\n", what, buf_str(b));
	abort();
}

/* Sets every string inside j to s (same JSON shape, same control flow). */
static void poison(json_t *j, const char *s)
{
	size_t i;
	const char *k;
	json_t *v;
	switch (json_typeof(j)) {
	case JSON_STRING:
		json_string_set(j, s);
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
			poison(v, s);
		break;
	case JSON_OBJECT:
		json_object_foreach(j, k, v)
			poison(v, s);
		break;
	default:
		break;
	}
}

static size_t count(const buf *b, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->p[i] == c;
	return n;
}

/* Finds sep in p[0..n); returns its offset or n. */
static size_t find(const char *p, size_t n, const char *sep)
{
	size_t k = strlen(sep);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, sep, k) == 0)
			return i;
	return n;
}

static int render(tpl_set *s, json_t *d, buf *out)
{
	char err[256];
	buf_reset(out);
	int rc = tpl_render(s, "t0", d, out, err, sizeof err);
	if (out->p && out->p[out->len] != 0)
		fail("output not NUL-terminated", out);
	if (rc < 0 && err[0] == 0)
		fail("render error without a message", out);
	return rc;
}

static void fuzz_templates(const char *p, size_t n)
{
	size_t split = find(p, n, "\n---\n");
	json_t *d = NULL;
	if (split < n)
		d = json_loadb(p + split + 5, n - split - 5, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!d)
		d = json_loads(sample, 0, NULL);
	tpl_set *s = tpl_new();
	tpl_limits(s, 20000, 1 << 20);
	char err[256], name[8];
	size_t at = 0;
	for (int i = 0; i < MAX_TEMPLATES && at <= split; i++) {
		size_t len = find(p + at, split - at, "\n===\n");
		snprintf(name, sizeof name, "t%d", i);
		err[0] = 0;
		if (tpl_add(s, name, p + at, len, err, sizeof err) < 0 &&
		    (strncmp(err, name, 2) != 0 || err[2] != ':')) {
			buf e = {err, strlen(err), sizeof err};
			fail("load error not prefixed with the template name", &e);
		}
		at += len + 5;
	}
	tpl_check(s, err, sizeof err);
	if (tpl_has(s, "t0")) {
		buf out = BUF_INIT, safe = BUF_INIT, hot = BUF_INIT;
		render(s, d, &out);
		json_t *d1 = json_deep_copy(d), *d2 = json_deep_copy(d);
		poison(d1, "abcdefgh");
		poison(d2, "<a>\"'&`=");
		if (render(s, d1, &safe) == 0 && render(s, d2, &hot) == 0 &&
		    (count(&safe, '<') != count(&hot, '<') || count(&safe, '>') != count(&hot, '>'))) {
			fprintf(stderr, "fuzz_tmpl: harmless data gave: %.300s\n", buf_str(&safe));
			fail("a data string put a raw < or > in the output", &hot);
		}
		json_decref(d1);
		json_decref(d2);
		buf_free(&out);
		buf_free(&safe);
		buf_free(&hot);
	}
	tpl_free(s);
	json_decref(d);
}

/* The scheme html_url's output would be read with, checked like a browser. */
static void check_url(const buf *b)
{
	static const char *const allowed[] = {"http", "https", "mailto", "tel"};
	size_t i;
	for (i = 0; i < b->len; i++)
		if (b->p[i] == ':' || b->p[i] == '/' || b->p[i] == '?' || b->p[i] == '#')
			break;
	if (i == b->len || b->p[i] != ':')
		return;
	for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
		if (strlen(allowed[k]) == i && strncasecmp(b->p, allowed[k], i) == 0)
			return;
	fail("html_url let an unsafe scheme through", b);
}

static void fuzz_html(const char *p, size_t n)
{
	buf b = BUF_INIT;
	html_text(&b, p, n);
	for (size_t i = 0; i < b.len; i++)
		if (in("<>\"'`=", b.p[i]))
			fail("html_text left a special character", &b);

	buf_reset(&b);
	html_urlpart(&b, p, n);
	for (size_t i = 0; i < b.len; i++) {
		char c = b.p[i];
		int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~';
		if (c == '%') {
			if (i + 2 >= b.len || !in("0123456789ABCDEF", b.p[i + 1]) ||
			    !in("0123456789ABCDEF", b.p[i + 2]))
				fail("html_urlpart wrote a bad %XX", &b);
			i += 2;
		} else if (!unreserved)
			fail("html_urlpart left a reserved character", &b);
	}

	buf_reset(&b);
	html_url(&b, p, n);
	for (size_t i = 0; i < b.len; i++)
		if (in("<>\"'`\t\n\r", b.p[i]))
			fail("html_url left a special character", &b);
	check_url(&b);

	buf_reset(&b);
	html_json_script(&b, p, n);
	for (size_t i = 0; i < b.len; i++)
		if (b.p[i] == '<' || b.p[i] == '>' || b.p[i] == '&' ||
		    (i + 2 < b.len && (unsigned char)b.p[i] == 0xE2 && (unsigned char)b.p[i + 1] == 0x80 &&
		     ((unsigned char)b.p[i + 2] == 0xA8 || (unsigned char)b.p[i + 2] == 0xA9)))
			fail("html_json_script left a special character", &b);

	buf_reset(&b);
	html_csv_cell(&b, p, n);
	if (b.len > 0) {
		size_t first = b.p[0] == '"' && b.len > 1 ? 1 : 0;
		if (in("=+-@\t\r", b.p[first]))
			fail("html_csv_cell left a formula", &b);
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	fuzz_templates(p, size);
	fuzz_html(p, size);
	return 0;
}
