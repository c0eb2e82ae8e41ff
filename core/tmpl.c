/* tmpl.c - HTML templates: parsed once into an op array, rendered many times.
 *
 * A template is a flat array of ops. Text ops point into a copy of the
 * source; value and block ops carry a pre-split path. A block op knows where
 * its {{else}} part starts (els) and where the block ends (end), so rendering
 * is a loop over an index range that recurses only into block bodies. All of
 * a template's memory except the op array lives in one arena. Rendering
 * allocates nothing itself (scopes live on the C stack) apart from the output
 * buffer's growth and json_dumps for "| json". */
#include "tmpl.h"
#include "arena.h"
#include "html.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TPL_MAX_DEPTH 16                /* templates in progress at once */
#define TPL_MAX_NEST 64                 /* nested blocks in one template */
#define TPL_MAX_FILE (8u << 20)         /* biggest template file loaded */
#define TPL_DEF_STEPS ((size_t)16 << 20)
#define TPL_DEF_OUT ((size_t)64 << 20)
#define TPL_QUOTE 40                    /* bytes of a bad tag quoted in errors */

enum tpl_kind { OP_TEXT, OP_VAR, OP_IF, OP_UNLESS, OP_EACH, OP_PARTIAL, OP_YIELD };
enum tpl_filter { F_HTML, F_URL, F_HREF, F_JSON };
enum tpl_pathkind { P_NAME, P_DOT, P_INDEX, P_NUMBER, P_FIRST, P_LAST, P_KEY };

static const char *const tpl_block_names[] = {
	[OP_IF] = "if", [OP_UNLESS] = "unless", [OP_EACH] = "each",
};

struct tpl_seg {
	const char *key;        /* NUL-terminated object key */
	size_t idx;             /* array index when isidx */
	int isidx;
};

struct tpl_op {
	unsigned char kind;     /* enum tpl_kind */
	unsigned char filter;   /* enum tpl_filter, OP_VAR */
	unsigned char pkind;    /* enum tpl_pathkind, OP_VAR and blocks */
	unsigned char has_else; /* blocks, while parsing */
	unsigned line;
	size_t nseg;
	const struct tpl_seg *seg;
	size_t els, end;        /* blocks: first op of the else part, op after the block */
	const char *s;          /* OP_TEXT bytes, OP_PARTIAL name */
	size_t n;
	uint32_t hash;          /* OP_PARTIAL: hash of the name */
};

struct tpl {
	char *name;
	size_t namelen;
	uint32_t hash;
	const char *layout;     /* NULL or the layout's name */
	size_t llen;
	uint32_t lhash;
	unsigned lline;
	struct tpl_op *ops;
	size_t nops;
	arena *ar;
};

struct tpl_set {
	struct tpl **v;
	size_t n, cap;
	size_t max_steps, max_out;
};

