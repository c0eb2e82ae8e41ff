/* h_admin.c - the admin pages: users (create, roles, disable, password
 * reset), API tokens (create, revoke) and the audit log (filters, paging,
 * CSV export). Every route here needs ROLE_ADMIN (app.c); the gate has
 * checked the session's CSRF token before any POST handler runs.
 *
 * Each change and its audit entry are written in one transaction. Forms that
 * fail come back with the message next to the field and the input kept
 * (never a password). */
#include "audit.h"
#include "auth.h"
#include "grants.h"
#include "handlers.h"
#include "html.h"
#include "log.h"
#include "valid.h"
#include <ctype.h>
#include <pwd.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ADM_AUDIT_PAGE 50           /* entries per page of the audit log */
#define ADM_EXPORT_MAX 100000       /* rows of one CSV export */
#define ADM_TOKEN_MAX_DAYS 3650

/* zh-CN messages of this module, together. */
static const char *const adm_msg[] = {
#define M_DB 0
	"系统暂时无法完成操作，请稍后再试。",
#define M_USERNAME 1
	"用户名只能用小写字母、数字和 . _ -，2到32个字符，以字母或数字开头。",
#define M_USER_TAKEN 2
	"这个用户名已被使用，请换一个。",
#define M_NEED_ROLE 3
	"请至少选择一个角色。",
#define M_BAD_ROLE 4
	"角色无效，请重新选择。",
#define M_NEED_GRID 5
	"网格员需要填写所属网格。",
#define M_NO_USER 6
	"找不到这个用户。",
#define M_SELF_ADMIN 7
	"不能取消自己的管理员角色，请让另一位管理员操作。",
#define M_SELF_DISABLE 8
	"不能停用自己的账号。",
#define M_DONE_CREATED 9
	"用户已创建。",
#define M_DONE_SAVED 10
	"已保存。",
#define M_DONE_PASSWORD 11
	"密码已重设，该用户在所有设备上的登录已退出。请把新密码当面或电话告诉本人。",
#define M_DONE_DISABLED 12
	"账号已停用，该用户的登录和访问令牌已立即失效。",
#define M_DONE_ENABLED 13
	"账号已启用。",
#define M_NO_TOKEN 14
	"找不到这个访问令牌。",
#define M_DONE_REVOKED 15
	"访问令牌已撤销，立即失效。",
#define M_TOKEN_USER 16
	"找不到这个用户，或该账号已停用。",
#define M_TOKEN_ROLE 17
	"该用户没有这个角色。",
#define M_DAYS 18
	"有效天数请填写0到3650之间的整数（0表示不过期）。",
#define M_BAD_DATE 19
	"日期格式应为 年-月-日，例如 2025-01-31。",
#define M_NEED_USER 20
	"请填写用户名。",
#define M_NEED_PW 21
	"请填写新密码。",
#define M_FILTER 22
	"筛选条件有误，请按提示修改。",
#define M_BAD_GRANT 23
	"有一项权限不属于任何已加载的插件，请刷新页面后重新选择。",
};

/* Labels shown on forms, used in validation messages too. */
static const val_rule adm_rule_display = {"display_name", VAL_TEXT, 1, 1, 50, NULL, "姓名"};
static const val_rule adm_rule_grid = {"grid", VAL_TEXT, 0, 0, 64, NULL, "所属网格"};
static const val_rule adm_rule_token_name = {"name", VAL_TEXT, 0, 0, 100, NULL, "用途说明"};
static const val_rule adm_rule_filter = {"f", VAL_TEXT, 0, 0, 64, NULL, "筛选条件"};

/* --- helpers */

static long long adm_id_param(req *r)
{
	const char *v = rt_param(&r->params, "id");
	char *end;
	if (!v || !isdigit((unsigned char)*v))
		return 0;
	long long id = strtoll(v, &end, 10);
	return *end || id <= 0 ? 0 : id;
}

static const char *adm_ll(req *r, long long v)
{
	return ar_printf(r->a, "%lld", v);
}

/* Render tpl with data (stolen) through auth_page. */
static int adm_page(req *r, int status, const char *tpl, json_t *data)
{
	int rc = auth_page(r, status, tpl, data);
	json_decref(data);
	return rc;
}

static int adm_db_error(req *r)
{
	log_err("admin page failed", "path=%s error=\"%s\"", r->path, r->db ? db_errmsg(r->db) : "no connection");
	return resp_error(r, 503, NULL, adm_msg[M_DB], NULL);
}

/* Role checkboxes: [{name, label, checked}]. */
static json_t *adm_role_choices(unsigned checked)
{
	json_t *a = json_array();
	for (const unsigned *b = auth_roles_all; *b; b++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name", auth_role_name(*b), "label",
		                                   auth_role_label(*b), "checked", (checked & *b) != 0));
	return a;
}

/* Roles ticked on the form (every "roles" field); *bad when one is unknown. */
static unsigned adm_form_roles(req *r, int *bad)
{
	unsigned roles = 0;
	*bad = 0;
	for (const form_field *f = r->post.head; f; f = f->next)
		if (strcmp(f->name, "roles") == 0) {
			unsigned bit = auth_role_bit(f->value);
			*bad |= bit == 0;
			roles |= bit;
		}
	return roles;
}

/* One text field checked against rule: the normalised value, or NULL with
 * the message put into errors under the rule's name. */
static const char *adm_text(req *r, const val_rule *rule, const char *field, json_t *errors)
{
	val_value v;
	val_error e;
	if (val_one(r->a, rule, form_get(&r->post, field), &v, &e) != 0) {
		json_object_set_new(errors, field, json_string(e.message));
		return NULL;
	}
	return v.s;
}

static void adm_wipe_passwords(req *r)
{
	for (form_field *f = r->post.head; f; f = f->next)
		if (strcmp(f->name, "password") == 0)
			sodium_memzero((void *)(uintptr_t)f->value, f->vlen);
	if (r->body)
		sodium_memzero(r->body, r->body_len);
}

static const char *adm_role_label_of(const char *role)
{
	const char *l = role ? auth_role_label(auth_role_bit(role)) : NULL;
	return role ? (l ? l : role) : "全部角色";
}

/* --- users: list and create */

/* The users page. The form values fm and errors (may be NULL) are stolen. */
static int adm_users_page(req *r, int status, json_t *fm, json_t *errors, const char *notice)
{
	const char *q = form_get(&r->query, "q");
	db_res *res = NULL;
	int rc;
	const char *sql = "SELECT u.id, u.username, u.display_name, u.grid, u.disabled,"
	                  " DATE_FORMAT(u.last_login_at, '%Y-%m-%d %H:%i') AS last_login,"
	                  " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	                  " FROM users u";
	if (q && *q) {
		/* LIKE wildcards typed by the admin are taken literally */
		buf pat = BUF_INIT;
		buf_addc(&pat, '%');
		for (const char *p = q; *p; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				buf_addc(&pat, '\\');
			buf_addc(&pat, *p);
		}
		buf_addc(&pat, '%');
		rc = db_q(r->db, r->a, &res,
		          ar_printf(r->a, "%s WHERE u.username LIKE ? OR u.display_name LIKE ? OR u.grid LIKE ?"
		                          " ORDER BY u.disabled, u.username", sql),
		          DB_TEXT(buf_str(&pat)), DB_TEXT(buf_str(&pat)), DB_TEXT(buf_str(&pat)));
		buf_free(&pat);
	} else
		rc = db_q0(r->db, r->a, &res, ar_printf(r->a, "%s ORDER BY u.disabled, u.username", sql));
	if (rc != DB_OK) {
		json_decref(fm);
		json_decref(errors);
		return adm_db_error(r);
	}
	json_t *users = json_array();
	for (size_t i = 0; i < res->nrows; i++) {
		const char *grid = db_cell(res, i, "grid"), *ll = db_cell(res, i, "last_login");
		json_array_append_new(users, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:s}",
		        "id", (json_int_t)db_cell_int(res, i, "id"), "username", db_cell(res, i, "username"),
		        "display_name", db_cell(res, i, "display_name"), "grid", grid ? grid : "",
		        "roles", auth_roles_join(r->a, auth_roles_parse(db_cell(res, i, "roles"), NULL), "、", 1),
		        "disabled", db_cell_int(res, i, "disabled") != 0, "last_login", ll ? ll : "从未登录"));
	}
	if (!fm)
		fm = json_pack("{s:s, s:s, s:s, s:o}", "username", "", "display_name", "", "grid", "",
		                 "roles", adm_role_choices(0));
	json_t *data = json_pack("{s:s, s:o, s:s, s:o, s:o, s:s, s:b}", "title", "用户管理", "users", users,
	                         "q", q ? q : "", "form", fm, "errors", errors ? errors : json_object(),
	                         "notice", notice ? notice : "", "open_form", status != 200);
	return adm_page(r, status, "admin_users", data);
}

