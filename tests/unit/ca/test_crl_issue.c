/* ca/crl_issue: generation from a real store (numbers, publication, the CA key's
 * permissions), crl_due, the schedule every kenshod worker follows, and
 * publication interrupted by a crash at each of its steps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "ca/crl_issue.h"
#include "storage/store.h"
#include "pki/crl_read.h"

struct fixture {
	char dir[64];
	struct store *store;
	uint32_t issuer_id;
	int64_t now;
	struct crl_policy policy;
};

static int copy_file(const char *from, const char *to, mode_t mode)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	if (!in || !out)
		return -1;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	return chmod(to, mode);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/kensho-crl-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char path[256];
	snprintf(path, sizeof path, "%s/ca", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/ca/sign-ca.key", f->dir);
	if (copy_file(CRL_FIXTURES "/crl-ca.key", path, 0600))
		return -1;
	if (ca_store_open(f->dir, &f->store))
		return -1;

	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse_file(&ca, CRL_FIXTURES "/crl-ca.pem"))
		return -1;
	struct store_issuer issuer = {.kind = CERT_KIND_SIGN};
	strcpy(issuer.label, "sign");
	struct store_txn *txn;
	if (store_txn_begin(f->store, true, &txn) ||
	    store_issuer_put(txn, &issuer, (struct store_blob){ca.raw.p, ca.raw.len}) ||
	    store_txn_commit(txn))
		return -1;
	mbedtls_x509_crt_free(&ca);
	f->issuer_id = issuer.id;
	f->now = (int64_t)time(NULL);
	f->policy = (struct crl_policy){
	        .full_interval = 3600, .delta_after_ms = 60000, .delta_refresh = 1800};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->store);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void revoke_in(struct fixture *f, uint8_t serial_byte, uint32_t partition)
{
	struct store_cert c = {
	        .issuer_id = f->issuer_id,
	        .kind = CERT_KIND_SIGN,
	        .not_before = f->now - 86400,
	        .not_after = f->now + 86400,
	        .serial = {.len = 1, .bytes = {serial_byte}},
	        .partition = partition,
	};
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){NULL, 0}), 0);
	assert_int_equal(
	        store_cert_revoke(txn, f->issuer_id, &c.serial, f->now, CRL_REASON_KEY_COMPROMISE),
	        0);
	struct store_cert back;
	assert_int_equal(store_cert_get(txn, f->issuer_id, &c.serial, &back), 0);
	assert_int_equal(back.partition, partition); /* kept through the revocation */
	assert_int_equal(store_txn_commit(txn), 0);
}

static void revoke_new(struct fixture *f, uint8_t serial_byte)
{
	struct store_cert c = {
	        .issuer_id = f->issuer_id,
	        .kind = CERT_KIND_SIGN,
	        .not_before = f->now - 86400,
	        .not_after = f->now + 86400,
	        .serial = {.len = 1, .bytes = {serial_byte}},
	};
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_cert_insert(txn, &c, (struct store_blob){NULL, 0}), 0);
	assert_int_equal(
	        store_cert_revoke(txn, f->issuer_id, &c.serial, f->now, CRL_REASON_KEY_COMPROMISE),
	        0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static void generate(struct fixture *f, bool delta, struct crl_generate_result *r)
{
	struct crl_generate_options o = {.data_dir = f->dir, .label = "sign", .delta = delta};
	assert_int_equal(crl_generate(f->store, &o, r), 0);
}

static void due(struct fixture *f, struct crl_watch *w, int64_t at, bool full, bool delta)
{
	bool is_full, is_delta;
	assert_int_equal(
	        crl_due(f->store, f->dir, "sign", at * 1000, &f->policy, w, &is_full, &is_delta),
	        0);
	assert_int_equal(is_full, full);
	assert_int_equal(is_delta, delta);
}

static void read_published(const char *path, struct crl_info *info)
{
	FILE *in = fopen(path, "rb");
	assert_non_null(in);
	static uint8_t der[1 << 16];
	size_t len = fread(der, 1, sizeof der, in);
	fclose(in);
	assert_int_equal(crl_read_info(der, len, info), 0);
}

static void test_numbers_and_publication(void **state)
{
	struct fixture *f = *state;
	struct crl_generate_options o = {.data_dir = f->dir, .label = "sign", .delta = true};
	struct crl_generate_result r;
	/* a delta needs a full CRL before it */
	assert_int_equal(crl_generate(f->store, &o, &r), -ENOENT);

	revoke_new(f, 0x11);
	generate(f, false, &r);
	assert_int_equal(r.number, 1);
	assert_int_equal(r.entries, 1);
	struct crl_info info;
	read_published(r.path, &info);
	assert_int_equal(info.number, 1);
	assert_false(info.delta);

	revoke_new(f, 0x22);
	generate(f, true, &r);
	assert_int_equal(r.number, 2);
	assert_int_equal(r.base_number, 1);
	assert_true(r.entries >= 1); /* 0x22, and 0x11 if in the base's second */
	read_published(r.path, &info);
	assert_true(info.delta);
	assert_int_equal(info.base_number, 1);
	assert_int_equal(info.number, 2);

	generate(f, false, &r);
	assert_int_equal(r.number, 3);
	assert_int_equal(r.entries, 2);

	struct store_txn *txn;
	struct store_issuer issuer;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_issuer_get(txn, f->issuer_id, &issuer), 0);
	store_txn_abort(txn);
	assert_int_equal(issuer.crl_number, 3);
	assert_int_equal(issuer.base_crl_number, 3);

	struct crl_state st;
	assert_int_equal(crl_state_read(f->dir, "sign", false, &st), 0);
	assert_int_equal(st.number, 3);
	assert_int_equal(st.base_number, 3);
}

