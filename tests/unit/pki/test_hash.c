/* pki/hash: SHA-256 with kensho types, and the translation between
 * enum pki_digest and mbedTLS's digest names that pki/ alone uses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mbedtls/md.h>

#include "pki/hash.h"
#include "pki/hash_internal.h"

static void test_sha256_known_answer(void **state)
{
	(void)state;
	/* FIPS 180-2 appendix B.1: "abc". */
	static const uint8_t want[PKI_SHA256_LEN] = {
	        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t got[PKI_SHA256_LEN];
	pki_sha256("abc", 3, got);
	assert_memory_equal(got, want, sizeof want);
}

static void test_digests_translate_both_ways(void **state)
{
	(void)state;
	static const struct {
		enum pki_digest digest;
		mbedtls_md_type_t md;
		size_t len;
	} cases[] = {
	        {PKI_DIGEST_SHA1, MBEDTLS_MD_SHA1, 20},
	        {PKI_DIGEST_SHA256, MBEDTLS_MD_SHA256, 32},
	        {PKI_DIGEST_SHA384, MBEDTLS_MD_SHA384, 48},
	        {PKI_DIGEST_SHA512, MBEDTLS_MD_SHA512, 64},
	};
	size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pki_digest_md(cases[i].digest), cases[i].md);
		assert_int_equal(mbedtls_md_get_size(mbedtls_md_info_from_type(cases[i].md)),
		                 cases[i].len);
		enum pki_digest back = cases[(i + 1) % n].digest; /* another one */
		assert_int_equal(pki_digest_from_md(cases[i].md, &back), 0);
		assert_int_equal(back, cases[i].digest);
	}
}

static void test_zero_value_is_sha256(void **state)
{
	(void)state;
	/* A zeroed cms_build_params means SHA-256 (pki/cms_build.h). */
	enum pki_digest zero = 0;
	assert_int_equal(pki_digest_md(zero), MBEDTLS_MD_SHA256);
}

static void test_unnamed_digests_are_refused(void **state)
{
	(void)state;
	enum pki_digest out = PKI_DIGEST_SHA512;
	assert_int_equal(pki_digest_from_md(MBEDTLS_MD_MD5, &out), -ENOTSUP);
	assert_int_equal(pki_digest_from_md(MBEDTLS_MD_SHA224, &out), -ENOTSUP);
	assert_int_equal(pki_digest_from_md(MBEDTLS_MD_NONE, &out), -ENOTSUP);
	assert_int_equal(out, PKI_DIGEST_SHA512); /* untouched */
	assert_int_equal(pki_digest_md((enum pki_digest)99), MBEDTLS_MD_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sha256_known_answer),
	        cmocka_unit_test(test_digests_translate_both_ways),
	        cmocka_unit_test(test_zero_value_is_sha256),
	        cmocka_unit_test(test_unnamed_digests_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
