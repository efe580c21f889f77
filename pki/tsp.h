/* The time-stamp protocol of RFC 3161 with kensho types: decoding a
 * TimeStampReq (§2.4.1) and encoding a TimeStampResp (§2.4.2), either a
 * refusal (PKIStatusInfo alone) or a granted answer whose token is CMS
 * SignedData over a TSTInfo (§2.4.2), built by pki/cms_build. Which policy
 * is ours, the serial numbers and the key are the caller's (handlers/tsa.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pki/cms_build.h"
#include "pki/hash.h"

/** Largest TimeStampReq taken (bytes): an imprint of SHA-512, a policy and a
 * nonce fit in a tenth of it; extensions are refused anyway. */
#define TSP_REQUEST_MAX 1024
/** Largest nonce magnitude (octets): 160 bits, RFC 3161 §2.4.2's bound for
 * the serial number, applied to the nonce too. */
#define TSP_NONCE_MAX 20
/** Largest policy OID taken (content octets). */
#define TSP_POLICY_MAX 64
/** Largest serialNumber (octets): 160 bits (RFC 3161 §2.4.2). */
#define TSP_SERIAL_MAX 20

/** PKIStatus (RFC 3161 §2.4.2). */
enum tsp_status {
	TSP_STATUS_GRANTED = 0,
	TSP_STATUS_REJECTION = 2,
};

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
enum tsp_fail_info {
	TSP_FAIL_BAD_ALG = 0,               /**< unrecognized or unsupported hash algorithm */
	TSP_FAIL_BAD_REQUEST = 2,           /**< transaction not permitted or supported */
	TSP_FAIL_BAD_DATA_FORMAT = 5,       /**< the data submitted has the wrong format */
	TSP_FAIL_TIME_NOT_AVAILABLE = 14,   /**< the TSA's time source is not available */
	TSP_FAIL_UNACCEPTED_POLICY = 15,    /**< the requested policy is not supported */
	TSP_FAIL_UNACCEPTED_EXTENSION = 16, /**< the requested extension is not supported */
	TSP_FAIL_SYSTEM_FAILURE = 25,       /**< the request cannot be handled: failure */
};

/** A decoded TimeStampReq. The byte fields are copies (the request's buffer
 * may go). */
struct tsp_request {
	enum pki_digest md;      /**< the imprint's hash: SHA-256, -384 or -512 */
	uint8_t imprint_der[96]; /**< the whole MessageImprint, echoed as is */
	size_t imprint_der_len;
	uint8_t policy[TSP_POLICY_MAX];   /**< reqPolicy's content octets */
	size_t policy_len;                /**< 0: no policy asked for */
	uint8_t nonce[TSP_NONCE_MAX + 1]; /**< the nonce INTEGER's content octets */
	size_t nonce_len;                 /**< 0: no nonce */
	bool cert_req;                    /**< put the TSA's certificate in the token */
};

/** Decodes a TimeStampReq held to strict DER (at most TSP_REQUEST_MAX
 * bytes). Returns 0, or -EINVAL with *fail set to the failInfo to answer:
 * badDataFormat (not a well-formed v1 request, an imprint of the wrong
 * length, a negative nonce), badAlg (a hash other than SHA-256/384/512 —
 * SHA-1 included, whose collisions make its imprints worthless), badRequest
 * (a nonce over 160 bits), unacceptedPolicy (a policy OID longer than
 * TSP_POLICY_MAX, which cannot be ours), unacceptedExtension (any extension). */
int tsp_request_decode(const uint8_t *der, size_t len, struct tsp_request *out,
                       enum tsp_fail_info *fail);

/** Fills *out as the request a TSA's own client would send for a SHA-256
 * digest (kensho time-stamping what it received, as CAdES's
 * signature-time-stamp does): MessageImprint { sha256 with NULL
 * parameters, digest }, no policy, no nonce, the TSA's certificate asked
 * for so that the token stands alone. */
void tsp_request_for_sha256(const uint8_t digest[32], struct tsp_request *out);

/** Encodes a refusal: PKIStatusInfo { rejection, statusString `text` (UTF-8,
 * NULL for none), failInfo }. *out is malloc'd, the caller frees. Returns 0,
 * -EINVAL or -ENOMEM. */
int tsp_response_reject(enum tsp_fail_info fail, const char *text, uint8_t **out, size_t *out_len);

/** What a granted answer says besides the request. */
struct tsp_grant {
	const struct tsp_request *request;
	const char *policy;    /**< the TSA's policy, dotted */
	const uint8_t *serial; /**< serialNumber magnitude, big-endian, 1..TSP_SERIAL_MAX */
	size_t serial_len;
	int64_t gen_time;          /**< unix seconds */
	unsigned gen_time_millis;  /**< 0..999; written as a fraction when not 0 */
	unsigned accuracy_seconds; /**< 0: no accuracy field */
	const uint8_t *cert;       /**< the TSA's certificate, DER */
	size_t cert_len;
	cms_sign_cb sign; /**< RSASSA-PKCS1-v1_5 with the TSA's key */
	void *sign_arg;
};

/** Encodes TimeStampResp { granted, token }: TSTInfo v1 (policy, the
 * request's MessageImprint, serial, genTime, accuracy, ordering false, the
 * request's nonce) in SignedData signed with SHA-256, signed attributes
 * content-type, signing-time, message-digest and signing-certificate-v2
 * (RFC 5816), the certificate included when the request asked for it.
 * Returns 0, -EINVAL, -ENOMEM or the signer's error. */
int tsp_response_grant(const struct tsp_grant *g, uint8_t **out, size_t *out_len);
