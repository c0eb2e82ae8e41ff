/* plugin_db.c - portal.db: a plugin's own tables through bound parameters,
 * and the SQL check that keeps a plugin's migrations and named queries on its
 * own tables. The contract (and the accepted SQL) is in plugin_db.h.
 *
 * The check is a tokenizer, not a parser: it does not need to understand a
 * statement, only to make sure that every place where MariaDB accepts a
 * table name holds one of the plugin's {name} placeholders, and that nothing
 * reaches outside (schema-qualified names, files, locks, accounts, other
 * statements). What it cannot classify it refuses. */
#include "plugin_db.h"
#include "sandbox.h"
#include <ctype.h>
#include <mysqld_error.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PDB_MAX_TEXT (1u << 20)       /* bytes of one string value */
#define PDB_LIMIT_DEFAULT 100
#define PDB_LIMIT_MAX 1000
#define PDB_IN_MAX 500                /* values of one "in" */
#define PDB_MAX_PARAMS 1000           /* parameters of one named query */
#define PDB_MAX_ORDER 8               /* columns of one order_by */
#define PDB_MAX_DEPTH 64              /* parentheses in one statement */
#define PDB_MAX_ENTRIES 10000         /* entries copied from a table with __pairs */
#define PDB_MAX_NAME 64               /* MariaDB's identifier length */

/* Messages of the SQL check (for plugin authors: the admin page and the CLI
 * show them after "plugin <id>: migrations: <file>: " or "queries.<name>: ").
 * Macros so the printf formats stay checked. */
#define PDB_E_EMPTY "empty statement"
#define PDB_E_NONASCII "only ASCII is allowed outside string literals (byte 0x%02x)"
#define PDB_E_CHAR "unexpected character '%c'"
#define PDB_E_UNTERMINATED "unterminated string literal"
#define PDB_E_BACKQUOTE "backquoted names are not allowed: write tables as {name} and columns plainly"
#define PDB_E_BLOCKCOMMENT "/* comments are not allowed"
#define PDB_E_COMMENT "comments are not allowed in a query"
#define PDB_E_DASHES "'--' is a comment only when a space follows (write '- -' for two minus signs)"
#define PDB_E_PLACEHOLDER "'{' must start a {table} placeholder"
#define PDB_E_UNKNOWN "{%.*s} is not a table of this plugin (declare it in the manifest's tables)"
#define PDB_E_REALNAME "table {%s} has an unusable real name"
#define PDB_E_NUMBER "\"%.*s\": not a number (names must not start with a digit)"
#define PDB_E_DOTNUM "'.' after a name must be followed by a column name"
#define PDB_E_SEMI_EOL "';' must be the last thing on its line (one statement per line end)"
#define PDB_E_ONE "a query is a single SELECT statement (nothing may follow ';')"
#define PDB_E_NOTSELECT "a query must start with SELECT"
#define PDB_E_START "a migration statement must be CREATE TABLE, CREATE INDEX, ALTER TABLE, " \
	"DROP TABLE, DROP INDEX, INSERT INTO, UPDATE or DELETE FROM (found \"%.*s\")"
#define PDB_E_INSERT "INSERT must be followed by INTO {table}"
#define PDB_E_DELETE "DELETE must be followed by FROM {table} (one table)"
#define PDB_E_DROP "DROP TABLE takes exactly one {table}"
#define PDB_E_FORBIDDEN "\"%.*s\" is not allowed"
#define PDB_E_FUNC "function %.*s() is not allowed"
#define PDB_E_WITH "WITH (common table expressions) is not supported"
#define PDB_E_ENGINE "only ENGINE=InnoDB is allowed"
#define PDB_E_INTO "INTO is not allowed in a query"
#define PDB_E_PARAM "'?' parameters belong in named queries, not migrations"
#define PDB_E_TABLEREF "a table must be one of this plugin's {table} placeholders (found \"%.*s\")"
#define PDB_E_TABLEEND "a {table} placeholder is missing at the end of the statement"
#define PDB_E_SCHEMA "a {table} cannot be qualified with '.' here"
#define PDB_E_COMMAJOIN "comma joins are not allowed: use JOIN ... ON"
#define PDB_E_QUALIFY "\"%.*s.\": only a {table} or an alias declared in this statement may qualify a name"
#define PDB_E_QUALIFY2 "'.' must follow a {table} or an alias"
#define PDB_E_QUALNAME "'.' must be followed by a column name or '*'"
#define PDB_E_QUALFUNC "qualified function calls are not allowed"
#define PDB_E_PAREN "unbalanced parentheses"
#define PDB_E_DEEP "too many nested parentheses"
#define PDB_E_STRAIGHT "STRAIGHT_JOIN is not supported: use JOIN"
#define PDB_E_USING "DELETE ... USING is not supported"
#define PDB_E_INDEXON "CREATE INDEX and DROP INDEX need ON {table}"
#define PDB_E_PRIMARY "every table needs a PRIMARY KEY (Galera replicates rows by it: docs/plugins.md)"
#define PDB_E_DROPPK "DROP PRIMARY KEY needs an ADD PRIMARY KEY in the same statement (every table needs one)"
#define PDB_E_JOINON "a JOIN needs ON (or USING) with a condition: without one every row meets every row " \
	"and the query grows without bound"
#define PDB_E_JOINKIND "%.*s JOIN is not supported: write JOIN ... ON with a condition"
#define PDB_E_JOINCONST "the ON of a JOIN must compare columns (a condition without a column joins every row)"

/* Messages raised in Lua (plugin authors read them in the traceback). */
#define PDB_L_NODB "portal.db.%s: no database connection here"
#define PDB_L_TABLE "portal.db.%s: table \"%s\" is not declared by plugin %s"
#define PDB_L_TABLEARG "portal.db.%s: argument 1 must be a table name (a string)"
#define PDB_L_COLUMN "portal.db.%s: \"%s\" is not a column of table \"%s\""
#define PDB_L_KEY "portal.db.%s: %s: keys must be column names (got a %s)"
#define PDB_L_BADNAME "portal.db.%s: \"%s\" is not usable as a name in SQL"
#define PDB_L_VALUE "portal.db.%s: %s: unsupported value (a %s): use a string, number, boolean or db.NULL"
#define PDB_L_NOTFINITE "portal.db.%s: %s: not a finite number"
#define PDB_L_TOOLONG "portal.db.%s: %s: text longer than 1 MB"
#define PDB_L_NOVALUE "portal.db.%s: %s: missing value (use db.NULL for NULL)"
#define PDB_L_WHERE "portal.db.%s: where must be a table of column = value (or db.ALL)"
#define PDB_L_OP "portal.db.%s: %s: operator must be one of = <> < <= > >= like in"
#define PDB_L_OPNULL "portal.db.%s: %s: db.NULL works only with \"=\" and \"<>\""
#define PDB_L_IN "portal.db.%s: %s: \"in\" needs a list of 1 to 500 values"
#define PDB_L_ALL "portal.db.%s: an empty where would change every row of \"%s\"; pass db.ALL to mean that"
#define PDB_L_SET "portal.db.update: set must be a non-empty table of column = value"
#define PDB_L_ROW "portal.db.insert: row must be a table of column = value"
#define PDB_L_OPTS "portal.db.find: unknown option \"%s\" (order_by, limit, offset)"
#define PDB_L_OPTSARG "portal.db.find: opts must be a table"
#define PDB_L_LIMIT "portal.db.find: limit must be a whole number from 0 to 1000"
#define PDB_L_OFFSET "portal.db.find: offset must be a whole number, 0 or more"
#define PDB_L_ORDER "portal.db.find: order_by: expected \"column [asc|desc], ...\" (near \"%s\")"
#define PDB_L_QUERY "portal.db.query: no query named \"%s\" in the manifest"
#define PDB_L_PARAMS "portal.db.query: params must be a list of at most 1000 values"
#define PDB_L_BUSY "portal.db.%s: the database is busy (deadlock or lock wait timeout); try again"
#define PDB_L_LOST "portal.db.%s: lost the connection to the database"
#define PDB_L_TIMEOUT "portal.db.%s: the database stopped the statement after %ld ms: the call's time budget " \
	"(plugin_cpu_ms = %d) ran out"
#define PDB_L_FAIL "portal.db.%s: %s"
#define PDB_L_NESTED "portal.db.transaction: already inside a transaction (nesting is not supported)"
#define PDB_L_TXFAIL "portal.db.transaction: the transaction failed: %s"
#define PDB_L_TOOMANY "portal.db.%s: %s: too many entries"

#define PDB_M_LIVE "refusing to drop the live tables of plugin %s (prefix %s)"
#define PDB_M_DROP "dropping the tables of %s: %s"

/* ------------------------------------------------------------------ text in an arena */

typedef struct pdb_str {
	arena *a;
	char *p;
	size_t len, cap;
} pdb_str;

static void str_add(pdb_str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *q = ar_alloc(s->a, cap);
		if (s->len)
			memcpy(q, s->p, s->len);
		s->p = q;
		s->cap = cap;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = 0;
}

static void str_adds(pdb_str *s, const char *p)
{
	str_add(s, p, strlen(p));
}

