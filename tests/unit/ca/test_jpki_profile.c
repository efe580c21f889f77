/* The JPKI profile: calendar rules, and certificates that mbedTLS parses and
 * verifies, with the extensions docs/jpki.md prescribes. Keys are RSA-1024 here
 * only to keep the test fast; the profile does not depend on the size. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "ca/jpki_profile.h"

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_pk_context ca_key, ee_key, responder_key;

static int rng(void *state, unsigned char *out, size_t len)
{
	return mbedtls_ctr_drbg_random(state, out, len);
}

static int setup(void **state)
{
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&ee_key);
	mbedtls_pk_init(&responder_key);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0))
		return -1;
	if (x509_key_generate(&ca_key, 1024, rng, &drbg) ||
	    x509_key_generate(&ee_key, 1024, rng, &drbg) ||
	    x509_key_generate(&responder_key, 1024, rng, &drbg))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&ee_key);
	mbedtls_pk_free(&responder_key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}

/* mbedTLS's default profile wants RSA-2048; these test keys are 1024. */
static int verify(mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, uint32_t *flags)
{
	static const mbedtls_x509_crt_profile profile = {
	        .allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256),
	        .allowed_pks = 0xfffffff,
	        .allowed_curves = 0xfffffff,
	        .rsa_min_bitlen = 1024,
	};
	return mbedtls_x509_crt_verify_with_profile(crt, ca, NULL, &profile, NULL, flags, NULL,
	                                            NULL);
}

static void date(const char *text, struct jpki_date *d)
{
	assert_int_equal(jpki_date_parse(text, d), 0);
}

static void test_date_parse(void **state)
{
	struct jpki_date d;
	date("2000-02-29", &d);
	assert_int_equal(d.year, 2000);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
	assert_int_equal(jpki_date_parse("1900-02-29", &d), -EINVAL); /* not a leap year */
	assert_int_equal(jpki_date_parse("2001-13-01", &d), -EINVAL);
	assert_int_equal(jpki_date_parse("2001-1-01", &d), -EINVAL);
	assert_int_equal(jpki_date_parse("1867-12-31", &d), -EINVAL);
	assert_int_equal(jpki_date_parse("2001-01-01x", &d), -EINVAL);
	assert_int_equal(jpki_date_parse("", &d), -EINVAL);
}

static void test_unix_round_trip(void **state)
{
	struct jpki_date d;
	date("2026-11-22", &d);
	int64_t t = jpki_date_to_unix(&d);
	assert_int_equal(t, 1795305600);
	struct jpki_date back;
	jpki_date_from_unix(t + 86399, &back);
	assert_int_equal(back.year, 2026);
	assert_int_equal(back.month, 11);
	assert_int_equal(back.day, 22);
	date("1950-03-01", &d);
	jpki_date_from_unix(jpki_date_to_unix(&d), &back);
	assert_int_equal(back.year, 1950);
	assert_int_equal(back.month, 3);
	assert_int_equal(back.day, 1);
}

