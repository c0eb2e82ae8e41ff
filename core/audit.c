/* audit.c - the append-only audit log (contract in audit.h). */
#include "audit.h"
#include "auth.h"
#include "log.h"
#include <stdlib.h>
#include <string.h>

/* The core's actions and their zh-CN labels, in display order. */
static const struct {
	const char *action, *label;
} audit_labels[] = {
	{"login.ok", "登录成功"},
	{"login.failed", "登录失败"},
	{"login.blocked", "登录被暂停（失败次数过多）"},
	{"logout", "退出登录"},
	{"logout.all", "退出所有设备"},
	{"session.revoke", "结束一个登录会话"},
	{"password.change", "修改自己的密码"},
	{"password.reset", "重设用户密码"},
	{"user.create", "新建用户"},
	{"user.update", "修改用户资料"},
	{"user.disable", "停用用户"},
	{"user.enable", "启用用户"},
	{"role.grant", "授予角色"},
	{"role.revoke", "取消角色"},
	{"token.create", "新建访问令牌"},
	{"token.revoke", "撤销访问令牌"},
	{"audit.export", "导出审计日志"},
};
#define NLABELS (sizeof audit_labels / sizeof audit_labels[0])

const char *const audit_actions[] = {
	"login.ok", "login.failed", "login.blocked", "logout", "logout.all", "session.revoke",
	"password.change", "password.reset", "user.create", "user.update", "user.disable", "user.enable",
	"role.grant", "role.revoke", "token.create", "token.revoke", "audit.export", NULL,
};

const char *audit_action_label(const char *action)
{
	for (size_t i = 0; action && i < NLABELS; i++)
		if (strcmp(audit_labels[i].action, action) == 0)
			return audit_labels[i].label;
	return action ? action : "";
}

/* s cut to at most max characters (UTF-8), copied into the arena. */
static const char *audit_cut(arena *a, const char *s, size_t max)
{
	if (!s)
		return "";
	size_t chars = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max)
			break;
	}
	return s[i] ? ar_strndup(a, s, i) : s;
}

int audit_write(db *d, arena *a, const audit_actor *who, const char *action, const char *object_type,
                const char *object_id, json_t *detail)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	const char *dt = text ? ar_strdup(a, text) : "{}";
	free(text);
	if (!d)
		return DB_ELOST;
	int rc = db_q(d, a, NULL,
	              "INSERT INTO audit_log (user_id, token_id, actor, ip, action, object_type, object_id, detail)"
	              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	              who && who->user_id ? DB_INT(who->user_id) : DB_NULL,
	              who && who->token_id ? DB_INT(who->token_id) : DB_NULL,
	              DB_TEXT(audit_cut(a, who ? who->name : "", 100)), DB_TEXT(audit_cut(a, who ? who->ip : "", 45)),
	              DB_TEXT(audit_cut(a, action, 64)), DB_TEXT(audit_cut(a, object_type, 64)),
	              DB_TEXT(audit_cut(a, object_id, 64)), DB_TEXT(dt));
	if (rc != DB_OK)
		log_err("audit write failed", "action=%s error=\"%s\"", action, db_errmsg(d));
	return rc;
}

int audit_log(req *r, const char *action, const char *object_type, const char *object_id, json_t *detail)
{
	const auth_user *u = auth_user_of(r);
	audit_actor who = {
		u ? u->id : 0,
		u ? u->token_id : 0,
		u && u->username ? u->username : "",
		r->remote_addr ? r->remote_addr : "",
	};
	return audit_write(r->db, r->a, &who, action, object_type, object_id, detail);
}
