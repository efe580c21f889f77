/* The CA library against a real store in a temporary directory: ca init,
 * issuance, revocation, each life-event rule of docs/jpki.md, renewal links,
 * OCSP pre-signing and synthetic populations. */
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
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha1.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "ca/jpki_address.h"
#include "ca/jpki_profile.h"
#include "ocsp/service.h"
#include "pki/x509_write.h"

static char dir[256];
static struct ca *ca;
static uint8_t pubkey_pem[2048];

static int rng(void *state, unsigned char *out, size_t len)
{
	return mbedtls_ctr_drbg_random(state, out, len);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/kensho-test-ca-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	strcat(dir, "/data");
	char err[CA_ERR_LEN];
	if (ca_init(dir, "http://va.example:8080/", err) || ca_open(dir, &ca, err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	/* One subject key for the issuances that supply their own. */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&key);
	int e = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
	if (!e)
		e = x509_key_generate(&key, 1024, rng, &drbg);
	if (!e)
		e = mbedtls_pk_write_pubkey_pem(&key, pubkey_pem, sizeof(pubkey_pem));
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return e;
}

static int teardown(void **state)
{
	ca_close(ca);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	*strrchr(cmd, '/') = 0; /* the mkdtemp directory */
	strcat(cmd, "'");
	return system(cmd) == 0 ? 0 : -1;
}

static void issue(const char *birth, struct ca_issued *out)
{
	struct ca_issue_request req = {
	        .person = {"鈴木\u3000一郎", birth, 1, "東京都新宿区西新宿2丁目8番1号"},
	        .sign_pubkey = pubkey_pem,
	        .sign_pubkey_len = strlen((char *)pubkey_pem),
	        .auth_pubkey = pubkey_pem,
	        .auth_pubkey_len = strlen((char *)pubkey_pem),
	        .actor = "test",
	};
	char err[CA_ERR_LEN];
	int e = ca_issue(ca, &req, out, err);
	if (e)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(e, 0);
}

static void assert_serial_equal(const struct store_serial *a, const struct store_serial *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->bytes, b->bytes, a->len);
}

static void get(enum cert_kind kind, const struct store_serial *serial, struct store_cert *out)
{
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_cert_get(txn, ca_issuer_id(ca, kind), serial, out), 0);
	store_txn_abort(txn);
}

static bool has_cached_response(enum cert_kind kind, const struct store_serial *serial)
{
	struct store_txn *txn;
	struct store_cert cert;
	struct store_response resp;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_status_lookup(txn, ca_issuer_id(ca, kind), serial, &cert, &resp), 0);
	bool cached = resp.der.data != NULL;
	store_txn_abort(txn);
	return cached;
}

static void test_init_files_and_issuers(void **state)
{
	static const char *const files[] = {"sign-ca", "auth-ca", "sign-ocsp", "auth-ocsp"};
	for (int i = 0; i < 4; i++) {
		char path[400];
		struct stat st;
		snprintf(path, sizeof(path), "%s/ca/%s.key", dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		snprintf(path, sizeof(path), "%s/ca/%s.pem", dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
	}
	char err[CA_ERR_LEN];
	assert_int_equal(ca_init(dir, NULL, err), -EEXIST);
	assert_string_equal(ca_base_url(ca), "http://va.example:8080");

	/* The issuer's name hash is SHA-1 over the CA certificate's subject DER. */
	char path[400];
	snprintf(path, sizeof(path), "%s/ca/sign-ca.pem", dir);
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, path), 0);
	uint8_t name_sha1[20];
	mbedtls_sha1_ret(crt.subject_raw.p, crt.subject_raw.len, name_sha1);
	mbedtls_x509_crt_free(&crt);
	struct store_txn *txn;
	struct store_issuer issuer;
	uint32_t id;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_issuer_by_label(txn, "sign", &issuer), 0);
	assert_memory_equal(issuer.name_sha1, name_sha1, 20);
	assert_int_equal(issuer.kind, CERT_KIND_SIGN);
	assert_int_equal(store_issuer_find(txn, STORE_HASH_SHA256, issuer.name_sha256,
	                                   issuer.key_sha256, &id),
	                 0);
	assert_int_equal(id, ca_issuer_id(ca, CERT_KIND_SIGN));
	assert_int_equal(store_issuer_by_label(txn, "auth", &issuer), 0);
	assert_int_equal(issuer.kind, CERT_KIND_AUTH);
	store_txn_abort(txn);
}

