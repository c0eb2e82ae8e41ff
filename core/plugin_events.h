/* plugin_events.h - portal.events: read access to the core's events for plugins (prefix pev_).
 *
 * Least privilege: a plugin sees everything the host knows about events of its
 * own kinds (the manifest's event_kinds) and, of other kinds, only the public
 * fields of published events. Registrations (names, phones, answers) only of
 * its own kinds.
 *
 *   portal.events.list{ kind?, from?, to?, status?, all_kinds? } -> list (at most 500, by starts_at)
 *   portal.events.get(id)                                       -> event or nil
 *   portal.events.registrations(event_id [, { status?, slot_id? }]) -> list (raises for other kinds)
 *   portal.events.registration(code)                            -> registration + event_id, or nil
 *
 * Event (own kind): { id, kind, title, location, starts_at, ends_at, status, capacity,
 *   confirmed, waitlisted, checked_in, slots = { {id, starts_at, ends_at, capacity,
 *   confirmed, waitlisted}, ... } }; other kinds: { id, kind, title, location, starts_at,
 *   ends_at, status } (published events only).
 * Registration: { code, name, phone, status ("confirmed"|"waitlisted"|"cancelled"),
 *   position?, slot_id?, answers = {...}, consent, checked_in_at?, no_show, created_at,
 *   by_staff } - a no-show is status "confirmed" with no_show = true.
 * Times are "YYYY-MM-DD HH:MM:SS", China time, as the core stores them. The
 * functions need a database (routes, hooks, jobs, test bodies); the caller's
 * plug_ctx gives the connection and the arena. */
#ifndef PORTAL_PLUGIN_EVENTS_H
#define PORTAL_PLUGIN_EVENTS_H
#include <lua.h>

/* Push the portal.events table of functions (papi_install wraps it read-only). */
void pev_push(lua_State *L);

#endif
