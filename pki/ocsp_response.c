/* OCSP responses: the delegated responder (loading, signing, pre-signing),
 * the fixed unsigned error responses, and the client's parser and verifier.
 * RFC 6960 §4.2, RFC 5019 (lightweight profile), RFC 9654 (nonce). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/x509_crt.h>

#include "core/log.h"
#include "pki/asn1_time.h"
#include "pki/der.h"
#include "pki/errors.h"
#include "pki/ocsp_codec.h"
#include "pki/hash_internal.h"
#include "pki/ocsp_internal.h"
#include "pki/x509_write.h"

#define ASN1_SEQ         (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define ASN1_EXPLICIT(n) (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | (n))
#define ASN1_IMPLICIT(n) (MBEDTLS_ASN1_CONTEXT_SPECIFIC | (n))

/* id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1 */
#define OID_OCSP_BASIC "\x2b\x06\x01\x05\x05\x07\x30\x01\x01"

#define HASH_COUNT 4 /* enum pki_digest values 0..3 */

struct ocsp_responder {
	struct ocsp_responder_options opts;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_pk_type_t pk_type;
	struct ocsp_issuer_hashes ca_hashes[HASH_COUNT]; /* per CertID hash */
	uint8_t responder_key_sha1[20]; /* byKey: SHA-1 of our own public key */
	bool keyless;                   /* opts.cached_only: answers come signed from elsewhere */
};

/* --- helpers ------------------------------------------------------------------ */

/* ResponderID byKey: the SHA-1 of the subjectPublicKey BIT STRING's value. */
static int key_sha1(const mbedtls_x509_crt *crt, uint8_t out[20])
{
	const uint8_t *bits;
	size_t len;
	int err = x509_spki_key_bits(crt->pk_raw.p, crt->pk_raw.len, &bits, &len);
	return err ? err : pki_errno(mbedtls_sha1_ret(bits, len, out));
}

/* One DRBG per thread: signings run concurrently on libuv's worker pool and
 * a CTR_DRBG context must not be shared without a lock. */
static _Thread_local struct {
	bool ready;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
} thread_rng;

static mbedtls_ctr_drbg_context *rng(void)
{
	if (!thread_rng.ready) {
		mbedtls_entropy_init(&thread_rng.entropy);
		mbedtls_ctr_drbg_init(&thread_rng.drbg);
		if (mbedtls_ctr_drbg_seed(&thread_rng.drbg, mbedtls_entropy_func,
		                          &thread_rng.entropy, (const unsigned char *)"kensho-ocsp",
		                          11))
			return NULL;
		thread_rng.ready = true;
	}
	return &thread_rng.drbg;
}

/* --- responder ------------------------------------------------------------------ */

static int check_key_file(const char *path)
{
	struct stat st;
	if (stat(path, &st)) {
		int err = -errno;
		log_error("ocsp: cannot read responder key %s: %s", path, strerror(errno));
		return err;
	}
	if (st.st_mode & 077) {
		log_error("ocsp: responder key %s is readable by group or others (mode %03o); "
		          "run chmod 600 on it",
		          path, (unsigned)(st.st_mode & 0777));
		return -EACCES;
	}
	return 0;
}

static int load_fail(struct ocsp_responder *r, int err, const char *what, const char *path)
{
	log_error("ocsp: %s (%s)", what, path);
	ocsp_responder_free(r);
	return err;
}

