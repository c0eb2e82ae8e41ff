/* evcache.h - what registering needs to know of a published event, kept per
 * worker for a moment (prefix evc_).
 *
 * A registration reads the event's kind (its form), slots and confirmation
 * details before its transaction. Each worker keeps these of published events
 * for conf event_cache_ms, with the event's rev (events.rev, bumped by every
 * staff change). The transaction's seat-taking UPDATE carries that rev: an
 * event changed meanwhile fails it, the entry is dropped and the registration
 * is read and validated again. So the cache only saves a round trip; nothing
 * is decided on what it holds. Drafts, closed and cancelled events are never
 * kept (their answers come from the database each time). */
#ifndef PORTAL_EVCACHE_H
#define PORTAL_EVCACHE_H
#include "http.h"

#define EVC_MAX_SLOTS 50         /* = EV_SLOTS_MAX */

typedef struct evc_event {
	long long id;
	long long rev;
	const char *kind, *status;
	const char *title, *location, *when_zh;  /* for the confirmation message */
	int waitlist;
	int nslots;
	long long slot_ids[EVC_MAX_SLOTS];
} evc_event;

/* The event id as of now or at most event_cache_ms ago, copied into r's
 * arena: 1 found, 0 no such event, -1 database error. fresh: skip the cache
 * (and refresh it). */
int evc_get(req *r, long long id, int fresh, evc_event *out);
/* Forget what this worker keeps of event id (its rev moved on). */
void evc_forget(long long id);
/* 1 when slot_id is one of e's slots. */
int evc_has_slot(const evc_event *e, long long slot_id);

#endif
