/* Persons (the signing certificate's four personal items) and intake records
 * (submitted applications, append-only, deduplicated by digest). */
#include <errno.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

/* --- persons ---------------------------------------------------------------------- */

static void person_encode(struct encoder *e, const struct store_person *p)
{
	enc_u8(e, CODEC_V1);
	enc_u8(e, (uint8_t)p->sex);
	enc_str16(e, p->birth);
	enc_str16(e, p->name);
	enc_str16(e, p->address);
}

int store_person_put(struct store_txn *txn, struct store_person *person)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (person->sex < 1 || person->sex > 3 ||
	    !memchr(person->name, '\0', sizeof(person->name)) ||
	    !memchr(person->birth, '\0', sizeof(person->birth)) ||
	    !memchr(person->address, '\0', sizeof(person->address)))
		return -EINVAL;
	unsigned flags = 0;
	if (person->id == 0) {
		uint64_t last;
		rc = store_last_seq(txn, DB_PERSONS, &last);
		if (rc)
			return rc;
		person->id = last + 1;
		flags = MDB_APPEND;
	}
	uint8_t k[8];
	put_be64(k, person->id);
	struct encoder e = {0};
	person_encode(&e, person);
	MDB_val key = {8, k}, val = {e.len, NULL};
	rc = store_put(txn, DB_PERSONS, &key, &val, flags | MDB_RESERVE);
	if (rc)
		return rc;
	e = (struct encoder){val.mv_data, 0};
	person_encode(&e, person);
	return 0;
}

int store_person_get(struct store_txn *txn, uint64_t id, struct store_person *out)
{
	uint8_t k[8];
	put_be64(k, id);
	MDB_val key = {8, k}, val;
	int rc = store_get(txn, DB_PERSONS, &key, &val);
	if (rc)
		return rc;
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->sex = dec_u8(&d);
	dec_str16(&d, out->birth, sizeof(out->birth));
	dec_str16(&d, out->name, sizeof(out->name));
	dec_str16(&d, out->address, sizeof(out->address));
	return dec_finish(&d);
}

/* --- intake ----------------------------------------------------------------------- */

/* Version 2 appends the evidence to version 1's fields, so the whole value
 * (what the intake log takes as its leaf) covers it. */
static void intake_encode(struct encoder *e, const struct store_intake *r)
{
	enc_u8(e, CODEC_V2);
	enc_i64(e, r->received_at);
	enc_bytes(e, r->digest, 32);
	enc_blob(e, r->original);
	enc_blob(e, r->result);
	enc_blob(e, r->receipt_der);
	enc_blob(e, r->evidence.chain);
	enc_blob(e, r->evidence.ocsp);
	enc_u64(e, r->evidence.crl_number);
	enc_blob(e, r->evidence.timestamp);
}

int store_intake_find(struct store_txn *txn, const uint8_t digest[32], uint64_t *receipt)
{
	MDB_val key = {32, (void *)digest}, val;
	int rc = store_get(txn, DB_INTAKE_DIGEST, &key, &val);
	if (rc)
		return rc;
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	*receipt = dec_u64(&d);
	return dec_finish(&d);
}

int store_intake_put(struct store_txn *txn, struct store_intake *record)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	const struct store_intake_evidence *ev = &record->evidence;
	if (record->original.len > UINT32_MAX || record->result.len > UINT32_MAX ||
	    record->receipt_der.len > UINT32_MAX || ev->chain.len > UINT32_MAX ||
	    ev->ocsp.len > UINT32_MAX || ev->timestamp.len > UINT32_MAX)
		return -EINVAL;
	/* The same application submitted twice (a retry after a lost reply)
	 * gets the receipt it was given the first time. */
	uint64_t existing;
	rc = store_intake_find(txn, record->digest, &existing);
	if (rc == 0) {
		record->receipt = existing;
		return -EEXIST;
	}
	if (rc != -ENOENT)
		return rc;
	uint64_t last;
	rc = store_last_seq(txn, DB_INTAKE, &last);
	if (rc)
		return rc;
	uint8_t k[8], v[9] = {CODEC_V1};
	put_be64(k, last + 1);
	struct encoder e = {0};
	intake_encode(&e, record);
	MDB_val key = {8, k}, val = {e.len, NULL};
	rc = store_put(txn, DB_INTAKE, &key, &val, MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	e = (struct encoder){val.mv_data, 0};
	intake_encode(&e, record);
	/* The record's leaf in the Merkle log commits with it. */
	if ((rc = log_append(txn, STORE_LOG_INTAKE, last + 1, val.mv_data, e.len)) < 0)
		return rc;
	put_be64(v + 1, last + 1);
	key = (MDB_val){32, record->digest};
	val = (MDB_val){sizeof(v), v};
	rc = store_put(txn, DB_INTAKE_DIGEST, &key, &val, MDB_NOOVERWRITE);
	if (rc == 0)
		record->receipt = last + 1;
	return rc;
}

int store_intake_next_receipt(struct store_txn *txn, uint64_t *receipt)
{
	int rc = store_require_write(txn);
	uint64_t last = 0;
	if (rc == 0)
		rc = store_last_seq(txn, DB_INTAKE, &last);
	*receipt = rc ? 0 : last + 1;
	return rc;
}

int store_intake_get(struct store_txn *txn, uint64_t receipt, struct store_intake *out)
{
	uint8_t k[8];
	put_be64(k, receipt);
	MDB_val key = {8, k}, val;
	int rc = store_get(txn, DB_INTAKE, &key, &val);
	if (rc)
		return rc;
	struct decoder d;
	memset(out, 0, sizeof(*out));
	out->version = dec_init_versioned(&d, val.mv_data, val.mv_size, CODEC_V2);
	out->receipt = receipt;
	out->received_at = dec_i64(&d);
	dec_bytes(&d, out->digest, 32);
	dec_blob(&d, &out->original);
	dec_blob(&d, &out->result);
	dec_blob(&d, &out->receipt_der);
	if (out->version >= CODEC_V2) {
		dec_blob(&d, &out->evidence.chain);
		dec_blob(&d, &out->evidence.ocsp);
		out->evidence.crl_number = dec_u64(&d);
		dec_blob(&d, &out->evidence.timestamp);
	}
	return dec_finish(&d);
}
