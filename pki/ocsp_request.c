/* OCSP requests: decoding (responder side), GET-path decoding, and building
 * CertIDs and requests (client side). RFC 6960 §4.1. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "core/encoding.h"
#include "pki/der.h"
#include "pki/errors.h"
#include "pki/ocsp_codec.h"
#include "pki/hash_internal.h"
#include "pki/ocsp_internal.h"
#include "pki/x509_write.h"

#define ASN1_CONSTRUCTED_SEQUENCE (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define ASN1_EXPLICIT(n)          (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | (n))

/* Reads a TLV with the expected tag; [*p, *p+len) is its content. */
static int expect_tag(unsigned char **p, const unsigned char *end, size_t *len, int tag)
{
	return der_read_header(p, end, len, tag) ? -EINVAL : 0;
}

/* The digests a CertID may name: read per request, so matched here by
 * their OID's bytes rather than through mbedTLS's tables. */
struct cert_id_hash {
	const char *oid;
	size_t oid_len;
	enum pki_digest hash;
	uint8_t len;
};

#define CERT_ID_HASH(oid, hash, len)                                                               \
	{                                                                                          \
		oid, sizeof(oid) - 1, hash, len                                                    \
	}
static const struct cert_id_hash cert_id_hashes[] = {
        CERT_ID_HASH(MBEDTLS_OID_DIGEST_ALG_SHA1, PKI_DIGEST_SHA1, 20),
        CERT_ID_HASH(MBEDTLS_OID_DIGEST_ALG_SHA256, PKI_DIGEST_SHA256, 32),
        CERT_ID_HASH(MBEDTLS_OID_DIGEST_ALG_SHA384, PKI_DIGEST_SHA384, 48),
        CERT_ID_HASH(MBEDTLS_OID_DIGEST_ALG_SHA512, PKI_DIGEST_SHA512, 64),
};

static const struct cert_id_hash *cert_id_hash_of(const unsigned char *oid, size_t len)
{
	for (size_t i = 0; i < sizeof(cert_id_hashes) / sizeof(cert_id_hashes[0]); i++) {
		const struct cert_id_hash *h = &cert_id_hashes[i];
		if (h->oid_len == len && memcmp(h->oid, oid, len) == 0)
			return h;
	}
	return NULL;
}

int ocsp_cert_id_decode(unsigned char **p, const unsigned char *end, struct ocsp_cert_id *out)
{
	unsigned char *start = *p;
	size_t len;
	/* The lengths say how much of each array holds this CertID; the rest
	 * is not cleared (per request, that was most of the decoding). */
	out->hash_len = out->serial_len = 0;
	out->der_len = 0;
	if (expect_tag(p, end, &len, ASN1_CONSTRUCTED_SEQUENCE))
		return -EINVAL;
	const unsigned char *id_end = *p + len;
	if ((size_t)(id_end - start) > sizeof(out->der))
		return -EINVAL;

	/* hashAlgorithm: the OID of one of the digests kensho knows, and its
	 * parameters absent or NULL (RFC 5754 §2 allows both for SHA-2). */
	if (expect_tag(p, id_end, &len, ASN1_CONSTRUCTED_SEQUENCE))
		return -EINVAL;
	const unsigned char *alg_end = *p + len;
	if (expect_tag(p, alg_end, &len, MBEDTLS_ASN1_OID))
		return -EINVAL;
	const struct cert_id_hash *known = cert_id_hash_of(*p, len);
	if (!known)
		return -EINVAL;
	*p += len;
	if (*p != alg_end && (alg_end - *p != 2 || (*p)[0] != MBEDTLS_ASN1_NULL || (*p)[1] != 0))
		return -EINVAL;
	*p = (unsigned char *)alg_end;
	out->hash = known->hash;
	out->hash_len = known->len;

	if (expect_tag(p, id_end, &len, MBEDTLS_ASN1_OCTET_STRING) || len != out->hash_len)
		return -EINVAL;
	memcpy(out->name_hash, *p, len);
	*p += len;
	if (expect_tag(p, id_end, &len, MBEDTLS_ASN1_OCTET_STRING) || len != out->hash_len)
		return -EINVAL;
	memcpy(out->key_hash, *p, len);
	*p += len;
	if (expect_tag(p, id_end, &len, MBEDTLS_ASN1_INTEGER) || len == 0 || len > OCSP_SERIAL_MAX)
		return -EINVAL;
	/* The serial is echoed in the answer and looked up byte for byte, so
	 * only its one DER form names a certificate: a zero-length INTEGER, a
	 * redundant leading 00 or FF octet (X.690 §8.3.2) would be answered
	 * "unknown" for a revoked serial and echoed as invalid DER. A serial
	 * number is positive (RFC 5280 §4.1.2.2), so a negative one names no
	 * certificate at all. All three are malformed requests. */
	if ((*p)[0] & 0x80)
		return -EINVAL;
	if (len > 1 && (*p)[0] == 0 && !((*p)[1] & 0x80))
		return -EINVAL;
	memcpy(out->serial, *p, len);
	out->serial_len = (uint8_t)len;
	*p += len;
	if (*p != id_end)
		return -EINVAL;
	out->der_len = (uint16_t)(id_end - start);
	memcpy(out->der, start, out->der_len);
	return 0;
}

