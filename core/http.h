/* http.h - one request and its response (prefixes req_ and resp_).
 *
 * A request is read from CGI-style parameters (a getter, so tests need no
 * FastCGI) and a body reader. Handlers see parsed, bounded input; responses
 * are rendered into buffers and serialised at the end with status, charset
 * and the security headers every response carries. */
#ifndef PORTAL_HTTP_H
#define PORTAL_HTTP_H
#include <stddef.h>
#include <jansson.h>
#include "arena.h"
#include "buf.h"
#include "form.h"
#include "router.h"
#include "conf.h"

struct db;
struct tpl_set;
struct plug_set;

/* Reads up to n bytes of body into p; returns bytes read, 0 at end, <0 on error. */
typedef long (*req_reader)(void *ctx, char *p, size_t n);
/* Returns a CGI parameter (REQUEST_METHOD, REQUEST_URI, ...) or NULL. */
typedef const char *(*req_getter)(void *ctx, const char *name);

typedef struct req {
	arena *a;
	const conf *cf;
	struct db *db;
	struct tpl_set *tpl;
	struct plug_set *plugins;  /* the worker's plugins (admin pages, hooks) */
	/* input, all copied into the arena */
	const char *method;        /* "GET" ... ; HEAD is reported as is, see head */
	int head;                  /* 1 for HEAD: body is not sent */
	const char *path;          /* decoded, checked: UTF-8, no NUL, no "." or ".." segment */
	const char *raw_query;     /* as sent, or "" */
	const char *content_type;  /* or "" */
	const char *remote_addr;   /* from nginx's REMOTE_ADDR */
	const char *user_agent;
	const char *authorization; /* Authorization header or NULL */
	const char *csrf_header;   /* X-CSRF-Token header or NULL (scripts in our own pages) */
	const char *idempotency_key; /* Idempotency-Key header or NULL */
	int https;                 /* HTTPS=on from nginx */
	size_t content_length;
	char *body;                /* NUL-terminated, body_len bytes */
	size_t body_len;
	form query;
	form post;                 /* urlencoded or multipart body */
	form cookies;
	rt_params params;
	int is_api;                /* path under /api/: errors as JSON */
	/* output */
	int status;
	buf headers;               /* extra header lines "Name: value\r\n" */
	buf body_out;
	const char *ctype;         /* Content-Type of body_out */
	double t_start;            /* monotonic ms at start */
	void *user;                /* for later layers (session, plugin state) */
} req;

/* Prepare r for a new request: copies what it needs from get(). Returns 0, or
 * an HTTP status (400) with the error already set as the response when the
 * request line is unusable (bad path, bad method). */
int req_init(req *r, arena *a, const conf *cf, req_getter get, void *gctx);
/* Read the body (CONTENT_LENGTH bytes, looping until full) and parse query,
 * body and cookies. Returns 0, or the HTTP status (400, 413, 415) with the
 * error response already set. */
int req_read(req *r, req_reader rd, void *rctx, req_getter get, void *gctx);
/* Query then body value of a field, or NULL. */
const char *req_param(const req *r, const char *name);
const char *req_cookie(const req *r, const char *name);
/* 1 when the request's media type is application/json (any case, parameters
 * such as charset allowed), else 0. */
int req_is_json(const req *r);

/* Response building. */
void resp_header(req *r, const char *name, const char *value);
/* Render template name with data (reference kept by caller) as text/html. On
 * a template failure the response becomes a 500. Returns the status. */
int resp_page(req *r, int status, const char *tpl, json_t *data);
/* JSON body; steals the reference to data. Returns the status. */
int resp_json(req *r, int status, json_t *data);
int resp_text(req *r, int status, const char *ctype, const char *s, size_t n);
/* Error: JSON {"error":{"code","message"[,"fields"]}} under /api/, else the zh-CN
 * error page. fields (may be NULL) is stolen. Returns status. */
int resp_error(req *r, int status, const char *code, const char *message, json_t *fields);
int resp_redirect(req *r, int status, const char *location);
/* Serialise "Status: ...\r\nheaders\r\n\r\nbody" into wire (body left out for
 * HEAD). Adds Content-Type, Content-Length and the security headers. */
void resp_serialise(req *r, buf *wire);
/* Release what r holds outside its arena (buffers are reset, not freed). */
void req_done(req *r);

/* Reason phrase for a status ("Not Found"). */
const char *http_reason(int status);
/* Default zh-CN message for an error status. */
const char *http_message_zh(int status);

#endif
