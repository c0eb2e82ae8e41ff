/* arena.h - per-request memory arena (prefix ar_).
 *
 * Everything a request allocates comes from one arena and is released at once
 * when the request ends (nginx's pool idea). Allocation never fails: on
 * out-of-memory the process aborts, since a worker cannot serve without memory
 * and the master respawns it. */
#ifndef PORTAL_ARENA_H
#define PORTAL_ARENA_H
#include <stddef.h>
#include <stdarg.h>

typedef struct arena arena;

/* Create an arena whose chunks are at least chunk bytes (0: a default). */
arena *ar_new(size_t chunk);
/* Free the arena and everything allocated from it. NULL is allowed. */
void ar_free(arena *a);
/* Release every allocation but keep the first chunk for reuse. */
void ar_reset(arena *a);
/* n bytes aligned for any type, uninitialised. n == 0 returns a valid pointer. */
void *ar_alloc(arena *a, size_t n);
/* n bytes set to zero. */
void *ar_calloc(arena *a, size_t n);
/* Copies, always NUL-terminated. ar_strdup(a, NULL) returns NULL. */
char *ar_strdup(arena *a, const char *s);
char *ar_strndup(arena *a, const char *s, size_t n);
char *ar_memdup(arena *a, const void *p, size_t n);
/* printf into the arena. */
char *ar_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *ar_vprintf(arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Bytes currently held from the system (for metrics and tests). */
size_t ar_footprint(const arena *a);

#endif
