/* The Merkle log of intake and audit records: see store.h and README.md
 * ("Schema", "The Merkle log").
 *
 * Hashing is RFC 9162 §2.1.1: a leaf is SHA-256(0x00 || data), an interior
 * node SHA-256(0x01 || left || right), and the tree of n leaves splits at the
 * largest power of two below n. Besides the leaves (by index) the log keeps
 * every complete, aligned subtree's hash (`log_nodes`, by level and index):
 * the append of leaf n completes the subtrees ending at n, one per trailing
 * one bit of n, so an append writes O(1) nodes on average and O(log n) at
 * most. Every range a root or a proof needs is a chain of such aligned
 * subtrees, so a root costs O(log n) reads and a proof O(log^2 n). */
#include <errno.h>
#include <inttypes.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

#define LEAF_VALUE_LEN (1 + 1 + 8 + STORE_HASH_LEN)
#define NODE_KEY_LEN   (1 + 8)
#define NODE_VALUE_LEN (1 + STORE_HASH_LEN)
#define STH_HEAD_LEN   (1 + 8 + STORE_HASH_LEN + 4)

/* SHA-256 over up to three parts. mbedTLS's software SHA-256 cannot fail
 * on these arguments, so its results are not translated. */
static void sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                         size_t clen, uint8_t out[STORE_HASH_LEN])
{
	mbedtls_sha256_context ctx;
	mbedtls_sha256_init(&ctx);
	(void)mbedtls_sha256_starts_ret(&ctx, 0);
	if (alen)
		(void)mbedtls_sha256_update_ret(&ctx, a, alen);
	if (blen)
		(void)mbedtls_sha256_update_ret(&ctx, b, blen);
	if (clen)
		(void)mbedtls_sha256_update_ret(&ctx, c, clen);
	(void)mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
}

static void leaf_hash(enum store_log_type type, const void *value, size_t len,
                      uint8_t out[STORE_HASH_LEN])
{
	uint8_t prefix[2] = {0x00, (uint8_t)type};
	sha256_parts(prefix, sizeof prefix, value, len, NULL, 0, out);
}

static void node_hash(const uint8_t left[STORE_HASH_LEN], const uint8_t right[STORE_HASH_LEN],
                      uint8_t out[STORE_HASH_LEN])
{
	uint8_t prefix = 0x01;
	sha256_parts(&prefix, 1, left, STORE_HASH_LEN, right, STORE_HASH_LEN, out);
}

/* The largest power of two below n (n >= 2): where RFC 9162 splits n leaves. */
static uint64_t split_of(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static int log_ready(struct store_txn *txn)
{
	return txn->store->has_log ? 0 : -ENOENT;
}

/* --- leaves and nodes ------------------------------------------------------------- */

static int leaf_decode(uint64_t index, const MDB_val *val, struct store_log_leaf *out)
{
	struct decoder d;
	dec_init(&d, val->mv_data, val->mv_size);
	out->index = index;
	out->type = (enum store_log_type)dec_u8(&d);
	out->record = dec_u64(&d);
	dec_bytes(&d, out->hash, STORE_HASH_LEN);
	return dec_finish(&d);
}

int store_log_size(struct store_txn *txn, uint64_t *size)
{
	*size = 0;
	int rc = log_ready(txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = store_cursor(txn, DB_LOG_LEAVES, &c)) < 0)
		return rc;
	MDB_val key, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_error(rc);
	if (key.mv_size != 8)
		return -EIO;
	*size = get_be64(key.mv_data) + 1;
	return 0;
}

int store_log_leaf_get(struct store_txn *txn, uint64_t index, struct store_log_leaf *out)
{
	int rc = log_ready(txn);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, index);
	MDB_val key = {8, k}, val;
	if ((rc = store_get(txn, DB_LOG_LEAVES, &key, &val)) < 0)
		return rc;
	return leaf_decode(index, &val, out);
}