/* Writes "name:line: message" into err (when given). Returns -1. */
__attribute__((format(printf, 5, 6)))
static int tpl_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return -1;
	int n = snprintf(err, errlen, "%s:%u: ", name, line);
	if (n >= 0 && (size_t)n < errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void *tpl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fputs("portald: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* FNV-1a, to compare template names cheaply before strcmp. */
static uint32_t tpl_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* The template called name[0..n) (hash h), or NULL. The set holds a few dozen
 * templates at most, so a scan with a hash check is as fast as a table. */
static struct tpl *tpl_find(const tpl_set *s, const char *name, size_t n, uint32_t h)
{
	for (size_t i = 0; i < s->n; i++) {
		struct tpl *t = s->v[i];
		if (t->hash == h && t->namelen == n && memcmp(t->name, name, n) == 0)
			return t;
	}
	return NULL;
}

static void tpl_destroy(struct tpl *t)
{
	if (!t)
		return;
	free(t->ops);
	ar_free(t->ar);
	free(t);
}

tpl_set *tpl_new(void)
{
	tpl_set *s = tpl_xrealloc(NULL, sizeof *s);
	s->v = NULL;
	s->n = s->cap = 0;
	s->max_steps = TPL_DEF_STEPS;
	s->max_out = TPL_DEF_OUT;
	return s;
}

void tpl_free(tpl_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		tpl_destroy(s->v[i]);
	free(s->v);
	free(s);
}

void tpl_limits(tpl_set *s, size_t max_steps, size_t max_out)
{
	if (max_steps)
		s->max_steps = max_steps;
	if (max_out)
		s->max_out = max_out;
}

int tpl_has(tpl_set *s, const char *name)
{
	size_t n = strlen(name);
	return tpl_find(s, name, n, tpl_hash(name, n)) != NULL;
}

/* ---- parsing ---- */

struct tpl_parse {
	struct tpl *t;
	size_t cap;             /* room in t->ops */
	const char *src;        /* the arena copy of the source */
	size_t n;
	unsigned tags;          /* tags seen other than comments */
	size_t open[TPL_MAX_NEST];
	unsigned nopen;
	char *err;
	size_t errlen;
};

static int tp_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int tp_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int tp_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Characters of a path segment. */
static int tp_segchar(char c)
{
	return tp_alpha(c) || tp_digit(c) || c == '_' || c == '-';
}

/* Characters of a template name in {{> name}} and {{layout "name"}}. */
static int tp_namechar(char c)
{
	return tp_segchar(c) || c == '.' || c == '/';
}

static void tp_skipws(const char **s, const char *e)
{
	while (*s < e && tp_space(**s))
		(*s)++;
}

/* Reads a run of characters accepted by cls; returns its length. */
static size_t tp_token(const char **s, const char *e, int (*cls)(char))
{
	const char *b = *s;
	while (*s < e && cls(**s))
		(*s)++;
	return (size_t)(*s - b);
}

static int tp_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Error about the tag s[0..e): quotes its start. */
static int tp_bad(struct tpl_parse *p, unsigned line, const char *what, const char *s, const char *e)
{
	size_t n = (size_t)(e - s);
	return tpl_err(p->err, p->errlen, p->t->name, line, "%s {{%.*s}}%s", what,
	               (int)(n > TPL_QUOTE ? TPL_QUOTE : n), s, n > TPL_QUOTE ? "..." : "");
}

/* Appends a zeroed op. */
static struct tpl_op *tp_op(struct tpl_parse *p, enum tpl_kind kind, unsigned line)
{
	struct tpl *t = p->t;
	if (t->nops == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		t->ops = tpl_xrealloc(t->ops, p->cap * sizeof *t->ops);
	}
	struct tpl_op *op = &t->ops[t->nops++];
	memset(op, 0, sizeof *op);
	op->kind = (unsigned char)kind;
	op->line = line;
	return op;
}

/* Parses the path tok[0..n) into op. Returns 0, or -1 if it is not a path. */
static int tp_path(struct tpl_parse *p, struct tpl_op *op, const char *tok, size_t n)
{
	static const struct { const char *name; enum tpl_pathkind kind; } at[] = {
		{"@index", P_INDEX}, {"@number", P_NUMBER}, {"@first", P_FIRST},
		{"@last", P_LAST}, {"@key", P_KEY},
	};
	if (tp_is(tok, n, ".")) {
		op->pkind = P_DOT;
		return 0;
	}
	if (n > 0 && tok[0] == '@') {
		for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
			if (tp_is(tok, n, at[i].name)) {
				op->pkind = (unsigned char)at[i].kind;
				return 0;
			}
		return -1;
	}
	size_t nseg = 1;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '.') {
			if (i == 0 || i + 1 == n || tok[i + 1] == '.')
				return -1;
			nseg++;
		} else if (!tp_segchar(tok[i]))
			return -1;
	}
	if (n == 0)
		return -1;
	struct tpl_seg *seg = ar_alloc(p->t->ar, nseg * sizeof *seg);
	size_t k = 0, b = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && tok[i] != '.')
			continue;
		seg[k].key = ar_strndup(p->t->ar, tok + b, i - b);
		seg[k].isidx = i - b <= 9;
		seg[k].idx = 0;
		for (size_t j = b; j < i && seg[k].isidx; j++) {
			if (tp_digit(tok[j]))
				seg[k].idx = seg[k].idx * 10 + (size_t)(tok[j] - '0');
			else
				seg[k].isidx = 0;
		}
		k++;
		b = i + 1;
	}
	op->pkind = P_NAME;
	op->seg = seg;
	op->nseg = nseg;
	return 0;
}

/* Path characters, loosely: tp_path decides what is valid. */
static int tp_pathchar(char c)
{
	return tp_segchar(c) || c == '.' || c == '@';
}

