/* t_html.c - the escaping module: every context, unsafe URL schemes, URL
 * components, JSON in <script>, CSV quoting and formula neutralisation. */
#include <string.h>
#include "html.h"
#include "tap.h"

typedef void (*esc_fn)(buf *, const char *, size_t);

static buf out = BUF_INIT;

/* Escapes s[0..n) with f into a fresh buffer and returns the text. */
static const char *escn(esc_fn f, const char *s, size_t n)
{
	buf_reset(&out);
	f(&out, s, n);
	return buf_str(&out);
}

static const char *esc(esc_fn f, const char *s)
{
	return escn(f, s, strlen(s));
}

static void test_text(void)
{
	is_str(esc(html_text, "plain 社区 text"), "plain 社区 text", "text: plain and Chinese text unchanged");
	is_str(esc(html_text, "<script>alert('x')</script>"),
	       "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "text: <script> escaped");
	is_str(esc(html_text, "a&b\"c'd`e=f"), "a&amp;b&quot;c&#39;d&#96;e&#61;f",
	       "text: & \" ' ` = escaped as entities");
	is_str(esc(html_text, "\" onmouseover=\"alert(1)"), "&quot; onmouseover&#61;&quot;alert(1)",
	       "attribute: a quote cannot end the attribute");
	is_str(esc(html_text, "&amp;"), "&amp;amp;", "text: existing entities are escaped again");
	is_str(esc(html_text, ""), "", "text: empty stays empty");
	escn(html_text, "a\0<", 3);
	ok(out.len == 6 && memcmp(out.p, "a\0&lt;", 6) == 0, "text: length given, bytes after a NUL escaped too");
	buf_reset(&out);
	buf_adds(&out, "x");
	html_text(&out, "<", 1);
	is_str(buf_str(&out), "x&lt;", "text: appends to what the buffer holds");
}

static void test_urlpart(void)
{
	is_str(esc(html_urlpart, "abcXYZ019-._~"), "abcXYZ019-._~", "urlpart: unreserved characters kept");
	is_str(esc(html_urlpart, "a b&c=d/e?f#g+h%"), "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25",
	       "urlpart: reserved characters percent-encoded");
	is_str(esc(html_urlpart, "社区活动"), "%E7%A4%BE%E5%8C%BA%E6%B4%BB%E5%8A%A8",
	       "urlpart: Chinese text encoded byte by byte, upper-case hex");
	is_str(esc(html_urlpart, "\"'<>`"), "%22%27%3C%3E%60", "urlpart: attribute-breaking characters encoded");
	escn(html_urlpart, "\0\xff", 2);
	is_str(buf_str(&out), "%00%FF", "urlpart: NUL and high bytes encoded");
}

/* s with control characters written as \t, \n, \r or \xNN, for test names. */
static const char *shown(const char *s)
{
	static char v[256];
	size_t k = 0;
	for (; *s && k < sizeof v - 5; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\t' || c == '\n' || c == '\r')
			k += (size_t)snprintf(v + k, sizeof v - k, "\\%c", c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
		else if (c < 0x20)
			k += (size_t)snprintf(v + k, sizeof v - k, "\\x%02X", c);
		else
			v[k++] = (char)c;
	}
	v[k] = 0;
	return v;
}

static void test_url(void)
{
	static const char *const bad[] = {
		"javascript:alert(1)", "JAVASCRIPT:alert(1)", "JavaScript:alert(1)",
		" javascript:alert(1)", "\x01\x02javascript:alert(1)", "java\tscript:alert(1)",
		"java\nscript:alert(1)", "java\r\nscript:alert(1)", "\tjavascript:alert(1)",
		"data:text/html;base64,PHNjcmlwdD4=", "DATA:text/html,x", "vbscript:msgbox(1)",
		"file:///etc/passwd", "httpx://a", "mailtox:a", "a b:c", "javascript :x",
		"verylongschemename:x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		is_str(esc(html_url, bad[i]), "#", "url: unsafe \"%s\" becomes #", shown(bad[i]));
	is_str(escn(html_url, "http\0s:x", 7), "#", "url: a NUL inside the scheme does not cut it short");
	is_str(esc(html_url, "https://example.org/a?b=1&c=2"), "https://example.org/a?b&#61;1&amp;c&#61;2",
	       "url: https allowed, attribute-escaped");
	is_str(esc(html_url, "HTTP://EXAMPLE.ORG/"), "HTTP://EXAMPLE.ORG/", "url: scheme check ignores case");
	is_str(esc(html_url, "http://x.cn"), "http://x.cn", "url: http allowed");
	is_str(esc(html_url, "mailto:a@b.cn"), "mailto:a@b.cn", "url: mailto allowed");
	is_str(esc(html_url, "tel:+86-10-1234"), "tel:+86-10-1234", "url: tel allowed");
	is_str(esc(html_url, "/events/3"), "/events/3", "url: absolute path allowed");
	is_str(esc(html_url, "./a"), "./a", "url: ./ relative allowed");
	is_str(esc(html_url, "events/3"), "events/3", "url: bare relative path allowed");
	is_str(esc(html_url, "?page=2"), "?page&#61;2", "url: query-only allowed");
	is_str(esc(html_url, "#top"), "#top", "url: fragment allowed");
	is_str(esc(html_url, "/a:b"), "/a:b", "url: colon after the first slash is not a scheme");
	is_str(esc(html_url, "?next=javascript:x"), "?next&#61;javascript:x", "url: colon inside a query is fine");
	is_str(esc(html_url, "//cdn.example.org/x"), "//cdn.example.org/x", "url: scheme-relative allowed");
	is_str(esc(html_url, ""), "", "url: empty stays empty");
	is_str(esc(html_url, "  /x \n"), "/x", "url: surrounding whitespace dropped");
	is_str(esc(html_url, "ht\ttps://a.cn/\nb"), "https://a.cn/b", "url: tabs/newlines dropped as browsers do");
	is_str(esc(html_url, "/a\"onmouseover=alert(1)"), "/a&quot;onmouseover&#61;alert(1)",
	       "url: attribute-escaped");
	is_str(esc(html_url, "javascript&#58;alert(1)"), "javascript&amp;#58;alert(1)",
	       "url: entity-disguised colon stays literal text (a fragment)");
	is_str(esc(html_url, "https://例子.cn/社区"), "https://例子.cn/社区", "url: UTF-8 kept");
}

static void test_json_script(void)
{
	is_str(esc(html_json_script, "{\"a\":\"</script><b>&\"}"),
	       "{\"a\":\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\"}", "json: < > & as \\u escapes");
	is_str(esc(html_json_script, "\"\xE2\x80\xA8|\xE2\x80\xA9\""), "\"\\u2028|\\u2029\"",
	       "json: U+2028 and U+2029 escaped");
	is_str(esc(html_json_script, "[\"中文\",1,true,null]"), "[\"中文\",1,true,null]",
	       "json: other text unchanged");
	is_str(esc(html_json_script, "\"\xE2\x80\xA7\""), "\"\xE2\x80\xA7\"", "json: U+2027 unchanged");
	is_str(esc(html_json_script, "\"\xE2\x80"), "\"\xE2\x80", "json: truncated sequence at the end copied");
}

static void test_csv(void)
{
	is_str(esc(html_csv_cell, "plain"), "plain", "csv: plain cell unquoted");
	is_str(esc(html_csv_cell, "张三"), "张三", "csv: Chinese unquoted");
	is_str(esc(html_csv_cell, ""), "", "csv: empty cell");
	is_str(esc(html_csv_cell, "a,b"), "\"a,b\"", "csv: comma quoted");
	is_str(esc(html_csv_cell, "say \"hi\""), "\"say \"\"hi\"\"\"", "csv: quotes doubled inside quotes");
	is_str(esc(html_csv_cell, "line\nbreak"), "\"line\nbreak\"", "csv: LF quoted");
	is_str(esc(html_csv_cell, "cr\rx"), "\"cr\rx\"", "csv: CR quoted");
	is_str(esc(html_csv_cell, " lead"), "\" lead\"", "csv: leading space quoted");
	is_str(esc(html_csv_cell, "trail "), "\"trail \"", "csv: trailing space quoted");
	is_str(esc(html_csv_cell, "=1+1"), "'=1+1", "csv: =1+1 neutralised");
	is_str(esc(html_csv_cell, "+86"), "'+86", "csv: +86 neutralised");
	is_str(esc(html_csv_cell, "-"), "'-", "csv: - neutralised");
	is_str(esc(html_csv_cell, "@SUM(A1:A9)"), "'@SUM(A1:A9)", "csv: @SUM neutralised");
	is_str(esc(html_csv_cell, "\tx"), "'\tx", "csv: leading tab neutralised");
	is_str(esc(html_csv_cell, "\rx"), "\"'\rx\"", "csv: leading CR neutralised and quoted");
	is_str(esc(html_csv_cell, "=HYPERLINK(\"http://x\",\"y\")"),
	       "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"", "csv: formula with quotes and commas");
	is_str(esc(html_csv_cell, "1-2=3"), "1-2=3", "csv: only the first character matters");
}

int main(void)
{
	test_text();
	test_urlpart();
	test_url();
	test_json_script();
	test_csv();
	buf_free(&out);
	return tap_done();
}
