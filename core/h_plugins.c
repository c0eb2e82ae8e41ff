/* h_plugins.c - the admin page of plugins: status, routes, hooks, tables,
 * errors; reload, enable and disable; each plugin's settings page (values
 * checked and stored by plugin_settings.c, seen by every worker within a
 * second without a reload). Changes take effect through a reload of every
 * node: the request bumps the plugin generation in the database, which each
 * node's master polls (generation.h; SIGHUP to this master when polling is
 * off), and a reload replaces workers one at a time and keeps the old set
 * serving if the new one does not load. */
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "generation.h"
#include "handlers.h"
#include "log.h"
#include "plugin.h"
#include "plugin_settings.h"
#include "utf8.h"
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Ask every node to reload its workers: bump the plugin generation that the
 * masters poll; with polling off (reload_check_ms = 0), or the database not
 * answering, signal this node's master. 0 when asked. */
static int h_plugins_reload_all(req *r)
{
	if (r->cf->reload_check_ms > 0 && r->db) {
		auth_user *u = auth_user_of(r);
		if (gen_bump(r->db, r->a, GEN_PLUGINS, u ? u->username : "") == DB_OK)
			return 0;
	}
	pid_t master = getppid();
	if (master <= 1)
		return -1;       /* not under a master (tests, the command line) */
	return kill(master, SIGHUP);
}

int h_admin_plugins(req *r)
{
	json_t *data = json_pack("{s:s, s:o}", "title", "插件管理", "plugins", plug_describe(r->plugins));
	db_res *res = NULL;
	if (r->db && db_q0(r->db, r->a, &res,
	                   "SELECT at, plugin_id, kind, message FROM plugin_events ORDER BY id DESC LIMIT 20") == DB_OK) {
		json_t *ev = json_array();
		for (size_t i = 0; i < res->nrows; i++)
			json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:s}", "at", db_cell(res, i, "at"), "plugin",
			                                     db_cell(res, i, "plugin_id"), "kind", db_cell(res, i, "kind"),
			                                     "message", db_cell(res, i, "message")));
		json_object_set_new(data, "events", ev);
	}
	const char *done = req_param(r, "done");
	if (done && !strcmp(done, "reload"))
		json_object_set_new(data, "notice", json_string("已请求重新加载插件。新的插件全部加载成功后才会替换正在运行的插件；如有错误，会显示在下方。"));
	else if (done && !strcmp(done, "state"))
		json_object_set_new(data, "notice", json_string("已保存。插件正在重新加载。"));
	int rc = auth_page(r, 200, "admin_plugins", data);
	json_decref(data);
	return rc;
}

int h_admin_plugins_reload(req *r)
{
	audit_log(r, "plugins.reload", "plugin", "*", NULL);
	if (h_plugins_reload_all(r) != 0)
		return resp_error(r, 503, "no_master", "无法重新加载：服务未在主进程下运行。", NULL);
	return resp_redirect(r, 303, "/admin/plugins?done=reload");
}

static int h_plugins_set(req *r, int enabled)
{
	const char *id = rt_param(&r->params, "id");
	if (!id || !plug_find(r->plugins, id))
		return resp_error(r, 404, NULL, "没有这个插件。", NULL);
	auth_user *u = auth_user_of(r);
	if (!r->db || db_q(r->db, r->a, NULL,
	                   "INSERT INTO plugin_state (plugin_id, enabled, updated_by) VALUES (?, ?, ?)"
	                   " ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), updated_by = VALUES(updated_by)",
	                   DB_TEXT(id), DB_INT(enabled), DB_INT(u ? u->id : 0)) != DB_OK)
		return resp_error(r, 503, NULL, NULL, NULL);
	audit_log(r, enabled ? "plugin.enable" : "plugin.disable", "plugin", id, NULL);
	h_plugins_reload_all(r);
	return resp_redirect(r, 303, "/admin/plugins?done=state");
}

int h_admin_plugin_enable(req *r)
{
	return h_plugins_set(r, 1);
}

int h_admin_plugin_disable(req *r)
{
	return h_plugins_set(r, 0);
}

/* --- settings: /admin/plugins/{id}/settings */

/* The settings form of plugin p: one field per config key (sorted by key),
 * showing values (what is in effect, or what was typed) and errors (may be
 * NULL). */
static json_t *h_settings_fields(req *r, plugin *p, json_t *values, json_t *typed, json_t *errors)
{
	json_t *schema = plug_config_spec(p), *fields = json_array();
	const char **keys = ar_alloc(r->a, (json_object_size(schema) + 1) * sizeof *keys);
	size_t n = 0;
	const char *k;
	json_t *spec;
	json_object_foreach(schema, k, spec)
		keys[n++] = k;
	for (size_t i = 1; i < n; i++)          /* insertion sort: a handful of keys */
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		spec = json_object_get(schema, keys[i]);
		const char *type = json_string_value(json_object_get(spec, "type"));
		json_t *v = json_object_get(values, keys[i]);
		const char *shown = json_string_value(json_object_get(typed, keys[i]));
		char *dflt = json_dumps(json_object_get(spec, "default"), JSON_ENCODE_ANY);
		json_t *f = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s}", "key", keys[i], "name",
		                      ar_printf(r->a, "cfg_%s", keys[i]), "label", json_string_value(json_object_get(spec, "label")),
		                      "is_number", !strcmp(type, "number"), "is_text", !strcmp(type, "text"), "is_yesno",
		                      !strcmp(type, "yesno"), "default",
		                      !strcmp(type, "yesno") ? (json_is_true(json_object_get(spec, "default")) ? "是" : "否")
		                                             : (json_is_string(json_object_get(spec, "default"))
		                                                    ? json_string_value(json_object_get(spec, "default"))
		                                                    : (dflt ? dflt : "")));
		free(dflt);
		if (shown)
			json_object_set_new(f, "value", json_string(shown));
		else if (json_is_integer(v))
			json_object_set_new(f, "value", json_string(ar_printf(r->a, "%lld", (long long)json_integer_value(v))));
		else if (json_is_string(v))
			json_object_set(f, "value", v);
		json_object_set_new(f, "checked", json_boolean(json_is_true(v)));
		static const char *const limits[] = {"min", "max", "max_len"};
		for (int l = 0; l < 3; l++)
			if (json_object_get(spec, limits[l])) {
				json_object_set(f, limits[l], json_object_get(spec, limits[l]));
				json_object_set_new(f, ar_printf(r->a, "has_%s", limits[l]), json_true());
			}
		const char *err = json_string_value(json_object_get(errors, keys[i]));
		if (err)
			json_object_set_new(f, "error", json_string(err));
		json_array_append_new(fields, f);
	}
	return fields;
}

