/* db.c - MariaDB through Connector/C 3.3: connection, per-connection cache of
 * prepared statements, text results copied into an arena, error mapping,
 * reconnects, and transactions with retries. The contract is in db.h. */
#include "db.h"
#include "log.h"
#include <errno.h>
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DB_CACHE_MAX 256        /* prepared statements kept per connection */
#define DB_BUCKETS 512          /* hash buckets (power of two, > DB_CACHE_MAX) */
#define DB_CELL 1024            /* first fetch buffer per column; longer values are re-fetched */
#define DB_TX_RETRIES 3         /* reruns of a transaction when cf->db_tx_retries is 0 */
#define DB_T_CONNECT 5          /* seconds, when the configuration says 0 */
#define DB_T_RW 30
#define DB_MAX_ADDRS 8          /* the server and its failover list (db_failover) */
#define DB_PREFER_AGAIN 30      /* seconds on a failover server before trying the first again */

/* Not in Connector/C 3.3's mysqld_error.h: MariaDB 11 / MySQL 8 send it when
 * the server closed an idle connection (wait_timeout). */
#define DB_ER_CLIENT_INTERACTION_TIMEOUT 4031

/* Messages of this module, for the operator's log. Macros rather than a
 * table so that printf formats stay checked by the compiler. */
#define DB_M_NOMEM "out of memory in the database client"
#define DB_M_CONNECT "cannot connect to MariaDB at %s: %s"
#define DB_M_SESSION "cannot set up the MariaDB session (%s): %s"
#define DB_M_RECONNECT "%.240s; reconnect failed: %.240s"
#define DB_M_NESTED "db_tx called inside a transaction (nesting is not supported)"
#define DB_M_NPARAMS "statement has %lu placeholders but %zu parameters were given: %.200s"
#define DB_M_PTYPE "unknown parameter type %d (parameter %zu)"
#define DB_M_NO_ARENA "db_exec needs an arena to return rows"
#define DB_M_FETCH "re-fetching column %u failed: %s"
#define DB_M_NOTREADY "%s is not ready for clients (Galera: wsrep_ready OFF, outside the primary component)"
#define DB_M_NOTSYNCED "%s is not Synced (Galera wsrep_local_state %s)"

/* One cached prepared statement, chained in its hash bucket. */
struct db_stmt {
	struct db_stmt *next;
	uint32_t hash;
	unsigned long long used;        /* LRU tick */
	MYSQL_STMT *st;
	char sql[];
};

/* One server to connect to: a unix socket (port 0) or host:port. */
struct db_addr {
	char *where;                    /* socket path or host */
	unsigned port;
};

struct db {
	MYSQL *my;                      /* NULL while disconnected */
	/* connection settings, copied from the configuration: addr[0] is the
	 * server (db_socket or db_host:db_port), then the db_failover list */
	struct db_addr addr[DB_MAX_ADDRS];
	int naddr, cur;                 /* cur: the address connected to */
	char *user, *password, *name;
	unsigned t_connect, t_read, t_write;
	int tx_retries;
	int sync_wait;                  /* wsrep_sync_wait for causal reads (db_sync_wait) */
	int sync_now;                   /* the session's wsrep_sync_wait now */
	int wsrep;                      /* the server connected to runs Galera */
	int want_synced;                /* db_connect's first pass: Synced nodes only */
	time_t alt_since;               /* when we failed over to addr[cur > 0] */
	unsigned long failovers, reruns;
	/* transaction state */
	int in_tx;
	int tx_dead;                    /* DB_ERETRY / DB_ELOST once the open transaction failed */
	/* statement cache */
	struct db_stmt *bucket[DB_BUCKETS];
	size_t ncached;
	unsigned long long tick;
	/* scratch for binding, grown as needed, reused by every statement */
	MYSQL_BIND *pbind;
	long long *pint;
	size_t pcap;
	MYSQL_BIND *rbind;
	char *rbuf;
	unsigned long *rlen;
	my_bool *rnull, *rerr;
	size_t rcap;
	/* errors */
	unsigned err_no;
	char errmsg[512];
	unsigned long nerrors;
	uint32_t rng;
};

/* Internal result of one attempt: a db_status, or this when the statement
 * must be prepared again (1615, 1243); db_exec then does so once. */
#define DB_REPREPARE (-100)

/* ---- small utilities ------------------------------------------------------ */

static void *db_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "portald: %s\n", DB_M_NOMEM);
		abort();
	}
	return q;
}

static char *db_xstrdup(const char *s)
{
	size_t n = strlen(s ? s : "");
	char *p = db_xrealloc(NULL, n + 1);
	memcpy(p, s ? s : "", n + 1);
	return p;
}

static void db_clearerr(db *d)
{
	d->err_no = 0;
	d->errmsg[0] = 0;
}

/* Record an error (number and formatted message) and count it. */
__attribute__((format(printf, 3, 4)))
static void db_seterr(db *d, unsigned no, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
	va_end(ap);
	d->err_no = no;
	d->nerrors++;
}

/* FNV-1a, 32 bits. */
static uint32_t db_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* xorshift32 for the retry pause; seeded per handle. */
static uint32_t db_rand(db *d)
{
	uint32_t x = d->rng ? d->rng : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	d->rng = x;
	return x;
}

