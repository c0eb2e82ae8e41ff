/* html.c - the one escaping module: HTML text and attributes, URL components,
 * whole URLs for href/src, JSON inside <script>, CSV cells.
 *
 * Every function appends to a buf and copies runs of harmless bytes in one
 * go, so escaping costs little more than a copy. Input is taken as bytes;
 * UTF-8 passes through unchanged (the request layer rejects invalid UTF-8). */
#include "html.h"
#include <string.h>

/* Entities for the bytes that must not appear raw in text or a quoted
 * attribute, indexed by html_special[byte]. ` and = matter only for unquoted
 * attributes and old browsers, but escaping them costs nothing and keeps a
 * wrongly unquoted attribute safe. */
static const struct { const char *s; size_t n; } html_ent[] = {
	{"", 0}, {"&amp;", 5}, {"&lt;", 4}, {"&gt;", 4}, {"&quot;", 6}, {"&#39;", 5}, {"&#96;", 5}, {"&#61;", 5},
};
static const unsigned char html_special[256] = {
	['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5, ['`'] = 6, ['='] = 7,
};

void html_text(buf *b, const char *s, size_t n)
{
	size_t run = 0;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned k = html_special[(unsigned char)s[i]];
		if (!k)
			continue;
		buf_add(b, s + run, i - run);
		buf_add(b, html_ent[k].s, html_ent[k].n);
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
}

/* RFC 3986 unreserved characters: the only ones left as they are. */
static int html_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~';
}

void html_urlpart(buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (html_unreserved(c))
			continue;
		char pct[3] = {'%', hex[c >> 4], hex[c & 15]};
		buf_add(b, s + run, i - run);
		buf_add(b, pct, 3);
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
}

/* Bytes a URL parser strips from both ends of a URL (C0 controls, space). */
static int html_url_trim(unsigned char c)
{
	return c <= 0x20;
}

/* Bytes a URL parser removes wherever they are (WHATWG URL: ASCII tab or
 * newline), so "java\tscript:" is read as "javascript:". */
static int html_url_skip(unsigned char c)
{
	return c == '\t' || c == '\n' || c == '\r';
}

/* 1 when the URL s[0..n) (already trimmed) is relative or uses an allowed
 * scheme. The scheme is whatever comes before a ':' that precedes any '/',
 * '?' or '#'; tabs and newlines are ignored as browsers do. Anything with a
 * colon there that is not exactly an allowed scheme (including odd ones like
 * "a b:") is refused: refusing a strange relative URL is harmless. */
static int html_url_allowed(const char *s, size_t n)
{
	static const char *const ok[] = {"http", "https", "mailto", "tel"};
	char scheme[8];
	size_t len = 0, i;
	int toolong = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (html_url_skip(c))
			continue;
		if (c == '/' || c == '?' || c == '#')
			return 1;
		if (c == ':')
			break;
		if (len < sizeof scheme - 1)
			scheme[len++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		else
			toolong = 1;
	}
	if (i == n)
		return 1; /* no colon at all: a relative path */
	if (toolong)
		return 0;
	/* compared with lengths: a NUL byte inside must not end the scheme */
	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
		if (strlen(ok[k]) == len && memcmp(scheme, ok[k], len) == 0)
			return 1;
	return 0;
}

void html_url(buf *b, const char *s, size_t n)
{
	size_t a = 0, z = n;
	if (n == 0)
		return; /* an empty href is a relative reference to the page itself */
	while (a < z && html_url_trim((unsigned char)s[a]))
		a++;
	while (z > a && html_url_trim((unsigned char)s[z - 1]))
		z--;
	if (!html_url_allowed(s + a, z - a)) {
		buf_addc(b, '#');
		return;
	}
	/* write the URL as the browser will read it: without the stripped
	 * whitespace and the tabs/newlines it would drop anyway */
	size_t run = a;
	for (size_t i = a; i < z; i++) {
		if (!html_url_skip((unsigned char)s[i]))
			continue;
		html_text(b, s + run, i - run);
		run = i + 1;
	}
	html_text(b, s + run, z - run);
}

void html_json_script(buf *b, const char *s, size_t n)
{
	size_t run = 0;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		size_t skip = 1;
		if (c == '<')
			esc = "\\u003c";
		else if (c == '>')
			esc = "\\u003e";
		else if (c == '&')
			esc = "\\u0026";
		else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		         ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
			/* U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR */
			esc = (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
			skip = 3;
		}
		if (!esc)
			continue;
		buf_add(b, s + run, i - run);
		buf_add(b, esc, 6);
		i += skip - 1;
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
}

/* First characters that make a spreadsheet evaluate a cell as a formula. */
static int html_csv_formula(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* Leading or trailing blank that a spreadsheet would trim unless quoted. */
static int html_csv_blank(char c)
{
	return c == ' ' || c == '\t';
}

void html_csv_cell(buf *b, const char *s, size_t n)
{
	int formula = n > 0 && html_csv_formula(s[0]);
	/* a neutralised cell starts with the ', not with the blank */
	int quote = n > 0 && ((!formula && html_csv_blank(s[0])) || html_csv_blank(s[n - 1]));
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (quote)
		buf_addc(b, '"');
	if (formula)
		buf_addc(b, '\'');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		buf_add(b, s + run, i + 1 - run); /* the quote itself, then again */
		buf_addc(b, '"');
		run = i + 1;
	}
	if (n > run)
		buf_add(b, s + run, n - run);
	if (quote)
		buf_addc(b, '"');
}