static void test_birth_code_eras(void **state)
{
	static const struct {
		const char *date, *code;
	} cases[] = {
	        {"1900-01-01", "119000101"}, {"1912-07-29", "119120729"},
	        {"1912-07-30", "219120730"}, {"1926-12-24", "219261224"},
	        {"1926-12-25", "319261225"}, {"1989-01-07", "319890107"},
	        {"1989-01-08", "419890108"}, {"2019-04-30", "420190430"},
	        {"2019-05-01", "520190501"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jpki_date d;
		char code[10];
		date(cases[i].date, &d);
		jpki_birth_code(&d, code);
		assert_string_equal(code, cases[i].code);
	}
}

static void test_age_and_validity(void **state)
{
	struct jpki_date birth, on;
	date("2010-06-15", &birth);
	date("2025-06-14", &on);
	assert_int_equal(jpki_age_on(&birth, &on), 14);
	date("2025-06-15", &on);
	assert_int_equal(jpki_age_on(&birth, &on), 15);

	/* Issued 2026-11-22: birthdays after that are 2027-06-15 ... the fifth is 2031-06-15. */
	date("2026-11-22", &on);
	int64_t issued = jpki_date_to_unix(&on) + 3600;
	struct jpki_date end;
	jpki_date_from_unix(jpki_validity_end(&birth, issued), &end);
	assert_int_equal(end.year, 2031);
	assert_int_equal(end.month, 6);
	assert_int_equal(end.day, 15);
	/* 23:59:59 JST, 14:59:59Z */
	assert_int_equal(jpki_validity_end(&birth, issued) % 86400, 86399 - 9 * 3600);

	/* Issued on the birthday itself: that one does not count. */
	date("2026-06-15", &on);
	jpki_date_from_unix(jpki_validity_end(&birth, jpki_date_to_unix(&on)), &end);
	assert_int_equal(end.year, 2031);

	/* The day counts in Japan: 2026-06-14 20:00Z is the birthday itself
	 * there (05:00 JST on 15 June), so it does not count either. */
	date("2026-06-14", &on);
	jpki_date_from_unix(jpki_validity_end(&birth, jpki_date_to_unix(&on) + 20 * 3600), &end);
	assert_int_equal(end.year, 2031);
	/* and 2026-06-14 14:00Z is still 14 June in Japan: 2030 */
	jpki_date_from_unix(jpki_validity_end(&birth, jpki_date_to_unix(&on) + 14 * 3600), &end);
	assert_int_equal(end.year, 2030);

	/* 29 February falls on 28 February in a common year. */
	date("1980-02-29", &birth);
	jpki_date_from_unix(jpki_validity_end(&birth, issued), &end);
	assert_int_equal(end.year, 2031);
	assert_int_equal(end.month, 2);
	assert_int_equal(end.day, 28);
}

static void test_utf8_chars(void **state)
{
	assert_int_equal(jpki_utf8_chars("abc"), 3);
	assert_int_equal(jpki_utf8_chars("山田\u3000太郎"), 5);
	assert_int_equal(jpki_utf8_chars("\xe5\xb1"), -EINVAL);
	assert_int_equal(jpki_utf8_chars("\xc0\x80"), -EINVAL);
}

/* A CA certificate runs to 23:59:59 JST (14:59:59Z) on the day before the
 * tenth anniversary of its day of issuance in Japan, as the real ones do. */
static void test_ca_validity_end(void **state)
{
	/* the real signing CA: issued 2023-07-16 00:50:27Z, notAfter 2033-07-15 14:59:59Z */
	assert_int_equal(jpki_ca_validity_end(1689468627), 2005052399);
	/* 2023-07-16 00:00:00 JST is still 15 July in UTC: the JST day counts */
	assert_int_equal(jpki_ca_validity_end(1689433200), 2005052399);
	/* one second earlier it is 15 July in Japan too */
	assert_int_equal(jpki_ca_validity_end(1689433199), 2004965999);
	/* issued on 29 February (JST): the last day is 28 February ten years on */
	assert_int_equal(jpki_ca_validity_end(1709143200), 2024751599);
}

static const uint8_t SERIAL[] = {0x12, 0x34, 0x56, 0x78};

static void make_ca(mbedtls_x509_crt *ca)
{
	uint8_t *der;
	size_t len;
	assert_int_equal(jpki_ca_cert(CERT_KIND_SIGN, &ca_key, SERIAL, sizeof(SERIAL), 1795305600,
	                              rng, &drbg, &der, &len),
	                 0);
	mbedtls_x509_crt_init(ca);
	assert_int_equal(mbedtls_x509_crt_parse_der(ca, der, len), 0);
	free(der);
}

static void test_ca_cert(void **state)
{
	mbedtls_x509_crt ca;
	make_ca(&ca);
	char dn[512];
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &ca.subject) > 0);
	assert_string_equal(dn, "C=JP, O=JPKI, OU=JPKI for digital signature, OU=Japan Agency for "
	                        "Local Authority Information Systems");
	assert_int_equal(ca.raw.len > 0, 1);
	assert_int_equal(ca.ca_istrue, 1);
	assert_true(ca.key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN);
	assert_true(ca.key_usage & MBEDTLS_X509_KU_CRL_SIGN);
	assert_int_equal(ca.valid_to.year - ca.valid_from.year, 10);
	assert_memory_equal(ca.issuer_raw.p, ca.subject_raw.p, ca.subject_raw.len);
	uint32_t flags;
	assert_int_equal(verify(&ca, &ca, &flags), 0);
	mbedtls_x509_crt_free(&ca);
}

/* Finds the extension with this dotted OID in a parsed certificate's
 * extensions; returns its extnValue content. */
