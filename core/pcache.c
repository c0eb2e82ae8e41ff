/* pcache.c - a per-worker micro-cache of public pages. */
#include "pcache.h"
#include <string.h>
#include <time.h>

#define PCACHE_SLOTS 16
#define PCACHE_KEY 256

struct pcache_slot {
	char key[PCACHE_KEY];
	double at;               /* monotonic ms when stored; 0 = empty */
	const char *ctype;       /* a string literal of the handler */
	buf body;
};

/* One per worker process (each serves one request at a time): what it holds
 * is a copy of public data that any worker can rebuild, so no other worker or
 * machine ever needs it. */
static struct pcache_slot pcache_slots[PCACHE_SLOTS];

static double pcache_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The cache key of r in out, or 0 when r must not be cached (too long a key). */
static int pcache_key(const req *r, char out[PCACHE_KEY])
{
	int n = snprintf(out, PCACHE_KEY, "%s %s?%s", r->method[0] == 'H' ? "GET" : r->method, r->path, r->raw_query);
	return n > 0 && n < PCACHE_KEY;
}

int pcache_serve(req *r)
{
	char key[PCACHE_KEY];
	if (!r->cf || r->cf->public_cache_ms <= 0 || !pcache_key(r, key))
		return 0;
	double now = pcache_now();
	for (int i = 0; i < PCACHE_SLOTS; i++) {
		struct pcache_slot *s = &pcache_slots[i];
		if (s->at > 0 && now - s->at < r->cf->public_cache_ms && strcmp(s->key, key) == 0) {
			resp_text(r, 200, s->ctype, s->body.p, s->body.len);
			return 1;
		}
	}
	return 0;
}

void pcache_store(req *r)
{
	char key[PCACHE_KEY];
	if (!r->cf || r->cf->public_cache_ms <= 0 || r->status != 200 || !r->ctype || !pcache_key(r, key))
		return;
	/* the same key, else an empty or the oldest slot */
	struct pcache_slot *victim = &pcache_slots[0];
	for (int i = 0; i < PCACHE_SLOTS; i++) {
		struct pcache_slot *s = &pcache_slots[i];
		if (strcmp(s->key, key) == 0) {
			victim = s;
			break;
		}
		if (s->at < victim->at)
			victim = s;
	}
	snprintf(victim->key, sizeof victim->key, "%s", key);
	victim->ctype = r->ctype;
	buf_reset(&victim->body);
	buf_add(&victim->body, r->body_out.p ? r->body_out.p : "", r->body_out.len);
	victim->at = pcache_now();
}
