/* storage: the store API, record by record, including its error cases and
 * the rule that a committed revocation is never answered from the cache. */
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

static struct store *store_of(void **state)
{
	return ((struct fixture *)*state)->store;
}

static struct store_txn *begin(struct store *s, bool write)
{
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(s, write, &txn), 0);
	return txn;
}

/* Adds the "sign" issuer and returns its id. */
static uint32_t add_issuer(struct store *s, const char *label, uint8_t seed)
{
	struct store_txn *txn = begin(s, true);
	struct store_issuer is = issuer_of(label, CERT_KIND_SIGN, seed);
	const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, seed};
	assert_int_equal(store_issuer_put(txn, &is, (struct store_blob){der, sizeof(der)}), 0);
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

static void assert_serial_equal(const struct store_serial *a, const struct store_serial *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->bytes, b->bytes, a->len);
}

static void assert_cert_equal(const struct store_cert *a, const struct store_cert *b)
{
	assert_int_equal(a->issuer_id, b->issuer_id);
	assert_serial_equal(&a->serial, &b->serial);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->not_before, b->not_before);
	assert_int_equal(a->not_after, b->not_after);
	assert_int_equal(a->revoked_at, b->revoked_at);
	assert_int_equal(a->reason, b->reason);
	assert_int_equal(a->person_id, b->person_id);
	assert_serial_equal(&a->pair, &b->pair);
	assert_serial_equal(&a->replaces, &b->replaces);
	assert_serial_equal(&a->replaced_by, &b->replaced_by);
	assert_int_equal(a->version, b->version);
}

static void test_open_errors_and_read_only(void **state)
{
	struct store *s;
	struct fixture *f = *state;
	assert_int_equal(store_open(NULL, &s), -EINVAL);
	assert_null(s);
	struct store_options missing = {.path = "/nonexistent/kensho/store", .read_only = true};
	assert_int_equal(store_open(&missing, &s), -ENOENT);
	struct store_options cannot_create = {.path = "/proc/kensho-store"};
	assert_true(store_open(&cannot_create, &s) < 0);

	uint32_t issuer = add_issuer(f->store, "sign", 1);
	/* one environment per process: LMDB's lock-file locks are per process */
	store_close(f->store);
	f->store = NULL;
	struct store_options ro = {.path = f->dir, .read_only = true};
	assert_int_equal(store_open(&ro, &s), 0);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(s, true, &txn), -EROFS);
	assert_null(txn);
	txn = begin(s, false);
	struct store_issuer got;
	assert_int_equal(store_issuer_get(txn, issuer, &got), 0);
	assert_string_equal(got.label, "sign");
	/* writes through a read transaction are refused, not attempted */
	struct store_cert c = cert_of(issuer, serial_of(1, 4));
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), -EROFS);
	store_txn_abort(txn);
	store_close(s);
}

static void test_read_transactions_are_reused(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	/* many begin/commit cycles, and several open at once, all see the data */
	struct store_txn *open[10];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 10; i++) {
			open[i] = begin(s, false);
			struct store_cert c;
			struct store_serial serial = serial_of(1, 8);
			assert_int_equal(store_cert_get(open[i], issuer, &serial, &c), 0);
		}
		for (int i = 0; i < 10; i++) {
			if (i % 2)
				assert_int_equal(store_txn_commit(open[i]), 0);
			else
				store_txn_abort(open[i]);
		}
	}
	/* a reused read transaction sees commits made after its first use */
	struct store_txn *txn = begin(s, false);
	store_txn_abort(txn);
	add_cert(s, issuer, 2);
	txn = begin(s, false);
	struct store_cert c;
	struct store_serial serial = serial_of(2, 8);
	assert_int_equal(store_cert_get(txn, issuer, &serial, &c), 0);
	store_txn_abort(txn);
}

