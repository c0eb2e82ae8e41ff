/* events.h - events, registrations, waitlist, check-in (prefix ev_).
 *
 * The model shared by the JSON API (h_api_events.c) and the pages
 * (h_events.c). Every rule that matters is held by the database
 * (migration 0003_events.sql), inside one db_tx:
 * - one registration per phone per event: UNIQUE(event_id, phone);
 * - capacity: UPDATE events SET taken = taken + 1 WHERE id = ? AND taken <
 *   capacity (and the same on event_slots) decides confirmed vs waitlisted;
 * - waitlist positions: a per-event counter (events.waitlist_next) bumped in
 *   the same transaction; UNIQUE(event_id, waitlist_position);
 * - cancelling a confirmed registration frees the seat and promotes the head
 *   of the waitlist (same slot, lowest position) in the same transaction,
 *   with an outbox message and a log line;
 * - codes: 6 characters of EV_CODE_ALPHABET, random, UNIQUE, retried on a
 *   collision.
 * Times are stored as DATETIME in China time (the session zone is +08:00);
 * input is ISO 8601 with an offset (val_datetime), converted to +08:00.
 *
 * JSON shapes (all keys always present; null when not set):
 *
 * event (ev_get, items of ev_list_upcoming):
 *   {"id": int, "kind": "general", "kind_title": "活动", "title": str,
 *    "description": str, "location": str,
 *    "starts_at": "2026-12-20T09:00:00+08:00", "ends_at": str,
 *    "registration_opens_at": str|null, "registration_closes_at": str|null,
 *    "capacity": int, "taken": int, "remaining": int, "waitlist": bool,
 *    "waitlisted": int, "status": "draft"|"published"|"closed"|"cancelled",
 *    "registration_open": bool   (published, inside the open/close window,
 *                                 not started; false otherwise),
 *    "retention_days": int,
 *    "slots": [{"id", "starts_at", "ends_at", "capacity", "taken", "remaining"}],
 *    "form": null | pform_schema of the kind's form (ev_get only),
 *    "consent_required": bool}
 *   Staff views (public_only = 0) add "created_by", "created_at", "updated_at".
 *
 * registration (ev_lookup, ev_registrations items):
 *   {"code": "7KQ2MZ", "event_id": int, "event_title": str, "name": str,
 *    "phone": "138****5678" (public lookups and print sheets: masked;
 *             staff lists: full), "slot_id": int|null,
 *    "status": "confirmed"|"waitlisted"|"cancelled"|"no_show",
 *    "position": int|null (waitlisted only), "checked_in_at": str|null,
 *    "answers": {...}|null, "on_behalf_of": str|null (the relation typed by
 *    a family member, e.g. "母亲"), "registered_by": int|null (staff user id
 *    for walk-ins and callers), "created_at": str}
 */
#ifndef PORTAL_EVENTS_H
#define PORTAL_EVENTS_H
#include <jansson.h>
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "http.h"

#define EV_CODE_LEN 6
#define EV_CODE_ALPHABET "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#define EV_NAME_MAX 50          /* characters */
#define EV_TITLE_MAX 100
#define EV_DESCRIPTION_MAX 5000
#define EV_LOCATION_MAX 200
#define EV_CAPACITY_MAX 100000
#define EV_SLOTS_MAX 50
#define EV_RETENTION_DEFAULT 180 /* days, when the kind names none */

/* Result codes of every ev_ function that changes something. */
enum ev_rc {
	EV_OK = 0,
	EV_NOT_FOUND,          /* unknown event/registration, unpublished for the public,
	                        * or a code + phone that do not match (same answer) */
	EV_INVALID,            /* input invalid: *fields holds field -> zh-CN message */
	EV_DUPLICATE_PHONE,    /* that phone already holds a registration for the event */
	EV_CLOSED,             /* registration not open (not yet, closed, cancelled, started) */
	EV_FULL_NO_WAITLIST,   /* no seat left and the event has no waitlist */
	EV_STATE,              /* not allowed in this state (publish a cancelled event,
	                        * cancel a cancelled registration, check in a waitlisted one) */
	EV_DUPLICATE_KEY,      /* a plugin's registration key is taken (ev_reg_result.message) */
	EV_KEY_REUSED,         /* the idempotency key holds a registration made from other content */
	EV_DB                  /* database failure (logged) */
};
/* Stable code for API errors ("not_found", "invalid", "duplicate_phone",
 * "closed", "full", "conflict", "internal") and the zh-CN message. */
const char *ev_rc_code(int rc);
const char *ev_rc_message(int rc);