static int find_extension(const mbedtls_x509_crt *crt, const char *oid, const uint8_t **value,
                          size_t *len, int *critical)
{
	uint8_t want[32];
	int want_len = der_oid_encode(oid, want, sizeof(want));
	unsigned char *p = crt->v3_ext.p;
	const unsigned char *end = p + crt->v3_ext.len;
	size_t l;
	/* v3_ext is the content of [3]: the Extensions SEQUENCE. */
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -1;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &l,
		                         MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
			return -1;
		const unsigned char *ext_end = p + l;
		size_t oid_len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
			return -1;
		bool match = (int)oid_len == want_len && memcmp(p, want, oid_len) == 0;
		p += oid_len;
		int crit = 0;
		mbedtls_asn1_get_bool(&p, ext_end, &crit);
		if (mbedtls_asn1_get_tag(&p, ext_end, &l, MBEDTLS_ASN1_OCTET_STRING))
			return -1;
		if (match) {
			*value = p;
			*len = l;
			*critical = crit;
			return 0;
		}
		p = (unsigned char *)ext_end;
	}
	return -1;
}

/* Reads the six otherNames of a signing certificate's subjectAltName, which
 * come in a real card's order: 1, 4, 3, 5, 2, 6; values[i] is item i + 1. */
static void read_other_names(const mbedtls_x509_crt *crt, char values[6][300])
{
	const uint8_t *v;
	size_t len;
	int critical;
	assert_int_equal(find_extension(crt, "2.5.29.17", &v, &len, &critical), 0);
	unsigned char *p = (unsigned char *)v;
	const unsigned char *end = v + len;
	size_t l;
	assert_int_equal(
	        mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE),
	        0);
	static const int order[6] = {1, 4, 3, 5, 2, 6};
	for (int k = 0; k < 6; k++) {
		int i = order[k] - 1;
		assert_int_equal(mbedtls_asn1_get_tag(&p, end, &l,
		                                      MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		                                              MBEDTLS_ASN1_CONSTRUCTED | 0),
		                 0);
		size_t oid_len;
		assert_int_equal(mbedtls_asn1_get_tag(&p, end, &oid_len, MBEDTLS_ASN1_OID), 0);
		char dotted[64];
		mbedtls_asn1_buf oid = {.tag = MBEDTLS_ASN1_OID, .len = oid_len, .p = p};
		assert_true(mbedtls_oid_get_numeric_string(dotted, sizeof(dotted), &oid) > 0);
		char expect[64];
		snprintf(expect, sizeof(expect), "1.2.392.200149.8.5.5.%d", i + 1);
		assert_string_equal(dotted, expect);
		p += oid_len;
		assert_int_equal(mbedtls_asn1_get_tag(&p, end, &l,
		                                      MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		                                              MBEDTLS_ASN1_CONSTRUCTED | 0),
		                 0);
		assert_int_equal(mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_UTF8_STRING), 0);
		assert_true(l < 300);
		memcpy(values[i], p, l);
		values[i][l] = 0;
		p += l;
	}
	assert_ptr_equal(p, end);
}

static void issue(enum cert_kind kind, const struct jpki_items *items, mbedtls_x509_crt *crt)
{
	struct jpki_ee ee = {
	        .kind = kind,
	        .serial = SERIAL,
	        .serial_len = sizeof(SERIAL),
	        .not_before = 1795305600,
	        .not_after = 1795305600 + 86400 * 365,
	        .subject_key = &ee_key,
	        .common_name = "20261122000000000001KNSH01",
	        .items = items,
	        .base_url = "http://va.example",
	};
	uint8_t *der;
	size_t len;
	assert_int_equal(jpki_ee_cert(&ee, &ca_key, rng, &drbg, &der, &len), 0);
	mbedtls_x509_crt_init(crt);
	assert_int_equal(mbedtls_x509_crt_parse_der(crt, der, len), 0);
	free(der);
}

