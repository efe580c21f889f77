/* The ca area's subcommands: ca init, ca tsa-init, issue, revoke, event, gen. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/cli.h"
#include "ocsp/service.h"
#include "pki/x509_write.h"

/* `ca revoke-responder --kind sign|auth [--reason R]` and `ca revoke-tsa
 * [--reason R]`: the certificate goes on its CA's ARL and is replaced. */
static int revoke_service(const char *data_dir, int argc, char **argv)
{
	bool tsa = strcmp(argv[0], "revoke-tsa") == 0;
	char command[32];
	snprintf(command, sizeof(command), "ca %s", argv[0]);
	argv[0] = command;
	struct cli_args args;
	const char *usage = tsa ? "usage: kensho --data DIR ca revoke-tsa [--reason REASON]"
	                        : "usage: kensho --data DIR ca revoke-responder --kind sign|auth "
	                          "[--reason REASON]";
	if (cli_parse(argc, argv, tsa ? "reason:" : "kind:,reason:", &args) ||
	    args.positional_count) {
		cli_fail(command, "%s", usage);
		return CLI_EXIT_USAGE;
	}
	enum cert_kind kind = CERT_KIND_SIGN;
	if (!tsa && (!cli_get(&args, "kind") || ca_kind_parse(cli_get(&args, "kind"), &kind))) {
		cli_fail(command, "--kind must be sign or auth; %s", usage);
		return CLI_EXIT_USAGE;
	}
	enum crl_reason reason = CRL_REASON_UNSPECIFIED;
	const char *reason_name = cli_get(&args, "reason");
	if (reason_name && ca_reason_parse(reason_name, &reason)) {
		cli_fail(command,
		         "unknown --reason %s (an RFC 5280 reason: keyCompromise, "
		         "cACompromise, superseded, cessationOfOperation, ...)",
		         reason_name);
		return CLI_EXIT_USAGE;
	}
	enum ca_service_cert which = tsa                      ? CA_SERVICE_TSA
	                             : kind == CERT_KIND_AUTH ? CA_SERVICE_OCSP_AUTH
	                                                      : CA_SERVICE_OCSP_SIGN;
	char err[CA_ERR_LEN] = "";
	struct store_serial replacement;
	if (ca_revoke_service_cert(data_dir, which, reason, "cli", &replacement, err)) {
		cli_fail(command, "%s", err);
		return CLI_EXIT_FAILED;
	}
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&replacement, hex);
	printf("revoked: on the %s CA's ARL from its next publication (kenshod's CRL check, or "
	       "`kensho crl --kind %s --arl`)\n"
	       "replaced: %s/ca/%s.pem, serial %s; %s\n",
	       ca_kind_name(kind), ca_kind_name(kind), data_dir,
	       tsa                      ? "tsa"
	       : kind == CERT_KIND_AUTH ? "auth-ocsp"
	                                : "sign-ocsp",
	       hex,
	       tsa ? "restart kenshod to time-stamp with it"
	           : "send kenshod SIGHUP to answer with it");
	return 0;
}

int cli_ca(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	char err[CA_ERR_LEN] = "";
	if (argc == 2 && strcmp(argv[1], "tsa-init") == 0) {
		/* A data directory from before kensho had a time-stamping unit. */
		if (ca_tsa_init(data_dir, err)) {
			cli_fail("ca tsa-init", "%s", err);
			return CLI_EXIT_FAILED;
		}
		printf("created %s/ca/tsa.pem, issued by the signing CA; restart kenshod to serve "
		       "/tsa with it\n",
		       data_dir);
		return 0;
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "revoke-responder") == 0 || strcmp(argv[1], "revoke-tsa") == 0))
		return revoke_service(data_dir, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "init") != 0) {
		cli_fail("ca", "usage: kensho --data DIR ca init [--base-url URL] | ca tsa-init | "
		               "ca revoke-responder --kind sign|auth [--reason REASON] | "
		               "ca revoke-tsa [--reason REASON]");
		return CLI_EXIT_USAGE;
	}
	char name[] = "ca init"; /* how cli_parse names the command in its messages */
	argv[1] = name;
	if (cli_parse(argc - 1, argv + 1, "base-url:,crl-partitions", &args) ||
	    args.positional_count) {
		cli_fail("ca init",
		         "usage: kensho --data DIR ca init [--base-url URL] [--crl-partitions]");
		return CLI_EXIT_USAGE;
	}
	int e = ca_init(data_dir, cli_get(&args, "base-url"), err);
	if (!e && cli_has(&args, "crl-partitions"))
		e = ca_crl_partitions_set(data_dir, true, err);
	if (e) {
		cli_fail("ca init", "%s", err);
		return CLI_EXIT_FAILED;
	}
	printf("created %s/ca/sign-ca.pem, auth-ca.pem, sign-ocsp.pem, auth-ocsp.pem, tsa.pem\n",
	       data_dir);
	const char *url = cli_get(&args, "base-url");
	printf("certificates will point OCSP and CRL clients to %s (%s/ca/base-url)\n",
	       url ? url : CA_DEFAULT_BASE_URL, data_dir);
	if (cli_has(&args, "crl-partitions"))
		printf("end-entity certificates name their municipality's CRL partition "
		       "(%s/ca/%s)\n",
		       data_dir, CA_CRL_PARTITIONS_FILE);
	return 0;
}