static void test_key_readable_by_others_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[256];
	snprintf(path, sizeof path, "%s/ca/sign-ca.key", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	struct crl_generate_options o = {.data_dir = f->dir, .label = "sign"};
	struct crl_generate_result r;
	assert_int_equal(crl_generate(f->store, &o, &r), -EPERM);
	snprintf(path, sizeof path, "%s/crl/sign.crl", f->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* and nothing was numbered */
	struct store_txn *txn;
	struct store_issuer issuer;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_issuer_get(txn, f->issuer_id, &issuer), 0);
	store_txn_abort(txn);
	assert_int_equal(issuer.crl_number, 0);
}

static void test_unknown_issuer(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	bool full, delta;
	assert_int_equal(
	        crl_due(f->store, f->dir, "auth", f->now * 1000, &f->policy, &w, &full, &delta),
	        -ENOENT);
	assert_int_equal(
	        crl_due(f->store, f->dir, "other", f->now * 1000, &f->policy, &w, &full, &delta),
	        -EINVAL);
}

static void test_schedule(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	struct crl_generate_result r;
	due(f, &w, f->now, true, true); /* nothing published yet */
	generate(f, false, &r);
	due(f, &w, f->now, false, true); /* no delta for this full CRL */
	generate(f, true, &r);
	due(f, &w, f->now, false, false);

	/* a revocation waits delta_after_ms for its delta */
	revoke_new(f, 0x33);
	due(f, &w, f->now, false, false);
	due(f, &w, f->now + 50, false, false);
	due(f, &w, f->now + 70, false, true);
	generate(f, true, &r);
	due(f, &w, f->now + 70, false, false);

	/* deltas are reissued halfway through, full CRLs every full_interval */
	due(f, &w, f->now + 1810, false, true);
	due(f, &w, f->now + 3610, true, true);
}

static void test_another_process_published(void **state)
{
	struct fixture *f = *state;
	struct crl_watch mine = {0}, theirs = {0};
	struct crl_generate_result r;
	generate(f, false, &r);
	generate(f, true, &r);
	revoke_new(f, 0x44);
	due(f, &mine, f->now + 70, false, true);
	due(f, &theirs, f->now + 70, false, true);
	/* they publish the delta; we must not publish it again */
	generate(f, true, &r);
	due(f, &theirs, f->now + 70, false, false);
	due(f, &mine, f->now + 70, false, false);

	/* a full CRL published elsewhere makes a delta due for it */
	generate(f, false, &r);
	due(f, &mine, f->now + 70, false, true);
}

/* Generates with a given thisUpdate and validity. */
static void generate_at(struct fixture *f, bool delta, int64_t now, int64_t validity,
                        struct crl_generate_result *r)
{
	struct crl_generate_options o = {.data_dir = f->dir,
	                                 .label = "sign",
	                                 .delta = delta,
	                                 .now = now,
	                                 .validity = validity};
	assert_int_equal(crl_generate(f->store, &o, r), 0);
}

