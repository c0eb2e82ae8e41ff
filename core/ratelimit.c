/* ratelimit.c - sliding-window counters in MariaDB (contract in ratelimit.h).
 *
 * Slots are computed by the server (UNIX_TIMESTAMP() DIV slot * slot) so all
 * workers and machines agree on them whatever their own clocks say. */
#include "ratelimit.h"
#include <sodium.h>
#include <string.h>

#define RL_SLOTS 15                 /* slots per window */
#define RL_MAX_WINDOW 86400         /* seconds */
#define RL_MAX_BUCKET 190           /* characters: the column's width */
#define RL_KEEP_HOURS 48            /* rows older than this are removed */
#define RL_CLEAN_ONE_IN 64          /* one hit in this many also cleans up */

static int rl_slot(int window_seconds)
{
	int s = window_seconds / RL_SLOTS;
	return s < 1 ? 1 : s;
}

static int rl_args_ok(const char *bucket, int window_seconds)
{
	size_t n = bucket ? strlen(bucket) : 0;
	return n > 0 && n <= RL_MAX_BUCKET && window_seconds >= 1 && window_seconds <= RL_MAX_WINDOW;
}

int rl_count(db *d, arena *a, const char *bucket, int window_seconds, int *count)
{
	if (count)
		*count = 0;
	if (!rl_args_ok(bucket, window_seconds))
		return DB_EFAIL;
	/* a slot [s, s + slot) overlaps the window (now - window, now] when
	 * s > now - window - slot: the oldest, partly covered slot counts whole */
	db_res *res = NULL;
	int rc = db_q(d, a, &res,
	              "SELECT COALESCE(SUM(hits), 0) AS n FROM rate_limits"
	              " WHERE bucket = ? AND window_start > FROM_UNIXTIME(UNIX_TIMESTAMP() - ?)",
	              DB_TEXT(bucket), DB_INT(window_seconds + rl_slot(window_seconds)));
	if (rc != DB_OK)
		return rc;
	if (count)
		*count = (int)db_cell_int(res, 0, "n");
	return DB_OK;
}

int rl_hit(db *d, arena *a, const char *bucket, int limit, int window_seconds, int *count)
{
	if (count)
		*count = 0;
	if (!rl_args_ok(bucket, window_seconds))
		return DB_EFAIL;
	int slot = rl_slot(window_seconds);
	int rc = db_q(d, a, NULL,
	              "INSERT INTO rate_limits (bucket, window_start, hits)"
	              " VALUES (?, FROM_UNIXTIME(UNIX_TIMESTAMP() DIV ? * ?), 1)"
	              " ON DUPLICATE KEY UPDATE hits = hits + 1",
	              DB_TEXT(bucket), DB_INT(slot), DB_INT(slot));
	if (rc != DB_OK)
		return rc;
	if (randombytes_uniform(RL_CLEAN_ONE_IN) == 0)
		db_q(d, a, NULL, "DELETE FROM rate_limits WHERE window_start < NOW() - INTERVAL ? HOUR LIMIT 1000",
		     DB_INT(RL_KEEP_HOURS));
	int n = 0;
	rc = rl_count(d, a, bucket, window_seconds, &n);
	if (rc != DB_OK)
		return rc;
	if (count)
		*count = n;
	return n > limit ? 1 : 0;
}

int rl_clear(db *d, arena *a, const char *bucket)
{
	if (!bucket || !*bucket || strlen(bucket) > RL_MAX_BUCKET)
		return DB_EFAIL;
	return db_q(d, a, NULL, "DELETE FROM rate_limits WHERE bucket = ?", DB_TEXT(bucket));
}
