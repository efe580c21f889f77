/* Decoding and checking CMS SignedData (RFC 5652 §5) as sent to /v1/verify
 * and /v1/intake: one signer, identified by issuer and serial number, RSA
 * PKCS#1 v1.5 or PSS, SHA-256/384/512, with or without signed attributes,
 * attached or detached content.
 *
 * The decoder is strict and bounded: DER only (definite, minimal lengths;
 * signed attributes in DER SET OF order, since their encoding is what is
 * signed), at most CMS_MAX_INPUT bytes, CMS_MAX_CERTS certificates and
 * CMS_MAX_ATTRIBUTES signed attributes, and a fixed nesting (no recursion).
 * Everything it returns points into the caller's input. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pki/hash.h"

struct pki_cert; /* pki/verify.h */

#define CMS_MAX_INPUT      (16u << 20)
#define CMS_MAX_CERTS      8
#define CMS_MAX_ATTRIBUTES 32

enum cms_signature_alg { CMS_SIG_RSA_PKCS1 = 1, CMS_SIG_RSA_PSS = 2 };

struct cms_bytes {
	const uint8_t *p;
	size_t len;
};

struct cms_signed_data {
	struct cms_bytes content_type;         /**< eContentType OID content octets */
	bool detached;                         /**< no eContent: the caller supplies it */
	struct cms_bytes content;              /**< eContent's octets when attached */
	struct cms_bytes certs[CMS_MAX_CERTS]; /**< certificates, whole DER */
	int cert_count;
	struct cms_bytes sid_issuer; /**< the signer's issuer Name, whole DER */
	struct cms_bytes sid_serial; /**< its serialNumber's content octets */
	enum pki_digest digest;      /**< SignerInfo digestAlgorithm: SHA-256/384/512 */
	bool has_signed_attrs;
	struct cms_bytes signed_attrs; /**< the [0] IMPLICIT TLV as received */
	struct cms_bytes message_digest;
	bool has_signing_time;
	int64_t signing_time; /**< unix seconds */
	enum cms_signature_alg sig_alg;
	enum pki_digest pss_mgf1_digest; /**< PSS only */
	int pss_salt_len;                /**< PSS only */
	struct cms_bytes signature;
};

/** What a signature check concluded. */
enum cms_verdict {
	CMS_VERDICT_VALID = 0,
	CMS_VERDICT_CONTENT_ALTERED, /**< message-digest attribute ≠ digest of content */
	CMS_VERDICT_BAD_SIGNATURE,   /**< the RSA signature does not verify */
	CMS_VERDICT_NO_SIGNER_CERT,  /**< no included certificate matches the sid */
};

/** Decodes a DER ContentInfo holding SignedData. Returns 0, -EINVAL
 * (malformed or not DER), -ENOTSUP (well-formed but an algorithm, version or
 * signer-identifier form kensho does not take) or -E2BIG (a limit). */
int cms_decode(const uint8_t *der, size_t len, struct cms_signed_data *out);

/** Parses the included certificate that the signer identifier names into
 * *out (free it with pki_cert_free). Returns 0, -ENOENT or -ENOMEM. */
int cms_signer_cert(const struct cms_signed_data *sd, struct pki_cert **out);

/** Checks the signature over `content` (the attached content or, when
 * detached, the caller's) with the signer's public key. Returns 0 with the
 * verdict in *verdict, or a negative errno when it could not check at all. */
int cms_verify_signature(const struct cms_signed_data *sd, const uint8_t *content,
                         size_t content_len, const struct pki_cert *signer,
                         enum cms_verdict *verdict);

/** A short machine-readable name for a verdict ("bad_signature", ...). */
const char *cms_verdict_name(enum cms_verdict v);
