/* POST /v1/intake and GET /v1/intake/{receipt} (docs/intake.md).
 *
 * Durability (docs/architecture.md rule 2): a submission is answered only after the
 * write transaction holding its original, its verification result and its
 * signed receipt has committed, and store_txn_commit fsyncs. To keep
 * throughput when each commit costs an fsync, submissions wait in a bounded
 * queue and are committed in batches: one uv_queue_work job runs one write
 * transaction (one fsync) for up to intake.batch_max submissions, then the
 * loop answers them all. While a batch is being committed the next one
 * gathers. A full queue answers 503 at once rather than queueing without
 * limit. Only one batch per process is in flight, so the receipt key (whose
 * RSA blinding state is not thread-safe), the OCSP responders' keys and the
 * time-stamping unit's key are used by one thread at a time.
 *
 * The commit job also gathers each application's evidence of the moment of
 * receipt (intake_evidence.h) before its write transaction: it costs a
 * time-stamp signature, and an OCSP signature when no fresh answer is
 * cached, so it never runs on the loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/exchange.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/handlers.h"
#include "handlers/intake_commit.h"
#include "handlers/tsa_stamp.h"
#include "handlers/roles.h"
#include "handlers/receipt.h"
#include "handlers/verify.h"
#include "ocsp/responder_set.h"
#include "pki/hash.h"
#include "pki/signer.h"
#include "handlers/replication.h"
#include "handlers/sync_gate.h"
#include "storage/store.h"

struct intake_pending {
	struct intake_item item; /* first: the batch array points at it */
	struct intake_pending *next;
	struct exchange *ex; /* its request body is item.original */
};

struct intake_handler {
	struct handler post;
	struct handler get;
	uv_loop_t *loop;
	const struct handler_env *env; /* outlives the handlers */
	struct store *store;
	struct verify_ca_cache *cas;
	struct metric *public_key_operations;
	struct receipt_signer *signer;
	struct intake_evidence_sources evidence; /* its keys: the commit job's alone */
	bool allow_plain;
	size_t queue_max, batch_max;
	/* waiting submissions, FIFO */
	struct intake_pending *head, *tail;
	size_t queued;
	/* the batch being committed */
	uv_work_t work;
	bool busy;
	struct intake_item **batch; /* batch_max slots */
	size_t batch_len;
	int batch_rc;
	uint64_t next_receipt; /* expected next receipt number (0: unknown) */
	struct sync_gate *gate; /* replication.sync_replicas; NULL: none */
};

/* --- the commit job (thread pool) ------------------------------------------------- */

static void commit_work_cb(uv_work_t *work)
{
	struct intake_handler *h = work->data;
	h->batch_rc = intake_commit(h->store, h->signer, &h->evidence, h->batch, h->batch_len,
	                            &h->next_receipt);
}

/* --- answering ---------------------------------------------------------------------- */

static void respond_receipt(struct exchange *ex, int status, uint64_t receipt, uint8_t *der,
                            size_t len)
{
	char number[24], location[48];
	snprintf(number, sizeof number, "%llu", (unsigned long long)receipt);
	snprintf(location, sizeof location, "/v1/intake/%llu", (unsigned long long)receipt);
	exchange_add_header(ex, "Kensho-Receipt", number);
	exchange_add_header(ex, "Location", location);
	exchange_respond_owned(ex, status, "application/cms", der, len);
}

static void pending_free(struct intake_pending *p)
{
	free(p->item.receipt_der);
	free((void *)p->item.result_json);
	free(p);
}

static void start_batch(struct intake_handler *h);

/* A committed batch's receipts, answered once replication.sync_replicas
 * replicas hold them (at once without). */
struct committed {
	struct intake_handler *h;
	struct intake_pending *items; /* linked by next */
};

