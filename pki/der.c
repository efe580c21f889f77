#include "pki/der.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void der_init(struct der *d)
{
	memset(d, 0, sizeof(*d));
}

void der_free(struct der *d)
{
	buf_free(&d->out);
	d->depth = 0;
}

static void fail(struct der *d, int err)
{
	if (!d->error)
		d->error = err;
}

static void append(struct der *d, const void *data, size_t len)
{
	if (!d->error && buf_append(&d->out, data, len))
		fail(d, -ENOMEM);
}

size_t der_header_len(size_t content_len)
{
	size_t n = 2;
	if (content_len >= 0x80)
		for (size_t l = content_len; l; l >>= 8)
			n++;
	return n;
}

size_t der_header_write(uint8_t *out, uint8_t tag, size_t content_len)
{
	out[0] = tag;
	if (content_len < 0x80) {
		out[1] = (uint8_t)content_len;
		return 2;
	}
	size_t octets = der_header_len(content_len) - 2;
	out[1] = (uint8_t)(0x80 | octets);
	for (size_t i = 0; i < octets; i++)
		out[2 + i] = (uint8_t)(content_len >> (8 * (octets - 1 - i)));
	return 2 + octets;
}

void der_begin(struct der *d, uint8_t tag)
{
	if (d->depth >= DER_MAX_DEPTH) {
		fail(d, -EINVAL);
		return;
	}
	d->open[d->depth++] = d->out.len;
	uint8_t head[2] = {tag, 0}; /* the length is patched in der_end */
	append(d, head, 2);
	if (tag == DER_BIT_STRING)
		append(d, "", 1);
}

void der_end(struct der *d)
{
	if (d->depth == 0) {
		fail(d, -EINVAL);
		return;
	}
	size_t start = d->open[--d->depth];
	if (d->error)
		return;
	size_t content = d->out.len - start - 2;
	size_t extra = der_header_len(content) - 2;
	if (extra) {
		if (buf_reserve(&d->out, extra)) {
			fail(d, -ENOMEM);
			return;
		}
		memmove(d->out.data + start + 2 + extra, d->out.data + start + 2, content);
		d->out.len += extra;
	}
	der_header_write(d->out.data + start, d->out.data[start], content);
}

void der_raw(struct der *d, const void *bytes, size_t len)
{
	append(d, bytes, len);
}

void der_tlv(struct der *d, uint8_t tag, const void *content, size_t len)
{
	uint8_t head[10];
	append(d, head, der_header_write(head, tag, len));
	append(d, content, len);
}

void der_int(struct der *d, int64_t value)
{
	uint8_t bytes[8];
	for (int i = 0; i < 8; i++)
		bytes[i] = (uint8_t)((uint64_t)value >> (56 - 8 * i));
	int skip = 0;
	/* Drop leading octets that only repeat the sign (X.690 §8.3.2). */
	while (skip < 7 && ((bytes[skip] == 0x00 && !(bytes[skip + 1] & 0x80)) ||
	                    (bytes[skip] == 0xff && (bytes[skip + 1] & 0x80))))
		skip++;
	der_tlv(d, DER_INTEGER, bytes + skip, (size_t)(8 - skip));
}

void der_uint_bytes(struct der *d, const uint8_t *magnitude, size_t len)
{
	while (len > 1 && magnitude[0] == 0) {
		magnitude++;
		len--;
	}
	if (len == 0) {
		der_tlv(d, DER_INTEGER, "", 1);
		return;
	}
	uint8_t head[10];
	bool pad = magnitude[0] & 0x80;
	append(d, head, der_header_write(head, DER_INTEGER, len + pad));
	if (pad)
		append(d, "", 1);
	append(d, magnitude, len);
}

void der_enum(struct der *d, int value)
{
	size_t at = d->out.len;
	der_int(d, value);
	if (!d->error)
		d->out.data[at] = DER_ENUMERATED;
}

int der_oid_encode(const char *dotted, uint8_t *out, size_t cap)
{
	uint64_t arcs[64];
	size_t count = 0;
	const char *p = dotted;
	while (*p) {
		if (count == 64 || *p < '0' || *p > '9')
			return -EINVAL;
		char *end;
		arcs[count++] = strtoull(p, &end, 10);
		p = end;
		if (*p == '.' && p[1])
			p++;
		else if (*p)
			return -EINVAL;
	}
	if (count < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39))
		return -EINVAL;
	arcs[1] += arcs[0] * 40;
	size_t len = 0;
	for (size_t i = 1; i < count; i++) {
		uint8_t groups[10];
		int n = 0;
		uint64_t v = arcs[i];
		do {
			groups[n++] = v & 0x7f;
			v >>= 7;
		} while (v);
		if (len + (size_t)n > cap)
			return -ENOSPC;
		while (n--)
			out[len++] = (uint8_t)(groups[n] | (n ? 0x80 : 0));
	}
	return (int)len;
}

