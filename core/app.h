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

#endif