static void test_key_file_permissions_enforced(void **state)
{
	char path[400], err[CA_ERR_LEN];
	snprintf(path, sizeof(path), "%s/ca/auth-ca.key", dir);
	assert_int_equal(chmod(path, 0644), 0);
	struct ca *other;
	assert_int_equal(ca_open(dir, &other, err), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_issue_pair(void **state)
{
	struct ca_issued out;
	issue("1980-04-01", &out);
	assert_true(out.sign.issued);
	assert_true(out.auth.issued);
	assert_null(out.sign.key_pem); /* the caller supplied the keys */
	assert_int_equal(out.sign.serial.len, CA_SERIAL_LEN);
	assert_true(out.sign.serial.bytes[0] > 0 && out.sign.serial.bytes[0] < 0x80);

	struct store_cert sign, auth;
	get(CERT_KIND_SIGN, &out.sign.serial, &sign);
	get(CERT_KIND_AUTH, &out.auth.serial, &auth);
	assert_int_equal(sign.status, CERT_STATUS_GOOD);
	assert_int_equal(sign.kind, CERT_KIND_SIGN);
	assert_serial_equal(&sign.pair, &out.auth.serial);
	assert_serial_equal(&auth.pair, &out.sign.serial);
	assert_int_equal(sign.person_id, out.person_id);
	assert_int_equal(auth.person_id, out.person_id);
	assert_int_equal(sign.not_after, out.sign.not_after);
	assert_int_equal((sign.not_after + JPKI_JST_OFFSET) % 86400, 86399); /* 23:59:59 JST */

	struct store_txn *txn;
	struct store_person person;
	struct store_blob der;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_person_get(txn, out.person_id, &person), 0);
	assert_string_equal(person.birth, "319800401");
	assert_string_equal(person.name, "鈴木\u3000一郎");
	assert_int_equal(
	        store_cert_der(txn, ca_issuer_id(ca, CERT_KIND_SIGN), &out.sign.serial, &der), 0);
	assert_int_equal(der.len, out.sign.der_len);
	assert_memory_equal(der.data, out.sign.der, der.len);
	store_txn_abort(txn);

	assert_true(has_cached_response(CERT_KIND_SIGN, &out.sign.serial));
	assert_true(has_cached_response(CERT_KIND_AUTH, &out.auth.serial));
	ca_issued_free(&out);
}

static void test_issue_child_gets_no_signing_cert(void **state)
{
	char birth[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(birth, sizeof(birth), "%04d-01-01", tm.tm_year + 1900 - 10);
	struct ca_issue_request req = {
	        .person = {"佐藤\u3000花子", birth, 2, "大阪府大阪市北区梅田1丁目"},
	        .auth_pubkey = pubkey_pem,
	        .auth_pubkey_len = strlen((char *)pubkey_pem),
	};
	struct ca_issued out;
	char err[CA_ERR_LEN];
	assert_int_equal(ca_issue(ca, &req, &out, err), 0);
	assert_false(out.sign.issued);
	assert_true(out.auth.issued);
	struct store_cert auth;
	get(CERT_KIND_AUTH, &out.auth.serial, &auth);
	assert_int_equal(auth.pair.len, 0);
	/* A move concerns the signing certificate only: a child has none. */
	assert_int_equal(
	        ca_event(ca, CERT_KIND_AUTH, &out.auth.serial, CA_EVENT_MOVE, "test", NULL, err),
	        -ENOENT);
	ca_issued_free(&out);

	/* Asking for one explicitly is refused. */
	req.sign_pubkey = pubkey_pem;
	req.sign_pubkey_len = strlen((char *)pubkey_pem);
	assert_int_equal(ca_issue(ca, &req, &out, err), -EPERM);
}

static void test_issue_rejects_bad_input(void **state)
{
	char err[CA_ERR_LEN];
	struct ca_issued out;
	char long_address[1000] = "";
	for (int i = 0; i < 201; i++)
		strcat(long_address, "あ");
	const char *ok = "東京都清瀬市本町1";
	const struct ca_person bad[] = {
	        {"名前", "1980-02-30", 1, ok},
	        {"名前", "1980-01-01", 4, ok},
	        {"", "1980-01-01", 1, ok},
	        {"名前", "1980-01-01", 1, long_address},
	        {"\xff\xfe", "1980-01-01", 1, ok},
	        {"名前", "2999-01-01", 1, ok},
	        /* addresses: a prefecture alone, an unknown municipality, a
	         * character outside JIS X 0208/0213 */
	        {"名前", "1980-01-01", 1, "東京都"},
	        {"名前", "1980-01-01", 1, "東京都架空市1"},
	        {"名前", "1980-01-01", 1, "東京都清瀬市ﾎﾝﾁｮｳ1"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ca_issue_request req = {.person = bad[i],
		                               .auth_pubkey = pubkey_pem,
		                               .auth_pubkey_len = strlen((char *)pubkey_pem)};
		assert_int_equal(ca_issue(ca, &req, &out, err), -EINVAL);
	}
	assert_non_null(strstr(err, "outside JIS X 0208 and JIS X 0213"));
	struct ca_issue_request req = {.person = {"名前", "1980-01-01", 1, ok},
	                               .sign_pubkey = (const uint8_t *)"nonsense",
	                               .sign_pubkey_len = 8};
	assert_int_equal(ca_issue(ca, &req, &out, err), -EINVAL);
	assert_non_null(strstr(err, "public key"));
}

/* The subject CN of a certificate's DER, into cn. */
static void subject_cn(const uint8_t *der, size_t len, char *cn, size_t cap)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_der(&crt, der, len), 0);
	char dn[512];
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject) > 0);
	mbedtls_x509_crt_free(&crt);
	const char *at = strstr(dn, "CN=");
	assert_non_null(at);
	snprintf(cn, cap, "%s", at + 3);
}