static int count_issuer_cb(const struct store_issuer *is, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_at_first_cb(const struct store_issuer *is, void *arg)
{
	*(uint32_t *)arg = is->id;
	return 7;
}

static void test_issuers(void **state)
{
	struct store *s = store_of(state);
	struct store_txn *txn = begin(s, true);
	struct store_issuer sign = issuer_of("sign", CERT_KIND_SIGN, 10);
	struct store_issuer auth = issuer_of("auth", CERT_KIND_AUTH, 20);
	sign.crl_number = 5;
	sign.base_crl_number = 4;
	sign.base_crl_time = -12345;
	const uint8_t der[] = {0x30, 0x00};
	assert_int_equal(store_issuer_put(txn, &sign, (struct store_blob){der, 2}), 0);
	assert_int_equal(store_issuer_put(txn, &auth, (struct store_blob){0}), 0);
	assert_int_equal(sign.id, 1);
	assert_int_equal(auth.id, 2);

	/* a second issuer may not take an existing label */
	struct store_issuer dup = issuer_of("sign", CERT_KIND_SIGN, 30);
	assert_int_equal(store_issuer_put(txn, &dup, (struct store_blob){0}), -EEXIST);
	struct store_issuer bad = issuer_of("", CERT_KIND_SIGN, 30);
	assert_int_equal(store_issuer_put(txn, &bad, (struct store_blob){0}), -EINVAL);
	bad = issuer_of("x", 9, 30);
	assert_int_equal(store_issuer_put(txn, &bad, (struct store_blob){0}), -EINVAL);
	bad = issuer_of("x", CERT_KIND_SIGN, 30);
	memset(bad.label, 'a', sizeof(bad.label)); /* not terminated */
	assert_int_equal(store_issuer_put(txn, &bad, (struct store_blob){0}), -EINVAL);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct store_issuer got;
	assert_int_equal(store_issuer_get(txn, sign.id, &got), 0);
	assert_memory_equal(&got, &sign, sizeof(got));
	assert_int_equal(store_issuer_by_label(txn, "auth", &got), 0);
	assert_int_equal(got.id, auth.id);
	assert_int_equal(got.kind, CERT_KIND_AUTH);
	assert_int_equal(store_issuer_by_label(txn, "nope", &got), -ENOENT);
	assert_int_equal(store_issuer_get(txn, 99, &got), -ENOENT);

	uint32_t id = 0;
	assert_int_equal(
	        store_issuer_find(txn, STORE_HASH_SHA1, sign.name_sha1, sign.key_sha1, &id), 0);
	assert_int_equal(id, sign.id);
	assert_int_equal(
	        store_issuer_find(txn, STORE_HASH_SHA256, auth.name_sha256, auth.key_sha256, &id),
	        0);
	assert_int_equal(id, auth.id);
	/* a SHA-1 name hash with the other issuer's key hash names no issuer */
	assert_int_equal(
	        store_issuer_find(txn, STORE_HASH_SHA1, sign.name_sha1, auth.key_sha1, &id),
	        -ENOENT);
	assert_int_equal(store_issuer_find(txn, 3, sign.name_sha1, sign.key_sha1, &id), -EINVAL);

	struct store_blob cert;
	assert_int_equal(store_issuer_cert(txn, sign.id, &cert), 0);
	assert_int_equal(cert.len, 2);
	assert_memory_equal(cert.data, der, 2);
	assert_int_equal(store_issuer_cert(txn, auth.id, &cert), -ENOENT);

	int count = 0;
	assert_int_equal(store_issuer_each(txn, count_issuer_cb, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(store_issuer_each(txn, stop_at_first_cb, &id), 7);
	assert_int_equal(id, sign.id);
	store_txn_abort(txn);

	/* replacing an issuer with new keys drops its old index entries */
	txn = begin(s, true);
	struct store_issuer rekeyed = issuer_of("sign", CERT_KIND_SIGN, 40);
	rekeyed.id = sign.id;
	assert_int_equal(store_issuer_put(txn, &rekeyed, (struct store_blob){der, 2}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	assert_int_equal(
	        store_issuer_find(txn, STORE_HASH_SHA1, sign.name_sha1, sign.key_sha1, &id),
	        -ENOENT);
	assert_int_equal(store_issuer_find(txn, STORE_HASH_SHA256, rekeyed.name_sha256,
	                                   rekeyed.key_sha256, &id),
	                 0);
	assert_int_equal(id, sign.id);
	store_txn_abort(txn);
}

static void test_cert_insert_get_der_count(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	uint32_t other = add_issuer(s, "auth", 9);
	struct store_txn *txn = begin(s, true);
	struct store_cert c = cert_of(issuer, serial_of(0x1234, 3));
	c.person_id = 77;
	c.pair = serial_of(0x99, 20);
	c.version = 42; /* ignored: a new record starts at version 1 */
	const uint8_t der[] = {0x30, 0x82, 0x01, 0x00, 0xaa};
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){der, sizeof(der)}), 0);
	assert_int_equal(c.version, 1);
	struct store_cert again = c;
	assert_int_equal(store_cert_insert(txn, &again, (struct store_blob){0}), -EEXIST);
	struct store_cert same_serial_other_issuer = cert_of(other, c.serial);
	assert_int_equal(store_cert_insert(txn, &same_serial_other_issuer, (struct store_blob){0}),
	                 0);
	struct store_cert no_issuer = cert_of(55, serial_of(1, 4));
	assert_int_equal(store_cert_insert(txn, &no_issuer, (struct store_blob){0}), -ENOENT);
	struct store_cert bad = cert_of(issuer, serial_of(2, 4));
	bad.serial.len = 0;
	assert_int_equal(store_cert_insert(txn, &bad, (struct store_blob){0}), -EINVAL);
	bad = cert_of(issuer, serial_of(2, 4));
	bad.serial.len = 21;
	assert_int_equal(store_cert_insert(txn, &bad, (struct store_blob){0}), -EINVAL);
	bad = cert_of(issuer, serial_of(2, 4));
	bad.kind = 0;
	assert_int_equal(store_cert_insert(txn, &bad, (struct store_blob){0}), -EINVAL);
	bad = cert_of(issuer, serial_of(2, 4));
	bad.status = CERT_STATUS_REVOKED;
	bad.reason = 7;
	assert_int_equal(store_cert_insert(txn, &bad, (struct store_blob){0}), -EINVAL);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct store_cert got;
	assert_int_equal(store_cert_get(txn, issuer, &c.serial, &got), 0);
	assert_cert_equal(&got, &c);
	struct store_serial unknown = serial_of(0x1235, 3);
	assert_int_equal(store_cert_get(txn, issuer, &unknown, &got), -ENOENT);
	struct store_serial prefix = c.serial;
	prefix.len = 2; /* a prefix of a stored serial is a different serial */
	assert_int_equal(store_cert_get(txn, issuer, &prefix, &got), -ENOENT);
	struct store_blob blob;
	assert_int_equal(store_cert_der(txn, issuer, &c.serial, &blob), 0);
	assert_int_equal(blob.len, sizeof(der));
	assert_memory_equal(blob.data, der, sizeof(der));
	assert_int_equal(store_cert_der(txn, other, &c.serial, &blob), -ENOENT);
	uint64_t count;
	assert_int_equal(store_cert_count(txn, issuer, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_cert_count(txn, other, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_cert_count(txn, 55, &count), 0);
	assert_int_equal(count, 0);
	store_txn_abort(txn);

	/* an aborted insert leaves nothing behind */
	txn = begin(s, true);
	struct store_cert gone = cert_of(issuer, serial_of(3, 4));
	assert_int_equal(store_cert_insert(txn, &gone, (struct store_blob){0}), 0);
	store_txn_abort(txn);
	txn = begin(s, false);
	assert_int_equal(store_cert_get(txn, issuer, &gone.serial, &got), -ENOENT);
	assert_int_equal(store_cert_count(txn, issuer, &count), 0);
	assert_int_equal(count, 1);
	store_txn_abort(txn);
}

static void test_update_links(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	struct store_txn *txn = begin(s, true);
	struct store_cert c = cert_of(issuer, serial_of(1, 8));
	c.replaced_by = serial_of(2, 8);
	c.person_id = 5;
	c.not_after = 1; /* links only: other fields are not written */
	assert_int_equal(store_cert_update_links(txn, &c), 0);
	assert_int_equal(c.version, 2);
	assert_int_not_equal(c.not_after, 1);
	struct store_cert missing = cert_of(issuer, serial_of(9, 8));
	assert_int_equal(store_cert_update_links(txn, &missing), -ENOENT);
	c.pair.len = 21;
	assert_int_equal(store_cert_update_links(txn, &c), -EINVAL);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	struct store_cert got;
	struct store_serial serial = serial_of(1, 8), next = serial_of(2, 8);
	assert_int_equal(store_cert_get(txn, issuer, &serial, &got), 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.person_id, 5);
	assert_int_equal(got.replaced_by.len, 8);
	assert_memory_equal(got.replaced_by.bytes, next.bytes, 8);
	store_txn_abort(txn);
}

static struct store_response response_of(const uint8_t *der, size_t len, uint64_t version)
{
	return (struct store_response){
	        .der = {der, len}, .this_update = 100, .next_update = 200, .cert_version = version};
}

static void test_revocation_invalidates_cached_response(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	struct store_serial serial = serial_of(1, 8);
	uint8_t good[1500];
	memset(good, 0x47, sizeof(good));

	struct store_txn *txn = begin(s, true);
	struct store_response r = response_of(good, sizeof(good), 1);
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct store_cert c;
	struct store_response got;
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &got), 0);
	assert_int_equal(c.status, CERT_STATUS_GOOD);
	assert_non_null(got.der.data);
	assert_int_equal(got.der.len, sizeof(good));
	assert_memory_equal(got.der.data, good, sizeof(good));
	assert_int_equal(got.this_update, 100);
	assert_int_equal(got.next_update, 200);
	assert_int_equal(got.cert_version, 1);
	store_txn_abort(txn);

	txn = begin(s, true);
	assert_int_equal(
	        store_cert_revoke(txn, issuer, &serial, 1700000500, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &got), 0);
	assert_int_equal(c.status, CERT_STATUS_REVOKED);
	assert_int_equal(c.reason, CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(c.revoked_at, 1700000500);
	assert_int_equal(c.version, 2);
	assert_null(got.der.data);
	/* white box: the revocation deleted the entry itself, not only
	 * outdated it */
	uint8_t key[CERT_KEY_MAX];
	MDB_val k = {(size_t)cert_key(issuer, &serial, key), key}, v;
	assert_int_equal(store_get(txn, DB_RESPONSES, &k, &v), -ENOENT);
	store_txn_abort(txn);

	/* a response signed for the revoked record may be cached and served */
	txn = begin(s, true);
	const uint8_t revoked[] = {1, 2, 3};
	r = response_of(revoked, sizeof(revoked), 2);
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &got), 0);
	assert_int_equal(got.der.len, 3);
	assert_int_equal(got.cert_version, 2);
	store_txn_abort(txn);
}

/* Caches a response for (issuer, serial n) valid [this_update, next_update). */
static void cache(struct store *s, uint32_t issuer, uint64_t n, int64_t this_update,
                  int64_t next_update)
{
	static const uint8_t der[] = {0x30, 0x03, 0x0a, 0x01, 0x00};
	struct store_serial serial = serial_of(n, 8);
	struct store_txn *txn = begin(s, true);
	struct store_cert c;
	assert_int_equal(store_cert_get(txn, issuer, &serial, &c), 0);
	struct store_response r = {.der = {der, sizeof(der)},
	                           .this_update = this_update,
	                           .next_update = next_update,
	                           .cert_version = c.version};
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static void test_response_freshness(void **state)
{
	struct store *s = store_of(state);
	struct store_freshness f;
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_response_freshness(txn, 500, &f), 0);
	assert_true(f.fresh == 0 && f.due == 0 && f.missing == 0 && f.oldest_this_update == 0);
	store_txn_abort(txn);

	uint32_t a = add_issuer(s, "sign", 1), b = add_issuer(s, "auth", 5);
	for (uint64_t n = 1; n <= 5; n++)
		add_cert(s, a, n);
	add_cert(s, b, 1);
	add_cert(s, b, 2);
	cache(s, a, 1, 100, 1000); /* fresh: nextUpdate after due_at */
	cache(s, a, 2, 100, 400);  /* due */
	                           /* a3: never cached: missing */
	cache(s, a, 4, 100, 1000); /* then revoked: its answer is gone, missing */
	cache(s, a, 5, 50, 500);   /* due at due_at exactly; the oldest */
	cache(s, b, 1, 300, 600);  /* fresh, same serial as a1 under another issuer */
	                           /* b2: missing, the last key of the walk */
	struct store_serial four = serial_of(4, 8);
	txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, a, &four, 150, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	assert_int_equal(store_response_freshness(txn, 500, &f), 0);
	store_txn_abort(txn);
	assert_int_equal(f.fresh, 2);
	assert_int_equal(f.due, 2);
	assert_int_equal(f.missing, 3);
	assert_int_equal(f.oldest_this_update, 50);

	/* A later margin makes every cached answer due. */
	txn = begin(s, false);
	assert_int_equal(store_response_freshness(txn, 1000, &f), 0);
	store_txn_abort(txn);
	assert_int_equal(f.fresh, 0);
	assert_int_equal(f.due, 4);
	assert_int_equal(f.missing, 3);
}

/* Records what store_response_each met, stopping after `stop_after`. */
struct answers_seen {
	struct store_answer seen[16];
	int count;
	int stop_after; /* 0: never stop */
};

static int answers_seen_cb(const struct store_answer *a, void *arg)
{
	struct answers_seen *w = arg;
	assert_true(w->count < 16);
	w->seen[w->count++] = *a;
	return w->stop_after && w->count == w->stop_after ? 7 : 0;
}

static void assert_answer(const struct store_answer *a, uint32_t issuer, uint64_t n,
                          enum store_answer_state state, int64_t this_update)
{
	struct store_serial serial = serial_of(n, 8);
	assert_int_equal(a->issuer_id, issuer);
	assert_serial_equal(&a->serial, &serial);
	assert_int_equal(a->state, state);
	assert_int_equal(a->this_update, this_update);
}

static void test_response_each_classifies_and_resumes(void **state)
{
	struct store *s = store_of(state);
	struct answers_seen w = {0};
	struct store_txn *txn = begin(s, false);
	assert_int_equal(store_response_each(txn, 500, NULL, answers_seen_cb, &w), 0);
	assert_int_equal(w.count, 0);
	store_txn_abort(txn);

	uint32_t a = add_issuer(s, "sign", 1), b = add_issuer(s, "auth", 5);
	for (uint64_t n = 1; n <= 4; n++)
		add_cert(s, a, n);
	add_cert(s, b, 1);
	cache(s, a, 1, 100, 1000); /* fresh */
	cache(s, a, 2, 100, 500);  /* due: nextUpdate at due_at */
	                           /* a3 missing */
	cache(s, a, 4, 200, 1000); /* then revoked: missing */
	cache(s, b, 1, 300, 400);  /* due */
	struct store_serial four = serial_of(4, 8);
	txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, a, &four, 150, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	/* every certificate once, in key order, classified as freshness counts */
	txn = begin(s, false);
	assert_int_equal(store_response_each(txn, 500, NULL, answers_seen_cb, &w), 0);
	assert_int_equal(w.count, 5);
	assert_answer(&w.seen[0], a, 1, STORE_ANSWER_FRESH, 100);
	assert_answer(&w.seen[1], a, 2, STORE_ANSWER_DUE, 100);
	assert_answer(&w.seen[2], a, 3, STORE_ANSWER_MISSING, 0);
	assert_answer(&w.seen[3], a, 4, STORE_ANSWER_MISSING, 0);
	assert_answer(&w.seen[4], b, 1, STORE_ANSWER_DUE, 300);
	struct store_freshness f;
	assert_int_equal(store_response_freshness(txn, 500, &f), 0);
	assert_int_equal(f.fresh, 1);
	assert_int_equal(f.due, 2);
	assert_int_equal(f.missing, 2);

	/* a nonzero result stops the walk and is returned */
	w = (struct answers_seen){.stop_after = 2};
	assert_int_equal(store_response_each(txn, 500, NULL, answers_seen_cb, &w), 7);
	assert_int_equal(w.count, 2);
	store_txn_abort(txn);

	/* resuming after the last one met, in a later transaction, goes on
	 * strictly after it, across issuers */
	struct store_answer position = w.seen[1];
	w = (struct answers_seen){0};
	txn = begin(s, false);
	assert_int_equal(store_response_each(txn, 500, &position, answers_seen_cb, &w), 0);
	assert_int_equal(w.count, 3);
	assert_answer(&w.seen[0], a, 3, STORE_ANSWER_MISSING, 0);
	assert_answer(&w.seen[2], b, 1, STORE_ANSWER_DUE, 300);

	/* a position that is no certificate resumes at the next one */
	position.serial = serial_of(9, 8);
	w = (struct answers_seen){0};
	assert_int_equal(store_response_each(txn, 500, &position, answers_seen_cb, &w), 0);
	assert_int_equal(w.count, 1);
	assert_answer(&w.seen[0], b, 1, STORE_ANSWER_DUE, 300);

	/* after the last certificate: nothing */
	w = (struct answers_seen){0};
	position.issuer_id = b;
	position.serial = serial_of(1, 8);
	assert_int_equal(store_response_each(txn, 500, &position, answers_seen_cb, &w), 0);
	assert_int_equal(w.count, 0);

	/* a later due_at makes the fresh one due; an empty serial is refused */
	w = (struct answers_seen){0};
	assert_int_equal(store_response_each(txn, 1000, NULL, answers_seen_cb, &w), 0);
	assert_answer(&w.seen[0], a, 1, STORE_ANSWER_DUE, 100);
	position.serial.len = 0;
	assert_int_equal(store_response_each(txn, 500, &position, answers_seen_cb, &w), -EINVAL);
	store_txn_abort(txn);
}

static void test_response_put_loses_race_to_revocation(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	struct store_serial serial = serial_of(1, 8);

	/* the responder reads version 1 and goes off to sign ... */
	struct store_txn *txn = begin(s, false);
	struct store_cert c;
	struct store_response cached;
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &cached), 0);
	assert_null(cached.der.data);
	uint64_t signed_for = c.version;
	store_txn_abort(txn);

	/* ... while a revocation commits */
	txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, issuer, &serial, 1700000600,
	                                   CRL_REASON_CESSATION_OF_OPERATION),
	                 0);
	assert_int_equal(store_txn_commit(txn), 0);

	/* the "good" response it signed is refused and nothing is written */
	const uint8_t good[] = {0x30, 0x03, 0x0a, 0x01, 0x00};
	txn = begin(s, true);
	struct store_response r = response_of(good, sizeof(good), signed_for);
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), -ESTALE);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &cached), 0);
	assert_null(cached.der.data);
	assert_int_equal(cached.der.len, 0);
	store_txn_abort(txn);

	/* even a stale entry left in the table is never served: a lookup
	 * compares versions within its own snapshot */
	txn = begin(s, true);
	struct store_serial other = serial_of(2, 8);
	struct store_cert fresh = cert_of(issuer, other);
	assert_int_equal(store_cert_insert(txn, &fresh, (struct store_blob){0}), 0);
	r = response_of(good, sizeof(good), 1);
	assert_int_equal(store_response_put(txn, issuer, &other, &r), 0);
	fresh.person_id = 3;
	assert_int_equal(store_cert_update_links(txn, &fresh), 0); /* version 2 */
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	assert_int_equal(store_status_lookup(txn, issuer, &other, &c, &cached), 0);
	assert_int_equal(c.version, 2);
	assert_null(cached.der.data);
	store_txn_abort(txn);

	/* errors */
	txn = begin(s, true);
	struct store_serial unknown = serial_of(3, 8);
	assert_int_equal(store_response_put(txn, issuer, &unknown, &r), -ENOENT);
	r.der.len = 0;
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), -EINVAL);
	store_txn_abort(txn);
	txn = begin(s, false);
	r = response_of(good, sizeof(good), 2);
	assert_int_equal(store_response_put(txn, issuer, &serial, &r), -EINVAL);
	assert_int_equal(store_status_lookup(txn, issuer, &unknown, &c, &cached), -ENOENT);
	unknown.len = 0;
	assert_int_equal(store_status_lookup(txn, issuer, &unknown, &c, &cached), -EINVAL);
	store_txn_abort(txn);
}

