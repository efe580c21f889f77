/* ocsp/service: looking up a request's CertIDs, serving the cache, signing
 * and writing back, the stale-version retry when a revocation commits
 * between the read and the write, and pre-signing at issuance and
 * revocation. Runs against a real store and the fixture CA's responder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "ocsp_fixture.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "storage/store.h"
#include "pki/ocsp_codec.h"

#define VALIDITY 600

static const uint8_t serial_good[] = {0x10, 0x01};
static const uint8_t serial_revoked[] = {0x10, 0x02};
static const uint8_t serial_unknown[] = {0x10, 0x03};

struct fixture {
	char dir[64];
	struct store *store;
	uint32_t issuer;
	struct ocsp_responder_set *set;
	uint8_t *ca;
	size_t ca_len;
	struct ocsp_query query;
	/* what the last cache hit delivered */
	unsigned hits;
	uint8_t *hit_der;
	size_t hit_len;
};

static struct store_serial serial_of(const uint8_t *bytes, size_t len)
{
	struct store_serial s = {.len = (uint8_t)len};
	memcpy(s.bytes, bytes, len);
	return s;
}

static void revoke(struct fixture *f, const uint8_t *serial, size_t len, enum crl_reason reason)
{
	struct store_serial s = serial_of(serial, len);
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_cert_revoke(txn, f->issuer, &s, 1790000000, reason), 0);
	assert_int_equal(store_txn_commit(txn), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kensho-ocsp-service-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(
	        ocsp_fixture_create(OCSP_FIXTURE_DIR, f->dir, false, &f->store, &f->issuer), 0);
	assert_int_equal(ocsp_fixture_add_cert(f->store, f->issuer, serial_good, 2), 0);
	assert_int_equal(ocsp_fixture_add_cert(f->store, f->issuer, serial_revoked, 2), 0);
	revoke(f, serial_revoked, 2, CRL_REASON_KEY_COMPROMISE);
	struct ocsp_responder_options opts = {.validity_seconds = VALIDITY};
	assert_int_equal(ocsp_responder_set_open(f->dir, f->store, &opts, &f->set), 0);
	assert_int_equal(ocsp_fixture_ca_der(OCSP_FIXTURE_DIR, &f->ca, &f->ca_len), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ocsp_responder_set_free(f->set);
	store_close(f->store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->hit_der);
	free(f->ca);
	free(f);
	return 0;
}

/* Sets the fixture's query to CertIDs for the serials (2 octets each). */
static void ask(struct fixture *f, enum pki_digest hash, const uint8_t *const *serials, size_t n,
                bool nonce)
{
	memset(&f->query, 0, sizeof(f->query));
	struct ocsp_request *req = &f->query.request;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		        ocsp_cert_id_make(hash, f->ca, f->ca_len, serials[i], 2, &req->ids[i]), 0);
	req->count = n;
	if (nonce) {
		static const uint8_t value[] = {0x04, 0x04, 1, 2, 3, 4}; /* OCTET STRING */
		req->has_nonce = true;
		req->nonce_len = sizeof(value);
		memcpy(req->nonce, value, sizeof(value));
	}
}

static void hit_cb(const struct ocsp_query *q, const struct ocsp_cached *hit, void *arg)
{
	struct fixture *f = arg;
	f->hits++;
	free(f->hit_der);
	f->hit_der = malloc(hit->len);
	memcpy(f->hit_der, hit->der, hit->len);
	f->hit_len = hit->len;
	assert_int_equal(hit->next_update - hit->this_update, VALIDITY);
}

static int lookup(struct fixture *f, int64_t margin)
{
	return ocsp_service_lookup(f->set, &f->query, (int64_t)time(NULL), margin, hit_cb, f);
}

/* Parses and verifies a response; returns it (the caller frees). */
static struct ocsp_response_info *check_response(struct fixture *f, const uint8_t *der, size_t len)
{
	struct ocsp_response_info *info = malloc(sizeof(*info));
	assert_int_equal(ocsp_response_parse(der, len, info), 0);
	assert_int_equal(ocsp_response_verify(info, f->ca, f->ca_len), 0);
	return info;
}