/* Who acts: the request's caller. Functions taking req use r->db, r->a,
 * r->plugins (kinds, forms), r->user (staff; NULL for residents) and
 * r->remote_addr (audit). */

/* --- kinds */
/* Kinds offered for new events: JSON array of {id, title, plugin|null,
 * form|null, retention_days} — "general" first, then plug_event_kinds. */
json_t *ev_kinds(req *r);
/* 1 when id names a known kind. */
int ev_kind_known(req *r, const char *id);
/* The plugin form of kind id, or NULL (the general kind and unknown kinds have none). */
const struct pform *ev_kind_form(req *r, const char *id);

/* --- events */
typedef struct ev_filter {
	const char *kind;          /* NULL: any */
	const char *from, *to;     /* "YYYY-MM-DD" (China time) or NULL; inclusive days of starts_at */
	int staff;                 /* 1: every status, past ones too (staff lists); 0: published and not ended */
	int limit;                 /* 0: EV_LIST_LIMIT_DEFAULT */
	long long offset;          /* events skipped first (paging); 0: none */
} ev_filter;
#define EV_LIST_LIMIT_DEFAULT 100
/* Events as a JSON array of event objects (without "form"), ordered by
 * starts_at then id (a total order, so limit/offset pages neither repeat nor
 * skip an event while the list does not change). NULL on a database error. */
json_t *ev_list(req *r, const ev_filter *f);
/* How many events ev_list would give for f without limit and offset (one
 * COUNT over the events table, no joins). A negative db_status on a database
 * error. */
long long ev_count(req *r, const ev_filter *f);
/* One event with slots and form; public_only: NULL unless published, closed
 * or cancelled (drafts are hidden). NULL when not found or on error. */
json_t *ev_get(req *r, long long id, int public_only);

/* Create an event from JSON in (the API's body, or the page's fields as a
 * JSON object of strings): keys kind, title, description?, location,
 * starts_at, ends_at, capacity, waitlist?, registration_opens_at?,
 * registration_closes_at?, retention_days?, slots? [{starts_at, ends_at,
 * capacity}]. Unknown keys and wrong JSON types are errors. The event starts
 * as a draft. EV_OK with *id, or EV_INVALID with *fields (a new object,
 * caller owns it). Audited "event.create". */
int ev_create(req *r, json_t *in, long long *id, json_t **fields);
/* Change the given keys of event id (same keys as ev_create; slots replace
 * the slot list only while nobody registered). Capacity may not go below
 * taken. Audited "event.update". */
int ev_update(req *r, long long id, json_t *in, json_t **fields);
/* draft/closed -> published. EV_STATE when cancelled. Audited. */
int ev_publish(req *r, long long id);
/* -> closed (no more registrations; the event still shows). Audited. */
int ev_close(req *r, long long id);
/* -> cancelled; every confirmed and waitlisted registrant gets a
 * cancellation message in the outbox. Audited "event.cancel". */
int ev_cancel(req *r, long long id);
/* A draft copy (title, texts, capacity, slots) with dates moved by
 * shift_days (e.g. 364 for next year's outreach day). *id of the copy. */
int ev_duplicate(req *r, long long id, int shift_days, long long *new_id);

/* --- registrations */
typedef struct ev_reg_input {
	const char *name;          /* as typed */
	const char *phone;         /* as typed (val_phone normalises) */
	long long slot_id;         /* 0: none; required when the event has slots */
	json_t *answers;           /* kind's form answers (object) or NULL */
	int consent;               /* 1 when the consent box was ticked */
	const char *on_behalf_of;  /* relation when a family member registers someone, or NULL */
	const form *form_in;       /* browser: the parsed form for pform_validate (answers NULL) */
	const char *idempotency_key; /* the client's key for this submission (API header, page
	                            * field) or NULL; EV_IDEM_KEY_MIN..MAX of [A-Za-z0-9_-] */
} ev_reg_input;
#define EV_IDEM_KEY_MIN 16
#define EV_IDEM_KEY_MAX 64

typedef struct ev_reg_result {
	char code[EV_CODE_LEN + 1];
	const char *status;        /* "confirmed" | "waitlisted" */
	long long position;        /* waitlist position, 0 when confirmed */
	json_t *fields;            /* EV_INVALID: field -> zh-CN message (caller owns) */
	json_t *field_codes;       /* EV_INVALID: field -> stable code (caller owns) */
	const char *message;       /* EV_DUPLICATE_KEY: the plugin's zh-CN message (arena) */
	int replayed;              /* EV_OK for a retry: the registration its key made before
	                            * (code, status and position as they stand now) */
} ev_reg_result;

