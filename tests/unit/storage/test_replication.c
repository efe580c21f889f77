/* storage: the replication log. A primary's write transactions each append
 * one change entry; a second store that applies them holds the same records;
 * leases stay local; gaps, malformed entries and trimmed cursors are refused
 * with nothing applied; a snapshot opens as a store at the log's point. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "storage/store_internal.h"
#include "tests/unit/storage/fixture.h"

struct pair {
	struct fixture *primary, *replica;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	p->primary = fixture_open(0, 0);
	p->replica = fixture_open(0, 0);
	*state = p;
	return p->primary && p->replica ? 0 : -1;
}

static int teardown(void **state)
{
	struct pair *p = *state;
	fixture_close(p->primary);
	fixture_close(p->replica);
	free(p);
	return 0;
}

static struct store_txn *begin(struct store *s, bool write)
{
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(s, write, &txn), 0);
	return txn;
}

static void bounds(struct store *s, uint64_t *first, uint64_t *last)
{
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_replication_bounds(txn, first, last), 0);
	store_txn_abort(txn);
}

/* An issuer (id 1) and `n` certificates, each in its own transaction. */
static void populate(struct store *s, int n)
{
	struct store_txn *txn = begin(s, true);
	struct store_issuer is = issuer_of("sign", CERT_KIND_SIGN, 1);
	uint8_t der[3] = {0x30, 0x01, 0x00};
	assert_int_equal(store_issuer_put(txn, &is, (struct store_blob){der, sizeof(der)}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	for (int i = 0; i < n; i++) {
		txn = begin(s, true);
		struct store_cert c = cert_of(is.id, serial_of((uint64_t)i + 1, 8));
		assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){der, sizeof(der)}),
		                 0);
		assert_int_equal(store_txn_commit(txn), 0);
	}
}

struct copy_state {
	struct store *to;
	int applied;
};

static int copy_cb(uint64_t seq, struct store_blob entry, void *arg)
{
	struct copy_state *c = arg;
	struct store_txn *txn = begin(c->to, true);
	int rc = store_replication_apply(txn, seq, entry.data, entry.len);
	if (rc) {
		store_txn_abort(txn);
		return rc;
	}
	c->applied++;
	return store_txn_commit(txn);
}

/* Applies every entry of `from` after the replica's cursor. */
static int follow(struct store *from, struct store *to)
{
	uint64_t first, last;
	bounds(to, &first, &last);
	struct copy_state c = {.to = to};
	struct store_txn *txn = begin(from, false);
	int rc = store_replication_each(txn, last, 1 << 20, copy_cb, &c);
	store_txn_abort(txn);
	return rc < 0 ? rc : c.applied;
}

static int count_items(const struct store_change_item *item, void *arg)
{
	(void)item;
	(*(int *)arg)++;
	return 0;
}

static void one_entry_per_transaction(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 3);
	uint64_t first, last;
	bounds(p->primary->store, &first, &last);
	assert_int_equal(first, 1);
	assert_int_equal(last, 4); /* the issuer, then three certificates */

	struct store_txn *txn = begin(p->primary->store, false);
	MDB_val key = {8, (uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 2}}, val;
	assert_int_equal(store_get(txn, DB_REPLICATION, &key, &val), 0);
	struct store_change_head head;
	int items = 0;
	assert_int_equal(store_change_decode(val.mv_data, val.mv_size, &head, count_items, &items),
	                 0);
	assert_int_equal(head.version, STORE_CHANGE_VERSION);
	assert_int_equal(head.epoch, STORE_EPOCH_INITIAL);
	assert_int_equal(head.count, items);
	assert_true(items >= 3); /* certs, cert_der, revoked-free insert: refresh, changes, meta */
	store_txn_abort(txn);
}

