/* migrate.c - versioned schema migrations with checksums (contract in
 * migrate.h).
 *
 * Files are named NNNN_name.sql (four digits, then lower-case letters, digits
 * and '_'); any other name ending in ".sql" is an error so a typo is never
 * skipped silently; other files (README, editor backups) are ignored.
 *
 * Statements: a statement ends at the end of a line whose last character of
 * SQL (ignoring blanks and a trailing -- or # comment) is ';', provided the
 * line does not end inside a quoted string or a block comment. The ';' is not
 * sent. A ';' in the middle of a line does not split, so a stored program body
 * (BEGIN ... END) must keep its inner ';' away from line ends; there is no
 * DELIMITER command.
 *
 * DDL is not transactional in MariaDB: a file is recorded in
 * schema_migrations only after all of its statements succeeded, so a file
 * that fails halfway stays pending with some of its statements applied. Fix
 * it by hand, or write statements that can run twice (CREATE TABLE IF NOT
 * EXISTS, ADD COLUMN IF NOT EXISTS, ...), then run again.
 *
 * Two processes migrating at once, on one server or on two nodes of a Galera
 * cluster, serialise on the lease "migrate" (lease.h: a row taken in a
 * transaction; GET_LOCK would hold on one Galera node only): the second waits
 * up to MIG_LEASE_WAIT seconds, then finds nothing left to apply.
 *
 * mig_run_ex / mig_pending_ex pass every pending file through a filter before
 * anything is applied (plugin migrations: checks and {table} expansion, see
 * plugin_db.c); the splitting rule above applies to the filtered text, the
 * checksum stays that of the file's own bytes. */
#include "migrate.h"
#include "lease.h"
#include <dirent.h>
#include <errno.h>
#include <mysqld_error.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MIG_LEASE "migrate"
#define MIG_LEASE_WAIT 60                       /* seconds to wait for another migrator */
#define MIG_LEASE_TTL 600                       /* seconds; renewed before each file */
#define MIG_MAX_FILE (16L * 1024 * 1024)        /* bytes of one migration file */

#define MIG_TABLE_SQL \
	"CREATE TABLE IF NOT EXISTS schema_migrations (" \
	" scope VARCHAR(64) NOT NULL," \
	" version INT NOT NULL," \
	" name VARCHAR(200) NOT NULL," \
	" checksum CHAR(64) NOT NULL," \
	" applied_at DATETIME NOT NULL," \
	" PRIMARY KEY (scope, version)" \
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

/* Messages of this module (operator-facing: the CLI and the log). Macros so
 * the printf formats stay checked. */
#define MIG_M_SODIUM "libsodium failed to initialise"
#define MIG_M_SCOPE "invalid migration scope \"%.80s\" (1 to 64 characters)"
#define MIG_M_DIR "cannot read migration directory %s: %s"
#define MIG_M_BADNAME "%s: not a valid migration name (expected NNNN_name.sql: four digits, '_', then a-z, 0-9 or '_')"
#define MIG_M_READ "%s: cannot read: %s"
#define MIG_M_NOTFILE "%s: not a regular file"
#define MIG_M_TOOBIG "%s: larger than 16 MB"
#define MIG_M_NUL "%s: contains a NUL byte"
#define MIG_M_DUP "%s and %s: both have version %04d"
#define MIG_M_QUERY "%s: %s"
#define MIG_M_EDITED "%s: edited after it was applied; add a new migration instead"
#define MIG_M_GONE "%s migration %04d (%s) was applied but its file is missing from %s"
#define MIG_M_OLD "%s: version %04d is older than the newest applied migration (%04d); give it a higher number"
#define MIG_M_LOCKBUSY "another process is migrating: the lease \"" MIG_LEASE "\" is %s (waited %d s)"
#define MIG_M_LOCKERR "cannot take the migration lease: %s"
#define MIG_M_LOCKLOST "lost the migration lease \"" MIG_LEASE "\" (it expired and another process took it); run again"
#define MIG_M_STMT "%s: statement %d: %s"
#define MIG_M_RECORD "%s: applied but could not be recorded: %s"
#define MIG_M_FILTER "%s: %s"
#define MIG_M_FILTER_UNKNOWN "refused by the filter"

