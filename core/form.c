/* form.c - urlencoded and multipart/form-data bodies, cookies.
 *
 * Every parser makes one pass over its input: separators are found with
 * memchr/memmem, each field costs one arena allocation (the field and its
 * strings together), and limits are checked before anything is copied. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif
#include "form.h"
#include "utf8.h"
#include <string.h>

/* Messages for residents and stable codes, indexed by enum form_err. */
static const struct {
	const char *code;
	const char *msg;
} form_msgs[] = {
	[FORM_OK] = {"ok", "提交成功。"},
	[FORM_EPCT] = {"bad_percent_encoding", "提交的内容编码有误，请返回重试。"},
	[FORM_EUTF8] = {"bad_utf8", "提交的内容含有无法识别的字符，请检查后重试。"},
	[FORM_ETOOMANY] = {"too_many_fields", "提交的项目太多，请返回重试。"},
	[FORM_ETOOLONG] = {"too_long", "填写的内容太长，请删减后重试。"},
	[FORM_EBOUNDARY] = {"bad_boundary", "上传的表单格式有误，请返回重试。"},
	[FORM_EMALFORMED] = {"malformed", "提交的内容格式有误，请返回重试。"},
};
static const char form_msg_unknown[] = "请求有误，请返回重试。";

#define NMSGS (sizeof form_msgs / sizeof form_msgs[0])

const char *form_strerror(int err)
{
	return err >= 0 && (size_t)err < NMSGS ? form_msgs[err].msg : form_msg_unknown;
}

const char *form_errcode(int err)
{
	return err >= 0 && (size_t)err < NMSGS ? form_msgs[err].code : "unknown";
}

/* ---- small helpers ---- */

