/* mbedTLS error codes to errno: see errors.h.
 *
 * An mbedTLS code is negative; its magnitude is a high-level module's code
 * (0x1000..0x7f80: PEM, X509, PK, RSA, ECP, MD, SSL, ...) plus at most one
 * low-level module's code (0x01..0x7f: ASN1, MPI, the random generators,
 * the network layer), e.g. X509_INVALID_FORMAT + ASN1_OUT_OF_DATA. Exact
 * codes are judged first, then the low-level part, then the module:
 *
 *   -EAGAIN        TLS wants more I/O
 *   -ETIMEDOUT     a blocking TLS step timed out
 *   -EPIPE         the peer sent close_notify
 *   -ECONNRESET    the peer reset the connection
 *   -EIO           a socket send or receive failed; a file could not be read;
 *                  key generation, a private-key operation or the random
 *                  generator failed (the machine's problem, not the input's)
 *   -ENOMEM        an allocation failed
 *   -EACCES        a certificate chain does not verify (the TLS peer's, or
 *                  none was sent); a key file wants a password
 *   -EKEYREJECTED  a signature does not verify
 *   -ENOTSUP       a key or algorithm kensho's mbedTLS does not take
 *   -ENOSPC        an output buffer is too small
 *   -EPROTO        any other TLS protocol failure
 *   -EINVAL        anything else: the input (PEM, DER, key, certificate,
 *                  signature bytes) is malformed */
#include "pki/errors.h"

#include <errno.h>
#include <stdbool.h>

#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

/* Whole codes whose meaning is not their module's default. */
static int exact(int ret)
{
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE:
	case MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS:
	case MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS: return -EAGAIN;
	case MBEDTLS_ERR_SSL_TIMEOUT: return -ETIMEDOUT;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: return -EPIPE;
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
	case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: return -EACCES;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
	case MBEDTLS_ERR_PEM_ALLOC_FAILED:
	case MBEDTLS_ERR_X509_ALLOC_FAILED:
	case MBEDTLS_ERR_PK_ALLOC_FAILED:
	case MBEDTLS_ERR_ECP_ALLOC_FAILED:
	case MBEDTLS_ERR_MD_ALLOC_FAILED: return -ENOMEM;
	case MBEDTLS_ERR_X509_FILE_IO_ERROR:
	case MBEDTLS_ERR_PK_FILE_IO_ERROR:
	case MBEDTLS_ERR_MD_FILE_IO_ERROR: return -EIO;
	case MBEDTLS_ERR_PK_SIG_LEN_MISMATCH:
	case MBEDTLS_ERR_RSA_VERIFY_FAILED:
	case MBEDTLS_ERR_ECP_VERIFY_FAILED:
	case MBEDTLS_ERR_ECP_SIG_LEN_MISMATCH: return -EKEYREJECTED;
	case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
	case MBEDTLS_ERR_PK_PASSWORD_MISMATCH: return -EACCES;
	case MBEDTLS_ERR_PK_TYPE_MISMATCH:
	case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
	case MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE:
	case MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE:
	case MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE:
	case MBEDTLS_ERR_MD_FEATURE_UNAVAILABLE: return -ENOTSUP;
	case MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL:
	case MBEDTLS_ERR_X509_BUFFER_TOO_SMALL:
	case MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL: return -ENOSPC;
	case MBEDTLS_ERR_RSA_KEY_GEN_FAILED:
	case MBEDTLS_ERR_RSA_PRIVATE_FAILED:
	case MBEDTLS_ERR_RSA_RNG_FAILED:
	case MBEDTLS_ERR_ECP_RANDOM_FAILED: return -EIO;
	default: return 0;
	}
}

/* The low-level part (0x01..0x7f), when it decides. */
static int low_level(int code)
{
	switch (-code) {
	case MBEDTLS_ERR_ASN1_ALLOC_FAILED:
	case MBEDTLS_ERR_MPI_ALLOC_FAILED: return -ENOMEM;
	case MBEDTLS_ERR_ASN1_BUF_TOO_SMALL:
	case MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL:
	case MBEDTLS_ERR_MPI_BUFFER_TOO_SMALL: return -ENOSPC;
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED: return -EIO;
	case MBEDTLS_ERR_NET_CONN_RESET: return -ECONNRESET;
	/* the random generators */
	case MBEDTLS_ERR_ENTROPY_SOURCE_FAILED:
	case MBEDTLS_ERR_ENTROPY_NO_STRONG_SOURCE:
	case MBEDTLS_ERR_ENTROPY_MAX_SOURCES:
	case MBEDTLS_ERR_ENTROPY_FILE_IO_ERROR:
	case MBEDTLS_ERR_ENTROPY_NO_SOURCES_DEFINED:
	case MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED:
	case MBEDTLS_ERR_CTR_DRBG_REQUEST_TOO_BIG:
	case MBEDTLS_ERR_CTR_DRBG_INPUT_TOO_BIG:
	case MBEDTLS_ERR_CTR_DRBG_FILE_IO_ERROR:
	case MBEDTLS_ERR_HMAC_DRBG_REQUEST_TOO_BIG:
	case MBEDTLS_ERR_HMAC_DRBG_INPUT_TOO_BIG:
	case MBEDTLS_ERR_HMAC_DRBG_FILE_IO_ERROR:
	case MBEDTLS_ERR_HMAC_DRBG_ENTROPY_SOURCE_FAILED: return -EIO;
	default: return 0;
	}
}

/* mbedTLS's SSL module: 0x5e80..0x7f80, around the cipher module's
 * 0x6080..0x6400. */
static bool is_ssl(int high)
{
	return high >= 0x5e80 && high <= 0x7f80 && !(high >= 0x6080 && high <= 0x6400);
}

int pki_errno(int mbedtls_ret)
{
	if (mbedtls_ret >= 0)
		return mbedtls_ret;
	int err = exact(mbedtls_ret);
	if (err)
		return err;
	int code = -mbedtls_ret;
	int high = code & 0xff80;
	if ((err = low_level(code & 0x7f)) != 0)
		return err;
	if (high != 0 && (err = exact(-high)) != 0)
		return err;
	if (is_ssl(high))
		return -EPROTO;
	return -EINVAL;
}
