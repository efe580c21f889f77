/* pki/cms: decoding and checking what `openssl cms -sign` makes (the
 * fixtures in cms/, see make_fixtures.py) and what kensho's builder makes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "pki/cms.h"
#include "pki/cms_build.h"
#include "pki/verify.h"

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CMS_FIXTURES, name);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t *data = malloc(1 << 16);
	*len = fread(data, 1, 1 << 16, fp);
	fclose(fp);
	return data;
}

/* Decodes fixture `name`, finds its signer and checks the signature over the
 * attached content or content.txt; returns the verdict. */
static enum cms_verdict check(const uint8_t *der, size_t len, const uint8_t *content,
                              size_t content_len, struct cms_signed_data *sd)
{
	assert_int_equal(cms_decode(der, len, sd), 0);
	struct pki_cert *signer;
	assert_int_equal(cms_signer_cert(sd, &signer), 0);
	enum cms_verdict v = -1;
	if (!sd->detached) {
		content = sd->content.p;
		content_len = sd->content.len;
	}
	assert_int_equal(cms_verify_signature(sd, content, content_len, signer, &v), 0);
	pki_cert_free(signer);
	return v;
}

/* As check() for a fixture file; *der keeps the bytes sd points into. */
static enum cms_verdict check_fixture(const char *name, struct cms_signed_data *sd, uint8_t **der)
{
	size_t len, content_len;
	uint8_t *content = slurp("content.txt", &content_len);
	*der = slurp(name, &len);
	enum cms_verdict v = check(*der, len, content, content_len, sd);
	free(content);
	return v;
}

static void test_openssl_outputs_verify(void **state)
{
	static const struct {
		const char *name;
		bool detached, attrs;
		enum pki_digest md;
		enum cms_signature_alg alg;
	} cases[] = {
	        {"attached.der", false, true, PKI_DIGEST_SHA256, CMS_SIG_RSA_PKCS1},
	        {"detached.der", true, true, PKI_DIGEST_SHA256, CMS_SIG_RSA_PKCS1},
	        {"attached-noattr.der", false, false, PKI_DIGEST_SHA256, CMS_SIG_RSA_PKCS1},
	        {"detached-noattr.der", true, false, PKI_DIGEST_SHA256, CMS_SIG_RSA_PKCS1},
	        {"attached-pss.der", false, true, PKI_DIGEST_SHA256, CMS_SIG_RSA_PSS},
	        {"attached-sha384.der", false, true, PKI_DIGEST_SHA384, CMS_SIG_RSA_PKCS1},
	        {"attached-sha512.der", false, false, PKI_DIGEST_SHA512, CMS_SIG_RSA_PKCS1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cms_signed_data sd;
		uint8_t *der;
		print_message("%s\n", cases[i].name);
		assert_int_equal(check_fixture(cases[i].name, &sd, &der), CMS_VERDICT_VALID);
		assert_int_equal(sd.detached, cases[i].detached);
		assert_int_equal(sd.has_signed_attrs, cases[i].attrs);
		assert_int_equal(sd.has_signing_time, cases[i].attrs);
		assert_int_equal(sd.digest, cases[i].md);
		assert_int_equal(sd.sig_alg, cases[i].alg);
		assert_int_equal(sd.cert_count, 1);
		/* serial 0x1001 from make_fixtures.py */
		assert_int_equal(sd.sid_serial.len, 2);
		assert_memory_equal(sd.sid_serial.p, "\x10\x01", 2);
		if (cases[i].attrs) /* signed after the fixtures' CA was made */
			assert_true(sd.signing_time >= 1767225600);
		free(der);
	}
}

static void test_altered_content_and_signature(void **state)
{
	size_t len, content_len;
	uint8_t *content = slurp("content.txt", &content_len);
	struct cms_signed_data sd;

	/* With signed attributes the message digest no longer matches. */
	uint8_t *der = slurp("attached.der", &len);
	uint8_t *at = memmem(der, len, "KENSHO", 6);
	at[0] = 'X';
	assert_int_equal(check(der, len, NULL, 0, &sd), CMS_VERDICT_CONTENT_ALTERED);
	free(der);

	/* Without them the signature itself fails. */
	der = slurp("attached-noattr.der", &len);
	at = memmem(der, len, "KENSHO", 6);
	at[0] = 'X';
	assert_int_equal(check(der, len, NULL, 0, &sd), CMS_VERDICT_BAD_SIGNATURE);
	free(der);

	/* A flipped bit in the signature value. */
	der = slurp("attached.der", &len);
	der[len - 1] ^= 1;
	assert_int_equal(check(der, len, NULL, 0, &sd), CMS_VERDICT_BAD_SIGNATURE);
	free(der);

	/* Detached: other content than what was signed. */
	der = slurp("detached.der", &len);
	content[0] ^= 0x20;
	assert_int_equal(check(der, len, content, content_len, &sd), CMS_VERDICT_CONTENT_ALTERED);
	free(der);
	free(content);
}

static void test_ber_and_trailing_bytes_refused(void **state)
{
	size_t len;
	struct cms_signed_data sd;
	uint8_t *der = slurp("attached-ber.der", &len);
	assert_int_equal(cms_decode(der, len, &sd), -EINVAL);
	free(der);
	der = slurp("attached.der", &len);
	assert_int_equal(cms_decode(der, len + 1, &sd), -EINVAL);
	/* A non-minimal length (0x82 00 xx for a short value) is not DER: the
	 * outer SEQUENCE's 0x82 len is rewritten as 0x83 00 len. */
	uint8_t *bad = malloc(len + 1);
	assert_int_equal(der[1], 0x82);
	bad[0] = der[0];
	bad[1] = 0x83;
	bad[2] = 0;
	memcpy(bad + 3, der + 2, len - 2);
	assert_int_equal(cms_decode(bad, len + 1, &sd), -EINVAL);
	free(bad);
	free(der);
}

static void test_every_truncation_is_an_error(void **state)
{
	size_t len;
	struct cms_signed_data sd;
	uint8_t *der = slurp("attached.der", &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, der, n);
		assert_true(cms_decode(copy, n, &sd) < 0);
		free(copy);
	}
	free(der);
}

