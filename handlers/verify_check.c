/* The checks /v1/verify and /v1/intake share: see verify.h. */
#include "handlers/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/json.h"
#include "core/log.h"
#include "pki/cms.h"
#include "pki/dn_text.h"
#include "pki/hash.h"
#include "pki/verify.h"

#define VERIFY_MAX_CAS 8

struct cached_ca {
	uint32_t id;
	enum cert_kind kind;
	char label[16];
	struct pki_cert *cert;
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
		pki_cert_free(c->cas[i].cert);
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
	if (pki_cert_parse(der.data, der.len, &ca->cert) != 0) {
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
                                 const struct pki_cert *cert)
{
	const struct pki_bytes *issuer = &pki_cert_info(cert)->issuer;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->count; i++) {
			const struct pki_bytes *subject = &pki_cert_info(c->cas[i].cert)->subject;
			if (subject->len == issuer->len &&
			    memcmp(subject->p, issuer->p, subject->len) == 0)
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

static const char *validity_at(const struct verify_result *r, int64_t t)
{
	if (t < r->not_before)
		return "not_yet_valid";
	if (t > r->not_after)
		return "expired";
	return NULL;
}

/* What is reported about any certificate that was found. */
static void describe_certificate(const struct pki_cert *cert, struct verify_result *r)
{
	const struct pki_cert_info *info = pki_cert_info(cert);
	r->has_signer = true;
	if (info->serial.len <= STORE_SERIAL_MAX)
		hex_encode(info->serial.p, info->serial.len, r->serial_hex);
	/* UTF-8 exactly (docs/api.md); a subject too long for the field keeps
	 * its longest whole-character prefix. */
	dn_text(info->subject.p, info->subject.len, r->subject, sizeof r->subject);
	r->not_before = info->not_before;
	r->not_after = info->not_after;
}

/* The CA's signature on the certificate (RFC 5280 §6.1.3 (a)(1)), one
 * public-key operation with kensho's own CA key. The dates are judged
 * later, at the signing time as well as now; a signer's key was already
 * judged by key_accepted (key_judged), a bare certificate's by mbedTLS's
 * default profile here. */
static bool issuer_signed(const struct cached_ca *ca, const struct pki_cert *cert, bool key_judged,
                          struct verify_result *r)
{
	r->public_key_operations++;
	if (pki_cert_verify_issued(cert, ca->cert, key_judged) != 0) {
		r->reason = "unknown_issuer";
		return false;
	}
	memcpy(r->issuer_label, ca->label, sizeof r->issuer_label);
	r->issuer_id = ca->id;
	r->kind = ca->kind == CERT_KIND_SIGN ? "sign" : "auth";
	return true;
}

/* The signer's key against the limits, before any operation with it: the
 * cost of an RSA verification grows with the modulus and with the bits of
 * the public exponent (an 8191-bit exponent costs hundreds of times what
 * 65537 does), so both are bounded. Sets the reason and detail when the
 * key is refused. */
static bool key_accepted(const struct verify_key_limits *limits, const struct pki_cert *cert,
                         struct verify_result *r)
{
	struct pki_key_info key;
	bool ok = pki_cert_key(cert, &key) == 0 && key.rsa;
	if (ok && key.bits >= VERIFY_MIN_RSA_BITS && key.bits <= limits->max_rsa_bits &&
	    key.exponent_bits <= 64 && key.exponent >= 3 &&
	    key.exponent <= limits->max_rsa_exponent)
		return true;
	r->reason = "signer_key_not_accepted";
	if (!key.rsa)
		snprintf(r->detail, sizeof r->detail,
		         "the signer's key is %s; kensho takes RSA %d..%u bits with public "
		         "exponent 3..%llu",
		         key.name, VERIFY_MIN_RSA_BITS, limits->max_rsa_bits,
		         (unsigned long long)limits->max_rsa_exponent);
	else
		snprintf(r->detail, sizeof r->detail,
		         "the signer's key is RSA-%zu with a public exponent of %zu bits; "
		         "kensho takes RSA %d..%u bits with public exponent 3..%llu",
		         key.bits, key.exponent_bits, VERIFY_MIN_RSA_BITS, limits->max_rsa_bits,
		         (unsigned long long)limits->max_rsa_exponent);
	return false;
}

/* The certificate's standing once its issuer is known: dates, key usage
 * and status in the store. Fills r and sets r->reason. */
static int check_standing(struct store_txn *txn, const struct cached_ca *ca,
                          const struct pki_cert *cert, bool for_signature, int64_t now,
                          struct verify_result *r)
{
	const char *dates = validity_at(r, now);
	if (!dates && r->has_signing_time)
		dates = validity_at(r, r->signing_time);
	if (dates) {
		r->reason = dates;
		return 0;
	}
	if (for_signature && !pki_cert_may_sign(cert)) {
		r->reason = "wrong_key_usage";
		return 0;
	}

	struct store_serial serial = {0};
	struct store_cert record;
	const struct pki_bytes *serial_bytes = &pki_cert_info(cert)->serial;
	int rc = -ENOENT;
	if (serial_bytes->len <= STORE_SERIAL_MAX) {
		serial.len = (uint8_t)serial_bytes->len;
		memcpy(serial.bytes, serial_bytes->p, serial_bytes->len);
		rc = store_cert_get(txn, ca->id, &serial, &record);
	}
	if (rc == -ENOENT) {
		r->reason = "unknown_certificate";
		return 0;
	}
	if (rc < 0)
		return rc;
	r->status_now = "good";
	r->status_at_signing = r->has_signing_time ? "good" : "unknown";
	if (record.status == CERT_STATUS_REVOKED && record.revoked_at <= now) {
		r->status_now = "revoked";
		r->revoked_at = record.revoked_at;
		r->revocation_reason = record.reason;
		if (r->has_signing_time && record.revoked_at <= r->signing_time)
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
                             const struct pki_cert *cert, int64_t now, struct verify_result *r)
{
	describe_certificate(cert, r);
	struct cached_ca *ca = find_ca(cas, txn, cert);
	if (!ca) {
		r->reason = "unknown_issuer";
		return 0;
	}
	if (!issuer_signed(ca, cert, false, r))
		return 0;
	return check_standing(txn, ca, cert, false, now, r);
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
	pki_sha256(content, content_len, r->content_sha256);
	r->has_signing_time = sd.has_signing_time;
	r->signing_time = sd.signing_time;

	struct pki_cert *cert;
	rc = cms_signer_cert(&sd, &cert);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		r->reason = cms_verdict_name(CMS_VERDICT_NO_SIGNER_CERT);
		return 0;
	}
	/* The cheap checks first, and the caller's key last (see verify.h). */
	describe_certificate(cert, r);
	struct cached_ca *ca = find_ca(cas, txn, cert);
	enum cms_verdict verdict;
	if (!ca) {
		r->reason = "unknown_issuer";
	} else if (key_accepted(&cas->limits, cert, r) && issuer_signed(ca, cert, true, r)) {
		rc = cms_verify_signature(&sd, content, content_len, cert, &verdict);
		if (rc == 0 && verdict != CMS_VERDICT_CONTENT_ALTERED)
			r->public_key_operations++; /* a digest mismatch stops before it */
		if (rc == 0 && verdict != CMS_VERDICT_VALID)
			r->reason = cms_verdict_name(verdict);
		else if (rc == 0)
			rc = check_standing(txn, ca, cert, true, now, r);
		else
			*detail = "the signature could not be checked";
	}
	pki_cert_free(cert);
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
	struct pki_cert *cert = NULL;
	bool looks_like_cert =
	        body_len > 4 && body[0] == 0x30 && pki_cert_parse(body, body_len, &cert) == 0;
	if (looks_like_cert && detached) {
		*detail = "a certificate takes no content";
		rc = -EINVAL;
	} else if (looks_like_cert) {
		rc = check_certificate(txn, cas, cert, now, r);
	} else {
		rc = check_cms(txn, cas, body, body_len, detached, detached_len, now, r, detail);
	}
	pki_cert_free(cert);
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
