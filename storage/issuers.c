/* Issuers (the CAs) and the index from an OCSP CertID's hashes to them. */
#include <errno.h>
#include <string.h>

#include "storage/codec.h"
#include "storage/store_internal.h"

/* issuer_index key: algorithm (1) + name hash + key hash (20+20 or 32+32) */
#define INDEX_KEY_MAX (1 + 32 + 32)

static size_t hash_len(enum store_hash alg)
{
	return alg == STORE_HASH_SHA1 ? 20 : alg == STORE_HASH_SHA256 ? 32 : 0;
}

static size_t index_key(enum store_hash alg, const uint8_t *name_hash, const uint8_t *key_hash,
                        uint8_t out[INDEX_KEY_MAX])
{
	size_t n = hash_len(alg);
	out[0] = (uint8_t)alg;
	memcpy(out + 1, name_hash, n);
	memcpy(out + 1 + n, key_hash, n);
	return 1 + 2 * n;
}

static void issuer_encode(struct encoder *e, const struct store_issuer *is,
                          struct store_blob cert_der)
{
	char label[sizeof(is->label) + 1] = {0};
	memcpy(label, is->label, sizeof(is->label));
	enc_u8(e, CODEC_V1);
	enc_u8(e, (uint8_t)is->kind);
	enc_str16(e, label);
	enc_bytes(e, is->name_sha1, 20);
	enc_bytes(e, is->key_sha1, 20);
	enc_bytes(e, is->name_sha256, 32);
	enc_bytes(e, is->key_sha256, 32);
	enc_u64(e, is->crl_number);
	enc_u64(e, is->base_crl_number);
	enc_i64(e, is->base_crl_time);
	enc_blob(e, cert_der);
}

static int issuer_decode(uint32_t id, const MDB_val *val, struct store_issuer *out,
                         struct store_blob *der)
{
	struct decoder d;
	struct store_blob cert;
	dec_init(&d, val->mv_data, val->mv_size);
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->kind = (enum cert_kind)dec_u8(&d);
	dec_str16(&d, out->label, sizeof(out->label));
	dec_bytes(&d, out->name_sha1, 20);
	dec_bytes(&d, out->key_sha1, 20);
	dec_bytes(&d, out->name_sha256, 32);
	dec_bytes(&d, out->key_sha256, 32);
	out->crl_number = dec_u64(&d);
	out->base_crl_number = dec_u64(&d);
	out->base_crl_time = dec_i64(&d);
	dec_blob(&d, &cert);
	if (der)
		*der = cert;
	return dec_finish(&d);
}

static int issuer_read(struct store_txn *txn, uint32_t id, struct store_issuer *out,
                       struct store_blob *der)
{
	uint8_t k[4];
	put_be32(k, id);
	MDB_val key = {4, k}, val;
	int rc = store_get(txn, DB_ISSUERS, &key, &val);
	if (rc)
		return rc;
	struct store_issuer scratch;
	return issuer_decode(id, &val, out ? out : &scratch, der);
}

static int index_put(struct store_txn *txn, const struct store_issuer *is, bool add)
{
	uint8_t k[INDEX_KEY_MAX], v[5] = {CODEC_V1};
	put_be32(v + 1, is->id);
	MDB_val key, val = {sizeof(v), v};
	key.mv_data = k;
	key.mv_size = index_key(STORE_HASH_SHA1, is->name_sha1, is->key_sha1, k);
	int rc = add ? store_put(txn, DB_ISSUER_INDEX, &key, &val, 0)
	             : store_del(txn, DB_ISSUER_INDEX, &key);
	if (rc && rc != -ENOENT)
		return rc;
	key.mv_size = index_key(STORE_HASH_SHA256, is->name_sha256, is->key_sha256, k);
	rc = add ? store_put(txn, DB_ISSUER_INDEX, &key, &val, 0)
	         : store_del(txn, DB_ISSUER_INDEX, &key);
	return rc == -ENOENT ? 0 : rc;
}

struct label_search {
	const char *label;
	uint32_t skip_id;
	struct store_issuer *out;
};

static int label_match_cb(const struct store_issuer *is, void *arg)
{
	struct label_search *search = arg;
	if (is->id == search->skip_id || strncmp(is->label, search->label, sizeof(is->label)))
		return 0;
	if (search->out)
		*search->out = *is;
	return 1;
}

