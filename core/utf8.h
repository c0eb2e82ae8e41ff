/* utf8.h - UTF-8 validation and length (prefix utf8_).
 * Strict: rejects overlongs, surrogates, code points past U+10FFFF, and NUL. */
#ifndef PORTAL_UTF8_H
#define PORTAL_UTF8_H
#include <stddef.h>

/* 1 if s[0..n) is valid UTF-8 without NUL bytes, else 0. */
int utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8 s[0..n). */
size_t utf8_len(const char *s, size_t n);
/* 1 if s holds no control characters (C0, DEL, C1) other than \t \r \n (for
 * single-line text pass allow_newline = 0, which also rejects \r \n \t and
 * U+2028/U+2029). Checks bytes only: validate with utf8_valid() first. */
int utf8_printable(const char *s, size_t n, int allow_newline);

#endif
