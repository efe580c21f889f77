/* The replication log (docs/cluster.md): one change entry per write
 * transaction that touched a replicated sub-database, appended in that
 * transaction, so a replica that applies the entries in order holds the same
 * bytes as the primary.
 *
 * Change entry, version 1 (the value under u64 sequence in `replication`):
 *
 *   u8 version (1), u64 epoch, i64 time, u32 count, then count operations:
 *   u8 op (1 put, 2 delete), u8 name length + sub-database name,
 *   u16 key length (1..511) + key, and for a put u32 value length + value.
 *
 * Names rather than numbers identify sub-databases so that adding one never
 * renumbers another. The values are read back at commit (change_flush), so a
 * value written with MDB_RESERVE is captured once filled in, and a key put
 * and later deleted in the same transaction travels as its final state.
 *
 * An entry is stored in records that fit a leaf page (store_inline_max):
 * its first bytes under the u64 sequence, the rest under the sequence and
 * a u32 1, 2, ...; an entry is the concatenation of its records. An entry
 * in one value (as earlier stores hold them) reads the same. On a
 * 10,000,000-person store under refresh, entries in overflow pages had
 * LMDB search its whole free list for contiguous runs at every commit. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/store_internal.h"

#define CHANGE_HEAD     (1 + 8 + 8 + 4)
#define KEY_MAX_LMDB    511
#define NAME_MAX_LEN    32
#define TRIM_PER_COMMIT 64 /* trimming catches up over commits, never stalls one */
#define LOG_PART_KEY      12 /* u64 sequence, u32 part */
#define REPLICA_STATE_KEY "Rstate"
#define FENCE_KEY         "Rfence"

/* meta keys that describe this node: leases ('L' + name: which process of
 * this node does a job) and a replica's state ('R'). */
static bool meta_key_local(const void *key)
{
	uint8_t first = *(const uint8_t *)key;
	return first == 'L' || first == 'R';
}

/* Whether a write of key in db belongs in a change entry. */
/* The store's epoch: meta "Epoch" (replicated: a promotion writes it in the
 * first change of its epoch), 1 before any promotion. */
#define EPOCH_KEY "Epoch"

static int epoch_read(struct store_txn *txn, uint64_t *epoch)
{
	MDB_val key = {sizeof EPOCH_KEY - 1, EPOCH_KEY}, val;
	int rc = store_get(txn, DB_META, &key, &val);
	*epoch = STORE_EPOCH_INITIAL;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (val.mv_size != 9 || ((const uint8_t *)val.mv_data)[0] != 1)
		return -EIO;
	*epoch = get_be64((const uint8_t *)val.mv_data + 1);
	return *epoch ? 0 : -EIO;
}

static bool replicated(enum store_db db, const MDB_val *key)
{
	switch (store_dbs[db].replication) {
	case DB_REPLICATED: return true;
	case DB_LOCAL: return false;
	case DB_META_KEYS: return !(key->mv_size > 0 && meta_key_local(key->mv_data));
	}
	return true;
}

void change_note(struct store_txn *txn, enum store_db db, const MDB_val *key, bool del)
{
	if (!txn->recording || !replicated(db, key))
		return;
	struct change_record *r = &txn->changes;
	size_t need = 4 + key->mv_size;
	if (r->failed || key->mv_size > KEY_MAX_LMDB)
		return;
	if (r->len + need > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		while (cap < r->len + need)
			cap *= 2;
		uint8_t *p = realloc(r->p, cap);
		if (!p) {
			r->failed = true;
			return;
		}
		r->p = p;
		r->cap = cap;
	}
	uint8_t *w = r->p + r->len;
	w[0] = del ? STORE_CHANGE_DEL : STORE_CHANGE_PUT;
	w[1] = (uint8_t)db;
	w[2] = (uint8_t)(key->mv_size >> 8);
	w[3] = (uint8_t)key->mv_size;
	memcpy(w + 4, key->mv_data, key->mv_size);
	r->len += need;
	r->ops++;
}

