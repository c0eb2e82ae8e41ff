/* auth.c - staff accounts, roles, sessions, CSRF, API tokens (contract and
 * the choices behind it in auth.h).
 *
 * Every secret comes from libsodium: randombytes_buf for tokens,
 * crypto_pwhash_str (argon2id) for passwords, crypto_hash_sha256 for what is
 * stored of a token, crypto_generichash for the CSRF token, sodium_memcmp to
 * compare. Hashes travel to MariaDB as hex (UNHEX(?)), so no raw bytes are
 * ever bound as text. */
#include "auth.h"
#include "html.h"
#include "log.h"
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(AUTH_PWHASH_BUF >= crypto_pwhash_STRBYTES, "AUTH_PWHASH_BUF holds an argon2id string");
_Static_assert(AUTH_TOKEN_BUF >= 3 + 44, "AUTH_TOKEN_BUF holds pt_ + base64url(32 bytes)");

#define AUTH_RAW 32                 /* random bytes of a session, token or login CSRF value */
#define AUTH_B64 43                 /* their base64url length, no padding */
#define AUTH_HEX 65                 /* hex SHA-256 with NUL */
#define AUTH_TOUCH_SECONDS 60       /* last_seen_at / last_used_at written at most this often */
#define AUTH_B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* zh-CN messages of this module, together. */
static const char *const auth_msg[] = {
#define M_LOGIN_FIRST 0
	"请先登录或提供访问令牌。",
#define M_BAD_TOKEN 1
	"访问令牌无效、已过期或已被撤销。",
#define M_FORBIDDEN 2
	"您的账号没有权限访问这里。如需开通，请联系管理员。",
#define M_OUT_OF_SCOPE 3
	"您只能查看自己所在网格的信息。",
#define M_CSRF 4
	"页面已过期或来源不明，操作没有执行。请刷新页面后重试。",
#define M_DB 5
	"系统暂时无法核实您的身份，请稍后再试。",
#define M_PW_SHORT 6
	"密码至少需要10个字符。",
#define M_PW_LONG 7
	"密码太长了，请不要超过256个字节。",
#define M_PW_COMMON 8
	"这个密码太常见，很容易被猜到，请换一个。",
#define M_PW_FEW 9
	"密码里不同的字符太少，请混合使用字母、数字和符号。",
#define M_PW_DIGITS 10
	"请不要只用数字（例如手机号或生日），加入一些字母。",
#define M_PW_RUN 11
	"密码不能是连续的字母或数字（例如 abcdefghij、1234567890）。",
#define M_PW_NAME 12
	"密码不能包含用户名。",
#define M_MUST_CHANGE 13
	"请先在“我的账户”页面修改初始密码，然后才能使用其他功能。",
};

/* --- roles */

static const struct {
	unsigned bit;
	const char *name, *label;
} auth_roles[] = {
	{ROLE_ADMIN, "admin", "管理员"},
	{ROLE_STAFF, "staff", "工作人员"},
	{ROLE_GRID, "grid", "网格员"},
	{ROLE_VOLUNTEER, "volunteer", "志愿者"},
	{ROLE_APPROVER, "approver", "审核人"},
};
#define NROLES (sizeof auth_roles / sizeof auth_roles[0])

const unsigned auth_roles_all[] = {ROLE_ADMIN, ROLE_STAFF, ROLE_GRID, ROLE_VOLUNTEER, ROLE_APPROVER, 0};

unsigned auth_role_bit(const char *name)
{
	for (size_t i = 0; name && i < NROLES; i++)
		if (strcmp(auth_roles[i].name, name) == 0)
			return auth_roles[i].bit;
	return 0;
}

const char *auth_role_name(unsigned bit)
{
	for (size_t i = 0; i < NROLES; i++)
		if (auth_roles[i].bit == bit)
			return auth_roles[i].name;
	return NULL;
}

const char *auth_role_label(unsigned bit)
{
	for (size_t i = 0; i < NROLES; i++)
		if (auth_roles[i].bit == bit)
			return auth_roles[i].label;
	return NULL;
}

const char *auth_roles_join(arena *a, unsigned roles, const char *sep, int labels)
{
	buf b = BUF_INIT;
	for (size_t i = 0; i < NROLES; i++) {
		if (!(roles & auth_roles[i].bit))
			continue;
		if (b.len)
			buf_adds(&b, sep);
		buf_adds(&b, labels ? auth_roles[i].label : auth_roles[i].name);
	}
	char *s = ar_strdup(a, buf_str(&b));
	buf_free(&b);
	return s;
}

unsigned auth_roles_parse(const char *csv, int *bad)
{
	unsigned bits = 0;
	if (bad)
		*bad = 0;
	while (csv && *csv) {
		const char *e = strchr(csv, ',');
		size_t n = e ? (size_t)(e - csv) : strlen(csv);
		char name[33];
		if (n > 0 && n < sizeof name) {
			memcpy(name, csv, n);
			name[n] = 0;
			unsigned bit = auth_role_bit(name);
			if (!bit && bad)
				*bad = 1;
			bits |= bit;
		} else if (n > 0 && bad)
			*bad = 1;
		csv = e ? e + 1 : NULL;
	}
	return bits;
}

