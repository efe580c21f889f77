/* ca/log: signing tree heads under the lease, verifying a store's log and
 * every head's signature, and exporting one leaf's proof, checked by the
 * auditor's python snippet of docs/log.md (run as written there). */
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
#include <mbedtls/sha256.h>

#include "ca/log.h"
#include "core/buf.h"
#include "pki/signer.h"

static char dir[256];
static struct store *store;

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kensho-test-log-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char path[512], key_pem[4096], cert_pem[4096];
	snprintf(path, sizeof path, "%s/ca", dir);
	mkdir(path, 0755);
	struct pki_self_signed what = {.subject = "C=JP,O=kensho,CN=kensho intake receipts",
	                               .key_bits = 2048,
	                               .not_before = 1700000000,
	                               .not_after = 1900000000};
	if (pki_self_signed_create(&what, key_pem, sizeof key_pem, cert_pem, sizeof cert_pem))
		return -1;
	snprintf(path, sizeof path, "%s/ca/receipt.key", dir);
	write_file(path, key_pem, strlen(key_pem), 0600);
	snprintf(path, sizeof path, "%s/ca/receipt.pem", dir);
	write_file(path, cert_pem, strlen(cert_pem), 0644);
	return ca_store_open(dir, &store);
}

static int teardown(void **state)
{
	(void)state;
	store_close(store);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static const char original[] = "application: change of address\n";

static void add_records(int audits, bool intake)
{
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(store, true, &txn), 0);
	for (int i = 0; i < audits; i++) {
		struct store_audit a = {.time = 1796000000 + i, .actor = "cli", .action = "issue"};
		snprintf(a.subject, sizeof a.subject, "sign/%02x", i);
		assert_int_equal(store_audit_append(txn, &a), 0);
	}
	if (intake) {
		struct store_intake r = {
		        .received_at = 1796000100,
		        .original = {(const uint8_t *)original, strlen(original)},
		        .result = {(const uint8_t *)"{\"valid\":true}", 14},
		        .receipt_der = {(const uint8_t *)"receipt", 7},
		};
		mbedtls_sha256_ret((const uint8_t *)original, strlen(original), r.digest, 0);
		assert_int_equal(store_intake_put(txn, &r), 0);
	}
	assert_int_equal(store_txn_commit(txn), 0);
}

static void test_sign_under_lease_once_per_size(void **state)
{
	(void)state;
	struct ca_sth_signer *s;
	char key[512];
	snprintf(key, sizeof key, "%s/ca/receipt.key", dir);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(ca_sth_signer_open(dir, &s), -EPERM);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(ca_sth_signer_open(dir, &s), 0);

	uint64_t size;
	/* an empty log: nothing to sign */
	assert_int_equal(ca_sth_sign_due(s, store, 1, 1796000000000, 30, &size), 0);
	assert_int_equal(size, 0);
	add_records(3, true);
	assert_int_equal(ca_sth_sign_due(s, store, 1, 1796000001000, 30, &size), 0);
	assert_int_equal(size, 4);
	/* not grown: no second signature */
	assert_int_equal(ca_sth_sign_due(s, store, 1, 1796000002000, 30, &size), 0);
	assert_int_equal(size, 0);
	add_records(1, false);
	/* another process while the lease runs: refused */
	assert_int_equal(ca_sth_sign_due(s, store, 2, 1796000003000, 30, &size), -EBUSY);
	assert_int_equal(size, 0);
	assert_int_equal(ca_sth_sign_due(s, store, 1, 1796000003000, 30, &size), 0);
	assert_int_equal(size, 5);
	/* the lease given up, the other takes over; nothing is due */
	assert_int_equal(ca_sth_release(store, 1), 0);
	assert_int_equal(ca_sth_sign_due(s, store, 2, 1796000004000, 30, &size), 0);
	assert_int_equal(size, 0);
	ca_sth_signer_free(s);

	struct ca_log_verify_report report;
	char err[CA_ERR_LEN] = "";
	assert_int_equal(ca_log_verify(store, dir, &report, err), 0);
	if (report.bad)
		fail_msg("%s", report.problem);
	assert_int_equal(report.signatures, 2);
	assert_int_equal(report.log.sths, 2);
	assert_int_equal(report.log.leaves, 5);

	struct store_txn *txn;
	struct store_sth sth;
	assert_int_equal(store_txn_begin(store, false, &txn), 0);
	assert_int_equal(store_sth_latest(txn, &sth), 0);
	struct buf b = {0};
	ca_log_sth_json(&b, &sth);
	store_txn_abort(txn);
	assert_false(b.failed);
	buf_append(&b, "", 1);
	assert_non_null(strstr((const char *)b.data, "{\"tree_size\":5,\"timestamp\":1796000003000,"
	                                             "\"sha256_root_hash\":\""));
	assert_non_null(strstr((const char *)b.data, "\"tree_head_signature\":\""));
	buf_free(&b);
}

