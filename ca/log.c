/* The Merkle log's signed side: see log.h and docs/log.md. */
#include "ca/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/json.h"
#include "pki/cms_build.h"
#include "pki/hash.h"
#include "pki/signer.h"
#include "pki/verify.h"
#include "pki/x509_write.h"

struct ca_sth_signer {
	struct pki_signer *signer;
};

int ca_sth_key_files(const char *data_dir, char cert[PATH_MAX], char key[PATH_MAX])
{
	/* The intake receipt key's files (handlers/receipt.c makes them). */
	if (snprintf(cert, PATH_MAX, "%s/ca/receipt.pem", data_dir) >= PATH_MAX ||
	    snprintf(key, PATH_MAX, "%s/ca/receipt.key", data_dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int ca_sth_signer_open(const char *data_dir, struct ca_sth_signer **out)
{
	*out = NULL;
	char cert[PATH_MAX], key[PATH_MAX];
	int rc = ca_sth_key_files(data_dir, cert, key);
	if (rc)
		return rc;
	struct stat st;
	if (stat(key, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM; /* docs/architecture.md, rule 5 */
	struct ca_sth_signer *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	if ((rc = pki_signer_load(cert, key, &s->signer)) < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ca_sth_signer_free(struct ca_sth_signer *s)
{
	if (!s)
		return;
	pki_signer_free(s->signer);
	free(s);
}

struct lease_args {
	uint64_t holder;
	int64_t now, ttl;
};

static int lease_cb(struct store_txn *txn, void *arg)
{
	struct lease_args *a = arg;
	return store_lease_take(txn, CA_STH_LEASE, a->holder, a->now, a->ttl, NULL);
}

static int release_cb(struct store_txn *txn, void *arg)
{
	return store_lease_release(txn, CA_STH_LEASE, *(uint64_t *)arg);
}

int ca_sth_release(struct store *store, uint64_t holder)
{
	return store_write(store, release_cb, &holder);
}

static int put_cb(struct store_txn *txn, void *arg)
{
	return store_sth_put(txn, arg);
}

/* What is due: the log's size and root when it grew beyond the latest STH,
 * else *size = 0. */
static int due(struct store *store, struct store_sth *sth)
{
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc)
		return rc;
	struct store_sth latest;
	uint64_t size;
	rc = store_log_size(txn, &size);
	if (rc == 0) {
		rc = store_sth_latest(txn, &latest);
		if (rc == -ENOENT) {
			latest.tree_size = 0;
			rc = 0;
		}
	}
	sth->tree_size = 0;
	if (rc == 0 && size > latest.tree_size) {
		rc = store_log_root(txn, size, sth->root);
		if (rc == 0)
			sth->tree_size = size;
	}
	store_txn_abort(txn);
	return rc;
}

int ca_sth_sign_due(struct ca_sth_signer *s, struct store *store, uint64_t holder, int64_t now_ms,
                    int64_t lease_seconds, uint64_t *signed_size)
{
	*signed_size = 0;
	struct lease_args lease = {holder, now_ms / 1000, lease_seconds};
	int rc = store_write(store, lease_cb, &lease);
	if (rc)
		return rc;
	struct store_sth sth = {.timestamp_ms = now_ms};
	if ((rc = due(store, &sth)) < 0 || sth.tree_size == 0)
		return rc;
	uint8_t bytes[STORE_STH_SIGNED_LEN], hash[PKI_SHA256_LEN], info[64], sig[CMS_MAX_SIGNATURE];
	store_sth_signed_bytes(&sth, bytes);
	pki_sha256(bytes, sizeof bytes, hash);
	int info_len = cms_digest_info(PKI_DIGEST_SHA256, hash, sizeof hash, info, sizeof info);
	if (info_len < 0)
		return info_len;
	size_t sig_len = 0;
	if ((rc = pki_signer_sign(s->signer, info, (size_t)info_len, sig, &sig_len)) < 0)
		return rc;
	sth.signature = (struct store_blob){sig, sig_len};
	rc = store_write(store, put_cb, &sth);
	if (rc == -EALREADY)
		return 0; /* signed by a process that held the lease before us */
	if (rc == 0)
		*signed_size = sth.tree_size;
	return rc;
}

/* --- JSON ------------------------------------------------------------------------------ */

static void json_base64(struct json *j, const char *key, const uint8_t *data, size_t len)
{
	char text[4 * ((CMS_MAX_SIGNATURE + 2) / 3) + 1];
	if (len > CMS_MAX_SIGNATURE)
		len = 0;
	base64_encode(data, len, text);
	json_string(j, key, text);
}

void ca_log_sth_json(struct buf *out, const struct store_sth *sth)
{
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_uint(&j, "tree_size", sth->tree_size);
	json_int(&j, "timestamp", sth->timestamp_ms);
	json_base64(&j, "sha256_root_hash", sth->root, STORE_HASH_LEN);
	json_base64(&j, "tree_head_signature", sth->signature.data, sth->signature.len);
	json_object_end(&j);
}

static void path_json(struct json *j, const char *key, uint8_t path[][STORE_HASH_LEN], size_t count)
{
	json_array_begin(j, key);
	for (size_t i = 0; i < count; i++)
		json_base64(j, NULL, path[i], STORE_HASH_LEN);
	json_array_end(j);
}

void ca_log_inclusion_json(struct buf *out, uint64_t index, uint64_t size,
                           const uint8_t leaf_hash[STORE_HASH_LEN], uint8_t path[][STORE_HASH_LEN],
                           size_t count)
{
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_uint(&j, "leaf_index", index);
	json_uint(&j, "tree_size", size);
	json_base64(&j, "leaf_hash", leaf_hash, STORE_HASH_LEN);
	path_json(&j, "audit_path", path, count);
	json_object_end(&j);
}

void ca_log_consistency_json(struct buf *out, uint64_t first, uint64_t second,
                             uint8_t path[][STORE_HASH_LEN], size_t count)
{
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_uint(&j, "first", first);
	json_uint(&j, "second", second);
	path_json(&j, "consistency", path, count);
	json_object_end(&j);
}

/* --- verifying ------------------------------------------------------------------------- */

struct sig_check {
	struct pki_cert *cert;
	struct ca_log_verify_report *report;
};

static int sig_check_cb(const struct store_sth *sth, void *arg)
{
	struct sig_check *c = arg;
	uint8_t bytes[STORE_STH_SIGNED_LEN];
	store_sth_signed_bytes(sth, bytes);
	if (pki_cert_verify_sha256(c->cert, bytes, sizeof bytes, sth->signature.data,
	                           sth->signature.len) < 0) {
		c->report->bad = true;
		snprintf(c->report->problem, sizeof c->report->problem,
		         "the signed tree head of %" PRIu64 " leaves has a signature that does not "
		         "verify with the tree-head key (the head was altered or not signed by "
		         "kensho)",
		         sth->tree_size);
		return 1;
	}
	c->report->signatures++;
	return 0;
}

static int load_cert(const char *data_dir, struct pki_cert **out, char err[CA_ERR_LEN])
{
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	int rc = ca_sth_key_files(data_dir, cert_path, key_path);
	uint8_t *pem = NULL, *der = NULL;
	size_t pem_len = 0, der_len = 0;
	if (rc == 0)
		rc = x509_file_read(cert_path, &pem, &pem_len);
	if (rc == 0)
		rc = x509_cert_from_pem((const char *)pem, pem_len, &der, &der_len);
	if (rc == 0)
		rc = pki_cert_parse(der, der_len, out);
	if (rc)
		snprintf(err, CA_ERR_LEN, "cannot read the tree-head certificate %.160s: %s",
		         cert_path, strerror(-rc));
	free(pem);
	free(der);
	return rc;
}

int ca_log_verify(struct store *store, const char *data_dir, struct ca_log_verify_report *report,
                  char err[CA_ERR_LEN])
{
	memset(report, 0, sizeof *report);
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc) {
		snprintf(err, CA_ERR_LEN, "cannot read the store: %s", strerror(-rc));
		return rc;
	}
	rc = store_log_check(txn, &report->log);
	if (rc) {
		snprintf(err, CA_ERR_LEN, "cannot read the log: %s%s", strerror(-rc),
		         rc == -ENOENT ? " (a store of an older kensho opened read-only)" : "");
	} else if (report->log.bad) {
		report->bad = true;
		snprintf(report->problem, sizeof report->problem, "%s", report->log.problem);
	} else if (report->log.sths > 0) {
		struct sig_check c = {NULL, report};
		rc = load_cert(data_dir, &c.cert, err);
		if (rc == 0) {
			rc = store_sth_each(txn, sig_check_cb, &c);
			if (rc == 1)
				rc = 0;
			else if (rc)
				snprintf(err, CA_ERR_LEN, "cannot read the signed tree heads: %s",
				         strerror(-rc));
		}
		pki_cert_free(c.cert);
	}
	store_txn_abort(txn);
	return rc;
}

/* --- exporting --------------------------------------------------------------------------- */

static int write_in(const char *dir, const char *name, const void *data, size_t len,
                    char err[CA_ERR_LEN])
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int rc = x509_file_write(path, data, len, 0644);
	if (rc)
		snprintf(err, CA_ERR_LEN, "cannot write %.160s: %s", path, strerror(-rc));
	return rc;
}

int ca_log_export(struct store *store, uint64_t index, const char *out_dir, char err[CA_ERR_LEN])
{
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, CA_ERR_LEN, "cannot create %.160s: %s", out_dir, strerror(errno));
		return rc;
	}
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc) {
		snprintf(err, CA_ERR_LEN, "cannot read the store: %s", strerror(-rc));
		return rc;
	}
	struct store_sth sth;
	struct store_log_leaf leaf;
	struct store_blob value;
	uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN];
	size_t count = 0;
	struct buf b = {0};
	rc = store_sth_latest(txn, &sth);
	if (rc == 0 && index >= sth.tree_size)
		rc = -ENOENT;
	if (rc == -ENOENT)
		snprintf(err, CA_ERR_LEN,
		         "no signed tree head covers leaf %" PRIu64 " yet (kenshod "
		         "signs one every log.sth_interval)",
		         index);
	if (rc == 0 && (rc = store_log_leaf_record(txn, index, &leaf, &value)) < 0)
		snprintf(err, CA_ERR_LEN, "cannot read leaf %" PRIu64 ": %s", index, strerror(-rc));
	if (rc == 0 && (rc = store_log_inclusion(txn, index, sth.tree_size, path, &count)) < 0)
		snprintf(err, CA_ERR_LEN, "cannot compute the inclusion proof: %s", strerror(-rc));
	if (rc == 0) {
		uint8_t bytes[STORE_STH_SIGNED_LEN], type = (uint8_t)leaf.type;
		store_sth_signed_bytes(&sth, bytes);
		ca_log_sth_json(&b, &sth);
		buf_append_str(&b, "\n");
		rc = b.failed ? -ENOMEM : 0;
		if (rc == 0)
			rc = write_in(out_dir, "sth.json", b.data, b.len, err);
		if (rc == 0)
			rc = write_in(out_dir, "sth.bin", bytes, sizeof bytes, err);
		if (rc == 0)
			rc = write_in(out_dir, "sth.sig", sth.signature.data, sth.signature.len,
			              err);
		b.len = 0;
		ca_log_inclusion_json(&b, index, sth.tree_size, leaf.hash, path, count);
		buf_append_str(&b, "\n");
		if (rc == 0)
			rc = b.failed ? -ENOMEM
			              : write_in(out_dir, "proof.json", b.data, b.len, err);
		/* leaf.bin: the type octet, then the record's value */
		uint8_t *data = malloc(1 + value.len);
		if (rc == 0 && !data)
			rc = -ENOMEM;
		if (rc == 0) {
			data[0] = type;
			if (value.len)
				memcpy(data + 1, value.data, value.len);
			rc = write_in(out_dir, "leaf.bin", data, 1 + value.len, err);
		}
		free(data);
	}
	buf_free(&b);
	store_txn_abort(txn);
	return rc;
}
