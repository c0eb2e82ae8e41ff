/* ev_keys.c - plugins' registration keys (see ev_keys.h). */
#include "ev_keys.h"
#include "log.h"
#include "plugin.h"
#include "utf8.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int evk_cmp(const void *a, const void *b)
{
	const evk_key *x = a, *y = b;
	int c = strcmp(x->plugin, y->plugin);
	return c ? c : memcmp(x->hash, y->hash, sizeof x->hash);
}

/* Add the keys one plugin returned (a JSON array of {key, message}); -1 with
 * *why when malformed. */
static int evk_add(arena *a, const char *pid, json_t *list, evk_key *k, size_t *n, const char **why)
{
	if (json_is_object(list) && json_object_size(list) == 0)
		return 0;                 /* an empty Lua table comes as {} */
	if (!json_is_array(list)) {
		*why = "expected a list of { key = \"...\", message = \"...\" }";
		return -1;
	}
	if (json_array_size(list) > EVK_PER_PLUGIN) {
		*why = "more than 20 keys for one registration";
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		size_t kl = key ? strlen(key) : 0, ml = msg ? strlen(msg) : 0;
		if (!kl || kl > EVK_KEY_MAX || !ml || ml > EVK_MESSAGE_MAX || !utf8_valid(msg, ml)) {
			*why = "each entry needs key (1 to 500 bytes) and message (1 to 200 bytes of text)";
			return -1;
		}
		evk_key *x = &k[(*n)++];
		x->plugin = ar_strdup(a, pid);
		x->message = ar_strdup(a, msg);
		crypto_hash_sha256(x->hash, (const unsigned char *)key, kl);
	}
	return 0;
}

int evk_collect(req *r, json_t *payload, evk_set *out)
{
	out->k = NULL;
	out->n = 0;
	json_t *results = NULL;
	int rc = r->plugins ? plug_hook(r->plugins, r, "registration.keys", payload, &results) : 0;
	json_decref(payload);
	size_t cap = 0, i;
	json_t *res;
	json_array_foreach(results, i, res) cap += EVK_PER_PLUGIN;
	out->k = ar_alloc(r->a, (cap ? cap : 1) * sizeof *out->k);
	json_array_foreach(results, i, res) {
		const char *pid = json_string_value(json_object_get(res, "plugin"));
		const char *why = NULL;
		if (evk_add(r->a, pid ? pid : "?", json_object_get(res, "result"), out->k, &out->n, &why) != 0) {
			log_err("plugin error", "plugin=%s in=registration.keys error=\"%s\"", pid ? pid : "?", why);
			rc = -1;
		}
	}
	json_decref(results);
	if (out->n > 1) {
		qsort(out->k, out->n, sizeof *out->k, evk_cmp);
		size_t w = 1;
		for (size_t j = 1; j < out->n; j++)
			if (evk_cmp(&out->k[j], &out->k[w - 1]) != 0)
				out->k[w++] = out->k[j];
		out->n = w;
	}
	return rc == 0 ? 0 : -1;
}

int evk_store(db *d, arena *a, const evk_set *keys, long long reg_id, const char **message)
{
	for (size_t i = 0; keys && i < keys->n; i++) {
		int rc = db_q(d, a, NULL, "INSERT INTO registration_keys (plugin_id, key_hash, registration_id) VALUES (?, ?, ?)",
		              DB_TEXT(keys->k[i].plugin), DB_TEXTN((const char *)keys->k[i].hash, sizeof keys->k[i].hash),
		              DB_INT(reg_id));
		if (rc == DB_EDUP)
			*message = keys->k[i].message;
		if (rc != DB_OK)
			return rc;
	}
	return DB_OK;
}

int evk_release(db *d, arena *a, long long reg_id, long long event_id)
{
	if (reg_id)
		return db_q(d, a, NULL, "DELETE FROM registration_keys WHERE registration_id = ?", DB_INT(reg_id));
	return db_q(d, a, NULL,
	            "DELETE k FROM registration_keys k JOIN registrations r ON r.id = k.registration_id WHERE r.event_id = ?",
	            DB_INT(event_id));
}
