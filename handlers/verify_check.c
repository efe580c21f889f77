/* The checks /v1/verify and /v1/intake share: see verify.h. */
#include "handlers/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "core/encoding.h"
#include "core/json.h"
#include "core/log.h"
#include "pki/cms.h"
#include "pki/dn_text.h"

#define VERIFY_MAX_CAS 8

struct cached_ca {
	uint32_t id;
	enum cert_kind kind;
	char label[16];
	mbedtls_x509_crt crt;
};

struct verify_ca_cache {
	struct cached_ca cas[VERIFY_MAX_CAS];
	int count;
	unsigned loads; /* fills from the store */
	struct verify_key_limits limits;
};

struct verify_ca_cache *verify_ca_cache_new(const struct verify_key_limits *limits)
{
	struct verify_ca_cache *c = calloc(1, sizeof(struct verify_ca_cache));
	if (!c)
		return NULL;
	c->limits.max_rsa_bits = VERIFY_DEFAULT_MAX_RSA_BITS;
	c->limits.max_rsa_exponent = VERIFY_DEFAULT_MAX_RSA_EXPONENT;
	if (limits)
		c->limits = *limits;
	return c;
}

static void cache_clear(struct verify_ca_cache *c)
{
	for (int i = 0; i < c->count; i++)
		mbedtls_x509_crt_free(&c->cas[i].crt);
	c->count = 0;
}

unsigned verify_ca_cache_loads(const struct verify_ca_cache *c)
{
	return c->loads;
}

void verify_ca_cache_free(struct verify_ca_cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c);
}

struct fill_ctx {
	struct verify_ca_cache *cache;
	struct store_txn *txn;
};

static int fill_one(const struct store_issuer *issuer, void *arg)
{
	struct fill_ctx *f = arg;
	struct verify_ca_cache *c = f->cache;
	if (c->count == VERIFY_MAX_CAS)
		return 1;
	struct store_blob der;
	if (store_issuer_cert(f->txn, issuer->id, &der) != 0)
		return 0;
	struct cached_ca *ca = &c->cas[c->count];
	mbedtls_x509_crt_init(&ca->crt);
	if (mbedtls_x509_crt_parse_der(&ca->crt, der.data, der.len) != 0) {
		mbedtls_x509_crt_free(&ca->crt);
		log_warn("verify: issuer %s has an unreadable CA certificate", issuer->label);
		return 0;
	}
	ca->id = issuer->id;
	ca->kind = issuer->kind;
	memcpy(ca->label, issuer->label, sizeof ca->label);
	ca->label[sizeof ca->label - 1] = 0;
	c->count++;
	return 0;
}

struct current_ctx {
	const struct verify_ca_cache *cache;
	int seen;
	bool changed;
};

static int compare_one(const struct store_issuer *issuer, void *arg)
{
	struct current_ctx *k = arg;
	bool cached = false;
	for (int i = 0; i < k->cache->count && !cached; i++)
		cached = k->cache->cas[i].id == issuer->id;
	k->seen++;
	k->changed |= !cached;
	return k->changed;
}

/* True when the cache holds every issuer the store has: read by id, with no
 * certificate parsed. */
static bool cache_is_current(const struct verify_ca_cache *c, struct store_txn *txn)
{
	struct current_ctx k = {c, 0, false};
	if (c->loads == 0 || store_issuer_each(txn, compare_one, &k) < 0)
		return false;
	return !k.changed && k.seen == c->count;
}

/* The CA whose subject is the certificate's issuer. When nothing matches
 * and the store has issuers the cache lacks, the cache is refilled, so a CA
 * created after start-up is found; a certificate from a foreign issuer costs
 * a look at the issuer ids, not a parse of every CA certificate. */
static struct cached_ca *find_ca(struct verify_ca_cache *c, struct store_txn *txn,
                                 const mbedtls_x509_crt *crt)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->count; i++) {
			const mbedtls_x509_buf *subject = &c->cas[i].crt.subject_raw;
			if (subject->len == crt->issuer_raw.len &&
			    memcmp(subject->p, crt->issuer_raw.p, subject->len) == 0)
				return &c->cas[i];
		}
		if (pass == 0) {
			if (cache_is_current(c, txn))
				return NULL;
			c->loads++;
			cache_clear(c);
			struct fill_ctx f = {c, txn};
			store_issuer_each(txn, fill_one, &f);
		}
	}
	return NULL;
}

