/* Gathering the evidence of the moment of receipt: see intake_evidence.h. */
#include "handlers/intake_evidence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/tsa_stamp.h"
#include "ocsp/service.h"
#include "pki/cms.h"
#include "pki/hash.h"
#include "pki/signer.h"
#include "pki/verify.h"
#include "storage/store.h"

void intake_evidence_clear(struct intake_evidence *ev)
{
	free(ev->chain);
	free(ev->ocsp);
	free(ev->timestamp);
	memset(ev, 0, sizeof(*ev));
}

static uint8_t *copy_of(const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	if (p && len)
		memcpy(p, data, len);
	return p;
}

/* The signer's certificate and its CA's, back to back, and the issuer's CRL
 * number, from one read transaction. */
static int gather_chain(struct store *store, const struct pki_cert *signer, uint32_t issuer_id,
                        struct intake_evidence *out)
{
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc < 0)
		return rc;
	struct store_issuer issuer;
	struct store_blob ca;
	rc = store_issuer_get(txn, issuer_id, &issuer);
	if (rc == 0)
		rc = store_issuer_cert(txn, issuer_id, &ca);
	if (rc == 0) {
		const struct pki_bytes *der = &pki_cert_info(signer)->der;
		out->chain_len = der->len + ca.len;
		out->chain = malloc(out->chain_len);
		if (!out->chain) {
			rc = -ENOMEM;
		} else {
			memcpy(out->chain, der->p, der->len);
			memcpy(out->chain + der->len, ca.data, ca.len);
			out->crl_number = issuer.crl_number;
		}
	}
	store_txn_abort(txn);
	return rc;
}

static void cached_answer_cb(const struct ocsp_query *q, const struct ocsp_cached *hit, void *arg)
{
	(void)q;
	struct intake_evidence *out = arg;
	out->ocsp = copy_of(hit->der, hit->len);
	out->ocsp_len = out->ocsp ? hit->len : 0;
}

/* The signed answer for the signer's certificate that a relying party
 * asking now would get (the RFC 5019 form: one SHA-1 CertID, no nonce):
 * the cached one while fresh, else signed and cached now. */
static int gather_ocsp(const struct ocsp_responder_set *set, const struct pki_cert *signer,
                       uint32_t issuer_id, int64_t now, struct intake_evidence *out)
{
	struct ocsp_responder *responder = ocsp_responder_set_get(set, issuer_id);
	if (!responder)
		return 0; /* no responder loaded for this issuer: logged at start */
	const struct pki_bytes *serial = &pki_cert_info(signer)->serial;
	struct ocsp_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->request.count = 1;
	int rc = ocsp_responder_cert_id(responder, PKI_DIGEST_SHA1, serial->p, serial->len,
	                                &q->request.ids[0]);
	if (rc == 0)
		rc = ocsp_service_lookup(set, q, now, 0, cached_answer_cb, out);
	if (rc == 1) {
		rc = out->ocsp ? 0 : -ENOMEM;
	} else if (rc == 0) {
		struct ocsp_signed answer = {0};
		rc = ocsp_service_sign(set, q, &answer);
		if (rc == 0) {
			out->ocsp = answer.der;
			out->ocsp_len = answer.len;
		}
	}
	/* Verified good on the loop, but a revocation may have committed since:
	 * then the application is not stored with a receipt that says valid
	 * beside evidence that says revoked. The batch is answered 503, and the
	 * retry is verified afresh. */
	if (rc == 0 && (!q->records[0].issued || q->records[0].status != OCSP_CERT_GOOD))
		rc = -ESTALE;
	free(q);
	return rc;
}

/* CAdES's signature-time-stamp: a token over the SHA-256 of the
 * SignerInfo's signature value, from kensho's own unit. */
static int gather_timestamp(struct intake_evidence_sources *src, const struct cms_signed_data *sd,
                            struct intake_evidence *out)
{
	uint8_t digest[32];
	pki_sha256(sd->signature.p, sd->signature.len, digest);
	struct tsp_request request;
	tsp_request_for_sha256(digest, &request);
	struct tsa_stamper stamper = {
	        .policy = src->tsa_policy,
	        .sign = pki_signer_sign,
	        .sign_arg = src->tsa,
	};
	pki_signer_cert(src->tsa, &stamper.cert, &stamper.cert_len);
	uint32_t counter =
	        TSA_INTAKE_COUNTER_BASE | (src->tsa_counter++ & ~TSA_INTAKE_COUNTER_BASE);
	return tsa_stamp(&stamper, &request, counter, &out->timestamp, &out->timestamp_len);
}

int intake_evidence_gather(struct intake_evidence_sources *src, const uint8_t *cms, size_t cms_len,
                           uint32_t issuer_id, int64_t now, struct intake_evidence *out)
{
	memset(out, 0, sizeof(*out));
	struct cms_signed_data sd;
	struct pki_cert *signer = NULL;
	int rc = cms_decode(cms, cms_len, &sd);
	if (rc == 0)
		rc = cms_signer_cert(&sd, &signer);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	rc = gather_chain(src->store, signer, issuer_id, out);
	if (rc == 0 && src->ocsp)
		rc = gather_ocsp(src->ocsp, signer, issuer_id, now, out);
	if (rc == 0 && src->tsa)
		rc = gather_timestamp(src, &sd, out);
	pki_cert_free(signer);
	if (rc < 0)
		intake_evidence_clear(out);
	return rc;
}
