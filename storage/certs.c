/* Certificate status records, their DER, cached OCSP responses and the
 * revocation index. The rule these functions keep (docs/architecture.md, rule 1): once a
 * revocation commits, no cached "good" response is ever returned. Three
 * things enforce it together: a revocation deletes the cached response and
 * bumps the record's version in its own transaction; a response is cached
 * only for the version it was signed for; a lookup returns a cached response
 * only when its version matches the record read in the same snapshot. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

/* meta key of an issuer's certificate counter: 'n' + issuer id */
#define COUNT_KEY_LEN 5

static void cert_encode(struct encoder *e, const struct store_cert *c)
{
	enc_u8(e, CODEC_V1);
	enc_u8(e, (uint8_t)c->kind);
	enc_u8(e, (uint8_t)c->status);
	enc_u8(e, (uint8_t)c->reason);
	enc_i64(e, c->not_before);
	enc_i64(e, c->not_after);
	enc_i64(e, c->revoked_at);
	enc_u64(e, c->person_id);
	enc_u64(e, c->version);
	enc_serial(e, &c->pair);
	enc_serial(e, &c->replaces);
	enc_serial(e, &c->replaced_by);
	/* Optional tail (records written before it have none): the CRL
	 * partition. */
	if (c->partition)
		enc_u32(e, c->partition);
}

/* The record's key supplies issuer and serial; the value the rest. */
static int cert_decode(const uint8_t *key, size_t key_len, const MDB_val *val,
                       struct store_cert *out)
{
	struct decoder d;
	dec_init(&d, val->mv_data, val->mv_size);
	out->issuer_id = get_be32(key);
	out->serial.len = (uint8_t)(key_len - 4);
	memcpy(out->serial.bytes, key + 4, key_len - 4);
	out->kind = (enum cert_kind)dec_u8(&d);
	out->status = (enum cert_status)dec_u8(&d);
	out->reason = (enum crl_reason)dec_u8(&d);
	out->not_before = dec_i64(&d);
	out->not_after = dec_i64(&d);
	out->revoked_at = dec_i64(&d);
	out->person_id = dec_u64(&d);
	out->version = dec_u64(&d);
	dec_serial(&d, &out->pair);
	dec_serial(&d, &out->replaces);
	dec_serial(&d, &out->replaced_by);
	out->partition = !d.bad && d.left >= 4 ? dec_u32(&d) : 0;
	return dec_finish(&d);
}

static int cert_write(struct store_txn *txn, const uint8_t *key, size_t key_len,
                      const struct store_cert *c, unsigned flags)
{
	uint8_t buf[68 + 3 * (1 + STORE_SERIAL_MAX)];
	struct encoder e = {buf, 0};
	cert_encode(&e, c);
	MDB_val k = {key_len, (void *)key}, v = {e.len, buf};
	return store_put(txn, DB_CERTS, &k, &v, flags);
}

static int cert_read(struct store_txn *txn, const uint8_t *key, size_t key_len,
                     struct store_cert *out)
{
	MDB_val k = {key_len, (void *)key}, v;
	int rc = store_get(txn, DB_CERTS, &k, &v);
	return rc ? rc : cert_decode(key, key_len, &v, out);
}

static bool serial_ok(const struct store_serial *s, bool may_be_empty)
{
	return s->len <= STORE_SERIAL_MAX && (may_be_empty || s->len > 0);
}

static bool reason_ok(enum crl_reason reason)
{
	/* 7 is unused; removeFromCRL only appears in delta CRLs (RFC 5280
	 * 5.3.1) and is not a reason to revoke. */
	return reason >= CRL_REASON_UNSPECIFIED && reason <= CRL_REASON_AA_COMPROMISE &&
	       reason != 7 && reason != CRL_REASON_REMOVE_FROM_CRL;
}

int cert_count_add(struct store_txn *txn, uint32_t issuer_id, int64_t delta)
{
	uint8_t k[COUNT_KEY_LEN] = {'n'}, v[9] = {CODEC_V1};
	put_be32(k + 1, issuer_id);
	MDB_val key = {sizeof(k), k}, val;
	uint64_t count = 0;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc == 0) {
		struct decoder d;
		dec_init(&d, val.mv_data, val.mv_size);
		count = dec_u64(&d);
		if (dec_finish(&d))
			return -EIO;
	} else if (rc != -ENOENT) {
		return rc;
	}
	put_be64(v + 1, count + (uint64_t)delta);
	val = (MDB_val){sizeof(v), v};
	return store_put(txn, DB_META, &key, &val, 0);
}

