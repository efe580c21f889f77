/* Private to storage/: the environment, transactions, key layouts and the
 * helpers every record file shares. Nothing outside storage/ includes this. */
#pragma once
#include <lmdb.h>
#include <pthread.h>

#include "core/buf.h"
#include "storage/store.h"

/* The sub-databases, in the order store_open opens them (README.md, "Schema"). */
enum store_db {
	DB_META,
	DB_ISSUERS,
	DB_ISSUER_INDEX,
	DB_CERTS,
	DB_CERT_DER,
	DB_RESPONSES,
	DB_REVOKED,
	DB_CHANGES,
	DB_PERSONS,
	DB_INTAKE,
	DB_INTAKE_DIGEST,
	DB_AUDIT,
	DB_REFRESH,
	DB_LOG_LEAVES,
	DB_LOG_NODES,
	DB_LOG_STH,
	DB_LOG_RECORDS,
	DB_RESPONSES_SHA256,
	DB_BATCHES,
	DB_BATCH_REFS,
	DB_REPLICATION,
	DB_COUNT
};

/* What replicas receive of a sub-database (docs/cluster.md). A new
 * sub-database is replicated unless its entry says otherwise. */
enum store_db_replication {
	DB_REPLICATED = 0, /* every put and delete travels (the default) */
	DB_LOCAL,          /* this node's own: never in a change entry */
	DB_META_KEYS,      /* meta: everything but the local keys (leases) */
};

struct store_db_info {
	const char *name;
	enum store_db_replication replication;
};

/** The sub-databases' names and replication classes, indexed by enum store_db. */
extern const struct store_db_info store_dbs[DB_COUNT];

/* A write transaction's record of what it wrote to replicated sub-databases:
 * one (op, db, key) per store_put/store_del, in order. The values are read
 * back at commit, so MDB_RESERVE writes are captured once filled in. */
struct change_record {
	uint8_t *p;
	size_t len, cap;
	uint32_t ops;
	bool failed; /* out of memory: the commit fails rather than lose a change */
};

/* Read transactions kept reset for reuse (mdb_txn_reset/renew): beyond this
 * many idle ones, ending a read transaction frees it. */
#define STORE_TXN_POOL_DEFAULT 64

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	size_t map_max;
	bool read_only;
	bool has_refresh; /* false: a read-only store written before the refresh index */
	bool has_log;     /* false: a read-only store written before the Merkle log */
	bool has_batches; /* false: a read-only store written before batches and SHA-256 answers */
	bool has_replication; /* false: a read-only store written before the replication log */
	uint64_t replication_retain; /* change entries kept (trimmed at commit) */
	uint64_t replication_retain_bytes; /* and their bytes at most (0: no bound) */
	/* mdb_env_set_mapsize may run only while no transaction of this process
	 * is active: every transaction holds `remap` shared, a resize holds it
	 * exclusively. */
	pthread_rwlock_t remap;
	pthread_mutex_t pool_lock;
	struct store_txn *pool;
	unsigned pool_len;
	unsigned pool_max;
	struct counters_page *counters; /* counters.c; NULL when not mapped */
	bool counters_writable;
	/* the directory, to refuse a second open in this process (store.c) */
	dev_t dev;
	ino_t ino;
	pid_t pid;
	struct store *next_open;
};

struct store_txn {
	struct store *store;
	MDB_txn *txn;
	bool write;
	bool map_full;          /* a put hit MDB_MAP_FULL: commit/abort grow the map */
	size_t map_seen;        /* map size when a write transaction began */
	bool recording;         /* writes to replicated sub-databases go to `changes` */
	struct change_record changes;
	struct buf scratch;     /* batch answers gathered from their records (batches.c) */
	struct store_txn *next; /* in the pool */
};

/** Maps DIR/counters (counters.c), creating it unless read_only; on
 * failure logs and leaves s->counters NULL (nothing is counted). */
void store_counters_open(struct store *s, const char *dir, bool read_only);
/** Unmaps what store_counters_open mapped. */
void store_counters_close(struct store *s);

/** Translates an LMDB or system error code to a negative errno. */
int store_error(int rc);

/** The most value bytes a record with a key of key_len bytes may hold and
 * stay inside its leaf page. A larger value goes to overflow pages, which
 * LMDB must find as one contiguous run of free pages: once the free list is
 * large and fragmented (a store of millions of answers being refreshed),
 * each such allocation merges and scans the whole list. Values written at
 * the refresher's pace (batch answers, change-log entries) are kept in
 * records of at most this size. */
size_t store_inline_max(struct store_txn *txn, size_t key_len);

/** mdb_put with MDB_MAP_FULL bookkeeping; returns 0 or a negative errno. */
int store_put(struct store_txn *txn, enum store_db db, MDB_val *key, MDB_val *val, unsigned flags);
/** mdb_get; -ENOENT when absent. */
int store_get(struct store_txn *txn, enum store_db db, MDB_val *key, MDB_val *val);
/** mdb_del of a whole key; -ENOENT when absent. */
int store_del(struct store_txn *txn, enum store_db db, MDB_val *key);
/** Opens a cursor on db. */
int store_cursor(struct store_txn *txn, enum store_db db, MDB_cursor **out);
/** The last 8-byte big-endian key of db (0 when empty): append-only sequences. */
int store_last_seq(struct store_txn *txn, enum store_db db, uint64_t *seq);
/** store_last_seq for a sub-database whose entries may have later parts
 * under the u64 and more bytes: keys of 8 or part_key bytes. */
