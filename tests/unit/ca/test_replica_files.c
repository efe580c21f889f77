/* ca/replica_files: a data directory's public files travel, its keys never;
 * a bundle installs into an empty directory byte for byte, and a malformed
 * one (a key, a path, a bad length) writes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ca/replica_files.h"

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void round_trip_without_keys(void **state)
{
	(void)state;
	char src[] = "/tmp/kensho-files-XXXXXX", dst[] = "/tmp/kensho-files-XXXXXX";
	assert_non_null(mkdtemp(src));
	assert_non_null(mkdtemp(dst));
	char ca[256], crl[256];
	snprintf(ca, sizeof ca, "%s/ca", src);
	snprintf(crl, sizeof crl, "%s/crl", src);
	mkdir(ca, 0700);
	mkdir(crl, 0700);
	put(ca, "sign-ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	put(ca, "sign-ca.key", "secret");
	put(ca, "odd.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
	put(ca, "base-url", "http://127.0.0.1:8080\n");
	put(crl, "sign.crl", "crl bytes");
	put(crl, "sign.state", "not travelling");

	struct buf b = {0};
	assert_int_equal(replica_files_collect(src, &b), 0);
	assert_int_equal(replica_files_check(b.data, b.len), 0);
	assert_null(memmem(b.data, b.len, "secret", 6));
	assert_null(memmem(b.data, b.len, "PRIVATE KEY", 11));
	unsigned written;
	assert_int_equal(replica_files_install(dst, b.data, b.len, &written), 0);
	assert_int_equal(written, 3);
	assert_int_equal(replica_files_install(dst, b.data, b.len, &written), 0);
	assert_int_equal(written, 0); /* unchanged files are left alone */
	char path[512];
	snprintf(path, sizeof path, "%s/crl/sign.crl", dst);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/ca/sign-ca.key", dst);
	assert_int_equal(access(path, F_OK), -1);

	/* malformed: each refused before anything is written */
	static const uint8_t traversal[] = {1,   1,   9,   '.', '.', '/', 'x', '.',
	                                    'p', 'e', 'm', 0,   0,   0,   0,   0};
	static const uint8_t key_file[] = {1, 1, 5, 'a', '.', 'k', 'e', 'y', 0, 0, 0, 0};
	static const uint8_t too_long[] = {1, 2, 5, 'a', '.', 'c', 'r', 'l', 0, 0, 0, 9, 'x'};
	static const uint8_t bad_folder[] = {1, 3, 5, 'a', '.', 'c', 'r', 'l', 0, 0, 0, 0};
	static const uint8_t version[] = {2};
	assert_int_equal(replica_files_check(traversal, sizeof traversal), -EBADMSG);
	assert_int_equal(replica_files_check(key_file, sizeof key_file), -EBADMSG);
	assert_int_equal(replica_files_check(too_long, sizeof too_long), -EBADMSG);
	assert_int_equal(replica_files_check(bad_folder, sizeof bad_folder), -EBADMSG);
	assert_int_equal(replica_files_check(version, sizeof version), -EBADMSG);
	uint8_t *twice = malloc(b.len + sizeof too_long - 1);
	memcpy(twice, b.data, b.len);
	memcpy(twice + b.len, too_long + 1, sizeof too_long - 1);
	assert_int_equal(replica_files_install(dst, twice, b.len + sizeof too_long - 1, &written),
	                 -EBADMSG);
	assert_int_equal(written, 0);
	free(twice);
	buf_free(&b);
	nftw(src, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	nftw(dst, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(round_trip_without_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