/* {{#if a}}, {{#unless a}}, {{#each a}}: s..e is the tag after '#'. */
static int tp_open(struct tpl_parse *p, const char *tag, const char *s, const char *e, unsigned line)
{
	const char *w = s;
	size_t wn = tp_token(&s, e, tp_alpha);
	enum tpl_kind kind;
	if (tp_is(w, wn, "if"))
		kind = OP_IF;
	else if (tp_is(w, wn, "unless"))
		kind = OP_UNLESS;
	else if (tp_is(w, wn, "each"))
		kind = OP_EACH;
	else
		return tp_bad(p, line, "unknown block", tag, e);
	if (s == e || !tp_space(*s))
		return tp_bad(p, line, "a value name must follow the block word in", tag, e);
	tp_skipws(&s, e);
	const char *pt = s;
	size_t pn = tp_token(&s, e, tp_pathchar);
	tp_skipws(&s, e);
	if (s != e || pn == 0)
		return tp_bad(p, line, "expected one value name in", tag, e);
	if (p->nopen == TPL_MAX_NEST)
		return tpl_err(p->err, p->errlen, p->t->name, line, "blocks nested deeper than %d",
		               TPL_MAX_NEST);
	struct tpl_op *op = tp_op(p, kind, line);
	if (tp_path(p, op, pt, pn) < 0)
		return tp_bad(p, line, "bad value name in", tag, e);
	p->open[p->nopen++] = p->t->nops - 1;
	return 0;
}

/* {{/if}}, {{/unless}}, {{/each}}: s..e is the tag after '/'. */
static int tp_close(struct tpl_parse *p, const char *tag, const char *s, const char *e, unsigned line)
{
	const char *w = s;
	size_t wn = tp_token(&s, e, tp_alpha);
	tp_skipws(&s, e);
	enum tpl_kind kind;
	if (tp_is(w, wn, "if"))
		kind = OP_IF;
	else if (tp_is(w, wn, "unless"))
		kind = OP_UNLESS;
	else if (tp_is(w, wn, "each"))
		kind = OP_EACH;
	else
		return tp_bad(p, line, "unknown block end", tag, e);
	if (s != e)
		return tp_bad(p, line, "unexpected text in", tag, e);
	if (p->nopen == 0)
		return tpl_err(p->err, p->errlen, p->t->name, line, "{{/%s}} without an open block",
		               tpl_block_names[kind]);
	struct tpl_op *op = &p->t->ops[p->open[p->nopen - 1]];
	if (op->kind != kind)
		return tpl_err(p->err, p->errlen, p->t->name, line,
		               "{{/%s}} does not match {{#%s}} opened on line %u",
		               tpl_block_names[kind], tpl_block_names[op->kind], op->line);
	p->nopen--;
	op->end = p->t->nops;
	if (!op->has_else)
		op->els = op->end;
	return 0;
}

static int tp_else(struct tpl_parse *p, unsigned line)
{
	if (p->nopen == 0)
		return tpl_err(p->err, p->errlen, p->t->name, line, "{{else}} outside a block");
	struct tpl_op *op = &p->t->ops[p->open[p->nopen - 1]];
	if (op->has_else)
		return tpl_err(p->err, p->errlen, p->t->name, line,
		               "second {{else}} in {{#%s}} opened on line %u",
		               tpl_block_names[op->kind], op->line);
	op->has_else = 1;
	op->els = p->t->nops;
	return 0;
}

/* {{> name}}: s..e is the tag after '>'. */
static int tp_partial(struct tpl_parse *p, const char *tag, const char *s, const char *e, unsigned line)
{
	tp_skipws(&s, e);
	const char *nm = s;
	size_t n = tp_token(&s, e, tp_namechar);
	tp_skipws(&s, e);
	if (n == 0 || s != e)
		return tp_bad(p, line, "expected one template name in", tag, e);
	struct tpl_op *op = tp_op(p, OP_PARTIAL, line);
	op->s = ar_strndup(p->t->ar, nm, n);
	op->n = n;
	op->hash = tpl_hash(nm, n);
	return 0;
}

