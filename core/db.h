/* db.h - MariaDB through Connector/C (prefix db_).
 *
 * One connection per worker, never shared. Every data query is a prepared
 * statement, cached per connection by its SQL text. Results come back as text
 * copied into the caller's arena, with each column's kind of number (so the
 * Lua layer can hand out integers and numbers rather than strings). A lost
 * connection (2006/2013) is reopened and the statement re-prepared and
 * retried once, but only outside a transaction: inside one, the error is
 * returned and db_tx() decides (it replays the whole transaction function,
 * never half of one).
 *
 * Session settings on every (re)connect: charset utf8mb4; a strict sql_mode;
 * time_zone '+08:00' (China Standard Time, no daylight saving: NOW() and
 * DATETIME values are local times for residents and staff); isolation READ
 * COMMITTED (fewer gap-lock deadlocks than REPEATABLE READ; code that needs a
 * stable view takes explicit row locks with SELECT .. FOR UPDATE);
 * innodb_lock_wait_timeout two thirds of the read timeout (at most 50 s), so
 * a lock wait ends in a retryable 1205 before the client would give up.
 * Affected-row counts are rows matched, not rows changed (CLIENT_FOUND_ROWS),
 * so a conditional UPDATE reports whether its WHERE held.
 *
 * Galera (docs/architecture.md, "On a Galera cluster"): the configuration may
 * list other nodes (db_failover). A connection goes to the first address
 * that answers and, if the server replicates (wsrep_on), reports
 * wsrep_ready ON; error 1047 (the node left the primary component) is
 * handled like a lost connection, so the next attempt lands on a ready node.
 * On a Galera server the session's wsrep_sync_wait is db_sync_wait. */
#ifndef PORTAL_DB_H
#define PORTAL_DB_H
#include <stddef.h>
#include "arena.h"
#include "conf.h"

typedef struct db db;

enum db_ptype { DB_PNULL = 0, DB_PINT, DB_PTEXT };
typedef struct db_param {
	enum db_ptype t;
	long long i;
	const char *s;
	size_t n;
} db_param;

#define DB_INT(x)  ((db_param){DB_PINT, (long long)(x), NULL, 0})
/* DB_TEXT(NULL) binds SQL NULL. */
#define DB_TEXT(x) ((db_param){DB_PTEXT, 0, (x), (size_t)-1})
#define DB_TEXTN(x, len) ((db_param){DB_PTEXT, 0, (x), (len)})
#define DB_NULL    ((db_param){DB_PNULL, 0, NULL, 0})

typedef struct db_res {
	size_t nrows, ncols;
	const char **names;        /* column names */
	int *numeric;              /* per column: 1 integer type (TINYINT..BIGINT, YEAR),
	                            * 2 DECIMAL/FLOAT/DOUBLE, 0 anything else (text,
	                            * dates, BIT, ...); NULL when ncols is 0 */
	char ***rows;              /* rows[r][c], NULL for SQL NULL */
	size_t **lens;             /* lens[r][c] */
	unsigned long long affected;
	unsigned long long insert_id;
} db_res;

enum db_status {
	DB_OK = 0,
	DB_EDUP = -1,       /* duplicate key (1062) */
	DB_ERETRY = -2,     /* deadlock (1213), lock wait timeout (1205), Galera certification: retry the transaction */
	DB_ELOST = -3,      /* connection lost and not safely retryable */
	DB_EFAIL = -4       /* anything else; see db_errmsg */
};

/* Connect over cf->db_socket (TCP to db_host:db_port when it is empty) with
 * utf8mb4 and the timeouts from cf (0 = 5 s connect, 30 s read/write); NULL
 * with a message in err. Works whether or not mysql_library_init() ran. */
db *db_open(const conf *cf, char *err, size_t errlen);
void db_close(db *d);
/* Run sql with params p[0..np). *out (may be NULL when not wanted) gets the
 * rows of a SELECT (or, for other statements, a result with no rows and the
 * affected count and insert id), all copied into a; *out is NULL on error.
 * Returns a db_status. Inside db_tx, once a statement failed with DB_ERETRY
 * or DB_ELOST the transaction is dead: later calls return that status at once
 * without touching the server, until db_tx() rolls back and reruns. */
int db_exec(db *d, arena *a, db_res **out, const char *sql, const db_param *p, size_t np);
/* db_exec, except that a statement whose connection was lost is not sent
 * again here (the connection is reopened for the next one; DB_ELOST): for
 * work with a time budget, whose caller decides with the time left whether
 * to try again (plugin SQL: a second try must not double the wait). */
