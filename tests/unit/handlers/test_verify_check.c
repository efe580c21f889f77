/* handlers/verify_check: each reason /v1/verify and /v1/intake can give, for
 * inputs made by `openssl cms -sign` (tests/unit/pki/cms/make_fixtures.py)
 * against a store that knows the test CA. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "handlers/verify.h"
#include "intake_fixture.h"
#include "pki/cms_build.h"
#include "pki/der.h"
#include "pki/random.h"
#include "pki/x509_write.h"

#define NOW 1795000000 /* 2026-11-18: after REVOKED_AT */

static struct intake_fixture *fx;
static struct verify_ca_cache *cas;

static int setup(void **state)
{
	fx = intake_fixture_open();
	cas = verify_ca_cache_new(NULL);
	return fx && cas ? 0 : -1;
}

static int teardown(void **state)
{
	verify_ca_cache_free(cas);
	intake_fixture_close(fx);
	return 0;
}

/* Checks fixture `name` (with content.txt when detached) and returns the rc;
 * the result lands in *r. */
static int check_file(const char *name, bool with_content, struct verify_result *r)
{
	size_t len, content_len = 0;
	uint8_t *der = fixture_file(name, &len);
	uint8_t *content = with_content ? fixture_file("content.txt", &content_len) : NULL;
	assert_non_null(der);
	const char *detail;
	int rc = verify_submission(fx->store, cas, der, len, content, content_len, NOW, r, &detail);
	free(der);
	free(content);
	return rc;
}

static void expect_reason(const char *name, bool with_content, bool valid, const char *reason)
{
	struct verify_result r;
	print_message("%s\n", name);
	assert_int_equal(check_file(name, with_content, &r), 0);
	assert_string_equal(r.reason, reason);
	assert_int_equal(r.valid, valid);
}

static void test_valid_inputs(void **state)
{
	expect_reason("attached.der", false, true, "ok");
	expect_reason("detached.der", true, true, "ok");
	expect_reason("attached-noattr.der", false, true, "ok");
	expect_reason("detached-noattr.der", true, true, "ok");
	expect_reason("attached-pss.der", false, true, "ok");
	expect_reason("attached-sha384.der", false, true, "ok");
	expect_reason("attached-sha512.der", false, true, "ok");
	expect_reason("signer.der", false, true, "ok"); /* a bare certificate */

	struct verify_result r;
	assert_int_equal(check_file("attached.der", false, &r), 0);
	assert_string_equal(r.serial_hex, "1001");
	assert_string_equal(r.kind, "sign");
	assert_string_equal(r.issuer_label, "sign");
	assert_string_equal(r.status_now, "good");
	assert_string_equal(r.status_at_signing, "good");
	assert_true(r.is_cms);
	assert_true(r.has_signing_time);
}

static void test_each_failure_has_its_reason(void **state)
{
	expect_reason("expired.der", false, false, "expired");
	expect_reason("future.der", false, false, "not_yet_valid");
	expect_reason("wrongku.der", false, false, "wrong_key_usage");
	expect_reason("unknown.der", false, false, "unknown_issuer");
	expect_reason("unknown.pem.der", false, false, "unknown_issuer");

	struct verify_result r;
	assert_int_equal(check_file("revoked.der", false, &r), 0);
	assert_false(r.valid);
	assert_string_equal(r.reason, "revoked");
	assert_string_equal(r.status_now, "revoked");
	assert_int_equal(r.revoked_at, REVOKED_AT);
	assert_int_equal(r.revocation_reason, CRL_REASON_KEY_COMPROMISE);
	/* signed (when the fixtures were made) after the revocation time */
	assert_string_equal(r.status_at_signing, "revoked");
}

