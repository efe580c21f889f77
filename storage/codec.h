/* Private to storage/: the value encoding. Every value starts with a version
 * byte; fields follow in a fixed order, integers big-endian, variable-length
 * fields prefixed by their length. An encoder with no buffer only counts, so
 * a record is measured, then written straight into space reserved in the map
 * (MDB_RESERVE) without a temporary copy. A decoder never reads past the end:
 * any shortfall latches `bad` and every later read yields zeros. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/store.h"

/* Current version of every value layout (README.md, "Schema"). */
#define CODEC_V1 1
/* The intake record's second layout: version 1 plus the evidence of the
 * moment of receipt (README.md, "Schema"). */
#define CODEC_V2 2

struct encoder {
	uint8_t *p; /* NULL: count only */
	size_t len;
};

struct decoder {
	const uint8_t *p;
	size_t left;
	bool bad;
};

void enc_u8(struct encoder *e, uint8_t v);
void enc_u16(struct encoder *e, uint16_t v);
void enc_u32(struct encoder *e, uint32_t v);
void enc_u64(struct encoder *e, uint64_t v);
void enc_i64(struct encoder *e, int64_t v);
/** Raw bytes, no length prefix (fixed-size fields, or the value's tail). */
void enc_bytes(struct encoder *e, const void *data, size_t len);
/** A serial: one length octet, then its content octets. */
void enc_serial(struct encoder *e, const struct store_serial *serial);
/** A string of up to 65535 bytes: u16 length, then the bytes. */
void enc_str16(struct encoder *e, const char *text);
/** A blob: u32 length, then the bytes. */
void enc_blob(struct encoder *e, struct store_blob blob);

/** Starts decoding a value; latches bad unless its version byte is supported. */
void dec_init(struct decoder *d, const void *data, size_t len);
/** Starts decoding a value of a layout with several versions: returns its
 * version byte (1..newest), or 0 with bad latched for any other. */
uint8_t dec_init_versioned(struct decoder *d, const void *data, size_t len, uint8_t newest);
/* The fixed-size readers are inline: a cached OCSP answer decodes a
 * certificate record per request. Multi-byte integers are big-endian. */

/** Points into the value for len bytes (valid within the transaction). */
static inline const uint8_t *dec_view(struct decoder *d, size_t len)
{
	if (d->bad || d->left < len) {
		d->bad = true;
		return NULL;
	}
	const uint8_t *at = d->p;
	d->p += len;
	d->left -= len;
	return at;
}

/** Copies len bytes into out (zeros once bad). */
static inline void dec_bytes(struct decoder *d, void *out, size_t len)
{
	const uint8_t *at = dec_view(d, len);
	if (at)
		memcpy(out, at, len);
	else
		memset(out, 0, len);
}

static inline uint8_t dec_u8(struct decoder *d)
{
	const uint8_t *at = dec_view(d, 1);
	return at ? at[0] : 0;
}

static inline uint16_t dec_u16(struct decoder *d)
{
	const uint8_t *at = dec_view(d, 2);
	return at ? (uint16_t)(at[0] << 8 | at[1]) : 0;
}

static inline uint32_t dec_u32(struct decoder *d)
{
	const uint8_t *at = dec_view(d, 4);
	return at ? (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3]
	          : 0;
}

static inline uint64_t dec_u64(struct decoder *d)
{
	const uint8_t *at = dec_view(d, 8);
	if (!at)
		return 0;
	return (uint64_t)at[0] << 56 | (uint64_t)at[1] << 48 | (uint64_t)at[2] << 40 |
	       (uint64_t)at[3] << 32 | (uint64_t)at[4] << 24 | (uint64_t)at[5] << 16 |
	       (uint64_t)at[6] << 8 | at[7];
}

static inline int64_t dec_i64(struct decoder *d)
{
	return (int64_t)dec_u64(d);
}

/** A serial: u8 length (at most STORE_SERIAL_MAX), then the bytes. */
static inline void dec_serial(struct decoder *d, struct store_serial *out)
{
	uint8_t len = dec_u8(d);
	if (len > STORE_SERIAL_MAX) {
		d->bad = true;
		len = 0;
	}
	out->len = len;
	dec_bytes(d, out->bytes, len);
	if (d->bad)
		out->len = 0;
}

/** Copies a str16 into out (capacity cap, NUL-terminated); too long is bad. */
void dec_str16(struct decoder *d, char *out, size_t cap);
void dec_blob(struct decoder *d, struct store_blob *out);
/** 0 when the whole value was read without shortfall, else -EIO (corrupt). */
int dec_finish(const struct decoder *d);
