/* `kensho audit`: lists the audit sub-database (operator actions and every
 * disclosure of personal data) from a local data directory. One line per
 * record: sequence, time (UTC), actor, action, subject; or JSON lines.
 * `kensho audit verify` checks the Merkle log of intake and audit records
 * and its signed tree heads (ca/log.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/cli.h"
#include "ca/log.h"
#include "core/buf.h"
#include "core/json.h"
#include "storage/store.h"

struct audit_print {
	const char *action; /* only this action, or NULL */
	bool json;
	uint64_t shown;
};

static int print_record_cb(const struct store_audit *r, void *arg)
{
	struct audit_print *p = arg;
	if (p->action && strcmp(p->action, r->action) != 0)
		return 0;
	p->shown++;
	if (p->json) {
		struct buf b = {0};
		struct json j;
		json_init(&j, &b);
		json_object_begin(&j, NULL);
		json_uint(&j, "seq", r->seq);
		json_time(&j, "time", r->time);
		json_string(&j, "actor", r->actor);
		json_string(&j, "action", r->action);
		json_string(&j, "subject", r->subject);
		json_object_end(&j);
		if (!b.failed)
			printf("%.*s\n", (int)b.len, (const char *)b.data);
		buf_free(&b);
		return 0;
	}
	char when[32];
	struct tm tm;
	time_t t = (time_t)r->time;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%" PRIu64 "\t%s\t%s\t%s\t%s\n", r->seq, when, r->action, r->subject, r->actor);
	return 0;
}

/* `kensho audit verify [--data DIR]`: exit 0 when the log, the records and
 * every signed tree head agree, 1 with the first mismatch otherwise. The
 * store is opened read-only: checking changes nothing. */
static int audit_verify(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	if (cli_parse(argc, argv, "data:", &args) || args.positional_count)
		return CLI_EXIT_USAGE;
	if (cli_get(&args, "data"))
		data_dir = cli_get(&args, "data");
	char path[PATH_MAX], err[CA_ERR_LEN] = "";
	struct store *store;
	int rc = ca_store_path(data_dir, path, sizeof path);
	if (rc == 0)
		rc = store_open(&(struct store_options){.path = path, .read_only = true}, &store);
	if (rc) {
		cli_fail("audit verify", "cannot open the store in %s: %s", data_dir,
		         strerror(-rc));
		return CLI_EXIT_FAILED;
	}
	struct ca_log_verify_report report;
	rc = ca_log_verify(store, data_dir, &report, err);
	store_close(store);
	if (rc) {
		cli_fail("audit verify", "%s", err);
		return CLI_EXIT_FAILED;
	}
	if (report.bad) {
		cli_fail("audit verify", "MISMATCH: %s", report.problem);
		return CLI_EXIT_FAILED;
	}
	printf("log verified: %" PRIu64 " leaves rebuilt from %" PRIu64 " records, %" PRIu64
	       " signed tree heads (root and signature) match\n",
	       report.log.leaves, report.log.records, report.signatures);
	return 0;
}

int cli_audit(const char *data_dir, int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "verify") == 0)
		return audit_verify(data_dir, argc - 1, argv + 1);
	struct cli_args args;
	if (cli_parse(argc, argv, "from:,action:,json", &args) || args.positional_count)
		return CLI_EXIT_USAGE;
	uint64_t from = 0;
	const char *f = cli_get(&args, "from");
	if (f) {
		char *end;
		errno = 0;
		from = strtoull(f, &end, 10);
		if (errno || *end || end == f) {
			cli_fail("audit", "--from takes a sequence number");
			return CLI_EXIT_USAGE;
		}
	}
	struct store *store;
	int rc = ca_store_open(data_dir, &store);
	if (rc) {
		cli_fail("audit", "cannot open the store in %s: %s", data_dir, strerror(-rc));
		return CLI_EXIT_FAILED;
	}
	struct store_txn *txn;
	struct audit_print p = {cli_get(&args, "action"), cli_has(&args, "json"), 0};
	rc = store_txn_begin(store, false, &txn);
	if (rc == 0) {
		rc = store_audit_each(txn, from, print_record_cb, &p);
		store_txn_abort(txn);
	}
	store_close(store);
	if (rc) {
		cli_fail("audit", "reading the audit log: %s", strerror(-rc));
		return CLI_EXIT_FAILED;
	}
	fflush(stdout);
	return 0;
}