int store_log_leaf_of(struct store_txn *txn, enum store_log_type type, uint64_t record,
                      uint64_t *index)
{
	int rc = log_ready(txn);
	if (rc)
		return rc;
	uint8_t k[9] = {(uint8_t)type};
	put_be64(k + 1, record);
	MDB_val key = {sizeof k, k}, val;
	if ((rc = store_get(txn, DB_LOG_RECORDS, &key, &val)) < 0)
		return rc;
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	*index = dec_u64(&d);
	return dec_finish(&d);
}

int store_log_leaf_record(struct store_txn *txn, uint64_t index, struct store_log_leaf *leaf,
                          struct store_blob *value)
{
	int rc = store_log_leaf_get(txn, index, leaf);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, leaf->record);
	MDB_val key = {8, k}, val;
	rc = store_get(txn, leaf->type == STORE_LOG_INTAKE ? DB_INTAKE : DB_AUDIT, &key, &val);
	if (rc)
		return rc == -ENOENT ? -EIO : rc;
	*value = (struct store_blob){val.mv_data, val.mv_size};
	return 0;
}

/* The hash of the complete subtree of 2^level leaves starting at leaf
 * index << level: a leaf hash at level 0. */
static int node_get(struct store_txn *txn, unsigned level, uint64_t index,
                    uint8_t out[STORE_HASH_LEN])
{
	if (level == 0) {
		struct store_log_leaf leaf;
		int rc = store_log_leaf_get(txn, index, &leaf);
		if (rc == 0)
			memcpy(out, leaf.hash, STORE_HASH_LEN);
		return rc == -ENOENT ? -EIO : rc;
	}
	uint8_t k[NODE_KEY_LEN] = {(uint8_t)level};
	put_be64(k + 1, index);
	MDB_val key = {sizeof k, k}, val;
	int rc = store_get(txn, DB_LOG_NODES, &key, &val);
	if (rc)
		return rc == -ENOENT ? -EIO : rc; /* a complete subtree is always cached */
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	dec_bytes(&d, out, STORE_HASH_LEN);
	return dec_finish(&d);
}

static int node_put(struct store_txn *txn, unsigned level, uint64_t index,
                    const uint8_t hash[STORE_HASH_LEN])
{
	uint8_t k[NODE_KEY_LEN] = {(uint8_t)level}, v[NODE_VALUE_LEN] = {CODEC_V1};
	put_be64(k + 1, index);
	memcpy(v + 1, hash, STORE_HASH_LEN);
	MDB_val key = {sizeof k, k}, val = {sizeof v, v};
	return store_put(txn, DB_LOG_NODES, &key, &val, 0);
}

int log_append(struct store_txn *txn, enum store_log_type type, uint64_t record, const void *value,
               size_t len)
{
	uint8_t hash[STORE_HASH_LEN];
	/* First: `value` may point into a page that the puts below move. */
	leaf_hash(type, value, len, hash);
	uint64_t n;
	int rc = store_log_size(txn, &n);
	if (rc)
		return rc;
	uint8_t k[8], v[LEAF_VALUE_LEN];
	struct encoder e = {v, 0};
	enc_u8(&e, CODEC_V1);
	enc_u8(&e, (uint8_t)type);
	enc_u64(&e, record);
	enc_bytes(&e, hash, STORE_HASH_LEN);
	put_be64(k, n);
	MDB_val key = {8, k}, val = {e.len, v};
	if ((rc = store_put(txn, DB_LOG_LEAVES, &key, &val, MDB_APPEND)) < 0)
		return rc;
	/* and the way back from the record to its leaf */
	uint8_t rk[9] = {(uint8_t)type}, rv[9] = {CODEC_V1};
	put_be64(rk + 1, record);
	put_be64(rv + 1, n);
	key = (MDB_val){sizeof rk, rk};
	val = (MDB_val){sizeof rv, rv};
	if ((rc = store_put(txn, DB_LOG_RECORDS, &key, &val, 0)) < 0)
		return rc;
	/* Leaf n completes one subtree per trailing one bit of n. */
	unsigned level = 0;
	for (uint64_t index = n; index & 1; index >>= 1) {
		uint8_t left[STORE_HASH_LEN];
		if ((rc = node_get(txn, level, index - 1, left)) < 0)
			return rc;
		node_hash(left, hash, hash);
		level++;
		if ((rc = node_put(txn, level, index >> 1, hash)) < 0)
			return rc;
	}
	return 0;
}

