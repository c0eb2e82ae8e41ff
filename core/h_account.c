/* h_account.c - signing in and out, my account (password, sessions), the
 * staff workbench and grid member lists (the core's scoped route).
 *
 * Login: the form carries the double-submit token of the portal_csrf cookie
 * (no session exists yet, and a forged login must not sign a victim in as
 * someone else). Wrong passwords are counted in MariaDB (ratelimit.c), in
 * combinations that hold a guesser without letting a stranger lock the desk
 * out (docs/accounts.md "Wrong passwords"): per account and client (address,
 * or a browser the account signed in on before), per address, and per account
 * from all unknown clients together. Once a count that applies reached its
 * limit within login_window_minutes, the attempt gets 429, the right password
 * too. An unknown username costs the same argon2id work as a known one, and
 * gets the same answer. */
#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "log.h"
#include "ratelimit.h"
#include <ctype.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An argon2id string of a random password nobody knows, with the current
 * limits: verified against when the username does not exist, so that answer
 * takes as long as a wrong password. */
static const char acc_dummy_hash[] =
	"$argon2id$v=19$m=65536,t=2,p=1$+JNLRN8hc2vrgk7n/Sp+Lg$4hWbX/THxXHTAAlH7bTznFA8y8YS9vnwZj0aW/hWX2U";

/* zh-CN messages of this module, together; the two with numbers are macros
 * so their printf formats stay checked. */
#define ACC_FMT_BAD_LOGIN_LEFT "用户名或密码不正确。再错%d次，将暂停登录%d分钟。"
#define ACC_FMT_BLOCKED "登录失败次数过多，请%d分钟后再试。"
#define ACC_FMT_BLOCKED_ACCOUNT \
	"这个账号最近有很多次错误的登录尝试。为了安全，%d分钟内只能在以前登录过这个账号的电脑或手机上登录；" \
	"请换用您平常登录的设备，或稍后再试。"
static const char *const acc_msg[] = {
#define M_LOGIN_CSRF 0
	"登录页面已过期，请重新输入用户名和密码。",
#define M_BAD_LOGIN 1
	"用户名或密码不正确。",
	"",  /* 2, 3: the formats above */
	"",
#define M_DISABLED 4
	"该账号已停用，请联系管理员。",
#define M_NEED_USER 5
	"请填写用户名。",
#define M_NEED_PW 6
	"请填写密码。",
#define M_DB 7
	"系统暂时无法登录，请稍后再试。",
#define M_BYE 8
	"您已安全退出。",
#define M_CUR_WRONG 9
	"当前密码不正确。",
#define M_CONFIRM 10
	"两次输入的新密码不一致。",
#define M_SAME 11
	"新密码不能与当前密码相同。",
#define M_DONE_PASSWORD 12
	"密码已修改。其他设备上的登录已全部退出。",
#define M_DONE_REVOKED 13
	"已结束该设备上的登录。",
#define M_NO_SESSION 14
	"找不到这个登录记录，它可能已经结束。",
#define M_TOKEN_LOGOUT 15
	"用访问令牌访问时无需退出；不再使用的令牌请让管理员撤销。",
#define M_BAD_GRID 16
	"网格名称有误。",
#define M_FAILED 17
	"保存没有成功，请稍后再试。",
#define M_NEED_CUR 18
	"请填写当前密码。",
#define M_NEED_NEW 19
	"请填写新密码。",
#define M_MUST_CHANGE 20
	"您正在使用管理员或系统给您的初始密码。请先在下面设置自己的新密码，然后才能使用其他功能。",
};

/* --- helpers */

/* The worker's database connection, opened if needed; 0 or -1. */
static int acc_db(req *r)
{
	if (!r->db) {
		char err[256];
		r->db = db_open(r->cf, err, sizeof err);
		if (!r->db)
			log_warn("database unavailable", "error=\"%s\"", err);
	}
	return r->db ? 0 : -1;
}

