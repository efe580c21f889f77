/* OCSP (RFC 6960) for kensho: both sides of the protocol.
 *
 * Responder side: decode a request (POST body or RFC 5019 GET path), keep
 * each CertID's DER so it is echoed byte for byte, and sign responses with a
 * delegated responder certificate (RFC 6960 §4.2.2.2). Client side (kensho-card,
 * kensho-bench, tests): build a request, parse a response and verify its
 * signature, the responder certificate and its issuer.
 *
 * No event loop and no store here: pki/ only encodes, decodes and signs. The
 * OCSP service (ocsp/service.h) looks statuses up and decides what to sign.
 * Parsing uses mbedTLS's asn1.h; writing uses pki/der.h. Errors are negative
 * errno values: -EINVAL (malformed input), -E2BIG (over a limit), -ENOMEM,
 * -EACCES (key file readable by others), -EKEYREJECTED (bad signature or
 * untrusted responder), -ENOENT (file or item missing). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pki/hash.h"

/** CertIDs per request and SingleResponses per response. */
#define OCSP_MAX_CERT_IDS 32
/** RFC 9654 §2.1 allows nonces up to 32 octets; kensho accepts up to 128. */
#define OCSP_NONCE_MAX 128
/** Longest CertID kensho decodes (SHA-512 hashes, a 20-octet serial) with room. */
#define OCSP_CERT_ID_DER_MAX 256
/** Longest serial content kept from a CertID (longer ones are never ours). */
#define OCSP_SERIAL_MAX 32
/** Largest request accepted on POST or GET (after base64). */
#define OCSP_REQUEST_MAX 8192

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
enum ocsp_response_status {
	OCSP_STATUS_SUCCESSFUL = 0,
	OCSP_STATUS_MALFORMED_REQUEST = 1,
	OCSP_STATUS_INTERNAL_ERROR = 2,
	OCSP_STATUS_TRY_LATER = 3,
	OCSP_STATUS_SIG_REQUIRED = 5,
	OCSP_STATUS_UNAUTHORIZED = 6,
};

/** CertStatus choice (RFC 6960 §4.2.1). */
enum ocsp_cert_status { OCSP_CERT_GOOD = 0, OCSP_CERT_REVOKED = 1, OCSP_CERT_UNKNOWN = 2 };

/** ResponderID choice (RFC 6960 §4.2.1). */
enum ocsp_responder_id { OCSP_RESPONDER_BY_NAME = 1, OCSP_RESPONDER_BY_KEY = 2 };

/** Responder key algorithm. */
enum ocsp_key_type { OCSP_KEY_RSA = 1, OCSP_KEY_ECDSA = 2 };

/** One CertID, decoded and also kept as DER for echoing (§4.2.2.3 says the
 * response must identify the certificate as the request did). */
struct ocsp_cert_id {
	enum pki_digest hash; /**< hashAlgorithm (RFC 6960 §4.1.1): SHA-1, -256, -384, -512 */
	uint8_t hash_len;     /**< digest length of `hash` */
	uint8_t name_hash[64];
	uint8_t key_hash[64];
	uint8_t serial_len; /**< INTEGER content octets, as in DER */
	uint8_t serial[OCSP_SERIAL_MAX];
	uint16_t der_len;
	uint8_t der[OCSP_CERT_ID_DER_MAX];
};

/** A decoded OCSPRequest. Signed requests are accepted; their signature is
 * not checked (kensho answers anyone). */
struct ocsp_request {
	size_t count;
	struct ocsp_cert_id ids[OCSP_MAX_CERT_IDS];
	bool has_nonce;
	size_t nonce_len; /**< length of the nonce extnValue's content */
	/** The nonce extension's extnValue content verbatim (normally an OCTET
	 * STRING TLV, RFC 8954 §2.1), so that it is echoed exactly. */
	uint8_t nonce[OCSP_NONCE_MAX + 4];
};

/* --- responder side: decoding ---------------------------------------------- */

/** Decodes a DER OCSPRequest. -EINVAL if malformed (answer malformedRequest),
 * -E2BIG if it has more than OCSP_MAX_CERT_IDS CertIDs or a nonce over
 * OCSP_NONCE_MAX octets. */
int ocsp_request_decode(const uint8_t *der, size_t len, struct ocsp_request *out);

