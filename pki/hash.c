#include "pki/hash.h"

#include <errno.h>

#include <mbedtls/sha256.h>

#include "pki/hash_internal.h"

void pki_sha256(const void *data, size_t len, uint8_t out[PKI_SHA256_LEN])
{
	/* Cannot fail for a plain SHA-256 without hardware acceleration hooks. */
	(void)mbedtls_sha256_ret(data, len, out, 0);
}

mbedtls_md_type_t pki_digest_md(enum pki_digest digest)
{
	switch (digest) {
	case PKI_DIGEST_SHA256: return MBEDTLS_MD_SHA256;
	case PKI_DIGEST_SHA1: return MBEDTLS_MD_SHA1;
	case PKI_DIGEST_SHA384: return MBEDTLS_MD_SHA384;
	case PKI_DIGEST_SHA512: return MBEDTLS_MD_SHA512;
	}
	return MBEDTLS_MD_NONE;
}

int pki_digest_from_md(mbedtls_md_type_t md, enum pki_digest *out)
{
	switch (md) {
	case MBEDTLS_MD_SHA256: *out = PKI_DIGEST_SHA256; return 0;
	case MBEDTLS_MD_SHA1: *out = PKI_DIGEST_SHA1; return 0;
	case MBEDTLS_MD_SHA384: *out = PKI_DIGEST_SHA384; return 0;
	case MBEDTLS_MD_SHA512: *out = PKI_DIGEST_SHA512; return 0;
	default: return -ENOTSUP;
	}
}
