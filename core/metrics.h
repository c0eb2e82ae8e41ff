/* metrics.h - Prometheus counters shared by master and workers (prefix met_).
 *
 * Counters live in one anonymous shared mapping created by the master before
 * it forks, updated with atomic adds, so GET /metrics from any worker reports
 * the whole node. They are per machine by nature; nothing else needs them. */
#ifndef PORTAL_METRICS_H
#define PORTAL_METRICS_H
#include "buf.h"

/* Map the shared block (master, before fork). 0 or -1. Without it the
 * functions below count into a private block (tests, CLI). */
int met_init(void);
void met_request(int status, double ms);
void met_db_error(void);
void met_db_rerun(void);          /* a transaction rerun by db_tx */
void met_db_failover(void);       /* a connection moved to a db_failover server */
void met_worker_restart(void);
void met_worker_count(int n);
/* Append the Prometheus text exposition. */
void met_render(buf *b);

#endif
