/* router.c - match a method and path against the route table. */
#include "router.h"
#include "arena.h"
#include <stdio.h>
#include <string.h>

/* Does pattern match path? Captures go to params (values copied into a).
 * Both start with '/'. Segments are compared one by one. */
static int rt_path_match(arena *a, const char *pat, const char *path, rt_params *params)
{
	params->n = 0;
	const char *p = pat, *s = path;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return 0;
		p++, s++;
		const char *pe = strchr(p, '/'), *se = strchr(s, '/');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		size_t sl = se ? (size_t)(se - s) : strlen(s);
		if (pl == 1 && *p == '*' && !pe) {
			/* rest of the path, possibly empty */
			if (params->n >= RT_MAXPARAM)
				return 0;
			params->name[params->n] = "*";
			params->value[params->n++] = ar_strdup(a, s);
			return 1;
		}
		if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
			if (sl == 0 || params->n >= RT_MAXPARAM)
				return 0;
			params->name[params->n] = ar_strndup(a, p + 1, pl - 2);
			params->value[params->n++] = ar_strndup(a, s, sl);
		} else if (pl != sl || memcmp(p, s, pl) != 0)
			return 0;
		p += pl;
		s += sl;
	}
	/* a trailing slash-star also matches the bare prefix, with an empty rest */
	if (!*s && strcmp(p, "/*") == 0) {
		params->name[params->n] = "*";
		params->value[params->n++] = "";
		return 1;
	}
	return *p == 0 && *s == 0;
}

static int rt_method_ok(const char *route_method, const char *method)
{
	if (strcmp(route_method, method) == 0)
		return 1;
	return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

int rt_match(arena *a, const rt_route *table, size_t n, const char *method, const char *path,
             const rt_route **route, rt_params *params, char *allow, size_t allown)
{
	int path_seen = 0;
	size_t ao = 0;
	rt_params scratch;
	if (allow && allown)
		allow[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rt_path_match(a, table[i].pattern, path, &scratch))
			continue;
		if (rt_method_ok(table[i].method, method)) {
			*route = &table[i];
			*params = scratch;
			return RT_FOUND;
		}
		path_seen = 1;
		if (allow && allown && !strstr(allow, table[i].method)) {
			int w = snprintf(allow + ao, allown - ao, "%s%s", ao ? ", " : "", table[i].method);
			if (w > 0 && (size_t)w < allown - ao)
				ao += (size_t)w;
			if (strcmp(table[i].method, "GET") == 0 && !strstr(allow, "HEAD")) {
				w = snprintf(allow + ao, allown - ao, ", HEAD");
				if (w > 0 && (size_t)w < allown - ao)
					ao += (size_t)w;
			}
		}
	}
	return path_seen ? RT_METHOD_NOT_ALLOWED : RT_NOT_FOUND;
}

const char *rt_param(const rt_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}
