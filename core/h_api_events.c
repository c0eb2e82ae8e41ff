/* h_api_events.c - the events JSON API (docs/api.md). Public: list, one event,
 * register, look up and cancel by code + phone (rate-limited per client
 * address). Staff (bearer token, roles staff/admin; the gate checks them):
 * create, update, publish, registrations (JSON or CSV), check-in. */
#include "audit.h"
#include "auth.h"
#include "events.h"
#include "pcache.h"
#include "handlers.h"
#include "ratelimit.h"
#include "valid.h"
#include <stdlib.h>
#include <string.h>

/* zh-CN messages of this module */
static const struct {
	const char *bad_json, *not_object, *rate, *bad_id, *bad_query, *bad_date, *limit, *offset;
} api_zh = {
	"请求内容不是有效的 JSON", "请求内容必须是 JSON 对象", "操作太频繁，请稍后再试", "活动编号不正确",
	"查询条件不正确，请看各项说明", "日期格式不正确，应为 YYYY-MM-DD，例如 2026-12-20", "每页数量", "起始位置",
};

/* GET /api/v1/events paging: limit 1..API_EV_LIMIT_MAX (absent: the most, which
 * is what the list gave before it had paging), offset 0..API_EV_OFFSET_MAX. */
#define API_EV_LIMIT_MAX EV_LIST_LIMIT_DEFAULT
#define API_EV_OFFSET_MAX 1000000

/* The event id of the route, or 0 when it is not a positive integer. */
static long long api_id(req *r)
{
	const char *s = rt_param(&r->params, "id");
	if (!s || !*s || strlen(s) > 10 || strspn(s, "0123456789") != strlen(s))
		return 0;
	return atoll(s);
}

/* Apply the per-address limit; 1 (with the 429 set) when over it. */
static int api_limited(req *r, const char *what, int per_hour)
{
	if (!r->cf->rate_limits)
		return 0;
	const char *bucket = ar_printf(r->a, "%s:addr:%s", what, r->remote_addr ? r->remote_addr : "");
	int over = rl_hit(r->db, r->a, bucket, per_hour, 3600, NULL);
	if (over == 1) {
		resp_header(r, "Retry-After", "600");
		resp_error(r, 429, "rate_limited", api_zh.rate, NULL);
		return 1;
	}
	return 0;
}

/* The body as a JSON object, or NULL with the 4xx set. */
static json_t *api_body(req *r)
{
	json_error_t je;
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		resp_error(r, 400, "invalid_json", api_zh.bad_json, NULL);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		resp_error(r, 422, "invalid", api_zh.not_object, NULL);
		return NULL;
	}
	return j;
}

static int api_rc_status(int rc)
{
	switch (rc) {
	case EV_NOT_FOUND: return 404;
	case EV_INVALID: return 422;
	case EV_DUPLICATE_PHONE: return 409;
	case EV_DUPLICATE_KEY: return 409;
	case EV_CLOSED: return 403;
	case EV_FULL_NO_WAITLIST: return 409;
	case EV_STATE: return 409;
	case EV_KEY_REUSED: return 422;
	default: return 500;
	}
}

static int api_fail(req *r, int rc, json_t *fields)
{
	return resp_error(r, api_rc_status(rc), ev_rc_code(rc), ev_rc_message(rc), fields);
}

/* The query parameter rule->name as an integer of rule into *out (unchanged
 * when absent or empty); when invalid, fields[rule->name] gets the zh-CN message. */
static void api_int_param(req *r, const val_rule *rule, long long *out, json_t *fields)
{
	val_value v;
	val_error e;
	if (val_one(r->a, rule, req_param(r, rule->name), &v, &e) != 0)
		json_object_set_new(fields, rule->name, json_string(e.message));
	else if (v.present)
		*out = v.i;
}

