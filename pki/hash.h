/* Digests with kensho types, so that callers outside pki/ need no mbedTLS
 * header. */
#ifndef KENSHO_PKI_HASH_H
#define KENSHO_PKI_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PKI_SHA256_LEN 32

/** SHA-256 of len bytes at data into out. */
void pki_sha256(const void *data, size_t len, uint8_t out[PKI_SHA256_LEN]);

#endif
