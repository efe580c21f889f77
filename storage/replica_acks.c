/* Synchronous acknowledgement (docs/cluster.md, "Synchronous
 * acknowledgement"): which replicas durably hold which changes.
 *
 * A replica asks for the changes after its cursor only once it has committed
 * every change up to that cursor, so each `changes?after=SEQ` it sends is an
 * acknowledgement of SEQ. The primary records the highest one per replica as
 * a local meta entry (never replicated): key "Rack" + the replica's name,
 * value u8 1, u64 sequence, i64 unix ms. A write that must be held by K
 * replicas before it is acknowledged waits until K entries reach its
 * sequence. The settings (K and the timeout) are recorded once by kenshod
 * under "Rsync" so that every writer of the directory, the kensho command
 * line too, waits the same way. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "storage/store_internal.h"

#define ACK_PREFIX     "Rack"
#define ACK_PREFIX_LEN (sizeof ACK_PREFIX - 1)
#define ACK_LEN        (1 + 8 + 8)
#define SYNC_KEY       "Rsync"
#define SYNC_LEN       (1 + 4 + 8)
#define WAIT_STEP_NS   (5 * 1000 * 1000)

int store_replica_ack_put(struct store_txn *txn, const char *name, uint64_t seq, int64_t now_ms)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	size_t name_len = strlen(name);
	if (name_len == 0 || name_len > STORE_REPLICA_NAME_MAX)
		return -EINVAL;
	char k[ACK_PREFIX_LEN + STORE_REPLICA_NAME_MAX];
	memcpy(k, ACK_PREFIX, ACK_PREFIX_LEN);
	memcpy(k + ACK_PREFIX_LEN, name, name_len);
	MDB_val key = {ACK_PREFIX_LEN + name_len, k}, val;
	if (store_get(txn, DB_META, &key, &val) == 0 && val.mv_size == ACK_LEN &&
	    get_be64((const uint8_t *)val.mv_data + 1) >= seq)
		return 0; /* only forward */
	uint8_t v[ACK_LEN] = {1};
	put_be64(v + 1, seq);
	put_be64(v + 9, (uint64_t)now_ms);
	val = (MDB_val){sizeof v, v};
	return store_put(txn, DB_META, &key, &val, 0);
}

int store_replica_acks(struct store_txn *txn, uint64_t seq, unsigned *count)
{
	*count = 0;
	MDB_cursor *c;
	int rc = store_cursor(txn, DB_META, &c);
	if (rc)
		return rc;
	MDB_val key = {ACK_PREFIX_LEN, (void *)ACK_PREFIX}, val;
	int mrc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (mrc == 0 && key.mv_size > ACK_PREFIX_LEN &&
	       memcmp(key.mv_data, ACK_PREFIX, ACK_PREFIX_LEN) == 0) {
		if (val.mv_size == ACK_LEN && get_be64((const uint8_t *)val.mv_data + 1) >= seq)
			++*count;
		mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : store_error(mrc);
}

int store_replica_acks_clear(struct store_txn *txn)
{
	int rc = store_require_write(txn);
	while (rc == 0) {
		/* Found with a cursor, deleted through store_del: a delete may need
		 * a page, and only store_del grows a full map (store_write). */
		MDB_cursor *c;
		if ((rc = store_cursor(txn, DB_META, &c)) != 0)
			break;
		MDB_val key = {ACK_PREFIX_LEN, (void *)ACK_PREFIX}, val;
		int mrc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
		char k[ACK_PREFIX_LEN + STORE_REPLICA_NAME_MAX];
		bool found = mrc == 0 && key.mv_size > ACK_PREFIX_LEN && key.mv_size <= sizeof k &&
		             memcmp(key.mv_data, ACK_PREFIX, ACK_PREFIX_LEN) == 0;
		if (found)
			memcpy(k, key.mv_data, key.mv_size);
		mdb_cursor_close(c);
		if (mrc != 0 && mrc != MDB_NOTFOUND)
			return store_error(mrc);
		if (!found)
			break;
		key.mv_data = k;
		rc = store_del(txn, DB_META, &key);
	}
	return rc;
}

int store_replication_sync_put(struct store_txn *txn, const struct store_sync *sync)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	uint8_t v[SYNC_LEN] = {1};
	put_be32(v + 1, sync->replicas);
	put_be64(v + 5, (uint64_t)sync->timeout_ms);
	MDB_val key = {sizeof SYNC_KEY - 1, SYNC_KEY}, val = {sizeof v, v};
	return store_put(txn, DB_META, &key, &val, 0);
}

int store_replication_sync_get(struct store_txn *txn, struct store_sync *out)
{
	*out = (struct store_sync){0};
	MDB_val key = {sizeof SYNC_KEY - 1, SYNC_KEY}, val;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc == -ENOENT)
		return 0; /* never configured: asynchronous */
	if (rc)
		return rc;
	const uint8_t *v = val.mv_data;
	if (val.mv_size != SYNC_LEN || v[0] != 1)
		return -EIO;
	out->replicas = get_be32(v + 1);
	out->timeout_ms = (int64_t)get_be64(v + 5);
	return 0;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_replication_sync_wait(struct store *s, uint64_t seq, const struct store_sync *sync,
                                unsigned *acked)
{
	*acked = 0;
	if (sync->replicas == 0)
		return 0;
	int64_t deadline = monotonic_ms() + sync->timeout_ms;
	for (;;) {
		struct store_txn *txn;
		int rc = store_txn_begin(s, false, &txn);
		if (rc)
			return rc;
		rc = store_replica_acks(txn, seq, acked);
		store_txn_abort(txn);
		if (rc)
			return rc;
		if (*acked >= sync->replicas)
			return 0;
		if (monotonic_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){0, WAIT_STEP_NS}, NULL);
	}
}
