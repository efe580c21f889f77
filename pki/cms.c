/* CMS SignedData decoder and signature check: see cms.h. */
#include "pki/cms.h"

#include <errno.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/rsa.h>

#include "pki/asn1_time.h"
#include "pki/cert_internal.h"
#include "pki/der.h"
#include "pki/hash_internal.h"

/* Content octets of the OIDs kensho recognises. */
static const uint8_t oid_signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
static const uint8_t oid_content_type[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03};
static const uint8_t oid_message_digest[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};
static const uint8_t oid_signing_time[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05};
static const uint8_t oid_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t oid_rsa_pss[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
static const uint8_t oid_mgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};

static bool oid_is(const struct cms_bytes *oid, const uint8_t *want, size_t want_len)
{
	return oid->len == want_len && memcmp(oid->p, want, want_len) == 0;
}
#define OID_IS(b, o) oid_is((b), (o), sizeof(o))

/* Reads a tag and a definite length, refusing what DER forbids (X.690
 * §10.1): indefinite lengths and lengths not in their shortest form. On
 * success *p is at the content, *len its length (within end). */
static int get_tag(uint8_t **p, const uint8_t *end, size_t *len, int tag)
{
	if (end - *p < 2)
		return -EINVAL;
	uint8_t first = (*p)[1];
	if (first == 0x80)
		return -EINVAL; /* indefinite: BER, not DER */
	if (mbedtls_asn1_get_tag(p, end, len, tag) != 0)
		return -EINVAL;
	if (first > 0x80) {
		size_t n = first & 0x7f;
		uint8_t lead = *(*p - n);
		if (*len < 0x80 || lead == 0)
			return -EINVAL;
	}
	return 0;
}

/* Reads a whole TLV of the given tag into *tlv and moves past it. */
static int get_tlv(uint8_t **p, const uint8_t *end, int tag, struct cms_bytes *tlv)
{
	const uint8_t *start = *p;
	size_t len;
	int rc = get_tag(p, end, &len, tag);
	if (rc < 0)
		return rc;
	*p += len;
	tlv->p = start;
	tlv->len = (size_t)(*p - start);
	return 0;
}

