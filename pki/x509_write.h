/* X.509 certificate writing: Names, the TBSCertificate and its signature,
 * built with the one DER writer (pki/der.h) and signed with mbedTLS.
 *
 * kensho writes the TBSCertificate itself rather than through
 * mbedtls_x509write_crt because mbedTLS 2.28's name parser keeps one value per
 * attribute type (the JPKI CA names carry two OUs, the signing subject two Ls)
 * and because issuer and subject Names must be byte-identical DER for chain
 * building; here both come from x509_name_write.
 *
 * Keys, PEM files and mbedTLS error translation live here too, so nothing
 * above tls/ handles mbedTLS error codes. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "pki/der.h"

/* Attribute type OIDs (RFC 5280 appendix A). */
#define X509_OID_COUNTRY  "2.5.4.6"
#define X509_OID_LOCALITY "2.5.4.7"
#define X509_OID_ORG      "2.5.4.10"
#define X509_OID_ORG_UNIT "2.5.4.11"
#define X509_OID_CN       "2.5.4.3"

/** One attribute of a Name; each becomes its own RDN, in order. */
struct x509_name_attr {
	const char *oid;   /**< dotted attribute type */
	const char *value; /**< UTF-8; written as PrintableString for C, else UTF8String */
};

/** One extension: the extnValue content is already-encoded DER. */
struct x509_extension {
	const char *oid;
	bool critical;
	const uint8_t *value;
	size_t len;
};

/** What goes into a certificate besides the signature. */
struct x509_cert_template {
	const uint8_t *serial; /**< big-endian magnitude, positive, at most 20 octets */
	size_t serial_len;
	const uint8_t *issuer; /**< DER Name */
	size_t issuer_len;
	const uint8_t *subject; /**< DER Name */
	size_t subject_len;
	int64_t not_before; /**< unix seconds */
	int64_t not_after;
	mbedtls_pk_context *subject_key; /**< only its public half is used */
	const struct x509_extension *extensions;
	size_t extension_count;
};

/** A random generator as mbedTLS takes it. */
typedef int (*x509_rng_fn)(void *state, unsigned char *out, size_t len);

/** Appends a Name (SEQUENCE OF single-attribute RDNs) to d. */
void x509_name_write(struct der *d, const struct x509_name_attr *attrs, size_t count);

/** Writes a complete sha256WithRSAEncryption certificate signed by
 * issuer_key. *der is malloc'd for the caller. */
int x509_cert_sign(const struct x509_cert_template *t, mbedtls_pk_context *issuer_key,
                   x509_rng_fn rng, void *rng_state, uint8_t **der, size_t *der_len);

/** Writes the key's SubjectPublicKeyInfo DER into out (cap bytes); returns its
 * length or a negative errno. */
int x509_spki_der(mbedtls_pk_context *key, uint8_t *out, size_t cap);

/** Finds the subjectPublicKey BIT STRING value (without the unused-bits
 * octet) inside an SPKI: what OCSP CertID key hashes and key identifiers
 * cover (RFC 6960 §4.1.1, RFC 5280 §4.2.1.2 method 1). */
int x509_spki_key_bits(const uint8_t *spki, size_t spki_len, const uint8_t **bits, size_t *len);

/** The RFC 5280 §4.2.1.2 method-1 key identifier (SHA-1 of the key bits). */
int x509_key_id(mbedtls_pk_context *key, uint8_t out[20]);

/** Finds the subject Name and SubjectPublicKeyInfo inside a certificate's DER. */
int x509_cert_parts(const uint8_t *der, size_t len, const uint8_t **subject, size_t *subject_len,
                    const uint8_t **spki, size_t *spki_len);

/* --- keys and PEM files ------------------------------------------------------- */

/** Generates an RSA key of `bits` (exponent 65537) into an initialised pk. */
int x509_key_generate(mbedtls_pk_context *key, unsigned bits, x509_rng_fn rng, void *rng_state);
/** Writes the private key as PEM to path, created with mode 0600. */
int x509_key_save(mbedtls_pk_context *key, const char *path);
/** Writes the private key as PEM into a malloc'd NUL-terminated string. */
int x509_key_pem(mbedtls_pk_context *key, char **pem);
/** Reads a private key file; refuses (-EPERM) one readable by group or others
 * (docs/architecture.md rule 5). */
int x509_key_load(mbedtls_pk_context *key, const char *path);
/** Parses a public key (PEM or DER SubjectPublicKeyInfo); RSA only. */
int x509_pubkey_parse(mbedtls_pk_context *key, const uint8_t *data, size_t len);
/** Encodes a certificate as PEM into a malloc'd NUL-terminated string. */
int x509_cert_pem(const uint8_t *der, size_t len, char **pem);
/** Decodes the first PEM certificate in text into a malloc'd DER. */
int x509_cert_from_pem(const char *pem, size_t len, uint8_t **der, size_t *der_len);
/** Writes text to path atomically (temporary file, fsync, rename) with mode. */
int x509_file_write(const char *path, const void *data, size_t len, unsigned mode);
/** Reads a whole file into a malloc'd NUL-terminated buffer (at most 1 MiB). */
int x509_file_read(const char *path, uint8_t **data, size_t *len);