static void test_auth_cn_is_opaque(void **state)
{
	struct ca_issued a, b;
	issue("1975-05-05", &a);
	issue("1975-05-05", &b);
	char cn_a[128], cn_b[128], cn_sign[128];
	subject_cn(a.auth.der, a.auth.der_len, cn_a, sizeof(cn_a));
	subject_cn(b.auth.der, b.auth.der_len, cn_b, sizeof(cn_b));
	subject_cn(a.sign.der, a.sign.der_len, cn_sign, sizeof(cn_sign));
	/* 23 digits and capital letters, not the signing CN's timestamp */
	assert_int_equal(strlen(cn_a), JPKI_AUTH_CN_LEN);
	assert_int_equal(strspn(cn_a, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), JPKI_AUTH_CN_LEN);
	assert_int_equal(strlen(cn_b), JPKI_AUTH_CN_LEN);
	assert_string_not_equal(cn_a, cn_b);
	assert_string_not_equal(cn_a, cn_sign);
	ca_issued_free(&a);
	ca_issued_free(&b);
}

static void test_revoke(void **state)
{
	struct ca_issued out;
	issue("1970-01-01", &out);
	char err[CA_ERR_LEN];
	assert_int_equal(ca_revoke(ca, CERT_KIND_AUTH, &out.auth.serial, CRL_REASON_KEY_COMPROMISE,
	                           "test", err),
	                 0);
	struct store_cert c;
	get(CERT_KIND_AUTH, &out.auth.serial, &c);
	assert_int_equal(c.status, CERT_STATUS_REVOKED);
	assert_int_equal(c.reason, CRL_REASON_KEY_COMPROMISE);
	assert_true(c.revoked_at > 0);
	get(CERT_KIND_SIGN, &out.sign.serial, &c);
	assert_int_equal(c.status, CERT_STATUS_GOOD);
	/* The revoked status was pre-signed again. */
	assert_true(has_cached_response(CERT_KIND_AUTH, &out.auth.serial));

	assert_int_equal(ca_revoke(ca, CERT_KIND_AUTH, &out.auth.serial, CRL_REASON_UNSPECIFIED,
	                           "test", err),
	                 -EALREADY);
	struct store_serial unknown = {.len = 1, .bytes = {0x42}};
	assert_int_equal(
	        ca_revoke(ca, CERT_KIND_SIGN, &unknown, CRL_REASON_UNSPECIFIED, "test", err),
	        -ENOENT);
	/* The sign serial is not an auth certificate. */
	assert_int_equal(ca_revoke(ca, CERT_KIND_AUTH, &out.sign.serial, CRL_REASON_UNSPECIFIED,
	                           "test", err),
	                 -ENOENT);
	ca_issued_free(&out);
}