/* --- encoding helpers */

static void auth_b64(const unsigned char raw[AUTH_RAW], char out[AUTH_B64 + 1])
{
	sodium_bin2base64(out, AUTH_B64 + 1, raw, AUTH_RAW, AUTH_B64_VARIANT);
}

/* Decode exactly AUTH_B64 base64url characters into 32 bytes. 0 or -1. */
static int auth_unb64(const char *s, unsigned char raw[AUTH_RAW])
{
	size_t n = 0;
	const char *end = NULL;
	if (!s || strlen(s) != AUTH_B64)
		return -1;
	if (sodium_base642bin(raw, AUTH_RAW, s, AUTH_B64, NULL, &n, &end, AUTH_B64_VARIANT) != 0 ||
	    n != AUTH_RAW || end != s + AUTH_B64)
		return -1;
	return 0;
}

/* Hex SHA-256 of the raw bytes: what the tables keep. */
static void auth_hash_hex(const unsigned char raw[AUTH_RAW], char hex[AUTH_HEX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, raw, AUTH_RAW);
	sodium_bin2hex(hex, AUTH_HEX, h, sizeof h);
}

/* A new random secret: its text (with prefix) and the hex hash of its bytes. */
static void auth_new_secret(const char *prefix, char text[AUTH_TOKEN_BUF], char hex[AUTH_HEX])
{
	unsigned char raw[AUTH_RAW];
	char b64[AUTH_B64 + 1];
	randombytes_buf(raw, sizeof raw);
	auth_b64(raw, b64);
	auth_hash_hex(raw, hex);
	snprintf(text, AUTH_TOKEN_BUF, "%s%s", prefix, b64);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(b64, sizeof b64);
}

/* Constant-time equality of two NUL-terminated texts of the same length. */
static int auth_same(const char *a, const char *b)
{
	size_t n = a ? strlen(a) : 0;
	if (!a || !b || n == 0 || strlen(b) != n)
		return 0;
	return sodium_memcmp(a, b, n) == 0;
}

/* Printable ASCII copy of s cut to max bytes (user agents and addresses are
 * stored in utf8mb4 columns; a browser may send anything). */
static const char *auth_clean(arena *a, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n > max)
		n = max;
	char *o = ar_alloc(a, n + 1);
	for (size_t i = 0; i < n; i++)
		o[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	o[n] = 0;
	return o;
}

/* --- identification */

static void auth_fill_user(auth_user *u, const db_res *res)
{
	u->id = db_cell_int(res, 0, "uid");
	u->username = db_cell(res, 0, "username");
	u->display_name = db_cell(res, 0, "display_name");
	u->grid = db_cell(res, 0, "grid");
	if (u->grid && !*u->grid)
		u->grid = NULL;
	u->roles = auth_roles_parse(db_cell(res, 0, "roles"), NULL);
	u->must_change_password = db_cell_int(res, 0, "must_change_password") != 0;
}

#define AUTH_USER_COLS \
	"u.id AS uid, u.username, u.display_name, u.grid, u.must_change_password," \
	" (SELECT GROUP_CONCAT(role) FROM user_roles WHERE user_id = u.id) AS roles"

/* The session named by the cookie, or none. 0 or a db_status. */
static int auth_by_session(req *r, const char *cookie, auth_user **out)
{
	unsigned char raw[AUTH_RAW];
	char hex[AUTH_HEX];
	if (auth_unb64(cookie, raw) != 0)
		return DB_OK;
	auth_hash_hex(raw, hex);
	db_res *res = NULL;
	int rc = db_q(r->db, r->a, &res,
	              "SELECT s.id AS sid, s.last_seen_at < NOW() - INTERVAL 60 SECOND AS stale, " AUTH_USER_COLS
	              " FROM sessions s JOIN users u ON u.id = s.user_id"
	              " WHERE s.token_hash = UNHEX(?) AND s.expires_at > NOW()"
	              " AND s.last_seen_at > NOW() - INTERVAL ? MINUTE AND u.disabled = 0",
	              DB_TEXT(hex), DB_INT(r->cf->session_idle_minutes));
	if (rc != DB_OK || res->nrows != 1) {
		sodium_memzero(raw, sizeof raw);
		return rc;
	}
	auth_user *u = ar_calloc(r->a, sizeof *u);
	auth_fill_user(u, res);
	u->session_id = db_cell_int(res, 0, "sid");
	/* the CSRF token: keyed with the session's own bytes, never stored */
	unsigned char mac[AUTH_RAW];
	char *csrf = ar_alloc(r->a, AUTH_B64 + 1);
	crypto_generichash(mac, sizeof mac, (const unsigned char *)"csrf", 4, raw, sizeof raw);
	auth_b64(mac, csrf);
	u->csrf = csrf;
	sodium_memzero(raw, sizeof raw);
	if (db_cell_int(res, 0, "stale"))
		db_q(r->db, r->a, NULL, "UPDATE sessions SET last_seen_at = NOW() WHERE id = ?", DB_INT(u->session_id));
	*out = u;
	return DB_OK;
}