/* MTH of the n >= 1 leaves from `start`. In every range a root or proof
 * asks for, `start` is a multiple of the largest power of two not above n,
 * so each left part is one cached subtree; any other range still comes out
 * right, only slower. */
static int range_hash(struct store_txn *txn, uint64_t start, uint64_t n,
                      uint8_t out[STORE_HASH_LEN])
{
	if ((n & (n - 1)) == 0 && start % n == 0)
		return node_get(txn, (unsigned)__builtin_ctzll(n), start / n, out);
	uint64_t k = split_of(n);
	uint8_t left[STORE_HASH_LEN], right[STORE_HASH_LEN];
	int rc = range_hash(txn, start, k, left);
	if (rc == 0)
		rc = range_hash(txn, start + k, n - k, right);
	if (rc == 0)
		node_hash(left, right, out);
	return rc;
}

int store_log_root(struct store_txn *txn, uint64_t size, uint8_t root[STORE_HASH_LEN])
{
	uint64_t n;
	int rc = store_log_size(txn, &n);
	if (rc)
		return rc;
	if (size > n)
		return -EINVAL;
	if (size == 0) {
		sha256_parts(NULL, 0, NULL, 0, NULL, 0, root);
		return 0;
	}
	return range_hash(txn, 0, size, root);
}

/* --- proofs (RFC 9162 §2.1.3.1 and §2.1.4.1) --------------------------------------- */

struct proof {
	uint8_t (*path)[STORE_HASH_LEN];
	size_t count;
};

static int proof_add(struct store_txn *txn, struct proof *p, uint64_t start, uint64_t n)
{
	if (p->count >= STORE_PROOF_MAX)
		return -EIO;
	int rc = range_hash(txn, start, n, p->path[p->count]);
	if (rc == 0)
		p->count++;
	return rc;
}

/* PATH(m, D[start:start+n]) */
static int inclusion_path(struct store_txn *txn, struct proof *p, uint64_t m, uint64_t start,
                          uint64_t n)
{
	if (n == 1)
		return 0;
	uint64_t k = split_of(n);
	int rc;
	if (m < k) {
		rc = inclusion_path(txn, p, m, start, k);
		return rc ? rc : proof_add(txn, p, start + k, n - k);
	}
	rc = inclusion_path(txn, p, m - k, start + k, n - k);
	return rc ? rc : proof_add(txn, p, start, k);
}

/* SUBPROOF(m, D[start:start+n], b) */
static int consistency_path(struct store_txn *txn, struct proof *p, uint64_t m, uint64_t start,
                            uint64_t n, bool whole)
{
	if (m == n)
		return whole ? 0 : proof_add(txn, p, start, n);
	uint64_t k = split_of(n);
	int rc;
	if (m <= k) {
		rc = consistency_path(txn, p, m, start, k, whole);
		return rc ? rc : proof_add(txn, p, start + k, n - k);
	}
	rc = consistency_path(txn, p, m - k, start + k, n - k, false);
	return rc ? rc : proof_add(txn, p, start, k);
}

int store_log_inclusion(struct store_txn *txn, uint64_t index, uint64_t size,
                        uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN], size_t *count)
{
	*count = 0;
	uint64_t n;
	int rc = store_log_size(txn, &n);
	if (rc)
		return rc;
	if (index >= size || size > n)
		return -EINVAL;
	struct proof p = {path, 0};
	rc = inclusion_path(txn, &p, index, 0, size);
	*count = rc ? 0 : p.count;
	return rc;
}

