/* The OCSP responder endpoint: POST /ocsp and GET /ocsp/{base64 request}
 * (RFC 6960 Appendix A, RFC 5019 profile for GET).
 *
 * Fast path (the common case): one CertID, no nonce, a cached response in
 * the store that is fresh and names the same CertID: one read transaction on
 * the loop thread, a copy, the answer. Everything else (a miss, a stale
 * entry, a nonce, several CertIDs) is signed on the handler's own threads
 * (core/offload.h, not libuv's pool: a finished signature reaches the loop
 * without making it spin), with at most `ocsp.max_inflight_signs` signings
 * queued or running; beyond that the answer is tryLater (RFC 6960 §4.2.1)
 * instead of an unbounded queue.
 *
 * Looking up, choosing the answer, signing and caching are the OCSP
 * service's (ocsp/service.h), which also keeps DESIGN rule 1 (never good
 * after a revocation); this file parses, calls it and writes the answer. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/conditional.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/offload.h"
#include "core/reload.h"
#include "handlers/handlers.h"
#include "handlers/ocsp.h"
#include "ocsp/refresher.h"
#include "ocsp/service.h"
#include "storage/store.h"
#include "pki/ocsp_codec.h"

#define OCSP_CONTENT_TYPE  "application/ocsp-response"
#define DEFAULT_VALIDITY_S 3600
#define DEFAULT_INFLIGHT   32
/* The refresher's pace: about two fifths of one core's RSA-2048 signatures on
 * the reference machine, so live signing keeps the rest (docs/ocsp.md). */
#define DEFAULT_REFRESH_RATE  200
#define DEFAULT_REFRESH_BATCH 64
/* one certificate per signed answer: the only size every client checked in
 * docs/ocsp.md accepts (Go's ocsp.ParseResponse refuses more) */
#define DEFAULT_OCSP_BATCH 1
/* A crashed holder's lease lapses after this; renewed every third of it. */
#define REFRESH_LEASE_TTL_S 30

struct sign_job;

/* One loaded set of responder keys. The handler holds a reference to the
 * current one and every signing job to the one it signs with, so a reload
 * (SIGHUP, POST /v1/admin/reload) never frees keys a job is using. */
struct responder_gen {
	struct ocsp_responder_set *set;
	unsigned refs;
};

struct ocsp_handler {
	struct handler super;
	const struct handler_env *env;
	struct ocsp_responder_set *responders; /* gen->set */
	struct responder_gen *gen;
	struct ocsp_responder_options opts; /* to reload with */
	unsigned max_inflight;
	unsigned inflight;          /* signing jobs queued or running */
	struct offload *signers;    /* the threads live signatures are made on */
	bool disposing;             /* close the signers when the last job is done */
	int64_t refresh_margin;     /* re-sign a cached response this long before nextUpdate */
	struct sign_job *scratch;   /* decoding space for the loop thread's fast path */
	struct metric *answered[8]; /* by enum answer_kind */
	struct metric *inflight_gauge;
	/* worker 0 only: the refresher competing for the store's lease */
	struct ocsp_refresher *refresher;
	struct ocsp_refresher_config refresh_cfg;
	struct metric *refresh_signed, *refresh_lease, *refresh_oldest;
	uint64_t refresh_reported; /* signatures already added to refresh_signed */
	/* the store-wide signature counts, read at each scrape */
	struct signature_series {
		struct store *store;
		enum store_signature_purpose purpose;
	} signature_series[STORE_SIGNATURE_PURPOSES];
	struct metric *batch_gauge;
	/* a replica (replication.primary set): past max_lag it answers tryLater */
	int64_t replica_max_lag_ms;  /* 0: not a replica */
	uint64_t replica_checked_at; /* uv_now of the last look at the replica's state */
	bool replica_stale;
};

/* Rule 1 (docs/architecture.md) on a replica: one that may be behind its
 * primary by more than replication.max_lag might still hold an answer its
 * primary has revoked, so it stops answering from its store (tryLater) —
 * also to callers that reach it past the load balancer. The state is read
 * from the store at most every REPLICA_CHECK_MS. */
