/* kensho: the operator's command line (DESIGN.md, "Command-line contract").
 *
 *   kensho [--data DIR] COMMAND [options]
 *   kensho --server https://HOST:PORT --cert F --key F --cacert F COMMAND [options]
 *
 * DIR defaults to ./var/kensho, like kenshod's. */
#include <stdio.h>
#include <string.h>

#include "ca/cli.h"
#include "ca/remote.h"

#define DEFAULT_DATA_DIR "./var/kensho"

/* One line per subcommand; areas add theirs here (declared in ca/cli.h). */
static const struct cli_command COMMANDS[] = {
        {"ca", "ca init [--base-url URL]", cli_ca},
        {"issue",
         "issue --name NAME --birth YYYY-MM-DD --sex 1|2|3 --address ADDR [--sign-pubkey FILE] "
         "[--auth-pubkey FILE] --out OUTDIR",
         cli_issue},
        {"revoke", "revoke --kind sign|auth --serial HEX --reason REASON", cli_revoke},
        {"event",
         "event --serial HEX --kind sign|auth move|rename|death|loss|request|renew [--out DIR]",
         cli_event},
        {"crl", "crl --kind sign|auth [--delta] [--out FILE] [--base-url URL] [--validity SECONDS]",
         cli_crl},
        {"gen", "gen --people N [--revoked FRACTION] [--seed S] [--certs [--key-pool K]]", cli_gen},
        {"audit", "audit [--from SEQ] [--action ACTION] [--json]", cli_audit},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kensho [--data DIR] COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		fprintf(out, "  %s\n", COMMANDS[i].usage);
	fprintf(out, "\nremote (kenshod's admin API over mutual TLS; issue, revoke, event, reload):\n"
	             "  kensho --server https://HOST:PORT --cert FILE --key FILE --cacert FILE "
	             "COMMAND ...\n");
}

int main(int argc, char **argv)
{
	const char *data_dir = DEFAULT_DATA_DIR;
	struct remote_options remote = {0};
	int i = 1;
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			data_dir = argv[i + 1];
			i += 2;
		} else if (i + 1 < argc && strcmp(argv[i], "--server") == 0) {
			remote.server = argv[++i];
			i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--cert") == 0) {
			remote.cert = argv[++i];
			i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--key") == 0) {
			remote.key = argv[++i];
			i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--cacert") == 0) {
			remote.cacert = argv[++i];
			i++;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "kensho: unknown option %s\n", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (remote.server)
		return cli_remote(&remote, argc - i, argv + i);
	for (size_t c = 0; c < sizeof(COMMANDS) / sizeof(COMMANDS[0]); c++)
		if (strcmp(argv[i], COMMANDS[c].name) == 0)
			return COMMANDS[c].run(data_dir, argc - i, argv + i);
	fprintf(stderr, "kensho: unknown command %s\n", argv[i]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