struct mig_file {
	int version;
	char *name;                     /* file name, no directory */
	char *text;                     /* contents, NUL-terminated */
	size_t len;
	char *run;                      /* text after the filter (NULL: run text as is) */
	char sum[crypto_hash_sha256_BYTES * 2 + 1];   /* hex SHA-256 of the bytes */
	int applied;                    /* recorded in schema_migrations */
};

struct mig_set {
	struct mig_file *f;
	size_t n, cap;
};

__attribute__((format(printf, 3, 4)))
static void mig_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *mig_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("portald: out of memory\n", stderr);
		abort();
	}
	return q;
}

static void mig_set_free(struct mig_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].name);
		free(s->f[i].text);
		free(s->f[i].run);
	}
	free(s->f);
	s->f = NULL;
	s->n = s->cap = 0;
}

/* 1 if name matches ^[0-9]{4}_[a-z0-9_]+\.sql$ */
static int mig_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
		return 0;
	for (size_t i = 0; i < 4; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	for (size_t i = 5; i < n - 4; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static int mig_ends_sql(const char *name)
{
	size_t n = strlen(name);
	return n >= 4 && strcmp(name + n - 4, ".sql") == 0;
}

/* Read dir/name into f, with its checksum. */
static int mig_load(struct mig_file *f, const char *dir, const char *name, char *err, size_t errlen)
{
	size_t plen = strlen(dir) + 1 + strlen(name) + 1;
	char *path = mig_xrealloc(NULL, plen);
	snprintf(path, plen, "%s/%s", dir, name);
	FILE *fp = fopen(path, "rb");
	struct stat sb;
	int rc = -1;
	if (!fp) {
		mig_err(err, errlen, MIG_M_READ, name, strerror(errno));
		goto out;
	}
	if (fstat(fileno(fp), &sb) != 0) {
		mig_err(err, errlen, MIG_M_READ, name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		mig_err(err, errlen, MIG_M_NOTFILE, name);
		goto out;
	}
	if (sb.st_size > MIG_MAX_FILE) {
		mig_err(err, errlen, MIG_M_TOOBIG, name);
		goto out;
	}
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	char *text = mig_xrealloc(NULL, cap);
	size_t got;
	/* read to the end even if the file grew since fstat */
	while ((got = fread(text + len, 1, cap - 1 - len, fp)) > 0) {
		len += got;
		if (len == cap - 1) {
			if (len > (size_t)MIG_MAX_FILE) {
				free(text);
				mig_err(err, errlen, MIG_M_TOOBIG, name);
				goto out;
			}
			cap *= 2;
			text = mig_xrealloc(text, cap);
		}
	}
	if (ferror(fp)) {
		free(text);
		mig_err(err, errlen, MIG_M_READ, name, strerror(errno));
		goto out;
	}
	text[len] = 0;
	if (memchr(text, 0, len)) {
		free(text);
		mig_err(err, errlen, MIG_M_NUL, name);
		goto out;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)text, len);
	sodium_bin2hex(f->sum, sizeof f->sum, h, sizeof h);
	f->version = (name[0] - '0') * 1000 + (name[1] - '0') * 100 + (name[2] - '0') * 10 + (name[3] - '0');
	f->name = mig_xrealloc(NULL, strlen(name) + 1);
	memcpy(f->name, name, strlen(name) + 1);
	f->text = text;
	f->len = len;
	f->run = NULL;
	f->applied = 0;
	rc = 0;
out:
	if (fp)
		fclose(fp);
	free(path);
	return rc;
}

static int mig_cmp(const void *a, const void *b)
{
	const struct mig_file *x = a, *y = b;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every migration file of dir, sorted by version. */
static int mig_scan(const char *dir, struct mig_set *s, char *err, size_t errlen)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		mig_err(err, errlen, MIG_M_DIR, dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while ((de = readdir(dp)) != NULL) {
		if (!mig_ends_sql(de->d_name))
			continue;
		if (!mig_name_ok(de->d_name)) {
			mig_err(err, errlen, MIG_M_BADNAME, de->d_name);
			rc = -1;
			break;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 16;
			s->f = mig_xrealloc(s->f, s->cap * sizeof *s->f);
		}
		if (mig_load(&s->f[s->n], dir, de->d_name, err, errlen) != 0) {
			rc = -1;
			break;
		}
		s->n++;
		errno = 0;
	}
	if (rc == 0 && errno != 0) {
		mig_err(err, errlen, MIG_M_DIR, dir, strerror(errno));
		rc = -1;
	}
	closedir(dp);
	if (rc != 0)
		return rc;
	if (s->n > 1)
		qsort(s->f, s->n, sizeof *s->f, mig_cmp);
	for (size_t i = 1; i < s->n; i++) {
		if (s->f[i].version == s->f[i - 1].version) {
			mig_err(err, errlen, MIG_M_DUP, s->f[i - 1].name, s->f[i].name, s->f[i].version);
			return -1;
		}
	}
	return 0;
}

static struct mig_file *mig_find(struct mig_set *s, int version)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].version == version)
			return &s->f[i];
	return NULL;
}

