/* Method + path dispatch. Routes are few (a dozen), so a linear scan keeps the
 * rules obvious: an exact path beats a prefix, a longer prefix beats a shorter
 * one, and among routes for the same path the method decides.
 *
 * Every route is declared with the roles its callers need, and the router
 * hands out a guard in front of each handler that checks them before the
 * handler runs (docs/architecture.md rule 4: every route checks its role). A handler
 * therefore cannot forget the check, and a new route cannot be added without
 * saying who may call it. */
#include "core/exchange.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The guard is what router_match returns; it lives in its own allocation so
 * the pointer stays valid while the route table grows. */
struct route_guard {
	struct handler super; /* same name as the handler, for metrics */
	struct handler *handler;
	core_role_set roles;
	const struct router *router;
};

struct route {
	char *path;
	size_t path_len;
	bool prefix; /* path ends in '/' */
	unsigned methods;
	struct route_guard *guard;
	size_t next; /* 1 + the index of the next route of its bucket, 0 at the end */
};

/* Routes are chained by the character after the leading '/' (ROUTE_BUCKETS
 * - 1 for "/" alone): a path is only ever covered by routes of its own
 * bucket, so a request looks at a few routes, not all. */
#define ROUTE_BUCKETS 257

struct router {
	struct route *routes;
	size_t count;
	size_t cap;
	size_t bucket[ROUTE_BUCKETS]; /* 1 + the index of a bucket's first route, or 0 */
	router_access_fn access;
	void *access_arg;
};

struct router *router_new(void)
{
	return calloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++) {
		free(r->routes[i].path);
		free(r->routes[i].guard);
	}
	free(r->routes);
	free(r);
}

void router_set_access(struct router *r, router_access_fn fn, void *arg)
{
	r->access = fn;
	r->access_arg = arg;
}

/* Without an access function only the transport's own roles count: plain
 * callers hold none, so a route that needs a role fails closed. */
static bool default_access(struct handler *h, struct exchange *ex, core_role_set roles)
{
	const struct http_request *req = exchange_request(ex);
	core_role_set have = req->peer ? req->peer->roles : 0;
	if (core_role_set_has(have, roles))
		return true;
	if (h->on_forbidden)
		h->on_forbidden(h, ex, "this endpoint needs a role the caller does not have");
	else
		exchange_respond_error(ex, 403, HTTP_ERROR_FORBIDDEN,
		                       "this endpoint needs a role the caller does not have");
	return false;
}

static void guard_on_request(struct handler *self, struct exchange *ex)
{
	struct route_guard *g = (struct route_guard *)self;
	if (g->roles != ROUTE_OPEN) {
		const struct router *r = g->router;
		bool ok = r->access ? r->access(r->access_arg, g->handler, ex, g->roles)
		                    : default_access(g->handler, ex, g->roles);
		if (!ok)
			return;
	}
	g->handler->on_request(g->handler, ex);
}

static void method_names(unsigned methods, char *out, size_t out_len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{HTTP_METHOD_GET, "GET"},       {HTTP_METHOD_HEAD, "HEAD"},
	             {HTTP_METHOD_POST, "POST"},     {HTTP_METHOD_PUT, "PUT"},
	             {HTTP_METHOD_DELETE, "DELETE"}, {HTTP_METHOD_OPTIONS, "OPTIONS"}};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < out_len; i++) {
		if (!(methods & names[i].bit))
			continue;
		size_t n = strlen(names[i].name);
		if (used + n + 2 > out_len)
			break;
		if (used)
			out[used++] = ',';
		memcpy(out + used, names[i].name, n + 1);
		used += n;
	}
}

static size_t bucket_of(const char *path, size_t path_len)
{
	return path_len < 2 ? ROUTE_BUCKETS - 1 : (unsigned char)path[1];
}

int router_add(struct router *r, const char *path, unsigned methods, core_role_set roles,
               struct handler *h)
{
	size_t len = strlen(path);
	if (len == 0 || path[0] != '/' || methods == 0 || !h || !h->on_request)
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
	struct route_guard *g = calloc(1, sizeof(*g));
	if (!copy || !g) {
		free(copy);
		free(g);
		return -ENOMEM;
	}
	*g = (struct route_guard){
	        .super = {.name = h->name, .on_request = guard_on_request},
	        .handler = h,
	        .roles = roles,
	        .router = r,
	};
	/* "/" alone is the status page, not a prefix of every path: unknown
	 * paths must keep answering 404. */
	bool prefix = len > 1 && path[len - 1] == '/';
	size_t b = bucket_of(path, len);
	r->routes[r->count] = (struct route){copy, len, prefix, methods, g, r->bucket[b]};
	r->bucket[b] = ++r->count;
	/* One line per route, so an operator (and the role-matrix test) can see
	 * exactly what a running kenshod serves and to whom. */
	char list[48];
	method_names(methods, list, sizeof(list));
	log_debug("route: %s %s roles=0x%x handler=%s", path, list, (unsigned)roles,
	          h->name ? h->name : "-");
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
	size_t first = r->bucket[bucket_of(path, path_len)];
	const struct route *best = NULL;
	for (size_t k = first; k; k = r->routes[k - 1].next) {
		const struct route *rt = &r->routes[k - 1];
		if (!route_covers(rt, path, path_len))
			continue;
		if (!best || (best->prefix && !rt->prefix) ||
		    (best->prefix == rt->prefix && rt->path_len > best->path_len))
			best = rt;
	}
	unsigned methods = 0;
	struct handler *found = NULL, *get_handler = NULL;
	for (size_t k = best ? first : 0; k; k = r->routes[k - 1].next) {
		const struct route *rt = &r->routes[k - 1];
		if (rt->path_len != best->path_len ||
		    memcmp(rt->path, best->path, rt->path_len) != 0)
			continue;
		methods |= rt->methods;
		if (rt->methods & method)
			found = &rt->guard->super;
		if (rt->methods & HTTP_METHOD_GET)
			get_handler = &rt->guard->super;
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