/* Overwrite the values of the named body fields and the raw body, so a
 * password does not linger in the arena after the request. */
static void acc_wipe(req *r, const char *const *names)
{
	for (form_field *f = r->post.head; f; f = f->next)
		for (const char *const *n = names; *n; n++)
			if (strcmp(f->name, *n) == 0)
				sodium_memzero((void *)(uintptr_t)f->value, f->vlen);
	if (r->body)
		sodium_memzero(r->body, r->body_len);
}

static const char *const acc_secret_fields[] = {"password", "current", "new", "confirm", NULL};

/* Lower-case ASCII copy of a username as typed, surrounding spaces dropped. */
static char *acc_lower(arena *a, const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	char *o = ar_strndup(a, s, n);
	for (char *p = o; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return o;
}

static long long acc_id_param(req *r, const char *name)
{
	const char *v = rt_param(&r->params, name);
	char *end;
	if (!v || !isdigit((unsigned char)*v))
		return 0;
	long long id = strtoll(v, &end, 10);
	return *end || id <= 0 ? 0 : id;
}

/* --- login */

static int acc_login_page(req *r, int status, const char *username, const char *next, const char *error,
                          const char *notice)
{
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "title", "工作人员登录", "csrf", auth_login_csrf(r),
	                         "username", username ? username : "", "next", next ? next : "",
	                         "error", error ? error : "", "notice", notice ? notice : "");
	int rc = auth_page(r, status, "login", data);
	json_decref(data);
	return rc;
}

int h_login_form(req *r)
{
	const char *next = auth_safe_next(form_get(&r->query, "next"));
	auth_user *u = auth_identify(r);
	if (u && u->session_id)
		return resp_redirect(r, 303, next ? next : auth_home(u->roles));
	const char *bye = form_get(&r->query, "bye");
	return acc_login_page(r, 200, "", next, NULL, bye ? acc_msg[M_BYE] : NULL);
}

struct acc_login_tx {
	req *r;
	long long user_id;
	const char *username;
	char token[AUTH_TOKEN_BUF];
	long long session_id;
	char device[AUTH_TOKEN_BUF];   /* a new device cookie, or "" */
};

static int acc_login_tx(db *d, void *ctx)
{
	struct acc_login_tx *t = ctx;
	req *r = t->r;
	int rc = auth_session_insert(r, t->user_id, t->token, &t->session_id);
	if (rc == DB_OK)
		rc = auth_device_remember(r, t->user_id, t->device);
	if (rc == DB_OK)
		rc = db_q(d, r->a, NULL, "UPDATE users SET last_login_at = NOW() WHERE id = ?", DB_INT(t->user_id));
	if (rc == DB_OK) {
		audit_actor who = {t->user_id, 0, t->username, r->remote_addr};
		rc = audit_write(d, r->a, &who, "login.ok", "user", ar_printf(r->a, "%lld", t->user_id),
		                 json_pack("{s:I}", "session_id", (json_int_t)t->session_id));
	}
	return rc;
}

/* An anonymous entry about a login attempt on username; limit: the name of
 * the limit that held it, or NULL. */
static void acc_audit_attempt(req *r, const char *action, const char *username, long long user_id, const char *why,
                              const char *limit)
{
	audit_actor who = {0, 0, "", r->remote_addr};
	audit_write(r->db, r->a, &who, action, "user", user_id ? ar_printf(r->a, "%lld", user_id) : "",
	            json_pack("{s:s, s:s, s:s*}", "username", username, "reason", why, "limit", limit));
}

/* The counters one attempt on an account is held by. */
enum { ACC_CLIENT, ACC_ADDR, ACC_ACCOUNT, ACC_NLIMITS };
typedef struct acc_limits {
	const char *bucket[ACC_NLIMITS];  /* NULL: does not apply */
	int limit[ACC_NLIMITS];
} acc_limits;
static const char *const acc_limit_names[ACC_NLIMITS] = {"client", "address", "account"};