/* Applies an event given one certificate of a fresh pair and checks both. */
static void check_event(enum ca_event_type event, enum cert_kind via, int sign_status,
                        enum crl_reason sign_reason, int auth_status, enum crl_reason auth_reason)
{
	struct ca_issued out;
	issue("1985-07-07", &out);
	char err[CA_ERR_LEN];
	const struct store_serial *serial =
	        via == CERT_KIND_SIGN ? &out.sign.serial : &out.auth.serial;
	assert_int_equal(ca_event(ca, via, serial, event, "test", NULL, err), 0);
	struct store_cert sign, auth;
	get(CERT_KIND_SIGN, &out.sign.serial, &sign);
	get(CERT_KIND_AUTH, &out.auth.serial, &auth);
	assert_int_equal(sign.status, sign_status);
	assert_int_equal(auth.status, auth_status);
	if (sign_status == CERT_STATUS_REVOKED)
		assert_int_equal(sign.reason, sign_reason);
	if (auth_status == CERT_STATUS_REVOKED)
		assert_int_equal(auth.reason, auth_reason);
	/* Nothing left to revoke: the same event again changes nothing. */
	assert_int_equal(ca_event(ca, via, serial, event, "test", NULL, err), -EALREADY);
	ca_issued_free(&out);
}

static void test_event_move_revokes_signing_only(void **state)
{
	check_event(CA_EVENT_MOVE, CERT_KIND_SIGN, CERT_STATUS_REVOKED,
	            CRL_REASON_AFFILIATION_CHANGED, CERT_STATUS_GOOD, 0);
	/* Named through the user-auth certificate, the pair's signing one goes. */
	check_event(CA_EVENT_MOVE, CERT_KIND_AUTH, CERT_STATUS_REVOKED,
	            CRL_REASON_AFFILIATION_CHANGED, CERT_STATUS_GOOD, 0);
}

static void test_event_rename_revokes_signing_only(void **state)
{
	check_event(CA_EVENT_RENAME, CERT_KIND_AUTH, CERT_STATUS_REVOKED,
	            CRL_REASON_AFFILIATION_CHANGED, CERT_STATUS_GOOD, 0);
}

static void test_event_death_revokes_both(void **state)
{
	check_event(CA_EVENT_DEATH, CERT_KIND_SIGN, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION);
}

static void test_event_loss_revokes_both(void **state)
{
	check_event(CA_EVENT_LOSS, CERT_KIND_AUTH, CERT_STATUS_REVOKED, CRL_REASON_KEY_COMPROMISE,
	            CERT_STATUS_REVOKED, CRL_REASON_KEY_COMPROMISE);
}

static void test_event_request_revokes_both(void **state)
{
	check_event(CA_EVENT_REQUEST, CERT_KIND_SIGN, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION);
}

static void test_loss_after_move_keeps_first_reason(void **state)
{
	struct ca_issued out;
	issue("1990-10-10", &out);
	char err[CA_ERR_LEN];
	assert_int_equal(
	        ca_event(ca, CERT_KIND_SIGN, &out.sign.serial, CA_EVENT_MOVE, "t", NULL, err), 0);
	assert_int_equal(
	        ca_event(ca, CERT_KIND_SIGN, &out.sign.serial, CA_EVENT_LOSS, "t", NULL, err), 0);
	struct store_cert sign, auth;
	get(CERT_KIND_SIGN, &out.sign.serial, &sign);
	get(CERT_KIND_AUTH, &out.auth.serial, &auth);
	assert_int_equal(sign.reason, CRL_REASON_AFFILIATION_CHANGED);
	assert_int_equal(auth.reason, CRL_REASON_KEY_COMPROMISE);
	ca_issued_free(&out);
}

