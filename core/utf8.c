/* utf8.c - strict UTF-8 validation, code-point counting, control-character checks. */
#include "utf8.h"
#include <stdint.h>
#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* 1 if the 8 bytes at p are ASCII and none is NUL (the common case, checked
 * a word at a time). */
static int word_plain_ascii(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof w);
	return ((w | ((w - ONES) & ~w)) & HIGHS) == 0;
}

/* Length of the valid sequence that starts with lead byte c at p (with
 * left bytes available), or 0 when it is invalid. Ranges per Unicode
 * Table 3-7, which excludes overlongs, surrogates and > U+10FFFF. */
static size_t seq_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t len;

	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;      /* overlong */
		else if (c == 0xED)
			hi = 0x9F;      /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;      /* overlong */
		else if (c == 0xF4)
			hi = 0x8F;      /* > U+10FFFF */
	} else
		return 0;               /* continuation, C0/C1 overlong lead, F5..FF */
	if (left < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		if (n - i >= 8 && word_plain_ascii(p + i)) {
			i += 8;
			continue;
		}
		if (p[i] < 0x80) {
			if (p[i] == 0)
				return 0;
			i++;
			continue;
		}
		size_t len = seq_len(p + i, n - i);
		if (len == 0)
			return 0;
		i += len;
	}
	return 1;
}

size_t utf8_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		count += (p[i] & 0xC0) != 0x80;
	return count;
}

int utf8_printable(const char *s, size_t n, int allow_newline)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		if (c < 0x20) {
			if (allow_newline && (c == '\t' || c == '\r' || c == '\n'))
				continue;
			return 0;
		}
		if (c == 0x7F)
			return 0;
		/* C1 controls U+0080..U+009F are C2 80..C2 9F */
		if (c == 0xC2 && i + 1 < n && p[i + 1] <= 0x9F && p[i + 1] >= 0x80)
			return 0;
		/* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR break single lines */
		if (!allow_newline && c == 0xE2 && i + 2 < n && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
			return 0;
	}
	return 1;
}
