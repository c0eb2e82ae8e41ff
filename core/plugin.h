/* plugin.h - the Lua 5.4 plugin host (prefix plug_).
 *
 * A plugin is one folder, plugins/<id>/, whose plugin.lua returns a manifest.
 * Each worker loads every plugin into its own Lua state (one state per plugin
 * per worker, nothing shared between plugins), built by core/sandbox.c. The
 * host owns everything a plugin must not be trusted with: routing, roles,
 * CSRF, SQL, escaping and the database connection. See docs/plugins.md.
 *
 * Files of the host:
 *   sandbox.c      sbx_   Lua state: allowlisted environment, CPU and memory budgets
 *   plugin.c       plug_  manifest, loading, routes, hooks, lifecycle, status
 *   plugin_api.c   papi_  the `portal` table given to plugins (request, user, log, time, json, ...)
 *   plugin_db.c    pdb_   portal.db: own tables with a prefix, bound parameters only
 *   plugin_form.c  pform_ declarative forms: validation, view model for templates, JSON schema
 *   luajson.c      lj_    Lua values <-> jansson values */
#ifndef PORTAL_PLUGIN_H
#define PORTAL_PLUGIN_H
#include <jansson.h>
#include <lua.h>
#include "conf.h"
#include "db.h"
#include "http.h"
#include "tmpl.h"

#define PLUG_API_VERSION 1
#define PLUG_MAX_ID 32
#define PLUG_MAX_TABLE_NAME 64        /* MariaDB's identifier length */

typedef struct plug_set plug_set;
typedef struct plugin plugin;

/* A declared table: logical name -> real name: pdb_live_prefix(id) + name
 * (plugin_db.h). */
typedef struct plug_table {
	const char *name;
	const char *real;
	const char *const *columns;   /* NULL-terminated, from the manifest; "id" implied */
	size_t ncolumns;
} plug_table;

/* What every host function can reach through the Lua registry: the plugin
 * being run and, during a request, that request. */
typedef struct plug_ctx {
	plugin *p;
	const char *id;               /* plugin id */
	const conf *cf;
	db *db;                       /* the worker's connection (may be NULL) */
	req *r;                       /* current request or NULL (load, jobs, tests) */
	unsigned long req_gen;        /* bumped after each response: stale handles fail */
	arena *a;                     /* allocations for the current call */
	int own_arena;                /* a was made for a call outside a request */
	plug_table *tables;
	size_t ntables;
	const char *table_prefix;     /* pdb_live_prefix() normally; a throwaway prefix under `plugin test` */
	int capture;                  /* `plugin test`: keep what the last page rendered */
	int pset_pinned;              /* plugin_settings.c: settings from pset_apply only */
	long long pset_at;            /* plugin_settings.c: when the stored settings were last asked for */
	char pset_ver[64];            /* plugin_settings.c: their version then ("" = never read) */
	char last_template[64];
	json_t *last_data;
} plug_ctx;

/* The context of the plugin owning L (set by the host before each call). */
plug_ctx *plug_ctx_of(lua_State *L);

/* Plugin status, as the admin page shows it. */
enum plug_status { PLUG_OK = 0, PLUG_DISABLED, PLUG_ERROR, PLUG_PENDING_MIGRATION };

/* Load every plugin folder of cf->plugin_dir. strict: any plugin that fails
 * makes the whole call fail (used when reloading: the old set keeps serving);
 * otherwise a failed plugin is kept with status PLUG_ERROR and the rest load.
 * Returns the set, or NULL with err (strict only). */
plug_set *plug_load(const conf *cf, db *d, int strict, char *err, size_t errlen);
void plug_free(plug_set *s);
/* Give the set the worker's database connection (after a reconnect). */
void plug_set_db(plug_set *s, db *d);
/* If r's path is under a plugin's prefix (/p/<id>/... or /api/p/<id>/...),
 * serve it (auth and CSRF applied by the host) and return 1; else 0. */
int plug_dispatch(plug_set *s, req *r);
/* Run hook name in every plugin that has it, in before/after order. payload
 * is passed as a Lua table (read-only for the hook). Results returned by the
 * hooks are collected into *results (a JSON array of {plugin, result}) when
 * results != NULL. Returns 0, or -1 when a hook raised (logged with plugin id
 * and traceback; the other plugins' hooks still run). */
int plug_hook(plug_set *s, req *r, const char *name, json_t *payload, json_t **results);
/* A JSON description of every plugin (id, version, status, message, routes,
 * hooks, tables, kinds, forms) for the admin page and `portald plugin list`. */
json_t *plug_describe(plug_set *s);
/* Event kinds provided by plugins: JSON array of {id, plugin, title, form, retention_days}. */
json_t *plug_event_kinds(plug_set *s);
/* The plugin of an id, or NULL. */
plugin *plug_find(plug_set *s, const char *id);
/* Apply pending migrations of every plugin (portald migrate). */
int plug_migrate(const conf *cf, db *d, FILE *log, char *err, size_t errlen);

/* Load one plugin folder (id = folder name). prefix overrides the table
 * prefix (throwaway tables under `portald plugin test`), NULL = the live one.
 * d may be NULL (no migration/disabled checks). Always returns a plugin;
 * its status tells whether it can be served. */
plugin *plug_load_dir(const conf *cf, db *d, const char *dir, const char *id, const char *prefix);
/* Accessors for the host API modules. */
const char *plug_query_sql(plugin *p, const char *name);
int plug_permitted(const plugin *p, const char *perm);
json_t *plug_config(plugin *p);
json_t *plug_strings(plugin *p);
/* The plugin's event kinds: JSON array of {id, title, form, plugin, ...} (borrowed). */
json_t *plug_kinds(plugin *p);
/* The config schema {key: {type, default, label, ...}} (plugin_settings.h)
 * and the declared grants {name: {zh, en}} (grants.h); empty objects when
 * none (NULL when the manifest did not load that far). */
json_t *plug_config_spec(plugin *p);
json_t *plug_grants(plugin *p);
/* The plugins of a set, in id order, and a plugin's zh title. */
size_t plug_count(const plug_set *s);
plugin *plug_at(plug_set *s, size_t i);
const char *plug_title_of(const plugin *p);
struct pform;
const struct pform *plug_find_form(plugin *p, const char *name);
/* For `plugin test`: a set holding just p (plug_free of the set frees p),
 * and p's parts. */
plug_set *plug_set_of(const conf *cf, db *d, plugin *p);
enum plug_status plug_status_of(const plugin *p);
const char *plug_message_of(const plugin *p);
plug_ctx *plug_ctx_for(plugin *p);
struct sbx *plug_sbx_of(plugin *p);
/* Run every job of a schedule ("daily"/"hourly"). 0, or -1 if any failed. */
int plug_run_jobs(plug_set *s, const char *every);

/* Commands: portald plugin list | new ID | test DIR. */
int plug_cmd(const conf *cf, int argc, char **argv);

#endif