static void test_revoke_rules(void **state)
{
	struct store *s = store_of(state);
	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	add_cert(s, issuer, 2);
	struct store_serial one = serial_of(1, 8), two = serial_of(2, 8), none = serial_of(3, 8);
	struct store_txn *txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, issuer, &none, 1, CRL_REASON_UNSPECIFIED), -ENOENT);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 1, 7), -EINVAL);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 1, CRL_REASON_REMOVE_FROM_CRL),
	                 -EINVAL);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 1, 11), -EINVAL);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 1000, CRL_REASON_SUPERSEDED), 0);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 1001, CRL_REASON_KEY_COMPROMISE),
	                 -EALREADY);
	/* certificateHold may become a permanent revocation, once */
	assert_int_equal(store_cert_revoke(txn, issuer, &two, 2000, CRL_REASON_CERTIFICATE_HOLD),
	                 0);
	assert_int_equal(store_cert_revoke(txn, issuer, &two, 2001, CRL_REASON_CERTIFICATE_HOLD),
	                 -EALREADY);
	assert_int_equal(store_cert_revoke(txn, issuer, &two, 3000, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_cert_revoke(txn, issuer, &two, 3001, CRL_REASON_AA_COMPROMISE),
	                 -EALREADY);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	struct store_cert c;
	assert_int_equal(store_cert_get(txn, issuer, &two, &c), 0);
	assert_int_equal(c.reason, CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(c.revoked_at, 3000);
	assert_int_equal(c.version, 3);
	store_txn_abort(txn);
}

struct collected {
	int n;
	uint64_t serial_tail[16];
	int64_t time[16];
	int stop_after;
};

static int collect_cb(const struct store_cert *c, void *arg)
{
	struct collected *got = arg;
	got->serial_tail[got->n] = c->serial.bytes[c->serial.len - 1];
	got->time[got->n] = c->revoked_at;
	got->n++;
	return got->n == got->stop_after ? 9 : 0;
}

static void test_revoked_each_in_time_order(void **state)
{
	struct store *s = store_of(state);
	uint32_t a = add_issuer(s, "sign", 1), b = add_issuer(s, "auth", 5);
	const int64_t times[] = {500, -20, 300, 300, 100, 0};
	struct store_txn *txn = begin(s, true);
	for (int i = 0; i < 6; i++) {
		struct store_cert c = cert_of(a, serial_of((uint64_t)i + 1, 4));
		assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), 0);
		assert_int_equal(
		        store_cert_revoke(txn, a, &c.serial, times[i], CRL_REASON_UNSPECIFIED), 0);
		c.issuer_id = b; /* same serial, other issuer, revoked in between */
		assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), 0);
		assert_int_equal(store_cert_revoke(txn, b, &c.serial, 250, CRL_REASON_UNSPECIFIED),
		                 0);
	}
	/* one revoked at insertion (an imported status feed) */
	struct store_cert imported = cert_of(a, serial_of(7, 4));
	imported.status = CERT_STATUS_REVOKED;
	imported.revoked_at = 200;
	imported.reason = CRL_REASON_AFFILIATION_CHANGED;
	assert_int_equal(store_cert_insert(txn, &imported, (struct store_blob){0}), 0);
	struct store_cert good = cert_of(a, serial_of(8, 4));
	assert_int_equal(store_cert_insert(txn, &good, (struct store_blob){0}), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct collected got = {0};
	assert_int_equal(store_revoked_each(txn, a, INT64_MIN, collect_cb, &got), 0);
	assert_int_equal(got.n, 7);
	const int64_t want_time[] = {-20, 0, 100, 200, 300, 300, 500};
	const uint64_t want_serial[] = {2, 6, 5, 7, 3, 4, 1};
	for (int i = 0; i < 7; i++) {
		assert_int_equal(got.time[i], want_time[i]);
		assert_int_equal(got.serial_tail[i], want_serial[i]);
	}
	got = (struct collected){0};
	assert_int_equal(store_revoked_each(txn, a, 300, collect_cb, &got), 0);
	assert_int_equal(got.n, 3);
	assert_int_equal(got.time[0], 300);
	got = (struct collected){.stop_after = 2};
	assert_int_equal(store_revoked_each(txn, a, 0, collect_cb, &got), 9);
	assert_int_equal(got.n, 2);
	got = (struct collected){0};
	assert_int_equal(store_revoked_each(txn, b, 0, collect_cb, &got), 0);
	assert_int_equal(got.n, 6);
	got = (struct collected){0};
	assert_int_equal(store_revoked_each(txn, a, 501, collect_cb, &got), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(store_revoked_each(txn, 99, 0, collect_cb, &got), 0);
	assert_int_equal(got.n, 0);
	store_txn_abort(txn);

	/* hold → key compromise moves the entry to its new time */
	txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, a, &good.serial, 50, CRL_REASON_CERTIFICATE_HOLD),
	                 0);
	assert_int_equal(store_cert_revoke(txn, a, &good.serial, 900, CRL_REASON_KEY_COMPROMISE),
	                 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(s, false);
	got = (struct collected){0};
	assert_int_equal(store_revoked_each(txn, a, INT64_MIN, collect_cb, &got), 0);
	assert_int_equal(got.n, 8);
	assert_int_equal(got.time[7], 900);
	assert_int_equal(got.serial_tail[7], 8);
	store_txn_abort(txn);
}

