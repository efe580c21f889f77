/* storage: the map grows when full, the cap is honoured, and readers in
 * other threads and other processes keep working across a resize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "storage/store_internal.h"
#include "tests/unit/storage/fixture.h"

#define SMALL_MAP (64u << 10)

struct batch {
	uint32_t issuer;
	uint64_t first, count;
	size_t der_len;
};

/* Inserts count certificates with DER of der_len bytes (a store_write fn). */
static int insert_batch(struct store_txn *txn, void *arg)
{
	const struct batch *b = arg;
	static uint8_t der[4096];
	memset(der, 0x5a, sizeof(der));
	for (uint64_t n = b->first; n < b->first + b->count; n++) {
		struct store_cert c = cert_of(b->issuer, serial_of(n, 8));
		int rc = store_cert_insert(txn, &c, (struct store_blob){der, b->der_len});
		if (rc)
			return rc;
	}
	return 0;
}

static int add_issuer_fn(struct store_txn *txn, void *arg)
{
	struct store_issuer is = issuer_of("sign", CERT_KIND_SIGN, 1);
	int rc = store_issuer_put(txn, &is, (struct store_blob){0});
	*(uint32_t *)arg = is.id;
	return rc;
}

static uint32_t add_issuer(struct store *s)
{
	uint32_t id = 0;
	assert_int_equal(store_write(s, add_issuer_fn, &id), 0);
	return id;
}

static uint64_t count_of(struct store *s, uint32_t issuer)
{
	struct store_txn *txn;
	uint64_t count = 0;
	assert_int_equal(store_txn_begin(s, false, &txn), 0);
	assert_int_equal(store_cert_count(txn, issuer, &count), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	return count;
}

static void test_store_write_grows_the_map(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 64u << 20);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	size_t before = store_map_size(f->store);
	assert_int_equal(before, SMALL_MAP);
	for (uint64_t first = 1; first <= 3000; first += 100) {
		struct batch b = {issuer, first, 100, 300};
		assert_int_equal(store_write(f->store, insert_batch, &b), 0);
	}
	assert_true(store_map_size(f->store) >= 16 * SMALL_MAP);
	assert_int_equal(count_of(f->store, issuer), 3000);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	for (uint64_t n = 1; n <= 3000; n += 7) {
		struct store_serial serial = serial_of(n, 8);
		struct store_blob der;
		assert_int_equal(store_cert_der(txn, issuer, &serial, &der), 0);
		assert_int_equal(der.len, 300);
	}
	store_txn_abort(txn);
	fixture_close(f);
}

static void test_manual_transaction_redone_after_growth(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 64u << 20);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	struct batch b = {issuer, 1, 1000, 200};

	/* a put that fills the map fails with -EAGAIN; abort grows the map */
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(insert_batch(txn, &b), -EAGAIN);
	store_txn_abort(txn);
	assert_int_equal(store_map_size(f->store), 2 * SMALL_MAP);

	/* committing after such a failure also grows it and asks for a redo */
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(insert_batch(txn, &b), -EAGAIN);
	assert_int_equal(store_txn_commit(txn), -EAGAIN);
	assert_int_equal(store_map_size(f->store), 4 * SMALL_MAP);
	assert_int_equal(count_of(f->store, issuer), 0);

	/* the caller's redo loop eventually fits */
	int rc, rounds = 0;
	do {
		assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
		rc = insert_batch(txn, &b);
		rc = rc == 0 ? store_txn_commit(txn) : (store_txn_abort(txn), rc);
		rounds++;
	} while (rc == -EAGAIN && rounds < 20);
	assert_int_equal(rc, 0);
	assert_int_equal(count_of(f->store, issuer), 1000);
	fixture_close(f);
}

static void test_map_full_at_the_cap(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 2 * SMALL_MAP);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	struct batch big = {issuer, 1, 200, 2000};
	assert_int_equal(store_write(f->store, insert_batch, &big), -ENOSPC);
	assert_int_equal(store_map_size(f->store), 2 * SMALL_MAP);
	/* nothing of the failed batch is visible, and small writes still fit */
	assert_int_equal(count_of(f->store, issuer), 0);
	struct batch small = {issuer, 1, 5, 10};
	assert_int_equal(store_write(f->store, insert_batch, &small), 0);
	assert_int_equal(count_of(f->store, issuer), 5);
	fixture_close(f);
}

static int fail_fn(struct store_txn *txn, void *arg)
{
	struct store_cert c = cert_of(*(uint32_t *)arg, serial_of(1, 8));
	int rc = store_cert_insert(txn, &c, (struct store_blob){0});
	return rc ? rc : -EPERM;
}