/* The python block of docs/log.md between its auditor-snippet markers. */
static void extract_snippet(const char *out_path)
{
	FILE *f = fopen(SOURCE_DIR "/docs/log.md", "rb");
	assert_non_null(f);
	static char text[65536];
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *start = strstr(text, "<!-- auditor-snippet -->\n```python\n");
	assert_non_null(start);
	start = strchr(strchr(start, '\n') + 1, '\n') + 1;
	char *end = strstr(start, "```\n<!-- /auditor-snippet -->");
	assert_non_null(end);
	write_file(out_path, start, (size_t)(end - start), 0755);
}

static int run_snippet(const char *bundle, const char *original_path)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "python3 %s/check_log.py %s %s/ca/receipt.pem %s >/dev/null 2>&1",
	         dir, bundle, dir, original_path ? original_path : "");
	return system(cmd);
}

static void flip(const char *path, long at)
{
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, at, SEEK_SET);
	int c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ 1, f);
	fclose(f);
}

static void test_export_checked_by_the_documented_snippet(void **state)
{
	(void)state;
	add_records(2, true); /* leaves 0, 1: audit; 2: intake */
	char bundle[300], err[CA_ERR_LEN] = "", path[512], original_path[300];
	snprintf(bundle, sizeof bundle, "%s/bundle", dir);
	/* no tree head yet */
	assert_int_equal(ca_log_export(store, 2, bundle, err), -ENOENT);
	assert_non_null(strstr(err, "no signed tree head covers leaf 2"));
	struct ca_sth_signer *s;
	uint64_t size;
	assert_int_equal(ca_sth_signer_open(dir, &s), 0);
	assert_int_equal(ca_sth_sign_due(s, store, 7, 1796000000000, 30, &size), 0);
	assert_int_equal(size, 3);
	add_records(5, false); /* the latest STH is larger than the leaf's tree */
	assert_int_equal(ca_sth_sign_due(s, store, 7, 1796000060000, 30, &size), 0);
	assert_int_equal(size, 8);
	ca_sth_signer_free(s);
	assert_int_equal(ca_log_export(store, 8, bundle, err), -ENOENT);
	assert_int_equal(ca_log_export(store, 2, bundle, err), 0);

	snprintf(path, sizeof path, "%s/check_log.py", dir);
	extract_snippet(path);
	snprintf(original_path, sizeof original_path, "%s/original.txt", dir);
	write_file(original_path, original, strlen(original), 0644);
	assert_int_equal(run_snippet(bundle, original_path), 0);
	assert_int_equal(run_snippet(bundle, NULL), 0);
	/* another original */
	write_file(original_path, "forged", 6, 0644);
	assert_int_not_equal(run_snippet(bundle, original_path), 0);

	/* each part changed is refused */
	static const struct {
		const char *file;
		long at;
	} changes[] = {{"leaf.bin", 50}, {"sth.sig", 10}, {"sth.bin", 30}};
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", bundle, changes[i].file);
		flip(path, changes[i].at);
		if (run_snippet(bundle, NULL) == 0)
			fail_msg("the snippet accepted a changed %s", changes[i].file);
		flip(path, changes[i].at);
		assert_int_equal(run_snippet(bundle, NULL), 0);
	}
	/* an audit path of another leaf */
	assert_int_equal(ca_log_export(store, 5, bundle, err), 0);
	assert_int_equal(run_snippet(bundle, NULL), 0);
	char other[300];
	snprintf(other, sizeof other, "%s/other", dir);
	assert_int_equal(ca_log_export(store, 2, other, err), 0);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "cp %s/proof.json %s/proof.json", other, bundle);
	assert_int_equal(system(cmd), 0);
	assert_int_not_equal(run_snippet(bundle, NULL), 0);
}

static void test_verify_reports_a_bad_signature(void **state)
{
	(void)state;
	add_records(3, false);
	struct ca_sth_signer *s;
	uint64_t size;
	assert_int_equal(ca_sth_signer_open(dir, &s), 0);
	assert_int_equal(ca_sth_sign_due(s, store, 1, 1796000000000, 30, &size), 0);
	ca_sth_signer_free(s);
	/* another key in receipt.pem's place: no head verifies */
	char key_pem[4096], cert_pem[4096], path[512];
	struct pki_self_signed what = {.subject = "CN=someone else",
	                               .key_bits = 2048,
	                               .not_before = 1700000000,
	                               .not_after = 1900000000};
	assert_int_equal(
	        pki_self_signed_create(&what, key_pem, sizeof key_pem, cert_pem, sizeof cert_pem),
	        0);
	snprintf(path, sizeof path, "%s/ca/receipt.pem", dir);
	write_file(path, cert_pem, strlen(cert_pem), 0644);
	struct ca_log_verify_report report;
	char err[CA_ERR_LEN] = "";
	assert_int_equal(ca_log_verify(store, dir, &report, err), 0);
	assert_true(report.bad);
	assert_non_null(strstr(report.problem, "signed tree head of 3 leaves has a signature"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_sign_under_lease_once_per_size, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_export_checked_by_the_documented_snippet,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_verify_reports_a_bad_signature, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
