/* events.c - events, registrations, waitlist, check-in, exports (see events.h). */
#define _GNU_SOURCE
#include "events.h"
#include "audit.h"
#include "ev_keys.h"
#include "auth.h"
#include "evcache.h"
#include "html.h"
#include "log.h"
#include "outbox.h"
#include "plugin.h"
#include "plugin_form.h"
#include "utf8.h"
#include "valid.h"
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* zh-CN strings of this module */
static const struct {
	const char *required, *too_long, *bad_type, *unknown, *bad_time, *bad_int, *bad_phone, *ends_before,
	    *closes_before, *slot_required, *slot_other, *capacity_below, *slots_locked, *consent, *general;
} ev_zh = {
	"此项必填", "内容过长", "类型不正确", "不认识的字段", "时间格式不正确，例如 2026-12-20T09:00:00+08:00",
	"请填写有效的数字", "请填写有效的手机号（11 位）", "结束时间不能早于开始时间", "报名截止时间不能早于开放时间",
	"请选择场次", "所选场次不属于本活动", "名额不能少于已报名人数", "已有人报名，场次不能再修改",
	"请勾选同意", "活动",
};

/* How a resident who already registered finds the code again. Only what the
 * portal really does: no SMS is promised (the shipped sender writes to the
 * log); desk staff find a registration by the phone's last digits. */
#define EV_M_DUPLICATE_PHONE \
	"这个手机号已经报过名了，不用再报。报名码在报名成功的页面上；忘了报名码也没关系：" \
	"活动当天在签到处报手机号就能签到，要查看或取消报名，请带上手机到社区服务窗口。"

const char *ev_rc_code(int rc)
{
	switch (rc) {
	case EV_OK: return "ok";
	case EV_NOT_FOUND: return "not_found";
	case EV_INVALID: return "invalid";
	case EV_DUPLICATE_PHONE: return "duplicate_phone";
	case EV_CLOSED: return "closed";
	case EV_FULL_NO_WAITLIST: return "full";
	case EV_STATE: return "conflict";
	case EV_DUPLICATE_KEY: return "duplicate";
	case EV_KEY_REUSED: return "idempotency_key_reused";
	default: return "internal";
	}
}

const char *ev_rc_message(int rc)
{
	switch (rc) {
	case EV_OK: return "成功";
	case EV_NOT_FOUND: return "没有找到，请核对报名码和手机号";
	case EV_INVALID: return "填写的内容有误，请检查";
	case EV_DUPLICATE_PHONE: return EV_M_DUPLICATE_PHONE;
	case EV_CLOSED: return "报名未开放或已截止";
	case EV_FULL_NO_WAITLIST: return "名额已满";
	case EV_STATE: return "当前状态下不能这样操作";
	case EV_DUPLICATE_KEY: return "已经报过名了";
	case EV_KEY_REUSED: return "这个 Idempotency-Key 已经用于另一份内容不同的报名。新的报名请换一个新的 key。";
	default: return "系统暂时出了问题，请稍后再试";
	}
}

/* ---------------------------------------------------------------- times */

const char *ev_now(arena *a)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	char s[24];
	strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &tm);
	return ar_strdup(a, s);
}

const char *ev_time_in(arena *a, const char *iso)
{
	char out[20];
	int tz = 0, has_tz = 0;
	if (!iso || !val_datetime(iso, out, &tz, &has_tz))
		return NULL;
	if (!has_tz || tz == 480)
		return ar_strdup(a, out);
	struct tm tm = {0};
	if (sscanf(out, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec) != 6)
		return NULL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm) - (time_t)tz * 60 + 8 * 3600;
	struct tm o;
	gmtime_r(&t, &o);
	char s[24];
	strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &o);
	return ar_strdup(a, s);
}

const char *ev_time_out(arena *a, const char *t)
{
	if (!t || strlen(t) < 19)
		return NULL;
	return ar_printf(a, "%.10sT%.8s+08:00", t, t + 11);
}

const char *ev_mask_phone(arena *a, const char *phone)
{
	char m[12];
	val_mask_phone(phone, m);
	return ar_strdup(a, m);
}

/* ---------------------------------------------------------------- kinds */

typedef struct ev_kind {
	const char *id, *title;
	const pform *form;
	int retention_days;
} ev_kind;

/* Fill k for kind id; 0 when known, -1 when not. */
static int ev_kind_find(req *r, const char *id, ev_kind *k)
{
	memset(k, 0, sizeof *k);
	if (!id)
		return -1;
	if (strcmp(id, "general") == 0) {
		k->id = "general";
		k->title = ev_zh.general;
		k->retention_days = EV_RETENTION_DEFAULT;
		return 0;
	}
	json_t *all = plug_event_kinds(r->plugins);
	size_t i;
	json_t *it;
	int found = -1;
	json_array_foreach(all, i, it) {
		const char *kid = json_string_value(json_object_get(it, "id"));
		if (!kid || strcmp(kid, id) != 0)
			continue;
		k->id = ar_strdup(r->a, kid);
		/* a title is a text or {zh = ..., en = ...} (plugin manifests allow both) */
		json_t *tj = json_object_get(it, "title");
		const char *t = json_is_string(tj) ? json_string_value(tj) : json_string_value(json_object_get(tj, "zh"));
		k->title = ar_strdup(r->a, t && *t ? t : kid);
		json_t *rd = json_object_get(it, "retention_days");
		k->retention_days = json_is_integer(rd) ? (int)json_integer_value(rd) : EV_RETENTION_DEFAULT;
		const char *pid = json_string_value(json_object_get(it, "plugin"));
		const char *fname = json_string_value(json_object_get(it, "form"));
		plugin *p = pid ? plug_find(r->plugins, pid) : NULL;
		if (p && fname)
			k->form = plug_find_form(p, fname);
		found = 0;
		break;
	}
	json_decref(all);
	return found;
}

json_t *ev_kinds(req *r)
{
	json_t *out = json_array();
	json_array_append_new(out, json_pack("{s:s, s:s, s:n, s:n, s:i}", "id", "general", "title", ev_zh.general,
	                                     "plugin", "form", "retention_days", EV_RETENTION_DEFAULT));
	json_t *all = plug_event_kinds(r->plugins);
	json_array_extend(out, all);
	json_decref(all);
	return out;
}

const pform *ev_kind_form(req *r, const char *id)
{
	ev_kind k;
	return ev_kind_find(r, id, &k) == 0 ? k.form : NULL;
}

int ev_kind_known(req *r, const char *id)
{
	ev_kind k;
	return ev_kind_find(r, id, &k) == 0;
}

/* 1 when the form has a consent field; its name into *name. */
static int ev_form_consent(const pform *f, const char **name, arena *a)
{
	if (!f)
		return 0;
	json_t *s = pform_schema(f);
	size_t i;
	json_t *fl;
	int has = 0;
	json_array_foreach(json_object_get(s, "fields"), i, fl) {
		const char *t = json_string_value(json_object_get(fl, "type"));
		if (t && strcmp(t, "consent") == 0) {
			if (name)
				*name = ar_strdup(a, json_string_value(json_object_get(fl, "name")));
			has = 1;
			break;
		}
	}
	json_decref(s);
	return has;
}

/* ---------------------------------------------------------------- events out */

#define EV_SLOT_COLS \
	"s.id, s.event_id, DATE_FORMAT(s.starts_at, '%Y-%m-%dT%H:%i:%s+08:00') AS starts_at," \
	" DATE_FORMAT(s.ends_at, '%Y-%m-%dT%H:%i:%s+08:00') AS ends_at, s.capacity, s.taken"

#define EV_COLS \
	"e.id, e.kind, e.title, e.description, e.location," \
	" DATE_FORMAT(e.starts_at, '%Y-%m-%dT%H:%i:%s+08:00') AS starts_at," \
	" DATE_FORMAT(e.ends_at, '%Y-%m-%dT%H:%i:%s+08:00') AS ends_at," \
	" DATE_FORMAT(e.registration_opens_at, '%Y-%m-%dT%H:%i:%s+08:00') AS registration_opens_at," \
	" DATE_FORMAT(e.registration_closes_at, '%Y-%m-%dT%H:%i:%s+08:00') AS registration_closes_at," \
	" e.capacity, e.taken, e.waitlist, e.status, e.retention_days, e.created_by," \
	" DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%s+08:00') AS created_at," \
	" DATE_FORMAT(e.updated_at, '%Y-%m-%dT%H:%i:%s+08:00') AS updated_at," \
	" (e.status = 'published' AND NOW() >= COALESCE(e.registration_opens_at, '1000-01-01')" \
	"  AND NOW() < COALESCE(e.registration_closes_at, e.starts_at) AND NOW() < e.starts_at) AS reg_open," \
	" (SELECT COUNT(*) FROM registrations w WHERE w.event_id = e.id AND w.status = 'waitlisted') AS waitlisted"

