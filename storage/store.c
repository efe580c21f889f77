/* The environment: opening, transactions, map growth and LMDB error
 * translation. Every other file in storage/ reaches LMDB through here or
 * through plain mdb_get/mdb_cursor calls inside a transaction begun here. */
#include "storage/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "storage/codec.h"

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define DEFAULT_MAP_MAX  ((size_t)1 << 40)
#define DEFAULT_READERS  1024u

/* Bumped when a layout changes incompatibly; a store written by a newer
 * kensho is refused rather than misread. 2 added the refresh index, which
 * every writer must maintain: a store of generation 1 is indexed once when
 * opened read-write, and a kensho of generation 1 refuses a store of 2.
 * 3 added the Merkle log of intake and audit records (log.c), built the
 * same way from the records of an older store.
 * 4 added batch answers (responses values of version 2 referring to
 * `batches`) and the SHA-256 answers (`responses_sha256`): a kensho of an
 * older generation would misread the former, so it must refuse such a store;
 * an older store needs nothing converted for them (their sub-databases are
 * created empty when it is opened read-write).
 * 5 added the replication log (replication.c), which every writer must
 * append to; it starts empty. */
#define SCHEMA_VERSION 5

const struct store_db_info store_dbs[DB_COUNT] = {
        [DB_META] = {"meta", DB_META_KEYS},
        [DB_ISSUERS] = {"issuers", DB_REPLICATED},
        [DB_ISSUER_INDEX] = {"issuer_index", DB_REPLICATED},
        [DB_CERTS] = {"certs", DB_REPLICATED},
        [DB_CERT_DER] = {"cert_der", DB_REPLICATED},
        [DB_RESPONSES] = {"responses", DB_REPLICATED},
        [DB_REVOKED] = {"revoked", DB_REPLICATED},
        [DB_CHANGES] = {"changes", DB_REPLICATED},
        [DB_PERSONS] = {"persons", DB_REPLICATED},
        [DB_INTAKE] = {"intake", DB_REPLICATED},
        [DB_INTAKE_DIGEST] = {"intake_digest", DB_REPLICATED},
        [DB_AUDIT] = {"audit", DB_REPLICATED},
        [DB_REFRESH] = {"refresh", DB_REPLICATED},
        [DB_LOG_LEAVES] = {"log_leaves", DB_REPLICATED},
        [DB_LOG_NODES] = {"log_nodes", DB_REPLICATED},
        [DB_LOG_STH] = {"log_sth", DB_REPLICATED},
        [DB_LOG_RECORDS] = {"log_records", DB_REPLICATED},
        [DB_RESPONSES_SHA256] = {"responses_sha256", DB_REPLICATED},
        [DB_BATCHES] = {"batches", DB_REPLICATED},
        [DB_BATCH_REFS] = {"batch_refs", DB_REPLICATED},
        [DB_REPLICATION] = {"replication", DB_LOCAL},
};

int store_error(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_MAP_FULL: return -EAGAIN;
	case MDB_MAP_RESIZED: return -EAGAIN;
	case MDB_READERS_FULL: return -EBUSY;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
	case MDB_DBS_FULL: return -ENOSPC;
	case MDB_BAD_VALSIZE: return -EINVAL;
	case MDB_INCOMPATIBLE:
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID: return -EPROTO;
	case MDB_PAGE_NOTFOUND:
	case MDB_CORRUPTED:
	case MDB_PANIC:
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_DBI:
	case MDB_TLS_FULL: return -EIO;
	default:
		/* LMDB passes system errors through as positive errno values. */
		return rc > 0 ? -rc : -EIO;
	}
}

/* How long a resize waits for this process's other transactions to end.
 * Transactions are short; running out means a thread holds a read
 * transaction while it grows the map, which would otherwise deadlock. */
#define REMAP_WAIT_SECONDS 5

/* Takes `remap` exclusively: no other transaction of this process is active
 * while LMDB remaps. -EDEADLK if they do not end in time. */
static int remap_lock(struct store *s)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REMAP_WAIT_SECONDS;
	if (pthread_rwlock_timedwrlock(&s->remap, &until) == 0)
		return 0;
	log_error("store: cannot resize the map: a transaction of this process stayed open "
	          "for %d s (a thread holding a read transaction while writing?)",
	          REMAP_WAIT_SECONDS);
	return -EDEADLK;
}