static void db_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- statement cache ------------------------------------------------------- */

static struct db_stmt *cache_find(db *d, const char *sql, uint32_t h)
{
	for (struct db_stmt *s = d->bucket[h & (DB_BUCKETS - 1)]; s; s = s->next)
		if (s->hash == h && strcmp(s->sql, sql) == 0)
			return s;
	return NULL;
}

/* Unlink s from its bucket, close its statement and free it. */
static void cache_remove(db *d, struct db_stmt *s)
{
	struct db_stmt **pp = &d->bucket[s->hash & (DB_BUCKETS - 1)];
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	mysql_stmt_close(s->st);
	free(s);
	d->ncached--;
}

/* Drop the least recently used statement (the cache is full). */
static void cache_evict(db *d)
{
	struct db_stmt *old = NULL;
	for (size_t b = 0; b < DB_BUCKETS; b++)
		for (struct db_stmt *s = d->bucket[b]; s; s = s->next)
			if (!old || s->used < old->used)
				old = s;
	if (old)
		cache_remove(d, old);
}

/* Close every cached statement (after a reconnect they are invalid). */
static void cache_clear(db *d)
{
	for (size_t b = 0; b < DB_BUCKETS; b++) {
		struct db_stmt *s = d->bucket[b];
		while (s) {
			struct db_stmt *next = s->next;
			mysql_stmt_close(s->st);
			free(s);
			s = next;
		}
		d->bucket[b] = NULL;
	}
	d->ncached = 0;
}

static void cache_add(db *d, const char *sql, uint32_t h, MYSQL_STMT *st)
{
	if (d->ncached >= DB_CACHE_MAX)
		cache_evict(d);
	size_t n = strlen(sql);
	struct db_stmt *s = db_xrealloc(NULL, sizeof *s + n + 1);
	memcpy(s->sql, sql, n + 1);
	s->hash = h;
	s->st = st;
	s->used = ++d->tick;
	s->next = d->bucket[h & (DB_BUCKETS - 1)];
	d->bucket[h & (DB_BUCKETS - 1)] = s;
	d->ncached++;
}

/* ---- connection ------------------------------------------------------------ */

/* Close the connection and every statement prepared on it. mysql_close()
 * detaches the statements first, so closing them afterwards only frees
 * memory and never talks to a dead server. */
static void db_disconnect(db *d)
{
	if (d->my) {
		mysql_close(d->my);
		d->my = NULL;
	}
	cache_clear(d);
}

/* Address i, for messages. */
static const char *db_where(const db *d, int i, char *tmp, size_t n)
{
	if (d->addr[i].port == 0)
		return d->addr[i].where;
	snprintf(tmp, n, "%s:%u", d->addr[i].where, d->addr[i].port);
	return tmp;
}

static time_t db_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Text protocol query returning one row; the row's first n cells (NULL for
 * SQL NULL) copied into out[i] (size outlen each). -1 on error, 0 no row, 1. */
static int db_row(MYSQL *my, const char *sql, char out[][64], size_t n)
{
	if (mysql_query(my, sql) != 0)
		return -1;
	MYSQL_RES *r = mysql_store_result(my);
	if (!r)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(r);
	int got = row != NULL;
	for (size_t i = 0; row && i < n && i < mysql_num_fields(r); i++)
		snprintf(out[i], 64, "%s", row[i] ? row[i] : "");
	mysql_free_result(r);
	return got;
}

/* Galera: a server that replicates (wsrep_on) must be ready for clients
 * (wsrep_ready ON: in the primary component and synced enough to serve),
 * else the caller tries the next address; the session's wsrep_sync_wait is
 * set from db_sync_wait. -1 with the error recorded. */
static int db_session_wsrep(db *d, MYSQL *my)
{
	char v[2][64] = {"", ""};
	/* a server without Galera support has no @@wsrep_on: not a cluster */
	d->wsrep = db_row(my, "SELECT @@global.wsrep_on", v, 1) == 1 && strcmp(v[0], "1") == 0;
	if (!d->wsrep)
		return 0;
	char where[300];
	if (db_row(my, "SHOW GLOBAL STATUS LIKE 'wsrep_ready'", v, 2) != 1 || strcmp(v[1], "ON") != 0) {
		db_seterr(d, ER_UNKNOWN_COM_ERROR, DB_M_NOTREADY, db_where(d, d->cur, where, sizeof where));
		return -1;
	}
	/* first choice: a Synced node; a Joined one is still applying what it
	 * missed (causal reads would wait for it) and an rsync Donor blocks
	 * writes while it copies */
	if (d->want_synced && (db_row(my, "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'", v, 2) != 1 ||
	                       strcmp(v[1], "4") != 0)) {
		db_seterr(d, ER_UNKNOWN_COM_ERROR, DB_M_NOTSYNCED, db_where(d, d->cur, where, sizeof where), v[1]);
		return -1;
	}
	char set[64];
	snprintf(set, sizeof set, "SET SESSION wsrep_sync_wait = %d", d->sync_wait);
	if (mysql_query(my, set) != 0) {
		db_seterr(d, mysql_errno(my), DB_M_SESSION, set, mysql_error(my));
		return -1;
	}
	d->sync_now = d->sync_wait;
	return 0;
}