/* The API token in an Authorization header, or none. 0 or a db_status. */
static int auth_by_token(req *r, const char *hdr, auth_user **out)
{
	if (strncasecmp(hdr, "Bearer ", 7) != 0)
		return DB_OK;
	const char *t = hdr + 7;
	while (*t == ' ')
		t++;
	size_t pl = strlen(AUTH_TOKEN_PREFIX), n = strlen(t);
	while (n > 0 && t[n - 1] == ' ')
		n--;
	unsigned char raw[AUTH_RAW];
	char b64[AUTH_B64 + 1], hex[AUTH_HEX];
	if (n != pl + AUTH_B64 || strncmp(t, AUTH_TOKEN_PREFIX, pl) != 0)
		return DB_OK;
	memcpy(b64, t + pl, AUTH_B64);
	b64[AUTH_B64] = 0;
	if (auth_unb64(b64, raw) != 0)
		return DB_OK;
	auth_hash_hex(raw, hex);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(b64, sizeof b64);
	db_res *res = NULL;
	int rc = db_q(r->db, r->a, &res,
	              "SELECT t.id AS tid, t.role AS trole,"
	              " (t.last_used_at IS NULL OR t.last_used_at < NOW() - INTERVAL 60 SECOND) AS stale, " AUTH_USER_COLS
	              " FROM api_tokens t JOIN users u ON u.id = t.user_id"
	              " WHERE t.token_hash = UNHEX(?) AND t.revoked_at IS NULL"
	              " AND (t.expires_at IS NULL OR t.expires_at > NOW()) AND u.disabled = 0",
	              DB_TEXT(hex));
	if (rc != DB_OK || res->nrows != 1)
		return rc;
	auth_user *u = ar_calloc(r->a, sizeof *u);
	auth_fill_user(u, res);
	u->token_id = db_cell_int(res, 0, "tid");
	u->csrf = "";
	const char *trole = db_cell(res, 0, "trole");
	if (trole)
		u->roles &= auth_role_bit(trole);
	if (db_cell_int(res, 0, "stale"))
		db_q(r->db, r->a, NULL, "UPDATE api_tokens SET last_used_at = NOW() WHERE id = ?", DB_INT(u->token_id));
	char qp[512];
	log_info("api token used", "token_id=%lld user_id=%lld method=%s path=%s", u->token_id, u->id, r->method,
	         log_quote(qp, sizeof qp, r->path));
	*out = u;
	return DB_OK;
}

/* Identify, telling "nobody" (0, *out NULL) from "could not tell" (a db_status). */
static int auth_identify_rc(req *r, auth_user **out)
{
	*out = auth_user_of(r);
	if (*out)
		return DB_OK;
	const char *cookie = req_cookie(r, AUTH_SESSION_COOKIE);
	if (!r->authorization && !cookie)
		return DB_OK;
	if (!r->db) {
		char err[256];
		r->db = db_open(r->cf, err, sizeof err);
		if (!r->db) {
			log_warn("database unavailable", "error=\"%s\"", err);
			return DB_ELOST;
		}
	}
	int rc = r->authorization ? auth_by_token(r, r->authorization, out) : auth_by_session(r, cookie, out);
	if (rc != DB_OK) {
		log_err("identify failed", "error=\"%s\"", db_errmsg(r->db));
		*out = NULL;
		return rc;
	}
	r->user = *out;
	return DB_OK;
}

auth_user *auth_identify(req *r)
{
	auth_user *u = NULL;
	auth_identify_rc(r, &u);
	return u;
}

int auth_csrf_ok(req *r)
{
	auth_user *u = auth_user_of(r);
	if (!u || !u->session_id || !u->csrf)
		return 0;
	/* the body only: a token in the query string would end up in logs */
	return auth_same(u->csrf, form_get(&r->post, "csrf")) || auth_same(u->csrf, r->csrf_header);
}

int auth_in_grid(const req *r, const char *grid)
{
	const auth_user *u = auth_user_of(r);
	if (!u || !grid)
		return 0;
	if (u->roles & (ROLE_ADMIN | ROLE_STAFF))
		return 1;
	return (u->roles & ROLE_GRID) && u->grid && strcmp(u->grid, grid) == 0;
}

void auth_cookie_clear(req *r)
{
	resp_header(r, "Set-Cookie", r->https ? AUTH_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
	                                      : AUTH_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

/* Percent-encode what may not stand in a Location path as is. */
static void auth_path_escape(buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("%?#\"<>\\^`{|}", *p)) {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		} else
			buf_addc(b, (char)*p);
	}
}

