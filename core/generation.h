/* generation.h - counters in the database that every node's master polls
 * (prefix gen_).
 *
 * A reload asked for on one node (the admin page's button, enabling or
 * disabling a plugin) must reach the workers of every node, not only the
 * master that served the request. The request bumps the row "plugins" of the
 * table generations (migration 0007); each master reads it every
 * reload_check_ms and reloads its workers when it changed, exactly as for
 * SIGHUP. The master keeps one database connection for this, with short
 * timeouts, and closes it before every fork so no worker inherits it. */
#ifndef PORTAL_GENERATION_H
#define PORTAL_GENERATION_H
#include "arena.h"
#include "conf.h"
#include "db.h"

#define GEN_PLUGINS "plugins"

/* Bump generation name (by: who asked, for the record). A db_status. */
int gen_bump(db *d, arena *a, const char *name, const char *by);

typedef struct gen_watch gen_watch;
/* A watcher of generation name for the master (no connection yet). */
gen_watch *gen_watch_new(const conf *cf, const char *name);
/* Read the generation: 1 when it changed since the last successful read, 0
 * when not (or on the first read, which sets the baseline, or when the
 * database cannot be asked: the next call tries again). */
int gen_watch_check(gen_watch *w);
/* Close the connection (before fork; the next check reconnects). */
void gen_watch_disconnect(gen_watch *w);
void gen_watch_free(gen_watch *w);

#endif