/* Set up a new session; -1 with the error recorded.
 * - time_zone: China Standard Time (UTC+8, no daylight saving).
 * - READ COMMITTED: fewer gap locks, hence fewer deadlocks, than REPEATABLE
 *   READ; code that needs a stable view locks rows (SELECT .. FOR UPDATE).
 * - innodb_lock_wait_timeout below the read timeout: a lock wait must end on
 *   the server (1205, retryable) before the client gives up reading, since a
 *   client timeout looks like a lost connection while the statement may
 *   still go on and commit. */
static int db_session(db *d, MYSQL *my)
{
	unsigned lw = d->t_read * 2 / 3;
	char set[400];
	snprintf(set, sizeof set, "SET SESSION sql_mode='STRICT_ALL_TABLES,NO_ZERO_DATE,"
	         "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',"
	         " SESSION time_zone='+08:00', SESSION innodb_lock_wait_timeout=%u",
	         lw < 1 ? 1 : lw > 50 ? 50 : lw);
	const char *sql[] = { set, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED" };
	for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
		if (mysql_query(my, sql[i]) != 0) {
			db_seterr(d, mysql_errno(my), DB_M_SESSION, sql[i], mysql_error(my));
			return -1;
		}
	}
	return db_session_wsrep(d, my);
}

/* Open a connection to address i and set the session up; -1 with the
 * error recorded. */
static int db_connect_to(db *d, int i)
{
	char where[300];
	MYSQL *my = mysql_init(NULL);
	if (!my) {
		db_seterr(d, CR_OUT_OF_MEMORY, "%s", DB_M_NOMEM);
		return -1;
	}
	const struct db_addr *ad = &d->addr[i];
	my_bool off = 0, on = 1;
	unsigned int no_infile = 0;
	unsigned int proto = ad->port == 0 ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &d->t_connect);
	mysql_optionsv(my, MYSQL_OPT_READ_TIMEOUT, &d->t_read);
	mysql_optionsv(my, MYSQL_OPT_WRITE_TIMEOUT, &d->t_write);
	mysql_optionsv(my, MYSQL_OPT_RECONNECT, &off);
	mysql_optionsv(my, MYSQL_OPT_LOCAL_INFILE, &no_infile);
	mysql_optionsv(my, MYSQL_REPORT_DATA_TRUNCATION, &on);
	mysql_optionsv(my, MYSQL_OPT_PROTOCOL, &proto);
	d->cur = i;
	if (!mysql_real_connect(my, ad->port == 0 ? "localhost" : ad->where, d->user, d->password,
	                        *d->name ? d->name : NULL, ad->port, ad->port == 0 ? ad->where : NULL,
	                        CLIENT_FOUND_ROWS)) {
		db_seterr(d, mysql_errno(my), DB_M_CONNECT, db_where(d, i, where, sizeof where), mysql_error(my));
		mysql_close(my);
		return -1;
	}
	if (db_session(d, my) != 0) {
		mysql_close(my);
		return -1;
	}
	d->my = my;
	return 0;
}

/* Connect to the first address that answers and is ready, in order (the
 * server first, then db_failover); -1 with the last error recorded. Landing
 * anywhere but the first counts as a failover. */
static int db_connect(db *d)
{
	int was = d->cur;
	/* with a failover list: a Synced node first, then any ready one */
	for (int i = 0, pass = d->naddr > 1 ? 0 : 1; pass < 2; i++) {
		if (i == d->naddr) {
			i = -1;
			pass++;
			continue;
		}
		d->want_synced = pass == 0;
		int rc = db_connect_to(d, i);
		d->want_synced = 0;
		if (rc != 0)
			continue;
		if (i > 0) {
			if (i != was) {
				char w[300];
				d->failovers++;
				log_warn("database failover", "to=%s reason=\"%s\"", db_where(d, i, w, sizeof w), d->errmsg);
			}
			d->alt_since = db_mono();
		}
		return 0;
	}
	return -1;
}

/* The connection is gone: drop it and its statements, kill the open
 * transaction if any, and connect again at once. Returns 0 when connected
 * again. The recorded error (the loss) is kept; a failed reconnect adds its
 * own message. */
static int db_reconnect(db *d)
{
	db_disconnect(d);
	if (d->in_tx && !d->tx_dead)
		d->tx_dead = DB_ELOST;
	char lost[sizeof d->errmsg];
	unsigned no = d->err_no;
	unsigned long nerr = d->nerrors;
	memcpy(lost, d->errmsg, sizeof lost);
	if (db_connect(d) == 0) {
		d->err_no = no;
		memcpy(d->errmsg, lost, sizeof lost);
		return 0;
	}
	char again[sizeof d->errmsg];
	memcpy(again, d->errmsg, sizeof again);
	d->nerrors = nerr + 1;
	snprintf(d->errmsg, sizeof d->errmsg, DB_M_RECONNECT, lost, again);
	d->err_no = no;
	return -1;
}

