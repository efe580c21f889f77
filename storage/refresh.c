/* The refresh index and leases.
 *
 * `refresh` holds one entry per certificate, keyed by the nextUpdate of its
 * usable cached answer (0 when it has none, so missing answers come first),
 * then its record key: a cursor from the start meets the answers most in need
 * of signing first. The entry is derived, never stored elsewhere: it is 0
 * unless the record's cached response was signed for its current version, and
 * that response's nextUpdate otherwise. Every write that changes either side
 * (store_cert_insert, store_cert_update_links, store_cert_revoke,
 * store_response_put) moves the entry in the same transaction through
 * refresh_index_move, so the index is exactly as current as the data.
 *
 * Leases live in `meta` under 'L' + name: u8 1, u64 holder, i64 expires. */
#include "storage/store_internal.h"

#include <errno.h>
#include <string.h>

#include "storage/codec.h"

static uint64_t due_key_time(int64_t next_update)
{
	return next_update < 0 ? 0 : (uint64_t)next_update;
}

static size_t refresh_key(int64_t next_update, const uint8_t *ckey, size_t clen,
                          uint8_t out[REFRESH_KEY_MAX])
{
	put_be64(out, due_key_time(next_update));
	memcpy(out + 8, ckey, clen);
	return 8 + clen;
}

int refresh_index_state(struct store_txn *txn, const uint8_t *ckey, size_t clen,
                        uint64_t cert_version, int64_t *next_update)
{
	*next_update = 0;
	MDB_val k = {clen, (void *)ckey}, v;
	int rc = store_get(txn, DB_RESPONSES, &k, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	struct response_head head;
	if (response_head_read(&v, &head) != 0)
		return -EIO;
	if (head.cert_version == cert_version)
		*next_update = (int64_t)due_key_time(head.next_update);
	return 0;
}

int refresh_index_move(struct store_txn *txn, const uint8_t *ckey, size_t clen, int64_t from,
                       int64_t to, bool had)
{
	uint8_t k[REFRESH_KEY_MAX], empty = CODEC_V1;
	int rc = 0;
	if (had) {
		if (due_key_time(from) == due_key_time(to))
			return 0;
		MDB_val key = {refresh_key(from, ckey, clen, k), k};
		rc = store_del(txn, DB_REFRESH, &key);
		if (rc == -ENOENT)
			rc = 0;
		if (rc)
			return rc;
	}
	MDB_val key = {refresh_key(to, ckey, clen, k), k}, val = {1, &empty};
	return store_put(txn, DB_REFRESH, &key, &val, 0);
}

/* Indexes every certificate of a store written before the index existed. */
int refresh_index_build(struct store_txn *txn)
{
	MDB_cursor *certs;
	int rc = store_cursor(txn, DB_CERTS, &certs);
	if (rc)
		return rc;
	MDB_val ck, cv;
	int crc;
	for (crc = mdb_cursor_get(certs, &ck, &cv, MDB_FIRST); crc == 0 && rc == 0;
	     crc = mdb_cursor_get(certs, &ck, &cv, MDB_NEXT)) {
		const uint8_t *p = cv.mv_data;
		/* certs value: u8 1, u8 kind, u8 status, u8 reason, i64 x3,
		 * u64 person_id, u64 version, ... */
		if (ck.mv_size < 5 || ck.mv_size > CERT_KEY_MAX || cv.mv_size < 4 + 24 + 16 ||
		    p[0] != CODEC_V1) {
			rc = -EIO;
			break;
		}
		uint64_t version = get_be64(p + 4 + 24 + 8);
		uint8_t key[CERT_KEY_MAX];
		size_t klen = ck.mv_size;
		memcpy(key, ck.mv_data, klen);
		int64_t next_update;
		rc = refresh_index_state(txn, key, klen, version, &next_update);
		if (rc == 0)
			rc = refresh_index_move(txn, key, klen, 0, next_update, false);
	}
	if (rc == 0 && crc != MDB_NOTFOUND)
		rc = store_error(crc);
	mdb_cursor_close(certs);
	return rc;
}

int store_refresh_each(struct store_txn *txn, int64_t due_at, size_t limit,
                       int (*fn)(const struct store_refresh_entry *, void *), void *arg)
{
	return store_refresh_each_from(txn, 0, due_at, limit, fn, arg);
}

int store_refresh_each_from(struct store_txn *txn, int64_t from, int64_t due_at, size_t limit,
                            int (*fn)(const struct store_refresh_entry *, void *), void *arg)
{
	if (!txn->store->has_refresh)
		return -ENOENT;
	MDB_cursor *cur;
	int rc = store_cursor(txn, DB_REFRESH, &cur);
	if (rc)
		return rc;
	uint8_t start[8];
	put_be64(start, due_key_time(from));
	MDB_val k = {sizeof start, start}, v;
	int crc;
	size_t n = 0;
	for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); crc == 0 && rc == 0 && n < limit;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
		if (k.mv_size < 8 + 5 || k.mv_size > REFRESH_KEY_MAX) {
			rc = -EIO;
			break;
		}
		const uint8_t *p = k.mv_data;
		struct store_refresh_entry e = {.next_update = (int64_t)get_be64(p)};
		if (e.next_update > due_at)
			break;
		e.issuer_id = get_be32(p + 8);
		e.serial.len = (uint8_t)(k.mv_size - 12);
		memcpy(e.serial.bytes, p + 12, e.serial.len);
		rc = fn(&e, arg);
	}
	if (rc == 0 && crc != 0 && crc != MDB_NOTFOUND)
		rc = store_error(crc);
	mdb_cursor_close(cur);
	return rc;
}

static size_t lease_key(const char *name, uint8_t out[1 + 32])
{
	size_t n = strnlen(name, 32);
	out[0] = 'L';
	memcpy(out + 1, name, n);
	return 1 + n;
}

int store_lease_take(struct store_txn *txn, const char *name, uint64_t holder, int64_t now,
                     int64_t ttl, struct store_lease *out)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!holder || ttl <= 0)
		return -EINVAL;
	struct store_lease cur = {0};
	rc = store_lease_get(txn, name, &cur);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && cur.holder != holder && cur.expires > now) {
		if (out)
			*out = cur;
		return -EBUSY;
	}
	uint8_t k[1 + 32], val[1 + 8 + 8];
	struct encoder e = {val, 0};
	enc_u8(&e, CODEC_V1);
	enc_u64(&e, holder);
	enc_i64(&e, now + ttl);
	MDB_val key = {lease_key(name, k), k}, v = {sizeof(val), val};
	rc = store_put(txn, DB_META, &key, &v, 0);
	if (rc == 0 && out)
		*out = (struct store_lease){.holder = holder, .expires = now + ttl};
	return rc;
}

int store_lease_get(struct store_txn *txn, const char *name, struct store_lease *out)
{
	uint8_t k[1 + 32];
	MDB_val key = {lease_key(name, k), k}, v;
	memset(out, 0, sizeof(*out));
	int rc = store_get(txn, DB_META, &key, &v);
	if (rc)
		return rc;
	struct decoder d;
	dec_init(&d, v.mv_data, v.mv_size);
	out->holder = dec_u64(&d);
	out->expires = dec_i64(&d);
	return dec_finish(&d);
}

int store_lease_release(struct store_txn *txn, const char *name, uint64_t holder)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	struct store_lease cur;
	rc = store_lease_get(txn, name, &cur);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (cur.holder != holder)
		return 0;
	uint8_t k[1 + 32];
	MDB_val key = {lease_key(name, k), k};
	rc = store_del(txn, DB_META, &key);
	return rc == -ENOENT ? 0 : rc;
}