/* `name` (callers check name with pdb_plain_name first). */
static void str_ident(pdb_str *s, const char *name)
{
	str_add(s, "`", 1);
	str_adds(s, name);
	str_add(s, "`", 1);
}

/* 1 if name is [A-Za-z0-9_]{1,64}: safe between backquotes. */
static int pdb_plain_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > PDB_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ the SQL check: tokens */

enum pdb_tk { TK_WORD = 1, TK_NUM, TK_STR, TK_PH, TK_PUNCT, TK_SEMI };

typedef struct pdb_tok {
	int k;
	size_t off, len;        /* in the source */
	int table;              /* TK_PH: index into pc->tables */
	int ref;                /* TK_PH: used as a table reference */
} pdb_tok;

typedef struct pdb_lex {
	const char *src;
	const plug_ctx *pc;
	int mode;
	arena *a;
	pdb_tok *t;
	size_t n, cap;
	pdb_str out;
	char *err;
	size_t errlen;
} pdb_lex;

/* Record "line L, column C: message" for the source offset off; returns -1. */
__attribute__((format(printf, 3, 4)))
static int pdb_fail(pdb_lex *x, size_t off, const char *fmt, ...)
{
	if (!x->err || !x->errlen)
		return -1;
	int line = 1, col = 1;
	for (size_t i = 0; i < off && x->src[i]; i++) {
		unsigned char c = (unsigned char)x->src[i];
		if (c == '\n') {
			line++;
			col = 1;
		} else if ((c & 0xC0) != 0x80) {        /* count characters, not bytes */
			col++;
		}
	}
	int n = snprintf(x->err, x->errlen, "line %d, column %d: ", line, col);
	if (n < 0 || (size_t)n >= x->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void pdb_push_tok(pdb_lex *x, int k, size_t off, size_t len, int table)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		pdb_tok *t = ar_alloc(x->a, cap * sizeof *t);
		if (x->n)
			memcpy(t, x->t, x->n * sizeof *t);
		x->t = t;
		x->cap = cap;
	}
	x->t[x->n++] = (pdb_tok){ k, off, len, table, 0 };
}

static int pdb_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int pdb_is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* "--" starts a comment only when a blank or the end follows (as in MariaDB
 * and in migrate.c's splitter). */
static int pdb_dash_comment(const char *s)
{
	return s[0] == '-' && s[1] == '-' &&
	       (s[2] == ' ' || s[2] == '\t' || s[2] == '\r' || s[2] == '\n' || s[2] == 0);
}

/* 1 if s[0..n) is a numeric literal: decimal (digits, an optional fraction,
 * an optional exponent), 0x hex or 0b binary. */
static int pdb_numeric(const char *s, size_t n)
{
	size_t i = 0, digits = 0;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++)
			if (!isxdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (n > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		for (i = 2; i < n; i++)
			if (s[i] != '0' && s[i] != '1')
				return 0;
		return 1;
	}
	for (; i < n && isdigit((unsigned char)s[i]); i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && isdigit((unsigned char)s[i]); i++)
			digits++;
	if (digits == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = i;
		for (; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == e)
			return 0;
	}
	return i == n;
}

/* A string literal starting at i (the quote); returns its end (after the
 * closing quote) or 0 when unterminated. Backslash escapes the next byte and
 * a doubled quote stands for itself, as in MariaDB's default sql_mode. */
static size_t pdb_string_end(const char *s, size_t i)
{
	char q = s[i];
	for (i++; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1])
			i++;
		else if (s[i] == q && s[i + 1] == q)
			i++;
		else if (s[i] == q)
			return i + 1;
	}
	return 0;
}

/* After a ';' in a migration: only blanks, then the end of the line (or a
 * line comment, or the end of the text). */
static int pdb_semi_ends_line(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	return *s == '\n' || *s == 0 || *s == '#' || pdb_dash_comment(s);
}

/* A {name} placeholder at i: appends the real name to the output. */
static int pdb_lex_placeholder(pdb_lex *x, size_t i, size_t *end)
{
	const char *s = x->src;
	size_t j = i + 1;
	while (isalnum((unsigned char)s[j]) || s[j] == '_')
		j++;
	if (j == i + 1 || s[j] != '}' || j - i - 1 > PDB_MAX_NAME)
		return pdb_fail(x, i, "%s", PDB_E_PLACEHOLDER);
	size_t n = j - i - 1;
	const plug_ctx *pc = x->pc;
	for (size_t t = 0; t < pc->ntables; t++) {
		const char *name = pc->tables[t].name;
		if (strlen(name) != n || memcmp(name, s + i + 1, n) != 0)
			continue;
		const char *real = pc->tables[t].real;
		if (!pdb_plain_name(real))
			return pdb_fail(x, i, PDB_E_REALNAME, name);
		str_ident(&x->out, real);
		pdb_push_tok(x, TK_PH, i, j + 1 - i, (int)t);
		*end = j + 1;
		return 0;
	}
	return pdb_fail(x, i, PDB_E_UNKNOWN, (int)n, s + i + 1);
}

/* Split the source into tokens and build the output text (placeholders
 * replaced, comments left out, a query's ';' dropped). */