int h_api_events(req *r)
{
	if (pcache_serve(r))
		return r->status;
	ev_filter f = {0};
	f.kind = req_param(r, "kind");
	f.from = req_param(r, "from");
	f.to = req_param(r, "to");
	json_t *fields = json_object();
	int y, m, d;
	if (f.from && !val_date(f.from, &y, &m, &d))
		json_object_set_new(fields, "from", json_string(api_zh.bad_date));
	if (f.to && !val_date(f.to, &y, &m, &d))
		json_object_set_new(fields, "to", json_string(api_zh.bad_date));
	const val_rule limit_rule = {"limit", VAL_INT, 0, 1, API_EV_LIMIT_MAX, NULL, api_zh.limit};
	const val_rule offset_rule = {"offset", VAL_INT, 0, 0, API_EV_OFFSET_MAX, NULL, api_zh.offset};
	long long limit = API_EV_LIMIT_MAX, offset = 0;
	api_int_param(r, &limit_rule, &limit, fields);
	api_int_param(r, &offset_rule, &offset, fields);
	if (json_object_size(fields) > 0)
		return resp_error(r, 422, "invalid", api_zh.bad_query, fields);
	json_decref(fields);
	/* one row past the page tells whether there is a next one, without a count */
	f.limit = (int)limit + 1;
	f.offset = offset;
	json_t *list = ev_list(r, &f);
	if (!list)
		return api_fail(r, EV_DB, NULL);
	int more = json_array_size(list) > (size_t)limit;
	if (more)
		json_array_remove(list, (size_t)limit);
	int rc = resp_json(r, 200, json_pack("{s:o, s:I, s:I, s:o}", "events", list, "limit", (json_int_t)limit, "offset",
	                                     (json_int_t)offset, "next_offset",
	                                     more ? json_integer((json_int_t)(offset + limit)) : json_null()));
	pcache_store(r);
	return rc;
}

int h_api_event(req *r)
{
	long long id = api_id(r);
	json_t *e = id ? ev_get(r, id, 1) : NULL;
	if (!e)
		return api_fail(r, EV_NOT_FOUND, NULL);
	return resp_json(r, 200, e);
}

/* The Idempotency-Key header (docs/api.md "Retries"), without the quotes of
 * its structured-field form ("...") when it has them; NULL when absent or
 * empty. ev_register checks its form. */
static const char *api_idempotency_key(req *r)
{
	const char *k = r->idempotency_key;
	if (!k || !*k)
		return NULL;
	size_t n = strlen(k);
	if (n >= 2 && k[0] == '"' && k[n - 1] == '"')
		return ar_strndup(r->a, k + 1, n - 2);
	return k;
}

int h_api_event_register(req *r)
{
	long long id = api_id(r);
	if (!id)
		return api_fail(r, EV_NOT_FOUND, NULL);
	if (api_limited(r, "register", r->cf->register_limit_per_hour))
		return r->status;
	json_t *j = api_body(r);
	if (!j)
		return r->status;
	ev_reg_input in = {0};
	json_t *fields = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		if (strcmp(key, "name") == 0 || strcmp(key, "phone") == 0 || strcmp(key, "on_behalf_of") == 0) {
			if (!json_is_string(v))
				json_object_set_new(fields, key, json_string("类型不正确，应为文字"));
			else if (key[0] == 'n')
				in.name = json_string_value(v);
			else if (key[0] == 'p')
				in.phone = json_string_value(v);
			else
				in.on_behalf_of = json_string_value(v);
		} else if (strcmp(key, "slot_id") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_integer(v) || json_integer_value(v) <= 0)
				json_object_set_new(fields, key, json_string("类型不正确，应为场次编号"));
			else
				in.slot_id = json_integer_value(v);
		} else if (strcmp(key, "answers") == 0) {
			if (!json_is_object(v))
				json_object_set_new(fields, key, json_string("类型不正确，应为对象"));
			else
				in.answers = v;
		} else if (strcmp(key, "consent") == 0) {
			if (!json_is_boolean(v))
				json_object_set_new(fields, key, json_string("类型不正确，应为 true 或 false"));
			else
				in.consent = json_is_true(v);
		} else
			json_object_set_new(fields, key, json_string("不认识的字段"));
	}
	if (json_object_size(fields)) {
		json_decref(j);
		/* the event must exist for input errors to matter */
		json_t *ev = ev_get(r, id, 1);
		if (!ev) {
			json_decref(fields);
			return api_fail(r, EV_NOT_FOUND, NULL);
		}
		json_decref(ev);
		return api_fail(r, EV_INVALID, fields);
	}
	json_decref(fields);
	in.idempotency_key = api_idempotency_key(r);
	auth_user *u = auth_identify(r);
	long long by = u && (u->roles & (ROLE_STAFF | ROLE_ADMIN)) ? u->id : 0;
	ev_reg_result res;
	int rc = ev_register(r, id, &in, by, &res);
	json_decref(j);
	if (rc == EV_DUPLICATE_KEY)              /* a plugin's rule: its own message */
		return resp_error(r, 409, ev_rc_code(rc), res.message, NULL);
	if (rc != EV_OK) {
		json_decref(res.field_codes);
		return api_fail(r, rc, res.fields);
	}
	json_t *out = json_pack("{s:s, s:s}", "code", res.code, "status", res.status);
	if (res.position)
		json_object_set_new(out, "position", json_integer(res.position));
	if (res.replayed)   /* a retry of a saved submission: its answer again */
		resp_header(r, "Idempotent-Replayed", "true");
	return resp_json(r, 201, out);
}