/* {{layout "name"}}: s..e is the tag after the word layout. */
static int tp_layout(struct tpl_parse *p, const char *tag, const char *s, const char *e, unsigned line)
{
	if (p->tags != 1)
		return tpl_err(p->err, p->errlen, p->t->name, line, "{{layout}} must be the first tag");
	tp_skipws(&s, e);
	const char *nm = s + 1;
	size_t n = 0;
	if (s < e && *s == '"') {
		s++;
		n = tp_token(&s, e, tp_namechar);
	}
	if (n == 0 || s == e || *s != '"')
		return tp_bad(p, line, "expected a quoted template name in", tag, e);
	s++;
	tp_skipws(&s, e);
	if (s != e)
		return tp_bad(p, line, "unexpected text in", tag, e);
	p->t->layout = ar_strndup(p->t->ar, nm, n);
	p->t->llen = n;
	p->t->lhash = tpl_hash(nm, n);
	p->t->lline = line;
	return 0;
}

/* {{ path }} or {{ path | filter }}. */
static int tp_value(struct tpl_parse *p, const char *s, const char *e, unsigned line)
{
	static const struct { const char *name; enum tpl_filter f; } filters[] = {
		{"url", F_URL}, {"href", F_HREF}, {"json", F_JSON},
	};
	const char *tag = s;
	size_t pn = tp_token(&s, e, tp_pathchar);
	const char *pt = tag;
	tp_skipws(&s, e);
	enum tpl_filter filter = F_HTML;
	if (pn > 0 && s < e && *s == '|') {
		s++;
		tp_skipws(&s, e);
		const char *f = s;
		size_t fn = tp_token(&s, e, tp_alpha);
		tp_skipws(&s, e);
		size_t i;
		for (i = 0; i < sizeof filters / sizeof filters[0]; i++)
			if (tp_is(f, fn, filters[i].name))
				break;
		if (i == sizeof filters / sizeof filters[0] || s != e)
			return tp_bad(p, line, "unknown filter (url, href or json) in", tag, e);
		filter = filters[i].f;
	}
	if (pn == 0 || s != e)
		return tp_bad(p, line, "unknown tag", tag, e);
	struct tpl_op *op = tp_op(p, OP_VAR, line);
	op->filter = (unsigned char)filter;
	if (tp_path(p, op, pt, pn) < 0)
		return tp_bad(p, line, "bad value name in", tag, e);
	return 0;
}

/* One tag, s..e being what is between "{{" and "}}". */
static int tp_tag(struct tpl_parse *p, const char *s, const char *e, unsigned line)
{
	tp_skipws(&s, e);
	while (e > s && tp_space(e[-1]))
		e--;
	if (s == e)
		return tpl_err(p->err, p->errlen, p->t->name, line, "empty tag {{}}");
	if (*s == '!')
		return 0;
	p->tags++;
	switch (*s) {
	case '#':
		return tp_open(p, s, s + 1, e, line);
	case '/':
		return tp_close(p, s, s + 1, e, line);
	case '>':
		return tp_partial(p, s, s + 1, e, line);
	default:
		break;
	}
	const char *w = s, *r = s;
	size_t wn = tp_token(&r, e, tp_alpha);
	if (r == e && tp_is(w, wn, "else"))
		return tp_else(p, line);
	if (r == e && tp_is(w, wn, "yield")) {
		tp_op(p, OP_YIELD, line);
		return 0;
	}
	if (tp_is(w, wn, "layout") && (r == e || !tp_pathchar(*r)))
		return tp_layout(p, s, r, e, line);
	return tp_value(p, s, e, line);
}

/* The first "cc" in s..e, or NULL. */
static const char *tp_find2(const char *s, const char *e, char c)
{
	while (e - s >= 2) {
		const char *q = memchr(s, c, (size_t)(e - s - 1));
		if (!q)
			return NULL;
		if (q[1] == c)
			return q;
		s = q + 1;
	}
	return NULL;
}

