/* kensho's store: one LMDB environment behind this API (docs/architecture.md, "Data").
 *
 * Nothing outside storage/ sees an LMDB type. All reads and writes happen in
 * a store_txn; a write transaction is the unit of atomicity (a revocation, the
 * invalidation of its cached OCSP response, its revocation-index entry and its
 * change-log record commit together or not at all) and of durability
 * (store_txn_commit returns only after fsync).
 *
 * Threads and processes: open the store after fork(), once per process. Read
 * transactions may run on any thread (MDB_NOTLS); one write transaction at a
 * time per environment (LMDB serialises writers across processes). Write
 * commits fsync and so must not run on an event-loop thread: handlers run them
 * with uv_queue_work.
 *
 * Pointers returned inside a transaction (struct store_blob) are valid only
 * until that transaction ends: copy before committing or aborting.
 *
 * Errors: 0, -ENOENT (no such record), -EEXIST, -ESTALE (conditional write
 * lost a race), -ENOSPC (map full and could not grow), -EIO, -ENOMEM, -EINVAL. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vocab.h"

struct store;
struct store_txn;

enum store_hash { STORE_HASH_SHA1 = 1, STORE_HASH_SHA256 = 2 };

/** Bytes owned by LMDB (inside a transaction) or by the caller (on input). */
struct store_blob {
	const uint8_t *data;
	size_t len;
};

/** Where a kensho data directory keeps the environment: DIR/store. Every
 * program (kenshod, kensho, kensho-bench) opens it through this name. */
#define STORE_DATA_SUBDIR "store"

struct store_options {
	const char *path;     /**< directory of the environment (created if absent) */
	size_t map_size;      /**< initial map size in bytes; 0 = 1 GiB */
	size_t map_max;       /**< growth cap on MDB_MAP_FULL; 0 = 1 TiB */
	unsigned max_readers; /**< 0 = 1024 */
	bool read_only;
	int read_txn_pool; /**< idle read transactions kept for reuse; 0 = 64, -1 = none */
	uint64_t replication_retain; /**< change entries the replication log keeps; 0 = default */
	uint64_t replication_retain_bytes; /**< and at most these bytes of them; 0 = as recorded */
};

/** Opens (creating if needed) the environment and all sub-databases, clears
 * stale reader slots (mdb_reader_check). Returns 0 or a negative errno and a
 * message for people in the log. */
int store_open(const struct store_options *opts, struct store **out);
/** Closes the environment. No transaction may be open. */
void store_close(struct store *s);

/** The size of this process's map of the environment in bytes (grows on
 * MDB_MAP_FULL; adopts a map another process grew and filled beyond it; for
 * metrics and tests). Never waits for a transaction to end. */
size_t store_map_size(struct store *s);

/** Begins a read (write=false) or write transaction. A write transaction that
 * hits MDB_MAP_FULL on commit returns -EAGAIN after growing the map: redo the
 * whole transaction. Read transactions transparently adopt a map grown by
 * another process (MDB_MAP_RESIZED). */
int store_txn_begin(struct store *s, bool write, struct store_txn **out);
/** Commits (and fsyncs) a write transaction, or ends a read one. Frees txn. */
int store_txn_commit(struct store_txn *txn);
/** Abandons the transaction. Frees txn. */
void store_txn_abort(struct store_txn *txn);

/** Runs fn in a write transaction and commits it; when the map fills (in fn
 * or at commit) grows it and runs fn again from the start, so fn must have no
 * effects outside txn. Returns fn's nonzero result (after aborting), the
 * commit's result, or -ENOSPC at the map's maximum. */
int store_write(struct store *s, int (*fn)(struct store_txn *txn, void *arg), void *arg);

/* --- issuers --------------------------------------------------------------- */