/* The limits of an attempt on username (user_id 0 when unknown):
 * - from a browser the account signed in on before (auth_device_known):
 *   only that browser's own count for the account, login_max_failures;
 * - from anywhere else: the count of this address for the account
 *   (login_max_failures), of this address for all accounts
 *   (login_max_failures_addr), and of all unknown clients for the account
 *   (login_max_failures_account).
 * So wrong passwords from elsewhere never hold the desk's browser, one
 * address never holds another, and a guesser spread over many addresses is
 * still held per account. 0, or -1 on a database error. */
static int acc_limits_for(req *r, const char *username, long long user_id, acc_limits *l)
{
	memset(l, 0, sizeof *l);
	const char *addr = r->remote_addr ? r->remote_addr : "";
	int known = auth_device_known(r, user_id);
	if (known < 0)
		return -1;
	if (known) {
		unsigned char h[crypto_hash_sha256_BYTES];
		char hex[17];
		const char *c = req_cookie(r, AUTH_DEVICE_COOKIE);
		crypto_hash_sha256(h, (const unsigned char *)c, strlen(c));
		sodium_bin2hex(hex, sizeof hex, h, 8);
		l->bucket[ACC_CLIENT] = ar_printf(r->a, "login:dev:%s:%.64s", hex, username);
		l->limit[ACC_CLIENT] = r->cf->login_max_failures;
		return 0;
	}
	l->bucket[ACC_CLIENT] = ar_printf(r->a, "login:pair:%.45s:%.64s", addr, username);
	l->limit[ACC_CLIENT] = r->cf->login_max_failures;
	l->bucket[ACC_ADDR] = ar_printf(r->a, "login:addr:%.45s", addr);
	l->limit[ACC_ADDR] = r->cf->login_max_failures_addr;
	l->bucket[ACC_ACCOUNT] = ar_printf(r->a, "login:user:%.64s", username);
	l->limit[ACC_ACCOUNT] = r->cf->login_max_failures_account;
	return 0;
}

/* The first limit of l already reached (ACC_CLIENT...), -1 when none, -2 on a
 * database error. */
static int acc_blocked(req *r, const acc_limits *l)
{
	int window = r->cf->login_window_minutes * 60;
	for (int i = 0; i < ACC_NLIMITS; i++) {
		int n = 0;
		if (!l->bucket[i])
			continue;
		if (rl_count(r->db, r->a, l->bucket[i], window, &n) != DB_OK)
			return -2;
		if (n >= l->limit[i])
			return i;
	}
	return -1;
}

/* Count a wrong password in every counter of l; returns the attempts left
 * before the first limit (<= 0: none). */
static int acc_count_failure(req *r, const acc_limits *l)
{
	int window = r->cf->login_window_minutes * 60, left = INT32_MAX;
	for (int i = 0; i < ACC_NLIMITS; i++) {
		int n = 0;
		if (!l->bucket[i])
			continue;
		rl_hit(r->db, r->a, l->bucket[i], l->limit[i], window, &n);
		if (l->limit[i] - n < left)
			left = l->limit[i] - n;
	}
	return left;
}

/* The message for an attempt held by limit which (acc_blocked). */
static const char *acc_blocked_msg(req *r, int which)
{
	return ar_printf(r->a, which == ACC_ACCOUNT ? ACC_FMT_BLOCKED_ACCOUNT : ACC_FMT_BLOCKED,
	                 r->cf->login_window_minutes);
}

static int acc_too_many(req *r, const char *username, const char *next, int which)
{
	char retry[16];
	snprintf(retry, sizeof retry, "%d", r->cf->login_window_minutes * 60);
	resp_header(r, "Retry-After", retry);
	return acc_login_page(r, 429, username, next, acc_blocked_msg(r, which), NULL);
}

