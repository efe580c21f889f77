/* pki/verify: certificates and CMS signers through kensho types, on the CMS
 * fixtures of tests/unit/pki/cms (a test CA, a signer 0x1001 valid
 * 2026..2046, a certificate without a signing key usage, another CA) and an
 * EC responder of tests/unit/pki/ocsp. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pki/cms.h"
#include "pki/verify.h"
#include "pki/x509_write.h"

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t *data = malloc(1 << 16);
	*len = fread(data, 1, 1 << 16, fp);
	fclose(fp);
	return data;
}

/* Parses a PEM certificate fixture. */
static struct pki_cert *load(const char *dir, const char *name)
{
	size_t len, der_len;
	char *pem = (char *)slurp(dir, name, &len);
	uint8_t *der;
	assert_int_equal(x509_cert_from_pem(pem, len, &der, &der_len), 0);
	struct pki_cert *c = NULL;
	assert_int_equal(pki_cert_parse(der, der_len, &c), 0);
	free(der);
	free(pem);
	return c;
}

static void test_parts(void **state)
{
	size_t len;
	uint8_t *der = slurp(CMS_FIXTURES, "signer.der", &len);
	struct pki_cert *signer;
	assert_int_equal(pki_cert_parse(der, len, &signer), 0);
	struct pki_cert *ca = load(CMS_FIXTURES, "ca.pem");
	const struct pki_cert_info *info = pki_cert_info(signer);
	assert_int_equal(info->der.len, len);
	assert_memory_equal(info->der.p, der, len);
	assert_int_equal(info->serial.len, 2);
	assert_memory_equal(info->serial.p, "\x10\x01", 2);
	assert_true(info->not_before == 1767225600); /* 2026-01-01 */
	assert_true(info->not_after == 2398377600);  /* 2046-01-01 */
	/* issued by the CA: its issuer is the CA's subject, byte for byte */
	const struct pki_cert_info *ca_info = pki_cert_info(ca);
	assert_int_equal(info->issuer.len, ca_info->subject.len);
	assert_memory_equal(info->issuer.p, ca_info->subject.p, ca_info->subject.len);
	assert_int_not_equal(info->subject.len, info->issuer.len);
	pki_cert_free(signer);
	pki_cert_free(ca);
	free(der);
}

static void test_not_a_certificate(void **state)
{
	size_t len;
	uint8_t *der = slurp(CMS_FIXTURES, "signer.der", &len);
	struct pki_cert *c = NULL;
	assert_int_equal(pki_cert_parse(der, len - 1, &c), -EINVAL);
	assert_int_equal(pki_cert_parse((const uint8_t *)"\x30\x03\x02\x01\x01", 5, &c), -EINVAL);
	assert_null(c);
	pki_cert_free(NULL);
	free(der);
}

static void test_issuer_signature(void **state)
{
	struct pki_cert *ca = load(CMS_FIXTURES, "ca.pem");
	struct pki_cert *other = load(CMS_FIXTURES, "other-ca.pem");
	struct pki_cert *signer = load(CMS_FIXTURES, "signer.pem");
	struct pki_cert *expired = load(CMS_FIXTURES, "expired.pem");
	assert_int_equal(pki_cert_verify_issued(signer, ca, false), 0);
	assert_int_equal(pki_cert_verify_issued(signer, other, false), -EKEYREJECTED);
	assert_int_equal(pki_cert_verify_issued(signer, signer, true), -EKEYREJECTED);
	/* dates are the caller's to judge */
	assert_int_equal(pki_cert_verify_issued(expired, ca, false), 0);
	pki_cert_free(ca);
	pki_cert_free(other);
	pki_cert_free(signer);
	pki_cert_free(expired);
}

static void test_keys_and_usage(void **state)
{
	struct pki_cert *signer = load(CMS_FIXTURES, "signer.pem");
	struct pki_cert *wrongku = load(CMS_FIXTURES, "wrongku.pem");
	struct pki_cert *ec = load(OCSP_FIXTURE_DIR, "responder-ec.pem");
	struct pki_key_info k;
	assert_int_equal(pki_cert_key(signer, &k), 0);
	assert_true(k.rsa);
	assert_int_equal(k.bits, 2048);
	assert_int_equal(k.exponent_bits, 17);
	assert_true(k.exponent == 65537);
	assert_int_equal(pki_cert_key(ec, &k), 0);
	assert_false(k.rsa);
	assert_int_equal(k.bits, 256);
	assert_string_equal(k.name, "EC");
	assert_true(pki_cert_may_sign(signer));   /* digitalSignature, nonRepudiation */
	assert_false(pki_cert_may_sign(wrongku)); /* keyEncipherment only */
	pki_cert_free(signer);
	pki_cert_free(wrongku);
	pki_cert_free(ec);
}

static void test_cms_signer(void **state)
{
	size_t len, content_len;
	uint8_t *der = slurp(CMS_FIXTURES, "detached.der", &len);
	uint8_t *content = slurp(CMS_FIXTURES, "content.txt", &content_len);
	struct cms_signed_data sd;
	assert_int_equal(cms_decode(der, len, &sd), 0);
	struct pki_cert *signer;
	assert_int_equal(cms_signer_cert(&sd, &signer), 0);
	assert_memory_equal(pki_cert_info(signer)->serial.p, "\x10\x01", 2);
	enum cms_verdict v = -1;
	assert_int_equal(cms_verify_signature(&sd, content, content_len, signer, &v), 0);
	assert_int_equal(v, CMS_VERDICT_VALID);
	content[0] ^= 1;
	assert_int_equal(cms_verify_signature(&sd, content, content_len, signer, &v), 0);
	assert_int_equal(v, CMS_VERDICT_CONTENT_ALTERED);
	pki_cert_free(signer);
	/* a signer identifier that names no included certificate */
	sd.sid_serial.len = 1;
	assert_int_equal(cms_signer_cert(&sd, &signer), -ENOENT);
	free(der);
	free(content);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parts),
	        cmocka_unit_test(test_not_a_certificate),
	        cmocka_unit_test(test_issuer_signature),
	        cmocka_unit_test(test_keys_and_usage),
	        cmocka_unit_test(test_cms_signer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