/* Walks the noted operations. For a put, *val is the key's value now, or
 * absent (mv_data NULL) when a later delete in the transaction removed it. */
struct noted {
	uint8_t op;
	enum store_db db;
	MDB_val key, val;
};

static int noted_next(struct store_txn *txn, size_t *pos, struct noted *n)
{
	const struct change_record *r = &txn->changes;
	if (*pos >= r->len)
		return 1;
	const uint8_t *p = r->p + *pos;
	n->op = p[0];
	n->db = (enum store_db)p[1];
	n->key = (MDB_val){(size_t)p[2] << 8 | p[3], (void *)(p + 4)};
	n->val = (MDB_val){0, NULL};
	*pos += 4 + n->key.mv_size;
	if (n->op == STORE_CHANGE_PUT) {
		int rc = store_get(txn, n->db, &n->key, &n->val);
		if (rc == -ENOENT)
			n->val = (MDB_val){0, NULL};
		else if (rc)
			return rc;
	}
	return 0;
}

static size_t item_size(const struct noted *n)
{
	size_t name = strlen(store_dbs[n->db].name);
	return 1 + 1 + name + 2 + n->key.mv_size +
	       (n->op == STORE_CHANGE_PUT ? 4 + n->val.mv_size : 0);
}

#define LOG_BYTES_KEY "Rbytes"

/* The bytes of entries the log holds (a local meta entry kept by every
 * append and trim; counted once from the log itself when absent). */
static int log_bytes_get(struct store_txn *txn, uint64_t *bytes)
{
	*bytes = 0;
	MDB_val key = {sizeof LOG_BYTES_KEY - 1, LOG_BYTES_KEY}, val;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc == 0 && val.mv_size == 9) {
		*bytes = get_be64((const uint8_t *)val.mv_data + 1);
		return 0;
	}
	if (rc && rc != -ENOENT)
		return rc;
	MDB_cursor *c;
	rc = store_cursor(txn, DB_REPLICATION, &c);
	if (rc)
		return rc;
	int mrc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
	while (mrc == 0) {
		*bytes += val.mv_size;
		mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return mrc == MDB_NOTFOUND ? 0 : store_error(mrc);
}

static int log_bytes_put(struct store_txn *txn, uint64_t bytes)
{
	uint8_t v[9] = {1};
	put_be64(v + 1, bytes);
	MDB_val key = {sizeof LOG_BYTES_KEY - 1, LOG_BYTES_KEY}, val = {sizeof v, v};
	return store_put(txn, DB_META, &key, &val, 0);
}

/* The sequence of the log's last entry (0: none). */
static int log_last_seq(struct store_txn *txn, uint64_t *seq)
{
	return store_last_seq_parts(txn, DB_REPLICATION, LOG_PART_KEY, seq);
}

/* Appends entry seq as records that each fit a leaf page. */
static int log_put(struct store_txn *txn, uint64_t seq, const uint8_t *entry, size_t len)
{
	size_t most = store_inline_max(txn, LOG_PART_KEY);
	uint8_t k[LOG_PART_KEY];
	put_be64(k, seq);
	for (size_t at = 0, part = 0; at < len || part == 0; part++) {
		if (part > UINT32_MAX)
			return -EFBIG;
		put_be32(k + 8, (uint32_t)part);
		size_t n = len - at < most ? len - at : most;
		MDB_val key = {part ? LOG_PART_KEY : 8, k}, val = {n, (void *)(entry + at)};
		int rc = store_put(txn, DB_REPLICATION, &key, &val, MDB_APPEND);
		if (rc)
			return rc;
		at += n;
	}
	return 0;
}

/* With the cursor on entry `seq`'s first record (val), the whole entry:
 * val itself when it has one record, else its records gathered into buf.
 * Leaves the cursor past the entry: *more is false at the log's end, else
 * key/val hold the next record. */
