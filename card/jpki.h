/* The JPKI application's operations (select, read token info and
 * certificates, PIN tries, verify, sign) over any transport that exchanges
 * one APDU for one response: PC/SC in kensho-card, a scripted fake in tests.
 *
 * All calls block on the transport: never call them on a libuv loop thread
 * (run them in a worker or a plain program such as kensho-card). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "card/apdu.h"
#include "core/buf.h"

/** Sends one command APDU and receives its response. Returns 0 and sets
 * *resp_len (at most APDU_RESPONSE_MAX), or a negative errno from the
 * transport (see card_strerror). */
typedef int (*card_transmit_fn)(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                                size_t *resp_len);

/** A transport: the function and its context. */
struct card_transport {
	card_transmit_fn transmit;
	void *ctx;
};

/** The two key pairs on the card, each with its certificate and PIN. */
enum jpki_key {
	JPKI_KEY_AUTH = 0, /**< user authentication: 4-digit PIN, 3 tries */
	JPKI_KEY_SIGN = 1, /**< signing: 6-16 A-Z/0-9 PIN, 5 tries */
};

/** The certificate files in the application. */
enum jpki_cert {
	JPKI_CERT_AUTH,    /**< EF 000A, readable without a PIN */
	JPKI_CERT_AUTH_CA, /**< EF 000B */
	JPKI_CERT_SIGN,    /**< EF 0001, readable after the signing PIN */
	JPKI_CERT_SIGN_CA, /**< EF 0002 */
};

/** Maximum tries of each PIN (JPKI facts). */
#define JPKI_AUTH_PIN_TRIES 3
#define JPKI_SIGN_PIN_TRIES 5
/** Length of an RSA-2048 signature. */
#define JPKI_SIGNATURE_LEN 256

/** Selects the JPKI application. Returns 0, or -ENOTSUP when the card has no
 * such application (not a JPKI card), or a transport error. */
int jpki_select(const struct card_transport *t);

/** Reads token info. out gets the label (capacity >= 33), *kind the card. */
int jpki_read_token_info(const struct card_transport *t, char *out, size_t cap,
                         enum apdu_card_kind *kind);

/** Reads a certificate's DER bytes into out (appended): the DER header first
 * to learn its length, then the rest in READ BINARY chunks of at most 256.
 * The signing certificate needs the signing PIN verified first (-EACCES). */
int jpki_read_cert(const struct card_transport *t, enum jpki_cert which, struct buf *out);

/** Asks how many tries the key's PIN has left (without spending one). */
int jpki_pin_tries(const struct card_transport *t, enum jpki_key key, int *tries);

/** Checks a PIN's form before it goes to the card, so a typo in the form
 * never spends a try: auth = exactly 4 digits; sign = 6-16 of A-Z and 0-9
 * with at least one of each. Returns 0 or -EINVAL. */
int jpki_pin_check_format(enum jpki_key key, const char *pin, size_t len);

/** Verifies the key's PIN. Returns 0; -EKEYREJECTED with *tries_left when the
 * PIN was wrong; -EKEYREVOKED when the PIN is blocked; -EINVAL for a PIN of
 * the wrong form (nothing sent). tries_left may be NULL. */
int jpki_verify_pin(const struct card_transport *t, enum jpki_key key, const char *pin, size_t len,
                    int *tries_left);

/** Signs a DigestInfo with the key (its PIN verified in this session): the
 * card pads it (PKCS#1 v1.5 type 1). sig gets JPKI_SIGNATURE_LEN bytes at
 * most; *sig_len the length. Returns -EACCES without the PIN. */
int jpki_sign(const struct card_transport *t, enum jpki_key key, const uint8_t *digest_info,
              size_t len, uint8_t *sig, size_t *sig_len);

/** Signs a SHA-256 hash: jpki_sign over its DigestInfo. */
int jpki_sign_sha256(const struct card_transport *t, enum jpki_key key, const uint8_t hash[32],
                     uint8_t *sig, size_t *sig_len);

/** A person-readable message for an error returned by card/ (APDU, JPKI or
 * PC/SC layer): "wrong PIN", "PIN blocked", "no card in the reader"... */
const char *card_strerror(int err);
