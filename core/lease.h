/* lease.h - cluster-wide leases and once-per-period job runs (prefix lease_).
 *
 * A lease is a row of the table `leases` (name, holder, expires_at), taken
 * inside a transaction: read FOR UPDATE, then inserted or taken over when it
 * is free, expired, ours, or held by a process of this machine that no longer
 * exists. It replaces GET_LOCK, which on a Galera cluster holds on one node
 * only: two nodes taking the same lease at once both write the one row, and
 * Galera lets only one of the two transactions commit (the other gets 1213
 * at COMMIT, db_tx reruns it and it then sees the winner's row). A holder
 * keeps its lease by renewing it before it expires; one that dies leaves it
 * to the next taker after expiry (at once on the same machine).
 *
 * Holders are "host/machine-id:pid:random", so two processes (or two
 * machines) never mistake each other. Expiry uses the database's clock
 * (NOW(3) of the node written to): keep the nodes' clocks in step (NTP).
 *
 * `leases` is created by `portald migrate` itself (migrate.c, before any
 * migration, since the migration lease guards the migrations); job_runs by
 * core migration 0007. */
#ifndef PORTAL_LEASE_H
#define PORTAL_LEASE_H
#include <stddef.h>
#include "db.h"

#define LEASE_TABLE_SQL \
	"CREATE TABLE IF NOT EXISTS leases (" \
	" name VARCHAR(64) NOT NULL PRIMARY KEY," \
	" holder VARCHAR(200) NOT NULL," \
	" taken_at DATETIME(3) NOT NULL," \
	" expires_at DATETIME(3) NOT NULL" \
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

typedef struct lease {
	char name[65];
	char holder[200];
	int ttl;                 /* seconds a take or renewal lasts */
} lease;

/* Take lease name for ttl seconds, trying for up to wait_s seconds (0: once).
 * Returns 1 when taken (l filled in), 0 when someone else holds it (busy gets
 * "holder until time", when given), -1 on a database error (in busy). */
int lease_take(db *d, lease *l, const char *name, int ttl, int wait_s, char *busy, size_t busylen);
/* Push the expiry ttl seconds past now. 1 while still ours, 0 when it was
 * lost (expired and taken by someone else), -1 on a database error. */
int lease_renew(db *d, lease *l);
/* Give the lease up (only if still ours). */
void lease_release(db *d, lease *l);

/* One run of the scheduled jobs of a kind ("daily", "hourly") for the
 * current period (the Beijing date, or date and hour), recorded in
 * job_runs under the lease "jobs_<kind>". */
typedef struct lease_run {
	lease l;
	long long id;            /* the job_runs row */
	char period[24];
} lease_run;

/* Begin the run: 1 go ahead (lease held, run recorded as started); 0 skip,
 * with the reason in msg (running elsewhere, or a run of this period already
 * finished, unless force); -1 on a database error (msg). */
int lease_run_begin(db *d, lease_run *run, const char *kind, int force, char *msg, size_t msglen);
/* Keep the lease through a long run (between jobs). 1, 0 lost, -1 error. */
int lease_run_renew(db *d, lease_run *run);
/* Record the end (ok: every job succeeded) and release the lease. */
void lease_run_end(db *d, lease_run *run, int ok);

#endif
