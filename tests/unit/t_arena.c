/* t_arena.c - the per-request arena: one behaviour per test. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "tap.h"
#include "arena.h"

#define ALIGN_ANY alignof(max_align_t)

static int aligned(const void *p)
{
	return ((uintptr_t)p % ALIGN_ANY) == 0;
}

static void test_new_and_footprint(void)
{
	arena *a = ar_new(0);
	ok(a != NULL, "ar_new(0) gives an arena");
	ok(ar_footprint(a) >= 16384, "default chunk is at least 16 KiB (%zu)", ar_footprint(a));
	ar_free(a);
	a = ar_new(1000);
	size_t f0 = ar_footprint(a);
	ok(f0 >= 1000 && f0 < 2000, "footprint of a 1000-byte arena is its chunk (%zu)", f0);
	ar_alloc(a, 10);
	is_int(ar_footprint(a), f0, "a small allocation fits the first chunk");
	for (int i = 0; i < 100; i++)
		ar_alloc(a, 100);
	ok(ar_footprint(a) >= f0 + 100 * 100 - 1000, "footprint grows with what was allocated (%zu)", ar_footprint(a));
	ar_free(a);
	ar_free(NULL);
	ok(1, "ar_free(NULL) is harmless");
}

static void test_alignment(void)
{
	arena *a = ar_new(512);
	int all = 1;
	for (size_t n = 0; n < 300; n++) {
		void *p = ar_alloc(a, n % 37);
		all &= p != NULL && aligned(p);
	}
	ok(all, "every allocation is aligned for any type");
	ok(aligned(ar_alloc(a, 100000)), "a big allocation is aligned too");
	ok(aligned(ar_strdup(a, "x")), "strings are aligned");
	void *z1 = ar_alloc(a, 0), *z2 = ar_alloc(a, 0);
	ok(z1 && z2 && z1 != z2, "ar_alloc(0) returns distinct valid pointers");
	double *d = ar_alloc(a, 3 * sizeof *d);
	d[0] = 1.5;
	d[2] = 2.5;
	ok(d[0] + d[2] == 4.0, "doubles stored in an allocation");
	ar_free(a);
}

static void test_no_overlap(void)
{
	arena *a = ar_new(1024);
	unsigned char *p[500];
	size_t len[500];
	for (int i = 0; i < 500; i++) {
		len[i] = (size_t)(i * 7 % 300) + 1;
		p[i] = ar_alloc(a, len[i]);
		memset(p[i], i & 0xFF, len[i]);
	}
	int intact = 1;
	for (int i = 0; i < 500; i++)
		for (size_t j = 0; j < len[i]; j++)
			intact &= p[i][j] == (unsigned char)(i & 0xFF);
	ok(intact, "500 allocations across chunks do not overlap");
	ar_free(a);
}

static void test_big(void)
{
	arena *a = ar_new(1024);
	char *small1 = ar_strdup(a, "before");
	size_t f0 = ar_footprint(a);
	size_t big = 4u << 20;
	unsigned char *b = ar_alloc(a, big);
	memset(b, 0xAB, big);
	ok(b[0] == 0xAB && b[big - 1] == 0xAB, "a 4 MiB allocation from a 1 KiB arena is usable");
	ok(ar_footprint(a) >= f0 + big, "footprint counts the big allocation (%zu)", ar_footprint(a));
	size_t f1 = ar_footprint(a);
	char *small2 = ar_strdup(a, "after");
	is_int(ar_footprint(a), f1, "a small allocation after a big one reuses the current chunk");
	is_str(small1, "before", "data before the big allocation intact");
	is_str(small2, "after", "data after the big allocation intact");
	ok(small2 < (char *)b || small2 >= (char *)b + big, "small allocation is outside the big block");
	ar_free(a);
}

static void test_calloc_and_copies(void)
{
	arena *a = ar_new(0);
	unsigned char *z = ar_calloc(a, 1000);
	int zero = 1;
	for (int i = 0; i < 1000; i++)
		zero &= z[i] == 0;
	ok(zero, "ar_calloc zeroes the memory");
	const char *src = "hello";
	char *s = ar_strdup(a, src);
	is_str(s, "hello", "ar_strdup copies");
	ok(s != src, "ar_strdup makes a new copy");
	ok(ar_strdup(a, NULL) == NULL, "ar_strdup(NULL) is NULL");
	char *n = ar_strndup(a, "abcdef", 3);
	is_str(n, "abc", "ar_strndup copies n bytes and terminates");
	char *m = ar_memdup(a, "a\0b", 3);
	ok(m[0] == 'a' && m[1] == 0 && m[2] == 'b' && m[3] == 0, "ar_memdup keeps NUL bytes and terminates");
	char *e = ar_strndup(a, "", 0);
	is_str(e, "", "ar_strndup of nothing is an empty string");
	ar_free(a);
}

static void test_printf(void)
{
	arena *a = ar_new(256);
	is_str(ar_printf(a, "%d-%s-%05.1f", 42, "张三", 3.14159), "42-张三-003.1", "ar_printf formats");
	is_str(ar_printf(a, "%s", ""), "", "ar_printf of an empty string");
	char *longs = ar_printf(a, "%5000s|", "x");
	ok(longs && strlen(longs) == 5001 && longs[4999] == 'x' && longs[5000] == '|',
	   "ar_printf output longer than a chunk");
	is_str(ar_printf(a, "%zu", (size_t)123456789), "123456789", "ar_printf %%zu");
	ar_free(a);
}

static void test_reset(void)
{
	arena *a = ar_new(4096);
	size_t f0 = ar_footprint(a);
	char *first = ar_alloc(a, 16);
	for (int i = 0; i < 1000; i++)
		ar_alloc(a, 200);
	ar_alloc(a, 1 << 20);
	ok(ar_footprint(a) > f0 + (1 << 20), "footprint grew before reset");
	ar_reset(a);
	is_int(ar_footprint(a), f0, "reset gives back all but the first chunk");
	char *again = ar_alloc(a, 16);
	ok(again == first, "after reset the first chunk is reused from its start");
	strcpy(again, "reused");
	is_str(again, "reused", "memory after reset is usable");
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 100; i++)
			ar_alloc(a, 300);
		ar_reset(a);
	}
	is_int(ar_footprint(a), f0, "footprint stays flat across 50 request-like rounds");
	ar_free(a);
}

int main(void)
{
	test_new_and_footprint();
	test_alignment();
	test_no_overlap();
	test_big();
	test_calloc_and_copies();
	test_printf();
	test_reset();
	return tap_done();
}
