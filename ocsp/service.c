/* The OCSP service: looking up, choosing the answer, signing, caching with
 * the stale-version retry, pre-signing. The rule is in service.h. */
#include "ocsp/service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* --- records and answers --------------------------------------------------------- */

/* The one translation of a store record into what an answer says. */
static void record_from_cert(const struct store_cert *cert, struct ocsp_record *out)
{
	out->issued = true;
	out->version = cert->version;
	if (cert->status == CERT_STATUS_REVOKED) {
		out->status = OCSP_CERT_REVOKED;
		out->revoked_at = cert->revoked_at;
		out->reason = (int)cert->reason;
	} else {
		out->status = OCSP_CERT_GOOD;
		out->revoked_at = 0;
		out->reason = -1;
	}
}

static struct ocsp_answer answer_of(const struct ocsp_record *record, const struct ocsp_cert_id *id)
{
	return (struct ocsp_answer){
	        .id = id,
	        .status = record->status,
	        .revoked_at = record->revoked_at,
	        .reason = record->reason,
	};
}

/* The cache slot of a CertID form: SHA-256 CertIDs have their own answer;
 * every other form is looked up in (and only ever matches) the SHA-1 one. */
static enum store_hash cache_form(const struct ocsp_cert_id *id)
{
	return id->hash == PKI_DIGEST_SHA256 ? STORE_HASH_SHA256 : STORE_HASH_SHA1;
}

/* The cache entry for a signed answer; der points into signed_answer. */
static struct store_response cache_entry(const struct ocsp_signed *signed_answer, uint64_t version,
                                         enum store_hash form)
{
	return (struct store_response){
	        .der = {signed_answer->der, signed_answer->len},
	        .this_update = signed_answer->this_update,
	        .next_update = signed_answer->next_update,
	        .cert_version = version,
	        .hash = form,
	};
}

/* Reads one CertID's record; *cached (may be NULL) gets its cached response,
 * valid in txn. A CertID that was never issued reads as unknown. */
static int record_read(struct store_txn *txn, uint32_t issuer_id, const struct ocsp_cert_id *id,
                       struct ocsp_record *out, struct store_response *cached)
{
	memset(out, 0, sizeof(*out));
	out->status = OCSP_CERT_UNKNOWN;
	out->reason = -1;
	if (cached)
		cached->der.data = NULL;
	/* A serial longer than any kensho issues was never issued here. */
	if (id->serial_len > STORE_SERIAL_MAX)
		return 0;
	out->serial.len = id->serial_len;
	memcpy(out->serial.bytes, id->serial, id->serial_len);
	struct store_cert cert;
	struct store_response response;
	int err = store_status_lookup_form(txn, issuer_id, &out->serial, cache_form(id), &cert,
	                                   &response);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	record_from_cert(&cert, out);
	if (cached)
		*cached = response;
	return 0;
}

/* Reads every CertID's record of q again, in one read transaction of its
 * own; *changed tells whether any differs from what q held. */
static int records_reread(struct store *store, struct ocsp_query *q, bool *changed)
{
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	*changed = false;
	for (size_t i = 0; i < q->request.count && !err; i++) {
		struct ocsp_record now;
		err = record_read(txn, q->issuer_id, &q->request.ids[i], &now, NULL);
		if (err)
			break;
		if (now.issued != q->records[i].issued || now.version != q->records[i].version)
			*changed = true;
		q->records[i] = now;
	}
	store_txn_abort(txn);
	return err;
}

/* Only the answer for one issued certificate is cached: the cache holds one
 * response per certificate and CertID form (SHA-1 and SHA-256; others would
 * displace the pre-signed SHA-1 answer that most clients ask for), and a
 * nonce makes an answer one client's. */
static bool query_cacheable(const struct ocsp_query *q)
{
	const struct ocsp_cert_id *id = &q->request.ids[0];
	return q->request.count == 1 && !q->request.has_nonce && q->records[0].issued &&
	       (id->hash == PKI_DIGEST_SHA1 || id->hash == PKI_DIGEST_SHA256);
}

