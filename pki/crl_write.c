/* Streaming CRL encoder: see crl_write.h for the two-pass design. */
#include "pki/crl_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "pki/der.h"
#include "pki/errors.h"

#define OID_SHA256_WITH_RSA "1.2.840.113549.1.1.11"
#define OID_SUBJECT_KEY_ID  "2.5.29.14"
#define OID_CRL_NUMBER      "2.5.29.20"
#define OID_REASON_CODE     "2.5.29.21"
#define OID_INVALIDITY_DATE "2.5.29.24"
#define OID_DELTA_CRL       "2.5.29.27"
#define OID_ISSUING_DP      "2.5.29.28"
#define OID_AUTHORITY_KEY   "2.5.29.35"
#define OID_FRESHEST_CRL    "2.5.29.46"

/* A serial number is at most 20 octets (§4.1.2.2); allow some slack for
 * non-conforming certificates from imported feeds, but keep entries small. */
#define CRL_SERIAL_MAX 126

/* One pass over the source: in the measuring pass only lengths are summed;
 * in the writing pass each entry is also hashed and written. */
struct pass {
	struct der entry; /* scratch writer, reset for every entry */
	bool writing;
	uint64_t count;
	uint64_t bytes;
	FILE *out;
	mbedtls_sha256_context *sha;
};

/* Encodes one revokedCertificates element (§5.1.2.6) into p->entry. */
static int encode_entry(struct der *d, const struct crl_entry *e)
{
	if (!e->serial || e->serial_len == 0 || e->serial_len > CRL_SERIAL_MAX)
		return -EINVAL;
	buf_reset(&d->out);
	der_begin(d, DER_SEQUENCE);
	der_tlv(d, DER_INTEGER, e->serial, e->serial_len);
	der_time(d, e->revoked_at);
	/* §5.3.1: "the reason code CRL entry extension SHOULD be absent instead
	 * of using the unspecified (0) reasonCode value". */
	bool has_reason = e->reason > 0 && e->reason <= 10 && e->reason != 7;
	if (has_reason || e->invalidity_date) {
		der_begin(d, DER_SEQUENCE);
		if (has_reason) {
			der_begin(d, DER_SEQUENCE);
			der_oid(d, OID_REASON_CODE);
			der_begin(d, DER_OCTET_STRING);
			der_enum(d, e->reason);
			der_end(d);
			der_end(d);
		}
		if (e->invalidity_date) {
			/* §5.3.2: always GeneralizedTime. */
			der_begin(d, DER_SEQUENCE);
			der_oid(d, OID_INVALIDITY_DATE);
			der_begin(d, DER_OCTET_STRING);
			der_generalized_time(d, e->invalidity_date);
			der_end(d);
			der_end(d);
		}
		der_end(d);
	}
	der_end(d);
	return d->error;
}

static int emit_cb(void *arg, const struct crl_entry *e)
{
	struct pass *p = arg;
	int err = encode_entry(&p->entry, e);
	if (err)
		return err;
	p->count++;
	p->bytes += p->entry.out.len;
	if (p->writing) {
		mbedtls_sha256_update_ret(p->sha, p->entry.out.data, p->entry.out.len);
		if (fwrite(p->entry.out.data, 1, p->entry.out.len, p->out) != p->entry.out.len)
			return -EIO;
	}
	return 0;
}

/* version, signature, issuer, thisUpdate, nextUpdate (§5.1.2.1-5). */
static void encode_head(struct der *d, const struct crl_spec *spec)
{
	der_int(d, 1); /* v2: required once extensions are present */
	der_begin(d, DER_SEQUENCE);
	der_oid(d, OID_SHA256_WITH_RSA);
	der_null(d);
	der_end(d);
	der_raw(d, spec->issuer_name, spec->issuer_name_len);
	der_time(d, spec->this_update);
	der_time(d, spec->next_update);
}