static int pdb_lex_all(pdb_lex *x)
{
	const char *s = x->src;
	size_t i = 0;
	while (s[i]) {
		unsigned char c = (unsigned char)s[i];
		size_t j;
		if (pdb_is_space((char)c)) {
			str_add(&x->out, s + i, 1);
			i++;
		} else if (c >= 0x80) {
			return pdb_fail(x, i, PDB_E_NONASCII, c);
		} else if (c == '\'' || c == '"') {
			j = pdb_string_end(s, i);
			if (!j)
				return pdb_fail(x, i, "%s", PDB_E_UNTERMINATED);
			pdb_push_tok(x, TK_STR, i, j - i, -1);
			str_add(&x->out, s + i, j - i);
			i = j;
		} else if (c == '`') {
			return pdb_fail(x, i, "%s", PDB_E_BACKQUOTE);
		} else if (c == '/' && s[i + 1] == '*') {
			return pdb_fail(x, i, "%s", PDB_E_BLOCKCOMMENT);
		} else if (c == '#' || pdb_dash_comment(s + i)) {
			if (x->mode != PDB_MIGRATION)
				return pdb_fail(x, i, "%s", PDB_E_COMMENT);
			while (s[i] && s[i] != '\n')      /* left out; the newline stays */
				i++;
		} else if (c == '-' && s[i + 1] == '-') {
			return pdb_fail(x, i, "%s", PDB_E_DASHES);
		} else if (c == '{') {
			if (pdb_lex_placeholder(x, i, &i) != 0)
				return -1;
		} else if (isalpha(c) || c == '_' || c == '$') {
			for (j = i; pdb_is_ident(s[j]); j++)
				;
			pdb_push_tok(x, TK_WORD, i, j - i, -1);
			str_add(&x->out, s + i, j - i);
			i = j;
		} else if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
			if (c == '.' && i > 0 && (pdb_is_ident(s[i - 1]) || s[i - 1] == '}' || s[i - 1] == ')'))
				return pdb_fail(x, i, "%s", PDB_E_DOTNUM);
			/* one run of name characters, dots, and a sign after an
			 * exponent of a decimal: it must then be a number */
			for (j = i; pdb_is_ident(s[j]) || s[j] == '.' ||
			            ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E') &&
			             strspn(s + i, "0123456789.") == j - 1 - i); j++)
				;
			if (!pdb_numeric(s + i, j - i))
				return pdb_fail(x, i, PDB_E_NUMBER, (int)(j - i), s + i);
			pdb_push_tok(x, TK_NUM, i, j - i, -1);
			str_add(&x->out, s + i, j - i);
			i = j;
		} else if (c == ';') {
			if (x->mode == PDB_MIGRATION) {
				if (!pdb_semi_ends_line(s + i + 1))
					return pdb_fail(x, i, "%s", PDB_E_SEMI_EOL);
				str_add(&x->out, ";", 1);
			}
			pdb_push_tok(x, TK_SEMI, i, 1, -1);
			i++;
		} else if (strchr("(),.=<>!+-*/%&|^~?", (int)c)) {
			pdb_push_tok(x, TK_PUNCT, i, 1, -1);
			str_add(&x->out, s + i, 1);
			i++;
		} else {
			return pdb_fail(x, i, PDB_E_CHAR, isprint(c) ? (int)c : '?');
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ the SQL check: statements */

/* Statement kinds. */
enum { ST_SELECT = 1, ST_CREATE_TABLE, ST_CREATE_INDEX, ST_ALTER, ST_DROP_TABLE, ST_DROP_INDEX,
       ST_INSERT, ST_UPDATE, ST_DELETE };

/* Words refused anywhere: schemas of the server, file and lock functions,
 * statements that have no place inside the allowed ones, and table options
 * that reach outside the database (CONNECTION, DATA DIRECTORY, ...). */
static const char *const pdb_forbidden[] = {
	"information_schema", "performance_schema", "mysql", "sys",
	"outfile", "dumpfile", "load_file", "sleep", "benchmark",
	"get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
	"master_pos_wait", "master_gtid_wait",
	"grant", "revoke", "handler", "call", "prepare", "execute", "deallocate",
	"unlock", "flush", "kill", "shutdown",
	"database", "databases", "schema", "schemas", "procedure", "trigger",
	"definer", "server", "soname", "plugin", "connection", "directory", "tablespace",
	"nextval", "lastval", "setval", "current_user", "current_role",
	"spider_direct_sql", "spider_bg_direct_sql", "spider_ping_table", "spider_copy_tables",
	"spider_flush_table_mon_cache", "sys_exec", "sys_eval", NULL};

/* Functions refused when called (the words stay usable as column names). */
static const char *const pdb_forbidden_fn[] = {
	"user", "session_user", "system_user", "connection_id",
	"version", NULL};

/* Words that end a FROM (or UPDATE) table list at their level. */
static const char *const pdb_clause_end[] = {
	"where", "group", "having", "order", "limit", "union", "except", "intersect", "window",
	"for", "lock", "into", "returning", "duplicate", "set", "select", "values", "offset",
	"fetch", NULL};

/* Functions whose arguments use FROM as a keyword, not before a table. */
static const char *const pdb_from_fns[] = { "extract", "trim", "substring", "substr", "mid", NULL};

/* Words after WITH that are not a common table expression. */
static const char *const pdb_with_ok[] = { "rollup", "parser", "system", "check", "table",
	"validation", NULL};

typedef struct pdb_stmt {
	pdb_lex *x;
	pdb_tok *t;
	size_t n;
	int kind;
} pdb_stmt;

static int tk_word(const pdb_lex *x, const pdb_tok *t, const char *w)
{
	size_t n = strlen(w);
	return t && t->k == TK_WORD && t->len == n && strncasecmp(x->src + t->off, w, n) == 0;
}

static int tk_in(const pdb_lex *x, const pdb_tok *t, const char *const *list)
{
	for (; *list; list++)
		if (tk_word(x, t, *list))
			return 1;
	return 0;
}

static int tk_punct(const pdb_lex *x, const pdb_tok *t, char c)
{
	return t && t->k == TK_PUNCT && x->src[t->off] == c;
}

/* Token i of the statement, or NULL past its end. */
static pdb_tok *st_at(const pdb_stmt *st, size_t i)
{
	return i < st->n ? &st->t[i] : NULL;
}

#define TXT(t) (int)(t)->len, x->src + (t)->off

/* Which statement this is (and whether it may be run at all). */
static int pdb_stmt_kind(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	pdb_tok *t0 = &st->t[0], *t1 = st_at(st, 1), *t2 = st_at(st, 2);
	size_t j;
	if (x->mode == PDB_SELECT) {
		if (!tk_word(x, t0, "select"))
			return pdb_fail(x, t0->off, "%s", PDB_E_NOTSELECT);
		return ST_SELECT;
	}
	if (tk_word(x, t0, "create")) {
		if (tk_word(x, t1, "table"))
			return ST_CREATE_TABLE;
		if (tk_word(x, t1, "index") ||
		    ((tk_word(x, t1, "unique") || tk_word(x, t1, "fulltext")) && tk_word(x, t2, "index")))
			return ST_CREATE_INDEX;
	} else if (tk_word(x, t0, "alter")) {
		if (tk_word(x, t1, "table"))
			return ST_ALTER;
	} else if (tk_word(x, t0, "drop")) {
		if (tk_word(x, t1, "table"))
			return ST_DROP_TABLE;
		if (tk_word(x, t1, "index"))
			return ST_DROP_INDEX;
	} else if (tk_word(x, t0, "insert")) {
		for (j = 1; tk_word(x, st_at(st, j), "ignore") || tk_word(x, st_at(st, j), "low_priority") ||
		            tk_word(x, st_at(st, j), "high_priority") || tk_word(x, st_at(st, j), "delayed"); j++)
			;
		if (!tk_word(x, st_at(st, j), "into"))
			return pdb_fail(x, t0->off, "%s", PDB_E_INSERT);
		return ST_INSERT;
	} else if (tk_word(x, t0, "update")) {
		return ST_UPDATE;
	} else if (tk_word(x, t0, "delete")) {
		for (j = 1; tk_word(x, st_at(st, j), "ignore") || tk_word(x, st_at(st, j), "low_priority") ||
		            tk_word(x, st_at(st, j), "quick"); j++)
			;
		if (!tk_word(x, st_at(st, j), "from"))
			return pdb_fail(x, t0->off, "%s", PDB_E_DELETE);
		return ST_DELETE;
	}
	return pdb_fail(x, t0->off, PDB_E_START, TXT(t0));
}

/* Words and characters that are refused wherever they appear. */
static int pdb_check_words(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	for (size_t i = 0; i < st->n; i++) {
		pdb_tok *t = &st->t[i], *next = st_at(st, i + 1);
		if (t->k == TK_PUNCT && x->src[t->off] == '?' && x->mode == PDB_MIGRATION)
			return pdb_fail(x, t->off, "%s", PDB_E_PARAM);
		if (t->k != TK_WORD)
			continue;
		if (tk_in(x, t, pdb_forbidden))
			return pdb_fail(x, t->off, PDB_E_FORBIDDEN, TXT(t));
		if (tk_in(x, t, pdb_forbidden_fn) && tk_punct(x, next, '('))
			return pdb_fail(x, t->off, PDB_E_FUNC, TXT(t));
		if (tk_word(x, t, "load") && (tk_word(x, next, "data") || tk_word(x, next, "xml") ||
		                              tk_word(x, next, "index")))
			return pdb_fail(x, t->off, PDB_E_FORBIDDEN, TXT(t));
		if ((tk_word(x, t, "next") || tk_word(x, t, "previous")) && tk_word(x, next, "value"))
			return pdb_fail(x, t->off, PDB_E_FORBIDDEN, TXT(t));
		if (tk_word(x, t, "with") && !tk_in(x, next, pdb_with_ok))
			return pdb_fail(x, t->off, "%s", PDB_E_WITH);
		if (tk_word(x, t, "union") && tk_punct(x, next, '='))   /* MERGE tables' list */
			return pdb_fail(x, t->off, PDB_E_FORBIDDEN, TXT(t));
		if (tk_word(x, t, "straight_join"))
			return pdb_fail(x, t->off, "%s", PDB_E_STRAIGHT);
		if (tk_word(x, t, "into") && x->mode == PDB_SELECT)
			return pdb_fail(x, t->off, "%s", PDB_E_INTO);
		if (tk_word(x, t, "engine")) {
			pdb_tok *e = tk_punct(x, next, '=') ? st_at(st, i + 2) : next;
			if (!tk_word(x, e, "innodb"))
				return pdb_fail(x, t->off, "%s", PDB_E_ENGINE);
		}
	}
	return 0;
}

/* 1 if word token t is declared as an alias in the statement: it follows AS,
 * a {table}, or the ')' of a derived table somewhere in it. Counting more
 * words than the real aliases is harmless: a qualifier can only resolve to
 * a table of the FROM clause, and everything there is checked. */
static int pdb_is_alias(const pdb_stmt *st, const pdb_tok *t)
{
	const pdb_lex *x = st->x;
	for (size_t i = 1; i < st->n; i++) {
		const pdb_tok *w = &st->t[i], *p = &st->t[i - 1];
		if (w->k != TK_WORD || w->len != t->len || strncasecmp(x->src + w->off, x->src + t->off, t->len) != 0)
			continue;
		if (tk_word(x, p, "as") || p->k == TK_PH || tk_punct(x, p, ')'))
			return 1;
	}
	return 0;
}

/* "x.y": x must be a {table} (not one just used as a table reference) or an
 * alias, y a name or '*', and no third part or call may follow. */
static int pdb_check_dot(pdb_stmt *st, size_t i)
{
	pdb_lex *x = st->x;
	pdb_tok *dot = &st->t[i], *prev = i > 0 ? &st->t[i - 1] : NULL;
	pdb_tok *next = st_at(st, i + 1), *after = st_at(st, i + 2);
	if (!prev || (prev->k != TK_WORD && prev->k != TK_PH))
		return pdb_fail(x, dot->off, "%s", PDB_E_QUALIFY2);
	if (prev->k == TK_PH && prev->ref)
		return pdb_fail(x, dot->off, "%s", PDB_E_SCHEMA);
	if (prev->k == TK_WORD && !pdb_is_alias(st, prev))
		return pdb_fail(x, prev->off, PDB_E_QUALIFY, TXT(prev));
	if (!next || (next->k != TK_WORD && !tk_punct(x, next, '*')))
		return pdb_fail(x, dot->off, "%s", PDB_E_QUALNAME);
	if (tk_punct(x, after, '.'))
		return pdb_fail(x, after->off, "%s", PDB_E_QUALIFY2);
	if (tk_punct(x, after, '('))
		return pdb_fail(x, dot->off, "%s", PDB_E_QUALFUNC);
	return 0;
}

/* Where table references go: after FROM and JOIN a {table}, '(' or a derived
 * table; after INTO, TABLE, REFERENCES, ... a {table}. */
enum { EXPECT_NONE = 0, EXPECT_FROM, EXPECT_TABLE };

/* Walk the statement keeping a level per parenthesis: table references must
 * be placeholders, commas inside a FROM list are refused, dots checked. */
static int pdb_check_refs(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	struct { unsigned char in_from, fn_from; } lv[PDB_MAX_DEPTH];
	int d = 0, expect = EXPECT_NONE, index_on = 0;
	size_t create_ph = (size_t)-1;          /* the table of CREATE TABLE */
	lv[0].in_from = lv[0].fn_from = 0;
	for (size_t i = 0; i < st->n; i++) {
		pdb_tok *t = &st->t[i], *prev = i ? &st->t[i - 1] : NULL, *next = st_at(st, i + 1);
		if (expect != EXPECT_NONE) {
			if (expect == EXPECT_FROM && tk_punct(x, t, '(')) {
				if (d + 1 >= PDB_MAX_DEPTH)
					return pdb_fail(x, t->off, "%s", PDB_E_DEEP);
				d++;
				lv[d].in_from = 1;     /* a parenthesised join, unless a SELECT follows */
				lv[d].fn_from = 0;
				continue;
			}
			if (expect == EXPECT_FROM && tk_punct(x, prev, '(') &&
			    (tk_word(x, t, "select") || tk_word(x, t, "values"))) {
				lv[d].in_from = 0;     /* a derived table */
				expect = EXPECT_NONE;
				continue;
			}
			if (expect == EXPECT_FROM && tk_word(x, t, "dual") && !tk_punct(x, prev, '(')) {
				expect = EXPECT_NONE;
				continue;
			}
			if (t->k != TK_PH)
				return pdb_fail(x, t->off, PDB_E_TABLEREF, TXT(t));
			t->ref = 1;
			if (tk_punct(x, next, '.'))
				return pdb_fail(x, next->off, "%s", PDB_E_SCHEMA);
			if (st->kind == ST_CREATE_TABLE && create_ph == (size_t)-1)
				create_ph = i;
			expect = EXPECT_NONE;
			continue;
		}
		if (t->k == TK_PUNCT) {
			char c = x->src[t->off];
			if (c == '(') {
				if (d + 1 >= PDB_MAX_DEPTH)
					return pdb_fail(x, t->off, "%s", PDB_E_DEEP);
				d++;
				lv[d].in_from = 0;
				lv[d].fn_from = (unsigned char)tk_in(x, prev, pdb_from_fns);
			} else if (c == ')') {
				if (d == 0)
					return pdb_fail(x, t->off, "%s", PDB_E_PAREN);
				d--;
			} else if (c == ',') {
				if (lv[d].in_from)
					return pdb_fail(x, t->off, "%s", PDB_E_COMMAJOIN);
			} else if (c == '.') {
				if (pdb_check_dot(st, i) != 0)
					return -1;
			}
			continue;
		}
		if (t->k != TK_WORD)
			continue;
		if (tk_word(x, t, "from")) {
			if (!lv[d].fn_from) {
				lv[d].in_from = 1;
				expect = EXPECT_FROM;
			}
		} else if (tk_word(x, t, "join")) {
			lv[d].in_from = 1;
			expect = EXPECT_FROM;
		} else if (tk_word(x, t, "into") || tk_word(x, t, "references")) {
			expect = EXPECT_TABLE;
		} else if (tk_word(x, t, "table")) {
			if (tk_word(x, next, "if")) {       /* IF [NOT] EXISTS */
				i += tk_word(x, st_at(st, i + 2), "not") ? 3 : 2;
				if (!tk_word(x, st_at(st, i), "exists"))
					return pdb_fail(x, next->off, PDB_E_TABLEREF, TXT(next));
			}
			expect = EXPECT_TABLE;
		} else if (tk_word(x, t, "update") && i == 0) {
			while (tk_word(x, st_at(st, i + 1), "low_priority") || tk_word(x, st_at(st, i + 1), "ignore"))
				i++;
			lv[0].in_from = 1;                 /* UPDATE a, b SET: refused like FROM a, b */
			expect = EXPECT_TABLE;
		} else if (tk_word(x, t, "on") && d == 0 && !index_on &&
		           (st->kind == ST_CREATE_INDEX || st->kind == ST_DROP_INDEX)) {
			index_on = 1;
			expect = EXPECT_TABLE;
		} else if (tk_word(x, t, "like") && st->kind == ST_CREATE_TABLE && create_ph != (size_t)-1 &&
		           (i == create_ph + 1 || (i == create_ph + 2 && tk_punct(x, prev, '(')))) {
			expect = EXPECT_TABLE;             /* CREATE TABLE {a} LIKE {b} */
		} else if (tk_word(x, t, "rename")) {
			if (!(tk_word(x, next, "column") || tk_word(x, next, "index") || tk_word(x, next, "key") ||
			      tk_word(x, next, "constraint"))) {
				if (tk_word(x, next, "to") || tk_word(x, next, "as"))
					i++;
				expect = EXPECT_TABLE;
			}
		} else if (tk_word(x, t, "using") && st->kind == ST_DELETE && d == 0 && !tk_punct(x, next, '(')) {
			return pdb_fail(x, t->off, "%s", PDB_E_USING);
		} else if (tk_in(x, t, pdb_clause_end)) {
			lv[d].in_from = 0;
			if (tk_word(x, t, "select"))
				lv[d].fn_from = 0;         /* TRIM(SELECT .. FROM t): a real FROM */
		}
	}
	if (expect != EXPECT_NONE)
		return pdb_fail(x, st->n ? st->t[st->n - 1].off : 0, "%s", PDB_E_TABLEEND);
	if (d != 0)
		return pdb_fail(x, st->t[0].off, "%s", PDB_E_PAREN);
	if ((st->kind == ST_CREATE_INDEX || st->kind == ST_DROP_INDEX) && !index_on)
		return pdb_fail(x, st->t[0].off, "%s", PDB_E_INDEXON);
	return 0;
}

/* Every table has a primary key: MariaDB Galera replicates a row change by
 * its key, and a table without one is refused or replicated slowly and
 * unsafely. CREATE TABLE names PRIMARY KEY (or copies one with LIKE); ALTER
 * TABLE never drops it without adding another. */
static int pdb_check_primary(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	int has = 0, drop = -1;
	for (size_t i = 0; i + 1 < st->n; i++) {
		pdb_tok *t = &st->t[i], *next = &st->t[i + 1];
		if (tk_word(x, t, "primary") && tk_word(x, next, "key")) {
			if (i > 0 && tk_word(x, &st->t[i - 1], "drop"))
				drop = (int)i;
			else
				has = 1;
		} else if (st->kind == ST_CREATE_TABLE && tk_word(x, t, "like"))
			has = 1;
	}
	if (st->kind == ST_CREATE_TABLE && !has)
		return pdb_fail(x, st->t[0].off, "%s", PDB_E_PRIMARY);
	if (st->kind == ST_ALTER && drop >= 0 && !has)
		return pdb_fail(x, st->t[drop].off, "%s", PDB_E_DROPPK);
	return 0;
}

/* Words before JOIN (or OUTER JOIN) that end an ON condition. */
static const char *const pdb_join_kinds[] = { "left", "right", "inner", "full", NULL};

/* Words that can stand in a condition without naming a column. */
static const char *const pdb_cond_words[] = { "true", "false", "null", "and", "or", "not", "is", "xor",
	"between", "in", "like", "unknown", NULL};

/* A statement's joins must be bounded by a condition: what the check can
 * tell is unbounded (the slow queries were self-joins) is refused
 * here; the rest is bounded in time by the database (pdb_run). Refused:
 * CROSS and NATURAL JOIN, a JOIN with no ON or USING at its level before
 * the next join or clause, and an ON whose condition names no column. */
static int pdb_check_joins(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	for (size_t i = 0; i < st->n; i++) {
		pdb_tok *t = &st->t[i];
		if (!tk_word(x, t, "join"))
			continue;
		pdb_tok *prev = i ? &st->t[i - 1] : NULL;
		if (tk_word(x, prev, "cross") || tk_word(x, prev, "natural"))
			return pdb_fail(x, prev->off, PDB_E_JOINKIND, TXT(prev));
		/* find ON or USING at this level, before the next join or clause */
		int depth = 0, found = 0;
		size_t j;
		for (j = i + 1; j < st->n && !found; j++) {
			pdb_tok *u = &st->t[j];
			if (tk_punct(x, u, '(')) {
				depth++;
				continue;
			}
			if (tk_punct(x, u, ')')) {
				if (depth-- == 0)
					break;
				continue;
			}
			if (depth > 0)
				continue;
			if (tk_word(x, u, "on") || tk_word(x, u, "using"))
				found = tk_word(x, u, "on") ? 1 : 2;
			else if (tk_word(x, u, "join") || tk_in(x, u, pdb_clause_end) || tk_punct(x, u, ','))
				break;
		}
		if (!found)
			return pdb_fail(x, t->off, "%s", PDB_E_JOINON);
		if (found == 2)
			continue;
		/* the ON condition (up to the next join or clause) names a column */
		int named = 0;
		size_t on = j - 1;
		for (depth = 0; j < st->n; j++) {
			pdb_tok *u = &st->t[j];
			if (tk_punct(x, u, '('))
				depth++;
			else if (tk_punct(x, u, ')') && depth-- == 0)
				break;
			else if (depth == 0 && (tk_word(x, u, "join") || tk_in(x, u, pdb_clause_end) ||
			                        (tk_in(x, u, pdb_join_kinds) && (tk_word(x, st_at(st, j + 1), "join") ||
			                                                         tk_word(x, st_at(st, j + 1), "outer")))))
				break;
			else if ((u->k == TK_WORD && !tk_in(x, u, pdb_cond_words)) || u->k == TK_PH)
				named = 1;
		}
		if (!named)
			return pdb_fail(x, st->t[on].off, "%s", PDB_E_JOINCONST);
	}
	return 0;
}

/* DROP TABLE [IF EXISTS] {x}, and nothing else. */
static int pdb_check_drop(pdb_stmt *st)
{
	pdb_lex *x = st->x;
	size_t j = 2;
	if (tk_word(x, st_at(st, 2), "if") && tk_word(x, st_at(st, 3), "exists"))
		j = 4;
	pdb_tok *t = st_at(st, j);
	if (!t || t->k != TK_PH || j + 1 != st->n)
		return pdb_fail(x, t ? t->off : st->t[0].off, "%s", PDB_E_DROP);
	return 0;
}

static int pdb_check_stmt(pdb_lex *x, pdb_tok *t, size_t n, size_t off)
{
	if (n == 0)
		return pdb_fail(x, off, "%s", PDB_E_EMPTY);
	pdb_stmt st = { x, t, n, 0 };
	st.kind = pdb_stmt_kind(&st);
	if (st.kind < 0)
		return -1;
	if (pdb_check_words(&st) != 0)
		return -1;
	if (st.kind == ST_DROP_TABLE && pdb_check_drop(&st) != 0)
		return -1;
	if (pdb_check_refs(&st) != 0)
		return -1;
	if (pdb_check_joins(&st) != 0)
		return -1;
	return st.kind == ST_CREATE_TABLE || st.kind == ST_ALTER ? pdb_check_primary(&st) : 0;
}

char *pdb_expand(arena *a, const plug_ctx *pc, const char *sql, int mode, char *err, size_t errlen)
{
	if (err && errlen)
		*err = 0;
	pdb_lex x;
	memset(&x, 0, sizeof x);
	x.src = sql ? sql : "";
	x.pc = pc;
	x.mode = mode == PDB_MIGRATION ? PDB_MIGRATION : PDB_SELECT;
	x.a = a;
	x.out.a = a;
	x.err = err;
	x.errlen = errlen;
	str_add(&x.out, "", 0);
	if (pdb_lex_all(&x) != 0)
		return NULL;
	/* statements are the runs of tokens between ';' */
	size_t start = 0, nstmt = 0;
	for (size_t i = 0; i <= x.n; i++) {
		if (i < x.n && x.t[i].k != TK_SEMI)
			continue;
		/* nothing after the last ';' (or, in a migration, nothing at all) */
		if (i == x.n && start == x.n && (nstmt > 0 || x.mode == PDB_MIGRATION))
			break;
		if (x.mode == PDB_SELECT && nstmt > 0) {
			pdb_fail(&x, x.t[start].off, "%s", PDB_E_ONE);
			return NULL;
		}
		size_t off = i < x.n ? x.t[i].off : strlen(x.src);
		if (pdb_check_stmt(&x, x.t + start, i - start, off) != 0)
			return NULL;
		nstmt++;
		start = i + 1;
	}
	return x.out.p;
}

void pdb_live_prefix(char *out, size_t n, const char *id)
{
	/* "p_<id>_" for an id without '_' (every shipped plugin: the names
	 * of existing tables stay as they were); "p<length of id>_<id>_" for
	 * an id with '_'. With "p_<id>_" for every id, plugin "evil" with
	 * table "box_notes" and plugin "evil_box" with table "notes" were the
	 * same table. Now the two families never meet ("p_" versus "p<digit>"),
	 * an id without '_' ends at the first '_', and a length says where an
	 * id with '_' ends: one name, one plugin and table. */
	if (strchr(id, '_'))
		snprintf(out, n, "p%zu_%s_", strlen(id), id);
	else
		snprintf(out, n, "p_%s_", id);
}

/* Tables of plugins whose id has '_' were named "p_<id>_<table>" before
 * pdb_live_prefix changed: the old name of such a table, or "" for an id
 * without '_' (whose names did not change). */
static void pdb_old_name(char *out, size_t n, const char *id, const char *table)
{
	if (strchr(id, '_'))
		snprintf(out, n, "p_%s_%s", id, table);
	else
		*out = 0;
}

static int pdb_table_exists(db *d, arena *a, const char *name)
{
	db_res *r = NULL;
	if (db_q(d, a, &r, "SELECT COUNT(*) AS n FROM information_schema.TABLES"
	         " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", DB_TEXT(name)) != DB_OK)
		return -1;
	return db_cell_int(r, 0, "n") > 0;
}

int pdb_legacy_pending(db *d, const plug_ctx *pc)
{
	if (!strchr(pc->id, '_'))
		return 0;
	arena *a = ar_new(1024);
	int n = 0;
	for (size_t i = 0; i < pc->ntables && n >= 0; i++) {
		char old[PLUG_MAX_ID + PDB_MAX_NAME + 4];
		pdb_old_name(old, sizeof old, pc->id, pc->tables[i].name);
		int o = pdb_table_exists(d, a, old), w = o == 1 ? pdb_table_exists(d, a, pc->tables[i].real) : 0;
		if (o < 0 || w < 0)
			n = -1;
		else if (o == 1 && w == 0)
			n++;
	}
	ar_free(a);
	return n;
}

int pdb_rename_legacy(db *d, const plug_ctx *pc, const plug_ctx *const *all, size_t nall, FILE *log, char *err,
                      size_t errlen)
{
	if (!strchr(pc->id, '_'))
		return 0;
	arena *a = ar_new(1024);
	int rc = 0;
	for (size_t i = 0; i < pc->ntables && rc == 0; i++) {
		const plug_table *t = &pc->tables[i];
		char old[PLUG_MAX_ID + PDB_MAX_NAME + 4];
		pdb_old_name(old, sizeof old, pc->id, t->name);
		int o = pdb_table_exists(d, a, old), w = o == 1 ? pdb_table_exists(d, a, t->real) : 0;
		if (o < 0 || w < 0) {
			snprintf(err, errlen, "plugin %s: looking for the old name of table %s: %s", pc->id, t->name, db_errmsg(d));
			rc = -1;
			break;
		}
		if (o != 1)
			continue;
		if (w == 1) {
			if (log)
				fprintf(log, "note: plugin %s: %s (the old name of its table %s) is still there, unused: "
				        "the plugin uses %s\n", pc->id, old, t->name, t->real);
			continue;
		}
		/* whose is it? the table of another plugin (whose name did not
		 * change), or the old name of another plugin's table too: then it
		 * cannot be told which plugin's rows it holds */
		for (size_t j = 0; j < nall && rc == 0; j++) {
			const plug_ctx *q = all[j];
			if (!q || q == pc || !strcmp(q->id, pc->id))
				continue;
			for (size_t k = 0; k < q->ntables && rc == 0; k++) {
				char qold[PLUG_MAX_ID + PDB_MAX_NAME + 4];
				pdb_old_name(qold, sizeof qold, q->id, q->tables[k].name);
				if (!strcmp(q->tables[k].real, old) || !strcmp(qold, old)) {
					snprintf(err, errlen, "plugin %s: table %s was named %s, which is also %s table %s of "
					         "plugin %s: which plugin's rows it holds cannot be told; rename it by hand "
					         "(RENAME TABLE %s TO %s, or to the other plugin's name) and run portald migrate again",
					         pc->id, t->name, old, strcmp(q->tables[k].real, old) ? "the old name of" : "the",
					         q->tables[k].name, q->id, old, t->real);
					rc = -1;
				}
			}
		}
		if (rc != 0)
			break;
		char *sql = ar_printf(a, "RENAME TABLE `%s` TO `%s`", old, t->real);
		if (!pdb_plain_name(old) || !pdb_plain_name(t->real) || db_raw(d, sql) != DB_OK) {
			snprintf(err, errlen, "plugin %s: renaming %s to %s: %s", pc->id, old, t->real, db_errmsg(d));
			rc = -1;
		} else if (log)
			fprintf(log, "renamed %s to %s (plugin %s, table %s)\n", old, t->real, pc->id, t->name);
	}
	ar_free(a);
	return rc;
}

/* ------------------------------------------------------------------ migrations */

/* mig_filter: check and expand a migration file of the plugin. */
static char *pdb_filter(void *ctx, const char *sql, size_t n, char *err, size_t errlen)
{
	const plug_ctx *pc = ctx;
	arena *a = ar_new(0);
	char *out = NULL;
	char *text = ar_strndup(a, sql, n);
	char *x = pdb_expand(a, pc, text, PDB_MIGRATION, err, errlen);
	if (x)
		out = strdup(x);
	if (x && !out)
		snprintf(err, errlen, "out of memory");
	ar_free(a);
	return out;
}

int pdb_migrate(db *d, const plug_ctx *pc, const char *dir, FILE *log, mig_status *st, char *err, size_t errlen)
{
	return mig_run_ex(d, pc->id, dir, pdb_filter, (void *)(uintptr_t)pc, log, st, err, errlen);
}

int pdb_pending(db *d, const plug_ctx *pc, const char *dir, mig_status *st, char *err, size_t errlen)
{
	return mig_pending_ex(d, pc->id, dir, pdb_filter, (void *)(uintptr_t)pc, st, err, errlen);
}

int pdb_drop_all(db *d, const plug_ctx *pc, char *err, size_t errlen)
{
	char live[PLUG_MAX_ID + 8];
	pdb_live_prefix(live, sizeof live, pc->id ? pc->id : "");
	if (!pc->table_prefix || strcmp(pc->table_prefix, live) == 0) {
		snprintf(err, errlen, PDB_M_LIVE, pc->id ? pc->id : "?", pc->table_prefix ? pc->table_prefix : "");
		return -1;
	}
	if (pc->ntables == 0)
		return 0;
	arena *a = ar_new(0);
	pdb_str s = { a, NULL, 0, 0 };
	str_adds(&s, "DROP TABLE IF EXISTS ");
	int rc = 0;
	for (size_t i = 0; i < pc->ntables; i++) {
		if (!pdb_plain_name(pc->tables[i].real)) {
			snprintf(err, errlen, PDB_M_DROP, pc->table_prefix, "a table has an unusable name");
			rc = -1;
			break;
		}
		if (i)
			str_adds(&s, ", ");
		str_ident(&s, pc->tables[i].real);
	}
	/* foreign keys between the tables must not decide the order; the
	 * check is back on right after (a reconnect would reset it too) */
	if (rc == 0 && (db_raw(d, "SET SESSION foreign_key_checks = 0") != DB_OK || db_raw(d, s.p) != DB_OK)) {
		snprintf(err, errlen, PDB_M_DROP, pc->table_prefix, db_errmsg(d));
		rc = -1;
	}
	db_raw(d, "SET SESSION foreign_key_checks = 1");
	ar_free(a);
	return rc;
}

/* ------------------------------------------------------------------ portal.db */

/* The two sentinels: their addresses are the values (light userdata). */
static const char pdb_null_tag = 'N', pdb_all_tag = 'A';
#define PDB_NULLP ((void *)(uintptr_t)&pdb_null_tag)
#define PDB_ALLP ((void *)(uintptr_t)&pdb_all_tag)

static int pdb_is_sentinel(lua_State *L, int idx, void *which)
{
	return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == which;
}

/* Bound parameters of one statement, in the arena. */
typedef struct pdb_params {
	arena *a;
	db_param *p;
	size_t n, cap;
} pdb_params;

static void par_add(pdb_params *pp, db_param v)
{
	if (pp->n == pp->cap) {
		size_t cap = pp->cap ? pp->cap * 2 : 16;
		db_param *p = ar_alloc(pp->a, cap * sizeof *p);
		if (pp->n)
			memcpy(p, pp->p, pp->n * sizeof *p);
		pp->p = p;
		pp->cap = cap;
	}
	pp->p[pp->n++] = v;
}

/* The context of a call, with a database and an arena, or a Lua error. */
static plug_ctx *pdb_ctx(lua_State *L, const char *fn)
{
	plug_ctx *pc = plug_ctx_of(L);
	if (!pc || !pc->db || !pc->a)
		luaL_error(L, PDB_L_NODB, fn);
	return pc;
}

/* The declared table named by argument idx. */
static const plug_table *pdb_table(lua_State *L, const plug_ctx *pc, int idx, const char *fn)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_error(L, PDB_L_TABLEARG, fn);
	const char *name = lua_tostring(L, idx);
	for (size_t i = 0; i < pc->ntables; i++) {
		if (strcmp(pc->tables[i].name, name) != 0)
			continue;
		if (!pdb_plain_name(pc->tables[i].real))
			luaL_error(L, PDB_L_BADNAME, fn, pc->tables[i].real ? pc->tables[i].real : "");
		return &pc->tables[i];
	}
	luaL_error(L, PDB_L_TABLE, fn, name, pc->id ? pc->id : "?");
	return NULL;
}