/* Loads and checks the responder's private key into r (load_fail on error). */
static int responder_load_key(struct ocsp_responder *r, const char *key_path)
{
	mbedtls_ctr_drbg_context *drbg = rng();
	if (!drbg || mbedtls_pk_parse_keyfile(&r->key, key_path, NULL))
		return load_fail(r, -EINVAL, "cannot parse the responder key", key_path);
	if (mbedtls_pk_check_pair(&r->cert.pk, &r->key))
		return load_fail(r, -EINVAL, "responder key does not match its certificate",
		                 key_path);
	if (mbedtls_pk_can_do(&r->key, MBEDTLS_PK_RSA))
		r->pk_type = MBEDTLS_PK_RSA;
	else if (mbedtls_pk_can_do(&r->key, MBEDTLS_PK_ECDSA))
		r->pk_type = MBEDTLS_PK_ECDSA;
	else
		return load_fail(r, -EINVAL, "responder key is neither RSA nor ECDSA", key_path);
	if ((r->opts.key_type == OCSP_KEY_RSA && r->pk_type != MBEDTLS_PK_RSA) ||
	    (r->opts.key_type == OCSP_KEY_ECDSA && r->pk_type != MBEDTLS_PK_ECDSA))
		return load_fail(r, -EINVAL,
		                 "responder key type differs from ocsp.key_type; see docs/ocsp.md",
		                 key_path);

	/* One signature now, on one thread: mbedTLS caches the EC generator's
	 * precomputed table in the key's group on first use, which concurrent
	 * first signings on the worker pool would race to fill. */
	uint8_t probe_hash[32] = {0}, probe_sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t probe_len;
	if (mbedtls_pk_sign(&r->key, MBEDTLS_MD_SHA256, probe_hash, sizeof(probe_hash), probe_sig,
	                    &probe_len, mbedtls_ctr_drbg_random, drbg))
		return load_fail(r, -EINVAL, "responder key cannot sign", key_path);

	return 0;
}

int ocsp_responder_load(const char *ca_path, const char *cert_path, const char *key_path,
                        const struct ocsp_responder_options *opts, struct ocsp_responder **out)
{
	int err = opts->cached_only ? 0 : check_key_file(key_path);
	if (err)
		return err;
	struct ocsp_responder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	mbedtls_x509_crt_init(&r->ca);
	mbedtls_x509_crt_init(&r->cert);
	mbedtls_pk_init(&r->key);
	r->opts = *opts;
	if (r->opts.validity_seconds <= 0)
		r->opts.validity_seconds = 3600;
	if (!r->opts.responder_id)
		r->opts.responder_id = OCSP_RESPONDER_BY_KEY;

	if (mbedtls_x509_crt_parse_file(&r->ca, ca_path))
		return load_fail(r, -EINVAL, "cannot parse the CA certificate", ca_path);
	if (mbedtls_x509_crt_parse_file(&r->cert, cert_path))
		return load_fail(r, -EINVAL, "cannot parse the responder certificate", cert_path);
	r->keyless = opts->cached_only;
	uint32_t flags;
	if (mbedtls_x509_crt_verify(&r->cert, &r->ca, NULL, NULL, &flags, NULL, NULL))
		return load_fail(r, -EINVAL, "responder certificate is not valid under the CA",
		                 cert_path);
	/* RFC 6960 §4.2.2.2: a delegated responder carries id-kp-OCSPSigning
	 * (mbedTLS treats a certificate without the extension as "any"). */
	if (!(r->cert.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
	    mbedtls_x509_crt_check_extended_key_usage(&r->cert, MBEDTLS_OID_OCSP_SIGNING,
	                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_OCSP_SIGNING)))
		return load_fail(r, -EINVAL, "responder certificate lacks id-kp-OCSPSigning",
		                 cert_path);
	if (!r->keyless) { /* a replica has none: the primary signed what it serves */
		err = responder_load_key(r, key_path);
		if (err)
			return err;
	}
	if (key_sha1(&r->cert, r->responder_key_sha1))
		return load_fail(r, -EINVAL, "cannot read a public key", cert_path);
	for (int h = 0; h < HASH_COUNT; h++)
		if (ocsp_issuer_hashes_take((enum pki_digest)h, r->ca.raw.p, r->ca.raw.len,
		                            &r->ca_hashes[h]))
			return load_fail(r, -EINVAL, "cannot read a public key", ca_path);
	*out = r;
	return 0;
}

void ocsp_responder_free(struct ocsp_responder *r)
{
	if (!r)
		return;
	mbedtls_x509_crt_free(&r->ca);
	mbedtls_x509_crt_free(&r->cert);
	mbedtls_pk_free(&r->key);
	free(r);
}

bool ocsp_responder_matches(const struct ocsp_responder *r, const struct ocsp_cert_id *id)
{
	if ((unsigned)id->hash >= HASH_COUNT)
		return false;
	const struct ocsp_issuer_hashes *ca = &r->ca_hashes[id->hash];
	return id->hash_len == ca->len && memcmp(ca->name, id->name_hash, ca->len) == 0 &&
	       memcmp(ca->key, id->key_hash, ca->len) == 0;
}

