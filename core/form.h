/* form.h - query strings, urlencoded and multipart bodies, cookies (prefix form_).
 *
 * One module, fuzzed (tests/fuzz/fuzz_form.c). Parsers copy everything they
 * return into the caller's arena. Text names and values must be valid UTF-8
 * without NUL; a multipart part with a filename may hold any bytes. */
#ifndef PORTAL_FORM_H
#define PORTAL_FORM_H
#include <stddef.h>
#include "arena.h"

typedef struct form_field {
	const char *name;
	const char *value;       /* NUL-terminated; vlen excludes the NUL */
	size_t vlen;
	const char *filename;    /* multipart file parts only, else NULL */
	const char *ctype;       /* multipart part Content-Type or NULL */
	struct form_field *next;
} form_field;

typedef struct form {
	form_field *head, *tail;
	size_t count;
} form;

/* Limits of one parse. A NULL limits pointer, or a member left 0, means the
 * default below. max_fields counts the fields already in the form too, so a
 * query string and a body parsed into one form share the limit. */
typedef struct form_limits {
	size_t max_fields;       /* fields in one form */
	size_t max_name;         /* bytes of one name (after decoding) */
	size_t max_value;        /* bytes of one value (after decoding; files too) */
} form_limits;

#define FORM_DEFAULT_MAX_FIELDS 1000
#define FORM_DEFAULT_MAX_NAME 256
#define FORM_DEFAULT_MAX_VALUE (1024 * 1024)
/* Longest multipart boundary (RFC 2046) and largest header section of one part. */
#define FORM_MAX_BOUNDARY 70
#define FORM_MAX_PART_HEADERS 8192

enum form_err {
	FORM_OK = 0,      /* the values below are stable (messages are indexed by them) */
	FORM_EPCT,        /* malformed percent-encoding */
	FORM_EUTF8,       /* invalid UTF-8 or NUL in a text name/value */
	FORM_ETOOMANY,    /* more than max_fields */
	FORM_ETOOLONG,    /* a name or value past its limit */
	FORM_EBOUNDARY,   /* multipart boundary missing, empty, too long, or not found */
	FORM_EMALFORMED   /* any other multipart syntax error (a part's headers, a
	                   * truncated body, a type other than multipart/form-data) */
};

#define FORM_INIT {NULL, NULL, 0}

/* All parsers return FORM_OK or the first error met, and stop there: fields
 * parsed before the error stay in out (a caller may still use the cookies
 * read before a bad one, but must reject a form). Fields are appended to out,
 * in input order. */

/* Parse "a=1&b=2" (+ as space). Empty pairs and pairs with an empty name are
 * skipped; "a" alone is a field with an empty value. */
int form_parse_urlencoded(arena *a, const char *s, size_t n, const form_limits *lim, form *out);
/* Parse a multipart/form-data body; ctype is the full Content-Type header
 * (the boundary comes from it, at most 70 bytes per RFC 2046; FORM_EMALFORMED
 * when the type is not multipart/form-data). Every part needs a
 * Content-Disposition "form-data" with a name; name and filename are unquoted
 * as browsers send them (%22, %0D, %0A decoded); the filename (valid UTF-8,
 * else FORM_EUTF8) loses any directory part and has control characters
 * replaced by '_'. Preamble and epilogue are ignored; a body that ends before
 * the close delimiter is FORM_EMALFORMED. Linear in n. */
int form_parse_multipart(arena *a, const char *ctype, const char *body, size_t n,
                         const form_limits *lim, form *out);
/* Parse a Cookie header "a=1; b=2". Values are not percent-decoded; a quoted
 * value has its quotes removed. Malformed pairs (no '=', a name that is not
 * an RFC 7230 token, a value with control characters or invalid UTF-8) are
 * skipped, not fatal; the limits are enforced as for forms. */
int form_parse_cookies(arena *a, const char *hdr, size_t n, const form_limits *lim, form *out);
/* Append a text field, copying name and value[0..vlen) into the arena. */
void form_add(arena *a, form *f, const char *name, const char *value, size_t vlen);
/* First value of name, or NULL. */
const char *form_get(const form *f, const char *name);
/* First field called name, or NULL. */
const form_field *form_find(const form *f, const char *name);
/* A message for a resident (zh-CN) for an error code. */
const char *form_strerror(int err);
/* A stable machine code ("bad_percent_encoding", ...) for an error code. */
const char *form_errcode(int err);
/* Decode percent-encoding of s[0..n) into the arena (plus_space: '+' -> ' ').
 * Returns the NUL-terminated result, or NULL when a '%' is not followed by
 * two hex digits; *outn (may be NULL) gets the decoded length. The result may
 * hold any bytes, NUL included: check it with utf8_valid() where needed. */
char *form_pct_decode(arena *a, const char *s, size_t n, int plus_space, size_t *outn);

#endif