struct store_issuer {
	uint32_t id;           /**< assigned by store_issuer_put when 0 */
	enum cert_kind kind;   /**< which certificates this CA issues */
	char label[16];        /**< "sign" or "auth": names its files and URLs */
	uint8_t name_sha1[20]; /**< hash of the DER subject Name */
	uint8_t key_sha1[20];  /**< hash of the subjectPublicKey BIT STRING value */
	uint8_t name_sha256[32];
	uint8_t key_sha256[32];
	uint64_t crl_number;      /**< number of the last CRL (full or delta) issued */
	uint64_t base_crl_number; /**< number of the last full CRL issued */
	int64_t base_crl_time;    /**< thisUpdate of that full CRL (unix seconds) */
};

/** Inserts or replaces an issuer (and its hash index entries). Also stores the
 * CA certificate DER. */
int store_issuer_put(struct store_txn *txn, struct store_issuer *issuer,
                     struct store_blob cert_der);
/** Reads an issuer by id. */
int store_issuer_get(struct store_txn *txn, uint32_t id, struct store_issuer *out);
/** Reads an issuer by label ("sign"/"auth"). */
int store_issuer_by_label(struct store_txn *txn, const char *label, struct store_issuer *out);
/** Finds an issuer by an OCSP CertID's hashes. -ENOENT if unknown. */
int store_issuer_find(struct store_txn *txn, enum store_hash alg, const uint8_t *name_hash,
                      const uint8_t *key_hash, uint32_t *id_out);
/** The CA certificate DER of an issuer (valid within txn). */
int store_issuer_cert(struct store_txn *txn, uint32_t id, struct store_blob *der_out);
/** Lists all issuers; calls fn for each until it returns nonzero. */
int store_issuer_each(struct store_txn *txn, int (*fn)(const struct store_issuer *, void *),
                      void *arg);

/* --- certificates ------------------------------------------------------------ */

struct store_cert {
	uint32_t issuer_id;
	struct store_serial serial;
	enum cert_kind kind;
	enum cert_status status;
	int64_t not_before; /**< unix seconds */
	int64_t not_after;
	int64_t revoked_at;           /**< unix seconds; 0 while good */
	enum crl_reason reason;       /**< valid when revoked */
	uint64_t person_id;           /**< links a person's certificates; 0 = none */
	struct store_serial pair;     /**< the same person's other-kind certificate (len 0: none) */
	struct store_serial replaces; /**< the certificate this one renewed */
	struct store_serial replaced_by; /**< the certificate that renewed this one */
	uint64_t version;                /**< bumped by every change; cached responses carry it */
	uint32_t partition;              /**< CRL partition: the local government code of the
	                                    municipality at issuance (docs/crl.md); 0 = none */
};

/** Reads a certificate's status record. -ENOENT if never issued. */
int store_cert_get(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                   struct store_cert *out);

/** Inserts a new certificate (-EEXIST if the serial exists) with its DER
 * (may be empty for synthetic populations) and appends a change record. */
int store_cert_insert(struct store_txn *txn, struct store_cert *cert, struct store_blob der);

/** Updates a certificate's links (pair, replaces, replaced_by, person_id),
 * bumping its version and appending a change record. */
int store_cert_update_links(struct store_txn *txn, struct store_cert *cert);

/** Revokes a certificate: sets status, time and reason, adds it to the
 * revocation index, deletes its cached OCSP responses (and, when its answer
 * is a batch's, that batch's answers for the other members, which then
 * fall due), bumps its version and appends a change record — all in txn. -EALREADY if already
 * revoked (except certificateHold → other reason, which updates). */
int store_cert_revoke(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                      int64_t revoked_at, enum crl_reason reason);

/** The certificate's DER (valid within txn); -ENOENT if none was stored. */
int store_cert_der(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                   struct store_blob *der_out);

/** Iterates an issuer's revoked certificates in order of revocation time,
 * starting at `since` (inclusive, unix seconds), without loading them all:
 * calls fn for each until it returns nonzero (which is then returned). */
int store_revoked_each(struct store_txn *txn, uint32_t issuer_id, int64_t since,
                       int (*fn)(const struct store_cert *, void *), void *arg);

/** Counts certificates of an issuer (for metrics and tests). */
int store_cert_count(struct store_txn *txn, uint32_t issuer_id, uint64_t *count);

/* --- personal data (the signing certificate's four items) ---------------------- */