const uint8_t *ocsp_responder_ca_der(const struct ocsp_responder *r, size_t *len)
{
	*len = r->ca.raw.len;
	return r->ca.raw.p;
}

int ocsp_responder_cert_id(const struct ocsp_responder *r, enum pki_digest hash,
                           const uint8_t *serial, size_t serial_len, struct ocsp_cert_id *out)
{
	if ((unsigned)hash >= HASH_COUNT)
		return -EINVAL;
	return ocsp_cert_id_build(&r->ca_hashes[hash], serial, serial_len, out);
}

/* --- signing -------------------------------------------------------------------- */

static void write_single(struct der *d, const struct ocsp_answer *a, int64_t this_update,
                         int64_t next_update)
{
	der_begin(d, DER_SEQUENCE);
	der_raw(d, a->id->der, a->id->der_len); /* echoed exactly, §4.2.2.3 */
	switch (a->status) {
	case OCSP_CERT_GOOD: der_tlv(d, DER_CONTEXT_PRIMITIVE(0), NULL, 0); break;
	case OCSP_CERT_REVOKED:
		der_begin(d, DER_CONTEXT(1));
		der_generalized_time(d, a->revoked_at);
		if (a->reason >= 0) {
			der_begin(d, DER_CONTEXT(0));
			der_enum(d, a->reason);
			der_end(d);
		}
		der_end(d);
		break;
	default: der_tlv(d, DER_CONTEXT_PRIMITIVE(2), NULL, 0); break;
	}
	der_generalized_time(d, this_update);
	der_begin(d, DER_CONTEXT(0));
	der_generalized_time(d, next_update);
	der_end(d);
	der_end(d);
}

static int sign_tbs(struct ocsp_responder *r, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                    size_t *sig_len)
{
	uint8_t hash[32];
	if (r->keyless)
		return -EAGAIN; /* the caller answers tryLater */
	mbedtls_ctr_drbg_context *drbg = rng();
	if (!drbg)
		return -EIO;
	int ret = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), tbs, tbs_len, hash);
	if (!ret)
		ret = mbedtls_pk_sign(&r->key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, sig_len,
		                      mbedtls_ctr_drbg_random, drbg);
	return pki_errno(ret);
}

int ocsp_response_sign(struct ocsp_responder *r, const struct ocsp_answer *answers, size_t count,
                       const uint8_t *nonce, size_t nonce_len, int64_t now, struct ocsp_signed *out)
{
	if (count == 0 || count > OCSP_MAX_CERT_IDS || nonce_len > OCSP_NONCE_MAX + 4)
		return -EINVAL;
	if (r->keyless)
		return -EAGAIN; /* nothing to sign with: the caller answers tryLater */
	int64_t next_update = now + r->opts.validity_seconds;

	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE); /* ResponseData; version v1 is the default */
	if (r->opts.responder_id == OCSP_RESPONDER_BY_NAME) {
		der_begin(&d, DER_CONTEXT(1));
		der_raw(&d, r->cert.subject_raw.p, r->cert.subject_raw.len);
	} else {
		der_begin(&d, DER_CONTEXT(2));
		der_tlv(&d, DER_OCTET_STRING, r->responder_key_sha1, 20);
	}
	der_end(&d);
	der_generalized_time(&d, now);
	der_begin(&d, DER_SEQUENCE);
	for (size_t i = 0; i < count; i++)
		write_single(&d, &answers[i], now, next_update);
	der_end(&d);
	if (nonce_len) {
		der_begin(&d, DER_CONTEXT(1));
		der_begin(&d, DER_SEQUENCE);
		der_begin(&d, DER_SEQUENCE);
		der_tlv(&d, DER_OID, OCSP_OID_NONCE, sizeof(OCSP_OID_NONCE) - 1);
		der_tlv(&d, DER_OCTET_STRING, nonce, nonce_len);
		der_end(&d);
		der_end(&d);
		der_end(&d);
	}
	der_end(&d);
	uint8_t *tbs;
	size_t tbs_len;
	int err = der_finish(&d, &tbs, &tbs_len);
	if (err)
		return err;

	uint8_t sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t sig_len = 0;
	err = sign_tbs(r, tbs, tbs_len, sig, &sig_len);
	if (err) {
		free(tbs);
		return err;
	}

	der_init(&d);
	der_begin(&d, DER_SEQUENCE); /* OCSPResponse */
	der_enum(&d, OCSP_STATUS_SUCCESSFUL);
	der_begin(&d, DER_CONTEXT(0));
	der_begin(&d, DER_SEQUENCE); /* ResponseBytes */
	der_tlv(&d, DER_OID, OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC) - 1);
	der_begin(&d, DER_OCTET_STRING);
	der_begin(&d, DER_SEQUENCE); /* BasicOCSPResponse */
	der_raw(&d, tbs, tbs_len);
	der_begin(&d, DER_SEQUENCE);
	if (r->pk_type == MBEDTLS_PK_RSA) {
		der_oid(&d, "1.2.840.113549.1.1.11"); /* sha256WithRSAEncryption */
		der_null(&d);
	} else {
		der_oid(&d, "1.2.840.10045.4.3.2"); /* ecdsa-with-SHA256, no parameters */
	}
	der_end(&d);
	der_bit_string(&d, sig, sig_len, 0);
	der_begin(&d, DER_CONTEXT(0));
	der_begin(&d, DER_SEQUENCE);
	der_raw(&d, r->cert.raw.p, r->cert.raw.len);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	free(tbs);
	err = der_finish(&d, &out->der, &out->len);
	if (err)
		return err;
	out->this_update = now;
	out->next_update = next_update;
	return 0;
}

