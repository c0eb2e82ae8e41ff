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

/* Characters that change how the text around them is shown, or show
 * nothing at all: a name "\u202Eabc" displays as "cba" in a staff list, and
 * "\u5f20\u200b\u4e09" looks exactly like "\u5f20\u4e09" but is another string.
 *   UTF8_BIDI       bidirectional controls: U+061C, U+200E/F, U+202A..E,
 *                   U+2066..9 (never needed in zh-CN input)
 *   UTF8_INVISIBLE  default-ignorable, invisible code points: soft hyphen,
 *                   zero-width space/joiners, word joiner, BOM, variation
 *                   selectors, Hangul fillers, tags and the like
 * utf8_strip_hidden copies valid UTF-8 s[0..n) to dst (room for n bytes)
 * without the kinds in what; returns the new length. dst may be s. */
#define UTF8_BIDI 1u
#define UTF8_INVISIBLE 2u
size_t utf8_strip_hidden(char *dst, const char *s, size_t n, unsigned what);
/* 1 when valid UTF-8 s[0..n) holds a character of the kinds in what. */
int utf8_has_hidden(const char *s, size_t n, unsigned what);

#endif
