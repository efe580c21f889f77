/* PROXY protocol v2 header parsing and the trusted-address list (see
 * proxy_protocol.h). Section numbers refer to HAProxy's
 * doc/proxy-protocol.txt. */
#include "core/proxy_protocol.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* §2.2: the 12 bytes that begin every v2 header. */
static const uint8_t signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* §2.2.1: TLV types kensho reads; the rest are skipped. */
enum {
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_CRC32C = 0x03,
	PP2_TYPE_NOOP = 0x04,
	PP2_TYPE_UNIQUE_ID = 0x05,
	PP2_TYPE_SSL = 0x20,
	PP2_SUBTYPE_SSL_VERSION = 0x21,
	PP2_SUBTYPE_SSL_CN = 0x22,
};

#define PP2_UNIQUE_ID_MAX 128 /* §2.2.6 */

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t why_len, const char *fmt,
                                                      ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

uint32_t proxy_crc32c(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

bool proxy_header_suspected(const uint8_t *data, size_t len)
{
	static const char v1[] = "PROXY ";
	size_t n2 = len < sizeof signature ? len : sizeof signature;
	size_t n1 = len < sizeof v1 - 1 ? len : sizeof v1 - 1;
	return len > 0 && (memcmp(data, signature, n2) == 0 || memcmp(data, v1, n1) == 0);
}

static void format_address(int family, const uint8_t *addr, const uint8_t *port, char *out,
                           size_t out_len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned p = (unsigned)port[0] << 8 | port[1];
	if (!inet_ntop(family, addr, text, sizeof text))
		text[0] = '\0';
	if (family == AF_INET6)
		snprintf(out, out_len, "[%s]:%u", text, p);
	else
		snprintf(out, out_len, "%s:%u", text, p);
}

/* A sub-TLV's text: printable, no NUL, fits. */
static int copy_text(const uint8_t *v, size_t len, char *out, size_t out_len, const char *what,
                     char *why, size_t why_len)
{
	if (len >= out_len)
		return fail(why, why_len, "%s is %zu bytes, more than %zu", what, len, out_len - 1);
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			return fail(why, why_len, "%s holds a control byte", what);
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* §2.2.5: client (1), verify (4), then sub-TLVs that exactly fill it. */
static int parse_ssl(const uint8_t *v, size_t len, struct proxy_v2_header *out, char *why,
                     size_t why_len)
{
	if (len < 5)
		return fail(why, why_len, "PP2_TYPE_SSL is %zu bytes, shorter than its 5 fixed",
		            len);
	out->has_ssl = true;
	out->ssl_client = v[0];
	out->ssl_verify = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
	bool seen_version = false, seen_cn = false;
	size_t at = 5;
	while (at < len) {
		if (len - at < 3)
			return fail(why, why_len, "PP2_TYPE_SSL ends inside a sub-TLV header");
		uint8_t type = v[at];
		size_t sub_len = (size_t)v[at + 1] << 8 | v[at + 2];
		at += 3;
		if (sub_len > len - at)
			return fail(why, why_len, "PP2_TYPE_SSL sub-TLV 0x%02x runs past its end",
			            type);
		int rc = 0;
		if (type == PP2_SUBTYPE_SSL_VERSION) {
			if (seen_version)
				return fail(why, why_len, "two PP2_SUBTYPE_SSL_VERSION");
			seen_version = true;
			rc = copy_text(v + at, sub_len, out->ssl_version, sizeof out->ssl_version,
			               "PP2_SUBTYPE_SSL_VERSION", why, why_len);
		} else if (type == PP2_SUBTYPE_SSL_CN) {
			if (seen_cn)
				return fail(why, why_len, "two PP2_SUBTYPE_SSL_CN");
			seen_cn = true;
			/* UTF-8 is allowed here; only NUL would cut the text. */
			if (sub_len >= sizeof out->ssl_cn || memchr(v + at, 0, sub_len))
				return fail(why, why_len,
				            "PP2_SUBTYPE_SSL_CN is too long or holds NUL");
			memcpy(out->ssl_cn, v + at, sub_len);
			out->ssl_cn[sub_len] = '\0';
		}
		if (rc < 0)
			return rc;
		at += sub_len;
	}
	if ((out->ssl_client & (PROXY_V2_CLIENT_CERT_CONN | PROXY_V2_CLIENT_CERT_SESS)) &&
	    !(out->ssl_client & PROXY_V2_CLIENT_SSL))
		return fail(why, why_len, "PP2_TYPE_SSL names a client certificate without TLS");
	return 0;
}

static int parse_tlvs(const uint8_t *header, size_t total, size_t at, struct proxy_v2_header *out,
                      char *why, size_t why_len)
{
	bool seen_ssl = false, seen_crc = false, seen_unique = false;
	while (at < total) {
		if (total - at < 3)
			return fail(why, why_len, "the header ends inside a TLV header");
		uint8_t type = header[at];
		size_t len = (size_t)header[at + 1] << 8 | header[at + 2];
		size_t value = at + 3;
		if (len > total - value)
			return fail(why, why_len, "TLV 0x%02x runs past the header's end", type);
		int rc = 0;
		switch (type) {
		case PP2_TYPE_SSL:
			if (seen_ssl)
				return fail(why, why_len, "two PP2_TYPE_SSL TLVs");
			seen_ssl = true;
			rc = parse_ssl(header + value, len, out, why, why_len);
			break;
		case PP2_TYPE_CRC32C: {
			if (seen_crc)
				return fail(why, why_len, "two PP2_TYPE_CRC32C TLVs");
			seen_crc = true;
			if (len != 4)
				return fail(why, why_len, "PP2_TYPE_CRC32C is %zu bytes, not 4",
				            len);
			/* §2.2.3: over the whole header with the checksum zeroed. */
			uint8_t *copy = malloc(total);
			if (!copy)
				return -ENOMEM;
			memcpy(copy, header, total);
			memset(copy + value, 0, 4);
			uint32_t crc = proxy_crc32c(copy, total);
			free(copy);
			const uint8_t *v = header + value;
			uint32_t sent = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
			                (uint32_t)v[2] << 8 | v[3];
			if (crc != sent)
				return fail(why, why_len,
				            "PP2_TYPE_CRC32C does not match the header");
			out->has_crc32c = true;
			break;
		}
		case PP2_TYPE_UNIQUE_ID:
			if (seen_unique)
				return fail(why, why_len, "two PP2_TYPE_UNIQUE_ID TLVs");
			seen_unique = true;
			if (len > PP2_UNIQUE_ID_MAX)
				return fail(why, why_len,
				            "PP2_TYPE_UNIQUE_ID is %zu bytes, more than %d", len,
				            PP2_UNIQUE_ID_MAX);
			break;
		default: /* ALPN, AUTHORITY, NOOP, NETNS, custom: not used here */ break;
		}
		if (rc < 0)
			return rc;
		at = value + len;
	}
	return 0;
}

int proxy_v2_parse(const uint8_t *data, size_t len, struct proxy_v2_header *out, char *why,
                   size_t why_len)
{
	memset(out, 0, sizeof *out);
	size_t n = len < sizeof signature ? len : sizeof signature;
	if (memcmp(data, signature, n) != 0) {
		if (why && why_len)
			snprintf(why, why_len, "no PROXY protocol v2 signature");
		return -EPROTO;
	}
	if (len < PROXY_V2_FIXED_BYTES)
		return -EAGAIN;
	uint8_t version = data[12] >> 4, command = data[12] & 0x0F;
	if (version != 2)
		return fail(why, why_len, "PROXY protocol version %u, not 2", version);
	if (command > 1)
		return fail(why, why_len, "PROXY command 0x%x is neither LOCAL nor PROXY", command);
	uint8_t family = data[13];
	size_t body = (size_t)data[14] << 8 | data[15];
	size_t total = PROXY_V2_FIXED_BYTES + body;
	if (total > PROXY_V2_MAX_BYTES) {
		if (why && why_len)
			snprintf(why, why_len, "PROXY header of %zu bytes, more than %d", total,
			         PROXY_V2_MAX_BYTES);
		return -EMSGSIZE;
	}
	/* §2.2: TCP over IPv4 (0x11) or IPv6 (0x21); UNSPEC only with LOCAL. */
	size_t address_len;
	if (family == 0x11)
		address_len = 12;
	else if (family == 0x21)
		address_len = 36;
	else if (family == 0x00 && command == 0)
		address_len = 0;
	else
		return fail(why, why_len,
		            "PROXY family/protocol 0x%02x is not TCP over IPv4 or IPv6", family);
	if (body < address_len)
		return fail(why, why_len,
		            "PROXY address block of %zu bytes, family 0x%02x needs %zu", body,
		            family, address_len);
	if (len < total)
		return -EAGAIN;
	const uint8_t *a = data + PROXY_V2_FIXED_BYTES;
	out->local = command == 0;
	/* §2.2: a LOCAL header's addresses are ignored. */
	if (!out->local && family == 0x11) {
		format_address(AF_INET, a, a + 8, out->source, sizeof out->source);
		format_address(AF_INET, a + 4, a + 10, out->destination, sizeof out->destination);
	} else if (!out->local) {
		format_address(AF_INET6, a, a + 32, out->source, sizeof out->source);
		format_address(AF_INET6, a + 16, a + 34, out->destination, sizeof out->destination);
	}
	int rc = parse_tlvs(data, total, PROXY_V2_FIXED_BYTES + address_len, out, why, why_len);
	if (rc < 0)
		return rc;
	out->length = total;
	return (int)total;
}

/* --- trusted load balancers ------------------------------------------------ */

struct proxy_prefix {
	int family;
	uint8_t addr[16];
	unsigned bits;
};

struct proxy_trust {
	size_t count;
	struct proxy_prefix prefixes[];
};

static int parse_prefix(const char *word, struct proxy_prefix *p)
{
	char text[INET6_ADDRSTRLEN + 8];
	if (strlen(word) >= sizeof text)
		return -EINVAL;
	strcpy(text, word);
	char *slash = strchr(text, '/');
	long bits = -1;
	if (slash) {
		*slash = '\0';
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		bits = strtol(slash + 1, &end, 10);
		if (*end)
			return -EINVAL;
	}
	memset(p, 0, sizeof *p);
	if (inet_pton(AF_INET, text, p->addr) == 1) {
		p->family = AF_INET;
		p->bits = bits < 0 ? 32 : (unsigned)bits;
		return bits > 32 ? -EINVAL : 0;
	}
	if (inet_pton(AF_INET6, text, p->addr) == 1) {
		p->family = AF_INET6;
		p->bits = bits < 0 ? 128 : (unsigned)bits;
		return bits > 128 ? -EINVAL : 0;
	}
	return -EINVAL;
}

int proxy_trust_parse(const char *text, struct proxy_trust **out, char *err, size_t err_len)
{
	size_t words = 0;
	for (const char *s = text; s && *s;) {
		s += strspn(s, " \t,");
		if (*s)
			words++;
		s += strcspn(s, " \t,");
	}
	struct proxy_trust *t = calloc(1, sizeof *t + (words ? words : 1) * sizeof t->prefixes[0]);
	if (!t)
		return -ENOMEM;
	for (const char *s = text; s && *s;) {
		s += strspn(s, " \t,");
		size_t n = strcspn(s, " \t,");
		if (!n)
			break;
		char word[80];
		snprintf(word, sizeof word, "%.*s",
		         (int)(n < sizeof word - 1 ? n : sizeof word - 1), s);
		if (n >= sizeof word || parse_prefix(word, &t->prefixes[t->count]) != 0) {
			snprintf(err, err_len,
			         "\"%s\" is not an IPv4 or IPv6 address with an optional /PREFIX",
			         word);
			free(t);
			return -EINVAL;
		}
		t->count++;
		s += n;
	}
	*out = t;
	return 0;
}

void proxy_trust_free(struct proxy_trust *t)
{
	free(t);
}

static bool prefix_match(const struct proxy_prefix *p, int family, const uint8_t *addr)
{
	if (p->family != family)
		return false;
	unsigned full = p->bits / 8, rest = p->bits % 8;
	if (memcmp(p->addr, addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (p->addr[full] & mask) == (addr[full] & mask);
}

bool proxy_trust_allows(const struct proxy_trust *t, const char *peer_address)
{
	if (!t || !peer_address)
		return false;
	char text[INET6_ADDRSTRLEN + 2];
	const char *start = peer_address;
	size_t n;
	if (*start == '[') {
		start++;
		n = strcspn(start, "]");
	} else {
		const char *colon = strrchr(start, ':');
		n = colon ? (size_t)(colon - start) : strlen(start);
	}
	if (n >= sizeof text)
		return false;
	memcpy(text, start, n);
	text[n] = '\0';
	uint8_t addr[16];
	int family;
	if (inet_pton(AF_INET, text, addr) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, text, addr) == 1) {
		family = AF_INET6;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
		if (memcmp(addr, mapped, sizeof mapped) == 0) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < t->count; i++)
		if (prefix_match(&t->prefixes[i], family, addr))
			return true;
	return false;
}
