/* `kensho promote` (docs/cluster.md, "Promotion"): makes a replica's store
 * a primary's. A replica holds no private key, so the operator first puts
 * the CA, OCSP responder and TSA keys into DIR/ca from the key backup; the
 * command checks that they load, then writes the next epoch into the store
 * in one transaction (storage/replication.c, store_promote). From then on
 * this store refuses changes of the old epoch, so the old primary can never
 * write into it again; kenshod restarted without --replica-of serves as the
 * primary, and its changes carry the new epoch. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/cli.h"
#include "storage/store.h"

static const char *const KEYS[] = {"sign-ca.key", "auth-ca.key", "sign-ocsp.key", "auth-ocsp.key",
                                   "tsa.key"};

static int promote_cb(struct store_txn *txn, void *arg)
{
	return store_promote(txn, arg);
}

int cli_promote(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	if (cli_parse(argc, argv, "", &args) || args.positional_count) {
		cli_fail("promote", "usage: kensho --data DIR promote");
		return CLI_EXIT_USAGE;
	}
	char missing[512] = "";
	for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/ca/%s", data_dir, KEYS[i]);
		if (access(path, R_OK) != 0) {
			size_t used = strlen(missing);
			snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "",
			         KEYS[i]);
		}
	}
	if (missing[0]) {
		cli_fail(
		        "promote",
		        "%s/ca lacks %s: a replica receives no private key; put the primary's keys "
		        "there from your key backup (owner-only), then promote",
		        data_dir, missing);
		return CLI_EXIT_FAILED;
	}
	char err[CA_ERR_LEN] = "";
	struct ca *ca;
	if (ca_open(data_dir, &ca, err)) {
		cli_fail("promote", "%s", err);
		return CLI_EXIT_FAILED;
	}
	uint64_t epoch = 0;
	int rc = store_write(ca_store(ca), promote_cb, &epoch);
	uint64_t first = 0, last = 0;
	struct store_txn *txn;
	if (rc == 0 && store_txn_begin(ca_store(ca), false, &txn) == 0) {
		store_replication_bounds(txn, &first, &last);
		store_txn_abort(txn);
	}
	ca_close(ca);
	if (rc) {
		cli_fail("promote", "cannot write the new epoch: %s", strerror(-rc));
		return CLI_EXIT_FAILED;
	}
	printf("promoted %s: epoch %" PRIu64 " from change %" PRIu64 "\n", data_dir, epoch, last);
	printf("restart kenshod on it without --replica-of; the old primary is fenced off this "
	       "store, and rejoins with --replica-of this node\n");
	return 0;
}