int store_cert_count(struct store_txn *txn, uint32_t issuer_id, uint64_t *count)
{
	uint8_t k[COUNT_KEY_LEN] = {'n'};
	put_be32(k + 1, issuer_id);
	MDB_val key = {sizeof(k), k}, val;
	*count = 0;
	int rc = store_get(txn, DB_META, &key, &val);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	*count = dec_u64(&d);
	return dec_finish(&d);
}

int store_cert_get_key(struct store_txn *txn, const uint8_t *key, size_t klen,
                       struct store_cert *out)
{
	if (klen < 5 || klen > CERT_KEY_MAX)
		return -EINVAL;
	return cert_read(txn, key, klen, out);
}

int store_cert_get(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                   struct store_cert *out)
{
	uint8_t key[CERT_KEY_MAX];
	int len = cert_key(issuer_id, serial, key);
	return len < 0 ? len : cert_read(txn, key, (size_t)len, out);
}

static int revoked_index_put(struct store_txn *txn, const struct store_cert *c, bool add)
{
	uint8_t k[REVOKED_KEY_MAX], v[1] = {CODEC_V1};
	MDB_val key = {revoked_key(c->issuer_id, c->revoked_at, &c->serial, k), k};
	MDB_val val = {sizeof(v), v};
	return add ? store_put(txn, DB_REVOKED, &key, &val, 0) : store_del(txn, DB_REVOKED, &key);
}

int store_cert_insert(struct store_txn *txn, struct store_cert *cert, struct store_blob der)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if ((cert->kind != CERT_KIND_SIGN && cert->kind != CERT_KIND_AUTH) ||
	    (cert->status != CERT_STATUS_GOOD && cert->status != CERT_STATUS_REVOKED) ||
	    (cert->status == CERT_STATUS_REVOKED && !reason_ok(cert->reason)) ||
	    !serial_ok(&cert->pair, true) || !serial_ok(&cert->replaces, true) ||
	    !serial_ok(&cert->replaced_by, true) || der.len > UINT32_MAX - 1)
		return -EINVAL;
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(cert->issuer_id, &cert->serial, key);
	if (key_len < 0)
		return key_len;
	rc = store_issuer_get(txn, cert->issuer_id, NULL);
	if (rc)
		return rc;
	if (cert->status == CERT_STATUS_GOOD) {
		cert->revoked_at = 0;
		cert->reason = CRL_REASON_UNSPECIFIED;
	}
	cert->version = 1;
	rc = cert_write(txn, key, (size_t)key_len, cert, MDB_NOOVERWRITE);
	if (rc)
		return rc;
	if (der.len) {
		MDB_val k = {(size_t)key_len, key}, v = {1 + der.len, NULL};
		rc = store_put(txn, DB_CERT_DER, &k, &v, MDB_RESERVE);
		if (rc)
			return rc;
		((uint8_t *)v.mv_data)[0] = CODEC_V1;
		memcpy((uint8_t *)v.mv_data + 1, der.data, der.len);
	}
	if (cert->status == CERT_STATUS_REVOKED) {
		rc = revoked_index_put(txn, cert, true);
		if (rc)
			return rc;
	}
	/* no answer yet: first in line for the refresher */
	rc = refresh_index_move(txn, key, (size_t)key_len, 0, 0, false);
	if (rc)
		return rc;
	rc = cert_count_add(txn, cert->issuer_id, 1);
	if (rc == 0)
		rc = change_append(txn, STORE_CHANGE_ISSUED, cert->issuer_id, &cert->serial);
	if (rc == 0 && cert->status == CERT_STATUS_REVOKED)
		rc = change_append(txn, STORE_CHANGE_REVOKED, cert->issuer_id, &cert->serial);
	return rc;
}

int store_cert_update_links(struct store_txn *txn, struct store_cert *cert)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!serial_ok(&cert->pair, true) || !serial_ok(&cert->replaces, true) ||
	    !serial_ok(&cert->replaced_by, true))
		return -EINVAL;
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(cert->issuer_id, &cert->serial, key);
	if (key_len < 0)
		return key_len;
	struct store_cert stored;
	rc = cert_read(txn, key, (size_t)key_len, &stored);
	if (rc)
		return rc;
	stored.person_id = cert->person_id;
	stored.pair = cert->pair;
	stored.replaces = cert->replaces;
	stored.replaced_by = cert->replaced_by;
	/* the cached answer was signed for the old version: now missing */
	int64_t was;
	rc = refresh_index_state(txn, key, (size_t)key_len, stored.version, &was);
	if (rc == 0)
		rc = refresh_index_move(txn, key, (size_t)key_len, was, 0, true);
	if (rc)
		return rc;
	stored.version++;
	rc = cert_write(txn, key, (size_t)key_len, &stored, 0);
	if (rc == 0)
		rc = change_append(txn, STORE_CHANGE_LINKED, stored.issuer_id, &stored.serial);
	if (rc == 0)
		*cert = stored;
	return rc;
}