struct store_person {
	uint64_t id;
	char name[256];    /**< UTF-8 */
	char birth[10];    /**< EYYYYMMDD as in the certificate */
	int sex;           /**< 1 male, 2 female, 3 unknown */
	char address[801]; /**< UTF-8, up to 200 characters */
};

/** Stores a person (id assigned when 0). */
int store_person_put(struct store_txn *txn, struct store_person *person);
/** Reads a person. */
int store_person_get(struct store_txn *txn, uint64_t id, struct store_person *out);

/* --- cached OCSP responses ------------------------------------------------------- */

struct store_response {
	struct store_blob der; /**< the full OCSPResponse (valid within txn) */
	int64_t this_update;
	int64_t next_update;
	uint64_t cert_version; /**< the store_cert.version it was signed for */
	/** Which of the certificate's two cached answers: the SHA-1 CertID form
	 * (0 or STORE_HASH_SHA1; the one pre-signed and refreshed) or the
	 * SHA-256 one (cached when first asked for). */
	enum store_hash hash;
};

/** Looks up a certificate and its cached SHA-1 CertID answer in one go.
 * Returns 0 with *cert filled; *response->der.data is NULL when there is no
 * usable cached response (none, or signed for an older version of the
 * record). -ENOENT if the certificate was never issued. */
int store_status_lookup(struct store_txn *txn, uint32_t issuer_id,
                        const struct store_serial *serial, struct store_cert *cert,
                        struct store_response *response);

/** store_status_lookup for the answer of CertID form `hash` (SHA-1 or
 * SHA-256; any other form has no cached answer). Two gets, three when the
 * answer is a batch's (the batch's DER is a get of its own). */
int store_status_lookup_form(struct store_txn *txn, uint32_t issuer_id,
                             const struct store_serial *serial, enum store_hash hash,
                             struct store_cert *cert, struct store_response *response);

/** Caches a signed response for (issuer, serial) in the slot of
 * response->hash, but only if the certificate's version still equals
 * response->cert_version: otherwise -ESTALE and nothing is written (a
 * revocation won the race). */
int store_response_put(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                       const struct store_response *response);

/** One certificate answered by a batch answer. */
struct store_batch_member {
	struct store_serial serial;
	uint64_t cert_version; /**< the record version its SingleResponse says */
	int result; /**< set by store_batch_put: 0 cached, -ESTALE, -ENOENT, -ECANCELED */
};

/** Caches one signed response answering several certificates of one issuer
 * (SHA-1 CertIDs, one thisUpdate/nextUpdate) as the SHA-1 answer of every
 * member, but only if every member's record still has the version it was
 * signed for: otherwise nothing is written, the changed members get result
 * -ESTALE (-ENOENT if gone) and the others -ECANCELED (the bytes would still
 * say good for a certificate revoked meanwhile). The DER is stored once, in
 * `batches`, with its members and a count of the answers that refer to it;
 * replacing or deleting the last of them deletes it, and revoking a member
 * deletes every member's reference (store_cert_revoke). Returns 0 (even when
 * nothing was cached) or an error that must abort txn. */
int store_batch_put(struct store_txn *txn, uint32_t issuer_id,
                    const struct store_response *response, struct store_batch_member *members,
                    size_t count);

/** Counts the stored batch answers (for tests and metrics; no scan). */
int store_batch_count(struct store_txn *txn, uint64_t *count);

/** Counts the cached responses of every issuer (LMDB keeps the count: no scan). */
int store_response_count(struct store_txn *txn, uint64_t *count);

/** How the certificates' cached answers stand at one time. */
struct store_freshness {
	uint64_t fresh;             /**< a usable answer whose nextUpdate is after due_at */
	uint64_t due;               /**< a usable answer whose nextUpdate is at or before due_at */
	uint64_t missing;           /**< no answer, or one signed for an older record */
	int64_t oldest_this_update; /**< of the usable answers; 0 when none */
};

/** Walks every certificate with its cached response (two cursors in the
 * same key order, merged): O(certificates) reads, so run it off the event
 * loop. `due_at` is now + the refresh margin. */
