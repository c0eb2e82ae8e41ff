/* plugin_text.h - portal.text, portal.csv and uploaded files for plugins (prefix ptx_).
 *
 *   portal.text.decode(bytes, "gbk"|"gb18030"|"utf-8") -> UTF-8 text, or nil, "invalid", offset
 *   portal.text.is_utf8(s)                            -> boolean
 *   portal.csv.parse(text) -> rows (each a list of strings), lines (the line each row starts on),
 *                             or nil, zh-CN message, line
 *   portal.csv.encode(rows) -> text: UTF-8 BOM, CRLF, cells as the core's CSV export writes them
 *   req.files[name] = { filename, content_type, size, data }   (routes with roles only)
 *
 * Decoding uses glibc's iconv. The CSV reader is RFC 4180 (quotes, doubled
 * quotes, CR LF or LF, line ends inside quoted cells) and strict: a quote in
 * an unquoted cell, text after a closing quote or an unclosed quote is an
 * error with its line. */
#ifndef PORTAL_PLUGIN_TEXT_H
#define PORTAL_PLUGIN_TEXT_H
#include <lua.h>
#include <stddef.h>
#include "buf.h"
#include "form.h"

/* Largest text decode and csv.parse accept (bytes). */
#define PTX_MAX_TEXT (16u << 20)

/* Decode n bytes of in from encoding enc ("gbk", "gb18030" or "utf-8", any
 * case) to UTF-8, appended to out. 0 on success; -1 when the input is not
 * valid in that encoding (or holds a NUL byte), *bad = the offset (0-based)
 * of the first byte that is not; -2 for an unknown encoding. */
int ptx_decode(const char *in, size_t n, const char *enc, buf *out, size_t *bad);

/* What the CSV reader calls: a cell of the current row, then the end of a
 * row (line = the line the row started on, 1-based). Return 0 to go on. */
typedef struct ptx_csv_sink {
	int (*cell)(void *ctx, const char *s, size_t n);
	int (*row)(void *ctx, size_t line);
	void *ctx;
} ptx_csv_sink;

/* Read CSV text s[0..n) (a leading UTF-8 BOM is skipped; lines with nothing
 * on them are skipped). scratch: at least n bytes, where quoted cells are
 * unescaped (a cell handed to the sink is valid until its next call). 0 on
 * success; 1 when malformed, with *line (1-based) and a zh-CN *msg (without
 * the line); -1 when a sink function returned non-zero. */
int ptx_csv_read(const char *s, size_t n, char *scratch, const ptx_csv_sink *sink, size_t *line, const char **msg);

/* Add portal.text and portal.csv to the table at the top of the stack. */
void ptx_install(lua_State *L);
/* Push req.files: a table name -> {filename, content_type, size, data} of
 * the multipart file parts of post (the first part of a name wins). */
void ptx_push_files(lua_State *L, const form *post);

#endif
