/* The CRL publisher of one worker: decides when a full or delta CRL is due
 * and has it generated and published, never on the loop thread.
 *
 * Not an HTTP endpoint: the CRL family (crl_serve.c) starts it beside its
 * routes, stops it when the worker drains, and serves what it publishes.
 * It lives here rather than beside the CA code because it runs on kenshod's
 * event loop, which ca/ never depends on; the generation itself, crash-safe
 * file writing included, is ca/crl.h's. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct config;
struct store;
struct crl_publisher;

/** How a publisher runs. */
struct crl_publisher_options {
	uv_loop_t *loop;
	struct store *store;         /**< NULL: nothing can be generated in this process */
	const struct config *config; /**< crl.* settings (NULL: the defaults) */
	const char *data_dir;        /**< DIR: keys in DIR/ca/, CRLs in DIR/crl/ */
	int64_t check_ms;            /**< how often the schedule is consulted */
	/** Called on the loop after a job published at least one CRL (may be NULL). */
	void (*published)(void *arg);
	void *arg;
};

/** Reads the schedule (crl.generate, crl.delta_after_ms, crl.full_interval,
 * crl.full_validity, crl.delta_validity, crl.refresh_before, crl.base_url)
 * and registers the publisher's counters. When crl.generate is on and a
 * store is at hand, starts a timer every check_ms, first tick at once: each
 * tick queues one job (never two at a time) on the thread pool that takes
 * the publication lock without waiting (so one process generates), asks
 * crl_due (ca/crl.h) what is due and publishes it. Returns 0 or -errno. */
int crl_publisher_start(const struct crl_publisher_options *opts, struct crl_publisher **out);

/** True when this publisher generates (crl.generate on, a store at hand);
 * false for NULL. */
bool crl_publisher_active(const struct crl_publisher *p);

/** Stops the timer (uv_close): no job starts after this; one on the pool
 * finishes, and `published` is not called for it. NULL is ignored. */
void crl_publisher_stop(struct crl_publisher *p);

/** Frees p. Call after crl_publisher_stop, once the loop has run the
 * timer's close callback and the last job. NULL is ignored. */
void crl_publisher_free(struct crl_publisher *p);