/* The cached response of a serial, parsed, or NULL when none is usable. */
static struct ocsp_response_info *cached(struct fixture *f, const uint8_t *serial,
                                         uint64_t *version)
{
	struct store_serial s = serial_of(serial, 2);
	struct store_txn *txn;
	struct store_cert cert;
	struct store_response response;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_status_lookup(txn, f->issuer, &s, &cert, &response), 0);
	*version = cert.version;
	struct ocsp_response_info *info = NULL;
	if (response.der.data) {
		/* parse a copy: the map's bytes end with the transaction */
		uint8_t *copy = malloc(response.der.len);
		memcpy(copy, response.der.data, response.der.len);
		info = check_response(f, copy, response.der.len);
		assert_int_equal(info->count, 1);
		info->tbs = NULL; /* points into copy */
		free(copy);
	}
	store_txn_abort(txn);
	return info;
}

static void test_several_cert_ids_one_lookup(void **state)
{
	struct fixture *f = *state;
	const uint8_t *serials[] = {serial_good, serial_revoked, serial_unknown};
	ask(f, PKI_DIGEST_SHA256, serials, 3, false);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(f->hits, 0);
	assert_int_equal(f->query.issuer_id, f->issuer);
	assert_ptr_equal(f->query.responder, ocsp_responder_set_get(f->set, f->issuer));
	const struct ocsp_record *r = f->query.records;
	assert_true(r[0].issued);
	assert_int_equal(r[0].status, OCSP_CERT_GOOD);
	assert_int_equal(r[0].reason, -1);
	assert_true(r[1].issued);
	assert_int_equal(r[1].status, OCSP_CERT_REVOKED);
	assert_int_equal(r[1].revoked_at, 1790000000);
	assert_int_equal(r[1].reason, CRL_REASON_KEY_COMPROMISE);
	assert_false(r[2].issued);
	assert_int_equal(r[2].status, OCSP_CERT_UNKNOWN);
	assert_int_equal(r[2].serial.len, 2);

	/* One signature answers all three, in the request's order; nothing is
	 * cached for a request of several CertIDs. */
	struct ocsp_signed out;
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	struct ocsp_response_info *info = check_response(f, out.der, out.len);
	assert_int_equal(info->count, 3);
	assert_int_equal(info->singles[0].status, OCSP_CERT_GOOD);
	assert_int_equal(info->singles[1].status, OCSP_CERT_REVOKED);
	assert_int_equal(info->singles[1].reason, CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(info->singles[2].status, OCSP_CERT_UNKNOWN);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(info->singles[i].id.der, f->query.request.ids[i].der,
		                    f->query.request.ids[i].der_len);
	free(info);
	free(out.der);
	uint64_t version;
	assert_null(cached(f, serial_good, &version));
}

static void test_not_ours(void **state)
{
	struct fixture *f = *state;
	const uint8_t *serials[] = {serial_good, serial_good};
	ask(f, PKI_DIGEST_SHA1, serials, 2, false);
	f->query.request.ids[1].key_hash[0] ^= 1; /* another CA's key */
	assert_int_equal(lookup(f, 0), -ENXIO);
	f->query.request.count = 1;
	assert_int_equal(lookup(f, 0), 0);
}

static void test_cache_hit(void **state)
{
	struct fixture *f = *state;
	struct store_serial good = serial_of(serial_good, 2);
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &good), 0);

	const uint8_t *serials[] = {serial_good};
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 1);
	assert_int_equal(f->hits, 1);
	struct ocsp_response_info *info = check_response(f, f->hit_der, f->hit_len);
	assert_int_equal(info->singles[0].status, OCSP_CERT_GOOD);
	free(info);
	assert_true(f->query.records[0].issued);

	/* Not a hit: due for refresh, another CertID form, a nonce, or a
	 * second CertID (the cache holds one SHA-1 answer per certificate). */
	assert_int_equal(lookup(f, VALIDITY), 0);
	ask(f, PKI_DIGEST_SHA256, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	ask(f, PKI_DIGEST_SHA1, serials, 1, true);
	assert_int_equal(lookup(f, 0), 0);
	const uint8_t *two[] = {serial_good, serial_revoked};
	ask(f, PKI_DIGEST_SHA1, two, 2, false);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(f->hits, 1);
}