/* Map a server or client error number to a status (or DB_REPREPARE). */
static int db_map(unsigned e)
{
	switch (e) {
	case ER_DUP_ENTRY:
		return DB_EDUP;
	case ER_LOCK_DEADLOCK:          /* also Galera's certification failure */
	case ER_LOCK_WAIT_TIMEOUT:
		return DB_ERETRY;
	case ER_UNKNOWN_COM_ERROR:      /* Galera: "WSREP has not yet prepared node for
	                                 * application use": this node left the primary
	                                 * component. Nothing was done; reconnect, which
	                                 * moves on to a ready node (db_failover). */
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED:
	case DB_ER_CLIENT_INTERACTION_TIMEOUT:
		return DB_ELOST;
	case ER_NEED_REPREPARE:
	case ER_UNKNOWN_STMT_HANDLER:   /* the server forgot the statement (e.g. behind a proxy) */
		return DB_REPREPARE;
	default:
		return DB_EFAIL;
	}
}

/* Record a failure (number, message) and act on it: a lost connection is
 * reopened, a retryable error inside a transaction kills the transaction.
 * Returns the status (or DB_REPREPARE). */
static int db_fail(db *d, unsigned e, const char *msg)
{
	db_seterr(d, e, "%s", msg);
	int rc = db_map(e);
	if (rc == DB_ELOST)
		db_reconnect(d);
	else if (rc == DB_ERETRY && d->in_tx && !d->tx_dead)
		d->tx_dead = DB_ERETRY;
	return rc;
}

/* Be connected: after a failed reconnect, the next call tries again. A
 * connection on a failover server goes back to the first one (which
 * db_connect tries first) once it has been there DB_PREFER_AGAIN seconds,
 * between transactions, so load spreads again after a node came back. */
static int db_ensure(db *d)
{
	if (d->my && d->cur > 0 && !d->in_tx && db_mono() - d->alt_since >= DB_PREFER_AGAIN) {
		db_disconnect(d);
		if (db_connect(d) == 0)
			return DB_OK;
		return DB_ELOST;
	}
	if (d->my)
		return DB_OK;
	db_disconnect(d);
	return db_connect(d) == 0 ? DB_OK : DB_ELOST;
}

/* ---- text protocol ---------------------------------------------------------- */

/* Read and free every result of the query just sent; -1 on error. */
static int db_drain(MYSQL *my)
{
	for (;;) {
		MYSQL_RES *r = mysql_store_result(my);
		if (r)
			mysql_free_result(r);
		else if (mysql_field_count(my) != 0)
			return -1;
		int more = mysql_next_result(my);   /* 0 more, -1 done, > 0 error */
		if (more < 0)
			return 0;
		if (more > 0)
			return -1;
	}
}

/* Run sql over the text protocol and discard any results. When replay is
 * set and no transaction is open, a lost connection is reopened and the
 * statement sent once more. */
static int db_query(db *d, const char *sql, int replay)
{
	for (int attempt = 0;; attempt++) {
		if (db_ensure(d) != 0)
			return DB_ELOST;
		if (mysql_real_query(d->my, sql, (unsigned long)strlen(sql)) == 0 &&
		    db_drain(d->my) == 0)
			return DB_OK;
		int rc = db_fail(d, mysql_errno(d->my), mysql_error(d->my));
		if (rc == DB_REPREPARE)
			rc = DB_EFAIL;
		if (rc == DB_ELOST && replay && attempt == 0 && !d->in_tx && d->my)
			continue;
		return rc;
	}
}

/* ---- prepared statements ------------------------------------------------------ */

static void db_grow_params(db *d, size_t n)
{
	if (n <= d->pcap)
		return;
	d->pbind = db_xrealloc(d->pbind, n * sizeof *d->pbind);
	d->pint = db_xrealloc(d->pint, n * sizeof *d->pint);
	d->pcap = n;
}

static void db_grow_results(db *d, size_t n)
{
	if (n <= d->rcap)
		return;
	d->rbind = db_xrealloc(d->rbind, n * sizeof *d->rbind);
	d->rbuf = db_xrealloc(d->rbuf, n * DB_CELL);
	d->rlen = db_xrealloc(d->rlen, n * sizeof *d->rlen);
	d->rnull = db_xrealloc(d->rnull, n * sizeof *d->rnull);
	d->rerr = db_xrealloc(d->rerr, n * sizeof *d->rerr);
	d->rcap = n;
}

/* The cached statement for sql, prepared now if needed; NULL with the status
 * in *rc. */
static MYSQL_STMT *db_prepare(db *d, const char *sql, int *rc)
{
	uint32_t h = db_hash(sql);
	struct db_stmt *s = cache_find(d, sql, h);
	if (s) {
		s->used = ++d->tick;
		return s->st;
	}
	MYSQL_STMT *st = mysql_stmt_init(d->my);
	if (!st) {
		*rc = db_fail(d, mysql_errno(d->my), mysql_error(d->my));
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		unsigned e = mysql_stmt_errno(st);
		char msg[MYSQL_ERRMSG_SIZE];
		snprintf(msg, sizeof msg, "%s", mysql_stmt_error(st));
		mysql_stmt_close(st);
		*rc = db_fail(d, e, msg);
		return NULL;
	}
	cache_add(d, sql, h, st);
	return st;
}