/* CMS_MAX_CERTS bounds the certificates kept; openssl made one with nine. */
static void test_certificate_limit(void **state)
{
	size_t len;
	struct cms_signed_data sd;
	uint8_t *der = slurp("too-many-certs.der", &len);
	assert_int_equal(cms_decode(der, len, &sd), -E2BIG);
	assert_int_equal(cms_decode(der, CMS_MAX_INPUT + 1, &sd), -E2BIG); /* refused unread */
	free(der);
}

static void test_not_signed_data(void **state)
{
	size_t len;
	struct cms_signed_data sd;
	uint8_t *der = slurp("signer.pem", &len);
	assert_int_equal(cms_decode(der, len, &sd), -EINVAL); /* PEM text is not DER */
	free(der);
	/* ContentInfo of id-data */
	static const uint8_t data[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                               0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
	assert_int_equal(cms_decode(data, sizeof data, &sd), -ENOTSUP);
}

/* kensho's builder and decoder agree, including the signing time. */
static void test_builder_round_trip(void **state)
{
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
	mbedtls_pk_init(&key);
	mbedtls_x509_crt_init(&cert);
	assert_int_equal(mbedtls_pk_parse_keyfile(&key, CMS_FIXTURES "/signer.key", NULL), 0);
	assert_int_equal(mbedtls_x509_crt_parse_file(&cert, CMS_FIXTURES "/signer.pem"), 0);
	static const uint8_t text[] = "receipt";
	struct cms_build_params p = {
	        .content = text,
	        .content_len = 7,
	        .signed_attributes = true,
	        .signing_time = 2524608000LL, /* 2050: GeneralizedTime */
	        .cert = cert.raw.p,
	        .cert_len = cert.raw.len,
	        .sign = cms_sign_pk,
	        .sign_arg = &key,
	};
	uint8_t *der;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), 0);
	struct cms_signed_data sd;
	assert_int_equal(check(der, len, NULL, 0, &sd), CMS_VERDICT_VALID);
	assert_true(sd.has_signing_time);
	assert_int_equal(sd.signing_time, 2524608000LL);
	assert_int_equal(sd.content.len, 7);
	free(der);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_openssl_outputs_verify),
	        cmocka_unit_test(test_altered_content_and_signature),
	        cmocka_unit_test(test_ber_and_trailing_bytes_refused),
	        cmocka_unit_test(test_every_truncation_is_an_error),
	        cmocka_unit_test(test_certificate_limit),
	        cmocka_unit_test(test_not_signed_data),
	        cmocka_unit_test(test_builder_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