int db_exec_noreplay(db *d, arena *a, db_res **out, const char *sql, const db_param *p, size_t np);
/* Convenience: db_q(d, a, &res, "SELECT .. WHERE id=?", DB_INT(id)) */
#define db_q(d, a, out, sql, ...) \
	db_exec((d), (a), (out), (sql), (const db_param[]){__VA_ARGS__}, \
	        sizeof((const db_param[]){__VA_ARGS__}) / sizeof(db_param))
#define db_q0(d, a, out, sql) db_exec((d), (a), (out), (sql), NULL, 0)
/* Run fn(d, ctx) inside START TRANSACTION .. COMMIT. fn returns 0 to commit,
 * any other value to roll back (returned as is). DB_ERETRY or a lost
 * connection from fn or from COMMIT reruns fn from the start, up to
 * cf->db_tx_retries times (3 when 0) after a short random pause; a dead
 * transaction (see db_exec) is rerun even if fn swallowed the error. fn must
 * therefore be safe to run again and keep its effects inside the database.
 * A connection lost during COMMIT leaves it unknown whether the commit
 * happened: the rerun relies on unique keys to refuse a duplicate.
 * Nesting is refused with DB_EFAIL. */
typedef int (*db_tx_fn)(db *d, void *ctx);
int db_tx(db *d, db_tx_fn fn, void *ctx);
/* 1 if inside db_tx. */
int db_in_tx(const db *d);
/* Round trip to the server; reconnects if needed. 0 when healthy. */
int db_ping(db *d);
/* Raw statement for DDL in migrations (not prepared; never with user input).
 * Any result is read and discarded. A lost connection is reopened but the
 * statement is not replayed (DB_ELOST). */
int db_raw(db *d, const char *sql);
/* The last failure of the last call: message ("" if it succeeded) and the
 * server or client error number (0 if none or not from the server). */
/* "?, ?, ?" with n marks (n >= 1), in arena a: the placeholders of an IN (...)
 * list whose values are bound one by one. */
const char *db_marks(arena *a, size_t n);
const char *db_errmsg(const db *d);
unsigned db_errno(const db *d);
/* Causal reads on or off for what follows (Galera): on, reads wait until the
 * node applied what the cluster committed before them (wsrep_sync_wait =
 * db_sync_wait); off, they read what the node has (0). A round trip only when
 * it changes; nothing without Galera, inside a transaction, or while
 * disconnected (a new session starts with db_sync_wait). A db_status. */
int db_causal(db *d, int on);
/* Reruns of transactions by db_tx (deadlocks, certification failures, lost
 * connections) and moves to a failover server, since db_open (metrics). */
unsigned long db_rerun_count(const db *d);
unsigned long db_failover_count(const db *d);
/* The Galera state of the server this connection is on. */
typedef struct db_cluster {
	int wsrep;               /* 1: the server replicates with Galera; 0: a lone server */
	int ready;               /* wsrep_ready ON (always 1 for a lone server) */
	int local_state;         /* wsrep_local_state: 4 Synced, 2 Donor, 1 Joining, 3 Joined; -1 unknown */
	char state[32];          /* wsrep_local_state_comment */
	char status[32];         /* wsrep_cluster_status: Primary, non-Primary, Disconnected */
	long long size;          /* wsrep_cluster_size */
	long long cert_failures; /* wsrep_local_cert_failures */
	long long bf_aborts;     /* wsrep_local_bf_aborts */
	char node[96];           /* the address connected to */
	int failed_over;         /* 1: on a db_failover server, not the first */
} db_cluster;
/* Fill st (reads with wsrep_sync_wait = 0). A connection on a node that is
 * not ready first moves to one that is (db_failover). Returns a db_status;
 * st->local_state is -1 when the server could not be asked. Not inside a
 * transaction. */
int db_cluster_state(db *d, arena *a, db_cluster *st);
/* Cached prepared statements (for metrics and tests). */
size_t db_cached(const db *d);
/* Count of errors since db_open, including those retried transparently
 * (for metrics). */
unsigned long db_error_count(const db *d);
/* Helpers for results, column looked up by name (case-insensitive): cell
 * text, or NULL for SQL NULL, a missing column or a row out of range; cell as
 * integer (0 in those cases). */
const char *db_cell(const db_res *r, size_t row, const char *col);
long long db_cell_int(const db_res *r, size_t row, const char *col);

#endif
