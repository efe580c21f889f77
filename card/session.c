/* kensho-card's card session: see session.h. */
#include "card/session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "card/pin_input.h"
#include "pki/cms_build.h"

int card_session_open(const struct cli_options *o, struct card_session *s)
{
	int err = pcsc_open(&s->pcsc);
	if (err < 0)
		return cli_report_error("cannot reach the PC/SC service", err);
	err = pcsc_connect_card(&s->pcsc, o->reader, o->wait_ms);
	if (err < 0) {
		pcsc_close(&s->pcsc);
		return cli_report_error("cannot connect to a card", err);
	}
	s->transport = pcsc_transport(&s->pcsc);
	err = jpki_select(&s->transport);
	if (err < 0) {
		pcsc_close(&s->pcsc);
		return cli_report_error("cannot select the JPKI application", err);
	}
	return 0;
}

void card_session_close(struct card_session *s)
{
	pcsc_close(&s->pcsc);
}

/* Reads the key's PIN from --pin-fd or the terminal and verifies it. */
int card_session_verify_pin(const struct cli_options *o, const struct card_session *s,
                            enum jpki_key key)
{
	char pin[PIN_INPUT_MAX];
	size_t len = 0;
	const char *prompt = key == JPKI_KEY_SIGN ? "Signing PIN (6-16 characters, A-Z and 0-9): "
	                                          : "User-authentication PIN (4 digits): ";
	int err = pin_input_read(o->pin_fd, prompt, pin, sizeof(pin), &len);
	if (err < 0) {
		explicit_bzero(pin, sizeof(pin));
		fprintf(stderr, "kensho-card: cannot read the PIN: %s\n",
		        err == -ENOTTY    ? "no terminal; pass it with --pin-fd N"
		        : err == -ENODATA ? "empty PIN"
		                          : "input error");
		return 1;
	}
	int tries = -1;
	err = jpki_verify_pin(&s->transport, key, pin, len, &tries);
	explicit_bzero(pin, sizeof(pin));
	if (err == -EKEYREJECTED) {
		fprintf(stderr, "kensho-card: wrong PIN: %d %s left before the PIN is blocked\n",
		        tries, tries == 1 ? "try" : "tries");
		return 1;
	}
	if (err == -EINVAL) {
		fprintf(stderr,
		        "kensho-card: that is not a valid %s (not sent to the card, no "
		        "try spent)\n",
		        key == JPKI_KEY_SIGN ? "signing PIN: 6-16 characters of A-Z and 0-9 with "
		                               "at least one of each"
		                             : "user-authentication PIN: 4 digits");
		return 1;
	}
	if (err < 0)
		return cli_report_error(
		        key == JPKI_KEY_SIGN ? "signing PIN" : "user-authentication PIN", err);
	return 0;
}

int card_session_read_cert(const struct card_session *s, enum jpki_cert which, struct buf *der)
{
	int err = jpki_read_cert(&s->transport, which, der);
	if (err < 0)
		return cli_report_error("cannot read the certificate", err);
	return 0;
}

/* cms_sign_cb: the card pads and signs the DigestInfo with the signing key. */
static int card_sign_cb(void *arg, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                        size_t *sig_len)
{
	const struct card_transport *t = arg;
	if (CMS_MAX_SIGNATURE < JPKI_SIGNATURE_LEN)
		return -ENOSPC;
	return jpki_sign(t, JPKI_KEY_SIGN, digest_info, digest_info_len, sig, sig_len);
}

int card_session_sign_content(const struct cli_options *o, const struct buf *content, uint8_t **cms,
                              size_t *cms_len)
{
	struct card_session s;
	if (card_session_open(o, &s))
		return 1;
	struct buf cert = {0};
	int rc = card_session_verify_pin(o, &s, JPKI_KEY_SIGN);
	if (rc == 0)
		rc = card_session_read_cert(&s, JPKI_CERT_SIGN, &cert);
	if (rc == 0) {
		struct cms_build_params p = {
		        .content = content->data,
		        .content_len = content->len,
		        .signed_attributes = true,
		        .signing_time = time(NULL),
		        .md = PKI_DIGEST_SHA256,
		        .cert = cert.data,
		        .cert_len = cert.len,
		        .sign = card_sign_cb,
		        .sign_arg = &s.transport,
		};
		int err = cms_build_signed(&p, cms, cms_len);
		if (err < 0)
			rc = cli_report_error("cannot sign", err);
	}
	card_session_close(&s);
	buf_free(&cert);
	return rc;
}
