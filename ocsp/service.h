/* The OCSP service: everything between a decoded request and a signed
 * answer, for the responder endpoint, the CA tools and the benchmarks.
 *
 * The rule it owns (docs/ocsp.md, DESIGN rule 1 "never good after a
 * revocation"):
 *  - all CertIDs of a request are looked up in one read transaction, so the
 *    answer is one consistent snapshot;
 *  - a record becomes an answer in one place: issued and good → good,
 *    revoked → revoked with its time and reason, never issued → unknown;
 *  - a cached response is served only for the record's current version,
 *    when it names exactly the CertID asked and is not due for refresh;
 *  - a signed answer for one issued CertID without a nonce is written back
 *    with store_response_put, which refuses (-ESTALE) when the record changed
 *    after it was read: then the records are read again and signed again.
 *    Any other answer is served only after its records are read again and
 *    found unchanged (a revocation committed meanwhile means signing again).
 *  - issuance and revocation pre-sign the new record's answer after their
 *    commit (ocsp_service_presign) or, for batch writers, inside their own
 *    transaction (ocsp_service_presign_in_txn).
 *
 * Lookups do not block (one read transaction); signing and writing back do
 * (RSA signatures, fsync'd commits): run them on a worker thread, never on
 * an event loop. Functions return 0 or a negative errno unless they say. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocsp/responder_set.h"
#include "pki/ocsp_codec.h"
#include "storage/store.h"

/** Signing tries this often when the records keep changing under it. */
#define OCSP_SERVICE_SIGN_ATTEMPTS 4

/** One CertID's record as read from the store. */
struct ocsp_record {
	bool issued; /**< false: never issued by this issuer (answer unknown) */
	struct store_serial serial;
	uint64_t version; /**< the record's version when read */
	enum ocsp_cert_status status;
	int64_t revoked_at; /**< when revoked */
	int reason;         /**< CRLReason when revoked, else -1 */
};

/** A request being answered. Plain data without inner pointers, so it may be
 * copied to hand it to a worker thread. */
struct ocsp_query {
	struct ocsp_request request; /**< the caller decodes it (ocsp_request_decode) */
	uint32_t issuer_id;          /**< set by ocsp_service_lookup */
	struct ocsp_responder *responder;
	struct ocsp_record records[OCSP_MAX_CERT_IDS]; /**< one per request.ids[] */
};

/** A cached response that answers a query; der is valid only during the
 * callback that receives it. */
struct ocsp_cached {
	const uint8_t *der;
	size_t len;
	int64_t this_update;
	int64_t next_update;
};

/** Receives a cache hit inside ocsp_service_lookup's read transaction. */
typedef void (*ocsp_service_hit_cb)(const struct ocsp_query *q, const struct ocsp_cached *hit,
                                    void *arg);

/** Finds the responder for q->request and reads every CertID's record in
 * one read transaction. When the request is one issued CertID without a
 * nonce and its cached response answers it and is fresh (thisUpdate <= now
 * and now + refresh_margin < nextUpdate), calls on_hit before the
 * transaction ends and returns 1. Otherwise returns 0: q is ready for
 * ocsp_service_sign. -ENXIO when a CertID names no issuer of the set, or two
 * name different ones (answer unauthorized). Does not block. */
int ocsp_service_lookup(const struct ocsp_responder_set *set, struct ocsp_query *q, int64_t now,
                        int64_t refresh_margin, ocsp_service_hit_cb on_hit, void *arg);

/** Signs the answer to a looked-up query (echoing its nonce), caches it when
 * it is one issued CertID without a nonce, and makes sure no record changed
 * since it was read, re-reading and re-signing as often as needed up to
 * OCSP_SERVICE_SIGN_ATTEMPTS (then -EAGAIN: answer tryLater). q->records
 * are updated to what was signed; out->der is the caller's to free. A cache
 * write that fails otherwise is logged: the answer still stands. Blocks. */
int ocsp_service_sign(const struct ocsp_responder_set *set, struct ocsp_query *q,
                      struct ocsp_signed *out);

/** Pre-signs and caches the answer for one certificate after its issuance
 * or status change committed: reads its record, signs the SHA-1 CertID
 * (the RFC 5019 profile's form) and writes it back, reading and signing
 * again if a later change wins the race. -ENOENT if the issuer has no
 * responder in the set or the certificate was never issued; -EAGAIN if the
 * record kept changing. Blocks. */
