/* generation.c - cluster-wide generation counters (contract in generation.h). */
#include "generation.h"
#include "log.h"
#include <stdlib.h>
#include <string.h>

#define GEN_TIMEOUT 2           /* seconds: the master must not hang on a slow database */

int gen_bump(db *d, arena *a, const char *name, const char *by)
{
	return db_q(d, a, NULL, "INSERT INTO generations (name, value, changed_at, changed_by) VALUES (?, 1, NOW(3), ?)"
	            " ON DUPLICATE KEY UPDATE value = value + 1, changed_at = NOW(3), changed_by = VALUES(changed_by)",
	            DB_TEXT(name), DB_TEXT(by ? by : ""));
}

struct gen_watch {
	conf cf;                /* the database settings only, copied, with short timeouts */
	char name[33];
	db *d;
	arena *a;
	int have;               /* a baseline was read */
	long long value;
	int failing;            /* last read failed (logged once) */
};

gen_watch *gen_watch_new(const conf *cf, const char *name)
{
	gen_watch *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	conf_defaults(&w->cf);
	conf_free(&w->cf);      /* numbers from the defaults, no strings */
	/* copies: a reload frees the master's configuration strings */
	w->cf.db_socket = strdup(cf->db_socket ? cf->db_socket : "");
	w->cf.db_host = strdup(cf->db_host ? cf->db_host : "");
	w->cf.db_port = cf->db_port;
	w->cf.db_failover = strdup(cf->db_failover ? cf->db_failover : "");
	w->cf.db_sync_wait = cf->db_sync_wait;
	w->cf.db_name = strdup(cf->db_name ? cf->db_name : "");
	w->cf.db_user = strdup(cf->db_user ? cf->db_user : "");
	w->cf.db_password = strdup(cf->db_password ? cf->db_password : "");
	w->cf.db_connect_timeout = w->cf.db_read_timeout = w->cf.db_write_timeout = GEN_TIMEOUT;
	w->cf.db_tx_retries = 1;
	snprintf(w->name, sizeof w->name, "%s", name);
	w->a = ar_new(0);
	return w;
}

int gen_watch_check(gen_watch *w)
{
	char err[256] = "";
	if (!w->d)
		w->d = db_open(&w->cf, err, sizeof err);
	db_res *r = NULL;
	int rc = w->d ? db_q(w->d, w->a, &r, "SELECT value FROM generations WHERE name = ?", DB_TEXT(w->name)) : DB_ELOST;
	if (rc != DB_OK) {
		if (!w->failing)
			log_warn("cannot read the reload generation; will retry", "error=\"%s\"",
			         w->d ? db_errmsg(w->d) : err);
		w->failing = 1;
		gen_watch_disconnect(w);
		ar_reset(w->a);
		return 0;
	}
	w->failing = 0;
	long long v = r->nrows ? db_cell_int(r, 0, "value") : 0;
	ar_reset(w->a);
	int changed = w->have && v != w->value;
	w->have = 1;
	w->value = v;
	return changed;
}

void gen_watch_disconnect(gen_watch *w)
{
	if (w && w->d) {
		db_close(w->d);
		w->d = NULL;
	}
}

void gen_watch_free(gen_watch *w)
{
	if (!w)
		return;
	gen_watch_disconnect(w);
	ar_free(w->a);
	conf_free(&w->cf);
	free(w);
}