int store_log_consistency(struct store_txn *txn, uint64_t first, uint64_t second,
                          uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN], size_t *count)
{
	*count = 0;
	uint64_t n;
	int rc = store_log_size(txn, &n);
	if (rc)
		return rc;
	if (first > second || second > n)
		return -EINVAL;
	if (first == 0 || first == second)
		return 0;
	struct proof p = {path, 0};
	rc = consistency_path(txn, &p, first, 0, second, true);
	*count = rc ? 0 : p.count;
	return rc;
}

/* --- signed tree heads ----------------------------------------------------------- */

void store_sth_signed_bytes(const struct store_sth *sth, uint8_t out[STORE_STH_SIGNED_LEN])
{
	out[0] = 0; /* version v1(0) */
	out[1] = 1; /* signature_type tree_hash(1) */
	put_be64(out + 2, (uint64_t)sth->timestamp_ms);
	put_be64(out + 10, sth->tree_size);
	memcpy(out + 18, sth->root, STORE_HASH_LEN);
}

static int sth_decode(uint64_t size, const MDB_val *val, struct store_sth *out)
{
	struct decoder d;
	dec_init(&d, val->mv_data, val->mv_size);
	out->tree_size = size;
	out->timestamp_ms = dec_i64(&d);
	dec_bytes(&d, out->root, STORE_HASH_LEN);
	dec_blob(&d, &out->signature);
	return dec_finish(&d);
}

int store_sth_latest(struct store_txn *txn, struct store_sth *out)
{
	int rc = log_ready(txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = store_cursor(txn, DB_LOG_STH, &c)) < 0)
		return rc;
	MDB_val key, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
	mdb_cursor_close(c);
	if (rc)
		return store_error(rc);
	if (key.mv_size != 8)
		return -EIO;
	return sth_decode(get_be64(key.mv_data), &val, out);
}

int store_sth_get(struct store_txn *txn, uint64_t tree_size, struct store_sth *out)
{
	int rc = log_ready(txn);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, tree_size);
	MDB_val key = {8, k}, val;
	if ((rc = store_get(txn, DB_LOG_STH, &key, &val)) < 0)
		return rc;
	return sth_decode(tree_size, &val, out);
}

int store_sth_put(struct store_txn *txn, const struct store_sth *sth)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (sth->signature.len > UINT32_MAX)
		return -EINVAL;
	struct store_sth latest;
	rc = store_sth_latest(txn, &latest);
	if (rc == 0 && latest.tree_size >= sth->tree_size)
		return -EALREADY;
	if (rc && rc != -ENOENT)
		return rc;
	uint8_t root[STORE_HASH_LEN];
	if ((rc = store_log_root(txn, sth->tree_size, root)) < 0)
		return rc;
	if (memcmp(root, sth->root, STORE_HASH_LEN) != 0)
		return -EINVAL;
	uint8_t k[8];
	put_be64(k, sth->tree_size);
	struct encoder e = {0};
	enc_u8(&e, CODEC_V1);
	enc_i64(&e, sth->timestamp_ms);
	enc_bytes(&e, sth->root, STORE_HASH_LEN);
	enc_blob(&e, sth->signature);
	MDB_val key = {8, k}, val = {e.len, NULL};
	if ((rc = store_put(txn, DB_LOG_STH, &key, &val, MDB_APPEND | MDB_RESERVE)) < 0)
		return rc;
	e = (struct encoder){val.mv_data, 0};
	enc_u8(&e, CODEC_V1);
	enc_i64(&e, sth->timestamp_ms);
	enc_bytes(&e, sth->root, STORE_HASH_LEN);
	enc_blob(&e, sth->signature);
	return 0;
}

int store_sth_each(struct store_txn *txn, int (*fn)(const struct store_sth *, void *), void *arg)
{
	int rc = log_ready(txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = store_cursor(txn, DB_LOG_STH, &c)) < 0)
		return rc;
	MDB_val key, val;
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		struct store_sth sth;
		int result =
		        key.mv_size == 8 ? sth_decode(get_be64(key.mv_data), &val, &sth) : -EIO;
		if (result == 0)
			result = fn(&sth, arg);
		if (result) {
			mdb_cursor_close(c);
			return result;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_error(rc);
}