int store_issuer_put(struct store_txn *txn, struct store_issuer *issuer, struct store_blob cert_der)
{
	int rc = store_require_write(txn);
	if (rc)
		return rc;
	if (!issuer || issuer->label[0] == '\0' ||
	    memchr(issuer->label, '\0', sizeof(issuer->label)) == NULL ||
	    (issuer->kind != CERT_KIND_SIGN && issuer->kind != CERT_KIND_AUTH) ||
	    cert_der.len > UINT32_MAX)
		return -EINVAL;
	/* Labels name files and URLs: two issuers may not share one. Checked
	 * first, so that -EEXIST leaves the transaction untouched. */
	struct label_search search = {issuer->label, issuer->id, NULL};
	rc = store_issuer_each(txn, label_match_cb, &search);
	if (rc)
		return rc < 0 ? rc : -EEXIST;
	if (issuer->id == 0) {
		uint64_t last = 0;
		MDB_cursor *c;
		rc = store_cursor(txn, DB_ISSUERS, &c);
		if (rc)
			return rc;
		MDB_val key, val;
		if (mdb_cursor_get(c, &key, &val, MDB_LAST) == 0 && key.mv_size == 4)
			last = get_be32(key.mv_data);
		mdb_cursor_close(c);
		if (last >= UINT32_MAX)
			return -ENOSPC;
		issuer->id = (uint32_t)last + 1;
	} else {
		struct store_issuer old;
		rc = issuer_read(txn, issuer->id, &old, NULL);
		if (rc == 0)
			rc = index_put(txn, &old, false);
		if (rc && rc != -ENOENT)
			return rc;
	}
	struct encoder e = {0};
	issuer_encode(&e, issuer, cert_der);
	uint8_t k[4];
	put_be32(k, issuer->id);
	MDB_val key = {4, k}, val = {e.len, NULL};
	rc = store_put(txn, DB_ISSUERS, &key, &val, MDB_RESERVE);
	if (rc)
		return rc;
	e = (struct encoder){val.mv_data, 0};
	issuer_encode(&e, issuer, cert_der);
	return index_put(txn, issuer, true);
}

int store_issuer_get(struct store_txn *txn, uint32_t id, struct store_issuer *out)
{
	return issuer_read(txn, id, out, NULL);
}

int store_issuer_cert(struct store_txn *txn, uint32_t id, struct store_blob *der_out)
{
	int rc = issuer_read(txn, id, NULL, der_out);
	if (rc == 0 && der_out->len == 0)
		rc = -ENOENT;
	return rc;
}

int store_issuer_by_label(struct store_txn *txn, const char *label, struct store_issuer *out)
{
	if (!label)
		return -EINVAL;
	struct label_search search = {label, 0, out};
	int rc = store_issuer_each(txn, label_match_cb, &search);
	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

int store_issuer_find(struct store_txn *txn, enum store_hash alg, const uint8_t *name_hash,
                      const uint8_t *key_hash, uint32_t *id_out)
{
	if (hash_len(alg) == 0 || !name_hash || !key_hash)
		return -EINVAL;
	uint8_t k[INDEX_KEY_MAX];
	MDB_val key = {index_key(alg, name_hash, key_hash, k), k}, val;
	int rc = store_get(txn, DB_ISSUER_INDEX, &key, &val);
	if (rc)
		return rc;
	struct decoder d;
	dec_init(&d, val.mv_data, val.mv_size);
	*id_out = dec_u32(&d);
	return dec_finish(&d);
}

int store_issuer_each(struct store_txn *txn, int (*fn)(const struct store_issuer *, void *),
                      void *arg)
{
	MDB_cursor *c;
	int rc = store_cursor(txn, DB_ISSUERS, &c);
	if (rc)
		return rc;
	MDB_val key, val;
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		struct store_issuer is;
		int result = key.mv_size == 4
		                     ? issuer_decode(get_be32(key.mv_data), &val, &is, NULL)
		                     : -EIO;
		if (result == 0)
			result = fn(&is, arg);
		if (result) {
			mdb_cursor_close(c);
			return result;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_error(rc);
}