static int64_t x509_time_unix(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900,
	                .tm_mon = t->mon - 1,
	                .tm_mday = t->day,
	                .tm_hour = t->hour,
	                .tm_min = t->min,
	                .tm_sec = t->sec};
	return (int64_t)timegm(&tm);
}

static const char *validity_at(const struct verify_result *r, int64_t t)
{
	if (t < r->not_before)
		return "not_yet_valid";
	if (t > r->not_after)
		return "expired";
	return NULL;
}

/* What is reported about any certificate that was found. */
static void describe_certificate(const mbedtls_x509_crt *crt, struct verify_result *r)
{
	r->has_signer = true;
	if (crt->serial.len <= STORE_SERIAL_MAX)
		hex_encode(crt->serial.p, crt->serial.len, r->serial_hex);
	/* UTF-8 exactly (docs/api.md); a subject too long for the field keeps
	 * its longest whole-character prefix. */
	dn_text(crt->subject_raw.p, crt->subject_raw.len, r->subject, sizeof r->subject);
	r->not_before = x509_time_unix(&crt->valid_from);
	r->not_after = x509_time_unix(&crt->valid_to);
}

/* The CA's signature on the certificate (RFC 5280 §6.1.3 (a)(1)), one
 * public-key operation with kensho's own CA key. The dates are judged
 * later, at the signing time as well as now; a signer's key was already
 * judged by key_accepted (key_judged), a bare certificate's by mbedTLS's
 * default profile here. */
static bool issuer_signed(const struct cached_ca *ca, const mbedtls_x509_crt *crt, bool key_judged,
                          struct verify_result *r)
{
	uint32_t flags = 0;
	r->public_key_operations++;
	mbedtls_x509_crt_verify((mbedtls_x509_crt *)crt, (mbedtls_x509_crt *)&ca->crt, NULL, NULL,
	                        &flags, NULL, NULL);
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	if (key_judged)
		flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_BAD_KEY;
	if (flags != 0) {
		r->reason = "unknown_issuer";
		return false;
	}
	memcpy(r->issuer_label, ca->label, sizeof r->issuer_label);
	r->kind = ca->kind == CERT_KIND_SIGN ? "sign" : "auth";
	return true;
}

/* The signer's key against the limits, before any operation with it: the
 * cost of an RSA verification grows with the modulus and with the bits of
 * the public exponent (an 8191-bit exponent costs hundreds of times what
 * 65537 does), so both are bounded. Sets the reason and detail when the
 * key is refused. */
static bool key_accepted(const struct verify_key_limits *limits, const mbedtls_x509_crt *crt,
                         struct verify_result *r)
{
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&crt->pk;
	size_t bits = mbedtls_pk_get_bitlen(pk);
	bool ok = mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA;
	uint64_t e = 0;
	size_t e_bits = 0;
	if (ok) {
		mbedtls_mpi exponent;
		mbedtls_mpi_init(&exponent);
		ok = mbedtls_rsa_export(mbedtls_pk_rsa(*pk), NULL, NULL, NULL, NULL, &exponent) ==
		     0;
		e_bits = mbedtls_mpi_bitlen(&exponent);
		uint8_t be[8];
		if (ok && e_bits <= 64 && mbedtls_mpi_write_binary(&exponent, be, sizeof be) == 0)
			for (size_t i = 0; i < sizeof be; i++)
				e = e << 8 | be[i];
		mbedtls_mpi_free(&exponent);
	}
	if (ok && bits >= VERIFY_MIN_RSA_BITS && bits <= limits->max_rsa_bits && e_bits <= 64 &&
	    e >= 3 && e <= limits->max_rsa_exponent)
		return true;
	r->reason = "signer_key_not_accepted";
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA)
		snprintf(r->detail, sizeof r->detail,
		         "the signer's key is %s; kensho takes RSA %d..%u bits with public "
		         "exponent 3..%llu",
		         mbedtls_pk_get_name(pk), VERIFY_MIN_RSA_BITS, limits->max_rsa_bits,
		         (unsigned long long)limits->max_rsa_exponent);
	else
		snprintf(r->detail, sizeof r->detail,
		         "the signer's key is RSA-%zu with a public exponent of %zu bits; "
		         "kensho takes RSA %d..%u bits with public exponent 3..%llu",
		         bits, e_bits, VERIFY_MIN_RSA_BITS, limits->max_rsa_bits,
		         (unsigned long long)limits->max_rsa_exponent);
	return false;
}

