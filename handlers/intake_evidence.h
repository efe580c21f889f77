/* The evidence of the moment of receipt (docs/intake.md, "Evidence"): what
 * kensho stores with an accepted application so that, years later and
 * without kensho, anyone can show its signature was valid when it arrived,
 * as CAdES B-T and B-LT do (ETSI EN 319 122-1): the signer's certificate and
 * its CA, the signed OCSP answer for the signer's certificate at that
 * moment, the issuer's CRL number, and an RFC 3161 token from kensho's own
 * time-stamping unit over the SignerInfo's signature value (CAdES's
 * signature-time-stamp: messageImprint = SHA-256 of the signature octets).
 *
 * Gathering blocks: an OCSP answer that is not cached fresh is signed (and
 * cached) through the OCSP service, and the token costs one RSA signature.
 * It runs in intake's commit job on the thread pool, one job per process at
 * a time, so the keys here are used by one thread at a time. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct store;
struct ocsp_responder_set;
struct pki_signer;

/** Where the evidence comes from; any source may be NULL (that part is then
 * left empty, e.g. a data directory made before kensho had a time-stamping
 * unit). */
struct intake_evidence_sources {
	struct store *store;
	struct ocsp_responder_set *ocsp; /**< the delegated responders */
	struct pki_signer *tsa;          /**< the time-stamping unit */
	const char *tsa_policy;          /**< dotted */
	uint32_t tsa_counter;            /**< the next token's counter (tsa_stamp.h) */
};

/** One application's evidence; every buffer malloc'd. */
struct intake_evidence {
	uint8_t *chain; /**< signer certificate DER, then its CA's */
	size_t chain_len;
	uint8_t *ocsp; /**< OCSPResponse DER */
	size_t ocsp_len;
	uint64_t crl_number;
	uint8_t *timestamp; /**< TimeStampResp DER */
	size_t timestamp_len;
};

/** Gathers the evidence for an accepted CMS SignedData whose signer's
 * certificate was issued by store issuer `issuer_id`, as of `now`. Returns
 * 0, -ENOMEM, -EINVAL (not a CMS kensho accepted), -EAGAIN (the record kept
 * changing while its answer was signed), -ESTALE (the OCSP answer is not
 * good: revoked since it was verified) or a store or signing error; on
 * error *out is empty. Blocks. */
int intake_evidence_gather(struct intake_evidence_sources *src, const uint8_t *cms, size_t cms_len,
                           uint32_t issuer_id, int64_t now, struct intake_evidence *out);

/** Frees the buffers and empties *ev. */
void intake_evidence_clear(struct intake_evidence *ev);
