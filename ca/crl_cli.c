/* The `crl` subcommand of kensho's command line. */
#include "ca/crl_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca/crl.h"
#include "storage/store.h"

/* Where kensho keeps its LMDB environment below DIR. */
#define CRL_CLI_STORE_DIR "store"

static void usage(FILE *f)
{
	fprintf(f, "usage: kensho --data DIR crl --kind sign|auth [--delta] [--out FILE]\n"
	           "                            [--base-url URL] [--validity SECONDS]\n"
	           "Generates a full (or delta) CRL for the signature or authentication CA,\n"
	           "publishes it under DIR/crl/ and, with --out, also writes it to FILE.\n");
}

/* Copies src to dst through a temporary file and rename, so readers of dst
 * see the old or the new CRL, never a part. */
static int copy_atomically(const char *src, const char *dst)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dst);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		int err = -errno;
		close(in);
		return err;
	}
	fchmod(out, 0644);
	char buf[1 << 16];
	ssize_t got;
	int err = 0;
	while ((got = read(in, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < got;) {
			ssize_t w = write(out, buf + off, (size_t)(got - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				err = -errno;
				break;
			}
			off += w;
		}
		if (err)
			break;
	}
	if (got < 0 && !err)
		err = -errno;
	if (!err && fsync(out) != 0)
		err = -errno;
	close(in);
	if (close(out) != 0 && !err)
		err = -EIO;
	if (!err && rename(tmp, dst) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int crl_command(int argc, char **argv, const char *data_dir)
{
	struct crl_generate_options opts = {.data_dir = data_dir};
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (!strcmp(a, "--kind") && has_value)
			opts.label = argv[++i];
		else if (!strcmp(a, "--delta"))
			opts.delta = true;
		else if (!strcmp(a, "--out") && has_value)
			out = argv[++i];
		else if (!strcmp(a, "--base-url") && has_value)
			opts.base_url = argv[++i];
		else if (!strcmp(a, "--validity") && has_value) {
			char *end;
			long long v = strtoll(argv[++i], &end, 10);
			if (*end || v <= 0) {
				fprintf(stderr, "kensho crl: --validity wants seconds > 0\n");
				return 2;
			}
			opts.validity = v;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "kensho crl: unexpected argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!opts.label || (strcmp(opts.label, "sign") && strcmp(opts.label, "auth"))) {
		fprintf(stderr, "kensho crl: --kind sign or --kind auth is required\n");
		usage(stderr);
		return 2;
	}

	char store_path[4096];
	snprintf(store_path, sizeof store_path, "%s/%s", data_dir, CRL_CLI_STORE_DIR);
	struct store_options so = {.path = store_path};
	struct store *store;
	int err = store_open(&so, &store);
	if (err) {
		fprintf(stderr, "kensho crl: cannot open the store in %s: %s\n", store_path,
		        strerror(-err));
		return 1;
	}
	struct crl_generate_result r;
	err = crl_generate(store, &opts, &r);
	if (err == -ESTALE) /* another generator published first: one more try */
		err = crl_generate(store, &opts, &r);
	store_close(store);
	if (err) {
		fprintf(stderr, "kensho crl: generating the %s %sCRL failed: %s\n", opts.label,
		        opts.delta ? "delta " : "", strerror(-err));
		return 1;
	}
	if (out && (err = copy_atomically(r.path, out))) {
		fprintf(stderr, "kensho crl: writing %s failed: %s\n", out, strerror(-err));
		return 1;
	}
	printf("%s %s CRL number %" PRIu64, opts.label, opts.delta ? "delta" : "full", r.number);
	if (opts.delta)
		printf(" (base %" PRIu64 ")", r.base_number);
	printf(": %" PRIu64 " entries, %" PRIu64 " bytes, %s\n", r.entries, r.bytes,
	       out ? out : r.path);
	return 0;
}