/* Forget the cached statement for sql (the server wants it prepared again). */
static void db_unprepare(db *d, const char *sql)
{
	uint32_t h = db_hash(sql);
	struct db_stmt *s = cache_find(d, sql, h);
	if (s)
		cache_remove(d, s);
}

static int db_stmt_fail(db *d, MYSQL_STMT *st)
{
	unsigned e = mysql_stmt_errno(st);
	char msg[MYSQL_ERRMSG_SIZE];
	snprintf(msg, sizeof msg, "%s", e ? mysql_stmt_error(st) : mysql_error(d->my));
	if (!e)
		e = mysql_errno(d->my);
	mysql_stmt_free_result(st);
	/* An error that arrives while the rows are read (a statement stopped
	 * by max_statement_time or KILL QUERY after its result set began)
	 * leaves the statement out of step with the server: its next
	 * execution then waited for the read timeout (30 s) and failed as a
	 * lost connection. A reset brings it back in step (no round trip to
	 * a server that is gone: it fails at once then). */
	mysql_stmt_reset(st);
	return db_fail(d, e, msg);
}

static int db_bind_params(db *d, MYSQL_STMT *st, const char *sql, const db_param *p, size_t np)
{
	unsigned long want = mysql_stmt_param_count(st);
	if (want != np) {
		db_seterr(d, 0, DB_M_NPARAMS, want, np, sql);
		return DB_EFAIL;
	}
	if (np == 0)
		return DB_OK;
	db_grow_params(d, np);
	memset(d->pbind, 0, np * sizeof *d->pbind);
	for (size_t i = 0; i < np; i++) {
		MYSQL_BIND *b = &d->pbind[i];
		switch (p[i].t) {
		case DB_PINT:
			d->pint[i] = p[i].i;
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &d->pint[i];
			break;
		case DB_PTEXT:
			if (!p[i].s) {
				b->buffer_type = MYSQL_TYPE_NULL;
				break;
			}
			b->buffer_type = MYSQL_TYPE_STRING;
			b->buffer = (void *)(uintptr_t)p[i].s;
			b->buffer_length = p[i].n == (size_t)-1 ? strlen(p[i].s) : p[i].n;
			break;
		case DB_PNULL:
			b->buffer_type = MYSQL_TYPE_NULL;
			break;
		default:
			db_seterr(d, 0, DB_M_PTYPE, (int)p[i].t, i);
			return DB_EFAIL;
		}
	}
	if (mysql_stmt_bind_param(st, d->pbind) != 0)
		return db_stmt_fail(d, st);
	return DB_OK;
}

/* Copy one column of the current row into the arena, re-fetching it with a
 * buffer of the right size when the first buffer was too small. */
static int db_take_cell(db *d, MYSQL_STMT *st, arena *a, unsigned c, char **cell, size_t *len)
{
	if (d->rnull[c]) {
		*cell = NULL;
		*len = 0;
		return DB_OK;
	}
	unsigned long n = d->rlen[c];
	if (!d->rerr[c] && n <= DB_CELL) {
		*cell = ar_memdup(a, d->rbuf + (size_t)c * DB_CELL, n);
		*len = n;
		return DB_OK;
	}
	char *p = ar_alloc(a, (size_t)n + 1);
	unsigned long got = 0;
	my_bool isnull = 0, err = 0;
	MYSQL_BIND b;
	memset(&b, 0, sizeof b);
	b.buffer_type = MYSQL_TYPE_STRING;
	b.buffer = p;
	b.buffer_length = n + 1;
	b.length = &got;
	b.is_null = &isnull;
	b.error = &err;
	if (mysql_stmt_fetch_column(st, &b, c, 0) != 0 || err || got > n) {
		db_seterr(d, mysql_stmt_errno(st), DB_M_FETCH, c, mysql_stmt_error(st));
		return DB_EFAIL;
	}
	p[got] = 0;
	*cell = p;
	*len = got;
	return DB_OK;
}

/* The kind of number a column holds, for db_res.numeric. */
static int db_numeric(enum enum_field_types t)
{
	switch (t) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_YEAR:
		return 1;
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_NEWDECIMAL:
	case MYSQL_TYPE_FLOAT:
	case MYSQL_TYPE_DOUBLE:
		return 2;
	default:
		return 0;
	}
}

