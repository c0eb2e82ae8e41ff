/* evcache.c - per-worker cache of published events for registering (see evcache.h). */
#include "evcache.h"
#include "db.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVC_ENTRIES 64           /* direct-mapped by id: the events open for registration */

struct evc_entry {
	double at;               /* monotonic ms when read; 0 = empty */
	evc_event e;             /* strings owned by the entry (malloc) */
};

/* One per worker process (each serves one request at a time). It holds a copy
 * of database rows that any worker rebuilds in one query, checked against
 * events.rev in the registering transaction, so no other worker or machine
 * ever needs it. */
static struct evc_entry evc_table[EVC_ENTRIES];

static double evc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static struct evc_entry *evc_slot(long long id)
{
	return &evc_table[(unsigned long long)id % EVC_ENTRIES];
}

static void evc_clear(struct evc_entry *s)
{
	free((char *)s->e.kind);
	free((char *)s->e.status);
	free((char *)s->e.title);
	free((char *)s->e.location);
	free((char *)s->e.when_zh);
	memset(s, 0, sizeof *s);
}

void evc_forget(long long id)
{
	struct evc_entry *s = evc_slot(id);
	if (s->at > 0 && s->e.id == id)
		evc_clear(s);
}

/* A copy of e whose strings live in arena a (so a later refill of the entry
 * cannot pull them from under the request). */
static void evc_copy_out(arena *a, const evc_event *e, evc_event *out)
{
	*out = *e;
	out->kind = ar_strdup(a, e->kind);
	out->status = ar_strdup(a, e->status);
	out->title = ar_strdup(a, e->title);
	out->location = ar_strdup(a, e->location);
	out->when_zh = ar_strdup(a, e->when_zh);
}

static char *evc_dup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();          /* out of memory in a worker: let the master respawn it */
	return p;
}

int evc_get(req *r, long long id, int fresh, evc_event *out)
{
	struct evc_entry *s = evc_slot(id);
	int ttl = r->cf ? r->cf->event_cache_ms : 0;
	double now = evc_now();
	if (!fresh && ttl > 0 && s->at > 0 && s->e.id == id && now - s->at < ttl) {
		evc_copy_out(r->a, &s->e, out);
		return 1;
	}
	db_res *res = NULL;
	if (db_q(r->db, r->a, &res,
	         "SELECT kind, status, rev, waitlist, title, location, DATE_FORMAT(starts_at, '%m月%d日 %H:%i') AS when_zh,"
	         " (SELECT GROUP_CONCAT(id ORDER BY id) FROM event_slots WHERE event_id = e.id) AS slot_ids"
	         " FROM events e WHERE id = ?",
	         DB_INT(id)) != DB_OK)
		return -1;
	if (res->nrows == 0) {
		evc_forget(id);
		return 0;
	}
	evc_event e = {.id = id,
	               .rev = db_cell_int(res, 0, "rev"),
	               .kind = db_cell(res, 0, "kind"),
	               .status = db_cell(res, 0, "status"),
	               .title = db_cell(res, 0, "title"),
	               .location = db_cell(res, 0, "location"),
	               .when_zh = db_cell(res, 0, "when_zh"),
	               .waitlist = (int)db_cell_int(res, 0, "waitlist")};
	const char *ids = db_cell(res, 0, "slot_ids");
	for (const char *p = ids; p && *p && e.nslots < EVC_MAX_SLOTS;) {
		char *end;
		e.slot_ids[e.nslots++] = strtoll(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
	}
	evc_copy_out(r->a, &e, out);
	if (ttl <= 0 || strcmp(e.status, "published") != 0) {
		evc_forget(id);
		return 1;
	}
	evc_clear(s);
	s->e = e;
	s->e.kind = evc_dup(e.kind);
	s->e.status = evc_dup(e.status);
	s->e.title = evc_dup(e.title);
	s->e.location = evc_dup(e.location);
	s->e.when_zh = evc_dup(e.when_zh);
	s->at = now;
	return 1;
}

int evc_has_slot(const evc_event *e, long long slot_id)
{
	for (int i = 0; i < e->nslots; i++)
		if (e->slot_ids[i] == slot_id)
			return 1;
	return 0;
}
