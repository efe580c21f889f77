/* One write transaction per batch of intake submissions: see intake_commit.h.
 *
 * A receipt names its own number, which store_intake_put assigns (the next in
 * sequence) inside the write transaction. Signing a receipt costs an RSA
 * private-key operation (about 1.7 ms with mbedTLS 2.28), and LMDB has one
 * writer per environment across all processes: signing a batch inside the
 * transaction would hold that lock (and delay revocations) for the whole
 * batch. So receipts are signed before the transaction with the numbers the
 * previous commit predicts, and the transaction only checks each prediction:
 * when another writer took numbers in between (another worker process, or
 * the first batch after start when nothing is predicted yet), the receipts
 * that no longer fit are signed again inside the transaction.
 *
 * A receipt also names the record's leaf in the Merkle log, which the put
 * appends as the log's next leaf (audit records take leaves too): it is
 * predicted and checked the same way. */
#include "handlers/intake_commit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "handlers/receipt.h"

#define INTAKE_COMMIT_ATTEMPTS 4 /* map growth (-EAGAIN) redoes the batch */

static void item_clear(struct intake_item *it)
{
	free(it->receipt_der);
	it->receipt_der = NULL;
	it->receipt_len = 0;
	it->receipt = 0;
	it->log_index = 0;
	it->existed = false;
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

/* Signs the item's receipt as number `number` at leaf `log_index`
 * (deterministic: the same item and numbers always give the same bytes). */
static int sign_as(struct receipt_signer *signer, struct intake_item *it, uint64_t number,
                   uint64_t log_index)
{
	item_clear(it);
	struct receipt_fields f = {
	        .number = number,
	        .log_index = log_index,
	        .received_at = it->received_at,
	        .result_json = (const char *)it->result_json,
	        .result_json_len = it->result_len,
	};
	memcpy(f.sha256, it->digest, sizeof f.sha256);
	int rc = receipt_sign(signer, &f, &it->receipt_der, &it->receipt_len);
	if (rc == 0) {
		it->receipt = number;
		it->log_index = log_index;
	}
	return rc;
}

static bool same_digest_earlier(struct intake_item *const *items, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (memcmp(items[j]->digest, items[i]->digest, sizeof items[i]->digest) == 0)
			return true;
	return false;
}

/* Outside any write transaction: signs the receipts of the items that look
 * new, numbered from `next`. Items already stored or repeated in the batch
 * get no receipt here. Returns 0 or a negative errno. */
static int presign(struct store *store, struct receipt_signer *signer,
                   struct intake_item *const *items, size_t n, uint64_t next)
{
	struct store_txn *txn;
	uint64_t leaf;
	int rc = store_txn_begin(store, false, &txn);
	if (rc < 0)
		return rc;
	if ((rc = store_log_size(txn, &leaf)) < 0) {
		store_txn_abort(txn);
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t existing;
		int found = store_intake_find(txn, items[i]->digest, &existing);
		if (found == 0 || same_digest_earlier(items, i))
			continue;
		if (found != -ENOENT)
			rc = found;
		else
			rc = sign_as(signer, items[i], next++, leaf++);
	}
	store_txn_abort(txn);
	return rc;
}

/* Stores one submission in txn, or finds the receipt it already has. The
 * receipt must name the number store_intake_put assigns: a presigned one is
 * kept only if its number is that one, and the assignment is checked. */
static int store_one(struct store_txn *txn, struct receipt_signer *signer, struct intake_item *it)
{
	uint64_t existing, number, leaf;
	struct store_intake rec;
	int rc = store_intake_find(txn, it->digest, &existing);
	if (rc == 0) {
		/* Resubmitted (or twice in one batch): the first receipt stands. */
		if ((rc = store_intake_get(txn, existing, &rec)) < 0)
			return rc;
		item_clear(it);
		it->existed = true;
		it->receipt = existing;
		return copy_receipt(it, &rec.receipt_der);
	}
	if (rc != -ENOENT)
		return rc;
	if ((rc = store_intake_next_receipt(txn, &number)) < 0 ||
	    (rc = store_log_size(txn, &leaf)) < 0)
		return rc;
	if (!it->receipt_der || it->existed || it->receipt != number || it->log_index != leaf)
		if ((rc = sign_as(signer, it, number, leaf)) < 0)
			return rc;
	const struct intake_evidence *ev = &it->evidence;
	rec = (struct store_intake){
	        .received_at = it->received_at,
	        .original = {it->original, it->original_len},
	        .result = {it->result_json, it->result_len},
	        .receipt_der = {it->receipt_der, it->receipt_len},
	        .evidence = {.chain = {ev->chain, ev->chain_len},
	                     .ocsp = {ev->ocsp, ev->ocsp_len},
	                     .crl_number = ev->crl_number,
	                     .timestamp = {ev->timestamp, ev->timestamp_len}},
	};
	memcpy(rec.digest, it->digest, sizeof rec.digest);
	if ((rc = store_intake_put(txn, &rec)) < 0)
		return rc == -EEXIST ? -EIO : rc; /* find said absent in this txn */
	if (rec.receipt != number)
		return -EIO; /* the number signed is not the number stored */
	uint64_t after;
	if ((rc = store_log_size(txn, &after)) < 0)
		return rc;
	if (after != leaf + 1)
		return -EIO; /* the leaf signed is not the leaf logged */
	return 0;
}

/* Outside any transaction (signing an OCSP answer commits its own): the
 * evidence of this moment for every item. An item found stored meanwhile
 * keeps its first evidence; what was gathered for it is dropped. */
static int gather_evidence(struct intake_evidence_sources *src, struct intake_item *const *items,
                           size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct intake_item *it = items[i];
		int rc = intake_evidence_gather(src, it->original, it->cms_len, it->issuer_id,
		                                it->received_at, &it->evidence);
		if (rc < 0) /* -EAGAIN means map growth below: this is another */
			return rc == -EAGAIN ? -EBUSY : rc;
	}
	return 0;
}

int intake_commit(struct store *store, struct receipt_signer *signer,
                  struct intake_evidence_sources *evidence, struct intake_item *const *items,
                  size_t n, uint64_t *next_hint)
{
	for (size_t i = 0; i < n; i++)
		item_clear(items[i]);
	int rc = evidence ? gather_evidence(evidence, items, n) : 0;
	if (rc == 0 && *next_hint)
		rc = presign(store, signer, items, n, *next_hint);
	if (rc == 0)
		rc = -EAGAIN;
	for (int attempt = 0; attempt < INTAKE_COMMIT_ATTEMPTS && rc == -EAGAIN; attempt++) {
		struct store_txn *txn;
		uint64_t next = 0;
		if ((rc = store_txn_begin(store, true, &txn)) < 0)
			break;
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = store_one(txn, signer, items[i]);
		if (rc == 0)
			rc = store_intake_next_receipt(txn, &next);
		if (rc < 0) {
			store_txn_abort(txn);
			continue;
		}
		/* Returns after fsync: only now may anyone be told. */
		rc = store_txn_commit(txn);
		if (rc == 0)
			*next_hint = next;
	}
	for (size_t i = 0; i < n; i++) {
		intake_evidence_clear(&items[i]->evidence);
		if (rc < 0)
			item_clear(items[i]);
	}
	return rc;
}