/* A revocation never deletes the record or its history: it rewrites the
 * record with a new version, so a response signed before it can no longer be
 * cached (store_response_put) nor served (store_status_lookup); and it deletes
 * the response already cached, all in the caller's transaction. */
int store_cert_revoke(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                      int64_t revoked_at, enum crl_reason reason)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!reason_ok(reason))
		return -EINVAL;
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(issuer_id, serial, key);
	if (key_len < 0)
		return key_len;
	struct store_cert c;
	rc = cert_read(txn, key, (size_t)key_len, &c);
	if (rc)
		return rc;
	if (c.status == CERT_STATUS_REVOKED) {
		/* certificateHold may become a permanent revocation (RFC 5280
		 * 5.3.1). The entry moves to the new time so that a delta CRL
		 * built from entries since its base carries the new reason. */
		if (c.reason != CRL_REASON_CERTIFICATE_HOLD ||
		    reason == CRL_REASON_CERTIFICATE_HOLD)
			return -EALREADY;
		rc = revoked_index_put(txn, &c, false);
		if (rc)
			return rc;
	}
	/* its cached answer goes below: the certificate is missing one again */
	int64_t was;
	rc = refresh_index_state(txn, key, (size_t)key_len, c.version, &was);
	if (rc == 0)
		rc = refresh_index_move(txn, key, (size_t)key_len, was, 0, true);
	if (rc)
		return rc;
	c.status = CERT_STATUS_REVOKED;
	c.revoked_at = revoked_at;
	c.reason = reason;
	c.version++;
	rc = cert_write(txn, key, (size_t)key_len, &c, 0);
	if (rc == 0)
		rc = revoked_index_put(txn, &c, true);
	/* both cached answers go; a batch answer goes for its other members
	 * too, since it says good for this one (batches.c) */
	MDB_val k = {(size_t)key_len, key}, v;
	struct response_head head = {0};
	if (rc == 0) {
		rc = store_get(txn, DB_RESPONSES, &k, &v);
		if (rc == 0 && response_head_read(&v, &head) != 0)
			rc = -EIO;
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0 && head.batch)
		rc = batch_invalidate(txn, head.batch);
	if (rc == 0)
		rc = response_release(txn, DB_RESPONSES, key, (size_t)key_len, true);
	if (rc == 0)
		rc = response_release(txn, DB_RESPONSES_SHA256, key, (size_t)key_len, true);
	if (rc == 0)
		rc = change_append(txn, STORE_CHANGE_REVOKED, issuer_id, serial);
	return rc;
}

int store_cert_der(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                   struct store_blob *der_out)
{
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(issuer_id, serial, key);
	if (key_len < 0)
		return key_len;
	MDB_val k = {(size_t)key_len, key}, v;
	int rc = store_get(txn, DB_CERT_DER, &k, &v);
	if (rc)
		return rc;
	struct decoder d;
	dec_init(&d, v.mv_data, v.mv_size);
	der_out->len = d.left;
	der_out->data = dec_view(&d, d.left);
	return dec_finish(&d);
}

int store_revoked_each(struct store_txn *txn, uint32_t issuer_id, int64_t since,
                       int (*fn)(const struct store_cert *, void *), void *arg)
{
	MDB_cursor *cursor;
	int rc = store_cursor(txn, DB_REVOKED, &cursor);
	if (rc)
		return rc;
	uint8_t start[REVOKED_KEY_MAX];
	MDB_val key = {revoked_key(issuer_id, since, NULL, start), start}, val;
	/* The cursor walks the index in key order, which is time order within
	 * an issuer; each entry costs one more get for its record, so memory
	 * stays constant however many entries there are. */
	for (rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
		const uint8_t *k = key.mv_data;
		if (key.mv_size < 12 || get_be32(k) != issuer_id)
			break;
		size_t serial_len = key.mv_size - 12;
		if (serial_len == 0 || serial_len > STORE_SERIAL_MAX) {
			rc = -EIO;
			break;
		}
		uint8_t cert[CERT_KEY_MAX];
		memcpy(cert, k, 4);
		memcpy(cert + 4, k + 12, serial_len);
		struct store_cert c;
		int result = cert_read(txn, cert, 4 + serial_len, &c);
		if (result == -ENOENT)
			result = -EIO; /* an index entry without its record */
		if (result == 0)
			result = fn(&c, arg);
		if (result) {
			mdb_cursor_close(cursor);
			return result;
		}
	}
	mdb_cursor_close(cursor);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_error(rc);
}