/* Mark the applied files and check the recorded history against the
 * directory: no edited file, no missing file, no new file older than the
 * newest applied one. missing_ok: a missing schema_migrations table means
 * nothing was applied yet. Returns the number pending, or -1. */
static int mig_check(db *d, arena *a, const char *scope, const char *dir, struct mig_set *s,
                     int missing_ok, char *err, size_t errlen)
{
	db_res *r = NULL;
	int rc = db_q(d, a, &r, "SELECT version, name, checksum FROM schema_migrations"
	              " WHERE scope = ? ORDER BY version", DB_TEXT(scope));
	if (rc != DB_OK) {
		if (missing_ok && db_errno(d) == ER_NO_SUCH_TABLE)
			return (int)s->n;
		mig_err(err, errlen, MIG_M_QUERY, "schema_migrations", db_errmsg(d));
		return -1;
	}
	int newest = -1;
	for (size_t i = 0; i < r->nrows; i++) {
		int v = (int)db_cell_int(r, i, "version");
		const char *name = db_cell(r, i, "name");
		const char *sum = db_cell(r, i, "checksum");
		struct mig_file *f = mig_find(s, v);
		if (!f) {
			mig_err(err, errlen, MIG_M_GONE, scope, v, name ? name : "?", dir);
			return -1;
		}
		if (!sum || strcmp(sum, f->sum) != 0) {
			mig_err(err, errlen, MIG_M_EDITED, f->name);
			return -1;
		}
		f->applied = 1;
		if (v > newest)
			newest = v;
	}
	int pending = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].applied)
			continue;
		if (s->f[i].version < newest) {
			mig_err(err, errlen, MIG_M_OLD, s->f[i].name, s->f[i].version, newest);
			return -1;
		}
		pending++;
	}
	return pending;
}

/* ---- splitting a file into statements ------------------------------------------ */

enum mig_lex { L_CODE, L_SQUOTE, L_DQUOTE, L_BQUOTE, L_LINE_COMMENT, L_BLOCK_COMMENT };

/* Call fn(ctx, statement, number) for each statement of text (see the rule
 * at the top of this file). Stops at the first non-zero return and returns
 * it. */