static void replica_holds_the_same_records(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 5);
	struct store_txn *txn = begin(p->primary->store, true);
	struct store_serial s3 = serial_of(3, 8);
	assert_int_equal(store_cert_revoke(txn, 1, &s3, 1700001000, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	assert_int_equal(follow(p->primary->store, p->replica->store), 7);
	assert_int_equal(follow(p->primary->store, p->replica->store), 0);

	uint64_t pf, pl, rf, rl;
	bounds(p->primary->store, &pf, &pl);
	bounds(p->replica->store, &rf, &rl);
	assert_int_equal(pl, rl);

	struct store_txn *pt = begin(p->primary->store, false);
	struct store_txn *rt = begin(p->replica->store, false);
	for (uint64_t i = 1; i <= 5; i++) {
		struct store_serial s = serial_of(i, 8);
		struct store_cert a, b;
		assert_int_equal(store_cert_get(pt, 1, &s, &a), 0);
		assert_int_equal(store_cert_get(rt, 1, &s, &b), 0);
		assert_int_equal(a.status, b.status);
		assert_int_equal(a.version, b.version);
		assert_int_equal(a.revoked_at, b.revoked_at);
	}
	uint64_t count;
	assert_int_equal(store_cert_count(rt, 1, &count), 0);
	assert_int_equal(count, 5);
	store_txn_abort(pt);
	store_txn_abort(rt);
}

static void leases_stay_local(void **state)
{
	struct pair *p = *state;
	struct store_txn *txn = begin(p->primary->store, true);
	struct store_lease held;
	assert_int_equal(store_lease_take(txn, "refresh", 7, 1000, 60, &held), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	uint64_t first, last;
	bounds(p->primary->store, &first, &last);
	assert_int_equal(last, 0);
}

static unsigned acks(struct store *s, uint64_t seq)
{
	struct store_txn *txn = begin(s, false);
	unsigned n = 99;
	assert_int_equal(store_replica_acks(txn, seq, &n), 0);
	store_txn_abort(txn);
	return n;
}

/* Acknowledgements: one per replica, only forward, local, counted by
 * sequence; the wait gives up after its timeout and ends once enough did. */
static void acknowledgements_count_replicas(void **state)
{
	struct pair *p = *state;
	struct store *s = p->primary->store;
	populate(s, 3); /* sequences 1..4 */
	struct store_txn *txn = begin(s, true);
	assert_int_equal(store_replica_ack_put(txn, "11", 3, 1000), 0);
	assert_int_equal(store_replica_ack_put(txn, "22", 4, 1000), 0);
	assert_int_equal(store_replica_ack_put(txn, "11", 2, 2000), 0); /* older: kept at 3 */
	assert_int_equal(store_replica_ack_put(txn, "", 4, 1000), -EINVAL);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(acks(s, 2), 2);
	assert_int_equal(acks(s, 3), 2);
	assert_int_equal(acks(s, 4), 1);
	assert_int_equal(acks(s, 5), 0);
	uint64_t first, last;
	bounds(s, &first, &last);
	assert_int_equal(last, 4); /* not a replicated change */

	struct store_sync sync;
	txn = begin(s, false);
	assert_int_equal(store_replication_sync_get(txn, &sync), 0);
	store_txn_abort(txn);
	assert_int_equal(sync.replicas, 0); /* never recorded: asynchronous */
	txn = begin(s, true);
	assert_int_equal(store_replication_sync_put(
	                         txn, &(struct store_sync){.replicas = 2, .timeout_ms = 30}),
	                 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	assert_int_equal(store_replication_sync_get(txn, &sync), 0);
	store_txn_abort(txn);
	assert_int_equal(sync.replicas, 2);
	assert_int_equal(sync.timeout_ms, 30);
	unsigned acked;
	assert_int_equal(store_replication_sync_wait(s, 4, &sync, &acked), -ETIMEDOUT);
	assert_int_equal(acked, 1);
	assert_int_equal(store_replication_sync_wait(s, 3, &sync, &acked), 0);
	assert_int_equal(acked, 2);

	txn = begin(s, true);
	assert_int_equal(store_replica_acks_clear(txn), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(acks(s, 1), 0);
	txn = begin(s, false);
	assert_int_equal(store_replication_sync_get(txn, &sync), 0); /* not an acknowledgement */
	store_txn_abort(txn);
	assert_int_equal(sync.replicas, 2);
}

static uint64_t epoch_of(struct store *s)
{
	struct store_txn *txn = begin(s, false);
	uint64_t epoch = 0;
	assert_int_equal(store_epoch(txn, &epoch), 0);
	store_txn_abort(txn);
	return epoch;
}

struct one_entry {
	uint8_t data[4096];
	size_t len;
};

static int take_first(uint64_t seq, struct store_blob entry, void *arg)
{
	(void)seq;
	struct one_entry *e = arg;
	assert_true(entry.len <= sizeof e->data);
	memcpy(e->data, entry.data, entry.len);
	e->len = entry.len;
	return 1;
}

/* A promoted store writes its changes in the next epoch and refuses the old
 * primary's; the fence record is local and a promotion clears it. */
static void promotion_starts_an_epoch_and_fences_the_old(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 2); /* 1..3, epoch 1 */
	assert_int_equal(follow(p->primary->store, p->replica->store), 3);
	assert_int_equal(epoch_of(p->replica->store), 1);

	struct store_txn *txn = begin(p->replica->store, true);
	struct store_fence fence = {.epoch = 7};
	strcpy(fence.primary, "https://old.example:8443");
	assert_int_equal(store_fence_put(txn, &fence), 0);
	uint64_t epoch = 0;
	assert_int_equal(store_promote(txn, &epoch), 0);
	assert_int_equal(epoch, 2);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(epoch_of(p->replica->store), 2);
	uint64_t first, last, at = 0;
	bounds(p->replica->store, &first, &last);
	assert_int_equal(last, 4); /* the promotion is a change, of the new epoch */
	txn = begin(p->replica->store, false);
	assert_int_equal(store_change_epoch_at(txn, 4, &at), 0);
	assert_int_equal(store_fence_get(txn, &fence), -ENOENT);
	store_txn_abort(txn);
	assert_int_equal(at, 2);

	/* the old primary goes on in epoch 1: its next change is refused */
	txn = begin(p->primary->store, true);
	uint8_t der[3] = {0x30, 0x01, 0x00};
	struct store_cert c = cert_of(1, serial_of(100, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){der, sizeof(der)}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	struct one_entry e = {0};
	txn = begin(p->primary->store, false);
	assert_int_equal(store_replication_each(txn, 3, 1 << 20, take_first, &e), 0);
	store_txn_abort(txn);
	assert_true(e.len > 0);
	txn = begin(p->replica->store, true);
	assert_int_equal(store_replication_apply(txn, 5, e.data, e.len), -EPERM);
	store_txn_abort(txn);
	bounds(p->replica->store, &first, &last);
	assert_int_equal(last, 4);

	/* a second promotion goes one further */
	txn = begin(p->replica->store, true);
	assert_int_equal(store_promote(txn, &epoch), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(epoch, 3);
}

static void gap_and_garbage_change_nothing(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 2);
	struct store_txn *pt = begin(p->primary->store, false);
	MDB_val key = {8, (uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 2}}, val;
	assert_int_equal(store_get(pt, DB_REPLICATION, &key, &val), 0);
	size_t len = val.mv_size;
	uint8_t *entry = malloc(len);
	memcpy(entry, val.mv_data, len);
	store_txn_abort(pt);

	/* entry 2 before entry 1: a gap */
	struct store_txn *txn = begin(p->replica->store, true);
	assert_int_equal(store_replication_apply(txn, 2, entry, len), -ESTALE);
	store_txn_abort(txn);

	/* truncated, trailing byte, unknown version, local database name */
	uint8_t *bad = malloc(len + 1);
	memcpy(bad, entry, len);
	bad[len] = 0;
	txn = begin(p->replica->store, true);
	assert_int_equal(store_replication_apply(txn, 1, bad, len - 1), -EBADMSG);
	assert_int_equal(store_replication_apply(txn, 1, bad, len + 1), -EBADMSG);
	bad[0] = 2;
	assert_int_equal(store_replication_apply(txn, 1, bad, len), -EBADMSG);
	store_txn_abort(txn);

	static const uint8_t local[] = {1,   0,   0,   0,   0,   0,   0,   0,   1,   0,   0,
	                                0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   1,
	                                11,  'r', 'e', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o',
	                                'n', 0,   1,   'x', 0,   0,   0,   0};
	assert_int_equal(store_change_decode(local, sizeof(local), NULL, NULL, NULL), -EBADMSG);

	uint64_t first, last;
	bounds(p->replica->store, &first, &last);
	assert_int_equal(last, 0);
	free(bad);
	free(entry);
}

static void retention_trims_and_stale_cursor_is_refused(void **state)
{
	(void)state;
	char dir[] = "/tmp/kensho-repl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s;
	assert_int_equal(
	        store_open(&(struct store_options){.path = dir, .replication_retain = 3}, &s), 0);
	populate(s, 9); /* entries 1..10 */
	uint64_t first, last;
	bounds(s, &first, &last);
	assert_int_equal(last, 10);
	assert_int_equal(first, 8);
	struct copy_state c = {0};
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_replication_each(txn, 5, 1 << 20, copy_cb, &c), -ESTALE);
	assert_int_equal(store_replication_each(txn, 11, 1 << 20, copy_cb, &c), -ERANGE);
	store_txn_abort(txn);
	store_close(s);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void retention_in_bytes_keeps_the_newest(void **state)
{
	(void)state;
	char dir[] = "/tmp/kensho-repl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s;
	struct store_options opts = {.path = dir, .replication_retain_bytes = 1};
	assert_int_equal(store_open(&opts, &s), 0);
	populate(s, 4); /* entries 1..5, each over a byte: only the newest stays */
	uint64_t first, last;
	bounds(s, &first, &last);
	assert_int_equal(last, 5);
	assert_int_equal(first, 5);
	store_close(s);
	/* the bound is the data directory's: a writer that gives none keeps it */
	assert_int_equal(store_open(&(struct store_options){.path = dir}, &s), 0);
	struct store_txn *txn = begin(s, true);
	struct store_cert c = cert_of(1, serial_of(99, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	bounds(s, &first, &last);
	assert_int_equal(first, 6);
	assert_int_equal(last, 6);
	store_close(s);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void snapshot_opens_at_the_log_point(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 4);
	char dir[] = "/tmp/kensho-snap-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(store_snapshot_write(p->primary->store, fd), 0);
	close(fd);
	struct store *copy;
	assert_int_equal(store_open(&(struct store_options){.path = dir}, &copy), 0);
	uint64_t first, last;
	bounds(copy, &first, &last);
	assert_int_equal(last, 5);
	/* and it follows on from there */
	struct store_txn *txn = begin(p->primary->store, true);
	struct store_serial s1 = serial_of(1, 8);
	assert_int_equal(store_cert_revoke(txn, 1, &s1, 1700001000, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_int_equal(follow(p->primary->store, copy), 1);
	txn = begin(copy, false);
	struct store_cert got;
	assert_int_equal(store_cert_get(txn, 1, &s1, &got), 0);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	store_txn_abort(txn);
	store_close(copy);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static MDB_stat log_stat(struct store *s)
{
	struct store_txn *txn = begin(s, false);
	MDB_stat st;
	assert_int_equal(mdb_stat(txn->txn, s->dbi[DB_REPLICATION], &st), 0);
	store_txn_abort(txn);
	return st;
}

struct kept {
	uint8_t *data;
	size_t len;
};

static int keep_cb(uint64_t seq, struct store_blob entry, void *arg)
{
	(void)seq;
	struct kept *k = arg;
	k->data = malloc(entry.len);
	memcpy(k->data, entry.data, entry.len);
	k->len = entry.len;
	return 1; /* the first only */
}

static struct kept entry_at(struct store *s, uint64_t seq)
{
	struct kept k = {0};
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_replication_each(txn, seq - 1, 1 << 20, keep_cb, &k), 0);
	store_txn_abort(txn);
	assert_non_null(k.data);
	return k;
}

/* An entry larger than a leaf page is kept in several records, never in
 * overflow pages (whose allocation scans LMDB's free list), read back
 * whole, applied whole on a replica, and trimmed whole. */
static void large_entries_stay_in_leaf_pages(void **state)
{
	struct pair *p = *state;
	populate(p->primary->store, 1);
	static uint8_t big[12000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13 + i / 509);
	struct store_txn *txn = begin(p->primary->store, true);
	struct store_cert c = cert_of(1, serial_of(77, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){big, sizeof big}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	uint64_t first, last;
	bounds(p->primary->store, &first, &last);
	assert_int_equal(last, 3);
	MDB_stat st = log_stat(p->primary->store);
	assert_int_equal(st.ms_overflow_pages, 0);
	assert_true(st.ms_entries >= 3 + 5); /* the big entry in 2,000-byte records */

	struct kept on_primary = entry_at(p->primary->store, 3);
	assert_true(on_primary.len > sizeof big);
	assert_non_null(memmem(on_primary.data, on_primary.len, big, sizeof big));
	assert_int_equal(follow(p->primary->store, p->replica->store), 3);
	struct kept on_replica = entry_at(p->replica->store, 3);
	assert_int_equal(on_replica.len, on_primary.len);
	assert_memory_equal(on_replica.data, on_primary.data, on_primary.len);
	assert_int_equal(log_stat(p->replica->store).ms_overflow_pages, 0);
	free(on_primary.data);
	free(on_replica.data);

	/* epoch_at reads an entry's head from its first record */
	txn = begin(p->replica->store, false);
	uint64_t epoch = 0;
	assert_int_equal(store_change_epoch_at(txn, 3, &epoch), 0);
	assert_int_equal(epoch, STORE_EPOCH_INITIAL);
	store_txn_abort(txn);
}

static void large_entries_trim_whole(void **state)
{
	(void)state;
	char dir[] = "/tmp/kensho-repl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s;
	assert_int_equal(
	        store_open(&(struct store_options){.path = dir, .replication_retain = 1}, &s), 0);
	populate(s, 0);
	static uint8_t big[9000];
	memset(big, 0x5a, sizeof big);
	struct store_txn *txn = begin(s, true);
	struct store_cert c = cert_of(1, serial_of(1, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){big, sizeof big}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	assert_true(log_stat(s).ms_entries > 1); /* the big entry's records */
	txn = begin(s, true);
	c = cert_of(1, serial_of(2, 8));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){big, 3}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	uint64_t first, last;
	bounds(s, &first, &last);
	assert_int_equal(first, 3);
	assert_int_equal(last, 3);
	assert_int_equal(log_stat(s).ms_entries, 1); /* every record of entry 2 went */
	store_close(s);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(one_entry_per_transaction, setup, teardown),
	        cmocka_unit_test_setup_teardown(replica_holds_the_same_records, setup, teardown),
	        cmocka_unit_test_setup_teardown(leases_stay_local, setup, teardown),
	        cmocka_unit_test_setup_teardown(acknowledgements_count_replicas, setup, teardown),
	        cmocka_unit_test_setup_teardown(promotion_starts_an_epoch_and_fences_the_old, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(gap_and_garbage_change_nothing, setup, teardown),
	        cmocka_unit_test(retention_trims_and_stale_cursor_is_refused),
	        cmocka_unit_test(retention_in_bytes_keeps_the_newest),
	        cmocka_unit_test_setup_teardown(large_entries_stay_in_leaf_pages, setup, teardown),
	        cmocka_unit_test(large_entries_trim_whole),
	        cmocka_unit_test_setup_teardown(snapshot_opens_at_the_log_point, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