/* The settings page; values, typed and errors are stolen (may be NULL). */
static int h_settings_page(req *r, int status, plugin *p, json_t *values, json_t *typed, json_t *errors,
                           const char *notice)
{
	const char *id = plug_ctx_for(p)->id;
	json_t *data = json_pack("{s:s, s:s, s:s, s:o, s:s, s:b}", "title", ar_printf(r->a, "插件设置：%s", plug_title_of(p)),
	                         "plugin", id, "plugin_title", plug_title_of(p), "fields",
	                         h_settings_fields(r, p, values, typed, errors), "notice", notice ? notice : "",
	                         "has_errors", json_object_size(errors) > 0);
	json_decref(values);
	json_decref(typed);
	json_decref(errors);
	int rc = auth_page(r, status, "admin_plugin_settings", data);
	json_decref(data);
	return rc;
}

/* The plugin named by {id} whose manifest loaded (its schema is known), or NULL. */
static plugin *h_settings_plugin(req *r)
{
	const char *id = rt_param(&r->params, "id");
	plugin *p = id ? plug_find(r->plugins, id) : NULL;
	return p && plug_config_spec(p) ? p : NULL;
}

int h_admin_plugin_settings(req *r)
{
	plugin *p = h_settings_plugin(r);
	if (!p)
		return resp_error(r, 404, NULL, "没有这个插件。", NULL);
	json_t *values = pset_values(r->db, r->a, plug_ctx_for(p)->id, plug_config_spec(p));
	if (!values)
		return resp_error(r, 503, NULL, "系统暂时无法读取设置，请稍后再试。", NULL);
	const char *done = req_param(r, "done");
	return h_settings_page(r, 200, p, values, NULL, NULL,
	                       done && !strcmp(done, "saved") ? "设置已保存，几秒钟内在所有服务进程生效。" : NULL);
}

struct h_settings_tx {
	req *r;
	const char *id;
	const json_t *schema;
	json_t *changes;
};

static int h_settings_tx(db *d, void *ctx)
{
	struct h_settings_tx *t = ctx;
	json_t *old = pset_values(d, t->r->a, t->id, t->schema);
	if (!old)
		return DB_EFAIL;
	/* only what differs from the values in effect is written and audited */
	json_t *changes = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(t->changes, k, v)
		if (!json_equal(v, json_object_get(old, k)))
			json_object_set(changes, k, v);
	auth_user *u = auth_user_of(t->r);
	audit_actor who = {u->id, u->token_id, u->username, t->r->remote_addr ? t->r->remote_addr : ""};
	int rc = pset_store(d, t->r->a, &who, t->id, old, changes);
	json_decref(changes);
	json_decref(old);
	return rc;
}

int h_admin_plugin_settings_save(req *r)
{
	plugin *p = h_settings_plugin(r);
	if (!p)
		return resp_error(r, 404, NULL, "没有这个插件。", NULL);
	json_t *schema = plug_config_spec(p), *changes = json_object(), *errors = json_object(), *typed = json_object();
	const char *k;
	json_t *spec;
	json_object_foreach(schema, k, spec) {
		const char *name = ar_printf(r->a, "cfg_%s", k);
		const char *text = form_get(&r->post, name), *why = NULL;
		json_t *v = pset_parse(r->a, spec, text, text != NULL, &why);
		if (v && !why)
			why = pset_check(r->a, spec, v);
		if (why)
			json_object_set_new(errors, k, json_string(why));
		else
			json_object_set(changes, k, v);
		if (text && utf8_valid(text, strlen(text)))
			json_object_set_new(typed, k, json_string(text));
		json_decref(v);
	}
	if (json_object_size(errors)) {
		/* nothing is saved: the form comes back with every message and what was typed */
		json_t *values = json_object();
		json_object_foreach(schema, k, spec)
			json_object_set_new(values, k, form_get(&r->post, ar_printf(r->a, "cfg_%s", k)) ? json_true() : json_false());
		json_decref(changes);
		return h_settings_page(r, 422, p, values, typed, errors, NULL);
	}
	json_decref(errors);
	json_decref(typed);
	struct h_settings_tx t = {r, plug_ctx_for(p)->id, schema, changes};
	int rc = r->db ? db_tx(r->db, h_settings_tx, &t) : DB_ELOST;
	json_decref(changes);
	if (rc != DB_OK) {
		log_err("plugin settings not saved", "plugin=%s error=\"%s\"", t.id, r->db ? db_errmsg(r->db) : "no connection");
		return resp_error(r, 503, NULL, "系统暂时无法保存设置，请稍后再试。", NULL);
	}
	return resp_redirect(r, 303, ar_printf(r->a, "/admin/plugins/%s/settings?done=saved", t.id));
}
