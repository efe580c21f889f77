/* storage: the refresh index orders every certificate by its answer's
 * nextUpdate (missing first), moves with each write it mirrors, names each
 * certificate once, and is built when a store of schema 1 is opened; a
 * store of schema 2 is upgraded to 4 (batch and SHA-256 answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storage/store_internal.h"
#include "tests/unit/storage/fixture.h"

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

static uint32_t add_issuer(struct store *s)
{
	struct store_txn *txn = begin(s, true);
	struct store_issuer is = issuer_of("sign", CERT_KIND_SIGN, 1);
	assert_int_equal(store_issuer_put(txn, &is, (struct store_blob){(const uint8_t *)"x", 1}),
	                 0);
	assert_int_equal(store_txn_commit(txn), 0);
	return is.id;
}

static void add_cert(struct store *s, uint32_t issuer, uint64_t n)
{
	struct store_txn *txn = begin(s, true);
	struct store_cert c = cert_of(issuer, serial_of(n, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static const uint8_t der[] = {0x30, 0x03, 0x0a, 0x01, 0x00};

static int put_answer(struct store *s, uint32_t issuer, uint64_t n, int64_t next_update)
{
	struct store_serial serial = serial_of(n, 8);
	struct store_txn *txn = begin(s, true);
	struct store_cert c;
	assert_int_equal(store_cert_get(txn, issuer, &serial, &c), 0);
	struct store_response r = {.der = {der, sizeof(der)},
	                           .this_update = next_update - 100,
	                           .next_update = next_update,
	                           .cert_version = c.version};
	int rc = store_response_put(txn, issuer, &serial, &r);
	assert_int_equal(store_txn_commit(txn), 0);
	return rc;
}

struct seen {
	size_t n;
	struct store_refresh_entry e[32];
};

static int seen_cb(const struct store_refresh_entry *e, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < 32);
	s->e[s->n++] = *e;
	return 0;
}

static struct seen walk(struct store *s, int64_t due_at, size_t limit)
{
	struct seen out = {0};
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_refresh_each(txn, due_at, limit, seen_cb, &out), 0);
	store_txn_abort(txn);
	return out;
}

/* serial n of serial_of(n, 8) is recognised by its last byte */
static uint8_t nth(const struct seen *s, size_t i)
{
	return s->e[i].serial.bytes[7];
}

/* Every certificate once, and only certificates. */
static void assert_each_once(struct store *s, size_t certs)
{
	struct seen all = walk(s, INT64_MAX, 1000);
	assert_int_equal(all.n, certs);
	for (size_t i = 0; i < all.n; i++)
		for (size_t j = i + 1; j < all.n; j++)
			assert_false(all.e[i].issuer_id == all.e[j].issuer_id &&
			             all.e[i].serial.len == all.e[j].serial.len &&
			             memcmp(all.e[i].serial.bytes, all.e[j].serial.bytes,
			                    all.e[i].serial.len) == 0);
}