int h_login(req *r)
{
	const char *next = auth_safe_next(form_get(&r->post, "next"));
	const char *typed = form_get(&r->post, "username");
	const char *pw = form_get(&r->post, "password");
	const char *username = typed ? acc_lower(r->a, typed) : "";
	int rc;
	if (!auth_login_csrf_ok(r))
		rc = acc_login_page(r, 403, username, next, acc_msg[M_LOGIN_CSRF], NULL);
	else if (!*username || strlen(username) > 64)
		rc = acc_login_page(r, 422, username, next, acc_msg[M_NEED_USER], NULL);
	else if (!pw || !*pw || strlen(pw) > AUTH_PASSWORD_MAX)
		rc = acc_login_page(r, 422, username, next, acc_msg[M_NEED_PW], NULL);
	else if (acc_db(r) != 0)
		rc = acc_login_page(r, 503, username, next, acc_msg[M_DB], NULL);
	else {
		db_res *res = NULL;
		acc_limits lim;
		int blocked = -2;
		if (db_q(r->db, r->a, &res,
		         "SELECT u.id, u.password_hash, u.disabled,"
		         " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
		         " FROM users u WHERE u.username = ?", DB_TEXT(username)) == DB_OK &&
		    acc_limits_for(r, username, res->nrows ? db_cell_int(res, 0, "id") : 0, &lim) == 0)
			blocked = acc_blocked(r, &lim);
		if (blocked == -2) {
			log_err("login failed", "error=\"%s\"", db_errmsg(r->db));
			rc = acc_login_page(r, 503, username, next, acc_msg[M_DB], NULL);
		} else if (blocked >= 0) {
			acc_audit_attempt(r, "login.blocked", username, res->nrows ? db_cell_int(res, 0, "id") : 0,
			                  "too_many_failures", acc_limit_names[blocked]);
			rc = acc_too_many(r, username, next, blocked);
		} else {
			long long uid = res->nrows ? db_cell_int(res, 0, "id") : 0;
			const char *hash = uid ? db_cell(res, 0, "password_hash") : acc_dummy_hash;
			int good = auth_password_verify(hash, pw) && uid;
			if (!good) {
				int left = acc_count_failure(r, &lim);
				acc_audit_attempt(r, "login.failed", username, uid, uid ? "bad_password" : "unknown_user", NULL);
				rc = left <= 3 && left > 0
				         ? acc_login_page(r, 401, username, next,
				                          ar_printf(r->a, ACC_FMT_BAD_LOGIN_LEFT, left,
				                                    r->cf->login_window_minutes), NULL)
				         : acc_login_page(r, 401, username, next, acc_msg[M_BAD_LOGIN], NULL);
			} else if (db_cell_int(res, 0, "disabled")) {
				acc_audit_attempt(r, "login.failed", username, uid, "disabled", NULL);
				rc = acc_login_page(r, 403, username, next, acc_msg[M_DISABLED], NULL);
			} else {
				/* this client's own slips are forgiven; the count of unknown
				 * clients stays, or a guesser's budget would reset with it */
				rl_clear(r->db, r->a, lim.bucket[ACC_CLIENT]);
				if (crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
				                                   crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
					char nh[AUTH_PWHASH_BUF];
					if (auth_password_hash(pw, nh) == 0)
						db_q(r->db, r->a, NULL, "UPDATE users SET password_hash = ? WHERE id = ?",
						     DB_TEXT(nh), DB_INT(uid));
				}
				struct acc_login_tx t = {r, uid, username, "", 0, ""};
				if (db_tx(r->db, acc_login_tx, &t) != DB_OK) {
					log_err("login failed", "error=\"%s\"", db_errmsg(r->db));
					rc = acc_login_page(r, 503, username, next, acc_msg[M_DB], NULL);
				} else {
					auth_session_cookie(r, t.token);
					auth_device_cookie(r, t.device);
					unsigned roles = auth_roles_parse(db_cell(res, 0, "roles"), NULL);
					rc = resp_redirect(r, 303, next ? next : auth_home(roles));
				}
				sodium_memzero(t.token, sizeof t.token);
			}
		}
	}
	acc_wipe(r, acc_secret_fields);
	return rc;
}