/* Read the result set of an executed statement into a new db_res. */
static int db_read_rows(db *d, MYSQL_STMT *st, arena *a, db_res *res)
{
	unsigned nf = mysql_stmt_field_count(st);
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	if (!meta)
		return db_stmt_fail(d, st);
	MYSQL_FIELD *f = mysql_fetch_fields(meta);
	res->ncols = nf;
	res->names = ar_alloc(a, nf * sizeof *res->names);
	res->numeric = ar_alloc(a, nf * sizeof *res->numeric);
	for (unsigned c = 0; c < nf; c++) {
		res->names[c] = ar_strdup(a, f[c].name);
		res->numeric[c] = db_numeric(f[c].type);
	}
	mysql_free_result(meta);

	db_grow_results(d, nf);
	memset(d->rbind, 0, nf * sizeof *d->rbind);
	for (unsigned c = 0; c < nf; c++) {
		MYSQL_BIND *b = &d->rbind[c];
		b->buffer_type = MYSQL_TYPE_STRING;
		b->buffer = d->rbuf + (size_t)c * DB_CELL;
		b->buffer_length = DB_CELL;
		b->length = &d->rlen[c];
		b->is_null = &d->rnull[c];
		b->error = &d->rerr[c];
	}
	if (mysql_stmt_bind_result(st, d->rbind) != 0 || mysql_stmt_store_result(st) != 0)
		return db_stmt_fail(d, st);

	size_t n = (size_t)mysql_stmt_num_rows(st);
	res->rows = ar_alloc(a, n * sizeof *res->rows);
	res->lens = ar_alloc(a, n * sizeof *res->lens);
	size_t r = 0;
	for (;;) {
		int frc = mysql_stmt_fetch(st);
		if (frc == MYSQL_NO_DATA)
			break;
		if (frc != 0 && frc != MYSQL_DATA_TRUNCATED)
			return db_stmt_fail(d, st);
		if (r == n)     /* never more rows than stored; be safe anyway */
			break;
		res->rows[r] = ar_alloc(a, nf * sizeof **res->rows);
		res->lens[r] = ar_alloc(a, nf * sizeof **res->lens);
		for (unsigned c = 0; c < nf; c++) {
			int rc = db_take_cell(d, st, a, c, &res->rows[r][c], &res->lens[r][c]);
			if (rc != DB_OK) {
				mysql_stmt_free_result(st);
				return rc;
			}
		}
		r++;
	}
	res->nrows = r;
	res->affected = r;
	return DB_OK;
}

/* Discard whatever the statement still holds (rows, further result sets),
 * so the connection is never out of sync. */
static void db_stmt_done(MYSQL_STMT *st)
{
	mysql_stmt_free_result(st);
	while (mysql_stmt_more_results(st) && mysql_stmt_next_result(st) == 0)
		mysql_stmt_free_result(st);
}

/* One attempt: prepare (or take from the cache), bind, execute, read. */
static int db_exec_once(db *d, arena *a, db_res **out, const char *sql,
                        const db_param *p, size_t np)
{
	int rc = DB_OK;
	if (db_ensure(d) != 0)
		return DB_ELOST;
	MYSQL_STMT *st = db_prepare(d, sql, &rc);
	if (!st)
		return rc;
	if ((rc = db_bind_params(d, st, sql, p, np)) != DB_OK)
		return rc;
	if (mysql_stmt_execute(st) != 0)
		return db_stmt_fail(d, st);
	db_res *res = out ? ar_calloc(a, sizeof *res) : NULL;
	if (mysql_stmt_field_count(st) > 0) {
		if (res)
			rc = db_read_rows(d, st, a, res);
		else if (mysql_stmt_store_result(st) != 0)
			rc = db_stmt_fail(d, st);
	} else if (res) {
		res->affected = mysql_stmt_affected_rows(st);
		res->insert_id = mysql_stmt_insert_id(st);
	}
	if (rc != DB_OK)
		return rc;
	db_stmt_done(st);
	if (out)
		*out = res;
	return DB_OK;
}

/* ---- public functions ---------------------------------------------------------- */

/* Add the "host:port, /path/to.sock, ..." list to d->addr. -1 with a
 * message in err. */
static int db_parse_failover(db *d, const char *list, char *err, size_t errlen)
{
	const char *p = list ? list : "";
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, ", ");
		const char *colon = *p == '/' ? p + n : memchr(p, ':', n);
		char *end = NULL;
		long port = *p == '/' ? 0 : colon ? strtol(colon + 1, &end, 10) : -1;
		if (!colon || colon == p || (*p != '/' && (end != p + n || port < 1 || port > 65535)) ||
		    d->naddr == DB_MAX_ADDRS) {
			if (err && errlen)
				snprintf(err, errlen, "db_failover: expected up to %d host:port (or socket path) entries"
				         " separated by commas, near \"%.*s\"", DB_MAX_ADDRS - 1, (int)n, p);
			return -1;
		}
		char *where = db_xrealloc(NULL, (size_t)(colon - p) + 1);
		memcpy(where, p, (size_t)(colon - p));
		where[colon - p] = 0;
		d->addr[d->naddr].where = where;
		d->addr[d->naddr].port = (unsigned)port;
		d->naddr++;
		p += n;
	}
	return 0;
}