static void limits_resolve(const form_limits *lim, form_limits *out)
{
	out->max_fields = lim && lim->max_fields ? lim->max_fields : FORM_DEFAULT_MAX_FIELDS;
	out->max_name = lim && lim->max_name ? lim->max_name : FORM_DEFAULT_MAX_NAME;
	out->max_value = lim && lim->max_value ? lim->max_value : FORM_DEFAULT_MAX_VALUE;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode s[0..n) into dst (room for n bytes). Returns the decoded length, or
 * (size_t)-1 on a malformed escape. */
static size_t pct_decode_into(char *dst, const char *s, size_t n, int plus_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int h, l;
			if (n - i < 3 || (h = hexval((unsigned char)s[i + 1])) < 0 ||
			    (l = hexval((unsigned char)s[i + 2])) < 0)
				return (size_t)-1;
			dst[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+' && plus_space)
			dst[o++] = ' ';
		else
			dst[o++] = (char)c;
	}
	return o;
}

char *form_pct_decode(arena *a, const char *s, size_t n, int plus_space, size_t *outn)
{
	char *d = ar_alloc(a, n + 1);
	size_t len = pct_decode_into(d, s, n, plus_space);
	if (len == (size_t)-1)
		return NULL;
	d[len] = 0;
	if (outn)
		*outn = len;
	return d;
}

static void form_push(form *f, form_field *fld)
{
	fld->next = NULL;
	if (f->tail)
		f->tail->next = fld;
	else
		f->head = fld;
	f->tail = fld;
	f->count++;
}

/* One allocation: the field followed by room for its strings. */
static form_field *field_alloc(arena *a, size_t strings)
{
	form_field *fld = ar_alloc(a, sizeof *fld + strings);
	fld->name = fld->value = fld->filename = fld->ctype = NULL;
	fld->vlen = 0;
	fld->next = NULL;
	return fld;
}

void form_add(arena *a, form *f, const char *name, const char *value, size_t vlen)
{
	size_t nlen = strlen(name);
	form_field *fld = field_alloc(a, nlen + 1 + vlen + 1);
	char *np = (char *)(fld + 1), *vp = np + nlen + 1;
	memcpy(np, name, nlen + 1);
	if (vlen)
		memcpy(vp, value, vlen);
	vp[vlen] = 0;
	fld->name = np;
	fld->value = vp;
	fld->vlen = vlen;
	form_push(f, fld);
}

const form_field *form_find(const form *f, const char *name)
{
	if (!f || !name)
		return NULL;
	for (const form_field *x = f->head; x; x = x->next)
		if (strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

const char *form_get(const form *f, const char *name)
{
	const form_field *x = form_find(f, name);
	return x ? x->value : NULL;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 7230 tchar */
static int is_tchar(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	if (c >= '0' && c <= '9')
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static void trim_ows(const char **s, const char **e)
{
	while (*s < *e && is_ows(**s))
		(*s)++;
	while (*e > *s && is_ows((*e)[-1]))
		(*e)--;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case (locale-free) */
static int ieq(const char *s, size_t n, const char *lit)
{
	size_t i = 0;
	for (; i < n && lit[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return i == n && lit[i] == 0;
}

/* ---- application/x-www-form-urlencoded ---- */

static int urlenc_pair(arena *a, const char *p, size_t len, const form_limits *lim, form *out)
{
	const char *eq = memchr(p, '=', len);
	size_t nraw = eq ? (size_t)(eq - p) : len;
	const char *vs = eq ? eq + 1 : p + len;
	size_t vraw = (size_t)(p + len - vs);

	if (nraw == 0)
		return FORM_OK;
	if (out->count >= lim->max_fields)
		return FORM_ETOOMANY;
	/* a valid escape shrinks 3 bytes to 1 at most */
	if (nraw / 3 > lim->max_name || vraw / 3 > lim->max_value)
		return FORM_ETOOLONG;

	form_field *fld = field_alloc(a, nraw + 1 + vraw + 1);
	char *np = (char *)(fld + 1);
	size_t nlen = pct_decode_into(np, p, nraw, 1);
	if (nlen == (size_t)-1)
		return FORM_EPCT;
	np[nlen] = 0;
	char *vp = np + nlen + 1;
	size_t vlen = pct_decode_into(vp, vs, vraw, 1);
	if (vlen == (size_t)-1)
		return FORM_EPCT;
	vp[vlen] = 0;
	if (nlen > lim->max_name || vlen > lim->max_value)
		return FORM_ETOOLONG;
	if (!utf8_valid(np, nlen) || !utf8_valid(vp, vlen))
		return FORM_EUTF8;
	fld->name = np;
	fld->value = vp;
	fld->vlen = vlen;
	form_push(out, fld);
	return FORM_OK;
}

int form_parse_urlencoded(arena *a, const char *s, size_t n, const form_limits *lim, form *out)
{
	form_limits L;
	limits_resolve(lim, &L);
	size_t i = 0;
	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t e = amp ? (size_t)(amp - s) : n;
		if (e > i) {
			int rc = urlenc_pair(a, s + i, e - i, &L, out);
			if (rc != FORM_OK)
				return rc;
		}
		i = e + 1;
	}
	return FORM_OK;
}

/* ---- cookies (RFC 6265 section 5.4 as browsers send them) ---- */

static int cookie_pair(arena *a, const char *p, const char *e, const form_limits *lim, form *out)
{
	trim_ows(&p, &e);
	const char *eq = memchr(p, '=', (size_t)(e - p));
	if (!eq)
		return FORM_OK;
	const char *ns = p, *ne = eq, *vs = eq + 1, *ve = e;
	trim_ows(&ns, &ne);
	trim_ows(&vs, &ve);
	if (!is_token(ns, (size_t)(ne - ns)))
		return FORM_OK;
	if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
		vs++;
		ve--;
	}
	size_t nlen = (size_t)(ne - ns), vlen = (size_t)(ve - vs);
	if (!utf8_valid(vs, vlen) || !utf8_printable(vs, vlen, 0) || memchr(vs, '"', vlen))
		return FORM_OK;
	if (out->count >= lim->max_fields)
		return FORM_ETOOMANY;
	if (nlen > lim->max_name || vlen > lim->max_value)
		return FORM_ETOOLONG;
	form_field *fld = field_alloc(a, nlen + 1 + vlen + 1);
	char *np = (char *)(fld + 1), *vp = np + nlen + 1;
	memcpy(np, ns, nlen);
	np[nlen] = 0;
	memcpy(vp, vs, vlen);
	vp[vlen] = 0;
	fld->name = np;
	fld->value = vp;
	fld->vlen = vlen;
	form_push(out, fld);
	return FORM_OK;
}

int form_parse_cookies(arena *a, const char *hdr, size_t n, const form_limits *lim, form *out)
{
	form_limits L;
	limits_resolve(lim, &L);
	size_t i = 0;
	while (i < n) {
		const char *semi = memchr(hdr + i, ';', n - i);
		size_t e = semi ? (size_t)(semi - hdr) : n;
		int rc = cookie_pair(a, hdr + i, hdr + e, &L, out);
		if (rc != FORM_OK)
			return rc;
		i = e + 1;
	}
	return FORM_OK;
}

/* ---- multipart/form-data (RFC 7578, RFC 2046 section 5.1) ---- */

/* RFC 2046 bchars (space allowed, but not as the last one) */
static int is_bchar(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	if (c >= '0' && c <= '9')
		return 1;
	return c && strchr("'()+_,-./:=? ", c) != NULL;
}

typedef struct param {
	const char *name, *val;
	size_t nlen, vlen;
} param;

/* Reads the next '; name=value' (value a token or a quoted string, taken
 * raw) of a header parameter list at *pp. Returns 1 with *pm filled, 0 at
 * the end of the list, -1 on a syntax error. */
static int param_next(const char **pp, const char *end, param *pm)
{
	const char *p = *pp;
	while (p < end && is_ows(*p))
		p++;
	if (p == end)
		return 0;
	if (*p != ';')
		return -1;
	p++;
	while (p < end && is_ows(*p))
		p++;
	if (p == end)
		return 0;               /* a trailing ';' is harmless */
	pm->name = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	pm->nlen = (size_t)(p - pm->name);
	if (pm->nlen == 0 || p == end || *p != '=')
		return -1;
	p++;
	if (p < end && *p == '"') {
		const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
		if (!q)
			return -1;
		pm->val = p + 1;
		pm->vlen = (size_t)(q - p - 1);
		p = q + 1;
	} else {
		pm->val = p;
		while (p < end && *p != ';' && !is_ows(*p))
			p++;
		pm->vlen = (size_t)(p - pm->val);
	}
	*pp = p;
	return 1;
}

/* The boundary of a multipart/form-data Content-Type, copied to bnd (room
 * for FORM_MAX_BOUNDARY bytes). */
static int mp_boundary(const char *ctype, char *bnd, size_t *blen)
{
	if (!ctype)
		return FORM_EBOUNDARY;
	const char *p = ctype, *end = ctype + strlen(ctype);
	while (p < end && is_ows(*p))
		p++;
	const char *ts = p;
	while (p < end && *p != ';' && !is_ows(*p))
		p++;
	if (!ieq(ts, (size_t)(p - ts), "multipart/form-data"))
		return FORM_EMALFORMED;
	param pm;
	while (param_next(&p, end, &pm) > 0) {
		if (!ieq(pm.name, pm.nlen, "boundary"))
			continue;
		if (pm.vlen == 0 || pm.vlen > FORM_MAX_BOUNDARY || pm.val[pm.vlen - 1] == ' ')
			return FORM_EBOUNDARY;
		for (size_t i = 0; i < pm.vlen; i++)
			if (!is_bchar((unsigned char)pm.val[i]))
				return FORM_EBOUNDARY;
		memcpy(bnd, pm.val, pm.vlen);
		*blen = pm.vlen;
		return FORM_OK;
	}
	return FORM_EBOUNDARY;
}

/* What the header section of one part said, as spans into the body. */
typedef struct mp_part {
	const char *name, *fname, *ctype;
	size_t nraw, fraw, clen;
	int has_name, has_fname;
} mp_part;

static int mp_disposition(const char *p, const char *end, mp_part *h)
{
	const char *ts = p;
	while (p < end && *p != ';' && !is_ows(*p))
		p++;
	if (!ieq(ts, (size_t)(p - ts), "form-data"))
		return FORM_EMALFORMED;
	param pm;
	int r;
	while ((r = param_next(&p, end, &pm)) > 0) {
		if (ieq(pm.name, pm.nlen, "name") && !h->has_name) {
			h->name = pm.val;
			h->nraw = pm.vlen;
			h->has_name = 1;
		} else if (ieq(pm.name, pm.nlen, "filename") && !h->has_fname) {
			h->fname = pm.val;
			h->fraw = pm.vlen;
			h->has_fname = 1;
		}
		/* filename* (RFC 5987) must not be used in forms (RFC 7578 4.2) */
	}
	return r < 0 || !h->has_name ? FORM_EMALFORMED : FORM_OK;
}

/* Parses the header lines of a part starting at p, up to and including the
 * empty line; *content gets the first byte after it. */
static int mp_headers(const char *p, const char *end, mp_part *h, const char **content)
{
	const char *limit = (size_t)(end - p) > FORM_MAX_PART_HEADERS ? p + FORM_MAX_PART_HEADERS : end;
	int have_cd = 0;

	memset(h, 0, sizeof *h);
	for (;;) {
		const char *nl = p < limit ? memchr(p, '\n', (size_t)(limit - p)) : NULL;
		if (!nl || nl == p || nl[-1] != '\r')
			return FORM_EMALFORMED;     /* truncated, too big, or a bare LF */
		const char *le = nl - 1;
		if (le == p) {
			*content = nl + 1;
			break;
		}
		if (is_ows(*p))
			return FORM_EMALFORMED;     /* obsolete line folding */
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (!colon || !is_token(p, (size_t)(colon - p)))
			return FORM_EMALFORMED;
		size_t hn = (size_t)(colon - p);
		const char *vs = colon + 1, *ve = le;
		trim_ows(&vs, &ve);
		if (ieq(p, hn, "content-disposition")) {
			if (have_cd)
				return FORM_EMALFORMED;
			int rc = mp_disposition(vs, ve, h);
			if (rc != FORM_OK)
				return rc;
			have_cd = 1;
		} else if (ieq(p, hn, "content-type")) {
			h->ctype = vs;
			h->clen = (size_t)(ve - vs);
		}
		p = nl + 1;
	}
	return have_cd ? FORM_OK : FORM_EMALFORMED;
}

/* Copies a Content-Disposition name or filename, decoding the escapes that
 * browsers use inside the quotes (HTML: %0A, %0D, %22). Returns the length. */
static size_t cd_unescape(char *dst, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && n - i >= 3) {
			char c1 = s[i + 1], c2 = (char)(s[i + 2] | 0x20);
			char c = c1 == '0' && c2 == 'a' ? '\n' : c1 == '0' && c2 == 'd' ? '\r' :
				 c1 == '2' && s[i + 2] == '2' ? '"' : 0;
			if (c) {
				dst[o++] = c;
				i += 2;
				continue;
			}
		}
		dst[o++] = s[i];
	}
	return o;
}

/* Appends the part described by h with content c[0..clen). */
static int mp_add(arena *a, const mp_part *h, const char *c, size_t clen,
                  const form_limits *lim, form *out)
{
	if (h->nraw == 0)
		return FORM_EMALFORMED;
	if (clen > lim->max_value)
		return FORM_ETOOLONG;
	if (h->ctype && (!utf8_valid(h->ctype, h->clen) || !utf8_printable(h->ctype, h->clen, 0)))
		return FORM_EMALFORMED;
	if (!h->has_fname && !utf8_valid(c, clen))
		return FORM_EUTF8;

	size_t room = h->nraw + 1 + clen + 1;
	if (h->has_fname)
		room += h->fraw + 1;
	if (h->ctype)
		room += h->clen + 1;
	form_field *fld = field_alloc(a, room);
	char *p = (char *)(fld + 1);

	size_t nlen = cd_unescape(p, h->name, h->nraw);
	if (nlen > lim->max_name)
		return FORM_ETOOLONG;
	if (!utf8_valid(p, nlen))
		return FORM_EUTF8;
	p[nlen] = 0;
	fld->name = p;
	p += nlen + 1;

	if (h->has_fname) {
		size_t flen = cd_unescape(p, h->fname, h->fraw);
		if (!utf8_valid(p, flen))
			return FORM_EUTF8;
		/* keep the base name only (old browsers send a full path) */
		size_t base = 0;
		for (size_t i = 0; i < flen; i++) {
			if (p[i] == '/' || p[i] == '\\')
				base = i + 1;
			else if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F)
				p[i] = '_';
		}
		memmove(p, p + base, flen - base);
		p[flen - base] = 0;
		fld->filename = p;
		p += flen - base + 1;
	}
	if (h->ctype) {
		memcpy(p, h->ctype, h->clen);
		p[h->clen] = 0;
		fld->ctype = p;
		p += h->clen + 1;
	}
	memcpy(p, c, clen);
	p[clen] = 0;
	fld->value = p;
	fld->vlen = clen;
	form_push(out, fld);
	return FORM_OK;
}

/* What follows a boundary at q: 1 the close delimiter, 0 an open delimiter
 * (*next past its line end), -1 not a delimiter at all. */
static int mp_after(const char *q, const char *end, const char **next)
{
	if (end - q >= 2 && q[0] == '-' && q[1] == '-')
		return 1;
	while (q < end && is_ows(*q))
		q++;
	if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
		*next = q + 2;
		return 0;
	}
	return -1;
}

/* Finds the next delimiter "\r\n--boundary" (nd, nlen) at or after p. Sets
 * *at to its CRLF and returns mp_after()'s kind, or -1 when there is none. */
static int mp_find(const char *p, const char *end, const char *nd, size_t nlen,
                   const char **at, const char **next)
{
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), nd, nlen);
		if (!q)
			return -1;
		int kind = mp_after(q + nlen, end, next);
		if (kind >= 0) {
			*at = q;
			return kind;
		}
		p = q + 1;
	}
	return -1;
}

