/* Promotion (docs/cluster.md, "Promotion"): `kensho promote` and a
 * replica's POST /v1/admin/promote make a replica's store a primary's.
 * A replica holds no private key, so the operator first puts
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

int ca_promote(const char *data_dir, struct store *store, uint64_t *epoch, uint64_t *last,
               char err[CA_ERR_LEN])
{
	char missing[160] = "";
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
		snprintf(err, CA_ERR_LEN,
		         "DIR/ca lacks %s: a replica receives no private key; put the primary's "
		         "keys "
		         "there from your key backup (owner-only), then promote",
		         missing);
		return -ENOKEY;
	}
	/* The keys must load, as the primary's kenshod will load them. */
	struct ca *ca;
	int rc =
	        store ? ca_open_with_store(data_dir, store, &ca, err) : ca_open(data_dir, &ca, err);
	if (rc)
		return rc;
	*epoch = 0;
	rc = store_write(ca_store(ca), promote_cb, epoch);
	struct store_txn *txn;
	uint64_t first = 0;
	*last = 0;
	if (rc == 0 && store_txn_begin(ca_store(ca), false, &txn) == 0) {
		store_replication_bounds(txn, &first, last);
		store_txn_abort(txn);
	}
	ca_close(ca);
	if (rc)
		snprintf(err, CA_ERR_LEN, "cannot write the new epoch: %s", strerror(-rc));
	return rc;
}

int cli_promote(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	if (cli_parse(argc, argv, "", &args) || args.positional_count) {
		cli_fail("promote", "usage: kensho --data DIR promote");
		return CLI_EXIT_USAGE;
	}
	char err[CA_ERR_LEN] = "";
	uint64_t epoch, last;
	if (ca_promote(data_dir, NULL, &epoch, &last, err)) {
		cli_fail("promote", "%s", err);
		return CLI_EXIT_FAILED;
	}
	printf("promoted %s: epoch %" PRIu64 " from change %" PRIu64 "\n", data_dir, epoch, last);
	printf("restart kenshod on it without --replica-of; the old primary is fenced off this "
	       "store, and rejoins with --replica-of this node\n");
	return 0;
}
