/* http.c - reading one request, building and serialising its response. */
#include "http.h"
#include "html.h"
#include "log.h"
#include "tmpl.h"
#include "utf8.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The policy every response carries. Pages use only their own static CSS/JS. */
static const char http_csp[] =
	"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

static const struct {
	int status;
	const char *reason, *code, *zh;
} http_statuses[] = {
	{200, "OK", "ok", "成功"},
	{201, "Created", "created", "已创建"},
	{204, "No Content", "no_content", ""},
	{301, "Moved Permanently", "moved", "页面已移动"},
	{302, "Found", "found", "页面已移动"},
	{303, "See Other", "see_other", "请前往新页面"},
	{304, "Not Modified", "not_modified", ""},
	{400, "Bad Request", "bad_request", "请求有误，请返回上一页重新填写。"},
	{401, "Unauthorized", "unauthorized", "请先登录。"},
	{403, "Forbidden", "forbidden", "您没有权限进行此操作。"},
	{404, "Not Found", "not_found", "找不到您要访问的页面，请检查网址是否正确。"},
	{405, "Method Not Allowed", "method_not_allowed", "不支持这种访问方式。"},
	{409, "Conflict", "conflict", "该信息已存在，请勿重复提交。"},
	{411, "Length Required", "length_required", "请求缺少长度信息。"},
	{413, "Payload Too Large", "payload_too_large", "提交的内容太大，请精简后重试。"},
	{415, "Unsupported Media Type", "unsupported_media_type", "不支持提交的内容格式。"},
	{422, "Unprocessable Content", "invalid_input", "填写的内容有误，请按提示修改。"},
	{429, "Too Many Requests", "rate_limited", "操作太频繁，请稍后再试。"},
	{500, "Internal Server Error", "internal_error", "系统出了点问题，请稍后再试。如一直无法使用，请联系社区工作人员。"},
	{503, "Service Unavailable", "unavailable", "系统暂时无法使用，请稍后再试。"},
};
#define NSTATUS (sizeof http_statuses / sizeof http_statuses[0])

static int http_find(int status)
{
	for (size_t i = 0; i < NSTATUS; i++)
		if (http_statuses[i].status == status)
			return (int)i;
	return -1;
}

const char *http_reason(int status)
{
	int i = http_find(status);
	return i >= 0 ? http_statuses[i].reason : (status >= 500 ? "Error" : "Unknown");
}

const char *http_message_zh(int status)
{
	int i = http_find(status);
	return i >= 0 ? http_statuses[i].zh : "请求无法完成，请稍后再试。";
}

static const char *http_code(int status)
{
	int i = http_find(status);
	return i >= 0 ? http_statuses[i].code : "error";
}

static const char *req_copy(req *r, req_getter get, void *gctx, const char *name, const char *dflt)
{
	const char *v = get(gctx, name);
	return v ? ar_strdup(r->a, v) : dflt;
}

/* Decode and check the path part of REQUEST_URI. NULL when unusable. */
static const char *req_clean_path(req *r, const char *uri, size_t n)
{
	size_t dl;
	char *p = form_pct_decode(r->a, uri, n, 0, &dl);
	if (!p || dl == 0 || p[0] != '/' || memchr(p, 0, dl) || !utf8_valid(p, dl) ||
	    !utf8_printable(p, dl, 0))
		return NULL;
	/* no "." or ".." segments, no backslashes: nothing may climb out of a prefix */
	for (const char *s = p; *s; s++) {
		if (*s == '\\')
			return NULL;
		if (*s == '/' && s[1] == '.' && (s[2] == '/' || s[2] == 0 ||
		                                 (s[2] == '.' && (s[3] == '/' || s[3] == 0))))
			return NULL;
	}
	return p;
}

