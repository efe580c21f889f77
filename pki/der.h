/* A forward DER writer. Constructed values are opened with der_begin and
 * closed with der_end; lengths are filled in on close (the content is moved
 * when the length needs the long form). Errors are sticky: write freely, then
 * check der_finish once. For outputs too large to hold in memory (a CRL of
 * millions of entries) write headers yourself with der_header_write once the
 * content length is known.
 *
 * Reading DER is done with mbedTLS's asn1.h (mbedtls_asn1_get_tag and friends),
 * or der_read_header where a header is read per request. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define DER_MAX_DEPTH 24

enum der_tag {
	DER_BOOLEAN = 0x01,
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_OCTET_STRING = 0x04,
	DER_NULL = 0x05,
	DER_OID = 0x06,
	DER_ENUMERATED = 0x0a,
	DER_UTF8_STRING = 0x0c,
	DER_PRINTABLE_STRING = 0x13,
	DER_IA5_STRING = 0x16,
	DER_UTC_TIME = 0x17,
	DER_GENERALIZED_TIME = 0x18,
	DER_SEQUENCE = 0x30,
	DER_SET = 0x31,
};

/** Context-specific tags: [n] constructed (EXPLICIT, or IMPLICIT of a
 * constructed type) and [n] primitive (IMPLICIT of a primitive type). */
#define DER_CONTEXT(n)           ((uint8_t)(0xa0 | (n)))
#define DER_CONTEXT_PRIMITIVE(n) ((uint8_t)(0x80 | (n)))

struct der {
	struct buf out;
	size_t open[DER_MAX_DEPTH]; /**< offsets of the open values' tags */
	int depth;
	int error; /**< first error (negative errno), sticky */
};

/** Reads a DER header with the expected tag, as mbedtls_asn1_get_tag does
 * (same results, same position of *p on failure: after the tag when only
 * the length is wrong), inline: a request's and a cached response's
 * headers are read on every OCSP request. Returns 0, or -1 when the tag
 * differs, the length is not one of the short or 1..4-octet long forms, or
 * the content would pass `end`. */
static inline int der_read_header(unsigned char **p, const unsigned char *end, size_t *len, int tag)
{
	if (end - *p < 1 || **p != tag)
		return -1;
	(*p)++;
	if (end - *p < 1)
		return -1;
	unsigned char first = **p;
	if (!(first & 0x80)) {
		*len = first;
		(*p)++;
	} else {
		size_t octets = first & 0x7f;
		if (octets < 1 || octets > 4 || (size_t)(end - *p) < octets + 1)
			return -1;
		size_t v = 0;
		for (size_t i = 1; i <= octets; i++)
			v = v << 8 | (*p)[i];
		*len = v;
		*p += octets + 1;
	}
	return *len > (size_t)(end - *p) ? -1 : 0;
}

/** Starts an empty writer. */
void der_init(struct der *d);
/** Frees the writer's memory. */
void der_free(struct der *d);
/** Opens a constructed value (SEQUENCE, SET, [n]) or an OCTET/BIT STRING
 * wrapper whose content is further DER. For a BIT STRING, the unused-bits
 * octet (0) is written for you. */
void der_begin(struct der *d, uint8_t tag);
/** Closes the innermost open value. */
void der_end(struct der *d);
/** Appends already-encoded DER (a whole TLV) as is. */
void der_raw(struct der *d, const void *bytes, size_t len);
/** Appends a TLV with the given tag and content. */
void der_tlv(struct der *d, uint8_t tag, const void *content, size_t len);
/** Appends an INTEGER (minimal two's complement). */
void der_int(struct der *d, int64_t value);
/** Appends a non-negative INTEGER from a big-endian magnitude (leading zeros
 * stripped, 0x00 added when the top bit is set). */
void der_uint_bytes(struct der *d, const uint8_t *magnitude, size_t len);
/** Appends an ENUMERATED. */
void der_enum(struct der *d, int value);
/** Appends an OBJECT IDENTIFIER from dotted text ("1.2.392.200149.8.5.5.1"). */
void der_oid(struct der *d, const char *dotted);
/** Appends NULL. */
void der_null(struct der *d);
/** Appends a BOOLEAN (TRUE is 0xff per DER). */
void der_bool(struct der *d, bool value);
/** Appends a BIT STRING with `unused` bits unused in the last octet. */
void der_bit_string(struct der *d, const uint8_t *bits, size_t len, int unused);
/** Appends a time the way RFC 5280 §4.1.2.5 says: UTCTime through 2049,
 * GeneralizedTime from 2050. */
void der_time(struct der *d, int64_t unix_seconds);
/** Appends a GeneralizedTime "YYYYMMDDHHMMSSZ" (OCSP uses only this form). */
void der_generalized_time(struct der *d, int64_t unix_seconds);
/** Ends writing: fails with the sticky error or -EINVAL if values are still
 * open. On success hands the bytes to the caller (who frees them). */
int der_finish(struct der *d, uint8_t **out, size_t *len);

/** Encodes a dotted OID's content octets into out (capacity cap). Returns the
 * length, or -EINVAL / -ENOSPC. */
int der_oid_encode(const char *dotted, uint8_t *out, size_t cap);
/** Bytes needed for a tag and the length field of `content_len`. */
size_t der_header_len(size_t content_len);
/** Writes a tag and length into out (at least der_header_len bytes). Returns
 * the number of bytes written. */
size_t der_header_write(uint8_t *out, uint8_t tag, size_t content_len);

/** Checks that [der, der+len) is exactly one TLV in DER's strict form, down
 * through every constructed value (at most DER_MAX_DEPTH deep): one-octet
 * tags, definite lengths in their shortest form (X.690 §10.1, §8.1.3.5).
 * Primitive contents are not looked into. Returns 0 or -EINVAL. */
int der_check_strict(const uint8_t *der, size_t len);