int response_head_read(const MDB_val *v, struct response_head *out)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size <= RESPONSE_HEADER)
		return -EIO;
	if (p[0] == CODEC_V1) {
		out->batch = 0;
	} else if (p[0] == RESPONSE_V_BATCH && v->mv_size == RESPONSE_HEADER + 8) {
		out->batch = get_be64(p + RESPONSE_HEADER);
		if (out->batch == 0)
			return -EIO;
	} else {
		return -EIO;
	}
	out->cert_version = get_be64(p + 1);
	out->this_update = (int64_t)get_be64(p + 9);
	out->next_update = (int64_t)get_be64(p + 17);
	return 0;
}

/* The sub-database of a CertID form's cached answers; DB_COUNT: none. */
static enum store_db response_db(const struct store_txn *txn, enum store_hash hash)
{
	if (hash == 0 || hash == STORE_HASH_SHA1)
		return DB_RESPONSES;
	if (hash == STORE_HASH_SHA256 && txn->store->has_batches)
		return DB_RESPONSES_SHA256;
	return DB_COUNT;
}

int store_status_lookup(struct store_txn *txn, uint32_t issuer_id,
                        const struct store_serial *serial, struct store_cert *cert,
                        struct store_response *response)
{
	return store_status_lookup_form(txn, issuer_id, serial, STORE_HASH_SHA1, cert, response);
}