const uint8_t *ocsp_status_response(enum ocsp_response_status status, size_t *len)
{
	/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } with no
	 * responseBytes (§4.2.1: only successful responses carry them). */
	static const uint8_t bytes[7][5] = {
	        {0x30, 0x03, 0x0a, 0x01, 0x00}, {0x30, 0x03, 0x0a, 0x01, 0x01},
	        {0x30, 0x03, 0x0a, 0x01, 0x02}, {0x30, 0x03, 0x0a, 0x01, 0x03},
	        {0x30, 0x03, 0x0a, 0x01, 0x04}, {0x30, 0x03, 0x0a, 0x01, 0x05},
	        {0x30, 0x03, 0x0a, 0x01, 0x06},
	};
	if ((unsigned)status > 6)
		status = OCSP_STATUS_INTERNAL_ERROR;
	*len = 5;
	return bytes[status];
}

/* --- parsing -------------------------------------------------------------------- */

static int get(unsigned char **p, const unsigned char *end, size_t *len, int tag)
{
	return der_read_header(p, end, len, tag) ? -EINVAL : 0;
}

/* OCSP's times are GeneralizedTime only (RFC 6960 §4.2.1). */
static int get_time(unsigned char **p, const unsigned char *end, int64_t *out)
{
	if (*p >= end || **p != DER_GENERALIZED_TIME)
		return -EINVAL;
	return pki_asn1_time_read(p, end, out);
}

static int parse_single(unsigned char **p, const unsigned char *end, struct ocsp_single *s)
{
	size_t len;
	if (get(p, end, &len, ASN1_SEQ))
		return -EINVAL;
	const unsigned char *s_end = *p + len;
	if (ocsp_cert_id_decode(p, s_end, &s->id) || *p >= s_end)
		return -EINVAL;
	s->reason = -1;
	s->revoked_at = 0;
	s->next_update = 0;
	if (**p == ASN1_IMPLICIT(0) || **p == ASN1_IMPLICIT(2)) {
		s->status = **p == ASN1_IMPLICIT(0) ? OCSP_CERT_GOOD : OCSP_CERT_UNKNOWN;
		if (get(p, s_end, &len, **p) || len != 0)
			return -EINVAL;
	} else if (**p == ASN1_EXPLICIT(1)) {
		s->status = OCSP_CERT_REVOKED;
		if (get(p, s_end, &len, ASN1_EXPLICIT(1)))
			return -EINVAL;
		const unsigned char *r_end = *p + len;
		if (get_time(p, r_end, &s->revoked_at))
			return -EINVAL;
		if (*p < r_end) {
			if (get(p, r_end, &len, ASN1_EXPLICIT(0)) ||
			    mbedtls_asn1_get_enum(p, r_end, &s->reason) || *p != r_end)
				return -EINVAL;
		}
	} else {
		return -EINVAL;
	}
	if (get_time(p, s_end, &s->this_update))
		return -EINVAL;
	if (*p < s_end && **p == ASN1_EXPLICIT(0)) {
		if (get(p, s_end, &len, ASN1_EXPLICIT(0)) || get_time(p, *p + len, &s->next_update))
			return -EINVAL;
	}
	if (*p < s_end && **p == ASN1_EXPLICIT(1)) { /* singleExtensions: ignored */
		if (get(p, s_end, &len, ASN1_EXPLICIT(1)))
			return -EINVAL;
		*p += len;
	}
	return *p == s_end ? 0 : -EINVAL;
}