static int read_key_file(const char *command, const char *path, uint8_t **data, size_t *len)
{
	if (!path) {
		*data = NULL;
		*len = 0;
		return 0;
	}
	int e = x509_file_read(path, data, len);
	if (e)
		cli_fail(command, "reading %s failed: %s", path, strerror(-e));
	return e;
}

/* Writes OUTDIR/<kind>.pem and, when kensho made the key, <kind>.key (0600). */
static int write_issued(const char *command, const char *out_dir, const char *kind,
                        const struct ca_issued_cert *c)
{
	char err[CA_ERR_LEN];
	int e = ca_issued_cert_write(out_dir, kind, c, err);
	if (e)
		cli_fail(command, "%s", err);
	return e;
}

/* Refuses, before anything is issued, to replace files in OUTDIR: a person's
 * private key overwritten while its certificate stays valid in the store is
 * lost for good. `names` are the files the command may write there. */
static int check_out_dir(const char *command, const char *out_dir, const char *const *names,
                         size_t count, bool force)
{
	if (!out_dir || force)
		return 0;
	for (size_t i = 0; i < count; i++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", out_dir, names[i]);
		if (lstat(path, &st) == 0) {
			cli_fail(command,
			         "%s exists; refusing to overwrite it (give --force to replace the "
			         "files in %s, or choose another --out)",
			         path, out_dir);
			return -EEXIST;
		}
	}
	return 0;
}

static int write_pair(const char *command, const char *out_dir, const struct ca_issued *issued)
{
	if (out_dir) {
		if (mkdir(out_dir, 0700) && errno != EEXIST) {
			cli_fail(command, "creating %s failed: %s", out_dir, strerror(errno));
			return -errno;
		}
		int e = write_issued(command, out_dir, "sign", &issued->sign);
		if (!e)
			e = write_issued(command, out_dir, "auth", &issued->auth);
		if (e)
			return e;
	}
	char hex[2 * STORE_SERIAL_MAX + 1];
	if (issued->sign.issued) {
		store_serial_to_hex(&issued->sign.serial, hex);
		printf("sign %s\n", hex);
	} else {
		fprintf(stderr, "kensho %s: no signing certificate: the holder is under 15\n",
		        command);
	}
	if (issued->auth.issued) {
		store_serial_to_hex(&issued->auth.serial, hex);
		printf("auth %s\n", hex);
	}
	return 0;
}

int cli_issue(const char *data_dir, int argc, char **argv)
{
	static const char usage[] =
	        "usage: kensho --data DIR issue --name NAME --birth YYYY-MM-DD --sex 1|2|3 "
	        "--address ADDR [--sign-pubkey FILE] [--auth-pubkey FILE] --out OUTDIR [--force]";
	struct cli_args args;
	if (cli_parse(argc, argv, "name:,birth:,sex:,address:,sign-pubkey:,auth-pubkey:,out:,force",
	              &args) ||
	    args.positional_count || !cli_get(&args, "name") || !cli_get(&args, "birth") ||
	    !cli_get(&args, "sex") || !cli_get(&args, "address") || !cli_get(&args, "out")) {
		cli_fail("issue", "%s", usage);
		return CLI_EXIT_USAGE;
	}
	const char *sex = cli_get(&args, "sex");
	struct ca_issue_request req = {
	        .person = {cli_get(&args, "name"), cli_get(&args, "birth"),
	                   strlen(sex) == 1 ? sex[0] - '0' : 0, cli_get(&args, "address")},
	        .actor = "cli",
	};
	uint8_t *sign_key = NULL, *auth_key = NULL;
	int status = CLI_EXIT_FAILED;
	char err[CA_ERR_LEN] = "";
	if (ca_person_check(&req.person, err)) {
		cli_fail("issue", "%s", err);
		return CLI_EXIT_USAGE;
	}
	const char *outputs[4] = {"sign.pem", "auth.pem"};
	size_t output_count = 2;
	if (!cli_get(&args, "sign-pubkey"))
		outputs[output_count++] = "sign.key";
	if (!cli_get(&args, "auth-pubkey"))
		outputs[output_count++] = "auth.key";
	if (check_out_dir("issue", cli_get(&args, "out"), outputs, output_count,
	                  cli_has(&args, "force")))
		return CLI_EXIT_FAILED;
	if (read_key_file("issue", cli_get(&args, "sign-pubkey"), &sign_key,
	                  &req.sign_pubkey_len) ||
	    read_key_file("issue", cli_get(&args, "auth-pubkey"), &auth_key, &req.auth_pubkey_len))
		goto out;
	req.sign_pubkey = sign_key;
	req.auth_pubkey = auth_key;

	struct ca *ca;
	if (ca_open_writer(data_dir, &ca, err)) {
		cli_fail("issue", "%s", err);
		goto out;
	}
	struct ca_issued issued;
	int e = ca_issue(ca, &req, &issued, err);
	if (e) {
		cli_fail("issue", "%s", err);
		status = e == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
	} else {
		status = write_pair("issue", cli_get(&args, "out"), &issued) ? CLI_EXIT_FAILED : 0;
		ca_issued_free(&issued);
	}
	ca_close(ca);
out:
	free(sign_key);
	free(auth_key);
	return status;
}

