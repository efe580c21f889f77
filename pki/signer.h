/* A private key with its certificate, loaded from files, that signs CMS
 * with kensho types (intake receipts); and the making of such a pair as a
 * self-signed RSA certificate. Randomness comes from pki/random. A signer is
 * not safe for concurrent use: RSA blinding state lives in the key. */
#ifndef KENSHO_PKI_SIGNER_H
#define KENSHO_PKI_SIGNER_H

#include <stddef.h>
#include <stdint.h>

struct pki_signer;

/** What a self-signed certificate says. */
struct pki_self_signed {
	const char *subject; /**< also the issuer; mbedTLS's text form "C=JP,O=...,CN=..." */
	unsigned key_bits;   /**< RSA modulus size; the public exponent is 65537 */
	int64_t not_before;  /**< unix seconds */
	int64_t not_after;
};

/** Makes a fresh RSA key and a self-signed certificate for it (CA:FALSE,
 * digitalSignature and nonRepudiation, a subject key identifier, a random
 * positive 16-octet serial), writing both as NUL-terminated PEM into key_pem
 * and cert_pem (capacities key_cap, cert_cap). Returns 0 or a negative errno. */
int pki_self_signed_create(const struct pki_self_signed *what, char *key_pem, size_t key_cap,
                           char *cert_pem, size_t cert_cap);

/** Loads a PEM certificate and its private key. Returns 0, -EINVAL (not a
 * certificate, not an RSA key, or not the certificate's key) or another
 * negative errno (pki/errors.h). The key file's permissions are the
 * caller's to check first. */
int pki_signer_load(const char *cert_path, const char *key_path, struct pki_signer **out);
/** Frees the signer (NULL is fine). */
void pki_signer_free(struct pki_signer *s);
/** The certificate's DER (owned by the signer). */
void pki_signer_cert(const struct pki_signer *s, const uint8_t **der, size_t *len);
/** A cms_sign_cb (pki/cms_build.h) signing with the key: `signer` is the
 * struct pki_signer. */
int pki_signer_sign(void *signer, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                    size_t *sig_len);

#endif
