/* The one translation of mbedTLS's error codes into kensho's negative errno
 * values. Every mbedTLS result that leaves pki/, tls/, card/ or ca/ as an
 * error passes through pki_errno; people still read mbedtls_strerror's text
 * where a message names the cause. */
#ifndef KENSHO_PKI_ERRORS_H
#define KENSHO_PKI_ERRORS_H

/** Turns an mbedTLS return value into kensho's: 0 and positive values (lengths,
 * counts) unchanged, a negative mbedTLS code into a negative errno. */
int pki_errno(int mbedtls_ret);

#endif