/* The declared column called name (the table's own string, or "id"), or a
 * Lua error naming the table. */
static const char *pdb_column(lua_State *L, const plug_table *t, const char *name, const char *fn)
{
	const char *col = NULL;
	if (strcmp(name, "id") == 0)
		col = "id";
	for (size_t i = 0; !col && t->columns && i < t->ncolumns && t->columns[i]; i++)
		if (strcmp(t->columns[i], name) == 0)
			col = t->columns[i];
	if (!col)
		luaL_error(L, PDB_L_COLUMN, fn, name, t->name);
	if (!pdb_plain_name(col))
		luaL_error(L, PDB_L_BADNAME, fn, col);
	return col;
}

/* The Lua value at idx as a bound parameter; strings are copied into the
 * arena so nothing depends on the Lua string staying alive. what names the
 * value in messages. */
static db_param pdb_value(lua_State *L, int idx, arena *a, const char *fn, const char *what)
{
	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return DB_INT(lua_tointeger(L, idx));
		else {
			lua_Number v = lua_tonumber(L, idx);
			if (!isfinite(v))
				luaL_error(L, PDB_L_NOTFINITE, fn, what);
			return DB_TEXT(ar_printf(a, "%.17g", (double)v));
		}
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		if (n > PDB_MAX_TEXT)
			luaL_error(L, PDB_L_TOOLONG, fn, what);
		return DB_TEXTN(ar_memdup(a, s, n), n);
	}
	case LUA_TBOOLEAN:
		return DB_INT(lua_toboolean(L, idx) ? 1 : 0);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == PDB_NULLP)
			return DB_NULL;
		break;
	case LUA_TNIL:
		luaL_error(L, PDB_L_NOVALUE, fn, what);
		break;
	default:
		break;
	}
	luaL_error(L, PDB_L_VALUE, fn, what, luaL_typename(L, idx));
	return DB_NULL;
}

