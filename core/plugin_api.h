/* plugin_api.h - the `portal` table a plugin sees (prefix papi_).
 *
 *   portal.plugin            {id, version}
 *   portal.user()            the logged-in staff user {id, username, display_name, roles, grid} or nil
 *   portal.has_role(name)    true when the current user holds that role
 *   portal.has_grant(name)   true when the current user holds this plugin's grant name (grants.h)
 *   portal.accounts.*        volunteer accounts, permission "accounts" (plugin_accounts.h)
 *   portal.config            the plugin's settings (read-only; stored values or the manifest's defaults, plugin_settings.h)
 *   portal.log.info/warn/error(message, fields)
 *   portal.time.now() / today() / date(format, t) / parse(text)
 *   portal.t(key)            the plugin's own zh-CN string for key (manifest strings)
 *   portal.json.encode(v) / decode(text)
 *   portal.outbox.queue{phone, body, kind, send_after}   (permission "outbox")
 *   portal.audit(action, object_type, object_id, detail)
 *   portal.db.*              see plugin_db.h
 *   portal.form.validate(name [, input]) / view(name [, values, errors]) / schema(name)
 *   portal.mask.phone(s) / name(s) / idcard(s)
 *   portal.csrf()            the token for a form (templates get it as {{csrf}} anyway)
 * Every table is a read-only proxy; every function checks its arguments. */
#ifndef PORTAL_PLUGIN_API_H
#define PORTAL_PLUGIN_API_H
#include "plugin.h"
#include "sandbox.h"

/* Put `portal` into the sandbox environment of p. */
void papi_install(sbx *sb, plugin *p);
/* After the manifest: fill portal.config (the plugin's settings) and
 * portal.plugin.version. */
void papi_set_config(sbx *sb, json_t *config, const char *version);
/* Add what every plugin page needs to template data: csrf, user, plugin. */
void papi_page_data(plugin *p, req *r, json_t *data);
/* CSRF for plugin routes that need no role: state-changing browser requests
 * must carry the double-submit token; API requests must be JSON. Returns 0
 * to go on, or the status with the response set. */
int papi_anon_csrf_check(req *r);

#endif