int ocsp_extensions_decode(unsigned char **p, const unsigned char *end, bool *has_nonce,
                           uint8_t *nonce, size_t *nonce_len)
{
	size_t len;
	if (expect_tag(p, end, &len, ASN1_CONSTRUCTED_SEQUENCE) || *p + len != end)
		return -EINVAL;
	while (*p < end) {
		if (expect_tag(p, end, &len, ASN1_CONSTRUCTED_SEQUENCE))
			return -EINVAL;
		const unsigned char *ext_end = *p + len;
		mbedtls_asn1_buf oid = {.tag = MBEDTLS_ASN1_OID};
		if (expect_tag(p, ext_end, &oid.len, MBEDTLS_ASN1_OID))
			return -EINVAL;
		oid.p = *p;
		*p += oid.len;
		int critical = 0;
		if (*p < ext_end && **p == MBEDTLS_ASN1_BOOLEAN &&
		    mbedtls_asn1_get_bool(p, ext_end, &critical))
			return -EINVAL;
		if (expect_tag(p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) || *p + len != ext_end)
			return -EINVAL;
		if (MBEDTLS_OID_CMP(OCSP_OID_NONCE, &oid) == 0) {
			/* RFC 9654 §2.1: the value is an OCTET STRING of 1..32
			 * octets; kensho takes up to OCSP_NONCE_MAX. Older clients
			 * put the raw nonce in extnValue: take that as is. */
			size_t value_len = len;
			unsigned char *inner = *p;
			size_t inner_len;
			bool wrapped = mbedtls_asn1_get_tag(&inner, ext_end, &inner_len,
			                                    MBEDTLS_ASN1_OCTET_STRING) == 0 &&
			               inner + inner_len == ext_end;
			if (wrapped)
				value_len = inner_len;
			if (value_len == 0)
				return -EINVAL;
			/* The whole extnValue is kept: a non-minimal length form
			 * (04 84 00 00 00 80 ...) must not overflow the buffer. */
			if (value_len > OCSP_NONCE_MAX || len > OCSP_NONCE_MAX + 4)
				return -E2BIG;
			/* It is echoed as is: the inner OCTET STRING in DER too. */
			if (wrapped && der_check_strict(*p, len) < 0)
				return -EINVAL;
			if (*has_nonce)
				return -EINVAL; /* RFC 5280 §4.2: at most one instance */
			*has_nonce = true;
			memcpy(nonce, *p, len);
			*nonce_len = len;
		}
		*p = (unsigned char *)ext_end;
	}
	return 0;
}