static void test_altered_inputs(void **state)
{
	size_t len;
	uint8_t *der = fixture_file("attached.der", &len);
	const char *detail;
	struct verify_result r;
	uint8_t *at = memmem(der, len, "KENSHO", 6);
	at[0] = 'X';
	assert_int_equal(verify_submission(fx->store, cas, der, len, NULL, 0, NOW, &r, &detail), 0);
	assert_string_equal(r.reason, "content_altered");
	at[0] = 'K';
	der[len - 1] ^= 1;
	assert_int_equal(verify_submission(fx->store, cas, der, len, NULL, 0, NOW, &r, &detail), 0);
	assert_string_equal(r.reason, "bad_signature");
	assert_false(r.valid);
	free(der);
}

static void test_garbage_and_missing_content_are_errors(void **state)
{
	struct verify_result r;
	const char *detail;
	static const uint8_t garbage[] = "not a signature at all";
	assert_int_equal(verify_submission(fx->store, cas, garbage, sizeof garbage, NULL, 0, NOW,
	                                   &r, &detail),
	                 -EINVAL);
	assert_non_null(detail);
	/* detached without content, and attached with extra content */
	assert_int_equal(check_file("detached.der", false, &r), -EINVAL);
	assert_int_equal(check_file("attached.der", true, &r), -EINVAL);
}

static void test_split_body(void **state)
{
	static const uint8_t body[] = "SIGCONTENT";
	size_t cms_len, detached_len;
	const uint8_t *detached;
	assert_int_equal(verify_split_body(body, 10, "3", 1, &cms_len, &detached, &detached_len),
	                 0);
	assert_int_equal(cms_len, 3);
	assert_int_equal(detached_len, 7);
	assert_memory_equal(detached, "CONTENT", 7);
	assert_int_equal(verify_split_body(body, 10, NULL, 0, &cms_len, &detached, &detached_len),
	                 0);
	assert_int_equal(cms_len, 10);
	assert_null(detached);
	assert_int_equal(verify_split_body(body, 10, "11", 2, &cms_len, &detached, &detached_len),
	                 -EINVAL);
	assert_int_equal(verify_split_body(body, 10, "0", 1, &cms_len, &detached, &detached_len),
	                 -EINVAL);
	assert_int_equal(verify_split_body(body, 10, "3x", 2, &cms_len, &detached, &detached_len),
	                 -EINVAL);
}

static void test_result_json(void **state)
{
	struct verify_result r;
	assert_int_equal(check_file("revoked.der", false, &r), 0);
	struct buf b = {0};
	verify_result_json(&r, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr((char *)b.data, "\"valid\":false,\"reason\":\"revoked\""));
	assert_non_null(strstr((char *)b.data, "\"serial\":\"1006\",\"kind\":\"sign\""));
	assert_non_null(strstr((char *)b.data, "\"revocation_reason\":\"keyCompromise\""));
	buf_free(&b);
}

/* A "signature" of junk as long as the modulus: the checks must refuse the
 * key, or find the signature bad, without caring what it says. */
static int junk_sign(void *arg, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                     size_t *sig_len)
{
	(void)digest_info;
	(void)digest_info_len;
	*sig_len = *(size_t *)arg;
	memset(sig, 0x5a, *sig_len);
	return 0;
}

/* A SignedData whose signer certificate holds the RSA public key (n of
 * n_bits bits, all ones; e as given, big-endian), issued and signed by the
 * fixture CA `ca` ("ca" is known to the store, "other-ca" is not). */