static void test_store_write_aborts_on_error(void **state)
{
	struct fixture *f = fixture_open(0, 0);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	assert_int_equal(store_write(f->store, fail_fn, &issuer), -EPERM);
	assert_int_equal(count_of(f->store, issuer), 0);
	fixture_close(f);
}

struct reader {
	struct store *store;
	uint32_t issuer;
	atomic_int *stop;
	long lookups, failures;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct store_serial first = serial_of(1, 8);
	while (!atomic_load(r->stop)) {
		struct store_txn *txn;
		struct store_cert c;
		struct store_response resp;
		if (store_txn_begin(r->store, false, &txn) != 0 ||
		    store_status_lookup(txn, r->issuer, &first, &c, &resp) != 0 ||
		    c.status != CERT_STATUS_GOOD)
			r->failures++;
		if (txn)
			store_txn_commit(txn);
		r->lookups++;
	}
	return NULL;
}

static void test_reader_threads_survive_growth(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 64u << 20);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	struct batch b = {issuer, 1, 1, 100};
	assert_int_equal(store_write(f->store, insert_batch, &b), 0);
	atomic_int stop = 0;
	struct reader r[2];
	pthread_t threads[2];
	for (int i = 0; i < 2; i++) {
		r[i] = (struct reader){.store = f->store, .issuer = issuer, .stop = &stop};
		assert_int_equal(pthread_create(&threads[i], NULL, reader_main, &r[i]), 0);
	}
	for (uint64_t first = 2; first < 4000; first += 200) {
		b = (struct batch){issuer, first, 200, 300};
		assert_int_equal(store_write(f->store, insert_batch, &b), 0);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		assert_true(r[i].lookups > 0);
		assert_int_equal(r[i].failures, 0);
	}
	assert_true(store_map_size(f->store) >= 16 * SMALL_MAP);
	fixture_close(f);
}

/* --- a second process ---------------------------------------------------------- */

static void send_byte(int fd)
{
	char c = 1;
	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static void wait_byte(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(91);
}

#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			_exit(__LINE__ % 250 + 1);                                                 \
	} while (0)

/* The child: opens its own store after fork, holds a read snapshot while the
 * parent writes, then sees the parent's records (adopting the map the parent
 * grew) and grows the map further with its own writes. */
static void child_main(const char *dir, uint32_t issuer, int to_parent, int from_parent)
{
	struct store *s;
	struct store_options opts = {.path = dir, .map_size = SMALL_MAP, .map_max = 64u << 20};
	CHILD_CHECK(store_open(&opts, &s) == 0);
	struct store_txn *old;
	uint64_t count = 0;
	CHILD_CHECK(store_txn_begin(s, false, &old) == 0);
	CHILD_CHECK(store_cert_count(old, issuer, &count) == 0 && count == 10);
	send_byte(to_parent);
	wait_byte(from_parent); /* the parent has written and grown the map */

	/* the old snapshot still reads what it saw */
	CHILD_CHECK(store_cert_count(old, issuer, &count) == 0 && count == 10);
	CHILD_CHECK(store_txn_commit(old) == 0);

	struct store_txn *txn;
	CHILD_CHECK(store_txn_begin(s, false, &txn) == 0);
	CHILD_CHECK(store_cert_count(txn, issuer, &count) == 0 && count == 3010);
	struct store_serial last = serial_of(3010, 8);
	struct store_blob der;
	CHILD_CHECK(store_cert_der(txn, issuer, &last, &der) == 0 && der.len == 300);
	CHILD_CHECK(store_txn_commit(txn) == 0);
	CHILD_CHECK(store_map_size(s) > SMALL_MAP);

	/* twice the parent's records: enough to grow the map past its size */
	for (uint64_t first = 5000; first < 11000; first += 250) {
		struct batch b = {issuer, first, 250, 300};
		CHILD_CHECK(store_write(s, insert_batch, &b) == 0);
	}
	store_close(s);
	_exit(0);
}

