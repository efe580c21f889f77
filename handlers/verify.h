/* Checking a signed application or a bare certificate against kensho's CAs
 * and store: shared by /v1/verify and /v1/intake (docs/intake.md).
 *
 * The order of checks, the first failure giving the reason: the signer's
 * certificate (no_signer_certificate), its issuer by name
 * (unknown_issuer), the signer's key against the limits
 * (signer_key_not_accepted), the issuer's signature on the certificate
 * (unknown_issuer), the signature (content_altered, bad_signature),
 * validity now and at the signing time (expired, not_yet_valid), key usage
 * (wrong_key_usage: neither digitalSignature nor nonRepudiation), and
 * status in the store (unknown_certificate, revoked).
 *
 * The order bounds what outside input can cost (DESIGN rule 3): a
 * certificate from an issuer that is not kensho's costs no public-key
 * operation at all, and the caller's key is used only after kensho's CA
 * signed it and only within the limits, so one submission costs at most
 * one operation with a kensho CA key and one with an accepted signer key. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "storage/store.h"

struct handler_family;
struct metric;

struct verify_ca_cache;

/** What kensho accepts as a signer's key (docs/intake.md): RSA of 2048 up to
 * max_rsa_bits bits with a public exponent of 3 up to max_rsa_exponent. */
struct verify_key_limits {
	unsigned max_rsa_bits;     /**< verify.max_rsa_bits */
	uint64_t max_rsa_exponent; /**< verify.max_rsa_exponent */
};

#define VERIFY_MIN_RSA_BITS             2048
#define VERIFY_DEFAULT_MAX_RSA_BITS     4096
#define VERIFY_LIMIT_MAX_RSA_BITS       8192 /* the most mbedTLS parses */
#define VERIFY_DEFAULT_MAX_RSA_EXPONENT 65537
#define VERIFY_LIMIT_MAX_RSA_EXPONENT   0xffffffffu

struct verify_result {
	bool valid;
	const char *reason; /**< "ok" or the first failure (see above) */
	char detail[160];   /**< for people: what was refused and what is accepted, or "" */
	unsigned public_key_operations; /**< signatures checked (CA's and signer's) */
	bool is_cms;                    /**< false: a bare certificate was checked */
	bool has_signer;                /**< a signer certificate was found */
	char serial_hex[2 * STORE_SERIAL_MAX + 1];
	const char *kind;      /**< "sign", "auth" or NULL when not one of ours */
	char issuer_label[16]; /**< the issuing CA's label, "" if unknown */
	uint32_t issuer_id;    /**< its store id, 0 if unknown */
	char subject[512];     /**< the signer's subject DN as text (pki/dn_text.h) */
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
 * first use) with the signer-key limits (NULL: the defaults). */
struct verify_ca_cache *verify_ca_cache_new(const struct verify_key_limits *limits);
/** Frees it. */
void verify_ca_cache_free(struct verify_ca_cache *c);
/** How many times the cache was filled from the store (a miss refills it
 * only when the store has an issuer the cache lacks). */
unsigned verify_ca_cache_loads(const struct verify_ca_cache *c);

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

struct config;

/** Reads verify.max_rsa_bits and verify.max_rsa_exponent. Returns 0, or
 * -EINVAL (logged, naming the key and the accepted range). */
int verify_key_limits_from_config(const struct config *config, struct verify_key_limits *out);

/** The counter of public-key operations done for `route` ("verify" or
 * "intake"): kensho_verify_public_key_operations_total. */
struct metric *verify_operations_metric(const char *route);

/** POST /v1/verify (verify.c). */
extern const struct handler_family verify_family;
/** POST /v1/intake and GET /v1/intake/{receipt} (intake.c). */
extern const struct handler_family intake_family;
