/* pki/crl_write: the streaming encoder's output parses and verifies with
 * mbedTLS's own CRL parser, the issuer is named the way relying parties match
 * it (subject Name, authorityKeyIdentifier = the CA's subjectKeyIdentifier),
 * and a source that changes between the two passes is refused. The checks
 * with openssl and python3 cryptography are in tests/integration/ca/crl_*.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "pki/crl_read.h"
#include "pki/crl_write.h"

struct fixture {
	mbedtls_pk_context key;
	mbedtls_x509_crt ca;
	uint8_t key_id[64];
	size_t key_id_len;
	struct crl_spec spec;
};

static const uint8_t serial_a[] = {0x0a, 0x1b};
static const uint8_t serial_b[] = {0x00, 0xff};

/* Two entries: keyCompromise, and unspecified (no reasonCode). `extra` adds
 * one more on the second call, as if a revocation slipped in. */
struct list {
	int calls;
	bool grow;
	int fail_with;
};

static int list_source(void *arg, crl_emit_fn emit, void *emit_arg)
{
	struct list *l = arg;
	l->calls++;
	if (l->fail_with)
		return l->fail_with;
	struct crl_entry a = {serial_a, sizeof serial_a, 1700000000, 1, 0};
	struct crl_entry b = {serial_b, sizeof serial_b, 1700000100, 0, 0};
	int err = emit(emit_arg, &a);
	if (!err)
		err = emit(emit_arg, &b);
	if (!err && l->grow && l->calls == 2)
		err = emit(emit_arg, &a);
	return err;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	mbedtls_pk_init(&f->key);
	mbedtls_x509_crt_init(&f->ca);
	if (mbedtls_pk_parse_keyfile(&f->key, CRL_FIXTURES "/crl-ca.key", NULL) != 0 ||
	    mbedtls_x509_crt_parse_file(&f->ca, CRL_FIXTURES "/crl-ca.pem") != 0)
		return -1;
	if (crl_issuer_from_cert(f->ca.raw.p, f->ca.raw.len, &f->spec.issuer_name,
	                         &f->spec.issuer_name_len, f->key_id, &f->key_id_len) != 0)
		return -1;
	f->spec.authority_key_id = f->key_id;
	f->spec.authority_key_id_len = f->key_id_len;
	f->spec.number = 7;
	f->spec.this_update = 1763800000;
	f->spec.next_update = 1763800000 + 86400;
	f->spec.distribution_point = "http://127.0.0.1:8080/crl/sign.crl";
	f->spec.only_user_certs = true;
	f->spec.source = list_source;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mbedtls_pk_free(&f->key);
	mbedtls_x509_crt_free(&f->ca);
	free(f);
	return 0;
}

/* Writes the spec into memory; returns crl_write's result. */
static int write_to_memory(struct fixture *f, struct list *l, uint8_t **der, size_t *len,
                           struct crl_result *result)
{
	char *mem = NULL;
	size_t mem_len = 0;
	FILE *out = open_memstream(&mem, &mem_len);
	assert_non_null(out);
	f->spec.source_arg = l;
	int err = crl_write(&f->spec, &f->key, out, result);
	fclose(out);
	*der = (uint8_t *)mem;
	*len = mem_len;
	return err;
}

static void test_issuer_named_by_subject_and_key_id(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->spec.issuer_name_len, f->ca.subject_raw.len);
	assert_memory_equal(f->spec.issuer_name, f->ca.subject_raw.p, f->ca.subject_raw.len);
	/* crl-ca.pem carries subjectKeyIdentifier "KENSHO-CRL" */
	assert_int_equal(f->key_id_len, 10);
	assert_memory_equal(f->key_id, "KENSHO-CRL", 10);
}

static void test_key_id_falls_back_to_key_hash(void **state)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, CRL_FIXTURES "/crl-ca-noski.pem"), 0);
	const uint8_t *name;
	size_t name_len, id_len;
	uint8_t id[64];
	assert_int_equal(
	        crl_issuer_from_cert(crt.raw.p, crt.raw.len, &name, &name_len, id, &id_len), 0);
	/* SHA-1 of the subjectPublicKey, as `openssl pkey -pubin -outform DER |
	 * tail -c 270 | openssl sha1` prints it */
	static const uint8_t expect[20] = {0xed, 0xa1, 0xab, 0x2c, 0x5e, 0xb8, 0x0f,
	                                   0x86, 0xc7, 0xba, 0x40, 0xcc, 0x77, 0x7d,
	                                   0x8d, 0xa0, 0x17, 0x37, 0xf8, 0x1f};
	assert_int_equal(id_len, 20);
	assert_memory_equal(id, expect, 20);
	mbedtls_x509_crt_free(&crt);

	assert_int_equal(crl_issuer_from_cert((const uint8_t *)"\x30\x03\x02\x01\x01", 5, &name,
	                                      &name_len, id, &id_len),
	                 -EINVAL);
}

