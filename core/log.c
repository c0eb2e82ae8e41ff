/* log.c - logfmt lines on stderr. The level is per process (set once at start). */
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;   /* set once at start-up, read-only after */
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lv)
{
	log_min = lv;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

char *log_quote(char *out, unsigned long n, const char *v)
{
	unsigned long o = 0;
	if (n < 3) {
		if (n)
			out[0] = 0;
		return out;
	}
	out[o++] = '"';
	for (; v && *v && o + 5 < n; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (unsigned long)snprintf(out + o, n - o, "\\x%02x", c);
		} else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = 0;
	return out;
}

/* Write s with control characters as \xNN so the line stays one line. */
static void log_put_safe(char *line, size_t *o, size_t cap, const char *s)
{
	for (; *s && *o + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			*o += (size_t)snprintf(line + *o, cap - *o, "\\x%02x", c);
		else
			line[(*o)++] = (char)c;
	}
}

static size_t log_head(char *line, size_t cap, enum log_level lv)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	char tbuf[32];
	strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
	return (size_t)snprintf(line, cap, "ts=%s.%03ld level=%s pid=%d ", tbuf,
	                        ts.tv_nsec / 1000000, log_names[lv], (int)getpid());
}

void log_msg(enum log_level lv, const char *msg, const char *kv, ...)
{
	if (lv < log_min)
		return;
	char line[4096], q[512], rest[3072];
	size_t o = log_head(line, sizeof line, lv);
	o += (size_t)snprintf(line + o, sizeof line - o, "msg=%s", log_quote(q, sizeof q, msg));
	if (kv) {
		va_list ap;
		va_start(ap, kv);
		vsnprintf(rest, sizeof rest, kv, ap);
		va_end(ap);
		line[o++] = ' ';
		log_put_safe(line, &o, sizeof line, rest);
	}
	if (o > sizeof line - 2)
		o = sizeof line - 2;
	line[o++] = '\n';
	/* one write() per line so lines of concurrent workers do not interleave */
	ssize_t w = write(2, line, o);
	(void)w;
}

void log_request(const char *method, const char *path, int status, unsigned long bytes, double ms)
{
	if (LOG_INFO < log_min)
		return;
	char m[40], p[1200];
	log_msg(LOG_INFO, "request", "method=%s path=%s status=%d bytes=%lu ms=%.2f",
	        log_quote(m, sizeof m, method ? method : "-"), log_quote(p, sizeof p, path ? path : "-"),
	        status, bytes, ms);
}