static void test_event_renew_links_old_to_new(void **state)
{
	struct ca_issued out, renewed;
	issue("1960-12-31", &out);
	char err[CA_ERR_LEN];
	assert_int_equal(
	        ca_event(ca, CERT_KIND_AUTH, &out.auth.serial, CA_EVENT_RENEW, "t", &renewed, err),
	        0);
	assert_true(renewed.sign.issued && renewed.auth.issued);
	assert_non_null(renewed.sign.key_pem); /* renewal generates new keys */
	assert_int_equal(renewed.person_id, out.person_id);

	struct store_cert old_sign, old_auth, new_sign, new_auth;
	get(CERT_KIND_SIGN, &out.sign.serial, &old_sign);
	get(CERT_KIND_AUTH, &out.auth.serial, &old_auth);
	get(CERT_KIND_SIGN, &renewed.sign.serial, &new_sign);
	get(CERT_KIND_AUTH, &renewed.auth.serial, &new_auth);
	assert_int_equal(old_sign.reason, CRL_REASON_SUPERSEDED);
	assert_int_equal(old_auth.reason, CRL_REASON_SUPERSEDED);
	assert_int_equal(new_sign.status, CERT_STATUS_GOOD);
	assert_serial_equal(&old_sign.replaced_by, &renewed.sign.serial);
	assert_serial_equal(&old_auth.replaced_by, &renewed.auth.serial);
	assert_serial_equal(&new_sign.replaces, &out.sign.serial);
	assert_serial_equal(&new_auth.replaces, &out.auth.serial);
	assert_serial_equal(&new_sign.pair, &renewed.auth.serial);
	assert_int_equal(new_auth.person_id, out.person_id);
	assert_true(has_cached_response(CERT_KIND_SIGN, &renewed.sign.serial));

	/* A renewed certificate cannot be renewed twice. */
	assert_int_equal(
	        ca_event(ca, CERT_KIND_AUTH, &out.auth.serial, CA_EVENT_RENEW, "t", NULL, err),
	        -EALREADY);
	ca_issued_free(&renewed);
	ca_issued_free(&out);
}

static int count_audit_cb(const struct store_audit *a, void *arg)
{
	if (strncmp(a->action, "event-", 6) == 0)
		(*(int *)arg)++;
	return 0;
}

static void test_events_are_audited(void **state)
{
	int before = 0, after = 0;
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_audit_each(txn, 0, count_audit_cb, &before), 0);
	store_txn_abort(txn);
	check_event(CA_EVENT_DEATH, CERT_KIND_AUTH, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION, CERT_STATUS_REVOKED,
	            CRL_REASON_CESSATION_OF_OPERATION);
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_audit_each(txn, 0, count_audit_cb, &after), 0);
	store_txn_abort(txn);
	assert_int_equal(after, before + 1); /* the refused repeat left no record */
}

static void test_names(void **state)
{
	enum crl_reason r;
	assert_int_equal(ca_reason_parse("affiliationChanged", &r), 0);
	assert_int_equal(r, CRL_REASON_AFFILIATION_CHANGED);
	assert_string_equal(ca_reason_name(CRL_REASON_CESSATION_OF_OPERATION),
	                    "cessationOfOperation");
	assert_int_equal(ca_reason_parse("keycompromise", &r), -EINVAL);
	enum ca_event_type e;
	assert_int_equal(ca_event_parse("renew", &e), 0);
	assert_int_equal(e, CA_EVENT_RENEW);
	assert_int_equal(ca_event_parse("marry", &e), -EINVAL);
	enum cert_kind k;
	assert_int_equal(ca_kind_parse("auth", &k), 0);
	assert_int_equal(k, CERT_KIND_AUTH);
	assert_int_equal(ca_kind_parse("both", &k), -EINVAL);
}

struct partition_count {
	struct store_txn *txn;
	uint64_t certs, unknown, yokohama, aogashima;
};

static int count_partition_cb(const struct store_change *c, void *arg)
{
	struct partition_count *pc = arg;
	if (c->type != STORE_CHANGE_ISSUED)
		return 0;
	struct store_cert cert;
	if (store_cert_get(pc->txn, c->issuer_id, &c->serial, &cert) != 0)
		return 0;
	char code[16];
	snprintf(code, sizeof(code), "%06u", cert.partition);
	pc->certs++;
	pc->unknown += cert.partition && jpki_municipality_by_code(code) ? 0 : 1;
	pc->yokohama += cert.partition == 141003;
	pc->aogashima += cert.partition == 134023;
	return 0;
}

