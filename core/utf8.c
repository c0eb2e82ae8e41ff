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

/* The hidden characters (utf8.h), as ranges of code points. Sources: the
 * Unicode bidirectional controls (UAX #9 section 2) and the
 * Default_Ignorable_Code_Point property (DerivedCoreProperties.txt) less
 * the bidi ones, which are listed with their own kind. */
static const struct {
	uint32_t lo, hi;
	unsigned kind;
} utf8_hidden[] = {
	{0x00AD, 0x00AD, UTF8_INVISIBLE},   /* soft hyphen */
	{0x034F, 0x034F, UTF8_INVISIBLE},   /* combining grapheme joiner */
	{0x061C, 0x061C, UTF8_BIDI},        /* arabic letter mark */
	{0x115F, 0x1160, UTF8_INVISIBLE},   /* hangul choseong/jungseong fillers */
	{0x17B4, 0x17B5, UTF8_INVISIBLE},   /* khmer inherent vowels */
	{0x180B, 0x180F, UTF8_INVISIBLE},   /* mongolian variation selectors, vowel separator */
	{0x200B, 0x200D, UTF8_INVISIBLE},   /* zero-width space, non-joiner, joiner */
	{0x200E, 0x200F, UTF8_BIDI},        /* left-to-right and right-to-left marks */
	{0x202A, 0x202E, UTF8_BIDI},        /* embeddings, pop, overrides */
	{0x2060, 0x2065, UTF8_INVISIBLE},   /* word joiner, invisible operators */
	{0x2066, 0x2069, UTF8_BIDI},        /* isolates */
	{0x206A, 0x206F, UTF8_INVISIBLE},   /* deprecated format characters */
	{0x3164, 0x3164, UTF8_INVISIBLE},   /* hangul filler */
	{0xFE00, 0xFE0F, UTF8_INVISIBLE},   /* variation selectors */
	{0xFEFF, 0xFEFF, UTF8_INVISIBLE},   /* zero-width no-break space (BOM) */
	{0xFFA0, 0xFFA0, UTF8_INVISIBLE},   /* halfwidth hangul filler */
	{0xFFF0, 0xFFF8, UTF8_INVISIBLE},   /* unassigned specials */
	{0x1BCA0, 0x1BCA3, UTF8_INVISIBLE}, /* shorthand format controls */
	{0x1D173, 0x1D17A, UTF8_INVISIBLE}, /* musical symbol format controls */
	{0xE0000, 0xE0FFF, UTF8_INVISIBLE}, /* tags, variation selectors supplement */
};

/* The kind of hidden character cp is, or 0. */
static unsigned hidden_kind(uint32_t cp)
{
	if (cp < 0xAD)
		return 0;
	for (size_t i = 0; i < sizeof utf8_hidden / sizeof utf8_hidden[0]; i++) {
		if (cp < utf8_hidden[i].lo)
			return 0;       /* the table is sorted */
		if (cp <= utf8_hidden[i].hi)
			return utf8_hidden[i].kind;
	}
	return 0;
}

/* Code point of the valid sequence of len bytes at p. */
static uint32_t decode(const unsigned char *p, size_t len)
{
	if (len == 2)
		return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
	if (len == 3)
		return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
	return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
	       (p[3] & 0x3F);
}

/* Walks valid UTF-8 s[0..n): copies what stays to dst (when not NULL) and
 * returns the kept length; *found gets 1 when something was hidden. */
static size_t hidden_walk(char *dst, const char *s, size_t n, unsigned what, int *found)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	*found = 0;
	while (i < n) {
		size_t len = p[i] < 0x80 ? 1 : seq_len(p + i, n - i);
		if (len == 0)
			len = 1;        /* not valid UTF-8: kept as is, the caller validates */
		if (len > 1 && (hidden_kind(decode(p + i, len)) & what)) {
			*found = 1;
		} else {
			if (dst && dst + o != s + i)
				memmove(dst + o, s + i, len);
			o += len;
		}
		i += len;
	}
	return o;
}

size_t utf8_strip_hidden(char *dst, const char *s, size_t n, unsigned what)
{
	int found;
	return hidden_walk(dst, s, n, what, &found);
}

int utf8_has_hidden(const char *s, size_t n, unsigned what)
{
	int found;
	hidden_walk(NULL, s, n, what, &found);
	return found;
}