/* --- logout */

static int acc_logout_tx(db *d, void *ctx)
{
	req *r = ctx;
	auth_user *u = auth_user_of(r);
	int rc = audit_log(r, "logout", "session", ar_printf(r->a, "%lld", u->session_id), NULL);
	return rc == DB_OK ? db_q(d, r->a, NULL, "DELETE FROM sessions WHERE id = ?", DB_INT(u->session_id)) : rc;
}

int h_logout(req *r)
{
	auth_user *u = auth_user_of(r);
	if (u->token_id)
		return resp_error(r, 400, "token_logout", acc_msg[M_TOKEN_LOGOUT], NULL);
	if (db_tx(r->db, acc_logout_tx, r) != DB_OK)
		return resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
	auth_cookie_clear(r);
	return resp_redirect(r, 303, "/login?bye=1");
}

/* --- my account */

/* The account page; errors (may be NULL) is kept by the caller. */
static int acc_account_page(req *r, int status, json_t *errors, const char *notice)
{
	auth_user *u = auth_user_of(r);
	db_res *s = NULL, *t = NULL, *me = NULL;
	if (db_q(r->db, r->a, &me, "SELECT DATE_FORMAT(password_changed_at, '%Y-%m-%d %H:%i') AS pwc,"
	                           " DATE_FORMAT(last_login_at, '%Y-%m-%d %H:%i') AS last_login FROM users WHERE id = ?",
	         DB_INT(u->id)) != DB_OK ||
	    db_q(r->db, r->a, &s,
	         "SELECT id, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i') AS created,"
	         " DATE_FORMAT(last_seen_at, '%Y-%m-%d %H:%i') AS seen, ip, user_agent FROM sessions"
	         " WHERE user_id = ? AND expires_at > NOW() AND last_seen_at > NOW() - INTERVAL ? MINUTE"
	         " ORDER BY last_seen_at DESC, id DESC",
	         DB_INT(u->id), DB_INT(r->cf->session_idle_minutes)) != DB_OK ||
	    db_q(r->db, r->a, &t,
	         "SELECT id, name, role, DATE_FORMAT(created_at, '%Y-%m-%d') AS created,"
	         " DATE_FORMAT(expires_at, '%Y-%m-%d') AS expires, DATE_FORMAT(last_used_at, '%Y-%m-%d %H:%i') AS used"
	         " FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL"
	         " AND (expires_at IS NULL OR expires_at > NOW()) ORDER BY id DESC",
	         DB_INT(u->id)) != DB_OK)
		return resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
	json_t *sessions = json_array(), *tokens = json_array();
	for (size_t i = 0; i < s->nrows; i++) {
		long long sid = db_cell_int(s, i, "id");
		const char *ua = db_cell(s, i, "user_agent");
		json_array_append_new(sessions, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)sid,
		        "created", db_cell(s, i, "created"), "seen", db_cell(s, i, "seen"), "ip", db_cell(s, i, "ip"),
		        "user_agent", ua && *ua ? ua : "（未知）", "current", sid == u->session_id));
	}
	for (size_t i = 0; i < t->nrows; i++) {
		const char *role = db_cell(t, i, "role"), *exp = db_cell(t, i, "expires"), *used = db_cell(t, i, "used");
		const char *label = role ? auth_role_label(auth_role_bit(role)) : "全部角色";
		json_array_append_new(tokens, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
		        (json_int_t)db_cell_int(t, i, "id"), "name", db_cell(t, i, "name"), "role", label ? label : role,
		        "created", db_cell(t, i, "created"), "expires", exp ? exp : "不过期", "used", used ? used : "从未使用"));
	}
	const char *pwc = me->nrows ? db_cell(me, 0, "pwc") : NULL;
	const char *ll = me->nrows ? db_cell(me, 0, "last_login") : NULL;
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:b}",
	        "title", "我的账户", "username", u->username, "display_name", u->display_name,
	        "roles", auth_roles_join(r->a, u->roles, "、", 1), "grid", u->grid ? u->grid : "",
	        "password_changed", pwc ? pwc : "", "last_login", ll ? ll : "",
	        "sessions", sessions, "tokens", tokens, "notice", notice ? notice : "",
	        "idle_minutes", (json_int_t)r->cf->session_idle_minutes, "max_hours", (json_int_t)r->cf->session_max_hours,
	        "by_token", u->token_id != 0);
	if (errors)
		json_object_set(data, "errors", errors);
	int rc = auth_page(r, status, "account", data);
	json_decref(data);
	return rc;
}