/* Not identified: 401 for programs, the login page for browsers. */
static int auth_unauthenticated(req *r)
{
	if (r->is_api || r->authorization) {
		resp_header(r, "WWW-Authenticate", r->authorization ? "Bearer realm=\"portal\", error=\"invalid_token\""
		                                                    : "Bearer realm=\"portal\"");
		return resp_error(r, 401, "unauthorized", auth_msg[r->authorization ? M_BAD_TOKEN : M_LOGIN_FIRST], NULL);
	}
	if (req_cookie(r, AUTH_SESSION_COOKIE))
		auth_cookie_clear(r);     /* expired or unknown: let the browser forget it */
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		return resp_redirect(r, 303, "/login");
	buf next = BUF_INIT, loc = BUF_INIT;
	auth_path_escape(&next, r->path);
	if (*r->raw_query) {
		buf_addc(&next, '?');
		buf_adds(&next, r->raw_query);
	}
	buf_adds(&loc, "/login?next=");
	html_urlpart(&loc, next.p, next.len);
	int rc = resp_redirect(r, 303, buf_str(&loc));
	buf_free(&next);
	buf_free(&loc);
	return rc;
}

int auth_gate(req *r, unsigned roles)
{
	auth_user *u = NULL;
	if (auth_identify_rc(r, &u) != DB_OK)
		return resp_error(r, 503, "unavailable", auth_msg[M_DB], NULL);
	if (roles == 0)
		return 0;
	if (!u)
		return auth_unauthenticated(r);
	int safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (u->session_id && !safe && !auth_csrf_ok(r))
		return resp_error(r, 403, "csrf", auth_msg[M_CSRF], NULL);
	/* a one-time password opens the account pages only, where it is changed */
	if (u->must_change_password && !(roles & ROLE_SIGNED_IN))
		return r->is_api ? resp_error(r, 403, "password_change_required", auth_msg[M_MUST_CHANGE], NULL)
		                 : resp_redirect(r, 303, "/account?done=must_change");
	if (!(roles & ROLE_SIGNED_IN) && !(u->roles & roles))
		return resp_error(r, 403, "forbidden", auth_msg[M_FORBIDDEN], NULL);
	/* scope rule of the host: a route with a {grid} segment is the caller's own grid only */
	const char *grid = rt_param(&r->params, "grid");
	if (grid && !auth_in_grid(r, grid))
		return resp_error(r, 403, "out_of_scope", auth_msg[M_OUT_OF_SCOPE], NULL);
	return 0;
}

/* --- pages */

int auth_page(req *r, int status, const char *tpl, json_t *data)
{
	auth_page_data(r, data);
	return resp_page(r, status, tpl, data);
}

void auth_page_data(req *r, json_t *data)
{
	auth_user *u = auth_identify(r);
	if (u)
		json_object_set_new(data, "me", json_pack("{s:I, s:s, s:s, s:s, s:b, s:b, s:b}",
		        "id", (json_int_t)u->id, "username", u->username ? u->username : "",
		        "display_name", u->display_name ? u->display_name : "", "csrf", u->csrf ? u->csrf : "",
		        "is_admin", (u->roles & ROLE_ADMIN) != 0,
		        "workbench", (u->roles & (ROLE_ADMIN | ROLE_STAFF | ROLE_GRID | ROLE_APPROVER)) != 0,
		        "by_token", u->token_id != 0));
	json_object_set_new(data, "accounts_css", json_true());
}

const char *auth_anon_csrf(req *r, const char *cookie, const char *path)
{
	const char *c = req_cookie(r, cookie);
	unsigned char raw[AUTH_RAW];
	if (c && auth_unb64(c, raw) == 0)
		return c;
	char *v = ar_alloc(r->a, AUTH_B64 + 1);
	randombytes_buf(raw, sizeof raw);
	auth_b64(raw, v);
	char *hdr = ar_printf(r->a, "%s=%s; Path=%s; HttpOnly; SameSite=Lax%s", cookie, v, path,
	                      r->https ? "; Secure" : "");
	resp_header(r, "Set-Cookie", hdr);
	return v;
}

int auth_anon_csrf_ok(req *r, const char *cookie)
{
	unsigned char raw[AUTH_RAW];
	const char *c = req_cookie(r, cookie);
	if (!c || auth_unb64(c, raw) != 0)
		return 0;
	return auth_same(c, form_get(&r->post, "csrf"));
}

const char *auth_login_csrf(req *r)
{
	return auth_anon_csrf(r, AUTH_LOGIN_CSRF_COOKIE, "/login");
}

int auth_login_csrf_ok(req *r)
{
	return auth_anon_csrf_ok(r, AUTH_LOGIN_CSRF_COOKIE);
}

const char *auth_safe_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 512)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)next; *p; p++)
		if (*p < 0x21 || *p >= 0x7f || *p == '\\')
			return NULL;
	return next;
}

const char *auth_home(unsigned roles)
{
	return (roles & (ROLE_ADMIN | ROLE_STAFF | ROLE_GRID | ROLE_APPROVER)) ? "/staff" : "/account";
}

/* --- passwords */