/* mbedTLS 2.28's CRL parser refuses any critical CRL extension, and RFC 5280
 * makes issuingDistributionPoint and deltaCRLIndicator critical: it parses
 * CRLs written without them. The critical ones are checked byte by byte. */
static void test_full_crl_parses_and_verifies(void **state)
{
	struct fixture *f = *state;
	f->spec.distribution_point = NULL;
	struct list l = {0};
	uint8_t *der;
	size_t len;
	struct crl_result result;
	assert_int_equal(write_to_memory(f, &l, &der, &len, &result), 0);
	assert_int_equal(l.calls, 2);
	assert_int_equal(result.entries, 2);
	assert_int_equal(result.bytes, len);

	mbedtls_x509_crl crl;
	mbedtls_x509_crl_init(&crl);
	assert_int_equal(mbedtls_x509_crl_parse_der(&crl, der, len), 0);
	assert_int_equal(crl.version, 2);
	assert_int_equal(crl.this_update.year, 2025);
	assert_memory_equal(crl.issuer_raw.p, f->ca.subject_raw.p, f->ca.subject_raw.len);

	const mbedtls_x509_crl_entry *e = &crl.entry;
	assert_int_equal(e->serial.len, 2);
	assert_memory_equal(e->serial.p, serial_a, 2);
	assert_int_equal(e->revocation_date.year, 2023);
	/* reasonCode keyCompromise: 30 0a 06 03 55 1d 15 04 03 0a 01 01 */
	assert_true(e->entry_ext.len > 0);
	/* (entry_ext.len counts the content; p points at the SEQUENCE header) */
	assert_non_null(memmem(e->entry_ext.p, e->entry_ext.len + 2,
	                       "\x06\x03\x55\x1d\x15\x04\x03\x0a\x01\x01", 10));
	e = e->next;
	assert_non_null(e);
	assert_memory_equal(e->serial.p, serial_b, 2);
	/* RFC 5280 §5.3.1: unspecified is written as no extension at all */
	assert_int_equal(e->entry_ext.len, 0);
	assert_null(e->next);

	uint8_t hash[32];
	mbedtls_sha256_ret(crl.tbs.p, crl.tbs.len, hash, 0);
	assert_int_equal(
	        mbedtls_pk_verify(&f->ca.pk, MBEDTLS_MD_SHA256, hash, 32, crl.sig.p, crl.sig.len),
	        0);

	/* cRLNumber 7, and no IDP was asked for */
	static const uint8_t idp_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x1c};
	assert_null(memmem(der, len, idp_oid, sizeof idp_oid));
	static const uint8_t crl_number_7[] = {0x06, 0x03, 0x55, 0x1d, 0x14,
	                                       0x04, 0x03, 0x02, 0x01, 0x07};
	assert_non_null(memmem(der, len, crl_number_7, sizeof crl_number_7));
	static const uint8_t delta_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x1b};
	assert_null(memmem(der, len, delta_oid, sizeof delta_oid));
	mbedtls_x509_crl_free(&crl);
	free(der);
}

static void test_delta_names_its_base(void **state)
{
	struct fixture *f = *state;
	f->spec.delta = true;
	f->spec.number = 8;
	f->spec.base_number = 7;
	struct list l = {0};
	uint8_t *der;
	size_t len;
	assert_int_equal(write_to_memory(f, &l, &der, &len, NULL), 0);
	/* deltaCRLIndicator, critical, BaseCRLNumber 7 (RFC 5280 §5.2.4) */
	static const uint8_t delta_7[] = {0x06, 0x03, 0x55, 0x1d, 0x1b, 0x01, 0x01,
	                                  0xff, 0x04, 0x03, 0x02, 0x01, 0x07};
	assert_non_null(memmem(der, len, delta_7, sizeof delta_7));
	/* issuingDistributionPoint, critical: [0] { [0] { [6] URI } }, and
	 * onlyContainsUserCerts [1] TRUE (§5.2.5) */
	static const char uri[] = "http://127.0.0.1:8080/crl/sign.crl";
	uint8_t idp[64] = {0x06, 0x03,
	                   0x55, 0x1d,
	                   0x1c, 0x01,
	                   0x01, 0xff,
	                   0x04, 2 + 2 + 2 + 2 + sizeof uri - 1 + 3,
	                   0x30, 2 + 2 + 2 + sizeof uri - 1 + 3,
	                   0xa0, 2 + 2 + sizeof uri - 1,
	                   0xa0, 2 + sizeof uri - 1,
	                   0x86, sizeof uri - 1};
	memcpy(idp + 18, uri, sizeof uri - 1);
	memcpy(idp + 18 + sizeof uri - 1, "\x81\x01\xff", 3);
	assert_non_null(memmem(der, len, idp, 18 + sizeof uri - 1 + 3));
	free(der);
}

