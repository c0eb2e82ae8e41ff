/* t_http.c - reading requests and serialising responses, without FastCGI. */
#include "http.h"
#include "tap.h"
#include <stdlib.h>

/* A request given as NULL-terminated name/value pairs plus a body. */
struct fake {
	const char **env;
	const char *body;
	size_t len, off;
	size_t reads;
};

static const char *fake_get(void *ctx, const char *name)
{
	struct fake *f = ctx;
	for (const char **e = f->env; *e; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

static long fake_read(void *ctx, char *p, size_t n)
{
	struct fake *f = ctx;
	size_t left = f->len - f->off;
	if (n > left)
		n = left;
	if (n > 1000)
		n = 1000;          /* short reads, like a socket */
	memcpy(p, f->body + f->off, n);
	f->off += n;
	f->reads++;
	return (long)n;
}

static conf cf;
static req r;

/* Run init + read; returns the status (0 when the request is usable). */
static int run(const char **env, const char *body, size_t len)
{
	static arena *a;
	if (!a)
		a = ar_new(0);
	ar_reset(a);
	struct fake f = {env, body, len, 0, 0};
	int rc = req_init(&r, a, &cf, fake_get, &f);
	if (rc == 0)
		rc = req_read(&r, fake_read, &f, fake_get, &f);
	return rc;
}

int main(void)
{
	conf_defaults(&cf);
	cf.max_body = 4096;
	buf wire = BUF_INIT;

	const char *e1[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/a%20b/c?x=1&y=%E4%BD%A0", "REMOTE_ADDR",
	                    "127.0.0.1", NULL};
	is_int(run(e1, "", 0), 0, "plain GET is accepted");
	is_str(r.path, "/a b/c", "path is percent-decoded");
	is_str(req_param(&r, "y"), "你", "query values are decoded");
	is_str(r.remote_addr, "127.0.0.1", "remote address kept");
	ok(!r.is_api, "not an API path");

	const char *bad_paths[] = {"/a/%2e%2e/b", "/a/../b", "/a%00b", "/%ff", "/a/./b", "/..", "/a\\b", "x"};
	for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
		const char *e[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", bad_paths[i], NULL};
		is_int(run(e, "", 0), 400, "path %s is refused with 400", bad_paths[i]);
	}
	const char *okdot[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/.well-known/x", NULL};
	is_int(run(okdot, "", 0), 0, "a dot at the start of a segment name is fine");

	const char *e2[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/?q=%zz", NULL};
	is_int(run(e2, "", 0), 400, "malformed percent-encoding in the query: 400");
	ok(strstr(r.body_out.p, "<html") != NULL, "browser gets an HTML error page");

	const char *e3[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/x?q=%ff", NULL};
	is_int(run(e3, "", 0), 400, "invalid UTF-8 in an API query: 400");
	ok(r.is_api, "API path detected");
	ok(strstr(r.body_out.p, "{\"error\":{\"code\":") != NULL, "API error is JSON: %s", r.body_out.p);
	is_str(r.ctype, "application/json; charset=utf-8", "API error content type");

	const char *e4[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_TYPE",
	                    "application/x-www-form-urlencoded", "CONTENT_LENGTH", "23", NULL};
	is_int(run(e4, "name=%E5%BC%A0%E4%B8%89", 23), 0, "urlencoded body is read");
	is_str(req_param(&r, "name"), "张三", "body field decoded");

	const char *e5[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_TYPE",
	                    "application/x-www-form-urlencoded", "CONTENT_LENGTH", "", NULL};
	is_int(run(e5, "", 0), 0, "empty CONTENT_LENGTH means no body");
	is_int((long long)r.body_len, 0, "no body read");

	char *big = malloc(10000);
	memset(big, 'a', 10000);
	const char *e6[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_TYPE",
	                    "application/x-www-form-urlencoded", "CONTENT_LENGTH", "10000", NULL};
	is_int(run(e6, big, 10000), 413, "body over max_body: 413");
	free(big);

	const char *e7[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_LENGTH", "12abc", NULL};
	is_int(run(e7, "", 0), 400, "non-numeric CONTENT_LENGTH: 400");

	const char *e8[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_LENGTH", "100", NULL};
	is_int(run(e8, "short", 5), 400, "body shorter than announced: 400");

	char *cookie = malloc(20000);
	memset(cookie, 'c', 19999);
	cookie[0] = 'a';
	cookie[1] = '=';
	cookie[19999] = 0;
	const char *e9[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/", "HTTP_COOKIE", cookie, NULL};
	is_int(run(e9, "", 0), 400, "Cookie header over max_cookie: 400");
	free(cookie);

	const char *e10[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/", "HTTP_COOKIE", "sid=abc; lang=zh", NULL};
	is_int(run(e10, "", 0), 0, "cookies parsed");
	is_str(req_cookie(&r, "lang"), "zh", "cookie value");

	const char *e11[] = {"REQUEST_METHOD", "get", "REQUEST_URI", "/", NULL};
	is_int(run(e11, "", 0), 400, "lower-case method refused");

	const char *e12[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/f", "CONTENT_TYPE", "multipart/form-data",
	                     "CONTENT_LENGTH", "4", NULL};
	is_int(run(e12, "abcd", 4), 400, "multipart without a boundary: 400");

	/* serialising */
	run(e1, "", 0);
	resp_header(&r, "X-Test", "a\r\nSet-Cookie: evil=1");
	resp_text(&r, 200, "text/plain; charset=utf-8", "hello", 5);
	resp_serialise(&r, &wire);
	ok(strncmp(wire.p, "Status: 200 OK\r\n", 16) == 0, "status line first");
	ok(strstr(wire.p, "Content-Length: 5\r\n") != NULL, "content length");
	ok(strstr(wire.p, "X-Content-Type-Options: nosniff\r\n") != NULL, "nosniff");
	ok(strstr(wire.p, "Content-Security-Policy: default-src 'self'") != NULL, "CSP");
	ok(strstr(wire.p, "Referrer-Policy: ") != NULL, "Referrer-Policy");
	ok(strstr(wire.p, "\r\nSet-Cookie: evil") == NULL, "CR LF in a header value cannot start a new header");
	ok(strstr(wire.p, "\r\n\r\nhello") != NULL, "body after the blank line");

	const char *eh[] = {"REQUEST_METHOD", "HEAD", "REQUEST_URI", "/", NULL};
	run(eh, "", 0);
	resp_text(&r, 200, "text/plain", "hello", 5);
	resp_serialise(&r, &wire);
	ok(strstr(wire.p, "Content-Length: 5") && !strstr(wire.p, "hello"), "HEAD: length but no body");

	run(e1, "", 0);
	resp_error(&r, 404, NULL, "找不到<b>页面</b>", NULL);
	ok(strstr(r.body_out.p, "&lt;b&gt;") && !strstr(r.body_out.p, "<b>页面"), "error message is escaped");

	buf_free(&wire);
	buf_free(&r.headers);
	buf_free(&r.body_out);
	conf_free(&cf);
	return tap_done();
}