/* The certificate's standing once its issuer is known: dates, key usage
 * and status in the store. Fills r and sets r->reason. */
static int check_standing(struct store_txn *txn, const struct cached_ca *ca,
                          const mbedtls_x509_crt *crt, bool for_signature, int64_t now,
                          struct verify_result *r)
{
	const char *dates = validity_at(r, now);
	if (!dates && r->has_signing_time)
		dates = validity_at(r, r->signing_time);
	if (dates) {
		r->reason = dates;
		return 0;
	}
	if (for_signature &&
	    mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 &&
	    mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_NON_REPUDIATION) != 0) {
		r->reason = "wrong_key_usage";
		return 0;
	}

	struct store_serial serial = {0};
	struct store_cert cert;
	int rc = -ENOENT;
	if (crt->serial.len <= STORE_SERIAL_MAX) {
		serial.len = (uint8_t)crt->serial.len;
		memcpy(serial.bytes, crt->serial.p, crt->serial.len);
		rc = store_cert_get(txn, ca->id, &serial, &cert);
	}
	if (rc == -ENOENT) {
		r->reason = "unknown_certificate";
		return 0;
	}
	if (rc < 0)
		return rc;
	r->status_now = "good";
	r->status_at_signing = r->has_signing_time ? "good" : "unknown";
	if (cert.status == CERT_STATUS_REVOKED && cert.revoked_at <= now) {
		r->status_now = "revoked";
		r->revoked_at = cert.revoked_at;
		r->revocation_reason = cert.reason;
		if (r->has_signing_time && cert.revoked_at <= r->signing_time)
			r->status_at_signing = "revoked";
		/* Revoked now is invalid even when the claimed signing time is
		 * earlier: that time is the signer's own assertion. */
		r->reason = "revoked";
		return 0;
	}
	r->valid = true;
	r->reason = "ok";
	return 0;
}

/* A bare certificate: its path to one of kensho's CAs, then its standing. */
static int check_certificate(struct store_txn *txn, struct verify_ca_cache *cas,
                             const mbedtls_x509_crt *crt, int64_t now, struct verify_result *r)
{
	describe_certificate(crt, r);
	struct cached_ca *ca = find_ca(cas, txn, crt);
	if (!ca) {
		r->reason = "unknown_issuer";
		return 0;
	}
	if (!issuer_signed(ca, crt, false, r))
		return 0;
	return check_standing(txn, ca, crt, false, now, r);
}

static int check_cms(struct store_txn *txn, struct verify_ca_cache *cas, const uint8_t *body,
                     size_t body_len, const uint8_t *detached, size_t detached_len, int64_t now,
                     struct verify_result *r, const char **detail)
{
	struct cms_signed_data sd;
	int rc = cms_decode(body, body_len, &sd);
	if (rc < 0) {
		*detail = rc == -ENOTSUP ? "unsupported CMS form or algorithm"
		          : rc == -E2BIG ? "CMS exceeds a size limit"
		                         : "body is not DER CMS SignedData";
		return rc;
	}
	r->is_cms = true;
	const uint8_t *content = sd.detached ? detached : sd.content.p;
	size_t content_len = sd.detached ? detached_len : sd.content.len;
	if (sd.detached && !detached) {
		*detail = "detached signature without content (see Kensho-Signature-Length)";
		return -EINVAL;
	}
	if (!sd.detached && detached) {
		*detail = "content given twice: attached and after the signature";
		return -EINVAL;
	}
	mbedtls_sha256_ret(content, content_len, r->content_sha256, 0);
	r->has_signing_time = sd.has_signing_time;
	r->signing_time = sd.signing_time;

	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (cms_signer_cert(&sd, &crt) < 0) {
		r->reason = cms_verdict_name(CMS_VERDICT_NO_SIGNER_CERT);
		return 0;
	}
	/* The cheap checks first, and the caller's key last (see verify.h). */
	describe_certificate(&crt, r);
	struct cached_ca *ca = find_ca(cas, txn, &crt);
	enum cms_verdict verdict;
	if (!ca) {
		r->reason = "unknown_issuer";
	} else if (key_accepted(&cas->limits, &crt, r) && issuer_signed(ca, &crt, true, r)) {
		rc = cms_verify_signature(&sd, content, content_len, &crt, &verdict);
		if (rc == 0 && verdict != CMS_VERDICT_CONTENT_ALTERED)
			r->public_key_operations++; /* a digest mismatch stops before it */
		if (rc == 0 && verdict != CMS_VERDICT_VALID)
			r->reason = cms_verdict_name(verdict);
		else if (rc == 0)
			rc = check_standing(txn, ca, &crt, true, now, r);
		else
			*detail = "the signature could not be checked";
	}
	mbedtls_x509_crt_free(&crt);
	return rc;
}

