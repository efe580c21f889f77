/* The `kensho` command line: subcommand table and option parsing shared by
 * every area's subcommands. A subcommand is one function; to add one, declare
 * it here and add one line to the table in kensho.c. */
#pragma once
#include <stdbool.h>

/** Most options a subcommand may take. */
#define CLI_ARGS_MAX 32

/** Options of one subcommand as parsed. */
struct cli_args {
	int count;
	const char *keys[CLI_ARGS_MAX];   /**< without the leading "--" */
	const char *values[CLI_ARGS_MAX]; /**< NULL for flags */
	int positional_count;
	const char *positional[CLI_ARGS_MAX];
};

/** A subcommand: argv[0] is its name. Returns the process exit status. */
struct cli_command {
	const char *name;
	const char *usage; /**< shown by `kensho help` */
	int (*run)(const char *data_dir, int argc, char **argv);
	const char *help; /**< what `kensho COMMAND --help` adds to the usage line, or NULL */
};

/** Exit statuses: the operation failed; the command line was wrong. */
enum { CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

/** Parses argv[1..] against spec, a comma-separated list of option names,
 * each followed by ':' if it takes a value ("name:,birth:,certs"). Prints
 * the problem and returns -EINVAL on an unknown or incomplete option. */
int cli_parse(int argc, char **argv, const char *spec, struct cli_args *out);
/** The value of an option, or NULL if absent. */
const char *cli_get(const struct cli_args *args, const char *key);
/** True if a flag (or valued option) was given. */
bool cli_has(const struct cli_args *args, const char *key);
/** Prints "kensho <command>: <message>" on stderr. */
void cli_fail(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** `kensho ca init` (ca area). */
int cli_ca(const char *data_dir, int argc, char **argv);
/** `kensho issue` (ca area). */
int cli_issue(const char *data_dir, int argc, char **argv);
/** `kensho revoke` (ca area). */
int cli_revoke(const char *data_dir, int argc, char **argv);
/** `kensho promote`: a replica's store becomes a primary's (docs/cluster.md). */
int cli_promote(const char *data_dir, int argc, char **argv);
/** `kensho event` (ca area). */
int cli_event(const char *data_dir, int argc, char **argv);
/** `kensho gen` (ca area). */
int cli_gen(const char *data_dir, int argc, char **argv);
/** `kensho crl` (crl area). */
int cli_crl(const char *data_dir, int argc, char **argv);
/** `kensho ocsp status`: how fresh the store's pre-signed OCSP answers are. */
int cli_ocsp(const char *data_dir, int argc, char **argv);
/** `kensho presign`: signs every due or missing OCSP answer, in batches. */
int cli_presign(const char *data_dir, int argc, char **argv);
/** What `kensho ocsp --help` and `kensho presign --help` explain. */
extern const char CLI_OCSP_HELP[], CLI_PRESIGN_HELP[];
/** `kensho intake export N --out DIR`: an application and its evidence as a
 * bundle an auditor checks without kensho. */
int cli_intake(const char *data_dir, int argc, char **argv);
/** `kensho audit` (tls area): lists the audit log. */
int cli_audit(const char *data_dir, int argc, char **argv);