/* Register for published event event_id. registered_by: the staff user id
 * registering a walk-in or caller, 0 for a resident. Validates name
 * (1..EV_NAME_MAX characters), phone (Chinese mobile), slot (must belong to
 * the event), answers against the kind's form, consent. One transaction:
 * insert (UNIQUE phone, UNIQUE idempotency key), take a seat or a waitlist
 * position, store the plugins' registration keys (ev_keys.h), queue the
 * confirmation message.
 * Idempotency: the INSERT stores in->idempotency_key (or, without one, a
 * random key of the server's own) and a fingerprint of the submission. A
 * submission that is refused for any reason while its key already holds a
 * registration of this event gets that registration instead: EV_OK with
 * out->replayed = 1 when the content is the same, EV_KEY_REUSED when it is
 * not. So a client that lost the answer to a saved registration (worker
 * killed, connection dropped) and retries with its key gets the original
 * code, and so does db_tx's own rerun after a COMMIT whose outcome was lost.
 * Nothing is looked up on the way to a new registration.
 * Returns EV_OK, EV_INVALID (also for a malformed key: field
 * "idempotency_key"), EV_NOT_FOUND, EV_CLOSED, EV_DUPLICATE_PHONE,
 * EV_DUPLICATE_KEY, EV_FULL_NO_WAITLIST, EV_KEY_REUSED or EV_DB (also when a
 * plugin's registration.validate or registration.keys hook failed). */
int ev_register(req *r, long long event_id, const ev_reg_input *in, long long registered_by,
                ev_reg_result *out);
/* 1 when k is a well-formed idempotency key (EV_IDEM_KEY_MIN..MAX of
 * [A-Za-z0-9_-]). */
int ev_idem_key_ok(const char *k);
/* A fresh random key (22 base64url characters, arena): the event pages put
 * one in their forms, once per page load. */
const char *ev_idem_key_new(arena *a);
/* A registration by code and phone (self-service; phone masked), or by code
 * alone when phone is NULL (staff; phone full). NULL when not found or not
 * matching. */
json_t *ev_lookup(req *r, const char *code, const char *phone);
/* Cancel by code + phone (resident) or code alone with phone NULL (staff).
 * Frees the seat and promotes the waitlist's head in the same transaction.
 * EV_OK, EV_NOT_FOUND, EV_STATE (already cancelled), EV_DB. *promoted (may
 * be NULL) gets the promoted registration's code or NULL. */
int ev_cancel_registration(req *r, const char *code, const char *phone, const char **promoted);
/* Check in (undo = 0) or undo a check-in (undo = 1), by the staff user
 * r->user. EV_OK, EV_NOT_FOUND, EV_STATE (not confirmed). */
int ev_checkin(req *r, const char *code, int undo);
/* Registrations of an event for staff: JSON array (phone full), ordered by
 * status then position then created_at. q (may be NULL) filters by phone
 * tail (digits) or name part. Audited "event.registrations.view". */
json_t *ev_registrations(req *r, long long event_id, const char *q);

/* --- exports */
/* CSV (UTF-8 BOM, CRLF, html_csv_cell) of the registrations of an event:
 * code, name, phone (full), slot, status, position, checked_in_at,
 * on_behalf_of, registered_by, created_at, answers as JSON.
 * Audited "event.export". EV_OK, EV_NOT_FOUND, EV_DB. */
int ev_csv(req *r, long long event_id, buf *out);
/* iCalendar (RFC 5545) of published upcoming events, CRLF, folded lines. */
int ev_ical(req *r, buf *out);
/* "138****5678" into the arena; anything else: "****". */
const char *ev_mask_phone(arena *a, const char *phone);

/* --- jobs (portald jobs run ...), without a request */
/* Mark confirmed, not checked-in registrations of events ended before now as
 * no_show. Returns the count or a negative db_status. */
long long ev_mark_no_shows(db *d, arena *a);
/* Anonymise registrants (name, phone, answers) of events ended more than
 * retention_days ago; audited "event.anonymise". Count or negative. */
long long ev_anonymise(db *d, arena *a);

/* Now in China time as "YYYY-MM-DD HH:MM:SS" (arena). */
const char *ev_now(arena *a);
/* ISO 8601 with offset -> "YYYY-MM-DD HH:MM:SS" China time; NULL if invalid
 * or without an offset (a bare local time is taken as China time). */
const char *ev_time_in(arena *a, const char *iso);
/* "YYYY-MM-DD HH:MM:SS" -> "YYYY-MM-DDTHH:MM:SS+08:00". */
const char *ev_time_out(arena *a, const char *dbtime);

#endif
