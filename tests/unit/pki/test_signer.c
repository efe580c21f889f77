/* pki/signer: a self-signed pair made, written, loaded and used to sign a
 * CMS SignedData that verifies with its own certificate; mismatched and
 * unreadable files are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pki/cms.h"
#include "pki/cms_build.h"
#include "pki/signer.h"
#include "pki/verify.h"

#define KEY_BITS 1024 /* small: key generation is the test's cost */
#define SUBJECT  "C=JP,O=kensho test,CN=signer test"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/kensho-signer-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void write_text(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int load(const char *cert, const char *key, struct pki_signer **out)
{
	char cert_path[128], key_path[128];
	snprintf(cert_path, sizeof cert_path, "%s/%s", dir, cert);
	snprintf(key_path, sizeof key_path, "%s/%s", dir, key);
	return pki_signer_load(cert_path, key_path, out);
}

static const struct pki_self_signed what = {
        .subject = SUBJECT,
        .key_bits = KEY_BITS,
        .not_before = 1767225600, /* 2026-01-01 */
        .not_after = 2398377600,  /* 2046-01-01 */
};

static void make_pair(const char *cert, const char *key)
{
	char key_pem[4096], cert_pem[4096];
	assert_int_equal(
	        pki_self_signed_create(&what, key_pem, sizeof key_pem, cert_pem, sizeof cert_pem),
	        0);
	assert_non_null(strstr(cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(key_pem, "PRIVATE KEY-----"));
	write_text(cert, cert_pem);
	write_text(key, key_pem);
}

static void test_made_loaded_and_signing(void **state)
{
	make_pair("a.pem", "a.key");
	struct pki_signer *s;
	assert_int_equal(load("a.pem", "a.key", &s), 0);

	/* The certificate says what was asked. */
	const uint8_t *der;
	size_t der_len;
	pki_signer_cert(s, &der, &der_len);
	struct pki_cert *cert;
	assert_int_equal(pki_cert_parse(der, der_len, &cert), 0);
	const struct pki_cert_info *info = pki_cert_info(cert);
	assert_true(info->not_before == what.not_before && info->not_after == what.not_after);
	assert_int_equal(info->subject.len, info->issuer.len);
	assert_memory_equal(info->subject.p, info->issuer.p, info->subject.len);
	assert_int_equal(info->serial.len, 16);
	assert_true(info->serial.p[0] >= 0x01 && info->serial.p[0] <= 0x7f);
	assert_true(pki_cert_may_sign(cert));
	struct pki_key_info key;
	assert_int_equal(pki_cert_key(cert, &key), 0);
	assert_true(key.rsa && key.bits == KEY_BITS && key.exponent == 65537);
	/* self-signed; a 1024-bit key is below mbedTLS's default profile */
	assert_int_equal(pki_cert_verify_issued(cert, cert, true), 0);
	assert_int_equal(pki_cert_verify_issued(cert, cert, false), -EKEYREJECTED);

	/* A SignedData signed through pki_signer_sign verifies. */
	static const char content[] = "a receipt";
	struct cms_build_params p = {
	        .content = (const uint8_t *)content,
	        .content_len = sizeof content - 1,
	        .signed_attributes = true,
	        .signing_time = 1795000000,
	        .cert = der,
	        .cert_len = der_len,
	        .sign = pki_signer_sign,
	        .sign_arg = s,
	};
	uint8_t *cms;
	size_t cms_len;
	assert_int_equal(cms_build_signed(&p, &cms, &cms_len), 0);
	struct cms_signed_data sd;
	assert_int_equal(cms_decode(cms, cms_len, &sd), 0);
	struct pki_cert *signer;
	assert_int_equal(cms_signer_cert(&sd, &signer), 0);
	enum cms_verdict v = -1;
	assert_int_equal(cms_verify_signature(&sd, sd.content.p, sd.content.len, signer, &v), 0);
	assert_int_equal(v, CMS_VERDICT_VALID);
	pki_cert_free(signer);
	free(cms);
	pki_cert_free(cert);
	pki_signer_free(s);
}

static void test_refused(void **state)
{
	make_pair("b.pem", "b.key");
	make_pair("c.pem", "c.key");
	write_text("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	struct pki_signer *s = NULL;
	assert_int_equal(load("b.pem", "c.key", &s), -EINVAL); /* not the certificate's key */
	assert_int_equal(load("junk.pem", "b.key", &s), -EINVAL);
	assert_int_equal(load("b.pem", "b.pem", &s), -EINVAL); /* a certificate is no key */
	assert_int_equal(load("b.pem", "missing.key", &s), -EIO);
	assert_null(s);
	pki_signer_free(NULL);
}

static void test_output_too_small(void **state)
{
	char key_pem[4096], cert_pem[64];
	assert_int_equal(
	        pki_self_signed_create(&what, key_pem, sizeof key_pem, cert_pem, sizeof cert_pem),
	        -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_made_loaded_and_signing),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_output_too_small),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
