/* auth.h - staff accounts, roles, sessions, CSRF, API tokens (prefix auth_).
 *
 * Residents never log in. Staff, grid workers, volunteers and admins do, with a
 * session cookie (browser) or a bearer token (programs). Everything lives in
 * MariaDB, hashed, so any worker on any machine can serve the next request.
 * The host applies this before a handler runs: a route in the table declares
 * the roles it needs (rt_route.roles) and the gate does the rest.
 *
 * Secrets, and what is stored of them:
 * - Passwords: argon2id strings from libsodium's crypto_pwhash_str with the
 *   INTERACTIVE limits (2 passes, 64 MiB: about 0.1 s per login on one core,
 *   which suits a desk application; a hash made with older limits is redone at
 *   the next login). At least AUTH_PASSWORD_MIN characters and not one of the
 *   common passwords built into auth.c.
 * - Sessions: 32 random bytes, base64url, in the cookie portal_session
 *   (Path=/; HttpOnly; SameSite=Lax; Secure when served over TLS); the table
 *   keeps the SHA-256 of the 32 bytes. A session ends after
 *   session_idle_minutes without a request or session_max_hours after login,
 *   on logout, on "log out everywhere", when its user is disabled, or when an
 *   admin resets the password.
 * - CSRF: per session, base64url(BLAKE2b-256 keyed with the 32 session bytes,
 *   of "csrf"): nothing stored, nothing another session can derive. Sent as
 *   form field "csrf" (body only, never the query) and compared in constant
 *   time. The login form has no session yet: it uses a double-submit cookie
 *   portal_csrf holding 32 random bytes, compared with the form field.
 * - API tokens: "pt_" + base64url(32 random bytes), sent as
 *   "Authorization: Bearer pt_..."; the table keeps the SHA-256 of the 32
 *   bytes. A token may be narrowed to one role (effective roles are the
 *   token's role and the user's roles, intersected), may expire, may be
 *   revoked. Each request by token is logged with the token's id, never the
 *   token. */
#ifndef PORTAL_AUTH_H
#define PORTAL_AUTH_H
#include "db.h"
#include "http.h"

/* Roles as bits so a route can accept several and a user hold several. */
enum auth_role {
	ROLE_ADMIN = 1u << 0,      /* 管理员: accounts, plugins, audit log */
	ROLE_STAFF = 1u << 1,      /* 工作人员 (专干/窗口): events, registrations, check-in */
	ROLE_GRID = 1u << 2,       /* 网格员: own grid only */
	ROLE_VOLUNTEER = 1u << 3,  /* 志愿者: shifts */
	ROLE_APPROVER = 1u << 4,   /* 审核人: approves lists (welfare) */
};
#define ROLE_ANY_STAFF (ROLE_ADMIN | ROLE_STAFF | ROLE_GRID | ROLE_VOLUNTEER | ROLE_APPROVER)
/* Not a role a user holds: in rt_route.roles it admits any signed-in user,
 * even one whose roles were all taken away (their own account page, logout). */
#define ROLE_SIGNED_IN (1u << 31)

#define AUTH_SESSION_COOKIE "portal_session"
#define AUTH_LOGIN_CSRF_COOKIE "portal_csrf"
#define AUTH_TOKEN_PREFIX "pt_"
/* Buffer sizes: a token text with its NUL (43 base64url characters, + "pt_"),
 * an argon2id string with its NUL (crypto_pwhash_STRBYTES). */
#define AUTH_TOKEN_BUF 48
#define AUTH_PWHASH_BUF 128
#define AUTH_PASSWORD_MIN 10       /* characters */
#define AUTH_PASSWORD_MAX 256      /* bytes */

typedef struct auth_user {
	long long id;
	const char *username;
	const char *display_name;
	const char *grid;          /* NULL when none */
	unsigned roles;            /* effective roles (a token may narrow them) */
	long long session_id;      /* 0 when authenticated by token */
	long long token_id;        /* 0 when authenticated by session */
	const char *csrf;          /* the session's CSRF token ("" for tokens) */
	int must_change_password;  /* a one-time password: only the account pages until it is changed */
	const char *grants;        /* ",a.b,c.d," once read by grants.c; NULL until then */
} auth_user;

