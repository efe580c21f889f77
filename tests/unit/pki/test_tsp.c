/* pki/tsp: the RFC 3161 request decoder (every failInfo it answers) and the
 * response encoder (known bytes for refusals; for grants, the fields that
 * must be there, and `openssl ts -reply` reading the result). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "pki/tsp.h"

/* Builds a TimeStampReq by hand: version, MessageImprint (hash OID content
 * `alg`, `digest_len` zero octets), then `tail` as is. */
static size_t make_request(uint8_t *out, int version, const uint8_t *alg, size_t alg_len,
                           size_t digest_len, const uint8_t *tail, size_t tail_len)
{
	uint8_t imprint[128];
	size_t n = 0;
	imprint[n++] = 0x30;
	imprint[n++] = (uint8_t)(2 + 2 + alg_len + 2 + digest_len);
	imprint[n++] = 0x30;
	imprint[n++] = (uint8_t)(2 + alg_len);
	imprint[n++] = 0x06;
	imprint[n++] = (uint8_t)alg_len;
	memcpy(imprint + n, alg, alg_len);
	n += alg_len;
	imprint[n++] = 0x04;
	imprint[n++] = (uint8_t)digest_len;
	memset(imprint + n, 0xab, digest_len);
	n += digest_len;
	size_t body = 3 + n + tail_len, at = 0;
	out[at++] = 0x30;
	if (body >= 0x80) {
		out[at++] = 0x81;
	}
	out[at++] = (uint8_t)body;
	out[at++] = 0x02;
	out[at++] = 0x01;
	out[at++] = (uint8_t)version;
	memcpy(out + at, imprint, n);
	at += n;
	if (tail_len) /* memcpy's source may not be NULL, even for 0 bytes */
		memcpy(out + at, tail, tail_len);
	return at + tail_len;
}

static const uint8_t SHA256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t SHA512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
static const uint8_t SHA1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};

static int decode(const uint8_t *der, size_t len, struct tsp_request *rq)
{
	enum tsp_fail_info fail = (enum tsp_fail_info) - 1;
	int rc = tsp_request_decode(der, len, rq, &fail);
	return rc == 0 ? -1 : (int)fail;
}

static void test_decode_full(void **state)
{
	(void)state;
	/* policy 1.2.3.4, nonce 0x00ff (positive, needs its 0x00), certReq TRUE */
	const uint8_t tail[] = {0x06, 0x03, 0x2a, 0x03, 0x04, 0x02,
	                        0x02, 0x00, 0xff, 0x01, 0x01, 0xff};
	uint8_t der[256];
	size_t len = make_request(der, 1, SHA256, sizeof SHA256, 32, tail, sizeof tail);
	struct tsp_request rq;
	enum tsp_fail_info fail;
	assert_int_equal(tsp_request_decode(der, len, &rq, &fail), 0);
	assert_int_equal(rq.md, PKI_DIGEST_SHA256);
	assert_int_equal(rq.imprint_der_len, 2 + 2 + 11 + 2 + 32);
	assert_memory_equal(rq.imprint_der, der + 5, rq.imprint_der_len);
	assert_int_equal(rq.policy_len, 3);
	assert_memory_equal(rq.policy, "\x2a\x03\x04", 3);
	assert_int_equal(rq.nonce_len, 2);
	assert_memory_equal(rq.nonce, "\x00\xff", 2);
	assert_true(rq.cert_req);

	len = make_request(der, 1, SHA512, sizeof SHA512, 64, NULL, 0);
	assert_int_equal(tsp_request_decode(der, len, &rq, &fail), 0);
	assert_int_equal(rq.md, PKI_DIGEST_SHA512);
	assert_int_equal(rq.policy_len, 0);
	assert_int_equal(rq.nonce_len, 0);
	assert_false(rq.cert_req);
}

static void test_decode_nonce_bound(void **state)
{
	(void)state;
	struct tsp_request rq;
	uint8_t tail[32], der[256];
	/* 160 bits with the top bit set: 21 content octets, taken. */
	tail[0] = 0x02;
	tail[1] = 21;
	tail[2] = 0x00;
	memset(tail + 3, 0xff, 20);
	size_t len = make_request(der, 1, SHA256, sizeof SHA256, 32, tail, 23);
	assert_int_equal(decode(der, len, &rq), -1);
	assert_int_equal(rq.nonce_len, 21);
	/* 161 bits: badRequest. */
	tail[1] = 21;
	tail[2] = 0x01;
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, tail, 23);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_REQUEST);
	/* Negative: badDataFormat. */
	const uint8_t negative[] = {0x02, 0x01, 0x80};
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, negative, sizeof negative);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* Not minimal: badDataFormat. */
	const uint8_t padded[] = {0x02, 0x02, 0x00, 0x01};
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, padded, sizeof padded);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
}