/* Push a plain table with the entries of the table at idx: the table itself
 * when it has no metatable, else a copy made through __pairs (so read-only
 * host proxies and plugin objects work as arguments). Returns its index. */
static int pdb_plain(lua_State *L, int idx, const char *fn, const char *what)
{
	idx = lua_absindex(L, idx);
	if (!lua_getmetatable(L, idx)) {
		lua_pushvalue(L, idx);
		return lua_gettop(L);
	}
	lua_pop(L, 1);
	luaL_checkstack(L, 8, NULL);
	lua_newtable(L);
	int copy = lua_gettop(L);
	size_t count = 0;
	if (luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL) {
		lua_pushvalue(L, idx);
		lua_call(L, 1, 3);                      /* iterator, state, control */
		for (;;) {
			lua_pushvalue(L, -3);
			lua_pushvalue(L, -3);
			lua_pushvalue(L, -3);
			lua_call(L, 2, 2);              /* key, value */
			if (lua_isnil(L, -2)) {
				lua_pop(L, 2);
				break;
			}
			if (++count > PDB_MAX_ENTRIES)
				luaL_error(L, PDB_L_TOOMANY, fn, what);
			lua_pushvalue(L, -2);
			lua_insert(L, -2);              /* ... key key value */
			lua_rawset(L, copy);            /* ... key */
			lua_replace(L, -2);             /* the key is the new control */
		}
		lua_pop(L, 3);
	} else {
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_rawset(L, copy);
		}
	}
	return copy;
}