static void test_gen_population(void **state)
{
	uint64_t before[3];
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	store_cert_count(txn, ca_issuer_id(ca, CERT_KIND_SIGN), &before[1]);
	store_cert_count(txn, ca_issuer_id(ca, CERT_KIND_AUTH), &before[2]);
	store_txn_abort(txn);

	struct ca_gen_options opts = {.people = 3000, .revoked = 0.2, .seed = 99};
	struct ca_gen_result r;
	char err[CA_ERR_LEN];
	assert_int_equal(ca_gen(ca, &opts, &r, err), 0);
	assert_int_equal(r.people, 3000);
	/* Everyone has a user-auth certificate; most adults a signing one. */
	assert_true(r.certs >= 3000 + 2000);
	/* About 20% of people have an event; each revokes one or two. */
	assert_true(r.revoked > 3000 * 0.2 * 0.8 && r.revoked < 3000 * 0.2 * 2.4);

	uint64_t after[3];
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	store_cert_count(txn, ca_issuer_id(ca, CERT_KIND_SIGN), &after[1]);
	store_cert_count(txn, ca_issuer_id(ca, CERT_KIND_AUTH), &after[2]);
	store_txn_abort(txn);
	assert_int_equal(after[1] - before[1] + after[2] - before[2], r.certs);

	/* Everyone lives in a municipality of the table, more of them in big
	 * cities: Yokohama-shi (3.6 million) against Aogashima-mura (a few
	 * hundred). Every certificate keeps its partition. */
	struct partition_count pc = {0};
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	pc.txn = txn;
	assert_int_equal(store_change_each(txn, 0, count_partition_cb, &pc), 0);
	store_txn_abort(txn);
	assert_int_equal(pc.unknown, 0);
	assert_true(pc.certs >= r.certs);
	assert_true(pc.yokohama >= 30);
	assert_true(pc.yokohama > 10 * pc.aogashima);

	/* The same seed again collides on every serial and is refused whole. */
	assert_int_equal(ca_gen(ca, &opts, &r, err), -EEXIST);
	assert_non_null(strstr(err, "seed"));
	opts.revoked = 1.5;
	assert_int_equal(ca_gen(ca, &opts, &r, err), -EINVAL);
}

struct issued_check {
	struct ca *ca;
	mbedtls_x509_crt chain[3]; /* CA certificates by kind */
	int checked;
	int replaced;
};

/* Every certificate issued by `gen --certs` has DER that verifies against its CA. */
static int check_issued_cb(const struct store_change *c, void *arg)
{
	struct issued_check *st = arg;
	if (c->type != STORE_CHANGE_ISSUED)
		return 0;
	enum cert_kind kind =
	        c->issuer_id == ca_issuer_id(ca, CERT_KIND_SIGN) ? CERT_KIND_SIGN : CERT_KIND_AUTH;
	struct store_txn *txn;
	struct store_blob der;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_cert_der(txn, c->issuer_id, &c->serial, &der), 0);
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_der(&crt, der.data, der.len), 0);
	store_txn_abort(txn);
	uint32_t flags;
	/* The pool keys are RSA-2048, so the default profile applies. */
	assert_int_equal(
	        mbedtls_x509_crt_verify(&crt, &st->chain[kind], NULL, NULL, &flags, NULL, NULL), 0);
	assert_int_equal(crt.serial.len, c->serial.len);
	mbedtls_x509_crt_free(&crt);

	/* Links lead somewhere real: the pair exists as the other kind, and a
	 * renewed or replaced certificate points back. */
	struct store_cert rec, other;
	enum cert_kind other_kind = kind == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_cert_get(txn, c->issuer_id, &c->serial, &rec), 0);
	if (rec.pair.len) {
		assert_int_equal(
		        store_cert_get(txn, ca_issuer_id(ca, other_kind), &rec.pair, &other), 0);
		assert_int_equal(other.person_id, rec.person_id);
	}
	if (rec.replaces.len) {
		assert_int_equal(store_cert_get(txn, c->issuer_id, &rec.replaces, &other), 0);
		assert_serial_equal(&other.replaced_by, &rec.serial);
		assert_int_equal(other.status, CERT_STATUS_REVOKED);
		st->replaced++;
	}
	store_txn_abort(txn);
	st->checked++;
	return 0;
}

