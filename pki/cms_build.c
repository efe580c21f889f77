/* CMS SignedData builder: see cms_build.h. */
#include "pki/cms_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "pki/der.h"
#include "pki/hash_internal.h"
#include "pki/random.h"

#define OID_SIGNED_DATA     "1.2.840.113549.1.7.2"
#define OID_DATA            "1.2.840.113549.1.7.1"
#define OID_RSA             "1.2.840.113549.1.1.1"
#define OID_CONTENT_TYPE    "1.2.840.113549.1.9.3"
#define OID_MESSAGE_DIGEST  "1.2.840.113549.1.9.4"
#define OID_SIGNING_TIME    "1.2.840.113549.1.9.5"
#define OID_SIGNING_CERT_V2 "1.2.840.113549.1.9.16.2.47"

/* The digest algorithm's OID (NIST, RFC 5754 §2), or NULL if unsupported. */
static const char *digest_oid(enum pki_digest md)
{
	switch (md) {
	case PKI_DIGEST_SHA256: return "2.16.840.1.101.3.4.2.1";
	case PKI_DIGEST_SHA384: return "2.16.840.1.101.3.4.2.2";
	case PKI_DIGEST_SHA512: return "2.16.840.1.101.3.4.2.3";
	default: return NULL;
	}
}

/* AlgorithmIdentifier for a digest. RFC 5754 §2 says implementations SHOULD
 * omit the parameters, which is also what OpenSSL writes. */
static void write_digest_alg(struct der *d, enum pki_digest md)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, digest_oid(md));
	der_end(d);
}

int cms_digest_info(enum pki_digest md, const uint8_t *digest, size_t digest_len, uint8_t *out,
                    size_t cap)
{
	const char *oid = digest_oid(md);
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(pki_digest_md(md));
	if (!oid || !info || mbedtls_md_get_size(info) != digest_len)
		return -EINVAL;
	/* PKCS#1's DigestInfo keeps the explicit NULL (RFC 8017 §9.2 note 1). */
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, oid);
	der_null(&d);
	der_end(&d);
	der_tlv(&d, DER_OCTET_STRING, digest, digest_len);
	der_end(&d);
	uint8_t *bytes;
	size_t len;
	int rc = der_finish(&d, &bytes, &len);
	if (rc < 0)
		return rc;
	if (len > cap) {
		free(bytes);
		return -ENOSPC;
	}
	memcpy(out, bytes, len);
	free(bytes);
	return (int)len;
}

int cms_sign_pk(void *arg, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                size_t *sig_len)
{
	mbedtls_pk_context *pk = arg;
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA)
		return -ENOTSUP;
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
	size_t n = mbedtls_rsa_get_len(rsa);
	if (n > CMS_MAX_SIGNATURE || digest_info_len > n)
		return -EINVAL;
	/* MD_NONE: the DigestInfo is already encoded, pad it as is (§9.2 step 3). */
	if (mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, pki_random, NULL, MBEDTLS_RSA_PRIVATE,
	                                      MBEDTLS_MD_NONE, (unsigned int)digest_info_len,
	                                      digest_info, sig) != 0)
		return -EIO;
	*sig_len = n;
	return 0;
}

/* One encoded signed attribute: SEQUENCE { type, SET { value } }. */
struct attribute {
	uint8_t *der;
	size_t len;
};

static int attribute_encode(struct attribute *a, const char *type, uint8_t tag, const void *value,
                            size_t value_len, int64_t time)
{
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, type);
	der_begin(&d, DER_SET);
	if (tag == DER_UTC_TIME)
		der_time(&d, time); /* RFC 5652 §11.3: UTCTime through 2049 */
	else if (tag == DER_OID)
		der_oid(&d, value);
	else if (tag == 0)
		der_raw(&d, value, value_len); /* an encoded value */
	else
		der_tlv(&d, tag, value, value_len);
	der_end(&d);
	der_end(&d);
	return der_finish(&d, &a->der, &a->len);
}