/* Common passwords of 10 characters or more (shorter ones fail the length
 * rule first), lower case: the worst of the public leak lists (RockYou, the
 * 2011 CSDN leak of Chinese sites, NCSC's top 100k) that the other rules
 * below (too few characters, digits only, a plain run) do not already catch. */
static const char *const auth_common[] = {
	"1q2w3e4r5t", "1q2w3e4r5t6y", "1qaz2wsx3edc", "1qaz2wsx3edc4rfv", "qazwsxedcrfv", "zaq12wsxcde3",
	"zaq1xsw2cde3", "1qazxsw23edc", "qwertyuiop", "qwertyuiop[]", "asdfghjkl;", "zxcvbnm,./",
	"qwertyuiop123", "qwerty123456", "qwerty12345", "qwerty1234", "qwer123456", "qwer1234qwer",
	"qwe1234567", "qweasdzxc123", "123qweasdzxc", "qweqweqweqwe", "asdasdasdasd", "asdf123456",
	"asdfghjkl1", "asdfghjkl123", "asdfasdfasdf", "zxcvbnm123", "zxcvbnm1234", "qazwsx123456",
	"1qaz2wsx1qaz", "abc1234567", "abc12345678", "abc123456789", "abcd123456", "abcd12345678",
	"abcde12345", "abcdef123456", "abcdefg123", "a1234567890", "a123456789", "aa12345678",
	"aa123456789", "a1b2c3d4e5", "1a2b3c4d5e", "q1w2e3r4t5", "q1w2e3r4t5y6", "1234567890a",
	"1234567890q", "123456789a", "123456789q", "123456789abc", "q123456789", "z123456789",
	"123456abcdef", "123456qwerty", "123456asdfgh", "password12", "password123", "password1234",
	"password12345", "password123456", "passw0rd123", "p@ssw0rd123", "p@ssword123", "p@55w0rd123",
	"passwordpassword", "mypassword", "mypassword1", "password01", "password99", "iloveyou12",
	"iloveyou123", "iloveyou1314", "iloveyou520", "woaini1314", "woaini520", "woaini5201314",
	"woaini123456", "woainimama", "woainibaba", "woaiwojia", "woaiwojia123", "wodemima123",
	"mima123456", "mimamima", "zhang123456", "wang123456", "li12345678", "liu123456789",
	"chen123456", "yang123456", "huang123456", "zhao123456", "zhou123456", "sun1234567",
	"qq123456789", "qq12345678", "qq1234567890", "aini1314520", "aini5201314", "caonima123",
	"dearbook1234", "admin12345", "admin123456", "admin1234567", "administrator", "administrator1",
	"root123456", "root12345678", "test123456", "test12345678", "guest123456", "user123456",
	"welcome123", "welcome1234", "letmein123", "changeme123", "default123", "sunshine12",
	"sunshine123", "princess12", "princess123", "football12", "football123", "baseball12",
	"baseball123", "superman12", "superman123", "trustno1234", "dragon1234", "dragon12345",
	"monkey1234", "monkey12345", "master1234", "master12345", "shadow1234", "shadow12345",
	"michael123", "jennifer123", "jessica123", "charlie123", "computer123", "internet123",
	"starwars123", "whatever123", "freedom123", "killer1234", "pokemon123", "batman1234",
	"blink182182", "chocolate1", "chocolate123", "butterfly1", "basketball", "basketball1",
	"basketball123", "footballer", "motherfucker", "fuckyou123", "fuckoff123", "loveyou123",
	"lovelove123", "iloveu1234", "babygirl123", "christmas1", "summer2024", "summer2025",
	"summer2026", "spring2024", "spring2025", "spring2026", "winter2024", "winter2025",
	"welcome2024", "welcome2025", "welcome2026", "china123456", "beijing123", "beijing2008",
	"shanghai123", "zhongguo123", "woshishui1", "nihao123456", "xiaoming123", "xiaohong123",
	"huawei123456", "xiaomi123456", "wechat123456", "weixin123456", "taobao123456", "baidu123456",
	"shequ123456", "shequ12345678", "juweihui123", "wangge123456", "portal123456", "portal12345",
	"gongzuo123456", "zhiyuanzhe1", "12qwaszx12qwaszx", "1qa2ws3ed4rf", "!qaz2wsx3edc", "!qaz@wsx#edc",
	"1qaz!qaz1qaz", "1qaz@wsx3edc", "!qaz1qaz!qaz", "qazwsx!@#$", "!@#$%^&*()", "!@#$%^&*()_+",
	"1234qwerasdf", "1234qwerasdfzxcv", "qwerasdfzxcv", "qwerasdf1234", "zxcvasdfqwer", "poiuytrewq",
	"lkjhgfdsa1", "mnbvcxz123", "987654321a", "9876543210a", "0987654321q", "147258369a",
	"1472583690", "147258369147", "159357159357", "1593574862", "7894561230", "789456123a",
	"3692581470", "1357924680", "2468013579", "5201314520", "5201314521", "1314520520",
	"13145201314", "5201314qq", "00000000a", "88888888a", "66666666a", "a11111111111",
};
#define NCOMMON (sizeof auth_common / sizeof auth_common[0])