static unsigned tp_lines(const char *s, size_t n)
{
	unsigned k = 0;
	const char *e = s + n;
	while ((s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
		k++;
		s++;
	}
	return k;
}

/* Parses p->src into p->t. */
static int tp_run(struct tpl_parse *p)
{
	const char *s = p->src, *e = p->src + p->n;
	unsigned line = 1;
	while (s < e) {
		const char *open = tp_find2(s, e, '{');
		const char *text_end = open ? open : e;
		if (text_end > s) {
			struct tpl_op *op = tp_op(p, OP_TEXT, line);
			op->s = s;
			op->n = (size_t)(text_end - s);
			line += tp_lines(s, op->n);
		}
		if (!open)
			break;
		const char *close = tp_find2(open + 2, e, '}');
		if (!close)
			return tpl_err(p->err, p->errlen, p->t->name, line, "unterminated {{");
		if (tp_tag(p, open + 2, close, line) < 0)
			return -1;
		line += tp_lines(open, (size_t)(close - open));
		s = close + 2;
	}
	if (p->nopen > 0) {
		const struct tpl_op *op = &p->t->ops[p->open[p->nopen - 1]];
		return tpl_err(p->err, p->errlen, p->t->name, op->line, "{{#%s}} is not closed",
		               tpl_block_names[op->kind]);
	}
	return 0;
}

int tpl_add(tpl_set *s, const char *name, const char *src, size_t n, char *err, size_t errlen)
{
	size_t nl = strlen(name);
	struct tpl *t = tpl_xrealloc(NULL, sizeof *t);
	memset(t, 0, sizeof *t);
	t->ar = ar_new(1024); /* names and paths; a large source gets its own chunk */
	t->name = ar_strndup(t->ar, name, nl);
	t->namelen = nl;
	t->hash = tpl_hash(name, nl);
	struct tpl_parse p = {
		.t = t, .src = ar_memdup(t->ar, n ? src : "", n), .n = n,
		.err = err, .errlen = errlen,
	};
	if (tp_run(&p) < 0) {
		tpl_destroy(t);
		return -1;
	}
	struct tpl *old = tpl_find(s, name, nl, t->hash);
	if (old) {
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i] == old)
				s->v[i] = t;
		tpl_destroy(old);
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = tpl_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = t;
	return 0;
}

int tpl_check(tpl_set *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct tpl *t = s->v[i];
		for (size_t k = 0; k < t->nops; k++) {
			const struct tpl_op *op = &t->ops[k];
			if (op->kind == OP_PARTIAL && !tpl_find(s, op->s, op->n, op->hash))
				return tpl_err(err, errlen, t->name, op->line, "partial \"%s\" not found", op->s);
		}
		/* follow the layout chain; a circle never ends */
		const struct tpl *l = t;
		for (int depth = 0; l->layout; depth++) {
			const struct tpl *next = tpl_find(s, l->layout, l->llen, l->lhash);
			if (!next)
				return tpl_err(err, errlen, l->name, l->lline, "layout \"%s\" not found", l->layout);
			if (depth == TPL_MAX_DEPTH)
				return tpl_err(err, errlen, t->name, t->lline,
				               "layout chain longer than %d (circular {{layout}}?)", TPL_MAX_DEPTH);
			l = next;
		}
	}
	return 0;
}

/* Reads a whole regular file into a malloc'd buffer. Returns 1 with *data and
 * *len set, 0 when path is not a regular file, -1 with err on failure. */
static int tpl_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (st.st_size > (off_t)TPL_MAX_FILE) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %u bytes", path, TPL_MAX_FILE);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *p = tpl_xrealloc(NULL, cap);
	for (;;) {
		if (n == cap) {
			if (cap > TPL_MAX_FILE) {
				free(p);
				close(fd);
				snprintf(err, errlen, "%s: larger than %u bytes", path, TPL_MAX_FILE);
				return -1;
			}
			cap *= 2;
			p = tpl_xrealloc(p, cap);
		}
		ssize_t r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(p);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*data = p;
	*len = n;
	return 1;
}

static int tpl_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.html file names of dir, sorted (so errors come in a stable order).
 * Returns the count, or -1 with err. *names is malloc'd, each name too. */
static long tpl_list_dir(const char *dir, char ***names, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".html") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			v = tpl_xrealloc(v, cap * sizeof *v);
		}
		v[n] = tpl_xrealloc(NULL, len + 1);
		memcpy(v[n++], de->d_name, len + 1);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, tpl_cmpstr);
	*names = v;
	return (long)n;
}

int tpl_load_dir(tpl_set *s, const char *dir, char *err, size_t errlen)
{
	char **names = NULL;
	char dummy[1];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	long n = tpl_list_dir(dir, &names, err, errlen);
	if (n < 0)
		return -1;
	int loaded = 0, rc = 0;
	for (long i = 0; i < n && rc == 0; i++) {
		size_t pathlen = strlen(dir) + strlen(names[i]) + 2;
		char *path = tpl_xrealloc(NULL, pathlen);
		snprintf(path, pathlen, "%s/%s", dir, names[i]);
		char *data = NULL;
		size_t len = 0;
		int r = tpl_read_file(path, &data, &len, err, errlen);
		free(path);
		if (r < 0)
			rc = -1;
		if (r > 0) {
			names[i][strlen(names[i]) - 5] = 0; /* drop ".html" */
			if (tpl_add(s, names[i], data, len, err, errlen) < 0)
				rc = -1;
			else
				loaded++;
			free(data);
		}
	}
	for (long i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0 || tpl_check(s, err, errlen) < 0)
		return -1;
	return loaded;
}

