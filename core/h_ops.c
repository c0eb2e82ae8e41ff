/* h_ops.c - operations endpoints: health check and Prometheus metrics. */
#include "db.h"
#include "handlers.h"
#include "metrics.h"
#include <string.h>

/* The worker's database connection, opened now if it was never made or
 * could not be made at start; NULL when no server answers. */
static db *h_ops_db(req *r)
{
	if (!r->db) {
		char err[256];
		r->db = db_open(r->cf, err, sizeof err);
	}
	return r->db;
}

/* 200 "ok" when this node can serve: its database answers a round trip and,
 * on a Galera cluster, the node it uses is Synced in the primary component
 * (wsrep_ready ON, wsrep_local_state 4). Else 503 with the reason, so a load
 * balancer takes the node out. Reads with wsrep_sync_wait = 0: the check
 * never waits for the cluster. A worker whose node left the primary
 * component moves to a ready one first (db_failover), and then answers 200:
 * the app node still serves. Reopens a connection that was lost. */
int h_healthz(req *r)
{
	resp_header(r, "Cache-Control", "no-store");
	db_cluster st;
	if (!h_ops_db(r) || db_ping(r->db) != 0 || db_cluster_state(r->db, r->a, &st) != DB_OK)
		return resp_text(r, 503, "text/plain; charset=utf-8", "database unavailable\n", 21);
	if (st.wsrep && (!st.ready || st.local_state != 4 || strcmp(st.status, "Primary") != 0)) {
		const char *msg = ar_printf(r->a, "database node %s not synced: %s, %s\n", st.node,
		                            *st.state ? st.state : "?", *st.status ? st.status : "?");
		return resp_text(r, 503, "text/plain; charset=utf-8", msg, strlen(msg));
	}
	return resp_text(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* The Galera state of the node this worker's connection uses (absent for a
 * lone server or when the database does not answer). */
static void h_metrics_cluster(req *r)
{
	db_cluster st;
	if (!h_ops_db(r) || db_cluster_state(r->db, r->a, &st) != DB_OK || !st.wsrep)
		return;
	buf *b = &r->body_out;
	char node[200];
	/* a label value: the address has no quotes or backslashes, but be sure */
	size_t n = 0;
	for (const char *p = st.node; *p && n + 1 < sizeof node; p++)
		if (*p != '"' && *p != '\\' && *p != '\n')
			node[n++] = *p;
	node[n] = 0;
	buf_printf(b, "# HELP portal_galera_ready 1 when the Galera node this worker uses is ready (wsrep_ready).\n"
	              "# TYPE portal_galera_ready gauge\n"
	              "portal_galera_ready{node=\"%s\"} %d\n"
	              "# HELP portal_galera_local_state wsrep_local_state of that node: 4 Synced, 2 Donor, 1 Joining, 3 Joined.\n"
	              "# TYPE portal_galera_local_state gauge\n"
	              "portal_galera_local_state{node=\"%s\",state=\"%s\"} %d\n"
	              "# HELP portal_galera_primary 1 when that node is in the primary component (wsrep_cluster_status).\n"
	              "# TYPE portal_galera_primary gauge\n"
	              "portal_galera_primary{node=\"%s\"} %d\n"
	              "# HELP portal_galera_cluster_size Nodes in the component (wsrep_cluster_size).\n"
	              "# TYPE portal_galera_cluster_size gauge\n"
	              "portal_galera_cluster_size{node=\"%s\"} %lld\n"
	              "# HELP portal_galera_cert_failures_total Local transactions that failed certification on that node.\n"
	              "# TYPE portal_galera_cert_failures_total counter\n"
	              "portal_galera_cert_failures_total{node=\"%s\"} %lld\n"
	              "# HELP portal_galera_bf_aborts_total Local transactions aborted by replicated ones on that node.\n"
	              "# TYPE portal_galera_bf_aborts_total counter\n"
	              "portal_galera_bf_aborts_total{node=\"%s\"} %lld\n"
	              "# HELP portal_db_failed_over 1 when this worker uses a db_failover server instead of its own.\n"
	              "# TYPE portal_db_failed_over gauge\n"
	              "portal_db_failed_over{node=\"%s\"} %d\n",
	           node, st.ready, node, st.state, st.local_state, node, strcmp(st.status, "Primary") == 0, node,
	           st.size, node, st.cert_failures, node, st.bf_aborts, node, st.failed_over);
}

int h_metrics(req *r)
{
	buf_reset(&r->body_out);
	met_render(&r->body_out);
	h_metrics_cluster(r);
	r->status = 200;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
	return 200;
}
