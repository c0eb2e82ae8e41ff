/* plugin_db.h - portal.db: a plugin's own tables, bound parameters only (prefix pdb_).
 *
 * A plugin declares its tables in the manifest (tables = { name = { columns =
 * {...} } }); each gets the real name "<prefix><name>" (pdb_live_prefix), and
 * SQL in the plugin's migrations and named queries refers to them as {name}.
 * Identifiers in insert/find/update/delete are checked against the declared
 * columns; values are always bound parameters. A plugin cannot name another
 * plugin's tables or core tables: the validator refuses any table reference
 * that is not one of its own {name} placeholders.
 *
 * What plugins see (portal.db, all values bound, "id" always a column):
 *   db.insert(tbl, row)          -> id            (nil, "duplicate" on a unique key)
 *   db.get(tbl, id)              -> row or nil
 *   db.find(tbl, where, opts)    -> {rows}        opts: order_by = "col [asc|desc], ...",
 *                                                 limit (default 100, at most 1000), offset
 *   db.count(tbl, where)         -> n
 *   db.update(tbl, where, set)   -> rows matched  (nil, "duplicate" on a unique key)
 *   db.delete(tbl, where)        -> rows deleted
 *   db.query(name, {params})     -> {rows}        a named query of the manifest
 *   db.transaction(fn)           -> fn's results  (rolled back when fn raises;
 *                                                 rerun on deadlock or lost connection)
 *   db.NULL, db.ALL              sentinels: SQL NULL; "every row" for update/delete
 * where: { col = value } (equality; db.NULL means IS NULL) or
 * { col = {op, value} } with op one of = <> < <= > >= like in ("in": a list
 * of 1 to 500 values). update and delete refuse an empty where unless it is
 * db.ALL. Values: integer, string (at most 1 MB), boolean (1/0), float (sent
 * as text "%.17g"), db.NULL. Rows: integer columns come back as Lua integers
 * (TINYINT(1) too: compare with 1, since 0 is true in Lua), DECIMAL/FLOAT/
 * DOUBLE as Lua floats, NULL as an absent field, everything else as strings.
 * A bad table, column, option or value raises a Lua error naming it; a
 * database failure other than a duplicate key raises too.
 *
 * SQL accepted by pdb_expand (migrations and named queries): plain ASCII
 * outside string literals; '...' and "..." literals with backslash escapes;
 * no backquotes, no block comments, no '@' variables; every table reference
 * (after FROM, JOIN, INTO, TABLE, REFERENCES, a leading UPDATE, the ON of
 * CREATE/DROP INDEX, RENAME TO, CREATE TABLE .. LIKE) is a {name} placeholder
 * of the plugin's own tables, or a derived table "(SELECT ...)"; no comma
 * joins; "x.y" only when x is a placeholder or an alias; no WITH (CTEs), no
 * schema names (mysql, information_schema, ...), no file, lock, sleep or
 * account functions, no storage engine but InnoDB. Line comments (-- and #)
 * are allowed in migrations only and are left out of the SQL sent. */
#ifndef PORTAL_PLUGIN_DB_H
#define PORTAL_PLUGIN_DB_H
#include <stdio.h>
#include "migrate.h"
#include "plugin.h"

/* Push the portal.db table of functions (the caller wraps it read-only).
 * Functions find their plug_ctx with plug_ctx_of(L) and need its db and
 * arena (results are copied into pc->a); without a db they raise. */
void pdb_push(lua_State *L);
/* The prefix of plugin id's tables in the database: "p_<id>_" for an id
 * without '_', "p<length of id>_<id>_" for an id with '_', so that no two
 * plugins' tables can ever have the same name (plugin_db.c says why). */
void pdb_live_prefix(char *out, size_t n, const char *id);
/* Ids with '_' had their tables named "p_<id>_<table>" before. The number
 * of pc's tables still under that old name (and not yet under the new one),
 * -1 on a database error: such a plugin is not served until
 * `portald migrate` renamed them. */
int pdb_legacy_pending(db *d, const plug_ctx *pc);
/* Rename pc's tables from their old names (portald migrate, before the
 * plugin's migrations run). all[0..nall) are the contexts of every plugin
 * installed: an old name that is also another plugin's table, or the old
 * name of another plugin's table, is not renamed but an error (which
 * plugin's rows it holds cannot be told). 0, or -1 with err. */
int pdb_rename_legacy(db *d, const plug_ctx *pc, const plug_ctx *const *all, size_t nall, FILE *log, char *err,
                      size_t errlen);
/* Expand {name} placeholders of sql to pc's real table names, checking that
 * every table reference is a placeholder of pc's own tables. mode
 * PDB_SELECT: a single SELECT (named queries; a trailing ';' is dropped);
 * PDB_MIGRATION: CREATE TABLE, ALTER TABLE, CREATE [UNIQUE|FULLTEXT] INDEX ..
 * ON, DROP TABLE, DROP INDEX .. ON, INSERT INTO, UPDATE, DELETE FROM on own
 * tables, each ending with ';' at the end of a line (migrate.c splits there).
 * Returns a string in a or NULL with err ("line L, column C: problem").
 * The real name of a table is plug_table.real (table_prefix + name). */
enum { PDB_SELECT = 1, PDB_MIGRATION = 2 };
char *pdb_expand(arena *a, const plug_ctx *pc, const char *sql, int mode, char *err, size_t errlen);
/* Apply pending migrations of the plugin (files in dir, scope = pc->id),
 * each file checked and expanded by pdb_expand(PDB_MIGRATION) first. */
int pdb_migrate(db *d, const plug_ctx *pc, const char *dir, FILE *log, mig_status *st, char *err, size_t errlen);
/* Count pending migrations without applying (pending files are checked too). */
int pdb_pending(db *d, const plug_ctx *pc, const char *dir, mig_status *st, char *err, size_t errlen);
/* Drop every table of pc (used by `portald plugin test` for its throwaway
 * prefix only: refused when pc->table_prefix is the live prefix). */
int pdb_drop_all(db *d, const plug_ctx *pc, char *err, size_t errlen);

/* Provided by plugin.c: the SQL of the manifest's named query, already
 * expanded by pdb_expand(PDB_SELECT) when the manifest was read; NULL when
 * there is no query of that name. db.query runs it as is. */
const char *plug_query_sql(plugin *p, const char *name);

#endif