/* Adopts the map size another process recorded in the meta page after it
 * grew the map (MDB_MAP_RESIZED). */
static int store_adopt_map_size(struct store *s)
{
	int rc = remap_lock(s);
	if (rc)
		return rc;
	rc = mdb_env_set_mapsize(s->env, 0);
	pthread_rwlock_unlock(&s->remap);
	return store_error(rc);
}

/* Doubles the map after MDB_MAP_FULL, up to map_max. `seen` is the size the
 * failed transaction ran with: if another thread has grown the map since, the
 * transaction is simply redone. -ENOSPC at the cap. */
static int store_grow(struct store *s, size_t seen)
{
	int rc = remap_lock(s);
	if (rc)
		return rc;
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	size_t now = info.me_mapsize, next = now;
	if (now == seen && now < s->map_max) {
		next = now > s->map_max / 2 ? s->map_max : now * 2;
		rc = store_error(mdb_env_set_mapsize(s->env, next));
	}
	pthread_rwlock_unlock(&s->remap);
	if (rc)
		return rc;
	if (next != now) {
		log_info("store: map grown from %zu to %zu bytes", now, next);
	} else if (now == seen) {
		log_error("store: map is full at its maximum of %zu bytes; raise the maximum",
		          s->map_max);
		return -ENOSPC;
	}
	return 0;
}

static int store_open_dbs(struct store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
	if (rc)
		return store_error(rc);
	s->has_refresh = true;
	s->has_log = true;
	s->has_batches = true;
	s->has_replication = true;
	for (int i = 0; i < DB_COUNT && rc == 0; i++) {
		rc = mdb_dbi_open(txn, store_dbs[i].name, s->read_only ? 0 : MDB_CREATE,
		                  &s->dbi[i]);
		if (rc == MDB_NOTFOUND && i == DB_REFRESH && s->read_only) {
			s->has_refresh = false; /* generation 1, read-only: no index */
			rc = 0;
		}
		if (rc == MDB_NOTFOUND && i >= DB_LOG_LEAVES && i <= DB_LOG_RECORDS && s->read_only) {
			s->has_log = false; /* before generation 3, read-only: no log */
			rc = 0;
		}
		if (rc == MDB_NOTFOUND && i >= DB_RESPONSES_SHA256 && i <= DB_BATCH_REFS &&
		    s->read_only) {
			s->has_batches = false; /* before generation 4, read-only */
			rc = 0;
		}
		if (rc == MDB_NOTFOUND && i == DB_REPLICATION && s->read_only) {
			s->has_replication = false; /* before generation 5, read-only */
			rc = 0;
		}
	}
	if (rc) {
		mdb_txn_abort(txn);
		return store_error(rc);
	}
	MDB_val key = {6, "schema"}, val;
	uint32_t version = 0;
	rc = mdb_get(txn, s->dbi[DB_META], &key, &val);
	if (rc == 0) {
		struct decoder d;
		dec_init(&d, val.mv_data, val.mv_size);
		version = dec_u32(&d);
		if (dec_finish(&d) || version < 1 || version > SCHEMA_VERSION)
			rc = MDB_INCOMPATIBLE;
		if (rc == 0 && version < 2 && s->read_only)
			s->has_refresh = false;
		if (rc == 0 && version < 3 && s->read_only)
			s->has_log = false;
		if (rc == 0 && version < 4 && s->read_only)
			s->has_batches = false;
		if (rc == 0 && version < 5 && s->read_only)
			s->has_replication = false;
	}
	if ((rc == MDB_NOTFOUND || (rc == 0 && version < SCHEMA_VERSION)) && !s->read_only) {
		int err = 0;
		struct store_txn t = {.store = s, .txn = txn, .write = true};
		if (rc == 0 && version < 2) {
			/* generation 1: index what it holds, once, in this transaction */
			err = refresh_index_build(&t);
			if (err == 0)
				log_info("store: indexed the answers for refresh (schema %u to %d)",
				         version, SCHEMA_VERSION);
		}
		if (rc == 0 && version < 3 && err == 0) {
			/* before generation 3: log the records it holds, once */
			err = log_build(&t);
			if (err == 0)
				log_info("store: logged the intake and audit records in the Merkle "
				         "log (schema %u to %d)",
				         version, SCHEMA_VERSION);
		}
		if (err) {
			mdb_txn_abort(txn);
			return err;
		}
		if (rc == 0)
			log_info("store: schema %u upgraded to %d", version, SCHEMA_VERSION);
		uint8_t v[5] = {CODEC_V1};
		put_be32(v + 1, SCHEMA_VERSION);
		val = (MDB_val){sizeof(v), v};
		rc = mdb_put(txn, s->dbi[DB_META], &key, &val, 0);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return store_error(rc);
	}
	return store_error(mdb_txn_commit(txn));
}

