/* grants.h - plugin-defined permissions for users (prefix grant_).
 *
 * A plugin declares grants in its manifest:
 *   grants = { health = { zh = "查看健康敏感信息", en = "See health data" } }
 * Their full names are "<plugin>.<grant>" ("outreach.health"). An admin gives
 * them to users (admin user page, `portald user grant|revoke`); they live in
 * user_grants (migration 0004). A plugin route with grant = "health" (and
 * roles) is served only to a user holding that grant; portal.has_grant("health")
 * asks the same for the current user. Grants are not implied by any role: an
 * admin holds a grant only when it was given to them too.
 *
 * The caller's grants are read once per request (a session or an API token:
 * both carry their user's grants) and kept in auth_user.grants. */
#ifndef PORTAL_GRANTS_H
#define PORTAL_GRANTS_H
#include <jansson.h>
#include <lua.h>
#include "arena.h"
#include "audit.h"
#include "db.h"
#include "http.h"

#define GRANT_MAX_NAME 32            /* the part after the plugin id */
#define GRANT_MAX_FULL 65            /* "<plugin>.<grant>" with the NUL */

/* 1 when s is 2-32 characters of a-z 0-9 _. */
int grant_name_ok(const char *s);
/* The manifest's grants table at idx (read raw: no metamethod runs) as
 * {name: {zh, en}}; nil gives an empty object. NULL with a message naming the
 * plugin in err when malformed. */
json_t *grant_read_manifest(lua_State *L, int idx, const char *plugin_id, char *err, size_t errlen);
/* 1 when the request's signed-in user holds grant full ("outreach.health"),
 * 0 when not (or nobody is signed in), -1 when the database failed. */
int grant_user_has(req *r, const char *full);
/* Give (on) or take away a grant of user_id; *changed gets 1 when a row was
 * added or removed. by: the admin's user id, 0 for the command line. Does not
 * audit (the caller does, in the same transaction). 0 or a db_status. */
int grant_set(db *d, arena *a, long long user_id, const char *full, int on, long long by, int *changed);
/* Every grant of every loaded plugin, for the admin user page:
 * [{plugin, title, grants: [{name (full), label, checked}]}], checked from
 * the user's rows. NULL on a database error. */
json_t *grant_choices(req *r, long long user_id);
/* 1 when full names a grant declared by a plugin of the request's set. */
int grant_known(req *r, const char *full);

/* portal.has_grant(name): true when the current user holds this plugin's
 * grant name; a name the plugin did not declare raises. */
int grant_lua_has(lua_State *L);

/* `portald user grant|revoke USERNAME PLUGIN.GRANT` (argv[1] is "grant" or
 * "revoke"): checked against the installed plugins, audited with the actor
 * "cli". Returns the exit status. */
int grant_cmd(const conf *cf, int argc, char **argv);

#endif