static void test_order_and_moves(void **state)
{
	struct store *s = ((struct fixture *)*state)->store;
	uint32_t issuer = add_issuer(s);
	for (uint64_t n = 1; n <= 4; n++)
		add_cert(s, issuer, n);
	/* inserted without an answer: all at 0, in key order */
	struct seen w = walk(s, 0, 10);
	assert_int_equal(w.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(w.e[i].next_update, 0);
		assert_int_equal(nth(&w, i), i + 1);
	}
	assert_int_equal(put_answer(s, issuer, 1, 3000), 0);
	assert_int_equal(put_answer(s, issuer, 2, 1000), 0);
	assert_int_equal(put_answer(s, issuer, 3, 2000), 0);
	/* 4 is missing, then by nextUpdate */
	w = walk(s, INT64_MAX, 10);
	assert_int_equal(w.n, 4);
	assert_int_equal(nth(&w, 0), 4);
	assert_int_equal(nth(&w, 1), 2);
	assert_int_equal(nth(&w, 2), 3);
	/* from 1: past the missing one with one seek; from 1500: 3 and 1 */
	struct seen from = {0};
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_refresh_each_from(txn, 1, INT64_MAX, 10, seen_cb, &from), 0);
	assert_int_equal(from.n, 3);
	assert_int_equal(nth(&from, 0), 2);
	assert_int_equal(from.e[0].next_update, 1000);
	from.n = 0;
	assert_int_equal(store_refresh_each_from(txn, 1500, 2500, 10, seen_cb, &from), 0);
	assert_int_equal(from.n, 1);
	assert_int_equal(nth(&from, 0), 3);
	store_txn_abort(txn);
	assert_int_equal(nth(&w, 3), 1);
	assert_int_equal(w.e[1].next_update, 1000);
	/* due_at and limit bound the walk */
	w = walk(s, 2000, 10);
	assert_int_equal(w.n, 3);
	w = walk(s, INT64_MAX, 2);
	assert_int_equal(w.n, 2);
	/* a put moves the entry: 2 re-signed to the newest */
	assert_int_equal(put_answer(s, issuer, 2, 4000), 0);
	w = walk(s, INT64_MAX, 10);
	assert_int_equal(nth(&w, 3), 2);
	assert_int_equal(w.e[3].next_update, 4000);
	assert_each_once(s, 4);
}