/* Bases that, with digits or symbols added at either end, stay guessable. */
static const char *const auth_common_base[] = {
	"password", "passw0rd", "p@ssword", "p@ssw0rd", "iloveyou", "woaini", "wodemima", "mima", "qwerty",
	"qwertyuiop", "asdfgh", "asdfghjkl", "zxcvbnm", "qazwsx", "abc", "abcd", "abcde", "abcdef", "admin",
	"administrator", "root", "user", "test", "guest", "welcome", "letmein", "dragon", "monkey", "master",
	"shadow", "sunshine", "princess", "football", "baseball", "basketball", "superman", "batman", "hello",
	"love", "china", "zhongguo", "beijing", "shanghai", "nihao", "aini", "portal", "shequ", "juweihui",
	"wangge", "zhiyuanzhe", "changeme", "default", "secret", "qq", "a", "aa", "aaa", "q", "z",
};
#define NCOMMON_BASE (sizeof auth_common_base / sizeof auth_common_base[0])

static size_t auth_utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xC0) != 0x80;
	return n;
}

/* Every step between neighbours +1, or every step -1 ("abcdefghij", "9876543210"). */
static int auth_is_run(const char *s)
{
	size_t n = strlen(s);
	int up = 1, down = 1;
	for (size_t i = 1; i < n; i++) {
		up &= (unsigned char)s[i] == (unsigned char)s[i - 1] + 1;
		down &= (unsigned char)s[i] + 1 == (unsigned char)s[i - 1];
	}
	return n > 1 && (up || down);
}

static int auth_in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

const char *auth_password_problem(const char *pw, const char *username)
{
	if (!pw || auth_utf8_chars(pw) < AUTH_PASSWORD_MIN)
		return auth_msg[M_PW_SHORT];
	size_t n = strlen(pw);
	if (n > AUTH_PASSWORD_MAX)
		return auth_msg[M_PW_LONG];
	char low[AUTH_PASSWORD_MAX + 1];
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)pw[i]);
	char name[40] = "";
	size_t nl = username ? strlen(username) : 0;
	if (nl >= 3 && nl < sizeof name)
		for (size_t i = 0; i <= nl; i++)
			name[i] = (char)tolower((unsigned char)username[i]);
	int seen[256] = {0}, distinct = 0, digits = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)low[i];
		distinct += !seen[c]++;
		digits &= isdigit(c) != 0;
	}
	/* the core: digits and ASCII symbols stripped from both ends ("password2024!" is
	 * "password"); how many digits were stripped, and whether only digits were */
	size_t b = 0, e = n;
	int stripped_digits_only = 1;
	while (b < e && !isalpha((unsigned char)low[b]) && (unsigned char)low[b] < 0x80)
		stripped_digits_only &= isdigit((unsigned char)low[b++]) != 0;
	while (e > b && !isalpha((unsigned char)low[e - 1]) && (unsigned char)low[e - 1] < 0x80)
		stripped_digits_only &= isdigit((unsigned char)low[--e]) != 0;
	char core[AUTH_PASSWORD_MAX + 1];
	memcpy(core, low + b, e - b);
	core[e - b] = 0;

	const char *why = NULL;
	if (distinct < 4)
		why = auth_msg[M_PW_FEW];
	else if (digits || (e - b < 3 && stripped_digits_only))
		why = auth_msg[M_PW_DIGITS];    /* a phone number, a birthday, "13812345678a" */
	else if (auth_is_run(low))
		why = auth_msg[M_PW_RUN];
	else if (*name && strstr(low, name))
		why = auth_msg[M_PW_NAME];
	else if (auth_in_list(low, auth_common, NCOMMON) || auth_in_list(core, auth_common_base, NCOMMON_BASE))
		why = auth_msg[M_PW_COMMON];
	sodium_memzero(core, sizeof core);
	sodium_memzero(low, sizeof low);
	return why;
}

