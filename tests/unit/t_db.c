/* t_db.c - the database layer (db.c) and migrations (migrate.c) against a
 * real MariaDB.
 *
 * The server comes from the environment: PORTAL_TEST_DB_SOCKET (unix socket),
 * PORTAL_TEST_DB_NAME, PORTAL_TEST_DB_USER, PORTAL_TEST_DB_PASSWORD.
 * scripts/portal test starts one. Without PORTAL_TEST_DB_SOCKET the program
 * skips, unless PORTAL_TEST_REQUIRE_DB=1, which turns a missing or unreachable
 * database into "Bail out!" so a full run can never skip silently.
 * Every test works on its own t_db_* tables, dropped first. The deadlock test
 * runs two threads, each with its own connection (never shared). */
#include "db.h"
#include "lease.h"
#include "migrate.h"
#include "tap.h"
#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DDL(d, sql) ok(db_raw((d), (sql)) == DB_OK, "setup: %.60s", (sql))

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One integer from a one-row query, or -1. */
static long long query_int(db *d, arena *a, const char *sql)
{
	db_res *r = NULL;
	if (db_exec(d, a, &r, sql, NULL, 0) != DB_OK || r->nrows != 1 || r->ncols < 1 || !r->rows[0][0])
		return -1;
	return strtoll(r->rows[0][0], NULL, 10);
}

static long long conn_id(db *d, arena *a)
{
	return query_int(d, a, "SELECT CONNECTION_ID()");
}

