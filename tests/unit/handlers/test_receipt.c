/* handlers/receipt: the receipt key is made once with owner-only permissions, and
 * a receipt verifies with `openssl cms -verify -CAfile receipt.pem`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pki/cms.h"
#include "handlers/receipt.h"

static char dir[64];
static struct receipt_signer *signer;

static int setup(void **state)
{
	strcpy(dir, "/tmp/kensho-receipt-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return receipt_signer_open(dir, &signer);
}

static int teardown(void **state)
{
	receipt_signer_free(signer);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static const char result[] = "{\"valid\":true,\"reason\":\"ok\"}";

static struct receipt_fields fields(void)
{
	struct receipt_fields f = {
	        .number = 42,
	        .log_index = 77,
	        .received_at = 1795000000,
	        .result_json = result,
	        .result_json_len = sizeof result - 1,
	};
	memset(f.sha256, 0xab, sizeof f.sha256);
	return f;
}

static void test_key_created_owner_only_and_reused(void **state)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/ca/receipt.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	struct receipt_signer *again;
	assert_int_equal(receipt_signer_open(dir, &again), 0);
	const uint8_t *a, *b;
	size_t alen, blen;
	receipt_signer_cert(signer, &a, &alen);
	receipt_signer_cert(again, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	receipt_signer_free(again);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(receipt_signer_open(dir, &again), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_content_is_the_documented_json(void **state)
{
	struct receipt_fields f = fields();
	uint8_t *content;
	size_t len;
	assert_int_equal(receipt_content(&f, &content, &len), 0);
	const char *want =
	        "{\"version\":2,\"receipt\":42,\"log_index\":77,\"received_at\":\"2026-11-18T11:06:40Z\","
	        "\"sha256\":\"abababababababababababababababababababababababababababababababab\","
	        "\"result\":{\"valid\":true,\"reason\":\"ok\"}}";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(content, want, len);
	free(content);
}

static void test_receipt_verifies_with_openssl(void **state)
{
	struct receipt_fields f = fields();
	uint8_t *der, *again;
	size_t len, again_len;
	assert_int_equal(receipt_sign(signer, &f, &der, &len), 0);
	/* deterministic: a resubmission gets byte-identical receipts */
	assert_int_equal(receipt_sign(signer, &f, &again, &again_len), 0);
	assert_int_equal(len, again_len);
	assert_memory_equal(der, again, len);
	free(again);

	struct cms_signed_data sd;
	assert_int_equal(cms_decode(der, len, &sd), 0);
	assert_true(sd.has_signing_time);
	assert_int_equal(sd.signing_time, f.received_at);

	char path[128], out[128], cmd[512];
	snprintf(path, sizeof path, "%s/receipt.der", dir);
	snprintf(out, sizeof out, "%s/receipt.json", dir);
	FILE *fp = fopen(path, "wb");
	fwrite(der, 1, len, fp);
	fclose(fp);
	snprintf(cmd, sizeof cmd,
	         "openssl cms -verify -binary -inform DER -in %s -CAfile %s/ca/receipt.pem -out %s "
	         "2>/dev/null",
	         path, dir, out);
	assert_int_equal(system(cmd), 0);
	uint8_t *content;
	size_t content_len;
	assert_int_equal(receipt_content(&f, &content, &content_len), 0);
	char got[1024];
	fp = fopen(out, "rb");
	size_t n = fread(got, 1, sizeof got, fp);
	fclose(fp);
	assert_int_equal(n, content_len);
	assert_memory_equal(got, content, n);
	free(content);

	/* and a receipt altered in transit does not */
	uint8_t *at = memmem(der, len, "\"receipt\":42", 12);
	assert_non_null(at);
	at[11] = '3';
	fp = fopen(path, "wb");
	fwrite(der, 1, len, fp);
	fclose(fp);
	assert_int_not_equal(system(cmd), 0);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_created_owner_only_and_reused),
	        cmocka_unit_test(test_content_is_the_documented_json),
	        cmocka_unit_test(test_receipt_verifies_with_openssl),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