static void test_gen_with_certs(void **state)
{
	struct store_txn *txn;
	uint64_t first;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_change_last(txn, &first), 0);
	store_txn_abort(txn);

	struct ca_gen_options opts = {.people = 30,
	                              .revoked = 0.5,
	                              .seed = 5,
	                              .certs = true,
	                              .key_pool = 1,
	                              .ocsp_batch = 4};
	struct ca_gen_result r;
	char err[CA_ERR_LEN];
	assert_int_equal(ca_gen(ca, &opts, &r, err), 0);
	assert_true(r.certs >= 30);
	/* every answer pre-signed, four certificates to a signature (the last
	 * of each issuer fewer; revocations take their batch away) */
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	struct store_freshness fresh;
	assert_int_equal(store_response_freshness(txn, (int64_t)time(NULL), &fresh), 0);
	uint64_t batches;
	assert_int_equal(store_batch_count(txn, &batches), 0);
	store_txn_abort(txn);
	assert_true(fresh.fresh > 0);
	assert_true(batches > 0 && batches * 2 < fresh.fresh);
	struct ca_gen_options too_many = opts;
	too_many.ocsp_batch = OCSP_BATCH_MAX + 1;
	too_many.seed = 6;
	struct ca_gen_result none;
	assert_int_equal(ca_gen(ca, &too_many, &none, err), -EINVAL);

	struct issued_check st = {.ca = ca};
	static const char *const names[] = {NULL, "sign-ca.pem", "auth-ca.pem"};
	for (int k = 1; k <= 2; k++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/ca/%s", dir, names[k]);
		mbedtls_x509_crt_init(&st.chain[k]);
		assert_int_equal(mbedtls_x509_crt_parse_file(&st.chain[k], path), 0);
	}
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_change_each(txn, first + 1, check_issued_cb, &st), 0);
	store_txn_abort(txn);
	assert_int_equal((uint64_t)st.checked, r.certs);
	assert_true(st.replaced > 0); /* half the people had an event: some moved or renewed */
	for (int k = 1; k <= 2; k++)
		mbedtls_x509_crt_free(&st.chain[k]);
}

/* Copies an issuer record and its certificate from the main store. */
static void copy_issuer(struct store *to, const char *label)
{
	struct store_txn *from_txn, *to_txn;
	struct store_issuer issuer;
	struct store_blob der;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &from_txn), 0);
	assert_int_equal(store_issuer_by_label(from_txn, label, &issuer), 0);
	assert_int_equal(store_issuer_cert(from_txn, issuer.id, &der), 0);
	assert_int_equal(store_txn_begin(to, true, &to_txn), 0);
	issuer.id = 0;
	assert_int_equal(store_issuer_put(to_txn, &issuer, der), 0);
	assert_int_equal(store_txn_commit(to_txn), 0);
	store_txn_abort(from_txn);
}

/* A population larger than the store's map: every batch that fills it is
 * redone after the map grows, and nothing is lost or doubled. */
static void test_gen_grows_the_map(void **state)
{
	char dir2[300], cmd[1400], path[320];
	snprintf(dir2, sizeof(dir2), "%s2", dir);
	snprintf(cmd, sizeof(cmd),
	         "mkdir -p '%s/ca' && cp -p '%s'/ca/*-ca.* '%s/ca/base-url' '%s/ca/'", dir2, dir,
	         dir, dir2);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/store", dir2);
	struct store_options opts = {.path = path, .map_size = 256 * 1024};
	struct store *small;
	assert_int_equal(store_open(&opts, &small), 0);
	copy_issuer(small, "sign");
	copy_issuer(small, "auth");

	struct ca *ca2;
	char err[CA_ERR_LEN];
	assert_int_equal(ca_open_with_store(dir2, small, &ca2, err), 0);
	struct ca_gen_options gen = {.people = 30000, .revoked = 0.1, .seed = 77};
	struct ca_gen_result r;
	assert_int_equal(ca_gen(ca2, &gen, &r, err), 0);
	assert_int_equal(r.people, 30000);
	uint64_t sign = 0, auth = 0;
	struct store_txn *txn;
	assert_int_equal(store_txn_begin(small, false, &txn), 0);
	assert_int_equal(store_cert_count(txn, ca_issuer_id(ca2, CERT_KIND_SIGN), &sign), 0);
	assert_int_equal(store_cert_count(txn, ca_issuer_id(ca2, CERT_KIND_AUTH), &auth), 0);
	store_txn_abort(txn);
	assert_int_equal(sign + auth, r.certs);
	ca_close(ca2); /* does not own the store */
	store_close(small);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir2);
	assert_int_equal(system(cmd), 0);
}

/* True if a certificate's DER holds this UTF-8 text (the otherNames do). */
static bool der_contains(const uint8_t *der, size_t len, const char *text)
{
	return memmem(der, len, text, strlen(text)) != NULL;
}