/* The stores open in this process. LMDB allows one environment per file and
 * process: closing a second one would release the first one's reader slots
 * and file locks. A second open is refused instead. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *open_stores;

static int open_register(struct store *s, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* mdb_env_open reports it */
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->pid = getpid();
	int rc = 0;
	pthread_mutex_lock(&open_lock);
	for (struct store *o = open_stores; o; o = o->next_open)
		if (o->dev == s->dev && o->ino == s->ino && o->pid == s->pid)
			rc = -EBUSY; /* (entries from before a fork have another pid) */
	if (rc == 0) {
		s->next_open = open_stores;
		open_stores = s;
	}
	pthread_mutex_unlock(&open_lock);
	if (rc)
		log_error("store: %s is already open in this process", path);
	return rc;
}

static void open_unregister(struct store *s)
{
	pthread_mutex_lock(&open_lock);
	for (struct store **p = &open_stores; *p; p = &(*p)->next_open) {
		if (*p == s) {
			*p = s->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

int store_open(const struct store_options *opts, struct store **out)
{
	*out = NULL;
	if (!opts || !opts->path)
		return -EINVAL;
	if (!opts->read_only && mkdir(opts->path, 0700) != 0 && errno != EEXIST) {
		int err = -errno;
		log_error("store: cannot create %s: %s", opts->path, strerror(errno));
		return err;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int registered = open_register(s, opts->path);
	if (registered) {
		free(s);
		return registered;
	}
	s->read_only = opts->read_only;
	s->replication_retain = opts->replication_retain ? opts->replication_retain
	                                                 : STORE_REPLICATION_RETAIN_DEFAULT;
	s->replication_retain_bytes = opts->replication_retain_bytes;
	s->pool_max = opts->read_txn_pool < 0    ? 0
	              : opts->read_txn_pool == 0 ? STORE_TXN_POOL_DEFAULT
	                                         : (unsigned)opts->read_txn_pool;
	size_t map_size = opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE;
	s->map_max = opts->map_max ? opts->map_max : DEFAULT_MAP_MAX;
	if (s->map_max < map_size)
		s->map_max = map_size;
	pthread_rwlock_init(&s->remap, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);

	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, DB_COUNT);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, opts->max_readers ? opts->max_readers
		                                                      : DEFAULT_READERS);
	/* MDB_NOTLS: reader slots belong to transactions, not threads, so read
	 * transactions may run (and be reused) on libuv's worker threads. No
	 * MDB_NOSYNC/MDB_NOMETASYNC: a commit returns only once it is durable. */
	if (rc == 0)
		rc = mdb_env_open(s->env, opts->path, MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0),
		                  0600);
	if (rc) {
		int err = store_error(rc);
		log_error("store: cannot open the LMDB environment in %s: %s", opts->path,
		          mdb_strerror(rc));
		store_close(s);
		return err;
	}
	/* Slots left by processes that died inside a read transaction would pin
	 * old pages forever. */
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	if (dead)
		log_warn("store: cleared %d stale reader slot(s) in %s", dead, opts->path);

	int err = store_open_dbs(s);
	if (err == -EAGAIN) {
		/* another process grew the map beyond our initial size */
		err = store_adopt_map_size(s);
		if (err == 0)
			err = store_open_dbs(s);
	}
	if (err) {
		log_error("store: cannot open the sub-databases in %s: %s%s", opts->path,
		          strerror(-err),
		          err == -EPROTO   ? " (written by an incompatible version of kensho)"
		          : err == -ENOENT ? " (not initialised; open it once read-write)"
		                           : "");
		store_close(s);
		return err;
	}
	store_counters_open(s, opts->path, s->read_only);
	err = replication_retain_load(s, opts->replication_retain, opts->replication_retain_bytes);
	if (err == -EAGAIN) {
		err = store_adopt_map_size(s);
		if (err == 0)
			err = replication_retain_load(s, opts->replication_retain, opts->replication_retain_bytes);
	}
	if (err) {
		log_error("store: cannot read the replication log's retention in %s: %s",
		          opts->path, strerror(-err));
		store_close(s);
		return err;
	}
	*out = s;
	return 0;
}

size_t store_inline_max(struct store_txn *txn, size_t key_len)
{
	/* LMDB's largest node: (page - 16) / 2 rounded down to even, less 2;
	 * less the node's 8-byte header and the key; 8 to spare. */
	MDB_stat st;
	if (mdb_env_stat(txn->store->env, &st) != 0 || st.ms_psize < 1024)
		return 400;
	return ((((size_t)st.ms_psize - 16) / 2) & ~(size_t)1) - 2 - 8 - key_len - 8;
}

static void txn_free(struct store_txn *t)
{
	buf_free(&t->scratch);
	free(t);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	while (s->pool) {
		struct store_txn *t = s->pool;
		s->pool = t->next;
		mdb_txn_abort(t->txn);
		txn_free(t);
	}
	if (s->env)
		mdb_env_close(s->env);
	open_unregister(s);
	store_counters_close(s);
	pthread_rwlock_destroy(&s->remap);
	pthread_mutex_destroy(&s->pool_lock);
	free(s);
}

/* Another process (kensho gen, another worker) may have grown the map and
 * filled it past this process's map; this process would adopt the new size
 * at its next transaction (MDB_MAP_RESIZED), so adopt it now instead,
 * without waiting: if a transaction of this process is open, the size
 * reported is the current one and the next call adopts. */
size_t store_map_size(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	pthread_rwlock_rdlock(&s->remap);
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	pthread_rwlock_unlock(&s->remap);
	size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
	if (used > info.me_mapsize && pthread_rwlock_trywrlock(&s->remap) == 0) {
		if (mdb_env_set_mapsize(s->env, 0) == 0)
			mdb_env_info(s->env, &info);
		pthread_rwlock_unlock(&s->remap);
	}
	return info.me_mapsize;
}

/* A reset read transaction from the pool, renewed; NULL if none is idle. */
static struct store_txn *pool_take(struct store *s)
{
	pthread_mutex_lock(&s->pool_lock);
	struct store_txn *t = s->pool;
	if (t) {
		s->pool = t->next;
		s->pool_len--;
	}
	pthread_mutex_unlock(&s->pool_lock);
	return t;
}

/* Ends a read transaction: reset (while still holding `remap`, as the
 * transaction is active until then) and keep it for reuse, or free it. */
static void read_end(struct store_txn *t)
{
	struct store *s = t->store;
	mdb_txn_reset(t->txn);
	pthread_rwlock_unlock(&s->remap);
	pthread_mutex_lock(&s->pool_lock);
	bool kept = s->pool_len < s->pool_max;
	if (kept) {
		t->next = s->pool;
		s->pool = t;
		s->pool_len++;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (!kept) {
		mdb_txn_abort(t->txn);
		txn_free(t);
	}
}

/* One attempt at beginning a transaction, holding `remap` shared on success. */
static int txn_begin_once(struct store *s, bool write, struct store_txn **out)
{
	struct store_txn *t = write ? NULL : pool_take(s);
	pthread_rwlock_rdlock(&s->remap);
	int rc;
	if (t) {
		rc = mdb_txn_renew(t->txn);
		if (rc) {
			mdb_txn_abort(t->txn);
			txn_free(t);
			t = NULL;
		}
	} else {
		t = calloc(1, sizeof(*t));
		if (!t) {
			pthread_rwlock_unlock(&s->remap);
			return -ENOMEM;
		}
		t->store = s;
		t->write = write;
		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
		if (rc) {
			txn_free(t);
			t = NULL;
		}
	}
	if (rc) {
		pthread_rwlock_unlock(&s->remap);
		return rc == MDB_MAP_RESIZED ? 1 : store_error(rc);
	}
	t->map_full = false;
	if (write) {
		t->recording = s->has_replication;
		MDB_envinfo info;
		mdb_env_info(s->env, &info);
		t->map_seen = info.me_mapsize;
	}
	*out = t;
	return 0;
}

int store_txn_begin(struct store *s, bool write, struct store_txn **out)
{
	*out = NULL;
	if (write && s->read_only)
		return -EROFS;
	for (int attempt = 0; attempt < 8; attempt++) {
		int rc = txn_begin_once(s, write, out);
		if (rc <= 0)
			return rc;
		/* MDB_MAP_RESIZED: another process grew the map; adopt its size. */
		rc = store_adopt_map_size(s);
		if (rc)
			return rc;
	}
	return -EAGAIN;
}

/* Ends a write transaction without committing; after MDB_MAP_FULL grows the
 * map and returns -EAGAIN (redo the transaction) or -ENOSPC (at the cap). */
static int write_abort(struct store_txn *t)
{
	struct store *s = t->store;
	bool full = t->map_full;
	size_t seen = t->map_seen;
	mdb_txn_abort(t->txn);
	pthread_rwlock_unlock(&s->remap);
	free(t->changes.p);
	txn_free(t);
	if (!full)
		return 0;
	int rc = store_grow(s, seen);
	return rc ? rc : -EAGAIN;
}

int store_txn_commit(struct store_txn *t)
{
	struct store *s = t->store;
	if (!t->write) {
		read_end(t);
		return 0;
	}
	if (t->map_full)
		return write_abort(t);
	/* The change entry commits with what it describes, or neither does. */
	int err = change_flush(t);
	if (err || t->map_full) {
		int abort_rc = write_abort(t);
		return err && err != -EAGAIN ? err : abort_rc ? abort_rc : -EAGAIN;
	}
	size_t seen = t->map_seen;
	int rc = mdb_txn_commit(t->txn);
	pthread_rwlock_unlock(&s->remap);
	free(t->changes.p);
	txn_free(t);
	if (rc == MDB_MAP_FULL) {
		rc = store_grow(s, seen);
		return rc ? rc : -EAGAIN;
	}
	if (rc)
		log_error("store: commit failed: %s", mdb_strerror(rc));
	return store_error(rc);
}

void store_txn_abort(struct store_txn *t)
{
	if (!t)
		return;
	if (t->write) {
		write_abort(t);
		return;
	}
	read_end(t);
}

int store_write(struct store *s, int (*fn)(struct store_txn *, void *), void *arg)
{
	for (;;) {
		struct store_txn *txn;
		int rc = store_txn_begin(s, true, &txn);
		if (rc)
			return rc;
		rc = fn(txn, arg);
		if (txn->map_full) {
			rc = write_abort(txn); /* grows the map: -EAGAIN, or -ENOSPC at the cap */
		} else if (rc) {
			store_txn_abort(txn);
			return rc;
		} else {
			rc = store_txn_commit(txn);
		}
		if (rc != -EAGAIN)
			return rc;
	}
}

int store_require_write(struct store_txn *txn)
{
	if (!txn)
		return -EINVAL;
	if (!txn->write)
		return txn->store->read_only ? -EROFS : -EINVAL;
	return 0;
}

int store_put(struct store_txn *txn, enum store_db db, MDB_val *key, MDB_val *val, unsigned flags)
{
	int rc = mdb_put(txn->txn, txn->store->dbi[db], key, val, flags);
	if (rc == MDB_MAP_FULL)
		txn->map_full = true;
	if (rc == 0)
		change_note(txn, db, key, false);
	return store_error(rc);
}

int store_get(struct store_txn *txn, enum store_db db, MDB_val *key, MDB_val *val)
{
	return store_error(mdb_get(txn->txn, txn->store->dbi[db], key, val));
}

int store_del(struct store_txn *txn, enum store_db db, MDB_val *key)
{
	int rc = mdb_del(txn->txn, txn->store->dbi[db], key, NULL);
	if (rc == MDB_MAP_FULL)
		txn->map_full = true;
	if (rc == 0)
		change_note(txn, db, key, true);
	return store_error(rc);
}

int store_cursor(struct store_txn *txn, enum store_db db, MDB_cursor **out)
{
	return store_error(mdb_cursor_open(txn->txn, txn->store->dbi[db], out));
}

int store_last_seq(struct store_txn *txn, enum store_db db, uint64_t *seq)
{
	return store_last_seq_parts(txn, db, 0, seq);
}

int store_last_seq_parts(struct store_txn *txn, enum store_db db, size_t part_key, uint64_t *seq)
{
	MDB_cursor *c;
	int rc = store_cursor(txn, db, &c);
	if (rc)
		return rc;
	MDB_val key, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*seq = 0;
		return 0;
	}
	if (rc)
		return store_error(rc);
	if (key.mv_size != 8 && (!part_key || key.mv_size != part_key))
		return -EIO;
	*seq = get_be64(key.mv_data);
	return 0;
}
