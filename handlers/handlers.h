/* How kenshod's main wires endpoint families into the router. Each family
 * (ocsp.c, crl.c, lookup.c, intake.c, admin.c, health.c) exports one
 * `*_routes` function with this signature; registry.c calls them all. */
#pragma once
#include <uv.h>

struct config;
struct router;
struct store;

/** What every handler family may use. Owned by main; outlives the handlers. */
struct handler_env {
	uv_loop_t *loop;
	struct store *store; /**< opened after fork, one per process */
	const struct config *config;
	const char *data_dir; /**< DIR: ca/, tls/, var files live below */
};

/** Creates a family's handlers and adds their routes. Returns 0 or -errno. */
typedef int (*handler_routes_fn)(struct router *r, const struct handler_env *env);

/** Registers every endpoint family. Returns 0 or the first error. */
int handlers_register_all(struct router *r, const struct handler_env *env);
