/* ocsp/responder_set and ocsp_service_presign: responders loaded per issuer
 * from a data directory, pre-signing into the store, and the cache rule that
 * makes "good after a revocation" impossible: a revocation deletes the cached
 * response in its transaction, and a response signed for an older record is
 * refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ocsp_fixture.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "storage/store.h"
#include "pki/ocsp_codec.h"

struct fixture {
	char dir[64];
	struct store *store;
	uint32_t issuer;
	struct ocsp_responder_set *set;
	uint8_t *ca;
	size_t ca_len;
};

static const uint8_t serial_good[] = {0x10, 0x01};

static int setup(void **state, bool ecdsa)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/kensho-ocsp-cache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(
	        ocsp_fixture_create(OCSP_FIXTURE_DIR, f->dir, ecdsa, &f->store, &f->issuer), 0);
	assert_int_equal(ocsp_fixture_add_cert(f->store, f->issuer, serial_good, 2), 0);
	struct ocsp_responder_options opts = {.validity_seconds = 600};
	assert_int_equal(ocsp_responder_set_open(f->dir, f->store, &opts, &f->set), 0);
	assert_int_equal(ocsp_fixture_ca_der(OCSP_FIXTURE_DIR, &f->ca, &f->ca_len), 0);
	*state = f;
	return 0;
}

static int setup_rsa(void **state)
{
	return setup(state, false);
}

static int setup_ecdsa(void **state)
{
	return setup(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ocsp_responder_set_free(f->set);
	store_close(f->store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->ca);
	free(f);
	return 0;
}

/* Reads the cached response's status; returns -1 when nothing is cached. */
static int cached_status(struct fixture *f, const struct ocsp_cert_id *id, int *reason,
                         uint64_t *version)
{
	struct store_txn *txn;
	struct store_serial serial = {.len = 2, .bytes = {0x10, 0x01}};
	struct store_cert cert;
	struct store_response response;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_status_lookup(txn, f->issuer, &serial, &cert, &response), 0);
	*version = cert.version;
	int status = -1;
	if (response.der.data) {
		assert_true(ocsp_response_answers(response.der.data, response.der.len, id));
		struct ocsp_response_info *info = malloc(sizeof(*info));
		assert_int_equal(ocsp_response_parse(response.der.data, response.der.len, info), 0);
		assert_int_equal(ocsp_response_verify(info, f->ca, f->ca_len), 0);
		assert_int_equal(response.next_update - response.this_update, 600);
		status = (int)info->singles[0].status;
		*reason = info->singles[0].reason;
		free(info);
	}
	store_txn_abort(txn);
	return status;
}

static void test_matches_only_own_issuer(void **state)
{
	struct fixture *f = *state;
	struct ocsp_cert_id ids[2];
	assert_int_equal(
	        ocsp_cert_id_make(PKI_DIGEST_SHA256, f->ca, f->ca_len, serial_good, 2, &ids[0]), 0);
	uint32_t issuer = 0;
	struct ocsp_responder *r = ocsp_responder_set_match(f->set, ids, 1, &issuer);
	assert_non_null(r);
	assert_int_equal(issuer, f->issuer);
	assert_ptr_equal(r, ocsp_responder_set_get(f->set, f->issuer));
	assert_null(ocsp_responder_set_get(f->set, f->issuer + 1));
	/* A CertID with another issuer's key hash is not ours, alone or mixed. */
	ids[1] = ids[0];
	ids[1].key_hash[0] ^= 1;
	assert_null(ocsp_responder_set_match(f->set, &ids[1], 1, &issuer));
	assert_null(ocsp_responder_set_match(f->set, ids, 2, &issuer));
}

static void test_presign_then_revoke(void **state)
{
	struct fixture *f = *state;
	struct ocsp_cert_id id;
	assert_int_equal(ocsp_cert_id_make(PKI_DIGEST_SHA1, f->ca, f->ca_len, serial_good, 2, &id),
	                 0);
	int reason;
	uint64_t version;
	assert_int_equal(cached_status(f, &id, &reason, &version), -1);

	struct store_serial serial = {.len = 2, .bytes = {0x10, 0x01}};
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &serial), 0);
	assert_int_equal(cached_status(f, &id, &reason, &version), OCSP_CERT_GOOD);
	uint64_t good_version = version;

	/* Sign a "good" answer for the current version, but let a revocation
	 * commit before it is written back, as a racing responder would. */
	struct store_cert cert;
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(f->store, false, &txn), 0);
	assert_int_equal(store_cert_get(txn, f->issuer, &serial, &cert), 0);
	store_txn_abort(txn);
	struct ocsp_signed late;
	struct ocsp_answer good = {.id = &id, .status = OCSP_CERT_GOOD, .reason = -1};
	assert_int_equal(ocsp_response_sign(ocsp_responder_set_get(f->set, f->issuer), &good, 1,
	                                    NULL, 0, 1800000000, &late),
	                 0);
	struct store_response late_cached = {.der = {late.der, late.len},
	                                     .this_update = late.this_update,
	                                     .next_update = late.next_update,
	                                     .cert_version = cert.version};

	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(
	        store_cert_revoke(txn, f->issuer, &serial, 1790000000, CRL_REASON_KEY_COMPROMISE),
	        0);
	assert_int_equal(store_txn_commit(txn), 0);
	/* The revocation took the cached "good" with it. */
	assert_int_equal(cached_status(f, &id, &reason, &version), -1);
	assert_true(version > good_version);

	/* The late "good" is refused. */
	assert_int_equal(store_txn_begin(f->store, true, &txn), 0);
	assert_int_equal(store_response_put(txn, f->issuer, &serial, &late_cached), -ESTALE);
	store_txn_abort(txn);
	free(late.der);
	assert_int_equal(cached_status(f, &id, &reason, &version), -1);

	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &serial), 0);
	assert_int_equal(cached_status(f, &id, &reason, &version), OCSP_CERT_REVOKED);
	assert_int_equal(reason, CRL_REASON_KEY_COMPROMISE);

	struct store_serial never = {.len = 1, .bytes = {0x42}};
	assert_int_equal(ocsp_service_presign(f->set, f->issuer, &never), -ENOENT);
	assert_int_equal(ocsp_service_presign(f->set, f->issuer + 7, &serial), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_matches_only_own_issuer, setup_rsa, teardown),
	        cmocka_unit_test_setup_teardown(test_presign_then_revoke, setup_rsa, teardown),
	        cmocka_unit_test_setup_teardown(test_presign_then_revoke, setup_ecdsa, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
