/* t_router.c - route matching behaviours. */
#include "arena.h"
#include "router.h"
#include "tap.h"

static int h1(struct req *r) { (void)r; return 1; }
static int h2(struct req *r) { (void)r; return 2; }
static int h3(struct req *r) { (void)r; return 3; }
static int h4(struct req *r) { (void)r; return 4; }

static const rt_route routes[] = {
	{"GET", "/", h1, 0, 0},
	{"GET", "/api/v1/events/{id}", h2, RT_API, 0},
	{"POST", "/api/v1/events/{id}/registrations", h3, RT_API, 0},
	{"GET", "/files/*", h4, 0, 0},
	{"DELETE", "/api/v1/events/{id}", h2, RT_API, 0},
};
#define N (sizeof routes / sizeof routes[0])

int main(void)
{
	arena *a = ar_new(0);
	const rt_route *rt = NULL;
	rt_params p;
	char allow[64];

	is_int(rt_match(a, routes, N, "GET", "/", &rt, &p, allow, sizeof allow), RT_FOUND, "GET / found");
	ok(rt && rt->handler == h1, "GET / goes to its handler");
	is_int(rt_match(a, routes, N, "HEAD", "/", &rt, &p, allow, sizeof allow), RT_FOUND, "HEAD answers like GET");

	is_int(rt_match(a, routes, N, "GET", "/api/v1/events/42", &rt, &p, allow, sizeof allow), RT_FOUND,
	       "capture one segment");
	is_str(rt_param(&p, "id"), "42", "captured id is 42");
	ok(rt->flags & RT_API, "route flags come through");
	is_str(rt_param(&p, "nope"), NULL, "unknown parameter is NULL");

	is_int(rt_match(a, routes, N, "POST", "/api/v1/events/7/registrations", &rt, &p, allow, sizeof allow),
	       RT_FOUND, "capture in the middle");
	is_str(rt_param(&p, "id"), "7", "middle capture value");

	is_int(rt_match(a, routes, N, "GET", "/api/v1/events/", &rt, &p, allow, sizeof allow), RT_NOT_FOUND,
	       "empty capture does not match");
	is_int(rt_match(a, routes, N, "GET", "/api/v1/events/1/2", &rt, &p, allow, sizeof allow), RT_NOT_FOUND,
	       "extra segment does not match");
	is_int(rt_match(a, routes, N, "GET", "/api/v1/event/1", &rt, &p, allow, sizeof allow), RT_NOT_FOUND,
	       "literal segments must be equal");
	is_int(rt_match(a, routes, N, "GET", "/apix", &rt, &p, allow, sizeof allow), RT_NOT_FOUND,
	       "prefix of a segment does not match");

	is_int(rt_match(a, routes, N, "PUT", "/api/v1/events/3", &rt, &p, allow, sizeof allow),
	       RT_METHOD_NOT_ALLOWED, "known path, wrong method");
	is_str(allow, "GET, HEAD, DELETE", "Allow lists the methods the path takes");
	is_int(rt_match(a, routes, N, "POST", "/", &rt, &p, allow, sizeof allow), RT_METHOD_NOT_ALLOWED,
	       "POST / is not allowed");

	is_int(rt_match(a, routes, N, "GET", "/files/a/b/c.txt", &rt, &p, allow, sizeof allow), RT_FOUND,
	       "star captures the rest");
	is_str(rt_param(&p, "*"), "a/b/c.txt", "rest of the path");
	is_int(rt_match(a, routes, N, "GET", "/files", &rt, &p, allow, sizeof allow), RT_FOUND,
	       "star matches the bare prefix");
	is_str(rt_param(&p, "*"), "", "empty rest");
	is_int(rt_match(a, routes, N, "GET", "/filesx", &rt, &p, allow, sizeof allow), RT_NOT_FOUND,
	       "star does not match a longer segment");

	ar_free(a);
	return tap_done();
}
