/* arena.c - per-request memory arena: a list of chunks, bump allocation. */
#include "arena.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AR_ALIGN 16
#define AR_DEFAULT 16384

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(AR_ALIGN) unsigned char data[];
};

struct arena {
	struct chunk *head;     /* current chunk, newest first */
	size_t chunk;
	size_t footprint;
};

static void *ar_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fputs("portald: out of memory\n", stderr);
		abort();
	}
	return p;
}

static struct chunk *chunk_new(arena *a, size_t need)
{
	size_t size = need > a->chunk ? need : a->chunk;
	struct chunk *c = ar_xmalloc(sizeof *c + size);
	c->size = size;
	c->used = 0;
	c->next = a->head;
	a->head = c;
	a->footprint += sizeof *c + size;
	return c;
}

arena *ar_new(size_t chunk)
{
	arena *a = ar_xmalloc(sizeof *a);
	a->head = NULL;
	a->chunk = chunk ? chunk : AR_DEFAULT;
	a->footprint = 0;
	chunk_new(a, a->chunk);
	return a;
}

void ar_free(arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
	free(a);
}

void ar_reset(arena *a)
{
	/* keep the oldest chunk (the first one allocated), free the rest */
	struct chunk *c = a->head, *keep = NULL;
	while (c) {
		struct chunk *n = c->next;
		if (n == NULL)
			keep = c;
		else
			free(c);
		c = n;
	}
	a->head = keep;
	if (keep) {
		keep->used = 0;
		a->footprint = sizeof *keep + keep->size;
	} else
		a->footprint = 0;
}

void *ar_alloc(arena *a, size_t n)
{
	size_t need = (n + AR_ALIGN - 1) & ~(size_t)(AR_ALIGN - 1);
	if (need < n) {
		fputs("portald: allocation size overflow\n", stderr);
		abort();
	}
	if (need == 0)
		need = AR_ALIGN;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < need) {
		/* big allocations get their own chunk behind the current one, so
		 * the remaining room of the current chunk is not wasted */
		if (c && need > a->chunk / 4) {
			struct chunk *big = ar_xmalloc(sizeof *big + need);
			big->size = need;
			big->used = need;
			big->next = c->next;
			c->next = big;
			a->footprint += sizeof *big + need;
			return big->data;
		}
		c = chunk_new(a, need);
	}
	void *p = c->data + c->used;
	c->used += need;
	return p;
}

void *ar_calloc(arena *a, size_t n)
{
	void *p = ar_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *ar_strndup(arena *a, const char *s, size_t n)
{
	char *p = ar_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *ar_strdup(arena *a, const char *s)
{
	return s ? ar_strndup(a, s, strlen(s)) : NULL;
}

char *ar_memdup(arena *a, const void *p, size_t n)
{
	return ar_strndup(a, p, n);
}

char *ar_vprintf(arena *a, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return ar_strdup(a, "");
	char *p = ar_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *ar_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = ar_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t ar_footprint(const arena *a)
{
	return a->footprint;
}