static void committed_cb(void *arg, int rc, unsigned acked, unsigned wanted)
{
	struct committed *c = arg;
	char detail[300] = "";
	if (rc)
		sync_gate_describe(rc, acked, wanted, sync_gate_timeout_ms(c->h->gate), detail,
		                   sizeof detail);
	if (rc)
		log_warn("intake: receipts not acknowledged: %s", detail);
	while (c->items) {
		struct intake_pending *p = c->items;
		c->items = p->next;
		if (rc) {
			/* Sending the same bytes again answers with this receipt. */
			exchange_respond_error(p->ex, 503, HTTP_ERROR_NOT_REPLICATED, detail);
		} else {
			respond_receipt(p->ex, p->item.existed ? 200 : 201, p->item.receipt,
			                p->item.receipt_der, p->item.receipt_len);
			p->item.receipt_der = NULL; /* owned by the response now */
		}
		pending_free(p);
	}
	free(c);
}

static void commit_after_cb(uv_work_t *work, int status)
{
	struct intake_handler *h = work->data;
	int rc = status < 0 ? status : h->batch_rc;
	if (rc < 0)
		log_error("intake: commit of %zu applications failed: %s", h->batch_len,
		          strerror(-rc));
	struct committed *c = rc < 0 ? NULL : calloc(1, sizeof *c);
	if (rc == 0 && !c) {
		rc = -ENOMEM;
		log_error("intake: out of memory after a commit; its receipts are in the store");
	}
	for (size_t i = h->batch_len; i-- > 0;) {
		struct intake_pending *p = (struct intake_pending *)h->batch[i];
		if (rc < 0) {
			exchange_add_header(p->ex, "Retry-After", "1");
			exchange_respond_error(p->ex, 503, HTTP_ERROR_NOT_STORED,
			                       "the application could not be stored; retry");
			pending_free(p);
		} else {
			p->next = c->items;
			c->items = p;
		}
	}
	if (c) {
		c->h = h;
		sync_gate_wait(h->gate, committed_cb, c);
	}
	h->batch_len = 0;
	h->busy = false;
	start_batch(h);
}

static void start_batch(struct intake_handler *h)
{
	if (h->busy || !h->head)
		return;
	h->batch_len = 0;
	while (h->batch_len < h->batch_max && h->head) {
		struct intake_pending *p = h->head;
		h->head = p->next;
		h->batch[h->batch_len++] = &p->item;
		h->queued--;
	}
	if (!h->head)
		h->tail = NULL;
	h->busy = true;
	h->work.data = h;
	int rc = uv_queue_work(h->loop, &h->work, commit_work_cb, commit_after_cb);
	if (rc < 0) /* per libuv, the callbacks will not run: answer now */
		commit_after_cb(&h->work, rc);
}

/* --- POST /v1/intake -------------------------------------------------------------- */