db *db_open(const conf *cf, char *err, size_t errlen)
{
	db *d = db_xrealloc(NULL, sizeof *d);
	memset(d, 0, sizeof *d);
	if (cf->db_socket && *cf->db_socket) {
		d->addr[0].where = db_xstrdup(cf->db_socket);
		d->addr[0].port = 0;
	} else {
		d->addr[0].where = db_xstrdup(cf->db_host && *cf->db_host ? cf->db_host : "127.0.0.1");
		d->addr[0].port = cf->db_port > 0 ? (unsigned)cf->db_port : 3306;
	}
	d->naddr = 1;
	if (db_parse_failover(d, cf->db_failover, err, errlen) != 0) {
		db_close(d);
		return NULL;
	}
	d->sync_wait = cf->db_sync_wait;
	d->user = db_xstrdup(cf->db_user);
	d->password = db_xstrdup(cf->db_password);
	d->name = db_xstrdup(cf->db_name);
	d->t_connect = cf->db_connect_timeout > 0 ? (unsigned)cf->db_connect_timeout : DB_T_CONNECT;
	d->t_read = cf->db_read_timeout > 0 ? (unsigned)cf->db_read_timeout : DB_T_RW;
	d->t_write = cf->db_write_timeout > 0 ? (unsigned)cf->db_write_timeout : DB_T_RW;
	d->tx_retries = cf->db_tx_retries > 0 ? cf->db_tx_retries : DB_TX_RETRIES;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	d->rng = (uint32_t)getpid() * 2654435761u ^ (uint32_t)now.tv_nsec ^ (uint32_t)(uintptr_t)d;
	if (db_connect(d) != 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", d->errmsg);
		db_close(d);
		return NULL;
	}
	return d;
}

void db_close(db *d)
{
	if (!d)
		return;
	db_disconnect(d);
	if (d->password)
		explicit_bzero(d->password, strlen(d->password));
	for (int i = 0; i < d->naddr; i++)
		free(d->addr[i].where);
	free(d->user);
	free(d->password);
	free(d->name);
	free(d->pbind);
	free(d->pint);
	free(d->rbind);
	free(d->rbuf);
	free(d->rlen);
	free(d->rnull);
	free(d->rerr);
	free(d);
}

/* db_exec and db_exec_noreplay: replay says whether a statement whose
 * connection was lost (outside a transaction) is sent again. */
static int db_exec_mode(db *d, arena *a, db_res **out, const char *sql, const db_param *p, size_t np, int replay)
{
	if (out)
		*out = NULL;
	if (d->in_tx && d->tx_dead)     /* errmsg still tells what killed it */
		return d->tx_dead;
	db_clearerr(d);
	if (out && !a) {
		db_seterr(d, 0, "%s", DB_M_NO_ARENA);
		return DB_EFAIL;
	}
	int replay_lost = replay && !d->in_tx, reprepare = 1;
	for (;;) {
		int rc = db_exec_once(d, a, out, sql, p, np);
		if (rc == DB_ELOST && replay_lost && d->my) {
			replay_lost = 0;
			continue;
		}
		if (rc == DB_REPREPARE) {
			if (reprepare && d->my) {
				reprepare = 0;
				db_unprepare(d, sql);
				continue;
			}
			rc = DB_EFAIL;
		}
		if (rc == DB_OK)        /* recovered: forget the loss (it stays counted) */
			db_clearerr(d);
		return rc;
	}
}

int db_exec(db *d, arena *a, db_res **out, const char *sql, const db_param *p, size_t np)
{
	return db_exec_mode(d, a, out, sql, p, np, 1);
}

int db_exec_noreplay(db *d, arena *a, db_res **out, const char *sql, const db_param *p, size_t np)
{
	return db_exec_mode(d, a, out, sql, p, np, 0);
}

int db_tx(db *d, db_tx_fn fn, void *ctx)
{
	if (d->in_tx) {
		db_seterr(d, 0, "%s", DB_M_NESTED);
		return DB_EFAIL;
	}
	db_clearerr(d);
	for (int attempt = 0;; attempt++) {
		int rc = db_query(d, "START TRANSACTION", 1);
		if (rc == DB_OK) {
			d->in_tx = 1;
			d->tx_dead = 0;
			rc = fn(d, ctx);
			if (d->tx_dead)
				rc = d->tx_dead;
			if (rc == DB_OK)
				rc = db_query(d, "COMMIT", 0);
			if (d->tx_dead)
				rc = d->tx_dead;
			d->in_tx = 0;
			d->tx_dead = 0;
			if (rc != DB_OK && rc != DB_ELOST && d->my) {
				/* keep the error that made us roll back */
				char msg[sizeof d->errmsg];
				unsigned no = d->err_no;
				memcpy(msg, d->errmsg, sizeof msg);
				db_query(d, "ROLLBACK", 0);
				d->err_no = no;
				memcpy(d->errmsg, msg, sizeof msg);
			}
		}
		if (rc == DB_OK) {
			db_clearerr(d);
			return DB_OK;
		}
		if ((rc != DB_ERETRY && rc != DB_ELOST) || attempt >= d->tx_retries)
			return rc;
		d->reruns++;
		/* a few ms, growing and randomised so two rerun victims part ways */
		db_sleep_ms(1 + (unsigned)attempt * 2 + db_rand(d) % (4u + 4u * (unsigned)attempt));
	}
}

int db_in_tx(const db *d)
{
	return d->in_tx;
}

int db_ping(db *d)
{
	db_clearerr(d);
	if (!d->my)
		return db_ensure(d);
	if (mysql_ping(d->my) == 0)
		return DB_OK;
	int rc = db_fail(d, mysql_errno(d->my), mysql_error(d->my));
	if (rc == DB_ELOST && d->my) {
		db_clearerr(d);
		return DB_OK;
	}
	return rc == DB_REPREPARE ? DB_EFAIL : rc;
}