/* --- looking up ------------------------------------------------------------------- */

int ocsp_service_lookup(const struct ocsp_responder_set *set, struct ocsp_query *q, int64_t now,
                        int64_t refresh_margin, ocsp_service_hit_cb on_hit, void *arg)
{
	const struct ocsp_request *req = &q->request;
	q->responder = ocsp_responder_set_match(set, req->ids, req->count, &q->issuer_id);
	if (!q->responder)
		return -ENXIO;
	struct store_txn *txn;
	int err = store_txn_begin(ocsp_responder_set_store(set), false, &txn);
	if (err)
		return err;
	struct store_response cached = {0};
	for (size_t i = 0; i < req->count && !err; i++)
		err = record_read(txn, q->issuer_id, &req->ids[i], &q->records[i],
		                  req->count == 1 ? &cached : NULL);
	int result = err;
	if (!err && query_cacheable(q) && cached.der.data && now >= cached.this_update &&
	    now + refresh_margin < cached.next_update &&
	    ocsp_response_answers(cached.der.data, cached.der.len, &req->ids[0])) {
		const struct ocsp_cached hit = {cached.der.data, cached.der.len, cached.this_update,
		                                cached.next_update};
		on_hit(q, &hit, arg); /* the bytes live only as long as txn */
		result = 1;
	}
	store_txn_abort(txn);
	return result;
}

/* --- signing and caching ----------------------------------------------------------------- */

static int sign_query(const struct ocsp_query *q, struct ocsp_signed *out)
{
	struct ocsp_answer answers[OCSP_MAX_CERT_IDS];
	for (size_t i = 0; i < q->request.count; i++)
		answers[i] = answer_of(&q->records[i], &q->request.ids[i]);
	/* Signing time, not queueing time: after a lost race the revocation
	 * may be later than when the request arrived. */
	return ocsp_response_sign(q->responder, answers, q->request.count,
	                          q->request.has_nonce ? q->request.nonce : NULL,
	                          q->request.nonce_len, (int64_t)time(NULL), out);
}

struct put_args {
	const struct ocsp_query *q;
	const struct ocsp_signed *signed_answer;
};

static int put_cb(struct store_txn *txn, void *arg)
{
	struct put_args *a = arg;
	struct store_response entry = cache_entry(a->signed_answer, a->q->records[0].version,
	                                          cache_form(&a->q->request.ids[0]));
	return store_response_put(txn, a->q->issuer_id, &a->q->records[0].serial, &entry);
}

/* The one sign → write back → retry loop. With must_cache (pre-signing) a
 * cache write that fails for another reason than -ESTALE is the result;
 * without (a live answer) it is only logged. */
static int sign_and_cache(const struct ocsp_responder_set *set, struct ocsp_query *q,
                          bool must_cache, enum store_signature_purpose purpose,
                          struct ocsp_signed *out)
{
	struct store *store = ocsp_responder_set_store(set);
	bool cache = query_cacheable(q);
	out->der = NULL;
	for (int attempt = 0; attempt < OCSP_SERVICE_SIGN_ATTEMPTS; attempt++) {
		int err = sign_query(q, out);
		if (err)
			return err;
		store_signatures_add(store, purpose, 1);
		bool changed = false;
		if (cache) {
			struct put_args put = {q, out};
			err = store_write(store, put_cb, &put);
			if (err == -ESTALE) {
				/* A change committed after our read: read again, sign again. */
				err = records_reread(store, q, &changed);
				changed = true;
			} else if (err && !must_cache) {
				/* The cache is only an optimisation; the answer stands once
				 * the records are confirmed unchanged. */
				log_warn("ocsp: caching a signed response failed: %s",
				         strerror(-err));
				err = records_reread(store, q, &changed);
			}
		} else {
			err = records_reread(store, q, &changed);
		}
		if (!err && !changed)
			return 0;
		free(out->der);
		out->der = NULL;
		if (err)
			return err;
		cache = query_cacheable(q);
	}
	return -EAGAIN;
}

