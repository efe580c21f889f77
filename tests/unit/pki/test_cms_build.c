/* pki/cms_build: what it builds must satisfy `openssl cms -verify`, the peer
 * every client of kensho's receipts (and kensho-card's recipients) uses. */
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

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "pki/cms_build.h"

struct fixture {
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
	char dir[64];
};

static const uint8_t content[] = "application: change of address\nname: KENSHO TARO\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	mbedtls_pk_init(&f->key);
	mbedtls_x509_crt_init(&f->cert);
	if (mbedtls_pk_parse_keyfile(&f->key, CMS_FIXTURES "/signer.key", NULL) != 0 ||
	    mbedtls_x509_crt_parse_file(&f->cert, CMS_FIXTURES "/signer.pem") != 0)
		return -1;
	strcpy(f->dir, "/tmp/kensho-cms-build-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	mbedtls_pk_free(&f->key);
	mbedtls_x509_crt_free(&f->cert);
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static struct cms_build_params params(struct fixture *f)
{
	return (struct cms_build_params){
	        .content = content,
	        .content_len = sizeof content - 1,
	        .signed_attributes = true,
	        .signing_time = 1795000000, /* 2026-11-18 */
	        .cert = f->cert.raw.p,
	        .cert_len = f->cert.raw.len,
	        .sign = cms_sign_pk,
	        .sign_arg = &f->key,
	};
}

/* Runs openssl cms -verify on `der` (with the content file when detached) and
 * returns its exit status; on success the recovered content must match. */
static int openssl_verify(struct fixture *f, const uint8_t *der, size_t len, bool detached)
{
	char path[128], content_path[128], out_path[128], cmd[1024];
	snprintf(path, sizeof path, "%s/msg.der", f->dir);
	snprintf(content_path, sizeof content_path, "%s/content", f->dir);
	snprintf(out_path, sizeof out_path, "%s/out", f->dir);
	write_file(path, der, len);
	write_file(content_path, content, sizeof content - 1);
	unlink(out_path);
	snprintf(cmd, sizeof cmd,
	         "openssl cms -verify -binary -inform DER -in %s -CAfile %s/ca.pem %s%s -out %s "
	         "2>/dev/null",
	         path, CMS_FIXTURES, detached ? "-content " : "", detached ? content_path : "",
	         out_path);
	int status = system(cmd);
	if (status == 0) {
		uint8_t got[256];
		FILE *fp = fopen(out_path, "rb");
		assert_non_null(fp);
		size_t n = fread(got, 1, sizeof got, fp);
		fclose(fp);
		assert_int_equal(n, sizeof content - 1);
		assert_memory_equal(got, content, n);
	}
	return status;
}

static void build_and_verify(void **state, bool detached, bool attrs, enum pki_digest md)
{
	struct fixture *f = *state;
	struct cms_build_params p = params(f);
	p.detached = detached;
	p.signed_attributes = attrs;
	p.md = md;
	uint8_t *der;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), 0);
	assert_int_equal(openssl_verify(f, der, len, detached), 0);
	free(der);
}

static void test_attached_with_attributes(void **state)
{
	build_and_verify(state, false, true, PKI_DIGEST_SHA256);
}

static void test_detached_with_attributes(void **state)
{
	build_and_verify(state, true, true, PKI_DIGEST_SHA256);
}

static void test_attached_without_attributes(void **state)
{
	build_and_verify(state, false, false, PKI_DIGEST_SHA256);
}

static void test_detached_without_attributes(void **state)
{
	build_and_verify(state, true, false, PKI_DIGEST_SHA256);
}

static void test_sha384_and_sha512(void **state)
{
	build_and_verify(state, false, true, PKI_DIGEST_SHA384);
	build_and_verify(state, true, true, PKI_DIGEST_SHA512);
}

/* signing-certificate-v2 (RFC 5035) names the signer's certificate by its
 * SHA-256 and issuer/serial; OpenSSL checks it against the signer when it
 * verifies. Without the certificate in the message, -certfile supplies it. */
