/* router.h - method + path pattern to handler (prefix rt_).
 *
 * The route table is data (cgit's command table): an array of rt_route.
 * Patterns are literal segments and {name} captures of one segment, e.g.
 * "/api/v1/events/{id}/registrations". A trailing segment "*" captures the rest
 * under the name "*". Matching is exact on segments; the first match wins. */
#ifndef PORTAL_ROUTER_H
#define PORTAL_ROUTER_H
#include <stddef.h>

struct req;
typedef int (*rt_handler)(struct req *r);

typedef struct rt_route {
	const char *method;        /* "GET", "POST", ... ; GET also answers HEAD */
	const char *pattern;
	rt_handler handler;
	unsigned flags;            /* RT_* below */
	unsigned roles;            /* auth_role bits, any of which may call it; 0 = public */
} rt_route;

enum {
	RT_API = 1u << 0,          /* errors as JSON */
};

#define RT_MAXPARAM 8
typedef struct rt_params {
	size_t n;
	const char *name[RT_MAXPARAM];
	const char *value[RT_MAXPARAM];   /* point into the caller's arena copy */
} rt_params;

enum rt_result { RT_FOUND = 0, RT_NOT_FOUND, RT_METHOD_NOT_ALLOWED };

struct arena;
/* Match method and path against table[0..n). On RT_FOUND *route and *params
 * are set (captured values copied into a). On RT_METHOD_NOT_ALLOWED, allow
 * (size allown) gets the comma-separated methods the path does accept. */
int rt_match(struct arena *a, const rt_route *table, size_t n, const char *method,
             const char *path, const rt_route **route, rt_params *params,
             char *allow, size_t allown);
/* Value of a captured parameter or NULL. */
const char *rt_param(const rt_params *p, const char *name);

#endif