static int mig_split(const char *text, int (*fn)(void *ctx, const char *sql, int n), void *ctx)
{
	enum mig_lex st = L_CODE;
	size_t start = 0;               /* start of the current statement */
	long semi = -1;                 /* ';' that is the last code character of this line so far */
	int has_code = 0;               /* the current statement holds any SQL */
	int n = 0;
	for (size_t i = 0;; i++) {
		char c = text[i];
		if (c == '\n' || c == 0) {
			if (st == L_LINE_COMMENT)
				st = L_CODE;
			int end = c == 0;
			/* at the end, whatever is left is sent (an unterminated
			 * quote or comment then draws the server's syntax error) */
			if ((st == L_CODE && semi >= 0) || (end && has_code)) {
				size_t stop = st == L_CODE && semi >= 0 ? (size_t)semi : i;
				if (has_code) {
					char *sql = mig_xrealloc(NULL, stop - start + 1);
					memcpy(sql, text + start, stop - start);
					sql[stop - start] = 0;
					int rc = fn(ctx, sql, ++n);
					free(sql);
					if (rc)
						return rc;
				}
				start = i + (end ? 0 : 1);
				has_code = 0;
			}
			semi = -1;
			if (end)
				return 0;
			continue;
		}
		switch (st) {
		case L_CODE:
			if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
				break;
			if (c == '#' || (c == '-' && text[i + 1] == '-' &&
			                 (text[i + 2] == ' ' || text[i + 2] == '\t' ||
			                  text[i + 2] == '\r' || text[i + 2] == '\n' || text[i + 2] == 0))) {
				st = L_LINE_COMMENT;
				break;
			}
			if (c == '/' && text[i + 1] == '*') {
				st = L_BLOCK_COMMENT;
				i++;
				break;
			}
			if (c == ';') {
				semi = (long)i;
				break;
			}
			semi = -1;
			has_code = 1;
			if (c == '\'')
				st = L_SQUOTE;
			else if (c == '"')
				st = L_DQUOTE;
			else if (c == '`')
				st = L_BQUOTE;
			break;
		case L_SQUOTE:
		case L_DQUOTE:
			if (c == '\\' && text[i + 1] != 0 && text[i + 1] != '\n')
				i++;
			else if ((st == L_SQUOTE && c == '\'') || (st == L_DQUOTE && c == '"'))
				st = L_CODE;
			break;
		case L_BQUOTE:
			if (c == '`')
				st = L_CODE;
			break;
		case L_LINE_COMMENT:
			break;
		case L_BLOCK_COMMENT:
			if (c == '*' && text[i + 1] == '/') {
				st = L_CODE;
				i++;
			}
			break;
		}
	}
}

/* ---- applying --------------------------------------------------------------------- */

struct mig_apply {
	db *d;
	const struct mig_file *f;
	char *err;
	size_t errlen;
};

static int mig_run_stmt(void *ctx, const char *sql, int n)
{
	struct mig_apply *ap = ctx;
	if (db_raw(ap->d, sql) == DB_OK)
		return 0;
	mig_err(ap->err, ap->errlen, MIG_M_STMT, ap->f->name, n, db_errmsg(ap->d));
	return -1;
}

static int mig_lock(db *d, lease *l, char *err, size_t errlen)
{
	char busy[300] = "";
	if (db_raw(d, LEASE_TABLE_SQL) != DB_OK) {
		mig_err(err, errlen, MIG_M_QUERY, "leases", db_errmsg(d));
		return -1;
	}
	int got = lease_take(d, l, MIG_LEASE, MIG_LEASE_TTL, MIG_LEASE_WAIT, busy, sizeof busy);
	if (got == 1)
		return 0;
	if (got == 0)
		mig_err(err, errlen, MIG_M_LOCKBUSY, busy, MIG_LEASE_WAIT);
	else
		mig_err(err, errlen, MIG_M_LOCKERR, busy);
	return -1;
}

/* Apply one file and record it. */
static int mig_apply(db *d, arena *a, lease *l, const char *scope, const struct mig_file *f,
                     char *err, size_t errlen)
{
	if (lease_renew(d, l) != 1) {
		mig_err(err, errlen, "%s", MIG_M_LOCKLOST);
		return -1;
	}
	struct mig_apply ap = { d, f, err, errlen };
	if (mig_split(f->run ? f->run : f->text, mig_run_stmt, &ap) != 0)
		return -1;
	if (db_q(d, a, NULL, "INSERT INTO schema_migrations (scope, version, name, checksum, applied_at)"
	         " VALUES (?, ?, ?, ?, NOW())", DB_TEXT(scope), DB_INT(f->version),
	         DB_TEXT(f->name), DB_TEXT(f->sum)) != DB_OK) {
		mig_err(err, errlen, MIG_M_RECORD, f->name, db_errmsg(d));
		return -1;
	}
	return 0;
}