static int parse_target(const char *command, const struct cli_args *args, enum cert_kind *kind,
                        struct store_serial *serial)
{
	const char *k = cli_get(args, "kind"), *s = cli_get(args, "serial");
	if (!k || ca_kind_parse(k, kind)) {
		cli_fail(command, "--kind must be sign or auth");
		return -EINVAL;
	}
	if (!s || store_serial_from_hex(s, strlen(s), serial)) {
		cli_fail(command, "--serial must be the serial number in hex (at most 20 octets)");
		return -EINVAL;
	}
	return 0;
}

int cli_revoke(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	enum cert_kind kind;
	struct store_serial serial;
	enum crl_reason reason;
	if (cli_parse(argc, argv, "kind:,serial:,reason:", &args) || args.positional_count ||
	    parse_target("revoke", &args, &kind, &serial))
		return CLI_EXIT_USAGE;
	const char *r = cli_get(&args, "reason");
	if (!r || ca_reason_parse(r, &reason)) {
		cli_fail("revoke", "--reason must be an RFC 5280 reason name: unspecified, "
		                   "keyCompromise, cACompromise, affiliationChanged, superseded, "
		                   "cessationOfOperation, certificateHold, privilegeWithdrawn, "
		                   "aACompromise");
		return CLI_EXIT_USAGE;
	}
	char err[CA_ERR_LEN] = "";
	struct ca *ca;
	if (ca_open_writer(data_dir, &ca, err)) {
		cli_fail("revoke", "%s", err);
		return CLI_EXIT_FAILED;
	}
	int e = ca_revoke(ca, kind, &serial, reason, "cli", err);
	if (e == 0)
		e = ca_sync_wait(ca, err);
	ca_close(ca);
	if (e) {
		cli_fail("revoke", "%s", err);
		return CLI_EXIT_FAILED;
	}
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&serial, hex);
	printf("revoked %s %s %s\n", ca_kind_name(kind), hex, ca_reason_name(reason));
	return 0;
}