/* --- building the log of an older store ------------------------------------------- */

/* A record's time: both layouts start with the version octet and an i64. */
static int64_t record_time(const MDB_val *val)
{
	if (val->mv_size < 9)
		return INT64_MAX;
	return (int64_t)get_be64((const uint8_t *)val->mv_data + 1);
}

int log_build(struct store_txn *txn)
{
	MDB_cursor *ci, *ca;
	int rc = store_cursor(txn, DB_INTAKE, &ci);
	if (rc)
		return rc;
	if ((rc = store_cursor(txn, DB_AUDIT, &ca)) < 0) {
		mdb_cursor_close(ci);
		return rc;
	}
	MDB_val ik, iv, ak, av;
	int irc = mdb_cursor_get(ci, &ik, &iv, MDB_FIRST);
	int arc = mdb_cursor_get(ca, &ak, &av, MDB_FIRST);
	rc = 0;
	while (rc == 0 && (irc == 0 || arc == 0)) {
		bool intake = irc == 0 && (arc != 0 || record_time(&iv) <= record_time(&av));
		MDB_val *k = intake ? &ik : &ak, *v = intake ? &iv : &av;
		if (k->mv_size != 8) {
			rc = -EIO;
			break;
		}
		rc = log_append(txn, intake ? STORE_LOG_INTAKE : STORE_LOG_AUDIT,
		                get_be64(k->mv_data), v->mv_data, v->mv_size);
		if (intake)
			irc = mdb_cursor_get(ci, &ik, &iv, MDB_NEXT);
		else
			arc = mdb_cursor_get(ca, &ak, &av, MDB_NEXT);
	}
	mdb_cursor_close(ci);
	mdb_cursor_close(ca);
	if (rc == 0 && irc != MDB_NOTFOUND && irc != 0)
		rc = store_error(irc);
	if (rc == 0 && arc != MDB_NOTFOUND && arc != 0)
		rc = store_error(arc);
	return rc;
}

/* --- checking the log against the records ------------------------------------------ */

/* The right edge of a tree being rebuilt leaf by leaf: the roots of its
 * complete subtrees, largest first (a "compact range" from 0). */
struct frontier {
	uint8_t hash[64][STORE_HASH_LEN];
	unsigned level[64];
	unsigned count;
};

static void frontier_push(struct frontier *f, const uint8_t hash[STORE_HASH_LEN])
{
	memcpy(f->hash[f->count], hash, STORE_HASH_LEN);
	f->level[f->count++] = 0;
	while (f->count >= 2 && f->level[f->count - 1] == f->level[f->count - 2]) {
		node_hash(f->hash[f->count - 2], f->hash[f->count - 1], f->hash[f->count - 2]);
		f->level[f->count - 2]++;
		f->count--;
	}
}

static void frontier_root(const struct frontier *f, uint8_t out[STORE_HASH_LEN])
{
	if (f->count == 0) {
		sha256_parts(NULL, 0, NULL, 0, NULL, 0, out);
		return;
	}
	memcpy(out, f->hash[f->count - 1], STORE_HASH_LEN);
	for (unsigned i = f->count - 1; i-- > 0;)
		node_hash(f->hash[i], out, out);
}

static const char *type_name(enum store_log_type type)
{
	return type == STORE_LOG_INTAKE ? "intake" : "audit";
}

#define BAD(r, leaf, ...)                                                                          \
	do {                                                                                       \
		(r)->bad = true;                                                                   \
		(r)->bad_leaf = (leaf);                                                            \
		snprintf((r)->problem, sizeof((r)->problem), __VA_ARGS__);                         \
	} while (0)

struct check {
	struct store_txn *txn;
	struct store_log_report *report;
	struct frontier frontier;
	uint64_t next_record[3]; /* by type: the record the next leaf of that type must log */
	MDB_cursor *sths;
	MDB_val sth_key, sth_val;
	int sth_rc; /* of the STH cursor: MDB_NOTFOUND when no STH is left */
};

