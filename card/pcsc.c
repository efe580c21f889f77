#include "card/pcsc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "card/apdu.h"

_Static_assert(sizeof(SCARDCONTEXT) <= sizeof(long), "SCARDCONTEXT fits in long");
_Static_assert(sizeof(SCARDHANDLE) <= sizeof(long), "SCARDHANDLE fits in long");

/* Readers kensho looks at in one wait; more are ignored. */
#define PCSC_MAX_READERS 16
/* How long (in 50 ms steps) to wait for pcscd to notice a removed card. */
#define PCSC_REMOVAL_POLLS 20

/* The one translation of PC/SC return codes into kensho's errors. */
static int pcsc_error(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS: return 0;
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED: return -ECONNREFUSED;
	case SCARD_E_NO_READERS_AVAILABLE:
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_READER_UNAVAILABLE: return -ENODEV;
	case SCARD_E_NO_SMARTCARD: return -ENOMEDIUM;
	case SCARD_W_REMOVED_CARD: return -ENXIO;
	case SCARD_W_RESET_CARD: return -ECONNRESET;
	case SCARD_E_TIMEOUT: return -ETIMEDOUT;
	case SCARD_E_SHARING_VIOLATION: return -EBUSY;
	case SCARD_E_NO_MEMORY: return -ENOMEM;
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_E_PROTO_MISMATCH: return -ENOTSUP;
	case SCARD_E_INSUFFICIENT_BUFFER: return -EPROTO;
	}
	return -EIO;
}

int pcsc_open(struct pcsc_session *s)
{
	memset(s, 0, sizeof(*s));
	SCARDCONTEXT ctx = 0;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_error(rv);
	s->context = (long)ctx;
	return 0;
}

void pcsc_close(struct pcsc_session *s)
{
	if (s->card) {
		SCardDisconnect((SCARDHANDLE)s->card, SCARD_RESET_CARD);
		s->card = 0;
	}
	if (s->context) {
		SCardReleaseContext((SCARDCONTEXT)s->context);
		s->context = 0;
	}
}

/* Fetches the multi-string of reader names; the caller frees *names. */
static int reader_names(struct pcsc_session *s, char **names)
{
	DWORD len = 0;
	LONG rv = SCardListReaders((SCARDCONTEXT)s->context, NULL, NULL, &len);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_error(rv);
	char *text = calloc(1, len + 1);
	if (!text)
		return -ENOMEM;
	rv = SCardListReaders((SCARDCONTEXT)s->context, NULL, text, &len);
	if (rv != SCARD_S_SUCCESS) {
		free(text);
		return pcsc_error(rv);
	}
	*names = text;
	return 0;
}

/* Fills states with the readers matching filter (their names point into
 * names) and asks for their current state. */
static int reader_states(struct pcsc_session *s, const char *filter, char *names,
                         SCARD_READERSTATE *states, size_t *count)
{
	size_t n = 0;
	for (char *p = names; *p && n < PCSC_MAX_READERS; p += strlen(p) + 1) {
		if (filter && !strstr(p, filter))
			continue;
		memset(&states[n], 0, sizeof(states[n]));
		states[n].szReader = p;
		states[n].dwCurrentState = SCARD_STATE_UNAWARE;
		n++;
	}
	if (n == 0)
		return -ENODEV;
	LONG rv = SCardGetStatusChange((SCARDCONTEXT)s->context, 0, states, (DWORD)n);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
		return pcsc_error(rv);
	*count = n;
	return 0;
}

int pcsc_list_readers(struct pcsc_session *s, struct pcsc_reader *out, size_t cap, size_t *count)
{
	char *names = NULL;
	int err = reader_names(s, &names);
	if (err < 0)
		return err;
	SCARD_READERSTATE states[PCSC_MAX_READERS];
	size_t n = 0;
	err = reader_states(s, NULL, names, states, &n);
	if (err == 0) {
		if (n > cap)
			n = cap;
		for (size_t i = 0; i < n; i++) {
			snprintf(out[i].name, sizeof(out[i].name), "%s", states[i].szReader);
			out[i].card_present = (states[i].dwEventState & SCARD_STATE_PRESENT) &&
			                      !(states[i].dwEventState & SCARD_STATE_MUTE);
		}
		*count = n;
	}
	free(names);
	return err;
}