static uint8_t *cms_with_signer_key(const char *ca, size_t n_bits, const uint8_t *e, size_t e_len,
                                    size_t *out_len)
{
	char path[512];
	mbedtls_x509_crt issuer;
	mbedtls_pk_context issuer_key, key;
	mbedtls_x509_crt_init(&issuer);
	mbedtls_pk_init(&issuer_key);
	mbedtls_pk_init(&key);
	snprintf(path, sizeof path, "%s/%s.pem", CMS_FIXTURES, ca);
	assert_int_equal(mbedtls_x509_crt_parse_file(&issuer, path), 0);
	snprintf(path, sizeof path, "%s/%s.key", CMS_FIXTURES, ca);
	assert_int_equal(mbedtls_pk_parse_keyfile(&issuer_key, path, NULL), 0);

	uint8_t n[1024];
	size_t n_len = n_bits / 8;
	memset(n, 0xff, n_len);
	assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
	assert_int_equal(mbedtls_rsa_import_raw(mbedtls_pk_rsa(key), n, n_len, NULL, 0, NULL, 0,
	                                        NULL, 0, e, e_len),
	                 0);
	assert_int_equal(mbedtls_rsa_complete(mbedtls_pk_rsa(key)), 0);

	struct x509_name_attr cn = {X509_OID_CN, "expensive key"};
	struct der name;
	der_init(&name);
	x509_name_write(&name, &cn, 1);
	uint8_t *subject, *cert;
	size_t subject_len, cert_len;
	assert_int_equal(der_finish(&name, &subject, &subject_len), 0);
	static const uint8_t serial[] = {0x77, 0x01};
	struct x509_cert_template t = {.serial = serial,
	                               .serial_len = sizeof serial,
	                               .issuer = issuer.subject_raw.p,
	                               .issuer_len = issuer.subject_raw.len,
	                               .subject = subject,
	                               .subject_len = subject_len,
	                               .not_before = 1767225600,
	                               .not_after = 2398377600,
	                               .subject_key = &key};
	assert_int_equal(x509_cert_sign(&t, &issuer_key, pki_random, NULL, &cert, &cert_len), 0);

	size_t sig_len = n_len;
	struct cms_build_params p = {.content = (const uint8_t *)"application",
	                             .content_len = 11,
	                             .cert = cert,
	                             .cert_len = cert_len,
	                             .sign = junk_sign,
	                             .sign_arg = &sig_len};
	uint8_t *der;
	assert_int_equal(cms_build_signed(&p, &der, out_len), 0);
	free(subject);
	free(cert);
	mbedtls_pk_free(&key);
	mbedtls_pk_free(&issuer_key);
	mbedtls_x509_crt_free(&issuer);
	return der;
}

static void check_with(struct verify_ca_cache *c, const uint8_t *der, size_t len,
                       struct verify_result *r)
{
	const char *detail;
	assert_int_equal(verify_submission(fx->store, c, der, len, NULL, 0, NOW, r, &detail), 0);
}

/* An RSA-8192 key with an 8191-bit public exponent costs hundreds of times
 * a normal verification. From an issuer that is not kensho's it costs no
 * public-key operation at all; from a kensho CA's name it is refused by the
 * key limits before any operation, with a reason that says what is taken. */