static void respond_json(struct exchange *ex, int status, struct buf *b)
{
	if (b->failed) {
		buf_free(b);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	size_t len;
	uint8_t *body = buf_steal(b, &len);
	exchange_respond_owned(ex, status, "application/json", body, len);
}

struct known {
	struct intake_handler *h;
	struct exchange *ex;
	uint64_t receipt;
	uint8_t *der;
	size_t len;
};

static void known_cb(void *arg, int rc, unsigned acked, unsigned wanted)
{
	struct known *k = arg;
	if (rc == 0) {
		respond_receipt(k->ex, 200, k->receipt, k->der, k->len);
	} else {
		char detail[300];
		sync_gate_describe(rc, acked, wanted, sync_gate_timeout_ms(k->h->gate), detail,
		                   sizeof detail);
		exchange_respond_error(k->ex, 503, HTTP_ERROR_NOT_REPLICATED, detail);
		free(k->der);
	}
	free(k);
}

/* Answers from the store if these bytes were accepted before. Returns true if
 * it answered. */
static bool answer_if_known(struct intake_handler *h, struct exchange *ex, const uint8_t *digest)
{
	struct store_txn *txn;
	if (store_txn_begin(h->store, false, &txn) < 0)
		return false; /* the commit job will find it */
	uint64_t receipt;
	struct store_intake rec;
	bool known = store_intake_find(txn, digest, &receipt) == 0 &&
	             store_intake_get(txn, receipt, &rec) == 0;
	uint8_t *der = NULL;
	if (known && (der = malloc(rec.receipt_der.len ? rec.receipt_der.len : 1)))
		memcpy(der, rec.receipt_der.data, rec.receipt_der.len);
	size_t len = known ? rec.receipt_der.len : 0;
	store_txn_abort(txn);
	struct known *k = der ? calloc(1, sizeof *k) : NULL;
	if (!k) {
		free(der);
		return false;
	}
	/* An earlier answer may have been not_replicated: this one waits too. */
	*k = (struct known){.h = h, .ex = ex, .receipt = receipt, .der = der, .len = len};
	sync_gate_wait(h->gate, known_cb, k);
	return true;
}

static void intake_on_post(struct handler *self, struct exchange *ex)
{
	struct intake_handler *h = (struct intake_handler *)self;
	const struct http_request *req = exchange_request(ex);
	struct verify_body submission;
	if (replication_refuse_if_fenced(h->env, ex))
		return;
	if (!verify_read_body(ex, "POST a DER CMS SignedData", &submission))
		return;
	int64_t now = (int64_t)time(NULL);
	struct verify_result r;
	const char *detail;
	int rc = verify_submission(h->store, h->cas, submission.cms, submission.cms_len,
	                           submission.detached, submission.detached_len, now, &r, &detail);
	metric_add(h->public_key_operations, r.public_key_operations);
	if (rc == -EINVAL || rc == -ENOTSUP || rc == -E2BIG) {
		exchange_respond_error(ex, rc == -E2BIG ? 413 : 400,
		                       rc == -E2BIG ? HTTP_ERROR_PAYLOAD_TOO_LARGE
		                                    : HTTP_ERROR_MALFORMED_BODY,
		                       detail);
		return;
	}
	if (rc < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store could not be read");
		return;
	}
	if (!r.is_cms) {
		exchange_respond_error(ex, 400, HTTP_ERROR_NOT_SIGNED,
		                       "intake takes CMS SignedData only");
		return;
	}
	struct buf result = {0};
	verify_result_json(&r, &result);
	if (!r.valid) { /* nothing is stored for an invalid application */
		respond_json(ex, 422, &result);
		return;
	}
	uint8_t digest[32];
	pki_sha256(req->body, req->body_len, digest);
	if (answer_if_known(h, ex, digest)) {
		buf_free(&result);
		return;
	}
	if (h->queued >= h->queue_max) {
		buf_free(&result);
		exchange_add_header(ex, "Retry-After", "1");
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "intake queue is full; retry");
		return;
	}
	struct intake_pending *p = calloc(1, sizeof *p);
	if (!p || result.failed) {
		free(p);
		buf_free(&result);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	p->ex = ex;
	p->item.original = req->body;
	p->item.original_len = req->body_len;
	p->item.cms_len = submission.cms_len;
	p->item.issuer_id = r.issuer_id;
	memcpy(p->item.digest, digest, sizeof digest);
	p->item.received_at = now;
	p->item.result_json = buf_steal(&result, &p->item.result_len);
	if (h->tail)
		h->tail->next = p;
	else
		h->head = p;
	h->tail = p;
	h->queued++;
	start_batch(h);
}

/* --- GET /v1/intake/{receipt} ---------------------------------------------------- */

static int parse_receipt(const char *text, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(text[i] - '0');
	}
	if (n == 0)
		return -EINVAL;
	*out = n;
	return 0;
}

static bool accepts_cms(struct exchange *ex)
{
	size_t len;
	const char *accept = exchange_header(ex, "Accept", &len);
	return accept && memmem(accept, len, "application/cms", 15) != NULL;
}