/* Compares the roots of the STHs of `size` leaves with the rebuilt tree. */
static int check_sths_at(struct check *c, uint64_t size)
{
	while (c->sth_rc == 0) {
		if (c->sth_key.mv_size != 8)
			return -EIO;
		uint64_t sth_size = get_be64(c->sth_key.mv_data);
		if (sth_size > size)
			return 0;
		struct store_sth sth;
		int rc = sth_decode(sth_size, &c->sth_val, &sth);
		if (rc)
			return rc;
		uint8_t root[STORE_HASH_LEN];
		frontier_root(&c->frontier, root);
		if (sth_size < size) {
			/* only when a leaf is missing at the very start */
			BAD(c->report, sth_size,
			    "the signed tree head of %" PRIu64 " leaves was "
			    "not met while rebuilding the tree",
			    sth_size);
			return 0;
		}
		if (memcmp(root, sth.root, STORE_HASH_LEN) != 0) {
			BAD(c->report, size ? size - 1 : 0,
			    "the signed tree head of %" PRIu64 " leaves does not match the tree "
			    "rebuilt from the records (a logged record or leaf was changed or "
			    "removed)",
			    sth_size);
			return 0;
		}
		c->report->sths++;
		c->sth_rc = mdb_cursor_get(c->sths, &c->sth_key, &c->sth_val, MDB_NEXT);
	}
	return c->sth_rc == MDB_NOTFOUND ? 0 : store_error(c->sth_rc);
}

/* Checks leaf `index` (stored as key/val) against the record it logs. */
static int check_leaf(struct check *c, uint64_t index, const MDB_val *key, const MDB_val *val)
{
	struct store_log_report *r = c->report;
	if (key->mv_size != 8)
		return -EIO;
	uint64_t stored = get_be64(key->mv_data);
	if (stored != index) {
		BAD(r, index,
		    "leaf %" PRIu64 " is missing from the log (the next stored leaf is %" PRIu64
		    ")",
		    index, stored);
		return 0;
	}
	struct store_log_leaf leaf;
	if (leaf_decode(index, val, &leaf) < 0 ||
	    (leaf.type != STORE_LOG_INTAKE && leaf.type != STORE_LOG_AUDIT)) {
		BAD(r, index, "leaf %" PRIu64 " cannot be read", index);
		return 0;
	}
	const char *what = type_name(leaf.type);
	if (leaf.record != c->next_record[leaf.type]) {
		BAD(r, index,
		    "leaf %" PRIu64 " logs %s record %" PRIu64 " where %s record %" PRIu64
		    " was expected (a record or leaf was removed or reordered)",
		    index, what, leaf.record, what, c->next_record[leaf.type]);
		return 0;
	}
	uint8_t k[8];
	put_be64(k, leaf.record);
	MDB_val rkey = {8, k}, rval;
	int rc = store_get(c->txn, leaf.type == STORE_LOG_INTAKE ? DB_INTAKE : DB_AUDIT, &rkey,
	                   &rval);
	if (rc == -ENOENT) {
		BAD(r, index,
		    "leaf %" PRIu64 " logs %s record %" PRIu64 ", which is missing from "
		    "the store (the record was deleted)",
		    index, what, leaf.record);
		return 0;
	}
	if (rc)
		return rc;
	uint8_t hash[STORE_HASH_LEN];
	leaf_hash(leaf.type, rval.mv_data, rval.mv_size, hash);
	if (memcmp(hash, leaf.hash, STORE_HASH_LEN) != 0) {
		BAD(r, index,
		    "%s record %" PRIu64 " (leaf %" PRIu64 ") differs from the bytes "
		    "that were logged (the record was changed after it was stored)",
		    what, leaf.record, index);
		return 0;
	}
	uint64_t back;
	rc = store_log_leaf_of(c->txn, leaf.type, leaf.record, &back);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc || back != index) {
		BAD(r, index,
		    "%s record %" PRIu64 " is not indexed to its leaf %" PRIu64
		    " (the record-to-leaf index was changed)",
		    what, leaf.record, index);
		return 0;
	}
	c->next_record[leaf.type]++;
	r->records++;
	frontier_push(&c->frontier, hash);
	return 0;
}

