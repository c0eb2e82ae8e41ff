/* migrate.h - versioned schema migrations with checksums (prefix mig_).
 *
 * Files NNNN_name.sql in a directory, applied in order. Each applied file is
 * recorded in schema_migrations(scope, version, name, checksum, applied_at);
 * scope is "core" for the core and the plugin id for plugin migrations
 * (mig_run_ex with plugin_db.c's filter). A file whose checksum differs from
 * the recorded one is an error (never re-applied silently). Statements in a file are separated by a line ending in ';'
 * (outside quotes; a trailing -- comment is allowed). Only names matching
 * NNNN_[a-z0-9_]+.sql are migrations; another *.sql name is an error. A file
 * is recorded only after all its statements succeeded (DDL is not
 * transactional: fix a half-applied file by hand or write idempotent DDL).
 * mig_run holds the named lock portal_migrate (GET_LOCK, 30 s) throughout, so
 * concurrent runs serialise. Messages name the file (migrate.c has details). */
#ifndef PORTAL_MIGRATE_H
#define PORTAL_MIGRATE_H
#include <stdio.h>
#include "db.h"

typedef struct mig_status {
	int applied;    /* files applied by this call */
	int pending;    /* files not yet applied (after the call) */
	int total;
} mig_status;

/* Apply pending migrations of scope from dir, creating schema_migrations if
 * needed. Progress lines ("applied core 0001_core.sql") go to log (may be
 * NULL). Returns 0, or -1 with a message in err ("file: statement N: server
 * error", an edited, missing, duplicate or badly named file, or a new file
 * numbered below an applied one). st (may be NULL) is filled either way. */
int mig_run(db *d, const char *scope, const char *dir, FILE *log, mig_status *st,
            char *err, size_t errlen);
/* Count pending without applying or creating anything (0 or -1 with err,
 * e.g. checksum mismatch); a missing schema_migrations means all pending. */
int mig_pending(db *d, const char *scope, const char *dir, mig_status *st, char *err, size_t errlen);

/* A transformation of a migration file's text (n bytes, NUL-terminated)
 * before it is split into statements and run: returns a malloc'd string (the
 * caller frees it), or NULL with a message in err. Plugin migrations use it to
 * check their SQL and expand {table} placeholders. The checksum is always
 * that of the file's own bytes, not of the filtered text. */
typedef char *(*mig_filter)(void *ctx, const char *sql, size_t n, char *err, size_t errlen);
/* mig_run with a filter (NULL: none, as mig_run). Every pending file is
 * filtered before any is applied, so a refused file leaves all pending;
 * err is then "file: filter message". */
int mig_run_ex(db *d, const char *scope, const char *dir, mig_filter filter, void *fctx,
               FILE *log, mig_status *st, char *err, size_t errlen);
/* mig_pending with a filter: the pending files are also filtered (not run),
 * so a file the filter refuses is reported now rather than at migration. */
int mig_pending_ex(db *d, const char *scope, const char *dir, mig_filter filter, void *fctx,
                   mig_status *st, char *err, size_t errlen);

#endif