int cli_event(const char *data_dir, int argc, char **argv)
{
	static const char usage[] = "usage: kensho --data DIR event --serial HEX --kind sign|auth "
	                            "move|rename|death|loss|request|renew [--address NEW | --name "
	                            "NEW] [--sign-pubkey FILE] "
	                            "[--out DIR [--force]]";
	struct cli_args args;
	enum cert_kind kind;
	struct store_serial serial;
	enum ca_event_type event;
	if (cli_parse(argc, argv, "kind:,serial:,out:,name:,address:,sign-pubkey:,force", &args))
		return CLI_EXIT_USAGE;
	if (args.positional_count != 1) {
		cli_fail("event", "%s", usage);
		return CLI_EXIT_USAGE;
	}
	if (ca_event_parse(args.positional[0], &event)) {
		cli_fail(
		        "event",
		        "unknown event \"%s\"; accepted: move, rename, death, loss, request, renew",
		        args.positional[0]);
		return CLI_EXIT_USAGE;
	}
	if (parse_target("event", &args, &kind, &serial))
		return CLI_EXIT_USAGE;
	/* A move or rename with the new item reissues the signing certificate. */
	struct ca_change change = {.name = cli_get(&args, "name"),
	                           .address = cli_get(&args, "address")};
	bool reissue = change.name || change.address;
	if (reissue && event != (change.address ? CA_EVENT_MOVE : CA_EVENT_RENAME)) {
		cli_fail("event", "--address goes with move, --name with rename");
		return CLI_EXIT_USAGE;
	}
	bool new_keys = event == CA_EVENT_RENEW || (reissue && !cli_get(&args, "sign-pubkey"));
	if (new_keys && !cli_get(&args, "out")) {
		cli_fail("event", "%s generates new keys: give --out DIR for them",
		         args.positional[0]);
		return CLI_EXIT_USAGE;
	}
	/* A renewal writes both new pairs; a reissue only the signing one. */
	const char *outputs[4] = {"sign.pem"};
	size_t output_count = 1;
	if (event == CA_EVENT_RENEW) {
		outputs[output_count++] = "auth.pem";
		outputs[output_count++] = "auth.key";
	}
	if (new_keys)
		outputs[output_count++] = "sign.key";
	if ((event == CA_EVENT_RENEW || reissue) &&
	    check_out_dir("event", cli_get(&args, "out"), outputs, output_count,
	                  cli_has(&args, "force")))
		return CLI_EXIT_FAILED;
	uint8_t *key = NULL;
	if (read_key_file("event", cli_get(&args, "sign-pubkey"), &key, &change.sign_pubkey_len))
		return CLI_EXIT_FAILED;
	change.sign_pubkey = key;
	char err[CA_ERR_LEN] = "";
	struct ca *ca;
	int status = CLI_EXIT_FAILED;
	if (ca_open_writer(data_dir, &ca, err)) {
		cli_fail("event", "%s", err);
		goto out;
	}
	struct ca_issued issued;
	int e = ca_event_change(ca, kind, &serial, event, reissue ? &change : NULL, "cli", &issued,
	                        err);
	char sync_err[CA_ERR_LEN] = "";
	int synced = e == 0 ? ca_sync_wait(ca, sync_err) : 0;
	ca_close(ca);
	if (e) {
		cli_fail("event", "%s", err);
		status = e == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
		goto out;
	}
	printf("applied %s\n", args.positional[0]);
	status = 0;
	if (event == CA_EVENT_RENEW || reissue) {
		status = write_pair("event", cli_get(&args, "out"), &issued) ? CLI_EXIT_FAILED : 0;
		ca_issued_free(&issued);
	}
	if (synced) {
		cli_fail("event", "%s", sync_err);
		status = CLI_EXIT_FAILED;
	}
out:
	free(key);
	return status;
}

static int parse_u64(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_gen(const char *data_dir, int argc, char **argv)
{
	static const char usage[] = "usage: kensho --data DIR gen --people N [--revoked FRACTION] "
	                            "[--seed S] [--certs [--key-pool K] [--ocsp-batch N]]";
	struct cli_args args;
	struct ca_gen_options opts = {.revoked = 0.05, .seed = 1, .progress = isatty(2)};
	const char *v;
	uint64_t pool = 0, per = 1;
	if (cli_parse(argc, argv, "people:,revoked:,seed:,certs,key-pool:,ocsp-batch:", &args) ||
	    args.positional_count || !(v = cli_get(&args, "people")) ||
	    parse_u64(v, &opts.people) ||
	    ((v = cli_get(&args, "seed")) && parse_u64(v, &opts.seed)) ||
	    ((v = cli_get(&args, "key-pool")) && (parse_u64(v, &pool) || pool < 1 || pool > 64)) ||
	    ((v = cli_get(&args, "ocsp-batch")) &&
	     (parse_u64(v, &per) || per < 1 || per > OCSP_BATCH_MAX))) {
		cli_fail("gen", "%s", usage);
		return CLI_EXIT_USAGE;
	}
	if ((v = cli_get(&args, "revoked"))) {
		char *end;
		opts.revoked = strtod(v, &end);
		if (end == v || *end) {
			cli_fail("gen", "--revoked must be a fraction such as 0.05");
			return CLI_EXIT_USAGE;
		}
	}
	opts.certs = cli_has(&args, "certs");
	opts.key_pool = (unsigned)pool;
	opts.ocsp_batch = (unsigned)per;
	char err[CA_ERR_LEN] = "";
	struct ca *ca;
	if (ca_open_writer(data_dir, &ca, err)) {
		cli_fail("gen", "%s", err);
		return CLI_EXIT_FAILED;
	}
	struct ca_gen_result r;
	int e = ca_gen(ca, &opts, &r, err);
	ca_close(ca);
	if (e) {
		cli_fail("gen", "%s", err);
		return e == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
	}
	printf("people %" PRIu64 " certificates %" PRIu64 " revoked %" PRIu64
	       " seconds %.2f rate %.0f people/s\n",
	       r.people, r.certs, r.revoked, r.seconds, r.seconds > 0 ? r.people / r.seconds : 0.0);
	return 0;
}