static int log_gather(MDB_cursor *c, uint64_t seq, MDB_val *key, MDB_val *val, struct buf *buf,
                      struct store_blob *entry, bool *more)
{
	MDB_val first = *val;
	int rc = mdb_cursor_get(c, key, val, MDB_NEXT);
	bool parts = false;
	while (rc == 0 && key->mv_size == LOG_PART_KEY && get_be64(key->mv_data) == seq) {
		if (!parts) {
			parts = true;
			buf_reset(buf);
			buf_append(buf, first.mv_data, first.mv_size);
		}
		buf_append(buf, val->mv_data, val->mv_size);
		rc = mdb_cursor_get(c, key, val, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND)
		return store_error(rc);
	if (buf->failed)
		return -ENOMEM;
	*more = rc == 0;
	*entry = parts ? (struct store_blob){buf->data, buf->len}
	               : (struct store_blob){first.mv_data, first.mv_size};
	return 0;
}

/* Deletes entry seq's records; *size: their bytes. */
static int log_del(struct store_txn *txn, uint64_t seq, size_t *size)
{
	*size = 0;
	MDB_cursor *c;
	int rc = store_cursor(txn, DB_REPLICATION, &c);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, seq);
	int mrc;
	for (;;) {
		MDB_val key = {8, k}, val;
		mrc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
		if (mrc || (key.mv_size != 8 && key.mv_size != LOG_PART_KEY) ||
		    get_be64(key.mv_data) != seq)
			break;
		*size += val.mv_size;
		if ((mrc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (mrc == MDB_NOTFOUND || mrc == 0)
		return *size ? 0 : -ENOENT;
	return store_error(mrc);
}

/* Counts an entry of `added` bytes just appended, then deletes the oldest
 * entries beyond the retention (in entries, or in bytes when that bound is
 * set; the newest entry always stays), a bounded number per call. */
static int replication_trim(struct store_txn *txn, size_t added)
{
	uint64_t first, last, bytes;
	int rc = store_replication_bounds(txn, &first, &last);
	if (rc == 0)
		rc = log_bytes_get(txn, &bytes);
	if (rc || last == 0)
		return rc;
	bytes += added;
	uint64_t keep = txn->store->replication_retain;
	uint64_t keep_bytes = txn->store->replication_retain_bytes;
	for (int i = 0; i < TRIM_PER_COMMIT && first < last &&
	                (last - first + 1 > keep || (keep_bytes && bytes > keep_bytes));
	     i++, first++) {
		size_t size;
		rc = log_del(txn, first, &size);
		bytes = bytes > size ? bytes - size : 0;
		if (rc && rc != -ENOENT)
			return rc;
	}
	return log_bytes_put(txn, bytes);
}

int change_flush(struct store_txn *txn)
{
	struct change_record *r = &txn->changes;
	if (!txn->recording || r->ops == 0)
		return 0;
	if (r->failed)
		return -ENOMEM;
	/* pass 1: measure */
	size_t size = CHANGE_HEAD, pos = 0;
	uint32_t count = 0;
	struct noted n;
	int rc;
	while ((rc = noted_next(txn, &pos, &n)) == 0) {
		if (n.op == STORE_CHANGE_PUT && !n.val.mv_data)
			continue;
		size += item_size(&n);
		count++;
	}
	if (rc < 0)
		return rc;
	if (count == 0)
		return 0;
	uint64_t last, epoch;
	if ((rc = log_last_seq(txn, &last)) != 0 || (rc = epoch_read(txn, &epoch)) != 0)
		return rc;
	/* pass 2: write the entry */
	uint8_t *entry = malloc(size);
	if (!entry)
		return -ENOMEM;
	uint8_t *w = entry;
	w[0] = STORE_CHANGE_VERSION;
	put_be64(w + 1, epoch);
	put_be64(w + 9, (uint64_t)(int64_t)time(NULL));
	put_be32(w + 17, count);
	w += CHANGE_HEAD;
	pos = 0;
	while ((rc = noted_next(txn, &pos, &n)) == 0) {
		if (n.op == STORE_CHANGE_PUT && !n.val.mv_data)
			continue;
		const char *name = store_dbs[n.db].name;
		size_t name_len = strlen(name);
		*w++ = n.op;
		*w++ = (uint8_t)name_len;
		memcpy(w, name, name_len);
		w += name_len;
		*w++ = (uint8_t)(n.key.mv_size >> 8);
		*w++ = (uint8_t)n.key.mv_size;
		memcpy(w, n.key.mv_data, n.key.mv_size);
		w += n.key.mv_size;
		if (n.op == STORE_CHANGE_PUT) {
			put_be32(w, (uint32_t)n.val.mv_size);
			w += 4;
			if (n.val.mv_size)
				memcpy(w, n.val.mv_data, n.val.mv_size);
			w += n.val.mv_size;
		}
	}
	if (rc >= 0)
		rc = log_put(txn, last + 1, entry, size);
	free(entry);
	if (rc < 0)
		return rc;
	return replication_trim(txn, size);
}

/* The sub-database named name[0..len) if it is a replicated one. */
static int db_by_name(const uint8_t *name, size_t len, enum store_db *out)
{
	for (int i = 0; i < DB_COUNT; i++) {
		if (store_dbs[i].replication == DB_LOCAL)
			continue;
		if (strlen(store_dbs[i].name) == len && memcmp(store_dbs[i].name, name, len) == 0) {
			*out = (enum store_db)i;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Reads one operation at *p (below end) into item; -EBADMSG when malformed. */
static int item_read(const uint8_t **p, const uint8_t *end, struct store_change_item *item,
                     enum store_db *db)
{
	const uint8_t *q = *p;
	if (end - q < 2)
		return -EBADMSG;
	uint8_t op = *q++;
	size_t name_len = *q++;
	if ((op != STORE_CHANGE_PUT && op != STORE_CHANGE_DEL) || name_len == 0 ||
	    name_len > NAME_MAX_LEN || (size_t)(end - q) < name_len + 2)
		return -EBADMSG;
	if (db_by_name(q, name_len, db))
		return -EBADMSG;
	q += name_len;
	size_t key_len = (size_t)q[0] << 8 | q[1];
	q += 2;
	if (key_len == 0 || key_len > KEY_MAX_LMDB || (size_t)(end - q) < key_len)
		return -EBADMSG;
	item->op = op;
	item->db = store_dbs[*db].name;
	item->key = (struct store_blob){q, key_len};
	q += key_len;
	item->value = (struct store_blob){NULL, 0};
	if (op == STORE_CHANGE_PUT) {
		if (end - q < 4)
			return -EBADMSG;
		size_t val_len = get_be32(q);
		q += 4;
		if ((size_t)(end - q) < val_len)
			return -EBADMSG;
		item->value = (struct store_blob){q, val_len};
		q += val_len;
	}
	if (store_dbs[*db].replication == DB_META_KEYS && meta_key_local(item->key.data))
		return -EBADMSG; /* a local key has no business in a change */
	*p = q;
	return 0;
}

/* Decodes, calling fn(item, db) per item after a full validation pass. */
static int change_walk(const uint8_t *data, size_t len, struct store_change_head *head,
                       int (*fn)(const struct store_change_item *, enum store_db, void *),
                       void *arg)
{
	if (!data || len < CHANGE_HEAD || data[0] != STORE_CHANGE_VERSION)
		return -EBADMSG;
	struct store_change_head h = {
	        .version = data[0],
	        .epoch = get_be64(data + 1),
	        .time = (int64_t)get_be64(data + 9),
	        .count = get_be32(data + 17),
	};
	if (h.count == 0 || h.epoch == 0)
		return -EBADMSG;
	const uint8_t *end = data + len;
	for (int pass = 0; pass < (fn ? 2 : 1); pass++) {
		const uint8_t *p = data + CHANGE_HEAD;
		for (uint32_t i = 0; i < h.count; i++) {
			struct store_change_item item;
			enum store_db db;
			/* each item takes at least 6 bytes: a huge count fails fast */
			if (item_read(&p, end, &item, &db))
				return -EBADMSG;
			if (pass == 1) {
				int rc = fn(&item, db, arg);
				if (rc)
					return rc;
			}
		}
		if (p != end)
			return -EBADMSG;
	}
	if (head)
		*head = h;
	return 0;
}

struct decode_call {
	int (*fn)(const struct store_change_item *, void *);
	void *arg;
};

static int decode_cb(const struct store_change_item *item, enum store_db db, void *arg)
{
	(void)db;
	struct decode_call *c = arg;
	return c->fn(item, c->arg);
}

int store_change_decode(const uint8_t *data, size_t len, struct store_change_head *head,
                        int (*fn)(const struct store_change_item *item, void *arg), void *arg)
{
	struct decode_call c = {fn, arg};
	return change_walk(data, len, head, fn ? decode_cb : NULL, &c);
}

int store_replication_bounds(struct store_txn *txn, uint64_t *first, uint64_t *last)
{
	*first = *last = 0;
	if (!txn->store->has_replication)
		return -ENOENT;
	MDB_cursor *c;
	int rc = store_cursor(txn, DB_REPLICATION, &c);
	if (rc)
		return rc;
	MDB_val key, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
	if (rc == 0 && key.mv_size == 8) {
		*first = get_be64(key.mv_data);
		rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
		if (rc == 0 && (key.mv_size == 8 || key.mv_size == LOG_PART_KEY))
			*last = get_be64(key.mv_data);
		else if (rc == 0)
			rc = -EIO;
	} else if (rc == 0) {
		rc = -EIO; /* the first record is never a later part */
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	return store_error(rc);
}

int store_replication_each(struct store_txn *txn, uint64_t after, size_t max_bytes,
                           int (*fn)(uint64_t seq, struct store_blob entry, void *arg), void *arg)
{
	uint64_t first, last;
	int rc = store_replication_bounds(txn, &first, &last);
	if (rc)
		return rc;
	if (after > last)
		return -ERANGE;
	if (after == last)
		return 0;
	if (after + 1 < first)
		return -ESTALE;
	MDB_cursor *c;
	rc = store_cursor(txn, DB_REPLICATION, &c);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, after + 1);
	MDB_val key = {8, k}, val;
	size_t sent = 0;
	uint64_t expect = after + 1;
	struct buf buf = {0};
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	bool more = rc == 0;
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc)
		rc = store_error(rc);
	while (more && rc == 0) {
		if (key.mv_size != 8 || get_be64(key.mv_data) != expect) {
			rc = -EIO; /* the log has a hole: corrupt */
			break;
		}
		struct store_blob entry;
		rc = log_gather(c, expect, &key, &val, &buf, &entry, &more);
		if (rc)
			break;
		if (sent > 0 && sent + entry.len > max_bytes)
			break;
		rc = fn(expect, entry, arg);
		if (rc)
			break;
		sent += entry.len;
		expect++;
	}
	mdb_cursor_close(c);
	buf_free(&buf);
	if (rc == 1)
		return 0;
	return rc;
}

int store_epoch(struct store_txn *txn, uint64_t *epoch)
{
	return epoch_read(txn, epoch);
}

int store_promote(struct store_txn *txn, uint64_t *epoch)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if ((rc = epoch_read(txn, epoch)) != 0)
		return rc;
	uint64_t first, last, at_last = 0;
	if ((rc = store_replication_bounds(txn, &first, &last)) != 0)
		return rc;
	if (last && (rc = store_change_epoch_at(txn, last, &at_last)) != 0)
		return rc;
	if (at_last > *epoch)
		*epoch = at_last;
	++*epoch;
	uint8_t v[9] = {1};
	put_be64(v + 1, *epoch);
	MDB_val key = {sizeof EPOCH_KEY - 1, EPOCH_KEY}, val = {sizeof v, v};
	/* A replicated key: this transaction's change entry, the first of the
	 * new epoch, carries it to every node that follows from now on. */
	if ((rc = store_put(txn, DB_META, &key, &val, 0)) != 0)
		return rc;
	MDB_val state = {sizeof REPLICA_STATE_KEY - 1, REPLICA_STATE_KEY};
	rc = store_del(txn, DB_META, &state);
	MDB_val fence = {sizeof FENCE_KEY - 1, FENCE_KEY};
	if (rc == 0 || rc == -ENOENT)
		rc = store_del(txn, DB_META, &fence);
	return rc == -ENOENT ? 0 : rc;
}

int store_fence_put(struct store_txn *txn, const struct store_fence *fence)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	size_t n = strnlen(fence->primary, sizeof fence->primary);
	uint8_t v[1 + 8 + sizeof fence->primary] = {1};
	put_be64(v + 1, fence->epoch);
	memcpy(v + 9, fence->primary, n);
	MDB_val key = {sizeof FENCE_KEY - 1, FENCE_KEY}, val = {9 + n, v};
	return store_put(txn, DB_META, &key, &val, 0);
}

int store_fence_get(struct store_txn *txn, struct store_fence *out)
{
	*out = (struct store_fence){0};
	MDB_val key = {sizeof FENCE_KEY - 1, FENCE_KEY}, val;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc)
		return rc;
	const uint8_t *v = val.mv_data;
	if (val.mv_size < 9 || val.mv_size > 9 + sizeof out->primary - 1 || v[0] != 1)
		return -EIO;
	out->epoch = get_be64(v + 1);
	memcpy(out->primary, v + 9, val.mv_size - 9);
	return 0;
}

int store_change_epoch_at(struct store_txn *txn, uint64_t seq, uint64_t *epoch)
{
	uint8_t k[8];
	put_be64(k, seq);
	MDB_val key = {8, k}, val;
	int rc = store_get(txn, DB_REPLICATION, &key, &val);
	if (rc)
		return rc;
	if (val.mv_size < CHANGE_HEAD)
		return -EIO;
	*epoch = get_be64((const uint8_t *)val.mv_data + 1);
	return 0;
}

static int apply_cb(const struct store_change_item *item, enum store_db db, void *arg)
{
	struct store_txn *txn = arg;
	MDB_val key = {item->key.len, (void *)item->key.data};
	if (item->op == STORE_CHANGE_DEL) {
		int rc = store_del(txn, db, &key);
		return rc == -ENOENT ? 0 : rc;
	}
	MDB_val val = {item->value.len, (void *)item->value.data};
	return store_put(txn, db, &key, &val, 0);
}

int store_replication_apply(struct store_txn *txn, uint64_t seq, const uint8_t *entry, size_t len)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!txn->store->has_replication)
		return -ENOENT;
	uint64_t last;
	rc = log_last_seq(txn, &last);
	if (rc)
		return rc;
	if (seq != last + 1)
		return -ESTALE;
	struct store_change_head head;
	if (change_walk(entry, len, &head, NULL, NULL))
		return -EBADMSG;
	uint64_t epoch;
	if ((rc = epoch_read(txn, &epoch)) != 0)
		return rc;
	if (head.epoch < epoch)
		return -EPERM; /* from a primary this store has outlived: fenced */
	/* The operations are the primary's; this transaction must not describe
	 * them again as its own change. */
	bool recording = txn->recording;
	txn->recording = false;
	rc = change_walk(entry, len, NULL, apply_cb, txn);
	txn->recording = recording;
	if (rc)
		return rc;
	rc = log_put(txn, seq, entry, len);
	if (rc)
		return rc;
	return replication_trim(txn, len);
}