int req_init(req *r, arena *a, const conf *cf, req_getter get, void *gctx)
{
	buf h = r->headers, b = r->body_out;
	struct db *d = r->db;
	struct tpl_set *t = r->tpl;
	struct plug_set *ps = r->plugins;
	double t0 = r->t_start;
	memset(r, 0, sizeof *r);
	r->headers = h;
	r->body_out = b;
	buf_reset(&r->headers);
	buf_reset(&r->body_out);
	r->a = a;
	r->cf = cf;
	r->db = d;
	r->tpl = t;
	r->plugins = ps;
	r->t_start = t0;
	r->status = 200;
	r->raw_query = "";
	r->content_type = "";

	const char *m = get(gctx, "REQUEST_METHOD");
	size_t ml = m ? strlen(m) : 0;
	int mok = ml > 0 && ml <= 16;
	for (size_t i = 0; mok && i < ml; i++)
		mok = isupper((unsigned char)m[i]);
	r->method = mok ? ar_strdup(a, m) : "GET";
	r->head = mok && strcmp(m, "HEAD") == 0;

	const char *uri = get(gctx, "REQUEST_URI");
	if (!uri)
		uri = get(gctx, "SCRIPT_NAME");
	if (!uri)
		uri = "/";
	const char *q = strchr(uri, '?');
	size_t plen = q ? (size_t)(q - uri) : strlen(uri);
	if (q)
		r->raw_query = ar_strdup(a, q + 1);
	r->is_api = strncmp(uri, "/api/", 5) == 0 || strcmp(uri, "/api") == 0;
	r->path = req_clean_path(r, uri, plen);
	r->remote_addr = req_copy(r, get, gctx, "REMOTE_ADDR", "");
	r->user_agent = req_copy(r, get, gctx, "HTTP_USER_AGENT", "");
	r->authorization = req_copy(r, get, gctx, "HTTP_AUTHORIZATION", NULL);
	r->csrf_header = req_copy(r, get, gctx, "HTTP_X_CSRF_TOKEN", NULL);
	r->idempotency_key = req_copy(r, get, gctx, "HTTP_IDEMPOTENCY_KEY", NULL);
	r->content_type = req_copy(r, get, gctx, "CONTENT_TYPE", "");
	const char *https = get(gctx, "HTTPS");
	r->https = https && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0);

	if (!mok) {
		r->path = r->path ? r->path : "/";
		return resp_error(r, 400, "bad_method", "不支持这种访问方式。", NULL);
	}
	if (!r->path) {
		r->path = ar_strndup(a, uri, plen);   /* for the log line only */
		return resp_error(r, 400, "bad_path", "网址有误，请检查后重试。", NULL);
	}
	return 0;
}

/* Read and throw away what is left of a body we refuse, so nginx can finish
 * sending it; nginx's client_max_body_size bounds how much that can be. */
static void req_drain(req_reader rd, void *rctx, size_t left)
{
	char tmp[16384];
	while (left > 0) {
		long n = rd(rctx, tmp, left < sizeof tmp ? left : sizeof tmp);
		if (n <= 0)
			break;
		left -= (size_t)n;
	}
}

static int req_form_error(req *r, int err)
{
	return resp_error(r, err == FORM_ETOOLONG ? 413 : 400, form_errcode(err), form_strerror(err), NULL);
}

int req_read(req *r, req_reader rd, void *rctx, req_getter get, void *gctx)
{
	form_limits lim = {r->cf->max_fields, 1024, r->cf->max_field_len};
	int e;

	/* cookies first: a huge Cookie header is refused before any other work */
	const char *ck = get(gctx, "HTTP_COOKIE");
	if (ck) {
		size_t cl = strlen(ck);
		if (cl > r->cf->max_cookie)
			return resp_error(r, 400, "cookie_too_large", "Cookie 信息过大，请清除本站 Cookie 后重试。", NULL);
		form_limits clim = {64, 256, 4096};
		if ((e = form_parse_cookies(r->a, ck, cl, &clim, &r->cookies)) != FORM_OK)
			return req_form_error(r, e);
	}

	const char *cl = get(gctx, "CONTENT_LENGTH");
	size_t len = 0;
	if (cl && *cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno || *end || !isdigit((unsigned char)cl[0]))
			return resp_error(r, 400, "bad_length", "请求长度有误。", NULL);
		if (v > r->cf->max_body) {
			req_drain(rd, rctx, (size_t)v);
			return resp_error(r, 413, "payload_too_large", http_message_zh(413), NULL);
		}
		len = (size_t)v;
	}
	r->content_length = len;
	r->body = ar_alloc(r->a, len + 1);
	size_t got = 0;
	while (got < len) {
		long n = rd(rctx, r->body + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	r->body[got] = 0;
	r->body_len = got;
	if (got < len)
		return resp_error(r, 400, "incomplete_body", "提交的内容不完整，请重试。", NULL);

	if (*r->raw_query &&
	    (e = form_parse_urlencoded(r->a, r->raw_query, strlen(r->raw_query), &lim, &r->query)) != FORM_OK)
		return req_form_error(r, e);

	const char *ct = r->content_type;
	if (len > 0 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
		if ((e = form_parse_urlencoded(r->a, r->body, len, &lim, &r->post)) != FORM_OK)
			return req_form_error(r, e);
	} else if (len > 0 && strncasecmp(ct, "multipart/form-data", 19) == 0) {
		if ((e = form_parse_multipart(r->a, ct, r->body, len, &lim, &r->post)) != FORM_OK)
			return req_form_error(r, e);
	} else if (strncasecmp(ct, "multipart/", 10) == 0) {
		return resp_error(r, 415, "unsupported_media_type", http_message_zh(415), NULL);
	}
	/* JSON and other bodies stay raw in r->body for the handler to decode */
	return 0;
}

const char *req_param(const req *r, const char *name)
{
	const char *v = form_get(&r->query, name);
	return v ? v : form_get(&r->post, name);
}

const char *req_cookie(const req *r, const char *name)
{
	return form_get(&r->cookies, name);
}

int req_is_json(const req *r)
{
	static const char mt[] = "application/json";
	const char *ct = r->content_type ? r->content_type : "";
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, sizeof mt - 1) != 0)
		return 0;
	char c = ct[sizeof mt - 1];
	return c == 0 || c == ';' || c == ' ' || c == '\t';
}