/* ---- rendering ---- */

/* One level of lookup: the root data, or one item of an {{#each}}. */
struct tpl_scope {
	json_t *v;
	const char *key;        /* @key when walking an object */
	size_t index, count;    /* position and length of the walk */
	int each;               /* 1 for an {{#each}} item */
	const struct tpl_scope *up;
};

/* What {{yield}} renders: the body of template t in scope sc, whose own
 * {{yield}} means up. */
struct tpl_yield {
	const struct tpl *t;
	const struct tpl_scope *sc;
	const struct tpl_yield *up;
};

struct tpl_ctx {
	const tpl_set *set;
	buf *out;
	size_t start;           /* out->len when the render began */
	size_t steps;
	int depth;
	char *err;
	size_t errlen;
};

/* A looked-up value: JSON data or one of the @ variables. */
struct tpl_val {
	enum { V_NONE, V_JSON, V_INT, V_BOOL, V_STR } kind;
	json_t *j;
	json_int_t i;
	const char *s;
};

/* One step down a path: an object member or an array element. */
static json_t *tr_child(json_t *j, const struct tpl_seg *seg)
{
	if (json_is_object(j))
		return json_object_get(j, seg->key);
	if (json_is_array(j) && seg->isidx)
		return json_array_get(j, seg->idx);
	return NULL;
}

static struct tpl_val tr_resolve(const struct tpl_op *op, const struct tpl_scope *sc)
{
	struct tpl_val v = {.kind = V_NONE};
	json_t *j = NULL;
	switch ((enum tpl_pathkind)op->pkind) {
	case P_DOT:
		j = sc->v;
		break;
	case P_INDEX:
	case P_NUMBER:
		if (sc->each) {
			v.kind = V_INT;
			v.i = (json_int_t)sc->index + (op->pkind == P_NUMBER);
		}
		return v;
	case P_FIRST:
	case P_LAST:
		if (sc->each) {
			v.kind = V_BOOL;
			v.i = op->pkind == P_FIRST ? sc->index == 0 : sc->index + 1 == sc->count;
		}
		return v;
	case P_KEY:
		if (sc->each && sc->key) {
			v.kind = V_STR;
			v.s = sc->key;
		}
		return v;
	case P_NAME:
		for (const struct tpl_scope *u = sc; u && !j; u = u->up)
			if (json_is_object(u->v))
				j = json_object_get(u->v, op->seg[0].key);
		for (size_t k = 1; j && k < op->nseg; k++)
			j = tr_child(j, &op->seg[k]);
		break;
	}
	if (j) {
		v.kind = V_JSON;
		v.j = j;
	}
	return v;
}

static int tr_truthy(const struct tpl_val *v)
{
	switch (v->kind) {
	case V_NONE:
		return 0;
	case V_INT:
	case V_BOOL:
		return v->i != 0;
	case V_STR:
		return v->s[0] != 0;
	case V_JSON:
		break;
	}
	switch (json_typeof(v->j)) {
	case JSON_OBJECT:
		return json_object_size(v->j) > 0;
	case JSON_ARRAY:
		return json_array_size(v->j) > 0;
	case JSON_STRING:
		return json_string_length(v->j) > 0;
	case JSON_INTEGER:
		return json_integer_value(v->j) != 0;
	case JSON_REAL:
		return json_real_value(v->j) != 0.0;
	case JSON_TRUE:
		return 1;
	case JSON_FALSE:
	case JSON_NULL:
		break;
	}
	return 0;
}