/* Role name <-> bit ("admin", "staff", "grid", "volunteer", "approver");
 * 0 or NULL when unknown. */
unsigned auth_role_bit(const char *name);
const char *auth_role_name(unsigned bit);
/* zh-CN label of a role ("管理员"). */
const char *auth_role_label(unsigned bit);
/* Every role bit, in display order, ending with 0. */
extern const unsigned auth_roles_all[];
/* Role names of roles joined by sep into the arena ("admin,staff"). */
const char *auth_roles_join(arena *a, unsigned roles, const char *sep, int labels);
/* Bits of a comma-separated list of names; *bad (may be NULL) gets 1 when a
 * name is unknown. */
unsigned auth_roles_parse(const char *csv, int *bad);

/* Identify the caller (session cookie or Authorization: Bearer) and set
 * r->user to an auth_user or leave it NULL. Never fails the request itself.
 * Returns the user or NULL. Safe to call more than once per request. When an
 * Authorization header is present only the token counts (never the cookie). */
auth_user *auth_identify(req *r);
/* The gate run by the host before a handler whose route needs roles:
 * not identified -> 401 (API, or any request that sent a token) or a redirect
 * to /login?next=... (pages); lacking every role in roles -> 403; a route
 * that captures {grid} and a caller not in that grid (auth_in_grid) -> 403; a
 * state-changing browser request (not GET/HEAD) authenticated by session
 * without a matching CSRF token (form field "csrf") -> 403; a user who must
 * change a one-time password, on any route not open to ROLE_SIGNED_IN (the
 * account pages) -> a redirect to /account?done=must_change (pages) or 403
 * password_change_required (API); the database unreachable -> 503. Returns 0 to go on, or the status with the response
 * already set. roles == 0: identify only. */
int auth_gate(req *r, unsigned roles);
/* 1 when the request carries the session's CSRF token (constant-time). */
int auth_csrf_ok(req *r);
/* 1 when the user may see grid's records: admin and staff always, a grid
 * worker only for the own grid, anyone else never. */
int auth_in_grid(const req *r, const char *grid);
/* Double-submit CSRF for people without a session (the login form,
 * residents' forms): the token lives in the cookie named cookie (HttpOnly,
 * SameSite=Lax, on path) and must come back in the form field "csrf".
 * auth_anon_csrf returns the token for the form, setting the cookie when it
 * is missing or malformed; auth_anon_csrf_ok compares in constant time. */
const char *auth_anon_csrf(req *r, const char *cookie, const char *path);
int auth_anon_csrf_ok(req *r, const char *cookie);
/* Current user or NULL (after auth_identify). */
static inline auth_user *auth_user_of(const req *r) { return (auth_user *)r->user; }
/* Scope rule "own grid only": 1 when the caller may see grid: admins and
 * staff always, a grid worker only their own grid, anyone else never. */
int auth_in_grid(const req *r, const char *grid);

/* Render a page like resp_page, adding what the layout needs to show the
 * signed-in user's menu (data.me: username, display_name, csrf, is_admin,
 * workbench). data is kept by the caller. */
int auth_page(req *r, int status, const char *tpl, json_t *data);
/* What auth_page adds to template data (the signed-in user as "me", for the
 * header's name, staff links and logout form); plugin pages use it too. */
void auth_page_data(req *r, json_t *data);
/* The login form's double-submit token: the portal_csrf cookie's value when it
 * is well formed, else a new one (and the cookie is set). */
const char *auth_login_csrf(req *r);
/* 1 when the form field "csrf" matches the portal_csrf cookie. */
int auth_login_csrf_ok(req *r);
/* next when it is a same-site path ("/x", not "//x", no backslash or control
 * character, at most 512 bytes), else NULL: no open redirect. */
const char *auth_safe_next(const char *next);
/* Where a user lands after login without a next: the workbench for staff
 * roles, else the account page. */
const char *auth_home(unsigned roles);

/* --- passwords */
/* NULL when pw is acceptable for username, else a zh-CN reason: shorter than
 * AUTH_PASSWORD_MIN characters, longer than AUTH_PASSWORD_MAX bytes, a
 * common password, too few different characters, a plain run ("abcdefghij",
 * "9876543210"), or containing the username. */
