/* app.h - the application inside one worker (prefix app_).
 *
 * Owns what a worker keeps between requests: its database connection, the
 * loaded templates and the route table; handles one request from parameters
 * to serialised response. */
#ifndef PORTAL_APP_H
#define PORTAL_APP_H
#include "buf.h"
#include "conf.h"
#include "http.h"

typedef struct app app;

/* Set up a worker: templates, database connection, plugins. NULL with err on
 * failure (a missing database is not fatal: /healthz then answers 503).
 * strict (a reload): any plugin that fails to load fails the whole worker, so
 * the workers already running keep serving the old, working set. */
app *app_new(const conf *cf, int strict, char *err, size_t errlen);
void app_free(app *ap);
/* Handle one request; the serialised response goes to wire. Returns the status. */
int app_handle(app *ap, req_getter get, void *gctx, req_reader rd, void *rctx, buf *wire);
/* Route r to the core's own pages and APIs (what is not under a plugin's
 * prefix), with the host's authentication, roles and CSRF: the second half of
 * app_handle's dispatch, also used by `portald plugin test` so a plugin's
 * tests can create events of its kinds and register for them (T.request). */
void app_core_dispatch(req *r);

#endif