int store_snapshot_write(struct store *s, int fd)
{
	/* The copy runs its own read transaction: no resize may run meanwhile. */
	pthread_rwlock_rdlock(&s->remap);
	int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
	pthread_rwlock_unlock(&s->remap);
	return store_error(rc);
}

#define REPLICA_STATE_LEN (1 + 8 + 8 + 8 + 1)

int store_replica_state_put(struct store_txn *txn, const struct store_replica_state *state)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	uint8_t v[REPLICA_STATE_LEN] = {1};
	put_be64(v + 1, (uint64_t)state->caught_up_ms);
	put_be64(v + 9, state->primary_last);
	put_be64(v + 17, (uint64_t)state->contact_ms);
	v[25] = state->need_snapshot ? 1 : 0;
	MDB_val key = {sizeof REPLICA_STATE_KEY - 1, REPLICA_STATE_KEY}, val = {sizeof v, v};
	return store_put(txn, DB_META, &key, &val, 0);
}

int store_replica_state_get(struct store_txn *txn, struct store_replica_state *out)
{
	*out = (struct store_replica_state){0};
	MDB_val key = {sizeof REPLICA_STATE_KEY - 1, REPLICA_STATE_KEY}, val;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc)
		return rc;
	const uint8_t *v = val.mv_data;
	if (val.mv_size != REPLICA_STATE_LEN || v[0] != 1)
		return -EIO;
	out->caught_up_ms = (int64_t)get_be64(v + 1);
	out->primary_last = get_be64(v + 9);
	out->contact_ms = (int64_t)get_be64(v + 17);
	out->need_snapshot = v[25] != 0;
	return 0;
}