static void test_due_before_next_update(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	struct crl_generate_result r;
	/* CRLs valid for 100 s, far shorter than full_interval and
	 * delta_refresh: the default margin is a quarter of that, 25 s */
	generate_at(f, false, f->now, 100, &r);
	generate_at(f, true, f->now, 100, &r);
	due(f, &w, f->now, false, false);
	due(f, &w, f->now + 74, false, false);
	due(f, &w, f->now + 76, true, true);
	due(f, &w, f->now + 200, true, true); /* and certainly once expired */

	/* a delta that lasts less than its full CRL is reissued on its own */
	generate_at(f, true, f->now, 40, &r);
	due(f, &w, f->now + 29, false, false);
	due(f, &w, f->now + 31, false, true);

	/* a configured margin, never more than half the validity */
	generate_at(f, true, f->now, 100, &r);
	f->policy.refresh_before_ms = 10000;
	due(f, &w, f->now + 89, false, false);
	due(f, &w, f->now + 91, true, true);
	f->policy.refresh_before_ms = 3600 * 1000;
	due(f, &w, f->now + 49, false, false);
	due(f, &w, f->now + 51, true, true);
	/* and never less than the check interval's slack */
	f->policy.refresh_before_ms = 1;
	f->policy.min_margin_ms = 5000;
	due(f, &w, f->now + 94, false, false);
	due(f, &w, f->now + 96, true, true);
}

static void test_refresh_margin(void **state)
{
	(void)state;
	struct crl_policy p = {0};
	/* defaults: a quarter of the validity, at most six hours */
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 4), 1000);
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 7200), 1800 * 1000);
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 48 * 3600), 6 * 3600 * 1000LL);
	p.refresh_before_ms = 60000;
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 48 * 3600), 60000);
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 10), 5000);
	p.min_margin_ms = 3000;
	assert_int_equal(crl_refresh_margin_ms(&p, 0, 4), 3000);
}

static const char *crash_step;

static void crash_at_step(const char *step)
{
	if (!strcmp(step, crash_step))
		_exit(77);
}

/* Runs crl_generate in a child process that dies at `step`, as a kill would
 * stop kenshod there. The store is closed around the fork: an LMDB
 * environment must not cross one. */
static void generate_and_crash(struct fixture *f, bool delta, const char *step)
{
	store_close(f->store);
	f->store = NULL;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *store;
		if (ca_store_open(f->dir, &store))
			_exit(1);
		crash_step = step;
		crl_set_publish_hook(crash_at_step);
		struct crl_generate_options o = {
		        .data_dir = f->dir, .label = "sign", .delta = delta};
		struct crl_generate_result r;
		crl_generate(store, &o, &r);
		_exit(2); /* the step was never reached */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 77);
	assert_int_equal(ca_store_open(f->dir, &f->store), 0);
}

static void published_numbers(struct fixture *f, uint64_t *full, uint64_t *delta_number,
                              uint64_t *delta_base)
{
	char path[256];
	struct crl_info info;
	snprintf(path, sizeof path, "%s/crl/sign.crl", f->dir);
	read_published(path, &info);
	*full = info.number;
	snprintf(path, sizeof path, "%s/crl/sign-delta.crl", f->dir);
	read_published(path, &info);
	*delta_number = info.number;
	*delta_base = info.base_number;
}