static json_t *ev_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *ev_row_json(req *r, const db_res *res, size_t i, int staff, const db_res *slot_res)
{
	long long cap = db_cell_int(res, i, "capacity"), taken = db_cell_int(res, i, "taken");
	ev_kind k;
	const char *kid = db_cell(res, i, "kind");
	if (ev_kind_find(r, kid, &k) != 0)
		k.title = kid;
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(db_cell_int(res, i, "id")));
	json_object_set_new(o, "kind", json_string(kid));
	json_object_set_new(o, "kind_title", json_string(k.title ? k.title : kid));
	json_object_set_new(o, "title", json_string(db_cell(res, i, "title")));
	json_object_set_new(o, "description", json_string(db_cell(res, i, "description")));
	json_object_set_new(o, "location", json_string(db_cell(res, i, "location")));
	static const char *const tcols[] = {"starts_at", "ends_at", "registration_opens_at", "registration_closes_at"};
	for (size_t t = 0; t < 4; t++)
		json_object_set_new(o, tcols[t], ev_str_or_null(db_cell(res, i, tcols[t])));
	json_object_set_new(o, "capacity", json_integer(cap));
	json_object_set_new(o, "taken", json_integer(taken));
	json_object_set_new(o, "remaining", json_integer(cap > taken ? cap - taken : 0));
	json_object_set_new(o, "waitlist", json_boolean(db_cell_int(res, i, "waitlist")));
	json_object_set_new(o, "waitlisted", json_integer(db_cell_int(res, i, "waitlisted")));
	json_object_set_new(o, "status", json_string(db_cell(res, i, "status")));
	json_object_set_new(o, "registration_open", json_boolean(db_cell_int(res, i, "reg_open")));
	json_object_set_new(o, "retention_days", json_integer(db_cell_int(res, i, "retention_days")));
	json_object_set_new(o, "consent_required", json_boolean(ev_form_consent(k.form, NULL, r->a)));
	if (staff) {
		const char *cb = db_cell(res, i, "created_by");
		json_object_set_new(o, "created_by", cb ? json_integer(atoll(cb)) : json_null());
		json_object_set_new(o, "created_at", json_string(db_cell(res, i, "created_at")));
		json_object_set_new(o, "updated_at", json_string(db_cell(res, i, "updated_at")));
	}
	/* slots: rows of slot_res (ordered by event) belonging to this event */
	json_t *slots = json_array();
	long long eid = db_cell_int(res, i, "id");
	for (size_t j = 0; slot_res && j < slot_res->nrows; j++) {
		if (db_cell_int(slot_res, j, "event_id") != eid)
			continue;
		long long sc = db_cell_int(slot_res, j, "capacity"), st = db_cell_int(slot_res, j, "taken");
		json_array_append_new(slots, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}", "id",
		                                       (json_int_t)db_cell_int(slot_res, j, "id"), "starts_at",
		                                       db_cell(slot_res, j, "starts_at"), "ends_at",
		                                       db_cell(slot_res, j, "ends_at"), "capacity", (json_int_t)sc, "taken",
		                                       (json_int_t)st, "remaining", (json_int_t)(sc > st ? sc - st : 0)));
	}
	json_object_set_new(o, "slots", slots);
	return o;
}

#define EV_LIST_WHERE \
	" WHERE (? = 1 OR (e.status = 'published' AND e.ends_at >= NOW()))" \
	" AND (? IS NULL OR e.kind = ?)" \
	" AND (? IS NULL OR e.starts_at >= ?)" \
	" AND (? IS NULL OR e.starts_at < ? + INTERVAL 1 DAY)"

json_t *ev_list(req *r, const ev_filter *f)
{
	db_res *res = NULL, *slots = NULL;
	const char *from = f->from, *to = f->to;
	int limit = f->limit > 0 ? f->limit : EV_LIST_LIMIT_DEFAULT;
	long long offset = f->offset > 0 ? f->offset : 0;
	/* two queries whatever the number of events: the events, then their slots */
	int rc = db_q(r->db, r->a, &res,
	              "SELECT " EV_COLS " FROM events e" EV_LIST_WHERE " ORDER BY e.starts_at, e.id LIMIT ? OFFSET ?",
	              DB_INT(f->staff ? 1 : 0), DB_TEXT(f->kind), DB_TEXT(f->kind), DB_TEXT(from), DB_TEXT(from),
	              DB_TEXT(to), DB_TEXT(to), DB_INT(limit), DB_INT(offset));
	if (rc == DB_OK && res->nrows > 0)
		rc = db_q(r->db, r->a, &slots,
		          "SELECT " EV_SLOT_COLS " FROM event_slots s JOIN (SELECT e.id FROM events e" EV_LIST_WHERE
		          " ORDER BY e.starts_at, e.id LIMIT ? OFFSET ?) l ON l.id = s.event_id"
		          " ORDER BY s.event_id, s.starts_at, s.id",
		          DB_INT(f->staff ? 1 : 0), DB_TEXT(f->kind), DB_TEXT(f->kind), DB_TEXT(from), DB_TEXT(from),
		          DB_TEXT(to), DB_TEXT(to), DB_INT(limit), DB_INT(offset));
	if (rc != DB_OK) {
		log_err("event list failed", "error=\"%s\"", db_errmsg(r->db));
		return NULL;
	}
	json_t *out = json_array();
	for (size_t i = 0; i < res->nrows; i++)
		json_array_append_new(out, ev_row_json(r, res, i, f->staff, slots));
	return out;
}

long long ev_count(req *r, const ev_filter *f)
{
	db_res *res = NULL;
	int rc = db_q(r->db, r->a, &res, "SELECT COUNT(*) AS n FROM events e" EV_LIST_WHERE,
	              DB_INT(f->staff ? 1 : 0), DB_TEXT(f->kind), DB_TEXT(f->kind), DB_TEXT(f->from), DB_TEXT(f->from),
	              DB_TEXT(f->to), DB_TEXT(f->to));
	if (rc != DB_OK) {
		log_err("event count failed", "error=\"%s\"", db_errmsg(r->db));
		return rc;
	}
	return db_cell_int(res, 0, "n");
}

json_t *ev_get(req *r, long long id, int public_only)
{
	db_res *res = NULL;
	if (db_q(r->db, r->a, &res, "SELECT " EV_COLS " FROM events e WHERE e.id = ?", DB_INT(id)) != DB_OK ||
	    res->nrows == 0)
		return NULL;
	if (public_only && strcmp(db_cell(res, 0, "status"), "draft") == 0)
		return NULL;
	db_res *slots = NULL;
	if (db_q(r->db, r->a, &slots,
	         "SELECT " EV_SLOT_COLS " FROM event_slots s WHERE s.event_id = ? ORDER BY s.starts_at, s.id",
	         DB_INT(id)) != DB_OK)
		return NULL;
	json_t *o = ev_row_json(r, res, 0, !public_only, slots);
	ev_kind k;
	json_t *fs = NULL;
	if (ev_kind_find(r, db_cell(res, 0, "kind"), &k) == 0 && k.form)
		fs = pform_schema(k.form);
	json_object_set_new(o, "form", fs ? fs : json_null());
	return o;
}

/* ---------------------------------------------------------------- event input */

typedef struct ev_in {
	const char *kind, *title, *description, *location, *starts_at, *ends_at, *opens_at, *closes_at;
	long long capacity, retention_days;
	int waitlist;
	unsigned seen;               /* EVK_* bits present */
	size_t nslots;
	struct { const char *starts_at, *ends_at; long long capacity; } slots[EV_SLOTS_MAX];
} ev_in;

enum {
	EVK_KIND = 1, EVK_TITLE = 2, EVK_DESC = 4, EVK_LOC = 8, EVK_START = 16, EVK_END = 32, EVK_OPENS = 64,
	EVK_CLOSES = 128, EVK_CAP = 256, EVK_WAIT = 512, EVK_RET = 1024, EVK_SLOTS = 2048
};

static void ev_ferr(json_t *fields, const char *name, const char *msg)
{
	if (!json_object_get(fields, name))
		json_object_set_new(fields, name, json_string(msg));
}

/* A text field: string of 1..max characters (or 0..max when optional). */
static const char *ev_text(arena *a, json_t *v, const char *name, size_t max, int multiline, int required,
                           json_t *fields)
{
	if (!json_is_string(v)) {
		ev_ferr(fields, name, ev_zh.bad_type);
		return NULL;
	}
	val_rule rule = {name, multiline ? VAL_MULTILINE : VAL_TEXT, required, 0, (long long)max, NULL, name};
	val_value vv;
	val_error ve;
	if (val_one(a, &rule, json_string_value(v), &vv, &ve) != 0) {
		ev_ferr(fields, name, ve.message);
		return NULL;
	}
	return vv.s;
}

static const char *ev_time_field(arena *a, json_t *v, const char *name, json_t *fields)
{
	const char *t = json_is_string(v) ? ev_time_in(a, json_string_value(v)) : NULL;
	if (!t)
		ev_ferr(fields, name, json_is_string(v) ? ev_zh.bad_time : ev_zh.bad_type);
	return t;
}

static int ev_int_field(json_t *v, const char *name, long long lo, long long hi, long long *out, json_t *fields)
{
	if (!json_is_integer(v)) {
		ev_ferr(fields, name, ev_zh.bad_type);
		return -1;
	}
	long long x = json_integer_value(v);
	if (x < lo || x > hi) {
		ev_ferr(fields, name, ev_zh.bad_int);
		return -1;
	}
	*out = x;
	return 0;
}

/* Parse the event keys of in into e; errors into fields. creating: required
 * keys must be there. */
