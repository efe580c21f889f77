/* A distinguished name as text, the one way kensho prints or stores one
 * (/v1/verify and intake results, receipts, kensho-card's output).
 *
 * Format (docs/api.md): the RDNs in the certificate's own order, most
 * general first ("C=JP, L=愛知県, CN=..."; the order openssl and mbedTLS
 * print), joined by ", "; the attributes of a multi-valued RDN joined by
 * "+". Each attribute is TYPE=value with the RFC 4514 §3 short names (CN,
 * L, ST, O, OU, C, STREET, DC, UID) and the dotted OID for any other type.
 *
 * Values are UTF-8, decoded from UTF8String, PrintableString, IA5String,
 * VisibleString, NumericString, BMPString (UCS-2) and UniversalString
 * (UCS-4), and escaped as RFC 4514 §2.4 says: `\` before , + " \ < > ;,
 * before a leading space or #, and before a trailing space; NUL and other
 * control characters as `\XX` hex pairs. A value that is not a valid
 * string of its type (bad UTF-8, an odd-length BMPString, a surrogate,
 * TeletexString, a non-string type) or whose type has no short name is
 * written `#` followed by the hex of its whole DER encoding (RFC 4514 §2.4),
 * so the text never carries invalid UTF-8 and never loses a byte silently. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/** Renders the DER Name (SEQUENCE OF RelativeDistinguishedName) into out
 * (cap bytes, always NUL-terminated when cap > 0). Returns the text's length;
 * -EINVAL when der is not one well-formed Name (out is then ""); -ENOSPC when
 * it does not fit (out then holds the longest prefix that ends on a whole
 * character or escape). */
int dn_text(const uint8_t *der, size_t len, char *out, size_t cap);