static void test_signing_cert(void **state)
{
	mbedtls_x509_crt ca, crt;
	make_ca(&ca);
	struct jpki_items items = {"山﨑\u3000太郎", "319800229", 1,
	                           "東京都清瀬市観布子南１２－７－２０２"};
	issue(CERT_KIND_SIGN, &items, &crt);

	uint32_t flags;
	assert_int_equal(verify(&crt, &ca, &flags), 0);
	assert_int_equal(crt.key_usage,
	                 MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_NON_REPUDIATION);
	char dn[512];
	mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject);
	assert_non_null(strstr(dn, "CN=20261122000000000001KNSH01"));
	/* C=JP, L=<prefecture>, L=<municipality>, CN, romanized */
	assert_string_equal(dn, "C=JP, L=Tokyo, L=Kiyose-shi, CN=20261122000000000001KNSH01");

	char v[6][300];
	read_other_names(&crt, v);
	assert_string_equal(v[0], "山﨑\u3000太郎");
	assert_string_equal(v[1], "01000"); /* 﨑 is outside JIS X 0208 */
	assert_string_equal(v[2], "1");
	assert_string_equal(v[3], "319800229");
	assert_string_equal(v[4], "東京都清瀬市観布子南１２－７－２０２");
	assert_string_equal(v[5], "000000000000000000");

	const uint8_t *value;
	size_t len;
	int critical;
	assert_int_equal(find_extension(&crt, "2.5.29.15", &value, &len, &critical), 0);
	assert_int_equal(critical, 1);
	assert_int_equal(find_extension(&crt, "2.5.29.32", &value, &len, &critical), 0);
	uint8_t policy[16];
	int plen = der_oid_encode(JPKI_POLICY_SIGN, policy, sizeof(policy));
	assert_non_null(memmem(value, len, policy, (size_t)plen));
	assert_int_equal(find_extension(&crt, "2.5.29.31", &value, &len, &critical), 0);
	assert_non_null(memmem(value, len, "http://va.example/crl/sign.crl", 30));
	assert_int_equal(find_extension(&crt, "1.3.6.1.5.5.7.1.1", &value, &len, &critical), 0);
	assert_non_null(memmem(value, len, "http://va.example/ocsp", 22));
	assert_int_equal(find_extension(&crt, "2.5.29.18", &value, &len, &critical), 0);
	assert_non_null(memmem(value, len, "公的個人認証サービス", strlen("公的個人認証サービス")));
	/* the issuerAltName is the CA's four-RDN subjectAltName, byte for byte */
	const uint8_t *ca_san;
	size_t ca_san_len;
	assert_int_equal(find_extension(&ca, "2.5.29.17", &ca_san, &ca_san_len, &critical), 0);
	assert_int_equal(len, ca_san_len);
	assert_memory_equal(value, ca_san, len);
	assert_non_null(memmem(value, len, "地方公共団体情報システム機構",
	                       strlen("地方公共団体情報システム機構")));
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
}

static void test_auth_cert(void **state)
{
	mbedtls_x509_crt crt;
	issue(CERT_KIND_AUTH, NULL, &crt);
	assert_int_equal(crt.key_usage, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	const uint8_t *value;
	size_t len;
	int critical;
	assert_int_equal(find_extension(&crt, "2.5.29.17", &value, &len, &critical), -1);
	assert_int_equal(find_extension(&crt, "2.5.29.31", &value, &len, &critical), 0);
	assert_non_null(memmem(value, len, "/crl/auth.crl", 13));
	char issuer[512];
	mbedtls_x509_dn_gets(issuer, sizeof(issuer), &crt.issuer);
	assert_non_null(strstr(issuer, "OU=JPKI for user authentication"));
	mbedtls_x509_crt_free(&crt);

	/* The items are required exactly for signing certificates. */
	struct jpki_ee ee = {.kind = CERT_KIND_AUTH, .items = (const struct jpki_items *)&ee};
	uint8_t *der;
	assert_int_equal(jpki_ee_cert(&ee, &ca_key, rng, &drbg, &der, &len), -EINVAL);
}

static void test_ocsp_responder(void **state)
{
	mbedtls_x509_crt ca, crt;
	make_ca(&ca);
	uint8_t *der;
	size_t len;
	assert_int_equal(jpki_ocsp_cert(CERT_KIND_SIGN, &ca_key, &responder_key, SERIAL,
	                                sizeof(SERIAL), "http://127.0.0.1/crl/sign/arl.crl",
	                                1795305600, rng, &drbg, &der, &len),
	                 0);
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_der(&crt, der, len), 0);
	free(der);
	uint32_t flags;
	assert_int_equal(verify(&crt, &ca, &flags), 0);
	assert_int_equal(
	        mbedtls_x509_crt_check_extended_key_usage(
	                &crt, MBEDTLS_OID_OCSP_SIGNING, MBEDTLS_OID_SIZE(MBEDTLS_OID_OCSP_SIGNING)),
	        0);
	const uint8_t *value;
	int critical;
	assert_int_equal(find_extension(&crt, "1.3.6.1.5.5.7.48.1.5", &value, &len, &critical), 0);
	assert_int_equal(len, 2);
	assert_int_equal(value[0], 0x05); /* NULL */
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
}

