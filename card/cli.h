/* kensho-card's commands share these: parsed options and the steps every
 * command takes (open the card, verify a PIN, report an error). Each returns
 * the process exit code (0 ok, 1 failure) and has already told the user why. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "card/http_client.h"
#include "card/jpki.h"
#include "card/pcsc.h"
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

/** Parses --server and attaches --cacert/--cert/--key; checks them before
 * anything touches the card (so no PIN try is spent on a bad option).
 * Prints why on failure; returns 0 or 2 (usage) or 1. */
int cli_server_url(const struct cli_options *o, struct http_url *url);
/** Why http_post failed, in words for the card holder. */
const char *cli_http_strerror(int err);

/** Prints "kensho-card: what: <card_strerror(err)>" and returns 1. */
int cli_fail(const char *what, int err);
/** Opens PC/SC, waits for a card and selects the JPKI application. */
int cli_open_card(const struct cli_options *o, struct pcsc_session *s, struct card_transport *t);
/** Reads the key's PIN (--pin-fd or terminal) and verifies it on the card. */
int cli_verify_pin(const struct cli_options *o, const struct card_transport *t, enum jpki_key key);
/** Reads a certificate from the card into der. */
int cli_read_cert(const struct card_transport *t, enum jpki_cert which, struct buf *der);
/** Writes DER as PEM with the given label; returns 0 or a negative errno. */
int cli_write_pem(FILE *out, const char *label, const uint8_t *der, size_t len);
/** Writes DER as PEM to path (stdout when NULL). */
int cli_output_pem(const char *path, const char *label, const uint8_t *der, size_t len);

/** Largest file `sign` and `submit` take (the intake limit is the server's). */
#define CLI_MAX_SIGNED_FILE (8u << 20)

/** Reads a whole file of at most max bytes into out. */
int cli_read_file(const char *path, size_t max, struct buf *out);
/** Writes bytes to a file. */
int cli_write_file(const char *path, const uint8_t *data, size_t len);
/** Loads a certificate file, PEM or DER, as DER. */
int cli_load_cert_file(const char *path, struct buf *der);
/** Signs content on the card (signing PIN asked for): CMS SignedData with the
 * content attached, signed attributes (signing time), SHA-256 and the
 * card's signing certificate. *cms is malloc'd. */
int cli_sign_content(const struct cli_options *o, const struct buf *content, uint8_t **cms,
                     size_t *cms_len);

/** `sign --file F [--out F.p7s]`: CMS SignedData with the signing key. */
int cli_cmd_sign(const struct cli_options *o);
/** `check [--kind auth|sign] --server URL`: OCSP status of the card's cert. */
int cli_cmd_check(const struct cli_options *o);
/** `submit --file F --server URL`: sign, submit to /v1/intake, check the receipt. */
int cli_cmd_submit(const struct cli_options *o);