static void test_missing_source_rejected(void **state)
{
	struct fixture *f = *state;
	f->spec.source = NULL;
	uint8_t *der;
	size_t len;
	assert_int_equal(write_to_memory(f, NULL, &der, &len, NULL), -EINVAL);
	free(der);
}

static int empty_source(void *arg, crl_emit_fn emit, void *emit_arg)
{
	return 0;
}

static void test_empty_crl(void **state)
{
	struct fixture *f = *state;
	f->spec.distribution_point = NULL;
	f->spec.source = empty_source;
	uint8_t *der;
	size_t len;
	struct crl_result result;
	assert_int_equal(write_to_memory(f, NULL, &der, &len, &result), 0);
	assert_int_equal(result.entries, 0);
	mbedtls_x509_crl crl;
	mbedtls_x509_crl_init(&crl);
	assert_int_equal(mbedtls_x509_crl_parse_der(&crl, der, len), 0);
	assert_int_equal(crl.entry.serial.len, 0); /* no revokedCertificates */
	mbedtls_x509_crl_free(&crl);
	free(der);
}

static void test_source_that_changes_is_refused(void **state)
{
	struct fixture *f = *state;
	struct list l = {.grow = true};
	uint8_t *der;
	size_t len;
	assert_int_equal(write_to_memory(f, &l, &der, &len, NULL), -EIO);
	free(der);
}

static void test_errors_propagate(void **state)
{
	struct fixture *f = *state;
	uint8_t *der;
	size_t len;
	struct list failing = {.fail_with = -ENOSPC};
	assert_int_equal(write_to_memory(f, &failing, &der, &len, NULL), -ENOSPC);
	free(der);

	/* a key that is not RSA cannot sign sha256WithRSAEncryption */
	mbedtls_pk_context none;
	mbedtls_pk_init(&none);
	struct list l = {0};
	f->spec.source_arg = &l;
	FILE *out = fopen("/dev/null", "wb");
	assert_int_equal(crl_write(&f->spec, &none, out, NULL), -EINVAL);
	fclose(out);
}

static int bad_serial_source(void *arg, crl_emit_fn emit, void *emit_arg)
{
	struct crl_entry e = {serial_a, 0, 1700000000, 0, 0};
	return emit(emit_arg, &e);
}

static void test_empty_serial_rejected(void **state)
{
	struct fixture *f = *state;
	f->spec.source = bad_serial_source;
	uint8_t *der;
	size_t len;
	assert_int_equal(write_to_memory(f, NULL, &der, &len, NULL), -EINVAL);
	free(der);
}

static void test_header_reads_back(void **state)
{
	struct fixture *f = *state;
	f->spec.delta = true;
	f->spec.number = 4097;
	f->spec.base_number = 4090;
	f->spec.next_update = 2600000000; /* GeneralizedTime (after 2049) */
	struct list l = {0};
	uint8_t *der;
	size_t len;
	assert_int_equal(write_to_memory(f, &l, &der, &len, NULL), 0);
	struct crl_info info;
	assert_int_equal(crl_read_info(der, len, &info), 0);
	assert_int_equal(info.this_update, f->spec.this_update);
	assert_int_equal(info.next_update, 2600000000);
	assert_int_equal(info.number, 4097);
	assert_true(info.delta);
	assert_int_equal(info.base_number, 4090);
	assert_true(info.entries_len > 0);
	/* every truncation is refused */
	for (size_t cut = 0; cut < len; cut += 7)
		assert_int_equal(crl_read_info(der, cut, &info), -EINVAL);
	free(der);
}

static void test_header_of_openssl_crl(void **state)
{
	/* `openssl ca -gencrl`: CRL number 4097 (0x1001), one revoked entry */
	FILE *in = fopen(CRL_FIXTURES "/openssl-one.crl", "rb");
	assert_non_null(in);
	uint8_t der[2048];
	size_t len = fread(der, 1, sizeof der, in);
	fclose(in);
	struct crl_info info;
	assert_int_equal(crl_read_info(der, len, &info), 0);
	assert_int_equal(info.number, 4097);
	assert_false(info.delta);
	assert_int_equal(info.next_update - info.this_update, 7 * 86400);
	assert_true(info.entries_len > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_issuer_named_by_subject_and_key_id, setup,
	                                        teardown),
	        cmocka_unit_test(test_key_id_falls_back_to_key_hash),
	        cmocka_unit_test_setup_teardown(test_full_crl_parses_and_verifies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_delta_names_its_base, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_source_rejected, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_crl, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_source_that_changes_is_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_errors_propagate, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_serial_rejected, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_header_reads_back, setup, teardown),
	        cmocka_unit_test(test_header_of_openssl_crl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