/* {{ x | json }}: the value as JSON text made safe for a <script> block. */
static void tr_emit_json(struct tpl_ctx *c, const struct tpl_val *v)
{
	json_t *j = NULL;
	int own = 1;
	switch (v->kind) {
	case V_NONE:
		break;
	case V_JSON:
		j = v->j;
		own = 0;
		break;
	case V_INT:
		j = json_integer(v->i);
		break;
	case V_BOOL:
		j = json_boolean(v->i);
		break;
	case V_STR:
		j = json_string(v->s);
		break;
	}
	char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (own)
		json_decref(j);
	if (txt)
		html_json_script(c->out, txt, strlen(txt));
	else
		buf_add(c->out, "null", 4);
	free(txt);
}

/* Writes v in decimal at the end of tmp[0..size) (size >= 24); returns the
 * start. Faster than snprintf, which matters for pages full of numbers. */
static char *tr_itoa(char *tmp, size_t size, json_int_t v)
{
	char *p = tmp + size;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

static void tr_emit(struct tpl_ctx *c, const struct tpl_op *op, const struct tpl_val *v)
{
	char tmp[64];
	const char *s = tmp;
	size_t n = 0;
	if (op->filter == F_JSON) {
		tr_emit_json(c, v);
		return;
	}
	switch (v->kind) {
	case V_NONE:
		return;
	case V_INT:
		s = tr_itoa(tmp, sizeof tmp, v->i);
		n = (size_t)(tmp + sizeof tmp - s);
		break;
	case V_BOOL:
		s = v->i ? "true" : "false";
		n = strlen(s);
		break;
	case V_STR:
		s = v->s;
		n = strlen(s);
		break;
	case V_JSON:
		switch (json_typeof(v->j)) {
		case JSON_STRING:
			s = json_string_value(v->j);
			n = json_string_length(v->j);
			break;
		case JSON_INTEGER:
			s = tr_itoa(tmp, sizeof tmp, json_integer_value(v->j));
			n = (size_t)(tmp + sizeof tmp - s);
			break;
		case JSON_REAL:
			n = (size_t)snprintf(tmp, sizeof tmp, "%.15g", json_real_value(v->j));
			break;
		case JSON_TRUE:
			s = "true";
			n = 4;
			break;
		case JSON_FALSE:
			s = "false";
			n = 5;
			break;
		case JSON_NULL:
		case JSON_OBJECT:
		case JSON_ARRAY:
			return;
		}
		break;
	}
	switch ((enum tpl_filter)op->filter) {
	case F_URL:
		html_urlpart(c->out, s, n);
		break;
	case F_HREF:
		html_url(c->out, s, n);
		break;
	case F_HTML:
	case F_JSON:
		html_text(c->out, s, n);
		break;
	}
}

static int tr_template(struct tpl_ctx *c, const struct tpl *t, const struct tpl_scope *sc,
                       const struct tpl_yield *y, const char *from, unsigned line);

/* The include depth error, reported at the tag from:line that went too deep. */
static int tr_deep(struct tpl_ctx *c, const char *from, unsigned line)
{
	return tpl_err(c->err, c->errlen, from, line,
	               "include depth over %d (recursive partial or layout?)", TPL_MAX_DEPTH);
}

/* Counts one step; fails when the render ran too long or produced too much. */
static int tr_step(struct tpl_ctx *c, const struct tpl *t, unsigned line)
{
	if (++c->steps > c->set->max_steps)
		return tpl_err(c->err, c->errlen, t->name, line,
		               "render stopped after %zu steps (runaway template?)", c->set->max_steps);
	if (c->out->len - c->start > c->set->max_out)
		return tpl_err(c->err, c->errlen, t->name, line,
		               "render stopped: output over %zu bytes", c->set->max_out);
	return 0;
}

static int tr_exec(struct tpl_ctx *c, const struct tpl *t, size_t i, size_t end,
                   const struct tpl_scope *sc, const struct tpl_yield *y);

/* {{#each}}: the body once per element (or the else part when empty). */
static int tr_each(struct tpl_ctx *c, const struct tpl *t, size_t at,
                   const struct tpl_scope *sc, const struct tpl_yield *y)
{
	const struct tpl_op *op = &t->ops[at];
	struct tpl_val v = tr_resolve(op, sc);
	json_t *j = v.kind == V_JSON ? v.j : NULL;
	size_t count = json_is_array(j) ? json_array_size(j) : json_is_object(j) ? json_object_size(j) : 0;
	if (count == 0)
		return tr_exec(c, t, op->els, op->end, sc, y);
	struct tpl_scope it = {.count = count, .each = 1, .up = sc};
	if (json_is_array(j)) {
		for (size_t k = 0; k < count; k++) {
			it.v = json_array_get(j, k);
			it.index = k;
			if (tr_step(c, t, op->line) < 0 || tr_exec(c, t, at + 1, op->els, &it, y) < 0)
				return -1;
		}
		return 0;
	}
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val) {
		it.v = val;
		it.key = key;
		if (tr_step(c, t, op->line) < 0 || tr_exec(c, t, at + 1, op->els, &it, y) < 0)
			return -1;
		it.index++;
	}
	return 0;
}