static void test_signing_certificate_v2_and_no_certificate(void **state)
{
	struct fixture *f = *state;
	struct cms_build_params p = params(f);
	p.signing_certificate_v2 = true;
	uint8_t *der;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), 0);
	static const uint8_t oid[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	                              0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f};
	assert_non_null(memmem(der, len, oid, sizeof oid));
	uint8_t hash[32];
	assert_int_equal(mbedtls_sha256_ret(f->cert.raw.p, f->cert.raw.len, hash, 0), 0);
	assert_non_null(memmem(der, len, hash, sizeof hash));
	assert_int_equal(openssl_verify(f, der, len, false), 0);
	free(der);

	p.omit_certificate = true;
	assert_int_equal(cms_build_signed(&p, &der, &len), 0);
	assert_null(memmem(der, len, f->cert.raw.p, f->cert.raw.len));
	assert_int_not_equal(openssl_verify(f, der, len, false), 0); /* no signer to find */
	char path[128], cmd[512];
	snprintf(path, sizeof path, "%s/nocert.der", f->dir);
	write_file(path, der, len);
	snprintf(cmd, sizeof cmd,
	         "openssl cms -verify -binary -inform DER -in %s -CAfile %s/ca.pem -certfile "
	         "%s/signer.pem -out /dev/null 2>/dev/null",
	         path, CMS_FIXTURES, CMS_FIXTURES);
	assert_int_equal(system(cmd), 0);
	free(der);
}

/* The check above must be able to fail: a changed content byte is refused. */
static void test_openssl_rejects_altered_content(void **state)
{
	struct fixture *f = *state;
	struct cms_build_params p = params(f);
	uint8_t *der;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), 0);
	uint8_t *at = memmem(der, len, "KENSHO", 6);
	assert_non_null(at);
	at[0] = 'X';
	assert_int_not_equal(openssl_verify(f, der, len, false), 0);
	free(der);
}

/* The card signs the DigestInfo it is given: the callback sees exactly the
 * PKCS#1 DigestInfo for SHA-256 (19-byte prefix + 32-byte digest). */
static int refusing_card(void *arg, const uint8_t *digest_info, size_t len, uint8_t *sig,
                         size_t *sig_len)
{
	static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	int *calls = arg;
	(*calls)++;
	assert_int_equal(len, sizeof prefix + 32);
	assert_memory_equal(digest_info, prefix, sizeof prefix);
	return -EACCES; /* e.g. the PIN was wrong */
}

static void test_callback_error_is_returned(void **state)
{
	struct fixture *f = *state;
	struct cms_build_params p = params(f);
	int calls = 0;
	p.sign = refusing_card;
	p.sign_arg = &calls;
	uint8_t *der = NULL;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), -EACCES);
	assert_int_equal(calls, 1);
	assert_null(der);
}

static void test_bad_certificate_is_refused(void **state)
{
	struct fixture *f = *state;
	struct cms_build_params p = params(f);
	p.cert_len = 10;
	uint8_t *der;
	size_t len;
	assert_int_equal(cms_build_signed(&p, &der, &len), -EINVAL);
	p = params(f);
	p.md = PKI_DIGEST_SHA1;
	assert_int_equal(cms_build_signed(&p, &der, &len), -EINVAL);
}

/* The DigestInfo a card signs (RFC 8017 §9.2 note 1): 19 bytes of
 * AlgorithmIdentifier and OCTET STRING header, then the digest. */
static void test_digest_info_per_digest(void **state)
{
	(void)state;
	uint8_t digest[64] = {0}, out[128];
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA256, digest, 32, out, sizeof out), 19 + 32);
	assert_int_equal(out[18], 32);
	/* 2.16.840.1.101.3.4.2.1's last arc names SHA-256 */
	assert_int_equal(out[14], 1);
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA384, digest, 48, out, sizeof out), 19 + 48);
	assert_int_equal(out[14], 2);
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA512, digest, 64, out, sizeof out), 19 + 64);
	assert_int_equal(out[14], 3);
	/* the wrong length for the digest, a digest CMS signing does not use,
	 * too little room */
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA384, digest, 32, out, sizeof out), -EINVAL);
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA1, digest, 20, out, sizeof out), -EINVAL);
	assert_int_equal(cms_digest_info(PKI_DIGEST_SHA256, digest, 32, out, 40), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_attached_with_attributes),
	        cmocka_unit_test(test_detached_with_attributes),
	        cmocka_unit_test(test_attached_without_attributes),
	        cmocka_unit_test(test_detached_without_attributes),
	        cmocka_unit_test(test_sha384_and_sha512),
	        cmocka_unit_test(test_signing_certificate_v2_and_no_certificate),
	        cmocka_unit_test(test_openssl_rejects_altered_content),
	        cmocka_unit_test(test_callback_error_is_returned),
	        cmocka_unit_test(test_bad_certificate_is_refused),
	        cmocka_unit_test(test_digest_info_per_digest),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
