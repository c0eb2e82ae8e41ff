/* plugin_accounts.h - portal.accounts: volunteer accounts made by plugins
 * (prefix pacc_). Needs the manifest permission "accounts".
 *
 *   portal.accounts.create{ username, display_name, role = "volunteer" }
 *       -> { id, username, password }   (a random one-time password)
 *       or nil, "taken"                  (the username exists)
 *   portal.accounts.get(id) -> { id, username, display_name, roles, disabled } or nil
 *   portal.accounts.set_disabled(id, bool)
 *
 * Least privilege: only the role "volunteer" can be given, and only accounts
 * whose only role is volunteer can be disabled or enabled; anything else
 * raises. A created account must change its password at its first login
 * (users.must_change_password, enforced by auth_gate), so the one-time password
 * handed out never stays a permanent one. Every change is audited (user.create,
 * user.disable, user.enable, detail naming the plugin), inside the caller's
 * portal.db.transaction when there is one, else in a transaction of its own. */
#ifndef PORTAL_PLUGIN_ACCOUNTS_H
#define PORTAL_PLUGIN_ACCOUNTS_H
#include <lua.h>

/* Push the portal.accounts table. */
void pacc_push(lua_State *L);

#endif
