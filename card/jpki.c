#include "card/jpki.h"

#include <errno.h>
#include <string.h>

/* Elementary files of the JPKI application (JPKI facts). */
enum {
	EF_SIGN_CERT = 0x0001,
	EF_SIGN_CA_CERT = 0x0002,
	EF_TOKEN_INFO = 0x0006,
	EF_AUTH_CERT = 0x000a,
	EF_AUTH_CA_CERT = 0x000b,
	EF_AUTH_KEY = 0x0017,
	EF_AUTH_PIN = 0x0018,
	EF_SIGN_KEY = 0x001a,
	EF_SIGN_PIN = 0x001b,
};

/* Sends a command and splits the answer; resp must hold APDU_RESPONSE_MAX. */
static int exchange(const struct card_transport *t, const uint8_t *cmd, int cmd_len, uint8_t *resp,
                    struct apdu_response *out)
{
	if (cmd_len < 0)
		return cmd_len;
	size_t resp_len = APDU_RESPONSE_MAX;
	int err = t->transmit(t->ctx, cmd, (size_t)cmd_len, resp, &resp_len);
	if (err < 0)
		return err;
	if (resp_len > APDU_RESPONSE_MAX)
		return -EPROTO;
	err = apdu_response_parse(resp, resp_len, out);
	if (err < 0)
		return err;
	/* Under T=0 the card may answer 61xx ("xx bytes waiting", ISO 7816-4
	 * §5.1.3): fetch them with GET RESPONSE. A 6Cxx ("wrong Le, use xx")
	 * answer to a command that has an Le gets the command once more with
	 * that Le. Each is followed once; a card repeating them is broken. */
	uint8_t again[APDU_COMMAND_MAX];
	if (out->sw >> 8 == 0x61) {
		again[0] = 0x00;
		again[1] = 0xc0;
		again[2] = 0x00;
		again[3] = 0x00;
		again[4] = (uint8_t)out->sw;
		cmd_len = 5;
	} else if (out->sw >> 8 == 0x6c && cmd_len == 5) {
		memcpy(again, cmd, 4);
		again[4] = (uint8_t)out->sw;
	} else {
		return 0;
	}
	resp_len = APDU_RESPONSE_MAX;
	err = t->transmit(t->ctx, again, (size_t)cmd_len, resp, &resp_len);
	if (err < 0)
		return err;
	if (resp_len > APDU_RESPONSE_MAX)
		return -EPROTO;
	return apdu_response_parse(resp, resp_len, out);
}

/* Sends a command whose only interesting answer is its status word. */
static int exchange_status(const struct card_transport *t, const uint8_t *cmd, int cmd_len,
                           int *tries_left)
{
	uint8_t resp[APDU_RESPONSE_MAX];
	struct apdu_response r;
	int err = exchange(t, cmd, cmd_len, resp, &r);
	if (err < 0)
		return err;
	return apdu_status_error(r.sw, tries_left);
}

static int select_ef(const struct card_transport *t, uint16_t fid)
{
	uint8_t cmd[APDU_COMMAND_MAX];
	return exchange_status(t, cmd, apdu_build_select_ef(cmd, fid), NULL);
}

int jpki_select(const struct card_transport *t)
{
	uint8_t cmd[APDU_COMMAND_MAX];
	int err = exchange_status(t, cmd, apdu_build_select_jpki(cmd), NULL);
	/* A card without the application answers 6A82 (or another error). */
	if (err == -ENOENT || err == -EPROTO || err == -ERANGE)
		return -ENOTSUP;
	return err;
}

/* READ BINARY of count bytes at offset, appended to out. A short answer is
 * legal (end of file) and reported through *got. */
static int read_binary(const struct card_transport *t, size_t offset, size_t count, struct buf *out,
                       size_t *got)
{
	uint8_t cmd[APDU_COMMAND_MAX];
	uint8_t resp[APDU_RESPONSE_MAX];
	struct apdu_response r;
	int err = exchange(t, cmd, apdu_build_read_binary(cmd, offset, count), resp, &r);
	if (err < 0)
		return err;
	err = apdu_status_error(r.sw, NULL);
	if (err < 0)
		return err;
	if (r.len > count)
		return -EPROTO;
	*got = r.len;
	return buf_append(out, r.data, r.len);
}

int jpki_read_token_info(const struct card_transport *t, char *out, size_t cap,
                         enum apdu_card_kind *kind)
{
	int err = select_ef(t, EF_TOKEN_INFO);
	if (err < 0)
		return err;
	struct buf b = {0};
	size_t got = 0;
	err = read_binary(t, 0, APDU_TOKEN_INFO_LEN, &b, &got);
	if (err == 0)
		err = apdu_token_info_parse(b.data, b.len, out, cap, kind);
	buf_free(&b);
	return err;
}

static uint16_t cert_file(enum jpki_cert which)
{
	switch (which) {
	case JPKI_CERT_AUTH: return EF_AUTH_CERT;
	case JPKI_CERT_AUTH_CA: return EF_AUTH_CA_CERT;
	case JPKI_CERT_SIGN: return EF_SIGN_CERT;
	case JPKI_CERT_SIGN_CA: return EF_SIGN_CA_CERT;
	}
	return 0;
}