static void test_sign_writes_back(void **state)
{
	struct fixture *f = *state;
	const uint8_t *serials[] = {serial_good};
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	struct ocsp_signed out;
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	assert_int_equal(out.next_update - out.this_update, VALIDITY);

	/* The next identical request is served from the cache, byte for byte. */
	assert_int_equal(lookup(f, 0), 1);
	assert_int_equal(f->hit_len, out.len);
	assert_memory_equal(f->hit_der, out.der, out.len);
	free(out.der);

	/* An unknown CertID and a nonce answer are signed but never cached. */
	const uint8_t *unknown[] = {serial_unknown};
	ask(f, PKI_DIGEST_SHA1, unknown, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	free(out.der);
	assert_int_equal(lookup(f, 0), 0);
	ask(f, PKI_DIGEST_SHA256, serials, 1, true);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	struct ocsp_response_info *info = check_response(f, out.der, out.len);
	assert_true(info->has_nonce);
	free(info);
	free(out.der);
	uint64_t version;
	struct ocsp_response_info *still = cached(f, serial_good, &version);
	assert_non_null(still);
	assert_false(still->has_nonce);
	free(still);
}

/* A certificate has two cached answers, one per CertID form: a SHA-256
 * request is cached beside the pre-signed SHA-1 answer instead of replacing
 * it, so clients that alternate cost no signature; other forms are signed
 * and not cached (they would displace the SHA-1 answer); a revocation
 * removes both. */
static void test_both_forms_cached(void **state)
{
	struct fixture *f = *state;
	struct store_serial good = serial_of(serial_good, 2);
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &good), 0);
	const uint8_t *serials[] = {serial_good};
	ask(f, PKI_DIGEST_SHA256, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	struct ocsp_signed out;
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	free(out.der);
	for (int round = 0; round < 2; round++) {
		f->hits = 0;
		ask(f, PKI_DIGEST_SHA256, serials, 1, false);
		assert_int_equal(lookup(f, 0), 1);
		struct ocsp_response_info *info = check_response(f, f->hit_der, f->hit_len);
		assert_int_equal(info->count, 1);
		assert_int_equal(info->singles[0].id.hash, PKI_DIGEST_SHA256);
		free(info);
		ask(f, PKI_DIGEST_SHA1, serials, 1, false);
		assert_int_equal(lookup(f, 0), 1);
		info = check_response(f, f->hit_der, f->hit_len);
		assert_int_equal(info->singles[0].id.hash, PKI_DIGEST_SHA1);
		free(info);
		assert_int_equal(f->hits, 2);
	}
	ask(f, PKI_DIGEST_SHA384, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	free(out.der);
	assert_int_equal(lookup(f, 0), 0);
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 1);

	revoke(f, serial_good, 2, CRL_REASON_KEY_COMPROMISE);
	ask(f, PKI_DIGEST_SHA256, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
}

/* One signed answer for several certificates: each is served those exact
 * bytes. Revoking one takes the batch away from all of them (its bytes say
 * good for the revoked one): they miss until signed again. A batch signed
 * before a revocation and written after it is cached for none. Batches are
 * deleted with their last reference. */
static void test_batch_answer(void **state)
{
	struct fixture *f = *state;
	static const uint8_t more[3][2] = {{0x20, 0x01}, {0x20, 0x02}, {0x20, 0x03}};
	for (int i = 0; i < 3; i++)
		assert_int_equal(ocsp_fixture_add_cert(f->store, f->issuer, more[i], 2), 0);
	struct store_serial serials[4] = {serial_of(serial_good, 2), serial_of(more[0], 2),
	                                  serial_of(more[1], 2), serial_of(more[2], 2)};
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	struct ocsp_presigned_batch b;
	assert_int_equal(ocsp_service_presign_batch_read(f->set, txn, f->issuer, serials, 4,
	                                                 (int64_t)time(NULL),
	                                                 STORE_SIGNATURE_REFRESH, &b),
	                 0);
	assert_int_equal(b.count, 4);
	struct ocsp_presigned_batch late = b; /* a copy, as read before the revocation */
	assert_int_equal(ocsp_service_presigned_batch_put(txn, &b), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b.members[i].result, 0);
	uint64_t batches;
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 1);
	assert_int_equal(store_txn_commit(txn), 0);

	const uint8_t *each[] = {serial_good, more[0], more[1], more[2]};
	for (int i = 0; i < 4; i++) {
		ask(f, PKI_DIGEST_SHA1, &each[i], 1, false);
		assert_int_equal(lookup(f, 0), 1);
		assert_int_equal(f->hit_len, b.response.der.len);
		assert_memory_equal(f->hit_der, b.response.der.data, f->hit_len);
	}
	struct ocsp_response_info *info = check_response(f, f->hit_der, f->hit_len);
	assert_int_equal(info->count, 4);
	free(info);

	revoke(f, more[1], 2, CRL_REASON_KEY_COMPROMISE);
	for (int i = 0; i < 4; i++) {
		ask(f, PKI_DIGEST_SHA1, &each[i], 1, false);
		assert_int_equal(lookup(f, 0), 0);
		assert_int_equal(f->query.records[0].status,
		                 i == 2 ? OCSP_CERT_REVOKED : OCSP_CERT_GOOD);
	}
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	assert_int_equal(ocsp_service_presigned_batch_put(txn, &late), 0);
	assert_int_equal(late.members[2].result, -ESTALE);
	assert_int_equal(late.members[0].result, -ECANCELED);
	assert_int_equal(late.members[3].result, -ECANCELED);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	assert_int_equal(store_txn_commit(txn), 0);
	ask(f, PKI_DIGEST_SHA1, &each[0], 1, false);
	assert_int_equal(lookup(f, 0), 0);

	/* signed again without the revoked one; single answers replace it */
	struct store_serial three[3] = {serials[0], serials[1], serials[3]};
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	struct ocsp_presigned_batch again;
	assert_int_equal(ocsp_service_presign_batch_read(f->set, txn, f->issuer, three, 3,
	                                                 (int64_t)time(NULL),
	                                                 STORE_SIGNATURE_REFRESH, &again),
	                 0);
	assert_int_equal(ocsp_service_presigned_batch_put(txn, &again), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	ask(f, PKI_DIGEST_SHA1, &each[3], 1, false);
	assert_int_equal(lookup(f, 0), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ocsp_service_presign(f->set, f->issuer, &serials[i]), 0);
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_batch_count(txn, &batches), 0);
	assert_int_equal(batches, 0);
	store_txn_abort(txn);
	ocsp_presigned_batch_free(&again);
	ocsp_presigned_batch_free(&b);
}

