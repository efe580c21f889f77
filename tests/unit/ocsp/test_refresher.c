/* ocsp/refresher: due answers are re-signed oldest first (missing first),
 * a budget caps the signatures of a run, a revocation committed between
 * signing and writing back is never cached as good, and of two refreshers on
 * one store only the lease holder signs. A fake clock drives it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ocsp_fixture.h"
#include "ocsp/refresher.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "pki/ocsp_codec.h"
#include "storage/store.h"

#define VALIDITY 600
#define BEFORE   300
#define T0       1790000000

struct fixture {
	char dir[64];
	struct store *store;
	uint32_t issuer;
	struct ocsp_responder_set *set;
	int64_t now;
	bool revoke_before_write;
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static struct store_serial serial_n(uint8_t n)
{
	return (struct store_serial){.len = 2, .bytes = {0x10, n}};
}

static void revoke_n(struct fixture *f, uint8_t n)
{
	struct store_serial s = serial_n(n);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_cert_revoke(txn, f->issuer, &s, T0, CRL_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static void revoke_hook(void *arg)
{
	struct fixture *f = arg;
	if (f->revoke_before_write) {
		f->revoke_before_write = false;
		revoke_n(f, 1);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kensho-refresher-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(
	        ocsp_fixture_create(OCSP_FIXTURE_DIR, f->dir, false, &f->store, &f->issuer), 0);
	for (uint8_t n = 1; n <= 4; n++) {
		struct store_serial s = serial_n(n);
		assert_int_equal(ocsp_fixture_add_cert(f->store, f->issuer, s.bytes, s.len), 0);
	}
	struct ocsp_responder_options opts = {.validity_seconds = VALIDITY};
	assert_int_equal(ocsp_responder_set_open(f->dir, f->store, &opts, &f->set), 0);
	f->now = T0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ocsp_responder_set_free(f->set);
	store_close(f->store);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct ocsp_refresher *refresher_per(struct fixture *f, uint64_t holder, size_t batch,
                                            size_t per_signature)
{
	struct ocsp_refresher_config cfg = {.refresh_before = BEFORE,
	                                    .batch = batch,
	                                    .per_signature = per_signature,
	                                    .rate = 100,
	                                    .lease_ttl = 60,
	                                    .holder = holder,
	                                    .clock = fake_clock,
	                                    .clock_arg = f,
	                                    .before_write = revoke_hook};
	struct ocsp_refresher *r;
	assert_int_equal(ocsp_refresher_new(f->set, &cfg, &r), 0);
	return r;
}

static struct ocsp_refresher *refresher(struct fixture *f, uint64_t holder, size_t batch)
{
	return refresher_per(f, holder, batch, 1);
}

/* Number of SingleResponses in serial n's usable answer, 0 when none. */
static size_t answer_size(struct fixture *f, uint8_t n)
{
	struct store_serial s = serial_n(n);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	struct store_cert c;
	struct store_response r;
	assert_int_equal(store_status_lookup(txn, f->issuer, &s, &c, &r), 0);
	size_t count = 0;
	if (r.der.data) {
		struct ocsp_response_info *info = malloc(sizeof(*info));
		assert_int_equal(ocsp_response_parse(r.der.data, r.der.len, info), 0);
		count = info->count;
		free(info);
	}
	store_txn_abort(txn);
	return count;
}

/* nextUpdate of serial n's usable answer, 0 when none */
static int64_t next_update_of(struct fixture *f, uint8_t n, enum ocsp_cert_status *status)
{
	struct store_serial s = serial_n(n);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	struct store_cert c;
	struct store_response r;
	assert_int_equal(store_status_lookup(txn, f->issuer, &s, &c, &r), 0);
	int64_t next = 0;
	if (r.der.data) {
		next = r.next_update;
		if (status) {
			struct ocsp_response_info info;
			assert_int_equal(ocsp_response_parse(r.der.data, r.der.len, &info), 0);
			*status = info.singles[0].status;
		}
	}
	store_txn_abort(txn);
	return next;
}

