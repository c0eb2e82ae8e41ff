/* ev_keys.h - plugins' registration keys (prefix evk_).
 *
 * A plugin's uniqueness rule ("one registration per couple per round") held
 * by the database: the hook registration.keys returns, for a registration
 * about to be made, a list { { key = "...", message = "..." }, ... }; the
 * core stores SHA-256(key) in registration_keys (UNIQUE(plugin_id, key_hash),
 * migration 0005) in the registering transaction, so of two registrations
 * with one key, however close together, exactly one commits. The other is
 * refused with the plugin's message. Keys are deleted when the registration
 * is cancelled (or its event is), when it is anonymised, and with it. */
#ifndef PORTAL_EV_KEYS_H
#define PORTAL_EV_KEYS_H
#include <jansson.h>
#include "arena.h"
#include "db.h"
#include "http.h"

#define EVK_KEY_MAX 500           /* bytes of one key */
#define EVK_MESSAGE_MAX 200       /* bytes of one message */
#define EVK_PER_PLUGIN 20         /* keys one plugin may return for one registration */

typedef struct evk_key {
	const char *plugin;
	unsigned char hash[32];
	const char *message;
} evk_key;

typedef struct evk_set {
	evk_key *k;               /* sorted by plugin and hash (one lock order), no repeats */
	size_t n;
} evk_set;

/* Run registration.keys with payload (consumed) and collect the keys into
 * out (arena r->a). 0, or -1 when a hook raised or returned something that
 * is not a list of {key, message} (logged with the plugin's id): the caller
 * refuses the registration (fail closed). */
int evk_collect(req *r, json_t *payload, evk_set *out);
/* Store the keys of registration reg_id (inside the registering
 * transaction). DB_OK; DB_EDUP when a key is taken, *message = the plugin's
 * message for it; another db_status on failure. */
int evk_store(db *d, arena *a, const evk_set *keys, long long reg_id, const char **message);
/* Free the keys of registration reg_id, or (reg_id 0) of every registration
 * of event_id. DB_OK or a db_status. */
int evk_release(db *d, arena *a, long long reg_id, long long event_id);

#endif
