/* The `crl` subcommand of kensho's command line. */
#include "ca/arl_issue.h"
#include "ca/ca.h"
#include "ca/cli.h"
#include "ca/crl_issue.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"
#include "ca/jpki_address.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kensho --data DIR crl --kind sign|auth [--delta | --arl] [--out FILE]\n"
	           "                            [--base-url URL] [--validity SECONDS]\n"
	           "                            [--partition CODE|all]\n"
	           "Generates a full (or delta) CRL for the signature or authentication CA,\n"
	           "or with --arl its authority revocation list (its OCSP responder and\n"
	           "time-stamping unit), publishes it under DIR/crl/ and, with --out, also\n"
	           "writes it to FILE. --partition: the CRL of one municipality's partition\n"
	           "(its local government code) or of every one (docs/crl.md).\n");
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

/* `kensho crl --kind K --arl`: the ARL needs no store, only the CA's files. */
static int arl_cli(const char *data_dir, const struct crl_generate_options *opts, const char *out)
{
	int lock;
	int err = crl_publish_lock(data_dir, true, &lock);
	if (err) {
		cli_fail("crl", "cannot take %s/crl/.generate.lock: %s", data_dir, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	struct crl_generate_result r;
	err = arl_generate(data_dir, opts->label, opts->base_url, 0, opts->validity, &r);
	crl_publish_unlock(lock);
	if (err) {
		cli_fail("crl", "generating the %s ARL failed: %s", opts->label, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	if (out && (err = copy_atomically(r.path, out))) {
		cli_fail("crl", "writing %s failed: %s", out, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	printf("%s ARL number %" PRIu64 ": %" PRIu64 " entries, %" PRIu64 " bytes, %s\n",
	       opts->label, r.number, r.entries, r.bytes, out ? out : r.path);
	return 0;
}

int cli_crl(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	if (cli_parse(argc, argv, "kind:,delta,arl,out:,base-url:,validity:,partition:", &args) ||
	    args.positional_count || (cli_has(&args, "delta") && cli_has(&args, "arl")) ||
	    (cli_has(&args, "partition") && cli_has(&args, "arl"))) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	struct crl_generate_options opts = {
	        .data_dir = data_dir,
	        .label = cli_get(&args, "kind"),
	        .delta = cli_has(&args, "delta"),
	        .base_url = cli_get(&args, "base-url"),
	};
	const char *out = cli_get(&args, "out");
	if (!opts.label || (strcmp(opts.label, "sign") && strcmp(opts.label, "auth"))) {
		cli_fail("crl", "--kind must be sign or auth");
		return CLI_EXIT_USAGE;
	}
	const char *validity = cli_get(&args, "validity");
	if (validity) {
		char *end;
		long long v = strtoll(validity, &end, 10);
		if (*end || v <= 0) {
			cli_fail("crl", "--validity wants a number of seconds > 0");
			return CLI_EXIT_USAGE;
		}
		opts.validity = v;
	}
	if (cli_has(&args, "arl"))
		return arl_cli(data_dir, &opts, out);
	const char *partition = cli_get(&args, "partition");
	bool all = partition && !strcmp(partition, "all");
	if (partition && !all) {
		char *end;
		unsigned long code = strtoul(partition, &end, 10);
		if (*end || strlen(partition) != 6 || !jpki_municipality_by_code(partition)) {
			cli_fail("crl", "--partition wants a six-digit local government code of "
			                "data/municipalities.tsv, or all");
			return CLI_EXIT_USAGE;
		}
		opts.partition = (uint32_t)code;
	}
	if (all && out) {
		cli_fail("crl", "--out goes with one CRL, not --partition all");
		return CLI_EXIT_USAGE;
	}

	struct store *store;
	int err = ca_store_open(data_dir, &store);
	if (err) {
		cli_fail("crl", "cannot open the store in %s/%s: %s", data_dir, CA_STORE_SUBDIR,
		         strerror(-err));
		return CLI_EXIT_FAILED;
	}
	/* Wait for a kenshod that is publishing, so the two never write at
	 * once (and what a killed publisher left behind is cleaned up). */
	int lock;
	if ((err = crl_publish_lock(data_dir, true, &lock))) {
		store_close(store);
		cli_fail("crl", "cannot take %s/crl/.generate.lock: %s", data_dir, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	struct crl_generate_result r;
	if (all) {
		/* Every partition in turn: each reads the revocation index once. */
		struct crl_partitions_result all_r;
		err = crl_generate_partitions(store, &opts, &all_r);
		crl_publish_unlock(lock);
		store_close(store);
		if (err) {
			cli_fail("crl", "generating the %s partitions' CRLs failed: %s", opts.label,
			         strerror(-err));
			return CLI_EXIT_FAILED;
		}
		printf("%s %s CRLs of %" PRIu64 " partitions: %" PRIu64 " entries, %" PRIu64
		       " bytes in all, the largest %" PRIu64 " bytes, in %s/crl/\n",
		       opts.label, opts.delta ? "delta" : "full", all_r.count, all_r.entries,
		       all_r.bytes, all_r.largest, data_dir);
		return 0;
	}
	err = crl_generate(store, &opts, &r);
	if (err == -ESTALE) /* another generator published first: one more try */
		err = crl_generate(store, &opts, &r);
	crl_publish_unlock(lock);
	store_close(store);
	if (err) {
		cli_fail("crl", "generating the %s %sCRL failed: %s", opts.label,
		         opts.delta ? "delta " : "", strerror(-err));
		return CLI_EXIT_FAILED;
	}
	if (out && (err = copy_atomically(r.path, out))) {
		cli_fail("crl", "writing %s failed: %s", out, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	printf("%s %s CRL number %" PRIu64, opts.label, opts.delta ? "delta" : "full", r.number);
	if (opts.delta)
		printf(" (base %" PRIu64 ")", r.base_number);
	printf(": %" PRIu64 " entries, %" PRIu64 " bytes, %s\n", r.entries, r.bytes,
	       out ? out : r.path);
	return 0;
}