void der_oid(struct der *d, const char *dotted)
{
	uint8_t content[128];
	int len = der_oid_encode(dotted, content, sizeof(content));
	if (len < 0) {
		fail(d, len);
		return;
	}
	der_tlv(d, DER_OID, content, (size_t)len);
}

void der_null(struct der *d)
{
	der_tlv(d, DER_NULL, NULL, 0);
}

void der_bool(struct der *d, bool value)
{
	uint8_t v = value ? 0xff : 0x00;
	der_tlv(d, DER_BOOLEAN, &v, 1);
}

void der_bit_string(struct der *d, const uint8_t *bits, size_t len, int unused)
{
	uint8_t head[10];
	uint8_t pad = (uint8_t)unused;
	append(d, head, der_header_write(head, DER_BIT_STRING, len + 1));
	append(d, &pad, 1);
	append(d, bits, len);
}

static void write_time(struct der *d, int64_t unix_seconds, bool generalized)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	char text[20];
	if (!gmtime_r(&t, &tm)) {
		fail(d, -EINVAL);
		return;
	}
	size_t n =
	        strftime(text, sizeof(text), generalized ? "%Y%m%d%H%M%SZ" : "%y%m%d%H%M%SZ", &tm);
	der_tlv(d, generalized ? DER_GENERALIZED_TIME : DER_UTC_TIME, text, n);
}

void der_time(struct der *d, int64_t unix_seconds)
{
	/* 2050-01-01T00:00:00Z */
	write_time(d, unix_seconds, unix_seconds >= 2524608000LL);
}

void der_generalized_time(struct der *d, int64_t unix_seconds)
{
	write_time(d, unix_seconds, true);
}

int der_finish(struct der *d, uint8_t **out, size_t *len)
{
	if (!d->error && d->depth)
		d->error = -EINVAL;
	if (d->error) {
		int err = d->error;
		der_free(d);
		return err;
	}
	*out = buf_steal(&d->out, len);
	return 0;
}

/* Reads one strict DER header at p (within end): the tag, and the content
 * length in *len, with *header its size. */
static inline int strict_header(const uint8_t *p, const uint8_t *end, uint8_t *tag, size_t *header,
                                size_t *len)
{
	if (end - p < 2 || (p[0] & 0x1f) == 0x1f)
		return -EINVAL; /* truncated, or a multi-octet tag number */
	*tag = p[0];
	uint8_t first = p[1];
	if (first < 0x80) {
		*header = 2;
		*len = first;
	} else {
		size_t octets = first & 0x7f;
		/* 0x80 is BER's indefinite form; more than sizeof(size_t)
		 * octets cannot be a length that fits the input. */
		if (octets == 0 || octets > sizeof(size_t) || (size_t)(end - p - 2) < octets)
			return -EINVAL;
		if (p[2] == 0)
			return -EINVAL; /* a leading zero octet: not the shortest form */
		size_t n = 0;
		for (size_t i = 0; i < octets; i++)
			n = (n << 8) | p[2 + i];
		if (n < 0x80)
			return -EINVAL; /* fits the short form */
		*header = 2 + octets;
		*len = n;
	}
	if ((size_t)(end - p) - *header < *len)
		return -EINVAL;
	return 0;
}

int der_check_strict(const uint8_t *der, size_t len)
{
	uint8_t tag;
	size_t header, content_len;
	if (!der || strict_header(der, der + len, &tag, &header, &content_len) < 0 ||
	    header + content_len != len)
		return -EINVAL;
	/* One walk over every header in order (this runs for every OCSP
	 * request): a constructed value's content is entered, with its end
	 * kept until the walk reaches it; a primitive's is stepped over. */
	const uint8_t *p = der, *ends[DER_MAX_DEPTH + 1];
	int depth = 0;
	ends[0] = der + len;
	while (p < ends[0]) {
		while (p == ends[depth])
			depth--;
		if (strict_header(p, ends[depth], &tag, &header, &content_len) < 0)
			return -EINVAL;
		p += header;
		if (tag & 0x20) {
			if (depth >= DER_MAX_DEPTH)
				return -EINVAL;
			ends[++depth] = p + content_len;
		} else {
			p += content_len;
		}
	}
	return 0;
}
