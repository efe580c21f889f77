#include "pki/hash.h"

#include <mbedtls/sha256.h>

void pki_sha256(const void *data, size_t len, uint8_t out[PKI_SHA256_LEN])
{
	/* Cannot fail for a plain SHA-256 without hardware acceleration hooks. */
	(void)mbedtls_sha256_ret(data, len, out, 0);
}
