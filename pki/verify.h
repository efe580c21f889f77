/* Certificates and signatures with kensho types, for callers outside pki/
 * (the verify and intake handlers): a parsed certificate and its parts, the
 * issuer's signature on it, its key and its key usage. pki/cms.h finds a
 * CMS signer's certificate and checks its signature with this type. Dates
 * and store status are the caller's to judge. */
#ifndef KENSHO_PKI_VERIFY_H
#define KENSHO_PKI_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A parsed X.509 certificate (its own copy of the DER). */
struct pki_cert;

struct pki_bytes {
	const uint8_t *p;
	size_t len;
};

/** The parts of a certificate kensho reports and looks up; they point into
 * the certificate and live as long as it. */
struct pki_cert_info {
	struct pki_bytes der;     /**< the whole certificate */
	struct pki_bytes subject; /**< the subject Name, whole DER */
	struct pki_bytes issuer;  /**< the issuer Name, whole DER */
	struct pki_bytes serial;  /**< serialNumber's content octets */
	int64_t not_before;       /**< unix seconds */
	int64_t not_after;
};

/** What a certificate's public key is, for judging it before using it. */
struct pki_key_info {
	bool rsa;
	const char *name;     /**< the algorithm's name ("RSA", "EC", ...) */
	size_t bits;          /**< the key's size (an RSA modulus's bits) */
	size_t exponent_bits; /**< RSA: bits of the public exponent */
	uint64_t exponent;    /**< RSA: the exponent when it fits, else 0 */
};

/** Parses one DER certificate. Returns 0, -EINVAL (not a certificate kensho
 * can read) or -ENOMEM. */
int pki_cert_parse(const uint8_t *der, size_t len, struct pki_cert **out);
/** Frees it (NULL is fine). */
void pki_cert_free(struct pki_cert *c);
/** Its parts. */
const struct pki_cert_info *pki_cert_info(const struct pki_cert *c);
/** Describes its public key. Returns 0, or -EINVAL when an RSA key's
 * exponent cannot be read (rsa and bits are still set). */
int pki_cert_key(const struct pki_cert *c, struct pki_key_info *out);
/** True when the key may sign documents: no keyUsage extension, or one with
 * digitalSignature or nonRepudiation. */
bool pki_cert_may_sign(const struct pki_cert *c);

/** Checks ca's signature on cert (RFC 5280 §6.1.3 (a)(1)): one public-key
 * operation with ca's key, ca the only trust anchor. Validity dates are not
 * judged; cert's key is judged by mbedTLS's default profile unless the
 * caller already did (key_judged). Returns 0 or -EKEYREJECTED. */
int pki_cert_verify_issued(const struct pki_cert *cert, const struct pki_cert *ca, bool key_judged);

/** Checks sig as cert's key's signature over SHA-256 of data (RSA PKCS#1
 * v1.5 or ECDSA, as `openssl dgst -sha256 -verify` checks it): signed tree
 * heads. Returns 0 or -EKEYREJECTED. */
int pki_cert_verify_sha256(const struct pki_cert *cert, const uint8_t *data, size_t len,
                           const uint8_t *sig, size_t sig_len);

#endif