int h_admin_users(req *r)
{
	return adm_users_page(r, 200, NULL, NULL, NULL);
}

struct adm_create_tx {
	req *r;
	const char *username, *display_name, *grid, *hash;
	unsigned roles;
	long long id;
};

static int adm_create_tx(db *d, void *ctx)
{
	struct adm_create_tx *t = ctx;
	int rc = auth_user_insert(d, t->r->a, t->username, t->display_name, t->grid, t->roles, t->hash, &t->id);
	if (rc != DB_OK)
		return rc;
	json_t *roles = json_array();
	for (const unsigned *b = auth_roles_all; *b; b++)
		if (t->roles & *b)
			json_array_append_new(roles, json_string(auth_role_name(*b)));
	return audit_log(t->r, "user.create", "user", adm_ll(t->r, t->id),
	                 json_pack("{s:s, s:s, s:s?, s:o}", "username", t->username, "display_name", t->display_name,
	                           "grid", t->grid, "roles", roles));
}

int h_admin_user_create(req *r)
{
	json_t *errors = json_object();
	const char *typed = form_get(&r->post, "username");
	char *username = ar_strdup(r->a, typed ? typed : "");
	for (char *p = username; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!*username)
		json_object_set_new(errors, "username", json_string(adm_msg[M_NEED_USER]));
	else if (!auth_username_ok(username))
		json_object_set_new(errors, "username", json_string(adm_msg[M_USERNAME]));
	const char *display = adm_text(r, &adm_rule_display, "display_name", errors);
	const char *grid = adm_text(r, &adm_rule_grid, "grid", errors);
	int bad = 0;
	unsigned roles = adm_form_roles(r, &bad);
	if (bad)
		json_object_set_new(errors, "roles", json_string(adm_msg[M_BAD_ROLE]));
	else if (!roles)
		json_object_set_new(errors, "roles", json_string(adm_msg[M_NEED_ROLE]));
	else if ((roles & ROLE_GRID) && grid && !*grid)
		json_object_set_new(errors, "grid", json_string(adm_msg[M_NEED_GRID]));
	const char *pw = form_get(&r->post, "password");
	const char *why = pw && *pw ? auth_password_problem(pw, username) : adm_msg[M_NEED_PW];
	if (why)
		json_object_set_new(errors, "password", json_string(why));

	int rc;
	char hash[AUTH_PWHASH_BUF];
	struct adm_create_tx t = {r, username, display, grid && *grid ? grid : NULL, hash, roles, 0};
	if (json_object_size(errors) == 0) {
		if (auth_password_hash(pw, hash) != 0)
			rc = DB_EFAIL;
		else
			rc = db_tx(r->db, adm_create_tx, &t);
		if (rc == DB_OK) {
			json_decref(errors);
			adm_wipe_passwords(r);
			return resp_redirect(r, 303, ar_printf(r->a, "/admin/users/%lld?done=created", t.id));
		}
		if (rc != DB_EDUP) {
			json_decref(errors);
			adm_wipe_passwords(r);
			return adm_db_error(r);
		}
		json_object_set_new(errors, "username", json_string(adm_msg[M_USER_TAKEN]));
	}
	const char *dn = form_get(&r->post, "display_name"), *gr = form_get(&r->post, "grid");
	json_t *fm = json_pack("{s:s, s:s, s:s, s:o}", "username", typed ? typed : "", "display_name", dn ? dn : "",
	                         "grid", gr ? gr : "", "roles", adm_role_choices(roles));
	adm_wipe_passwords(r);
	return adm_users_page(r, 422, fm, errors, NULL);
}

/* --- one user */

/* The user's page. Form values fm, errors and pw_errors (may be NULL) are stolen. */
static int adm_user_page(req *r, int status, long long id, json_t *fm, json_t *errors, json_t *pw_errors,
                         const char *notice)
{
	db_res *u = NULL, *t = NULL, *s = NULL;
	if (db_q(r->db, r->a, &u,
	         "SELECT u.id, u.username, u.display_name, u.grid, u.disabled,"
	         " DATE_FORMAT(u.created_at, '%Y-%m-%d %H:%i') AS created,"
	         " DATE_FORMAT(u.last_login_at, '%Y-%m-%d %H:%i') AS last_login,"
	         " DATE_FORMAT(u.password_changed_at, '%Y-%m-%d %H:%i') AS pwc,"
	         " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	         " FROM users u WHERE u.id = ?", DB_INT(id)) != DB_OK ||
	    db_q(r->db, r->a, &s,
	         "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND expires_at > NOW()"
	         " AND last_seen_at > NOW() - INTERVAL ? MINUTE", DB_INT(id), DB_INT(r->cf->session_idle_minutes)) != DB_OK ||
	    db_q(r->db, r->a, &t,
	         "SELECT id, name, role, DATE_FORMAT(expires_at, '%Y-%m-%d') AS expires,"
	         " DATE_FORMAT(last_used_at, '%Y-%m-%d %H:%i') AS used FROM api_tokens"
	         " WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > NOW()) ORDER BY id DESC",
	         DB_INT(id)) != DB_OK) {
		json_decref(fm);
		json_decref(errors);
		json_decref(pw_errors);
		return adm_db_error(r);
	}
	if (u->nrows != 1) {
		json_decref(fm);
		json_decref(errors);
		json_decref(pw_errors);
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	}
	unsigned roles = auth_roles_parse(db_cell(u, 0, "roles"), NULL);
	const char *grid = db_cell(u, 0, "grid"), *ll = db_cell(u, 0, "last_login");
	if (!fm)
		fm = json_pack("{s:s, s:s, s:o}", "display_name", db_cell(u, 0, "display_name"), "grid", grid ? grid : "",
		                 "roles", adm_role_choices(roles));
	json_t *tokens = json_array();
	for (size_t i = 0; i < t->nrows; i++) {
		const char *exp = db_cell(t, i, "expires"), *used = db_cell(t, i, "used");
		json_array_append_new(tokens, json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)db_cell_int(t, i, "id"),
		        "name", db_cell(t, i, "name"), "role", adm_role_label_of(db_cell(t, i, "role")),
		        "expires", exp ? exp : "不过期", "used", used ? used : "从未使用"));
	}
	json_t *grants = grant_choices(r, id);
	if (!grants) {
		json_decref(fm);
		json_decref(errors);
		json_decref(pw_errors);
		return adm_db_error(r);
	}
	auth_user *me = auth_user_of(r);
	json_t *user = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:I}", "id", (json_int_t)id,
	        "username", db_cell(u, 0, "username"), "display_name", db_cell(u, 0, "display_name"),
	        "grid", grid ? grid : "", "roles", auth_roles_join(r->a, roles, "、", 1),
	        "disabled", db_cell_int(u, 0, "disabled") != 0, "created", db_cell(u, 0, "created"),
	        "last_login", ll ? ll : "从未登录", "password_changed", db_cell(u, 0, "pwc"),
	        "sessions", (json_int_t)db_cell_int(s, 0, "n"));
	json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:b}",
	        "title", ar_printf(r->a, "用户：%s", db_cell(u, 0, "display_name")), "user", user, "form", fm,
	        "errors", errors ? errors : json_object(), "pw_errors", pw_errors ? pw_errors : json_object(),
	        "tokens", tokens, "notice", notice ? notice : "", "is_self", me && me->id == id);
	json_object_set_new(data, "grants", grants);
	return adm_page(r, status, "admin_user", data);
}

