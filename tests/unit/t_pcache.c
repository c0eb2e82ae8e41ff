/* t_pcache.c - the per-worker micro-cache of public pages. */
#include "pcache.h"
#include "tap.h"
#include <time.h>
#include <unistd.h>

static conf cf;
static req r;

static const char *get(void *ctx, const char *name)
{
	const char **e = ctx;
	for (; *e; e += 2)
		if (!strcmp(e[0], name))
			return e[1];
	return NULL;
}

static long rd(void *ctx, char *p, size_t n)
{
	(void)ctx, (void)p, (void)n;
	return 0;
}

static void begin(arena *a, const char *uri)
{
	const char *env[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", uri, NULL};
	ar_reset(a);
	req_init(&r, a, &cf, get, env);
	req_read(&r, rd, NULL, get, env);
}

int main(void)
{
	arena *a = ar_new(0);
	conf_defaults(&cf);
	cf.public_cache_ms = 200;

	begin(a, "/events");
	ok(!pcache_serve(&r), "nothing cached at first");
	resp_text(&r, 200, "text/html; charset=utf-8", "list v1", 7);
	pcache_store(&r);

	begin(a, "/events");
	ok(pcache_serve(&r), "the same page is served from the cache");
	is_str(r.body_out.p, "list v1", "with the stored body");
	is_str(r.ctype, "text/html; charset=utf-8", "and its content type");
	is_int(r.status, 200, "as a 200");

	begin(a, "/events?kind=general");
	ok(!pcache_serve(&r), "another query string is another page");

	begin(a, "/events");
	resp_text(&r, 503, "text/plain", "down", 4);
	pcache_store(&r);
	begin(a, "/events");
	ok(pcache_serve(&r) && !strcmp(r.body_out.p, "list v1"), "an error answer is never cached");

	struct timespec ts = {0, 250 * 1000 * 1000};
	nanosleep(&ts, NULL);
	begin(a, "/events");
	ok(!pcache_serve(&r), "past public_cache_ms the page is built again");

	cf.public_cache_ms = 0;
	begin(a, "/events");
	resp_text(&r, 200, "text/plain", "x", 1);
	pcache_store(&r);
	begin(a, "/events");
	ok(!pcache_serve(&r), "public_cache_ms = 0 turns it off");

	cf.public_cache_ms = 1000;
	for (int i = 0; i < 40; i++) {
		char uri[32];
		snprintf(uri, sizeof uri, "/events?p=%d", i);
		begin(a, uri);
		resp_text(&r, 200, "text/plain", uri, strlen(uri));
		pcache_store(&r);
	}
	begin(a, "/events?p=39");
	ok(pcache_serve(&r) && !strcmp(r.body_out.p, "/events?p=39"), "the newest of many pages is kept");
	begin(a, "/events?p=0");
	ok(!pcache_serve(&r), "the oldest was evicted (the cache is bounded)");

	buf_free(&r.headers);
	buf_free(&r.body_out);
	conf_free(&cf);
	ar_free(a);
	return tap_done();
}
