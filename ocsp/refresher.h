/* The refresher: keeps every certificate's pre-signed OCSP answer fresh.
 *
 * It takes the answers most in need of signing from the store's refresh index
 * (store_refresh_each: missing ones first, then by nextUpdate), signs them
 * through the OCSP service outside any write transaction, and writes a batch
 * back in one write transaction with store_response_put's version check: an
 * answer whose record changed meanwhile (a revocation) is dropped, and the
 * record stays indexed as missing, to be signed again from its new version.
 *
 * One refresher signs per data directory: a lease in the store ("refresh",
 * holder id + expiry) is taken and renewed in a write transaction before each
 * batch; only the holder signs. A holder that dies stops renewing and its
 * lease lapses after lease_ttl seconds.
 *
 * Signing is paced by a token bucket of `rate` signatures per second (burst
 * one batch). The thread (ocsp_refresher_start) is a plain pthread of its
 * own: it never runs on an event loop nor on the loop's thread pool, so live
 * requests never queue behind it. No libuv here. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocsp/responder_set.h"

/** The lease's name in the store. */
#define OCSP_REFRESH_LEASE "refresh"

struct ocsp_refresher_stats;

struct ocsp_refresher_config {
	int64_t refresh_before; /**< sign answers whose nextUpdate is within this many seconds */
	size_t batch;           /**< answers per write transaction (and the bucket's burst) */
	/** Certificates of one issuer per signed answer (ocsp.batch); 0 or 1:
	 * one answer each. The rate counts signatures, not answers. */
	size_t per_signature;
	double rate;       /**< signatures per second */
	int64_t lease_ttl; /**< seconds a lease lasts without renewal */
	uint64_t holder;   /**< this refresher's lease holder id (nonzero, unique) */
	/** Unix seconds; NULL: time(NULL). For tests. */
	int64_t (*clock)(void *arg);
	void *clock_arg;
	/** Called between signing a batch and writing it back; NULL in kenshod.
	 * For tests (a revocation committed in between). */
	void (*before_write)(void *arg);
	/** Called on the refresher's thread after every step with the figures
	 * (the only writer of whatever it updates); NULL: none. */
	void (*report)(void *arg, const struct ocsp_refresher_stats *stats);
	void *report_arg;
};

/** Figures for metrics, readable from any thread. */
struct ocsp_refresher_stats {
	_Atomic uint64_t signatures;    /**< answers signed and cached */
	_Atomic uint64_t signings;      /**< signatures made for them (one per batch answer) */
	_Atomic uint64_t stale;         /**< signed but dropped: the record changed */
	_Atomic int lease;              /**< 1 while this refresher holds the lease */
	_Atomic int64_t oldest_due_age; /**< seconds the oldest due answer has been due (0: none) */
};

struct ocsp_refresher;

/** Creates a refresher over set's store (the set must outlive it). */
int ocsp_refresher_new(const struct ocsp_responder_set *set,
                       const struct ocsp_refresher_config *cfg, struct ocsp_refresher **out);

/** One step, on the caller's thread: takes or renews the lease (returns 0
 * with *held false when another holder has it), then signs up to `budget`
 * due answers (at most one batch), oldest first, and caches them in one write
 * transaction. *signed_out gets how many signatures were cached (each may
 * answer up to per_signature certificates); *next_due the
 * nextUpdate - refresh_before of the next entry (INT64_MAX: store empty). */
int ocsp_refresher_run_once(struct ocsp_refresher *r, size_t budget, bool *held, size_t *signed_out,
                            int64_t *next_due);

/** Starts the refresher's thread. */
int ocsp_refresher_start(struct ocsp_refresher *r);
/** Stops the thread (waking it from any wait), joins it and releases the lease. */
void ocsp_refresher_stop(struct ocsp_refresher *r);
/** Frees a stopped (or never started) refresher. */
void ocsp_refresher_free(struct ocsp_refresher *r);

const struct ocsp_refresher_stats *ocsp_refresher_stats(const struct ocsp_refresher *r);
