/* pki/errors: the codes whose errno callers and tests rely on, alone and
 * combined with a low-level module's code as mbedTLS returns them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include "pki/errors.h"

static void test_success_and_counts_pass_through(void **state)
{
	assert_int_equal(pki_errno(0), 0);
	assert_int_equal(pki_errno(3), 3);     /* e.g. certificates that failed to parse */
	assert_int_equal(pki_errno(294), 294); /* e.g. a length written */
}

static void test_tls_transport(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_WANT_READ), -EAGAIN);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_WANT_WRITE), -EAGAIN);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_TIMEOUT), -ETIMEDOUT);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY), -EPIPE);
	assert_int_equal(pki_errno(MBEDTLS_ERR_NET_SEND_FAILED), -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_NET_RECV_FAILED), -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_NET_CONN_RESET), -ECONNRESET);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_ALLOC_FAILED), -ENOMEM);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL), -ENOSPC);
	/* a peer without an acceptable certificate is refused (both ends) */
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE), -EACCES);
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED), -EACCES);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED), -EACCES);
	/* every other protocol failure */
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE), -EPROTO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO), -EPROTO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_INVALID_MAC), -EPROTO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_SSL_BAD_CONFIG), -EPROTO);
}

static void test_bad_signatures_are_rejections(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_VERIFY_FAILED), -EKEYREJECTED);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_SIG_LEN_MISMATCH), -EKEYREJECTED);
}

static void test_malformed_input_is_einval(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_INVALID_FORMAT), -EINVAL);
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_INVALID_FORMAT + MBEDTLS_ERR_ASN1_OUT_OF_DATA),
	                 -EINVAL);
	assert_int_equal(
	        pki_errno(MBEDTLS_ERR_PK_KEY_INVALID_FORMAT + MBEDTLS_ERR_ASN1_UNEXPECTED_TAG),
	        -EINVAL);
	assert_int_equal(
	        pki_errno(MBEDTLS_ERR_PEM_INVALID_DATA + MBEDTLS_ERR_BASE64_INVALID_CHARACTER),
	        -EINVAL);
	assert_int_equal(pki_errno(MBEDTLS_ERR_ASN1_INVALID_LENGTH), -EINVAL);
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_KEY_CHECK_FAILED), -EINVAL); /* not the pair */
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_BAD_INPUT_DATA), -EINVAL);
}

static void test_keys(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_PASSWORD_REQUIRED), -EACCES);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_PASSWORD_MISMATCH), -EACCES);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_TYPE_MISMATCH), -ENOTSUP);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_UNKNOWN_PK_ALG), -ENOTSUP);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_FILE_IO_ERROR), -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_FILE_IO_ERROR), -EIO);
}

static void test_machine_failures_are_eio(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_KEY_GEN_FAILED), -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_PRIVATE_FAILED + MBEDTLS_ERR_MPI_BAD_INPUT_DATA),
	                 -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_RNG_FAILED + MBEDTLS_ERR_ENTROPY_SOURCE_FAILED),
	                 -EIO);
	assert_int_equal(pki_errno(MBEDTLS_ERR_ENTROPY_SOURCE_FAILED), -EIO); /* pki_random */
	assert_int_equal(pki_errno(MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED), -EIO);
}

static void test_resources(void **state)
{
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_ALLOC_FAILED), -ENOMEM);
	assert_int_equal(pki_errno(MBEDTLS_ERR_PK_ALLOC_FAILED), -ENOMEM);
	assert_int_equal(pki_errno(MBEDTLS_ERR_X509_INVALID_FORMAT + MBEDTLS_ERR_ASN1_ALLOC_FAILED),
	                 -ENOMEM);
	assert_int_equal(pki_errno(MBEDTLS_ERR_RSA_KEY_GEN_FAILED + MBEDTLS_ERR_MPI_ALLOC_FAILED),
	                 -ENOMEM);
	assert_int_equal(pki_errno(MBEDTLS_ERR_ASN1_BUF_TOO_SMALL), -ENOSPC);
	assert_int_equal(pki_errno(MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL), -ENOSPC); /* PEM output */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_success_and_counts_pass_through),
	        cmocka_unit_test(test_tls_transport),
	        cmocka_unit_test(test_bad_signatures_are_rejections),
	        cmocka_unit_test(test_malformed_input_is_einval),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_machine_failures_are_eio),
	        cmocka_unit_test(test_resources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