int store_last_seq_parts(struct store_txn *txn, enum store_db db, size_t part_key, uint64_t *seq);
/** -EINVAL unless txn is a write transaction, -EROFS on a read-only store. */
int store_require_write(struct store_txn *txn);

/* --- keys: compact big-endian binary so that one mdb_get finds a record and
 * cursors iterate in numeric order --------------------------------------------- */

/* issuer id (4) + serial content octets (1..20) */
#define CERT_KEY_MAX (4 + STORE_SERIAL_MAX)
/* issuer id (4) + revocation time (8, sign bit flipped) + serial */
#define REVOKED_KEY_MAX (4 + 8 + STORE_SERIAL_MAX)

/* u64 nextUpdate (0: no usable answer) + the certs key */
#define REFRESH_KEY_MAX (8 + CERT_KEY_MAX)

/* A responses value: version byte, the record version it was signed for,
 * thisUpdate, nextUpdate (8 octets each, big-endian), then either the DER
 * (version 1) or the u64 id of the batch answer in `batches` that holds it
 * (version 2). */
#define RESPONSE_HEADER  (1 + 8 + 8 + 8)
#define RESPONSE_V_BATCH 2
struct response_head {
	uint64_t cert_version;
	int64_t this_update;
	int64_t next_update;
	uint64_t batch; /* 0: the DER follows the header */
};
/* Reads a responses value's header: 0, or -EIO when it is not one. */
int response_head_read(const MDB_val *v, struct response_head *out);

/* --- batch answers (batches.c) ----------------------------------------------- */

/** The DER of batch answer `id` (valid within txn, until the next call on
 * it); -EIO when a reference names no batch. */
int batch_der(struct store_txn *txn, uint64_t id, struct store_blob *der);
/** The most members a batch answer has (OCSP_MAX_CERT_IDS of pki/). */
#define OCSP_BATCH_MEMBERS_MAX 32
/** Deletes the SHA-1 answer of every member that still refers to batch id
 * (making them missing in the refresh index), and with them the batch. */
int batch_invalidate(struct store_txn *txn, uint64_t id);
/** Reads a status record by its certs key (certs.c). */
int store_cert_get_key(struct store_txn *txn, const uint8_t *key, size_t klen,
                       struct store_cert *out);
/** Drops the cached answer under key in db (responses or responses_sha256),
 * if any: its batch loses a reference (and is deleted with its last one);
 * the entry is deleted when `del`, else left for the caller to overwrite. */
int response_release(struct store_txn *txn, enum store_db db, const uint8_t *key, size_t klen,
                     bool del);
/** Builds the certs/responses/cert_der key; returns its length or -EINVAL. */
int cert_key(uint32_t issuer_id, const struct store_serial *serial, uint8_t out[CERT_KEY_MAX]);
/** Builds a revocation-index key (serial may be NULL: the range start). */
size_t revoked_key(uint32_t issuer_id, int64_t when, const struct store_serial *serial,
                   uint8_t out[REVOKED_KEY_MAX]);

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* --- shared by the record files ------------------------------------------------ */

/** Appends a change-log record (changes.c). */
int change_append(struct store_txn *txn, enum store_change_type type, uint32_t issuer_id,
                  const struct store_serial *serial);
/** Adds delta to an issuer's certificate counter (certs.c). */
int cert_count_add(struct store_txn *txn, uint32_t issuer_id, int64_t delta);

/* --- the refresh index (refresh.c) ------------------------------------------- */

/** The index position of a record with this key and version: the nextUpdate
 * of its cached response if signed for that version, else 0. */
int refresh_index_state(struct store_txn *txn, const uint8_t *ckey, size_t clen,
                        uint64_t cert_version, int64_t *next_update);
/** Moves a record's entry from `from` (when `had`) to `to`. */
int refresh_index_move(struct store_txn *txn, const uint8_t *ckey, size_t clen, int64_t from,
                       int64_t to, bool had);
/** Indexes every record of a store written before the index existed. */
int refresh_index_build(struct store_txn *txn);

/* --- the Merkle log (log.c) ----------------------------------------------------- */

/** Appends the leaf of a record just written: `value` is its stored value
 * (type octet + value are the leaf's data). */
int log_append(struct store_txn *txn, enum store_log_type type, uint64_t record, const void *value,
               size_t len);
/** Logs every intake and audit record of a store written before the log,
 * in order of their times (intake first on a tie). */
int log_build(struct store_txn *txn);

/* --- the replication log (replication.c) ---------------------------------------- */

/** Notes a put (or, del=true, a delete) of key in db for this transaction's
 * change entry, if db is replicated and the transaction records. */
void change_note(struct store_txn *txn, enum store_db db, const MDB_val *key, bool del);
/** Adopts the data directory's retention bound, recording `configured`
 * (0: none given) as the new one when the store is writable. */
int replication_retain_load(struct store *s, uint64_t configured, uint64_t configured_bytes);
/** Appends the transaction's change entry (if it wrote anything replicated)
 * to the replication log and trims the log to its retention; called by
 * store_txn_commit just before the LMDB commit. */
int change_flush(struct store_txn *txn);
