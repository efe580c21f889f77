/* handlers/intake_commit: a batch commits with dense receipt numbers, each
 * receipt names its record, and the same bytes always get the first receipt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mbedtls/sha256.h>

#include "handlers/intake_commit.h"
#include "intake_fixture.h"
#include "pki/cms.h"
#include "handlers/receipt.h"
#include "pki/hash.h"
#include "pki/signer.h"

static struct intake_fixture *fx;
static struct receipt_signer *signer;

static int setup(void **state)
{
	fx = intake_fixture_open();
	if (!fx)
		return -1;
	return receipt_signer_open(fx->dir, &signer);
}

static int teardown(void **state)
{
	receipt_signer_free(signer);
	intake_fixture_close(fx);
	return 0;
}

static const char result[] = "{\"valid\":true}";

static void item_init(struct intake_item *it, const char *text)
{
	memset(it, 0, sizeof *it);
	it->original = (const uint8_t *)text;
	it->original_len = strlen(text);
	mbedtls_sha256_ret(it->original, it->original_len, it->digest, 0);
	it->received_at = 1795000000;
	it->result_json = (const uint8_t *)result;
	it->result_len = sizeof result - 1;
}

/* The receipt's JSON content names `number` and the original's digest. */
static void assert_receipt_names(const struct intake_item *it, uint64_t number)
{
	struct cms_signed_data sd;
	assert_int_equal(cms_decode(it->receipt_der, it->receipt_len, &sd), 0);
	char want[160], hex[65];
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", it->digest[i]);
	snprintf(want, sizeof want, "\"receipt\":%llu,", (unsigned long long)number);
	assert_non_null(memmem(sd.content.p, sd.content.len, want, strlen(want)));
	assert_non_null(memmem(sd.content.p, sd.content.len, hex, 64));
	/* and the Merkle log leaf that logs this very record */
	snprintf(want, sizeof want, "\"log_index\":%llu,", (unsigned long long)it->log_index);
	assert_non_null(memmem(sd.content.p, sd.content.len, want, strlen(want)));
	struct store_txn *txn;
	struct store_log_leaf leaf;
	assert_int_equal(store_txn_begin(fx->store, false, &txn), 0);
	assert_int_equal(store_log_leaf_get(txn, it->log_index, &leaf), 0);
	store_txn_abort(txn);
	assert_int_equal(leaf.type, STORE_LOG_INTAKE);
	assert_int_equal(leaf.record, number);
}

static void test_batch_numbers_and_dedup(void **state)
{
	struct intake_item a, b, a_again, c;
	item_init(&a, "application A");
	item_init(&b, "application B");
	item_init(&a_again, "application A"); /* the same bytes twice in one batch */
	struct intake_item *batch[] = {&a, &b, &a_again};
	uint64_t next = 0; /* unknown: receipts are signed inside the transaction */
	assert_int_equal(intake_commit(fx->store, signer, NULL, batch, 3, &next), 0);
	assert_int_equal(a.receipt, 1);
	assert_false(a.existed);
	assert_int_equal(b.receipt, 2);
	assert_int_equal(a_again.receipt, 1);
	assert_true(a_again.existed);
	assert_int_equal(a_again.receipt_len, a.receipt_len);
	assert_memory_equal(a_again.receipt_der, a.receipt_der, a.receipt_len);
	assert_receipt_names(&a, 1);
	assert_receipt_names(&b, 2);
	assert_int_equal(next, 3);

	/* an audit record takes the log's next leaf in between */
	struct store_txn *wtxn;
	struct store_audit audit = {.time = 1795000001, .action = "revoke", .actor = "cli"};
	assert_int_equal(store_txn_begin(fx->store, true, &wtxn), 0);
	assert_int_equal(store_audit_append(wtxn, &audit), 0);
	assert_int_equal(store_txn_commit(wtxn), 0);

	/* a later batch, predicted wrongly (as when another process wrote in
	 * between): the presigned receipt is replaced by one with the right number */
	item_init(&c, "application C");
	struct intake_item *later[] = {&c, &b};
	uint64_t wrong = 1000;
	assert_int_equal(intake_commit(fx->store, signer, NULL, later, 2, &wrong), 0);
	assert_int_equal(wrong, 4);
	assert_int_equal(c.receipt, 3);
	assert_true(b.existed);
	assert_int_equal(b.receipt, 2);
	assert_receipt_names(&c, 3);
	assert_int_equal(c.log_index, 3); /* leaves 0, 1: A and B; 2: the audit record */

	/* what was committed is what GET /v1/intake/{n} reads */
	struct store_txn *txn;
	struct store_intake rec;
	assert_int_equal(store_txn_begin(fx->store, false, &txn), 0);
	assert_int_equal(store_intake_get(txn, 3, &rec), 0);
	assert_int_equal(rec.original.len, strlen("application C"));
	assert_memory_equal(rec.original.data, "application C", rec.original.len);
	assert_int_equal(rec.receipt_der.len, c.receipt_len);
	assert_memory_equal(rec.receipt_der.data, c.receipt_der, c.receipt_len);
	assert_int_equal(store_intake_get(txn, 4, &rec), -ENOENT);
	store_txn_abort(txn);

	struct intake_item *all[] = {&a, &b, &a_again, &c};
	for (int i = 0; i < 4; i++)
		free(all[i]->receipt_der);
}

