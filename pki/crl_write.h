/* A streaming encoder for RFC 5280 §5 CRLs (version 2, full or delta).
 *
 * A CRL of millions of entries must not be held in memory, yet the header of
 * tbsCertList carries its length and the signature covers all of it. So the
 * encoder asks its entry source twice: the first pass only measures, the
 * second writes each entry to the output while hashing it. The source must
 * produce the same entries in the same order both times (read them in one
 * read transaction); the encoder checks that it did.
 *
 * Only the entries' own scratch space (a few hundred bytes) and the fixed
 * parts of the CRL are in memory at any time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/vocab.h"

struct mbedtls_pk_context;

/** One revoked certificate as it appears in revokedCertificates. */
struct crl_entry {
	const uint8_t *serial; /**< INTEGER content octets (DER), big-endian */
	size_t serial_len;
	int64_t revoked_at;      /**< revocationDate, unix seconds */
	enum crl_reason reason;  /**< CRL_REASON_UNSPECIFIED writes no reasonCode */
	int64_t invalidity_date; /**< invalidityDate extension; 0 = none */
};

/** Receives one entry from a source; returns 0 to continue or a negative errno. */
typedef int (*crl_emit_fn)(void *emit_arg, const struct crl_entry *entry);

/** Produces every entry by calling emit; returns 0, or the first nonzero value
 * emit returned, or its own negative errno. Called once per pass. */
typedef int (*crl_source_fn)(void *source_arg, crl_emit_fn emit, void *emit_arg);

/** What to put in a CRL. Pointers are borrowed for the duration of crl_write. */
struct crl_spec {
	const uint8_t *issuer_name; /**< the CA certificate's subject Name, DER */
	size_t issuer_name_len;
	const uint8_t *authority_key_id; /**< the CA's subjectKeyIdentifier value */
	size_t authority_key_id_len;
	uint64_t number;                      /**< cRLNumber (§5.2.3) */
	bool delta;                           /**< writes deltaCRLIndicator (§5.2.4) */
	uint64_t base_number;                 /**< the base CRL's number, for a delta */
	int64_t this_update;                  /**< unix seconds */
	int64_t next_update;                  /**< unix seconds */
	const char *distribution_point;       /**< issuingDistributionPoint URI; NULL: no IDP */
	const uint8_t *distribution_point_dn; /**< also (or only) name the IDP with this
	                                         directoryName (a DER Name); NULL: none */
	size_t distribution_point_dn_len;
	bool only_user_certs;     /**< IDP onlyContainsUserCerts */
	const char *freshest_crl; /**< freshestCRL URI (delta location) on a full CRL; NULL: none */
	crl_source_fn source;
	void *source_arg;
};

/** What crl_write produced. */
struct crl_result {
	uint64_t entries; /**< revokedCertificates written */
	uint64_t bytes;   /**< size of the DER CertificateList */
};

/** Encodes, signs (sha256WithRSAEncryption with an RSA key) and writes the
 * DER CertificateList to out. Returns 0, -EINVAL (bad spec or a non-RSA key),
 * -EIO (write failed, or the source changed between passes), -ENOMEM, or the
 * source's error. On error, out holds garbage: write to a temporary file. */
int crl_write(const struct crl_spec *spec, struct mbedtls_pk_context *key, FILE *out,
              struct crl_result *result);

/** Extracts from a CA certificate (DER) the pieces a CRL names it by: its
 * subject Name (pointing into cert_der) and its subjectKeyIdentifier, or when
 * it has none the SHA-1 of its subjectPublicKey (§4.2.1.2, method 1).
 * key_id must hold 64 bytes; *key_id_len gets its length. Returns 0 or -EINVAL. */
int crl_issuer_from_cert(const uint8_t *cert_der, size_t cert_len, const uint8_t **name,
                         size_t *name_len, uint8_t key_id[64], size_t *key_id_len);