/* Runs ops [i, end) of t. */
static int tr_exec(struct tpl_ctx *c, const struct tpl *t, size_t i, size_t end,
                   const struct tpl_scope *sc, const struct tpl_yield *y)
{
	while (i < end) {
		const struct tpl_op *op = &t->ops[i];
		if (tr_step(c, t, op->line) < 0)
			return -1;
		switch ((enum tpl_kind)op->kind) {
		case OP_TEXT:
			buf_add(c->out, op->s, op->n);
			i++;
			break;
		case OP_VAR: {
			struct tpl_val v = tr_resolve(op, sc);
			tr_emit(c, op, &v);
			i++;
			break;
		}
		case OP_IF:
		case OP_UNLESS: {
			struct tpl_val v = tr_resolve(op, sc);
			int yes = tr_truthy(&v) == (op->kind == OP_IF);
			if ((yes ? tr_exec(c, t, i + 1, op->els, sc, y) : tr_exec(c, t, op->els, op->end, sc, y)) < 0)
				return -1;
			i = op->end;
			break;
		}
		case OP_EACH:
			if (tr_each(c, t, i, sc, y) < 0)
				return -1;
			i = op->end;
			break;
		case OP_PARTIAL: {
			const struct tpl *p = tpl_find(c->set, op->s, op->n, op->hash);
			if (!p)
				return tpl_err(c->err, c->errlen, t->name, op->line, "partial \"%s\" not found", op->s);
			if (tr_template(c, p, sc, y, t->name, op->line) < 0)
				return -1;
			i++;
			break;
		}
		case OP_YIELD:
			if (y) {
				if (c->depth >= TPL_MAX_DEPTH)
					return tr_deep(c, t->name, op->line);
				c->depth++;
				int rc = tr_exec(c, y->t, 0, y->t->nops, y->sc, y->up);
				c->depth--;
				if (rc < 0)
					return -1;
			}
			i++;
			break;
		}
	}
	return 0;
}

/* Renders template t (wrapped in its layout, if any) in scope sc. from:line
 * names the tag that asked for it, for the depth error. */
static int tr_template(struct tpl_ctx *c, const struct tpl *t, const struct tpl_scope *sc,
                       const struct tpl_yield *y, const char *from, unsigned line)
{
	if (c->depth >= TPL_MAX_DEPTH)
		return tr_deep(c, from, line);
	int rc;
	c->depth++;
	if (t->layout) {
		const struct tpl *l = tpl_find(c->set, t->layout, t->llen, t->lhash);
		struct tpl_yield inner = {t, sc, y};
		if (l)
			rc = tr_template(c, l, sc, &inner, t->name, t->lline);
		else
			rc = tpl_err(c->err, c->errlen, t->name, t->lline, "layout \"%s\" not found", t->layout);
	} else
		rc = tr_exec(c, t, 0, t->nops, sc, y);
	c->depth--;
	return rc;
}

int tpl_render(tpl_set *s, const char *name, json_t *data, buf *out, char *err, size_t errlen)
{
	size_t n = strlen(name);
	const struct tpl *t = tpl_find(s, name, n, tpl_hash(name, n));
	if (!t) {
		if (err && errlen)
			snprintf(err, errlen, "template \"%s\" not found", name);
		return -1;
	}
	struct tpl_ctx c = {
		.set = s, .out = out, .start = out->len, .err = err, .errlen = errlen,
	};
	struct tpl_scope root = {.v = data};
	return tr_template(&c, t, &root, NULL, t->name, 0);
}

int tpl_render_string(const char *src, json_t *data, buf *out, char *err, size_t errlen)
{
	tpl_set *s = tpl_new();
	int rc = tpl_add(s, "string", src, strlen(src), err, errlen);
	if (rc == 0)
		rc = tpl_render(s, "string", data, out, err, errlen);
	tpl_free(s);
	return rc;
}