static void test_due_answers_oldest_first_within_budget(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher *r = refresher(f, 1, 10);
	bool held;
	size_t n;
	int64_t next_due;
	/* all four missing: a budget of 3 signs three of them */
	assert_int_equal(ocsp_refresher_run_once(r, 3, &held, &n, &next_due), 0);
	assert_true(held);
	assert_int_equal(n, 3);
	assert_int_equal(next_due, 0 - BEFORE); /* the fourth is still missing */
	assert_int_equal(next_update_of(f, 4, NULL), 0);
	/* later, the fourth (missing) goes before the three (due) */
	f->now = T0 + 100;
	assert_int_equal(ocsp_refresher_run_once(r, 1, &held, &n, &next_due), 0);
	assert_int_equal(n, 1);
	assert_int_equal(next_update_of(f, 4, NULL), T0 + 100 + VALIDITY);
	assert_int_equal(next_update_of(f, 1, NULL), T0 + VALIDITY);
	/* nothing due until nextUpdate - refresh_before */
	assert_int_equal(ocsp_refresher_run_once(r, 10, &held, &n, &next_due), 0);
	assert_int_equal(n, 0);
	assert_int_equal(next_due, T0 + VALIDITY - BEFORE);
	/* then the oldest are re-signed first */
	f->now = T0 + VALIDITY - BEFORE;
	assert_int_equal(ocsp_refresher_run_once(r, 2, &held, &n, &next_due), 0);
	assert_int_equal(n, 2);
	int resigned = 0;
	for (uint8_t k = 1; k <= 3; k++)
		resigned += next_update_of(f, k, NULL) == f->now + VALIDITY;
	assert_int_equal(resigned, 2);
	assert_int_equal(next_update_of(f, 4, NULL), T0 + 100 + VALIDITY);
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->signatures), 6);
	ocsp_refresher_free(r);
}

static void test_revocation_between_sign_and_write_wins(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher *r = refresher(f, 1, 10);
	bool held;
	size_t n;
	int64_t next_due;
	f->revoke_before_write = true;
	assert_int_equal(ocsp_refresher_run_once(r, 10, &held, &n, &next_due), 0);
	assert_int_equal(n, 3);
	assert_int_equal(next_update_of(f, 1, NULL), 0); /* not cached as good */
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->stale), 1);
	/* and signed again, as revoked, on the next run */
	assert_int_equal(ocsp_refresher_run_once(r, 10, &held, &n, &next_due), 0);
	assert_int_equal(n, 1);
	enum ocsp_cert_status status = OCSP_CERT_GOOD;
	assert_int_not_equal(next_update_of(f, 1, &status), 0);
	assert_int_equal(status, OCSP_CERT_REVOKED);
	ocsp_refresher_free(r);
}

/* ocsp.batch = 3: the budget counts signatures, each answering up to three
 * certificates; a revocation between signing and writing keeps the whole
 * batch out of the cache (its bytes say good for the revoked one), and the
 * next run signs again. */
static void test_batches_count_as_one_signature(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher *r = refresher_per(f, 1, 10, 3);
	bool held;
	size_t n;
	int64_t next_due;
	assert_int_equal(ocsp_refresher_run_once(r, 1, &held, &n, &next_due), 0);
	assert_int_equal(n, 1); /* one signature, three answers */
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->signatures), 3);
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->signings), 1);
	assert_int_equal(
	        answer_size(f, 1) + answer_size(f, 2) + answer_size(f, 3) + answer_size(f, 4), 9);
	f->now = T0 + VALIDITY - BEFORE;
	f->revoke_before_write = true; /* serial 1: in the first batch */
	assert_int_equal(ocsp_refresher_run_once(r, 10, &held, &n, &next_due), 0);
	assert_int_equal(next_update_of(f, 1, NULL), 0);
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->stale), 1);
	assert_int_equal(ocsp_refresher_run_once(r, 10, &held, &n, &next_due), 0);
	enum ocsp_cert_status status = OCSP_CERT_GOOD;
	assert_int_not_equal(next_update_of(f, 1, &status), 0);
	for (uint8_t k = 1; k <= 4; k++)
		assert_true(next_update_of(f, k, NULL) > T0 + VALIDITY);
	struct ocsp_response_info info;
	struct store_serial s1 = serial_n(1);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	struct store_cert c;
	struct store_response resp;
	assert_int_equal(store_status_lookup(txn, f->issuer, &s1, &c, &resp), 0);
	assert_int_equal(ocsp_response_parse(resp.der.data, resp.der.len, &info), 0);
	for (size_t i = 0; i < info.count; i++)
		if (info.singles[i].id.serial_len == 2 && info.singles[i].id.serial[1] == 1)
			assert_int_equal(info.singles[i].status, OCSP_CERT_REVOKED);
	store_txn_abort(txn);
	ocsp_refresher_free(r);
}