int verify_submission(struct store *store, struct verify_ca_cache *cas, const uint8_t *body,
                      size_t body_len, const uint8_t *detached, size_t detached_len, int64_t now,
                      struct verify_result *r, const char **detail)
{
	memset(r, 0, sizeof *r);
	r->reason = "unknown";
	r->status_now = r->status_at_signing = "unknown";
	*detail = NULL;
	if (body_len > CMS_MAX_INPUT) {
		*detail = "body too large";
		return -E2BIG;
	}
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc < 0) {
		*detail = "store unavailable";
		return rc;
	}
	/* A certificate is a SEQUENCE whose first element is a SEQUENCE
	 * (TBSCertificate); a ContentInfo starts with an OID. */
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	bool looks_like_cert = body_len > 4 && body[0] == 0x30 &&
	                       mbedtls_x509_crt_parse_der(&crt, body, body_len) == 0;
	if (looks_like_cert && detached) {
		*detail = "a certificate takes no content";
		rc = -EINVAL;
	} else if (looks_like_cert) {
		rc = check_certificate(txn, cas, &crt, now, r);
	} else {
		rc = check_cms(txn, cas, body, body_len, detached, detached_len, now, r, detail);
	}
	mbedtls_x509_crt_free(&crt);
	store_txn_abort(txn);
	return rc;
}

static const char *crl_reason_name(int reason)
{
	/* RFC 5280 §5.3.1 names */
	static const char *const names[] = {
	        "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
	        "superseded",    "cessationOfOperation", "certificateHold", NULL,
	        "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
	};
	if (reason < 0 || reason >= (int)(sizeof names / sizeof names[0]) || !names[reason])
		return "unspecified";
	return names[reason];
}

void verify_result_json(const struct verify_result *r, struct buf *out)
{
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_bool(&j, "valid", r->valid);
	json_string(&j, "reason", r->reason);
	if (r->detail[0])
		json_string(&j, "detail", r->detail);
	json_string(&j, "input", r->is_cms ? "cms" : "certificate");
	if (r->is_cms) {
		json_hex(&j, "content_sha256", r->content_sha256, sizeof r->content_sha256);
		if (r->has_signing_time)
			json_time(&j, "signing_time", r->signing_time);
		else
			json_null(&j, "signing_time");
	}
	if (r->has_signer) {
		json_object_begin(&j, "signer");
		json_string(&j, "serial", r->serial_hex);
		json_string(&j, "kind", r->kind);
		json_string(&j, "issuer", r->issuer_label[0] ? r->issuer_label : NULL);
		json_string(&j, "subject", r->subject);
		if (r->not_before || r->not_after) {
			json_time(&j, "not_before", r->not_before);
			json_time(&j, "not_after", r->not_after);
		}
		json_object_end(&j);
	}
	json_object_begin(&j, "status");
	json_string(&j, "at_signing_time", r->status_at_signing);
	json_string(&j, "now", r->status_now);
	if (strcmp(r->status_now, "revoked") == 0) {
		json_time(&j, "revoked_at", r->revoked_at);
		json_string(&j, "revocation_reason", crl_reason_name(r->revocation_reason));
	}
	json_object_end(&j);
	json_object_end(&j);
}

int verify_split_body(const uint8_t *body, size_t body_len, const char *header, size_t header_len,
                      size_t *cms_len, const uint8_t **detached, size_t *detached_len)
{
	*cms_len = body_len;
	*detached = NULL;
	*detached_len = 0;
	if (!header)
		return 0;
	uint64_t n = 0;
	if (header_len == 0 || header_len > 10)
		return -EINVAL;
	for (size_t i = 0; i < header_len; i++) {
		if (header[i] < '0' || header[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(header[i] - '0');
	}
	if (n == 0 || n > body_len)
		return -EINVAL;
	*cms_len = (size_t)n;
	*detached = body + n;
	*detached_len = body_len - (size_t)n;
	return 0;
}
