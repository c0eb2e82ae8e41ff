/* lease.c - cluster-wide leases and once-per-period job runs (contract in
 * lease.h). */
#include "lease.h"
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE_POLL_MS 250               /* between tries while waiting for a lease */
#define LEASE_JOBS_TTL 1800             /* seconds; renewed between the phases of a run */

/* This machine: hostname and the start of /etc/machine-id (unique per
 * installation even where hostnames repeat, e.g. containers). */
static void lease_machine(char *out, size_t n)
{
	char host[128] = "localhost", mid[64] = "";
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = 0;
	FILE *f = fopen("/etc/machine-id", "r");
	if (f) {
		if (!fgets(mid, sizeof mid, f))
			mid[0] = 0;
		fclose(f);
	}
	mid[strcspn(mid, "\r\n")] = 0;
	snprintf(out, n, "%.100s/%.12s", host, mid);
}

static void lease_new_holder(char *out, size_t n)
{
	char m[128];
	lease_machine(m, sizeof m);
	unsigned char rnd[4];
	randombytes_buf(rnd, sizeof rnd);
	snprintf(out, n, "%s:%ld:%02x%02x%02x%02x", m, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
}

/* 1 when holder names a process of this machine that has exited: its lease
 * may be taken at once rather than after expiry. */
static int lease_holder_dead_here(const char *holder)
{
	char m[128];
	lease_machine(m, sizeof m);
	size_t ml = strlen(m);
	if (strncmp(holder, m, ml) != 0 || holder[ml] != ':')
		return 0;
	char *end = NULL;
	long pid = strtol(holder + ml + 1, &end, 10);
	if (pid <= 0 || !end || *end != ':')
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

struct lease_take_ctx {
	lease *l;
	arena *a;
	int got;
	char busy[300];
};

static int lease_take_tx(db *d, void *vp)
{
	struct lease_take_ctx *c = vp;
	c->got = 0;
	db_res *r = NULL;
	int rc = db_q(d, c->a, &r,
	              "SELECT holder, expires_at > NOW(3) AS live, DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s') AS until"
	              " FROM leases WHERE name = ? FOR UPDATE", DB_TEXT(c->l->name));
	if (rc != DB_OK)
		return rc;
	if (r->nrows == 0) {
		rc = db_q(d, c->a, NULL, "INSERT INTO leases (name, holder, taken_at, expires_at)"
		          " VALUES (?, ?, NOW(3), NOW(3) + INTERVAL ? SECOND)",
		          DB_TEXT(c->l->name), DB_TEXT(c->l->holder), DB_INT(c->l->ttl));
		c->got = rc == DB_OK;
		return rc;
	}
	const char *holder = db_cell(r, 0, "holder");
	if (holder && strcmp(holder, c->l->holder) != 0 && db_cell_int(r, 0, "live") &&
	    !lease_holder_dead_here(holder)) {
		snprintf(c->busy, sizeof c->busy, "held by %.200s until %s", holder, db_cell(r, 0, "until"));
		return 0;
	}
	rc = db_q(d, c->a, NULL, "UPDATE leases SET holder = ?, taken_at = NOW(3), expires_at = NOW(3) + INTERVAL ? SECOND"
	          " WHERE name = ?", DB_TEXT(c->l->holder), DB_INT(c->l->ttl), DB_TEXT(c->l->name));
	c->got = rc == DB_OK;
	return rc;
}

static void lease_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int lease_take(db *d, lease *l, const char *name, int ttl, int wait_s, char *busy, size_t busylen)
{
	memset(l, 0, sizeof *l);
	snprintf(l->name, sizeof l->name, "%s", name);
	lease_new_holder(l->holder, sizeof l->holder);
	l->ttl = ttl > 0 ? ttl : 60;
	struct lease_take_ctx c = {l, ar_new(0), 0, ""};
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int result = -1;
	for (;;) {
		int rc = db_tx(d, lease_take_tx, &c);
		if (rc == DB_OK && c.got) {
			result = 1;
			break;
		}
		if (rc != DB_OK && rc != DB_EDUP) {
			/* DB_EDUP: another process of the same node inserted the row
			 * first; anything else is a real error */
			if (busy && busylen)
				snprintf(busy, busylen, "%s", db_errmsg(d));
			break;
		}
		if (rc == DB_EDUP)
			snprintf(c.busy, sizeof c.busy, "just taken by another process");
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= wait_s) {
			if (busy && busylen)
				snprintf(busy, busylen, "%s", c.busy);
			result = 0;
			break;
		}
		ar_reset(c.a);
		lease_sleep_ms(LEASE_POLL_MS);
	}
	ar_free(c.a);
	return result;
}

int lease_renew(db *d, lease *l)
{
	arena *a = ar_new(0);
	db_res *r = NULL;
	int rc = db_q(d, a, &r, "UPDATE leases SET expires_at = NOW(3) + INTERVAL ? SECOND WHERE name = ? AND holder = ?",
	              DB_INT(l->ttl), DB_TEXT(l->name), DB_TEXT(l->holder));
	int out = rc != DB_OK ? -1 : r->affected == 1;
	ar_free(a);
	return out;
}

void lease_release(db *d, lease *l)
{
	arena *a = ar_new(0);
	db_q(d, a, NULL, "DELETE FROM leases WHERE name = ? AND holder = ?", DB_TEXT(l->name), DB_TEXT(l->holder));
	ar_free(a);
}

/* ---- once-per-period job runs ------------------------------------------------ */

int lease_run_begin(db *d, lease_run *run, const char *kind, int force, char *msg, size_t msglen)
{
	memset(run, 0, sizeof *run);
	char name[64], busy[300] = "";
	snprintf(name, sizeof name, "jobs_%s", kind);
	int got = lease_take(d, &run->l, name, LEASE_JOBS_TTL, 0, busy, sizeof busy);
	if (got <= 0) {
		snprintf(msg, msglen, got == 0 ? "%s jobs are already running elsewhere (%s)" : "%s jobs: %s", kind, busy);
		return got;
	}
	/* the period by the database's clock in the session's time zone (Beijing) */
	arena *a = ar_new(0);
	db_res *r = NULL;
	int rc = db_q(d, a, &r, "SELECT DATE_FORMAT(NOW(), ?) AS period",
	              DB_TEXT(strcmp(kind, "hourly") == 0 ? "%Y-%m-%d %H" : "%Y-%m-%d"));
	if (rc == DB_OK)
		snprintf(run->period, sizeof run->period, "%s", db_cell(r, 0, "period"));
	/* decided under the lease: no other run of this kind is between this
	 * check and its own record */
	if (rc == DB_OK && !force)
		rc = db_q(d, a, &r, "SELECT holder, DATE_FORMAT(finished_at, '%H:%i:%s') AS at FROM job_runs"
		          " WHERE kind = ? AND period = ? AND finished_at IS NOT NULL LIMIT 1",
		          DB_TEXT(kind), DB_TEXT(run->period));
	if (rc == DB_OK && !force && r->nrows) {
		snprintf(msg, msglen, "%s jobs of %s already ran (finished %s by %.150s); --force runs them again", kind,
		         run->period, db_cell(r, 0, "at"), db_cell(r, 0, "holder"));
		lease_release(d, &run->l);
		ar_free(a);
		return 0;
	}
	if (rc == DB_OK)
		rc = db_q(d, a, &r, "INSERT INTO job_runs (kind, period, holder, forced, started_at)"
		          " VALUES (?, ?, ?, ?, NOW(3))", DB_TEXT(kind), DB_TEXT(run->period), DB_TEXT(run->l.holder),
		          DB_INT(force ? 1 : 0));
	if (rc != DB_OK) {
		snprintf(msg, msglen, "%s jobs: %s", kind, db_errmsg(d));
		lease_release(d, &run->l);
		ar_free(a);
		return -1;
	}
	run->id = (long long)r->insert_id;
	ar_free(a);
	return 1;
}

int lease_run_renew(db *d, lease_run *run)
{
	return lease_renew(d, &run->l);
}

void lease_run_end(db *d, lease_run *run, int ok)
{
	arena *a = ar_new(0);
	db_q(d, a, NULL, "UPDATE job_runs SET finished_at = NOW(3), result = ? WHERE id = ?", DB_TEXT(ok ? "ok" : "failed"),
	     DB_INT(run->id));
	ar_free(a);
	lease_release(d, &run->l);
}
