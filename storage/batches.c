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
 * so no batch outlives the answers that use it.
 *
 * A batch signed before a revocation still says `good` for the revoked
 * member, so a revocation also takes the batch away from the others
 * (batch_invalidate): from its commit on, no bytes kenshod serves say good
 * for it, whichever certificate they were asked for. The others are missing
 * again, first in the refresher's line.
 *
 * A batch's value is kept in records small enough to stay inside LMDB's
 * leaf pages (store_inline_max): on a 10,000,000-person store, while
 * batches took overflow pages, the refresher spent most of its time in
 * LMDB's search of the free list for contiguous runs. */
#include <errno.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

/* A batch is records of `batches`: under the u64 id, u8 2, u8 the number
 * of records, u32 the DER's length, u16 n, n × (u8 length + certs key) of
 * the members cached with it, then the DER's first bytes; under the id and
 * u8 1, 2, ..., the DER's next bytes. The member list lets a revocation
 * find the others. A store written before may hold version 1 records: u8
 * 1, u16 n, the members, then the whole DER, in one value. */
#define BATCH_V_CHUNKED 2
#define BATCH_RECORDS_MAX 255

struct batch_view {
	const uint8_t *members; /* the n keys, each after its length octet */
	size_t count;
	unsigned records; /* of `batches` under this id */
	struct store_blob der;
};

static size_t chunk_key(uint64_t id, unsigned record, uint8_t out[9])
{
	put_be64(out, id);
	out[8] = (uint8_t)record;
	return record ? 9 : 8;
}

/* The DER of a chunked batch, gathered into the transaction's scratch
 * buffer (valid until the transaction ends or gathers again). `c` stands on
 * the first record; the others follow it in key order, so each is the next
 * step of the cursor rather than a new descent of the tree. */
static int chunks_gather(struct store_txn *txn, MDB_cursor *c, uint64_t id, const uint8_t *first,
                         size_t first_len, size_t total, unsigned records, struct store_blob *der)
{
	struct buf *b = &txn->scratch;
	if (first_len > total)
		return -EIO;
	buf_reset(b);
	buf_append(b, first, first_len);
	for (unsigned i = 1; i < records; i++) {
		uint8_t k[9];
		size_t klen = chunk_key(id, i, k);
		MDB_val key, v;
		int rc = store_error(mdb_cursor_get(c, &key, &v, MDB_NEXT));
		if (rc)
			return rc == -ENOENT ? -EIO : rc;
		if (key.mv_size != klen || memcmp(key.mv_data, k, klen) != 0)
			return -EIO; /* a record of the batch is missing */
		if (v.mv_size == 0 || v.mv_size > total - b->len)
			return -EIO;
		buf_append(b, v.mv_data, v.mv_size);
	}
	if (b->failed) {
		buf_free(b); /* clears failed for the next use */
		return -ENOMEM;
	}
	if (b->len != total)
		return -EIO;
	der->data = b->data;
	der->len = total;
	return 0;
}

/* batch_read through cursor c, which it leaves on the last record read. */
static int batch_read_at(struct store_txn *txn, MDB_cursor *c, uint64_t id, struct batch_view *out,
                         bool with_der)
{
	uint8_t k[9];
	MDB_val key = {chunk_key(id, 0, k), k}, v;
	int rc = store_error(mdb_cursor_get(c, &key, &v, MDB_SET_KEY));
	if (rc)
		return rc == -ENOENT ? -EIO : rc; /* a reference without its batch */
	const uint8_t *p = v.mv_data, *end = p + v.mv_size;
	size_t total = 0;
	out->records = 1;
	if (v.mv_size >= 3 && p[0] == CODEC_V1) {
		p += 1;
	} else if (v.mv_size >= 8 && p[0] == BATCH_V_CHUNKED && p[1] >= 1) {
		out->records = p[1];
		total = get_be32(p + 2);
		p += 6;
	} else {
		return -EIO;
	}
	out->count = (size_t)p[0] << 8 | p[1];
	p += 2;
	out->members = p;
	for (size_t i = 0; i < out->count; i++) {
		if (p >= end || *p < 5 || *p > CERT_KEY_MAX || end - p < 1 + *p)
			return -EIO;
		p += 1 + *p;
	}
	if (out->records == 1 && p >= end)
		return -EIO;
	if (!with_der)
		return 0;
	if (out->records == 1 && (!total || total == (size_t)(end - p))) {
		out->der.data = p;
		out->der.len = (size_t)(end - p);
		return 0;
	}
	return chunks_gather(txn, c, id, p, (size_t)(end - p), total, out->records, &out->der);
}

