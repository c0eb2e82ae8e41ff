/* plugin_text.c - portal.text, portal.csv and req.files (see plugin_text.h).
 *
 * Why not libcsv: it hides where a record starts (blank lines and CR/LF pairs
 * are folded away, an unclosed quote is only noticed at csv_fini), so it
 * cannot say which line of a file is malformed, which is what a member of
 * staff fixing a spreadsheet needs; the reader below is small, strict and
 * counts lines itself. The writer is the core's own (html_csv_cell). */
#include "plugin_text.h"
#include "html.h"
#include "utf8.h"
#include <errno.h>
#include <iconv.h>
#include <lauxlib.h>
#include <string.h>
#include <strings.h>

/* ---- decoding ---- */

int ptx_decode(const char *in, size_t n, const char *enc, buf *out, size_t *bad)
{
	const char *from = !strcasecmp(enc, "gbk")                                    ? "GBK"
	                   : !strcasecmp(enc, "gb18030")                              ? "GB18030"
	                   : !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8") ? "UTF-8"
	                                                                              : NULL;
	if (!from)
		return -2;
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		return -2;
	/* a NUL is never part of a multi-byte character in these encodings: text
	 * ends there, and the portal's text never holds one */
	const char *nul = memchr(in, 0, n);
	size_t left = nul ? (size_t)(nul - in) : n;
	char *ip = (char *)in;
	int rc = 0;
	while (left > 0) {
		char tmp[8192], *op = tmp;
		size_t room = sizeof tmp;
		size_t r = iconv(cd, &ip, &left, &op, &room);
		buf_add(out, tmp, (size_t)(op - tmp));
		if (r == (size_t)-1 && errno != E2BIG) {   /* EILSEQ, or EINVAL: cut off at the end */
			*bad = (size_t)(ip - in);
			rc = -1;
			break;
		}
	}
	iconv_close(cd);
	if (rc == 0 && nul) {
		*bad = (size_t)(nul - in);
		rc = -1;
	}
	return rc;
}

/* ---- CSV reader ---- */

#define PTX_E_UNCLOSED "引号没有闭合（单元格以引号开头，但直到文件结尾都没有结束的引号）。"
#define PTX_E_AFTER "结束的引号后面只能是逗号或换行。"
#define PTX_E_BARE "没有用引号括起的单元格里不能有引号（\"）。"

static int ptx_eol(const char *s, size_t n, size_t i)
{
	return i >= n || s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] == '\n'));
}

