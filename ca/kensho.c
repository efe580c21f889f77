/* kensho: the operator's command line (docs/architecture.md, "Command-line contract").
 *
 *   kensho [--data DIR] COMMAND [options]
 *   kensho --server https://HOST:PORT --cert F --key F --cacert F COMMAND [options]
 *
 * DIR defaults to ./var/kensho, like kenshod's. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ca/cli.h"
#include "ca/remote.h"
#include "core/version.h"

#define DEFAULT_DATA_DIR "./var/kensho"

/* One line per subcommand; areas add theirs here (declared in ca/cli.h). */
static const struct cli_command COMMANDS[] = {
        {"ca",
         "ca init [--base-url URL] [--crl-partitions] | ca tsa-init | ca revoke-responder --kind "
         "sign|auth "
         "[--reason REASON] | ca revoke-tsa [--reason REASON]",
         cli_ca, NULL},
        {"issue",
         "issue --name NAME --birth YYYY-MM-DD --sex 1|2|3 --address ADDR [--sign-pubkey FILE] "
         "[--auth-pubkey FILE] --out OUTDIR [--force]",
         cli_issue, NULL},
        {"revoke", "revoke --kind sign|auth --serial HEX --reason REASON", cli_revoke, NULL},
        {"event",
         "event --serial HEX --kind sign|auth move|rename|death|loss|request|renew "
         "[--address NEW | --name NEW] [--sign-pubkey FILE] [--out DIR [--force]]",
         cli_event, NULL},
        {"crl",
         "crl --kind sign|auth [--delta | --arl] [--out FILE] [--base-url URL] [--validity "
         "SECONDS] [--partition CODE|all]",
         cli_crl, NULL},
        {"gen",
         "gen --people N [--revoked FRACTION] [--seed S] [--certs [--key-pool K] "
         "[--ocsp-batch N]]",
         cli_gen, NULL},
        {"ocsp",
         "ocsp status [--json] [--validity SECONDS] [--refresh-before SECONDS] "
         "[--watch SECONDS [--count N]]",
         cli_ocsp,
         CLI_OCSP_HELP},
        {"presign",
         "presign [--all] [--batch N] [--ocsp-batch N] [--validity SECONDS] "
         "[--refresh-before SECONDS]",
         cli_presign, CLI_PRESIGN_HELP},
        {"audit",
         "audit [--from SEQ] [--action ACTION] [--json] | audit verify [--data DIR]", cli_audit,
         NULL},
        {"intake", "intake export N --out DIR", cli_intake, NULL},
        {"promote", "promote (a replica's DIR, its keys in DIR/ca)", cli_promote, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kensho [--data DIR] COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		fprintf(out, "  %s\n", COMMANDS[i].usage);
	fprintf(out,
	        "\n  COMMAND --help shows that command's usage; kensho --version the version.\n"
	        "\nremote (kenshod's admin API over mutual TLS; issue, revoke, event, reload):\n"
	        "  kensho --server https://HOST:PORT --cert FILE --key FILE --cacert FILE "
	        "COMMAND ...\n"
	        "  (--key must be readable by its owner only)\n");
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t c = 0; c < sizeof(COMMANDS) / sizeof(COMMANDS[0]); c++)
		if (strcmp(name, COMMANDS[c].name) == 0)
			return &COMMANDS[c];
	return NULL;
}

/* `kensho COMMAND ... --help`: that command's own usage, whatever else was given. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *data_dir = DEFAULT_DATA_DIR;
	struct remote_options remote = {0};
	/* The options before COMMAND that take a value, and where it goes. */
	const struct {
		const char *name;
		const char **value;
		const char *what;
	} valued[] = {
	        {"--data", &data_dir, "a data directory"},
	        {"--server", &remote.server, "https://HOST:PORT"},
	        {"--cert", &remote.cert, "a certificate file"},
	        {"--key", &remote.key, "a private key file"},
	        {"--cacert", &remote.cacert, "a CA certificate file"},
	};
	int i = 1;
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("kensho %s\n", KENSHO_VERSION);
			return 0;
		}
		size_t v = 0;
		while (v < sizeof(valued) / sizeof(valued[0]) &&
		       strcmp(argv[i], valued[v].name) != 0)
			v++;
		if (v == sizeof(valued) / sizeof(valued[0])) {
			fprintf(stderr, "kensho: unknown option %s\n", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
		if (i + 1 >= argc || argv[i + 1][0] == '\0') {
			fprintf(stderr, "kensho: %s needs a value: %s\n", argv[i], valued[v].what);
			return CLI_EXIT_USAGE;
		}
		*valued[v].value = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return 0;
	}
	const struct cli_command *command = find_command(argv[i]);
	if (command && wants_help(argc - i, argv + i)) {
		printf("usage: kensho [--data DIR] %s\n%s", command->usage,
		       command->help ? command->help : "");
		return 0;
	}
	if (remote.server)
		return cli_remote(&remote, argc - i, argv + i);
	if (command)
		return command->run(data_dir, argc - i, argv + i);
	fprintf(stderr, "kensho: unknown command %s\n", argv[i]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
