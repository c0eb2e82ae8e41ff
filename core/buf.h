/* buf.h - growable byte buffer (prefix buf_).
 *
 * Output is rendered into a buf first so status and Content-Length are known
 * before anything is sent. Buffers use malloc and keep their capacity across
 * buf_reset(), so a worker's response buffer is allocated once. The content is
 * always NUL-terminated (p[len] == 0) once anything was added. */
#ifndef PORTAL_BUF_H
#define PORTAL_BUF_H
#include <stddef.h>
#include <stdarg.h>

typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

#define BUF_INIT {NULL, 0, 0}

void buf_add(buf *b, const void *p, size_t n);
void buf_adds(buf *b, const char *s);
void buf_addc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Empty the buffer, keeping its memory. */
void buf_reset(buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void buf_free(buf *b);
/* The content as a C string ("" when empty, never NULL). */
const char *buf_str(const buf *b);

#endif