static void intake_on_get(struct handler *self, struct exchange *ex)
{
	struct intake_handler *h =
	        (struct intake_handler *)((char *)self - offsetof(struct intake_handler, get));
	const struct http_request *req = exchange_request(ex);
	static const char prefix[] = "/v1/intake/";
	uint64_t number;
	if (req->path_len <= sizeof prefix - 1 ||
	    parse_receipt(req->path + sizeof prefix - 1, req->path_len - (sizeof prefix - 1),
	                  &number) < 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_RECEIPT,
		                       "a receipt number is 1, 2, 3, ...");
		return;
	}
	struct store_txn *txn;
	if (store_txn_begin(h->store, false, &txn) < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store could not be read");
		return;
	}
	struct store_intake rec;
	int rc = store_intake_get(txn, number, &rec);
	if (rc < 0) {
		store_txn_abort(txn);
		if (rc == -ENOENT)
			exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND, "no such receipt");
		else
			exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
			                       "the store could not be read");
		return;
	}
	if (accepts_cms(ex)) {
		uint8_t *der = malloc(rec.receipt_der.len ? rec.receipt_der.len : 1);
		if (der)
			memcpy(der, rec.receipt_der.data, rec.receipt_der.len);
		size_t len = rec.receipt_der.len;
		store_txn_abort(txn);
		if (!der)
			exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		else
			respond_receipt(ex, 200, number, der, len);
		return;
	}
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_uint(&j, "receipt", number);
	json_string(&j, "state", "accepted");
	json_time(&j, "received_at", rec.received_at);
	json_hex(&j, "sha256", rec.digest, sizeof rec.digest);
	json_uint(&j, "size", rec.original.len);
	const struct store_intake_evidence *ev = &rec.evidence;
	if (rec.version >= 2) {
		/* what `kensho intake export` writes out (docs/intake.md) */
		json_object_begin(&j, "evidence");
		json_uint(&j, "chain_bytes", ev->chain.len);
		json_uint(&j, "ocsp_bytes", ev->ocsp.len);
		json_uint(&j, "crl_number", ev->crl_number);
		json_uint(&j, "timestamp_bytes", ev->timestamp.len);
		json_object_end(&j);
	}
	char *b64 = malloc(4 * ((rec.receipt_der.len + 2) / 3) + 1);
	if (b64) {
		base64_encode(rec.receipt_der.data, rec.receipt_der.len, b64);
		json_string(&j, "receipt_cms", b64);
		free(b64);
	} else {
		b.failed = -ENOMEM;
	}
	json_object_end(&j);
	/* The stored result is JSON from verify_result_json: spliced in last. */
	if (!b.failed && rec.result.len > 0) {
		b.len--;
		buf_append_str(&b, ",\"result\":");
		buf_append(&b, rec.result.data, rec.result.len);
		buf_append_str(&b, "}");
	}
	store_txn_abort(txn);
	respond_json(ex, 200, &b);
}

static void intake_dispose(void *context);

/* The sources of the evidence of receipt: the OCSP responders (as the OCSP
 * family loads them; an issuer without one is left out with a warning) and
 * the time-stamping unit. A data directory made before kensho had a unit
 * still takes applications, stored without a token, and says so. */