/* Kill connection id from another handle and wait until the server let it go. */
static int kill_conn(db *killer, arena *a, long long id)
{
	char sql[64];
	snprintf(sql, sizeof sql, "KILL CONNECTION %lld", id);
	if (db_raw(killer, sql) != DB_OK)
		return -1;
	for (int i = 0; i < 500; i++) {
		db_res *r = NULL;
		if (db_q(killer, a, &r, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
		         DB_INT(id)) != DB_OK)
			return -1;
		if (strcmp(r->rows[0][0], "0") == 0)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

/* ---- connection and session ------------------------------------------------------ */

static void test_connect(const conf *cf, db *d, arena *a)
{
	is_int(db_ping(d), DB_OK, "ping a fresh connection");
	db_res *r = NULL;
	int rc = db_q0(d, a, &r, "SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode,"
	               " @@session.tx_isolation AS iso, @@character_set_connection AS cs,"
	               " @@character_set_results AS rcs, @@autocommit AS ac,"
	               " @@session.innodb_lock_wait_timeout AS lw");
	is_int(rc, DB_OK, "read the session settings");
	if (rc != DB_OK)
		return;
	is_str(db_cell(r, 0, "tz"), "+08:00", "session time zone is China time");
	const char *mode = db_cell(r, 0, "mode");
	ok(mode && strstr(mode, "STRICT_ALL_TABLES") && strstr(mode, "NO_ZERO_DATE") &&
	   strstr(mode, "NO_ZERO_IN_DATE") && strstr(mode, "ERROR_FOR_DIVISION_BY_ZERO") &&
	   strstr(mode, "NO_ENGINE_SUBSTITUTION"), "strict sql_mode (%s)", mode ? mode : "NULL");
	is_str(db_cell(r, 0, "iso"), "READ-COMMITTED", "isolation READ COMMITTED");
	is_str(db_cell(r, 0, "cs"), "utf8mb4", "connection charset utf8mb4");
	is_str(db_cell(r, 0, "rcs"), "utf8mb4", "result charset utf8mb4");
	is_str(db_cell(r, 0, "AC"), "1", "autocommit on, column names case-insensitive");
	is_int(db_cell_int(r, 0, "lw"), 20, "lock waits end before the 30 s read timeout");

	conf bad = *cf;
	bad.db_password = "certainly-not-the-password";
	char err[512] = "";
	db *x = db_open(&bad, err, sizeof err);
	ok(x == NULL, "a wrong password fails to connect");
	ok(strstr(err, "Access denied") != NULL, "with the server's message (%s)", err);
	db_close(x);
}

/* ---- parameters, results, utf8mb4 --------------------------------------------------- */

static void test_values(db *d, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_val");
	DDL(d, "CREATE TABLE t_db_val (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(100) NULL,"
	       " n BIGINT NULL, b MEDIUMBLOB NULL, d DATETIME NULL)"
	       " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	const char *zh = "社区服务 😀";
	db_res *r = NULL;
	int rc = db_q(d, a, &r, "INSERT INTO t_db_val (s, n, b, d) VALUES (?, ?, ?, ?)",
	              DB_TEXT(zh), DB_INT(-9223372036854775807LL), DB_TEXTN("a\0b", 3),
	              DB_TEXT("2024-02-29 08:30:00"));
	is_int(rc, DB_OK, "insert text, integer, binary and datetime parameters");
	ok(r && r->affected == 1 && r->insert_id == 1 && r->nrows == 0,
	   "DML result: 1 affected, insert id 1, no rows");
	rc = db_q(d, a, &r, "INSERT INTO t_db_val (s, n, b, d) VALUES (?, ?, ?, ?)",
	          DB_NULL, DB_NULL, DB_TEXT(NULL), DB_NULL);
	is_int(rc, DB_OK, "insert NULLs (DB_NULL and DB_TEXT(NULL))");
	ok(r && r->insert_id == 2, "second insert id is 2");

	rc = db_q(d, a, &r, "SELECT id, s, CHAR_LENGTH(s) AS chars, LENGTH(s) AS bytes, n, b, d"
	          " FROM t_db_val WHERE id = ?", DB_INT(1));
	is_int(rc, DB_OK, "select by id");
	if (rc != DB_OK)
		return;
	ok(r->nrows == 1 && r->ncols == 7, "one row, seven columns");
	is_str(r->names[1], "s", "column names come with the result");
	is_str(db_cell(r, 0, "s"), zh, "Chinese and an emoji survive the round trip");
	is_int(db_cell_int(r, 0, "chars"), 6, "the server sees 6 characters (utf8mb4)");
	is_int(db_cell_int(r, 0, "bytes"), 17, "stored as 17 bytes");
	is_str(db_cell(r, 0, "n"), "-9223372036854775807", "BIGINT comes back as text");
	is_int(db_cell_int(r, 0, "n"), -9223372036854775807LL, "db_cell_int parses it");
	ok(r->lens[0][5] == 3 && memcmp(r->rows[0][5], "a\0b", 3) == 0,
	   "binary with an embedded NUL keeps its length");
	is_str(db_cell(r, 0, "d"), "2024-02-29 08:30:00", "DATETIME as text");
	ok(db_cell(r, 0, "nope") == NULL && db_cell(r, 1, "s") == NULL,
	   "unknown column or row gives NULL");

	rc = db_q(d, a, &r, "SELECT s, n, b, d FROM t_db_val WHERE id = ?", DB_INT(2));
	ok(rc == DB_OK && r->nrows == 1 && r->rows[0][0] == NULL && r->rows[0][1] == NULL &&
	   r->rows[0][2] == NULL && r->rows[0][3] == NULL, "SQL NULL comes back as a NULL cell");
	if (rc == DB_OK)
		is_int(db_cell_int(r, 0, "n"), 0, "db_cell_int of NULL is 0");

	rc = db_q(d, a, &r, "SELECT ? IS NULL AS a, ? IS NULL AS b, ? IS NULL AS c, ? + 1 AS d",
	          DB_NULL, DB_TEXT(NULL), DB_TEXT(""), DB_INT(41));
	ok(rc == DB_OK && strcmp(db_cell(r, 0, "a"), "1") == 0 && strcmp(db_cell(r, 0, "b"), "1") == 0 &&
	   strcmp(db_cell(r, 0, "c"), "0") == 0 && db_cell_int(r, 0, "d") == 42,
	   "NULL parameters are NULL, the empty string is not, integers are numbers");
	rc = db_q(d, a, &r, "SELECT ? AS t", DB_TEXTN("abcdef", 3));
	is_str(rc == DB_OK ? db_cell(r, 0, "t") : NULL, "abc", "DB_TEXTN sends exactly n bytes");

	rc = db_q(d, a, &r, "SELECT id FROM t_db_val WHERE id > ?", DB_INT(100));
	ok(rc == DB_OK && r->nrows == 0 && r->ncols == 1, "an empty result has columns and no rows");
	rc = db_q(d, a, &r, "UPDATE t_db_val SET n = n WHERE id = ?", DB_INT(1));
	ok(rc == DB_OK && r->affected == 1, "affected counts matched rows, even unchanged ones");
}

static void test_big(db *d, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_big");
	DDL(d, "CREATE TABLE t_db_big (id INT PRIMARY KEY, small VARCHAR(20), big MEDIUMTEXT,"
	       " tail VARCHAR(20)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	size_t n = 100 * 1024;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i += 8)
		memcpy(big + i, "居民ab", 8);
	big[n] = 0;
	int rc = db_q(d, a, NULL, "INSERT INTO t_db_big VALUES (1, 'small', ?, 'tail')", DB_TEXT(big));
	is_int(rc, DB_OK, "insert a 100 KB text");
	db_res *r = NULL;
	rc = db_q(d, a, &r, "SELECT small, big, tail, LENGTH(big) AS len FROM t_db_big WHERE id = ?", DB_INT(1));
	is_int(rc, DB_OK, "select it back");
	if (rc == DB_OK) {
		ok(r->lens[0][1] == n && memcmp(r->rows[0][1], big, n) == 0 && r->rows[0][1][n] == 0,
		   "the 100 KB column arrives whole and NUL-terminated (re-fetched)");
		is_str(r->rows[0][0], "small", "the column before it is intact");
		is_str(r->rows[0][2], "tail", "the column after it is intact");
		is_int(db_cell_int(r, 0, "len"), (long long)n, "server agrees on the length");
	}
	rc = db_q(d, a, &r, "SELECT big FROM t_db_big WHERE id = ?", DB_INT(1));
	ok(rc == DB_OK && r->lens[0][0] == n, "the same statement again (cached) re-fetches again");
	free(big);
}

/* ---- the statement cache ---------------------------------------------------------------- */

/* How many statements this session prepared, as the server counts them. */
static long long prepares(db *d, arena *a)
{
	return query_int(d, a, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
	                 " WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'");
}

static void test_cache(db *d, arena *a)
{
	db_res *r = NULL;
	long long p1 = prepares(d, a);      /* also caches the counting statement */
	size_t n0 = db_cached(d);
	const char *q = "SELECT ? * 2 AS v";
	int rc = db_q(d, a, &r, q, DB_INT(21));
	ok(rc == DB_OK && db_cell_int(r, 0, "v") == 42, "first run");
	size_t n1 = db_cached(d);
	is_int(n1, n0 + 1, "a new statement is cached");
	long long p2 = prepares(d, a);
	is_int(p2 - p1, 1, "the server prepared it");
	rc = db_q(d, a, &r, q, DB_INT(5));
	ok(rc == DB_OK && db_cell_int(r, 0, "v") == 10, "second run with other parameters");
	is_int(db_cached(d), n1, "the cache did not grow");
	is_int(prepares(d, a) - p2, 0, "a hot statement is prepared only once");
	int bad = 0;
	for (int i = 0; i < 300; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "SELECT %d AS v", i);
		if (db_exec(d, a, &r, sql, NULL, 0) != DB_OK || db_cell_int(r, 0, "v") != i)
			bad++;
	}
	is_int(bad, 0, "300 distinct statements all run");
	is_int(db_cached(d), 256, "the cache is bounded at 256 statements");
	rc = db_q(d, a, &r, q, DB_INT(7));
	ok(rc == DB_OK && db_cell_int(r, 0, "v") == 14, "an evicted statement is prepared again");
	rc = db_q0(d, a, &r, "SELECT 299 AS v");
	ok(rc == DB_OK && db_cell_int(r, 0, "v") == 299, "a recent one is still served");
	is_int(db_cached(d), 256, "still bounded");
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_errors(db *d, arena *a)
{
	unsigned long e0 = db_error_count(d);
	db_res *r = (db_res *)1;
	int rc = db_q0(d, a, &r, "SELEC nonsense");
	is_int(rc, DB_EFAIL, "a syntax error is DB_EFAIL");
	is_int(db_errno(d), 1064, "with the server's error number");
	ok(strstr(db_errmsg(d), "syntax") != NULL, "and message (%s)", db_errmsg(d));
	ok(r == NULL, "*out is NULL on error");
	is_int(db_error_count(d), e0 + 1, "errors are counted");
	rc = db_q(d, a, &r, "SELECT ? + ? AS v", DB_INT(1));
	is_int(rc, DB_EFAIL, "too few parameters is DB_EFAIL");
	ok(strstr(db_errmsg(d), "placeholders") != NULL, "the message says why (%s)", db_errmsg(d));
	rc = db_q(d, a, &r, "SELECT ? AS v", (db_param){(enum db_ptype)7, 0, NULL, 0});
	is_int(rc, DB_EFAIL, "an unknown parameter type is refused");
	rc = db_q0(d, NULL, &r, "SELECT 1");
	is_int(rc, DB_EFAIL, "rows without an arena are refused");

	DDL(d, "DROP TABLE IF EXISTS t_db_dup");
	DDL(d, "CREATE TABLE t_db_dup (phone VARCHAR(20) PRIMARY KEY, name VARCHAR(20))"
	       " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	rc = db_q(d, a, NULL, "INSERT INTO t_db_dup VALUES (?, ?)", DB_TEXT("13800000000"), DB_TEXT("张三"));
	is_int(rc, DB_OK, "first registration");
	rc = db_q(d, a, NULL, "INSERT INTO t_db_dup VALUES (?, ?)", DB_TEXT("13800000000"), DB_TEXT("李四"));
	is_int(rc, DB_EDUP, "the same phone again is DB_EDUP");
	is_int(db_errno(d), 1062, "errno 1062");
	rc = db_q(d, a, NULL, "INSERT INTO t_db_dup VALUES (?, ?)", DB_TEXT("13800000001"),
	          DB_TEXT("a name that is much too long for the column"));
	is_int(rc, DB_EFAIL, "strict mode refuses a too long value instead of truncating");

	/* a SELECT whose rows nobody wants must still leave the connection in sync */
	rc = db_q0(d, a, NULL, "SELECT * FROM information_schema.COLLATIONS");
	is_int(rc, DB_OK, "rows not wanted (out == NULL)");
	rc = db_q0(d, a, &r, "SELECT 5 AS v");
	ok(rc == DB_OK && db_cell_int(r, 0, "v") == 5, "the next statement runs (no 'out of sync')");
	is_str(db_errmsg(d), "", "db_errmsg is empty after a success");
	is_int(db_errno(d), 0, "db_errno is 0 after a success");
}

static void test_lock_timeout(db *d, db *d2, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_lock");
	DDL(d, "CREATE TABLE t_db_lock (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
	DDL(d, "INSERT INTO t_db_lock VALUES (1, 0)");
	DDL(d2, "START TRANSACTION");
	DDL(d2, "UPDATE t_db_lock SET v = 1 WHERE id = 1");
	DDL(d, "SET SESSION innodb_lock_wait_timeout = 1");
	int rc = db_q(d, a, NULL, "UPDATE t_db_lock SET v = 2 WHERE id = ?", DB_INT(1));
	is_int(rc, DB_ERETRY, "a lock wait timeout is DB_ERETRY");
	is_int(db_errno(d), 1205, "errno 1205");
	DDL(d2, "ROLLBACK");
	rc = db_q(d, a, NULL, "UPDATE t_db_lock SET v = 2 WHERE id = ?", DB_INT(1));
	is_int(rc, DB_OK, "once the lock is gone the update runs");
}

/* ---- transactions -------------------------------------------------------------------------- */

struct txc {
	arena *a;
	int calls;
	int ret;            /* what fn returns after its inserts */
	int id;
	int nested;         /* result of a nested db_tx */
	int in_tx;
};

static int tx_insert(db *d, void *ctx)
{
	struct txc *c = ctx;
	c->calls++;
	c->in_tx = db_in_tx(d);
	int rc = db_q(d, c->a, NULL, "INSERT INTO t_db_tx (id, v) VALUES (?, 1)", DB_INT(c->id));
	if (rc != DB_OK)
		return rc;
	rc = db_q(d, c->a, NULL, "INSERT INTO t_db_tx (id, v) VALUES (?, 2)", DB_INT(c->id + 1));
	if (rc != DB_OK)
		return rc;
	return c->ret;
}

static int tx_nested(db *d, void *ctx)
{
	struct txc *c = ctx;
	c->nested = db_tx(d, tx_insert, ctx);
	return tx_insert(d, ctx);
}

static int tx_always_retry(db *d, void *ctx)
{
	struct txc *c = ctx;
	c->calls++;
	return DB_ERETRY;
}

static long long count_rows(db *d, arena *a, const char *table)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
	return query_int(d, a, sql);
}

static void test_tx(db *d, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_tx");
	DDL(d, "CREATE TABLE t_db_tx (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
	struct txc c = { a, 0, 0, 1, 0, 0 };
	is_int(db_in_tx(d), 0, "not in a transaction outside db_tx");
	is_int(db_tx(d, tx_insert, &c), DB_OK, "fn returning 0 commits");
	is_int(c.in_tx, 1, "db_in_tx is 1 inside fn");
	is_int(count_rows(d, a, "t_db_tx"), 2, "both rows are there");

	c = (struct txc){ a, 0, 1, 10, 0, 0 };
	is_int(db_tx(d, tx_insert, &c), 1, "fn returning 1: db_tx returns 1");
	is_int(count_rows(d, a, "t_db_tx"), 2, "and nothing was written");
	is_int(c.calls, 1, "a plain failure is not retried");

	c = (struct txc){ a, 0, 0, 2, 0, 0 };    /* 2 collides with the second row of the first tx */
	is_int(db_tx(d, tx_insert, &c), DB_EDUP, "DB_EDUP inside fn rolls back and is returned");
	is_int(count_rows(d, a, "t_db_tx"), 2, "the insert before the duplicate is rolled back too");

	c = (struct txc){ a, 0, 0, 20, 0, 0 };
	is_int(db_tx(d, tx_nested, &c), DB_OK, "outer transaction commits");
	is_int(c.nested, DB_EFAIL, "a nested db_tx is refused with DB_EFAIL");
	is_int(c.calls, 1, "the nested fn never ran");
	is_int(count_rows(d, a, "t_db_tx"), 4, "the outer transaction's rows are there");

	c = (struct txc){ a, 0, 0, 0, 0, 0 };
	is_int(db_tx(d, tx_always_retry, &c), DB_ERETRY, "retries run out: DB_ERETRY");
	is_int(c.calls, 4, "fn ran once plus db_tx_retries (default 3) times");
	is_int(db_in_tx(d), 0, "not in a transaction afterwards");
}

/* ---- lost connections ------------------------------------------------------------------------- */

static void test_lost_outside(db *d, db *d2, arena *a)
{
	long long id = conn_id(d, a);
	ok(id > 0, "connection id %lld", id);
	ok(db_cached(d) > 1, "statements are cached before the loss");
	unsigned long e0 = db_error_count(d);
	ok(kill_conn(d2, a, id) == 0, "KILL the connection from a second handle");
	long long id2 = conn_id(d, a);
	ok(id2 > 0 && id2 != id, "the next statement succeeds on a new connection (%lld)", id2);
	is_int(db_cached(d), 1, "the old statements were dropped; only this one is prepared");
	ok(db_error_count(d) > e0, "the loss is counted");
	is_str(db_errmsg(d), "", "but not reported: the call succeeded");
	db_res *r = NULL;
	int rc = db_q0(d, a, &r, "SELECT @@session.time_zone AS tz");
	is_str(rc == DB_OK ? db_cell(r, 0, "tz") : NULL, "+08:00", "the new session is set up too");

	ok(kill_conn(d2, a, id2) == 0, "KILL it again");
	rc = db_q(d, a, NULL, "INSERT INTO t_db_tx (id, v) VALUES (?, 0)", DB_INT(100));
	is_int(rc, DB_OK, "an insert after the loss succeeds");
	is_int(query_int(d, a, "SELECT COUNT(*) FROM t_db_tx WHERE id = 100"), 1, "written once");

	ok(kill_conn(d2, a, conn_id(d, a)) == 0, "KILL it once more");
	is_int(db_ping(d), DB_OK, "db_ping reconnects");
	ok(conn_id(d, a) > 0, "and the connection works");
}

struct lostc {
	db *killer;
	arena *a;
	int calls;
	int first_rc;       /* status of the statement after the kill */
	int dead_rc;        /* status of one more statement in the dead transaction */
};

static int tx_lost(db *d, void *ctx)
{
	struct lostc *c = ctx;
	c->calls++;
	int rc = db_q(d, c->a, NULL, "INSERT INTO t_db_lost (id) VALUES (?)", DB_INT(1));
	if (rc != DB_OK)
		return rc;
	if (c->calls == 1) {
		if (kill_conn(c->killer, c->a, conn_id(d, c->a)) != 0)
			return 99;
		c->first_rc = db_q(d, c->a, NULL, "INSERT INTO t_db_lost (id) VALUES (?)", DB_INT(2));
		c->dead_rc = db_q(d, c->a, NULL, "INSERT INTO t_db_lost (id) VALUES (?)", DB_INT(3));
		return c->first_rc;
	}
	return db_q(d, c->a, NULL, "INSERT INTO t_db_lost (id) VALUES (?)", DB_INT(2));
}

static void test_lost_inside(db *d, db *d2, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_lost");
	DDL(d, "CREATE TABLE t_db_lost (id INT PRIMARY KEY) ENGINE=InnoDB");
	struct lostc c = { d2, a, 0, 0, 0 };
	is_int(db_tx(d, tx_lost, &c), DB_OK, "the transaction commits in the end");
	is_int(c.first_rc, DB_ELOST, "the statement after the kill got DB_ELOST (not replayed)");
	is_int(c.dead_rc, DB_ELOST, "later statements of the dead transaction are refused");
	is_int(c.calls, 2, "db_tx ran fn again from the start");
	is_int(count_rows(d, a, "t_db_lost"), 2, "rows 1 and 2 written exactly once");
	is_int(query_int(d, a, "SELECT COUNT(*) FROM t_db_lost WHERE id = 3"), 0,
	       "nothing from the dead transaction leaked out in autocommit");
}

/* ---- a real deadlock between two connections ------------------------------------------------ */

struct dlc {
	const conf *cf;
	int first, second;      /* rows locked in this order */
	int rfd, wfd;           /* handshake with the other side */
	int calls;
	int saw_deadlock;
	int rc;                 /* db_tx's status */
	arena *a;
};

static int tx_deadlock(db *d, void *ctx)
{
	struct dlc *c = ctx;
	c->calls++;
	int rc = db_q(d, c->a, NULL, "UPDATE t_db_dl SET v = v + 1 WHERE id = ?", DB_INT(c->first));
	if (rc == DB_OK && c->calls == 1) {
		/* both hold their first row before either asks for its second */
		char x = 'x';
		struct pollfd pf = { c->rfd, POLLIN, 0 };
		if (write(c->wfd, &x, 1) != 1 || poll(&pf, 1, 10000) != 1 || read(c->rfd, &x, 1) != 1)
			return 98;
	}
	if (rc == DB_OK)
		rc = db_q(d, c->a, NULL, "UPDATE t_db_dl SET v = v + 1 WHERE id = ?", DB_INT(c->second));
	if (rc == DB_ERETRY && db_errno(d) == 1213)
		c->saw_deadlock = 1;
	return rc;
}

/* One side, in its own thread with its own connection. */
static void *deadlock_side(void *arg)
{
	struct dlc *c = arg;
	char err[512];
	c->a = ar_new(0);
	db *d = db_open(c->cf, err, sizeof err);
	c->rc = d ? db_raw(d, "SET SESSION innodb_lock_wait_timeout = 10") : 97;
	if (c->rc == DB_OK)
		c->rc = db_tx(d, tx_deadlock, c);
	close(c->wfd);  /* the other side must not wait for us any longer */
	db_close(d);
	ar_free(c->a);
	return NULL;
}

static void test_deadlock(const conf *cf, db *d, arena *a)
{
	DDL(d, "DROP TABLE IF EXISTS t_db_dl");
	DDL(d, "CREATE TABLE t_db_dl (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB");
	DDL(d, "INSERT INTO t_db_dl VALUES (1, 0), (2, 0)");
	int ab[2], ba[2];
	if (pipe(ab) != 0 || pipe(ba) != 0) {
		ok(0, "pipe: %s", strerror(errno));
		return;
	}
	struct dlc x = { cf, 1, 2, ba[0], ab[1], 0, 0, -1, NULL };
	struct dlc y = { cf, 2, 1, ab[0], ba[1], 0, 0, -1, NULL };
	pthread_t tx, ty;
	int started = pthread_create(&tx, NULL, deadlock_side, &x) == 0;
	started += pthread_create(&ty, NULL, deadlock_side, &y) == 0;
	ok(started == 2, "two threads, one connection each");
	if (started != 2)
		abort();        /* a lone side would wait for its partner */
	pthread_join(tx, NULL);
	pthread_join(ty, NULL);
	close(ab[0]);
	close(ba[0]);
	is_int(x.rc, DB_OK, "one side's transaction committed");
	is_int(y.rc, DB_OK, "the other side's transaction committed");
	is_int(x.calls + y.calls, 3, "three runs of fn in all: the deadlock victim ran again");
	is_int(x.saw_deadlock + y.saw_deadlock, 1, "exactly one side got a real 1213 deadlock");
	db_res *r = NULL;
	int rc = db_q0(d, a, &r, "SELECT SUM(v) AS s, MIN(v) AS lo FROM t_db_dl");
	ok(rc == DB_OK && db_cell_int(r, 0, "s") == 4 && db_cell_int(r, 0, "lo") == 2,
	   "both transactions' updates are there, once each");
}

/* ---- migrations ------------------------------------------------------------------------------ */

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void rm_file(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

static const char mig1[] =
	"-- first migration: a table and rows whose text spans lines\n"
	"CREATE TABLE t_db_m1 (\n"
	"  id INT PRIMARY KEY,\n"
	"  note VARCHAR(200) NOT NULL\n"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;   -- a trailing comment\n"
	"INSERT INTO t_db_m1 VALUES (1, 'line one;\n"
	"still the same string;');\n"
	"/* a block comment\n"
	"   that ends a line with a ; */\n"
	"INSERT INTO t_db_m1 VALUES (2, '居民') ;\n"
	"\n";
static const char mig2[] = "CREATE TABLE t_db_m2 (id INT PRIMARY KEY) ENGINE=InnoDB;\n";
static const char mig2_sum[] = "1ed06319a3d7a91cc225ec53bfbabb7401247e5e6e2a282611df2c3d68890398";

static void test_migrate(db *d, arena *a)
{
	char dir[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/t_db_migXXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	const char *scope = "t_db";
	DDL(d, "DROP TABLE IF EXISTS t_db_m1, t_db_m2, t_db_m3");
	db_raw(d, "DELETE FROM schema_migrations WHERE scope = 't_db'");   /* may not exist yet */
	put_file(dir, "0001_first.sql", mig1);
	put_file(dir, "0002_second.sql", mig2);
	put_file(dir, "README", "not a migration");
	put_file(dir, "0001_first.sql~", "editor backup, ignored");

	mig_status st;
	char err[512] = "";
	int rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	is_int(rc, 0, "pending before the first run (%s)", rc ? err : "ok");
	ok(st.total == 2 && st.pending == 2 && st.applied == 0, "2 files, 2 pending");

	char *logtext = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logtext, &loglen);
	rc = mig_run(d, scope, dir, log, &st, err, sizeof err);
	fclose(log);
	is_int(rc, 0, "first run applies (%s)", rc ? err : "ok");
	ok(st.total == 2 && st.pending == 0 && st.applied == 2, "2 applied, 0 pending");
	is_str(logtext, "applied t_db 0001_first.sql\napplied t_db 0002_second.sql\n", "progress lines");
	free(logtext);
	is_int(count_rows(d, a, "t_db_m1"), 2, "the first file's three statements ran");
	db_res *r = NULL;
	rc = db_q0(d, a, &r, "SELECT note FROM t_db_m1 WHERE id = 1");
	is_str(rc == DB_OK ? db_cell(r, 0, "note") : NULL, "line one;\nstill the same string;",
	       "a ';' at a line end inside a string does not split");
	is_int(count_rows(d, a, "t_db_m2"), 0, "the second file's table exists");
	rc = db_q(d, a, &r, "SELECT version, name, checksum, applied_at FROM schema_migrations"
	          " WHERE scope = ? ORDER BY version", DB_TEXT(scope));
	ok(rc == DB_OK && r->nrows == 2, "two versions recorded");
	if (rc == DB_OK && r->nrows == 2) {
		is_str(db_cell(r, 1, "name"), "0002_second.sql", "with the file name");
		is_str(db_cell(r, 1, "checksum"), mig2_sum, "and the SHA-256 of the file");
		ok(db_cell(r, 1, "applied_at") != NULL, "and when");
	}
	/* released by this connection; the lock is server-wide, and t_plugin_db may hold it
	 * right now (make check -j2), so IS_FREE_LOCK alone would race with it */
	is_int(query_int(d, a, "SELECT IFNULL(IS_USED_LOCK('portal_migrate'), 0) <> CONNECTION_ID()"), 1,
	       "the migration lock is released");

	is_int(mig_pending(d, scope, dir, &st, err, sizeof err), 0, "pending after the run");
	is_int(st.pending, 0, "nothing pending");
	logtext = NULL;
	log = open_memstream(&logtext, &loglen);
	rc = mig_run(d, scope, dir, log, &st, err, sizeof err);
	fclose(log);
	ok(rc == 0 && st.applied == 0 && st.pending == 0 && st.total == 2, "a second run applies nothing");
	is_str(logtext, "", "and says nothing");
	free(logtext);

	put_file(dir, "0001_first.sql", "-- edited\nSELECT 1;\n");
	rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0001_first.sql: edited after it was applied; add a new migration instead"),
	   "an edited file is refused (%s)", err);
	rc = mig_run(d, scope, dir, NULL, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0001_first.sql") && strstr(err, "edited"), "by mig_run too");
	put_file(dir, "0001_first.sql", mig1);

	put_file(dir, "3_bad.sql", "SELECT 1;\n");
	rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "3_bad.sql"), "a badly named .sql file is an error naming it (%s)", err);
	rm_file(dir, "3_bad.sql");
	put_file(dir, "0003_Upper.sql", "SELECT 1;\n");
	rc = mig_run(d, scope, dir, NULL, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0003_Upper.sql"), "upper case in the name too (%s)", err);
	rm_file(dir, "0003_Upper.sql");

	put_file(dir, "0003_a.sql", "SELECT 1;\n");
	put_file(dir, "0003_b.sql", "SELECT 1;\n");
	rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0003_a.sql") && strstr(err, "0003_b.sql"),
	   "a duplicate version is an error (%s)", err);
	rm_file(dir, "0003_a.sql");
	rm_file(dir, "0003_b.sql");

	put_file(dir, "0003_fail.sql",
	         "CREATE TABLE t_db_m3 (id INT PRIMARY KEY) ENGINE=InnoDB;\n"
	         "INSERT INTO t_db_no_such_table VALUES (1);\n"
	         "INSERT INTO t_db_m3 VALUES (1);\n");
	rc = mig_run(d, scope, dir, NULL, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0003_fail.sql: statement 2: ") && strstr(err, "t_db_no_such_table"),
	   "a failing statement names the file and statement (%s)", err);
	is_int(query_int(d, a, "SELECT COUNT(*) FROM schema_migrations WHERE scope = 't_db' AND version = 3"),
	       0, "the failed version is not recorded");
	is_int(query_int(d, a, "SELECT IFNULL(IS_USED_LOCK('portal_migrate'), 0) <> CONNECTION_ID()"), 1,
	       "the lock is released after a failure");
	rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	ok(rc == 0 && st.pending == 1 && st.total == 3, "it is still pending");
	put_file(dir, "0003_fail.sql",
	         "CREATE TABLE IF NOT EXISTS t_db_m3 (id INT PRIMARY KEY) ENGINE=InnoDB;\n"
	         "INSERT INTO t_db_m3 VALUES (1);\n");
	rc = mig_run(d, scope, dir, NULL, &st, err, sizeof err);
	ok(rc == 0 && st.applied == 1 && st.pending == 0, "fixed and idempotent, it applies (%s)", rc ? err : "ok");
	is_int(count_rows(d, a, "t_db_m3"), 1, "its statements ran");

	put_file(dir, "0000_early.sql", "SELECT 1;\n");
	rc = mig_pending(d, scope, dir, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0000_early.sql") && strstr(err, "older"),
	   "a new file older than the applied ones is refused (%s)", err);
	rm_file(dir, "0000_early.sql");

	rm_file(dir, "0002_second.sql");
	rc = mig_run(d, scope, dir, NULL, &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "0002") && strstr(err, "0002_second.sql") && strstr(err, "missing"),
	   "an applied file that is gone is an error (%s)", err);
	put_file(dir, "0002_second.sql", mig2);
	is_int(mig_pending(d, scope, dir, &st, err, sizeof err), 0, "all is well again");

	rc = mig_pending(d, scope, "/nonexistent/t_db_dir", &st, err, sizeof err);
	ok(rc == -1 && strstr(err, "/nonexistent/t_db_dir"), "a missing directory is an error (%s)", err);
	rc = mig_pending(d, "", dir, &st, err, sizeof err);
	is_int(rc, -1, "an empty scope is refused");

	rm_file(dir, "0001_first.sql");
	rm_file(dir, "0002_second.sql");
	rm_file(dir, "0003_fail.sql");
	rm_file(dir, "README");
	rm_file(dir, "0001_first.sql~");
	rmdir(dir);
	db_raw(d, "DELETE FROM schema_migrations WHERE scope = 't_db'");
}

/* ---- failover list (db_failover) ------------------------------------------------------- */

static void test_failover(const conf *cf, arena *a)
{
	char err[512] = "";
	conf c = *cf;
	c.db_socket = "/nonexistent/portal-test.sock";
	c.db_failover = (char *)cf->db_socket;
	db *d = db_open(&c, err, sizeof err);
	ok(d != NULL, "the first server is down: the failover server is used (%s)", d ? "ok" : err);
	if (d) {
		is_int((int)db_failover_count(d), 1, "one failover counted");
		db_cluster st;
		is_int(db_cluster_state(d, a, &st), DB_OK, "cluster state of a lone server");
		ok(st.wsrep == 0 && st.ready == 1 && st.failed_over == 1, "not Galera, ready, on a failover server");
		is_int(db_causal(d, 1), DB_OK, "causal reads are a no-op without Galera");
		db_close(d);
	}
	c.db_failover = "127.0.0.1:notaport";
	d = db_open(&c, err, sizeof err);
	ok(d == NULL && strstr(err, "db_failover"), "a bad db_failover is an error naming the key (%s)", err);
	db_close(d);
}

/* ---- leases and once-per-period runs (lease.c) ------------------------------------------ */

static void test_lease(db *d, db *d2, arena *a)
{
	/* the table is shared with other tests' migrations (lease "migrate"): never dropped */
	DDL(d, LEASE_TABLE_SQL);
	DDL(d, "DELETE FROM leases WHERE name IN ('t_lease', 'jobs_daily', 'jobs_hourly')");
	lease l1, l2;
	char busy[300] = "";
	is_int(lease_take(d, &l1, "t_lease", 60, 0, busy, sizeof busy), 1, "a free lease is taken");
	is_int(lease_take(d2, &l2, "t_lease", 60, 0, busy, sizeof busy), 0, "a held lease is refused");
	ok(strstr(busy, "held by") != NULL, "with its holder (%s)", busy);
	is_int(lease_take(d2, &l2, "t_lease", 60, 1, busy, sizeof busy), 0, "waiting a second does not help");
	is_int(lease_renew(d, &l1), 1, "the holder renews it");
	lease_release(d, &l1);
	is_int(lease_take(d2, &l2, "t_lease", 1, 0, busy, sizeof busy), 1, "released: another process takes it");
	sleep_ms(1300);
	is_int(lease_take(d, &l1, "t_lease", 60, 0, busy, sizeof busy), 1, "expired: taken over");
	is_int(lease_renew(d2, &l2), 0, "the old holder has lost it");
	/* a holder of this machine that no longer exists: taken at once */
	char dead[200];
	snprintf(dead, sizeof dead, "%.*s:999999999:dead", (int)strcspn(l1.holder, ":"), l1.holder);
	ok(db_q(d, a, NULL, "UPDATE leases SET holder = ? WHERE name = 't_lease'", DB_TEXT(dead)) == DB_OK, "setup: dead holder");
	is_int(lease_take(d2, &l2, "t_lease", 60, 0, busy, sizeof busy), 1, "a dead holder's lease is taken before expiry");
	lease_release(d2, &l2);

	DDL(d, "DROP TABLE IF EXISTS job_runs");
	DDL(d, "CREATE TABLE job_runs (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(16) NOT NULL,"
	       " period VARCHAR(16) NOT NULL, holder VARCHAR(200) NOT NULL, forced TINYINT(1) NOT NULL DEFAULT 0,"
	       " started_at DATETIME(3) NOT NULL, finished_at DATETIME(3) NULL, result VARCHAR(16) NULL) ENGINE=InnoDB");
	lease_run run, run2;
	char msg[512] = "";
	is_int(lease_run_begin(d, &run, "daily", 0, msg, sizeof msg), 1, "the first daily run of the day goes ahead");
	is_int(lease_run_begin(d2, &run2, "daily", 0, msg, sizeof msg), 0, "a second one at the same time is refused");
	ok(strstr(msg, "running elsewhere") != NULL, "as running elsewhere (%s)", msg);
	lease_run_end(d, &run, 1);
	is_int(lease_run_begin(d2, &run2, "daily", 0, msg, sizeof msg), 0, "after it finished, the day is done");
	ok(strstr(msg, "already ran") != NULL, "as already run (%s)", msg);
	is_int(lease_run_begin(d2, &run2, "daily", 1, msg, sizeof msg), 1, "--force runs it again");
	lease_run_end(d2, &run2, 0);
	is_int((int)query_int(d, a, "SELECT COUNT(*) FROM job_runs WHERE kind = 'daily' AND finished_at IS NOT NULL"), 2,
	       "both runs recorded");
	is_int((int)query_int(d, a, "SELECT COUNT(*) FROM job_runs WHERE forced = 1 AND result = 'failed'"), 1,
	       "the forced one as forced, with its result");
	is_int(lease_run_begin(d, &run, "hourly", 0, msg, sizeof msg), 1, "hourly has its own lease and periods");
	lease_run_end(d, &run, 1);
	DDL(d, "DROP TABLE job_runs");
}

int main(void)
{
	const char *sock = getenv("PORTAL_TEST_DB_SOCKET");
	const char *req = getenv("PORTAL_TEST_REQUIRE_DB");
	int require = req && strcmp(req, "1") == 0;
	if (!sock || !*sock) {
		if (require) {
			printf("Bail out! PORTAL_TEST_REQUIRE_DB=1 but PORTAL_TEST_DB_SOCKET is not set\n");
			return 1;
		}
		printf("1..0 # SKIP no test database (scripts/portal test provides one)\n");
		return 0;
	}
	conf cf;
	memset(&cf, 0, sizeof cf);
	cf.db_socket = (char *)sock;
	cf.db_name = getenv("PORTAL_TEST_DB_NAME") ? getenv("PORTAL_TEST_DB_NAME") : "portal_test";
	cf.db_user = getenv("PORTAL_TEST_DB_USER") ? getenv("PORTAL_TEST_DB_USER") : "portal";
	cf.db_password = getenv("PORTAL_TEST_DB_PASSWORD") ? getenv("PORTAL_TEST_DB_PASSWORD") : "";
	cf.db_connect_timeout = 5;
	cf.db_read_timeout = 30;
	cf.db_write_timeout = 30;

	char err[512] = "";
	db *d = db_open(&cf, err, sizeof err);     /* before mysql_library_init: must work */
	db *d2 = d ? db_open(&cf, err, sizeof err) : NULL;
	if (!d || !d2) {
		printf("Bail out! cannot connect to the test database at %s: %s\n", sock, err);
		db_close(d);
		return 1;
	}
	arena *a = ar_new(0);

	test_connect(&cf, d, a);
	test_values(d, a);
	test_big(d, a);
	test_cache(d, a);
	test_errors(d, a);
	test_lock_timeout(d, d2, a);
	test_failover(&cf, a);
	test_lease(d, d2, a);
	test_tx(d, a);
	test_lost_outside(d, d2, a);
	test_lost_inside(d, d2, a);
	test_deadlock(&cf, d, a);
	test_migrate(d, a);

	db_raw(d, "DROP TABLE IF EXISTS t_db_val, t_db_big, t_db_dup, t_db_lock, t_db_tx, t_db_lost, t_db_dl,"
	          " t_db_m1, t_db_m2, t_db_m3");
	ar_free(a);
	db_close(d2);
	db_close(d);
	mysql_library_end();
	return tap_done();
}
