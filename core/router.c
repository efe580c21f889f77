/* Method + path dispatch. Routes are few (a dozen), so a linear scan keeps the
 * rules obvious: an exact path beats a prefix, a longer prefix beats a shorter
 * one, and among routes for the same path the method decides. */
#include "core/exchange.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct route {
	char *path;
	size_t path_len;
	bool prefix; /* path ends in '/' */
	unsigned methods;
	struct handler *handler;
};

struct router {
	struct route *routes;
	size_t count;
	size_t cap;
};

struct router *router_new(void)
{
	return calloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		free(r->routes[i].path);
	free(r->routes);
	free(r);
}

int router_add(struct router *r, const char *path, unsigned methods, struct handler *h)
{
	size_t len = strlen(path);
	if (len == 0 || path[0] != '/' || methods == 0 || !h)
		return -EINVAL;
	for (size_t i = 0; i < r->count; i++) {
		if (r->routes[i].path_len == len && memcmp(r->routes[i].path, path, len) == 0 &&
		    (r->routes[i].methods & methods))
			return -EEXIST;
	}
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct route *bigger = realloc(r->routes, cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		r->routes = bigger;
		r->cap = cap;
	}
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	r->routes[r->count++] = (struct route){copy, len, path[len - 1] == '/', methods, h};
	return 0;
}

static bool route_covers(const struct route *rt, const char *path, size_t path_len)
{
	if (rt->prefix)
		return path_len >= rt->path_len && memcmp(rt->path, path, rt->path_len) == 0;
	return path_len == rt->path_len && memcmp(rt->path, path, path_len) == 0;
}

struct handler *router_match(const struct router *r, enum http_method method, const char *path,
                             size_t path_len, unsigned *allowed)
{
	/* Pick the most specific path first: exact over prefix, then longest. */
	const struct route *best = NULL;
	for (size_t i = 0; i < r->count; i++) {
		const struct route *rt = &r->routes[i];
		if (!route_covers(rt, path, path_len))
			continue;
		if (!best || (best->prefix && !rt->prefix) ||
		    (best->prefix == rt->prefix && rt->path_len > best->path_len))
			best = rt;
	}
	unsigned methods = 0;
	struct handler *found = NULL, *get_handler = NULL;
	for (size_t i = 0; best && i < r->count; i++) {
		const struct route *rt = &r->routes[i];
		if (rt->path_len != best->path_len ||
		    memcmp(rt->path, best->path, rt->path_len) != 0)
			continue;
		methods |= rt->methods;
		if (rt->methods & method)
			found = rt->handler;
		if (rt->methods & HTTP_METHOD_GET)
			get_handler = rt->handler;
	}
	/* RFC 9110 9.3.2: HEAD is GET without the content, so every GET route
	 * answers HEAD too; the exchange drops the body. */
	if (get_handler)
		methods |= HTTP_METHOD_HEAD;
	if (!found && method == HTTP_METHOD_HEAD)
		found = get_handler;
	if (allowed)
		*allowed = methods;
	return method == HTTP_METHOD_OTHER ? NULL : found;
}