int auth_password_hash(const char *pw, char out[AUTH_PWHASH_BUF])
{
	return crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                         crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

int auth_password_verify(const char *hash, const char *pw)
{
	if (!hash || !pw || strncmp(hash, "$argon2id$", 10) != 0)
		return 0;
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

int auth_username_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 2 || n > 32 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* --- sessions */

int auth_session_insert(req *r, long long user_id, char token[AUTH_TOKEN_BUF], long long *session_id)
{
	char hex[AUTH_HEX];
	unsigned char raw[AUTH_RAW];
	const char *old = req_cookie(r, AUTH_SESSION_COOKIE);
	int rc;
	if (old && auth_unb64(old, raw) == 0) {
		/* the browser's previous session ends here: no session fixation */
		auth_hash_hex(raw, hex);
		sodium_memzero(raw, sizeof raw);
		rc = db_q(r->db, r->a, NULL, "DELETE FROM sessions WHERE token_hash = UNHEX(?)", DB_TEXT(hex));
		if (rc != DB_OK)
			return rc;
	}
	auth_new_secret("", token, hex);
	db_res *res = NULL;
	rc = db_q(r->db, r->a, &res,
	          "INSERT INTO sessions (token_hash, user_id, expires_at, ip, user_agent)"
	          " VALUES (UNHEX(?), ?, NOW() + INTERVAL ? HOUR, ?, ?)",
	          DB_TEXT(hex), DB_INT(user_id), DB_INT(r->cf->session_max_hours),
	          DB_TEXT(auth_clean(r->a, r->remote_addr, 45)), DB_TEXT(auth_clean(r->a, r->user_agent, 255)));
	if (rc != DB_OK)
		return rc;
	*session_id = (long long)res->insert_id;
	/* sessions past their end are dropped now and then, a few at a time */
	if (randombytes_uniform(32) == 0)
		db_q(r->db, r->a, NULL,
		     "DELETE FROM sessions WHERE expires_at < NOW() OR last_seen_at < NOW() - INTERVAL ? MINUTE LIMIT 500",
		     DB_INT(r->cf->session_idle_minutes));
	return DB_OK;
}

void auth_session_cookie(req *r, const char *token)
{
	char *hdr = ar_printf(r->a, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s", AUTH_SESSION_COOKIE, token,
	                      r->https ? "; Secure" : "");
	resp_header(r, "Set-Cookie", hdr);
	sodium_memzero(hdr, strlen(hdr));   /* the header buffer keeps its own copy */
}

/* --- known devices */

/* The SHA-256 of the request's device cookie: 0, or -1 without a
 * well-formed one. */
static int auth_device_hash(req *r, unsigned char h[crypto_hash_sha256_BYTES])
{
	unsigned char raw[AUTH_RAW];
	if (auth_unb64(req_cookie(r, AUTH_DEVICE_COOKIE), raw) != 0)
		return -1;
	crypto_hash_sha256(h, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

int auth_device_known(req *r, long long user_id)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	if (!user_id || auth_device_hash(r, h) != 0)
		return 0;
	db_res *res = NULL;
	int rc = db_q(r->db, r->a, &res,
	              "SELECT 1 FROM login_devices WHERE user_id = ? AND device_hash = ?"
	              " AND last_login_at > NOW() - INTERVAL ? DAY",
	              DB_INT(user_id), DB_TEXTN((const char *)h, sizeof h), DB_INT(r->cf->login_device_days));
	return rc != DB_OK ? rc : res->nrows > 0;
}

int auth_device_remember(req *r, long long user_id, char cookie[AUTH_TOKEN_BUF])
{
	unsigned char h[crypto_hash_sha256_BYTES], raw[AUTH_RAW];
	if (!cookie[0] && auth_device_hash(r, h) != 0) {
		randombytes_buf(raw, sizeof raw);
		auth_b64(raw, cookie);
	}
	if (cookie[0]) {
		if (auth_unb64(cookie, raw) != 0)
			return DB_EFAIL;
		crypto_hash_sha256(h, raw, sizeof raw);
		sodium_memzero(raw, sizeof raw);
	}
	int rc = db_q(r->db, r->a, NULL, "DELETE FROM login_devices WHERE user_id = ? AND last_login_at <= NOW() - INTERVAL ? DAY",
	              DB_INT(user_id), DB_INT(r->cf->login_device_days));
	if (rc != DB_OK)
		return rc;
	return db_q(r->db, r->a, NULL,
	            "INSERT INTO login_devices (user_id, device_hash) VALUES (?, ?)"
	            " ON DUPLICATE KEY UPDATE last_login_at = NOW()",
	            DB_INT(user_id), DB_TEXTN((const char *)h, sizeof h));
}

void auth_device_cookie(req *r, const char *cookie)
{
	if (!cookie || !cookie[0])
		return;
	resp_header(r, "Set-Cookie",
	            ar_printf(r->a, "%s=%s; Path=/login; Max-Age=%lld; HttpOnly; SameSite=Lax%s", AUTH_DEVICE_COOKIE, cookie,
	                      (long long)r->cf->login_device_days * 86400, r->https ? "; Secure" : ""));
}

int auth_session_end(req *r)
{
	auth_user *u = auth_identify(r);
	int rc = DB_OK;
	if (u && u->session_id)
		rc = db_q(r->db, r->a, NULL, "DELETE FROM sessions WHERE id = ?", DB_INT(u->session_id));
	auth_cookie_clear(r);
	return rc;
}

/* --- account records */

int auth_user_insert(db *d, arena *a, const char *username, const char *display_name, const char *grid,
                     unsigned roles, const char *pwhash, long long *id)
{
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "INSERT INTO users (username, display_name, password_hash, grid) VALUES (?, ?, ?, ?)",
	              DB_TEXT(username), DB_TEXT(display_name), DB_TEXT(pwhash), DB_TEXT(grid && *grid ? grid : NULL));
	if (rc != DB_OK)
		return rc;
	*id = (long long)res->insert_id;
	for (size_t i = 0; i < NROLES; i++)
		if (roles & auth_roles[i].bit) {
			rc = db_q(d, a, NULL, "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", DB_INT(*id),
			          DB_TEXT(auth_roles[i].name));
			if (rc != DB_OK)
				return rc;
		}
	return DB_OK;
}

long long auth_user_id(db *d, arena *a, const char *username)
{
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "SELECT id FROM users WHERE username = ?", DB_TEXT(username));
	if (rc != DB_OK)
		return rc;
	return res->nrows ? db_cell_int(res, 0, "id") : 0;
}

int auth_user_roles(db *d, arena *a, long long id, unsigned *roles)
{
	db_res *res = NULL;
	*roles = 0;
	int rc = db_q(d, a, &res, "SELECT role FROM user_roles WHERE user_id = ?", DB_INT(id));
	if (rc != DB_OK)
		return rc;
	for (size_t i = 0; i < res->nrows; i++)
		*roles |= auth_role_bit(res->rows[i][0]);
	return DB_OK;
}

int auth_user_set_roles(db *d, arena *a, long long id, unsigned roles, unsigned *granted, unsigned *revoked)
{
	unsigned have;
	int rc = auth_user_roles(d, a, id, &have);
	if (rc != DB_OK)
		return rc;
	*granted = roles & ~have;
	*revoked = have & ~roles;
	for (size_t i = 0; i < NROLES; i++) {
		unsigned bit = auth_roles[i].bit;
		if (*granted & bit)
			rc = db_q(d, a, NULL, "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", DB_INT(id),
			          DB_TEXT(auth_roles[i].name));
		else if (*revoked & bit)
			rc = db_q(d, a, NULL, "DELETE FROM user_roles WHERE user_id = ? AND role = ?", DB_INT(id),
			          DB_TEXT(auth_roles[i].name));
		if (rc != DB_OK)
			return rc;
	}
	return DB_OK;
}

int auth_user_set_password(db *d, arena *a, long long id, const char *pwhash, long long keep_session)
{
	int rc = db_q(d, a, NULL, "UPDATE users SET password_hash = ?, password_changed_at = NOW(),"
	                          " must_change_password = 0 WHERE id = ?", DB_TEXT(pwhash), DB_INT(id));
	if (rc != DB_OK)
		return rc;
	if ((rc = db_q(d, a, NULL, "DELETE FROM sessions WHERE user_id = ? AND id <> ?", DB_INT(id), DB_INT(keep_session))) !=
	    DB_OK)
		return rc;
	/* a new password: no browser keeps the trust an old one earned */
	return db_q(d, a, NULL, "DELETE FROM login_devices WHERE user_id = ?", DB_INT(id));
}

int auth_user_must_change(db *d, arena *a, long long id, int on)
{
	return db_q(d, a, NULL, "UPDATE users SET must_change_password = ? WHERE id = ?", DB_INT(on != 0), DB_INT(id));
}

int auth_user_set_disabled(db *d, arena *a, long long id, int disabled, int *changed)
{
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "UPDATE users SET disabled = ? WHERE id = ? AND disabled <> ?", DB_INT(disabled != 0),
	              DB_INT(id), DB_INT(disabled != 0));
	if (rc != DB_OK)
		return rc;
	*changed = res->affected > 0;
	/* tokens stop at once too: every identification checks users.disabled */
	if (disabled)
		rc = db_q(d, a, NULL, "DELETE FROM sessions WHERE user_id = ?", DB_INT(id));
	return rc;
}

