/* RFC 3161 codec: see tsp.h. */
#include "pki/tsp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>

#include "pki/der.h"

#define OID_TST_INFO "1.2.840.113549.1.9.16.1.4"

/* The imprint hashes taken, by their OIDs' content octets (RFC 5754 §2). */
static const struct {
	uint8_t oid[9];
	enum pki_digest md;
	size_t len;
} hashes[] = {
        {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}, PKI_DIGEST_SHA256, 32},
        {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}, PKI_DIGEST_SHA384, 48},
        {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03}, PKI_DIGEST_SHA512, 64},
};

static int refuse(enum tsp_fail_info *fail, enum tsp_fail_info why)
{
	*fail = why;
	return -EINVAL;
}

/* MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
 * hashedMessage OCTET STRING }. The parameters may be absent or NULL (RFC
 * 5754 §2 allows both). */
static int imprint_decode(unsigned char **p, const unsigned char *end, struct tsp_request *out,
                          enum tsp_fail_info *fail)
{
	unsigned char *start = *p;
	size_t len, alg_len, oid_len;
	if (mbedtls_asn1_get_tag(p, end, &len, DER_SEQUENCE))
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	const unsigned char *imprint_end = *p + len;
	if (mbedtls_asn1_get_tag(p, imprint_end, &alg_len, DER_SEQUENCE))
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	const unsigned char *alg_end = *p + alg_len;
	if (mbedtls_asn1_get_tag(p, alg_end, &oid_len, DER_OID))
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	const unsigned char *oid = *p;
	*p += oid_len;
	if (*p != alg_end) {
		size_t null_len;
		if (mbedtls_asn1_get_tag(p, alg_end, &null_len, DER_NULL) || null_len != 0 ||
		    *p != alg_end)
			return refuse(fail, TSP_FAIL_BAD_ALG);
	}
	size_t i, n = sizeof hashes / sizeof hashes[0];
	for (i = 0; i < n; i++)
		if (oid_len == sizeof hashes[i].oid && memcmp(oid, hashes[i].oid, oid_len) == 0)
			break;
	if (i == n)
		return refuse(fail, TSP_FAIL_BAD_ALG);
	size_t digest_len;
	if (mbedtls_asn1_get_tag(p, imprint_end, &digest_len, DER_OCTET_STRING))
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	*p += digest_len;
	if (digest_len != hashes[i].len || *p != imprint_end)
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	out->md = hashes[i].md;
	out->imprint_der_len = (size_t)(*p - start);
	if (out->imprint_der_len > sizeof out->imprint_der)
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	memcpy(out->imprint_der, start, out->imprint_der_len);
	return 0;
}

void tsp_request_for_sha256(const uint8_t digest[32], struct tsp_request *out)
{
	/* SEQUENCE { SEQUENCE { OID sha256, NULL }, OCTET STRING (32) } */
	static const uint8_t head[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                               0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	memset(out, 0, sizeof(*out));
	out->md = PKI_DIGEST_SHA256;
	memcpy(out->imprint_der, head, sizeof head);
	memcpy(out->imprint_der + sizeof head, digest, 32);
	out->imprint_der_len = sizeof head + 32;
	out->cert_req = true;
}

/* An INTEGER's content in DER's minimal form (X.690 §8.3.2). */
static bool integer_minimal(const unsigned char *c, size_t len)
{
	if (len == 0)
		return false;
	if (len > 1 && ((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80))))
		return false;
	return true;
}

/* TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint,
 * reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN
 * DEFAULT FALSE, extensions [0] IMPLICIT Extensions OPTIONAL } (§2.4.1). */
int tsp_request_decode(const uint8_t *der, size_t len, struct tsp_request *out,
                       enum tsp_fail_info *fail)
{
	memset(out, 0, sizeof(*out));
	if (!der || len == 0 || len > TSP_REQUEST_MAX || der_check_strict(der, len))
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t seq_len, n;
	/* version v1, in the one DER form (mbedTLS's integer reader would also
	 * take 02 02 00 01) */
	if (mbedtls_asn1_get_tag(&p, end, &seq_len, DER_SEQUENCE) || p + seq_len != end ||
	    end - p < 3 || p[0] != DER_INTEGER || p[1] != 1 || p[2] != 1)
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	p += 3;
	int rc = imprint_decode(&p, end, out, fail);
	if (rc)
		return rc;
	if (p < end && *p == DER_OID) {
		if (mbedtls_asn1_get_tag(&p, end, &n, DER_OID) || n == 0)
			return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
		if (n > TSP_POLICY_MAX)
			return refuse(fail, TSP_FAIL_UNACCEPTED_POLICY);
		memcpy(out->policy, p, n);
		out->policy_len = n;
		p += n;
	}
	if (p < end && *p == DER_INTEGER) {
		if (mbedtls_asn1_get_tag(&p, end, &n, DER_INTEGER) || !integer_minimal(p, n) ||
		    (p[0] & 0x80))
			return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT); /* not DER, or negative */
		size_t magnitude = p[0] == 0 && n > 1 ? n - 1 : n;
		if (magnitude > TSP_NONCE_MAX)
			return refuse(fail, TSP_FAIL_BAD_REQUEST);
		memcpy(out->nonce, p, n);
		out->nonce_len = n;
		p += n;
	}
	if (p < end && *p == DER_BOOLEAN) {
		/* DER omits a DEFAULT value (X.690 §11.5): FALSE never appears. */
		if (mbedtls_asn1_get_tag(&p, end, &n, DER_BOOLEAN) || n != 1 || p[0] != 0xff)
			return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
		out->cert_req = true;
		p += 1;
	}
	if (p < end && *p == DER_CONTEXT(0))
		return refuse(fail, TSP_FAIL_UNACCEPTED_EXTENSION);
	if (p != end)
		return refuse(fail, TSP_FAIL_BAD_DATA_FORMAT);
	return 0;
}