int store_status_lookup_form(struct store_txn *txn, uint32_t issuer_id,
                             const struct store_serial *serial, enum store_hash hash,
                             struct store_cert *cert, struct store_response *response)
{
	uint8_t key[CERT_KEY_MAX];
	memset(response, 0, sizeof(*response));
	int key_len = cert_key(issuer_id, serial, key);
	if (key_len < 0)
		return key_len;
	int rc = cert_read(txn, key, (size_t)key_len, cert);
	if (rc)
		return rc;
	enum store_db db = response_db(txn, hash);
	if (db == DB_COUNT)
		return 0;
	MDB_val k = {(size_t)key_len, key}, v;
	rc = store_get(txn, db, &k, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	struct response_head head;
	if (response_head_read(&v, &head) != 0)
		return -EIO;
	if (head.cert_version != cert->version)
		return 0; /* signed for an older record: the caller signs afresh */
	if (head.batch) {
		rc = batch_der(txn, head.batch, &response->der);
		if (rc)
			return rc;
	} else {
		response->der.data = (const uint8_t *)v.mv_data + RESPONSE_HEADER;
		response->der.len = v.mv_size - RESPONSE_HEADER;
	}
	response->cert_version = head.cert_version;
	response->this_update = head.this_update;
	response->next_update = head.next_update;
	response->hash = hash == 0 ? STORE_HASH_SHA1 : hash;
	return 0;
}

int store_response_count(struct store_txn *txn, uint64_t *count)
{
	MDB_stat stat;
	*count = 0;
	int rc = mdb_stat(txn->txn, txn->store->dbi[DB_RESPONSES], &stat);
	if (rc)
		return store_error(rc);
	*count = stat.ms_entries;
	return 0;
}

/* Orders two record keys as LMDB's default comparison does. */
static int key_cmp(const MDB_val *a, const MDB_val *b)
{
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int c = memcmp(a->mv_data, b->mv_data, n);
	if (c)
		return c;
	return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* The one walk behind store_response_freshness and store_response_each:
 * both databases are keyed by issuer id + serial, so they are walked side by
 * side, each record meeting its response, if any, in one pass. Starts at the
 * first certificate, or just after `after`. */
static int response_walk(struct store_txn *txn, int64_t due_at, const struct store_answer *after,
                         int (*fn)(const struct store_answer *, void *), void *arg)
{
	uint8_t start[CERT_KEY_MAX];
	int start_len = 0;
	if (after && (start_len = cert_key(after->issuer_id, &after->serial, start)) < 0)
		return start_len;
	MDB_cursor *certs = NULL, *responses = NULL;
	int rc = store_cursor(txn, DB_CERTS, &certs);
	if (rc == 0)
		rc = store_cursor(txn, DB_RESPONSES, &responses);
	if (rc) {
		if (certs)
			mdb_cursor_close(certs);
		return rc;
	}
	MDB_val ck = {(size_t)start_len, start}, cv, rk, rv;
	int crc = mdb_cursor_get(certs, &ck, &cv, after ? MDB_SET_RANGE : MDB_FIRST);
	if (crc == 0 && after && ck.mv_size == (size_t)start_len &&
	    memcmp(ck.mv_data, start, (size_t)start_len) == 0)
		crc = mdb_cursor_get(certs, &ck, &cv, MDB_NEXT); /* strictly after */
	int rrc = MDB_NOTFOUND;
	if (crc == 0) {
		rk = ck;
		rrc = mdb_cursor_get(responses, &rk, &rv, MDB_SET_RANGE);
	}
	for (; crc == 0; crc = mdb_cursor_get(certs, &ck, &cv, MDB_NEXT)) {
		while (rrc == 0 && key_cmp(&rk, &ck) < 0)
			rrc = mdb_cursor_get(responses, &rk, &rv, MDB_NEXT);
		struct store_cert cert;
		if (ck.mv_size < 5 || ck.mv_size > CERT_KEY_MAX ||
		    cert_decode(ck.mv_data, ck.mv_size, &cv, &cert) != 0) {
			rc = -EIO;
			break;
		}
		struct store_answer a = {.issuer_id = cert.issuer_id, .serial = cert.serial};
		struct response_head head;
		if (rrc != 0 || key_cmp(&rk, &ck) != 0 || response_head_read(&rv, &head) != 0 ||
		    head.cert_version != cert.version) {
			a.state = STORE_ANSWER_MISSING;
		} else {
			a.this_update = head.this_update;
			a.state = head.next_update > due_at ? STORE_ANSWER_FRESH : STORE_ANSWER_DUE;
		}
		if ((rc = fn(&a, arg)) != 0)
			break;
	}
	if (rc == 0 && crc != MDB_NOTFOUND)
		rc = store_error(crc);
	else if (rc == 0 && rrc != 0 && rrc != MDB_NOTFOUND)
		rc = store_error(rrc);
	mdb_cursor_close(responses);
	mdb_cursor_close(certs);
	return rc;
}

static int freshness_count_cb(const struct store_answer *a, void *arg)
{
	struct store_freshness *out = arg;
	if (a->state == STORE_ANSWER_MISSING) {
		out->missing++;
		return 0;
	}
	if (a->state == STORE_ANSWER_FRESH)
		out->fresh++;
	else
		out->due++;
	if (out->oldest_this_update == 0 || a->this_update < out->oldest_this_update)
		out->oldest_this_update = a->this_update;
	return 0;
}

int store_response_freshness(struct store_txn *txn, int64_t due_at, struct store_freshness *out)
{
	memset(out, 0, sizeof(*out));
	return response_walk(txn, due_at, NULL, freshness_count_cb, out);
}

int store_response_each(struct store_txn *txn, int64_t due_at, const struct store_answer *after,
                        int (*fn)(const struct store_answer *, void *), void *arg)
{
	return response_walk(txn, due_at, after, fn, arg);
}

int store_response_put(struct store_txn *txn, uint32_t issuer_id, const struct store_serial *serial,
                       const struct store_response *response)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!response || !response->der.data || response->der.len == 0)
		return -EINVAL;
	uint8_t key[CERT_KEY_MAX];
	int key_len = cert_key(issuer_id, serial, key);
	if (key_len < 0)
		return key_len;
	struct store_cert c;
	rc = cert_read(txn, key, (size_t)key_len, &c);
	if (rc)
		return rc;
	if (c.version != response->cert_version)
		return -ESTALE;
	enum store_db db = response_db(txn, response->hash);
	if (db == DB_COUNT)
		return -EINVAL;
	if (db == DB_RESPONSES) {
		/* the refresh index follows the SHA-1 answer, the one refreshed */
		int64_t was;
		rc = refresh_index_state(txn, key, (size_t)key_len, c.version, &was);
		if (rc == 0)
			rc = refresh_index_move(txn, key, (size_t)key_len, was,
			                        response->next_update, true);
		if (rc)
			return rc;
	}
	rc = response_release(txn, db, key, (size_t)key_len, false);
	if (rc)
		return rc;
	MDB_val k = {(size_t)key_len, key}, v = {RESPONSE_HEADER + response->der.len, NULL};
	rc = store_put(txn, db, &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	struct encoder e = {v.mv_data, 0};
	enc_u8(&e, CODEC_V1);
	enc_u64(&e, response->cert_version);
	enc_i64(&e, response->this_update);
	enc_i64(&e, response->next_update);
	enc_bytes(&e, response->der.data, response->der.len);
	return 0;
}
