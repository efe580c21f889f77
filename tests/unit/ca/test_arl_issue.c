/* The authority revocation list: its list file, its numbers, and when it is
 * due (ca/arl_issue.h), on the CRL tests' fixture CA. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ca/arl_issue.h"
#include "pki/crl_read.h"
#include "pki/x509_write.h"

struct fixture {
	char dir[64];
	int64_t now;
	struct crl_policy policy;
};

static int copy_file(const char *from, const char *to, mode_t mode)
{
	uint8_t *data;
	size_t len;
	int err = x509_file_read(from, &data, &len);
	if (err)
		return err;
	err = x509_file_write(to, data, len, mode);
	free(data);
	return err;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/kensho-arl-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char path[256];
	snprintf(path, sizeof path, "%s/ca", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/ca/sign-ca.key", f->dir);
	if (copy_file(CRL_FIXTURES "/crl-ca.key", path, 0600))
		return -1;
	snprintf(path, sizeof path, "%s/ca/sign-ca.pem", f->dir);
	if (copy_file(CRL_FIXTURES "/crl-ca.pem", path, 0644))
		return -1;
	f->now = (int64_t)time(NULL);
	f->policy = (struct crl_policy){.full_interval = 86400};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static uint64_t published_number(const struct fixture *f)
{
	char path[256];
	uint8_t *der;
	size_t len;
	struct crl_info info;
	assert_int_equal(arl_path(f->dir, "sign", path, sizeof path), 0);
	assert_int_equal(x509_file_read(path, &der, &len), 0);
	assert_int_equal(crl_read_info(der, len, &info), 0);
	free(der);
	return info.number;
}

static bool due_at(const struct fixture *f, int64_t ms)
{
	bool due = false;
	assert_int_equal(arl_due(f->dir, "sign", ms, &f->policy, &due), 0);
	return due;
}

static void test_publish_and_revoke(void **state)
{
	struct fixture *f = *state;
	struct crl_generate_result r;
	const uint8_t serial[] = {0x41, 0x02, 0x03};
	int64_t now_ms = f->now * 1000;

	assert_true(due_at(f, now_ms)); /* none published */
	assert_int_equal(arl_generate(f->dir, "sign", NULL, f->now, 3600, &r), 0);
	assert_int_equal(r.number, 1);
	assert_int_equal(r.entries, 0);
	assert_false(due_at(f, now_ms));

	assert_int_equal(arl_listed(f->dir, "sign", serial, sizeof serial), 0);
	assert_int_equal(arl_revoke(f->dir, "sign", serial, sizeof serial, f->now, 1), 0);
	assert_int_equal(arl_revoke(f->dir, "sign", serial, sizeof serial, f->now, 1), -EALREADY);
	assert_int_equal(arl_listed(f->dir, "sign", serial, sizeof serial), 1);
	assert_true(due_at(f, now_ms)); /* the list changed */

	assert_int_equal(arl_generate(f->dir, "sign", NULL, f->now + 1, 3600, &r), 0);
	assert_int_equal(r.number, 2);
	assert_int_equal(r.entries, 1);
	assert_int_equal(published_number(f), 2);
	assert_false(due_at(f, now_ms));

	/* Without its state file the ARL is due, and its number still advances. */
	char path[256];
	snprintf(path, sizeof path, "%s/crl/sign-arl.state", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_true(due_at(f, now_ms));
	assert_int_equal(arl_generate(f->dir, "sign", NULL, f->now + 2, 3600, &r), 0);
	assert_int_equal(r.number, 3);
}

static void test_due_on_time(void **state)
{
	struct fixture *f = *state;
	struct crl_generate_result r;
	assert_int_equal(arl_generate(f->dir, "sign", NULL, f->now, 3600, &r), 0);
	/* default margin: a quarter of the validity */
	assert_false(due_at(f, (f->now + 2700) * 1000 - 1));
	assert_true(due_at(f, (f->now + 2700) * 1000));
	/* full_interval passed, however long it is still valid */
	assert_int_equal(arl_generate(f->dir, "sign", NULL, f->now, 10 * 86400, &r), 0);
	assert_false(due_at(f, (f->now + 86399) * 1000));
	assert_true(due_at(f, (f->now + 86400) * 1000));
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct crl_generate_result r;
	bool due;
	uint8_t long_serial[21] = {1};
	assert_int_equal(arl_revoke(f->dir, "sign", long_serial, sizeof long_serial, f->now, 0),
	                 -EINVAL);
	assert_int_equal(arl_revoke(f->dir, "other", long_serial, 1, f->now, 0), -EINVAL);
	assert_int_equal(arl_due(f->dir, "auth", f->now * 1000, &f->policy, &due), -ENOENT);
	assert_int_equal(arl_generate(f->dir, "auth", NULL, 0, 0, &r), -ENOENT);

	/* A list kensho did not write is refused, not half read. */
	char path[256];
	snprintf(path, sizeof path, "%s/ca/sign-arl.list", f->dir);
	assert_int_equal(x509_file_write(path, "zz 1 1\n", 7, 0644), 0);
	assert_int_equal(arl_due(f->dir, "sign", f->now * 1000, &f->policy, &due), -EINVAL);
	assert_int_equal(arl_revoke(f->dir, "sign", long_serial, 1, f->now, 0), -EINVAL);
	unlink(path);

	/* A CA key others can read is refused (docs/architecture.md rule 5). */
	snprintf(path, sizeof path, "%s/ca/sign-ca.key", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(arl_generate(f->dir, "sign", NULL, 0, 0, &r), -EPERM);
}

static void test_url(void **state)
{
	(void)state;
	char url[64];
	assert_int_equal(arl_url("http://va.example//", "auth", url, sizeof url), 0);
	assert_string_equal(url, "http://va.example/crl/auth/arl.crl");
	assert_int_equal(arl_url("http://va.example", "auth", url, 10), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_publish_and_revoke, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_due_on_time, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	        cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