int h_admin_user(req *r)
{
	long long id = adm_id_param(r);
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	static const struct {
		const char *done;
		int msg;
	} notices[] = {
		{"created", M_DONE_CREATED}, {"saved", M_DONE_SAVED}, {"password", M_DONE_PASSWORD},
		{"disabled", M_DONE_DISABLED}, {"enabled", M_DONE_ENABLED}, {"grants", M_DONE_SAVED},
	};
	const char *done = form_get(&r->query, "done"), *notice = NULL;
	for (size_t i = 0; done && i < sizeof notices / sizeof notices[0]; i++)
		if (strcmp(done, notices[i].done) == 0)
			notice = adm_msg[notices[i].msg];
	return adm_user_page(r, 200, id, NULL, NULL, NULL, notice);
}

struct adm_update_tx {
	req *r;
	long long id;
	const char *display_name, *grid;
	unsigned roles;
	int found;
};

static int adm_update_tx(db *d, void *ctx)
{
	struct adm_update_tx *t = ctx;
	req *r = t->r;
	db_res *old = NULL;
	int rc = db_q(d, r->a, &old, "SELECT display_name, grid FROM users WHERE id = ? FOR UPDATE", DB_INT(t->id));
	if (rc != DB_OK)
		return rc;
	t->found = old->nrows == 1;
	if (!t->found)
		return 1;   /* roll back: nothing to change */
	const char *od = db_cell(old, 0, "display_name"), *og = db_cell(old, 0, "grid");
	json_t *changes = json_object();
	if (strcmp(od, t->display_name) != 0)
		json_object_set_new(changes, "display_name", json_pack("[s, s]", od, t->display_name));
	if (strcmp(og ? og : "", t->grid ? t->grid : "") != 0)
		json_object_set_new(changes, "grid", json_pack("[s?, s?]", og, t->grid));
	if (json_object_size(changes)) {
		rc = db_q(d, r->a, NULL, "UPDATE users SET display_name = ?, grid = ? WHERE id = ?", DB_TEXT(t->display_name),
		          DB_TEXT(t->grid), DB_INT(t->id));
		if (rc == DB_OK)
			rc = audit_log(r, "user.update", "user", adm_ll(r, t->id), json_incref(changes));
	}
	json_decref(changes);
	unsigned granted = 0, revoked = 0;
	if (rc == DB_OK)
		rc = auth_user_set_roles(d, r->a, t->id, t->roles, &granted, &revoked);
	for (const unsigned *b = auth_roles_all; rc == DB_OK && *b; b++) {
		if (granted & *b)
			rc = audit_log(r, "role.grant", "user", adm_ll(r, t->id), json_pack("{s:s}", "role", auth_role_name(*b)));
		else if (revoked & *b)
			rc = audit_log(r, "role.revoke", "user", adm_ll(r, t->id), json_pack("{s:s}", "role", auth_role_name(*b)));
	}
	return rc;
}

int h_admin_user_update(req *r)
{
	long long id = adm_id_param(r);
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	json_t *errors = json_object();
	const char *display = adm_text(r, &adm_rule_display, "display_name", errors);
	const char *grid = adm_text(r, &adm_rule_grid, "grid", errors);
	int bad = 0;
	unsigned roles = adm_form_roles(r, &bad);
	auth_user *me = auth_user_of(r);
	if (bad)
		json_object_set_new(errors, "roles", json_string(adm_msg[M_BAD_ROLE]));
	else if (me->id == id && !(roles & ROLE_ADMIN))
		json_object_set_new(errors, "roles", json_string(adm_msg[M_SELF_ADMIN]));
	else if ((roles & ROLE_GRID) && grid && !*grid)
		json_object_set_new(errors, "grid", json_string(adm_msg[M_NEED_GRID]));
	if (json_object_size(errors) == 0) {
		json_decref(errors);
		struct adm_update_tx t = {r, id, display, grid && *grid ? grid : NULL, roles, 0};
		int rc = db_tx(r->db, adm_update_tx, &t);
		if (!t.found)
			return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
		if (rc != DB_OK)
			return adm_db_error(r);
		return resp_redirect(r, 303, ar_printf(r->a, "/admin/users/%lld?done=saved", id));
	}
	const char *dn = form_get(&r->post, "display_name"), *gr = form_get(&r->post, "grid");
	json_t *fm = json_pack("{s:s, s:s, s:o}", "display_name", dn ? dn : "", "grid", gr ? gr : "",
	                         "roles", adm_role_choices(roles));
	return adm_user_page(r, 422, id, fm, errors, NULL, NULL);
}

struct adm_pw_tx {
	req *r;
	long long id;
	const char *hash;
	int found;
};

static int adm_password_tx(db *d, void *ctx)
{
	struct adm_pw_tx *t = ctx;
	auth_user *me = auth_user_of(t->r);
	db_res *u = NULL;
	int rc = db_q(d, t->r->a, &u, "SELECT id FROM users WHERE id = ? FOR UPDATE", DB_INT(t->id));
	if (rc != DB_OK)
		return rc;
	t->found = u->nrows == 1;
	if (!t->found)
		return 1;
	/* an admin resetting their own password keeps this session */
	rc = auth_user_set_password(d, t->r->a, t->id, t->hash, me->id == t->id ? me->session_id : 0);
	return rc == DB_OK ? audit_log(t->r, "password.reset", "user", adm_ll(t->r, t->id), NULL) : rc;
}

int h_admin_user_password(req *r)
{
	long long id = adm_id_param(r);
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	db_res *u = NULL;
	if (db_q(r->db, r->a, &u, "SELECT username FROM users WHERE id = ?", DB_INT(id)) != DB_OK)
		return adm_db_error(r);
	if (u->nrows != 1)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	const char *pw = form_get(&r->post, "password");
	const char *why = pw && *pw ? auth_password_problem(pw, db_cell(u, 0, "username")) : adm_msg[M_NEED_PW];
	char hash[AUTH_PWHASH_BUF];
	int rc;
	if (why)
		rc = adm_user_page(r, 422, id, NULL, NULL, json_pack("{s:s}", "password", why), NULL);
	else if (auth_password_hash(pw, hash) != 0)
		rc = adm_db_error(r);
	else {
		struct adm_pw_tx t = {r, id, hash, 0};
		int trc = db_tx(r->db, adm_password_tx, &t);
		if (!t.found)
			rc = resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
		else if (trc != DB_OK)
			rc = adm_db_error(r);
		else
			rc = resp_redirect(r, 303, ar_printf(r->a, "/admin/users/%lld?done=password", id));
	}
	adm_wipe_passwords(r);
	return rc;
}

struct adm_disable_tx {
	req *r;
	long long id;
	int disable, changed;
};

