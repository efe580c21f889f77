/* PC/SC (pcsc-lite) access to readers and cards: the one place PC/SC types
 * and error codes appear. Errors come back as negative errno values that
 * card_strerror() explains.
 *
 * Every call blocks (pcscd round trips, waiting for a card): never call these
 * on a libuv loop thread. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "card/jpki.h"
#include "core/buf.h"

/** A PC/SC context and at most one connected card. */
struct pcsc_session {
	long context; /**< SCARDCONTEXT */
	long card;    /**< SCARDHANDLE, 0 when not connected */
	unsigned long protocol;
	char reader[256]; /**< the connected reader's name */
};

/** One reader and whether a card is in it. */
struct pcsc_reader {
	char name[256];
	int card_present;
};

/** Opens a context with pcscd. Returns 0, -ECONNREFUSED (no pcscd) or -EIO. */
int pcsc_open(struct pcsc_session *s);
/** Disconnects (resetting the card, so no verified PIN outlives the session)
 * and releases the context. Safe on a session that failed to open. */
void pcsc_close(struct pcsc_session *s);

/** Lists readers into out (capacity cap); *count gets how many. Returns 0 or
 * -ENODEV when there is no reader. */
int pcsc_list_readers(struct pcsc_session *s, struct pcsc_reader *out, size_t cap, size_t *count);

/** Waits up to timeout_ms for a card in the reader whose name contains
 * `filter` (any reader when NULL), then connects to it exclusively. Returns
 * 0, -ENODEV (no such reader), -ETIMEDOUT (no card in time), or -EBUSY. */
int pcsc_connect_card(struct pcsc_session *s, const char *filter, int timeout_ms);

/** Sends one APDU to the connected card (a card_transmit_fn; ctx is the
 * session). A removed card is -ENXIO. */
int pcsc_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len);

/** A transport over the session for card/jpki.h. */
struct card_transport pcsc_transport(struct pcsc_session *s);