static void test_second_process_reads_while_parent_writes(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 64u << 20);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	struct batch b = {issuer, 1, 10, 300};
	assert_int_equal(store_write(f->store, insert_batch, &b), 0);

	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child_main(f->dir, issuer, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	char c;
	assert_int_equal(read(up[0], &c, 1), 1); /* the child holds a snapshot */
	for (uint64_t first = 11; first <= 3010; first += 250) {
		uint64_t n = first + 250 > 3011 ? 3011 - first : 250;
		b = (struct batch){issuer, first, n, 300};
		assert_int_equal(store_write(f->store, insert_batch, &b), 0);
	}
	size_t parent_map = store_map_size(f->store);
	assert_true(parent_map > SMALL_MAP);
	assert_int_equal(write(down[1], &c, 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(up[0]);
	close(down[1]);

	/* the child's writes grew the map past ours: we adopt its size */
	assert_int_equal(count_of(f->store, issuer), 9010);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	struct store_serial last = serial_of(10999, 8);
	struct store_cert cert;
	assert_int_equal(store_cert_get(txn, issuer, &last, &cert), 0);
	store_txn_abort(txn);
	assert_true(store_map_size(f->store) > parent_map);
	fixture_close(f);
}

/* kensho_store_map_bytes reads store_map_size at scrape time: it must show a
 * map another process (kensho gen) grew, before this process runs any
 * transaction of its own. */
static void test_map_size_follows_another_process(void **state)
{
	struct fixture *f = fixture_open(SMALL_MAP, 64u << 20);
	assert_non_null(f);
	uint32_t issuer = add_issuer(f->store);
	assert_int_equal(store_map_size(f->store), SMALL_MAP);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_options opts = {.path = f->dir, .map_size = SMALL_MAP,
		                             .map_max = 64u << 20};
		CHILD_CHECK(store_open(&opts, &s) == 0);
		for (uint64_t first = 1; first < 3000; first += 250) {
			struct batch b = {issuer, first, 250, 300};
			CHILD_CHECK(store_write(s, insert_batch, &b) == 0);
		}
		CHILD_CHECK(store_map_size(s) >= 8 * SMALL_MAP);
		store_close(s);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	size_t seen = store_map_size(f->store);
	assert_true(seen >= 8 * SMALL_MAP);
	assert_int_equal(count_of(f->store, issuer), 3000);
	assert_int_equal(store_map_size(f->store), seen);
	fixture_close(f);
}

struct reader_search {
	pid_t pid;
	int found;
};

static int reader_line_cb(const char *line, void *ctx)
{
	struct reader_search *search = ctx;
	int pid;
	if (sscanf(line, "%d", &pid) == 1 && pid == search->pid)
		search->found++;
	return 0;
}

/* A child that opens the store, and then either leaves a read transaction
 * behind as it dies (stale) or keeps the environment open until told. */
static pid_t spawn_reader(const char *dir, bool die_in_txn, int *release_fd)
{
	int ready[2], release[2];
	if (pipe(ready) || pipe(release))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		struct store *s;
		struct store_options opts = {.path = dir, .read_only = true};
		struct store_txn *txn;
		CHILD_CHECK(store_open(&opts, &s) == 0);
		CHILD_CHECK(store_txn_begin(s, false, &txn) == 0);
		if (die_in_txn)
			_exit(0); /* no abort, no close: the slot stays taken */
		store_txn_abort(txn);
		send_byte(ready[1]);
		wait_byte(release[0]);
		store_close(s);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	char c;
	if (!die_in_txn && read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void test_stale_readers_cleared_at_open(void **state)
{
	struct fixture *f = fixture_open(0, 0);
	assert_non_null(f);
	store_close(f->store);
	f->store = NULL;

	/* one process keeps the environment (and its reader table) alive ... */
	int keeper_release, stale_release, status;
	pid_t keeper = spawn_reader(f->dir, false, &keeper_release);
	assert_true(keeper > 0);
	/* ... while another dies inside a read transaction */
	pid_t stale = spawn_reader(f->dir, true, &stale_release);
	assert_true(stale > 0);
	assert_int_equal(waitpid(stale, &status, 0), stale);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(stale_release);

	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), 0);
	struct reader_search search = {.pid = stale};
	mdb_reader_list(f->store->env, reader_line_cb, &search);
	assert_int_equal(search.found, 0);
	/* the live process's slot is still there */
	search = (struct reader_search){.pid = keeper};
	mdb_reader_list(f->store->env, reader_line_cb, &search);
	assert_true(search.found >= 1);

	send_byte(keeper_release);
	close(keeper_release);
	assert_int_equal(waitpid(keeper, &status, 0), keeper);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fixture_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_store_write_grows_the_map),
	        cmocka_unit_test(test_manual_transaction_redone_after_growth),
	        cmocka_unit_test(test_map_full_at_the_cap),
	        cmocka_unit_test(test_store_write_aborts_on_error),
	        cmocka_unit_test(test_reader_threads_survive_growth),
	        cmocka_unit_test(test_second_process_reads_while_parent_writes),
	        cmocka_unit_test(test_map_size_follows_another_process),
	        cmocka_unit_test(test_stale_readers_cleared_at_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