const char *auth_password_problem(const char *pw, const char *username);
/* argon2id string of pw into out. 0, or -1 (out of memory). */
int auth_password_hash(const char *pw, char out[AUTH_PWHASH_BUF]);
/* 1 when pw matches hash (an argon2id string), else 0. */
int auth_password_verify(const char *hash, const char *pw);
/* 1 when a username is 2..32 of a-z 0-9 . _ - (lower case), starting with a
 * letter or digit. */
int auth_username_ok(const char *s);

/* --- sessions (browser) */
/* Make a session for user_id: a new token into token, the row inserted with
 * the request's address and user agent, the request's previous session (its
 * cookie) deleted. Safe to rerun inside db_tx (each run makes a new token);
 * set the cookie with auth_session_cookie once the transaction committed.
 * *session_id gets the new id. Returns 0 or a db_status. */
int auth_session_insert(req *r, long long user_id, char token[AUTH_TOKEN_BUF], long long *session_id);
/* Send the session cookie for token (Secure when the request came over TLS). */
void auth_session_cookie(req *r, const char *token);
/* End the caller's session (delete the row) and clear the cookie. 0 or a
 * db_status. */
int auth_session_end(req *r);
/* Tell the browser to drop the session cookie. */
void auth_cookie_clear(req *r);

/* --- known devices: the login limits trust a browser this account signed in
 * on before (docs/accounts.md "Wrong passwords"). Signing in gives the
 * browser the cookie portal_device (32 random bytes, HttpOnly, Path=/login,
 * kept login_device_days); login_devices keeps its SHA-256 per user. */
#define AUTH_DEVICE_COOKIE "portal_device"
/* 1 when the request's device cookie is one user_id signed in on within
 * login_device_days, 0 when not (or there is none), or a db_status. */
int auth_device_known(req *r, long long user_id);
/* Inside the login transaction: remember the request's browser as a device
 * of user_id (the cookie it has, or a new one whose value goes to cookie;
 * cookie stays "" when the browser keeps its own). Forgets the user's devices
 * unused for login_device_days. Safe to rerun (cookie is reused once made).
 * 0 or a db_status. */
int auth_device_remember(req *r, long long user_id, char cookie[AUTH_TOKEN_BUF]);
/* Send the device cookie made by auth_device_remember (nothing when ""). */
void auth_device_cookie(req *r, const char *cookie);

/* --- account records, shared by the admin pages and the command line. All
 * return 0 (DB_OK) or a db_status (DB_EDUP for a taken username); they do not
 * audit: the caller does, in the same transaction. */
/* Insert a user with roles (bits) and an argon2id hash; grid may be NULL. */
int auth_user_insert(db *d, arena *a, const char *username, const char *display_name, const char *grid,
                     unsigned roles, const char *pwhash, long long *id);
/* The user's id, or 0 when there is none (negative: a db_status). */
long long auth_user_id(db *d, arena *a, const char *username);
/* Roles of a user as bits into *roles (0 when none or no such user). */
int auth_user_roles(db *d, arena *a, long long id, unsigned *roles);
/* Make the user's roles exactly roles; *granted and *revoked get the bits
 * that changed. */
int auth_user_set_roles(db *d, arena *a, long long id, unsigned roles, unsigned *granted, unsigned *revoked);
/* Store a new argon2id hash (which clears "must change password") and end the
 * user's sessions except keep_session (0: all of them). */
int auth_user_set_password(db *d, arena *a, long long id, const char *pwhash, long long keep_session);
/* Set (on) or clear the user's "must change password at next login". */
int auth_user_must_change(db *d, arena *a, long long id, int on);
/* Disable (and end every session of) or enable a user. *changed gets 1 when
 * the flag changed. */
int auth_user_set_disabled(db *d, arena *a, long long id, int disabled, int *changed);
/* Make a new API token for user_id, optionally narrowed to role (NULL: all of
 * the user's roles) and expiring after days (0: never). The token text goes
 * to token (shown once, never stored), its id to *id. */
int auth_token_insert(db *d, arena *a, long long user_id, const char *name, const char *role, int days,
                      char token[AUTH_TOKEN_BUF], long long *id);
/* Revoke a token; *changed gets 1 when it was live (not revoked before). */
int auth_token_revoke(db *d, arena *a, long long id, int *changed);

#endif
