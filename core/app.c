/* app.c - one worker's application: route table, dispatch, access log. */
#include "app.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "tmpl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct app {
	const conf *cf;
	arena *a;                /* the per-request arena, reset after each request */
	tpl_set *tpl;
	db *db;
	req r;                   /* reused: its buffers keep their capacity */
	unsigned long db_errors_seen;
};

/* The core's routes. Plugins add theirs under their own prefix later. */
static const rt_route app_routes[] = {
	{"GET", "/", h_home, 0},
	{"GET", "/healthz", h_healthz, 0},
	{"GET", "/metrics", h_metrics, 0},
};

static double app_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

app *app_new(const conf *cf, char *err, size_t errlen)
{
	app *ap = calloc(1, sizeof *ap);
	if (!ap) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ap->cf = cf;
	ap->a = ar_new(0);
	ap->tpl = tpl_new();
	if (tpl_load_dir(ap->tpl, cf->template_dir, err, errlen) < 0) {
		app_free(ap);
		return NULL;
	}
	char dberr[256];
	ap->db = db_open(cf, dberr, sizeof dberr);
	if (!ap->db)   /* not fatal: /healthz says 503 and db_ping retries */
		log_warn("database unavailable at start", "error=\"%s\"", dberr);
	return ap;
}

void app_free(app *ap)
{
	if (!ap)
		return;
	db_close(ap->db);
	tpl_free(ap->tpl);
	ar_free(ap->a);
	buf_free(&ap->r.headers);
	buf_free(&ap->r.body_out);
	free(ap);
}

static void app_dispatch(req *r)
{
	const rt_route *route;
	char allow[128];
	int m = rt_match(r->a, app_routes, sizeof app_routes / sizeof app_routes[0], r->method, r->path,
	                 &route, &r->params, allow, sizeof allow);
	if (m == RT_NOT_FOUND) {
		resp_error(r, 404, NULL, NULL, NULL);
		return;
	}
	if (m == RT_METHOD_NOT_ALLOWED) {
		resp_header(r, "Allow", allow);
		resp_error(r, 405, NULL, NULL, NULL);
		return;
	}
	if (route->flags & RT_API)
		r->is_api = 1;
	route->handler(r);
}

int app_handle(app *ap, req_getter get, void *gctx, req_reader rd, void *rctx, buf *wire)
{
	req *r = &ap->r;
	r->db = ap->db;
	r->tpl = ap->tpl;
	r->t_start = app_ms();
	if (req_init(r, ap->a, ap->cf, get, gctx) == 0 && req_read(r, rd, rctx, get, gctx) == 0)
		app_dispatch(r);
	if (!ap->db && r->db)
		ap->db = r->db;     /* a handler (re)opened the connection */
	resp_serialise(r, wire);
	double ms = app_ms() - r->t_start;
	log_request(r->method, r->path, r->status, (unsigned long)r->body_out.len, ms);
	met_request(r->status, ms);
	if (ap->db) {
		unsigned long e = db_error_count(ap->db);
		for (; ap->db_errors_seen < e; ap->db_errors_seen++)
			met_db_error();
	}
	int status = r->status;
	req_done(r);
	ar_reset(ap->a);
	return status;
}