int ocsp_service_presign(const struct ocsp_responder_set *set, uint32_t issuer_id,
                         const struct store_serial *serial);

/** Like ocsp_service_presign inside the caller's write transaction (batch
 * writers such as `kensho gen`: the certificate and its answer commit
 * together, so no other change can come between). */
int ocsp_service_presign_in_txn(const struct ocsp_responder_set *set, struct store_txn *txn,
                                uint32_t issuer_id, const struct store_serial *serial);

/** One certificate's answer signed for the refresher, not yet cached. */
struct ocsp_presigned {
	uint32_t issuer_id;
	struct store_serial serial;
	struct store_response response; /**< der is malloc'd: ocsp_presigned_free */
};

/** Reads one certificate's record in txn (read or write) and signs its
 * SHA-1 CertID answer as of `now` without caching it, so that a batch can
 * be signed outside the write transaction that stores it
 * (ocsp_service_presigned_put). -ENOENT as ocsp_service_presign. Blocks.
 *
 * Every function here that signs counts it in the store's signature
 * counters (store_signatures_add): ocsp_service_sign as live,
 * ocsp_service_presign and ocsp_service_presign_in_txn as issuance, this
 * one as refresh. */
int ocsp_service_presign_read(const struct ocsp_responder_set *set, struct store_txn *txn,
                              uint32_t issuer_id, const struct store_serial *serial, int64_t now,
                              struct ocsp_presigned *out);

/** Caches a presigned answer in the write transaction txn unless its record
 * changed since it was read: -ESTALE then (a revocation won; the record
 * stays without an answer, first in line to be signed again). */
int ocsp_service_presigned_put(struct store_txn *txn, const struct ocsp_presigned *p);

void ocsp_presigned_free(struct ocsp_presigned *p);

/* --- batch answers (ocsp.batch; docs/ocsp.md "Batch answers") --------------- */

/** The most certificates one batch answer names. */
#define OCSP_BATCH_MAX OCSP_MAX_CERT_IDS

/** A certificate to pre-sign. */
struct ocsp_cert_ref {
	uint32_t issuer_id;
	struct store_serial serial;
};

/** Sorts refs by issuer, keeping their order within an issuer, so that
 * ocsp_batch_end can cut them into batches of one issuer each. */
void ocsp_batch_sort(struct ocsp_cert_ref *refs, size_t count);

/** The end of the batch that starts at refs[start]: at most per_signature
 * certificates of refs[start]'s issuer, consecutive in sorted refs. */
size_t ocsp_batch_end(const struct ocsp_cert_ref *refs, size_t count, size_t start,
                      size_t per_signature);

/** One answer signed for several certificates of one issuer, not yet
 * cached: SHA-1 CertIDs, one thisUpdate and nextUpdate, no extensions. */
struct ocsp_presigned_batch {
	uint32_t issuer_id;
	size_t count;
	struct store_batch_member members[OCSP_BATCH_MAX];
	struct store_response response; /**< der is malloc'd: ocsp_presigned_batch_free */
};

/** Reads the records of `count` (1..OCSP_BATCH_MAX) certificates of one
 * issuer in txn and signs one answer for all of them as of `now`.
 * Certificates never issued are left out; -ENOENT when none is left or the
 * issuer has no responder in the set. The signature counts for `purpose`
 * (store_signatures_add). Blocks. */
int ocsp_service_presign_batch_read(const struct ocsp_responder_set *set, struct store_txn *txn,
                                    uint32_t issuer_id, const struct store_serial *serials,
                                    size_t count, int64_t now, enum store_signature_purpose purpose,
                                    struct ocsp_presigned_batch *out);

/** Caches a batch answer in the write transaction txn for every member
 * whose record did not change since it was read (members[].result: 0, or
 * -ESTALE when a revocation won, -ENOENT). A batch of one is cached as a
 * plain answer, exactly as ocsp_service_presigned_put. Returns an error
 * only when txn must be aborted. */
int ocsp_service_presigned_batch_put(struct store_txn *txn, struct ocsp_presigned_batch *b);

void ocsp_presigned_batch_free(struct ocsp_presigned_batch *b);