int ptx_csv_read(const char *s, size_t n, char *scratch, const ptx_csv_sink *sink, size_t *line, const char **msg)
{
	size_t i = 0, ln = 1;
	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n) {
		if (s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			i += s[i] == '\r' ? 2 : 1;       /* a line with nothing on it */
			ln++;
			continue;
		}
		size_t row_line = ln;
		for (;;) {
			const char *cell;
			size_t len;
			if (i < n && s[i] == '"') {
				size_t qline = ln;
				char *o = scratch;
				for (i++;; i++) {
					if (i >= n) {
						*line = qline;
						*msg = PTX_E_UNCLOSED;
						return 1;
					}
					if (s[i] == '"') {
						if (i + 1 < n && s[i + 1] == '"') {
							*o++ = '"';
							i++;
							continue;
						}
						i++;
						break;
					}
					if (s[i] == '\n')
						ln++;
					*o++ = s[i];
				}
				if (i < n && s[i] != ',' && !ptx_eol(s, n, i)) {
					*line = ln;
					*msg = PTX_E_AFTER;
					return 1;
				}
				cell = scratch;
				len = (size_t)(o - scratch);
			} else {
				size_t st = i;
				for (; i < n && s[i] != ',' && s[i] != '\n'; i++)
					if (s[i] == '"') {
						*line = ln;
						*msg = PTX_E_BARE;
						return 1;
					}
				len = i - st;
				if (len && s[st + len - 1] == '\r' && (i == n || s[i] == '\n'))
					len--;                   /* CR LF */
				cell = s + st;
			}
			if (sink->cell(sink->ctx, cell, len) != 0)
				return -1;
			if (i < n && s[i] == ',') {
				i++;
				continue;
			}
			if (i < n && s[i] == '\r')
				i++;
			if (i < n && s[i] == '\n') {
				i++;
				ln++;
			}
			if (sink->row(sink->ctx, row_line) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* ---- Lua: portal.text ---- */

#define PTX_MAX_OUT (32u << 20)

static int ptx_buf_gc(lua_State *L)
{
	buf_free(lua_touserdata(L, 1));
	return 0;
}

/* A buf in a userdata on the stack, freed by the garbage collector when a
 * Lua error unwinds past the function using it. */
static buf *ptx_newbuf(lua_State *L)
{
	buf *b = lua_newuserdatauv(L, sizeof *b, 0);
	*b = (buf)BUF_INIT;
	if (luaL_newmetatable(L, "portal.ptx_buf")) {
		lua_pushcfunction(L, ptx_buf_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return b;
}

static const char *ptx_text_arg(lua_State *L, int idx, size_t *n, const char *fn)
{
	const char *s = luaL_checklstring(L, idx, n);
	if (*n > PTX_MAX_TEXT)
		luaL_error(L, "%s: text over 16 MiB", fn);
	return s;
}

/* decode(bytes, encoding) -> text | nil, "invalid", offset */
static int ptx_decode_l(lua_State *L)
{
	size_t n, bad = 0;
	const char *s = ptx_text_arg(L, 1, &n, "portal.text.decode");
	const char *enc = luaL_checkstring(L, 2);
	buf *out = ptx_newbuf(L);
	int rc = ptx_decode(s, n, enc, out, &bad);
	if (rc == -2)
		return luaL_error(L, "portal.text.decode: unknown encoding \"%s\" (gbk, gb18030 or utf-8)", enc);
	if (rc != 0) {
		buf_free(out);
		lua_pushnil(L);
		lua_pushliteral(L, "invalid");
		lua_pushinteger(L, (lua_Integer)bad);
		return 3;
	}
	lua_pushlstring(L, out->p ? out->p : "", out->len);
	buf_free(out);
	return 1;
}

static int ptx_is_utf8_l(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	lua_pushboolean(L, utf8_valid(s, n));
	return 1;
}

/* ---- Lua: portal.csv ---- */

/* Stack during parse: 1 text, 2 scratch, 3 rows, 4 lines, 5 the row being read. */
struct ptx_lua_rows {
	lua_State *L;
	lua_Integer nrows, ncells;
};

static int ptx_lua_cell(void *ctx, const char *s, size_t n)
{
	struct ptx_lua_rows *c = ctx;
	if (c->ncells == 0) {
		lua_settop(c->L, 4);
		lua_newtable(c->L);
	}
	lua_pushlstring(c->L, s, n);
	lua_rawseti(c->L, 5, ++c->ncells);
	return 0;
}

static int ptx_lua_row(void *ctx, size_t line)
{
	struct ptx_lua_rows *c = ctx;
	lua_pushinteger(c->L, (lua_Integer)line);
	lua_rawseti(c->L, 4, c->nrows + 1);
	lua_rawseti(c->L, 3, ++c->nrows);
	c->ncells = 0;
	return 0;
}

/* parse(text) -> rows, lines | nil, message, line */
static int ptx_parse_l(lua_State *L)
{
	size_t n;
	const char *s = ptx_text_arg(L, 1, &n, "portal.csv.parse");
	lua_settop(L, 1);
	/* text only: a line that is not UTF-8 (a GBK file not decoded first) is named */
	size_t ln = 1;
	for (const char *p = s, *end = s + n; p < end; ln++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!utf8_valid(p, len)) {
			lua_pushnil(L);
			lua_pushfstring(L, "第 %d 行不是有效的 UTF-8 文本（GBK 等编码的文件请先用 portal.text.decode 转换）。", (int)ln);
			lua_pushinteger(L, (lua_Integer)ln);
			return 3;
		}
		p += len + 1;
	}
	char *scratch = lua_newuserdatauv(L, n ? n : 1, 0);
	lua_newtable(L);
	lua_newtable(L);
	struct ptx_lua_rows c = {L, 0, 0};
	ptx_csv_sink sink = {ptx_lua_cell, ptx_lua_row, &c};
	const char *msg = NULL;
	size_t line = 0;
	if (ptx_csv_read(s, n, scratch, &sink, &line, &msg) != 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "第 %d 行：%s", (int)line, msg);
		lua_pushinteger(L, (lua_Integer)line);
		return 3;
	}
	lua_settop(L, 4);
	return 2;
}

/* encode(rows) -> text with BOM and CRLF; cells are strings or numbers.
 * Rows may be host tables (req.json): lengths and items are read through
 * their metamethods, which may raise, so the text is built in a buffer that
 * the garbage collector frees; it is capped at PTX_MAX_OUT. */
static int ptx_encode_l(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	buf *out = ptx_newbuf(L);
	buf_adds(out, "\xEF\xBB\xBF");
	lua_Integer nrows = luaL_len(L, 1);
	for (lua_Integer i = 1; i <= nrows; i++) {
		if (lua_geti(L, 1, i) != LUA_TTABLE)
			return luaL_error(L, "portal.csv.encode: row %d must be a list of cells", (int)i);
		lua_Integer ncells = luaL_len(L, -1);
		for (lua_Integer j = 1; j <= ncells; j++) {
			int t = lua_geti(L, -1, j);
			if (t != LUA_TSTRING && t != LUA_TNUMBER)
				return luaL_error(L, "portal.csv.encode: row %d, cell %d: a string or a number (got a %s)", (int)i,
				                  (int)j, lua_typename(L, t));
			size_t len;
			const char *v = lua_tolstring(L, -1, &len);
			if (j > 1)
				buf_addc(out, ',');
			html_csv_cell(out, v, len);
			lua_pop(L, 1);
			if (out->len > PTX_MAX_OUT)
				return luaL_error(L, "portal.csv.encode: the text would be over 32 MiB");
		}
		lua_pop(L, 1);
		buf_adds(out, "\r\n");
	}
	lua_pushlstring(L, out->p, out->len);
	buf_free(out);
	return 1;
}

void ptx_install(lua_State *L)
{
	static const luaL_Reg textf[] = {{"decode", ptx_decode_l}, {"is_utf8", ptx_is_utf8_l}, {NULL, NULL}};
	static const luaL_Reg csvf[] = {{"parse", ptx_parse_l}, {"encode", ptx_encode_l}, {NULL, NULL}};
	lua_newtable(L);
	luaL_setfuncs(L, textf, 0);
	lua_setfield(L, -2, "text");
	lua_newtable(L);
	luaL_setfuncs(L, csvf, 0);
	lua_setfield(L, -2, "csv");
}

/* ---- uploads ---- */

void ptx_push_files(lua_State *L, const form *post)
{
	lua_newtable(L);
	for (const form_field *f = post->head; f; f = f->next) {
		if (!f->filename)
			continue;
		if (lua_getfield(L, -1, f->name) != LUA_TNIL) {
			lua_pop(L, 1);             /* the first file of a name wins */
			continue;
		}
		lua_pop(L, 1);
		lua_createtable(L, 0, 4);
		lua_pushstring(L, f->filename);
		lua_setfield(L, -2, "filename");
		lua_pushstring(L, f->ctype ? f->ctype : "application/octet-stream");
		lua_setfield(L, -2, "content_type");
		lua_pushinteger(L, (lua_Integer)f->vlen);
		lua_setfield(L, -2, "size");
		lua_pushlstring(L, f->value, f->vlen);
		lua_setfield(L, -2, "data");
		lua_setfield(L, -2, f->name);
	}
	lua_setfield(L, -2, "files");
}
