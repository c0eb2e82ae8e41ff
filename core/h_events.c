/* h_events.c - the server-rendered event pages (prefix h_ev_, helpers evp_).
 *
 * Residents (no account): the list of upcoming events, an event's page with
 * the registration form, the confirmation page with the code and its QR
 * image, the lookup/cancel page. Staff (roles staff/admin, checked by the
 * gate from the route table): the event list with drafts, the create/edit
 * form, publish/close/cancel/duplicate, the registrations with walk-in
 * registration, the door page for check-in, the printable sign-in sheet and
 * the CSV export.
 *
 * The model and every rule (capacity, waitlist, one registration per phone)
 * live in core/events.c (ev_*); this file turns forms into ev_* calls and
 * ev_* results into template data. Public forms carry a double-submit CSRF
 * token (cookie portal_ev_csrf + field csrf): residents have no session, and a
 * cross-site page can neither read the cookie nor set it. Staff forms carry
 * the session's token, checked by the gate. */
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "events.h"
#include "handlers.h"
#include "html.h"
#include "log.h"
#include "plugin.h"
#include "plugin_form.h"
#include "qr.h"
#include "pcache.h"
#include "ratelimit.h"
#include "valid.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- zh-CN strings of this module, in one place ---- */
static const char *const EVP_T_LIST = "社区活动";
static const char *const EVP_T_LOOKUP = "查询或取消报名";
static const char *const EVP_T_DONE = "报名结果";
static const char *const EVP_T_STAFF = "活动管理";
static const char *const EVP_T_NEW = "新建活动";
static const char *const EVP_T_EDIT = "修改活动";
static const char *const EVP_T_REGS = "报名名单";
static const char *const EVP_T_CHECKIN = "现场签到";
static const char *const EVP_T_SIGNIN = "签到表";
static const char *const EVP_M_CSRF = "页面已过期，请返回刷新后重新提交。";
static const char *const EVP_M_NO_EVENT = "没有找到这个活动，可能已经删除或还没有发布。";
static const char *const EVP_M_FIX = "有几处需要改一下，请看标红的地方。";
static const char *const EVP_M_LOOKUP_MISS = "没有查到这条报名。请核对报名码和手机号，报名码是6位字母和数字。";
static const char *const EVP_M_LOOKUP_LIMIT = "查询次数太多了，请过一会儿再试，或到社区服务窗口询问。";
static const char *const EVP_M_REG_LIMIT = "报名提交太频繁了，请过一会儿再试，或到社区服务窗口报名。";
static const char *const EVP_M_CANCELLED = "已取消报名。如需再报名，请回到活动页面重新填写。";
static const char *const EVP_M_DUP_FIELD = "这个手机号已经报过名了";
static const char *const EVP_M_DUP_STAFF = "这个手机号已经报过名了，可以在下面的名单里按手机尾号找到它";
static const char *const EVP_M_REPEAT = "这个页面之前已经提交过一次报名，内容和这次不同。如果是给另一个人报名，请核对后再点一次提交。";
static const char *const EVP_M_CLOSED = "这个活动现在不能报名（还没开始报名、已截止或已取消）。";
static const char *const EVP_M_FULL = "名额已满，这个活动不设候补。";
static const char *const EVP_M_DB = "系统暂时忙，请稍后再试。";
static const char *const EVP_M_SAVED = "已保存。";
static const char *const EVP_M_PUBLISHED = "已发布，居民现在可以看到并报名。";
static const char *const EVP_M_CLOSED_OK = "已停止报名。";
static const char *const EVP_M_EV_CANCELLED = "活动已取消，已给报名的居民排好取消通知。";
static const char *const EVP_M_DUPLICATED = "已复制为新的草稿，日期顺延一年，请核对后发布。";
static const char *const EVP_M_CHECKED = "已签到";
static const char *const EVP_M_UNDONE = "已撤销签到";
static const char *const EVP_M_NOSHOW = "已把活动结束后仍未签到的报名标记为未到场";
static const char *const EVP_M_WALKIN = "已代为报名";
static const char *const EVP_M_STATE = "当前状态下不能这样操作。";

static const char *const evp_weekdays[] = {"周日", "周一", "周二", "周三", "周四", "周五", "周六"};

#define EVP_CSRF_COOKIE "portal_ev_csrf"
#define EVP_SLOT_ROWS 6          /* empty slot rows offered on the edit form */
#define EVP_STAFF_PAST_DAYS 90   /* ended events kept on the staff list */
#define EVP_PAGE_SIZE 20         /* events per page of the public list (GET /events) */

/* Per address and hour, shared with the JSON API (the same buckets and the
 * conf keys register_limit_per_hour / lookup_limit_per_hour): right or wrong,
 * every lookup counts, so nothing can be learnt from the limit. */
#define EVP_WINDOW 3600

/* ---- small helpers ---- */

/* The {id} of the route as a positive integer, or 0. */
static long long evp_id(req *r)
{
	const char *s = rt_param(&r->params, "id");
	if (!s || !*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s) || *s == '0')
		return 0;
	return atoll(s);
}

/* The code, upper-cased, when it is EV_CODE_LEN characters of the code
 * alphabet (lower case accepted: residents type it), else NULL. */
static const char *evp_code(arena *a, const char *s)
{
	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n != EV_CODE_LEN)
		return NULL;
	char *c = ar_strndup(a, s, n);
	for (size_t i = 0; i < n; i++) {
		if (c[i] >= 'a' && c[i] <= 'z')
			c[i] = (char)(c[i] - 'a' + 'A');
		if (!strchr(EV_CODE_ALPHABET, c[i]) || !c[i])
			return NULL;
	}
	return c;
}

/* The idempotency key a registration form carries (docs/api.md "Retries"):
 * the one it was submitted with when the page is shown again after an error
 * (so a resubmission is still the same submission), else a fresh one, once
 * per page load. fresh: always a new one. */
static const char *evp_idem_key(req *r, const form *input, int fresh)
{
	const char *k = input && !fresh ? form_get(input, "idempotency_key") : NULL;
	return k && ev_idem_key_ok(k) ? k : ev_idem_key_new(r->a);
}

/* Public forms' CSRF token (double-submit, cookie for the whole site). */
static const char *evp_csrf_token(req *r)
{
	return auth_anon_csrf(r, EVP_CSRF_COOKIE, "/");
}

static int evp_csrf_ok(req *r)
{
	return auth_anon_csrf_ok(r, EVP_CSRF_COOKIE);
}

/* Count a hit for purpose ("lookup", "register") from the caller's address:
 * 1 when over the limit (the caller answers 429), 0 otherwise (also when rate
 * limits are off or the database failed: a counter must not lock residents
 * out). */
static int evp_limited(req *r, const char *purpose, int limit)
{
	if (!r->cf || !r->cf->rate_limits || !r->db)
		return 0;
	const char *bucket = ar_printf(r->a, "%s:addr:%s", purpose, r->remote_addr ? r->remote_addr : "");
	return rl_hit(r->db, r->a, bucket, limit, EVP_WINDOW, NULL) == 1;
}

/* Fields of an ISO time "YYYY-MM-DDTHH:MM..." (China time as stored). */
static int evp_parse(const char *iso, int *y, int *mo, int *d, int *h, int *mi)
{
	return iso && sscanf(iso, "%4d-%2d-%2d%*c%2d:%2d", y, mo, d, h, mi) == 5;
}

static int evp_weekday(int y, int m, int d)
{
	struct tm t = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	time_t tt = timegm(&t);
	struct tm out;
	gmtime_r(&tt, &out);
	return out.tm_wday;
}

/* "12月20日（周日）09:00–11:30" (the end's date too when another day). */
static const char *evp_when(arena *a, const char *start, const char *end)
{
	int y, mo, d, h, mi, y2, mo2, d2, h2, mi2;
	if (!evp_parse(start, &y, &mo, &d, &h, &mi))
		return start ? start : "";
	const char *s = ar_printf(a, "%d年%d月%d日（%s）%02d:%02d", y, mo, d, evp_weekdays[evp_weekday(y, mo, d)], h, mi);
	if (!evp_parse(end, &y2, &mo2, &d2, &h2, &mi2))
		return s;
	if (y2 == y && mo2 == mo && d2 == d)
		return ar_printf(a, "%s–%02d:%02d", s, h2, mi2);
	return ar_printf(a, "%s 至 %d月%d日 %02d:%02d", s, mo2, d2, h2, mi2);
}