static int evidence_open(struct intake_handler *h, const struct handler_env *env)
{
	struct ocsp_responder_options opts = {.responder_id = OCSP_RESPONDER_BY_KEY};
	if (strcmp(config_get(env->config, "ocsp.responder_id", "by-key"), "by-name") == 0)
		opts.responder_id = OCSP_RESPONDER_BY_NAME;
	opts.validity_seconds = config_get_ms(env->config, "ocsp.validity", 3600 * 1000) / 1000;
	h->evidence.store = env->store;
	h->evidence.tsa_policy = config_get(env->config, "tsa.policy", TSA_DEFAULT_POLICY);
	int rc = ocsp_responder_set_open_available(env->data_dir, env->store, &opts,
	                                           &h->evidence.ocsp);
	if (rc < 0) {
		log_error("intake: cannot load the OCSP responders in %s/ca: %s", env->data_dir,
		          strerror(-rc));
		return rc;
	}
	rc = tsa_unit_load(env->data_dir, &h->evidence.tsa);
	if (rc == -ENOENT) {
		log_warn("intake: %s/ca has no time-stamping unit: applications are stored "
		         "without a timestamp token. `kensho --data %s ca tsa-init` creates it; "
		         "then restart kenshod",
		         env->data_dir, env->data_dir);
		rc = 0;
	} else if (rc < 0) {
		log_error("intake: cannot load the time-stamping unit in %s/ca: %s%s",
		          env->data_dir, strerror(-rc),
		          rc == -EPERM ? " (the key must be mode 0600)" : "");
	}
	return rc;
}

static int intake_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct verify_key_limits limits;
	int rc = verify_key_limits_from_config(env->config, &limits);
	if (rc < 0)
		return rc;
	struct intake_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->post.name = "intake";
	h->post.on_request = intake_on_post;
	h->get.name = "intake";
	h->get.on_request = intake_on_get;
	h->loop = env->loop;
	h->env = env;
	h->store = env->store;
	h->allow_plain = config_get_bool(env->config, "intake.allow_plain", false);
	h->queue_max = (size_t)config_get_int(env->config, "intake.queue_max", 1024);
	h->batch_max = (size_t)config_get_int(env->config, "intake.batch_max", 64);
	if (h->batch_max < 1)
		h->batch_max = 1;
	h->cas = verify_ca_cache_new(&limits);
	h->public_key_operations = verify_operations_metric("intake");
	h->batch = calloc(h->batch_max, sizeof *h->batch);
	if (!h->cas || !h->batch) {
		intake_dispose(h);
		return -ENOMEM;
	}
	rc = receipt_signer_open(env->data_dir, &h->signer);
	if (rc < 0) {
		log_error("intake: cannot open the receipt key in %s/ca: %s", env->data_dir,
		          strerror(-rc));
		intake_dispose(h);
		return rc;
	}
	if ((rc = evidence_open(h, env)) < 0) {
		intake_dispose(h);
		return rc;
	}
	/* Role intake (handlers/roles.h): TLS callers need it from the policy;
	 * plain callers hold it only while intake.allow_plain is true. */
	rc = router_add(r, "/v1/intake", HTTP_METHOD_POST, PEER_ROLE_INTAKE, &h->post);
	if (rc == 0)
		rc = router_add(r, "/v1/intake/", HTTP_METHOD_GET | HTTP_METHOD_HEAD,
		                PEER_ROLE_INTAKE, &h->get);
	/* Last: its timer is a handle, which only the loop can close. */
	if (rc == 0)
		rc = sync_gate_new(env->loop, env->store, env->config, &h->gate);
	if (rc < 0) {
		intake_dispose(h);
		return rc;
	}
	*context = h;
	return 0;
}

/* Receipts waiting for replicas are answered not_replicated: the worker drains. */
static void intake_context_dispose(void *context)
{
	sync_gate_close(((struct intake_handler *)context)->gate);
}

static void intake_dispose(void *context)
{
	struct intake_handler *h = context;
	sync_gate_free(h->gate);
	/* The loop has ended, so every batch has been committed and answered
	 * and the queue is empty; anything left has no one to answer. */
	while (h->head) {
		struct intake_pending *p = h->head;
		h->head = p->next;
		pending_free(p);
	}
	receipt_signer_free(h->signer);
	ocsp_responder_set_free(h->evidence.ocsp);
	pki_signer_free(h->evidence.tsa);
	verify_ca_cache_free(h->cas);
	free(h->batch);
	free(h);
}

const struct handler_family intake_family = {
        .name = "intake",
        .on_context_init = intake_context_init,
        .on_context_dispose = intake_context_dispose,
        .dispose = intake_dispose,
};