static void begin_extension(struct der *d, const char *oid, bool critical)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, oid);
	if (critical)
		der_bool(d, true);
	der_begin(d, DER_OCTET_STRING);
}

static void end_extension(struct der *d)
{
	der_end(d);
	der_end(d);
}

/* DistributionPointName with one URI: fullName [0] GeneralNames holding a
 * uniformResourceIdentifier [6]. The CHOICE makes the outer tag explicit. */
static void encode_dp_name(struct der *d, uint8_t tag, const char *uri)
{
	der_begin(d, tag);
	der_begin(d, DER_CONTEXT(0));
	der_tlv(d, DER_CONTEXT_PRIMITIVE(6), uri, strlen(uri));
	der_end(d);
	der_end(d);
}

/* crlExtensions [0] (§5.2). */
static void encode_extensions(struct der *d, const struct crl_spec *spec)
{
	der_begin(d, DER_CONTEXT(0));
	der_begin(d, DER_SEQUENCE);

	/* §5.2.1: conforming CRL issuers MUST include authorityKeyIdentifier. */
	begin_extension(d, OID_AUTHORITY_KEY, false);
	der_begin(d, DER_SEQUENCE);
	der_tlv(d, DER_CONTEXT_PRIMITIVE(0), spec->authority_key_id, spec->authority_key_id_len);
	der_end(d);
	end_extension(d);

	/* §5.2.3: cRLNumber, one sequence shared by full and delta CRLs. */
	begin_extension(d, OID_CRL_NUMBER, false);
	der_int(d, (int64_t)spec->number);
	end_extension(d);

	/* §5.2.4: a delta names its base, and the extension is critical so a
	 * relying party that does not understand deltas does not take it for
	 * a complete list. */
	if (spec->delta) {
		begin_extension(d, OID_DELTA_CRL, true);
		der_int(d, (int64_t)spec->base_number);
		end_extension(d);
	}

	/* §5.2.5: issuingDistributionPoint is critical. The delta carries the
	 * same one as its base (§5.2.4, §6.3.3 (b)(2)(iii)). */
	if (spec->distribution_point_dn) {
		/* fullName with the directoryName [4] first, then the URI. */
		begin_extension(d, OID_ISSUING_DP, true);
		der_begin(d, DER_SEQUENCE);
		der_begin(d, DER_CONTEXT(0));
		der_begin(d, DER_CONTEXT(0));
		der_begin(d, DER_CONTEXT(4));
		der_raw(d, spec->distribution_point_dn, spec->distribution_point_dn_len);
		der_end(d);
		if (spec->distribution_point)
			der_tlv(d, DER_CONTEXT_PRIMITIVE(6), spec->distribution_point,
			        strlen(spec->distribution_point));
		der_end(d);
		der_end(d);
		if (spec->only_user_certs)
			der_tlv(d, DER_CONTEXT_PRIMITIVE(1), "\xff", 1);
		der_end(d);
		end_extension(d);
	} else if (spec->distribution_point) {
		begin_extension(d, OID_ISSUING_DP, true);
		der_begin(d, DER_SEQUENCE);
		encode_dp_name(d, DER_CONTEXT(0), spec->distribution_point);
		if (spec->only_user_certs)
			der_tlv(d, DER_CONTEXT_PRIMITIVE(1), "\xff", 1);
		der_end(d);
		end_extension(d);
	}

	/* §5.2.6: where the deltas for this full CRL are. */
	if (!spec->delta && spec->freshest_crl) {
		begin_extension(d, OID_FRESHEST_CRL, false);
		der_begin(d, DER_SEQUENCE);
		der_begin(d, DER_SEQUENCE);
		encode_dp_name(d, DER_CONTEXT(0), spec->freshest_crl);
		der_end(d);
		der_end(d);
		end_extension(d);
	}

	der_end(d);
	der_end(d);
}