/* A revocation commits after the lookup read "good" and before the signed
 * answer is written back: the write-back is refused (-ESTALE), the service
 * reads again and answers (and caches) revoked. */
static void test_stale_write_back_signs_again(void **state)
{
	struct fixture *f = *state;
	const uint8_t *serials[] = {serial_good};
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(f->query.records[0].status, OCSP_CERT_GOOD);
	uint64_t read_version = f->query.records[0].version;

	revoke(f, serial_good, 2, CRL_REASON_AFFILIATION_CHANGED); /* the concurrent writer */

	struct ocsp_signed out;
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	struct ocsp_response_info *info = check_response(f, out.der, out.len);
	assert_int_equal(info->singles[0].status, OCSP_CERT_REVOKED);
	assert_int_equal(info->singles[0].reason, CRL_REASON_AFFILIATION_CHANGED);
	free(info);
	free(out.der);
	assert_int_equal(f->query.records[0].status, OCSP_CERT_REVOKED);
	assert_true(f->query.records[0].version > read_version);

	uint64_t version;
	info = cached(f, serial_good, &version);
	assert_non_null(info);
	assert_int_equal(info->singles[0].status, OCSP_CERT_REVOKED);
	assert_int_equal(version, f->query.records[0].version);
	free(info);
}

/* The same race for an answer that is not cached (a nonce): the records are
 * read again before answering, and the answer is signed again. */
static void test_stale_uncached_answer_signs_again(void **state)
{
	struct fixture *f = *state;
	const uint8_t *serials[] = {serial_good, serial_unknown};
	ask(f, PKI_DIGEST_SHA1, serials, 2, true);
	assert_int_equal(lookup(f, 0), 0);
	assert_int_equal(f->query.records[0].status, OCSP_CERT_GOOD);
	revoke(f, serial_good, 2, CRL_REASON_KEY_COMPROMISE);
	struct ocsp_signed out;
	assert_int_equal(ocsp_service_sign(f->set, &f->query, &out), 0);
	struct ocsp_response_info *info = check_response(f, out.der, out.len);
	assert_int_equal(info->singles[0].status, OCSP_CERT_REVOKED);
	assert_int_equal(info->singles[1].status, OCSP_CERT_UNKNOWN);
	free(info);
	free(out.der);
}