int store_response_freshness(struct store_txn *txn, int64_t due_at, struct store_freshness *out);

/** How one certificate's cached answer stands (as store_freshness counts). */
enum store_answer_state {
	STORE_ANSWER_FRESH = 1, /**< usable, nextUpdate after due_at */
	STORE_ANSWER_DUE,       /**< usable, nextUpdate at or before due_at */
	STORE_ANSWER_MISSING,   /**< none, or signed for an older record */
};

/** One certificate met by store_response_each. */
struct store_answer {
	uint32_t issuer_id;
	struct store_serial serial;
	enum store_answer_state state;
	int64_t this_update; /**< of the usable answer; 0 when missing */
};

/** Walks certificates in key order (issuer id, then serial) with their
 * answers' state at due_at, as store_response_freshness classifies them,
 * starting just after (after->issuer_id, after->serial) or at the first
 * when `after` is NULL, so a long walk can resume in a later transaction
 * (`kensho presign`). Calls fn for each until it returns nonzero, which is
 * then returned. O(certificates walked) reads. */
int store_response_each(struct store_txn *txn, int64_t due_at, const struct store_answer *after,
                        int (*fn)(const struct store_answer *, void *), void *arg);

/* --- signatures by purpose (store-wide) -------------------------------------------- */

/** Why an OCSP answer was signed. */
enum store_signature_purpose {
	STORE_SIGNATURE_LIVE,     /**< at request time (nonce, miss, stale answer) */
	STORE_SIGNATURE_REFRESH,  /**< by the refresher, before nextUpdate */
	STORE_SIGNATURE_ISSUANCE, /**< at issuance, revocation, gen, import, presign */
	STORE_SIGNATURE_PURPOSES
};

/** Counts n signatures made for `purpose` in the counters every process that
 * opens this environment shares (DIR/store/counters, not LMDB: no write
 * transaction, one atomic add). Does nothing on a read-only store or when
 * the counters could not be mapped. Any thread. */
void store_signatures_add(struct store *s, enum store_signature_purpose purpose, uint64_t n);
/** Reads the store-wide signature counts since the counters file was made
 * (zeros when there is none). Any thread. */
void store_signatures_read(struct store *s, uint64_t out[STORE_SIGNATURE_PURPOSES]);
/** "live", "refresh" or "issuance": the label /metrics and the CLI use. */
const char *store_signature_purpose_name(enum store_signature_purpose purpose);

/* --- the refresh index ------------------------------------------------------------ */

/** One certificate in the refresh index: the nextUpdate of its usable cached
 * answer, 0 when it has none (no response, or one signed for an older record). */
struct store_refresh_entry {
	int64_t next_update;
	uint32_t issuer_id;
	struct store_serial serial;
};

/** Yields up to `limit` certificates whose entry's nextUpdate <= due_at,
 * oldest first (missing answers before all others, then by issuer id and
 * serial), calling fn for each until it returns nonzero (then returned).
 * The index holds exactly one entry per certificate and moves in the same
 * transaction as the record or response it mirrors. O(limit) reads. -ENOENT
 * on a read-only store written before the index existed. */
int store_refresh_each(struct store_txn *txn, int64_t due_at, size_t limit,
                       int (*fn)(const struct store_refresh_entry *, void *), void *arg);

/** store_refresh_each over the entries whose nextUpdate is at least `from`
 * (1: skip the missing answers), found with one seek. */
int store_refresh_each_from(struct store_txn *txn, int64_t from, int64_t due_at, size_t limit,
                            int (*fn)(const struct store_refresh_entry *, void *), void *arg);

/* --- leases: one holder of a named duty across processes ------------------------- */

struct store_lease {
	uint64_t holder; /**< 0: none */
	int64_t expires; /**< unix seconds */
};

/** Takes or renews the lease `name` (up to 32 bytes) for `holder` until now
 * + ttl, unless another holder's lease has not expired: then -EBUSY with
 * *out set to that lease. Write transaction. */
int store_lease_take(struct store_txn *txn, const char *name, uint64_t holder, int64_t now,
                     int64_t ttl, struct store_lease *out);