static void test_many_batches_stay_dense(void **state)
{
	enum { N = 40 };
	static char texts[N][32];
	struct intake_item items[N], *batch[N];
	for (int i = 0; i < N; i++) {
		snprintf(texts[i], sizeof texts[i], "bulk application %d", i);
		item_init(&items[i], texts[i]);
		batch[i] = &items[i];
	}
	/* batches of 1, 2, 3, ..., each predicted by the previous commit */
	uint64_t first = 0, next = 0;
	for (int at = 0, size = 1; at < N; at += size, size++) {
		int n = at + size > N ? N - at : size;
		assert_int_equal(intake_commit(fx->store, signer, NULL, batch + at, n, &next), 0);
		assert_int_equal(next, items[at + n - 1].receipt + 1);
		if (at == 0)
			first = items[0].receipt;
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(items[i].receipt, first + i);
		assert_receipt_names(&items[i], first + i);
		free(items[i].receipt_der);
	}
}

/* With evidence sources, a new record keeps the signer's chain (its
 * certificate, then its CA's), the issuer's CRL number, and a timestamp
 * token over the SHA-256 of the signature value; a resubmission keeps the
 * first record's. (The test CA stands in for the time-stamping unit; the
 * OCSP answer needs responders and is covered by test_intake_export.py.) */
static void test_evidence_is_stored(void **state)
{
	size_t cms_len, signer_len, ca_len;
	uint8_t *cms = fixture_file("attached.der", &cms_len);
	uint8_t *signer_der = fixture_file("signer.der", &signer_len);
	assert_non_null(cms);
	assert_non_null(signer_der);
	struct store_txn *txn;
	struct store_issuer issuer;
	struct store_blob ca;
	assert_int_equal(store_txn_begin(fx->store, false, &txn), 0);
	assert_int_equal(store_issuer_by_label(txn, "sign", &issuer), 0);
	assert_int_equal(store_issuer_cert(txn, issuer.id, &ca), 0);
	uint8_t *ca_der = malloc(ca.len);
	memcpy(ca_der, ca.data, ca.len);
	ca_len = ca.len;
	store_txn_abort(txn);

	struct intake_evidence_sources sources = {.store = fx->store, .tsa_policy = "1.2.3.4"};
	assert_int_equal(
	        pki_signer_load(CMS_FIXTURES "/ca.pem", CMS_FIXTURES "/ca.key", &sources.tsa), 0);
	struct intake_item it, again;
	item_init(&it, "");
	it.original = cms;
	it.original_len = it.cms_len = cms_len;
	pki_sha256(cms, cms_len, it.digest);
	it.issuer_id = issuer.id;
	again = it;
	uint64_t next = 0;
	struct intake_item *batch[] = {&it};
	assert_int_equal(intake_commit(fx->store, signer, &sources, batch, 1, &next), 0);
	struct intake_item *batch2[] = {&again};
	assert_int_equal(intake_commit(fx->store, signer, &sources, batch2, 1, &next), 0);
	assert_true(again.existed);
	assert_null(it.evidence.timestamp); /* released by intake_commit */

	struct cms_signed_data sd;
	assert_int_equal(cms_decode(cms, cms_len, &sd), 0);
	uint8_t imprint[32];
	pki_sha256(sd.signature.p, sd.signature.len, imprint);
	struct store_intake rec;
	assert_int_equal(store_txn_begin(fx->store, false, &txn), 0);
	assert_int_equal(store_intake_get(txn, it.receipt, &rec), 0);
	assert_int_equal(rec.version, 2);
	assert_int_equal(rec.evidence.chain.len, signer_len + ca_len);
	assert_memory_equal(rec.evidence.chain.data, signer_der, signer_len);
	assert_memory_equal(rec.evidence.chain.data + signer_len, ca_der, ca_len);
	assert_int_equal(rec.evidence.crl_number, issuer.crl_number);
	assert_int_equal(rec.evidence.ocsp.len, 0); /* no responders given */
	assert_true(rec.evidence.timestamp.len > 0);
	assert_non_null(
	        memmem(rec.evidence.timestamp.data, rec.evidence.timestamp.len, imprint, 32));
	uint64_t count = 0, n;
	for (n = 1; store_intake_get(txn, n, &rec) == 0; n++)
		count++;
	store_txn_abort(txn);
	assert_int_equal(count, it.receipt); /* the resubmission added nothing */

	pki_signer_free(sources.tsa);
	free(it.receipt_der);
	free(again.receipt_der);
	free(ca_der);
	free(signer_der);
	free(cms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_batch_numbers_and_dedup),
	        cmocka_unit_test(test_many_batches_stay_dense),
	        cmocka_unit_test(test_evidence_is_stored),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
