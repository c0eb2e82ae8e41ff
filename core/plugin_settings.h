/* plugin_settings.h - a plugin's settings, editable by an admin (prefix pset_).
 *
 * The manifest's config entries are the schema:
 *   number  { type = "number", default = 40, label = "名额", min = 1, max = 500 }
 *   text    { type = "text", default = "", label = "说明", max_len = 200 }
 *   yesno   { type = "yesno", default = true, label = "提前一天提醒" }
 * An admin changes them on /admin/plugins/<id>/settings (or `portald plugin set
 * ID KEY VALUE`); each write is checked against the schema, stored in
 * plugin_settings (migration 0004) with its version bumped, and audited with
 * the old and new value. portal.config.<key> is the stored value, else the
 * default.
 *
 * Workers see a change without a reload: before calling into a plugin, the
 * host asks at most once a second for SUM(version) of the plugin's rows and
 * re-reads them when it moved (pset_refresh). A stored value that no longer
 * fits the schema (the manifest changed its type or limits) is ignored with a
 * logged warning and the default is used. */
#ifndef PORTAL_PLUGIN_SETTINGS_H
#define PORTAL_PLUGIN_SETTINGS_H
#include <jansson.h>
#include <lua.h>
#include "arena.h"
#include "audit.h"
#include "db.h"
#include "plugin.h"

#define PSET_TEXT_MAX 1000           /* characters of a text setting when the manifest gives no max_len */

/* The config entry at idx of the manifest (read raw) as its schema
 * {type, default, label, min?, max?, max_len?}; NULL with a message naming
 * the plugin and key in err when malformed. */
json_t *pset_spec(lua_State *L, int idx, const char *plugin_id, const char *key, char *err, size_t errlen);
/* NULL when value (a JSON integer, string or boolean) fits spec, else the
 * zh-CN reason, starting with the setting's label (in a). */
const char *pset_check(arena *a, const json_t *spec, const json_t *value);
/* The typed value of text as typed into the form or on the command line
 * (present = 0: a checkbox left unticked), or NULL with the zh-CN reason in
 * *why. The result still needs pset_check. */
json_t *pset_parse(arena *a, const json_t *spec, const char *text, int present, const char **why);
/* The values in effect for plugin id: the stored ones that fit the schema,
 * else the defaults (a stored value that does not fit is logged). NULL on a
 * database error. */
json_t *pset_values(db *d, arena *a, const char *id, const json_t *schema);
/* Store changes ({key: value}, each already checked) of plugin id with their
 * audit entry ("plugin.settings", detail {key: {old, new}}); old holds the
 * values in effect before. Call inside db_tx. 0 or a db_status. */
int pset_store(db *d, arena *a, const audit_actor *who, const char *id, const json_t *old, const json_t *changes);
/* Bring p's portal.config up to date when its stored settings changed (at
 * most one query a second per plugin per worker). Called by the host before
 * it calls into the plugin; never fails the call (errors keep the old values). */
void pset_refresh(plugin *p);
/* Put values into p's portal.config (in place) and plug_config(p). -1 (and
 * nothing changed, logged) when the plugin's state had no room for them. */
int pset_apply(plugin *p, const json_t *values);
/* From now on p's settings come only from pset_apply (`portald plugin test`:
 * T.config, never the database's rows of the real plugin). */
void pset_pin(plugin *p);

/* `portald plugin set ID KEY VALUE`. Returns the exit status. */
int pset_cmd_set(const conf *cf, int argc, char **argv);

#endif
