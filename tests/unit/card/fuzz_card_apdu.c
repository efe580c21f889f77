/* Fuzz target: a card's answers. The input is a sequence of response APDUs,
 * each a 2-byte big-endian length and that many bytes; they answer, in turn,
 * every command of a full session (select, token info, both PIN counters,
 * the user-auth certificate, a signature). The same bytes also go straight
 * to the response parsers. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "card/jpki.h"

struct feed {
	const uint8_t *data;
	size_t len;
	size_t pos;
};

static int feed_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                         size_t *resp_len)
{
	struct feed *f = ctx;
	if (f->len - f->pos < 2)
		return -ENXIO; /* out of answers: the card went away */
	size_t n = (size_t)f->data[f->pos] << 8 | f->data[f->pos + 1];
	f->pos += 2;
	if (n > f->len - f->pos)
		n = f->len - f->pos;
	/* A real reader never hands over more than the buffer holds. */
	if (n > *resp_len)
		n = *resp_len;
	memcpy(resp, f->data + f->pos, n);
	f->pos += n;
	*resp_len = n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apdu_response r;
	size_t total;
	char label[APDU_TOKEN_INFO_LEN + 1];
	enum apdu_card_kind kind;
	int tries;
	if (apdu_response_parse(data, size, &r) == 0)
		apdu_status_error(r.sw, &tries);
	apdu_der_total_length(data, size, &total);
	apdu_token_info_parse(data, size, label, sizeof(label), &kind);

	struct feed f = {.data = data, .len = size};
	struct card_transport t = {.transmit = feed_transmit, .ctx = &f};
	if (jpki_select(&t) < 0)
		return 0;
	jpki_read_token_info(&t, label, sizeof(label), &kind);
	jpki_pin_tries(&t, JPKI_KEY_AUTH, &tries);
	jpki_pin_tries(&t, JPKI_KEY_SIGN, &tries);
	struct buf cert = {0};
	if (jpki_read_cert(&t, JPKI_CERT_AUTH, &cert) == 0 && cert.len > 0)
		apdu_der_total_length(cert.data, cert.len, &total);
	buf_free(&cert);
	uint8_t hash[32] = {0};
	uint8_t sig[JPKI_SIGNATURE_LEN];
	size_t sig_len;
	jpki_verify_pin(&t, JPKI_KEY_AUTH, "1234", 4, &tries);
	jpki_sign_sha256(&t, JPKI_KEY_AUTH, hash, sig, &sig_len);
	return 0;
}