static int pdb_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The columns named by the keys of the plain table at idx, sorted (so the
 * same shape of call gives the same SQL text and one cached statement). */
static const char **pdb_keys(lua_State *L, int idx, const plug_table *t, arena *a, size_t *n,
                             const char *fn, const char *what)
{
	size_t cap = t->ncolumns + 1, k = 0;
	const char **cols = ar_alloc(a, (cap + 1) * sizeof *cols);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, PDB_L_KEY, fn, what, luaL_typename(L, -1));
		const char *col = pdb_column(L, t, lua_tostring(L, -1), fn);
		if (k < cap)                    /* keys are distinct, so never more than the columns */
			cols[k++] = col;
	}
	qsort(cols, k, sizeof *cols, pdb_cmp_str);
	*n = k;
	return cols;
}

/* One condition "col = value" or "col = {op, value}" of a where table; the
 * value is on the top of the stack. */
static void pdb_cond(lua_State *L, const char *col, pdb_str *s, pdb_params *pp, const char *fn)
{
	static const char *const ops[] = { "=", "<>", "<", "<=", ">", ">=", "like", "in", NULL };
	int v = lua_gettop(L);
	if (lua_type(L, v) != LUA_TTABLE) {
		if (pdb_is_sentinel(L, v, PDB_NULLP)) {
			str_ident(s, col);
			str_adds(s, " IS NULL");
			return;
		}
		par_add(pp, pdb_value(L, v, pp->a, fn, col));
		str_ident(s, col);
		str_adds(s, " = ?");
		return;
	}
	lua_geti(L, v, 1);
	const char *op = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	size_t o = 0;
	for (; op && ops[o]; o++)
		if (strcmp(op, ops[o]) == 0)
			break;
	if (!op || !ops[o])
		luaL_error(L, PDB_L_OP, fn, col);
	op = ops[o];                            /* our own string from here on */
	lua_pop(L, 1);
	lua_geti(L, v, 2);
	int val = lua_gettop(L);
	str_ident(s, col);
	if (pdb_is_sentinel(L, val, PDB_NULLP)) {
		if (strcmp(op, "=") != 0 && strcmp(op, "<>") != 0)
			luaL_error(L, PDB_L_OPNULL, fn, col);
		str_adds(s, strcmp(op, "=") == 0 ? " IS NULL" : " IS NOT NULL");
	} else if (strcmp(op, "in") == 0) {
		if (lua_type(L, val) != LUA_TTABLE)
			luaL_error(L, PDB_L_IN, fn, col);
		lua_Integer n = luaL_len(L, val);
		if (n < 1 || n > PDB_IN_MAX)
			luaL_error(L, PDB_L_IN, fn, col);
		str_adds(s, " IN (");
		for (lua_Integer i = 1; i <= n; i++) {
			lua_geti(L, val, i);
			if (pdb_is_sentinel(L, -1, PDB_NULLP))
				luaL_error(L, PDB_L_OPNULL, fn, col);
			par_add(pp, pdb_value(L, -1, pp->a, fn, col));
			lua_pop(L, 1);
			str_adds(s, i > 1 ? ", ?" : "?");
		}
		str_adds(s, ")");
	} else {
		par_add(pp, pdb_value(L, val, pp->a, fn, col));
		str_adds(s, " ");
		str_adds(s, strcmp(op, "like") == 0 ? "LIKE" : op);
		str_adds(s, " ?");
	}
	lua_settop(L, v);
}