/* "12月20日 09:00" or "" */
static const char *evp_short(arena *a, const char *iso)
{
	int y, mo, d, h, mi;
	if (!evp_parse(iso, &y, &mo, &d, &h, &mi))
		return "";
	return ar_printf(a, "%d月%d日 %02d:%02d", mo, d, h, mi);
}

/* "2026-12-20T09:00" for a datetime-local input, or "". */
static const char *evp_local_input(arena *a, const char *iso)
{
	int y, mo, d, h, mi;
	if (!evp_parse(iso, &y, &mo, &d, &h, &mi))
		return "";
	return ar_printf(a, "%04d-%02d-%02dT%02d:%02d", y, mo, d, h, mi);
}

static const char *evp_status_label(const char *st)
{
	if (!st)
		return "";
	if (!strcmp(st, "confirmed"))
		return "已报名";
	if (!strcmp(st, "waitlisted"))
		return "候补";
	if (!strcmp(st, "cancelled"))
		return "已取消";
	if (!strcmp(st, "no_show"))
		return "未到场";
	if (!strcmp(st, "draft"))
		return "草稿";
	if (!strcmp(st, "published"))
		return "已发布";
	if (!strcmp(st, "closed"))
		return "已停止报名";
	return st;
}

static const char *evp_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long evp_int(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Adds the display keys the templates use to an event object (in place):
 * when, places (text), full, can_register, status_label, slots[].when. */
static void evp_decorate(arena *a, json_t *ev)
{
	json_object_set_new(ev, "when", json_string(evp_when(a, evp_str(ev, "starts_at"), evp_str(ev, "ends_at"))));
	long long rem = evp_int(ev, "remaining");
	int wl = json_is_true(json_object_get(ev, "waitlist"));
	int open = json_is_true(json_object_get(ev, "registration_open"));
	const char *st = evp_str(ev, "status");
	const char *places;
	if (!strcmp(st, "cancelled"))
		places = "活动已取消";
	else if (rem > 0)
		places = ar_printf(a, "还剩 %lld 个名额", rem);
	else if (wl)
		places = "已满，可候补";
	else
		places = "已满";
	json_object_set_new(ev, "places", json_string(places));
	json_object_set_new(ev, "full", json_boolean(rem <= 0));
	json_object_set_new(ev, "can_register", json_boolean(open && (rem > 0 || wl)));
	json_object_set_new(ev, "status_label", json_string(evp_status_label(st)));
	json_object_set_new(ev, "is_draft", json_boolean(!strcmp(st, "draft")));
	json_object_set_new(ev, "is_cancelled", json_boolean(!strcmp(st, "cancelled")));
	json_object_set_new(ev, "can_publish", json_boolean(!strcmp(st, "draft") || !strcmp(st, "closed")));
	json_object_set_new(ev, "is_published", json_boolean(!strcmp(st, "published")));
	json_object_set_new(ev, "opens_short", json_string(evp_short(a, evp_str(ev, "registration_opens_at"))));
	json_object_set_new(ev, "closes_short", json_string(evp_short(a, evp_str(ev, "registration_closes_at"))));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(ev, "slots"), i, s) {
		json_object_set_new(s, "when", json_string(evp_when(a, evp_str(s, "starts_at"), evp_str(s, "ends_at"))));
		long long sr = evp_int(s, "remaining");
		json_object_set_new(s, "places", json_string(sr > 0 ? ar_printf(a, "还剩 %lld 个", sr) : (wl ? "已满，可候补" : "已满")));
	}
}

/* Public page: events.css added, no session lookup (fast, cacheable work). */
static int evp_page(req *r, int status, const char *tpl, json_t *data)
{
	json_object_set_new(data, "extra_css", json_pack("[s]", "/static/events.css"));
	int rc = resp_page(r, status, tpl, data);
	json_decref(data);
	return rc;
}

/* Staff page: the signed-in user's menu and csrf too. */
static int evp_staff_page(req *r, int status, const char *tpl, json_t *data)
{
	json_object_set_new(data, "extra_css", json_pack("[s]", "/static/events.css"));
	auth_user *u = auth_user_of(r);
	json_object_set_new(data, "csrf", json_string(u && u->csrf ? u->csrf : ""));
	int rc = auth_page(r, status, tpl, data);
	json_decref(data);
	return rc;
}

/* The kind form's fields as the form_fields partial wants them, without the
 * ones the core form already asks (name, phone): the same inputs serve both.
 * *has_consent gets 1 when the kind's form has its own consent field. */
static json_t *evp_kind_fields(const pform *f, json_t *values, json_t *errors, int *has_consent)
{
	*has_consent = 0;
	json_t *out = json_array();
	if (!f)
		return out;
	json_t *view = pform_view(f, values, errors);
	size_t i;
	json_t *it;
	json_array_foreach(view, i, it) {
		const char *n = evp_str(it, "name");
		if (!strcmp(n, "name") || !strcmp(n, "phone"))
			continue;
		if (!strcmp(evp_str(it, "type"), "consent"))
			*has_consent = 1;
		json_array_append(out, it);
	}
	json_decref(view);
	return out;
}

/* ======================================================================
 * Public pages
 * ====================================================================== */

/* The public list's ?page= as asked: a decimal of 1..9 digits; a longer one is
 * past any last page (LONG_MAX); anything else (absent, empty, 0, a sign,
 * letters) is 1. The caller clamps it to the last page. */
static long long evp_page_no(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || strspn(s, "0123456789") != n)
		return 1;
	if (n > 9)
		return LLONG_MAX;
	long long p = atoll(s);
	return p > 0 ? p : 1;
}

/* The public list's address for page (1: no page parameter, the address the
 * cache holds most) with the filters f kept, into the arena. */
static const char *evp_list_href(arena *a, const ev_filter *f, long long page)
{
	buf b = BUF_INIT;
	const char *names[] = {"kind", "from", "to"}, *values[] = {f->kind, f->from, f->to};
	buf_adds(&b, "/events");
	char sep = '?';
	for (size_t i = 0; i < 3; i++) {
		if (!values[i])
			continue;
		buf_printf(&b, "%c%s=", sep, names[i]);
		html_urlpart(&b, values[i], strlen(values[i]));
		sep = '&';
	}
	if (page > 1)
		buf_printf(&b, "%cpage=%lld", sep, page);
	const char *out = ar_strdup(a, buf_str(&b));
	buf_free(&b);
	return out;
}

/* GET /events: upcoming published events grouped by kind, in start order,
 * EVP_PAGE_SIZE a page. Query: kind, from, to (as the API's; an empty or
 * malformed one is ignored: residents get a list, never an error page) and
 * page (see evp_page_no; past the last page shows the last one). */