int ocsp_service_sign(const struct ocsp_responder_set *set, struct ocsp_query *q,
                      struct ocsp_signed *out)
{
	return sign_and_cache(set, q, false, STORE_SIGNATURE_LIVE, out);
}

/* --- pre-signing ------------------------------------------------------------------------- */

int ocsp_service_presign(const struct ocsp_responder_set *set, uint32_t issuer_id,
                         const struct store_serial *serial)
{
	struct ocsp_responder *r = set ? ocsp_responder_set_get(set, issuer_id) : NULL;
	if (!r)
		return -ENOENT;
	struct ocsp_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->issuer_id = issuer_id;
	q->responder = r;
	q->request.count = 1;
	int err = ocsp_responder_cert_id(r, PKI_DIGEST_SHA1, serial->bytes, serial->len,
	                                 &q->request.ids[0]);
	bool changed;
	if (!err)
		err = records_reread(ocsp_responder_set_store(set), q, &changed);
	if (!err && !q->records[0].issued)
		err = -ENOENT;
	struct ocsp_signed out;
	if (!err)
		err = sign_and_cache(set, q, true, STORE_SIGNATURE_ISSUANCE, &out);
	if (!err)
		free(out.der);
	free(q);
	return err;
}

static int presign_read_for(const struct ocsp_responder_set *set, struct store_txn *txn,
                            uint32_t issuer_id, const struct store_serial *serial, int64_t now,
                            enum store_signature_purpose purpose, struct ocsp_presigned *out);

int ocsp_service_presign_in_txn(const struct ocsp_responder_set *set, struct store_txn *txn,
                                uint32_t issuer_id, const struct store_serial *serial)
{
	struct ocsp_presigned p;
	int err = presign_read_for(set, txn, issuer_id, serial, (int64_t)time(NULL),
	                           STORE_SIGNATURE_ISSUANCE, &p);
	if (err)
		return err;
	err = ocsp_service_presigned_put(txn, &p);
	ocsp_presigned_free(&p);
	return err;
}

int ocsp_service_presign_read(const struct ocsp_responder_set *set, struct store_txn *txn,
                              uint32_t issuer_id, const struct store_serial *serial, int64_t now,
                              struct ocsp_presigned *out)
{
	return presign_read_for(set, txn, issuer_id, serial, now, STORE_SIGNATURE_REFRESH, out);
}

/* ocsp_service_presign_read, counting the signature for `purpose`. */
static int presign_read_for(const struct ocsp_responder_set *set, struct store_txn *txn,
                            uint32_t issuer_id, const struct store_serial *serial, int64_t now,
                            enum store_signature_purpose purpose, struct ocsp_presigned *out)
{
	memset(out, 0, sizeof(*out));
	struct ocsp_responder *r = set ? ocsp_responder_set_get(set, issuer_id) : NULL;
	if (!r)
		return -ENOENT;
	struct ocsp_cert_id id;
	int err = ocsp_responder_cert_id(r, PKI_DIGEST_SHA1, serial->bytes, serial->len, &id);
	struct store_cert cert;
	if (!err)
		err = store_cert_get(txn, issuer_id, serial, &cert);
	if (err)
		return err;
	struct ocsp_record record;
	record_from_cert(&cert, &record);
	struct ocsp_answer answer = answer_of(&record, &id);
	struct ocsp_signed signed_answer;
	err = ocsp_response_sign(r, &answer, 1, NULL, 0, now, &signed_answer);
	if (err)
		return err;
	store_signatures_add(ocsp_responder_set_store(set), purpose, 1);
	out->issuer_id = issuer_id;
	out->serial = *serial;
	out->response = cache_entry(&signed_answer, record.version, STORE_HASH_SHA1);
	return 0;
}

int ocsp_service_presigned_put(struct store_txn *txn, const struct ocsp_presigned *p)
{
	return store_response_put(txn, p->issuer_id, &p->serial, &p->response);
}

