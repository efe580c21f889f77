/* Text encodings of bytes used across kensho: hex (serial numbers in paths and
 * on the command line) and base64 / base64url (OCSP GET, PEM bodies). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/** Writes 2*len lowercase hex digits and a NUL into out (size 2*len+1). */
void hex_encode(const uint8_t *data, size_t len, char *out);
/** Decodes hex (either case, even length) into out of capacity cap.
 * Returns the number of bytes, or -EINVAL (bad digit/odd length) / -ENOSPC. */
int hex_decode(const char *text, size_t text_len, uint8_t *out, size_t cap);

/** Decodes the %XX escape at text[at] (which is '%'; RFC 3986 §2.1): returns
 * the octet (0..255), or -EINVAL when two hex digits do not follow. */
int percent_escape_decode(const char *text, size_t len, size_t at);

/** Decodes base64 or base64url, with or without '=' padding, ignoring no other
 * characters. Returns the number of bytes written, -EINVAL or -ENOSPC. */
int base64_decode_any(const char *text, size_t text_len, uint8_t *out, size_t cap);
/** Encodes standard base64 with padding and a NUL; out needs 4*ceil(len/3)+1.
 * Returns the length written (without the NUL). */
size_t base64_encode(const uint8_t *data, size_t len, char *out);

/** Writes v in decimal and a NUL into out (21 bytes suffice). Returns the
 * number of digits. A printf-free helper for per-request header values. */
size_t decimal_encode(uint64_t v, char *out);
/** Writes v in lowercase hex without leading zeros and a NUL into out (17
 * bytes suffice). Returns the number of digits. */
size_t hex_encode_uint(uint64_t v, char *out);

/** Size of an IMF-fixdate with its NUL: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define HTTP_DATE_SIZE 30
/** Writes t (seconds since the epoch) as an IMF-fixdate (RFC 9110 5.6.7) and a
 * NUL into out. Returns 0, or -EINVAL when t is outside years 0-9999. */
int http_date_format(int64_t t, char out[HTTP_DATE_SIZE]);