static int write_all(FILE *out, const void *data, size_t len, mbedtls_sha256_context *sha)
{
	if (sha)
		mbedtls_sha256_update_ret(sha, data, len);
	return fwrite(data, 1, len, out) == len ? 0 : -EIO;
}

static int write_header(FILE *out, uint8_t tag, size_t len, mbedtls_sha256_context *sha)
{
	uint8_t header[16];
	size_t n = der_header_write(header, tag, len);
	return write_all(out, header, n, sha);
}

static int sign_hash(struct mbedtls_pk_context *key, const uint8_t hash[32], uint8_t *sig,
                     size_t *sig_len)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	static const char personal[] = "kensho crl";
	int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	                                (const unsigned char *)personal, sizeof personal - 1);
	if (ret == 0)
		ret = mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len,
		                      mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return pki_errno(ret);
}

/* Runs one pass of the source. */
static int run_pass(const struct crl_spec *spec, struct pass *p)
{
	int err = spec->source(spec->source_arg, emit_cb, p);
	if (err > 0)
		err = -EINVAL;
	return err;
}

int crl_write(const struct crl_spec *spec, struct mbedtls_pk_context *key, FILE *out,
              struct crl_result *result)
{
	if (!spec || !key || !out || !spec->source || !spec->issuer_name ||
	    !spec->authority_key_id || spec->authority_key_id_len == 0 ||
	    spec->number > INT64_MAX || spec->base_number > INT64_MAX ||
	    !mbedtls_pk_can_do(key, MBEDTLS_PK_RSA))
		return -EINVAL;

	struct der head, tail, alg;
	der_init(&head);
	der_init(&tail);
	der_init(&alg);
	struct pass p = {.out = out};
	der_init(&p.entry);
	mbedtls_sha256_context sha;
	mbedtls_sha256_init(&sha);
	uint8_t *sig = NULL;

	encode_head(&head, spec);
	encode_extensions(&tail, spec);
	der_begin(&alg, DER_SEQUENCE);
	der_oid(&alg, OID_SHA256_WITH_RSA);
	der_null(&alg);
	der_end(&alg);
	int err = head.error ? head.error : tail.error ? tail.error : alg.error;
	if (err)
		goto done;

	/* Pass 1: measure. */
	err = run_pass(spec, &p);
	if (err)
		goto done;
	uint64_t count = p.count, list_len = p.bytes;
	if (list_len > SIZE_MAX / 2) {
		err = -EINVAL;
		goto done;
	}

	size_t list_total = count ? der_header_len(list_len) + list_len : 0;
	size_t tbs_len = head.out.len + list_total + tail.out.len;
	size_t tbs_total = der_header_len(tbs_len) + tbs_len;
	size_t sig_max = mbedtls_pk_get_len(key);
	size_t sig_total = der_header_len(sig_max + 1) + sig_max + 1;
	size_t outer_len = tbs_total + alg.out.len + sig_total;

	/* Pass 2: write tbsCertList while hashing it. */
	mbedtls_sha256_starts_ret(&sha, 0);
	if ((err = write_header(out, DER_SEQUENCE, outer_len, NULL)) ||
	    (err = write_header(out, DER_SEQUENCE, tbs_len, &sha)) ||
	    (err = write_all(out, head.out.data, head.out.len, &sha)))
		goto done;
	if (count && (err = write_header(out, DER_SEQUENCE, list_len, &sha)))
		goto done;
	p.writing = true;
	p.sha = &sha;
	p.count = 0;
	p.bytes = 0;
	err = run_pass(spec, &p);
	if (err)
		goto done;
	if (p.count != count || p.bytes != list_len) {
		/* The source is not stable: the lengths already written are wrong. */
		err = -EIO;
		goto done;
	}
	if ((err = write_all(out, tail.out.data, tail.out.len, &sha)))
		goto done;

