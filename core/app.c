/* app.c - one worker's application: route table, dispatch, access log. */
#include "app.h"
#include "auth.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "router.h"
#include "tmpl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct app {
	const conf *cf;
	arena *a;                /* the per-request arena, reset after each request */
	tpl_set *tpl;
	db *db;
	plug_set *plugins;
	req r;                   /* reused: its buffers keep their capacity */
	unsigned long db_errors_seen, db_reruns_seen, db_failovers_seen;
};

/* The core's routes. Plugins add theirs under their own prefix later. */
static const rt_route app_routes[] = {
	{"GET", "/", h_home, 0, 0},
	{"GET", "/healthz", h_healthz, 0, 0},
	{"GET", "/metrics", h_metrics, 0, 0},
	/* accounts (h_account.c): login is public, the rest needs a signed-in user */
	{"GET", "/login", h_login_form, 0, 0},
	{"POST", "/login", h_login, 0, 0},
	{"POST", "/logout", h_logout, 0, ROLE_SIGNED_IN},
	{"GET", "/account", h_account, 0, ROLE_SIGNED_IN},
	{"POST", "/account/password", h_account_password, 0, ROLE_SIGNED_IN},
	{"POST", "/account/sessions/{id}/revoke", h_account_session_revoke, 0, ROLE_SIGNED_IN},
	{"POST", "/account/logout-all", h_account_logout_all, 0, ROLE_SIGNED_IN},
	{"GET", "/api/v1/me", h_api_me, RT_API, ROLE_SIGNED_IN},
	/* staff pages; a {grid} segment is scoped by the gate (auth_in_grid) */
	{"GET", "/staff", h_staff, 0, ROLE_ADMIN | ROLE_STAFF | ROLE_GRID | ROLE_APPROVER},
	{"GET", "/grids/{grid}", h_grid, 0, ROLE_ADMIN | ROLE_STAFF | ROLE_GRID},
	{"GET", "/api/v1/grids/{grid}/members", h_api_grid_members, RT_API, ROLE_ADMIN | ROLE_STAFF | ROLE_GRID},
	/* event pages (h_events.c): residents need no account; staff pages need staff or admin */
	{"GET", "/events", h_ev_list, 0, 0},
	{"GET", "/events.ics", h_ev_ical, 0, 0},
	{"GET", "/events/{id}", h_ev_page, 0, 0},
	{"POST", "/events/{id}/register", h_ev_register, 0, 0},
	{"GET", "/r/{code}", h_ev_done, 0, 0},
	{"POST", "/r/{code}/cancel", h_ev_cancel_reg, 0, 0},
	{"GET", "/qr/{file}", h_ev_qr, 0, 0},
	{"GET", "/lookup", h_ev_lookup_form, 0, 0},
	{"POST", "/lookup", h_ev_lookup, 0, 0},
	{"GET", "/staff/events", h_ev_staff_list, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/new", h_ev_staff_new_form, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/new", h_ev_staff_create, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/{id}/edit", h_ev_staff_edit_form, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/edit", h_ev_staff_update, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/publish", h_ev_staff_publish, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/close", h_ev_staff_close, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/cancel", h_ev_staff_cancel, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/duplicate", h_ev_staff_duplicate, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/{id}/registrations", h_ev_staff_regs, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/registrations", h_ev_staff_walkin, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/{id}/registrations.csv", h_ev_staff_csv, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/registrations/{code}/phone", h_ev_staff_reveal, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/registrations/{code}/cancel", h_ev_staff_reg_cancel, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/{id}/checkin", h_ev_staff_checkin_page, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/checkin", h_ev_staff_checkin, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/checkin/undo", h_ev_staff_checkin_undo, 0, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/staff/events/{id}/no-shows", h_ev_staff_noshows, 0, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/staff/events/{id}/signin.html", h_ev_staff_signin, 0, ROLE_ADMIN | ROLE_STAFF},
	/* admin (h_admin.c) */
	{"GET", "/admin/users", h_admin_users, 0, ROLE_ADMIN},
	{"POST", "/admin/users", h_admin_user_create, 0, ROLE_ADMIN},
	{"GET", "/admin/users/{id}", h_admin_user, 0, ROLE_ADMIN},
	{"POST", "/admin/users/{id}", h_admin_user_update, 0, ROLE_ADMIN},
	{"POST", "/admin/users/{id}/password", h_admin_user_password, 0, ROLE_ADMIN},
	{"POST", "/admin/users/{id}/disable", h_admin_user_disable, 0, ROLE_ADMIN},
	{"POST", "/admin/users/{id}/enable", h_admin_user_enable, 0, ROLE_ADMIN},
	{"POST", "/admin/users/{id}/grants", h_admin_user_grants, 0, ROLE_ADMIN},
	{"GET", "/admin/tokens", h_admin_tokens, 0, ROLE_ADMIN},
	{"POST", "/admin/tokens", h_admin_token_create, 0, ROLE_ADMIN},
	{"POST", "/admin/tokens/{id}/revoke", h_admin_token_revoke, 0, ROLE_ADMIN},
	{"GET", "/admin/audit", h_admin_audit, 0, ROLE_ADMIN},
	{"GET", "/admin/audit.csv", h_admin_audit_csv, 0, ROLE_ADMIN},
	/* events JSON API (h_api_events.c); registration and lookup are public and rate-limited */
	{"GET", "/api/v1/events", h_api_events, RT_API, 0},
	{"POST", "/api/v1/events", h_api_event_create, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/api/v1/events/{id}", h_api_event, RT_API, 0},
	{"PATCH", "/api/v1/events/{id}", h_api_event_update, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/api/v1/events/{id}/publish", h_api_event_publish, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"POST", "/api/v1/events/{id}/registrations", h_api_event_register, RT_API, 0},
	{"GET", "/api/v1/events/{id}/registrations", h_api_event_registrations, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/api/v1/events/{id}/registrations.csv", h_api_event_registrations_csv, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/api/v1/registrations/{code}", h_api_registration, RT_API, 0},
	{"DELETE", "/api/v1/registrations/{code}", h_api_registration_cancel, RT_API, 0},
	{"POST", "/api/v1/registrations/{code}/checkin", h_api_registration_checkin, RT_API, ROLE_ADMIN | ROLE_STAFF},
	{"GET", "/admin/plugins", h_admin_plugins, 0, ROLE_ADMIN},
	{"POST", "/admin/plugins/reload", h_admin_plugins_reload, 0, ROLE_ADMIN},
	{"POST", "/admin/plugins/{id}/enable", h_admin_plugin_enable, 0, ROLE_ADMIN},
	{"POST", "/admin/plugins/{id}/disable", h_admin_plugin_disable, 0, ROLE_ADMIN},
	{"GET", "/admin/plugins/{id}/settings", h_admin_plugin_settings, 0, ROLE_ADMIN},
	{"POST", "/admin/plugins/{id}/settings", h_admin_plugin_settings_save, 0, ROLE_ADMIN},
};

/* The public pages that are the same for everyone and may be a moment behind
 * the cluster (the event list and pages, the calendar feed, health and
 * metrics): read without waiting for causality (db_causal). Everything else,
 * above all what follows a resident's or staff member's own write (the
 * confirmation, a lookup, staff pages, the session check after login), reads
 * causally when db_sync_wait is set. */
static int app_public_read(const req *r)
{
	if (!r->method || !r->path || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0))
		return 0;
	static const char *const exact[] = {"/", "/events", "/events.ics", "/api/v1/events", "/healthz", "/metrics"};
	for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
		if (strcmp(r->path, exact[i]) == 0)
			return 1;
	const char *id = strncmp(r->path, "/events/", 8) == 0 ? r->path + 8
	                 : strncmp(r->path, "/api/v1/events/", 15) == 0 ? r->path + 15 : NULL;
	if (!id || !*id)
		return 0;
	return strspn(id, "0123456789") == strlen(id);
}

static double app_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

app *app_new(const conf *cf, int strict, char *err, size_t errlen)
{
	app *ap = calloc(1, sizeof *ap);
	if (!ap) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ap->cf = cf;
	ap->a = ar_new(0);
	ap->tpl = tpl_new();
	if (tpl_load_dir(ap->tpl, cf->template_dir, err, errlen) < 0) {
		app_free(ap);
		return NULL;
	}
	char dberr[256];
	ap->db = db_open(cf, dberr, sizeof dberr);
	if (!ap->db)   /* not fatal: /healthz says 503 and db_ping retries */
		log_warn("database unavailable at start", "error=\"%s\"", dberr);
	ap->plugins = plug_load(cf, ap->db, strict, err, errlen);
	if (!ap->plugins) {
		/* shown on the admin page: the reload was refused, the old set serves */
		if (ap->db)
			db_q(ap->db, ap->a, NULL, "INSERT INTO plugin_events (kind, message) VALUES ('reload_refused', ?)",
			     DB_TEXT(err));
		app_free(ap);
		return NULL;
	}
	return ap;
}

void app_free(app *ap)
{
	if (!ap)
		return;
	plug_free(ap->plugins);
	db_close(ap->db);
	tpl_free(ap->tpl);
	ar_free(ap->a);
	buf_free(&ap->r.headers);
	buf_free(&ap->r.body_out);
	free(ap);
}

/* JSON APIs take JSON bodies only (docs/api.md): a state-changing request
 * with a body of any other type (text/plain, a form, none given) on a core
 * API route is answered 415 before the gate and the handler run. A cross-site
 * page can send text/plain or a form without a CORS preflight, so this keeps
 * other sites from making their visitors' browsers call the API. Requests
 * without a body (publish, a DELETE) need no type. 1 when refused. */
static int app_json_only(req *r)
{
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD") || r->body_len == 0 || req_is_json(r))
		return 0;
	resp_error(r, 415, "json_required", "请以 JSON 格式提交（Content-Type: application/json）。", NULL);
	return 1;
}

void app_core_dispatch(req *r)
{
	const rt_route *route;
	char allow[128];
	int m = rt_match(r->a, app_routes, sizeof app_routes / sizeof app_routes[0], r->method, r->path,
	                 &route, &r->params, allow, sizeof allow);
	if (m == RT_NOT_FOUND) {
		resp_error(r, 404, NULL, NULL, NULL);
		return;
	}
	if (m == RT_METHOD_NOT_ALLOWED) {
		resp_header(r, "Allow", allow);
		resp_error(r, 405, NULL, NULL, NULL);
		return;
	}
	if (route->flags & RT_API) {
		r->is_api = 1;
		if (app_json_only(r))
			return;
	}
	/* authentication, roles and CSRF are the host's job, never the handler's */
	if (route->roles && auth_gate(r, route->roles) != 0)
		return;
	route->handler(r);
}

static void app_dispatch(app *ap, req *r)
{
	if (!plug_dispatch(ap->plugins, r))
		app_core_dispatch(r);
}

int app_handle(app *ap, req_getter get, void *gctx, req_reader rd, void *rctx, buf *wire)
{
	req *r = &ap->r;
	r->db = ap->db;
	r->tpl = ap->tpl;
	r->plugins = ap->plugins;
	r->t_start = app_ms();
	if (req_init(r, ap->a, ap->cf, get, gctx) == 0 && req_read(r, rd, rctx, get, gctx) == 0) {
		if (ap->db)
			db_causal(ap->db, !app_public_read(r));
		app_dispatch(ap, r);
	}
	if (!ap->db && r->db) {
		ap->db = r->db;     /* a handler (re)opened the connection */
		plug_set_db(ap->plugins, ap->db);
	}
	resp_serialise(r, wire);
	double ms = app_ms() - r->t_start;
	log_request(r->method, r->path, r->status, (unsigned long)r->body_out.len, ms);
	met_request(r->status, ms);
	if (ap->db) {
		unsigned long e = db_error_count(ap->db);
		for (; ap->db_errors_seen < e; ap->db_errors_seen++)
			met_db_error();
		for (e = db_rerun_count(ap->db); ap->db_reruns_seen < e; ap->db_reruns_seen++)
			met_db_rerun();
		for (e = db_failover_count(ap->db); ap->db_failovers_seen < e; ap->db_failovers_seen++)
			met_db_failover();
	}
	int status = r->status;
	req_done(r);
	ar_reset(ap->a);
	return status;
}
