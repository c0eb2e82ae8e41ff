/* handlers.h - core page and operations handlers (prefix h_).
 * One file per group: h_pages.c (public pages), h_ops.c (health, metrics). */
#ifndef PORTAL_HANDLERS_H
#define PORTAL_HANDLERS_H
#include "http.h"

int h_home(req *r);
int h_healthz(req *r);
int h_metrics(req *r);

#endif
