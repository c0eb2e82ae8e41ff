/* ratelimit.h - sliding-window counters in MariaDB (prefix rl_).
 *
 * A limit must hold across every worker and machine, so the counters live in
 * the rate_limits table (migration 0001): one row per bucket and time slot,
 * bumped with INSERT .. ON DUPLICATE KEY UPDATE hits = hits + 1. A window is
 * cut into 15 slots (at least one second each); a count adds up every slot
 * that overlaps the last window_seconds, so it may include up to one slot
 * more than the window, never less: a limit is never under-counted at a slot
 * boundary. Windows are 1 s to 1 day; rows older than two days are removed
 * now and then by rl_hit itself.
 *
 * Buckets are caller-chosen names up to 190 characters, prefixed by purpose:
 * "login:user:NAME", "login:addr:IP". Honouring conf rate_limits = off is the
 * caller's choice (login limits ignore it). */
#ifndef PORTAL_RATELIMIT_H
#define PORTAL_RATELIMIT_H
#include "arena.h"
#include "db.h"

/* Count one hit in bucket and return whether the bucket is now over limit:
 * 1 when the hits within the window (this one included) exceed limit, 0 when
 * not, or a negative db_status on a database error (DB_EFAIL also for a bad
 * bucket or window). *count (may be NULL) gets the hits within the window. */
int rl_hit(db *d, arena *a, const char *bucket, int limit, int window_seconds, int *count);
/* The hits within the window, without counting one. 0 or a db_status. */
int rl_count(db *d, arena *a, const char *bucket, int window_seconds, int *count);
/* Forget every hit of bucket (e.g. an account's failures after a good login).
 * 0 or a db_status. */
int rl_clear(db *d, arena *a, const char *bucket);

#endif
