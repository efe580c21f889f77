#include "card/apdu.h"

#include <errno.h>
#include <string.h>

/* The JPKI application's AID (JPKI facts: SELECT by name). */
static const uint8_t jpki_aid[] = {0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01};

/* AlgorithmIdentifier sha256 with NULL parameters and the OCTET STRING header
 * of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1). */
static const uint8_t sha256_prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};

int apdu_response_parse(const uint8_t *raw, size_t len, struct apdu_response *out)
{
	if (len < 2 || len > APDU_RESPONSE_MAX)
		return -EPROTO;
	out->data = raw;
	out->len = len - 2;
	out->sw = (uint16_t)(raw[len - 2] << 8 | raw[len - 1]);
	return 0;
}

int apdu_status_error(uint16_t sw, int *tries_left)
{
	int tries = -1;
	int err;

	if (sw == APDU_SW_OK)
		err = 0;
	else if ((sw & 0xfff0) == 0x63c0) {
		/* ISO 7816-4 §5.1.3: 63Cx, "counter provided by x". JPKI cards
		 * answer a wrong PIN, and a tries query, this way. */
		tries = sw & 0x0f;
		err = tries > 0 ? -EKEYREJECTED : -EKEYREVOKED;
	} else if (sw == APDU_SW_AUTH_BLOCKED || sw == 0x6984) {
		tries = 0;
		err = -EKEYREVOKED;
	} else if (sw == APDU_SW_SECURITY_NOT_SATISFIED)
		err = -EACCES;
	else if (sw == APDU_SW_FILE_NOT_FOUND)
		err = -ENOENT;
	else if (sw == APDU_SW_WRONG_P1P2)
		err = -ERANGE;
	else
		err = -EPROTO;
	if (tries_left)
		*tries_left = tries;
	return err;
}

int apdu_der_total_length(const uint8_t *header, size_t len, size_t *total)
{
	if (len < 2)
		return -EAGAIN;
	if (header[0] != 0x30)
		return -EBADMSG;
	size_t content;
	size_t head;
	uint8_t first = header[1];
	if (first < 0x80) {
		content = first;
		head = 2;
	} else {
		/* X.690 §8.1.3.5: long form; 0x80 (indefinite) is not DER, and
		 * more than two length octets would exceed APDU_CERT_MAX. */
		size_t n = first & 0x7f;
		if (n == 0 || n > 2)
			return -EBADMSG;
		if (len < 2 + n)
			return -EAGAIN;
		content = 0;
		for (size_t i = 0; i < n; i++)
			content = content << 8 | header[2 + i];
		/* DER uses the shortest form (X.690 §10.1). */
		if (content < 0x80 || (n == 2 && content < 0x100))
			return -EBADMSG;
		head = 2 + n;
	}
	if (content == 0 || head + content > APDU_CERT_MAX)
		return -EBADMSG;
	*total = head + content;
	return 0;
}

int apdu_token_info_parse(const uint8_t *data, size_t len, char *out, size_t cap,
                          enum apdu_card_kind *kind)
{
	if (len > APDU_TOKEN_INFO_LEN)
		len = APDU_TOKEN_INFO_LEN;
	/* Padding is spaces; some cards pad with NULs or 0xFF, accept those too. */
	while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == 0 || data[len - 1] == 0xff))
		len--;
	if (len == 0 || cap == 0)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (data[i] < 0x20 || data[i] > 0x7e)
			return -EBADMSG;
	}
	if (len >= cap)
		return -ENOSPC;
	memcpy(out, data, len);
	out[len] = '\0';
	if (strcmp(out, "JPKIAPICCTOKEN2") == 0)
		*kind = APDU_CARD_MY_NUMBER;
	else if (strcmp(out, "JPKIAPICCTOKEN") == 0)
		*kind = APDU_CARD_RESIDENT;
	else
		*kind = APDU_CARD_UNKNOWN;
	return 0;
}

static size_t put_header(uint8_t *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
	out[0] = cla;
	out[1] = ins;
	out[2] = p1;
	out[3] = p2;
	return 4;
}

int apdu_build_select_jpki(uint8_t *out)
{
	/* P2 = 0x0C: no FCI in the answer. */
	size_t n = put_header(out, 0x00, 0xa4, 0x04, 0x0c);
	out[n++] = sizeof(jpki_aid);
	memcpy(out + n, jpki_aid, sizeof(jpki_aid));
	return (int)(n + sizeof(jpki_aid));
}

int apdu_build_select_ef(uint8_t *out, uint16_t file_id)
{
	size_t n = put_header(out, 0x00, 0xa4, 0x02, 0x0c);
	out[n++] = 2;
	out[n++] = (uint8_t)(file_id >> 8);
	out[n++] = (uint8_t)file_id;
	return (int)n;
}

int apdu_build_read_binary(uint8_t *out, size_t offset, size_t count)
{
	/* P1 bit 8 set would mean a short EF identifier (ISO 7816-4 §7.2.2), so
	 * plain offsets stop at 0x7FFF. */
	if (offset > 0x7fff || count == 0 || count > APDU_READ_CHUNK)
		return -ERANGE;
	size_t n = put_header(out, 0x00, 0xb0, (uint8_t)(offset >> 8), (uint8_t)offset);
	out[n++] = (uint8_t)(count == 256 ? 0 : count);
	return (int)n;
}

int apdu_build_pin_status(uint8_t *out)
{
	return (int)put_header(out, 0x00, 0x20, 0x00, 0x80);
}

int apdu_build_verify(uint8_t *out, const char *pin, size_t pin_len)
{
	if (pin_len == 0 || pin_len > 16)
		return -EINVAL;
	size_t n = put_header(out, 0x00, 0x20, 0x00, 0x80);
	out[n++] = (uint8_t)pin_len;
	memcpy(out + n, pin, pin_len);
	return (int)(n + pin_len);
}

int apdu_build_sign(uint8_t *out, const uint8_t *digest_info, size_t len)
{
	if (len == 0 || len > 255)
		return -EINVAL;
	size_t n = put_header(out, 0x80, 0x2a, 0x00, 0x80);
	out[n++] = (uint8_t)len;
	memcpy(out + n, digest_info, len);
	n += len;
	out[n++] = 0x00; /* Le: the whole signature */
	return (int)n;
}

size_t apdu_sha256_digest_info(const uint8_t hash[32], uint8_t out[51])
{
	memcpy(out, sha256_prefix, sizeof(sha256_prefix));
	memcpy(out + sizeof(sha256_prefix), hash, 32);
	return sizeof(sha256_prefix) + 32;
}
