/* t_auth.c - the parts of auth.c that need no database: roles, the password
 * rules, argon2id hashing, user names, safe redirects, cookies, the login
 * CSRF token, and the gate's decisions for a caller already identified (a
 * user set on the request, as auth_identify leaves it), including the CSRF
 * check, the grid scope rule and the answers to callers not identified.
 * Sessions, tokens and limits against MariaDB are covered end to end by
 * tests/integration/accounts.test.mjs. */
#include "audit.h"
#include "auth.h"
#include "tap.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static conf cf;

/* A fresh request: method, path, API or page; everything else empty. */
static void req_setup(req *r, arena *a, const char *method, const char *path, int api)
{
	buf_free(&r->headers);
	buf_free(&r->body_out);
	memset(r, 0, sizeof *r);
	r->a = a;
	r->cf = &cf;
	r->method = method;
	r->path = path;
	r->raw_query = "";
	r->content_type = "";
	r->remote_addr = "127.0.0.1";
	r->user_agent = "t_auth";
	r->is_api = api;
	r->status = 200;
}

static const char *error_code(req *r)
{
	static char code[64];
	json_t *j = json_loads(buf_str(&r->body_out), 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
	snprintf(code, sizeof code, "%s", c ? c : "(none)");
	json_decref(j);
	return code;
}

static void test_roles(arena *a)
{
	is_int(auth_role_bit("admin"), ROLE_ADMIN, "admin is a role");
	is_int(auth_role_bit("grid"), ROLE_GRID, "grid is a role");
	is_int(auth_role_bit("root"), 0, "root is not");
	is_int(auth_role_bit(NULL), 0, "NULL is not");
	is_str(auth_role_name(ROLE_VOLUNTEER), "volunteer", "bit to name");
	is_str(auth_role_label(ROLE_GRID), "网格员", "zh-CN label");
	ok(auth_role_name(ROLE_SIGNED_IN) == NULL, "ROLE_SIGNED_IN is not a role a user holds");
	int bad = 0;
	is_int(auth_roles_parse("admin,grid", &bad), ROLE_ADMIN | ROLE_GRID, "a list of names");
	is_int(bad, 0, "all known");
	is_int(auth_roles_parse("staff,wizard", &bad), ROLE_STAFF, "unknown names add nothing");
	is_int(bad, 1, "and are reported");
	is_int(auth_roles_parse(NULL, &bad), 0, "no roles");
	is_str(auth_roles_join(a, ROLE_STAFF | ROLE_ADMIN, ",", 0), "admin,staff", "joined in display order");
	is_str(auth_roles_join(a, ROLE_GRID | ROLE_APPROVER, "、", 1), "网格员、审核人", "joined as labels");
	is_str(auth_home(ROLE_VOLUNTEER), "/account", "a volunteer lands on the account page");
	is_str(auth_home(ROLE_VOLUNTEER | ROLE_GRID), "/staff", "a grid worker on the workbench");
	is_str(audit_action_label("login.failed"), "登录失败", "audit actions have zh-CN labels");
	is_str(audit_action_label("welfare.receipt"), "welfare.receipt", "a plugin's action shows as itself");
}

static void test_passwords(void)
{
	ok(auth_password_problem("Tq9!marble-cactus", "zhang") == NULL, "a long mixed password is fine");
	ok(auth_password_problem("correct horse battery", "zhang") == NULL, "a passphrase is fine");
	ok(auth_password_problem("春眠不觉晓处处闻啼鸟", "zhang") == NULL, "ten Chinese characters are fine");
	const char *why = auth_password_problem("春眠不觉晓处处闻啼", "zhang");
	ok(why && strstr(why, "10"), "nine characters are too short (counted as characters, not bytes)");
	ok(auth_password_problem("Ab1!Ab1!x", NULL) != NULL, "nine ASCII characters are too short");
	char longpw[300];
	memset(longpw, 'k', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = 0;
	longpw[0] = 'A', longpw[1] = '7', longpw[2] = '#', longpw[3] = 'q';
	why = auth_password_problem(longpw, NULL);
	ok(why && strstr(why, "256"), "over 256 bytes is refused");
	why = auth_password_problem("password123", "zhang");
	ok(why && strstr(why, "常见"), "a common password is refused: %s", why ? why : "");
	ok(auth_password_problem("PassWord123", "zhang") != NULL, "whatever its case");
	ok(auth_password_problem("qwertyuiop", "zhang") != NULL, "a keyboard row");
	ok(auth_password_problem("woaini1314", "zhang") != NULL, "a common Chinese one");
	ok(auth_password_problem("Password2024!", "zhang") != NULL, "a common word with digits and symbols around it");
	ok(auth_password_problem("!!Iloveyou!!", "zhang") != NULL, "and on both sides");
	why = auth_password_problem("13812345678", "zhang");
	ok(why && strstr(why, "数字"), "a phone number (digits only)");
	ok(auth_password_problem("19900101123a", "zhang") != NULL, "digits and a single letter");
	ok(auth_password_problem("aaaaaaaaaaaa", "zhang") != NULL, "one character repeated");
	ok(auth_password_problem("abcabcabcabc", "zhang") != NULL, "three characters repeated");
	why = auth_password_problem("abcdefghijkl", "zhang");
	ok(why && strstr(why, "连续"), "an alphabet run");
	ok(auth_password_problem("zyxwvutsrqpo", "zhang") != NULL, "a run downwards");
	why = auth_password_problem("Zhangsan-garden-7", "zhangsan");
	ok(why && strstr(why, "用户名"), "the user name inside (any case)");
	ok(auth_password_problem("Zhangsan-garden-7", "li") == NULL, "a short user name is not looked for");
	ok(auth_password_problem(NULL, NULL) != NULL, "no password");
}

static void test_hashing(void)
{
	char h[AUTH_PWHASH_BUF];
	is_int(auth_password_hash("Tq9!marble-cactus", h), 0, "hash a password");
	ok(strncmp(h, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0, "argon2id with the interactive limits: %s", h);
	ok(strstr(h, "marble") == NULL, "the hash does not hold the password");
	is_int(auth_password_verify(h, "Tq9!marble-cactus"), 1, "the right password verifies");
	is_int(auth_password_verify(h, "Tq9!marble-cactuS"), 0, "a wrong one does not");
	is_int(auth_password_verify("$2y$10$abcdefghijklmnopqrstuv", "x"), 0, "only argon2id strings are accepted");
	is_int(auth_password_verify(NULL, "x"), 0, "no hash");
	char h2[AUTH_PWHASH_BUF];
	auth_password_hash("Tq9!marble-cactus", h2);
	ok(strcmp(h, h2) != 0, "a new salt each time");
}

static void test_names(void)
{
	ok(auth_username_ok("zhang.wei"), "zhang.wei");
	ok(auth_username_ok("a1"), "two characters");
	ok(auth_username_ok("9grid_03-x"), "digits, _ and -");
	ok(!auth_username_ok("a"), "one character");
	ok(!auth_username_ok("Zhang"), "upper case");
	ok(!auth_username_ok("-zhang"), "starting with -");
	ok(!auth_username_ok("zhang wei"), "a space");
	ok(!auth_username_ok("张伟"), "Chinese (the display name carries it)");
	ok(!auth_username_ok("abcdefghijklmnopqrstuvwxyz0123456"), "33 characters");
	ok(!auth_username_ok(""), "empty");
	ok(!auth_username_ok(NULL), "NULL");

	is_str(auth_safe_next("/account"), "/account", "a path");
	is_str(auth_safe_next("/admin/audit?user=a&page=2"), "/admin/audit?user=a&page=2", "with a query");
	is_str(auth_safe_next("/grids/%E4%B8%9C"), "/grids/%E4%B8%9C", "percent-encoded");
	ok(auth_safe_next("//evil.example/") == NULL, "a scheme-relative URL");
	ok(auth_safe_next("/\\evil.example") == NULL, "a backslash browsers read as a slash");
	ok(auth_safe_next("https://evil.example/") == NULL, "an absolute URL");
	ok(auth_safe_next("javascript:alert(1)") == NULL, "a script URL");
	ok(auth_safe_next("/a\r\nSet-Cookie: x=1") == NULL, "control characters");
	ok(auth_safe_next("/张") == NULL, "raw non-ASCII");
	ok(auth_safe_next("") == NULL && auth_safe_next(NULL) == NULL, "empty and NULL");
	char big[600];
	memset(big, 'a', sizeof big - 1);
	big[0] = '/';
	big[sizeof big - 1] = 0;
	ok(auth_safe_next(big) == NULL, "longer than 512 bytes");
}

static void test_cookies(arena *a)
{
	req r = {0};
	req_setup(&r, a, "GET", "/login", 0);
	const char *v = auth_login_csrf(&r);
	is_int(strlen(v), 43, "a login CSRF value is 32 bytes in base64url");
	ok(strstr(buf_str(&r.headers), "Set-Cookie: portal_csrf=") && strstr(buf_str(&r.headers), v) &&
	   strstr(buf_str(&r.headers), "; Path=/login; HttpOnly; SameSite=Lax\r\n"), "its cookie is set");
	char *keep = ar_strdup(a, v);

	req_setup(&r, a, "GET", "/login", 0);
	form_add(a, &r.cookies, "portal_csrf", keep, strlen(keep));
	is_str(auth_login_csrf(&r), keep, "a well-formed cookie is reused");
	is_int(r.headers.len, 0, "and not set again");

	req_setup(&r, a, "POST", "/login", 0);
	form_add(a, &r.cookies, "portal_csrf", keep, strlen(keep));
	form_add(a, &r.post, "csrf", keep, strlen(keep));
	is_int(auth_login_csrf_ok(&r), 1, "form field equal to the cookie");
	req_setup(&r, a, "POST", "/login", 0);
	form_add(a, &r.cookies, "portal_csrf", keep, strlen(keep));
	char other[44];
	memcpy(other, keep, 44);
	other[5] = other[5] == 'A' ? 'B' : 'A';
	form_add(a, &r.post, "csrf", other, strlen(other));
	is_int(auth_login_csrf_ok(&r), 0, "a different value is refused");
	req_setup(&r, a, "POST", "/login", 0);
	form_add(a, &r.cookies, "portal_csrf", "abc", 3);
	form_add(a, &r.post, "csrf", "abc", 3);
	is_int(auth_login_csrf_ok(&r), 0, "a value that is not 32 bytes is refused even when equal");
	req_setup(&r, a, "POST", "/login", 0);
	form_add(a, &r.post, "csrf", keep, strlen(keep));
	is_int(auth_login_csrf_ok(&r), 0, "no cookie, no login");

	req_setup(&r, a, "POST", "/login", 0);
	auth_session_cookie(&r, "TOKEN");
	is_str(buf_str(&r.headers), "Set-Cookie: portal_session=TOKEN; Path=/; HttpOnly; SameSite=Lax\r\n",
	       "session cookie over http");
	req_setup(&r, a, "POST", "/login", 0);
	r.https = 1;
	auth_session_cookie(&r, "TOKEN");
	is_str(buf_str(&r.headers), "Set-Cookie: portal_session=TOKEN; Path=/; HttpOnly; SameSite=Lax; Secure\r\n",
	       "Secure behind TLS");
	req_setup(&r, a, "POST", "/logout", 0);
	auth_cookie_clear(&r);
	ok(strstr(buf_str(&r.headers), "portal_session=; Path=/; Max-Age=0; HttpOnly") != NULL, "clearing the cookie");
	buf_free(&r.headers);
	buf_free(&r.body_out);
}

static void test_gate(arena *a)
{
	req r = {0};
	static const char csrf[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
	auth_user staff = {7, "wang", "王", NULL, ROLE_STAFF, 11, 0, csrf, 0, NULL};
	auth_user grid_a = {8, "li", "李", "A", ROLE_GRID, 12, 0, csrf, 0, NULL};
	auth_user by_token = {9, "app", "程序", NULL, ROLE_STAFF, 0, 3, "", 0, NULL};
	auth_user none = {10, "x", "无", NULL, 0, 13, 0, csrf, 0, NULL};

	req_setup(&r, a, "GET", "/api/v1/x", 1);
	r.user = &staff;
	is_int(auth_gate(&r, ROLE_STAFF | ROLE_ADMIN), 0, "a role among the route's passes");
	req_setup(&r, a, "GET", "/api/v1/x", 1);
	r.user = &staff;
	is_int(auth_gate(&r, ROLE_ADMIN), 403, "lacking every role of the route: 403");
	is_str(error_code(&r), "forbidden", "as the JSON error shape");
	req_setup(&r, a, "GET", "/account", 0);
	r.user = &none;
	is_int(auth_gate(&r, ROLE_ANY_STAFF), 403, "no role at all: 403 on a staff route");
	req_setup(&r, a, "GET", "/account", 0);
	r.user = &none;
	is_int(auth_gate(&r, ROLE_SIGNED_IN), 0, "but their own account page is open to them");
	req_setup(&r, a, "GET", "/account", 0);
	r.user = &staff;
	is_int(auth_gate(&r, 0), 0, "roles 0 only identifies");

	/* CSRF on state-changing requests by session */
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	is_int(auth_gate(&r, ROLE_STAFF), 403, "a POST by session without a CSRF token: 403");
	is_str(error_code(&r), "csrf", "code csrf");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	form_add(a, &r.post, "csrf", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFH", 43);
	is_int(auth_gate(&r, ROLE_STAFF), 403, "with a wrong token: 403");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	form_add(a, &r.query, "csrf", csrf, 43);
	is_int(auth_gate(&r, ROLE_STAFF), 403, "with the token in the query string only: 403");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	form_add(a, &r.post, "csrf", csrf, 42);
	is_int(auth_gate(&r, ROLE_STAFF), 403, "with a prefix of the token: 403");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	form_add(a, &r.post, "csrf", csrf, 43);
	is_int(auth_gate(&r, ROLE_STAFF), 0, "with the session's token: on");
	is_int(auth_csrf_ok(&r), 1, "auth_csrf_ok agrees");
	req_setup(&r, a, "DELETE", "/api/v1/x", 1);
	r.user = &staff;
	is_int(auth_gate(&r, ROLE_STAFF), 403, "any method but GET and HEAD needs it");
	req_setup(&r, a, "HEAD", "/api/v1/x", 1);
	r.user = &staff;
	is_int(auth_gate(&r, ROLE_STAFF), 0, "HEAD does not");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &by_token;
	is_int(auth_gate(&r, ROLE_STAFF), 0, "a request by API token needs no CSRF token");
	is_int(auth_csrf_ok(&r), 0, "(it has none)");
	req_setup(&r, a, "POST", "/api/v1/x", 1);
	r.user = &staff;
	form_add(a, &r.post, "csrf", csrf, 43);
	is_int(auth_gate(&r, ROLE_ADMIN), 403, "a good token does not lift the role check");

	/* the grid scope rule */
	req_setup(&r, a, "GET", "/grids/A", 0);
	r.user = &grid_a;
	r.params.n = 1;
	r.params.name[0] = "grid";
	r.params.value[0] = "A";
	is_int(auth_gate(&r, ROLE_GRID | ROLE_STAFF), 0, "a grid worker in their own grid");
	req_setup(&r, a, "GET", "/api/v1/grids/B/members", 1);
	r.user = &grid_a;
	r.params.n = 1;
	r.params.name[0] = "grid";
	r.params.value[0] = "B";
	is_int(auth_gate(&r, ROLE_GRID | ROLE_STAFF), 403, "not in another grid");
	is_str(error_code(&r), "out_of_scope", "code out_of_scope");
	is_int(auth_in_grid(&r, "B"), 0, "auth_in_grid: other grid");
	is_int(auth_in_grid(&r, "A"), 1, "auth_in_grid: own grid");
	req_setup(&r, a, "GET", "/api/v1/grids/B/members", 1);
	r.user = &staff;
	r.params.n = 1;
	r.params.name[0] = "grid";
	r.params.value[0] = "B";
	is_int(auth_gate(&r, ROLE_GRID | ROLE_STAFF), 0, "staff see every grid");
	auth_user vol = {11, "v", "志", "B", ROLE_VOLUNTEER, 14, 0, csrf, 0, NULL};
	r.user = &vol;
	is_int(auth_in_grid(&r, "B"), 0, "a volunteer is in no grid's scope, even with a grid set");
	r.user = NULL;
	is_int(auth_in_grid(&r, "B"), 0, "nobody is in no grid");

	/* nobody identified (no cookie, no token: no database needed) */
	req_setup(&r, a, "GET", "/api/v1/me", 1);
	is_int(auth_gate(&r, ROLE_STAFF), 401, "API without credentials: 401");
	is_str(error_code(&r), "unauthorized", "code unauthorized");
	ok(strstr(buf_str(&r.headers), "WWW-Authenticate: Bearer realm=\"portal\"\r\n") != NULL, "with a Bearer challenge");
	req_setup(&r, a, "GET", "/admin/users", 0);
	r.raw_query = "q=1";
	is_int(auth_gate(&r, ROLE_ADMIN), 303, "a page: a redirect to the login");
	ok(strstr(buf_str(&r.headers), "Location: /login?next=%2Fadmin%2Fusers%3Fq%3D1\r\n") != NULL,
	   "with where to come back to");
	req_setup(&r, a, "GET", "/grids/东区", 0);
	auth_gate(&r, ROLE_GRID);
	ok(strstr(buf_str(&r.headers), "next=%2Fgrids%2F%25E4%25B8%259C%25E5%258C%25BA") != NULL,
	   "a non-ASCII path comes back percent-encoded");
	req_setup(&r, a, "POST", "/admin/users", 0);
	is_int(auth_gate(&r, ROLE_ADMIN), 303, "a form post without a session: to the login");
	ok(strstr(buf_str(&r.headers), "Location: /login\r\n") != NULL, "without next (a POST cannot be replayed)");

	/* a token or cookie that needs the database, which is unreachable here */
	req_setup(&r, a, "GET", "/api/v1/me", 1);
	r.authorization = "Bearer pt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	is_int(auth_gate(&r, ROLE_STAFF), 503, "credentials that cannot be checked: 503, never a pass");
	ok(auth_identify(&r) == NULL, "and nobody is identified");
	buf_free(&r.headers);
	buf_free(&r.body_out);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	conf_defaults(&cf);
	free(cf.db_socket);
	cf.db_socket = strdup("/nonexistent/t_auth.sock");   /* no database in these tests */
	cf.db_connect_timeout = 1;
	arena *a = ar_new(0);
	test_roles(a);
	test_passwords();
	test_hashing();
	test_names();
	test_cookies(a);
	test_gate(a);
	ar_free(a);
	conf_free(&cf);
	return tap_done();
}