int h_ev_list(req *r)
{
	if (pcache_serve(r))
		return r->status;
	ev_filter f = {0};
	f.kind = req_param(r, "kind");
	if (f.kind && !*f.kind)
		f.kind = NULL;
	int y, m, d;
	f.from = req_param(r, "from");
	if (f.from && !val_date(f.from, &y, &m, &d))
		f.from = NULL;
	f.to = req_param(r, "to");
	if (f.to && !val_date(f.to, &y, &m, &d))
		f.to = NULL;
	long long total = ev_count(r, &f);
	if (total < 0)
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	long long pages = total > 0 ? (total + EVP_PAGE_SIZE - 1) / EVP_PAGE_SIZE : 1;
	long long page = evp_page_no(req_param(r, "page"));
	if (page > pages)
		page = pages;
	f.limit = EVP_PAGE_SIZE;
	f.offset = (page - 1) * EVP_PAGE_SIZE;
	json_t *evs = ev_list(r, &f);
	if (!evs)
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	json_t *groups = json_array(), *by = json_object();
	size_t i;
	json_t *ev;
	json_array_foreach(evs, i, ev) {
		evp_decorate(r->a, ev);
		const char *kind = evp_str(ev, "kind");
		json_t *g = json_object_get(by, kind);
		if (!g) {
			g = json_pack("{s:s, s:s, s:[]}", "kind", kind, "title", evp_str(ev, "kind_title"), "events");
			json_object_set_new(by, kind, g);
			json_array_append(groups, g);
		}
		json_array_append(json_object_get(g, "events"), ev);
	}
	json_decref(by);
	json_t *data = json_pack("{s:s, s:o, s:b}", "title", EVP_T_LIST, "groups", groups, "any", json_array_size(evs) > 0);
	if (pages > 1)
		json_object_set_new(data, "pager",
		                    json_pack("{s:I, s:I, s:s?, s:s?}", "page", (json_int_t)page, "pages", (json_int_t)pages,
		                              "prev_href", page > 1 ? evp_list_href(r->a, &f, page - 1) : NULL, "next_href",
		                              page < pages ? evp_list_href(r->a, &f, page + 1) : NULL));
	json_decref(evs);
	int rc = evp_page(r, 200, "events_list", data);
	pcache_store(r);
	return rc;
}

/* GET /events.ics: the iCalendar feed of published upcoming events. */
int h_ev_ical(req *r)
{
	buf out = BUF_INIT;
	int rc = ev_ical(r, &out);
	if (rc != EV_OK) {
		buf_free(&out);
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	}
	resp_header(r, "Content-Disposition", "inline; filename=\"events.ics\"");
	rc = resp_text(r, 200, "text/calendar; charset=utf-8", out.p ? out.p : "", out.len);
	buf_free(&out);
	return rc;
}

/* The event page with its form: input (the submitted form or NULL), errors
 * (field -> message, or NULL), notice (a message above the form, or NULL),
 * new_key: the form gets a new idempotency key even when input has one. */
static int evp_event_page(req *r, int status, json_t *ev, const form *input, json_t *errors, const char *notice,
                          int new_key)
{
	evp_decorate(r->a, ev);
	const pform *kf = ev_kind_form(r, evp_str(ev, "kind"));
	json_t *kvalues = kf && input ? pform_input(kf, input) : NULL;
	/* ev_register reports the kind form's errors as "answers.<field>" */
	json_t *kerrors = json_object();
	const char *ek;
	json_t *em;
	json_object_foreach(errors, ek, em)
		if (!strncmp(ek, "answers.", 8))
			json_object_set(kerrors, ek + 8, em);
	int has_consent = 0;
	json_t *kfields = evp_kind_fields(kf, kvalues, kerrors, &has_consent);
	json_decref(kvalues);
	const char *err_name = errors ? json_string_value(json_object_get(errors, "name")) : NULL;
	const char *err_phone = errors ? json_string_value(json_object_get(errors, "phone")) : NULL;
	/* the kind's own name/phone fields share the core inputs, and their messages */
	if (!err_name)
		err_name = ar_strdup(r->a, json_string_value(json_object_get(kerrors, "name")) ?: "");
	if (!err_phone)
		err_phone = ar_strdup(r->a, json_string_value(json_object_get(kerrors, "phone")) ?: "");
	if (err_name && !*err_name)
		err_name = NULL;
	if (err_phone && !*err_phone)
		err_phone = NULL;
	json_decref(kerrors);
	const char *err_slot = errors ? json_string_value(json_object_get(errors, "slot_id")) : NULL;
	const char *err_consent = errors ? json_string_value(json_object_get(errors, "consent")) : NULL;
	const char *err_behalf = errors ? json_string_value(json_object_get(errors, "on_behalf_of")) : NULL;
	const char *slot_sel = input ? form_get(input, "slot_id") : NULL;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(ev, "slots"), i, s) {
		char idtxt[32];
		snprintf(idtxt, sizeof idtxt, "%lld", evp_int(s, "id"));
		json_object_set_new(s, "selected", json_boolean(slot_sel && !strcmp(slot_sel, idtxt)));
	}
	json_t *data = json_pack("{s:s, s:O, s:o, s:s, s:s}", "title", evp_str(ev, "title"), "event", ev,
	                         "fields", kfields, "csrf", evp_csrf_token(r), "idem_key", evp_idem_key(r, input, new_key));
	json_object_set_new(data, "has_slots", json_boolean(json_array_size(json_object_get(ev, "slots")) > 0));
	json_object_set_new(data, "core_consent",
	                    json_boolean(!has_consent && json_is_true(json_object_get(ev, "consent_required"))));
	json_t *in = json_object();
	if (input) {
		const char *v;
		if ((v = form_get(input, "name")))
			json_object_set_new(in, "name", json_string(v));
		if ((v = form_get(input, "phone")))
			json_object_set_new(in, "phone", json_string(v));
		if ((v = form_get(input, "on_behalf_of")))
			json_object_set_new(in, "on_behalf_of", json_string(v));
		v = form_get(input, "consent");
		json_object_set_new(in, "consent", json_boolean(v && *v));
		json_object_set_new(in, "for_other", json_boolean(form_get(input, "for_other") != NULL));
	}
	json_object_set_new(data, "in", in);
	json_object_set_new(data, "errors", json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "name", err_name, "phone", err_phone,
	                                              "slot_id", err_slot, "consent", err_consent, "on_behalf_of",
	                                              err_behalf));
	if (errors && json_object_size(errors))
		json_object_set_new(data, "error", json_string(EVP_M_FIX));
	if (notice)
		json_object_set_new(data, "error", json_string(notice));
	return evp_page(r, status, "event", data);
}

/* GET /events/{id} */
int h_ev_page(req *r)
{
	long long id = evp_id(r);
	json_t *ev = id ? ev_get(r, id, 1) : NULL;
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	int rc = evp_event_page(r, 200, ev, NULL, NULL, NULL, 1);
	json_decref(ev);
	return rc;
}

/* Registers from the event form (resident, or staff for a walk-in when
 * registered_by > 0). Returns the ev_rc; *res filled. */
static int evp_register(req *r, long long id, long long registered_by, ev_reg_result *res)
{
	ev_reg_input in = {0};
	in.name = form_get(&r->post, "name");
	in.phone = form_get(&r->post, "phone");
	const char *slot = form_get(&r->post, "slot_id");
	if (slot && *slot) {
		in.slot_id = strspn(slot, "0123456789") == strlen(slot) && strlen(slot) < 16 ? atoll(slot) : -1;
	}
	const char *c = form_get(&r->post, "consent");
	in.consent = c && (!strcmp(c, "true") || !strcmp(c, "1") || !strcmp(c, "on") || !strcmp(c, "yes"));
	const char *behalf = form_get(&r->post, "on_behalf_of");
	in.on_behalf_of = behalf && *behalf ? behalf : NULL;
	in.form_in = &r->post;
	/* the page's key; one that is not ours (edited by hand) counts as none */
	const char *key = form_get(&r->post, "idempotency_key");
	in.idempotency_key = key && ev_idem_key_ok(key) ? key : NULL;
	memset(res, 0, sizeof *res);
	return ev_register(r, id, &in, registered_by, res);
}

