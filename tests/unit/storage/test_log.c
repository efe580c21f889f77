/* storage: the Merkle log of intake and audit records. Roots and proofs of
 * every tree of 1..64 leaves are checked against a reference written here
 * straight from RFC 9162 §2.1 (recursive MTH, PATH and SUBPROOF over an array
 * of leaf hashes), leaf hashes against SHA-256(0x00 || type || the stored
 * value), and store_log_check against records edited or removed behind the
 * store's back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "storage/store_internal.h"
#include "tests/unit/storage/fixture.h"

#define H          STORE_HASH_LEN
#define MAX_LEAVES 64

static int setup(void **state)
{
	*state = fixture_open(0, 0);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	fixture_close(*state);
	return 0;
}

static struct store_txn *begin(struct store *s, bool write)
{
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(s, write, &txn), 0);
	return txn;
}

/* --- the reference: RFC 9162 §2.1 as written --------------------------------------- */

static void ref_node(const uint8_t *l, const uint8_t *r, uint8_t *out)
{
	uint8_t buf[1 + 2 * H] = {1};
	memcpy(buf + 1, l, H);
	memcpy(buf + 1 + H, r, H);
	mbedtls_sha256_ret(buf, sizeof buf, out, 0);
}

static size_t ref_k(size_t n)
{
	size_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[0:n]) of leaf hashes d */
static void ref_mth(uint8_t d[][H], size_t n, uint8_t *out)
{
	if (n == 0) {
		mbedtls_sha256_ret((const uint8_t *)"", 0, out, 0);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], H);
		return;
	}
	size_t k = ref_k(n);
	uint8_t l[H], r[H];
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	ref_node(l, r, out);
}

struct ref_proof {
	uint8_t h[STORE_PROOF_MAX][H];
	size_t n;
};

static void ref_path(size_t m, uint8_t d[][H], size_t n, struct ref_proof *p)
{
	if (n == 1)
		return;
	size_t k = ref_k(n);
	if (m < k) {
		ref_path(m, d, k, p);
		ref_mth(d + k, n - k, p->h[p->n++]);
	} else {
		ref_path(m - k, d + k, n - k, p);
		ref_mth(d, k, p->h[p->n++]);
	}
}

static void ref_subproof(size_t m, uint8_t d[][H], size_t n, bool b, struct ref_proof *p)
{
	if (m == n) {
		if (!b)
			ref_mth(d, n, p->h[p->n++]);
		return;
	}
	size_t k = ref_k(n);
	if (m <= k) {
		ref_subproof(m, d, k, b, p);
		ref_mth(d + k, n - k, p->h[p->n++]);
	} else {
		ref_subproof(m - k, d + k, n - k, false, p);
		ref_mth(d, k, p->h[p->n++]);
	}
}

/* --- helpers -------------------------------------------------------------------------- */

static void add_audit(struct store_txn *txn, int64_t time, int i)
{
	struct store_audit a = {.time = time};
	snprintf(a.actor, sizeof a.actor, "CN=operator %d", i);
	snprintf(a.action, sizeof a.action, "issue");
	snprintf(a.subject, sizeof a.subject, "sign/%04x", i);
	assert_int_equal(store_audit_append(txn, &a), 0);
}

static void add_intake(struct store_txn *txn, int64_t time, int i)
{
	char original[32], result[32];
	snprintf(original, sizeof original, "application %d", i);
	snprintf(result, sizeof result, "{\"valid\":true}");
	struct store_intake r = {
	        .received_at = time,
	        .original = {(const uint8_t *)original, strlen(original)},
	        .result = {(const uint8_t *)result, strlen(result)},
	        .receipt_der = {(const uint8_t *)"r", 1},
	};
	mbedtls_sha256_ret((const uint8_t *)original, strlen(original), r.digest, 0);
	assert_int_equal(store_intake_put(txn, &r), 0);
}

