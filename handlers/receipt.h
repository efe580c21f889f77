/* kensho's signed intake receipts (docs/intake.md, "Receipts").
 *
 * A receipt is a CMS SignedData (built by cms_build) whose attached id-data
 * content is a small JSON object:
 *   {"version":2,"receipt":N,"log_index":L,"received_at":"RFC 3339",
 *    "sha256":"<hex of the original>","result":{...the verification result...}}
 * where L is the index of the record's leaf in the Merkle log (storage/
 * store.h), whose inclusion proofs GET /v1/log/proof/inclusion serves.
 * Version 1 receipts (made before the log) have no log_index.
 * signed with signed attributes (the signing-time equals received_at) by the
 * receipt key. The receipt key is a self-standing RSA-2048 key with a
 * self-signed certificate at DIR/ca/receipt.pem (key DIR/ca/receipt.key, mode
 * 0600), created on first start; clients pin receipt.pem and check a receipt
 * with `openssl cms -verify -binary -inform DER -CAfile receipt.pem`.
 *
 * Signing is deterministic (PKCS#1 v1.5 over fixed content and time), so the
 * same record always yields the same receipt bytes. A receipt_signer is not
 * safe for concurrent use: RSA blinding state lives in the key. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct receipt_signer;

struct receipt_fields {
	uint64_t number;
	uint64_t log_index;      /**< the record's leaf in the Merkle log */
	int64_t received_at;     /**< unix seconds */
	uint8_t sha256[32];      /**< of the original bytes */
	const char *result_json; /**< a JSON object, embedded as "result" */
	size_t result_json_len;
};

/** Loads DIR/ca/receipt.pem and receipt.key, creating them first if absent
 * (concurrent starters agree on one key). Refuses a key file readable by
 * group or others (-EPERM). Returns 0 or a negative errno. */
int receipt_signer_open(const char *data_dir, struct receipt_signer **out);
/** Frees the signer. */
void receipt_signer_free(struct receipt_signer *s);
/** The receipt certificate's DER (owned by the signer). */
void receipt_signer_cert(const struct receipt_signer *s, const uint8_t **der, size_t *len);

/** Writes the receipt's JSON content into a malloc'd buffer. */
int receipt_content(const struct receipt_fields *f, uint8_t **out, size_t *len);
/** Builds and signs a receipt; *der is malloc'd. Returns 0 or -errno. */
int receipt_sign(struct receipt_signer *s, const struct receipt_fields *f, uint8_t **der,
                 size_t *len);