int form_parse_multipart(arena *a, const char *ctype, const char *body, size_t n,
                         const form_limits *lim, form *out)
{
	form_limits L;
	char nd[4 + FORM_MAX_BOUNDARY];
	size_t blen;

	limits_resolve(lim, &L);
	int rc = mp_boundary(ctype, nd + 4, &blen);
	if (rc != FORM_OK)
		return rc;
	memcpy(nd, "\r\n--", 4);
	size_t nlen = 4 + blen;
	if (n == 0)
		return FORM_EBOUNDARY;
	const char *end = body + n, *next = NULL, *at;

	/* the first delimiter may open the body without a CRLF before it */
	int kind = -1;
	if (n >= nlen - 2 && memcmp(body, nd + 2, nlen - 2) == 0)
		kind = mp_after(body + nlen - 2, end, &next);
	if (kind < 0 && (kind = mp_find(body, end, nd, nlen, &at, &next)) < 0)
		return FORM_EBOUNDARY;

	while (kind == 0) {
		mp_part h;
		const char *content;
		if (out->count >= L.max_fields)
			return FORM_ETOOMANY;
		rc = mp_headers(next, end, &h, &content);
		if (rc != FORM_OK)
			return rc;
		kind = mp_find(content, end, nd, nlen, &at, &next);
		if (kind < 0)
			return FORM_EMALFORMED;     /* no delimiter after this part */
		rc = mp_add(a, &h, content, (size_t)(at - content), &L, out);
		if (rc != FORM_OK)
			return rc;
	}
	return FORM_OK;
}
