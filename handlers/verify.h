/* Checking a signed application or a bare certificate against kensho's CAs
 * and store: shared by /v1/verify and /v1/intake (docs/intake.md).
 *
 * The order of checks, the first failure giving the reason: the signature
 * (content_altered, bad_signature), the path to one of kensho's CAs
 * (no_signer_certificate, unknown_issuer), validity now and at the signing
 * time (expired, not_yet_valid), key usage (wrong_key_usage: neither
 * digitalSignature nor nonRepudiation), and status in the store
 * (unknown_certificate, revoked). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "storage/store.h"

struct router;
struct handler_env;

struct verify_ca_cache;

struct verify_result {
	bool valid;
	const char *reason; /**< "ok" or the first failure (see above) */
	bool is_cms;        /**< false: a bare certificate was checked */
	bool has_signer;    /**< a signer certificate was found */
	char serial_hex[2 * STORE_SERIAL_MAX + 1];
	const char *kind;      /**< "sign", "auth" or NULL when not one of ours */
	char issuer_label[16]; /**< the issuing CA's label, "" if unknown */
	char subject[256];     /**< the signer's subject DN */
	int64_t not_before, not_after;
	bool has_signing_time;
	int64_t signing_time;
	const char *status_at_signing; /**< "good", "revoked", "unknown" */
	const char *status_now;
	int64_t revoked_at; /**< when status_now is "revoked" */
	int revocation_reason;
	uint8_t content_sha256[32]; /**< of the signed content (CMS only) */
};

/** Creates the cache of kensho's CA certificates (filled from the store on
 * first use). */
struct verify_ca_cache *verify_ca_cache_new(void);
/** Frees it. */
void verify_ca_cache_free(struct verify_ca_cache *c);

/** Checks `body`: DER CMS SignedData (with `detached` as the content when the
 * SignedData has none) or a DER certificate, at time `now`. Returns 0 with the
 * verdict in *out, or -EINVAL (not DER CMS or certificate; *detail says why),
 * -ENOTSUP (an unsupported algorithm or form), -E2BIG, or a store error. */
int verify_submission(struct store *store, struct verify_ca_cache *cas, const uint8_t *body,
                      size_t body_len, const uint8_t *detached, size_t detached_len, int64_t now,
                      struct verify_result *out, const char **detail);

/** Writes the result as a JSON object onto out. */
void verify_result_json(const struct verify_result *r, struct buf *out);

/** Splits a request body into CMS and detached content by the optional
 * Kensho-Signature-Length header value (docs/intake.md). Returns 0 or
 * -EINVAL for a bad header. */
int verify_split_body(const uint8_t *body, size_t body_len, const char *header, size_t header_len,
                      size_t *cms_len, const uint8_t **detached, size_t *detached_len);

/** A submission's body, split into the CMS and its detached content. */
struct verify_body {
	const uint8_t *cms;
	size_t cms_len;
	const uint8_t *detached; /**< NULL unless Kensho-Signature-Length split it */
	size_t detached_len;
};

struct exchange;

/** Reads a POSTed submission (verify and intake alike): an empty body or a
 * bad Kensho-Signature-Length is answered with 400 here (`empty_detail`
 * says what to POST) and false returned. */
bool verify_read_body(struct exchange *ex, const char *empty_detail, struct verify_body *out);

/** Adds POST /v1/verify (handlers.h). */
int verify_routes(struct router *r, const struct handler_env *env);
/** Adds POST /v1/intake and GET /v1/intake/{receipt} (handlers.h). */
int intake_routes(struct router *r, const struct handler_env *env);