/* RFC 3161 §2.3: the unit's certificate has exactly one extended key usage,
 * id-kp-timeStamping, in a critical extension; it is issued by the signing CA. */
static void test_tsa_unit(void **state)
{
	mbedtls_x509_crt ca, crt;
	make_ca(&ca);
	uint8_t *der;
	size_t len;
	assert_int_equal(jpki_tsa_cert(&ca_key, &responder_key, SERIAL, sizeof(SERIAL), NULL,
	                               1795305600, rng, &drbg, &der, &len),
	                 0);
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_der(&crt, der, len), 0);
	free(der);
	uint32_t flags;
	assert_int_equal(verify(&crt, &ca, &flags), 0);
	assert_int_equal(crt.key_usage,
	                 MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_NON_REPUDIATION);
	const uint8_t *value;
	int critical = 0;
	assert_int_equal(find_extension(&crt, "2.5.29.37", &value, &len, &critical), 0);
	assert_true(critical);
	/* SEQUENCE { OID 1.3.6.1.5.5.7.3.8 } and nothing more */
	const uint8_t time_stamping_only[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
	                                      0x01, 0x05, 0x05, 0x07, 0x03, 0x08};
	assert_int_equal(len, sizeof time_stamping_only);
	assert_memory_equal(value, time_stamping_only, len);
	char issuer[512];
	mbedtls_x509_dn_gets(issuer, sizeof(issuer), &crt.issuer);
	assert_non_null(strstr(issuer, "OU=JPKI for digital signature"));
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
}

static void test_serial_must_be_positive(void **state)
{
	static const uint8_t negative[] = {0x80, 0x01};
	struct jpki_ee ee = {
	        .kind = CERT_KIND_AUTH,
	        .serial = negative,
	        .serial_len = sizeof(negative),
	        .subject_key = &ee_key,
	        .common_name = "x",
	        .base_url = "http://x",
	};
	uint8_t *der;
	size_t len;
	assert_int_equal(jpki_ee_cert(&ee, &ca_key, rng, &drbg, &der, &len), -EINVAL);
}

static void test_spki_key_bits(void **state)
{
	uint8_t spki[600];
	int n = x509_spki_der(&ee_key, spki, sizeof(spki));
	assert_true(n > 0);
	const uint8_t *bits;
	size_t len;
	assert_int_equal(x509_spki_key_bits(spki, (size_t)n, &bits, &len), 0);
	assert_int_equal(bits[0], 0x30); /* RSAPublicKey SEQUENCE, after the unused-bits octet */
	assert_int_equal(x509_spki_key_bits(spki, (size_t)n - 1, &bits, &len), -EINVAL);
	/* PEM public keys round-trip through x509_pubkey_parse. */
	mbedtls_pk_context pk;
	mbedtls_pk_init(&pk);
	assert_int_equal(x509_pubkey_parse(&pk, spki, (size_t)n), 0);
	mbedtls_pk_free(&pk);
	mbedtls_pk_init(&pk);
	assert_int_equal(x509_pubkey_parse(&pk, (const uint8_t *)"garbage", 7), -EINVAL);
	mbedtls_pk_free(&pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_date_parse),
	        cmocka_unit_test(test_unix_round_trip),
	        cmocka_unit_test(test_birth_code_eras),
	        cmocka_unit_test(test_age_and_validity),
	        cmocka_unit_test(test_utf8_chars),
	        cmocka_unit_test(test_ca_validity_end),
	        cmocka_unit_test(test_ca_cert),
	        cmocka_unit_test(test_signing_cert),
	        cmocka_unit_test(test_auth_cert),
	        cmocka_unit_test(test_ocsp_responder),
	        cmocka_unit_test(test_tsa_unit),
	        cmocka_unit_test(test_serial_must_be_positive),
	        cmocka_unit_test(test_spki_key_bits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
