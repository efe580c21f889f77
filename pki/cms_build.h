/* Building CMS SignedData (RFC 5652 §5) with one signer: kensho's receipts and
 * kensho-card's signed applications. The signature itself is produced by a
 * caller-supplied callback so that a smart card, which only ever sees the
 * DigestInfo, can sign; cms_sign_pk is that callback for a key in memory.
 *
 * The output is DER: ContentInfo { id-signedData, SignedData { version 1,
 * one digest algorithm, id-data content (absent when detached), the signer's
 * certificate, one SignerInfo identified by issuer and serial number,
 * rsaEncryption } } — what `openssl cms -sign -binary [-nosmimecap]` makes,
 * and what `openssl cms -verify` accepts. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pki/hash.h"

/** Largest signature a callback may return (RSA-8192). */
#define CMS_MAX_SIGNATURE 1024

/** Signs `digest_info` (a DER DigestInfo, RFC 8017 §9.2 step 2) with RSASSA-
 * PKCS1-v1_5: writes the signature to sig (capacity CMS_MAX_SIGNATURE) and
 * its length to *sig_len. Returns 0 or a negative errno. */
typedef int (*cms_sign_cb)(void *arg, const uint8_t *digest_info, size_t digest_info_len,
                           uint8_t *sig, size_t *sig_len);

struct cms_build_params {
	const uint8_t *content; /**< the signed bytes */
	size_t content_len;
	bool detached;          /**< leave eContent out (RFC 5652 §5.2) */
	bool signed_attributes; /**< content-type, signing-time, message-digest */
	int64_t signing_time;   /**< unix seconds, used with signed_attributes */
	/** With signed_attributes, also signing-certificate-v2 (RFC 5035 §5.4.1:
	 * the SHA-256 of the certificate and its issuer and serial), which RFC
	 * 3161 §2.4.2 as updated by RFC 5816 asks of a timestamp token. */
	bool signing_certificate_v2;
	bool omit_certificate;    /**< leave the certificates field out */
	const char *content_type; /**< eContentType, dotted; NULL = id-data */
	enum pki_digest md;       /**< SHA256 (the zero value), SHA384 or SHA512 */
	const uint8_t *cert;      /**< the signer's certificate, DER */
	size_t cert_len;
	cms_sign_cb sign; /**< produces the signature */
	void *sign_arg;
};

/** Builds the SignedData ContentInfo. On success *out (malloc'd, the caller
 * frees) holds the DER. Returns 0, -EINVAL (bad parameters or certificate),
 * -ENOMEM, or the callback's error. */
int cms_build_signed(const struct cms_build_params *p, uint8_t **out, size_t *out_len);

/** A cms_sign_cb for an RSA key in memory: `arg` is an mbedtls_pk_context *
 * (pki/ and tests; elsewhere pki_signer_sign of pki/signer.h serves).
 * Returns -ENOTSUP for a key that is not RSA. */
int cms_sign_pk(void *arg, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                size_t *sig_len);

/** Writes the DER DigestInfo for a digest (RFC 8017 §9.2, with NULL
 * parameters) into out (capacity cap). Returns its length or -EINVAL/-ENOSPC. */
int cms_digest_info(enum pki_digest md, const uint8_t *digest, size_t digest_len, uint8_t *out,
                    size_t cap);