/** Reads the lease `name`; -ENOENT if none was ever taken. */
int store_lease_get(struct store_txn *txn, const char *name, struct store_lease *out);
/** Gives up the lease if `holder` holds it (so another may take it at once). */
int store_lease_release(struct store_txn *txn, const char *name, uint64_t holder);

/* --- change log (read by replicas and delta CRLs) -------------------------------- */

enum store_change_type {
	STORE_CHANGE_ISSUED = 1,
	STORE_CHANGE_REVOKED = 2,
	STORE_CHANGE_LINKED = 3
};

struct store_change {
	uint64_t seq;
	int64_t time;
	enum store_change_type type;
	uint32_t issuer_id;
	struct store_serial serial;
};

/** Iterates changes with seq >= from; fn returns nonzero to stop. */
int store_change_each(struct store_txn *txn, uint64_t from,
                      int (*fn)(const struct store_change *, void *), void *arg);
/** The last sequence number (0 if empty). */
int store_change_last(struct store_txn *txn, uint64_t *seq);

/* --- intake (append-only) ----------------------------------------------------- */

/** The evidence of the moment of receipt (docs/intake.md, "Evidence"):
 * what shows, once the signer's certificate has expired or been revoked,
 * that the signature was valid when it arrived. All empty in a record
 * stored before kensho kept it (version 1). */
struct store_intake_evidence {
	struct store_blob chain;     /**< DER certificates back to back: signer, then its CA */
	struct store_blob ocsp;      /**< the signed OCSPResponse used, DER */
	uint64_t crl_number;         /**< the issuer's CRL number at that moment */
	struct store_blob timestamp; /**< RFC 3161 TimeStampResp over the signature value */
};

struct store_intake {
	uint64_t receipt; /**< assigned by store_intake_put */
	int64_t received_at;
	uint8_t digest[32];            /**< SHA-256 of the original */
	struct store_blob original;    /**< the submitted bytes, unchanged */
	struct store_blob result;      /**< verification result (JSON) */
	struct store_blob receipt_der; /**< the signed receipt returned to the client */
	struct store_intake_evidence evidence;
	uint8_t version; /**< the layout read (1: no evidence); put writes the newest */
};

/** Appends an intake record; -EEXIST (with out->receipt set to the existing
 * receipt) if the same digest was stored before. */
int store_intake_put(struct store_txn *txn, struct store_intake *record);
/** The receipt number the next store_intake_put in this write transaction
 * will assign (so a signed receipt can carry it before the record is put). */
int store_intake_next_receipt(struct store_txn *txn, uint64_t *receipt);
/** Reads an intake record by receipt number. */
int store_intake_get(struct store_txn *txn, uint64_t receipt, struct store_intake *out);
/** Finds a receipt number by the original's digest. */
int store_intake_find(struct store_txn *txn, const uint8_t digest[32], uint64_t *receipt);

/* --- audit (append-only) ------------------------------------------------------- */

struct store_audit {
	uint64_t seq; /**< assigned by store_audit_append */
	int64_t time;
	char actor[256];   /**< caller: client certificate subject or "cli" */
	char action[64];   /**< e.g. "disclose-personal", "revoke", "issue" */
	char subject[128]; /**< e.g. "sign/0a1b..." */
};

/** Appends an audit record. */
int store_audit_append(struct store_txn *txn, struct store_audit *record);
/** Iterates audit records with seq >= from. */
int store_audit_each(struct store_txn *txn, uint64_t from,
                     int (*fn)(const struct store_audit *, void *), void *arg);

/* --- the Merkle log of intake and audit records (log.c) ---------------------------
 *
 * An append-only Merkle tree with RFC 9162 §2.1.1 hashing: every intake record
 * (store_intake_put) and every audit record (store_audit_append) becomes the
 * next leaf in the same write transaction. A leaf's data is one type octet
 * (STORE_LOG_INTAKE, STORE_LOG_AUDIT) followed by the record's exact stored
 * value bytes, so whatever the record holds is covered. Leaves are numbered
 * from 0. Signed tree heads (STHs) are stored by tree size, at most one per
 * size. docs/log.md has the formats. */