static void test_move_with_new_address_reissues_signing(void **state)
{
	struct ca_issued out, re;
	issue("1982-08-08", &out);
	char err[CA_ERR_LEN];
	struct ca_change change = {.address = "北海道札幌市中央区北1条西2丁目",
	                           .sign_pubkey = pubkey_pem,
	                           .sign_pubkey_len = strlen((char *)pubkey_pem)};
	assert_int_equal(ca_event_change(ca, CERT_KIND_AUTH, &out.auth.serial, CA_EVENT_MOVE,
	                                 &change, "t", &re, err),
	                 0);
	assert_true(re.sign.issued);
	assert_false(re.auth.issued);
	/* stored and certified in the register's form, full-width digits */
	const char *normalized = "北海道札幌市中央区北１条西２丁目";
	assert_true(der_contains(re.sign.der, re.sign.der_len, normalized));
	assert_true(der_contains(re.sign.der, re.sign.der_len, "Sapporo-shi"));
	assert_true(der_contains(re.sign.der, re.sign.der_len, "Hokkaido"));
	assert_false(der_contains(re.sign.der, re.sign.der_len, "東京都新宿区"));
	assert_false(der_contains(re.sign.der, re.sign.der_len, "Shinjuku-ku"));
	assert_true(der_contains(re.sign.der, re.sign.der_len, "鈴木\u3000一郎")); /* name kept */

	struct store_cert old_sign, new_sign, auth;
	get(CERT_KIND_SIGN, &out.sign.serial, &old_sign);
	get(CERT_KIND_SIGN, &re.sign.serial, &new_sign);
	get(CERT_KIND_AUTH, &out.auth.serial, &auth);
	assert_int_equal(old_sign.reason, CRL_REASON_AFFILIATION_CHANGED);
	assert_serial_equal(&old_sign.replaced_by, &re.sign.serial);
	assert_serial_equal(&new_sign.replaces, &out.sign.serial);
	assert_serial_equal(&new_sign.pair, &out.auth.serial);
	assert_serial_equal(&auth.pair, &re.sign.serial);
	assert_int_equal(auth.status, CERT_STATUS_GOOD);
	assert_int_equal(new_sign.person_id, out.person_id);

	struct store_txn *txn;
	struct store_person person;
	assert_int_equal(store_txn_begin(ca_store(ca), false, &txn), 0);
	assert_int_equal(store_person_get(txn, out.person_id, &person), 0);
	store_txn_abort(txn);
	assert_string_equal(person.address, normalized);
	assert_string_equal(person.birth, "319820808");

	/* A rename needs the name, not an address; other events take no change. */
	struct ca_change no_name = {.address = "x"};
	assert_int_equal(ca_event_change(ca, CERT_KIND_SIGN, &re.sign.serial, CA_EVENT_RENAME,
	                                 &no_name, "t", NULL, err),
	                 -EINVAL);
	assert_int_equal(ca_event_change(ca, CERT_KIND_SIGN, &re.sign.serial, CA_EVENT_LOSS,
	                                 &change, "t", NULL, err),
	                 -EINVAL);
	/* The old certificate was replaced already: a second move through it fails. */
	assert_int_equal(ca_event_change(ca, CERT_KIND_SIGN, &out.sign.serial, CA_EVENT_MOVE,
	                                 &change, "t", NULL, err),
	                 -EALREADY);
	ca_issued_free(&re);
	ca_issued_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_init_files_and_issuers),
	        cmocka_unit_test(test_key_file_permissions_enforced),
	        cmocka_unit_test(test_issue_pair),
	        cmocka_unit_test(test_issue_child_gets_no_signing_cert),
	        cmocka_unit_test(test_issue_rejects_bad_input),
	        cmocka_unit_test(test_auth_cn_is_opaque),
	        cmocka_unit_test(test_revoke),
	        cmocka_unit_test(test_event_move_revokes_signing_only),
	        cmocka_unit_test(test_event_rename_revokes_signing_only),
	        cmocka_unit_test(test_event_death_revokes_both),
	        cmocka_unit_test(test_event_loss_revokes_both),
	        cmocka_unit_test(test_event_request_revokes_both),
	        cmocka_unit_test(test_loss_after_move_keeps_first_reason),
	        cmocka_unit_test(test_event_renew_links_old_to_new),
	        cmocka_unit_test(test_move_with_new_address_reissues_signing),
	        cmocka_unit_test(test_events_are_audited),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_gen_population),
	        cmocka_unit_test(test_gen_with_certs),
	        cmocka_unit_test(test_gen_grows_the_map),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