static void ev_parse(req *r, json_t *in, ev_in *e, int creating, json_t *fields)
{
	memset(e, 0, sizeof *e);
	e->waitlist = 1;
	if (!json_is_object(in)) {
		ev_ferr(fields, "_body", ev_zh.bad_type);
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v) {
		if (strcmp(key, "kind") == 0) {
			e->seen |= EVK_KIND;
			e->kind = json_is_string(v) ? json_string_value(v) : NULL;
			if (!e->kind)
				ev_ferr(fields, key, ev_zh.bad_type);
			else if (!ev_kind_known(r, e->kind))
				ev_ferr(fields, key, "不认识的活动类型");
		} else if (strcmp(key, "title") == 0) {
			e->seen |= EVK_TITLE;
			e->title = ev_text(r->a, v, key, EV_TITLE_MAX, 0, 1, fields);
		} else if (strcmp(key, "description") == 0) {
			e->seen |= EVK_DESC;
			e->description = ev_text(r->a, v, key, EV_DESCRIPTION_MAX, 1, 0, fields);
		} else if (strcmp(key, "location") == 0) {
			e->seen |= EVK_LOC;
			e->location = ev_text(r->a, v, key, EV_LOCATION_MAX, 0, 1, fields);
		} else if (strcmp(key, "starts_at") == 0) {
			e->seen |= EVK_START;
			e->starts_at = ev_time_field(r->a, v, key, fields);
		} else if (strcmp(key, "ends_at") == 0) {
			e->seen |= EVK_END;
			e->ends_at = ev_time_field(r->a, v, key, fields);
		} else if (strcmp(key, "registration_opens_at") == 0) {
			e->seen |= EVK_OPENS;
			if (!json_is_null(v))
				e->opens_at = ev_time_field(r->a, v, key, fields);
		} else if (strcmp(key, "registration_closes_at") == 0) {
			e->seen |= EVK_CLOSES;
			if (!json_is_null(v))
				e->closes_at = ev_time_field(r->a, v, key, fields);
		} else if (strcmp(key, "capacity") == 0) {
			e->seen |= EVK_CAP;
			ev_int_field(v, key, 1, EV_CAPACITY_MAX, &e->capacity, fields);
		} else if (strcmp(key, "retention_days") == 0) {
			e->seen |= EVK_RET;
			ev_int_field(v, key, 1, 3650, &e->retention_days, fields);
		} else if (strcmp(key, "waitlist") == 0) {
			e->seen |= EVK_WAIT;
			if (!json_is_boolean(v))
				ev_ferr(fields, key, ev_zh.bad_type);
			else
				e->waitlist = json_is_true(v);
		} else if (strcmp(key, "slots") == 0) {
			e->seen |= EVK_SLOTS;
			if (!json_is_array(v) || json_array_size(v) > EV_SLOTS_MAX) {
				ev_ferr(fields, key, ev_zh.bad_type);
				continue;
			}
			size_t i;
			json_t *s;
			json_array_foreach(v, i, s) {
				char *nm = ar_printf(r->a, "slots[%zu]", i);
				if (!json_is_object(s) || json_object_size(s) != 3 || !json_object_get(s, "starts_at") ||
				    !json_object_get(s, "ends_at") || !json_object_get(s, "capacity")) {
					ev_ferr(fields, nm, "场次需要 starts_at、ends_at、capacity 三项");
					continue;
				}
				e->slots[i].starts_at = ev_time_field(r->a, json_object_get(s, "starts_at"), nm, fields);
				e->slots[i].ends_at = ev_time_field(r->a, json_object_get(s, "ends_at"), nm, fields);
				ev_int_field(json_object_get(s, "capacity"), nm, 1, EV_CAPACITY_MAX, &e->slots[i].capacity,
				             fields);
				if (e->slots[i].starts_at && e->slots[i].ends_at &&
				    strcmp(e->slots[i].ends_at, e->slots[i].starts_at) < 0)
					ev_ferr(fields, nm, ev_zh.ends_before);
			}
			e->nslots = json_array_size(v);
		} else
			ev_ferr(fields, key, ev_zh.unknown);
	}
	if (creating) {
		static const struct { unsigned bit; const char *name; } req_keys[] = {
			{EVK_KIND, "kind"}, {EVK_TITLE, "title"}, {EVK_LOC, "location"}, {EVK_START, "starts_at"},
			{EVK_END, "ends_at"}, {EVK_CAP, "capacity"}};
		for (size_t i = 0; i < sizeof req_keys / sizeof req_keys[0]; i++)
			if (!(e->seen & req_keys[i].bit))
				ev_ferr(fields, req_keys[i].name, ev_zh.required);
	}
	if (e->starts_at && e->ends_at && strcmp(e->ends_at, e->starts_at) < 0)
		ev_ferr(fields, "ends_at", ev_zh.ends_before);
	if (e->opens_at && e->closes_at && strcmp(e->closes_at, e->opens_at) < 0)
		ev_ferr(fields, "registration_closes_at", ev_zh.closes_before);
}

struct ev_create_ctx {
	req *r;
	ev_in *e;
	long long id;
};

static int ev_create_tx(db *d, void *vp)
{
	struct ev_create_ctx *c = vp;
	ev_in *e = c->e;
	req *r = c->r;
	auth_user *u = auth_user_of(r);
	ev_kind k;
	ev_kind_find(r, e->kind, &k);
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res,
	              "INSERT INTO events (kind, title, description, location, starts_at, ends_at,"
	              " registration_opens_at, registration_closes_at, capacity, waitlist, retention_days, created_by)"
	              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	              DB_TEXT(e->kind), DB_TEXT(e->title), DB_TEXT(e->description ? e->description : ""),
	              DB_TEXT(e->location), DB_TEXT(e->starts_at), DB_TEXT(e->ends_at), DB_TEXT(e->opens_at),
	              DB_TEXT(e->closes_at), DB_INT(e->capacity), DB_INT(e->waitlist),
	              DB_INT(e->retention_days ? e->retention_days : k.retention_days), u ? DB_INT(u->id) : DB_NULL);
	if (rc != DB_OK)
		return rc;
	c->id = (long long)res->insert_id;
	for (size_t i = 0; i < e->nslots; i++) {
		rc = db_q(d, r->a, NULL, "INSERT INTO event_slots (event_id, starts_at, ends_at, capacity) VALUES (?, ?, ?, ?)",
		          DB_INT(c->id), DB_TEXT(e->slots[i].starts_at), DB_TEXT(e->slots[i].ends_at),
		          DB_INT(e->slots[i].capacity));
		if (rc != DB_OK)
			return rc;
	}
	return audit_log(r, "event.create", "event", ar_printf(r->a, "%lld", c->id),
	                 json_pack("{s:s, s:s}", "kind", e->kind, "title", e->title));
}

int ev_create(req *r, json_t *in, long long *id, json_t **fields)
{
	ev_in *e = ar_calloc(r->a, sizeof *e);
	*fields = json_object();
	ev_parse(r, in, e, 1, *fields);
	if (json_object_size(*fields))
		return EV_INVALID;
	json_decref(*fields);
	*fields = NULL;
	struct ev_create_ctx c = {r, e, 0};
	if (db_tx(r->db, ev_create_tx, &c) != 0) {
		log_err("event create failed", "error=\"%s\"", db_errmsg(r->db));
		return EV_DB;
	}
	*id = c.id;
	return EV_OK;
}

struct ev_update_ctx {
	req *r;
	ev_in *e;
	long long id;
	json_t *fields;
	int rc;
};

static int ev_update_tx(db *d, void *vp)
{
	struct ev_update_ctx *c = vp;
	ev_in *e = c->e;
	req *r = c->r;
	c->rc = EV_OK;
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res,
	              "SELECT taken, starts_at, ends_at, registration_opens_at, registration_closes_at,"
	              " (SELECT COUNT(*) FROM registrations WHERE event_id = e.id) AS regs FROM events e WHERE id = ? FOR UPDATE",
	              DB_INT(c->id));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	if ((e->seen & EVK_CAP) && e->capacity < db_cell_int(res, 0, "taken"))
		ev_ferr(c->fields, "capacity", ev_zh.capacity_below);
	if ((e->seen & EVK_SLOTS) && db_cell_int(res, 0, "regs") > 0)
		ev_ferr(c->fields, "slots", ev_zh.slots_locked);
	const char *st = (e->seen & EVK_START) ? e->starts_at : db_cell(res, 0, "starts_at");
	const char *en = (e->seen & EVK_END) ? e->ends_at : db_cell(res, 0, "ends_at");
	if (st && en && strcmp(en, st) < 0)
		ev_ferr(c->fields, "ends_at", ev_zh.ends_before);
	if (json_object_size(c->fields)) {
		c->rc = EV_INVALID;
		return 1;
	}
	rc = db_q(d, r->a, NULL,
	          "UPDATE events SET kind = IF(?, ?, kind), title = IF(?, ?, title), description = IF(?, ?, description),"
	          " location = IF(?, ?, location), starts_at = IF(?, ?, starts_at), ends_at = IF(?, ?, ends_at),"
	          " registration_opens_at = IF(?, ?, registration_opens_at),"
	          " registration_closes_at = IF(?, ?, registration_closes_at), capacity = IF(?, ?, capacity),"
	          " waitlist = IF(?, ?, waitlist), retention_days = IF(?, ?, retention_days), rev = rev + 1 WHERE id = ?",
	          DB_INT(!!(e->seen & EVK_KIND)), DB_TEXT(e->kind), DB_INT(!!(e->seen & EVK_TITLE)), DB_TEXT(e->title),
	          DB_INT(!!(e->seen & EVK_DESC)), DB_TEXT(e->description ? e->description : ""),
	          DB_INT(!!(e->seen & EVK_LOC)), DB_TEXT(e->location), DB_INT(!!(e->seen & EVK_START)),
	          DB_TEXT(e->starts_at), DB_INT(!!(e->seen & EVK_END)), DB_TEXT(e->ends_at),
	          DB_INT(!!(e->seen & EVK_OPENS)), DB_TEXT(e->opens_at), DB_INT(!!(e->seen & EVK_CLOSES)),
	          DB_TEXT(e->closes_at), DB_INT(!!(e->seen & EVK_CAP)), DB_INT(e->capacity),
	          DB_INT(!!(e->seen & EVK_WAIT)), DB_INT(e->waitlist), DB_INT(!!(e->seen & EVK_RET)),
	          DB_INT(e->retention_days), DB_INT(c->id));
	if (rc != DB_OK)
		return rc;
	if (e->seen & EVK_SLOTS) {
		if ((rc = db_q(d, r->a, NULL, "DELETE FROM event_slots WHERE event_id = ?", DB_INT(c->id))) != DB_OK)
			return rc;
		for (size_t i = 0; i < e->nslots; i++)
			if ((rc = db_q(d, r->a, NULL,
			               "INSERT INTO event_slots (event_id, starts_at, ends_at, capacity) VALUES (?, ?, ?, ?)",
			               DB_INT(c->id), DB_TEXT(e->slots[i].starts_at), DB_TEXT(e->slots[i].ends_at),
			               DB_INT(e->slots[i].capacity))) != DB_OK)
				return rc;
	}
	json_t *keys = json_array();
	static const char *const names[] = {"kind", "title", "description", "location", "starts_at", "ends_at",
	                                    "registration_opens_at", "registration_closes_at", "capacity",
	                                    "waitlist", "retention_days", "slots"};
	for (size_t i = 0; i < 12; i++)
		if (e->seen & (1u << i))
			json_array_append_new(keys, json_string(names[i]));
	return audit_log(r, "event.update", "event", ar_printf(r->a, "%lld", c->id), json_pack("{s:o}", "changed", keys));
}

int ev_update(req *r, long long id, json_t *in, json_t **fields)
{
	ev_in *e = ar_calloc(r->a, sizeof *e);
	*fields = json_object();
	ev_parse(r, in, e, 0, *fields);
	if (json_object_size(*fields))
		return EV_INVALID;
	struct ev_update_ctx c = {r, e, id, *fields, EV_OK};
	int rc = db_tx(r->db, ev_update_tx, &c);
	if (rc == 0 || c.rc != EV_OK) {
		if (c.rc != EV_INVALID) {
			json_decref(*fields);
			*fields = NULL;
		}
		return c.rc;
	}
	json_decref(*fields);
	*fields = NULL;
	log_err("event update failed", "error=\"%s\"", db_errmsg(r->db));
	return EV_DB;
}