	uint8_t hash[32];
	mbedtls_sha256_finish_ret(&sha, hash);
	sig = malloc(sig_max > MBEDTLS_PK_SIGNATURE_MAX_SIZE ? sig_max
	                                                     : MBEDTLS_PK_SIGNATURE_MAX_SIZE);
	if (!sig) {
		err = -ENOMEM;
		goto done;
	}
	size_t sig_len = 0;
	if ((err = sign_hash(key, hash, sig, &sig_len)))
		goto done;
	if (sig_len != sig_max) {
		err = -EINVAL;
		goto done;
	}
	uint8_t unused_bits = 0;
	if ((err = write_all(out, alg.out.data, alg.out.len, NULL)) ||
	    (err = write_header(out, DER_BIT_STRING, sig_len + 1, NULL)) ||
	    (err = write_all(out, &unused_bits, 1, NULL)) ||
	    (err = write_all(out, sig, sig_len, NULL)))
		goto done;
	if (fflush(out) != 0 || ferror(out)) {
		err = -EIO;
		goto done;
	}
	if (result) {
		result->entries = count;
		result->bytes = der_header_len(outer_len) + outer_len;
	}
done:
	free(sig);
	mbedtls_sha256_free(&sha);
	der_free(&p.entry);
	der_free(&alg);
	der_free(&tail);
	der_free(&head);
	return err;
}

/* Finds the subjectKeyIdentifier in a certificate's extensions. */
static int find_subject_key_id(const mbedtls_x509_crt *crt, uint8_t key_id[64], size_t *key_id_len)
{
	if (!crt->v3_ext.p || crt->v3_ext.len == 0)
		return -ENOENT;
	unsigned char *p = crt->v3_ext.p;
	const unsigned char *end = p + crt->v3_ext.len;
	uint8_t oid[8];
	int oid_len = der_oid_encode(OID_SUBJECT_KEY_ID, oid, sizeof oid);
	size_t len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -EINVAL;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		                         MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
			return -EINVAL;
		const unsigned char *ext_end = p + len;
		size_t id_len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &id_len, MBEDTLS_ASN1_OID))
			return -EINVAL;
		bool match = (int)id_len == oid_len && memcmp(p, oid, id_len) == 0;
		p += id_len;
		if (!match) {
			p = (unsigned char *)ext_end;
			continue;
		}
		int critical = 0;
		mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
		size_t outer;
		if (mbedtls_asn1_get_tag(&p, ext_end, &outer, MBEDTLS_ASN1_OCTET_STRING) ||
		    mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) ||
		    len == 0 || len > 64)
			return -EINVAL;
		memcpy(key_id, p, len);
		*key_id_len = len;
		return 0;
	}
	return -ENOENT;
}

/* §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
static int hash_public_key(const mbedtls_x509_crt *crt, uint8_t key_id[64], size_t *key_id_len)
{
	unsigned char *p = crt->pk_raw.p;
	const unsigned char *end = p + crt->pk_raw.len;
	size_t len;
	mbedtls_asn1_bitstring bits;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
	    mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -EINVAL;
	p += len;
	if (mbedtls_asn1_get_bitstring(&p, end, &bits))
		return -EINVAL;
	if (mbedtls_sha1_ret(bits.p, bits.len, key_id))
		return -EINVAL;
	*key_id_len = 20;
	return 0;
}

int crl_issuer_from_cert(const uint8_t *cert_der, size_t cert_len, const uint8_t **name,
                         size_t *name_len, uint8_t key_id[64], size_t *key_id_len)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	int err = pki_errno(mbedtls_x509_crt_parse_der(&crt, cert_der, cert_len));
	if (err)
		goto done;
	/* subject_raw points into the parser's copy; translate to cert_der. */
	*name = cert_der + (crt.subject_raw.p - crt.raw.p);
	*name_len = crt.subject_raw.len;
	err = find_subject_key_id(&crt, key_id, key_id_len);
	if (err == -ENOENT)
		err = hash_public_key(&crt, key_id, key_id_len);
done:
	mbedtls_x509_crt_free(&crt);
	return err;
}
