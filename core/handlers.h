/* handlers.h - core page and operations handlers (prefix h_).
 * One file per group: h_pages.c (public pages), h_ops.c (health, metrics),
 * h_account.c (login, logout, my account, workbench, grids), h_admin.c
 * (users, API tokens, audit log). Roles and CSRF are checked by the gate
 * before a handler runs (the route table in app.c says which roles). */
#ifndef PORTAL_HANDLERS_H
#define PORTAL_HANDLERS_H
#include "http.h"

int h_home(req *r);
int h_healthz(req *r);
int h_metrics(req *r);

/* h_account.c */
int h_login_form(req *r);                /* GET /login */
int h_login(req *r);                     /* POST /login */
int h_logout(req *r);                    /* POST /logout */
int h_account(req *r);                   /* GET /account */
int h_account_password(req *r);          /* POST /account/password */
int h_account_session_revoke(req *r);    /* POST /account/sessions/{id}/revoke */
int h_account_logout_all(req *r);        /* POST /account/logout-all */
int h_api_me(req *r);                    /* GET /api/v1/me */
int h_staff(req *r);                     /* GET /staff */
int h_grid(req *r);                      /* GET /grids/{grid} */
int h_api_grid_members(req *r);          /* GET /api/v1/grids/{grid}/members */

/* h_admin.c */
int h_admin_users(req *r);               /* GET /admin/users */
int h_admin_user_create(req *r);         /* POST /admin/users */
int h_admin_user(req *r);                /* GET /admin/users/{id} */
int h_admin_user_update(req *r);         /* POST /admin/users/{id} */
int h_admin_user_password(req *r);       /* POST /admin/users/{id}/password */
int h_admin_user_disable(req *r);        /* POST /admin/users/{id}/disable */
int h_admin_user_enable(req *r);         /* POST /admin/users/{id}/enable */
int h_admin_user_grants(req *r);         /* POST /admin/users/{id}/grants */
int h_admin_tokens(req *r);              /* GET /admin/tokens */
int h_admin_token_create(req *r);        /* POST /admin/tokens */
int h_admin_token_revoke(req *r);        /* POST /admin/tokens/{id}/revoke */
int h_admin_audit(req *r);               /* GET /admin/audit */
int h_admin_audit_csv(req *r);           /* GET /admin/audit.csv */

/* The command line's account commands (h_admin.c): argv[0] is "user" or
 * "token", argv[1] the subcommand (see `portald -h`). Each change is
 * audited with the actor "cli". Returns the exit status (0, 1 failure,
 * 2 usage). */
int h_cmd_user(conf *cf, int argc, char **argv);
int h_cmd_token(conf *cf, int argc, char **argv);

/* h_plugins.c: the admin page of plugins */
int h_admin_plugins(req *r);
int h_admin_plugins_reload(req *r);
int h_admin_plugin_enable(req *r);
int h_admin_plugin_disable(req *r);
int h_admin_plugin_settings(req *r);       /* GET /admin/plugins/{id}/settings */
int h_admin_plugin_settings_save(req *r);  /* POST /admin/plugins/{id}/settings */

/* h_events.c: the event pages (residents: list, event + form, confirmation,
 * QR image, lookup/cancel; staff: events, edit, registrations, check-in,
 * sign-in sheet, CSV) */
int h_ev_list(req *r);                   /* GET /events */
int h_ev_ical(req *r);                   /* GET /events.ics */
int h_ev_page(req *r);                   /* GET /events/{id} */
int h_ev_register(req *r);               /* POST /events/{id}/register */
int h_ev_done(req *r);                   /* GET /r/{code} */
int h_ev_cancel_reg(req *r);             /* POST /r/{code}/cancel */
int h_ev_qr(req *r);                     /* GET /qr/{file} (CODE.svg) */
int h_ev_lookup_form(req *r);            /* GET /lookup */
int h_ev_lookup(req *r);                 /* POST /lookup */
int h_ev_staff_list(req *r);             /* GET /staff/events */
int h_ev_staff_new_form(req *r);         /* GET /staff/events/new */
int h_ev_staff_create(req *r);           /* POST /staff/events/new */
int h_ev_staff_edit_form(req *r);        /* GET /staff/events/{id}/edit */
int h_ev_staff_update(req *r);           /* POST /staff/events/{id}/edit */
int h_ev_staff_publish(req *r);          /* POST /staff/events/{id}/publish */
int h_ev_staff_close(req *r);            /* POST /staff/events/{id}/close */
int h_ev_staff_cancel(req *r);           /* POST /staff/events/{id}/cancel */
int h_ev_staff_duplicate(req *r);        /* POST /staff/events/{id}/duplicate */
int h_ev_staff_regs(req *r);             /* GET /staff/events/{id}/registrations */
int h_ev_staff_walkin(req *r);           /* POST /staff/events/{id}/registrations */
int h_ev_staff_reveal(req *r);           /* POST /staff/events/{id}/registrations/{code}/phone */
int h_ev_staff_reg_cancel(req *r);       /* POST /staff/events/{id}/registrations/{code}/cancel */
int h_ev_staff_csv(req *r);              /* GET /staff/events/{id}/registrations.csv */
int h_ev_staff_checkin_page(req *r);     /* GET /staff/events/{id}/checkin */
int h_ev_staff_checkin(req *r);          /* POST /staff/events/{id}/checkin */
int h_ev_staff_checkin_undo(req *r);     /* POST /staff/events/{id}/checkin/undo */
int h_ev_staff_noshows(req *r);          /* POST /staff/events/{id}/no-shows */
int h_ev_staff_signin(req *r);           /* GET /staff/events/{id}/signin.html */

/* h_api_events.c: the events JSON API (docs/api.md) */
int h_api_events(req *r);                    /* GET /api/v1/events */
int h_api_event(req *r);                     /* GET /api/v1/events/{id} */
int h_api_event_register(req *r);            /* POST /api/v1/events/{id}/registrations */
int h_api_registration(req *r);              /* GET /api/v1/registrations/{code}?phone= */
int h_api_registration_cancel(req *r);       /* DELETE /api/v1/registrations/{code}?phone= */
int h_api_event_create(req *r);              /* POST /api/v1/events (staff) */
int h_api_event_update(req *r);              /* PATCH /api/v1/events/{id} (staff) */
int h_api_event_publish(req *r);             /* POST /api/v1/events/{id}/publish (staff) */
int h_api_event_registrations(req *r);       /* GET /api/v1/events/{id}/registrations (staff) */
int h_api_event_registrations_csv(req *r);   /* GET /api/v1/events/{id}/registrations.csv (staff) */
int h_api_registration_checkin(req *r);      /* POST /api/v1/registrations/{code}/checkin (staff) */

#endif
