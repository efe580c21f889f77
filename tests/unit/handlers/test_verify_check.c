/* handlers/verify_check: each reason /v1/verify and /v1/intake can give, for
 * inputs made by `openssl cms -sign` (tests/unit/tls/cms/make_fixtures.py)
 * against a store that knows the test CA. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "handlers/verify.h"
#include "intake_fixture.h"

#define NOW 1795000000 /* 2026-11-18: after REVOKED_AT */

static struct intake_fixture *fx;
static struct verify_ca_cache *cas;

static int setup(void **state)
{
	fx = intake_fixture_open();
	cas = verify_ca_cache_new();
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_inputs),
	        cmocka_unit_test(test_each_failure_has_its_reason),
	        cmocka_unit_test(test_altered_inputs),
	        cmocka_unit_test(test_garbage_and_missing_content_are_errors),
	        cmocka_unit_test(test_split_body),
	        cmocka_unit_test(test_result_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