/** Decodes the part of a GET path after "/ocsp/" into request DER (RFC 6960
 * Appendix A.1, RFC 5019 §5): undoes %-escapes, takes ' ' as '+' (a form
 * decoder upstream), skips leading slashes ("/ocsp//MEow..."; a "//" inside
 * is base64 and kept), and accepts base64 or base64url with or without padding. Returns the
 * number of bytes written to out, -EINVAL or -ENOSPC. */
int ocsp_get_path_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* --- responder side: signing ------------------------------------------------ */

struct ocsp_responder;

/** How a responder signs. */
struct ocsp_responder_options {
	enum ocsp_responder_id responder_id; /**< default (0): by key */
	enum ocsp_key_type key_type;         /**< 0: accept whatever the key is */
	int64_t validity_seconds;            /**< nextUpdate - thisUpdate; 0: 1 hour */
	bool cached_only; /**< no key (a replica): loads without one, every signing is -EAGAIN */
};

/** Loads a delegated responder: the CA certificate, the responder
 * certificate (issued by the CA, with id-kp-OCSPSigning) and its private key
 * (PEM files). The key file must not be readable by group or others (-EACCES).
 * A key_type in opts that does not match the key gives -EINVAL. Reasons are
 * logged for people. */
int ocsp_responder_load(const char *ca_path, const char *cert_path, const char *key_path,
                        const struct ocsp_responder_options *opts, struct ocsp_responder **out);
/** Frees a responder. */
void ocsp_responder_free(struct ocsp_responder *r);
/** True when the CertID's issuer hashes name this responder's CA. */
bool ocsp_responder_matches(const struct ocsp_responder *r, const struct ocsp_cert_id *id);
/** The CA certificate DER. */
const uint8_t *ocsp_responder_ca_der(const struct ocsp_responder *r, size_t *len);
/** Builds a CertID for a serial of this responder's CA. */
int ocsp_responder_cert_id(const struct ocsp_responder *r, enum pki_digest hash,
                           const uint8_t *serial, size_t serial_len, struct ocsp_cert_id *out);

/** What to say about one CertID. */
struct ocsp_answer {
	const struct ocsp_cert_id *id;
	enum ocsp_cert_status status;
	int64_t revoked_at; /**< unix seconds, when revoked */
	int reason;         /**< RFC 5280 CRLReason (common/vocab.h), or -1 to omit */
};

/** A signed response and its validity window. */
struct ocsp_signed {
	uint8_t *der; /**< malloc'd OCSPResponse; the caller frees */
	size_t len;
	int64_t this_update;
	int64_t next_update;
};

/** Signs a successful BasicOCSPResponse with one SingleResponse per answer,
 * the responder certificate in `certs`, and the nonce extension echoed when
 * nonce_len > 0 (RFC 9654; `nonce` is the request's extnValue content, as in
 * struct ocsp_request). Safe to call from several threads at once. */
int ocsp_response_sign(struct ocsp_responder *r, const struct ocsp_answer *answers, size_t count,
                       const uint8_t *nonce, size_t nonce_len, int64_t now,
                       struct ocsp_signed *out);

/** The DER of an unsigned OCSPResponse with only a status (malformedRequest,
 * internalError, tryLater, sigRequired, unauthorized). Static bytes. */
const uint8_t *ocsp_status_response(enum ocsp_response_status status, size_t *len);

/** True when one of a signed response's SingleResponses names exactly this
 * CertID DER (so a cached response, perhaps a batch's, may answer this
 * request). */
bool ocsp_response_answers(const uint8_t *der, size_t len, const struct ocsp_cert_id *id);

/* --- client side -------------------------------------------------------------- */

/** What a CertID names its issuer by (RFC 6960 §4.1.1), for one hash: taken
 * once per issuer, then shared by every CertID under it. */
struct ocsp_issuer_hashes {
	enum pki_digest hash;
	uint8_t len; /**< digest length of `hash` */
	uint8_t name[64];
	uint8_t key[64];
};

/** Hashes the issuer certificate's subject and subjectPublicKey. */
int ocsp_issuer_hashes_take(enum pki_digest hash, const uint8_t *issuer_der, size_t issuer_len,
                            struct ocsp_issuer_hashes *out);

/** Builds a CertID from its issuer's hashes and a serial's INTEGER content
 * octets. */
