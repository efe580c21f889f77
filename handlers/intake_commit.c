/* One write transaction per batch of intake submissions: see intake_commit.h. */
#include "handlers/intake_commit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "tls/receipt.h"

#define INTAKE_COMMIT_ATTEMPTS 4 /* map growth (-EAGAIN) redoes the batch */

static void items_reset(struct intake_item *const *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i]->receipt_der);
		items[i]->receipt_der = NULL;
		items[i]->receipt_len = 0;
		items[i]->receipt = 0;
		items[i]->existed = false;
	}
}

static int copy_receipt(struct intake_item *it, const struct store_blob *der)
{
	it->receipt_der = malloc(der->len ? der->len : 1);
	if (!it->receipt_der)
		return -ENOMEM;
	memcpy(it->receipt_der, der->data, der->len);
	it->receipt_len = der->len;
	return 0;
}

/* Stores one submission in txn, or finds the receipt it already has. The
 * receipt names the number store_intake_put will assign: it is signed inside
 * the transaction, where no other writer can take that number, and the
 * assignment is checked. */
static int store_one(struct store_txn *txn, struct receipt_signer *signer, struct intake_item *it)
{
	uint64_t existing;
	struct store_intake rec;
	int rc = store_intake_find(txn, it->digest, &existing);
	if (rc == 0) {
		/* Resubmitted (or twice in one batch): the first receipt stands. */
		if ((rc = store_intake_get(txn, existing, &rec)) < 0)
			return rc;
		it->existed = true;
		it->receipt = existing;
		return copy_receipt(it, &rec.receipt_der);
	}
	if (rc != -ENOENT)
		return rc;
	uint64_t number;
	if ((rc = store_intake_next_receipt(txn, &number)) < 0)
		return rc;
	struct receipt_fields f = {
	        .number = number,
	        .received_at = it->received_at,
	        .result_json = (const char *)it->result_json,
	        .result_json_len = it->result_len,
	};
	memcpy(f.sha256, it->digest, sizeof f.sha256);
	if ((rc = receipt_sign(signer, &f, &it->receipt_der, &it->receipt_len)) < 0)
		return rc;
	rec = (struct store_intake){
	        .received_at = it->received_at,
	        .original = {it->original, it->original_len},
	        .result = {it->result_json, it->result_len},
	        .receipt_der = {it->receipt_der, it->receipt_len},
	};
	memcpy(rec.digest, it->digest, sizeof rec.digest);
	if ((rc = store_intake_put(txn, &rec)) < 0)
		return rc == -EEXIST ? -EIO : rc; /* find said absent in this txn */
	if (rec.receipt != f.number)
		return -EIO; /* the number signed is not the number stored */
	it->receipt = f.number;
	return 0;
}

int intake_commit(struct store *store, struct receipt_signer *signer,
                  struct intake_item *const *items, size_t n)
{
	int rc = -EAGAIN;
	for (int attempt = 0; attempt < INTAKE_COMMIT_ATTEMPTS && rc == -EAGAIN; attempt++) {
		items_reset(items, n);
		struct store_txn *txn;
		if ((rc = store_txn_begin(store, true, &txn)) < 0)
			break;
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = store_one(txn, signer, items[i]);
		if (rc < 0) {
			store_txn_abort(txn);
			continue;
		}
		/* Returns after fsync: only now may anyone be told. */
		rc = store_txn_commit(txn);
	}
	if (rc < 0)
		items_reset(items, n);
	return rc;
}