struct ev_status_ctx {
	req *r;
	long long id;
	const char *to;
	int rc;
};

static int ev_status_tx(db *d, void *vp)
{
	struct ev_status_ctx *c = vp;
	req *r = c->r;
	c->rc = EV_OK;
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res, "SELECT status, title FROM events WHERE id = ? FOR UPDATE", DB_INT(c->id));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	const char *from = db_cell(res, 0, "status");
	if (strcmp(from, "cancelled") == 0 || (strcmp(c->to, "closed") == 0 && strcmp(from, "published") != 0)) {
		c->rc = EV_STATE;
		return 1;
	}
	if ((rc = db_q(d, r->a, NULL, "UPDATE events SET status = ?, rev = rev + 1 WHERE id = ?", DB_TEXT(c->to), DB_INT(c->id))) != DB_OK)
		return rc;
	if (strcmp(c->to, "cancelled") == 0) {
		db_res *regs = NULL;
		if ((rc = db_q(d, r->a, &regs,
		               "SELECT id, phone, code FROM registrations WHERE event_id = ? AND status IN ('confirmed', 'waitlisted')",
		               DB_INT(c->id))) != DB_OK)
			return rc;
		for (size_t i = 0; i < regs->nrows; i++) {
			const char *body = ar_printf(r->a, "【活动取消】很抱歉，“%s”已取消，您的报名（%s）随之取消。",
			                             db_cell(res, 0, "title"), db_cell(regs, i, "code"));
			if ((rc = outbox_queue(d, r->a, "cancellation", db_cell(regs, i, "phone"), body, NULL, c->id,
			                       db_cell_int(regs, i, "id"))) != DB_OK)
				return rc;
		}
		/* the registrations go with the event: so do the plugins' keys */
		if ((rc = evk_release(d, r->a, 0, c->id)) != DB_OK)
			return rc;
	}
	return audit_log(r, ar_printf(r->a, "event.%s", strcmp(c->to, "published") == 0 ? "publish"
	                                                : strcmp(c->to, "closed") == 0  ? "close"
	                                                                                : "cancel"),
	                 "event", ar_printf(r->a, "%lld", c->id), json_pack("{s:s, s:s}", "from", from, "to", c->to));
}

static void ev_notify(req *r, const char *hook, json_t *payload);

static int ev_set_status(req *r, long long id, const char *to)
{
	struct ev_status_ctx c = {r, id, to, EV_OK};
	int rc = db_tx(r->db, ev_status_tx, &c);
	if (rc == 0 && c.rc == EV_OK && (!strcmp(to, "published") || !strcmp(to, "cancelled")))
		ev_notify(r, !strcmp(to, "published") ? "event.published" : "event.cancelled",
		          json_pack("{s:I}", "event_id", (json_int_t)id));
	if (rc == 0 || c.rc != EV_OK)
		return c.rc;
	log_err("event status change failed", "error=\"%s\"", db_errmsg(r->db));
	return EV_DB;
}

int ev_publish(req *r, long long id) { return ev_set_status(r, id, "published"); }
int ev_close(req *r, long long id) { return ev_set_status(r, id, "closed"); }
int ev_cancel(req *r, long long id) { return ev_set_status(r, id, "cancelled"); }

struct ev_dup_ctx {
	req *r;
	long long id, new_id;
	int days, rc;
};

static int ev_dup_tx(db *d, void *vp)
{
	struct ev_dup_ctx *c = vp;
	req *r = c->r;
	auth_user *u = auth_user_of(r);
	c->rc = EV_OK;
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res,
	              "INSERT INTO events (kind, title, description, location, starts_at, ends_at, registration_opens_at,"
	              " registration_closes_at, capacity, waitlist, retention_days, created_by)"
	              " SELECT kind, title, description, location, starts_at + INTERVAL ? DAY, ends_at + INTERVAL ? DAY,"
	              " registration_opens_at + INTERVAL ? DAY, registration_closes_at + INTERVAL ? DAY, capacity, waitlist,"
	              " retention_days, ? FROM events WHERE id = ?",
	              DB_INT(c->days), DB_INT(c->days), DB_INT(c->days), DB_INT(c->days), u ? DB_INT(u->id) : DB_NULL,
	              DB_INT(c->id));
	if (rc != DB_OK)
		return rc;
	if (res->affected == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	c->new_id = (long long)res->insert_id;
	if ((rc = db_q(d, r->a, NULL,
	               "INSERT INTO event_slots (event_id, starts_at, ends_at, capacity) SELECT ?, starts_at + INTERVAL ? DAY,"
	               " ends_at + INTERVAL ? DAY, capacity FROM event_slots WHERE event_id = ? ORDER BY id",
	               DB_INT(c->new_id), DB_INT(c->days), DB_INT(c->days), DB_INT(c->id))) != DB_OK)
		return rc;
	return audit_log(r, "event.duplicate", "event", ar_printf(r->a, "%lld", c->new_id),
	                 json_pack("{s:I, s:i}", "from", (json_int_t)c->id, "shift_days", c->days));
}

int ev_duplicate(req *r, long long id, int shift_days, long long *new_id)
{
	struct ev_dup_ctx c = {r, id, 0, shift_days, EV_OK};
	int rc = db_tx(r->db, ev_dup_tx, &c);
	if (rc == 0) {
		*new_id = c.new_id;
		return EV_OK;
	}
	if (c.rc != EV_OK)
		return c.rc;
	log_err("event duplicate failed", "error=\"%s\"", db_errmsg(r->db));
	return EV_DB;
}

/* ---------------------------------------------------------------- registration */

/* The alphabet has exactly 32 letters, so the low 5 bits of a random byte pick
 * one uniformly: one getrandom() for the whole code instead of one a letter. */
#define EV_FP_LEN crypto_hash_sha256_BYTES
_Static_assert(sizeof EV_CODE_ALPHABET - 1 == 32, "EV_CODE_ALPHABET must have 32 letters");

static void ev_new_code(char code[EV_CODE_LEN + 1])
{
	static const char al[] = EV_CODE_ALPHABET;
	unsigned char rnd[EV_CODE_LEN];
	randombytes_buf(rnd, sizeof rnd);
	for (int i = 0; i < EV_CODE_LEN; i++)
		code[i] = al[rnd[i] & 31];
	code[EV_CODE_LEN] = 0;
}

/* Internal: the event changed since the worker read it (evcache.h); read it
 * again and start over. Never returned by ev_register. */
#define EV_STALE (-1)
/* Internal: the INSERT met the submission's idempotency key already stored
 * (ev_key_replay decides what to answer). Never returned by ev_register. */
#define EV_KEY_TAKEN (-2)

struct ev_reg_ctx {
	req *r;
	const evc_event *ev;
	long long event_id, slot_id, registered_by;
	const char *name, *phone, *answers, *on_behalf_of;
	int consent;
	ev_reg_result *out;
	int rc;
	const evk_set *keys;
	const char *idem_key;      /* the client's or a server-made key */
	const unsigned char *idem_hash; /* ev_fingerprint, 32 bytes */
};

/* Registration is open now: published, inside the registration window and
 * before the start. The same words in the fast UPDATE and the slow SELECT. */
#define EV_REG_OPEN_SQL \
	"status = 'published' AND NOW() >= COALESCE(registration_opens_at, '1000-01-01')" \
	" AND NOW() < COALESCE(registration_closes_at, starts_at) AND NOW() < starts_at"

/* No seat was taken: find out why under the event's row lock (not found,
 * changed since read, closed, or full) and, when full with a waitlist, hand
 * out the next waitlist position into *pos. Returns a DB_ code; sets c->rc
 * and returns 1 when the registration stops here. */
static int ev_register_no_seat(db *d, struct ev_reg_ctx *c, long long *pos)
{
	arena *a = c->r->a;
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "SELECT rev, waitlist, (" EV_REG_OPEN_SQL ") AS reg_open FROM events WHERE id = ? FOR UPDATE",
	              DB_INT(c->event_id));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0)
		c->rc = EV_NOT_FOUND;
	else if (db_cell_int(res, 0, "rev") != c->ev->rev)
		c->rc = EV_STALE;
	else if (!db_cell_int(res, 0, "reg_open"))
		c->rc = EV_CLOSED;
	else if (!db_cell_int(res, 0, "waitlist"))
		c->rc = EV_FULL_NO_WAITLIST;
	if (c->rc != EV_OK)
		return 1;
	if ((rc = db_q(d, a, NULL, "UPDATE events SET waitlist_next = waitlist_next + 1 WHERE id = ?", DB_INT(c->event_id))) !=
	    DB_OK)
		return rc;
	db_res *p = NULL;
	if ((rc = db_q(d, a, &p, "SELECT waitlist_next - 1 AS pos FROM events WHERE id = ?", DB_INT(c->event_id))) != DB_OK)
		return rc;
	*pos = db_cell_int(p, 0, "pos");
	return DB_OK;
}

/* The registering transaction. The common case is four statements: the
 * seat-taking UPDATE (which locks the event row first, as every writer does,
 * and holds only if the event is still the one validated against: same rev,
 * open, a seat left), the INSERT (UNIQUE phone among standing registrations),
 * the confirmation message, COMMIT. */
