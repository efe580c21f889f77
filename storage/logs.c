/* The two append-only sequences: the change log (followed by replicas and
 * delta CRLs) and the audit log (who did or saw what). Both are keyed by a
 * big-endian sequence number, so appends go to the end of the B-tree
 * (MDB_APPEND) and iteration from any number is one cursor seek. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

static int seq_append(struct store_txn *txn, enum store_db db, uint64_t *seq, const uint8_t *value,
                      size_t len)
{
	uint64_t last;
	int rc = store_last_seq(txn, db, &last);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, last + 1);
	MDB_val key = {8, k}, val = {len, (void *)value};
	rc = store_put(txn, db, &key, &val, MDB_APPEND);
	if (rc == 0)
		*seq = last + 1;
	return rc;
}

/* Walks db from sequence `from` on, calling visit for each record until it
 * returns nonzero (which is returned). */
static int seq_each(struct store_txn *txn, enum store_db db, uint64_t from,
                    int (*visit)(uint64_t seq, const MDB_val *val, void *ctx), void *ctx)
{
	MDB_cursor *c;
	int rc = store_cursor(txn, db, &c);
	if (rc)
		return rc;
	uint8_t k[8];
	put_be64(k, from);
	MDB_val key = {8, k}, val;
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		int result = key.mv_size == 8 ? visit(get_be64(key.mv_data), &val, ctx) : -EIO;
		if (result) {
			mdb_cursor_close(c);
			return result;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_error(rc);
}

/* --- change log ------------------------------------------------------------------ */

int change_append(struct store_txn *txn, enum store_change_type type, uint32_t issuer_id,
                  const struct store_serial *serial)
{
	uint8_t buf[1 + 8 + 1 + 4 + 1 + STORE_SERIAL_MAX];
	struct encoder e = {buf, 0};
	enc_u8(&e, CODEC_V1);
	enc_i64(&e, (int64_t)time(NULL));
	enc_u8(&e, (uint8_t)type);
	enc_u32(&e, issuer_id);
	enc_serial(&e, serial);
	uint64_t seq;
	return seq_append(txn, DB_CHANGES, &seq, buf, e.len);
}

struct change_visit {
	int (*fn)(const struct store_change *, void *);
	void *arg;
};

static int change_visit(uint64_t seq, const MDB_val *val, void *ctx)
{
	struct change_visit *v = ctx;
	struct store_change change = {.seq = seq};
	struct decoder d;
	dec_init(&d, val->mv_data, val->mv_size);
	change.time = dec_i64(&d);
	change.type = (enum store_change_type)dec_u8(&d);
	change.issuer_id = dec_u32(&d);
	dec_serial(&d, &change.serial);
	int rc = dec_finish(&d);
	return rc ? rc : v->fn(&change, v->arg);
}

int store_change_each(struct store_txn *txn, uint64_t from,
                      int (*fn)(const struct store_change *, void *), void *arg)
{
	struct change_visit v = {fn, arg};
	return seq_each(txn, DB_CHANGES, from, change_visit, &v);
}

int store_change_last(struct store_txn *txn, uint64_t *seq)
{
	return store_last_seq(txn, DB_CHANGES, seq);
}

/* --- audit ------------------------------------------------------------------------ */

int store_audit_append(struct store_txn *txn, struct store_audit *record)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!memchr(record->actor, '\0', sizeof(record->actor)) ||
	    !memchr(record->action, '\0', sizeof(record->action)) ||
	    !memchr(record->subject, '\0', sizeof(record->subject)) || record->action[0] == '\0')
		return -EINVAL;
	uint8_t buf[1 + 8 + 3 * 2 + sizeof(record->actor) + sizeof(record->action) +
	            sizeof(record->subject)];
	struct encoder e = {buf, 0};
	enc_u8(&e, CODEC_V1);
	enc_i64(&e, record->time);
	enc_str16(&e, record->actor);
	enc_str16(&e, record->action);
	enc_str16(&e, record->subject);
	rc = seq_append(txn, DB_AUDIT, &record->seq, buf, e.len);
	/* The record's leaf in the Merkle log commits with it. */
	return rc ? rc : log_append(txn, STORE_LOG_AUDIT, record->seq, buf, e.len);
}

struct audit_visit {
	int (*fn)(const struct store_audit *, void *);
	void *arg;
};

static int audit_visit(uint64_t seq, const MDB_val *val, void *ctx)
{
	struct audit_visit *v = ctx;
	struct store_audit record = {.seq = seq};
	struct decoder d;
	dec_init(&d, val->mv_data, val->mv_size);
	record.time = dec_i64(&d);
	dec_str16(&d, record.actor, sizeof(record.actor));
	dec_str16(&d, record.action, sizeof(record.action));
	dec_str16(&d, record.subject, sizeof(record.subject));
	int rc = dec_finish(&d);
	return rc ? rc : v->fn(&record, v->arg);
}

int store_audit_each(struct store_txn *txn, uint64_t from,
                     int (*fn)(const struct store_audit *, void *), void *arg)
{
	struct audit_visit v = {fn, arg};
	return seq_each(txn, DB_AUDIT, from, audit_visit, &v);
}