static void test_only_the_lease_holder_signs(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher *a = refresher(f, 1, 2), *b = refresher(f, 2, 2);
	bool held;
	size_t n;
	int64_t next_due;
	assert_int_equal(ocsp_refresher_run_once(a, 2, &held, &n, &next_due), 0);
	assert_true(held);
	assert_int_equal(n, 2);
	assert_int_equal(ocsp_refresher_run_once(b, 2, &held, &n, &next_due), 0);
	assert_false(held);
	assert_int_equal(n, 0);
	assert_int_equal(atomic_load(&ocsp_refresher_stats(b)->lease), 0);
	/* the holder stops renewing (crashed): b takes over once it lapses */
	f->now += 61;
	assert_int_equal(ocsp_refresher_run_once(b, 2, &held, &n, &next_due), 0);
	assert_true(held);
	assert_int_equal(n, 2);
	assert_int_equal(ocsp_refresher_run_once(a, 2, &held, &n, &next_due), 0);
	assert_false(held);
	assert_int_equal(atomic_load(&ocsp_refresher_stats(a)->signatures) +
	                         atomic_load(&ocsp_refresher_stats(b)->signatures),
	                 4);
	ocsp_refresher_free(a);
	ocsp_refresher_free(b);
}

static void test_issuers_without_a_responder_are_skipped(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher *r = refresher(f, 1, 1);
	bool held;
	size_t n;
	int64_t next_due;
	for (int i = 0; i < 4; i++)
		assert_int_equal(ocsp_refresher_run_once(r, 1, &held, &n, &next_due), 0);
	/* a certificate of an issuer with no responder here: missing, at the
	 * front of the index, and never signable */
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	struct store_issuer other = {.kind = CERT_KIND_AUTH, .label = "auth"};
	memset(other.name_sha1, 7, sizeof(other.name_sha1));
	memset(other.key_sha1, 8, sizeof(other.key_sha1));
	assert_int_equal(
	        store_issuer_put(txn, &other, (struct store_blob){(const uint8_t *)"x", 1}), 0);
	struct store_cert c = {
	        .issuer_id = other.id, .serial = serial_n(9), .kind = CERT_KIND_AUTH};
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){0}), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	/* batches of one still reach the due answers behind it */
	f->now = T0 + VALIDITY - BEFORE;
	assert_int_equal(ocsp_refresher_run_once(r, 1, &held, &n, &next_due), 0);
	assert_int_equal(n, 1);
	ocsp_refresher_free(r);
}

static void test_thread_starts_and_stops(void **state)
{
	struct fixture *f = *state;
	struct ocsp_refresher_config cfg = {
	        .refresh_before = BEFORE, .batch = 4, .rate = 1000, .lease_ttl = 60, .holder = 7};
	struct ocsp_refresher *r;
	assert_int_equal(ocsp_refresher_new(f->set, &cfg, &r), 0);
	assert_int_equal(ocsp_refresher_start(r), 0);
	/* bounded wait for the four missing answers */
	for (int i = 0; i < 500 && atomic_load(&ocsp_refresher_stats(r)->signatures) < 4; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(atomic_load(&ocsp_refresher_stats(r)->signatures), 4);
	ocsp_refresher_stop(r);
	/* the lease is released on stop */
	struct store_txn *txn;
	struct store_lease l;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_lease_get(txn, OCSP_REFRESH_LEASE, &l), -ENOENT);
	store_txn_abort(txn);
	ocsp_refresher_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_due_answers_oldest_first_within_budget, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_revocation_between_sign_and_write_wins, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_batches_count_as_one_signature, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_only_the_lease_holder_signs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_issuers_without_a_responder_are_skipped, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_thread_starts_and_stops, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