static int ev_register_tx(db *d, void *vp)
{
	struct ev_reg_ctx *c = vp;
	req *r = c->r;
	arena *a = r->a;
	const evc_event *ev = c->ev;
	c->rc = EV_OK;
	db_res *u = NULL;
	int rc = db_q(d, a, &u, "UPDATE events SET taken = taken + 1 WHERE id = ? AND rev = ? AND taken < capacity AND " EV_REG_OPEN_SQL,
	              DB_INT(c->event_id), DB_INT(ev->rev));
	if (rc != DB_OK)
		return rc;
	int seat = u->affected == 1;
	if (seat && c->slot_id) {
		/* the event's rev held, so the slot is one of its slots: 0 rows = the slot is full */
		if ((rc = db_q(d, a, &u, "UPDATE event_slots SET taken = taken + 1 WHERE id = ? AND event_id = ? AND taken < capacity",
		               DB_INT(c->slot_id), DB_INT(c->event_id))) != DB_OK)
			return rc;
		if (u->affected != 1) {
			seat = 0;
			if ((rc = db_q(d, a, NULL, "UPDATE events SET taken = taken - 1 WHERE id = ?", DB_INT(c->event_id))) != DB_OK)
				return rc;
		}
	}
	long long pos = 0;
	if (!seat && (rc = ev_register_no_seat(d, c, &pos)) != DB_OK)
		return rc;
	long long reg_id = 0;
	for (int tries = 0;; tries++) {
		ev_new_code(c->out->code);
		db_res *ins = NULL;
		rc = db_q(d, a, &ins,
		          "INSERT INTO registrations (event_id, slot_id, code, name, phone, status, waitlist_position, answers,"
		          " consent, on_behalf_of, registered_by, idempotency_key, idempotency_hash)"
		          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		          DB_INT(c->event_id), c->slot_id ? DB_INT(c->slot_id) : DB_NULL, DB_TEXT(c->out->code),
		          DB_TEXT(c->name), DB_TEXT(c->phone), DB_TEXT(seat ? "confirmed" : "waitlisted"),
		          pos ? DB_INT(pos) : DB_NULL, DB_TEXT(c->answers), DB_INT(c->consent), DB_TEXT(c->on_behalf_of),
		          c->registered_by ? DB_INT(c->registered_by) : DB_NULL, DB_TEXT(c->idem_key),
		          DB_TEXTN((const char *)c->idem_hash, EV_FP_LEN));
		if (rc == DB_OK) {
			reg_id = (long long)ins->insert_id;
			break;
		}
		if (rc != DB_EDUP)
			return rc;
		if (strstr(db_errmsg(d), "registrations_phone")) {
			/* a cancelled registration no longer holds its phone (0006) */
			c->rc = EV_DUPLICATE_PHONE;
			return 1;
		}
		if (strstr(db_errmsg(d), "registrations_idempotency")) {
			c->rc = EV_KEY_TAKEN;   /* a retry of a saved submission, or a reused key */
			return 1;
		}
		if (tries >= 8)
			return DB_EFAIL;   /* code collisions this often: something is wrong */
	}
	if ((rc = evk_store(d, a, c->keys, reg_id, &c->out->message)) == DB_EDUP) {
		c->rc = EV_DUPLICATE_KEY;
		return 1;
	}
	if (rc != DB_OK)
		return rc;
	c->out->status = seat ? "confirmed" : "waitlisted";
	c->out->position = pos;
	const char *body = seat ? ar_printf(a, "【报名成功】您已报名“%s”，%s 在%s，报名码 %s。", ev->title, ev->when_zh,
	                                    ev->location, c->out->code)
	                        : ar_printf(a, "【候补登记】“%s”名额已满，您排在候补第 %lld 位，报名码 %s。有空位时会通知您。",
	                                    ev->title, pos, c->out->code);
	if ((rc = outbox_queue(d, a, seat ? "confirmation" : "waitlist", c->phone, body, NULL, c->event_id, reg_id)) != DB_OK)
		return rc;
	if (c->registered_by)
		return audit_log(r, "registration.on_behalf", "registration", c->out->code,
		                 json_pack("{s:I}", "event_id", (json_int_t)c->event_id));
	return 0;
}

/* Answers the client need not repeat: a form field named "name" or "phone"
 * gets the registration's own name and phone, the consent field the
 * top-level consent, each only when the answers leave it out. */
static void ev_fill_answers(const pform *f, json_t *jin, const ev_reg_input *in)
{
	json_t *sc = pform_schema(f);
	size_t i;
	json_t *fl;
	json_array_foreach(json_object_get(sc, "fields"), i, fl) {
		const char *nm = json_string_value(json_object_get(fl, "name"));
		const char *t = json_string_value(json_object_get(fl, "type"));
		if (!nm || !t || json_object_get(jin, nm))
			continue;
		if (strcmp(t, "consent") == 0 && in->consent)
			json_object_set_new(jin, nm, json_true());
		else if (strcmp(nm, "name") == 0 && in->name)
			json_object_set_new(jin, nm, json_string(in->name));
		else if (strcmp(nm, "phone") == 0 && in->phone)
			json_object_set_new(jin, nm, json_string(in->phone));
	}
	json_decref(sc);
}

/* ---------------------------------------------------------------- plugin hooks */

/* Tell the plugins that something happened (after the transaction committed:
 * a hook's failure is logged with the plugin's id and never undoes it). */
static void ev_notify(req *r, const char *hook, json_t *payload)
{
	if (r->plugins)
		plug_hook(r->plugins, r, hook, payload, NULL);
	json_decref(payload);
}

/* registration.validate: each plugin may refuse a registration with its own
 * rule (eligibility of its event kinds). A hook returns nil to accept, a
 * message, or a table field -> message. Their answers become field errors;
 * a hook that fails refuses the registration (fail closed: a rule that cannot
 * be checked is not waived). Returns 0, or EV_DB when a hook failed. */
static int ev_hook_validate(req *r, json_t *payload, json_t *fields, json_t *codes)
{
	json_t *results = NULL;
	int rc = r->plugins ? plug_hook(r->plugins, r, "registration.validate", payload, &results) : 0;
	json_decref(payload);
	size_t i;
	json_t *res;
	json_array_foreach(results, i, res) {
		json_t *v = json_object_get(res, "result");
		if (json_is_string(v)) {
			json_object_set(fields, "_form", v);
			json_object_set_new(codes, "_form", json_string("not_eligible"));
		} else if (json_is_object(v)) {
			const char *k;
			json_t *m;
			json_object_foreach(v, k, m) if (json_is_string(m)) {
				json_object_set(fields, k, m);
				json_object_set_new(codes, k, json_string("not_eligible"));
			}
		}
	}
	json_decref(results);
	return rc == 0 ? 0 : EV_DB;
}

/* One attempt of ev_register against the event as read now or a moment ago
 * (fresh: read now); EV_STALE when it changed meanwhile. */
static int ev_register_once(req *r, long long event_id, const ev_reg_input *in, long long registered_by,
                            ev_reg_result *out, int fresh, const char *idem_key, const unsigned char *fp)
{
	memset(out, 0, sizeof *out);
	/* the event must be visible before input errors are worth reporting */
	evc_event ev;
	int found = evc_get(r, event_id, fresh, &ev);
	if (found < 0)
		return EV_DB;
	if (found == 0 || strcmp(ev.status, "draft") == 0)
		return EV_NOT_FOUND;
	json_t *fields = json_object(), *codes = json_object();
	val_rule name_rule = {"name", VAL_TEXT, 1, 1, EV_NAME_MAX, NULL, "姓名"};
	val_rule phone_rule = {"phone", VAL_PHONE, 1, 0, 0, NULL, "手机号"};
	val_rule rel_rule = {"on_behalf_of", VAL_TEXT, 0, 0, 20, NULL, "与报名人的关系"};
	val_value vn, vp, vr;
	val_error e;
	if (val_one(r->a, &name_rule, in->name, &vn, &e) != 0) {
		json_object_set_new(fields, "name", json_string(e.message));
		json_object_set_new(codes, "name", json_string(e.code));
	}
	if (val_one(r->a, &phone_rule, in->phone, &vp, &e) != 0) {
		json_object_set_new(fields, "phone", json_string(e.message));
		json_object_set_new(codes, "phone", json_string(e.code));
	}
	if (val_one(r->a, &rel_rule, in->on_behalf_of, &vr, &e) != 0) {
		json_object_set_new(fields, "on_behalf_of", json_string(e.message));
		json_object_set_new(codes, "on_behalf_of", json_string(e.code));
	}
	if (in->slot_id) {
		if (!evc_has_slot(&ev, in->slot_id)) {
			json_object_set_new(fields, "slot_id", json_string(ev_zh.slot_other));
			json_object_set_new(codes, "slot_id", json_string("invalid_slot"));
		}
	} else if (ev.nslots > 0) {
		json_object_set_new(fields, "slot_id", json_string(ev_zh.slot_required));
		json_object_set_new(codes, "slot_id", json_string("required"));
	}
	/* the kind's form */
	ev_kind k;
	char *answers = NULL;
	if (ev_kind_find(r, ev.kind, &k) == 0 && k.form) {
		json_t *jin = in->answers ? json_deep_copy(in->answers) : (in->form_in ? NULL : json_object());
		if (jin && json_is_object(jin))
			ev_fill_answers(k.form, jin, in);
		json_t *values = NULL, *ferr = NULL, *fcodes = NULL;
		if (pform_validate_codes(k.form, r->a, in->form_in, jin, &values, &ferr, &fcodes) > 0) {
			const char *key;
			json_t *v;
			json_object_foreach(ferr, key, v) json_object_set(fields, ar_printf(r->a, "answers.%s", key), v);
			json_object_foreach(fcodes, key, v) json_object_set(codes, ar_printf(r->a, "answers.%s", key), v);
		} else if (values)
			answers = json_dumps(values, JSON_COMPACT);
		json_decref(values);
		json_decref(ferr);
		json_decref(fcodes);
		json_decref(jin);
	} else if (in->answers && json_is_object(in->answers) && json_object_size(in->answers) > 0) {
		json_object_set_new(fields, "answers", json_string("此类活动没有附加问题"));
		json_object_set_new(codes, "answers", json_string("unknown_field"));
	}
	/* the kind's own rules (plugins' registration.validate), once the input is well-formed */
	evk_set keys = {NULL, 0};
	if (json_object_size(fields) == 0) {
		json_t *ans = answers ? json_loads(answers, 0, NULL) : NULL;
		int hrc = ev_hook_validate(r, json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}", "event_id", (json_int_t)event_id,
		                                        "kind", ev.kind, "name", vn.s, "phone", vp.s,
		                                        "answers", ans ? ans : json_object(), "slot_id",
		                                        (json_int_t)in->slot_id),
		                           fields, codes);
		/* and their uniqueness rules (registration.keys), stored in the transaction below */
		if (hrc == 0 && json_object_size(fields) == 0) {
			json_t *ans2 = answers ? json_loads(answers, 0, NULL) : NULL;
			if (evk_collect(r, json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}", "event_id", (json_int_t)event_id, "kind",
			                             ev.kind, "name", vn.s, "phone", vp.s, "answers",
			                             ans2 ? ans2 : json_object(), "slot_id", (json_int_t)in->slot_id),
			                &keys) != 0)
				hrc = EV_DB;
		}
		if (hrc != 0) {
			json_decref(fields);
			json_decref(codes);
			free(answers);
			return hrc;
		}
	}
	if (json_object_size(fields)) {
		out->fields = fields;
		out->field_codes = codes;
		free(answers);
		return EV_INVALID;
	}
	json_decref(fields);
	json_decref(codes);
	const char *kind = ev.kind;
	struct ev_reg_ctx c = {r, &ev, event_id, in->slot_id, registered_by, vn.s, vp.s,
	                       answers ? ar_strdup(r->a, answers) : NULL, vr.present ? vr.s : NULL, in->consent, out,
	                       EV_OK, &keys, idem_key, fp};
	free(answers);
	int rc = db_tx(r->db, ev_register_tx, &c);
	if (rc == 0) {
		ev_notify(r, "registration.after_save",
		          json_pack("{s:I, s:s, s:s, s:s}", "event_id", (json_int_t)event_id, "kind", kind, "code",
		                    out->code, "status", out->status ? out->status : "confirmed"));
		return EV_OK;
	}
	if (c.rc == EV_STALE)
		evc_forget(event_id);
	if (c.rc != EV_OK)
		return c.rc;
	log_err("registration failed", "event=%lld error=\"%s\"", event_id, db_errmsg(r->db));
	return EV_DB;
}

