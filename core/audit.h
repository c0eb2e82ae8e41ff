/* audit.h - the append-only audit log (prefix audit_).
 *
 * Who (user and token, with the username at the time), when, from where, what
 * (an action such as "user.create"), which record (object type and id), and
 * a JSON detail. Never a password or a token. The audit_log table refuses
 * UPDATE and DELETE (triggers in migration 0001), and the portal's own
 * database user has no right to drop them.
 *
 * Write the entry in the same transaction as the change it records (inside
 * the db_tx function), so there is never a change without its entry or an
 * entry without its change.
 *
 * Actions used by the core: login.ok, login.failed, login.blocked, logout,
 * logout.all, session.revoke, password.change, password.reset, user.create,
 * user.update, user.disable, user.enable, role.grant, role.revoke,
 * token.create, token.revoke, audit.export. Plugins add theirs with their id as
 * prefix ("welfare.receipt"). */
#ifndef PORTAL_AUDIT_H
#define PORTAL_AUDIT_H
#include <jansson.h>
#include "arena.h"
#include "db.h"
#include "http.h"

typedef struct audit_actor {
	long long user_id;         /* 0: none (anonymous, command line) */
	long long token_id;        /* 0: none */
	const char *name;          /* username, "cli", or "" */
	const char *ip;            /* client address or "" */
} audit_actor;

/* Record an entry for the request's caller (r->user; anonymous when NULL) and
 * address. detail is stolen (may be NULL: "{}"). Strings longer than their
 * column are cut at a character boundary. Returns 0 or a db_status. */
int audit_log(req *r, const char *action, const char *object_type, const char *object_id, json_t *detail);
/* The same with an explicit actor, for the command line and for the login
 * itself (no r->user yet). detail is stolen. */
int audit_write(db *d, arena *a, const audit_actor *who, const char *action, const char *object_type,
                const char *object_id, json_t *detail);
/* zh-CN label of a core action ("登录成功"), or the action itself. */
const char *audit_action_label(const char *action);
/* The core's actions in display order, NULL-terminated (for filter menus). */
extern const char *const audit_actions[];

#endif
