/* Growable byte buffer: the one way kensho assembles output of unknown size. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	/** Set once an allocation failed; later appends are no-ops so callers
	 * may append freely and check once at the end. */
	int failed;
};

/** Ensures room for `extra` more bytes. Returns 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/** buf_append when the bytes may not fit: grows the buffer first. */
int buf_append_grow(struct buf *b, const void *data, size_t len);

/** Appends `len` bytes. Returns 0 or -ENOMEM. Inline: responses are built
 * from many short pieces, and a piece that fits (the usual case) is then
 * one compare and a copy the compiler can specialise for its length. */
static inline int buf_append(struct buf *b, const void *data, size_t len)
{
	if (!b->failed && len <= b->cap - b->len && len) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
		return 0;
	}
	return buf_append_grow(b, data, len);
}

/** Appends a NUL-terminated string (without the NUL). */
static inline int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}
/** Appends printf-formatted text. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** vprintf form of buf_printf. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/** Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/** Releases the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/** Gives the bytes to the caller (who frees them); the buffer is left empty. */
uint8_t *buf_steal(struct buf *b, size_t *len);