static int adm_disable_tx(db *d, void *ctx)
{
	struct adm_disable_tx *t = ctx;
	int rc = auth_user_set_disabled(d, t->r->a, t->id, t->disable, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	return audit_log(t->r, t->disable ? "user.disable" : "user.enable", "user", adm_ll(t->r, t->id), NULL);
}

static int adm_set_disabled(req *r, int disable)
{
	long long id = adm_id_param(r);
	db_res *u = NULL;
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	if (db_q(r->db, r->a, &u, "SELECT id FROM users WHERE id = ?", DB_INT(id)) != DB_OK)
		return adm_db_error(r);
	if (u->nrows != 1)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	if (disable && auth_user_of(r)->id == id)
		return adm_user_page(r, 422, id, NULL, json_pack("{s:s}", "disabled", adm_msg[M_SELF_DISABLE]), NULL, NULL);
	struct adm_disable_tx t = {r, id, disable, 0};
	if (db_tx(r->db, adm_disable_tx, &t) != DB_OK)
		return adm_db_error(r);
	return resp_redirect(r, 303, ar_printf(r->a, "/admin/users/%lld?done=%s", id, disable ? "disabled" : "enabled"));
}

int h_admin_user_disable(req *r)
{
	return adm_set_disabled(r, 1);
}

int h_admin_user_enable(req *r)
{
	return adm_set_disabled(r, 0);
}

/* --- grants (plugin-defined permissions, grants.h) */

struct adm_grants_tx {
	req *r;
	long long id;
	json_t *want;          /* {full name: true|false} for every grant of the loaded plugins */
	int found;
};

static int adm_grants_tx(db *d, void *ctx)
{
	struct adm_grants_tx *t = ctx;
	db_res *u = NULL;
	int rc = db_q(d, t->r->a, &u, "SELECT id FROM users WHERE id = ? FOR UPDATE", DB_INT(t->id));
	if (rc != DB_OK)
		return rc;
	t->found = u->nrows == 1;
	if (!t->found)
		return 1;
	const char *name;
	json_t *on;
	json_object_foreach(t->want, name, on) {
		int changed = 0;
		rc = grant_set(d, t->r->a, t->id, name, json_is_true(on), auth_user_of(t->r)->id, &changed);
		if (rc == DB_OK && changed)
			rc = audit_log(t->r, json_is_true(on) ? "grant.add" : "grant.remove", "user", adm_ll(t->r, t->id),
			               json_pack("{s:s}", "grant", name));
		if (rc != DB_OK)
			return rc;
	}
	return DB_OK;
}

int h_admin_user_grants(req *r)
{
	long long id = adm_id_param(r);
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	/* every grant of the loaded plugins: ticked ones on, the rest off */
	json_t *want = json_object();
	json_t *all = grant_choices(r, id);
	if (!all) {
		json_decref(want);
		return adm_db_error(r);
	}
	size_t i, j;
	json_t *pl, *g;
	json_array_foreach(all, i, pl)
		json_array_foreach(json_object_get(pl, "grants"), j, g)
			json_object_set_new(want, json_string_value(json_object_get(g, "name")), json_false());
	json_decref(all);
	for (const form_field *f = r->post.head; f; f = f->next)
		if (strcmp(f->name, "grants") == 0) {
			if (!json_object_get(want, f->value)) {
				json_decref(want);
				return adm_user_page(r, 422, id, NULL, json_pack("{s:s}", "grants", adm_msg[M_BAD_GRANT]), NULL, NULL);
			}
			json_object_set_new(want, f->value, json_true());
		}
	struct adm_grants_tx t = {r, id, want, 0};
	int rc = db_tx(r->db, adm_grants_tx, &t);
	json_decref(want);
	if (!t.found)
		return resp_error(r, 404, NULL, adm_msg[M_NO_USER], NULL);
	if (rc != DB_OK)
		return adm_db_error(r);
	return resp_redirect(r, 303, ar_printf(r->a, "/admin/users/%lld?done=grants", id));
}

/* --- API tokens */

/* The tokens page. Form values fm and errors (may be NULL) are stolen. */
static int adm_tokens_page(req *r, int status, json_t *fm, json_t *errors, const char *notice)
{
	db_res *t = NULL;
	if (db_q0(r->db, r->a, &t,
	          "SELECT t.id, t.name, t.role, u.id AS uid, u.username, u.display_name, u.disabled,"
	          " DATE_FORMAT(t.created_at, '%Y-%m-%d %H:%i') AS created,"
	          " DATE_FORMAT(t.expires_at, '%Y-%m-%d %H:%i') AS expires,"
	          " DATE_FORMAT(t.last_used_at, '%Y-%m-%d %H:%i') AS used,"
	          " DATE_FORMAT(t.revoked_at, '%Y-%m-%d %H:%i') AS revoked,"
	          " t.expires_at IS NOT NULL AND t.expires_at <= NOW() AS expired"
	          " FROM api_tokens t JOIN users u ON u.id = t.user_id"
	          " ORDER BY t.revoked_at IS NOT NULL, t.id DESC LIMIT 500") != DB_OK) {
		json_decref(fm);
		json_decref(errors);
		return adm_db_error(r);
	}
	json_t *tokens = json_array();
	for (size_t i = 0; i < t->nrows; i++) {
		const char *exp = db_cell(t, i, "expires"), *used = db_cell(t, i, "used"), *rev = db_cell(t, i, "revoked");
		int expired = db_cell_int(t, i, "expired") != 0, off = db_cell_int(t, i, "disabled") != 0;
		const char *state = rev ? "已撤销" : expired ? "已过期" : off ? "用户已停用" : "有效";
		json_array_append_new(tokens, json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
		        "id", (json_int_t)db_cell_int(t, i, "id"), "name", db_cell(t, i, "name"),
		        "role", adm_role_label_of(db_cell(t, i, "role")), "user_id", (json_int_t)db_cell_int(t, i, "uid"),
		        "username", db_cell(t, i, "username"), "display_name", db_cell(t, i, "display_name"),
		        "created", db_cell(t, i, "created"), "expires", exp ? exp : "不过期", "used", used ? used : "从未使用",
		        "state", state, "live", !rev && !expired));
	}
	if (!fm)
		fm = json_pack("{s:s, s:s, s:s}", "username", form_get(&r->query, "user") ? form_get(&r->query, "user") : "",
		                 "name", "", "days", "90");
	const char *sel = json_string_value(json_object_get(fm, "role"));
	json_t *roles = json_array();
	json_array_append_new(roles, json_pack("{s:s, s:s, s:b}", "name", "", "label", "全部角色", "selected", !sel || !*sel));
	for (const unsigned *b = auth_roles_all; *b; b++)
		json_array_append_new(roles, json_pack("{s:s, s:s, s:b}", "name", auth_role_name(*b), "label",
		                                       auth_role_label(*b), "selected", sel && strcmp(sel, auth_role_name(*b)) == 0));
	json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:s}", "title", "访问令牌", "tokens", tokens, "form", fm,
	                         "roles", roles, "errors", errors ? errors : json_object(), "notice", notice ? notice : "");
	return adm_page(r, status, "admin_tokens", data);
}

int h_admin_tokens(req *r)
{
	const char *done = form_get(&r->query, "done");
	return adm_tokens_page(r, 200, NULL, NULL, done && strcmp(done, "revoked") == 0 ? adm_msg[M_DONE_REVOKED] : NULL);
}

struct adm_token_tx {
	req *r;
	long long user_id;
	const char *username, *name, *role;
	int days;
	char token[AUTH_TOKEN_BUF];
	long long id;
};

static int adm_token_tx(db *d, void *ctx)
{
	struct adm_token_tx *t = ctx;
	int rc = auth_token_insert(d, t->r->a, t->user_id, t->name, t->role, t->days, t->token, &t->id);
	if (rc != DB_OK)
		return rc;
	return audit_log(t->r, "token.create", "token", adm_ll(t->r, t->id),
	                 json_pack("{s:I, s:s, s:s, s:s?, s:i}", "user_id", (json_int_t)t->user_id, "username", t->username,
	                           "name", t->name, "role", t->role, "days", t->days));
}