/* DER orders a SET OF by its elements' encodings, compared as octet strings
 * with the shorter one padded (X.690 §11.6). */
static int attribute_compare(const void *x, const void *y)
{
	const struct attribute *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->der, b->der, n);
	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 } with
 * one ESSCertIDv2 { hashAlgorithm left at its DEFAULT SHA-256, certHash,
 * issuerSerial { issuer GeneralNames { directoryName }, serialNumber } }
 * (RFC 5035 §5.4.1). */
static int signing_certificate_v2(const mbedtls_x509_crt *crt, uint8_t **out, size_t *len)
{
	uint8_t hash[32];
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), crt->raw.p, crt->raw.len,
	               hash) != 0)
		return -EINVAL;
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE); /* ESSCertIDv2 */
	der_tlv(&d, DER_OCTET_STRING, hash, sizeof hash);
	der_begin(&d, DER_SEQUENCE);   /* IssuerSerial */
	der_begin(&d, DER_SEQUENCE);   /* GeneralNames */
	der_begin(&d, DER_CONTEXT(4)); /* directoryName, EXPLICIT (Name is a CHOICE) */
	der_raw(&d, crt->issuer_raw.p, crt->issuer_raw.len);
	der_end(&d);
	der_end(&d);
	der_tlv(&d, DER_INTEGER, crt->serial.p, crt->serial.len);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	return der_finish(&d, out, len);
}

/* Encodes the signed attributes as SET OF Attribute (the form that is signed,
 * §5.4) into *set; the SignerInfo carries the same content under [0]. */
static int signed_attributes_encode(const struct cms_build_params *p, const mbedtls_x509_crt *crt,
                                    const char *content_type, const uint8_t *digest,
                                    size_t digest_len, uint8_t **set, size_t *set_len)
{
	struct attribute attrs[4] = {0};
	int count = 3;
	int rc = attribute_encode(&attrs[0], OID_CONTENT_TYPE, DER_OID, content_type, 0, 0);
	if (rc == 0)
		rc = attribute_encode(&attrs[1], OID_SIGNING_TIME, DER_UTC_TIME, NULL, 0,
		                      p->signing_time);
	if (rc == 0)
		rc = attribute_encode(&attrs[2], OID_MESSAGE_DIGEST, DER_OCTET_STRING, digest,
		                      digest_len, 0);
	if (rc == 0 && p->signing_certificate_v2) {
		uint8_t *value = NULL;
		size_t value_len = 0;
		rc = signing_certificate_v2(crt, &value, &value_len);
		if (rc == 0)
			rc = attribute_encode(&attrs[count++], OID_SIGNING_CERT_V2, 0, value,
			                      value_len, 0);
		free(value);
	}
	if (rc == 0) {
		qsort(attrs, (size_t)count, sizeof attrs[0], attribute_compare);
		struct der d;
		der_init(&d);
		der_begin(&d, DER_SET);
		for (int i = 0; i < count; i++)
			der_raw(&d, attrs[i].der, attrs[i].len);
		der_end(&d);
		rc = der_finish(&d, set, set_len);
	}
	for (int i = 0; i < 4; i++)
		free(attrs[i].der);
	return rc;
}

static int digest_of(enum pki_digest md, const uint8_t *data, size_t len, uint8_t *out)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(pki_digest_md(md));
	if (!info || mbedtls_md(info, data, len, out) != 0)
		return -EINVAL;
	return 0;
}