static long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int connect_reader(struct pcsc_session *s, const char *reader)
{
	SCARDHANDLE card = 0;
	DWORD protocol = 0;
	LONG rv = SCardConnect((SCARDCONTEXT)s->context, reader, SCARD_SHARE_EXCLUSIVE,
	                       SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_error(rv);
	s->card = (long)card;
	s->protocol = protocol;
	snprintf(s->reader, sizeof(s->reader), "%s", reader);
	return 0;
}

int pcsc_connect_card(struct pcsc_session *s, const char *filter, int timeout_ms)
{
	char *names = NULL;
	int err = reader_names(s, &names);
	if (err < 0)
		return err;
	SCARD_READERSTATE states[PCSC_MAX_READERS];
	size_t n = 0;
	err = reader_states(s, filter, names, states, &n);
	long deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	while (err == 0) {
		size_t present = n;
		for (size_t i = 0; i < n; i++) {
			DWORD st = states[i].dwEventState;
			if ((st & SCARD_STATE_PRESENT) && !(st & SCARD_STATE_MUTE)) {
				present = i;
				break;
			}
		}
		if (present < n) {
			err = connect_reader(s, states[present].szReader);
			break;
		}
		long left = deadline - monotonic_ms();
		if (left <= 0) {
			err = timeout_ms > 0 ? -ETIMEDOUT : -ENOMEDIUM;
			break;
		}
		for (size_t i = 0; i < n; i++)
			states[i].dwCurrentState = states[i].dwEventState & ~SCARD_STATE_CHANGED;
		LONG rv = SCardGetStatusChange((SCARDCONTEXT)s->context, (DWORD)left, states,
		                               (DWORD)n);
		if (rv == SCARD_E_TIMEOUT)
			err = -ETIMEDOUT;
		else
			err = pcsc_error(rv);
	}
	free(names);
	return err;
}

static int card_still_present(struct pcsc_session *s)
{
	DWORD state = 0, protocol = 0, atr_len = MAX_ATR_SIZE, name_len = 0;
	BYTE atr[MAX_ATR_SIZE];
	LONG rv = SCardStatus((SCARDHANDLE)s->card, NULL, &name_len, &state, &protocol, atr,
	                      &atr_len);
	return rv == SCARD_S_SUCCESS && (state & SCARD_PRESENT);
}

int pcsc_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len)
{
	struct pcsc_session *s = ctx;
	if (!s->card)
		return -ENOMEDIUM;
	const SCARD_IO_REQUEST *pci =
	        s->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	DWORD len = (DWORD)*resp_len;
	LONG rv = SCardTransmit((SCARDHANDLE)s->card, pci, cmd, (DWORD)cmd_len, NULL, resp, &len);
	if (rv != SCARD_S_SUCCESS) {
		int err = pcsc_error(rv);
		/* A card pulled out mid-exchange often surfaces as a transport
		 * error first: ask whether it is still there to say which. */
		if (err == -ENOMEDIUM || !card_still_present(s))
			return -ENXIO;
		return err;
	}
	/* Every response has a status word (ISO 7816-4 §5.1). A reader that
	 * answers nothing has lost the card: vpcd does so when its card goes
	 * away mid-command, and pcscd notices the removal a moment later. */
	if (len < 2) {
		for (int i = 0; i < PCSC_REMOVAL_POLLS; i++) {
			if (!card_still_present(s))
				return -ENXIO;
			struct timespec pause = {0, 50 * 1000000L};
			nanosleep(&pause, NULL);
		}
		return -EPROTO;
	}
	*resp_len = len;
	return 0;
}

struct card_transport pcsc_transport(struct pcsc_session *s)
{
	struct card_transport t = {.transmit = pcsc_transmit, .ctx = s};
	return t;
}