/* POST /events/{id}/register */
int h_ev_register(req *r)
{
	long long id = evp_id(r);
	json_t *ev = id ? ev_get(r, id, 1) : NULL;
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	if (!evp_csrf_ok(r)) {
		json_decref(ev);
		return resp_error(r, 403, "csrf", EVP_M_CSRF, NULL);
	}
	if (evp_limited(r, "register", r->cf->register_limit_per_hour)) {
		json_decref(ev);
		resp_header(r, "Retry-After", "600");
		return resp_error(r, 429, "rate_limited", EVP_M_REG_LIMIT, NULL);
	}
	ev_reg_result res;
	int rc = evp_register(r, id, 0, &res);
	if (rc == EV_OK) {
		json_decref(ev);
		json_decref(res.fields);
		json_decref(res.field_codes);
		return resp_redirect(r, 303, ar_printf(r->a, "/r/%s?new=1", res.code));
	}
	int status = 422;
	const char *notice = NULL;
	switch (rc) {
	case EV_INVALID: break;
	case EV_DUPLICATE_PHONE: status = 409; notice = ev_rc_message(rc); break;
	case EV_KEY_REUSED: status = 409; notice = EVP_M_REPEAT; break;
	case EV_DUPLICATE_KEY: status = 409; notice = res.message; break;
	case EV_CLOSED: status = 403; notice = EVP_M_CLOSED; break;
	case EV_FULL_NO_WAITLIST: status = 409; notice = EVP_M_FULL; break;
	case EV_NOT_FOUND: json_decref(ev); return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	default: status = 503; notice = EVP_M_DB; break;
	}
	if (rc == EV_DUPLICATE_PHONE) {
		json_decref(res.fields);
		res.fields = json_pack("{s:s}", "phone", EVP_M_DUP_FIELD);
	}
	rc = evp_event_page(r, status, ev, &r->post, res.fields, notice, rc == EV_KEY_REUSED);
	json_decref(ev);
	json_decref(res.fields);
	json_decref(res.field_codes);
	return rc;
}

/* The registration card (confirmation and lookup): reg + its event. */
static json_t *evp_reg_view(req *r, json_t *reg)
{
	json_t *v = json_deep_copy(reg);
	const char *st = evp_str(reg, "status");
	json_object_set_new(v, "status_label", json_string(evp_status_label(st)));
	json_object_set_new(v, "is_confirmed", json_boolean(!strcmp(st, "confirmed")));
	json_object_set_new(v, "is_waitlisted", json_boolean(!strcmp(st, "waitlisted")));
	json_object_set_new(v, "can_cancel", json_boolean(!strcmp(st, "confirmed") || !strcmp(st, "waitlisted")));
	json_t *ev = ev_get(r, evp_int(reg, "event_id"), 1);
	if (ev) {
		evp_decorate(r->a, ev);
		long long slot = evp_int(reg, "slot_id");
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(ev, "slots"), i, s)
			if (evp_int(s, "id") == slot)
				json_object_set_new(v, "slot_when", json_string(evp_str(s, "when")));
		json_object_set_new(v, "event", ev);
	}
	return v;
}

/* GET /r/{code}: the confirmation page. Shows the code, the status and what
 * to bring; name and phone are not shown (the code alone must not reveal who
 * registered). */
int h_ev_done(req *r)
{
	/* counted like a lookup: the page shows an event and a status for a code
	 * alone, so guessing codes here must be as slow as on /lookup */
	if (evp_limited(r, "lookup", r->cf->lookup_limit_per_hour)) {
		resp_header(r, "Retry-After", "600");
		return resp_error(r, 429, "rate_limited", EVP_M_LOOKUP_LIMIT, NULL);
	}
	const char *code = evp_code(r->a, rt_param(&r->params, "code"));
	json_t *reg = code ? ev_lookup(r, code, NULL) : NULL;
	if (!reg)
		return resp_error(r, 404, "not_found", EVP_M_LOOKUP_MISS, NULL);
	json_t *v = evp_reg_view(r, reg);
	json_decref(reg);
	/* what only the phone's owner should see is left out here */
	json_object_del(v, "name");
	json_object_del(v, "phone");
	json_object_del(v, "answers");
	json_object_del(v, "on_behalf_of");
	const char *nw = req_param(r, "new");
	json_t *data = json_pack("{s:s, s:o, s:b, s:s}", "title", EVP_T_DONE, "reg", v, "new", nw && !strcmp(nw, "1"),
	                         "qr", ar_printf(r->a, "/qr/%s.svg", code));
	return evp_page(r, 200, "event_done", data);
}

/* GET /qr/{file}: "CODE.svg" -> the QR image of the code (the code alphabet
 * only; nothing else is ever encoded). */
int h_ev_qr(req *r)
{
	const char *file = rt_param(&r->params, "file");
	size_t n = file ? strlen(file) : 0;
	if (n != EV_CODE_LEN + 4 || strcmp(file + EV_CODE_LEN, ".svg") != 0)
		return resp_error(r, 404, NULL, NULL, NULL);
	char code[EV_CODE_LEN + 1];
	memcpy(code, file, EV_CODE_LEN);
	code[EV_CODE_LEN] = 0;
	for (size_t i = 0; i < EV_CODE_LEN; i++)
		if (!code[i] || !strchr(EV_CODE_ALPHABET, code[i]))
			return resp_error(r, 404, NULL, NULL, NULL);
	buf svg = BUF_INIT;
	if (qr_svg(&svg, code, 8, ar_printf(r->a, "报名码 %s", code)) != 0) {
		buf_free(&svg);
		return resp_error(r, 500, NULL, NULL, NULL);
	}
	resp_header(r, "Cache-Control", "public, max-age=86400");
	int rc = resp_text(r, 200, "image/svg+xml", svg.p, svg.len);
	buf_free(&svg);
	return rc;
}

static int evp_lookup_page(req *r, int status, const char *code, const char *phone, json_t *reg, const char *error,
                           const char *notice)
{
	json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "title", EVP_T_LOOKUP, "code", code ? code : "", "phone",
	                         phone ? phone : "", "csrf", evp_csrf_token(r));
	if (reg)
		json_object_set_new(data, "reg", evp_reg_view(r, reg));
	if (error)
		json_object_set_new(data, "error", json_string(error));
	if (notice)
		json_object_set_new(data, "notice", json_string(notice));
	return evp_page(r, status, "lookup", data);
}

/* GET /lookup (code may be prefilled from ?code=) */
int h_ev_lookup_form(req *r)
{
	const char *code = req_param(r, "code");
	const char *done = req_param(r, "done");
	return evp_lookup_page(r, 200, code && strlen(code) <= 16 ? code : "", "", NULL, NULL,
	                       done && !strcmp(done, "cancelled") ? EVP_M_CANCELLED : NULL);
}

/* POST /lookup: code + phone -> the registration. Unknown code, wrong phone
 * and a malformed code all get the same answer and the same status. */
int h_ev_lookup(req *r)
{
	const char *code_in = form_get(&r->post, "code"), *phone_in = form_get(&r->post, "phone");
	if (!evp_csrf_ok(r))
		return resp_error(r, 403, "csrf", EVP_M_CSRF, NULL);
	if (code_in && strlen(code_in) > 16)
		code_in = "";
	if (phone_in && strlen(phone_in) > 32)
		phone_in = "";
	if (evp_limited(r, "lookup", r->cf->lookup_limit_per_hour))
		return evp_lookup_page(r, 429, code_in, phone_in, NULL, EVP_M_LOOKUP_LIMIT, NULL);
	const char *code = evp_code(r->a, code_in);
	char phone[12];
	json_t *reg = NULL;
	if (code && val_phone(phone_in, phone))
		reg = ev_lookup(r, code, phone);
	if (!reg)
		return evp_lookup_page(r, 404, code_in, phone_in, NULL, EVP_M_LOOKUP_MISS, NULL);
	int rc = evp_lookup_page(r, 200, code, phone, reg, NULL, NULL);
	json_decref(reg);
	return rc;
}

/* POST /r/{code}/cancel with phone: the resident cancels. */
int h_ev_cancel_reg(req *r)
{
	if (!evp_csrf_ok(r))
		return resp_error(r, 403, "csrf", EVP_M_CSRF, NULL);
	const char *code_in = rt_param(&r->params, "code"), *phone_in = form_get(&r->post, "phone");
	if (evp_limited(r, "lookup", r->cf->lookup_limit_per_hour))
		return evp_lookup_page(r, 429, code_in, "", NULL, EVP_M_LOOKUP_LIMIT, NULL);
	const char *code = evp_code(r->a, code_in);
	char phone[12];
	int rc = EV_NOT_FOUND;
	if (code && val_phone(phone_in, phone))
		rc = ev_cancel_registration(r, code, phone, NULL);
	if (rc == EV_OK)
		return resp_redirect(r, 303, "/lookup?done=cancelled");
	if (rc == EV_STATE)
		return evp_lookup_page(r, 409, code, "", NULL, "这条报名已经取消过了。", NULL);
	if (rc == EV_NOT_FOUND)
		return evp_lookup_page(r, 404, code_in && strlen(code_in) <= 16 ? code_in : "", "", NULL, EVP_M_LOOKUP_MISS,
		                       NULL);
	return resp_error(r, 503, NULL, EVP_M_DB, NULL);
}