int db_raw(db *d, const char *sql)
{
	if (d->in_tx && d->tx_dead)
		return d->tx_dead;
	db_clearerr(d);
	int rc = db_query(d, sql, 0);
	if (rc == DB_OK)
		db_clearerr(d);
	return rc;
}

const char *db_marks(arena *a, size_t n)
{
	char *m = ar_alloc(a, n * 3 + 1), *w = m;
	for (size_t i = 0; i < n; i++) {
		if (i) {
			*w++ = ',';
			*w++ = ' ';
		}
		*w++ = '?';
	}
	*w = 0;
	return m;
}

const char *db_errmsg(const db *d)
{
	return d->errmsg;
}

unsigned db_errno(const db *d)
{
	return d->err_no;
}

int db_causal(db *d, int on)
{
	int want = on ? d->sync_wait : 0;
	if (!d->my || !d->wsrep || d->in_tx || d->sync_now == want)
		return DB_OK;
	char set[64];
	snprintf(set, sizeof set, "SET SESSION wsrep_sync_wait = %d", want);
	int rc = db_query(d, set, 1);
	if (rc == DB_OK)
		d->sync_now = want;
	return rc;
}

unsigned long db_failover_count(const db *d)
{
	return d->failovers;
}

unsigned long db_rerun_count(const db *d)
{
	return d->reruns;
}

/* One status value of the rows of SHOW STATUS (Variable_name, Value). */
static const char *db_status_of(const db_res *r, const char *name)
{
	for (size_t i = 0; r && i < r->nrows; i++)
		if (r->rows[i][0] && strcasecmp(r->rows[i][0], name) == 0)
			return r->rows[i][1] ? r->rows[i][1] : "";
	return "";
}

int db_cluster_state(db *d, arena *a, db_cluster *st)
{
	memset(st, 0, sizeof st[0]);
	st->local_state = -1;
	int rc = db_ensure(d);
	if (rc == DB_OK && !d->in_tx && d->wsrep) {
		/* a node that left the primary component still answers SHOW: move
		 * on to a ready one first (db_connect checks wsrep_ready) */
		db_res *r = NULL;
		rc = db_q0(d, a, &r, "SHOW GLOBAL STATUS LIKE 'wsrep_ready'");
		if (rc == DB_OK && strcmp(db_status_of(r, "wsrep_ready"), "ON") != 0) {
			char where[300];
			db_seterr(d, ER_UNKNOWN_COM_ERROR, DB_M_NOTREADY, db_where(d, d->cur, where, sizeof where));
			db_reconnect(d);
			rc = d->my ? DB_OK : DB_ELOST;
		}
	}
	if (rc != DB_OK)
		return rc;
	char where[300];
	snprintf(st->node, sizeof st->node, "%.95s", db_where(d, d->cur, where, sizeof where));
	st->failed_over = d->cur > 0;
	st->wsrep = d->wsrep;
	if (!d->wsrep) {
		st->ready = 1;
		return DB_OK;
	}
	db_res *r = NULL;
	/* never waits for causality (wsrep_sync_wait = 0): a health check must
	 * answer at once, whatever the node is doing */
	rc = db_q0(d, a, &r, "SET STATEMENT wsrep_sync_wait = 0 FOR SHOW GLOBAL STATUS WHERE Variable_name IN"
	           " ('wsrep_ready', 'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_cluster_status',"
	           " 'wsrep_cluster_size', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts')");
	if (rc != DB_OK)
		return rc;
	st->ready = strcmp(db_status_of(r, "wsrep_ready"), "ON") == 0;
	st->local_state = atoi(db_status_of(r, "wsrep_local_state"));
	snprintf(st->state, sizeof st->state, "%s", db_status_of(r, "wsrep_local_state_comment"));
	snprintf(st->status, sizeof st->status, "%s", db_status_of(r, "wsrep_cluster_status"));
	st->size = atoll(db_status_of(r, "wsrep_cluster_size"));
	st->cert_failures = atoll(db_status_of(r, "wsrep_local_cert_failures"));
	st->bf_aborts = atoll(db_status_of(r, "wsrep_local_bf_aborts"));
	return DB_OK;
}

size_t db_cached(const db *d)
{
	return d->ncached;
}

unsigned long db_error_count(const db *d)
{
	return d->nerrors;
}

/* Index of column col, or -1. */
static long db_col(const db_res *r, const char *col)
{
	for (size_t c = 0; c < r->ncols; c++)
		if (r->names[c] && strcasecmp(r->names[c], col) == 0)
			return (long)c;
	return -1;
}

const char *db_cell(const db_res *r, size_t row, const char *col)
{
	if (!r || !col || row >= r->nrows)
		return NULL;
	long c = db_col(r, col);
	return c < 0 ? NULL : r->rows[row][c];
}

long long db_cell_int(const db_res *r, size_t row, const char *col)
{
	const char *s = db_cell(r, row, col);
	return s ? strtoll(s, NULL, 10) : 0;
}
