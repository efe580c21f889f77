/* Batch answers: one signed OCSP response that answers several certificates
 * of one issuer (RFC 6960 §4.2.2.3, RFC 9919 §2.2.1), stored once.
 *
 * `batches` holds the DER under a u64 id; each member's `responses` entry
 * (version 2) holds the record version it was signed for, its
 * thisUpdate/nextUpdate and the batch id, so the rule of certs.c is
 * unchanged: an entry answers only for the version it names, and a
 * revocation deletes the revoked certificate's entry in its own transaction
 * (the batch goes on answering the other members, whose records did not
 * change). `batch_refs` counts the entries that refer to a batch; the entry
 * that drops the last reference deletes the batch in the same transaction,
 * so no batch outlives the answers that use it. */
#include <errno.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

int batch_der(struct store_txn *txn, uint64_t id, struct store_blob *der)
{
	uint8_t k[8];
	put_be64(k, id);
	MDB_val key = {sizeof(k), k}, v;
	int rc = store_get(txn, DB_BATCHES, &key, &v);
	if (rc)
		return rc == -ENOENT ? -EIO : rc; /* a reference without its batch */
	const uint8_t *p = v.mv_data;
	if (v.mv_size < 2 || p[0] != CODEC_V1)
		return -EIO;
	der->data = p + 1;
	der->len = v.mv_size - 1;
	return 0;
}

/* Adds delta to a batch's reference count; at zero the batch is deleted. */
static int batch_refs_add(struct store_txn *txn, uint64_t id, int64_t delta)
{
	uint8_t k[8], v[5] = {CODEC_V1};
	put_be64(k, id);
	MDB_val key = {sizeof(k), k}, val;
	uint32_t count = 0;
	int rc = store_get(txn, DB_BATCH_REFS, &key, &val);
	if (rc == 0) {
		if (val.mv_size != sizeof(v) || ((const uint8_t *)val.mv_data)[0] != CODEC_V1)
			return -EIO;
		count = get_be32((const uint8_t *)val.mv_data + 1);
	} else if (rc != -ENOENT) {
		return rc;
	}
	int64_t left = (int64_t)count + delta;
	if (left < 0 || left > UINT32_MAX)
		return -EIO;
	if (left == 0) {
		rc = store_del(txn, DB_BATCH_REFS, &key);
		if (rc == 0 || rc == -ENOENT)
			rc = store_del(txn, DB_BATCHES, &key);
		return rc == -ENOENT ? 0 : rc;
	}
	put_be32(v + 1, (uint32_t)left);
	val = (MDB_val){sizeof(v), v};
	return store_put(txn, DB_BATCH_REFS, &key, &val, 0);
}

int response_release(struct store_txn *txn, enum store_db db, const uint8_t *key, size_t klen,
                     bool del)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = store_get(txn, db, &k, &v);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	struct response_head head;
	if (response_head_read(&v, &head) != 0)
		return -EIO;
	if (head.batch && (rc = batch_refs_add(txn, head.batch, -1)) != 0)
		return rc;
	if (!del)
		return 0;
	rc = store_del(txn, db, &k);
	return rc == -ENOENT ? 0 : rc;
}

/* Points one member's SHA-1 answer at batch `id`, if its record still has
 * the version signed for; m->result says what happened. */
static int member_put(struct store_txn *txn, uint32_t issuer_id, const struct store_response *r,
                      uint64_t id, struct store_batch_member *m)
{
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(issuer_id, &m->serial, key);
	if (key_len < 0)
		return key_len;
	struct store_cert c;
	int rc = store_cert_get(txn, issuer_id, &m->serial, &c);
	if (rc == -ENOENT || (rc == 0 && c.version != m->cert_version)) {
		m->result = rc ? rc : -ESTALE;
		return 0;
	}
	if (rc)
		return rc;
	int64_t was;
	rc = refresh_index_state(txn, key, (size_t)key_len, c.version, &was);
	if (rc == 0)
		rc = refresh_index_move(txn, key, (size_t)key_len, was, r->next_update, true);
	if (rc == 0)
		rc = response_release(txn, DB_RESPONSES, key, (size_t)key_len, false);
	if (rc)
		return rc;
	uint8_t value[RESPONSE_HEADER + 8];
	struct encoder e = {value, 0};
	enc_u8(&e, RESPONSE_V_BATCH);
	enc_u64(&e, c.version);
	enc_i64(&e, r->this_update);
	enc_i64(&e, r->next_update);
	enc_u64(&e, id);
	MDB_val k = {(size_t)key_len, key}, v = {sizeof(value), value};
	rc = store_put(txn, DB_RESPONSES, &k, &v, 0);
	m->result = rc;
	return rc;
}

int store_batch_put(struct store_txn *txn, uint32_t issuer_id,
                    const struct store_response *response, struct store_batch_member *members,
                    size_t count)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!response || !response->der.data || response->der.len == 0 ||
	    response->der.len > UINT32_MAX - 1 || !members || count == 0 || count > UINT32_MAX ||
	    (response->hash != 0 && response->hash != STORE_HASH_SHA1))
		return -EINVAL;
	uint64_t id;
	rc = store_last_seq(txn, DB_BATCHES, &id);
	if (rc)
		return rc;
	id++;
	uint32_t refs = 0;
	for (size_t i = 0; i < count; i++) {
		members[i].result = 0;
		rc = member_put(txn, issuer_id, response, id, &members[i]);
		if (rc)
			return rc;
		if (members[i].result == 0)
			refs++;
	}
	if (refs == 0)
		return 0; /* every member changed meanwhile: nothing refers to it */
	uint8_t k[8];
	put_be64(k, id);
	MDB_val key = {sizeof(k), k}, v = {1 + response->der.len, NULL};
	/* ids only grow while a batch is alive: the one just past the last */
	rc = store_put(txn, DB_BATCHES, &key, &v, MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	((uint8_t *)v.mv_data)[0] = CODEC_V1;
	memcpy((uint8_t *)v.mv_data + 1, response->der.data, response->der.len);
	uint8_t r[5] = {CODEC_V1};
	put_be32(r + 1, refs);
	MDB_val rv = {sizeof(r), r};
	return store_put(txn, DB_BATCH_REFS, &key, &rv, 0);
}

int store_batch_count(struct store_txn *txn, uint64_t *count)
{
	MDB_stat stat;
	*count = 0;
	if (!txn->store->has_batches)
		return 0;
	int rc = mdb_stat(txn->txn, txn->store->dbi[DB_BATCHES], &stat);
	if (rc)
		return store_error(rc);
	*count = stat.ms_entries;
	return 0;
}
