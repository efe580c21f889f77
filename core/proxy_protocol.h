/* The PROXY protocol version 2 (HAProxy's proxy-protocol.txt, §2.2): the
 * binary header a load balancer sends before the client's bytes, naming the
 * client's address and, in TLVs, what the balancer's TLS termination saw.
 *
 * Parsed strictly: the 12-byte signature, version 2, command LOCAL or PROXY,
 * TCP over IPv4 or IPv6 (any family for LOCAL, whose addresses are ignored),
 * an address block as long as its family needs, TLVs that exactly fill the
 * rest, at most one of each kind kensho reads, a PP2_TYPE_SSL whose sub-TLVs
 * exactly fill it, and a PP2_TYPE_CRC32C that matches. A header longer than
 * PROXY_V2_MAX_BYTES is refused. Unknown TLV types are skipped (§2.2.7).
 * Also the list of load-balancer addresses allowed to send one. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The longest header accepted, signature included (HAProxy's are a few
 * hundred bytes: addresses, SSL TLVs, a unique id of at most 128). */
#define PROXY_V2_MAX_BYTES 1024
/** Length of the fixed part: signature, version/command, family, length. */
#define PROXY_V2_FIXED_BYTES 16

/* PP2_TYPE_SSL's client field (§2.2.5). */
#define PROXY_V2_CLIENT_SSL       0x01 /**< the client connected over TLS */
#define PROXY_V2_CLIENT_CERT_CONN 0x02 /**< it sent a certificate on this connection */
#define PROXY_V2_CLIENT_CERT_SESS 0x04 /**< it sent one in this TLS session */

/** What a header said. Strings are NUL-terminated, "" when absent. */
struct proxy_v2_header {
	size_t length;   /**< header bytes, to skip before the client's data */
	bool local;      /**< LOCAL: the balancer's own connection (a health check) */
	char source[64]; /**< client "1.2.3.4:5555" or "[v6]:5555"; "" for LOCAL */
	char destination[64];
	bool has_ssl;         /**< a PP2_TYPE_SSL TLV was present */
	uint8_t ssl_client;   /**< its client field (PROXY_V2_CLIENT_*) */
	uint32_t ssl_verify;  /**< its verify field: 0 when the client certificate verified */
	char ssl_version[32]; /**< PP2_SUBTYPE_SSL_VERSION, e.g. "TLSv1.3" */
	char ssl_cn[256];     /**< PP2_SUBTYPE_SSL_CN: the client certificate's CN */
	bool has_crc32c;      /**< a PP2_TYPE_CRC32C TLV was present (and matched) */
};

/** Parses a header at the start of data. Returns its length (> 0) with out
 * filled; -EAGAIN when data is a correct beginning that needs more bytes;
 * -EPROTO when data does not begin with the v2 signature; -EBADMSG when the
 * header is malformed or -EMSGSIZE when it is longer than PROXY_V2_MAX_BYTES
 * (why says what, for the log). */
int proxy_v2_parse(const uint8_t *data, size_t len, struct proxy_v2_header *out, char *why,
                   size_t why_len);

/** True if data (len > 0) begins like a PROXY header of either version (the
 * v2 signature, or v1's "PROXY "), or is a prefix of one. */
bool proxy_header_suspected(const uint8_t *data, size_t len);

/** CRC-32C (Castagnoli), as PP2_TYPE_CRC32C uses it. */
uint32_t proxy_crc32c(const uint8_t *data, size_t len);

/** Addresses allowed to send PROXY headers: IPv4 and IPv6 prefixes. */
struct proxy_trust;

/** Parses "ADDR[/PREFIX] ..." (blanks or commas between). Returns 0, or
 * -EINVAL with the offending word in err, or -ENOMEM. An empty list is
 * valid and trusts nobody. */
int proxy_trust_parse(const char *text, struct proxy_trust **out, char *err, size_t err_len);
/** Frees a list (NULL is fine). */
void proxy_trust_free(struct proxy_trust *t);
/** True if a peer address as core formats it ("1.2.3.4:5555", "[v6]:5555",
 * IPv4-mapped "[::ffff:1.2.3.4]:5555") falls in one of the prefixes. */
bool proxy_trust_allows(const struct proxy_trust *t, const char *peer_address);
