/* The versioned value encoding (codec.h). */
#include "storage/codec.h"

#include <errno.h>
#include <string.h>

#include "storage/store_internal.h"

void enc_bytes(struct encoder *e, const void *data, size_t len)
{
	if (e->p && len)
		memcpy(e->p + e->len, data, len);
	e->len += len;
}

void enc_u8(struct encoder *e, uint8_t v)
{
	enc_bytes(e, &v, 1);
}

void enc_u16(struct encoder *e, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	enc_bytes(e, b, 2);
}

void enc_u32(struct encoder *e, uint32_t v)
{
	uint8_t b[4];
	put_be32(b, v);
	enc_bytes(e, b, 4);
}

void enc_u64(struct encoder *e, uint64_t v)
{
	uint8_t b[8];
	put_be64(b, v);
	enc_bytes(e, b, 8);
}

void enc_i64(struct encoder *e, int64_t v)
{
	enc_u64(e, (uint64_t)v);
}

void enc_serial(struct encoder *e, const struct store_serial *serial)
{
	uint8_t len = serial->len <= STORE_SERIAL_MAX ? serial->len : 0;
	enc_u8(e, len);
	enc_bytes(e, serial->bytes, len);
}

void enc_str16(struct encoder *e, const char *text)
{
	size_t len = strlen(text);
	if (len > UINT16_MAX)
		len = UINT16_MAX;
	enc_u16(e, (uint16_t)len);
	enc_bytes(e, text, len);
}

void enc_blob(struct encoder *e, struct store_blob blob)
{
	enc_u32(e, (uint32_t)blob.len);
	enc_bytes(e, blob.data, blob.len);
}

void dec_init(struct decoder *d, const void *data, size_t len)
{
	d->p = data;
	d->left = len;
	d->bad = false;
	if (dec_u8(d) != CODEC_V1)
		d->bad = true;
}

uint8_t dec_init_versioned(struct decoder *d, const void *data, size_t len, uint8_t newest)
{
	d->p = data;
	d->left = len;
	d->bad = false;
	uint8_t version = dec_u8(d);
	if (version < CODEC_V1 || version > newest) {
		d->bad = true;
		return 0;
	}
	return version;
}

void dec_str16(struct decoder *d, char *out, size_t cap)
{
	uint16_t len = dec_u16(d);
	if (len >= cap) {
		d->bad = true;
		len = 0;
	}
	dec_bytes(d, out, len);
	out[d->bad ? 0 : len] = '\0';
}

void dec_blob(struct decoder *d, struct store_blob *out)
{
	uint32_t len = dec_u32(d);
	out->data = dec_view(d, len);
	out->len = out->data ? len : 0;
}

int dec_finish(const struct decoder *d)
{
	return d->bad || d->left ? -EIO : 0;
}