struct changes {
	int n;
	struct store_change list[16];
};

static int change_cb(const struct store_change *c, void *arg)
{
	struct changes *got = arg;
	got->list[got->n++] = *c;
	return got->n == 16;
}

static void test_change_log(void **state)
{
	struct store *s = store_of(state);
	struct store_txn *txn = begin(s, false);
	uint64_t last = 99;
	assert_int_equal(store_change_last(txn, &last), 0);
	assert_int_equal(last, 0);
	store_txn_abort(txn);

	uint32_t issuer = add_issuer(s, "sign", 1);
	add_cert(s, issuer, 1);
	add_cert(s, issuer, 2);
	txn = begin(s, true);
	struct store_serial one = serial_of(1, 8);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 5, CRL_REASON_UNSPECIFIED), 0);
	struct store_cert c = cert_of(issuer, serial_of(2, 8));
	assert_int_equal(store_cert_update_links(txn, &c), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	/* a failed operation appends nothing */
	txn = begin(s, true);
	assert_int_equal(store_cert_revoke(txn, issuer, &one, 6, CRL_REASON_UNSPECIFIED),
	                 -EALREADY);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	assert_int_equal(store_change_last(txn, &last), 0);
	assert_int_equal(last, 4);
	struct changes got = {0};
	assert_int_equal(store_change_each(txn, 0, change_cb, &got), 0);
	assert_int_equal(got.n, 4);
	const enum store_change_type want[] = {STORE_CHANGE_ISSUED, STORE_CHANGE_ISSUED,
	                                       STORE_CHANGE_REVOKED, STORE_CHANGE_LINKED};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(got.list[i].seq, i + 1);
		assert_int_equal(got.list[i].type, want[i]);
		assert_int_equal(got.list[i].issuer_id, issuer);
		assert_true(got.list[i].time > 1700000000);
	}
	assert_memory_equal(got.list[2].serial.bytes, one.bytes, 8);
	got = (struct changes){0};
	assert_int_equal(store_change_each(txn, 3, change_cb, &got), 0);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.list[0].seq, 3);
	got = (struct changes){0};
	assert_int_equal(store_change_each(txn, 5, change_cb, &got), 0);
	assert_int_equal(got.n, 0);
	store_txn_abort(txn);
}

