/* Serial numbers: their hex form and the binary keys built from them. */
#include <errno.h>
#include <string.h>

#include "core/encoding.h"
#include "storage/store_internal.h"

int store_serial_from_hex(const char *hex, size_t len, struct store_serial *out)
{
	out->len = 0;
	if (!hex || len == 0)
		return -EINVAL;
	while (len > 1 && hex[0] == '0') {
		hex++;
		len--;
	}
	/* Room for the 0x00 that keeps a top-bit-set value positive (X.690
	 * 8.3.2: minimal two's complement); RFC 5280 4.1.2.2 caps the content
	 * octets, that 0x00 included, at 20. */
	uint8_t value[STORE_SERIAL_MAX + 1];
	size_t n = (len + 1) / 2;
	if (n > STORE_SERIAL_MAX)
		return -EINVAL;
	size_t at = 1;
	if (len % 2) {
		char first[2] = {'0', hex[0]};
		if (hex_decode(first, 2, value + 1, 1) != 1)
			return -EINVAL;
		hex++;
		len--;
		at++;
	}
	if (len && hex_decode(hex, len, value + at, sizeof(value) - at) < 0)
		return -EINVAL;
	uint8_t *start = value + 1;
	if (start[0] & 0x80) {
		start--;
		start[0] = 0;
		n++;
	}
	if (n > STORE_SERIAL_MAX)
		return -EINVAL;
	memcpy(out->bytes, start, n);
	out->len = (uint8_t)n;
	return 0;
}

size_t store_serial_to_hex(const struct store_serial *serial, char out[2 * STORE_SERIAL_MAX + 1])
{
	const uint8_t *b = serial->bytes;
	size_t len = serial->len <= STORE_SERIAL_MAX ? serial->len : 0;
	if (len > 1 && b[0] == 0) {
		b++;
		len--;
	}
	hex_encode(b, len, out);
	return 2 * len;
}

int cert_key(uint32_t issuer_id, const struct store_serial *serial, uint8_t out[CERT_KEY_MAX])
{
	if (!serial || serial->len == 0 || serial->len > STORE_SERIAL_MAX)
		return -EINVAL;
	put_be32(out, issuer_id);
	memcpy(out + 4, serial->bytes, serial->len);
	return 4 + serial->len;
}

size_t revoked_key(uint32_t issuer_id, int64_t when, const struct store_serial *serial,
                   uint8_t out[REVOKED_KEY_MAX])
{
	put_be32(out, issuer_id);
	/* Flipping the sign bit makes signed times sort as unsigned bytes. */
	put_be64(out + 4, (uint64_t)when ^ ((uint64_t)1 << 63));
	size_t len = 12;
	if (serial && serial->len <= STORE_SERIAL_MAX) {
		memcpy(out + 12, serial->bytes, serial->len);
		len += serial->len;
	}
	return len;
}