/* ======================================================================
 * Staff pages (the gate checked the role and, for POST, the session CSRF)
 * ====================================================================== */

static const char *evp_done_message(const char *done)
{
	if (!done)
		return NULL;
	if (!strcmp(done, "saved"))
		return EVP_M_SAVED;
	if (!strcmp(done, "published"))
		return EVP_M_PUBLISHED;
	if (!strcmp(done, "closed"))
		return EVP_M_CLOSED_OK;
	if (!strcmp(done, "cancelled"))
		return EVP_M_EV_CANCELLED;
	if (!strcmp(done, "duplicated"))
		return EVP_M_DUPLICATED;
	if (!strcmp(done, "noshow"))
		return EVP_M_NOSHOW;
	if (!strcmp(done, "regcancel"))
		return "已取消这条报名；如有候补，已自动递补第一位。";
	return NULL;
}

/* GET /staff/events: every event, drafts and past ones too. */
int h_ev_staff_list(req *r)
{
	/* events that started within the last EVP_STAFF_PAST_DAYS days or later: the
	 * list is ordered by start, so old ones must not crowd out the coming ones */
	ev_filter f = {0};
	f.staff = 1;
	f.limit = 200;
	int y, mo, d, h, mi;
	if (evp_parse(ev_now(r->a), &y, &mo, &d, &h, &mi)) {
		struct tm t = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d - EVP_STAFF_PAST_DAYS, .tm_hour = 12};
		time_t tt = timegm(&t);
		struct tm from;
		gmtime_r(&tt, &from);
		f.from = ar_printf(r->a, "%04d-%02d-%02d", from.tm_year + 1900, from.tm_mon + 1, from.tm_mday);
	}
	json_t *evs = ev_list(r, &f);
	if (!evs)
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	/* upcoming ones first (soonest at the top), then the ended ones (latest first) */
	char now[20];
	snprintf(now, sizeof now, "%s", ev_now(r->a));
	if (strlen(now) > 10)
		now[10] = 'T';
	json_t *upcoming = json_array(), *past = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach(evs, i, ev) {
		evp_decorate(r->a, ev);
		if (strncmp(evp_str(ev, "ends_at"), now, 19) >= 0)
			json_array_append(upcoming, ev);
		else
			json_array_insert(past, 0, ev);
	}
	json_decref(evs);
	json_t *data = json_pack("{s:s, s:o, s:o}", "title", EVP_T_STAFF, "events", upcoming, "past", past);
	const char *msg = evp_done_message(req_param(r, "done"));
	if (msg)
		json_object_set_new(data, "notice", json_string(msg));
	return evp_staff_page(r, 200, "staff_events", data);
}

/* The edit form's fields as ev_create/ev_update want them (JSON). Only
 * fields that were sent are set, so an edit changes what the form shows. */
static json_t *evp_event_input(req *r, int creating)
{
	json_t *in = json_object();
	static const char *const text_keys[] = {"kind", "title", "description", "location", NULL};
	for (size_t i = 0; text_keys[i]; i++) {
		const char *v = form_get(&r->post, text_keys[i]);
		if (!strcmp(text_keys[i], "kind") && !creating)
			continue;   /* the kind of an existing event does not change */
		if (v)
			json_object_set_new(in, text_keys[i], json_string(v));
	}
	static const char *const time_keys[] = {"starts_at", "ends_at", "registration_opens_at", "registration_closes_at",
	                                        NULL};
	for (size_t i = 0; time_keys[i]; i++) {
		const char *v = form_get(&r->post, time_keys[i]);
		if (!v)
			continue;
		if (!*v) {
			if (i >= 2)
				json_object_set_new(in, time_keys[i], json_null());
			else
				json_object_set_new(in, time_keys[i], json_string(""));
			continue;
		}
		/* datetime-local sends "2026-12-20T09:00": China time */
		size_t n = strlen(v);
		int bare = n == 16 || n == 19;
		json_object_set_new(in, time_keys[i], json_string(bare ? ar_printf(r->a, "%s%s+08:00", v, n == 16 ? ":00" : "") : v));
	}
	static const char *const int_keys[] = {"capacity", "retention_days", NULL};
	for (size_t i = 0; int_keys[i]; i++) {
		const char *v = form_get(&r->post, int_keys[i]);
		if (!v || (!*v && i == 1))
			continue;
		if (*v && strlen(v) < 10 && strspn(v, "0123456789") == strlen(v))
			json_object_set_new(in, int_keys[i], json_integer(atoll(v)));
		else
			json_object_set_new(in, int_keys[i], json_string(v));   /* ev_* reports the type */
	}
	json_object_set_new(in, "waitlist", json_boolean(form_get(&r->post, "waitlist") != NULL));
	json_t *slots = json_array();
	int any = 0;
	for (int i = 1; i <= EV_SLOTS_MAX; i++) {
		const char *s = form_get(&r->post, ar_printf(r->a, "slot%d_starts_at", i));
		const char *e = form_get(&r->post, ar_printf(r->a, "slot%d_ends_at", i));
		const char *c = form_get(&r->post, ar_printf(r->a, "slot%d_capacity", i));
		if (!s && !e && !c)
			break;
		any = 1;
		if ((!s || !*s) && (!e || !*e) && (!c || !*c))
			continue;   /* an empty row */
		json_t *o = json_object();
		json_object_set_new(o, "starts_at", json_string(s && strlen(s) == 16 ? ar_printf(r->a, "%s:00+08:00", s) : s ? s : ""));
		json_object_set_new(o, "ends_at", json_string(e && strlen(e) == 16 ? ar_printf(r->a, "%s:00+08:00", e) : e ? e : ""));
		if (c && *c && strlen(c) < 10 && strspn(c, "0123456789") == strlen(c))
			json_object_set_new(o, "capacity", json_integer(atoll(c)));
		else
			json_object_set_new(o, "capacity", json_string(c ? c : ""));
		json_array_append_new(slots, o);
	}
	if (any && (creating || json_array_size(slots)))
		json_object_set_new(in, "slots", slots);
	else
		json_decref(slots);
	return in;
}

/* The edit form: ev is the event (or the submitted values), errors may be
 * NULL. */