struct audits {
	int n;
	uint64_t seq[8];
	char action[8][64];
};

static int audit_cb(const struct store_audit *a, void *arg)
{
	struct audits *got = arg;
	got->seq[got->n] = a->seq;
	memcpy(got->action[got->n], a->action, 64);
	got->n++;
	return 0;
}

static void test_audit_log(void **state)
{
	struct store *s = store_of(state);
	struct store_txn *txn = begin(s, true);
	const char *actions[] = {"issue", "revoke", "disclose-personal"};
	for (int i = 0; i < 3; i++) {
		struct store_audit a = {.time = 1000 + i};
		snprintf(a.actor, sizeof(a.actor), "CN=operator %d", i);
		snprintf(a.action, sizeof(a.action), "%s", actions[i]);
		snprintf(a.subject, sizeof(a.subject), "sign/0a1b");
		assert_int_equal(store_audit_append(txn, &a), 0);
		assert_int_equal(a.seq, i + 1);
	}
	struct store_audit bad = {.time = 1};
	assert_int_equal(store_audit_append(txn, &bad), -EINVAL); /* no action */
	snprintf(bad.action, sizeof(bad.action), "x");
	memset(bad.actor, 'a', sizeof(bad.actor));
	assert_int_equal(store_audit_append(txn, &bad), -EINVAL);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct audits got = {0};
	assert_int_equal(store_audit_each(txn, 0, audit_cb, &got), 0);
	assert_int_equal(got.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(got.seq[i], i + 1);
		assert_string_equal(got.action[i], actions[i]);
	}
	got = (struct audits){0};
	assert_int_equal(store_audit_each(txn, 3, audit_cb, &got), 0);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.action[0], "disclose-personal");
	struct store_audit a = {0};
	assert_int_equal(store_audit_append(txn, &a), -EINVAL); /* read transaction */
	store_txn_abort(txn);
}

