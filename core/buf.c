#include "core/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra)
{
	if (b->failed)
		return -ENOMEM;
	if (extra <= b->cap - b->len)
		return 0;
	size_t need = b->len + extra;
	if (need < b->len) {
		b->failed = 1;
		return -ENOMEM;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *data = realloc(b->data, cap);
	if (!data) {
		b->failed = 1;
		return -ENOMEM;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append_grow(struct buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0) {
		va_end(again);
		return -EINVAL;
	}
	int rc = buf_reserve(b, (size_t)n + 1);
	if (rc == 0) {
		vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
	return rc;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

uint8_t *buf_steal(struct buf *b, size_t *len)
{
	uint8_t *data = b->data;
	if (len)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return data;
}