int cms_build_signed(const struct cms_build_params *p, uint8_t **out, size_t *out_len)
{
	enum pki_digest md = p->md;
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(pki_digest_md(md));
	if (!digest_oid(md) || !info || !p->sign || !p->cert || (!p->content && p->content_len))
		return -EINVAL;
	const char *content_type = p->content_type ? p->content_type : OID_DATA;
	/* RFC 5652 §5.3: without signed attributes the content type must be id-data. */
	if (!p->signed_attributes && strcmp(content_type, OID_DATA) != 0)
		return -EINVAL;

	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, p->cert, p->cert_len) != 0) {
		mbedtls_x509_crt_free(&crt);
		return -EINVAL;
	}

	size_t digest_len = mbedtls_md_get_size(info);
	uint8_t content_digest[MBEDTLS_MD_MAX_SIZE], signed_digest[MBEDTLS_MD_MAX_SIZE];
	uint8_t *attrs = NULL;
	size_t attrs_len = 0;
	int rc = digest_of(md, p->content, p->content_len, content_digest);
	if (rc == 0 && p->signed_attributes) {
		rc = signed_attributes_encode(p, &crt, content_type, content_digest, digest_len,
		                              &attrs, &attrs_len);
		if (rc == 0)
			rc = digest_of(md, attrs, attrs_len, signed_digest);
	} else if (rc == 0) {
		memcpy(signed_digest, content_digest, digest_len);
	}

	uint8_t digest_info[128], sig[CMS_MAX_SIGNATURE];
	size_t sig_len = 0;
	if (rc == 0) {
		int n = cms_digest_info(md, signed_digest, digest_len, digest_info,
		                        sizeof digest_info);
		rc = n < 0 ? n : p->sign(p->sign_arg, digest_info, (size_t)n, sig, &sig_len);
		if (rc == 0 && (sig_len == 0 || sig_len > CMS_MAX_SIGNATURE))
			rc = -EINVAL;
	}
	if (rc < 0)
		goto done;

	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE); /* ContentInfo */
	der_oid(&d, OID_SIGNED_DATA);
	der_begin(&d, DER_CONTEXT(0));
	der_begin(&d, DER_SEQUENCE); /* SignedData; version 1 per §5.1 */
	der_int(&d, strcmp(content_type, OID_DATA) == 0 ? 1 : 3);
	der_begin(&d, DER_SET);
	write_digest_alg(&d, md);
	der_end(&d);
	der_begin(&d, DER_SEQUENCE); /* EncapsulatedContentInfo */
	der_oid(&d, content_type);
	if (!p->detached) {
		der_begin(&d, DER_CONTEXT(0));
		der_tlv(&d, DER_OCTET_STRING, p->content, p->content_len);
		der_end(&d);
	}
	der_end(&d);
	if (!p->omit_certificate) {
		der_begin(&d, DER_CONTEXT(0)); /* certificates [0] IMPLICIT SET OF */
		der_raw(&d, crt.raw.p, crt.raw.len);
		der_end(&d);
	}
	der_begin(&d, DER_SET); /* signerInfos */
	der_begin(&d, DER_SEQUENCE);
	der_int(&d, 1);              /* sid is issuerAndSerialNumber */
	der_begin(&d, DER_SEQUENCE); /* IssuerAndSerialNumber */
	der_raw(&d, crt.issuer_raw.p, crt.issuer_raw.len);
	der_tlv(&d, DER_INTEGER, crt.serial.p, crt.serial.len);
	der_end(&d);
	write_digest_alg(&d, md);
	if (attrs) {
		/* [0] IMPLICIT SET OF Attribute: the signed SET's content, retagged. */
		size_t header = attrs[1] < 0x80 ? 2 : 2 + (size_t)(attrs[1] & 0x7f);
		der_begin(&d, DER_CONTEXT(0));
		der_raw(&d, attrs + header, attrs_len - header);
		der_end(&d);
	}
	der_begin(&d, DER_SEQUENCE); /* signatureAlgorithm, RFC 3370 §3.2 */
	der_oid(&d, OID_RSA);
	der_null(&d);
	der_end(&d);
	der_tlv(&d, DER_OCTET_STRING, sig, sig_len);
	der_end(&d); /* SignerInfo */
	der_end(&d); /* signerInfos */
	der_end(&d); /* SignedData */
	der_end(&d); /* [0] */
	der_end(&d); /* ContentInfo */
	rc = der_finish(&d, out, out_len);
done:
	free(attrs);
	mbedtls_x509_crt_free(&crt);
	return rc;
}