/* Reads a content octets of a primitive value and moves past it. */
static int get_content(uint8_t **p, const uint8_t *end, int tag, struct cms_bytes *content)
{
	size_t len;
	int rc = get_tag(p, end, &len, tag);
	if (rc < 0)
		return rc;
	content->p = *p;
	content->len = len;
	*p += len;
	return 0;
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } */
static int get_alg(uint8_t **p, const uint8_t *end, struct cms_bytes *oid, struct cms_bytes *params)
{
	size_t len;
	int rc = get_tag(p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
	if (rc < 0)
		return rc;
	uint8_t *alg_end = *p + len;
	rc = get_content(p, alg_end, MBEDTLS_ASN1_OID, oid);
	if (rc < 0)
		return rc;
	params->p = *p;
	params->len = (size_t)(alg_end - *p);
	*p = alg_end;
	return 0;
}

/* A digest AlgorithmIdentifier: SHA-256/384/512, parameters absent or NULL
 * (RFC 5754 §2 allows both). */
static int get_digest_alg(uint8_t **p, const uint8_t *end, enum pki_digest *digest)
{
	struct cms_bytes oid, params;
	int rc = get_alg(p, end, &oid, &params);
	if (rc < 0)
		return rc;
	if (!(params.len == 0 || (params.len == 2 && params.p[0] == 0x05 && params.p[1] == 0)))
		return -EINVAL;
	mbedtls_asn1_buf buf = {.tag = MBEDTLS_ASN1_OID, .len = oid.len, .p = (uint8_t *)oid.p};
	mbedtls_md_type_t md;
	if (mbedtls_oid_get_md_alg(&buf, &md) != 0)
		return -ENOTSUP;
	if (md != MBEDTLS_MD_SHA256 && md != MBEDTLS_MD_SHA384 && md != MBEDTLS_MD_SHA512)
		return -ENOTSUP;
	return pki_digest_from_md(md, digest);
}

/* RSASSA-PSS-params (RFC 4055 §3.1). The defaults (SHA-1) are refused: kensho
 * takes SHA-2 only; the hash must equal the SignerInfo's digest algorithm. */
static int get_pss_params(struct cms_bytes params, struct cms_signed_data *sd)
{
	uint8_t *p = (uint8_t *)params.p, *end = p + params.len;
	size_t len;
	if (get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) < 0 ||
	    p + len != end)
		return -EINVAL;
	enum pki_digest hash = PKI_DIGEST_SHA1, mgf_hash = PKI_DIGEST_SHA1;
	int salt = 20, rc;
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
		if ((rc = get_tag(&p, end, &len, *p)) < 0)
			return rc;
		uint8_t *field_end = p + len;
		if ((rc = get_digest_alg(&p, field_end, &hash)) < 0)
			return rc;
		if (p != field_end)
			return -EINVAL;
	}
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 1)) {
		if ((rc = get_tag(&p, end, &len, *p)) < 0)
			return rc;
		uint8_t *field_end = p + len;
		struct cms_bytes oid, inner;
		if ((rc = get_alg(&p, field_end, &oid, &inner)) < 0)
			return rc;
		if (!OID_IS(&oid, oid_mgf1) || p != field_end)
			return -ENOTSUP;
		uint8_t *q = (uint8_t *)inner.p;
		if ((rc = get_digest_alg(&q, inner.p + inner.len, &mgf_hash)) < 0)
			return rc;
		if (q != inner.p + inner.len)
			return -EINVAL;
	}
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 2)) {
		if ((rc = get_tag(&p, end, &len, *p)) < 0)
			return rc;
		uint8_t *field_end = p + len;
		if (mbedtls_asn1_get_int(&p, field_end, &salt) != 0 || p != field_end || salt < 0 ||
		    salt > 512)
			return -EINVAL;
	}
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3)) {
		int trailer;
		if ((rc = get_tag(&p, end, &len, *p)) < 0)
			return rc;
		uint8_t *field_end = p + len;
		if (mbedtls_asn1_get_int(&p, field_end, &trailer) != 0 || trailer != 1 ||
		    p != field_end)
			return -EINVAL;
	}
	if (p != end)
		return -EINVAL;
	if (hash != sd->digest)
		return -ENOTSUP;
	sd->pss_mgf1_digest = mgf_hash;
	sd->pss_salt_len = salt;
	return 0;
}

static int signature_alg(uint8_t **p, const uint8_t *end, struct cms_signed_data *sd)
{
	struct cms_bytes oid, params;
	int rc = get_alg(p, end, &oid, &params);
	if (rc < 0)
		return rc;
	if (OID_IS(&oid, oid_rsa)) {
		sd->sig_alg = CMS_SIG_RSA_PKCS1;
		return 0;
	}
	if (OID_IS(&oid, oid_rsa_pss)) {
		sd->sig_alg = CMS_SIG_RSA_PSS;
		return get_pss_params(params, sd);
	}
	/* sha256WithRSAEncryption and friends (RFC 5754 §3.2) name the digest
	 * too; it must agree with digestAlgorithm. */
	mbedtls_asn1_buf buf = {.tag = MBEDTLS_ASN1_OID, .len = oid.len, .p = (uint8_t *)oid.p};
	mbedtls_md_type_t md;
	mbedtls_pk_type_t pk;
	if (mbedtls_oid_get_sig_alg(&buf, &md, &pk) != 0 || pk != MBEDTLS_PK_RSA)
		return -ENOTSUP;
	if (md != pki_digest_md(sd->digest))
		return -EINVAL;
	sd->sig_alg = CMS_SIG_RSA_PKCS1;
	return 0;
}

static bool in_der_order(const struct cms_bytes *prev, const struct cms_bytes *cur)
{
	size_t n = prev->len < cur->len ? prev->len : cur->len;
	int c = memcmp(prev->p, cur->p, n);
	return c < 0 || (c == 0 && prev->len <= cur->len);
}

/* One attribute with exactly one value: returns that value's TLV start. */
static int single_value(uint8_t **p, const uint8_t *end, uint8_t **value, const uint8_t **value_end)
{
	size_t len;
	int rc = get_tag(p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET);
	if (rc < 0)
		return rc;
	*value = *p;
	*value_end = *p + len;
	*p += len;
	return 0;
}

/* SignedAttributes (RFC 5652 §5.3, §11): content-type must be present and
 * equal eContentType, message-digest present; each at most once; the
 * signing-time is kept. Other attributes are allowed and ignored. */