static void test_expensive_keys_cost_nothing(void **state)
{
	uint8_t huge_e[1024];
	memset(huge_e, 0, sizeof huge_e);
	huge_e[0] = 0x40; /* 2^8190 + 1: odd, below n */
	huge_e[sizeof huge_e - 1] = 0x01;
	static const uint8_t f4[] = {0x01, 0x00, 0x01};
	struct verify_result r;
	size_t len;

	uint8_t *der = cms_with_signer_key("other-ca", 8192, huge_e, sizeof huge_e, &len);
	check_with(cas, der, len, &r);
	assert_string_equal(r.reason, "unknown_issuer");
	assert_int_equal(r.public_key_operations, 0);
	free(der);

	der = cms_with_signer_key("ca", 8192, huge_e, sizeof huge_e, &len);
	check_with(cas, der, len, &r);
	assert_string_equal(r.reason, "signer_key_not_accepted");
	assert_false(r.valid);
	assert_int_equal(r.public_key_operations, 0);
	assert_non_null(strstr(r.detail, "RSA-8192 with a public exponent of 8191 bits"));
	assert_non_null(strstr(r.detail, "RSA 2048..4096 bits with public exponent 3..65537"));
	struct buf b = {0};
	verify_result_json(&r, &b);
	buf_append(&b, "", 1);
	assert_non_null(
	        strstr((char *)b.data, "\"reason\":\"signer_key_not_accepted\",\"detail\":"));
	buf_free(&b);
	free(der);

	/* RSA-8192 with e = 65537: over the default max_rsa_bits (4096)... */
	der = cms_with_signer_key("ca", 8192, f4, sizeof f4, &len);
	check_with(cas, der, len, &r);
	assert_string_equal(r.reason, "signer_key_not_accepted");
	assert_int_equal(r.public_key_operations, 0);
	/* ...taken where verify.max_rsa_bits allows it: the CA's signature and
	 * the (junk) signature are then checked. */
	struct verify_key_limits wide = {.max_rsa_bits = 8192, .max_rsa_exponent = 65537};
	struct verify_ca_cache *wide_cas = verify_ca_cache_new(&wide);
	check_with(wide_cas, der, len, &r);
	assert_string_equal(r.reason, "bad_signature");
	assert_int_equal(r.public_key_operations, 2);
	free(der);

	/* an exponent over verify.max_rsa_exponent; e = 3 is within it */
	static const uint8_t e_over[] = {0x01, 0x00, 0x03};
	static const uint8_t e_three[] = {0x03};
	der = cms_with_signer_key("ca", 2048, e_over, sizeof e_over, &len);
	check_with(wide_cas, der, len, &r);
	assert_string_equal(r.reason, "signer_key_not_accepted");
	assert_int_equal(r.public_key_operations, 0);
	free(der);
	der = cms_with_signer_key("ca", 2048, e_three, sizeof e_three, &len);
	check_with(wide_cas, der, len, &r);
	assert_string_equal(r.reason, "bad_signature");
	free(der);
	verify_ca_cache_free(wide_cas);

	/* a real signature: the CA's and the signer's, two operations */
	uint8_t *good = fixture_file("attached.der", &len);
	check_with(cas, good, len, &r);
	assert_string_equal(r.reason, "ok");
	assert_int_equal(r.public_key_operations, 2);
	free(good);
}

/* A foreign issuer costs a look at the store's issuer ids, not a reload of
 * every CA certificate; a CA added to the store is still found. */
static void test_foreign_issuers_do_not_reload_the_cas(void **state)
{
	struct intake_fixture *own = intake_fixture_open();
	struct verify_ca_cache *c = verify_ca_cache_new(NULL);
	assert_non_null(own);
	size_t len;
	uint8_t *der = fixture_file("unknown.der", &len);
	struct verify_result r;
	const char *detail;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		        verify_submission(own->store, c, der, len, NULL, 0, NOW, &r, &detail), 0);
		assert_string_equal(r.reason, "unknown_issuer");
	}
	assert_int_equal(verify_ca_cache_loads(c), 1);

	struct store_txn *txn;
	assert_int_equal(store_txn_begin(own->store, true, &txn), 0);
	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, CMS_FIXTURES "/other-ca.pem"), 0);
	struct store_issuer issuer = {.kind = CERT_KIND_AUTH, .label = "other"};
	assert_int_equal(store_issuer_put(txn, &issuer, (struct store_blob){ca.raw.p, ca.raw.len}),
	                 0);
	mbedtls_x509_crt_free(&ca);
	assert_int_equal(store_txn_commit(txn), 0);

	assert_int_equal(verify_submission(own->store, c, der, len, NULL, 0, NOW, &r, &detail), 0);
	assert_int_equal(verify_ca_cache_loads(c), 2);
	assert_string_equal(r.issuer_label, "other"); /* found now: no longer unknown_issuer */
	assert_string_not_equal(r.reason, "unknown_issuer");
	free(der);
	verify_ca_cache_free(c);
	intake_fixture_close(own);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_inputs),
	        cmocka_unit_test(test_each_failure_has_its_reason),
	        cmocka_unit_test(test_altered_inputs),
	        cmocka_unit_test(test_garbage_and_missing_content_are_errors),
	        cmocka_unit_test(test_split_body),
	        cmocka_unit_test(test_result_json),
	        cmocka_unit_test(test_expensive_keys_cost_nothing),
	        cmocka_unit_test(test_foreign_issuers_do_not_reload_the_cas),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