int ocsp_cert_id_build(const struct ocsp_issuer_hashes *issuer, const uint8_t *serial,
                       size_t serial_len, struct ocsp_cert_id *out);

/** ocsp_issuer_hashes_take, then ocsp_cert_id_build: for one CertID. */
int ocsp_cert_id_make(enum pki_digest hash, const uint8_t *issuer_der, size_t issuer_len,
                      const uint8_t *serial, size_t serial_len, struct ocsp_cert_id *out);

/** Encodes an unsigned OCSPRequest for the CertIDs, with a nonce extension
 * (the raw nonce wrapped in an OCTET STRING, RFC 8954) when nonce_len > 0.
 * *out is malloc'd; the caller frees. */
int ocsp_request_encode(const struct ocsp_cert_id *ids, size_t count, const uint8_t *nonce,
                        size_t nonce_len, uint8_t **out, size_t *len);

/** One SingleResponse as parsed. */
struct ocsp_single {
	struct ocsp_cert_id id;
	enum ocsp_cert_status status;
	int64_t revoked_at; /**< when revoked */
	int reason;         /**< CRLReason or -1 if absent */
	int64_t this_update;
	int64_t next_update; /**< 0 if absent */
};

/** A parsed OCSPResponse. Pointers refer into the parsed buffer, which must
 * outlive this struct. */
struct ocsp_response_info {
	enum ocsp_response_status status;
	/* The rest is set only for successful basic responses. */
	enum ocsp_responder_id responder_id;
	const uint8_t *responder; /**< Name DER (by name) or key hash (by key) */
	size_t responder_len;
	int64_t produced_at;
	size_t count;
	struct ocsp_single singles[OCSP_MAX_CERT_IDS];
	bool has_nonce;
	size_t nonce_len;
	uint8_t nonce[OCSP_NONCE_MAX + 4]; /**< extnValue content, as in the request */
	const uint8_t *tbs;                /**< tbsResponseData DER: what was signed */
	size_t tbs_len;
	int sig_md; /**< mbedtls_md_type_t of the signature algorithm */
	int sig_pk; /**< mbedtls_pk_type_t of the signature algorithm */
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *signer_cert; /**< first certificate in `certs`, or NULL */
	size_t signer_cert_len;
};

/** Parses an OCSPResponse. A non-successful status parses fine (only
 * `status` is set). -EINVAL if malformed. */
int ocsp_response_parse(const uint8_t *der, size_t len, struct ocsp_response_info *out);

/** Verifies a parsed successful response (RFC 6960 §3.2, §4.2.2.2): the
 * signer is the CA itself or a certificate in `certs` issued by the CA with
 * id-kp-OCSPSigning; the ResponderID names the signer; the signature over
 * tbsResponseData verifies. 0 or -EKEYREJECTED. */
int ocsp_response_verify(const struct ocsp_response_info *info, const uint8_t *ca_der,
                         size_t ca_len);

/** ocsp_response_verify for many responses of one CA: the CA is parsed once,
 * and the last delegated responder certificate that verified is kept, so a
 * run of answers from one responder costs one signature check each instead
 * of two and two certificate parses. */
struct ocsp_verifier;
/** -EINVAL if the CA certificate does not parse, -ENOMEM. */
int ocsp_verifier_new(const uint8_t *ca_der, size_t ca_len, struct ocsp_verifier **out);
/** As ocsp_response_verify: 0, -EKEYREJECTED, or -EINVAL. */
int ocsp_verifier_check(struct ocsp_verifier *v, const struct ocsp_response_info *info);
void ocsp_verifier_free(struct ocsp_verifier *v);

/* --- client side: checking an answer ------------------------------------------ */

/** Finds the SingleResponse for a CertID (same DER) in a parsed response and
 * checks its window (RFC 6960 §3.2 items 4-5): thisUpdate no later than
 * now + skew, nextUpdate (when present) no earlier than now - skew. 0 with
 * *out set; -ENOENT if the response does not answer the CertID; -ESTALE if
 * outside its window. */
int ocsp_response_single(const struct ocsp_response_info *info, const struct ocsp_cert_id *id,
                         int64_t now, int64_t skew, const struct ocsp_single **out);
/** True when the response echoes the raw nonce given to ocsp_request_encode. */
bool ocsp_response_nonce_matches(const struct ocsp_response_info *info, const uint8_t *nonce,
                                 size_t nonce_len);
