/* The Merkle log's signed side (docs/log.md): signing tree heads, checking a
 * store's log and every signed tree head (`kensho audit verify`), the JSON
 * form of tree heads and proofs (GET /v1/log/... and exports), and writing
 * one record's inclusion proof with its tree head to a directory.
 *
 * Tree heads are signed with the intake receipt key (DIR/ca/receipt.pem and
 * receipt.key, made by kenshod's first start, handlers/receipt.h): the key
 * intake clients already pin signs both what was received and the log that
 * keeps it. The signature is RSA PKCS#1 v1.5 with SHA-256 over the 50 octets
 * of store_sth_signed_bytes, so `openssl dgst -sha256 -verify` checks it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "storage/store.h"

struct buf;
struct ca_sth_signer;

/** The lease (storage/store.h) the signing process holds. */
#define CA_STH_LEASE "log-sth"

/** Writes the paths of the key that signs tree heads: DIR/ca/receipt.pem
 * and DIR/ca/receipt.key. 0 or -ENAMETOOLONG. */
int ca_sth_key_files(const char *data_dir, char cert[PATH_MAX], char key[PATH_MAX]);

/** Loads the tree-head key of DIR; refuses a key file readable by group or
 * others (-EPERM); -ENOENT while it does not exist yet. */
int ca_sth_signer_open(const char *data_dir, struct ca_sth_signer **out);
/** Frees it (NULL is fine). */
void ca_sth_signer_free(struct ca_sth_signer *s);

/** One signing round, for the process holding the lease: takes or renews
 * CA_STH_LEASE for `holder` until now + lease_seconds (-EBUSY if another
 * process holds it), and if the log has grown beyond the latest signed tree
 * head, signs and stores one for its current size with timestamp now_ms.
 * *signed_size is that size, or 0 when nothing was due. Blocking (reads,
 * one RSA signature, a durable write): run it off the event loop. */
int ca_sth_sign_due(struct ca_sth_signer *s, struct store *store, uint64_t holder, int64_t now_ms,
                    int64_t lease_seconds, uint64_t *signed_size);

/** Gives up the lease if `holder` holds it. */
int ca_sth_release(struct store *store, uint64_t holder);

/** Appends an STH as JSON: {"tree_size","timestamp","sha256_root_hash",
 * "tree_head_signature"} with base64 hashes and signature (RFC 6962 §4.3). */
void ca_log_sth_json(struct buf *out, const struct store_sth *sth);
/** Appends an inclusion proof as JSON: {"leaf_index","tree_size","leaf_hash",
 * "audit_path":[base64...]} (RFC 6962 §4.5). */
void ca_log_inclusion_json(struct buf *out, uint64_t index, uint64_t size,
                           const uint8_t leaf_hash[STORE_HASH_LEN], uint8_t path[][STORE_HASH_LEN],
                           size_t count);
/** Appends a consistency proof as JSON: {"first","second","consistency":
 * [base64...]} (RFC 6962 §4.4). */
void ca_log_consistency_json(struct buf *out, uint64_t first, uint64_t second,
                             uint8_t path[][STORE_HASH_LEN], size_t count);

/** What ca_log_verify found. */
struct ca_log_verify_report {
	struct store_log_report log; /**< the rebuild from the records */
	uint64_t signatures;         /**< STH signatures checked */
	bool bad;                    /**< `problem` says the first mismatch */
	char problem[320];
};

/** `kensho audit verify`: store_log_check (the tree rebuilt from the
 * records, every leaf hash and every STH root), then every STH's signature
 * with DIR/ca/receipt.pem. Returns 0 with report->bad telling the verdict,
 * or a negative errno (with err) when something could not be read. */
int ca_log_verify(struct store *store, const char *data_dir, struct ca_log_verify_report *report,
                  char err[CA_ERR_LEN]);

/** Writes what shows leaf `index` is in the log (for intake receipt N, the
 * leaf is store_log_leaf_of(txn, STORE_LOG_INTAKE, N, &index), or the
 * receipt's own log_index) to the directory out_dir
 * (created if absent): sth.json and sth.bin + sth.sig (the latest signed tree
 * head: the 50 signed octets and the signature, for openssl dgst), proof.json
 * (the inclusion proof against that head) and leaf.bin (the leaf's data:
 * type octet + the record's stored value). -ENOENT when no signed tree head
 * covers the leaf yet. Returns 0 or a negative errno with err. */
int ca_log_export(struct store *store, uint64_t index, const char *out_dir, char err[CA_ERR_LEN]);