void ocsp_presigned_free(struct ocsp_presigned *p)
{
	free((void *)p->response.der.data);
	p->response.der.data = NULL;
}

/* --- batch answers ----------------------------------------------------------------------- */

void ocsp_batch_sort(struct ocsp_cert_ref *refs, size_t count)
{
	/* insertion sort: stable, and the lists are short (a write transaction's) */
	for (size_t i = 1; i < count; i++) {
		struct ocsp_cert_ref r = refs[i];
		size_t j = i;
		for (; j > 0 && refs[j - 1].issuer_id > r.issuer_id; j--)
			refs[j] = refs[j - 1];
		refs[j] = r;
	}
}

size_t ocsp_batch_end(const struct ocsp_cert_ref *refs, size_t count, size_t start,
                      size_t per_signature)
{
	if (per_signature == 0)
		per_signature = 1;
	if (per_signature > OCSP_BATCH_MAX)
		per_signature = OCSP_BATCH_MAX;
	size_t end = start;
	while (end < count && end - start < per_signature &&
	       refs[end].issuer_id == refs[start].issuer_id)
		end++;
	return end;
}

int ocsp_service_presign_batch_read(const struct ocsp_responder_set *set, struct store_txn *txn,
                                    uint32_t issuer_id, const struct store_serial *serials,
                                    size_t count, int64_t now, enum store_signature_purpose purpose,
                                    struct ocsp_presigned_batch *out)
{
	memset(out, 0, sizeof(*out));
	struct ocsp_responder *r = set ? ocsp_responder_set_get(set, issuer_id) : NULL;
	if (!r)
		return -ENOENT;
	if (count == 0 || count > OCSP_BATCH_MAX)
		return -EINVAL;
	struct ocsp_cert_id *ids = calloc(count, sizeof(*ids));
	struct ocsp_answer answers[OCSP_BATCH_MAX];
	if (!ids)
		return -ENOMEM;
	int err = 0;
	size_t n = 0;
	for (size_t i = 0; i < count && !err; i++) {
		struct store_cert cert;
		err = store_cert_get(txn, issuer_id, &serials[i], &cert);
		if (err == -ENOENT) {
			err = 0; /* never issued: nothing to answer for it */
			continue;
		}
		if (!err)
			err = ocsp_responder_cert_id(r, PKI_DIGEST_SHA1, serials[i].bytes,
			                             serials[i].len, &ids[n]);
		if (err)
			break;
		struct ocsp_record record;
		record_from_cert(&cert, &record);
		answers[n] = answer_of(&record, &ids[n]);
		out->members[n] = (struct store_batch_member){serials[i], record.version, 0};
		n++;
	}
	struct ocsp_signed signed_answer;
	if (!err && n == 0)
		err = -ENOENT;
	if (!err)
		err = ocsp_response_sign(r, answers, n, NULL, 0, now, &signed_answer);
	free(ids);
	if (err)
		return err;
	store_signatures_add(ocsp_responder_set_store(set), purpose, 1);
	out->issuer_id = issuer_id;
	out->count = n;
	out->response = cache_entry(&signed_answer, out->members[0].cert_version, STORE_HASH_SHA1);
	return 0;
}

int ocsp_service_presigned_batch_put(struct store_txn *txn, struct ocsp_presigned_batch *b)
{
	if (b->count == 1) {
		/* a batch of one is a plain answer: same bytes, same storage */
		struct store_response entry = b->response;
		entry.cert_version = b->members[0].cert_version;
		int err = store_response_put(txn, b->issuer_id, &b->members[0].serial, &entry);
		b->members[0].result = err;
		return err == -ESTALE || err == -ENOENT ? 0 : err;
	}
	return store_batch_put(txn, b->issuer_id, &b->response, b->members, b->count);
}

void ocsp_presigned_batch_free(struct ocsp_presigned_batch *b)
{
	free((void *)b->response.der.data);
	b->response.der.data = NULL;
}
