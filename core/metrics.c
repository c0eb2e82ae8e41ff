/* metrics.c - node-wide counters in one shared mapping, Prometheus text out. */
#include "metrics.h"
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

static const double met_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof met_bounds / sizeof met_bounds[0])

struct met_block {
	uint64_t by_status[600];
	uint64_t buckets[NBOUNDS + 1];      /* last is +Inf */
	uint64_t sum_us;
	uint64_t restarts;
	uint64_t db_errors;
	uint64_t db_reruns;
	uint64_t db_failovers;
	uint64_t workers;
};

/* Points at the shared block after met_init(); the private fallback keeps
 * tests and the command line working without one. Set once before fork. */
static struct met_block met_private;
static struct met_block *met = &met_private;

int met_init(void)
{
	void *p = mmap(NULL, sizeof(struct met_block), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(struct met_block));
	met = p;
	return 0;
}

static void met_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t met_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void met_request(int status, double ms)
{
	if (status < 100 || status >= 600)
		status = 500;
	met_add(&met->by_status[status], 1);
	double s = ms / 1000.0;
	size_t i = 0;
	while (i < NBOUNDS && s > met_bounds[i])
		i++;
	met_add(&met->buckets[i], 1);
	met_add(&met->sum_us, (uint64_t)(ms * 1000.0));
}

void met_db_error(void)
{
	met_add(&met->db_errors, 1);
}

void met_db_rerun(void)
{
	met_add(&met->db_reruns, 1);
}

void met_db_failover(void)
{
	met_add(&met->db_failovers, 1);
}

void met_worker_restart(void)
{
	met_add(&met->restarts, 1);
}

void met_worker_count(int n)
{
	__atomic_store_n(&met->workers, (uint64_t)(n < 0 ? 0 : n), __ATOMIC_RELAXED);
}

void met_render(buf *b)
{
	buf_adds(b, "# HELP portal_requests_total Requests answered, by HTTP status.\n"
	            "# TYPE portal_requests_total counter\n");
	for (int s = 100; s < 600; s++) {
		uint64_t v = met_get(&met->by_status[s]);
		if (v)
			buf_printf(b, "portal_requests_total{status=\"%d\"} %llu\n", s, (unsigned long long)v);
	}
	buf_adds(b, "# HELP portal_request_duration_seconds Time from request start to response ready.\n"
	            "# TYPE portal_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += met_get(&met->buckets[i]);
		buf_printf(b, "portal_request_duration_seconds_bucket{le=\"%g\"} %llu\n", met_bounds[i],
		           (unsigned long long)cum);
	}
	cum += met_get(&met->buckets[NBOUNDS]);
	buf_printf(b, "portal_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	buf_printf(b, "portal_request_duration_seconds_sum %.6f\n", (double)met_get(&met->sum_us) / 1e6);
	/* the count is the +Inf bucket, so the two always agree in one scrape */
	buf_printf(b, "portal_request_duration_seconds_count %llu\n", (unsigned long long)cum);
	buf_printf(b, "# HELP portal_worker_restarts_total Workers respawned after dying.\n"
	              "# TYPE portal_worker_restarts_total counter\n"
	              "portal_worker_restarts_total %llu\n"
	              "# HELP portal_db_errors_total Database errors seen by workers.\n"
	              "# TYPE portal_db_errors_total counter\n"
	              "portal_db_errors_total %llu\n"
	              "# HELP portal_db_tx_reruns_total Transactions rerun after a deadlock, a Galera certification failure or a lost connection.\n"
	              "# TYPE portal_db_tx_reruns_total counter\n"
	              "portal_db_tx_reruns_total %llu\n"
	              "# HELP portal_db_failovers_total Moves of a worker's database connection to a db_failover server.\n"
	              "# TYPE portal_db_failovers_total counter\n"
	              "portal_db_failovers_total %llu\n"
	              "# HELP portal_workers Worker processes running.\n"
	              "# TYPE portal_workers gauge\n"
	              "portal_workers %llu\n",
	           (unsigned long long)met_get(&met->restarts), (unsigned long long)met_get(&met->db_errors),
	           (unsigned long long)met_get(&met->db_reruns), (unsigned long long)met_get(&met->db_failovers),
	           (unsigned long long)met_get(&met->workers));
}