/* Walks OCSPResponse → BasicOCSPResponse, leaving *p at tbsResponseData's
 * content. Returns 1 for a non-successful status (no body). */
static int open_basic(const uint8_t *der, size_t len, struct ocsp_response_info *info,
                      unsigned char **p, const unsigned char **basic_end)
{
	*p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t n;
	/* responseStatus: an ENUMERATED of 0..6 but 4, in DER one content octet */
	if (get(p, end, &n, ASN1_SEQ) || *p + n != end || end - *p < 3 ||
	    (*p)[0] != MBEDTLS_ASN1_ENUMERATED || (*p)[1] != 1 || (*p)[2] > 6 || (*p)[2] == 4)
		return -EINVAL;
	int status = (*p)[2];
	*p += 3;
	info->status = status;
	if (status != OCSP_STATUS_SUCCESSFUL)
		return *p == end ? 1 : -EINVAL;
	if (get(p, end, &n, ASN1_EXPLICIT(0)) || get(p, end, &n, ASN1_SEQ) ||
	    get(p, end, &n, MBEDTLS_ASN1_OID))
		return -EINVAL;
	mbedtls_asn1_buf oid = {.tag = MBEDTLS_ASN1_OID, .len = n, .p = *p};
	if (MBEDTLS_OID_CMP(OID_OCSP_BASIC, &oid))
		return -EINVAL;
	*p += n;
	if (get(p, end, &n, MBEDTLS_ASN1_OCTET_STRING) || *p + n != end ||
	    get(p, end, &n, ASN1_SEQ) || *p + n != end)
		return -EINVAL;
	*basic_end = end;
	return 0;
}

int ocsp_response_parse(const uint8_t *der, size_t len, struct ocsp_response_info *info)
{
	memset(info, 0, offsetof(struct ocsp_response_info, singles));
	info->has_nonce = false;
	info->nonce_len = 0;
	info->signer_cert = NULL;
	info->signer_cert_len = 0;
	unsigned char *p;
	const unsigned char *end;
	int err = open_basic(der, len, info, &p, &end);
	if (err)
		return err < 0 ? err : 0;

	size_t n;
	info->tbs = p;
	if (get(&p, end, &n, ASN1_SEQ))
		return -EINVAL;
	const unsigned char *tbs_end = p + n;
	info->tbs_len = (size_t)(tbs_end - info->tbs);
	if (p < tbs_end && *p == ASN1_EXPLICIT(0)) {
		int version;
		if (get(&p, tbs_end, &n, ASN1_EXPLICIT(0)) ||
		    mbedtls_asn1_get_int(&p, p + n, &version) || version != 0)
			return -EINVAL;
	}
	if (p < tbs_end && *p == ASN1_EXPLICIT(1)) {
		info->responder_id = OCSP_RESPONDER_BY_NAME;
		if (get(&p, tbs_end, &n, ASN1_EXPLICIT(1)))
			return -EINVAL;
		info->responder = p;
		info->responder_len = n;
		p += n;
	} else if (p < tbs_end && *p == ASN1_EXPLICIT(2)) {
		info->responder_id = OCSP_RESPONDER_BY_KEY;
		if (get(&p, tbs_end, &n, ASN1_EXPLICIT(2)) ||
		    get(&p, tbs_end, &n, MBEDTLS_ASN1_OCTET_STRING))
			return -EINVAL;
		info->responder = p;
		info->responder_len = n;
		p += n;
	} else {
		return -EINVAL;
	}
	if (get_time(&p, tbs_end, &info->produced_at) || get(&p, tbs_end, &n, ASN1_SEQ))
		return -EINVAL;
	const unsigned char *list_end = p + n;
	while (p < list_end) {
		if (info->count == OCSP_MAX_CERT_IDS)
			return -E2BIG;
		if (parse_single(&p, list_end, &info->singles[info->count]))
			return -EINVAL;
		info->count++;
	}
	if (p < tbs_end) {
		if (get(&p, tbs_end, &n, ASN1_EXPLICIT(1)) || p + n != tbs_end)
			return -EINVAL;
		err = ocsp_extensions_decode(&p, tbs_end, &info->has_nonce, info->nonce,
		                             &info->nonce_len);
		if (err)
			return err;
	}
	if (p != tbs_end)
		return -EINVAL;

	mbedtls_asn1_buf alg, params;
	mbedtls_md_type_t md;
	mbedtls_pk_type_t pk;
	if (mbedtls_asn1_get_alg(&p, end, &alg, &params) || mbedtls_oid_get_sig_alg(&alg, &md, &pk))
		return -EINVAL;
	info->sig_md = md;
	info->sig_pk = pk;
	/* mbedtls_asn1_get_bitstring insists the BIT STRING ends at `end`. */
	if (get(&p, end, &n, MBEDTLS_ASN1_BIT_STRING) || n < 1 || *p != 0)
		return -EINVAL;
	info->signature = p + 1;
	info->signature_len = n - 1;
	p += n;
	if (p < end) {
		if (get(&p, end, &n, ASN1_EXPLICIT(0)) || p + n != end ||
		    get(&p, end, &n, ASN1_SEQ) || p + n != end)
			return -EINVAL;
		if (p < end) {
			unsigned char *cert = p;
			if (get(&p, end, &n, ASN1_SEQ))
				return -EINVAL;
			info->signer_cert = cert;
			info->signer_cert_len = (size_t)(p + n - cert);
		}
	} else if (p != end) {
		return -EINVAL;
	}
	return 0;
}

