/* Digests with kensho types, so that callers outside pki/ need no mbedTLS
 * header. */
#ifndef KENSHO_PKI_HASH_H
#define KENSHO_PKI_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PKI_SHA256_LEN 32

/** A digest algorithm, as CMS names it. The zero value is SHA-256, kensho's
 * default, so that a zeroed parameter struct means SHA-256. */
enum pki_digest {
	PKI_DIGEST_SHA256 = 0,
	PKI_DIGEST_SHA1, /**< PSS MGF1 (RFC 4055's default) and OCSP CertIDs (RFC 6960) */
	PKI_DIGEST_SHA384,
	PKI_DIGEST_SHA512,
};

/** SHA-256 of len bytes at data into out. */
void pki_sha256(const void *data, size_t len, uint8_t out[PKI_SHA256_LEN]);

#endif
