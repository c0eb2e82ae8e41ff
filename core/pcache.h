/* pcache.h - a per-worker micro-cache of public pages (prefix pcache_).
 *
 * Pages that are the same for every visitor and change only when staff change
 * something (the public event list, its JSON) are kept for conf
 * public_cache_ms (default 1000 ms) per worker, keyed by path and query. The
 * list may then show "places left" up to that long out of date; registering
 * is always decided in the database, never from a cached page. Nothing is
 * shared between workers or machines, so nothing depends on it. */
#ifndef PORTAL_PCACHE_H
#define PORTAL_PCACHE_H
#include "http.h"

/* If a fresh copy of r's page is cached, make it r's response and return 1. */
int pcache_serve(req *r);
/* Keep r's response (only a 200) for the next requests. */
void pcache_store(req *r);

#endif