static void test_presign_at_issue_and_revoke(void **state)
{
	struct fixture *f = *state;
	/* Issuance: the certificate and its answer in one transaction. */
	static const uint8_t fresh[] = {0x10, 0x04};
	struct store_cert cert = {.issuer_id = f->issuer,
	                          .kind = CERT_KIND_AUTH,
	                          .status = CERT_STATUS_GOOD,
	                          .not_before = 1700000000,
	                          .not_after = 2000000000,
	                          .serial = serial_of(fresh, 2)};
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_cert_insert(txn, &cert, (struct store_blob){0}), 0);
	assert_int_equal(ocsp_service_presign_in_txn(f->set, txn, f->issuer, &cert.serial), 0);
	assert_int_equal(store_txn_commit(txn), 0);
	uint64_t version;
	struct ocsp_response_info *info = cached(f, fresh, &version);
	assert_non_null(info);
	assert_int_equal(info->singles[0].status, OCSP_CERT_GOOD);
	free(info);

	/* Revocation, then pre-signing after its commit. */
	revoke(f, fresh, 2, CRL_REASON_SUPERSEDED);
	assert_null(cached(f, fresh, &version));
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &cert.serial), 0);
	info = cached(f, fresh, &version);
	assert_non_null(info);
	assert_int_equal(info->singles[0].status, OCSP_CERT_REVOKED);
	assert_int_equal(info->singles[0].reason, CRL_REASON_SUPERSEDED);
	free(info);

	/* The pre-signed answer is the one a SHA-1 request is served. */
	const uint8_t *serials[] = {fresh};
	ask(f, PKI_DIGEST_SHA1, serials, 1, false);
	assert_int_equal(lookup(f, 0), 1);

	struct store_serial never = serial_of(serial_unknown, 2);
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &never), -ENOENT);
	assert_int_equal(ocsp_service_presign(f->set, f->issuer + 7, &cert.serial), -ENOENT);
	assert_int_equal(ocsp_service_presign(NULL, f->issuer, &cert.serial), -ENOENT);
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(ocsp_service_presign_in_txn(f->set, txn, f->issuer, &never), -ENOENT);
	store_txn_abort(txn);
}

static void test_responder_files(void **state)
{
	struct fixture *f = *state;
	struct ocsp_responder_files files;
	assert_int_equal(ocsp_responder_files("/d", "auth", &files), 0);
	assert_string_equal(files.ca, "/d/ca/auth-ca.pem");
	assert_string_equal(files.cert, "/d/ca/auth-ocsp.pem");
	assert_string_equal(files.key, "/d/ca/auth-ocsp.key");
	char long_dir[PATH_MAX];
	memset(long_dir, 'a', sizeof(long_dir) - 1);
	long_dir[sizeof(long_dir) - 1] = 0;
	assert_int_equal(ocsp_responder_files(long_dir, "sign", &files), -ENAMETOOLONG);

	/* A key readable by others: the server refuses the whole set, the CA
	 * tools go on without that issuer's responder. */
	assert_int_equal(ocsp_responder_files(f->dir, "sign", &files), 0);
	assert_int_equal(chmod(files.key, 0644), 0);
	struct ocsp_responder_options opts = {0};
	struct ocsp_responder_set *set = NULL;
	assert_int_equal(ocsp_responder_set_open(f->dir, f->store, &opts, &set), -EACCES);
	assert_int_equal(ocsp_responder_set_open_available(f->dir, f->store, &opts, &set), 0);
	assert_null(ocsp_responder_set_get(set, f->issuer));
	struct store_serial good = serial_of(serial_good, 2);
	assert_int_equal(ocsp_service_presign(set, f->issuer, &good), -ENOENT);
	ocsp_responder_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_several_cert_ids_one_lookup, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_ours, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sign_writes_back, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_both_forms_cached, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_batch_answer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_write_back_signs_again, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_uncached_answer_signs_again, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_presign_at_issue_and_revoke, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_responder_files, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