void resp_header(req *r, const char *name, const char *value)
{
	/* a header value never carries CR or LF: no response splitting */
	buf_adds(&r->headers, name);
	buf_add(&r->headers, ": ", 2);
	for (const char *p = value; *p; p++)
		buf_addc(&r->headers, (*p == '\r' || *p == '\n') ? ' ' : *p);
	buf_add(&r->headers, "\r\n", 2);
}

/* The last-resort error page, used when even the error template fails. */
static void resp_plain_error(req *r, int status, const char *message)
{
	buf_reset(&r->body_out);
	buf_adds(&r->body_out, "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
	                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	                       "<title>出错了</title></head><body><h1>出错了</h1><p>");
	html_text(&r->body_out, message, strlen(message));
	buf_adds(&r->body_out, "</p><p><a href=\"/\">返回首页</a></p></body></html>");
	r->ctype = "text/html; charset=utf-8";
	r->status = status;
}

int resp_page(req *r, int status, const char *tpl, json_t *data)
{
	char err[256];
	buf_reset(&r->body_out);
	if (r->cf && r->cf->site_name)
		json_object_set_new(data, "site_name", json_string(r->cf->site_name));
	if (!r->tpl || tpl_render(r->tpl, tpl, data, &r->body_out, err, sizeof err) != 0) {
		log_err("template failed", "template=%s error=\"%s\"", tpl, r->tpl ? err : "no templates loaded");
		resp_plain_error(r, 500, http_message_zh(500));
		return 500;
	}
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
	return status;
}

static int resp_json_cb(const char *p, size_t n, void *b)
{
	buf_add(b, p, n);
	return 0;
}

int resp_json(req *r, int status, json_t *data)
{
	buf_reset(&r->body_out);
	json_dump_callback(data, resp_json_cb, &r->body_out, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(data);
	r->status = status;
	r->ctype = "application/json; charset=utf-8";
	return status;
}

int resp_text(req *r, int status, const char *ctype, const char *s, size_t n)
{
	buf_reset(&r->body_out);
	buf_add(&r->body_out, s, n);
	r->status = status;
	r->ctype = ctype;
	return status;
}

int resp_error(req *r, int status, const char *code, const char *message, json_t *fields)
{
	if (!code)
		code = http_code(status);
	if (!message)
		message = http_message_zh(status);
	if (r->is_api) {
		json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
		if (fields)
			json_object_set_new(e, "fields", fields);
		return resp_json(r, status, json_pack("{s:o}", "error", e));
	}
	json_t *data = json_pack("{s:i, s:s, s:s}", "status", status, "code", code, "message", message);
	if (fields)
		json_object_set_new(data, "fields", fields);
	int rc = resp_page(r, status, "error", data);
	json_decref(data);
	if (rc != status)
		resp_plain_error(r, status, message);
	return status;
}

int resp_redirect(req *r, int status, const char *location)
{
	resp_header(r, "Location", location);
	buf_reset(&r->body_out);
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
	return status;
}

void resp_serialise(req *r, buf *wire)
{
	buf_reset(wire);
	buf_printf(wire, "Status: %d %s\r\n", r->status, http_reason(r->status));
	if (r->status != 204 && r->status != 304) {
		buf_printf(wire, "Content-Type: %s\r\n", r->ctype ? r->ctype : "text/html; charset=utf-8");
		buf_printf(wire, "Content-Length: %zu\r\n", r->body_out.len);
	}
	buf_adds(wire, "X-Content-Type-Options: nosniff\r\n"
	               "Referrer-Policy: same-origin\r\n"
	               "X-Frame-Options: DENY\r\n"
	               "Content-Security-Policy: ");
	buf_adds(wire, http_csp);
	buf_adds(wire, "\r\n");
	if (!strstr(buf_str(&r->headers), "Cache-Control:"))
		buf_adds(wire, "Cache-Control: no-store\r\n");
	buf_add(wire, r->headers.p ? r->headers.p : "", r->headers.len);
	buf_adds(wire, "\r\n");
	if (!r->head)
		buf_add(wire, r->body_out.p ? r->body_out.p : "", r->body_out.len);
}

void req_done(req *r)
{
	buf_reset(&r->headers);
	buf_reset(&r->body_out);
	r->user = NULL;
}