int h_account(req *r)
{
	const char *done = form_get(&r->query, "done");
	const char *notice = NULL;
	if (done && strcmp(done, "password") == 0)
		notice = acc_msg[M_DONE_PASSWORD];
	else if (done && strcmp(done, "revoked") == 0)
		notice = acc_msg[M_DONE_REVOKED];
	else if (auth_user_of(r)->must_change_password)
		notice = acc_msg[M_MUST_CHANGE];
	return acc_account_page(r, 200, NULL, notice);
}

struct acc_pw_tx {
	req *r;
	const char *hash;
};

static int acc_password_tx(db *d, void *ctx)
{
	struct acc_pw_tx *t = ctx;
	auth_user *u = auth_user_of(t->r);
	int rc = auth_user_set_password(d, t->r->a, u->id, t->hash, u->session_id);
	return rc == DB_OK ? audit_log(t->r, "password.change", "user", ar_printf(t->r->a, "%lld", u->id), NULL) : rc;
}

/* Check the own-password form; errors go into e (field -> message). Returns
 * the HTTP status to answer with when it fails, 0 when it holds. */
static int acc_password_check(req *r, const char *cur, const char *nw, const char *confirm, json_t *e)
{
	auth_user *u = auth_user_of(r);
	if (!cur || !*cur)
		json_object_set_new(e, "current", json_string(acc_msg[M_NEED_CUR]));
	if (!nw || !*nw)
		json_object_set_new(e, "new", json_string(acc_msg[M_NEED_NEW]));
	else {
		const char *why = auth_password_problem(nw, u->username);
		if (why)
			json_object_set_new(e, "new", json_string(why));
		else if (!confirm || strcmp(nw, confirm) != 0)
			json_object_set_new(e, "confirm", json_string(acc_msg[M_CONFIRM]));
		else if (cur && strcmp(cur, nw) == 0)
			json_object_set_new(e, "new", json_string(acc_msg[M_SAME]));
	}
	if (json_object_size(e))
		return 422;
	/* the current password is guessed as a login is: same limits, same buckets */
	acc_limits lim;
	int blocked = acc_limits_for(r, u->username, u->id, &lim) == 0 ? acc_blocked(r, &lim) : -2;
	db_res *res = NULL;
	if (blocked == -2 || db_q(r->db, r->a, &res, "SELECT password_hash FROM users WHERE id = ?", DB_INT(u->id)) != DB_OK ||
	    res->nrows != 1)
		return 503;
	if (blocked >= 0) {
		json_object_set_new(e, "current", json_string(acc_blocked_msg(r, blocked)));
		return 429;
	}
	if (!auth_password_verify(db_cell(res, 0, "password_hash"), cur)) {
		acc_count_failure(r, &lim);
		json_object_set_new(e, "current", json_string(acc_msg[M_CUR_WRONG]));
		return 422;
	}
	return 0;
}

