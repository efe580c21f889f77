/* Randomness for mbedTLS calls that take an f_rng (signing, key generation),
 * straight from the kernel's CSPRNG: no DRBG state to seed, lock or reseed,
 * so any thread may call it. */
#pragma once
#include <stddef.h>

/** An mbedTLS f_rng: fills out with len bytes from getrandom(2). Returns 0,
 * or MBEDTLS_ERR_ENTROPY_SOURCE_FAILED. `unused` may be NULL. */
int pki_random(void *unused, unsigned char *out, size_t len);