static void test_revocation_and_links_make_it_missing(void **state)
{
	struct store *s = ((struct fixture *)*state)->store;
	uint32_t issuer = add_issuer(s);
	add_cert(s, issuer, 1);
	add_cert(s, issuer, 2);
	assert_int_equal(put_answer(s, issuer, 1, 1000), 0);
	assert_int_equal(put_answer(s, issuer, 2, 2000), 0);
	assert_int_equal(walk(s, 0, 10).n, 0);

	struct store_serial two = serial_of(2, 8);
	struct store_txn *txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, issuer, &two, 500, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	struct seen w = walk(s, 0, 10);
	assert_int_equal(w.n, 1);
	assert_int_equal(nth(&w, 0), 2);
	assert_each_once(s, 2);

	/* a new link bumps the version: the old answer no longer counts */
	struct store_serial one = serial_of(1, 8);
	txn = begin(s, true);
	struct store_cert c;
	assert_int_equal(store_cert_get(txn, issuer, &one, &c), 0);
	c.person_id = 9;
	assert_int_equal(store_cert_update_links(txn, &c), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(walk(s, 0, 10).n, 2);
	assert_each_once(s, 2);

	/* an answer signed before the revocation is refused and leaves the
	 * index alone */
	txn = begin(s, true);
	struct store_response r = {
	        .der = {der, sizeof(der)}, .next_update = 9000, .cert_version = 1};
	assert_int_equal(store_response_put(txn, issuer, &two, &r), -ESTALE);
	assert_int_equal(store_txn_commit(txn), 0);
	w = walk(s, 0, 10);
	assert_int_equal(w.n, 2);
	assert_each_once(s, 2);
}

static void test_index_built_for_schema_1_store(void **state)
{
	struct fixture *f = *state;
	uint32_t issuer = add_issuer(f->store);
	for (uint64_t n = 1; n <= 3; n++)
		add_cert(f->store, issuer, n);
	assert_int_equal(put_answer(f->store, issuer, 2, 1000), 0);
	/* make it what kensho of schema 1 wrote: no index, generation 1 */
	struct store_txn *txn = begin(f->store, true);
	assert_int_equal(mdb_drop(txn->txn, f->store->dbi[DB_REFRESH], 1), 0);
	uint8_t schema[5] = {1, 0, 0, 0, 1};
	MDB_val sk = {6, "schema"}, sv = {sizeof(schema), schema};
	assert_int_equal(store_put(txn, DB_META, &sk, &sv, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	store_close(f->store);

	/* read-only: no index, and said so */
	struct store_options ro = {.path = f->dir, .read_only = true};
	assert_int_equal(store_open(&ro, &f->store), 0);
	txn = begin(f->store, false);
	struct seen none = {0};
	assert_int_equal(store_refresh_each(txn, INT64_MAX, 10, seen_cb, &none), -ENOENT);
	store_txn_abort(txn);
	store_close(f->store);

	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), 0);
	struct seen w = walk(f->store, INT64_MAX, 10);
	assert_int_equal(w.n, 3);
	assert_int_equal(nth(&w, 0), 1);
	assert_int_equal(nth(&w, 1), 3);
	assert_int_equal(nth(&w, 2), 2);
	assert_int_equal(w.e[2].next_update, 1000);
	/* and maintained from then on; opening again does not index twice */
	store_close(f->store);
	assert_int_equal(store_open(&opts, &f->store), 0);
	assert_int_equal(put_answer(f->store, issuer, 1, 500), 0);
	assert_each_once(f->store, 3);
	txn = begin(f->store, false);
	MDB_val v;
	assert_int_equal(store_get(txn, DB_META, &sk, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[4], 5);
	store_txn_abort(txn);
}

static void test_lease(void **state)
{
	struct store *s = ((struct fixture *)*state)->store;
	struct store_lease l;
	struct store_txn *txn = begin(s, true);
	assert_int_equal(store_lease_get(txn, "refresh", &l), -ENOENT);
	assert_int_equal(store_lease_take(txn, "refresh", 1, 100, 30, &l), 0);
	assert_int_equal(l.expires, 130);
	/* another holder waits until it expires */
	assert_int_equal(store_lease_take(txn, "refresh", 2, 120, 30, &l), -EBUSY);
	assert_int_equal(l.holder, 1);
	/* the holder renews */
	assert_int_equal(store_lease_take(txn, "refresh", 1, 125, 30, &l), 0);
	assert_int_equal(store_lease_take(txn, "refresh", 2, 150, 30, &l), -EBUSY);
	/* a crashed holder's lease lapses */
	assert_int_equal(store_lease_take(txn, "refresh", 2, 156, 30, &l), 0);
	assert_int_equal(l.holder, 2);
	/* releasing someone else's lease does nothing; one's own frees it */
	assert_int_equal(store_lease_release(txn, "refresh", 1), 0);
	assert_int_equal(store_lease_take(txn, "refresh", 1, 160, 30, &l), -EBUSY);
	assert_int_equal(store_lease_release(txn, "refresh", 2), 0);
	assert_int_equal(store_lease_take(txn, "refresh", 1, 160, 30, &l), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

/* Schema 3 added batch answers and SHA-256 answers. A store of generation 2
 * opens read-only as it is (no SHA-256 answers, no batches), and read-write
 * gets the new sub-databases and generation 3 while its answers keep
 * serving; from then on a batch answer serves its members. */
static void test_schema_2_store_upgraded(void **state)
{
	struct fixture *f = *state;
	uint32_t issuer = add_issuer(f->store);
	for (uint64_t n = 1; n <= 3; n++)
		add_cert(f->store, issuer, n);
	assert_int_equal(put_answer(f->store, issuer, 1, 4000000000), 0);
	struct store_txn *txn = begin(f->store, true);
	for (int db = DB_RESPONSES_SHA256; db <= DB_BATCH_REFS; db++)
		assert_int_equal(mdb_drop(txn->txn, f->store->dbi[db], 1), 0);
	uint8_t schema[5] = {1, 0, 0, 0, 2};
	MDB_val sk = {6, "schema"}, sv = {sizeof(schema), schema};
	assert_int_equal(store_put(txn, DB_META, &sk, &sv, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	store_close(f->store);

	struct store_serial one = serial_of(1, 8), two = serial_of(2, 8), three = serial_of(3, 8);
	struct store_cert c;
	struct store_response r;
	struct store_options ro = {.path = f->dir, .read_only = true};
	assert_int_equal(store_open(&ro, &f->store), 0);
	txn = begin(f->store, false);
	assert_int_equal(store_status_lookup(txn, issuer, &one, &c, &r), 0);
	assert_int_equal(r.der.len, sizeof(der));
	assert_int_equal(store_status_lookup_form(txn, issuer, &one, STORE_HASH_SHA256, &c, &r), 0);
	assert_null(r.der.data);
	uint64_t batches = 9;
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	struct seen w = {0};
	assert_int_equal(store_refresh_each(txn, INT64_MAX, 10, seen_cb, &w), 0);
	assert_int_equal(w.n, 3);
	store_txn_abort(txn);
	store_close(f->store);

	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), 0);
	txn = begin(f->store, true);
	MDB_val v;
	assert_int_equal(store_get(txn, DB_META, &sk, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[4], 5);
	assert_int_equal(store_status_lookup(txn, issuer, &one, &c, &r), 0);
	assert_int_equal(r.der.len, sizeof(der));
	static const uint8_t batch_der[] = {0x30, 0x03, 0x0a, 0x01, 0x07};
	struct store_response b = {.der = {batch_der, sizeof(batch_der)},
	                           .this_update = 100,
	                           .next_update = 4000000001};
	struct store_batch_member m[3] = {{.serial = one, .cert_version = 1},
	                                  {.serial = two, .cert_version = 1},
	                                  {.serial = three, .cert_version = 7}};
	/* one member changed: cached for none */
	assert_int_equal(store_batch_put(txn, issuer, &b, m, 3), 0);
	assert_int_equal(m[0].result, -ECANCELED);
	assert_int_equal(m[1].result, -ECANCELED);
	assert_int_equal(m[2].result, -ESTALE);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	assert_int_equal(store_batch_put(txn, issuer, &b, m, 2), 0);
	assert_int_equal(m[0].result, 0);
	assert_int_equal(m[1].result, 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(f->store, false);
	assert_int_equal(store_status_lookup(txn, issuer, &two, &c, &r), 0);
	assert_int_equal(r.der.len, sizeof(batch_der));
	assert_memory_equal(r.der.data, batch_der, sizeof(batch_der));
	assert_int_equal(r.next_update, 4000000001);
	assert_int_equal(store_status_lookup(txn, issuer, &three, &c, &r), 0);
	assert_null(r.der.data);
	store_txn_abort(txn);
	w = walk(f->store, INT64_MAX, 10);
	assert_int_equal(nth(&w, 0), 3); /* still missing: first in line */

	/* one member revoked: the batch goes for both, the other is missing */
	txn = begin(f->store, true);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 5, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	assert_int_equal(store_status_lookup(txn, issuer, &two, &c, &r), 0);
	assert_null(r.der.data);
	assert_int_equal(store_txn_commit(txn), 0);
	w = walk(f->store, INT64_MAX, 10);
	assert_int_equal(w.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(w.e[i].next_update, 0);
}

static uint64_t batch_records(struct store *s, uint64_t *overflow_pages)
{
	struct store_txn *txn = begin(s, false);
	MDB_stat st;
	assert_int_equal(mdb_stat(txn->txn, s->dbi[DB_BATCHES], &st), 0);
	store_txn_abort(txn);
	*overflow_pages = st.ms_overflow_pages;
	return st.ms_entries;
}

/* A batch answer larger than half an LMDB page is kept in records that stay
 * in leaf pages (never overflow pages, whose allocation scans LMDB's whole
 * free list), read back whole, and deleted whole with its last reference;
 * a version 1 record (one value) written by an earlier kenshod still reads. */
static void test_batch_records(void **state)
{
	struct store *s = ((struct fixture *)*state)->store;
	uint32_t issuer = add_issuer(s);
	for (uint64_t n = 1; n <= 3; n++)
		add_cert(s, issuer, n);
	static uint8_t big[5000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	struct store_response b = {.der = {big, sizeof big},
	                           .this_update = 100,
	                           .next_update = 4000000001};
	struct store_batch_member m[3];
	for (uint64_t n = 1; n <= 3; n++)
		m[n - 1] = (struct store_batch_member){.serial = serial_of(n, 8), .cert_version = 1};
	struct store_txn *txn = begin(s, true);
	assert_int_equal(store_batch_put(txn, issuer, &b, m, 3), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	uint64_t overflow = 9;
	assert_true(batch_records(s, &overflow) >= 3); /* 5,000 bytes in 2,000-byte records */
	assert_int_equal(overflow, 0);

	txn = begin(s, false);
	uint64_t batches = 0;
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 1);
	struct store_cert c;
	struct store_response r;
	for (uint64_t n = 1; n <= 3; n++) {
		struct store_serial serial = serial_of(n, 8);
		assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &r), 0);
		assert_int_equal(r.der.len, sizeof big);
		assert_memory_equal(r.der.data, big, sizeof big);
	}
	store_txn_abort(txn);

	/* a batch that lost its last record is an error, not someone else's
	 * bytes: here the record that follows is the next batch's, of just the
	 * missing length */
	txn = begin(s, true);
	uint8_t last[9], next[8];
	put_be64(last, 1);
	last[8] = 2;
	put_be64(next, 2);
	MDB_val lk = {sizeof last, last}, lv;
	assert_int_equal(store_get(txn, DB_BATCHES, &lk, &lv), 0);
	static uint8_t other[2000];
	assert_true(lv.mv_size <= sizeof other);
	memset(other, 0xee, sizeof other);
	MDB_val nk = {sizeof next, next}, nv = {lv.mv_size, other};
	assert_int_equal(store_del(txn, DB_BATCHES, &lk), 0);
	assert_int_equal(store_put(txn, DB_BATCHES, &nk, &nv, 0), 0);
	struct store_serial one = serial_of(1, 8);
	assert_int_equal(store_status_lookup(txn, issuer, &one, &c, &r), -EIO);
	store_txn_abort(txn);

	/* the same batch as version 1 wrote it: one value under the id */
	txn = begin(s, true);
	uint8_t k[8];
	put_be64(k, 1);
	MDB_val key = {sizeof k, k}, v;
	assert_int_equal(store_get(txn, DB_BATCHES, &key, &v), 0);
	size_t members = 0; /* after u8 2, u8 records, u32 length, u16 count */
	for (int i = 0; i < 3; i++)
		members += 1 + ((const uint8_t *)v.mv_data)[8 + members];
	static uint8_t v1[3 + 3 * 14 + sizeof big];
	v1[0] = 1;
	v1[1] = 0;
	v1[2] = 3;
	memcpy(v1 + 3, (const uint8_t *)v.mv_data + 8, members);
	memcpy(v1 + 3 + members, big, sizeof big);
	MDB_cursor *cur;
	assert_int_equal(store_cursor(txn, DB_BATCHES, &cur), 0);
	MDB_val ck, cv;
	while (mdb_cursor_get(cur, &ck, &cv, MDB_FIRST) == 0)
		assert_int_equal(mdb_cursor_del(cur, 0), 0);
	mdb_cursor_close(cur);
	MDB_val old = {3 + members + sizeof big, v1};
	assert_int_equal(store_put(txn, DB_BATCHES, &key, &old, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	struct store_serial two = serial_of(2, 8);
	assert_int_equal(store_status_lookup(txn, issuer, &two, &c, &r), 0);
	assert_int_equal(r.der.len, sizeof big);
	assert_memory_equal(r.der.data, big, sizeof big);
	store_txn_abort(txn);

	/* a second, chunked batch goes with its last reference */
	txn = begin(s, true);
	assert_int_equal(store_batch_put(txn, issuer, &b, m, 3), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_true(batch_records(s, &overflow) > 1);
	for (uint64_t n = 1; n <= 3; n++)
		assert_int_equal(put_answer(s, issuer, n, 5000), 0);
	assert_int_equal(batch_records(s, &overflow), 0);
	txn = begin(s, false);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	store_txn_abort(txn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_order_and_moves, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revocation_and_links_make_it_missing, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_index_built_for_schema_1_store, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_schema_2_store_upgraded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_batch_records, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