int h_admin_token_create(req *r)
{
	json_t *errors = json_object();
	const char *typed = form_get(&r->post, "username"), *role = form_get(&r->post, "role");
	const char *days_s = form_get(&r->post, "days");
	const char *name = adm_text(r, &adm_rule_token_name, "name", errors);
	char *username = ar_strdup(r->a, typed ? typed : "");
	for (char *p = username; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (role && !*role)
		role = NULL;
	val_rule days_rule = {"days", VAL_INT, 0, 0, ADM_TOKEN_MAX_DAYS, NULL, "有效天数"};
	val_value dv;
	val_error de;
	if (val_one(r->a, &days_rule, days_s, &dv, &de) != 0)
		json_object_set_new(errors, "days", json_string(adm_msg[M_DAYS]));
	db_res *u = NULL;
	if (!*username)
		json_object_set_new(errors, "username", json_string(adm_msg[M_NEED_USER]));
	else if (db_q(r->db, r->a, &u,
	              "SELECT u.id, (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	              " FROM users u WHERE u.username = ? AND u.disabled = 0", DB_TEXT(username)) != DB_OK) {
		json_decref(errors);
		return adm_db_error(r);
	} else if (u->nrows != 1)
		json_object_set_new(errors, "username", json_string(adm_msg[M_TOKEN_USER]));
	else if (role && !(auth_role_bit(role) & auth_roles_parse(db_cell(u, 0, "roles"), NULL)))
		json_object_set_new(errors, "role", json_string(adm_msg[M_TOKEN_ROLE]));
	if (json_object_size(errors)) {
		json_t *fm = json_pack("{s:s, s:s, s:s, s:s}", "username", typed ? typed : "",
		                         "name", form_get(&r->post, "name") ? form_get(&r->post, "name") : "",
		                         "days", days_s ? days_s : "", "role", role ? role : "");
		return adm_tokens_page(r, 422, fm, errors, NULL);
	}
	json_decref(errors);
	struct adm_token_tx t = {r, db_cell_int(u, 0, "id"), username, name ? name : "", role, (int)dv.i, "", 0};
	if (db_tx(r->db, adm_token_tx, &t) != DB_OK)
		return adm_db_error(r);
	db_res *e = NULL;
	const char *expires = "不过期";
	if (t.days > 0 && db_q(r->db, r->a, &e, "SELECT DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i') AS x FROM api_tokens"
	                                       " WHERE id = ?", DB_INT(t.id)) == DB_OK && e->nrows == 1)
		expires = db_cell(e, 0, "x");
	json_t *data = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "title", "新的访问令牌", "token", t.token,
	                         "id", (json_int_t)t.id, "username", username, "name", t.name,
	                         "role", adm_role_label_of(role), "expires", expires);
	sodium_memzero(t.token, sizeof t.token);
	resp_header(r, "Cache-Control", "no-store");
	return adm_page(r, 201, "admin_token_new", data);
}

struct adm_revoke_tx {
	req *r;
	long long id;
	int changed;
};

static int adm_revoke_tx(db *d, void *ctx)
{
	struct adm_revoke_tx *t = ctx;
	int rc = auth_token_revoke(d, t->r->a, t->id, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	return audit_log(t->r, "token.revoke", "token", adm_ll(t->r, t->id), NULL);
}

int h_admin_token_revoke(req *r)
{
	long long id = adm_id_param(r);
	db_res *e = NULL;
	if (!id)
		return resp_error(r, 404, NULL, adm_msg[M_NO_TOKEN], NULL);
	if (db_q(r->db, r->a, &e, "SELECT id FROM api_tokens WHERE id = ?", DB_INT(id)) != DB_OK)
		return adm_db_error(r);
	if (e->nrows != 1)
		return resp_error(r, 404, NULL, adm_msg[M_NO_TOKEN], NULL);
	struct adm_revoke_tx t = {r, id, 0};
	if (db_tx(r->db, adm_revoke_tx, &t) != DB_OK)
		return adm_db_error(r);
	return resp_redirect(r, 303, "/admin/tokens?done=revoked");
}

/* --- the audit log */

struct adm_filter {
	const char *user, *action, *from, *to, *object_type, *object_id;
	long long page;
	json_t *errors;            /* field -> message */
	char sql[1024];            /* WHERE clause (or "") */
	db_param p[8];
	size_t np;
};

/* Read and check the filters of the query string, building the WHERE clause. */
static void adm_filter_read(req *r, struct adm_filter *f)
{
	memset(f, 0, sizeof *f);
	f->errors = json_object();
	f->page = 1;
	struct {
		const char *field, **out;
	} texts[] = {
		{"user", &f->user}, {"action", &f->action}, {"object_type", &f->object_type}, {"object_id", &f->object_id},
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		val_value v;
		val_error e;
		if (val_one(r->a, &adm_rule_filter, form_get(&r->query, texts[i].field), &v, &e) != 0)
			json_object_set_new(f->errors, texts[i].field, json_string(e.message));
		*texts[i].out = v.present ? v.s : "";
	}
	static const val_rule date = {"date", VAL_DATE, 0, 0, 0, NULL, "日期"};
	const char *dates[2] = {"from", "to"};
	const char **dout[2] = {&f->from, &f->to};
	for (int i = 0; i < 2; i++) {
		val_value v;
		val_error e;
		if (val_one(r->a, &date, form_get(&r->query, dates[i]), &v, &e) != 0)
			json_object_set_new(f->errors, dates[i], json_string(adm_msg[M_BAD_DATE]));
		*dout[i] = v.present ? v.s : "";
	}
	static const val_rule page = {"page", VAL_INT, 0, 1, 100000, NULL, "页码"};
	val_value pv;
	val_error pe;
	if (val_one(r->a, &page, form_get(&r->query, "page"), &pv, &pe) == 0 && pv.present)
		f->page = pv.i;

	buf w = BUF_INIT;
	const struct {
		const char *val, *cond;
	} conds[] = {
		{f->user, "actor = ?"}, {f->action, "action = ?"}, {f->from, "at >= ?"},
		{f->to, "at < ? + INTERVAL 1 DAY"}, {f->object_type, "object_type = ?"}, {f->object_id, "object_id = ?"},
	};
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		if (!*conds[i].val)
			continue;
		buf_adds(&w, f->np ? " AND " : " WHERE ");
		buf_adds(&w, conds[i].cond);
		f->p[f->np++] = DB_TEXT(conds[i].val);
	}
	snprintf(f->sql, sizeof f->sql, "%s", buf_str(&w));
	buf_free(&w);
}

/* The filters as a query string (values percent-encoded), without page. */
static const char *adm_filter_query(req *r, const struct adm_filter *f)
{
	buf q = BUF_INIT;
	const struct {
		const char *name, *val;
	} kv[] = {
		{"user", f->user}, {"action", f->action}, {"from", f->from}, {"to", f->to},
		{"object_type", f->object_type}, {"object_id", f->object_id},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		if (!*kv[i].val)
			continue;
		buf_adds(&q, q.len ? "&" : "");
		buf_adds(&q, kv[i].name);
		buf_addc(&q, '=');
		html_urlpart(&q, kv[i].val, strlen(kv[i].val));
	}
	const char *s = ar_strdup(r->a, buf_str(&q));
	buf_free(&q);
	return s;
}

#define ADM_AUDIT_COLS \
	"SELECT id, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s') AS at_text, user_id, token_id, actor, ip, action," \
	" object_type, object_id, detail FROM audit_log"

int h_admin_audit(req *r)
{
	struct adm_filter f;
	adm_filter_read(r, &f);
	json_t *entries = json_array();
	int more = 0, status = 200;
	if (json_object_size(f.errors) == 0) {
		db_res *res = NULL;
		f.p[f.np] = DB_INT(ADM_AUDIT_PAGE + 1);
		f.p[f.np + 1] = DB_INT((f.page - 1) * ADM_AUDIT_PAGE);
		const char *sql = ar_printf(r->a, "%s%s ORDER BY id DESC LIMIT ? OFFSET ?", ADM_AUDIT_COLS, f.sql);
		if (db_exec(r->db, r->a, &res, sql, f.p, f.np + 2) != DB_OK) {
			json_decref(entries);
			json_decref(f.errors);
			return adm_db_error(r);
		}
		more = res->nrows > ADM_AUDIT_PAGE;
		for (size_t i = 0; i < res->nrows && i < ADM_AUDIT_PAGE; i++) {
			const char *action = db_cell(res, i, "action");
			json_array_append_new(entries, json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
			        "id", (json_int_t)db_cell_int(res, i, "id"), "at", db_cell(res, i, "at_text"),
			        "actor", db_cell(res, i, "actor"), "user_id", (json_int_t)db_cell_int(res, i, "user_id"),
			        "token_id", (json_int_t)db_cell_int(res, i, "token_id"), "ip", db_cell(res, i, "ip"),
			        "action", action, "label", audit_action_label(action),
			        "object_type", db_cell(res, i, "object_type"), "object_id", db_cell(res, i, "object_id"),
			        "detail", db_cell(res, i, "detail")));
		}
	} else
		status = 422;
	json_t *actions = json_array();
	json_array_append_new(actions, json_pack("{s:s, s:s, s:b}", "name", "", "label", "全部操作", "selected", !*f.action));
	for (const char *const *a = audit_actions; *a; a++)
		json_array_append_new(actions, json_pack("{s:s, s:s, s:b}", "name", *a, "label", audit_action_label(*a),
		                                         "selected", strcmp(*a, f.action) == 0));
	const char *q = adm_filter_query(r, &f);
	const char *sep = *q ? "&" : "";
	json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:I, s:s, s:s, s:s,"
	                         " s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
	        "title", "审计日志", "entries", entries, "actions", actions, "errors", f.errors, "page", (json_int_t)f.page,
	        "prev_url", f.page > 1 ? ar_printf(r->a, "/admin/audit?%s%spage=%lld", q, sep, f.page - 1) : "",
	        "next_url", more ? ar_printf(r->a, "/admin/audit?%s%spage=%lld", q, sep, f.page + 1) : "",
	        "csv_url", ar_printf(r->a, "/admin/audit.csv%s%s", *q ? "?" : "", q),
	        "filter", "user", f.user, "action", f.action, "from", f.from, "to", f.to, "object_type", f.object_type,
	        "object_id", f.object_id);
	return adm_page(r, status, "admin_audit", data);
}