int ocsp_request_decode(const uint8_t *der, size_t len, struct ocsp_request *out)
{
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t n;
	out->count = 0;
	out->has_nonce = false;
	out->nonce_len = 0;

	/* DER only (RFC 6960 §4.1.1 defines the request in DER): a request
	 * whose lengths are not in their shortest definite form is malformed,
	 * wherever they are; the CertIDs inside are echoed byte for byte. */
	if (der_check_strict(der, len) < 0)
		return -EINVAL;
	if (expect_tag(&p, end, &n, ASN1_CONSTRUCTED_SEQUENCE) || p + n != end)
		return -EINVAL;
	/* tbsRequest */
	if (expect_tag(&p, end, &n, ASN1_CONSTRUCTED_SEQUENCE))
		return -EINVAL;
	const unsigned char *tbs_end = p + n;
	if (p < tbs_end && *p == ASN1_EXPLICIT(0)) {
		int version;
		if (expect_tag(&p, tbs_end, &n, ASN1_EXPLICIT(0)) ||
		    mbedtls_asn1_get_int(&p, p + n, &version) || version != 0)
			return -EINVAL;
	}
	if (p < tbs_end && *p == ASN1_EXPLICIT(1)) { /* requestorName: ignored */
		if (expect_tag(&p, tbs_end, &n, ASN1_EXPLICIT(1)))
			return -EINVAL;
		p += n;
	}
	if (expect_tag(&p, tbs_end, &n, ASN1_CONSTRUCTED_SEQUENCE))
		return -EINVAL;
	const unsigned char *list_end = p + n;
	while (p < list_end) {
		if (expect_tag(&p, list_end, &n, ASN1_CONSTRUCTED_SEQUENCE))
			return -EINVAL;
		const unsigned char *req_end = p + n;
		if (out->count == OCSP_MAX_CERT_IDS)
			return -E2BIG;
		int err = ocsp_cert_id_decode(&p, req_end, &out->ids[out->count]);
		if (err)
			return err;
		out->count++;
		if (p < req_end) { /* singleRequestExtensions: none kensho honours */
			if (expect_tag(&p, req_end, &n, ASN1_EXPLICIT(0)) || p + n != req_end)
				return -EINVAL;
			p += n;
		}
	}
	if (out->count == 0)
		return -EINVAL;
	if (p < tbs_end) {
		if (expect_tag(&p, tbs_end, &n, ASN1_EXPLICIT(2)) || p + n != tbs_end)
			return -EINVAL;
		int err = ocsp_extensions_decode(&p, tbs_end, &out->has_nonce, out->nonce,
		                                 &out->nonce_len);
		if (err)
			return err;
	}
	if (p != tbs_end)
		return -EINVAL;
	if (p < end) { /* optionalSignature: present but not checked */
		if (expect_tag(&p, end, &n, ASN1_EXPLICIT(0)) || p + n != end)
			return -EINVAL;
	}
	return 0;
}

int ocsp_get_path_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
	/* '/' is a base64 character, and "//" occurs in valid base64, so only
	 * leading slashes go, escaped or not: "/ocsp//MEow..." from a responder
	 * URL configured with a trailing slash (RFC 5019 §5). */
	size_t i = 0;
	while (i < len) {
		if (text[i] == '/')
			i++;
		else if (text[i] == '%' && percent_escape_decode(text, len, i) == '/')
			i += 3;
		else
			break;
	}
	text += i;
	len -= i;
	if (len == 0)
		return 0; /* nothing to decode (the caller refuses an empty request) */
	/* Without escapes and spaces (most clients) the text is decoded where
	 * it is; otherwise the cleaned text lives on the stack (this runs per
	 * GET on the loop): base64 of the largest request kensho accepts. */
	bool escaped = memchr(text, '%', len) != NULL;
	if (!escaped && !memchr(text, ' ', len))
		return base64_decode_any(text, len, out, cap);
	char clean[OCSP_REQUEST_MAX / 3 * 4 + 8];
	size_t n = 0;
	while (len > 0) {
		/* Copy up to the next escape in one go, then decode the escape. */
		const char *percent = escaped ? memchr(text, '%', len) : NULL;
		size_t run = percent ? (size_t)(percent - text) : len;
		if (run > sizeof(clean) - n)
			return -ENOSPC;
		memcpy(clean + n, text, run);
		n += run;
		if (!percent)
			break;
		int octet = percent_escape_decode(text, len, run);
		if (octet < 0)
			return -EINVAL;
		if (n == sizeof(clean))
			return -ENOSPC;
		clean[n++] = (char)octet;
		text += run + 3;
		len -= run + 3;
	}
	/* A form decoder on the way turned '+' into ' ' (or a client sent %20). */
	for (char *space = memchr(clean, ' ', n); space;
	     space = memchr(space, ' ', n - (size_t)(space - clean)))
		*space = '+';
	return base64_decode_any(clean, n, out, cap);
}

