/* html.h - the one escaping module (prefix html_).
 *
 * All HTML, attribute and URL escaping in the portal goes through these
 * functions; the template engine uses them and so will the Lua host. */
#ifndef PORTAL_HTML_H
#define PORTAL_HTML_H
#include <stddef.h>
#include "buf.h"

/* Text and quoted-attribute context: & < > " ' ` = escaped as entities. */
void html_text(buf *b, const char *s, size_t n);
/* A URL query component: everything but unreserved [A-Za-z0-9-._~] is
 * percent-encoded (UTF-8 bytes one by one). Safe inside a quoted attribute. */
void html_urlpart(buf *b, const char *s, size_t n);
/* A whole URL for href/src: allowed when relative ("/", "./", "?", "#" or no
 * scheme) or the scheme is http, https, mailto or tel (case-insensitive, after
 * stripping leading spaces/controls); anything else becomes "#". The result is
 * then attribute-escaped. The scheme is read as browsers read it: leading and
 * trailing spaces/controls are dropped and tabs/newlines anywhere ignored, so
 * " java\tscript:" is caught; the URL is written without them. A colon before
 * the first '/', '?' or '#' that does not end an allowed scheme gives "#". */
void html_url(buf *b, const char *s, size_t n);
/* Inside <script type="application/json">: < > & and U+2028/2029 as \uXXXX.
 * s must be JSON text (those characters can only occur inside its strings). */
void html_json_script(buf *b, const char *s, size_t n);
/* CSV cell (RFC 4180): quoted when it holds , " CR or LF or starts or ends
 * with a space or tab, quotes doubled; a cell starting with = + - @ TAB or CR
 * gets a leading ' so spreadsheets do not run it as a formula. Separators and
 * line ends between cells are the caller's. */
void html_csv_cell(buf *b, const char *s, size_t n);

#endif
