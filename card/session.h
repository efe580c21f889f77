/* A card session of kensho-card: the card opened over PC/SC with the JPKI
 * application selected, and the steps several commands take on it (verify a
 * PIN, read a certificate, sign content with the signing key). Below the
 * commands and above jpki/pcsc in the program's dependency tree
 * (card/README.md). Each function that reports returns the process exit
 * code (0 ok, 1 failure) and has already told the user why. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "card/cli.h"
#include "card/jpki.h"
#include "card/pcsc.h"
#include "core/buf.h"

/** An open card. transport points into pcsc: do not copy the struct. */
struct card_session {
	struct pcsc_session pcsc;
	struct card_transport transport;
};

/** Opens PC/SC, waits for a card (--reader, --wait) and selects the JPKI
 * application. On failure nothing stays open. */
int card_session_open(const struct cli_options *o, struct card_session *s);
/** Resets and releases the card, so no verified PIN outlives the session. */
void card_session_close(struct card_session *s);
/** Reads the key's PIN (--pin-fd or terminal) and verifies it on the card. */
int card_session_verify_pin(const struct cli_options *o, const struct card_session *s,
                            enum jpki_key key);
/** Reads a certificate from the card into der. */
int card_session_read_cert(const struct card_session *s, enum jpki_cert which, struct buf *der);

/** Opens a session, asks for the signing PIN and signs content on the card:
 * CMS SignedData with the content attached, signed attributes (signing
 * time), SHA-256 and the card's signing certificate. *cms is malloc'd. */
int card_session_sign_content(const struct cli_options *o, const struct buf *content, uint8_t **cms,
                              size_t *cms_len);