/* Pass the text of every pending file through filter (when there is one)
 * into f->run, so nothing is applied when any pending file is refused. */
static int mig_filter_pending(struct mig_set *s, mig_filter filter, void *fctx,
                              char *err, size_t errlen)
{
	if (!filter)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		struct mig_file *f = &s->f[i];
		if (f->applied)
			continue;
		char msg[512] = "";
		free(f->run);
		f->run = filter(fctx, f->text, f->len, msg, sizeof msg);
		if (!f->run) {
			mig_err(err, errlen, MIG_M_FILTER, f->name, *msg ? msg : MIG_M_FILTER_UNKNOWN);
			return -1;
		}
	}
	return 0;
}

static int mig_prepare(const char *scope, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		mig_err(err, errlen, "%s", MIG_M_SODIUM);
		return -1;
	}
	size_t n = scope ? strlen(scope) : 0;
	if (n == 0 || n > 64) {
		mig_err(err, errlen, MIG_M_SCOPE, scope ? scope : "");
		return -1;
	}
	return 0;
}

int mig_run(db *d, const char *scope, const char *dir, FILE *log, mig_status *st,
            char *err, size_t errlen)
{
	return mig_run_ex(d, scope, dir, NULL, NULL, log, st, err, errlen);
}

int mig_run_ex(db *d, const char *scope, const char *dir, mig_filter filter, void *fctx,
               FILE *log, mig_status *st, char *err, size_t errlen)
{
	mig_status tmp;
	if (!st)
		st = &tmp;
	memset(st, 0, sizeof *st);
	if (mig_prepare(scope, err, errlen) != 0)
		return -1;
	arena *a = ar_new(0);
	struct mig_set s = { NULL, 0, 0 };
	int rc = -1, pending;
	lease l;
	if (mig_lock(d, &l, err, errlen) != 0)
		goto out_free;
	if (db_raw(d, MIG_TABLE_SQL) != DB_OK) {
		mig_err(err, errlen, MIG_M_QUERY, "schema_migrations", db_errmsg(d));
		goto out;
	}
	if (mig_scan(dir, &s, err, errlen) != 0)
		goto out;
	st->total = (int)s.n;
	pending = mig_check(d, a, scope, dir, &s, 0, err, errlen);
	if (pending < 0)
		goto out;
	st->pending = pending;
	if (mig_filter_pending(&s, filter, fctx, err, errlen) != 0)
		goto out;
	for (size_t i = 0; i < s.n; i++) {
		if (s.f[i].applied)
			continue;
		if (mig_apply(d, a, &l, scope, &s.f[i], err, errlen) != 0)
			goto out;
		s.f[i].applied = 1;
		st->applied++;
		st->pending--;
		if (log) {
			fprintf(log, "applied %s %s\n", scope, s.f[i].name);
			fflush(log);
		}
	}
	rc = 0;
out:
	lease_release(d, &l);
out_free:
	mig_set_free(&s);
	ar_free(a);
	return rc;
}

int mig_pending(db *d, const char *scope, const char *dir, mig_status *st, char *err, size_t errlen)
{
	return mig_pending_ex(d, scope, dir, NULL, NULL, st, err, errlen);
}

int mig_pending_ex(db *d, const char *scope, const char *dir, mig_filter filter, void *fctx,
                   mig_status *st, char *err, size_t errlen)
{
	mig_status tmp;
	if (!st)
		st = &tmp;
	memset(st, 0, sizeof *st);
	if (mig_prepare(scope, err, errlen) != 0)
		return -1;
	arena *a = ar_new(0);
	struct mig_set s = { NULL, 0, 0 };
	int rc = -1;
	if (mig_scan(dir, &s, err, errlen) == 0) {
		st->total = (int)s.n;
		int pending = mig_check(d, a, scope, dir, &s, 1, err, errlen);
		if (pending >= 0) {
			st->pending = pending;
			rc = mig_filter_pending(&s, filter, fctx, err, errlen);
		}
	}
	mig_set_free(&s);
	ar_free(a);
	return rc;
}
