/* storage: the signature counters are shared by every process that opens
 * the environment, survive reopening, are read (not written) through a
 * read-only store, and stay out of the way when their file is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

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

static void read_counts(struct store *s, uint64_t *live, uint64_t *refresh, uint64_t *issuance)
{
	uint64_t c[STORE_SIGNATURE_PURPOSES];
	store_signatures_read(s, c);
	*live = c[STORE_SIGNATURE_LIVE];
	*refresh = c[STORE_SIGNATURE_REFRESH];
	*issuance = c[STORE_SIGNATURE_ISSUANCE];
}

static void counts_add_up_across_processes(void **state)
{
	struct fixture *f = *state;
	uint64_t live, refresh, issuance;
	read_counts(f->store, &live, &refresh, &issuance);
	assert_int_equal(live + refresh + issuance, 0);
	enum { CHILDREN = 3, ADDS = 1000 };
	pid_t pids[CHILDREN];
	for (int k = 0; k < CHILDREN; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			/* a process of its own, with its own store handle */
			struct store *s;
			struct store_options opts = {.path = f->dir};
			if (store_open(&opts, &s) != 0)
				_exit(1);
			for (int i = 0; i < ADDS; i++)
				store_signatures_add(s, STORE_SIGNATURE_LIVE, 1);
			store_signatures_add(s, STORE_SIGNATURE_REFRESH, 7);
			store_close(s);
			_exit(0);
		}
	}
	for (int i = 0; i < ADDS; i++)
		store_signatures_add(f->store, STORE_SIGNATURE_LIVE, 1);
	store_signatures_add(f->store, STORE_SIGNATURE_ISSUANCE, 5);
	for (int k = 0; k < CHILDREN; k++) {
		int status;
		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	read_counts(f->store, &live, &refresh, &issuance);
	assert_int_equal(live, (CHILDREN + 1) * ADDS);
	assert_int_equal(refresh, CHILDREN * 7);
	assert_int_equal(issuance, 5);

	/* A read-only handle (kensho ocsp status) sees them and cannot add
	 * (one handle per process: LMDB allows no second environment). */
	store_close(f->store);
	f->store = NULL;
	struct store *ro;
	struct store_options opts = {.path = f->dir, .read_only = true};
	assert_int_equal(store_open(&opts, &ro), 0);
	store_signatures_add(ro, STORE_SIGNATURE_LIVE, 1);
	read_counts(ro, &live, &refresh, &issuance);
	assert_int_equal(live, (CHILDREN + 1) * ADDS);
	store_close(ro);

	/* Reopened: the counts are still there. */
	opts.read_only = false;
	assert_int_equal(store_open(&opts, &f->store), 0);
	read_counts(f->store, &live, &refresh, &issuance);
	assert_int_equal(live, (CHILDREN + 1) * ADDS);
	assert_int_equal(issuance, 5);
}

static void a_foreign_file_is_left_alone(void **state)
{
	struct fixture *f = *state;
	store_close(f->store);
	char path[128];
	snprintf(path, sizeof(path), "%s/counters", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 4096; i++)
		fputc('x', fp);
	fclose(fp);
	struct store_options opts = {.path = f->dir};
	assert_int_equal(store_open(&opts, &f->store), 0);
	store_signatures_add(f->store, STORE_SIGNATURE_LIVE, 3);
	uint64_t live, refresh, issuance;
	read_counts(f->store, &live, &refresh, &issuance);
	assert_int_equal(live, 0);
	fp = fopen(path, "r");
	assert_int_equal(fgetc(fp), 'x'); /* not overwritten */
	fclose(fp);
	assert_string_equal(store_signature_purpose_name(STORE_SIGNATURE_REFRESH), "refresh");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(counts_add_up_across_processes, setup, teardown),
	        cmocka_unit_test_setup_teardown(a_foreign_file_is_left_alone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
