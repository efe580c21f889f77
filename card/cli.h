/* kensho-card's options and the helpers every layer of the program shares:
 * usage text, error reports and files. The bottom of the program's
 * dependency tree (card/README.md): this calls nothing of the commands or
 * the card session. Each function that reports returns the process exit code
 * (0 ok, 1 failure, 2 usage) and has already told the user why. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "card/jpki.h"
#include "core/buf.h"

/** Command-line options of kensho-card. */
struct cli_options {
	const char *reader;       /**< substring of the reader name, or NULL for any */
	int wait_ms;              /**< how long to wait for a card (0: it must be there) */
	int pin_fd;               /**< descriptor to read PINs from, or -1 for the terminal */
	const char *arg;          /**< the command's argument (cert auth|sign) */
	const char *out;          /**< --out FILE */
	const char *file;         /**< --file FILE */
	const char *server;       /**< --server URL */
	enum jpki_key kind;       /**< --kind auth|sign (check) */
	const char *ca;           /**< --ca FILE: trust anchor for check (else the card's CA) */
	const char *receipt_cert; /**< --receipt-cert FILE: the pinned receipt signer */
	const char *cacert;       /**< --cacert FILE: CA the https server must chain to */
	const char *cert;         /**< --cert FILE: client certificate for https */
	const char *key;          /**< --key FILE: its private key (owner-only) */
};

/** Largest file `sign` and `submit` take (the intake limit is the server's). */
#define CLI_MAX_SIGNED_FILE (8u << 20)

/** Prints the usage text to out. */
void cli_usage(FILE *out);
/** Prints the usage text to stderr and returns 2 (a bad command line). */
int cli_usage_error(void);
/** Prints "kensho-card: what: <card_strerror(err)>" and returns 1. */
int cli_report_error(const char *what, int err);

/** Reads a whole file of at most max bytes into out. */
int cli_read_file(const char *path, size_t max, struct buf *out);
/** Writes bytes to a file. */
int cli_write_file(const char *path, const uint8_t *data, size_t len);
/** Writes DER as PEM with the given label; returns 0 or a negative errno. */
int cli_write_pem(FILE *out, const char *label, const uint8_t *der, size_t len);
/** Writes DER as PEM to path (stdout when NULL). */
int cli_output_pem(const char *path, const char *label, const uint8_t *der, size_t len);
/** Loads a certificate file, PEM or DER, as DER. */
int cli_load_cert_file(const char *path, struct buf *der);
