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

#endif