static void adm_csv_row(buf *b, const char *const *cells, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		const char *c = cells[i] ? cells[i] : "";
		html_csv_cell(b, c, strlen(c));
	}
	buf_adds(b, "\r\n");
}

int h_admin_audit_csv(req *r)
{
	struct adm_filter f;
	adm_filter_read(r, &f);
	if (json_object_size(f.errors)) {
		json_decref(f.errors);
		return resp_error(r, 422, "invalid_input", adm_msg[M_FILTER], NULL);
	}
	json_decref(f.errors);
	db_res *res = NULL;
	f.p[f.np] = DB_INT(ADM_EXPORT_MAX);
	const char *sql = ar_printf(r->a, "%s%s ORDER BY id LIMIT ?", ADM_AUDIT_COLS, f.sql);
	if (db_exec(r->db, r->a, &res, sql, f.p, f.np + 1) != DB_OK)
		return adm_db_error(r);
	/* no export leaves without its own entry (a HEAD request sends no rows) */
	json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "user", f.user, "action", f.action, "from", f.from,
	                           "to", f.to, "object_type", f.object_type, "object_id", f.object_id,
	                           "rows", (json_int_t)res->nrows);
	if (r->head)
		json_decref(detail);
	else if (audit_log(r, "audit.export", "audit_log", "", detail) != DB_OK)
		return adm_db_error(r);
	buf_reset(&r->body_out);
	buf_adds(&r->body_out, "\xEF\xBB\xBF");   /* UTF-8 BOM: spreadsheets then read Chinese right */
	static const char *const head[] = {"编号", "时间", "用户", "用户编号", "令牌编号", "IP地址", "操作", "操作说明",
	                                   "对象类型", "对象编号", "详情"};
	adm_csv_row(&r->body_out, head, sizeof head / sizeof head[0]);
	for (size_t i = 0; i < res->nrows; i++) {
		const char *cells[] = {
			db_cell(res, i, "id"), db_cell(res, i, "at_text"), db_cell(res, i, "actor"), db_cell(res, i, "user_id"),
			db_cell(res, i, "token_id"), db_cell(res, i, "ip"), db_cell(res, i, "action"),
			audit_action_label(db_cell(res, i, "action")), db_cell(res, i, "object_type"),
			db_cell(res, i, "object_id"), db_cell(res, i, "detail"),
		};
		adm_csv_row(&r->body_out, cells, sizeof cells / sizeof cells[0]);
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char disp[80];
	strftime(disp, sizeof disp, "attachment; filename=\"audit-%Y%m%d-%H%M%S.csv\"", &tm);
	resp_header(r, "Content-Disposition", disp);
	resp_header(r, "Cache-Control", "no-store");
	r->status = 200;
	r->ctype = "text/csv; charset=utf-8";
	return 200;
}

/* --- the command line */

/* What a command line change is recorded as: actor "cli", the OS user in detail. */
struct adm_cli {
	const conf *cf;
	db *d;
	arena *a;
	audit_actor who;
	const char *os_user;
};

static int adm_cli_open(struct adm_cli *c, const conf *cf)
{
	char err[512];
	memset(c, 0, sizeof *c);
	c->cf = cf;
	c->d = db_open(cf, err, sizeof err);
	if (!c->d) {
		fprintf(stderr, "portald: database: %s\n", err);
		return -1;
	}
	c->a = ar_new(0);
	struct passwd *pw = getpwuid(geteuid());
	c->os_user = ar_strdup(c->a, pw ? pw->pw_name : "?");
	c->who = (audit_actor){0, 0, "cli", ""};
	return 0;
}

static void adm_cli_close(struct adm_cli *c)
{
	db_close(c->d);
	ar_free(c->a);
}

/* Audit detail for the command line: the given object (stolen, may be NULL)
 * with "via" and "os_user" added. */
static json_t *adm_cli_detail(struct adm_cli *c, json_t *o)
{
	if (!o)
		o = json_object();
	json_object_set_new(o, "via", json_string("cli"));
	json_object_set_new(o, "os_user", json_string(c->os_user));
	return o;
}

/* The value of option name in argv[from..argc) ("--name V" or "--name=V"),
 * its nth occurrence (from 0); NULL when absent. */
static const char *adm_opt(int argc, char **argv, int from, const char *name, int nth)
{
	size_t n = strlen(name);
	for (int i = from; i < argc; i++) {
		if (strncmp(argv[i], name, n) != 0)
			continue;
		const char *v = NULL;
		if (argv[i][n] == '=')
			v = argv[i] + n + 1;
		else if (argv[i][n] == 0 && i + 1 < argc)
			v = argv[++i];
		else
			continue;
		if (nth-- == 0)
			return v;
	}
	return NULL;
}

/* Every argument from argv[from] on is a known option with a value. */
static int adm_opts_ok(int argc, char **argv, int from, const char *const *known)
{
	for (int i = from; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		int found = 0;
		for (const char *const *k = known; *k && !found; k++)
			found = strlen(*k) == n && strncmp(argv[i], *k, n) == 0;
		if (!found) {
			fprintf(stderr, "portald: unknown argument \"%s\"\n", argv[i]);
			return 0;
		}
		if (!eq && ++i >= argc) {
			fprintf(stderr, "portald: %s needs a value\n", argv[i - 1]);
			return 0;
		}
	}
	return 1;
}

/* The new password: the first line of stdin (asked twice, without echo, on a
 * terminal). Checked against the password rules. 0, or -1 with a message. */
static int adm_read_password(const char *username, char *out, size_t outn)
{
	int tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	char again[AUTH_PASSWORD_MAX + 2];
	int rc = 0;
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else
		tty = 0;
	if (tty)
		fprintf(stderr, "Password for %s: ", username);
	if (!fgets(out, (int)outn, stdin))
		out[0] = 0;
	if (tty) {
		fprintf(stderr, "\nAgain: ");
		if (!fgets(again, sizeof again, stdin))
			again[0] = 0;
		fprintf(stderr, "\n");
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	}
	out[strcspn(out, "\r\n")] = 0;
	again[tty ? strcspn(again, "\r\n") : 0] = 0;
	const char *why = auth_password_problem(out, username);
	if (!*out) {
		fprintf(stderr, "portald: no password on stdin (give it as the first line)\n");
		rc = -1;
	} else if (tty && strcmp(out, again) != 0) {
		fprintf(stderr, "portald: the two passwords differ\n");
		rc = -1;
	} else if (why) {
		fprintf(stderr, "portald: password refused: %s\n", why);
		rc = -1;
	}
	sodium_memzero(again, sizeof again);
	if (rc)
		sodium_memzero(out, outn);
	return rc;
}