static int count_tmp_files(struct fixture *f)
{
	char path[256];
	snprintf(path, sizeof path, "%s/crl", f->dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void test_full_interrupted_after_commit(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	struct crl_generate_result r;
	generate(f, false, &r); /* 1 */
	generate(f, true, &r);  /* 2 on 1 */
	revoke_new(f, 0x55);
	/* number 3 is committed, the file never renamed into place */
	generate_and_crash(f, false, "committed");
	uint64_t full, delta_number, delta_base;
	published_numbers(f, &full, &delta_number, &delta_base);
	assert_int_equal(full, 1);
	assert_int_equal(count_tmp_files(f), 1);

	/* the gap is seen at once, not after full_interval */
	due(f, &w, f->now, true, true);
	/* and no delta may name the unpublished base 3 */
	struct crl_generate_options o = {.data_dir = f->dir, .label = "sign", .delta = true};
	assert_int_equal(crl_generate(f->store, &o, &r), -ENOENT);

	/* the next publisher removes what the dead one left */
	int lock;
	assert_int_equal(crl_publish_lock(f->dir, false, &lock), 0);
	assert_int_equal(count_tmp_files(f), 0);
	generate(f, false, &r);
	generate(f, true, &r);
	crl_publish_unlock(lock);
	published_numbers(f, &full, &delta_number, &delta_base);
	assert_int_equal(full, 4);
	assert_int_equal(delta_base, 4);
	assert_int_equal(delta_number, 5);
	struct crl_state st;
	assert_int_equal(crl_state_read(f->dir, "sign", false, &st), 0);
	assert_int_equal(st.number, 4);
	due(f, &w, f->now, false, false);
}

static void test_full_interrupted_before_state(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	struct crl_generate_result r;
	generate(f, false, &r);
	generate(f, true, &r);
	/* the file is in place, its state was never written */
	generate_and_crash(f, false, "renamed");
	due(f, &w, f->now, true, true);
	generate(f, false, &r);
	due(f, &w, f->now, false, true);
}

static void test_delta_interrupted_after_commit(void **state)
{
	struct fixture *f = *state;
	struct crl_watch w = {0};
	struct crl_generate_result r;
	generate(f, false, &r); /* 1 */
	generate(f, true, &r);  /* 2 on 1 */
	due(f, &w, f->now, false, false);
	revoke_new(f, 0x66);
	generate_and_crash(f, true, "committed"); /* 3 numbered, not published */
	/* the revocation must not wait for delta_after_ms again */
	due(f, &w, f->now, false, true);
	generate(f, true, &r);
	assert_int_equal(r.number, 4);
	due(f, &w, f->now, false, false);
}

/* A municipality's partition: only its certificates, numbered on its own,
 * deltas on its own full CRL; the CA's numbers untouched. (All partitions
 * at once sign 1,741 CRLs: the integration test crl_partitions covers it.) */
static void test_partitions(void **state)
{
	struct fixture *f = *state;
	revoke_in(f, 1, 132217);
	revoke_in(f, 2, 11002);
	revoke_in(f, 3, 0);
	struct crl_generate_result r;
	/* thisUpdate a second after the revocations, so the delta's window
	 * starts after them */
	struct crl_generate_options o = {
	        .data_dir = f->dir, .label = "sign", .partition = 132217, .now = f->now + 1};
	assert_int_equal(crl_generate(f->store, &o, &r), 0);
	assert_int_equal(r.entries, 1);
	assert_int_equal(r.number, 1);
	assert_non_null(strstr(r.path, "/crl/sign-132217.crl"));
	struct store_txn *txn;
	struct store_issuer issuer;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_issuer_by_label(txn, "sign", &issuer), 0);
	store_txn_abort(txn);
	assert_int_equal(issuer.crl_number, 0);

	generate(f, false, &r); /* the whole CRL lists all three */
	assert_int_equal(r.entries, 3);
	assert_int_equal(r.number, 1);

	o.delta = true;
	o.now = f->now + 2;
	assert_int_equal(crl_generate(f->store, &o, &r), 0);
	assert_int_equal(r.entries, 0);
	assert_int_equal(r.number, 2);
	assert_int_equal(r.base_number, 1);
	f->now += 2;
	revoke_in(f, 4, 132217);
	revoke_in(f, 5, 11002);
	o.now = f->now + 1;
	assert_int_equal(crl_generate(f->store, &o, &r), 0);
	assert_int_equal(r.entries, 1);
	assert_int_equal(r.number, 3);
	assert_int_equal(r.base_number, 1);

	/* a delta needs its partition's full CRL; an unknown code is refused */
	o.partition = 472018;
	assert_int_equal(crl_generate(f->store, &o, &r), -ENOENT);
	o.partition = 999999;
	o.delta = false;
	assert_int_equal(crl_generate(f->store, &o, &r), -EINVAL);
}

static void test_lock_is_exclusive(void **state)
{
	struct fixture *f = *state;
	int held, other;
	assert_int_equal(crl_publish_lock(f->dir, false, &held), 0);
	/* a second open file description, as another process would have */
	assert_int_equal(crl_publish_lock(f->dir, false, &other), -EAGAIN);
	crl_publish_unlock(held);
	assert_int_equal(crl_publish_lock(f->dir, false, &other), 0);
	crl_publish_unlock(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_numbers_and_publication, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_key_readable_by_others_is_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_issuer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_another_process_published, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_due_before_next_update, setup, teardown),
	        cmocka_unit_test(test_refresh_margin),
	        cmocka_unit_test_setup_teardown(test_full_interrupted_after_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_full_interrupted_before_state, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_delta_interrupted_after_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_lock_is_exclusive, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_partitions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
