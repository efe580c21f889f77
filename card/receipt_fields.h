/* The fields kensho-card checks in an intake receipt's JSON content
 * (docs/intake.md: {"version":2,"receipt":N,"log_index":L,"received_at":"...",
 * "sha256":"<hex>","result":{..."valid":true...}}; version 1 receipts, made
 * before the Merkle log, have no log_index and are still read). The content is read only
 * after the receipt's signature verified against the pinned certificate; the
 * reader still treats it as untrusted bytes (bounded, fuzzed). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What a receipt says. */
struct receipt_summary {
	uint64_t number;
	bool has_log_index;   /**< false for a version 1 receipt */
	uint64_t log_index;   /**< the record's leaf in kensho's Merkle log */
	char received_at[40]; /**< RFC 3339 text as sent */
	char sha256[65];      /**< hex SHA-256 of the submitted bytes */
	bool valid;           /**< result.valid */
};

/** Finds the fields in the receipt content. Returns 0, or -EBADMSG when one
 * is missing or malformed. */
int receipt_fields_parse(const uint8_t *json, size_t len, struct receipt_summary *out);