/* SHA-256(0x00 || type || the record's stored value) */
static void expected_leaf(struct store_txn *txn, enum store_log_type type, uint64_t record,
                          uint8_t out[H])
{
	uint8_t k[8];
	put_be64(k, record);
	MDB_val key = {8, k}, val;
	assert_int_equal(
	        store_get(txn, type == STORE_LOG_INTAKE ? DB_INTAKE : DB_AUDIT, &key, &val), 0);
	uint8_t *buf = malloc(2 + val.mv_size);
	buf[0] = 0;
	buf[1] = (uint8_t)type;
	memcpy(buf + 2, val.mv_data, val.mv_size);
	mbedtls_sha256_ret(buf, 2 + val.mv_size, out, 0);
	free(buf);
}

static void check_report(struct store *s, bool bad, const char *needle)
{
	struct store_txn *txn = begin(s, false);
	struct store_log_report r;
	assert_int_equal(store_log_check(txn, &r), 0);
	store_txn_abort(txn);
	if (bad != r.bad)
		fail_msg("store_log_check: bad=%d, problem: %s", r.bad, r.problem);
	if (needle && !strstr(r.problem, needle))
		fail_msg("problem \"%s\" does not say \"%s\"", r.problem, needle);
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_roots_and_proofs_match_rfc_9162(void **state)
{
	struct fixture *f = *state;
	static uint8_t d[MAX_LEAVES][H];
	struct store_txn *txn = begin(f->store, true);
	for (int i = 0; i < MAX_LEAVES; i++) {
		/* both kinds of leaves, interleaved */
		if (i % 3 == 1)
			add_intake(txn, 1000 + i, i);
		else
			add_audit(txn, 1000 + i, i);
	}
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(f->store, false);
	uint64_t size;
	assert_int_equal(store_log_size(txn, &size), 0);
	assert_int_equal(size, MAX_LEAVES);
	uint64_t next[3] = {0, 1, 1};
	for (int i = 0; i < MAX_LEAVES; i++) {
		struct store_log_leaf leaf;
		assert_int_equal(store_log_leaf_get(txn, i, &leaf), 0);
		enum store_log_type want = i % 3 == 1 ? STORE_LOG_INTAKE : STORE_LOG_AUDIT;
		assert_int_equal(leaf.type, want);
		assert_int_equal(leaf.record, next[want]++);
		expected_leaf(txn, leaf.type, leaf.record, d[i]);
		assert_memory_equal(leaf.hash, d[i], H);
		uint64_t back;
		assert_int_equal(store_log_leaf_of(txn, leaf.type, leaf.record, &back), 0);
		assert_int_equal(back, i);
	}
	struct store_log_leaf leaf;
	assert_int_equal(store_log_leaf_get(txn, MAX_LEAVES, &leaf), -ENOENT);
	uint64_t none;
	assert_int_equal(store_log_leaf_of(txn, STORE_LOG_INTAKE, 1000, &none), -ENOENT);

	uint8_t root[H], want[H];
	assert_int_equal(store_log_root(txn, 0, root), 0);
	ref_mth(d, 0, want);
	assert_memory_equal(root, want, H);
	assert_int_equal(store_log_root(txn, MAX_LEAVES + 1, root), -EINVAL);
	uint8_t path[STORE_PROOF_MAX][H];
	size_t count;
	for (size_t n = 1; n <= MAX_LEAVES; n++) {
		assert_int_equal(store_log_root(txn, n, root), 0);
		ref_mth(d, n, want);
		assert_memory_equal(root, want, H);
		for (size_t m = 0; m < n; m++) {
			struct ref_proof p = {.n = 0};
			ref_path(m, d, n, &p);
			assert_int_equal(store_log_inclusion(txn, m, n, path, &count), 0);
			assert_int_equal(count, p.n);
			if (count)
				assert_memory_equal(path, p.h, count * H);
		}
		for (size_t m = 1; m <= n; m++) {
			struct ref_proof p = {.n = 0};
			if (m < n)
				ref_subproof(m, d, n, true, &p);
			assert_int_equal(store_log_consistency(txn, m, n, path, &count), 0);
			assert_int_equal(count, p.n);
			if (count)
				assert_memory_equal(path, p.h, count * H);
		}
		assert_int_equal(store_log_inclusion(txn, n, n, path, &count), -EINVAL);
	}
	assert_int_equal(store_log_consistency(txn, 0, 5, path, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_log_consistency(txn, 6, 5, path, &count), -EINVAL);
	assert_int_equal(store_log_inclusion(txn, 0, MAX_LEAVES + 1, path, &count), -EINVAL);
	store_txn_abort(txn);
	check_report(f->store, false, NULL);
}

/* A known answer independent of the reference: the tree of one audit leaf
 * is its leaf hash, and two leaves hash as SHA-256(01 || a || b). */
static void test_small_trees_by_hand(void **state)
{
	struct fixture *f = *state;
	struct store_txn *txn = begin(f->store, true);
	add_audit(txn, 1, 1);
	add_audit(txn, 2, 2);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(f->store, false);
	uint8_t a[H], b[H], root[H], want[H];
	expected_leaf(txn, STORE_LOG_AUDIT, 1, a);
	expected_leaf(txn, STORE_LOG_AUDIT, 2, b);
	assert_int_equal(store_log_root(txn, 1, root), 0);
	assert_memory_equal(root, a, H);
	uint8_t buf[65] = {1};
	memcpy(buf + 1, a, H);
	memcpy(buf + 33, b, H);
	mbedtls_sha256_ret(buf, sizeof buf, want, 0);
	assert_int_equal(store_log_root(txn, 2, root), 0);
	assert_memory_equal(root, want, H);
	static const uint8_t empty[H] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	                                 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	                                 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	                                 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	assert_int_equal(store_log_root(txn, 0, root), 0);
	assert_memory_equal(root, empty, H);
	store_txn_abort(txn);
}

static void test_sth_rules(void **state)
{
	struct fixture *f = *state;
	struct store_txn *txn = begin(f->store, true);
	for (int i = 0; i < 5; i++)
		add_audit(txn, i, i);
	struct store_sth sth = {.tree_size = 3,
	                        .timestamp_ms = 1700000000123,
	                        .signature = {(const uint8_t *)"sig3", 4}};
	assert_int_equal(store_sth_latest(txn, &sth), -ENOENT);
	sth = (struct store_sth){.tree_size = 3,
	                         .timestamp_ms = 1700000000123,
	                         .signature = {(const uint8_t *)"sig3", 4}};
	assert_int_equal(store_sth_put(txn, &sth), -EINVAL); /* root not the log's */
	assert_int_equal(store_log_root(txn, 3, sth.root), 0);
	assert_int_equal(store_sth_put(txn, &sth), 0);
	assert_int_equal(store_sth_put(txn, &sth), -EALREADY); /* same size twice */
	struct store_sth smaller = sth;
	smaller.tree_size = 2;
	assert_int_equal(store_log_root(txn, 2, smaller.root), 0);
	assert_int_equal(store_sth_put(txn, &smaller), -EALREADY);
	struct store_sth beyond = sth;
	beyond.tree_size = 6;
	assert_int_equal(store_sth_put(txn, &beyond), -EINVAL);
	struct store_sth five = {.tree_size = 5,
	                         .timestamp_ms = 1700000060000,
	                         .signature = {(const uint8_t *)"sig5", 4}};
	assert_int_equal(store_log_root(txn, 5, five.root), 0);
	assert_int_equal(store_sth_put(txn, &five), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(f->store, false);
	struct store_sth got;
	assert_int_equal(store_sth_latest(txn, &got), 0);
	assert_int_equal(got.tree_size, 5);
	assert_int_equal(got.timestamp_ms, 1700000060000);
	assert_memory_equal(got.signature.data, "sig5", 4);
	assert_int_equal(store_sth_get(txn, 3, &got), 0);
	assert_memory_equal(got.root, sth.root, H);
	assert_int_equal(store_sth_get(txn, 4, &got), -ENOENT);
	uint8_t bytes[STORE_STH_SIGNED_LEN];
	store_sth_signed_bytes(&got, bytes);
	static const uint8_t head[18] = {0,    1, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68,
	                                 0x7b, 0, 0, 0, 0,    0,    0,    0,    3};
	assert_memory_equal(bytes, head, sizeof head); /* 1700000000123 ms, size 3 */
	assert_memory_equal(bytes + 18, sth.root, H);
	store_txn_abort(txn);
	check_report(f->store, false, NULL);
}

/* Fills a store with records and STHs for the tamper tests. */
static void fill(struct store *s)
{
	struct store_txn *txn = begin(s, true);
	for (int i = 0; i < 10; i++) {
		if (i % 2)
			add_intake(txn, 100 + i, i);
		else
			add_audit(txn, 100 + i, i);
		if (i == 4 || i == 9) {
			struct store_sth sth = {.tree_size = (uint64_t)i + 1, .timestamp_ms = i};
			assert_int_equal(store_log_root(txn, sth.tree_size, sth.root), 0);
			assert_int_equal(store_sth_put(txn, &sth), 0);
		}
	}
	assert_int_equal(store_txn_commit(txn), 0);
	check_report(s, false, NULL);
}

/* Rewrites the value of record `record` of db with one byte flipped. */
static void flip_byte(struct store *s, enum store_db db, uint64_t record, size_t at)
{
	struct store_txn *txn = begin(s, true);
	uint8_t k[8], copy[512];
	put_be64(k, record);
	MDB_val key = {8, k}, val;
	assert_int_equal(store_get(txn, db, &key, &val), 0);
	assert_true(val.mv_size <= sizeof copy && at < val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	copy[at] ^= 1;
	val.mv_data = copy;
	assert_int_equal(store_put(txn, db, &key, &val, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static void delete_key(struct store *s, enum store_db db, uint64_t record)
{
	struct store_txn *txn = begin(s, true);
	uint8_t k[8];
	put_be64(k, record);
	MDB_val key = {8, k};
	assert_int_equal(store_del(txn, db, &key), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static void test_check_finds_an_edited_intake_record(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	flip_byte(f->store, DB_INTAKE, 3, 20);
	check_report(f->store, true, "intake record 3 (leaf 5) differs");
}

static void test_check_finds_an_edited_audit_record(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	flip_byte(f->store, DB_AUDIT, 1, 12);
	check_report(f->store, true, "audit record 1 (leaf 0) differs");
}

static void test_check_finds_a_deleted_record(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	delete_key(f->store, DB_AUDIT, 2);
	check_report(f->store, true, "audit record 2, which is missing");
}

static void test_check_finds_a_deleted_last_record_and_leaf(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	/* the last record with its leaf: only the STH of 10 leaves knows */
	delete_key(f->store, DB_INTAKE, 5);
	delete_key(f->store, DB_LOG_LEAVES, 9);
	check_report(f->store, true, "signed tree head of 10 leaves is beyond");
}

static void test_check_finds_a_removed_leaf(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	delete_key(f->store, DB_LOG_LEAVES, 6);
	check_report(f->store, true, "leaf 6 is missing");
}

static void test_check_finds_a_changed_record_index(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	struct store_txn *txn = begin(f->store, true);
	uint8_t k[9] = {STORE_LOG_INTAKE, 0, 0, 0, 0, 0, 0, 0, 2},
	        v[9] = {1, 0, 0, 0, 0, 0, 0, 0, 9};
	MDB_val key = {sizeof k, k}, val = {sizeof v, v};
	assert_int_equal(store_put(txn, DB_LOG_RECORDS, &key, &val, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	check_report(f->store, true, "intake record 2 is not indexed to its leaf 3");
}

static void test_check_finds_an_unlogged_record(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	struct store_txn *txn = begin(f->store, true);
	uint8_t k[8], v[32] = {1};
	put_be64(k, 6);
	MDB_val key = {8, k}, val = {sizeof v, v};
	assert_int_equal(store_put(txn, DB_AUDIT, &key, &val, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	check_report(f->store, true, "holds 6 audit records but the log has 5");
}

/* A record edited together with its leaf hash (and the cached subtrees
 * redone): the signed tree heads still catch it. */
static void test_check_finds_a_consistent_rewrite_by_its_sth(void **state)
{
	struct fixture *f = *state;
	fill(f->store);
	flip_byte(f->store, DB_AUDIT, 1, 12);
	struct store_txn *txn = begin(f->store, true);
	/* rebuild the whole log from the records as they now are */
	assert_int_equal(mdb_drop(txn->txn, f->store->dbi[DB_LOG_LEAVES], 0), 0);
	assert_int_equal(mdb_drop(txn->txn, f->store->dbi[DB_LOG_NODES], 0), 0);
	assert_int_equal(log_build(txn), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	check_report(f->store, true, "signed tree head of 5 leaves does not match");
}

static void test_log_built_for_older_store(void **state)
{
	struct fixture *f = *state;
	struct store_txn *txn = begin(f->store, true);
	add_audit(txn, 100, 1);
	add_intake(txn, 150, 2);
	add_audit(txn, 200, 3);
	add_intake(txn, 160, 4);
	/* make it what kensho of schema 2 wrote: no Merkle log, no replication
	 * log (and this transaction, which drops them, describes no change) */
	txn->recording = false;
	for (int db = DB_LOG_LEAVES; db <= DB_REPLICATION; db++)
		assert_int_equal(mdb_drop(txn->txn, f->store->dbi[db], 1), 0);
	uint8_t schema[5] = {1, 0, 0, 0, 2};
	MDB_val sk = {6, "schema"}, sv = {sizeof schema, schema};
	assert_int_equal(store_put(txn, DB_META, &sk, &sv, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	store_close(f->store);

	/* read-only: no log, and said so */
	struct store_options ro = {.path = f->dir, .read_only = true};
	assert_int_equal(store_open(&ro, &f->store), 0);
	txn = begin(f->store, false);
	uint64_t size;
	assert_int_equal(store_log_size(txn, &size), -ENOENT);
	store_txn_abort(txn);
	store_close(f->store);

	/* read-write: every record logged once, each sequence in its own order,
	 * the two merged by time */
	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), 0);
	txn = begin(f->store, false);
	assert_int_equal(store_log_size(txn, &size), 0);
	assert_int_equal(size, 4);
	static const struct {
		enum store_log_type type;
		uint64_t record;
	} order[4] = {{STORE_LOG_AUDIT, 1},
	              {STORE_LOG_INTAKE, 1},
	              {STORE_LOG_INTAKE, 2},
	              {STORE_LOG_AUDIT, 2}};
	for (int i = 0; i < 4; i++) {
		struct store_log_leaf leaf;
		assert_int_equal(store_log_leaf_get(txn, i, &leaf), 0);
		assert_int_equal(leaf.type, order[i].type);
		assert_int_equal(leaf.record, order[i].record);
		uint64_t back;
		assert_int_equal(store_log_leaf_of(txn, leaf.type, leaf.record, &back), 0);
		assert_int_equal(back, i);
	}
	MDB_val v;
	assert_int_equal(store_get(txn, DB_META, &sk, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[4], 5);
	store_txn_abort(txn);
	check_report(f->store, false, NULL);
	/* opening again does not log twice; new records go on from there */
	store_close(f->store);
	assert_int_equal(store_open(&opts, &f->store), 0);
	txn = begin(f->store, true);
	add_audit(txn, 400, 5);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(f->store, false);
	assert_int_equal(store_log_size(txn, &size), 0);
	assert_int_equal(size, 5);
	store_txn_abort(txn);
	check_report(f->store, false, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_roots_and_proofs_match_rfc_9162, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_small_trees_by_hand, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sth_rules, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_an_edited_intake_record, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_an_edited_audit_record, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_a_deleted_record, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_a_deleted_last_record_and_leaf,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_a_removed_leaf, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_an_unlogged_record, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_a_changed_record_index, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_check_finds_a_consistent_rewrite_by_its_sth,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_log_built_for_older_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