/* Append " WHERE ..." for the where argument at idx (nil, db.ALL or a
 * table). Returns the number of conditions; db.ALL counts as -1. */
static int pdb_where(lua_State *L, int idx, const plug_table *t, pdb_str *s, pdb_params *pp, const char *fn)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	if (pdb_is_sentinel(L, idx, PDB_ALLP))
		return -1;
	if (lua_type(L, idx) != LUA_TTABLE)
		luaL_error(L, PDB_L_WHERE, fn);
	int top = lua_gettop(L);
	int w = pdb_plain(L, idx, fn, "where");
	size_t n;
	const char **cols = pdb_keys(L, w, t, pp->a, &n, fn, "where");
	for (size_t i = 0; i < n; i++) {
		str_adds(s, i ? " AND " : " WHERE ");
		lua_getfield(L, w, cols[i]);
		pdb_cond(L, cols[i], s, pp, fn);
		lua_pop(L, 1);
	}
	lua_settop(L, top);
	return (int)n;
}

/* Push one result row as a table: integers as integers, decimals and floats
 * as numbers, NULL left out, the rest as strings. */
static void pdb_push_row(lua_State *L, const db_res *r, size_t row)
{
	lua_createtable(L, 0, (int)r->ncols);
	for (size_t c = 0; c < r->ncols; c++) {
		const char *cell = r->rows[row][c];
		if (!cell)
			continue;
		int kind = r->numeric ? r->numeric[c] : 0;
		if (kind == 1 && lua_stringtonumber(L, cell) != 0)
			;                               /* pushed (a float only past 64 bits) */
		else if (kind == 2)
			lua_pushnumber(L, (lua_Number)strtod(cell, NULL));
		else
			lua_pushlstring(L, cell, r->lens[row][c]);
		lua_setfield(L, -2, r->names[c]);
	}
}

static void pdb_push_rows(lua_State *L, const db_res *r)
{
	lua_createtable(L, r->nrows > INT32_MAX ? INT32_MAX : (int)r->nrows, 0);
	for (size_t i = 0; i < r->nrows; i++) {
		pdb_push_row(L, r, i);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* The time a statement may take: what is left of the call's budget (the
 * same wall-clock deadline as the CPU budget), rounded down to a tenth of
 * the budget so that one statement has few texts in the prepared-statement
 * cache (typically one: most calls run their SQL early). 0 outside a call
 * (jobs and tests run inside one; loading has no database). Raises the
 * budget error when nothing is left. */
static long pdb_time_ms(lua_State *L, const plug_ctx *pc)
{
	double left = sbx_budget_left(L);
	if (left < 0)
		return 0;
	long step = pc->cf && pc->cf->plugin_cpu_ms >= 100 ? (long)pc->cf->plugin_cpu_ms / 10 : 10;
	long ms = (long)left / step * step;
	return ms > 0 ? ms : (long)left > 0 ? (long)left : 1;
}

/* Run a statement; a failure other than a duplicate key (when dup_ok) raises.
 * The database enforces the call's time budget: the statement is sent as
 * SET STATEMENT max_statement_time=... FOR <sql>, so MariaDB stops it
 * (server-side: nothing runs on after the call gave up) when the call's
 * time is up; such a statement is never sent again, and the call ends
 * there (its budget is spent: pcall cannot catch that). */
static int pdb_run(lua_State *L, plug_ctx *pc, const char *fn, const char *sql, pdb_params *pp,
                   db_res **out, int dup_ok)
{
	int rc;
	for (int attempt = 0;; attempt++) {
		long ms = pdb_time_ms(L, pc);
		const char *run = ms ? ar_printf(pc->a, "SET STATEMENT max_statement_time=%ld.%03ld FOR %s", ms / 1000,
		                                 ms % 1000, sql) : sql;
		rc = db_exec_noreplay(pc->db, pc->a, out, run, pp->p, pp->n);
		if (rc != DB_OK && db_errno(pc->db) == ER_STATEMENT_TIMEOUT) {
			char msg[300];
			snprintf(msg, sizeof msg, PDB_L_TIMEOUT, fn, ms, pc->cf ? pc->cf->plugin_cpu_ms : 0);
			sbx_expire(L);
			return luaL_error(L, "%s", msg);
		}
		/* a connection found closed (idle too long, a restarted server)
		 * is reopened and the statement sent once more, outside a
		 * transaction (db_tx reruns those), and only with time left:
		 * pdb_time_ms raises when a long wait spent the budget */
		if (rc == DB_ELOST && attempt == 0 && !db_in_tx(pc->db))
			continue;
		break;
	}
	switch (rc) {
	case DB_OK:
		return rc;
	case DB_EDUP:
		if (dup_ok)
			return rc;
		return luaL_error(L, PDB_L_FAIL, fn, db_errmsg(pc->db));
	case DB_ERETRY:
		return luaL_error(L, PDB_L_BUSY, fn);
	case DB_ELOST:
		return luaL_error(L, PDB_L_LOST, fn);
	default:
		return luaL_error(L, PDB_L_FAIL, fn, db_errmsg(pc->db));
	}
}

static int pdb_duplicate(lua_State *L)
{
	lua_pushnil(L);
	lua_pushliteral(L, "duplicate");
	return 2;
}

/* db.insert(tbl, row) -> id */
static int pdb_insert(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "insert");
	const plug_table *t = pdb_table(L, pc, 1, "insert");
	if (lua_type(L, 2) != LUA_TTABLE)
		return luaL_error(L, "%s", PDB_L_ROW);
	lua_settop(L, 2);
	int row = pdb_plain(L, 2, "insert", "row");
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	size_t n;
	const char **cols = pdb_keys(L, row, t, pc->a, &n, "insert", "row");
	str_adds(&s, "INSERT INTO ");
	str_ident(&s, t->real);
	str_adds(&s, " (");
	for (size_t i = 0; i < n; i++) {
		if (i)
			str_adds(&s, ", ");
		str_ident(&s, cols[i]);
		lua_getfield(L, row, cols[i]);
		par_add(&pp, pdb_value(L, -1, pc->a, "insert", cols[i]));
		lua_pop(L, 1);
	}
	str_adds(&s, ") VALUES (");
	for (size_t i = 0; i < n; i++)
		str_adds(&s, i ? ", ?" : "?");
	str_adds(&s, ")");
	db_res *r = NULL;
	if (pdb_run(L, pc, "insert", s.p, &pp, &r, 1) == DB_EDUP)
		return pdb_duplicate(L);
	if (r->insert_id == 0 && lua_getfield(L, row, "id") != LUA_TNIL)
		return 1;                       /* no AUTO_INCREMENT: the id given */
	lua_pushinteger(L, (lua_Integer)r->insert_id);
	return 1;
}

/* db.get(tbl, id) -> row or nil */
static int pdb_get(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "get");
	const plug_table *t = pdb_table(L, pc, 1, "get");
	if (lua_isnoneornil(L, 2) || pdb_is_sentinel(L, 2, PDB_NULLP))
		return luaL_error(L, PDB_L_NOVALUE, "get", "id");
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	par_add(&pp, pdb_value(L, 2, pc->a, "get", "id"));
	str_adds(&s, "SELECT * FROM ");
	str_ident(&s, t->real);
	str_adds(&s, " WHERE `id` = ? LIMIT 1");
	db_res *r = NULL;
	pdb_run(L, pc, "get", s.p, &pp, &r, 0);
	if (r->nrows == 0)
		lua_pushnil(L);
	else
		pdb_push_row(L, r, 0);
	return 1;
}