static int adm_cli_user_add_tx(db *d, void *ctx)
{
	struct adm_cli *c = ((void **)ctx)[0];
	struct adm_create_tx *t = ((void **)ctx)[1];
	int rc = auth_user_insert(d, c->a, t->username, t->display_name, t->grid, t->roles, t->hash, &t->id);
	if (rc != DB_OK)
		return rc;
	json_t *roles = json_array();
	for (const unsigned *b = auth_roles_all; *b; b++)
		if (t->roles & *b)
			json_array_append_new(roles, json_string(auth_role_name(*b)));
	return audit_write(d, c->a, &c->who, "user.create", "user", ar_printf(c->a, "%lld", t->id),
	                   adm_cli_detail(c, json_pack("{s:s, s:s, s:s?, s:o}", "username", t->username,
	                                               "display_name", t->display_name, "grid", t->grid, "roles", roles)));
}

static int adm_cli_user_add(struct adm_cli *c, int argc, char **argv)
{
	static const char *const known[] = {"--role", "--display-name", "--grid", NULL};
	if (argc < 3 || !adm_opts_ok(argc, argv, 3, known)) {
		fprintf(stderr, "usage: portald user add NAME --role R [--role R2]... [--display-name X] [--grid G]\n");
		return 2;
	}
	const char *name = argv[2];
	if (!auth_username_ok(name)) {
		fprintf(stderr, "portald: bad user name \"%s\": 2 to 32 of a-z 0-9 . _ -, starting with a letter or digit\n",
		        name);
		return 2;
	}
	unsigned roles = 0;
	for (int i = 0; adm_opt(argc, argv, 3, "--role", i); i++) {
		const char *rn = adm_opt(argc, argv, 3, "--role", i);
		unsigned bit = auth_role_bit(rn);
		if (!bit) {
			fprintf(stderr, "portald: unknown role \"%s\" (admin, staff, grid, volunteer, approver)\n", rn);
			return 2;
		}
		roles |= bit;
	}
	if (!roles) {
		fprintf(stderr, "portald: give at least one --role\n");
		return 2;
	}
	const char *display = adm_opt(argc, argv, 3, "--display-name", 0);
	const char *grid = adm_opt(argc, argv, 3, "--grid", 0);
	val_value v;
	val_error e;
	if (display && val_one(c->a, &adm_rule_display, display, &v, &e) != 0) {
		fprintf(stderr, "portald: --display-name: %s\n", e.message);
		return 2;
	}
	display = display ? v.s : name;
	if (grid && val_one(c->a, &adm_rule_grid, grid, &v, &e) != 0) {
		fprintf(stderr, "portald: --grid: %s\n", e.message);
		return 2;
	}
	grid = grid && *v.s ? v.s : NULL;
	if ((roles & ROLE_GRID) && !grid) {
		fprintf(stderr, "portald: a grid worker needs --grid\n");
		return 2;
	}
	char pw[AUTH_PASSWORD_MAX + 2], hash[AUTH_PWHASH_BUF];
	if (adm_read_password(name, pw, sizeof pw) != 0)
		return 1;
	int hrc = auth_password_hash(pw, hash);
	sodium_memzero(pw, sizeof pw);
	if (hrc != 0) {
		fprintf(stderr, "portald: out of memory hashing the password\n");
		return 1;
	}
	struct adm_create_tx t = {NULL, name, display, grid, hash, roles, 0};
	void *ctx[2] = {c, &t};
	int rc = db_tx(c->d, adm_cli_user_add_tx, ctx);
	if (rc == DB_EDUP) {
		fprintf(stderr, "portald: user \"%s\" exists already\n", name);
		return 1;
	}
	if (rc != DB_OK) {
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
		return 1;
	}
	printf("created user %s (id %lld) with roles %s\n", name, t.id, auth_roles_join(c->a, roles, ", ", 0));
	return 0;
}

/* The id of an existing user or 0 with a message. */
static long long adm_cli_user_id(struct adm_cli *c, const char *name)
{
	long long id = auth_user_id(c->d, c->a, name);
	if (id < 0)
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
	else if (id == 0)
		fprintf(stderr, "portald: no user \"%s\"\n", name);
	return id > 0 ? id : 0;
}

struct adm_cli_change {
	struct adm_cli *c;
	long long id;
	const char *hash;
	int disable, changed;
};

static int adm_cli_passwd_tx(db *d, void *ctx)
{
	struct adm_cli_change *t = ctx;
	int rc = auth_user_set_password(d, t->c->a, t->id, t->hash, 0);
	return rc == DB_OK ? audit_write(d, t->c->a, &t->c->who, "password.reset", "user",
	                                 ar_printf(t->c->a, "%lld", t->id), adm_cli_detail(t->c, NULL)) : rc;
}

static int adm_cli_disable_tx(db *d, void *ctx)
{
	struct adm_cli_change *t = ctx;
	int rc = auth_user_set_disabled(d, t->c->a, t->id, t->disable, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	return audit_write(d, t->c->a, &t->c->who, t->disable ? "user.disable" : "user.enable", "user",
	                   ar_printf(t->c->a, "%lld", t->id), adm_cli_detail(t->c, NULL));
}

static int adm_cli_user_list(struct adm_cli *c)
{
	db_res *res = NULL;
	if (db_q0(c->d, c->a, &res,
	          "SELECT u.id, u.username, u.display_name, u.grid, u.disabled,"
	          " DATE_FORMAT(u.last_login_at, '%Y-%m-%d %H:%i') AS last_login,"
	          " (SELECT GROUP_CONCAT(role ORDER BY role) FROM user_roles WHERE user_id = u.id) AS roles"
	          " FROM users u ORDER BY u.username") != DB_OK) {
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
		return 1;
	}
	printf("%-6s %-20s %-24s %-10s %-9s %s\n", "id", "username", "roles", "grid", "state", "last login");
	for (size_t i = 0; i < res->nrows; i++) {
		const char *roles = db_cell(res, i, "roles"), *grid = db_cell(res, i, "grid");
		const char *ll = db_cell(res, i, "last_login");
		printf("%-6s %-20s %-24s %-10s %-9s %s\n", db_cell(res, i, "id"), db_cell(res, i, "username"),
		       roles ? roles : "-", grid ? grid : "-", db_cell_int(res, i, "disabled") ? "disabled" : "active",
		       ll ? ll : "never");
	}
	return 0;
}

int h_cmd_user(conf *cf, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0)
		return grant_cmd(cf, argc, argv);
	static const char *const subs[] = {"add", "passwd", "disable", "enable", "list", NULL};
	int known = 0;
	for (const char *const *s = subs; *s; s++)
		known |= strcmp(sub, *s) == 0;
	if (!known || (strcmp(sub, "list") != 0 && argc < 3) || (strcmp(sub, "add") != 0 && argc > 3)) {
		fprintf(stderr, "usage: portald user add|passwd|disable|enable NAME ..., portald user list,"
		                " portald user grant|revoke NAME PLUGIN.GRANT\n");
		return 2;
	}
	struct adm_cli c;
	if (adm_cli_open(&c, cf) != 0)
		return 1;
	int rc = 1;
	if (strcmp(sub, "add") == 0)
		rc = adm_cli_user_add(&c, argc, argv);
	else if (strcmp(sub, "list") == 0)
		rc = adm_cli_user_list(&c);
	else {
		struct adm_cli_change t = {&c, adm_cli_user_id(&c, argv[2]), NULL, strcmp(sub, "disable") == 0, 0};
		char pw[AUTH_PASSWORD_MAX + 2], hash[AUTH_PWHASH_BUF];
		if (!t.id)
			rc = 1;
		else if (strcmp(sub, "passwd") == 0) {
			if (adm_read_password(argv[2], pw, sizeof pw) != 0)
				rc = 1;
			else if (auth_password_hash(pw, hash) != 0)
				fprintf(stderr, "portald: out of memory hashing the password\n");
			else {
				t.hash = hash;
				rc = db_tx(c.d, adm_cli_passwd_tx, &t) == DB_OK ? 0 : 1;
				if (rc == 0)
					printf("password of %s changed; their sessions have ended\n", argv[2]);
			}
			sodium_memzero(pw, sizeof pw);
		} else {
			rc = db_tx(c.d, adm_cli_disable_tx, &t) == DB_OK ? 0 : 1;
			if (rc == 0)
				printf("%s %s%s\n", argv[2], t.disable ? "disabled" : "enabled", t.changed ? "" : " (it was already)");
		}
		if (rc == 1 && t.id && db_errno(c.d))
			fprintf(stderr, "portald: database: %s\n", db_errmsg(c.d));
	}
	adm_cli_close(&c);
	return rc;
}