#define REPLICA_CHECK_MS 100

static bool replica_stale(struct ocsp_handler *h)
{
	if (!h->replica_max_lag_ms)
		return false;
	uint64_t now = uv_now(h->env->loop);
	if (h->replica_checked_at && now - h->replica_checked_at < REPLICA_CHECK_MS)
		return h->replica_stale;
	h->replica_checked_at = now;
	struct store_txn *txn;
	struct store_replica_state st;
	int rc = store_txn_begin(h->env->store, false, &txn);
	if (rc == 0) {
		rc = store_replica_state_get(txn, &st);
		store_txn_abort(txn);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	h->replica_stale =
	        rc != 0 || st.need_snapshot || wall_ms - st.caught_up_ms > h->replica_max_lag_ms;
	return h->replica_stale;
}

/* How a request was answered, for /metrics. */
enum answer_kind {
	ANSWER_CACHED,
	ANSWER_SIGNED,
	ANSWER_NOT_MODIFIED,
	ANSWER_MALFORMED,
	ANSWER_UNAUTHORIZED,
	ANSWER_TRY_LATER,
	ANSWER_INTERNAL_ERROR,
};

static const char *const answer_labels[] = {
        "answer=\"cached\"",         "answer=\"signed\"",       "answer=\"not-modified\"",
        "answer=\"malformed\"",      "answer=\"unauthorized\"", "answer=\"try-later\"",
        "answer=\"internal-error\"",
};

struct sign_job {
	struct offload_job job;
	struct ocsp_handler *handler;
	struct exchange *exchange;
	struct responder_gen *gen; /* keeps the query's responder alive */
	bool is_get;
	struct ocsp_query query;
	struct ocsp_signed out;
	int error;
};

/* --- answering ------------------------------------------------------------------ */

static void count(struct ocsp_handler *h, enum answer_kind kind)
{
	metric_add(h->answered[kind], 1);
}

static void respond_status(struct ocsp_handler *h, struct exchange *ex,
                           enum ocsp_response_status status)
{
	count(h, status == OCSP_STATUS_MALFORMED_REQUEST ? ANSWER_MALFORMED
	         : status == OCSP_STATUS_UNAUTHORIZED    ? ANSWER_UNAUTHORIZED
	         : status == OCSP_STATUS_TRY_LATER       ? ANSWER_TRY_LATER
	                                                 : ANSWER_INTERNAL_ERROR);
	size_t len;
	const uint8_t *der = ocsp_status_response(status, &len);
	exchange_respond(ex, 200, OCSP_CONTENT_TYPE, der, len);
}

/* A caller without the relying-party role gets the protocol's own refusal,
 * RFC 6960 §2.3 "unauthorized", not an HTTP error an OCSP client cannot read. */
static void ocsp_on_forbidden(struct handler *self, struct exchange *ex, const char *detail)
{
	(void)detail;
	respond_status((struct ocsp_handler *)self, ex, OCSP_STATUS_UNAUTHORIZED);
}

/* Appends text to out at *at (the caller sized out for the worst case). */
static void put(char *out, size_t *at, const char *text, size_t len)
{
	memcpy(out + *at, text, len);
	*at += len;
}

/* Sends a signed response. A successful GET for one CertID without a nonce
 * gets the RFC 5019 §6.2 caching headers and honours conditional requests;
 * POST and nonce responses are for one client only and carry no-store. The
 * body is copied unless `owned` (then it is handed over).
 *
 * Never good after a revocation (DESIGN rule 1) holds for conditional GETs
 * too: the ETag names the record's version, so If-None-Match is exact. A
 * date has one-second resolution, and a good answer and the revoked one
 * that replaced it may carry the same thisUpdate; so If-Modified-Since may
 * answer 304 only for a good or unknown answer (a status that cannot have
 * improved: revocation is final), never for a revoked one. */
static void respond_signed(struct ocsp_handler *h, struct exchange *ex, bool is_get, bool cacheable,
                           int64_t now, uint32_t issuer_id, const struct store_serial *serial,
                           uint64_t version, bool revoked, uint8_t *der, size_t len,
                           int64_t this_update, int64_t next_update, bool owned)
{
	if (!(is_get && cacheable)) {
		exchange_add_header(ex, "Cache-Control", "no-store");
		goto send;
	}
	/* Built without printf: this runs for every cached answer. */
	static const char directives[] = ", public, no-transform, must-revalidate";
	char value[128], last_modified[HTTP_DATE_SIZE], expires[HTTP_DATE_SIZE];
	size_t value_len = 0;
	int64_t max_age = next_update > now ? next_update - now : 0;
	put(value, &value_len, "max-age=", 8);
	value_len += decimal_encode((uint64_t)max_age, value + value_len);
	put(value, &value_len, directives, sizeof(directives) - 1);
	/* A date out of range formats as "" (never, for times kensho signs). */
	size_t last_modified_len =
	        http_date_format(this_update, last_modified) ? 0 : HTTP_DATE_SIZE - 1;
	size_t expires_len = http_date_format(next_update, expires) ? 0 : HTTP_DATE_SIZE - 1;
	/* The response's identity: issuer, serial, record version and signing
	 * time name one signed answer: "issuer-serial-version-thisUpdate" in hex. */
	char etag[3 * 17 + 2 * STORE_SERIAL_MAX + 8];
	size_t etag_len = 0;
	put(etag, &etag_len, "\"", 1);
	etag_len += hex_encode_uint(issuer_id, etag + etag_len);
	put(etag, &etag_len, "-", 1);
	etag_len += store_serial_to_hex(serial, etag + etag_len);
	put(etag, &etag_len, "-", 1);
	etag_len += hex_encode_uint(version, etag + etag_len);
	put(etag, &etag_len, "-", 1);
	etag_len += hex_encode_uint((uint64_t)this_update, etag + etag_len);
	put(etag, &etag_len, "\"", 2); /* with its NUL */
	etag_len--;
	exchange_add_composed_header(ex, "Cache-Control", 13, value, value_len);
	exchange_add_composed_header(ex, "Last-Modified", 13, last_modified, last_modified_len);
	exchange_add_composed_header(ex, "Expires", 7, expires, expires_len);
	exchange_add_composed_header(ex, "ETag", 4, etag, etag_len);

	/* "If-None-Match: *" never yields 304 (core/conditional.h): the answer
	 * to "is it still good?" comes from the current record. */
	struct conditional_validators v = {etag, this_update, !revoked};
	if (conditional_check(ex, &v)) {
		count(h, ANSWER_NOT_MODIFIED);
		if (owned)
			free(der);
		exchange_respond(ex, 304, NULL, NULL, 0);
		return;
	}
send:
	count(h, owned ? ANSWER_SIGNED : ANSWER_CACHED);
	if (owned)
		exchange_respond_owned(ex, 200, OCSP_CONTENT_TYPE, der, len);
	else
		exchange_respond(ex, 200, OCSP_CONTENT_TYPE, der, len);
}

/* --- signing on the handler's threads ------------------------------------------------------ */

static struct sign_job *sign_job_of(struct offload_job *oj)
{
	return (struct sign_job *)((char *)oj - offsetof(struct sign_job, job));
}

static void sign_work_cb(struct offload_job *oj)
{
	struct sign_job *job = sign_job_of(oj);
	job->error = ocsp_service_sign(job->gen->set, &job->query, &job->out);
}

static void gen_unref(struct responder_gen *gen)
{
	if (--gen->refs > 0)
		return;
	ocsp_responder_set_free(gen->set);
	free(gen);
}

static void signers_close(struct ocsp_handler *h)
{
	offload_close(h->signers);
	h->signers = NULL;
}

static void sign_done_cb(struct offload_job *oj)
{
	struct sign_job *job = sign_job_of(oj);
	struct ocsp_handler *h = job->handler;
	h->inflight--;
	struct responder_gen *gen = job->gen;
	metric_set(h->inflight_gauge, h->inflight);
	if (job->error) {
		if (job->error != -EAGAIN)
			log_warn("ocsp: signing failed: %s", strerror(-job->error));
		free(job->out.der);
		respond_status(job->handler, job->exchange,
		               job->error == -EAGAIN ? OCSP_STATUS_TRY_LATER
		                                     : OCSP_STATUS_INTERNAL_ERROR);
	} else {
		const struct ocsp_query *q = &job->query;
		/* Validators name one record: only a one-CertID answer may be
		 * revalidated (a second certificate's revocation would not change
		 * the first one's ETag). */
		bool cacheable = !q->request.has_nonce && q->request.count == 1;
		respond_signed(job->handler, job->exchange, job->is_get, cacheable,
		               (int64_t)time(NULL), q->issuer_id, &q->records[0].serial,
		               q->records[0].version, q->records[0].status == OCSP_CERT_REVOKED,
		               job->out.der, job->out.len, job->out.this_update,
		               job->out.next_update, true);
	}
	free(job);
	gen_unref(gen);
	if (h->disposing && h->inflight == 0)
		signers_close(h);
}

/* --- the request ------------------------------------------------------------------------------ */

/* The request DER: the POST body, or the GET path after "/ocsp/". */
static int request_bytes(const struct http_request *rq, uint8_t *buf, size_t cap,
                         const uint8_t **der, size_t *len)
{
	if (rq->method == HTTP_METHOD_POST) {
		if (!rq->body || rq->body_len == 0 || rq->body_len > cap)
			return -EINVAL;
		*der = rq->body;
		*len = rq->body_len;
		return 0;
	}
	static const char prefix[] = "/ocsp/";
	if (rq->path_len <= sizeof(prefix) - 1)
		return -EINVAL;
	int n = ocsp_get_path_decode(rq->path + sizeof(prefix) - 1,
	                             rq->path_len - (sizeof(prefix) - 1), buf, cap);
	if (n <= 0)
		return -EINVAL;
	*der = buf;
	*len = (size_t)n;
	return 0;
}

/* Where a cache hit is written: the exchange, inside the lookup's read
 * transaction (respond_signed copies the bytes before it ends). */
struct hit_target {
	struct ocsp_handler *handler;
	struct exchange *exchange;
	bool is_get;
	int64_t now;
};

static void respond_cached_cb(const struct ocsp_query *q, const struct ocsp_cached *hit, void *arg)
{
	struct hit_target *t = arg;
	respond_signed(t->handler, t->exchange, t->is_get, true, t->now, q->issuer_id,
	               &q->records[0].serial, q->records[0].version,
	               q->records[0].status == OCSP_CERT_REVOKED, (uint8_t *)hit->der, hit->len,
	               hit->this_update, hit->next_update, false);
}

static void ocsp_on_request(struct handler *self, struct exchange *ex)
{
	struct ocsp_handler *h = (struct ocsp_handler *)self;
	const struct http_request *rq = exchange_request(ex);
	bool is_get = rq->method != HTTP_METHOD_POST;

	/* Decode into the handler's scratch job (one loop thread per process);
	 * only a request that must be signed gets its own copy. */
	struct sign_job *job = h->scratch;
	uint8_t get_buf[OCSP_REQUEST_MAX];
	const uint8_t *der;
	size_t len;
	if (request_bytes(rq, get_buf, sizeof(get_buf), &der, &len) ||
	    ocsp_request_decode(der, len, &job->query.request)) {
		respond_status(h, ex, OCSP_STATUS_MALFORMED_REQUEST);
		return;
	}
	if (replica_stale(h)) {
		respond_status(h, ex, OCSP_STATUS_TRY_LATER);
		return;
	}
	struct hit_target hit = {h, ex, is_get, (int64_t)time(NULL)};
	int err = ocsp_service_lookup(h->responders, &job->query, hit.now, h->refresh_margin,
	                              respond_cached_cb, &hit);
	if (err == -ENXIO) {
		respond_status(h, ex, OCSP_STATUS_UNAUTHORIZED); /* not an issuer of ours */
		return;
	}
	if (err < 0) {
		log_warn("ocsp: status lookup failed: %s", strerror(-err));
		respond_status(h, ex, OCSP_STATUS_INTERNAL_ERROR);
		return;
	}
	if (err == 1)
		return; /* answered from the cache */

	if (exchange_is_cancelled(ex) || h->inflight >= h->max_inflight || !h->signers) {
		respond_status(h, ex, OCSP_STATUS_TRY_LATER); /* shed load, RFC 6960 §2.3 */
		return;
	}
	job = malloc(sizeof(*job));
	if (!job) {
		respond_status(h, ex, OCSP_STATUS_INTERNAL_ERROR);
		return;
	}
	memcpy(job, h->scratch, sizeof(*job));
	job->job.work = sign_work_cb;
	job->job.done = sign_done_cb;
	job->handler = h;
	job->exchange = ex;
	job->gen = h->gen;
	job->is_get = is_get;
	job->out.der = NULL;
	job->error = 0;
	offload_submit(h->signers, &job->job);
	h->gen->refs++;
	h->inflight++;
	metric_set(h->inflight_gauge, h->inflight);
}

/* --- set-up -------------------------------------------------------------------------------------
 */

/* On the refresher's thread, its only writer: these series are this
 * worker's slots. */
static void refresh_report(void *arg, const struct ocsp_refresher_stats *st)
{
	struct ocsp_handler *h = arg;
	uint64_t n = atomic_load(&st->signatures);
	metric_add(h->refresh_signed, (double)(n - h->refresh_reported));
	h->refresh_reported = n;
	metric_set(h->refresh_lease, atomic_load(&st->lease));
	metric_set(h->refresh_oldest, (double)atomic_load(&st->oldest_due_age));
}

/* A store-wide signature count for /metrics: every process that opens the
 * store adds to it (storage/counters.c), so a scrape of any worker shows
 * the same figure. */
static double signatures_read(void *arg)
{
	const struct signature_series *series = arg;
	uint64_t counts[STORE_SIGNATURE_PURPOSES];
	store_signatures_read(series->store, counts);
	return (double)counts[series->purpose];
}

/* The number of certificates one pre-signed answer covers (`ocsp.batch`,
 * RFC 6960 §4.2.2.3): the one place /metrics reads it; 1 while the key is
 * unset or unknown. */
static int64_t configured_batch(const struct config *c)
{
	int64_t batch = config_get_int(c, "ocsp.batch", 1);
	return batch > 0 ? batch : 1;
}

/* The series every worker registers so any scrape has them. */
static void visibility_metrics_register(struct ocsp_handler *h, const struct config *c)
{
	for (unsigned p = 0; p < STORE_SIGNATURE_PURPOSES; p++) {
		char labels[48];
		snprintf(labels, sizeof(labels), "purpose=\"%s\"", store_signature_purpose_name(p));
		h->signature_series[p] = (struct signature_series){h->env->store, p};
		metrics_counter_read("kensho_ocsp_signatures_total", labels,
		                     "OCSP signatures made by every process on this store, by "
		                     "purpose: live (at request time), refresh, issuance "
		                     "(issuance, revocation, gen, import, presign)",
		                     signatures_read, &h->signature_series[p]);
	}
	h->batch_gauge = metrics_gauge_merged("kensho_ocsp_batch_size", NULL,
	                                      "certificates covered by one pre-signed OCSP "
	                                      "answer (ocsp.batch)",
	                                      METRICS_MERGE_MAX);
	metric_set(h->batch_gauge, (double)configured_batch(c));
}

/* Starts a refresher over the current responder set (worker 0 only). */
static int refresher_start(struct ocsp_handler *h)
{
	if (h->refresh_cfg.rate <= 0)
		return 0;
	h->refresh_reported = 0;
	int err = ocsp_refresher_new(h->responders, &h->refresh_cfg, &h->refresher);
	if (!err)
		err = ocsp_refresher_start(h->refresher);
	if (err) {
		log_error("ocsp: cannot start the refresher: %s", strerror(-err));
		ocsp_refresher_free(h->refresher);
		h->refresher = NULL;
	}
	return err;
}

/* Joins the refresher: at most one batch of signing is waited for. */
static void refresher_stop(struct ocsp_handler *h)
{
	ocsp_refresher_free(h->refresher);
	h->refresher = NULL;
}

/* The "ocsp" reload hook: re-reads the responder keys and certificates. A
 * set that fails to load leaves the current one in force. */
static void ocsp_reload_cb(void *arg)
{
	struct ocsp_handler *h = arg;
	struct responder_gen *gen = calloc(1, sizeof(*gen));
	int err =
	        gen ? ocsp_responder_set_open(h->env->data_dir, h->env->store, &h->opts, &gen->set)
	            : -ENOMEM;
	if (err) {
		free(gen);
		char why[160];
		snprintf(why, sizeof(why), "responder keys in %s/ca: %s", h->env->data_dir,
		         strerror(-err));
		log_error("ocsp: reload refused, the previous responder keys stay in force: %s",
		          why);
		reload_note_failure("ocsp", why);
		return;
	}
	gen->refs = 1;
	bool refreshing = h->refresher != NULL;
	refresher_stop(h); /* it signs with the old keys until it is joined */
	struct responder_gen *old = h->gen;
	h->gen = gen;
	h->responders = gen->set;
	gen_unref(old);
	if (refreshing)
		refresher_start(h);
	log_info("ocsp: reloaded the responder keys");
}

static int ocsp_context_init(struct router *r, const struct handler_env *env, void **context)
{
	const struct config *c = env->config;
	struct ocsp_responder_options opts = {.responder_id = OCSP_RESPONDER_BY_KEY};
	const char *rid = config_get(c, "ocsp.responder_id", "by-key");
	if (strcmp(rid, "by-name") == 0)
		opts.responder_id = OCSP_RESPONDER_BY_NAME;
	else if (strcmp(rid, "by-key") != 0) {
		log_error("ocsp.responder_id must be by-key or by-name, not \"%s\"", rid);
		return -EINVAL;
	}
	const char *key_type = config_get(c, "ocsp.key_type", "");
	if (strcmp(key_type, "rsa") == 0)
		opts.key_type = OCSP_KEY_RSA;
	else if (strcmp(key_type, "ecdsa") == 0)
		opts.key_type = OCSP_KEY_ECDSA;
	else if (*key_type) {
		log_error("ocsp.key_type must be rsa or ecdsa, not \"%s\"", key_type);
		return -EINVAL;
	}
	int64_t validity_ms = config_get_ms(c, "ocsp.validity", DEFAULT_VALIDITY_S * 1000);
	int64_t max_inflight = config_get_int(c, "ocsp.max_inflight_signs", DEFAULT_INFLIGHT);
	if (validity_ms < 60000 || max_inflight < 0 || max_inflight > 1000000) {
		log_error("ocsp.validity must be at least 1m and ocsp.max_inflight_signs within "
		          "0..1000000");
		return -EINVAL;
	}
	opts.validity_seconds = validity_ms / 1000;
	opts.cached_only = config_get_bool(c, "ocsp.cached_only", false);

	struct ocsp_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->super.name = "ocsp";
	const char *primary = config_get(c, "replication.primary", NULL);
	if (primary && *primary && env->store)
		h->replica_max_lag_ms = config_get_ms(c, "replication.max_lag", 30000);
	h->super.on_request = ocsp_on_request;
	h->super.on_forbidden = ocsp_on_forbidden;
	h->env = env;
	h->max_inflight = (unsigned)max_inflight;
	h->refresh_margin = config_get_ms(c, "ocsp.refresh_before", validity_ms / 4) / 1000;
	h->opts = opts;
	h->gen = calloc(1, sizeof(*h->gen));
	h->scratch = malloc(sizeof(*h->scratch));
	for (int k = ANSWER_CACHED; k <= ANSWER_INTERNAL_ERROR; k++)
		h->answered[k] = metrics_counter("kensho_ocsp_answers_total", answer_labels[k],
		                                 "OCSP requests by how they were answered");
	h->inflight_gauge = metrics_gauge("kensho_ocsp_signs_inflight", NULL,
	                                  "live OCSP signings queued or running");
	visibility_metrics_register(h, c);
	int err = h->scratch && h->gen ? ocsp_responder_set_open(env->data_dir, env->store, &opts,
	                                                         &h->responders)
	                               : -ENOMEM;
	if (!err) {
		h->gen->set = h->responders;
		h->gen->refs = 1;
		err = reload_register("ocsp", ocsp_reload_cb, h);
	}
	if (!err) {
		/* As many as the cores, up to libuv's pool's 4, which signed before. */
		unsigned threads = uv_available_parallelism();
		err = offload_open(env->loop, threads > 4 ? 4 : threads ? threads : 1, &h->signers);
		if (err)
			log_error("ocsp: cannot start the signing threads: %s", strerror(-err));
	}
	if (!err && metrics_worker_index() == 0) {
		int64_t rate = config_get_int(c, "ocsp.refresh_rate", DEFAULT_REFRESH_RATE);
		int64_t batch = config_get_int(c, "ocsp.refresh_batch", DEFAULT_REFRESH_BATCH);
		uint64_t holder = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^
		                  ((uint64_t)(uintptr_t)h << 16);
		h->refresh_cfg = (struct ocsp_refresher_config){
		        .refresh_before = h->refresh_margin,
		        .batch = batch > 0 ? (size_t)batch : DEFAULT_REFRESH_BATCH,
		        .per_signature =
		                (size_t)config_get_int(c, "ocsp.batch", DEFAULT_OCSP_BATCH),
		        .rate = (double)rate,
		        .lease_ttl = REFRESH_LEASE_TTL_S,
		        .holder = holder ? holder : 1,
		        .report = refresh_report,
		        .report_arg = h,
		};
		h->refresh_signed = metrics_counter("kensho_ocsp_refresh_signatures_total", NULL,
		                                    "OCSP answers re-signed by the refresher");
		h->refresh_lease = metrics_gauge("kensho_ocsp_refresh_lease", NULL,
		                                 "1 on the worker whose refresher holds the lease");
		h->refresh_oldest = metrics_gauge_merged(
		        "kensho_ocsp_refresh_oldest_due_seconds", NULL,
		        "how long the oldest answer there is has been due for refresh (0: none due)",
		        METRICS_MERGE_MAX);
		err = refresher_start(h);
	}
	if (!err)
		err = router_add(r, "/ocsp", HTTP_METHOD_GET | HTTP_METHOD_POST,
		                 PEER_ROLE_RELYING_PARTY, &h->super);
	if (!err)
		err = router_add(r, "/ocsp/", HTTP_METHOD_GET | HTTP_METHOD_POST,
		                 PEER_ROLE_RELYING_PARTY, &h->super);
	if (err) {
		refresher_stop(h);
		signers_close(h);
		reload_unregister(ocsp_reload_cb, h);
		ocsp_responder_set_free(h->responders);
		free(h->gen);
		free(h->scratch);
		free(h);
		return err;
	}
	*context = h;
	return 0;
}

/* Signings in flight finish and answer, then the signing threads stop (a
 * request that needs a new signature meanwhile gets tryLater); the
 * refresher (worker 0) stops, releasing its lease for another process's
 * worker 0. */
static void ocsp_context_dispose(void *context)
{
	struct ocsp_handler *h = context;
	refresher_stop(h);
	h->disposing = true;
	if (h->inflight == 0)
		signers_close(h);
}

/* Every signing job has finished (each held a reference to its keys): the
 * handler's reference is the last one. */
static void ocsp_dispose(void *context)
{
	struct ocsp_handler *h = context;
	refresher_stop(h);
	reload_unregister(ocsp_reload_cb, h);
	gen_unref(h->gen);
	free(h->scratch);
	free(h);
}

const struct handler_family ocsp_family = {
        .name = "ocsp",
        .on_context_init = ocsp_context_init,
        .on_context_dispose = ocsp_context_dispose,
        .dispose = ocsp_dispose,
};