/* " ORDER BY ..." from "col [asc|desc], ..." with every column checked. */
static void pdb_order(lua_State *L, const plug_table *t, const char *spec, pdb_str *s, arena *a)
{
	char *text = ar_strdup(a, spec);
	char *save = NULL;
	int n = 0;
	for (char *part = strtok_r(text, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		char *w[3] = { NULL, NULL, NULL };
		int nw = 0;
		char *save2 = NULL;
		for (char *word = strtok_r(part, " \t\r\n", &save2); word; word = strtok_r(NULL, " \t\r\n", &save2)) {
			if (nw == 2)
				luaL_error(L, PDB_L_ORDER, word);
			w[nw++] = word;
		}
		if (nw == 0 || ++n > PDB_MAX_ORDER)
			luaL_error(L, PDB_L_ORDER, spec);
		if (nw == 2 && strcasecmp(w[1], "asc") != 0 && strcasecmp(w[1], "desc") != 0)
			luaL_error(L, PDB_L_ORDER, w[1]);
		const char *col = pdb_column(L, t, w[0], "find");
		str_adds(s, n == 1 ? " ORDER BY " : ", ");
		str_ident(s, col);
		str_adds(s, nw == 2 && strcasecmp(w[1], "desc") == 0 ? " DESC" : " ASC");
	}
	if (n == 0)
		luaL_error(L, PDB_L_ORDER, spec);
}

/* The options of find: order_by into s, limit and offset. */
static void pdb_find_opts(lua_State *L, int idx, const plug_table *t, pdb_str *s, arena *a,
                          lua_Integer *limit, lua_Integer *offset)
{
	*limit = PDB_LIMIT_DEFAULT;
	*offset = 0;
	if (lua_isnoneornil(L, idx))
		return;
	if (lua_type(L, idx) != LUA_TTABLE)
		luaL_error(L, "%s", PDB_L_OPTSARG);
	int o = pdb_plain(L, idx, "find", "opts");
	lua_pushnil(L);
	while (lua_next(L, o)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		if (strcmp(k, "order_by") == 0) {
			if (lua_type(L, -1) != LUA_TSTRING)
				luaL_error(L, PDB_L_ORDER, "?");
		} else if (strcmp(k, "limit") == 0) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > PDB_LIMIT_MAX)
				luaL_error(L, "%s", PDB_L_LIMIT);
			*limit = lua_tointeger(L, -1);
		} else if (strcmp(k, "offset") == 0) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
				luaL_error(L, "%s", PDB_L_OFFSET);
			*offset = lua_tointeger(L, -1);
		} else {
			luaL_error(L, PDB_L_OPTS, k);
		}
		lua_pop(L, 1);
	}
	if (lua_getfield(L, o, "order_by") == LUA_TSTRING)
		pdb_order(L, t, lua_tostring(L, -1), s, a);
	lua_pop(L, 2);
}

/* db.find(tbl, where, opts) -> {rows} */
static int pdb_find(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "find");
	const plug_table *t = pdb_table(L, pc, 1, "find");
	lua_settop(L, 3);
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	str_adds(&s, "SELECT * FROM ");
	str_ident(&s, t->real);
	pdb_where(L, 2, t, &s, &pp, "find");
	lua_Integer limit, offset;
	pdb_find_opts(L, 3, t, &s, pc->a, &limit, &offset);
	str_adds(&s, " LIMIT ? OFFSET ?");
	par_add(&pp, DB_INT(limit));
	par_add(&pp, DB_INT(offset));
	db_res *r = NULL;
	pdb_run(L, pc, "find", s.p, &pp, &r, 0);
	pdb_push_rows(L, r);
	return 1;
}

/* db.count(tbl, where) -> n */
static int pdb_count(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "count");
	const plug_table *t = pdb_table(L, pc, 1, "count");
	lua_settop(L, 2);
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	str_adds(&s, "SELECT COUNT(*) FROM ");
	str_ident(&s, t->real);
	pdb_where(L, 2, t, &s, &pp, "count");
	db_res *r = NULL;
	pdb_run(L, pc, "count", s.p, &pp, &r, 0);
	lua_pushinteger(L, r->nrows && r->rows[0][0] ? (lua_Integer)strtoll(r->rows[0][0], NULL, 10) : 0);
	return 1;
}

/* db.update(tbl, where, set) -> rows matched */
static int pdb_update(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "update");
	const plug_table *t = pdb_table(L, pc, 1, "update");
	lua_settop(L, 3);
	if (lua_type(L, 3) != LUA_TTABLE)
		return luaL_error(L, "%s", PDB_L_SET);
	int set = pdb_plain(L, 3, "update", "set");
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	size_t n;
	const char **cols = pdb_keys(L, set, t, pc->a, &n, "update", "set");
	if (n == 0)
		return luaL_error(L, "%s", PDB_L_SET);
	str_adds(&s, "UPDATE ");
	str_ident(&s, t->real);
	for (size_t i = 0; i < n; i++) {
		str_adds(&s, i ? ", " : " SET ");
		str_ident(&s, cols[i]);
		str_adds(&s, " = ?");
		lua_getfield(L, set, cols[i]);
		par_add(&pp, pdb_value(L, -1, pc->a, "update", cols[i]));
		lua_pop(L, 1);
	}
	if (pdb_where(L, 2, t, &s, &pp, "update") == 0)
		return luaL_error(L, PDB_L_ALL, "update", t->name);
	db_res *r = NULL;
	if (pdb_run(L, pc, "update", s.p, &pp, &r, 1) == DB_EDUP)
		return pdb_duplicate(L);
	lua_pushinteger(L, (lua_Integer)r->affected);
	return 1;
}

/* db.delete(tbl, where) -> rows deleted */
static int pdb_delete(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "delete");
	const plug_table *t = pdb_table(L, pc, 1, "delete");
	lua_settop(L, 2);
	pdb_str s = { pc->a, NULL, 0, 0 };
	pdb_params pp = { pc->a, NULL, 0, 0 };
	str_adds(&s, "DELETE FROM ");
	str_ident(&s, t->real);
	if (pdb_where(L, 2, t, &s, &pp, "delete") == 0)
		return luaL_error(L, PDB_L_ALL, "delete", t->name);
	db_res *r = NULL;
	pdb_run(L, pc, "delete", s.p, &pp, &r, 0);
	lua_pushinteger(L, (lua_Integer)r->affected);
	return 1;
}

/* db.query(name, params) -> {rows} */
static int pdb_query(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "query");
	const char *name = luaL_checkstring(L, 1);
	const char *sql = pc->p ? plug_query_sql(pc->p, name) : NULL;
	if (!sql)
		return luaL_error(L, PDB_L_QUERY, name);
	lua_settop(L, 2);
	pdb_params pp = { pc->a, NULL, 0, 0 };
	if (!lua_isnil(L, 2)) {
		if (lua_type(L, 2) != LUA_TTABLE)
			return luaL_error(L, "%s", PDB_L_PARAMS);
		lua_Integer n = luaL_len(L, 2);
		if (n < 0 || n > PDB_MAX_PARAMS)
			return luaL_error(L, "%s", PDB_L_PARAMS);
		for (lua_Integer i = 1; i <= n; i++) {
			char what[32];
			snprintf(what, sizeof what, "params[%lld]", (long long)i);
			lua_geti(L, 2, i);
			par_add(&pp, pdb_value(L, -1, pc->a, "query", what));
			lua_pop(L, 1);
		}
	}
	db_res *r = NULL;
	pdb_run(L, pc, "query", sql, &pp, &r, 0);
	pdb_push_rows(L, r);
	return 1;
}

/* State of db.transaction between db_tx and the Lua function. */
struct pdb_tx {
	lua_State *L;
	int base;               /* stack top before each run: the function is at base */
	int raised;             /* the last run raised; its error object is on top */
};

/* db_tx_fn: run the plugin's function once, catching its errors so that
 * db_tx (not a longjmp) ends the transaction. */
static int pdb_tx_run(db *d, void *ctx)
{
	struct pdb_tx *tx = ctx;
	lua_State *L = tx->L;
	lua_settop(L, tx->base);                /* results or error of an earlier run */
	lua_pushvalue(L, tx->base);
	tx->raised = lua_pcall(L, 0, LUA_MULTRET, 0) != LUA_OK;
	return tx->raised ? 1 : 0;
}

/* db.transaction(fn) -> what fn returns */
static int pdb_transaction(lua_State *L)
{
	plug_ctx *pc = pdb_ctx(L, "transaction");
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 1);
	if (db_in_tx(pc->db))
		return luaL_error(L, "%s", PDB_L_NESTED);
	luaL_checkstack(L, 4, NULL);
	struct pdb_tx tx = { L, 1, 0 };
	int rc = db_tx(pc->db, pdb_tx_run, &tx);
	if (rc == DB_OK)
		return lua_gettop(L) - 1;
	if (rc == 1 && tx.raised)
		return lua_error(L);            /* fn's own error, after the rollback */
	return luaL_error(L, PDB_L_TXFAIL, db_errmsg(pc->db));
}

void pdb_push(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "insert", pdb_insert }, { "get", pdb_get }, { "find", pdb_find }, { "count", pdb_count },
		{ "update", pdb_update }, { "delete", pdb_delete }, { "query", pdb_query },
		{ "transaction", pdb_transaction }, { NULL, NULL } };
	lua_createtable(L, 0, 10);
	luaL_setfuncs(L, fns, 0);
	lua_pushlightuserdata(L, PDB_NULLP);
	lua_setfield(L, -2, "NULL");
	lua_pushlightuserdata(L, PDB_ALLP);
	lua_setfield(L, -2, "ALL");
}