#define STORE_HASH_LEN 32
/** The longest proof of a tree of up to 2^63 leaves. */
#define STORE_PROOF_MAX 64
/** The bytes an STH's signature covers (store_sth_signed_bytes). */
#define STORE_STH_SIGNED_LEN 50

enum store_log_type { STORE_LOG_INTAKE = 1, STORE_LOG_AUDIT = 2 };

/** One leaf: which record it logs and its hash. */
struct store_log_leaf {
	uint64_t index;
	enum store_log_type type;
	uint64_t record; /**< the intake receipt or the audit sequence number */
	uint8_t hash[STORE_HASH_LEN];
};

/** A signed tree head. */
struct store_sth {
	uint64_t tree_size;
	int64_t timestamp_ms; /**< unix milliseconds when it was signed */
	uint8_t root[STORE_HASH_LEN];
	struct store_blob signature; /**< over store_sth_signed_bytes (valid within txn) */
};

/** The number of leaves. -ENOENT on a read-only store written before the log. */
int store_log_size(struct store_txn *txn, uint64_t *size);
/** Reads leaf `index`; -ENOENT past the end. */
int store_log_leaf_get(struct store_txn *txn, uint64_t index, struct store_log_leaf *out);
/** The leaf that logs record `record` of `type` (an intake receipt number or
 * an audit sequence number); -ENOENT if none. One read. */
int store_log_leaf_of(struct store_txn *txn, enum store_log_type type, uint64_t record,
                      uint64_t *index);
/** Reads leaf `index` and the stored value of the record it logs (valid
 * within txn): the leaf's data is the type octet followed by these bytes.
 * -ENOENT past the end, -EIO when the record is gone. */
int store_log_leaf_record(struct store_txn *txn, uint64_t index, struct store_log_leaf *leaf,
                          struct store_blob *value);
/** The Merkle tree hash (RFC 9162 §2.1.1) of the first `size` leaves
 * (size <= store_log_size; 0 gives SHA-256 of nothing). O(log size) reads. */
int store_log_root(struct store_txn *txn, uint64_t size, uint8_t root[STORE_HASH_LEN]);
/** The inclusion proof of leaf `index` in the tree of `size` leaves
 * (RFC 9162 §2.1.3.1): *count hashes into path. -EINVAL unless index < size
 * <= store_log_size. */
int store_log_inclusion(struct store_txn *txn, uint64_t index, uint64_t size,
                        uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN], size_t *count);
/** The consistency proof between the trees of `first` and `second` leaves
 * (RFC 9162 §2.1.4.1): empty when first == second or first == 0. -EINVAL
 * unless first <= second <= store_log_size. */
int store_log_consistency(struct store_txn *txn, uint64_t first, uint64_t second,
                          uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN], size_t *count);

/** The 50 octets an STH's signature covers, RFC 6962 §3.5's TreeHeadSignature:
 * u8 version 0, u8 signature_type 1 (tree_hash), u64 timestamp (ms), u64
 * tree_size, the 32-octet root hash. */
void store_sth_signed_bytes(const struct store_sth *sth, uint8_t out[STORE_STH_SIGNED_LEN]);
/** Stores an STH. -EALREADY (nothing written) unless its tree_size is larger
 * than every stored STH's, -EINVAL if it is beyond the log or its root is not
 * the log's root at that size. */
int store_sth_put(struct store_txn *txn, const struct store_sth *sth);
/** The STH of exactly `tree_size` leaves; -ENOENT if none was signed. */
int store_sth_get(struct store_txn *txn, uint64_t tree_size, struct store_sth *out);
/** The STH of the largest tree; -ENOENT if none was signed yet. */
int store_sth_latest(struct store_txn *txn, struct store_sth *out);
/** Every STH in order of tree size; fn returns nonzero to stop (returned). */
int store_sth_each(struct store_txn *txn, int (*fn)(const struct store_sth *, void *), void *arg);