static void test_persons(void **state)
{
	struct store *s = store_of(state);
	struct store_txn *txn = begin(s, true);
	struct store_person p = {.sex = 2};
	snprintf(p.name, sizeof(p.name), "山田 花子");
	snprintf(p.birth, sizeof(p.birth), "H02010203");
	memset(p.address, 'x', 800);
	assert_int_equal(store_person_put(txn, &p), 0);
	assert_int_equal(p.id, 1);
	struct store_person second = p;
	second.id = 0;
	assert_int_equal(store_person_put(txn, &second), 0);
	assert_int_equal(second.id, 2);
	struct store_person bad = p;
	bad.sex = 4;
	assert_int_equal(store_person_put(txn, &bad), -EINVAL);
	bad = p;
	memset(bad.birth, '1', sizeof(bad.birth));
	assert_int_equal(store_person_put(txn, &bad), -EINVAL);
	/* replace by id */
	p.sex = 3;
	assert_int_equal(store_person_put(txn, &p), 0);
	assert_int_equal(p.id, 1);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct store_person got;
	assert_int_equal(store_person_get(txn, 1, &got), 0);
	assert_memory_equal(&got, &p, sizeof(got));
	assert_int_equal(store_person_get(txn, 3, &got), -ENOENT);
	store_txn_abort(txn);
}

