/* The `kensho` command line's remote mode: revoke, event, issue and reload
 * sent to kenshod's admin API over mutual TLS instead of acting on a local
 * data directory.
 *
 *   kensho --server https://HOST:PORT --cert FILE --key FILE --cacert FILE COMMAND ...
 */
#pragma once

/** Where and as whom to connect. */
struct remote_options {
	const char *server; /**< https://host:port */
	const char *cert;   /**< operator client certificate (PEM) */
	const char *key;    /**< its private key */
	const char *cacert; /**< CA(s) that issued the server certificate */
};

/** Runs COMMAND (argv[0]) against the admin API. Returns an exit status. */
int cli_remote(const struct remote_options *opts, int argc, char **argv);
