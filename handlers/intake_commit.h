/* Committing a batch of accepted applications to the store in one write
 * transaction (one fsync): the durable half of /v1/intake, kept apart from
 * HTTP so it can be tested and reasoned about alone (docs/intake.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handlers/intake_evidence.h"

struct store;
struct receipt_signer;

struct intake_item {
	const uint8_t *original; /**< the submitted bytes, unchanged */
	size_t original_len;
	uint8_t digest[32]; /**< SHA-256 of original */
	int64_t received_at;
	const uint8_t *result_json; /**< the verification result */
	size_t result_len;
	size_t cms_len;     /**< the SignedData's length at the start of original */
	uint32_t issuer_id; /**< the store issuer of the signer's certificate */
	/* gathered and released by intake_commit */
	struct intake_evidence evidence;
	/* set by intake_commit */
	bool existed;         /**< submitted before: the first receipt is returned */
	uint64_t receipt;     /**< its number */
	uint64_t log_index;   /**< its leaf in the Merkle log (new items) */
	uint8_t *receipt_der; /**< malloc'd signed receipt; the caller frees */
	size_t receipt_len;
};

/** Stores every item not stored before (by digest) with a freshly signed
 * receipt and the evidence of this moment gathered from `evidence` (NULL:
 * none; intake_evidence.h), and fetches the original receipt of the
 * others, all in one write transaction that has committed (and fsynced)
 * when this returns 0. On error nothing was committed and no item has a
 * receipt. The evidence is gathered before the write transaction, since it
 * costs signatures. *next_hint is the
 * receipt number the caller expects next (0: unknown); receipts are signed
 * before the write transaction when it is known, and it is updated on
 * success. Runs on a worker thread; the signer must not be used concurrently. */
int intake_commit(struct store *store, struct receipt_signer *signer,
                  struct intake_evidence_sources *evidence, struct intake_item *const *items,
                  size_t n, uint64_t *next_hint);