struct adm_cli_token {
	struct adm_cli *c;
	long long user_id, id;
	const char *username, *name, *role;
	int days, changed;
	char token[AUTH_TOKEN_BUF];
};

static int adm_cli_token_tx(db *d, void *ctx)
{
	struct adm_cli_token *t = ctx;
	struct adm_cli *c = t->c;
	int rc = auth_token_insert(d, c->a, t->user_id, t->name, t->role, t->days, t->token, &t->id);
	if (rc != DB_OK)
		return rc;
	return audit_write(d, c->a, &c->who, "token.create", "token", ar_printf(c->a, "%lld", t->id),
	                   adm_cli_detail(c, json_pack("{s:I, s:s, s:s, s:s?, s:i}", "user_id", (json_int_t)t->user_id,
	                                               "username", t->username, "name", t->name, "role", t->role,
	                                               "days", t->days)));
}

static int adm_cli_token_create(struct adm_cli *c, int argc, char **argv)
{
	static const char *const known[] = {"--role", "--expires", "--name", NULL};
	if (argc < 3 || !adm_opts_ok(argc, argv, 3, known)) {
		fprintf(stderr, "usage: portald token create USER [--role R] [--expires DAYS] [--name N]\n");
		return 2;
	}
	struct adm_cli_token t = {c, 0, 0, argv[2], adm_opt(argc, argv, 3, "--name", 0),
	                          adm_opt(argc, argv, 3, "--role", 0), 0, 0, ""};
	const char *exp = adm_opt(argc, argv, 3, "--expires", 0);
	if (exp) {
		char *end;
		long v = strtol(exp, &end, 10);
		if (*exp < '0' || *exp > '9' || *end || v < 0 || v > ADM_TOKEN_MAX_DAYS) {
			fprintf(stderr, "portald: --expires: whole days from 0 (never) to %d\n", ADM_TOKEN_MAX_DAYS);
			return 2;
		}
		t.days = (int)v;
	}
	val_value v;
	val_error e;
	if (t.name && val_one(c->a, &adm_rule_token_name, t.name, &v, &e) != 0) {
		fprintf(stderr, "portald: --name: %s\n", e.message);
		return 2;
	}
	t.name = t.name ? v.s : "";
	if (t.role && !auth_role_bit(t.role)) {
		fprintf(stderr, "portald: unknown role \"%s\"\n", t.role);
		return 2;
	}
	db_res *u = NULL;
	if (db_q(c->d, c->a, &u, "SELECT u.id, u.disabled,"
	                         " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	                         " FROM users u WHERE u.username = ?", DB_TEXT(t.username)) != DB_OK) {
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
		return 1;
	}
	if (u->nrows != 1 || db_cell_int(u, 0, "disabled")) {
		fprintf(stderr, "portald: no active user \"%s\"\n", t.username);
		return 1;
	}
	unsigned roles = auth_roles_parse(db_cell(u, 0, "roles"), NULL);
	if (t.role && !(auth_role_bit(t.role) & roles)) {
		fprintf(stderr, "portald: %s does not hold the role %s\n", t.username, t.role);
		return 1;
	}
	t.user_id = db_cell_int(u, 0, "id");
	if (db_tx(c->d, adm_cli_token_tx, &t) != DB_OK) {
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
		return 1;
	}
	fprintf(stderr, "token %lld for %s (roles: %s; %s); it is shown once, below\n", t.id, t.username,
	        t.role ? t.role : auth_roles_join(c->a, roles, ",", 0),
	        t.days ? ar_printf(c->a, "expires in %d days", t.days) : "never expires");
	printf("%s\n", t.token);
	fflush(stdout);
	sodium_memzero(t.token, sizeof t.token);
	return 0;
}

static int adm_cli_token_revoke_tx(db *d, void *ctx)
{
	struct adm_cli_token *t = ctx;
	int rc = auth_token_revoke(d, t->c->a, t->id, &t->changed);
	if (rc != DB_OK || !t->changed)
		return rc;
	return audit_write(d, t->c->a, &t->c->who, "token.revoke", "token", ar_printf(t->c->a, "%lld", t->id),
	                   adm_cli_detail(t->c, NULL));
}

static int adm_cli_token_list(struct adm_cli *c, const char *user)
{
	db_res *res = NULL;
	const char *sql = "SELECT t.id, u.username, t.name, t.role, DATE_FORMAT(t.expires_at, '%Y-%m-%d %H:%i') AS expires,"
	                  " DATE_FORMAT(t.last_used_at, '%Y-%m-%d %H:%i') AS used, t.revoked_at IS NOT NULL AS revoked,"
	                  " t.expires_at IS NOT NULL AND t.expires_at <= NOW() AS expired"
	                  " FROM api_tokens t JOIN users u ON u.id = t.user_id";
	int rc = user ? db_q(c->d, c->a, &res, ar_printf(c->a, "%s WHERE u.username = ? ORDER BY t.id", sql), DB_TEXT(user))
	              : db_q0(c->d, c->a, &res, ar_printf(c->a, "%s ORDER BY t.id", sql));
	if (rc != DB_OK) {
		fprintf(stderr, "portald: database: %s\n", db_errmsg(c->d));
		return 1;
	}
	printf("%-6s %-20s %-10s %-9s %-16s %-16s %s\n", "id", "user", "role", "state", "expires", "last used", "name");
	for (size_t i = 0; i < res->nrows; i++) {
		const char *role = db_cell(res, i, "role"), *exp = db_cell(res, i, "expires"), *used = db_cell(res, i, "used");
		printf("%-6s %-20s %-10s %-9s %-16s %-16s %s\n", db_cell(res, i, "id"), db_cell(res, i, "username"),
		       role ? role : "all", db_cell_int(res, i, "revoked") ? "revoked" : db_cell_int(res, i, "expired") ? "expired" : "live",
		       exp ? exp : "never", used ? used : "never", db_cell(res, i, "name"));
	}
	return 0;
}

int h_cmd_token(conf *cf, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	int create = strcmp(sub, "create") == 0, revoke = strcmp(sub, "revoke") == 0, list = strcmp(sub, "list") == 0;
	if (!(create || revoke || list) || (!list && argc < 3) || (revoke && argc != 3) || (list && argc > 3)) {
		fprintf(stderr, "usage: portald token create USER [--role R] [--expires DAYS] [--name N],"
		                " portald token revoke ID, portald token list [USER]\n");
		return 2;
	}
	struct adm_cli_token t = {NULL, 0, 0, NULL, NULL, NULL, 0, 0, ""};
	if (revoke) {
		char *end;
		t.id = strtoll(argv[2], &end, 10);
		if (*argv[2] < '0' || *argv[2] > '9' || *end || t.id <= 0) {
			fprintf(stderr, "portald: token revoke: ID is the token's number (see portald token list)\n");
			return 2;
		}
	}
	struct adm_cli c;
	if (adm_cli_open(&c, cf) != 0)
		return 1;
	int rc;
	if (create)
		rc = adm_cli_token_create(&c, argc, argv);
	else if (list)
		rc = adm_cli_token_list(&c, argc > 2 ? argv[2] : NULL);
	else {
		db_res *e = NULL;
		t.c = &c;
		rc = 1;
		if (db_q(c.d, c.a, &e, "SELECT id FROM api_tokens WHERE id = ?", DB_INT(t.id)) != DB_OK)
			fprintf(stderr, "portald: database: %s\n", db_errmsg(c.d));
		else if (e->nrows != 1)
			fprintf(stderr, "portald: no token %lld\n", t.id);
		else if (db_tx(c.d, adm_cli_token_revoke_tx, &t) != DB_OK)
			fprintf(stderr, "portald: database: %s\n", db_errmsg(c.d));
		else {
			printf("token %lld %s\n", t.id, t.changed ? "revoked" : "was already revoked");
			rc = 0;
		}
	}
	adm_cli_close(&c);
	return rc;
}