/* ---------------------------------------------------------------- idempotency */

/* 1 when k is a usable idempotency key: EV_IDEM_KEY_MIN..MAX characters of
 * [A-Za-z0-9_-] (a UUID, or 16+ random base64url characters). */
int ev_idem_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n < EV_IDEM_KEY_MIN || n > EV_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)k[i]) && (unsigned char)k[i] < 0x80) && k[i] != '-' && k[i] != '_')
			return 0;
	return 1;
}

const char *ev_idem_key_new(arena *a)
{
	enum { RAW = 16, LEN = sodium_base64_ENCODED_LEN(RAW, sodium_base64_VARIANT_URLSAFE_NO_PADDING) };
	unsigned char raw[RAW];
	char *k = ar_alloc(a, LEN);
	randombytes_buf(raw, sizeof raw);
	return sodium_bin2base64(k, LEN, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* One length-prefixed item of a fingerprint (no two submissions hash alike
 * by shifting bytes between items). */
static void ev_fp_add(crypto_hash_sha256_state *st, const char *tag, const char *v, size_t n)
{
	unsigned char len[9];
	len[0] = (unsigned char)tag[0];
	for (int i = 0; i < 8; i++)
		len[1 + i] = (unsigned char)((unsigned long long)n >> (8 * i));
	crypto_hash_sha256_update(st, len, sizeof len);
	if (n)
		crypto_hash_sha256_update(st, (const unsigned char *)v, n);
}

static void ev_fp_str(crypto_hash_sha256_state *st, const char *tag, const char *v)
{
	ev_fp_add(st, tag, v ? v : "", v ? strlen(v) + 1 : 0);   /* NULL differs from "" */
}

static int ev_fp_field_cmp(const void *x, const void *y)
{
	const form_field *a = *(const form_field *const *)x, *b = *(const form_field *const *)y;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	size_t n = a->vlen < b->vlen ? a->vlen : b->vlen;
	c = memcmp(a->value, b->value, n);
	return c ? c : (a->vlen > b->vlen) - (a->vlen < b->vlen);
}

/* The fingerprint of a submission: SHA-256 over the key, the event, who
 * registers (staff id or 0) and the content as the client sent it: the JSON
 * fields (answers with sorted keys), or every field of a page's form except
 * its csrf token and the key itself (sorted, so field order never matters).
 * Two retries of one submission give the same bytes; a changed name, phone,
 * slot or answer does not. */
static void ev_fingerprint(arena *a, long long event_id, const ev_reg_input *in, long long by, const char *key,
                           unsigned char out[EV_FP_LEN])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	ev_fp_str(&st, "k", key);
	ev_fp_str(&st, "e", ar_printf(a, "%lld", event_id));
	ev_fp_str(&st, "b", ar_printf(a, "%lld", by));
	if (in->form_in) {
		size_t n = 0, i = 0;
		for (const form_field *f = in->form_in->head; f; f = f->next)
			n++;
		const form_field **v = ar_alloc(a, (n ? n : 1) * sizeof *v);
		for (const form_field *f = in->form_in->head; f; f = f->next)
			if (strcmp(f->name, "csrf") != 0 && strcmp(f->name, "idempotency_key") != 0)
				v[i++] = f;
		qsort(v, i, sizeof *v, ev_fp_field_cmp);
		for (size_t j = 0; j < i; j++) {
			ev_fp_str(&st, "f", v[j]->name);
			ev_fp_add(&st, "v", v[j]->value, v[j]->vlen);
		}
	} else {
		ev_fp_str(&st, "n", in->name);
		ev_fp_str(&st, "p", in->phone);
		ev_fp_str(&st, "o", in->on_behalf_of);
		ev_fp_str(&st, "s", ar_printf(a, "%lld", in->slot_id));
		ev_fp_str(&st, "c", in->consent ? "1" : "0");
		char *ans = in->answers ? json_dumps(in->answers, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		ev_fp_str(&st, "a", ans);
		free(ans);
	}
	crypto_hash_sha256_final(&st, out);
}

/* The registration of event_id that key made, if any: 1 with out filled
 * (code, status, position) when its fingerprint is fp, 2 when the key made
 * it from other content, 0 when the key holds nothing, or a db_status. */
static int ev_key_replay(req *r, long long event_id, const char *key, const unsigned char *fp, ev_reg_result *out)
{
	db_res *res = NULL;
	int rc = db_q(r->db, r->a, &res,
	              "SELECT code, status, waitlist_position, idempotency_hash FROM registrations"
	              " WHERE event_id = ? AND idempotency_key = ?",
	              DB_INT(event_id), DB_TEXT(key));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0)
		return 0;
	const char *h = db_cell(res, 0, "idempotency_hash");
	if (!h || res->lens[0][3] != EV_FP_LEN || sodium_memcmp(h, fp, EV_FP_LEN) != 0)
		return 2;
	snprintf(out->code, sizeof out->code, "%s", db_cell(res, 0, "code"));
	const char *st = db_cell(res, 0, "status");
	out->status = !strcmp(st, "confirmed") ? "confirmed" : !strcmp(st, "waitlisted") ? "waitlisted"
	            : !strcmp(st, "cancelled") ? "cancelled" : "no_show";
	out->position = !strcmp(st, "waitlisted") ? db_cell_int(res, 0, "waitlist_position") : 0;
	out->replayed = 1;
	return 1;
}

int ev_register(req *r, long long event_id, const ev_reg_input *in, long long registered_by, ev_reg_result *out)
{
	const char *key = in->idempotency_key;
	if (key && !ev_idem_key_ok(key)) {
		memset(out, 0, sizeof *out);
		out->fields = json_pack("{s:s}", "idempotency_key", "Idempotency-Key 应为16到64个字母、数字、- 或 _（例如一个 UUID）");
		out->field_codes = json_pack("{s:s}", "idempotency_key", "invalid_key");
		return EV_INVALID;
	}
	if (!key)
		key = ev_idem_key_new(r->a);   /* the server's own: db_tx's rerun after a lost COMMIT finds its row */
	unsigned char fp[EV_FP_LEN];
	ev_fingerprint(r->a, event_id, in, registered_by, key, fp);
	/* a staff change between reading the event and taking the seat: read it
	 * again and validate again (twice in a row is already unlikely) */
	int rc = EV_STALE;
	for (int attempt = 0; rc == EV_STALE && attempt < 3; attempt++)
		rc = ev_register_once(r, event_id, in, registered_by, out, attempt > 0, key, fp);
	if (rc == EV_STALE) {
		log_err("registration failed", "event=%lld error=\"the event kept changing\"", event_id);
		return EV_DB;
	}
	/* refused: is it a retry of a submission this key already saved? (a
	 * client's key on any refusal, since the event may have filled up or
	 * closed since; the server's own only where its rerun can meet itself) */
	if (rc != EV_OK && (in->idempotency_key || rc == EV_DUPLICATE_PHONE || rc == EV_KEY_TAKEN)) {
		ev_reg_result prev = {0};
		int k = ev_key_replay(r, event_id, key, fp, &prev);
		if (k == 1 || k == 2) {
			json_decref(out->fields);
			json_decref(out->field_codes);
			*out = prev;
			return k == 1 ? EV_OK : EV_KEY_REUSED;
		}
		if (k < 0)
			log_err("registration key lookup failed", "event=%lld error=\"%s\"", event_id, db_errmsg(r->db));
		if (rc == EV_KEY_TAKEN)
			return EV_DB;       /* the key's row was there a moment ago */
	}
	return rc;
}

/* ---------------------------------------------------------------- lookup, cancel, check-in */

#define REG_COLS \
	"r.id, r.code, r.event_id, e.title AS event_title, r.name, r.phone, r.slot_id, r.status," \
	" r.waitlist_position, r.answers, r.on_behalf_of, r.registered_by," \
	" DATE_FORMAT(r.checked_in_at, '%Y-%m-%dT%H:%i:%s+08:00') AS checked_in_at," \
	" DATE_FORMAT(r.created_at, '%Y-%m-%dT%H:%i:%s+08:00') AS created_at," \
	" DATE_FORMAT(e.starts_at, '%Y-%m-%dT%H:%i:%s+08:00') AS event_starts_at, e.location AS event_location," \
	" (SELECT COUNT(*) FROM registrations w WHERE w.event_id = r.event_id AND w.status = 'waitlisted'" \
	"  AND w.waitlist_position < r.waitlist_position) AS ahead"

static json_t *ev_reg_json(arena *a, const db_res *res, size_t i, int full_phone)
{
	json_t *o = json_object();
	json_object_set_new(o, "code", json_string(db_cell(res, i, "code")));
	json_object_set_new(o, "event_id", json_integer(db_cell_int(res, i, "event_id")));
	json_object_set_new(o, "event_title", json_string(db_cell(res, i, "event_title")));
	json_object_set_new(o, "event_starts_at", ev_str_or_null(db_cell(res, i, "event_starts_at")));
	json_object_set_new(o, "event_location", ev_str_or_null(db_cell(res, i, "event_location")));
	json_object_set_new(o, "name", json_string(db_cell(res, i, "name")));
	const char *ph = db_cell(res, i, "phone");
	json_object_set_new(o, "phone", json_string(full_phone ? ph : ev_mask_phone(a, ph)));
	const char *slot = db_cell(res, i, "slot_id");
	json_object_set_new(o, "slot_id", slot ? json_integer(atoll(slot)) : json_null());
	const char *st = db_cell(res, i, "status");
	json_object_set_new(o, "status", json_string(st));
	const char *pos = db_cell(res, i, "waitlist_position");
	json_object_set_new(o, "position", pos ? json_integer(atoll(pos)) : json_null());
	json_object_set_new(o, "ahead", pos ? json_integer(db_cell_int(res, i, "ahead")) : json_null());
	json_object_set_new(o, "checked_in_at", ev_str_or_null(db_cell(res, i, "checked_in_at")));
	const char *ans = db_cell(res, i, "answers");
	json_t *ja = ans ? json_loads(ans, 0, NULL) : NULL;
	json_object_set_new(o, "answers", ja ? ja : json_null());
	json_object_set_new(o, "on_behalf_of", ev_str_or_null(db_cell(res, i, "on_behalf_of")));
	const char *rb = db_cell(res, i, "registered_by");
	json_object_set_new(o, "registered_by", rb ? json_integer(atoll(rb)) : json_null());
	json_object_set_new(o, "created_at", json_string(db_cell(res, i, "created_at")));
	return o;
}

/* Upper-cased code of the alphabet, or NULL. */
static const char *ev_norm_code(arena *a, const char *code)
{
	if (!code || strlen(code) != EV_CODE_LEN)
		return NULL;
	char *c = ar_strdup(a, code);
	for (char *p = c; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		if (!strchr(EV_CODE_ALPHABET, *p))
			return NULL;
	}
	return c;
}

json_t *ev_lookup(req *r, const char *code, const char *phone)
{
	const char *cd = ev_norm_code(r->a, code);
	char ph[12];
	if (!cd || (phone && !val_phone(phone, ph)))
		return NULL;
	db_res *res = NULL;
	if (db_q(r->db, r->a, &res,
	         "SELECT " REG_COLS " FROM registrations r JOIN events e ON e.id = r.event_id"
	         " WHERE r.code = ? AND (? IS NULL OR r.phone = ?)",
	         DB_TEXT(cd), DB_TEXT(phone ? ph : NULL), DB_TEXT(phone ? ph : NULL)) != DB_OK ||
	    res->nrows == 0)
		return NULL;
	return ev_reg_json(r->a, res, 0, phone == NULL);
}

struct ev_cancel_ctx {
	req *r;
	const char *code, *phone;
	const char *promoted;
	int rc;
};

static int ev_cancel_tx(db *d, void *vp)
{
	struct ev_cancel_ctx *c = vp;
	req *r = c->r;
	arena *a = r->a;
	c->rc = EV_OK;
	c->promoted = NULL;
	db_res *res = NULL;
	int rc = db_q(d, a, &res, "SELECT event_id FROM registrations WHERE code = ? AND (? IS NULL OR phone = ?)",
	              DB_TEXT(c->code), DB_TEXT(c->phone), DB_TEXT(c->phone));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	long long eid = db_cell_int(res, 0, "event_id");
	db_res *ev = NULL;
	if ((rc = db_q(d, a, &ev, "SELECT title FROM events WHERE id = ? FOR UPDATE", DB_INT(eid))) != DB_OK)
		return rc;
	if ((rc = db_q(d, a, &res, "SELECT id, status, slot_id, phone FROM registrations WHERE code = ? FOR UPDATE",
	               DB_TEXT(c->code))) != DB_OK)
		return rc;
	if (res->nrows == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	const char *st = db_cell(res, 0, "status");
	if (strcmp(st, "confirmed") != 0 && strcmp(st, "waitlisted") != 0) {
		c->rc = EV_STATE;
		return 1;
	}
	int was_confirmed = strcmp(st, "confirmed") == 0;
	const char *slot = db_cell(res, 0, "slot_id");
	long long rid = db_cell_int(res, 0, "id");
	if ((rc = db_q(d, a, NULL,
	               "UPDATE registrations SET status = 'cancelled', waitlist_position = NULL, cancelled_at = NOW() WHERE id = ?",
	               DB_INT(rid))) != DB_OK)
		return rc;
	if ((rc = evk_release(d, a, rid, 0)) != DB_OK)
		return rc;
	if ((rc = outbox_queue(d, a, "cancellation", db_cell(res, 0, "phone"),
	                       ar_printf(a, "【取消成功】您已取消“%s”的报名（%s）。", db_cell(ev, 0, "title"), c->code), NULL,
	                       eid, rid)) != DB_OK)
		return rc;
	if (r->user)
		if ((rc = audit_log(r, "registration.cancel", "registration", c->code, json_pack("{s:I}", "event_id", (json_int_t)eid))) != DB_OK)
			return rc;
	if (!was_confirmed)
		return 0;
	if ((rc = db_q(d, a, NULL, "UPDATE events SET taken = taken - 1 WHERE id = ? AND taken > 0", DB_INT(eid))) != DB_OK)
		return rc;
	if (slot && (rc = db_q(d, a, NULL, "UPDATE event_slots SET taken = taken - 1 WHERE id = ? AND taken > 0",
	                       DB_INT(atoll(slot)))) != DB_OK)
		return rc;
	/* promote the head of the waitlist (same slot), taking the freed seat
	 * by the same conditional updates */
	db_res *head = NULL;
	if ((rc = db_q(d, a, &head,
	               "SELECT id, code, phone, slot_id FROM registrations WHERE event_id = ? AND status = 'waitlisted'"
	               " AND slot_id <=> ? ORDER BY waitlist_position LIMIT 1 FOR UPDATE",
	               DB_INT(eid), slot ? DB_INT(atoll(slot)) : DB_NULL)) != DB_OK)
		return rc;
	if (head->nrows == 0)
		return 0;
	db_res *u = NULL;
	if (slot) {
		if ((rc = db_q(d, a, &u, "UPDATE event_slots SET taken = taken + 1 WHERE id = ? AND taken < capacity",
		               DB_INT(atoll(slot)))) != DB_OK)
			return rc;
		if (u->affected != 1)
			return 0;
	}
	if ((rc = db_q(d, a, &u, "UPDATE events SET taken = taken + 1 WHERE id = ? AND taken < capacity", DB_INT(eid))) != DB_OK)
		return rc;
	if (u->affected != 1) {
		if (slot)
			return db_q(d, a, NULL, "UPDATE event_slots SET taken = taken - 1 WHERE id = ?", DB_INT(atoll(slot)));
		return 0;
	}
	long long hid = db_cell_int(head, 0, "id");
	if ((rc = db_q(d, a, NULL, "UPDATE registrations SET status = 'confirmed', waitlist_position = NULL WHERE id = ?",
	               DB_INT(hid))) != DB_OK)
		return rc;
	c->promoted = ar_strdup(a, db_cell(head, 0, "code"));
	if ((rc = outbox_queue(d, a, "promotion", db_cell(head, 0, "phone"),
	                       ar_printf(a, "【候补转正】“%s”有了空位，您的报名（%s）已确认，请按时参加。",
	                                 db_cell(ev, 0, "title"), c->promoted),
	                       NULL, eid, hid)) != DB_OK)
		return rc;
	log_info("waitlist promoted", "event=%lld code=%s", eid, c->promoted);
	return 0;
}

int ev_cancel_registration(req *r, const char *code, const char *phone, const char **promoted)
{
	const char *cd = ev_norm_code(r->a, code);
	char ph[12];
	if (!cd || (phone && !val_phone(phone, ph)))
		return EV_NOT_FOUND;
	struct ev_cancel_ctx c = {r, cd, phone ? ar_strdup(r->a, ph) : NULL, NULL, EV_OK};
	int rc = db_tx(r->db, ev_cancel_tx, &c);
	if (promoted)
		*promoted = rc == 0 ? c.promoted : NULL;
	if (rc == 0) {
		ev_notify(r, "registration.cancelled", json_pack("{s:s}", "code", cd));
		if (c.promoted)
			ev_notify(r, "registration.promoted", json_pack("{s:s}", "code", c.promoted));
		return EV_OK;
	}
	if (c.rc != EV_OK)
		return c.rc;
	log_err("registration cancel failed", "error=\"%s\"", db_errmsg(r->db));
	return EV_DB;
}

struct ev_checkin_ctx {
	req *r;
	const char *code;
	int undo, rc;
};

static int ev_checkin_tx(db *d, void *vp)
{
	struct ev_checkin_ctx *c = vp;
	req *r = c->r;
	auth_user *u = auth_user_of(r);
	c->rc = EV_OK;
	db_res *res = NULL;
	int rc = db_q(d, r->a, &res, "SELECT id, status, event_id FROM registrations WHERE code = ? FOR UPDATE", DB_TEXT(c->code));
	if (rc != DB_OK)
		return rc;
	if (res->nrows == 0) {
		c->rc = EV_NOT_FOUND;
		return 1;
	}
	const char *st = db_cell(res, 0, "status");
	if (strcmp(st, "confirmed") != 0 && strcmp(st, "no_show") != 0) {
		c->rc = EV_STATE;
		return 1;
	}
	if (c->undo)
		rc = db_q(d, r->a, NULL,
		          "UPDATE registrations SET checked_in_at = NULL, checked_in_by = NULL WHERE id = ?",
		          DB_INT(db_cell_int(res, 0, "id")));
	else
		rc = db_q(d, r->a, NULL,
		          "UPDATE registrations SET status = 'confirmed', checked_in_at = COALESCE(checked_in_at, NOW()),"
		          " checked_in_by = COALESCE(checked_in_by, ?) WHERE id = ?",
		          u ? DB_INT(u->id) : DB_NULL, DB_INT(db_cell_int(res, 0, "id")));
	if (rc != DB_OK)
		return rc;
	return audit_log(r, c->undo ? "registration.checkin_undo" : "registration.checkin", "registration", c->code,
	                 json_pack("{s:I}", "event_id", (json_int_t)db_cell_int(res, 0, "event_id")));
}

int ev_checkin(req *r, const char *code, int undo)
{
	const char *cd = ev_norm_code(r->a, code);
	if (!cd)
		return EV_NOT_FOUND;
	struct ev_checkin_ctx c = {r, cd, undo, EV_OK};
	int rc = db_tx(r->db, ev_checkin_tx, &c);
	if (rc == 0) {
		ev_notify(r, "checkin", json_pack("{s:s, s:b}", "code", cd, "undo", undo));
		return EV_OK;
	}
	if (c.rc != EV_OK)
		return c.rc;
	log_err("check-in failed", "error=\"%s\"", db_errmsg(r->db));
	return EV_DB;
}

static db_res *ev_regs_query(req *r, long long event_id, const char *q)
{
	db_res *res = NULL;
	const char *like = NULL;
	if (q && *q) {
		/* the search text is literal: LIKE's own characters escaped */
		char *e = ar_alloc(r->a, strlen(q) * 2 + 3), *o = e;
		*o++ = '%';
		for (const char *p = q; *p; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '%';
		*o = 0;
		like = e;
	}
	const char *tail = NULL;
	if (q && *q && strspn(q, "0123456789") == strlen(q))
		tail = ar_printf(r->a, "%%%s", q);
	const char *code = q && *q ? ev_norm_code(r->a, q) : NULL;
	if (db_q(r->db, r->a, &res,
	         "SELECT " REG_COLS " FROM registrations r JOIN events e ON e.id = r.event_id WHERE r.event_id = ?"
	         " AND (? IS NULL OR r.name LIKE ? OR r.phone LIKE ? OR r.code = ?)"
	         " ORDER BY FIELD(r.status, 'confirmed', 'waitlisted', 'no_show', 'cancelled'), r.waitlist_position, r.id",
	         DB_INT(event_id), DB_TEXT(like), DB_TEXT(like), DB_TEXT(tail ? tail : "-"),
	         /* only a well-formed code is compared: the column is ASCII */
	         DB_TEXT(code ? code : "-")) != DB_OK) {
		log_err("registration list failed", "event=%lld error=\"%s\"", event_id, db_errmsg(r->db));
		return NULL;
	}
	return res;
}

json_t *ev_registrations(req *r, long long event_id, const char *q)
{
	db_res *res = ev_regs_query(r, event_id, q);
	if (!res)
		return NULL;
	audit_log(r, "event.registrations.view", "event", ar_printf(r->a, "%lld", event_id),
	          json_pack("{s:I}", "rows", (json_int_t)res->nrows));
	json_t *out = json_array();
	for (size_t i = 0; i < res->nrows; i++)
		json_array_append_new(out, ev_reg_json(r->a, res, i, 1));
	return out;
}

static void ev_csv_cell(buf *b, const char *s, int last)
{
	html_csv_cell(b, s ? s : "", s ? strlen(s) : 0);
	buf_adds(b, last ? "\r\n" : ",");
}

int ev_csv(req *r, long long event_id, buf *out)
{
	db_res *e = NULL;
	if (db_q(r->db, r->a, &e, "SELECT id FROM events WHERE id = ?", DB_INT(event_id)) != DB_OK)
		return EV_DB;
	if (e->nrows == 0)
		return EV_NOT_FOUND;
	db_res *res = ev_regs_query(r, event_id, NULL);
	if (!res)
		return EV_DB;
	buf_adds(out, "\xEF\xBB\xBF");
	static const char *const head[] = {"报名码", "姓名", "手机号", "场次", "状态", "候补位置", "签到时间",
	                                   "代报名关系", "工作人员代报", "报名时间", "附加信息"};
	for (size_t i = 0; i < 11; i++)
		ev_csv_cell(out, head[i], i == 10);
	for (size_t i = 0; i < res->nrows; i++) {
		ev_csv_cell(out, db_cell(res, i, "code"), 0);
		ev_csv_cell(out, db_cell(res, i, "name"), 0);
		ev_csv_cell(out, db_cell(res, i, "phone"), 0);
		ev_csv_cell(out, db_cell(res, i, "slot_id"), 0);
		ev_csv_cell(out, db_cell(res, i, "status"), 0);
		ev_csv_cell(out, db_cell(res, i, "waitlist_position"), 0);
		ev_csv_cell(out, db_cell(res, i, "checked_in_at"), 0);
		ev_csv_cell(out, db_cell(res, i, "on_behalf_of"), 0);
		ev_csv_cell(out, db_cell(res, i, "registered_by"), 0);
		ev_csv_cell(out, db_cell(res, i, "created_at"), 0);
		ev_csv_cell(out, db_cell(res, i, "answers"), 1);
	}
	if (audit_log(r, "event.export", "event", ar_printf(r->a, "%lld", event_id),
	              json_pack("{s:I, s:s}", "rows", (json_int_t)res->nrows, "format", "csv")) != DB_OK)
		return EV_DB;
	return EV_OK;
}

/* One iCalendar content line, text escaped (RFC 5545 3.3.11), folded at 75 octets
 * without splitting a UTF-8 sequence. */
static void ev_ical_line(buf *b, const char *name, const char *text, int escape)
{
	buf line = BUF_INIT;
	buf_adds(&line, name);
	buf_addc(&line, ':');
	for (const char *p = text ? text : ""; *p; p++) {
		if (escape && (*p == '\\' || *p == ';' || *p == ','))
			buf_addc(&line, '\\'), buf_addc(&line, *p);
		else if (escape && *p == '\n')
			buf_adds(&line, "\\n");
		else if (*p != '\r')
			buf_addc(&line, *p);
	}
	size_t col = 0;
	for (size_t i = 0; i < line.len; i++) {
		unsigned char ch = (unsigned char)line.p[i];
		size_t cl = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
		if (col + cl > 75) {
			buf_adds(b, "\r\n ");
			col = 1;
		}
		buf_add(b, line.p + i, cl);
		col += cl;
		i += cl - 1;
	}
	buf_adds(b, "\r\n");
	buf_free(&line);
}

int ev_ical(req *r, buf *out)
{
	db_res *res = NULL;
	if (db_q0(r->db, r->a, &res,
	          "SELECT id, title, description, location, DATE_FORMAT(starts_at - INTERVAL 8 HOUR, '%Y%m%dT%H%i%sZ') AS s,"
	          " DATE_FORMAT(ends_at - INTERVAL 8 HOUR, '%Y%m%dT%H%i%sZ') AS e,"
	          " DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%dT%H%i%sZ') AS now"
	          " FROM events WHERE status = 'published' AND ends_at >= NOW() ORDER BY starts_at LIMIT 500") != DB_OK)
		return EV_DB;
	buf_adds(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//portal//events//ZH\r\nCALSCALE:GREGORIAN\r\n");
	for (size_t i = 0; i < res->nrows; i++) {
		buf_adds(out, "BEGIN:VEVENT\r\n");
		buf_printf(out, "UID:event-%lld@portal\r\n", db_cell_int(res, i, "id"));
		ev_ical_line(out, "DTSTAMP", db_cell(res, i, "now"), 0);
		ev_ical_line(out, "DTSTART", db_cell(res, i, "s"), 0);
		ev_ical_line(out, "DTEND", db_cell(res, i, "e"), 0);
		ev_ical_line(out, "SUMMARY", db_cell(res, i, "title"), 1);
		ev_ical_line(out, "LOCATION", db_cell(res, i, "location"), 1);
		ev_ical_line(out, "DESCRIPTION", db_cell(res, i, "description"), 1);
		buf_adds(out, "END:VEVENT\r\n");
	}
	buf_adds(out, "END:VCALENDAR\r\n");
	return EV_OK;
}

/* ---------------------------------------------------------------- jobs */

long long ev_mark_no_shows(db *d, arena *a)
{
	db_res *res = NULL;
	int rc = db_q0(d, a, &res,
	               "UPDATE registrations r JOIN events e ON e.id = r.event_id SET r.status = 'no_show'"
	               " WHERE r.status = 'confirmed' AND r.checked_in_at IS NULL AND e.ends_at < NOW()"
	               " AND e.status <> 'cancelled'");
	return rc == DB_OK ? (long long)res->affected : rc;
}

long long ev_anonymise(db *d, arena *a)
{
	db_res *ev = NULL;
	int rc = db_q0(d, a, &ev,
	               "SELECT id FROM events WHERE anonymised_at IS NULL AND ends_at < NOW() - INTERVAL retention_days DAY"
	               " LIMIT 1000");
	if (rc != DB_OK)
		return rc;
	long long total = 0;
	audit_actor who = {0, 0, "cli", ""};
	for (size_t i = 0; i < ev->nrows; i++) {
		long long id = db_cell_int(ev, i, "id");
		db_res *u = NULL;
		if ((rc = db_q(d, a, &u,
		               "UPDATE registrations SET name = '已匿名', phone = CONCAT('anon-', id), answers = NULL,"
		               " on_behalf_of = NULL, idempotency_key = NULL, idempotency_hash = NULL WHERE event_id = ?",
		               DB_INT(id))) != DB_OK)
			return rc;
		if ((rc = db_q(d, a, NULL, "UPDATE events SET anonymised_at = NOW() WHERE id = ?", DB_INT(id))) != DB_OK)
			return rc;
		if ((rc = evk_release(d, a, 0, id)) != DB_OK)
			return rc;
		if ((rc = db_q(d, a, NULL, "UPDATE outbox SET phone = '', body = '' WHERE event_id = ? AND status <> 'queued'",
		               DB_INT(id))) != DB_OK)
			return rc;
		audit_write(d, a, &who, "event.anonymise", "event", ar_printf(a, "%lld", id),
		            json_pack("{s:I}", "registrations", (json_int_t)u->affected));
		total += (long long)u->affected;
	}
	return total;
}