bool ocsp_response_answers(const uint8_t *der, size_t len, const struct ocsp_cert_id *id)
{
	struct ocsp_response_info info;
	unsigned char *p;
	const unsigned char *end;
	size_t n;
	if (open_basic(der, len, &info, &p, &end) || get(&p, end, &n, ASN1_SEQ))
		return false;
	const unsigned char *tbs_end = p + n;
	/* skip version and responderID, producedAt, then open responses */
	while (p < tbs_end &&
	       (*p == ASN1_EXPLICIT(0) || *p == ASN1_EXPLICIT(1) || *p == ASN1_EXPLICIT(2))) {
		if (get(&p, tbs_end, &n, *p))
			return false;
		p += n;
	}
	if (get(&p, tbs_end, &n, MBEDTLS_ASN1_GENERALIZED_TIME))
		return false;
	p += n;
	if (get(&p, tbs_end, &n, ASN1_SEQ))
		return false;
	/* a batch answer names its certificates in any order: one of them must
	 * be exactly this CertID (the first, when there is only one) */
	const unsigned char *responses_end = p + n;
	while (p < responses_end) {
		if (get(&p, responses_end, &n, ASN1_SEQ))
			return false;
		if (n >= id->der_len && memcmp(p, id->der, id->der_len) == 0)
			return true;
		p += n;
	}
	return false;
}

/* --- verification ------------------------------------------------------------------ */

static bool responder_id_names(const struct ocsp_response_info *info, const mbedtls_x509_crt *crt)
{
	if (info->responder_id == OCSP_RESPONDER_BY_NAME)
		return info->responder_len == crt->subject_raw.len &&
		       memcmp(info->responder, crt->subject_raw.p, crt->subject_raw.len) == 0;
	uint8_t hash[20];
	return info->responder_len == 20 && key_sha1(crt, hash) == 0 &&
	       memcmp(hash, info->responder, 20) == 0;
}

struct ocsp_verifier {
	mbedtls_x509_crt ca;
	mbedtls_x509_crt *signer; /* the last delegated responder that verified, or NULL */
};

static void signer_free(mbedtls_x509_crt *signer)
{
	if (signer)
		mbedtls_x509_crt_free(signer);
	free(signer);
}

