/* How kenshod's main wires endpoint families into the router, and their life
 * on a worker's event loop.
 *
 * Each family (ocsp.c, crl_serve.c, lookup.c, verify.c, intake.c, admin.c,
 * health.c, status.c) exports one `struct handler_family`: the hooks of h2o's
 * handler lifecycle (on_context_init, on_context_dispose, dispose). A family
 * keeps all its state in the context its init hook returns, never in a
 * static, so a worker can start and stop it, and a test can run it on a
 * loop of its own and see that loop close cleanly. registry.c runs the hooks
 * of every family in its table. */
#pragma once
#include <uv.h>

#include "handlers/roles.h" /* the roles a route names in router_add */

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

/** An endpoint family's life on one worker loop. The hooks run on the loop
 * thread, in this order, each once: on_context_init, then (if it made a
 * context) on_context_dispose, then, once the loop has run to its end,
 * dispose. */
struct handler_family {
	/** For logs: "ocsp", "crl", ... */
	const char *name;
	/** Creates the family's context on env->loop: reads its settings, adds
	 * its routes to r, starts its timers. Returns 0 with *context set, or
	 * -errno (logged). A failed init either releases everything and leaves
	 * *context alone, or sets *context to what it made so far (handles it
	 * cannot free before the loop runs), which the two other hooks then
	 * release as usual. */
	int (*on_context_init)(struct router *r, const struct handler_env *env, void **context);
	/** The worker drains (or failed to start): stop background work and
	 * uv_close every handle the context holds. Requests still in progress
	 * may be answered from the context's state, and its thread-pool jobs
	 * finish; nothing new is started. NULL for a family with no handles
	 * and no background work. */
	void (*on_context_dispose)(void *context);
	/** The loop has run to its end (every close callback and thread-pool
	 * job has completed): unregisters the family's hooks and frees the
	 * context. */
	void (*dispose)(void *context);
};

/** The contexts of every family on one worker loop. */
struct handlers_context;

/** Runs every family's on_context_init on env->loop, in table order, adding
 * their routes to r. Returns 0, or the first failure's -errno after running
 * on_context_dispose for the families started before it. Either way *out
 * holds the started families, for handlers_context_dispose and
 * handlers_dispose (NULL only when out of memory). */
int handlers_context_init(struct router *r, const struct handler_env *env,
                          struct handlers_context **out);

/** The worker drains: on_context_dispose of every started family, in reverse
 * order. Does nothing the second time, or for NULL. */
void handlers_context_dispose(struct handlers_context *hc);

/** Frees every family's context (dispose, in reverse order) and hc. Call after
 * handlers_context_dispose and after the loop has run to its end. NULL is
 * ignored. */
void handlers_dispose(struct handlers_context *hc);