static int evp_edit_page(req *r, int status, long long id, json_t *ev, json_t *errors)
{
	json_t *v = json_object();
	static const char *const keys[] = {"kind", "title", "description", "location", NULL};
	for (size_t i = 0; keys[i]; i++)
		json_object_set_new(v, keys[i], json_string(evp_str(ev, keys[i])));
	static const char *const tkeys[] = {"starts_at", "ends_at", "registration_opens_at", "registration_closes_at", NULL};
	for (size_t i = 0; tkeys[i]; i++)
		json_object_set_new(v, tkeys[i], json_string(evp_local_input(r->a, evp_str(ev, tkeys[i]))));
	json_t *cap = json_object_get(ev, "capacity");
	json_object_set_new(v, "capacity", json_is_integer(cap) ? json_integer(json_integer_value(cap))
	                                                         : json_string(json_string_value(cap) ? json_string_value(cap) : ""));
	json_t *ret = json_object_get(ev, "retention_days");
	json_object_set_new(v, "retention_days", json_is_integer(ret) ? json_integer(json_integer_value(ret)) : json_string(""));
	json_object_set_new(v, "waitlist", json_boolean(id == 0 && !json_object_get(ev, "waitlist") ? 1
	                                                : json_is_true(json_object_get(ev, "waitlist"))));
	json_t *rows = json_array();
	size_t i;
	json_t *s;
	int n = 0;
	json_array_foreach(json_object_get(ev, "slots"), i, s) {
		n++;
		json_t *c = json_object_get(s, "capacity");
		json_array_append_new(rows, json_pack("{s:i, s:s, s:s, s:o}", "n", n, "starts_at",
		                                      evp_local_input(r->a, evp_str(s, "starts_at")), "ends_at",
		                                      evp_local_input(r->a, evp_str(s, "ends_at")), "capacity",
		                                      json_is_integer(c) ? json_integer(json_integer_value(c)) : json_string("")));
	}
	for (int k = 0; k < EVP_SLOT_ROWS && n < EV_SLOTS_MAX; k++) {
		n++;
		json_array_append_new(rows, json_pack("{s:i, s:s, s:s, s:s}", "n", n, "starts_at", "", "ends_at", "",
		                                      "capacity", ""));
	}
	/* new objects: the kinds' own objects belong to the plugins */
	json_t *all = ev_kinds(r), *kinds = json_array();
	json_array_foreach(all, i, s) {
		json_t *t = json_object_get(s, "title");
		const char *title = json_is_string(t) ? json_string_value(t) : evp_str(t, "zh");
		json_array_append_new(kinds, json_pack("{s:s, s:s, s:b}", "id", evp_str(s, "id"), "label",
		                                       *title ? title : evp_str(s, "id"), "selected",
		                                       !strcmp(evp_str(s, "id"), evp_str(v, "kind"))));
	}
	json_decref(all);
	json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:b, s:I}", "title", id ? EVP_T_EDIT : EVP_T_NEW, "ev", v, "slots",
	                         rows, "kinds", kinds, "creating", id == 0, "id", (json_int_t)id);
	json_object_set_new(data, "action", json_string(id ? ar_printf(r->a, "/staff/events/%lld/edit", id) : "/staff/events/new"));
	json_t *errs = json_object();
	const char *k;
	json_t *m;
	json_t *slot_errs = json_array();
	json_object_foreach(errors, k, m) {
		const char *msg = json_string_value(m);
		if (!msg)
			continue;
		/* "slots[2].capacity" and the like go to the slot block */
		if (!strncmp(k, "slots", 5))
			json_array_append_new(slot_errs, json_string(msg));
		else
			json_object_set_new(errs, k, json_string(msg));
	}
	json_object_set_new(errs, "slots", slot_errs);
	json_object_set_new(data, "errors", errs);
	if (errors && json_object_size(errors))
		json_object_set_new(data, "error", json_string(EVP_M_FIX));
	return evp_staff_page(r, status, "staff_event_edit", data);
}

/* GET /staff/events/new */
int h_ev_staff_new_form(req *r)
{
	json_t *ev = json_pack("{s:s, s:b}", "kind", "general", "waitlist", 1);
	int rc = evp_edit_page(r, 200, 0, ev, NULL);
	json_decref(ev);
	return rc;
}

/* The submitted values as an event object for showing the form again. */
static json_t *evp_input_as_event(req *r, json_t *in)
{
	json_t *ev = json_deep_copy(in);
	static const char *const tkeys[] = {"starts_at", "ends_at", "registration_opens_at", "registration_closes_at", NULL};
	for (size_t i = 0; tkeys[i]; i++) {
		const char *v = form_get(&r->post, tkeys[i]);
		json_object_set_new(ev, tkeys[i], json_string(v ? v : ""));
	}
	return ev;
}

/* POST /staff/events/new */
int h_ev_staff_create(req *r)
{
	json_t *in = evp_event_input(r, 1), *fields = NULL;
	long long id = 0;
	int rc = ev_create(r, in, &id, &fields);
	if (rc == EV_OK) {
		json_decref(in);
		json_decref(fields);
		const char *pub = form_get(&r->post, "publish");
		if (pub && *pub && ev_publish(r, id) == EV_OK)
			return resp_redirect(r, 303, "/staff/events?done=published");
		return resp_redirect(r, 303, "/staff/events?done=saved");
	}
	if (rc != EV_INVALID) {
		json_decref(in);
		json_decref(fields);
		return resp_error(r, rc == EV_DB ? 503 : 400, NULL, ev_rc_message(rc), NULL);
	}
	json_t *ev = evp_input_as_event(r, in);
	rc = evp_edit_page(r, 422, 0, ev, fields);
	json_decref(ev);
	json_decref(in);
	json_decref(fields);
	return rc;
}

/* GET /staff/events/{id}/edit */
int h_ev_staff_edit_form(req *r)
{
	long long id = evp_id(r);
	json_t *ev = id ? ev_get(r, id, 0) : NULL;
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	int rc = evp_edit_page(r, 200, id, ev, NULL);
	json_decref(ev);
	return rc;
}

/* POST /staff/events/{id}/edit */
int h_ev_staff_update(req *r)
{
	long long id = evp_id(r);
	json_t *old = id ? ev_get(r, id, 0) : NULL;
	if (!old)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	json_t *in = evp_event_input(r, 0), *fields = NULL;
	int rc = ev_update(r, id, in, &fields);
	if (rc == EV_OK) {
		json_decref(old);
		json_decref(in);
		json_decref(fields);
		return resp_redirect(r, 303, "/staff/events?done=saved");
	}
	if (rc != EV_INVALID) {
		json_decref(old);
		json_decref(in);
		json_decref(fields);
		return resp_error(r, rc == EV_NOT_FOUND ? 404 : rc == EV_DB ? 503 : 409, NULL, ev_rc_message(rc), NULL);
	}
	json_t *ev = evp_input_as_event(r, in);
	json_object_set_new(ev, "kind", json_string(evp_str(old, "kind")));
	if (!json_object_get(ev, "slots"))
		json_object_set(ev, "slots", json_object_get(old, "slots"));
	rc = evp_edit_page(r, 422, id, ev, fields);
	json_decref(ev);
	json_decref(old);
	json_decref(in);
	json_decref(fields);
	return rc;
}

/* Answer for a state change on an event. */
static int evp_after(req *r, int rc, const char *done)
{
	if (rc == EV_OK)
		return resp_redirect(r, 303, ar_printf(r->a, "/staff/events?done=%s", done));
	if (rc == EV_NOT_FOUND)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	if (rc == EV_STATE)
		return resp_error(r, 409, "conflict", EVP_M_STATE, NULL);
	return resp_error(r, 503, NULL, EVP_M_DB, NULL);
}

/* POST /staff/events/{id}/publish */
int h_ev_staff_publish(req *r)
{
	long long id = evp_id(r);
	return evp_after(r, id ? ev_publish(r, id) : EV_NOT_FOUND, "published");
}

/* POST /staff/events/{id}/close */
int h_ev_staff_close(req *r)
{
	long long id = evp_id(r);
	return evp_after(r, id ? ev_close(r, id) : EV_NOT_FOUND, "closed");
}

/* POST /staff/events/{id}/cancel (the form asks for a confirmation box) */
int h_ev_staff_cancel(req *r)
{
	long long id = evp_id(r);
	const char *sure = form_get(&r->post, "confirm");
	if (!sure || !*sure)
		return resp_error(r, 400, "confirm", "请勾选“确认取消这个活动”后再提交。", NULL);
	return evp_after(r, id ? ev_cancel(r, id) : EV_NOT_FOUND, "cancelled");
}

/* POST /staff/events/{id}/duplicate: a draft a year later (364 days: the
 * same weekday). */
int h_ev_staff_duplicate(req *r)
{
	long long id = evp_id(r), nid = 0;
	int rc = id ? ev_duplicate(r, id, 364, &nid) : EV_NOT_FOUND;
	if (rc == EV_OK)
		return resp_redirect(r, 303, ar_printf(r->a, "/staff/events/%lld/edit", nid));
	return evp_after(r, rc, "duplicated");
}

