/* The JPKI application's APDUs, without PC/SC: building command APDUs and
 * parsing response APDUs (ISO/IEC 7816-4 short APDUs). Everything here works
 * on byte arrays only, so it is unit-tested and fuzzed without a reader.
 * The command set and status words are the ones docs/jpki.md lists
 * (docs/card.md repeats them). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/** Longest short response APDU: 256 data bytes and the two status bytes. */
#define APDU_RESPONSE_MAX 258
/** Longest command APDU kensho builds: header, Lc, 255 data bytes, Le. */
#define APDU_COMMAND_MAX 261
/** Largest READ BINARY chunk (Le = 0x00 means 256, ISO 7816-4 §5.1). */
#define APDU_READ_CHUNK 256
/** Bytes read first to learn a certificate's length from its DER header. */
#define APDU_DER_HEADER_READ 8
/** Certificates larger than this are refused as malformed (JPKI's are ~1.5 KiB). */
#define APDU_CERT_MAX 16384
/** Token info is the first 0x20 bytes of EF 0006, space-padded. */
#define APDU_TOKEN_INFO_LEN 0x20

/** Status words the JPKI application returns (JPKI facts, ISO 7816-4 §5.1.3). */
enum apdu_sw {
	APDU_SW_OK = 0x9000,
	APDU_SW_FILE_NOT_FOUND = 0x6a82,
	APDU_SW_SECURITY_NOT_SATISFIED = 0x6982,
	APDU_SW_AUTH_BLOCKED = 0x6983,
	APDU_SW_WRONG_P1P2 = 0x6b00,
};

/** A response APDU split into its data and status word. `data` points into
 * the caller's buffer. */
struct apdu_response {
	const uint8_t *data;
	size_t len;
	uint16_t sw;
};

/** Which card the token info names. */
enum apdu_card_kind {
	APDU_CARD_UNKNOWN = 0,
	APDU_CARD_MY_NUMBER, /**< "JPKIAPICCTOKEN2" */
	APDU_CARD_RESIDENT,  /**< "JPKIAPICCTOKEN": the older resident card */
};

/** Splits a raw response (data || SW1 SW2). Returns 0, or -EPROTO when it is
 * shorter than two bytes or longer than APDU_RESPONSE_MAX. */
int apdu_response_parse(const uint8_t *raw, size_t len, struct apdu_response *out);

/** Maps a status word to kensho's error for it: 0 for 9000, -EKEYREJECTED for
 * 63Cx with x > 0 (wrong PIN, *tries_left = x), -EKEYREVOKED for 63C0 / 6983
 * (PIN blocked, *tries_left = 0), -EACCES for 6982 (PIN not verified),
 * -ENOENT for 6A82, -ERANGE for 6B00, -EPROTO for anything else.
 * tries_left may be NULL; it is set to -1 when the word carries no count. */
int apdu_status_error(uint16_t sw, int *tries_left);

/** Reads the total length (header + content) of the DER value that starts at
 * `header` (at least the first bytes of a certificate). The value must be a
 * SEQUENCE in definite-length form no larger than APDU_CERT_MAX. Returns 0 and
 * sets *total, -EAGAIN when more header bytes are needed, or -EBADMSG. */
int apdu_der_total_length(const uint8_t *header, size_t len, size_t *total);

/** Parses token info (EF 0006): copies the label without its space padding
 * into out (capacity cap, NUL-terminated) and names the card kind. Returns 0,
 * or -EBADMSG when the label is empty or not printable ASCII. */
int apdu_token_info_parse(const uint8_t *data, size_t len, char *out, size_t cap,
                          enum apdu_card_kind *kind);

/** Builders write a command APDU into out (at least APDU_COMMAND_MAX bytes)
 * and return its length, or a negative errno when the input cannot fit. */

/** SELECT the JPKI application by AID (00 A4 04 0C 0A <AID>). */
int apdu_build_select_jpki(uint8_t *out);
/** SELECT an elementary file by its two-byte id (00 A4 02 0C 02 <FID>). */
int apdu_build_select_ef(uint8_t *out, uint16_t file_id);
/** READ BINARY `count` (1..256) bytes at `offset` (< 0x8000). */
int apdu_build_read_binary(uint8_t *out, size_t offset, size_t count);
/** VERIFY with no data: asks for the selected PIN's tries left (answer 63Cx). */
int apdu_build_pin_status(uint8_t *out);
/** VERIFY the selected PIN with its ASCII text (1..16 characters). */
int apdu_build_verify(uint8_t *out, const char *pin, size_t pin_len);
/** COMPUTE DIGITAL SIGNATURE with the selected key over a DigestInfo
 * (80 2A 00 80 Lc <DigestInfo> 00); the card adds PKCS#1 v1.5 padding. */
int apdu_build_sign(uint8_t *out, const uint8_t *digest_info, size_t len);

/** Writes the SHA-256 DigestInfo (RFC 8017 §9.2 note 1) for `hash` into out
 * (51 bytes). Returns the length, 51. */
size_t apdu_sha256_digest_info(const uint8_t hash[32], uint8_t out[51]);