int h_api_registration(req *r)
{
	if (api_limited(r, "lookup", r->cf->lookup_limit_per_hour))
		return r->status;
	const char *phone = req_param(r, "phone");
	json_t *reg = phone ? ev_lookup(r, rt_param(&r->params, "code"), phone) : NULL;
	if (!reg)
		return api_fail(r, EV_NOT_FOUND, NULL);
	return resp_json(r, 200, reg);
}

int h_api_registration_cancel(req *r)
{
	if (api_limited(r, "lookup", r->cf->lookup_limit_per_hour))
		return r->status;
	const char *phone = req_param(r, "phone");
	if (!phone)
		return api_fail(r, EV_NOT_FOUND, NULL);
	int rc = ev_cancel_registration(r, rt_param(&r->params, "code"), phone, NULL);
	if (rc != EV_OK)
		return api_fail(r, rc, NULL);
	return resp_json(r, 200, ev_lookup(r, rt_param(&r->params, "code"), phone));
}

int h_api_event_create(req *r)
{
	json_t *j = api_body(r);
	if (!j)
		return r->status;
	long long id = 0;
	json_t *fields = NULL;
	int rc = ev_create(r, j, &id, &fields);
	json_decref(j);
	if (rc != EV_OK)
		return api_fail(r, rc, fields);
	json_t *e = ev_get(r, id, 0);
	return resp_json(r, 201, e ? e : json_pack("{s:I}", "id", (json_int_t)id));
}

int h_api_event_update(req *r)
{
	long long id = api_id(r);
	if (!id)
		return api_fail(r, EV_NOT_FOUND, NULL);
	json_t *j = api_body(r);
	if (!j)
		return r->status;
	json_t *fields = NULL;
	int rc = ev_update(r, id, j, &fields);
	json_decref(j);
	if (rc != EV_OK)
		return api_fail(r, rc, fields);
	return resp_json(r, 200, ev_get(r, id, 0));
}

int h_api_event_publish(req *r)
{
	long long id = api_id(r);
	int rc = id ? ev_publish(r, id) : EV_NOT_FOUND;
	if (rc != EV_OK)
		return api_fail(r, rc, NULL);
	return resp_json(r, 200, ev_get(r, id, 0));
}

int h_api_event_registrations(req *r)
{
	long long id = api_id(r);
	json_t *ev = id ? ev_get(r, id, 0) : NULL;   /* only: does the event exist */
	if (!ev)
		return api_fail(r, EV_NOT_FOUND, NULL);
	json_decref(ev);
	json_t *list = ev_registrations(r, id, req_param(r, "q"));
	if (!list)
		return api_fail(r, EV_DB, NULL);
	return resp_json(r, 200, json_pack("{s:I, s:o}", "event_id", (json_int_t)id, "registrations", list));
}

int h_api_event_registrations_csv(req *r)
{
	long long id = api_id(r);
	if (!id)
		return api_fail(r, EV_NOT_FOUND, NULL);
	buf b = BUF_INIT;
	int rc = ev_csv(r, id, &b);
	if (rc != EV_OK) {
		buf_free(&b);
		return api_fail(r, rc, NULL);
	}
	resp_header(r, "Content-Disposition", ar_printf(r->a, "attachment; filename=\"event-%lld.csv\"", id));
	resp_text(r, 200, "text/csv; charset=utf-8", b.p, b.len);
	buf_free(&b);
	return 200;
}

int h_api_registration_checkin(req *r)
{
	int undo = 0;
	if (r->body_len) {
		json_t *j = api_body(r);
		if (!j)
			return r->status;
		json_t *u = json_object_get(j, "undo");
		const char *key;
		json_t *v;
		json_t *fields = json_object();
		json_object_foreach(j, key, v) if (strcmp(key, "undo") != 0)
			json_object_set_new(fields, key, json_string("不认识的字段"));
		if (u && !json_is_boolean(u))
			json_object_set_new(fields, "undo", json_string("类型不正确，应为 true 或 false"));
		undo = json_is_true(u);
		json_decref(j);
		if (json_object_size(fields))
			return api_fail(r, EV_INVALID, fields);
		json_decref(fields);
	}
	int rc = ev_checkin(r, rt_param(&r->params, "code"), undo);
	if (rc != EV_OK)
		return api_fail(r, rc, NULL);
	return resp_json(r, 200, ev_lookup(r, rt_param(&r->params, "code"), NULL));
}