/* Staff registration rows: masked phone (full for reveal), labels. */
static void evp_staff_rows(req *r, json_t *regs, const char *reveal)
{
	size_t i;
	json_t *g;
	json_array_foreach(regs, i, g) {
		const char *st = evp_str(g, "status");
		const char *phone = evp_str(g, "phone");
		int show = reveal && !strcmp(evp_str(g, "code"), reveal);
		json_object_set_new(g, "phone_shown", json_string(show ? phone : ev_mask_phone(r->a, phone)));
		json_object_set_new(g, "phone_tail", json_string(strlen(phone) >= 4 ? phone + strlen(phone) - 4 : ""));
		json_object_set_new(g, "revealed", json_boolean(show));
		json_object_set_new(g, "status_label", json_string(evp_status_label(st)));
		json_object_set_new(g, "is_confirmed", json_boolean(!strcmp(st, "confirmed")));
		json_object_set_new(g, "is_waitlisted", json_boolean(!strcmp(st, "waitlisted")));
		json_object_set_new(g, "checked_in", json_boolean(json_is_string(json_object_get(g, "checked_in_at"))));
		json_object_set_new(g, "checked_short", json_string(evp_short(r->a, evp_str(g, "checked_in_at"))));
		json_object_set_new(g, "by_staff", json_boolean(json_integer_value(json_object_get(g, "registered_by")) > 0));
		/* the full number never reaches a template unless revealed */
		json_object_del(g, "phone");
	}
}

static int evp_regs_page(req *r, int status, long long id, const char *reveal, json_t *errors, const char *notice,
                         int new_key)
{
	json_t *ev = ev_get(r, id, 0);
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	evp_decorate(r->a, ev);
	json_t *regs = ev_registrations(r, id, NULL);
	if (!regs) {
		json_decref(ev);
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	}
	evp_staff_rows(r, regs, reveal);
	long long nconf = 0, nwait = 0, nin = 0;
	size_t i;
	json_t *g;
	json_array_foreach(regs, i, g) {
		nconf += json_is_true(json_object_get(g, "is_confirmed"));
		nwait += json_is_true(json_object_get(g, "is_waitlisted"));
		nin += json_is_true(json_object_get(g, "checked_in"));
	}
	json_t *data = json_pack("{s:s, s:o, s:o, s:I, s:I, s:I}", "title", EVP_T_REGS, "event", ev, "regs", regs,
	                         "n_confirmed", (json_int_t)nconf, "n_waitlisted", (json_int_t)nwait, "n_checked",
	                         (json_int_t)nin);
	json_object_set_new(data, "has_slots", json_boolean(json_array_size(json_object_get(ev, "slots")) > 0));
	/* the kind's extra questions, asked on the caller's behalf too */
	const pform *kf = ev_kind_form(r, evp_str(ev, "kind"));
	json_t *kvalues = kf && errors ? pform_input(kf, &r->post) : NULL;
	json_t *kerrors = json_object();
	const char *ek;
	json_t *em;
	json_object_foreach(errors, ek, em)
		if (!strncmp(ek, "answers.", 8))
			json_object_set(kerrors, ek + 8, em);
	int has_consent = 0;
	json_object_set_new(data, "fields", evp_kind_fields(kf, kvalues, kerrors, &has_consent));
	json_object_set_new(data, "core_consent",
	                    json_boolean(!has_consent && json_is_true(json_object_get(ev, "consent_required"))));
	json_decref(kvalues);
	json_decref(kerrors);
	json_t *in = json_object();
	if (errors) {
		const char *v;
		if ((v = form_get(&r->post, "name")))
			json_object_set_new(in, "name", json_string(v));
		if ((v = form_get(&r->post, "phone")))
			json_object_set_new(in, "phone", json_string(v));
		if ((v = form_get(&r->post, "on_behalf_of")))
			json_object_set_new(in, "on_behalf_of", json_string(v));
		json_object_set_new(data, "walkin_errors", json_deep_copy(errors));
		json_object_set_new(data, "walkin_open", json_true());
		json_object_set_new(data, "error", json_string(notice ? notice : EVP_M_FIX));
	} else if (notice)
		json_object_set_new(data, "notice", json_string(notice));
	json_object_set_new(data, "in", in);
	json_object_set_new(data, "idem_key", json_string(evp_idem_key(r, errors ? &r->post : NULL, new_key)));
	return evp_staff_page(r, status, "staff_registrations", data);
}

/* GET /staff/events/{id}/registrations */
int h_ev_staff_regs(req *r)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	const char *done = req_param(r, "done"), *code = req_param(r, "code");
	const char *notice = NULL;
	if (done && !strcmp(done, "walkin"))
		notice = code && evp_code(r->a, code) ? ar_printf(r->a, "%s，报名码 %s", EVP_M_WALKIN, evp_code(r->a, code))
		                                      : EVP_M_WALKIN;
	else
		notice = evp_done_message(done);
	return evp_regs_page(r, 200, id, NULL, NULL, notice, 1);
}

/* POST /staff/events/{id}/registrations/{code}/phone: shows one full phone
 * number, audited. */
int h_ev_staff_reveal(req *r)
{
	long long id = evp_id(r);
	const char *code = evp_code(r->a, rt_param(&r->params, "code"));
	if (!id || !code)
		return resp_error(r, 404, NULL, NULL, NULL);
	json_t *reg = ev_lookup(r, code, NULL);
	if (!reg || evp_int(reg, "event_id") != id) {
		json_decref(reg);
		return resp_error(r, 404, NULL, EVP_M_LOOKUP_MISS, NULL);
	}
	json_decref(reg);
	if (audit_log(r, "registration.phone_view", "registration", code,
	              json_pack("{s:I}", "event_id", (json_int_t)id)) != DB_OK)
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	return evp_regs_page(r, 200, id, code, NULL, NULL, 1);
}

/* POST /staff/events/{id}/registrations: a walk-in or a caller, registered
 * by the signed-in staff member. */
int h_ev_staff_walkin(req *r)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	auth_user *u = auth_user_of(r);
	ev_reg_result res;
	int rc = evp_register(r, id, u ? u->id : 0, &res);
	if (rc == EV_OK) {
		json_decref(res.fields);
		json_decref(res.field_codes);
		return resp_redirect(r, 303, ar_printf(r->a, "/staff/events/%lld/registrations?done=walkin&code=%s", id, res.code));
	}
	json_t *errs = res.fields ? res.fields : json_object();
	const char *notice = NULL;
	int status = 422;
	if (rc == EV_DUPLICATE_PHONE) {
		json_object_set_new(errs, "phone", json_string(EVP_M_DUP_STAFF));
		status = 409;
	} else if (rc == EV_KEY_REUSED) {
		notice = EVP_M_REPEAT;
		status = 409;
	} else if (rc == EV_DUPLICATE_KEY) {
		notice = res.message;
		status = 409;
	} else if (rc == EV_CLOSED) {
		notice = EVP_M_CLOSED;
		status = 403;
	} else if (rc == EV_FULL_NO_WAITLIST) {
		notice = EVP_M_FULL;
		status = 409;
	} else if (rc == EV_NOT_FOUND) {
		json_decref(errs);
		json_decref(res.field_codes);
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	} else if (rc != EV_INVALID) {
		notice = EVP_M_DB;
		status = 503;
	}
	rc = evp_regs_page(r, status, id, NULL, errs, notice, rc == EV_KEY_REUSED);
	json_decref(errs);
	json_decref(res.field_codes);
	return rc;
}

/* POST /staff/events/{id}/registrations/{code}/cancel */
int h_ev_staff_reg_cancel(req *r)
{
	long long id = evp_id(r);
	const char *code = evp_code(r->a, rt_param(&r->params, "code"));
	json_t *reg = id && code ? ev_lookup(r, code, NULL) : NULL;
	if (!reg || evp_int(reg, "event_id") != id) {
		json_decref(reg);
		return resp_error(r, 404, NULL, EVP_M_LOOKUP_MISS, NULL);
	}
	json_decref(reg);
	int rc = ev_cancel_registration(r, code, NULL, NULL);
	if (rc == EV_OK)
		return resp_redirect(r, 303, ar_printf(r->a, "/staff/events/%lld/registrations?done=regcancel", id));
	return evp_after(r, rc, "");
}

/* The door page: q searches (code, phone tail or name); results with a
 * check-in box each, and the latest action's message. */