/** What store_log_check found. */
struct store_log_report {
	uint64_t leaves;      /**< leaves checked */
	uint64_t records;     /**< intake and audit records checked */
	uint64_t sths;        /**< STH roots checked */
	bool bad;             /**< a mismatch was found: `problem` says the first */
	uint64_t bad_leaf;    /**< the leaf concerned (when about a leaf) */
	char problem[256];
};

/** Recomputes the tree from the stored intake and audit records (not from
 * the stored leaf hashes), and checks that every record has exactly one
 * leaf in order, that each stored leaf hash equals the record's, that the
 * cached subtree hashes give the same root, and that every stored STH's root
 * equals the recomputed root at its size. Stops at the first mismatch
 * (report->bad). Signatures are not checked here (ca/log.h). Returns 0 or
 * a negative errno when the store cannot be read. O(records). */
int store_log_check(struct store_txn *txn, struct store_log_report *report);

/* --- small helpers --------------------------------------------------------------- */

/** Parses a serial in hex (leading zeros allowed) into DER content form. */
int store_serial_from_hex(const char *hex, size_t len, struct store_serial *out);
/** Writes the serial as lowercase hex (no leading 00 pad) into out[41]: two
 * digits per octet, so 0x0a1b is "0a1b", as openssl prints serials; returns
 * the number of digits. */
size_t store_serial_to_hex(const struct store_serial *serial, char out[2 * STORE_SERIAL_MAX + 1]);

/* --- replication (replication.c; docs/cluster.md) --------------------------------- */

/* Every write transaction that puts or deletes in a replicated sub-database
 * appends one change entry to the replication log in the same transaction:
 * what a replica applies to hold the same bytes. */

/** Change entries kept by default (replication.retain). */
#define STORE_REPLICATION_RETAIN_DEFAULT 100000u
/** The change-entry layout this build writes and reads. */
#define STORE_CHANGE_VERSION 1
/** The epoch of every change before the first promotion. */
#define STORE_EPOCH_INITIAL 1

enum store_change_op { STORE_CHANGE_PUT = 1, STORE_CHANGE_DEL = 2 };

/** One operation of a decoded change entry; pointers into the entry. */
struct store_change_item {
	enum store_change_op op;
	const char *db; /**< the sub-database's name (one of the store's own) */
	struct store_blob key;
	struct store_blob value; /**< empty for STORE_CHANGE_DEL */
};

struct store_change_head {
	uint8_t version;
	uint64_t epoch;
	int64_t time;   /**< unix seconds at commit */
	uint32_t count; /**< operations */
};

/** Decodes a change entry strictly (known version, known replicated
 * sub-databases, key sizes LMDB accepts, exact length), calling fn (may be
 * NULL) per operation in order. -EBADMSG on any malformation, before fn
 * was called for any operation; fn's nonzero result stops and is returned. */
int store_change_decode(const uint8_t *data, size_t len, struct store_change_head *head,
                        int (*fn)(const struct store_change_item *item, void *arg), void *arg);

/** The replication log's first and last sequence (both 0 when empty). */
int store_replication_bounds(struct store_txn *txn, uint64_t *first, uint64_t *last);

/** Calls fn for each change entry after `after` in order, until fn returns
 * nonzero (1 stops without error) or max_bytes of entries were passed (at
 * least one is). -ESTALE when entries after `after` were already trimmed
 * (the caller needs a snapshot), -ERANGE when `after` is beyond the log. */
int store_replication_each(struct store_txn *txn, uint64_t after, size_t max_bytes,
                           int (*fn)(uint64_t seq, struct store_blob entry, void *arg), void *arg);

/** A replica's step: applies change entry `seq` (decoded strictly first) and
 * appends it to this store's own log under the same sequence, in txn; so
 * the log's last sequence is the replica's cursor, exactly once. -ESTALE
 * unless seq is the last applied plus one (a gap: take a snapshot),
 * -EBADMSG for an undecodable entry, -EPERM for an entry of an epoch older
 * than this store's (from a primary that was replaced); nothing is written
 * then. */
int store_replication_apply(struct store_txn *txn, uint64_t seq, const uint8_t *entry, size_t len);