int auth_token_insert(db *d, arena *a, long long user_id, const char *name, const char *role, int days,
                      char token[AUTH_TOKEN_BUF], long long *id)
{
	char hex[AUTH_HEX];
	auth_new_secret(AUTH_TOKEN_PREFIX, token, hex);
	db_res *res = NULL;
	int rc = days > 0
	    ? db_q(d, a, &res, "INSERT INTO api_tokens (token_hash, user_id, name, role, expires_at)"
	                       " VALUES (UNHEX(?), ?, ?, ?, NOW() + INTERVAL ? DAY)",
	           DB_TEXT(hex), DB_INT(user_id), DB_TEXT(name ? name : ""), DB_TEXT(role), DB_INT(days))
	    : db_q(d, a, &res, "INSERT INTO api_tokens (token_hash, user_id, name, role) VALUES (UNHEX(?), ?, ?, ?)",
	           DB_TEXT(hex), DB_INT(user_id), DB_TEXT(name ? name : ""), DB_TEXT(role));
	if (rc != DB_OK) {
		sodium_memzero(token, AUTH_TOKEN_BUF);
		return rc;
	}
	*id = (long long)res->insert_id;
	return DB_OK;
}

int auth_token_revoke(db *d, arena *a, long long id, int *changed)
{
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "UPDATE api_tokens SET revoked_at = NOW() WHERE id = ? AND revoked_at IS NULL",
	              DB_INT(id));
	if (rc != DB_OK)
		return rc;
	*changed = res->affected > 0;
	return DB_OK;
}