int store_snapshot_verify(const char *dir, uint64_t *last)
{
	*last = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc)
		return store_error(rc);
	mdb_env_set_maxdbs(env, DB_COUNT);
	rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600);
	if (rc) {
		mdb_env_close(env);
		return -EBADMSG;
	}
	/* A truncated copy would fault when a page past its end is read: its
	 * meta page must not point beyond what arrived. */
	MDB_envinfo info;
	MDB_stat stat_env;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &stat_env);
	if (((uint64_t)info.me_last_pgno + 1) * stat_env.ms_psize > (uint64_t)st.st_size) {
		mdb_env_close(env);
		return -EBADMSG;
	}
	mdb_env_close(env);
	struct store *s;
	rc = store_open(
	        &(struct store_options){.path = dir, .read_only = true, .read_txn_pool = -1}, &s);
	if (rc)
		return rc == -EPROTO ? rc : -EBADMSG;
	struct store_txn *txn;
	rc = store_txn_begin(s, false, &txn);
	if (rc == 0) {
		uint64_t first;
		rc = store_replication_bounds(txn, &first, last);
		store_txn_abort(txn);
	}
	store_close(s);
	return rc == -ENOENT ? -EPROTO : rc;
}

/* The retention is the data directory's, not one program's: kenshod records
 * the configured bound in a local meta entry, and every writer (the kensho
 * command line too) trims by it. */