static void test_decode_refusals(void **state)
{
	(void)state;
	struct tsp_request rq;
	uint8_t der[256];
	size_t len;
	/* SHA-1 is refused: badAlg. */
	len = make_request(der, 1, SHA1, sizeof SHA1, 20, NULL, 0);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_ALG);
	/* SHA-256 with non-NULL parameters: badAlg. */
	const uint8_t with_params[] = {0x30, 0x32, 0x30, 0x0e, 0x06, 0x09, 0x60, 0x86, 0x48,
	                               0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x02, 0x01, 0x00};
	uint8_t odd[80] = {0x30, 0x37, 0x02, 0x01, 0x01};
	memcpy(odd + 5, with_params, sizeof with_params);
	odd[5 + sizeof with_params] = 0x04;
	odd[6 + sizeof with_params] = 32;
	assert_int_equal(decode(odd, 5 + sizeof with_params + 2 + 32, &rq), TSP_FAIL_BAD_ALG);
	/* Imprint of the wrong length, version 2, trailing garbage: badDataFormat. */
	len = make_request(der, 1, SHA256, sizeof SHA256, 31, NULL, 0);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	len = make_request(der, 2, SHA256, sizeof SHA256, 32, NULL, 0);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* version 1 written with a leading zero octet: not DER */
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, NULL, 0);
	uint8_t padded_version[256] = {0x30, (uint8_t)(der[1] + 1), 0x02, 0x02, 0x00, 0x01};
	memcpy(padded_version + 6, der + 5, len - 5);
	assert_int_equal(decode(padded_version, len + 1, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	const uint8_t junk[] = {0x05, 0x00};
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, junk, sizeof junk);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* certReq FALSE is not DER (a DEFAULT value is omitted). */
	const uint8_t cert_false[] = {0x01, 0x01, 0x00};
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, cert_false, sizeof cert_false);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* Not strict DER: a long-form length for a short value. */
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, NULL, 0);
	uint8_t loose[256] = {0x30, 0x81};
	memcpy(loose + 2, der + 1, len - 1);
	assert_int_equal(decode(loose, len + 1, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* Too long to be read at all. */
	assert_int_equal(decode(der, TSP_REQUEST_MAX + 1, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	assert_int_equal(decode(der, 0, &rq), TSP_FAIL_BAD_DATA_FORMAT);
	/* A policy too long to be ours: unacceptedPolicy. */
	uint8_t policy[70] = {0x06, 65, 0x2a};
	memset(policy + 3, 0x01, 64);
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, policy, 67);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_UNACCEPTED_POLICY);
	/* Any extension: unacceptedExtension. */
	const uint8_t ext[] = {0xa0, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x2a,
	                       0x03, 0x04, 0x04, 0x02, 0x05, 0x00};
	len = make_request(der, 1, SHA256, sizeof SHA256, 32, ext, sizeof ext);
	assert_int_equal(decode(der, len, &rq), TSP_FAIL_UNACCEPTED_EXTENSION);
}

static void test_reject_known_bytes(void **state)
{
	(void)state;
	uint8_t *der;
	size_t len;
	/* { { rejection, failInfo badAlg (bit 0) } } */
	const uint8_t bad_alg[] = {0x30, 0x09, 0x30, 0x07, 0x02, 0x01,
	                           0x02, 0x03, 0x02, 0x07, 0x80};
	assert_int_equal(tsp_response_reject(TSP_FAIL_BAD_ALG, NULL, &der, &len), 0);
	assert_int_equal(len, sizeof bad_alg);
	assert_memory_equal(der, bad_alg, len);
	free(der);
	/* systemFailure is bit 25: four octets, six unused bits; with a text. */
	const uint8_t system_failure[] = {0x30, 0x12, 0x30, 0x10, 0x02, 0x01, 0x02,
	                                  0x30, 0x04, 0x0c, 0x02, 'n',  'o',  0x03,
	                                  0x05, 0x06, 0x00, 0x00, 0x00, 0x40};
	assert_int_equal(tsp_response_reject(TSP_FAIL_SYSTEM_FAILURE, "no", &der, &len), 0);
	assert_int_equal(len, sizeof system_failure);
	assert_memory_equal(der, system_failure, len);
	free(der);
	/* unacceptedPolicy, bit 15: two octets, none unused. */
	assert_int_equal(tsp_response_reject(TSP_FAIL_UNACCEPTED_POLICY, NULL, &der, &len), 0);
	assert_memory_equal(der + len - 5, "\x03\x03\x00\x00\x01", 5);
	free(der);
	assert_int_equal(tsp_response_reject((enum tsp_fail_info)26, NULL, &der, &len), -EINVAL);
}

struct signer {
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
};

static int setup(void **state)
{
	struct signer *s = calloc(1, sizeof *s);
	mbedtls_pk_init(&s->key);
	mbedtls_x509_crt_init(&s->cert);
	if (mbedtls_pk_parse_keyfile(&s->key, CMS_FIXTURES "/signer.key", NULL) != 0 ||
	    mbedtls_x509_crt_parse_file(&s->cert, CMS_FIXTURES "/signer.pem") != 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct signer *s = *state;
	mbedtls_pk_free(&s->key);
	mbedtls_x509_crt_free(&s->cert);
	free(s);
	return 0;
}

static bool contains(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	return memmem(hay, len, needle, n) != NULL;
}

static void test_grant(void **state)
{
	struct signer *s = *state;
	const uint8_t tail[] = {0x02, 0x03, 0x01, 0x02, 0x03, 0x01, 0x01, 0xff};
	uint8_t req_der[256];
	size_t req_len = make_request(req_der, 1, SHA256, sizeof SHA256, 32, tail, sizeof tail);
	struct tsp_request rq;
	enum tsp_fail_info fail;
	assert_int_equal(tsp_request_decode(req_der, req_len, &rq, &fail), 0);
	const uint8_t serial[] = {0x00, 0x00, 0x12, 0x34};
	struct tsp_grant g = {
	        .request = &rq,
	        .policy = "1.3.6.1.4.1.32473.3161.1",
	        .serial = serial,
	        .serial_len = sizeof serial,
	        .gen_time = 0,
	        .gen_time_millis = 250,
	        .accuracy_seconds = 1,
	        .cert = s->cert.raw.p,
	        .cert_len = s->cert.raw.len,
	        .sign = cms_sign_pk,
	        .sign_arg = &s->key,
	};
	uint8_t *der;
	size_t len;
	assert_int_equal(tsp_response_grant(&g, &der, &len), 0);
	/* status granted, then the token */
	assert_memory_equal(der + 4, "\x30\x03\x02\x01\x00\x30", 6);
	assert_true(contains(der, len,
	                     "\x18\x12"
	                     "19700101000000.25Z",
	                     20));
	assert_true(contains(der, len, rq.imprint_der, rq.imprint_der_len));
	assert_true(contains(der, len, "\x02\x02\x12\x34", 4)); /* serial, minimal */
	assert_true(contains(der, len, "\x30\x03\x02\x01\x01\x02\x03\x01\x02\x03", 10));
	/* id-aa-signingCertificateV2, and the certificate since certReq */
	assert_true(contains(der, len, "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x02\x2f", 11));
	assert_true(contains(der, len, s->cert.raw.p, s->cert.raw.len));

	char dir[] = "/tmp/kensho-tsp-XXXXXX", path[64], cmd[512];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/r.tsr", dir);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(der, 1, len, fp), len);
	fclose(fp);
	snprintf(cmd, sizeof cmd,
	         "openssl ts -reply -in %s -text 2>&1 | grep -q 'Nonce: 0x010203' && "
	         "openssl ts -reply -in %s -text | grep -q 'Policy OID: 1.3.6.1.4.1.32473.3161.1'",
	         path, path);
	int rc = system(cmd);
	unlink(path);
	rmdir(dir);
	assert_int_equal(rc, 0);
	free(der);

	/* No certReq: no certificate; a whole second: no fraction. */
	rq.cert_req = false;
	g.gen_time_millis = 0;
	assert_int_equal(tsp_response_grant(&g, &der, &len), 0);
	assert_false(contains(der, len, s->cert.raw.p, s->cert.raw.len));
	assert_true(contains(der, len,
	                     "\x18\x0f"
	                     "19700101000000Z",
	                     17));
	free(der);

	g.serial_len = TSP_SERIAL_MAX + 1;
	assert_int_equal(tsp_response_grant(&g, &der, &len), -EINVAL);
	g.serial_len = sizeof serial;
	g.gen_time_millis = 1000;
	assert_int_equal(tsp_response_grant(&g, &der, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decode_full),
	        cmocka_unit_test(test_decode_nonce_bound),
	        cmocka_unit_test(test_decode_refusals),
	        cmocka_unit_test(test_reject_known_bytes),
	        cmocka_unit_test_setup_teardown(test_grant, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
