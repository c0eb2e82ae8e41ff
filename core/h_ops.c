/* h_ops.c - operations endpoints: health check and Prometheus metrics. */
#include "db.h"
#include "handlers.h"
#include "metrics.h"
#include <string.h>

/* 200 "ok" when the database answers a round trip, else 503. Reopens a
 * connection that was never made or was lost. */
int h_healthz(req *r)
{
	resp_header(r, "Cache-Control", "no-store");
	if (!r->db) {
		char err[256];
		r->db = db_open(r->cf, err, sizeof err);
	}
	if (!r->db || db_ping(r->db) != 0)
		return resp_text(r, 503, "text/plain; charset=utf-8", "database unavailable\n", 21);
	return resp_text(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

int h_metrics(req *r)
{
	buf_reset(&r->body_out);
	met_render(&r->body_out);
	r->status = 200;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
	return 200;
}