int ocsp_issuer_hashes_take(enum pki_digest hash, const uint8_t *issuer_der, size_t issuer_len,
                            struct ocsp_issuer_hashes *out)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(pki_digest_md(hash));
	if (!info)
		return -EINVAL;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	int ret = mbedtls_x509_crt_parse_der(&crt, issuer_der, issuer_len);
	if (ret) {
		mbedtls_x509_crt_free(&crt);
		return pki_errno(ret);
	}
	memset(out, 0, sizeof(*out));
	out->hash = hash;
	out->len = mbedtls_md_get_size(info);
	/* RFC 6960 §4.1.1: the hash of the issuer's DN (the DER subject of the
	 * issuer certificate) and of the value of its subjectPublicKey BIT
	 * STRING (without tag, length and unused-bits octet). */
	mbedtls_md(info, crt.subject_raw.p, crt.subject_raw.len, out->name);
	const uint8_t *key;
	size_t key_len;
	int err = x509_spki_key_bits(crt.pk_raw.p, crt.pk_raw.len, &key, &key_len);
	if (!err)
		mbedtls_md(info, key, key_len, out->key);
	mbedtls_x509_crt_free(&crt);
	return err;
}

int ocsp_cert_id_build(const struct ocsp_issuer_hashes *issuer, const uint8_t *serial,
                       size_t serial_len, struct ocsp_cert_id *out)
{
	const char *oid;
	size_t oid_len;
	if (serial_len == 0 || serial_len > OCSP_SERIAL_MAX ||
	    issuer->len > sizeof(out->name_hash) ||
	    mbedtls_oid_get_oid_by_md(pki_digest_md(issuer->hash), &oid, &oid_len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->hash = issuer->hash;
	out->hash_len = issuer->len;
	memcpy(out->name_hash, issuer->name, issuer->len);
	memcpy(out->key_hash, issuer->key, issuer->len);
	memcpy(out->serial, serial, serial_len);
	out->serial_len = (uint8_t)serial_len;

	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);
	der_tlv(&d, DER_OID, oid, oid_len);
	der_null(&d);
	der_end(&d);
	der_tlv(&d, DER_OCTET_STRING, out->name_hash, out->hash_len);
	der_tlv(&d, DER_OCTET_STRING, out->key_hash, out->hash_len);
	der_tlv(&d, DER_INTEGER, serial, serial_len);
	der_end(&d);
	uint8_t *bytes;
	size_t len;
	int err = der_finish(&d, &bytes, &len);
	if (err)
		return err;
	if (len > sizeof(out->der)) {
		free(bytes);
		return -E2BIG;
	}
	memcpy(out->der, bytes, len);
	out->der_len = (uint16_t)len;
	free(bytes);
	return 0;
}

int ocsp_cert_id_make(enum pki_digest hash, const uint8_t *issuer_der, size_t issuer_len,
                      const uint8_t *serial, size_t serial_len, struct ocsp_cert_id *out)
{
	struct ocsp_issuer_hashes issuer;
	int err = ocsp_issuer_hashes_take(hash, issuer_der, issuer_len, &issuer);
	return err ? err : ocsp_cert_id_build(&issuer, serial, serial_len, out);
}

int ocsp_request_encode(const struct ocsp_cert_id *ids, size_t count, const uint8_t *nonce,
                        size_t nonce_len, uint8_t **out, size_t *len)
{
	if (count == 0 || count > OCSP_MAX_CERT_IDS || nonce_len > OCSP_NONCE_MAX)
		return -EINVAL;
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE); /* OCSPRequest */
	der_begin(&d, DER_SEQUENCE); /* TBSRequest */
	der_begin(&d, DER_SEQUENCE); /* requestList */
	for (size_t i = 0; i < count; i++) {
		der_begin(&d, DER_SEQUENCE);
		der_raw(&d, ids[i].der, ids[i].der_len);
		der_end(&d);
	}
	der_end(&d);
	if (nonce_len) {
		der_begin(&d, DER_CONTEXT(2));
		der_begin(&d, DER_SEQUENCE);
		der_begin(&d, DER_SEQUENCE);
		der_tlv(&d, DER_OID, OCSP_OID_NONCE, sizeof(OCSP_OID_NONCE) - 1);
		der_begin(&d, DER_OCTET_STRING);
		der_tlv(&d, DER_OCTET_STRING, nonce, nonce_len);
		der_end(&d);
		der_end(&d);
		der_end(&d);
		der_end(&d);
	}
	der_end(&d);
	der_end(&d);
	return der_finish(&d, out, len);
}