int ocsp_verifier_new(const uint8_t *ca_der, size_t ca_len, struct ocsp_verifier **out)
{
	struct ocsp_verifier *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	mbedtls_x509_crt_init(&v->ca);
	if (mbedtls_x509_crt_parse_der(&v->ca, ca_der, ca_len)) {
		ocsp_verifier_free(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

void ocsp_verifier_free(struct ocsp_verifier *v)
{
	if (!v)
		return;
	mbedtls_x509_crt_free(&v->ca);
	signer_free(v->signer);
	free(v);
}

/* A delegated responder's certificate: issued by the CA for OCSP signing.
 * The one verified last is kept (its parse holds its own copy of the DER,
 * to know it again by). */
static const mbedtls_x509_crt *delegated_signer(struct ocsp_verifier *v,
                                                const struct ocsp_response_info *info)
{
	if (!info->signer_cert)
		return NULL;
	mbedtls_x509_crt *known = v->signer;
	if (known && known->raw.len == info->signer_cert_len &&
	    memcmp(known->raw.p, info->signer_cert, known->raw.len) == 0)
		return responder_id_names(info, known) ? known : NULL;
	mbedtls_x509_crt *signer = malloc(sizeof(*signer));
	if (!signer)
		return NULL;
	mbedtls_x509_crt_init(signer);
	uint32_t flags;
	if (mbedtls_x509_crt_parse_der(signer, info->signer_cert, info->signer_cert_len) ||
	    !responder_id_names(info, signer) ||
	    mbedtls_x509_crt_verify(signer, &v->ca, NULL, NULL, &flags, NULL, NULL) ||
	    !(signer->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
	    mbedtls_x509_crt_check_extended_key_usage(signer, MBEDTLS_OID_OCSP_SIGNING,
	                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_OCSP_SIGNING))) {
		signer_free(signer);
		return NULL;
	}
	signer_free(v->signer);
	v->signer = signer;
	return signer;
}

int ocsp_verifier_check(struct ocsp_verifier *v, const struct ocsp_response_info *info)
{
	if (info->status != OCSP_STATUS_SUCCESSFUL || !info->tbs)
		return -EINVAL;
	const mbedtls_x509_crt *key_holder =
	        responder_id_names(info, &v->ca) ? &v->ca : delegated_signer(v, info);
	if (!key_holder)
		return -EKEYREJECTED;
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(info->sig_md);
	uint8_t hash[MBEDTLS_MD_MAX_SIZE];
	if (!md || !mbedtls_pk_can_do(&key_holder->pk, info->sig_pk) ||
	    mbedtls_md(md, info->tbs, info->tbs_len, hash))
		return -EKEYREJECTED;
	if (mbedtls_pk_verify((mbedtls_pk_context *)&key_holder->pk, info->sig_md, hash,
	                      mbedtls_md_get_size(md), info->signature, info->signature_len))
		return -EKEYREJECTED;
	return 0;
}

int ocsp_response_verify(const struct ocsp_response_info *info, const uint8_t *ca_der,
                         size_t ca_len)
{
	if (info->status != OCSP_STATUS_SUCCESSFUL || !info->tbs)
		return -EINVAL;
	struct ocsp_verifier *v;
	int err = ocsp_verifier_new(ca_der, ca_len, &v);
	if (err)
		return err;
	err = ocsp_verifier_check(v, info);
	ocsp_verifier_free(v);
	return err;
}

/* --- checking an answer ------------------------------------------------------------- */

int ocsp_response_single(const struct ocsp_response_info *info, const struct ocsp_cert_id *id,
                         int64_t now, int64_t skew, const struct ocsp_single **out)
{
	for (size_t i = 0; i < info->count; i++) {
		const struct ocsp_single *s = &info->singles[i];
		if (s->id.der_len != id->der_len || memcmp(s->id.der, id->der, id->der_len))
			continue;
		if (s->this_update > now + skew || (s->next_update && s->next_update < now - skew))
			return -ESTALE;
		*out = s;
		return 0;
	}
	return -ENOENT;
}

bool ocsp_response_nonce_matches(const struct ocsp_response_info *info, const uint8_t *nonce,
                                 size_t nonce_len)
{
	/* ocsp_request_encode wraps the nonce in an OCTET STRING (RFC 8954). */
	uint8_t head[4];
	size_t head_len = der_header_write(head, DER_OCTET_STRING, nonce_len);
	return info->has_nonce && info->nonce_len == head_len + nonce_len &&
	       memcmp(info->nonce, head, head_len) == 0 &&
	       memcmp(info->nonce + head_len, nonce, nonce_len) == 0;
}