static void test_intake_dedup(void **state)
{
	struct store *s = store_of(state);
	struct store_txn *txn = begin(s, true);
	const uint8_t original[] = "signed application", result[] = "{\"valid\":true}";
	const uint8_t receipt[] = {0x30, 0x01, 0x00};
	struct store_intake r = {.received_at = 1700000000,
	                         .original = {original, sizeof(original)},
	                         .result = {result, sizeof(result) - 1},
	                         .receipt_der = {receipt, sizeof(receipt)}};
	memset(r.digest, 0xab, 32);
	uint64_t next = 0;
	assert_int_equal(store_intake_next_receipt(txn, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(store_intake_put(txn, &r), 0);
	assert_int_equal(r.receipt, 1);
	assert_int_equal(store_intake_next_receipt(txn, &next), 0);
	assert_int_equal(next, 2);
	struct store_intake other = r;
	other.digest[31] = 0;
	other.receipt_der = (struct store_blob){0};
	assert_int_equal(store_intake_put(txn, &other), 0);
	assert_int_equal(other.receipt, 2);
	assert_int_equal(store_txn_commit(txn), 0);

	/* the same digest again, in a later transaction: the first receipt */
	txn = begin(s, true);
	struct store_intake again = r;
	again.receipt = 0;
	again.received_at = 1800000000;
	assert_int_equal(store_intake_put(txn, &again), -EEXIST);
	assert_int_equal(again.receipt, 1);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(s, false);
	struct store_intake got;
	assert_int_equal(store_intake_get(txn, 1, &got), 0);
	assert_int_equal(got.receipt, 1);
	assert_int_equal(got.received_at, 1700000000);
	assert_memory_equal(got.digest, r.digest, 32);
	assert_int_equal(got.original.len, sizeof(original));
	assert_memory_equal(got.original.data, original, sizeof(original));
	assert_int_equal(got.result.len, sizeof(result) - 1);
	assert_memory_equal(got.receipt_der.data, receipt, sizeof(receipt));
	assert_int_equal(store_intake_get(txn, 2, &got), 0);
	assert_int_equal(got.receipt_der.len, 0);
	assert_int_equal(store_intake_get(txn, 3, &got), -ENOENT);
	uint64_t found;
	assert_int_equal(store_intake_find(txn, other.digest, &found), 0);
	assert_int_equal(found, 2);
	uint8_t unknown[32] = {0};
	assert_int_equal(store_intake_find(txn, unknown, &found), -ENOENT);
	assert_int_equal(store_intake_next_receipt(txn, &next), -EINVAL); /* read txn */
	store_txn_abort(txn);
}

/* The evidence of the moment of receipt round-trips (layout 2), and a
 * record written in layout 1 before kensho kept evidence still reads, with
 * empty evidence. White box: the old record is written byte by byte as
 * that layout had it. */
static void test_intake_evidence_and_layout_1(void **state)
{
	struct fixture *f = *state;
	const uint8_t original[] = "old application", result[] = "{}", receipt[] = {0x30, 0x00};
	uint8_t old[256], *p = old;
	*p++ = 1;                                                     /* layout 1 */
	const uint8_t when[8] = {0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00}; /* 1700000000 */
	memcpy(p, when, 8), p += 8;
	memset(p, 0xcd, 32), p += 32;
	const struct store_blob blobs[] = {{original, sizeof(original)},
	                                   {result, sizeof(result) - 1},
	                                   {receipt, sizeof(receipt)}};
	for (size_t i = 0; i < 3; i++) {
		put_be32(p, (uint32_t)blobs[i].len), p += 4;
		memcpy(p, blobs[i].data, blobs[i].len), p += blobs[i].len;
	}
	uint8_t k[8];
	put_be64(k, 1);
	MDB_val key = {8, k}, val = {(size_t)(p - old), old};
	struct store_txn *txn = begin(f->store, true);
	assert_int_equal(store_put(txn, DB_INTAKE, &key, &val, 0), 0);

	const uint8_t chain[] = {0x30, 0x01, 0x01, 0x30, 0x01, 0x02}, ocsp[] = {0x30, 0x01, 0x03},
	              stamp[] = {0x30, 0x01, 0x04};
	struct store_intake r = {.received_at = 1800000000,
	                         .original = {original, sizeof(original) - 1},
	                         .result = {result, sizeof(result) - 1},
	                         .evidence = {.chain = {chain, sizeof(chain)},
	                                      .ocsp = {ocsp, sizeof(ocsp)},
	                                      .crl_number = 42,
	                                      .timestamp = {stamp, sizeof(stamp)}}};
	memset(r.digest, 0xef, 32);
	assert_int_equal(store_intake_put(txn, &r), 0);
	assert_int_equal(r.receipt, 2);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(f->store, false);
	struct store_intake got;
	assert_int_equal(store_intake_get(txn, 1, &got), 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.received_at, 1700000000);
	assert_int_equal(got.original.len, sizeof(original));
	assert_memory_equal(got.receipt_der.data, receipt, sizeof(receipt));
	assert_int_equal(got.evidence.chain.len, 0);
	assert_int_equal(got.evidence.ocsp.len, 0);
	assert_int_equal(got.evidence.timestamp.len, 0);
	assert_int_equal(got.evidence.crl_number, 0);

	assert_int_equal(store_intake_get(txn, 2, &got), 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.evidence.crl_number, 42);
	assert_int_equal(got.evidence.chain.len, sizeof(chain));
	assert_memory_equal(got.evidence.chain.data, chain, sizeof(chain));
	assert_memory_equal(got.evidence.ocsp.data, ocsp, sizeof(ocsp));
	assert_memory_equal(got.evidence.timestamp.data, stamp, sizeof(stamp));
	store_txn_abort(txn);

	/* a layout 1 value with bytes after its end, and a future layout 3,
	 * are corrupt, not misread */
	old[val.mv_size] = 0;
	val.mv_size++;
	txn = begin(f->store, true);
	assert_int_equal(store_put(txn, DB_INTAKE, &key, &val, 0), 0);
	put_be64(k, 3);
	old[0] = 3;
	assert_int_equal(store_put(txn, DB_INTAKE, &key, &val, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	txn = begin(f->store, false);
	assert_int_equal(store_intake_get(txn, 1, &got), -EIO);
	assert_int_equal(store_intake_get(txn, 3, &got), -EIO);
	store_txn_abort(txn);
}

/* White box: values and environments of a layout this build does not know
 * are refused, not misread. */
static void test_unknown_versions_are_refused(void **state)
{
	struct fixture *f = *state;
	uint32_t issuer = add_issuer(f->store, "sign", 1);
	add_cert(f->store, issuer, 1);
	struct store_serial serial = serial_of(1, 8);
	uint8_t key[CERT_KEY_MAX];
	MDB_val k = {(size_t)cert_key(issuer, &serial, key), key}, v;

	struct store_txn *txn = begin(f->store, true);
	assert_int_equal(store_get(txn, DB_CERTS, &k, &v), 0);
	uint8_t copy[256];
	assert_true(v.mv_size <= sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	copy[0] = 2; /* a future layout */
	v.mv_data = copy;
	assert_int_equal(store_put(txn, DB_CERTS, &k, &v, 0), 0);
	/* a revocation-index entry whose record is gone */
	struct store_serial lost = serial_of(2, 8);
	uint8_t rkey[REVOKED_KEY_MAX], one = 1;
	MDB_val rk = {revoked_key(issuer, 10, &lost, rkey), rkey}, rv = {1, &one};
	assert_int_equal(store_put(txn, DB_REVOKED, &rk, &rv, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);

	txn = begin(f->store, false);
	struct store_cert c;
	struct store_response r;
	assert_int_equal(store_cert_get(txn, issuer, &serial, &c), -EIO);
	assert_int_equal(store_status_lookup(txn, issuer, &serial, &c, &r), -EIO);
	assert_int_equal(store_revoked_each(txn, issuer, 0, collect_cb, &(struct collected){0}),
	                 -EIO);
	store_txn_abort(txn);

	txn = begin(f->store, true);
	uint8_t schema[5] = {1, 0, 0, 0, 6}; /* a future generation */
	MDB_val sk = {6, "schema"}, sv = {sizeof(schema), schema};
	assert_int_equal(store_put(txn, DB_META, &sk, &sv, 0), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	store_close(f->store);
	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), -EPROTO);
	assert_null(f->store);
}

static void expect_hex(const char *hex, const char *want_bytes, size_t want_len,
                       const char *want_hex)
{
	struct store_serial serial;
	assert_int_equal(store_serial_from_hex(hex, strlen(hex), &serial), 0);
	assert_int_equal(serial.len, want_len);
	assert_memory_equal(serial.bytes, want_bytes, want_len);
	char text[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&serial, text);
	assert_string_equal(text, want_hex);
}

static void test_serial_hex(void **state)
{
	expect_hex("0a1b", "\x0a\x1b", 2, "0a1b");
	expect_hex("A1B", "\x0a\x1b", 2, "0a1b");      /* odd length, upper case */
	expect_hex("00000a1b", "\x0a\x1b", 2, "0a1b"); /* leading zeros dropped */
	expect_hex("ff", "\x00\xff", 2, "ff");         /* top bit: 0x00 keeps it positive */
	expect_hex("0080", "\x00\x80", 2, "80");
	expect_hex("7f", "\x7f", 1, "7f");
	expect_hex("0", "\x00", 1, "00"); /* zero is one 0x00 octet */
	expect_hex("000", "\x00", 1, "00");
	/* 20 octets is the most RFC 5280 allows, the 0x00 pad included */
	expect_hex(
	        "7fffffffffffffffffffffffffffffffffffffff",
	        "\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	        20, "7fffffffffffffffffffffffffffffffffffffff");
	expect_hex(
	        "0000007fffffffffffffffffffffffffffffffffffffff",
	        "\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	        20, "7fffffffffffffffffffffffffffffffffffffff");
	expect_hex(
	        "ffffffffffffffffffffffffffffffffffffff",
	        "\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	        20, "ffffffffffffffffffffffffffffffffffffff");
	struct store_serial serial;
	const char *bad[] = {"", "xy", "0g", "80ffffffffffffffffffffffffffffffffffffff",
	                     "01ffffffffffffffffffffffffffffffffffffffff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_serial_from_hex(bad[i], strlen(bad[i]), &serial), -EINVAL);
		assert_int_equal(serial.len, 0);
	}
	assert_int_equal(store_serial_from_hex(NULL, 0, &serial), -EINVAL);
	/* only len bytes are read */
	assert_int_equal(store_serial_from_hex("12zz", 2, &serial), 0);
	assert_int_equal(serial.len, 1);
	assert_int_equal(serial.bytes[0], 0x12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_open_errors_and_read_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_transactions_are_reused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_issuers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cert_insert_get_der_count, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_update_links, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revocation_invalidates_cached_response, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_response_put_loses_race_to_revocation, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_response_freshness, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_response_each_classifies_and_resumes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_revoke_rules, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revoked_each_in_time_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_change_log, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_log, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_persons, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_intake_dedup, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_intake_evidence_and_layout_1, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_versions_are_refused, setup, teardown),
	        cmocka_unit_test(test_serial_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
