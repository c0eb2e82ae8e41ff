/* valid.h - declared-type validation of input fields (prefix val_).
 *
 * Handlers declare a table of rules; val_check() turns a parsed form into
 * typed values or a list of per-field errors with zh-CN messages, so a handler
 * never sees unvalidated input (kcgi's idea). The same checks are exposed one
 * by one for JSON input and for the Lua plugin host.
 *
 * Every value is trimmed of surrounding ASCII whitespace and U+3000 first; an
 * empty value is absent (an error "required" when the rule is required).
 * For INT, PHONE, DATE, DATETIME, IDCARD and BOOL, full-width forms (U+FF01..
 * U+FF5E, as Chinese input methods type them) are folded to ASCII first. */
#ifndef PORTAL_VALID_H
#define PORTAL_VALID_H
#include <stddef.h>
#include "arena.h"
#include "form.h"

enum val_type {
	VAL_INT,       /* decimal integer within [min, max]; (0,0): any long long */
	VAL_TEXT,      /* single-line UTF-8 text, length in characters within [min, max];
	                * max 0 means 200; no control characters */
	VAL_MULTILINE, /* like VAL_TEXT but newlines and tabs allowed, CRLF and CR become LF;
	                * max 0 means 2000 */
	VAL_PHONE,     /* Chinese mobile number: 11 digits, 1[3-9]x; "+86"/"86" and spaces/dashes stripped */
	VAL_DATE,      /* YYYY-MM-DD, a real calendar date, year 1900..2200 */
	VAL_DATETIME,  /* YYYY-MM-DDTHH:MM[:SS[.frac]] with optional Z or +08:00 offset;
	                * "YYYY-MM-DD HH:MM[:SS]" too; fractions of a second are dropped */
	VAL_ENUM,      /* one of choices */
	VAL_IDCARD,    /* 18-character resident ID (GB 11643) with checksum, birth date checked
	                * (a real date, year >= 1900, not in the future); x becomes X */
	VAL_BOOL       /* "1", "on", "true", "yes" / "0", "off", "false", "no" (any case);
	                * an unchecked box is absent (i = 0); required means it must be true */
};

typedef struct val_rule {
	const char *name;          /* field name */
	enum val_type type;
	int required;
	long long min, max;        /* int range, or text length in characters (0,0 = defaults) */
	const char *const *choices;/* VAL_ENUM: NULL-terminated */
	const char *label;         /* zh-CN label used in messages, e.g. "手机号" */
} val_rule;

typedef struct val_value {
	const char *name;
	int present;               /* 0 when optional and absent/empty */
	const char *s;             /* normalised text, "" when absent (phone: 11 digits; datetime:
	                            * "YYYY-MM-DD HH:MM:SS" as given, offset not applied; int:
	                            * canonical decimal; bool: "1"/"0"; enum: the choice) */
	long long i;               /* VAL_INT, VAL_BOOL, VAL_ENUM (index) */
	int tz_minutes;            /* VAL_DATETIME offset if given, else 0; has_tz tells */
	int has_tz;
} val_value;

typedef struct val_error {
	const char *field;
	const char *code;          /* "required", "too_long", "invalid_phone", ... */
	const char *message;       /* zh-CN, names the field by its label */
} val_error;

typedef struct val_result {
	val_value *values;         /* one per rule, same order */
	size_t nvalues;
	val_error *errors;
	size_t nerrors;
} val_result;

/* Check form f against rules[0..n). Returns 0 when every rule holds, else the
 * number of errors (all of them, not only the first; at most one per rule).
 * A rule that failed leaves its value absent. Everything lives in arena a. */
int val_check(arena *a, const val_rule *rules, size_t n, const form *f, val_result *out);
/* Check one value s (may be NULL) against one rule, filling *v. Returns 0 when
 * valid, 1 when not, with *err filled. */
int val_one(arena *a, const val_rule *r, const char *s, val_value *v, val_error *err);
/* Value of a named field after val_check, or NULL. */
const val_value *val_get(const val_result *res, const char *name);

/* The single checks, usable on their own (no trimming or full-width folding;
 * s may be NULL, output pointers too). Each returns 1 if valid. val_phone
 * writes the 11 digits, val_datetime the "YYYY-MM-DD HH:MM:SS" form and the
 * offset; val_idcard accepts a lower-case x. */
int val_phone(const char *s, char out[12]);
/* A stored (11-digit) mobile number as "138****5678"; anything else as
 * "****", so a malformed value never shows more than it should. */
void val_mask_phone(const char *phone, char out[12]);
int val_idcard(const char *s);
int val_date(const char *s, int *y, int *m, int *d);
int val_datetime(const char *s, char out[20], int *tz_minutes, int *has_tz);

#endif