int jpki_read_cert(const struct card_transport *t, enum jpki_cert which, struct buf *out)
{
	uint16_t fid = cert_file(which);
	if (fid == 0)
		return -EINVAL;
	int err = select_ef(t, fid);
	if (err < 0)
		return err;

	/* The EF is larger than the certificate it holds; the DER header says
	 * how much of it is the certificate. */
	struct buf cert = {0};
	size_t got = 0;
	err = read_binary(t, 0, APDU_DER_HEADER_READ, &cert, &got);
	size_t total = 0;
	if (err == 0)
		err = apdu_der_total_length(cert.data, cert.len, &total);
	if (err == -EAGAIN)
		err = -EBADMSG;
	if (err == 0 && cert.len > total)
		cert.len = total;
	while (err == 0 && cert.len < total) {
		size_t want = total - cert.len;
		if (want > APDU_READ_CHUNK)
			want = APDU_READ_CHUNK;
		err = read_binary(t, cert.len, want, &cert, &got);
		/* A file that ends before its DER says is corrupt. */
		if (err == 0 && got == 0)
			err = -EBADMSG;
		if (err == -ERANGE)
			err = -EBADMSG;
	}
	if (err == 0 && cert.len > total)
		err = -EPROTO;
	if (err == 0 && cert.failed)
		err = -ENOMEM;
	if (err == 0)
		err = buf_append(out, cert.data, cert.len);
	buf_free(&cert);
	return err;
}

int jpki_pin_tries(const struct card_transport *t, enum jpki_key key, int *tries)
{
	int err = select_ef(t, key == JPKI_KEY_SIGN ? EF_SIGN_PIN : EF_AUTH_PIN);
	if (err < 0)
		return err;
	uint8_t cmd[APDU_COMMAND_MAX];
	int left = -1;
	err = exchange_status(t, cmd, apdu_build_pin_status(cmd), &left);
	/* The query answers 63Cx by design: that is success here. A card that
	 * answers 9000 has no PIN to ask (already verified in this session)
	 * and gives no count. */
	if (err == -EKEYREJECTED || err == -EKEYREVOKED || err == 0) {
		*tries = left;
		return 0;
	}
	return err;
}

int jpki_pin_check_format(enum jpki_key key, const char *pin, size_t len)
{
	if (key == JPKI_KEY_AUTH) {
		if (len != 4)
			return -EINVAL;
		for (size_t i = 0; i < len; i++) {
			if (pin[i] < '0' || pin[i] > '9')
				return -EINVAL;
		}
		return 0;
	}
	if (len < 6 || len > 16)
		return -EINVAL;
	int letters = 0, digits = 0;
	for (size_t i = 0; i < len; i++) {
		if (pin[i] >= 'A' && pin[i] <= 'Z')
			letters++;
		else if (pin[i] >= '0' && pin[i] <= '9')
			digits++;
		else
			return -EINVAL;
	}
	return letters > 0 && digits > 0 ? 0 : -EINVAL;
}

int jpki_verify_pin(const struct card_transport *t, enum jpki_key key, const char *pin, size_t len,
                    int *tries_left)
{
	if (tries_left)
		*tries_left = -1;
	if (jpki_pin_check_format(key, pin, len) < 0)
		return -EINVAL;
	int err = select_ef(t, key == JPKI_KEY_SIGN ? EF_SIGN_PIN : EF_AUTH_PIN);
	if (err < 0)
		return err;
	uint8_t cmd[APDU_COMMAND_MAX];
	err = exchange_status(t, cmd, apdu_build_verify(cmd, pin, len), tries_left);
	/* The command held the PIN: do not leave it on the stack. */
	explicit_bzero(cmd, sizeof(cmd));
	return err;
}

int jpki_sign(const struct card_transport *t, enum jpki_key key, const uint8_t *digest_info,
              size_t len, uint8_t *sig, size_t *sig_len)
{
	int err = select_ef(t, key == JPKI_KEY_SIGN ? EF_SIGN_KEY : EF_AUTH_KEY);
	if (err < 0)
		return err;
	uint8_t cmd[APDU_COMMAND_MAX];
	uint8_t resp[APDU_RESPONSE_MAX];
	struct apdu_response r;
	err = exchange(t, cmd, apdu_build_sign(cmd, digest_info, len), resp, &r);
	if (err < 0)
		return err;
	err = apdu_status_error(r.sw, NULL);
	if (err < 0)
		return err;
	/* RSA-2048: exactly the modulus length (RFC 8017 §8.2.1). */
	if (r.len != JPKI_SIGNATURE_LEN)
		return -EBADMSG;
	memcpy(sig, r.data, r.len);
	*sig_len = r.len;
	return 0;
}

int jpki_sign_sha256(const struct card_transport *t, enum jpki_key key, const uint8_t hash[32],
                     uint8_t *sig, size_t *sig_len)
{
	uint8_t digest_info[51];
	size_t len = apdu_sha256_digest_info(hash, digest_info);
	return jpki_sign(t, key, digest_info, len, sig, sig_len);
}

const char *card_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -EKEYREJECTED: return "wrong PIN";
	case -EKEYREVOKED:
		return "PIN blocked: too many wrong PINs; the card must be reset at a municipal "
		       "office";
	case -EACCES: return "the card refused: the PIN has not been verified";
	case -EINVAL: return "invalid argument (a PIN of the wrong form is never sent to the card)";
	case -ENOTSUP: return "not a JPKI card: the card has no JPKI application";
	case -ENOENT: return "the card has no such file";
	case -ERANGE: return "read past the end of a file on the card";
	case -EBADMSG: return "the card returned malformed data";
	case -EPROTO: return "the card answered with an unexpected status";
	case -ENODEV: return "no smart card reader found";
	case -ENOMEDIUM: return "no card in the reader";
	case -ENXIO: return "the card was removed during the operation";
	case -ECONNREFUSED: return "the PC/SC service (pcscd) is not running";
	case -ECONNRESET: return "the card was reset by another program; try again";
	case -ETIMEDOUT: return "timed out waiting for a card";
	case -EBUSY: return "the card is in use by another program";
	case -ENOMEM: return "out of memory";
	case -EIO: return "PC/SC communication error";
	}
	return "unexpected card error";
}