/* PKIFailureInfo is a named BIT STRING: DER drops trailing zero bits
 * (X.690 §11.2.2), so one set bit n takes n/8 + 1 octets. */
static void write_status(struct der *d, enum tsp_status status, const char *text, int fail)
{
	der_begin(d, DER_SEQUENCE);
	der_int(d, status);
	if (text) {
		der_begin(d, DER_SEQUENCE); /* PKIFreeText */
		der_tlv(d, DER_UTF8_STRING, text, strlen(text));
		der_end(d);
	}
	if (fail >= 0) {
		uint8_t bits[4] = {0};
		bits[fail / 8] = (uint8_t)(0x80 >> (fail % 8));
		der_bit_string(d, bits, (size_t)fail / 8 + 1, 7 - fail % 8);
	}
	der_end(d);
}

int tsp_response_reject(enum tsp_fail_info fail, const char *text, uint8_t **out, size_t *out_len)
{
	if ((int)fail < 0 || fail > TSP_FAIL_SYSTEM_FAILURE)
		return -EINVAL;
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	write_status(&d, TSP_STATUS_REJECTION, text, (int)fail);
	der_end(&d);
	return der_finish(&d, out, out_len);
}

/* GeneralizedTime with an optional fraction: RFC 3161 §2.4.2 wants
 * "YYYYMMDDhhmmss[.s...]Z" with trailing zeros of the fraction dropped and
 * no dot when nothing is left. */
static void write_gen_time(struct der *d, int64_t t, unsigned millis)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char text[32];
	int n = snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (millis > 0 && millis < 1000) {
		char frac[8];
		snprintf(frac, sizeof frac, "%03u", millis);
		size_t k = 3;
		while (frac[k - 1] == '0')
			k--;
		n += snprintf(text + n, sizeof text - (size_t)n, ".%.*s", (int)k, frac);
	}
	n += snprintf(text + n, sizeof text - (size_t)n, "Z");
	der_tlv(d, DER_GENERALIZED_TIME, text, (size_t)n);
}

/* TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber,
 * genTime, accuracy OPTIONAL, ordering DEFAULT FALSE, nonce OPTIONAL,
 * tsa [0] OPTIONAL, extensions [1] OPTIONAL } (§2.4.2). ordering is false
 * and so left out (DER); the TSA name is optional and left out too: the
 * signing-certificate-v2 attribute already names the TSA's certificate. */
static int tst_info_encode(const struct tsp_grant *g, uint8_t **out, size_t *out_len)
{
	const struct tsp_request *rq = g->request;
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_int(&d, 1);
	der_oid(&d, g->policy);
	der_raw(&d, rq->imprint_der, rq->imprint_der_len);
	der_uint_bytes(&d, g->serial, g->serial_len);
	write_gen_time(&d, g->gen_time, g->gen_time_millis);
	if (g->accuracy_seconds) {
		der_begin(&d, DER_SEQUENCE);
		der_int(&d, g->accuracy_seconds);
		der_end(&d);
	}
	if (rq->nonce_len)
		der_tlv(&d, DER_INTEGER, rq->nonce, rq->nonce_len);
	der_end(&d);
	return der_finish(&d, out, out_len);
}

int tsp_response_grant(const struct tsp_grant *g, uint8_t **out, size_t *out_len)
{
	if (!g->request || !g->policy || !g->serial || g->serial_len == 0 ||
	    g->serial_len > TSP_SERIAL_MAX || g->gen_time_millis > 999 || !g->cert || !g->sign ||
	    g->request->imprint_der_len == 0)
		return -EINVAL;
	uint8_t *tst = NULL, *token = NULL;
	size_t tst_len = 0, token_len = 0;
	int rc = tst_info_encode(g, &tst, &tst_len);
	if (rc)
		return rc;
	struct cms_build_params p = {
	        .content = tst,
	        .content_len = tst_len,
	        .signed_attributes = true,
	        .signing_time = g->gen_time,
	        .signing_certificate_v2 = true,
	        .omit_certificate = !g->request->cert_req,
	        .content_type = OID_TST_INFO,
	        .md = PKI_DIGEST_SHA256,
	        .cert = g->cert,
	        .cert_len = g->cert_len,
	        .sign = g->sign,
	        .sign_arg = g->sign_arg,
	};
	rc = cms_build_signed(&p, &token, &token_len);
	free(tst);
	if (rc)
		return rc;
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	write_status(&d, TSP_STATUS_GRANTED, NULL, -1);
	der_raw(&d, token, token_len);
	der_end(&d);
	free(token);
	return der_finish(&d, out, out_len);
}