static int signed_attributes(struct cms_bytes attrs, struct cms_signed_data *sd)
{
	uint8_t *p = (uint8_t *)attrs.p, *end;
	size_t len;
	int rc = get_tag(&p, attrs.p + attrs.len, &len,
	                 MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
	if (rc < 0)
		return rc;
	end = p + len;
	bool seen_type = false, seen_digest = false;
	struct cms_bytes prev = {0};
	int count = 0;
	while (p < end) {
		if (++count > CMS_MAX_ATTRIBUTES)
			return -E2BIG;
		struct cms_bytes attr, oid;
		uint8_t *q = p;
		if ((rc = get_tlv(&p, end, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE,
		                  &attr)) < 0)
			return rc;
		if (prev.p && !in_der_order(&prev, &attr))
			return -EINVAL;
		prev = attr;
		const uint8_t *attr_end = attr.p + attr.len;
		get_tag(&q, attr_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
		if ((rc = get_content(&q, attr_end, MBEDTLS_ASN1_OID, &oid)) < 0)
			return rc;
		uint8_t *v;
		const uint8_t *v_end;
		if ((rc = single_value(&q, attr_end, &v, &v_end)) < 0)
			return rc;
		if (q != attr_end)
			return -EINVAL;
		struct cms_bytes value;
		if (OID_IS(&oid, oid_content_type)) {
			if (seen_type)
				return -EINVAL;
			seen_type = true;
			if ((rc = get_content(&v, v_end, MBEDTLS_ASN1_OID, &value)) < 0)
				return rc;
			if (v != v_end || value.len != sd->content_type.len ||
			    memcmp(value.p, sd->content_type.p, value.len) != 0)
				return -EINVAL;
		} else if (OID_IS(&oid, oid_message_digest)) {
			if (seen_digest)
				return -EINVAL;
			seen_digest = true;
			if ((rc = get_content(&v, v_end, MBEDTLS_ASN1_OCTET_STRING, &value)) < 0)
				return rc;
			if (v != v_end)
				return -EINVAL;
			sd->message_digest = value;
		} else if (OID_IS(&oid, oid_signing_time)) {
			if (sd->has_signing_time || v_end - v < 2)
				return -EINVAL;
			int tag = *v;
			if (tag != MBEDTLS_ASN1_UTC_TIME && tag != MBEDTLS_ASN1_GENERALIZED_TIME)
				return -EINVAL;
			if ((rc = get_content(&v, v_end, tag, &value)) < 0 || v != v_end)
				return rc < 0 ? rc : -EINVAL;
			rc = pki_asn1_time_parse(tag, value.p, value.len, &sd->signing_time);
			if (rc < 0)
				return rc;
			sd->has_signing_time = true;
		}
	}
	if (!seen_type || !seen_digest)
		return -EINVAL;
	return 0;
}

/* SignerInfo (RFC 5652 §5.3). */
static int signer_info(uint8_t **p, const uint8_t *end, struct cms_signed_data *sd)
{
	size_t len;
	int version, rc;
	if ((rc = get_tag(p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	uint8_t *si_end = *p + len;
	if (mbedtls_asn1_get_int(p, si_end, &version) != 0)
		return -EINVAL;
	if (version != 1)
		return -ENOTSUP; /* version 3: subjectKeyIdentifier, not taken */
	if ((rc = get_tag(p, si_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	uint8_t *sid_end = *p + len;
	if ((rc = get_tlv(p, sid_end, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE,
	                  &sd->sid_issuer)) < 0 ||
	    (rc = get_content(p, sid_end, MBEDTLS_ASN1_INTEGER, &sd->sid_serial)) < 0)
		return rc;
	if (*p != sid_end || sd->sid_serial.len == 0)
		return -EINVAL;
	if ((rc = get_digest_alg(p, si_end, &sd->digest)) < 0)
		return rc;
	if (*p < si_end && **p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
		if ((rc = get_tlv(p, si_end, **p, &sd->signed_attrs)) < 0)
			return rc;
		sd->has_signed_attrs = true;
	}
	if ((rc = signature_alg(p, si_end, sd)) < 0)
		return rc;
	if ((rc = get_content(p, si_end, MBEDTLS_ASN1_OCTET_STRING, &sd->signature)) < 0)
		return rc;
	if (sd->signature.len == 0 || sd->signature.len > 1024)
		return -EINVAL;
	if (*p < si_end) { /* unsignedAttrs [1]: allowed, not used */
		struct cms_bytes unsigned_attrs;
		if ((rc = get_tlv(p, si_end,
		                  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 1,
		                  &unsigned_attrs)) < 0)
			return rc;
	}
	if (*p != si_end)
		return -EINVAL;
	if (sd->has_signed_attrs)
		return signed_attributes(sd->signed_attrs, sd);
	/* §5.3: without signed attributes the content type must be id-data. */
	static const uint8_t oid_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
	return OID_IS(&sd->content_type, oid_data) ? 0 : -EINVAL;
}

int cms_decode(const uint8_t *der, size_t der_len, struct cms_signed_data *sd)
{
	memset(sd, 0, sizeof *sd);
	if (der_len > CMS_MAX_INPUT)
		return -E2BIG;
	uint8_t *p = (uint8_t *)der, *end = p + der_len;
	size_t len;
	int rc, version;
	struct cms_bytes oid;
	/* ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content } */
	if ((rc = get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	if (p + len != end)
		return -EINVAL; /* trailing bytes */
	if ((rc = get_content(&p, end, MBEDTLS_ASN1_OID, &oid)) < 0)
		return rc;
	if (!OID_IS(&oid, oid_signed_data))
		return -ENOTSUP;
	if ((rc = get_tag(&p, end, &len,
	                  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) < 0)
		return rc;
	if (p + len != end)
		return -EINVAL;
	/* SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
	 * certificates [0] OPTIONAL, crls [1] OPTIONAL, signerInfos } */
	if ((rc = get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	if (p + len != end)
		return -EINVAL;
	if (mbedtls_asn1_get_int(&p, end, &version) != 0)
		return -EINVAL;
	if (version < 1 || version > 5)
		return -ENOTSUP;
	struct cms_bytes digest_algs;
	if ((rc = get_tlv(&p, end, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET, &digest_algs)) < 0)
		return rc;
	if ((rc = get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	uint8_t *eci_end = p + len;
	if ((rc = get_content(&p, eci_end, MBEDTLS_ASN1_OID, &sd->content_type)) < 0)
		return rc;
	if (p == eci_end) {
		sd->detached = true;
	} else {
		if ((rc = get_tag(&p, eci_end, &len,
		                  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) <
		    0)
			return rc;
		if (p + len != eci_end)
			return -EINVAL;
		/* A constructed OCTET STRING (BER streaming) is not DER. */
		if ((rc = get_content(&p, eci_end, MBEDTLS_ASN1_OCTET_STRING, &sd->content)) < 0)
			return rc;
		if (p != eci_end)
			return -EINVAL;
	}
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
		if ((rc = get_tag(&p, end, &len, *p)) < 0)
			return rc;
		uint8_t *certs_end = p + len;
		while (p < certs_end) {
			struct cms_bytes cert;
			if (*p != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
				/* other certificate formats (§10.2.2): skipped */
				if ((rc = get_tlv(&p, certs_end, *p, &cert)) < 0)
					return rc;
				continue;
			}
			if (sd->cert_count == CMS_MAX_CERTS)
				return -E2BIG;
			if ((rc = get_tlv(&p, certs_end, *p, &cert)) < 0)
				return rc;
			sd->certs[sd->cert_count++] = cert;
		}
	}
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 1)) {
		struct cms_bytes crls;
		if ((rc = get_tlv(&p, end, *p, &crls)) < 0)
			return rc;
	}
	if ((rc = get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)) < 0)
		return rc;
	if (p + len != end)
		return -EINVAL;
	if (len == 0)
		return -EINVAL; /* no signer */
	if ((rc = signer_info(&p, end, sd)) < 0)
		return rc;
	if (p != end)
		return -ENOTSUP; /* more than one signer */
	return 0;
}

/* Parses into crt the included certificate that the signer identifier
 * names. Returns 0 or -ENOENT. */
static int find_signer(const struct cms_signed_data *sd, mbedtls_x509_crt *crt)
{
	for (int i = 0; i < sd->cert_count; i++) {
		mbedtls_x509_crt_free(crt);
		mbedtls_x509_crt_init(crt);
		if (mbedtls_x509_crt_parse_der(crt, sd->certs[i].p, sd->certs[i].len) != 0)
			continue;
		if (crt->issuer_raw.len == sd->sid_issuer.len &&
		    memcmp(crt->issuer_raw.p, sd->sid_issuer.p, sd->sid_issuer.len) == 0 &&
		    crt->serial.len == sd->sid_serial.len &&
		    memcmp(crt->serial.p, sd->sid_serial.p, sd->sid_serial.len) == 0)
			return 0;
	}
	mbedtls_x509_crt_free(crt);
	mbedtls_x509_crt_init(crt);
	return -ENOENT;
}

int cms_signer_cert(const struct cms_signed_data *sd, struct pki_cert **out)
{
	struct pki_cert *c = pki_cert_new();
	if (!c)
		return -ENOMEM;
	int rc = find_signer(sd, &c->crt);
	if (rc == 0 && pki_cert_finish(c) != 0)
		rc = -ENOENT; /* no certificate kensho can read */
	if (rc < 0) {
		pki_cert_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int digest_of(mbedtls_md_type_t md, const uint8_t *prefix, size_t prefix_len,
                     const uint8_t *data, size_t len, uint8_t *out)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md);
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	int rc = !info || mbedtls_md_setup(&ctx, info, 0) != 0 || mbedtls_md_starts(&ctx) != 0 ||
	         mbedtls_md_update(&ctx, prefix, prefix_len) != 0 ||
	         mbedtls_md_update(&ctx, data, len) != 0 || mbedtls_md_finish(&ctx, out) != 0;
	mbedtls_md_free(&ctx);
	return rc ? -EINVAL : 0;
}

int cms_verify_signature(const struct cms_signed_data *sd, const uint8_t *content,
                         size_t content_len, const struct pki_cert *signer,
                         enum cms_verdict *verdict)
{
	mbedtls_md_type_t md = pki_digest_md(sd->digest);
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md);
	if (!info)
		return -EINVAL;
	size_t digest_len = mbedtls_md_get_size(info);
	uint8_t content_digest[MBEDTLS_MD_MAX_SIZE], signed_digest[MBEDTLS_MD_MAX_SIZE];
	int rc = digest_of(md, NULL, 0, content, content_len, content_digest);
	if (rc < 0)
		return rc;
	if (sd->has_signed_attrs) {
		if (sd->message_digest.len != digest_len ||
		    memcmp(sd->message_digest.p, content_digest, digest_len) != 0) {
			*verdict = CMS_VERDICT_CONTENT_ALTERED;
			return 0;
		}
		/* §5.4: the signature covers the attributes with an explicit SET OF
		 * tag in place of the [0] IMPLICIT one. */
		static const uint8_t set_tag = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET;
		rc = digest_of(md, &set_tag, 1, sd->signed_attrs.p + 1, sd->signed_attrs.len - 1,
		               signed_digest);
		if (rc < 0)
			return rc;
	} else {
		memcpy(signed_digest, content_digest, digest_len);
	}
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&signer->crt.pk;
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA)
		return -ENOTSUP;
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
	if (sd->signature.len != mbedtls_rsa_get_len(rsa)) {
		*verdict = CMS_VERDICT_BAD_SIGNATURE;
		return 0;
	}
	int ok;
	if (sd->sig_alg == CMS_SIG_RSA_PSS)
		ok = mbedtls_rsa_rsassa_pss_verify_ext(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
		                                       (unsigned)digest_len, signed_digest,
		                                       pki_digest_md(sd->pss_mgf1_digest),
		                                       sd->pss_salt_len, sd->signature.p) == 0;
	else
		ok = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
		                                         (unsigned)digest_len, signed_digest,
		                                         sd->signature.p) == 0;
	*verdict = ok ? CMS_VERDICT_VALID : CMS_VERDICT_BAD_SIGNATURE;
	return 0;
}

const char *cms_verdict_name(enum cms_verdict v)
{
	switch (v) {
	case CMS_VERDICT_VALID: return "valid";
	case CMS_VERDICT_CONTENT_ALTERED: return "content_altered";
	case CMS_VERDICT_BAD_SIGNATURE: return "bad_signature";
	case CMS_VERDICT_NO_SIGNER_CERT: return "no_signer_certificate";
	}
	return "unknown";
}
