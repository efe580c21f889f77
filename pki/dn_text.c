/* DN-to-text rendering: see dn_text.h. */
#include "pki/dn_text.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>

/* ASN.1 string tags (X.680 §8.4). */
enum {
	TAG_UTF8 = 0x0c,
	TAG_NUMERIC = 0x12,
	TAG_PRINTABLE = 0x13,
	TAG_IA5 = 0x16,
	TAG_VISIBLE = 0x1a,
	TAG_UNIVERSAL = 0x1c,
	TAG_BMP = 0x1e,
};

/* The output: appends are all-or-nothing, so a text that does not fit ends
 * on a whole character or escape. */
struct text {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->full || t->len + n + 1 > t->cap) {
		t->full = true;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
}

static void put_str(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* The RFC 4514 §3 short names; other types are written as dotted OIDs. */
static const char *short_name(const uint8_t *oid, size_t len)
{
	static const uint8_t dc[] = {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19};
	static const uint8_t uid[] = {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01};
	if (len == 3 && oid[0] == 0x55 && oid[1] == 0x04) { /* 2.5.4.x */
		switch (oid[2]) {
		case 3: return "CN";
		case 6: return "C";
		case 7: return "L";
		case 8: return "ST";
		case 9: return "STREET";
		case 10: return "O";
		case 11: return "OU";
		}
	}
	if (len == sizeof dc && memcmp(oid, dc, len) == 0)
		return "DC";
	if (len == sizeof uid && memcmp(oid, uid, len) == 0)
		return "UID";
	return NULL;
}

/* Decodes one UTF-8 character (RFC 3629: shortest form, no surrogates, at
 * most U+10FFFF). Returns its length, or 0 when invalid. */
static size_t utf8_read(const uint8_t *p, size_t left, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, min = 0x80, *cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, min = 0x800, *cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, min = 0x10000, *cp = c & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Reads one character of a string of ASN.1 type `tag`. Returns its length
 * in bytes, or 0 when the bytes are not a valid character of that type. */
static size_t char_read(int tag, const uint8_t *p, size_t left, uint32_t *cp)
{
	switch (tag) {
	case TAG_UTF8: return utf8_read(p, left, cp);
	case TAG_IA5: *cp = p[0]; return p[0] < 0x80;
	/* PrintableString is read like VisibleString: certificates carry '@',
	 * '*' and '_' in it often enough, and the text stays exact. */
	case TAG_PRINTABLE:
	case TAG_VISIBLE: *cp = p[0]; return p[0] >= 0x20 && p[0] < 0x7f;
	case TAG_NUMERIC: *cp = p[0]; return p[0] == ' ' || (p[0] >= '0' && p[0] <= '9');
	case TAG_BMP:
		if (left < 2)
			return 0;
		*cp = (uint32_t)p[0] << 8 | p[1];
		return *cp >= 0xd800 && *cp <= 0xdfff ? 0 : 2; /* UCS-2 has no surrogates */
	case TAG_UNIVERSAL:
		if (left < 4)
			return 0;
		*cp = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		return *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff) ? 0 : 4;
	}
	return 0;
}

/* Counts the characters of a string value; -1 when it is not valid. */
static long chars_count(int tag, const uint8_t *p, size_t len)
{
	long n = 0;
	for (size_t at = 0; at < len; n++) {
		uint32_t cp;
		size_t k = char_read(tag, p + at, len - at, &cp);
		if (k == 0)
			return -1;
		at += k;
	}
	return n;
}

static void put_utf8(struct text *t, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	put(t, b, n);
}

/* One character of a value with RFC 4514 §2.4 escaping. */
static void put_escaped(struct text *t, uint32_t cp, bool first, bool last)
{
	static const char hex[] = "0123456789ABCDEF";
	if (cp < 0x20 || cp == 0x7f) { /* NUL (required) and the other controls */
		char e[3] = {'\\', hex[cp >> 4], hex[cp & 15]};
		put(t, e, sizeof e);
	} else if (cp < 0x80 && strchr(",+\"\\<>;", (int)cp)) {
		char e[2] = {'\\', (char)cp};
		put(t, e, sizeof e);
	} else if ((first && (cp == ' ' || cp == '#')) || (last && cp == ' ')) {
		char e[2] = {'\\', (char)cp};
		put(t, e, sizeof e);
	} else {
		put_utf8(t, cp);
	}
}

static void put_hex_value(struct text *t, const uint8_t *tlv, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	put(t, "#", 1);
	for (size_t i = 0; i < len; i++) {
		char pair[2] = {hex[tlv[i] >> 4], hex[tlv[i] & 15]};
		put(t, pair, sizeof pair);
	}
}

/* AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY }. */
static int put_attribute(struct text *t, uint8_t **p, const uint8_t *end)
{
	size_t len;
	if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -EINVAL;
	const uint8_t *atv_end = *p + len;
	mbedtls_asn1_buf oid = {.tag = MBEDTLS_ASN1_OID};
	if (mbedtls_asn1_get_tag(p, atv_end, &oid.len, MBEDTLS_ASN1_OID) || oid.len == 0)
		return -EINVAL;
	oid.p = *p;
	*p += oid.len;
	const uint8_t *value = *p;
	if (atv_end - value < 2)
		return -EINVAL;
	int tag = value[0];
	if (mbedtls_asn1_get_tag(p, atv_end, &len, tag) || *p + len != atv_end)
		return -EINVAL;
	const uint8_t *content = *p;
	*p += len;

	const char *name = short_name(oid.p, oid.len);
	if (name) {
		put_str(t, name);
	} else {
		char dotted[128];
		if (mbedtls_oid_get_numeric_string(dotted, sizeof dotted, &oid) < 0)
			return -EINVAL;
		put_str(t, dotted);
	}
	put(t, "=", 1);
	long count = name ? chars_count(tag, content, len) : -1;
	if (count < 0) {
		put_hex_value(t, value, (size_t)(atv_end - value));
		return 0;
	}
	size_t at = 0;
	for (long i = 0; i < count; i++) {
		uint32_t cp;
		at += char_read(tag, content + at, len - at, &cp);
		put_escaped(t, cp, i == 0, i == count - 1);
	}
	return 0;
}

int dn_text(const uint8_t *der, size_t len, char *out, size_t cap)
{
	struct text t = {.p = out, .cap = cap};
	if (cap > 0)
		out[0] = 0;
	if (!der)
		return -EINVAL;
	uint8_t *p = (uint8_t *)der;
	const uint8_t *end = der + len;
	size_t n;
	if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
	    p + n != end)
		goto invalid;
	for (bool first_rdn = true; p < end; first_rdn = false) {
		if (mbedtls_asn1_get_tag(&p, end, &n,
		                         MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) ||
		    n == 0)
			goto invalid;
		const uint8_t *rdn_end = p + n;
		if (!first_rdn)
			put(&t, ", ", 2);
		for (bool first_atv = true; p < rdn_end; first_atv = false) {
			if (!first_atv)
				put(&t, "+", 1);
			if (put_attribute(&t, &p, rdn_end) < 0)
				goto invalid;
		}
	}
	if (t.full)
		return -ENOSPC;
	return (int)t.len;
invalid:
	if (cap > 0)
		out[0] = 0;
	return -EINVAL;
}