int h_account_password(req *r)
{
	const char *cur = form_get(&r->post, "current"), *nw = form_get(&r->post, "new");
	const char *confirm = form_get(&r->post, "confirm");
	json_t *e = json_object();
	int rc, status = acc_password_check(r, cur, nw, confirm, e);
	char hash[AUTH_PWHASH_BUF];
	if (status == 503)
		rc = resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
	else if (status)
		rc = acc_account_page(r, status, e, NULL);
	else if (auth_password_hash(nw, hash) != 0)
		rc = resp_error(r, 500, NULL, acc_msg[M_FAILED], NULL);
	else {
		struct acc_pw_tx t = {r, hash};
		rc = db_tx(r->db, acc_password_tx, &t) == DB_OK ? resp_redirect(r, 303, "/account?done=password")
		                                                 : resp_error(r, 503, NULL, acc_msg[M_FAILED], NULL);
	}
	json_decref(e);
	acc_wipe(r, acc_secret_fields);
	return rc;
}

struct acc_revoke_tx {
	req *r;
	long long sid;
	int found;
};

static int acc_revoke_tx(db *d, void *ctx)
{
	struct acc_revoke_tx *t = ctx;
	auth_user *u = auth_user_of(t->r);
	db_res *res = NULL;
	int rc = db_q(d, t->r->a, &res, "DELETE FROM sessions WHERE id = ? AND user_id = ?", DB_INT(t->sid), DB_INT(u->id));
	if (rc != DB_OK)
		return rc;
	t->found = res->affected > 0;
	return t->found ? audit_log(t->r, "session.revoke", "session", ar_printf(t->r->a, "%lld", t->sid), NULL) : DB_OK;
}

int h_account_session_revoke(req *r)
{
	struct acc_revoke_tx t = {r, acc_id_param(r, "id"), 0};
	if (t.sid <= 0)
		return resp_error(r, 404, NULL, acc_msg[M_NO_SESSION], NULL);
	if (db_tx(r->db, acc_revoke_tx, &t) != DB_OK)
		return resp_error(r, 503, NULL, acc_msg[M_FAILED], NULL);
	if (!t.found)
		return resp_error(r, 404, NULL, acc_msg[M_NO_SESSION], NULL);
	if (t.sid == auth_user_of(r)->session_id) {
		auth_cookie_clear(r);
		return resp_redirect(r, 303, "/login?bye=1");
	}
	return resp_redirect(r, 303, "/account?done=revoked");
}

static int acc_logout_all_tx(db *d, void *ctx)
{
	req *r = ctx;
	auth_user *u = auth_user_of(r);
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res, "DELETE FROM sessions WHERE user_id = ?", DB_INT(u->id));
	if (rc != DB_OK)
		return rc;
	return audit_log(r, "logout.all", "user", ar_printf(r->a, "%lld", u->id),
	                 json_pack("{s:I}", "sessions", (json_int_t)res->affected));
}

int h_account_logout_all(req *r)
{
	if (db_tx(r->db, acc_logout_all_tx, r) != DB_OK)
		return resp_error(r, 503, NULL, acc_msg[M_FAILED], NULL);
	if (auth_user_of(r)->session_id) {
		auth_cookie_clear(r);
		return resp_redirect(r, 303, "/login?bye=1");
	}
	return resp_redirect(r, 303, "/account");
}

int h_api_me(req *r)
{
	auth_user *u = auth_user_of(r);
	json_t *roles = json_array();
	for (const unsigned *b = auth_roles_all; *b; b++)
		if (u->roles & *b)
			json_array_append_new(roles, json_string(auth_role_name(*b)));
	json_t *me = json_pack("{s:I, s:s, s:s, s:o, s:s?, s:s}", "id", (json_int_t)u->id, "username", u->username,
	                       "display_name", u->display_name, "roles", roles, "grid", u->grid,
	                       "auth", u->token_id ? "token" : "session");
	if (u->token_id)
		json_object_set_new(me, "token_id", json_integer(u->token_id));
	return resp_json(r, 200, me);
}