/** The store's epoch: that of the changes it writes (1 until a promotion). */
int store_epoch(struct store_txn *txn, uint64_t *epoch);
/** The epoch of change entry seq; -ENOENT when the log does not hold it. */
int store_change_epoch_at(struct store_txn *txn, uint64_t seq, uint64_t *epoch);
/** Makes this store a primary's: the next epoch (one more than its own and
 * than its log's last entry's), written as a replicated meta entry, so this
 * transaction's change is the new epoch's first; forgets the replica's
 * state. store_replication_apply then refuses changes of older epochs
 * (-EPERM): the old primary is fenced off this store. */
int store_promote(struct store_txn *txn, uint64_t *epoch);

/** A primary that learnt a peer was promoted past its epoch (a local meta
 * entry): it takes no more writes. */
struct store_fence {
	uint64_t epoch;    /**< the newer primary's epoch */
	char primary[256]; /**< its URL, NUL-terminated */
};
/** Records the fence (kenshod's peer watcher); store_promote removes it. */
int store_fence_put(struct store_txn *txn, const struct store_fence *fence);
/** Reads it; -ENOENT when this store is not fenced. */
int store_fence_get(struct store_txn *txn, struct store_fence *out);

/** A replica's own view of its primary (a local meta entry, never replicated). */
struct store_replica_state {
	int64_t caught_up_ms;  /**< unix ms when this store last held all the primary had */
	uint64_t primary_last; /**< the primary's last sequence as last reported */
	int64_t contact_ms;    /**< unix ms of the primary's last answer */
	bool need_snapshot;    /**< the primary no longer has what follows (410/409) */
};

/** Records the replica's state in txn. */
int store_replica_state_put(struct store_txn *txn, const struct store_replica_state *state);
/** Reads it; -ENOENT on a store that never followed a primary. */
int store_replica_state_get(struct store_txn *txn, struct store_replica_state *out);

/* --- synchronous acknowledgement (replica_acks.c) --- */

/** The longest replica name an acknowledgement is recorded under. */
#define STORE_REPLICA_NAME_MAX 128

/** replication.sync_replicas and replication.sync_timeout, as kenshod
 * recorded them for every writer of the directory. */
struct store_sync {
	uint32_t replicas;  /**< 0: acknowledged once durable here */
	int64_t timeout_ms; /**< how long a write waits for them */
};

/** The primary's record that replica `name` durably holds every change up
 * to seq (local, never replicated; only moves forward). */
int store_replica_ack_put(struct store_txn *txn, const char *name, uint64_t seq, int64_t now_ms);
/** How many replicas have acknowledged seq or a later change. */
int store_replica_acks(struct store_txn *txn, uint64_t seq, unsigned *count);
/** Forgets every acknowledgement (a store that came as a snapshot holds its
 * primary's). */
int store_replica_acks_clear(struct store_txn *txn);
/** Records the settings; _get gives replicas 0 when none were recorded. */
int store_replication_sync_put(struct store_txn *txn, const struct store_sync *sync);
int store_replication_sync_get(struct store_txn *txn, struct store_sync *out);
/** Blocks (polling every 5 ms) until sync->replicas replicas acknowledged
 * seq: 0, or -ETIMEDOUT after sync->timeout_ms; *acked says how many did.
 * For the command line and threads off any loop. */
int store_replication_sync_wait(struct store *s, uint64_t seq, const struct store_sync *sync,
                                unsigned *acked);

/** Checks that DIR/data.mdb is a whole kensho store (opens, its pages all
 * present, the schema known, a replication log) and reads its log's last
 * sequence. 0, -EBADMSG (not LMDB, truncated), -EPROTO (not a store of
 * this schema) or another -errno. */
int store_snapshot_verify(const char *dir, uint64_t *last);

/** Writes a compacted, consistent copy of the whole environment to fd
 * (mdb_env_copyfd2 with MDB_CP_COMPACT); blocks, so off the loop. Its
 * replication log's last sequence is the point it corresponds to. */
int store_snapshot_write(struct store *s, int fd);