/* Reads the members; with der, the DER too. */
static int batch_read(struct store_txn *txn, uint64_t id, struct batch_view *out,
                      bool with_der)
{
	MDB_cursor *c;
	int rc = store_cursor(txn, DB_BATCHES, &c);
	if (rc)
		return rc;
	rc = batch_read_at(txn, c, id, out, with_der);
	mdb_cursor_close(c);
	return rc;
}

int batch_der(struct store_txn *txn, uint64_t id, struct store_blob *der)
{
	struct batch_view b;
	int rc = batch_read(txn, id, &b, true);
	if (rc == 0)
		*der = b.der;
	return rc;
}

/* Deletes every record of batch id. */
static int batch_del(struct store_txn *txn, uint64_t id)
{
	struct batch_view b;
	int rc = batch_read(txn, id, &b, false);
	if (rc == -EIO)
		return 0; /* gone already */
	for (unsigned i = b.records; rc == 0 && i-- > 0;) {
		uint8_t k[9];
		MDB_val key = {chunk_key(id, i, k), k};
		rc = store_del(txn, DB_BATCHES, &key);
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
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
			rc = batch_del(txn, id);
		return rc;
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

int batch_invalidate(struct store_txn *txn, uint64_t id)
{
	struct batch_view b;
	int rc = batch_read(txn, id, &b, false);
	if (rc)
		return rc;
	/* the keys are copied first: the deletes below may free the value */
	size_t n = b.count;
	uint8_t keys[OCSP_BATCH_MEMBERS_MAX][1 + CERT_KEY_MAX];
	if (n > OCSP_BATCH_MEMBERS_MAX)
		return -EIO;
	const uint8_t *p = b.members;
	for (size_t i = 0; i < n; i++) {
		memcpy(keys[i], p, 1 + (size_t)*p);
		p += 1 + *p;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const uint8_t *key = keys[i] + 1;
		size_t klen = keys[i][0];
		MDB_val k = {klen, (void *)key}, v;
		rc = store_get(txn, DB_RESPONSES, &k, &v);
		if (rc == -ENOENT) {
			rc = 0; /* revoked or replaced since */
			continue;
		}
		struct response_head head;
		if (rc == 0 && response_head_read(&v, &head) != 0)
			rc = -EIO;
		if (rc || head.batch != id)
			continue;
		/* missing again: first in line for the refresher */
		struct store_cert c;
		rc = store_cert_get_key(txn, key, klen, &c);
		int64_t was = 0;
		if (rc == 0)
			rc = refresh_index_state(txn, key, klen, c.version, &was);
		if (rc == 0)
			rc = refresh_index_move(txn, key, klen, was, 0, true);
		if (rc == 0)
			rc = response_release(txn, DB_RESPONSES, key, klen, true);
	}
	return rc;
}

/* Whether every member's record still has the version its SingleResponse
 * was signed for; members that changed get -ESTALE (-ENOENT: gone), the
 * others -ECANCELED when any did. */
static int members_current(struct store_txn *txn, uint32_t issuer_id,
                           struct store_batch_member *members, size_t count, bool *all)
{
	*all = true;
	for (size_t i = 0; i < count; i++) {
		struct store_cert c;
		int rc = store_cert_get(txn, issuer_id, &members[i].serial, &c);
		if (rc && rc != -ENOENT)
			return rc;
		members[i].result = rc ? rc : c.version != members[i].cert_version ? -ESTALE : 0;
		if (members[i].result)
			*all = false;
	}
	if (!*all)
		for (size_t i = 0; i < count; i++)
			if (members[i].result == 0)
				members[i].result = -ECANCELED;
	return 0;
}

/* Points one member's SHA-1 answer at batch `id` (its record is current). */
static int member_put(struct store_txn *txn, uint32_t issuer_id, const struct store_response *r,
                      uint64_t id, struct store_batch_member *m)
{
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(issuer_id, &m->serial, key);
	if (key_len < 0)
		return key_len;
	struct store_cert c;
	int rc = store_cert_get(txn, issuer_id, &m->serial, &c);
	if (rc)
		return rc; /* members_current saw it */
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
	    response->der.len > UINT32_MAX - 1 || !members || count == 0 ||
	    count > OCSP_BATCH_MEMBERS_MAX ||
	    (response->hash != 0 && response->hash != STORE_HASH_SHA1))
		return -EINVAL;
	/* one batch_refs entry per batch, under its id */
	uint64_t id;
	rc = store_last_seq(txn, DB_BATCH_REFS, &id);
	if (rc)
		return rc;
	id++;
	/* A member changed since it was read (a revocation): the bytes say
	 * what it was, so they may answer for none of them. */
	bool all;
	rc = members_current(txn, issuer_id, members, count, &all);
	if (rc || !all)
		return rc;
	uint32_t refs = 0;
	for (size_t i = 0; i < count; i++) {
		rc = member_put(txn, issuer_id, response, id, &members[i]);
		if (rc)
			return rc;
		refs++;
	}
	size_t list = 0;
	for (size_t i = 0; i < count; i++)
		if (members[i].result == 0)
			list += 1 + 4 + members[i].serial.len;
	size_t most = store_inline_max(txn, 9), head = 8 + list;
	if (head >= most)
		return -EINVAL; /* cannot happen with 32 members of 20-byte serials */
	size_t first = response->der.len < most - head ? response->der.len : most - head;
	size_t records = 1 + (response->der.len - first + most - 1) / most;
	if (records > BATCH_RECORDS_MAX)
		return -EFBIG;
	uint8_t k[9];
	MDB_val key = {chunk_key(id, 0, k), k}, v = {head + first, NULL};
	/* ids only grow while a batch is alive: the one just past the last,
	 * and its records after it */
	rc = store_put(txn, DB_BATCHES, &key, &v, MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	struct encoder e = {v.mv_data, 0};
	enc_u8(&e, BATCH_V_CHUNKED);
	enc_u8(&e, (uint8_t)records);
	enc_u32(&e, (uint32_t)response->der.len);
	enc_u16(&e, (uint16_t)refs);
	for (size_t i = 0; i < count; i++) {
		if (members[i].result != 0)
			continue;
		uint8_t member[CERT_KEY_MAX];
		int len = cert_key(issuer_id, &members[i].serial, member);
		enc_u8(&e, (uint8_t)len);
		enc_bytes(&e, member, (size_t)len);
	}
	enc_bytes(&e, response->der.data, first);
	for (size_t i = 1, at = first; i < records; i++) {
		size_t n = response->der.len - at < most ? response->der.len - at : most;
		MDB_val ck = {chunk_key(id, (unsigned)i, k), k},
		        cv = {n, (void *)(response->der.data + at)};
		rc = store_put(txn, DB_BATCHES, &ck, &cv, MDB_APPEND);
		if (rc)
			return rc;
		at += n;
	}
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
	int rc = mdb_stat(txn->txn, txn->store->dbi[DB_BATCH_REFS], &stat);
	if (rc)
		return store_error(rc);
	*count = stat.ms_entries;
	return 0;
}