/* --- the workbench and grids */

int h_staff(req *r)
{
	auth_user *u = auth_user_of(r);
	json_t *grids = json_array();
	if (u->roles & (ROLE_ADMIN | ROLE_STAFF)) {
		db_res *g = NULL;
		if (db_q0(r->db, r->a, &g,
		          "SELECT grid, COUNT(*) AS n FROM users WHERE grid IS NOT NULL AND grid <> '' AND disabled = 0"
		          " GROUP BY grid ORDER BY grid") != DB_OK) {
			json_decref(grids);
			return resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
		}
		for (size_t i = 0; i < g->nrows; i++)
			json_array_append_new(grids, json_pack("{s:s, s:I}", "grid", db_cell(g, i, "grid"), "members",
			                                       (json_int_t)db_cell_int(g, i, "n")));
	}
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b}", "title", "工作台",
	        "display_name", u->display_name, "roles", auth_roles_join(r->a, u->roles, "、", 1),
	        "my_grid", (u->roles & ROLE_GRID) && u->grid ? u->grid : "", "grids", grids,
	        "is_admin", (u->roles & ROLE_ADMIN) != 0, "see_grids", (u->roles & (ROLE_ADMIN | ROLE_STAFF)) != 0);
	int rc = auth_page(r, 200, "staff", data);
	json_decref(data);
	return rc;
}

/* Members of a grid as a JSON array, or NULL on a database error. The gate
 * already enforced the scope rule (auth_in_grid) for the {grid} segment. */
static json_t *acc_grid_members(req *r, const char *grid)
{
	db_res *m = NULL;
	if (db_q(r->db, r->a, &m,
	         "SELECT u.id, u.username, u.display_name,"
	         " (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"
	         " FROM users u WHERE u.grid = ? AND u.disabled = 0 ORDER BY u.display_name, u.id",
	         DB_TEXT(grid)) != DB_OK)
		return NULL;
	json_t *members = json_array();
	for (size_t i = 0; i < m->nrows; i++) {
		unsigned roles = auth_roles_parse(db_cell(m, i, "roles"), NULL);
		json_t *names = json_array();
		for (const unsigned *b = auth_roles_all; *b; b++)
			if (roles & *b)
				json_array_append_new(names, json_string(auth_role_name(*b)));
		json_array_append_new(members, json_pack("{s:I, s:s, s:s, s:o, s:s}", "id", (json_int_t)db_cell_int(m, i, "id"),
		        "username", db_cell(m, i, "username"), "display_name", db_cell(m, i, "display_name"),
		        "roles", names, "role_labels", auth_roles_join(r->a, roles, "、", 1)));
	}
	return members;
}

int h_grid(req *r)
{
	const char *grid = rt_param(&r->params, "grid");
	if (!grid || strlen(grid) > 64)
		return resp_error(r, 404, NULL, acc_msg[M_BAD_GRID], NULL);
	json_t *members = acc_grid_members(r, grid);
	if (!members)
		return resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
	json_t *data = json_pack("{s:s, s:s, s:o}", "title", ar_printf(r->a, "网格：%s", grid), "grid", grid,
	                         "members", members);
	int rc = auth_page(r, 200, "grid", data);
	json_decref(data);
	return rc;
}

int h_api_grid_members(req *r)
{
	const char *grid = rt_param(&r->params, "grid");
	if (!grid || strlen(grid) > 64)
		return resp_error(r, 404, NULL, acc_msg[M_BAD_GRID], NULL);
	json_t *members = acc_grid_members(r, grid);
	if (!members)
		return resp_error(r, 503, NULL, acc_msg[M_DB], NULL);
	return resp_json(r, 200, json_pack("{s:s, s:o}", "grid", grid, "members", members));
}
