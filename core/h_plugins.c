/* h_plugins.c - the admin page of plugins: status, routes, hooks, tables,
 * errors; reload, enable and disable. Changes take effect through a reload
 * (SIGHUP to the master), which replaces workers one at a time and keeps the
 * old set serving if the new one does not load. */
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "plugin.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Ask the master to reload every worker. 0 when the signal was sent. */
static int h_plugins_reload_all(void)
{
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
	if (h_plugins_reload_all() != 0)
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
	h_plugins_reload_all();
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