#define RETAIN_KEY "Rretain"

int replication_retain_load(struct store *s, uint64_t configured, uint64_t configured_bytes)
{
	if (!s->has_replication)
		return 0;
	bool give = !s->read_only && (configured || configured_bytes);
	struct store_txn *txn;
	int rc = store_txn_begin(s, give, &txn);
	if (rc)
		return rc;
	MDB_val key = {sizeof RETAIN_KEY - 1, RETAIN_KEY}, val;
	uint64_t count = 0, bytes = 0;
	if (store_get(txn, DB_META, &key, &val) == 0 && val.mv_size == 17) {
		count = get_be64((const uint8_t *)val.mv_data + 1);
		bytes = get_be64((const uint8_t *)val.mv_data + 9);
	}
	if (give && ((configured && configured != count) ||
	             (configured_bytes && configured_bytes != bytes))) {
		if (configured)
			count = configured;
		if (configured_bytes)
			bytes = configured_bytes;
		uint8_t v[17] = {1};
		put_be64(v + 1, count);
		put_be64(v + 9, bytes);
		val = (MDB_val){sizeof v, v};
		rc = store_put(txn, DB_META, &key, &val, 0);
		if (rc) {
			store_txn_abort(txn);
			return rc;
		}
	}
	if (count)
		s->replication_retain = count;
	if (bytes)
		s->replication_retain_bytes = bytes;
	return store_txn_commit(txn);
}