static int evp_checkin_page(req *r, int status, long long id, const char *q, const char *notice, const char *error)
{
	json_t *ev = ev_get(r, id, 0);
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	evp_decorate(r->a, ev);
	json_t *data = json_pack("{s:s, s:o, s:s}", "title", EVP_T_CHECKIN, "event", ev, "q", q ? q : "");
	if (q && *q) {
		json_t *regs = NULL;
		const char *code = evp_code(r->a, q);
		if (code) {
			json_t *one = ev_lookup(r, code, NULL);
			regs = json_array();
			if (one && evp_int(one, "event_id") == id)
				json_array_append(regs, one);
			json_decref(one);
			if (!json_array_size(regs)) {      /* six letters may also be part of a name */
				json_decref(regs);
				regs = ev_registrations(r, id, q);
			}
		} else
			regs = ev_registrations(r, id, q);
		if (!regs) {
			json_decref(data);
			return resp_error(r, 503, NULL, EVP_M_DB, NULL);
		}
		evp_staff_rows(r, regs, NULL);
		json_t *kept = json_array();
		size_t i;
		json_t *g;
		long long open = 0;   /* confirmed and not yet checked in */
		json_array_foreach(regs, i, g) {   /* cancelled ones are of no use at the door */
			if (strcmp(evp_str(g, "status"), "cancelled") != 0)
				json_array_append(kept, g);
			open += json_is_true(json_object_get(g, "is_confirmed")) && !json_is_true(json_object_get(g, "checked_in"));
		}
		json_decref(regs);
		json_object_set_new(data, "searched", json_true());
		json_object_set_new(data, "several", json_boolean(json_array_size(kept) > 1));
		json_object_set_new(data, "several_open", json_boolean(open > 1));
		json_object_set_new(data, "n_open", json_integer(open));
		json_object_set_new(data, "results", kept);
	}
	if (notice)
		json_object_set_new(data, "notice", json_string(notice));
	if (error)
		json_object_set_new(data, "error", json_string(error));
	return evp_staff_page(r, status, "checkin", data);
}

/* GET /staff/events/{id}/checkin?q=... */
int h_ev_staff_checkin_page(req *r)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	const char *q = req_param(r, "q");
	if (q && strlen(q) > 64)
		q = NULL;
	const char *done = req_param(r, "done"), *n = req_param(r, "n");
	const char *notice = NULL;
	if (done && (!strcmp(done, "checkin") || !strcmp(done, "undo")))
		notice = ar_printf(r->a, "%s %s 人", !strcmp(done, "checkin") ? EVP_M_CHECKED : EVP_M_UNDONE,
		                   n && strspn(n, "0123456789") == strlen(n) && strlen(n) < 6 ? n : "0");
	else if (done && !strcmp(done, "noshow"))
		notice = ar_printf(r->a, "%s：%s 人", EVP_M_NOSHOW, n && strspn(n, "0123456789") == strlen(n) && strlen(n) < 9 ? n : "0");
	return evp_checkin_page(r, 200, id, q, notice, NULL);
}

/* POST /staff/events/{id}/checkin (undo = 0) and .../checkin/undo: every
 * field "code" of the form (one, or a whole family ticked at once). */
static int evp_checkin_post(req *r, int undo)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	const char *q = form_get(&r->post, "q");
	if (q && strlen(q) > 64)
		q = NULL;
	int done = 0, failed = 0;
	for (const form_field *f = r->post.head; f; f = f->next) {
		if (strcmp(f->name, "code") != 0)
			continue;
		const char *code = evp_code(r->a, f->value);
		json_t *reg = code ? ev_lookup(r, code, NULL) : NULL;
		int ok = reg && evp_int(reg, "event_id") == id;
		json_decref(reg);
		if (ok && ev_checkin(r, code, undo) == EV_OK)
			done++;
		else
			failed++;
	}
	if (!done && !failed)
		return evp_checkin_page(r, 422, id, q, NULL, "请先勾选要签到的人。");
	if (failed)
		return evp_checkin_page(r, 409, id, q, done ? ar_printf(r->a, "%s %d 人", undo ? EVP_M_UNDONE : EVP_M_CHECKED, done) : NULL,
		                        ar_printf(r->a, "有 %d 条没有办成：报名码不对、不是本活动的，或者是候补/已取消的报名。", failed));
	buf loc = BUF_INIT;
	buf_printf(&loc, "/staff/events/%lld/checkin?done=%s&n=%d", id, undo ? "undo" : "checkin", done);
	if (q && *q) {
		buf_adds(&loc, "&q=");
		html_urlpart(&loc, q, strlen(q));
	}
	int rc = resp_redirect(r, 303, ar_strdup(r->a, buf_str(&loc)));
	buf_free(&loc);
	return rc;
}

/* POST /staff/events/{id}/checkin: check in every ticked code. */
int h_ev_staff_checkin(req *r)
{
	return evp_checkin_post(r, 0);
}

/* POST /staff/events/{id}/checkin/undo: undo the check-in of the code(s). */
int h_ev_staff_checkin_undo(req *r)
{
	return evp_checkin_post(r, 1);
}

/* POST /staff/events/{id}/no-shows: mark confirmed registrations of ended
 * events that were not checked in (the job does the same every night). */
int h_ev_staff_noshows(req *r)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	long long n = ev_mark_no_shows(r->db, r->a);
	if (n < 0)
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	audit_log(r, "event.no_shows", "event", ar_printf(r->a, "%lld", id), json_pack("{s:I}", "marked", (json_int_t)n));
	return resp_redirect(r, 303, ar_printf(r->a, "/staff/events/%lld/checkin?done=noshow&n=%lld", id, n));
}

/* GET /staff/events/{id}/signin.html: the printable sign-in sheet, phones to
 * the last four digits. */
int h_ev_staff_signin(req *r)
{
	long long id = evp_id(r);
	json_t *ev = id ? ev_get(r, id, 0) : NULL;
	if (!ev)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	evp_decorate(r->a, ev);
	json_t *regs = ev_registrations(r, id, NULL);
	if (!regs) {
		json_decref(ev);
		return resp_error(r, 503, NULL, EVP_M_DB, NULL);
	}
	evp_staff_rows(r, regs, NULL);
	json_t *rows = json_array();
	size_t i;
	json_t *g;
	json_array_foreach(regs, i, g) {
		if (!json_is_true(json_object_get(g, "is_confirmed")))
			continue;
		json_object_set_new(g, "phone_last4", json_string(ar_printf(r->a, "****%s", evp_str(g, "phone_tail"))));
		long long slot = evp_int(g, "slot_id");
		size_t j;
		json_t *s;
		json_array_foreach(json_object_get(ev, "slots"), j, s)
			if (evp_int(s, "id") == slot)
				json_object_set_new(g, "slot_when", json_string(evp_short(r->a, evp_str(s, "starts_at"))));
		json_array_append(rows, g);
	}
	json_decref(regs);
	audit_log(r, "event.signin_sheet", "event", ar_printf(r->a, "%lld", id), NULL);
	json_t *data = json_pack("{s:s, s:o, s:I, s:o}", "title", EVP_T_SIGNIN, "event", ev, "count",
	                         (json_int_t)json_array_size(rows), "rows", rows);
	json_object_set_new(data, "has_slots", json_boolean(json_array_size(json_object_get(ev, "slots")) > 0));
	int rc = resp_page(r, 200, "signin_sheet", data);
	json_decref(data);
	return rc;
}

/* GET /staff/events/{id}/registrations.csv (ev_csv audits the export) */
int h_ev_staff_csv(req *r)
{
	long long id = evp_id(r);
	if (!id)
		return resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL);
	buf out = BUF_INIT;
	int rc = ev_csv(r, id, &out);
	if (rc != EV_OK) {
		buf_free(&out);
		return rc == EV_NOT_FOUND ? resp_error(r, 404, "not_found", EVP_M_NO_EVENT, NULL)
		                          : resp_error(r, 503, NULL, EVP_M_DB, NULL);
	}
	resp_header(r, "Content-Disposition", ar_printf(r->a, "attachment; filename=\"event-%lld-registrations.csv\"", id));
	rc = resp_text(r, 200, "text/csv; charset=utf-8", out.p ? out.p : "", out.len);
	buf_free(&out);
	return rc;
}