/* Every record of db must be logged: as many entries as leaves of its type. */
static int check_unlogged(struct check *c, enum store_db db, enum store_log_type type)
{
	MDB_stat st;
	int rc = store_error(mdb_stat(c->txn->txn, c->txn->store->dbi[db], &st));
	if (rc)
		return rc;
	uint64_t logged = c->next_record[type] - 1;
	if (st.ms_entries != logged)
		BAD(c->report, c->report->leaves,
		    "the store holds %" PRIu64 " %s records but the "
		    "log has %" PRIu64 " (a record was added or removed outside kensho)",
		    (uint64_t)st.ms_entries, type_name(type), logged);
	return 0;
}

int store_log_check(struct store_txn *txn, struct store_log_report *report)
{
	memset(report, 0, sizeof *report);
	int rc = log_ready(txn);
	if (rc)
		return rc;
	struct check *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->txn = txn;
	c->report = report;
	c->next_record[STORE_LOG_INTAKE] = c->next_record[STORE_LOG_AUDIT] = 1;
	MDB_cursor *leaves = NULL;
	if ((rc = store_cursor(txn, DB_LOG_STH, &c->sths)) < 0)
		goto out;
	c->sth_rc = mdb_cursor_get(c->sths, &c->sth_key, &c->sth_val, MDB_FIRST);
	if ((rc = store_cursor(txn, DB_LOG_LEAVES, &leaves)) < 0)
		goto out;
	rc = check_sths_at(c, 0);
	MDB_val key, val;
	int lrc;
	for (lrc = mdb_cursor_get(leaves, &key, &val, MDB_FIRST);
	     rc == 0 && !report->bad && lrc == 0;
	     lrc = mdb_cursor_get(leaves, &key, &val, MDB_NEXT)) {
		rc = check_leaf(c, report->leaves, &key, &val);
		if (rc == 0 && !report->bad) {
			report->leaves++;
			rc = check_sths_at(c, report->leaves);
		}
	}
	if (rc || report->bad)
		goto out;
	if (lrc != MDB_NOTFOUND) {
		rc = store_error(lrc);
		goto out;
	}
	if (c->sth_rc == 0 && c->sth_key.mv_size == 8) {
		BAD(report, report->leaves,
		    "the signed tree head of %" PRIu64 " leaves is beyond "
		    "the log's %" PRIu64 " leaves (leaves were removed)",
		    get_be64(c->sth_key.mv_data), report->leaves);
		goto out;
	}
	if ((rc = check_unlogged(c, DB_INTAKE, STORE_LOG_INTAKE)) < 0 || report->bad)
		goto out;
	if ((rc = check_unlogged(c, DB_AUDIT, STORE_LOG_AUDIT)) < 0 || report->bad)
		goto out;
	/* The cached subtrees, which roots and proofs are served from. */
	uint8_t rebuilt[STORE_HASH_LEN], cached[STORE_HASH_LEN];
	frontier_root(&c->frontier, rebuilt);
	rc = store_log_root(txn, report->leaves, cached);
	if (rc == -EIO) {
		BAD(report, report->leaves,
		    "a cached subtree hash of the log is missing or "
		    "unreadable");
		rc = 0;
	} else if (rc == 0 && memcmp(rebuilt, cached, STORE_HASH_LEN) != 0) {
		BAD(report, report->leaves,
		    "the cached subtree hashes give another root than the "
		    "leaves (proofs would be wrong)");
	}
out:
	if (leaves)
		mdb_cursor_close(leaves);
	if (c->sths)
		mdb_cursor_close(c->sths);
	free(c);
	return rc;
}
