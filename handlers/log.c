/* The Merkle log's endpoints (docs/log.md), intake role:
 *
 *   GET /v1/log/sth                                  the latest signed tree head
 *   GET /v1/log/sth/{size}                           the one of that tree size
 *   GET /v1/log/proof/inclusion?index=I&size=N       leaf I in the tree of N
 *   GET /v1/log/proof/consistency?first=M&second=N   tree M is a prefix of N
 *
 * Answers are JSON in the spirit of RFC 6962 §4 (base64 hashes). A proof is
 * O(log^2 N) B-tree reads in a memory map, cheap enough for the loop thread,
 * like a lookup.
 *
 * On worker 0 the family also signs tree heads: every log.sth_interval a
 * job on the thread pool (never two at a time) takes the store's tree-head
 * lease and, if the log grew, signs and stores a head (ca/log.h), so one
 * process signs per data directory and a size is never signed twice. */
#include "handlers/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/log.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/handlers.h"
#include "handlers/log_query.h"
#include "storage/store.h"

#define STH_PREFIX       "/v1/log/sth/"
#define STH_INTERVAL_MS  (60 * 1000)
#define STH_LEASE_MIN_S  10
#define LOG_CACHE_SIGNED "public, max-age=86400"

struct log_handler {
	struct handler sth, sth_by_size, inclusion, consistency;
	const struct handler_env *env;
	/* tree-head signing, worker 0 only */
	bool signing; /* the timer was started */
	bool stopped; /* on_context_dispose ran: start nothing new */
	bool busy;    /* a job is on the pool */
	uv_timer_t timer;
	int64_t interval_ms;
	uint64_t holder;
	struct ca_sth_signer *signer; /* used only by the job */
	struct metric *signed_heads, *failures;
};

/* --- answers ------------------------------------------------------------------------- */

static void respond_json(struct exchange *ex, struct buf *b, const char *cache)
{
	if (b->failed) {
		buf_free(b);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	exchange_add_header(ex, "Cache-Control", cache);
	size_t len;
	uint8_t *bytes = buf_steal(b, &len);
	exchange_respond_owned(ex, 200, "application/json", bytes, len);
}

/* A store error as an answer: -ENOENT has its own words. */
static void respond_store_error(struct exchange *ex, int rc, const char *what)
{
	if (rc == -ENOENT)
		exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND, what);
	else
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store cannot be read");
}

static struct store_txn *read_txn(struct exchange *ex, const struct handler_env *env)
{
	struct store_txn *txn = NULL;
	if (!env->store || store_txn_begin(env->store, false, &txn) < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store cannot be read");
		return NULL;
	}
	return txn;
}

static void sth_answer(struct exchange *ex, const struct handler_env *env, bool latest,
                       uint64_t size)
{
	struct store_txn *txn = read_txn(ex, env);
	if (!txn)
		return;
	struct store_sth sth;
	int rc = latest ? store_sth_latest(txn, &sth) : store_sth_get(txn, size, &sth);
	if (rc) {
		store_txn_abort(txn);
		respond_store_error(ex, rc,
		                    latest ? "no tree head has been signed yet"
		                           : "no tree head was signed at that size");
		return;
	}
	struct buf b = {0};
	ca_log_sth_json(&b, &sth); /* copies out of the transaction */
	store_txn_abort(txn);
	respond_json(ex, &b, latest ? "no-store" : LOG_CACHE_SIGNED);
}

static void sth_on_request(struct handler *self, struct exchange *ex)
{
	struct log_handler *h =
	        (struct log_handler *)((char *)self - offsetof(struct log_handler, sth));
	if (exchange_request(ex)->query[0] != '\0') {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, "this path takes no query");
		return;
	}
	sth_answer(ex, h->env, true, 0);
}

static void sth_by_size_on_request(struct handler *self, struct exchange *ex)
{
	struct log_handler *h =
	        (struct log_handler *)((char *)self - offsetof(struct log_handler, sth_by_size));
	const struct http_request *req = exchange_request(ex);
	uint64_t size;
	const char *text = req->path + strlen(STH_PREFIX);
	if (req->query[0] != '\0' ||
	    log_query_number(text, req->path_len - strlen(STH_PREFIX), &size) < 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST,
		                       "the path ends in a tree size: /v1/log/sth/{decimal}");
		return;
	}
	sth_answer(ex, h->env, false, size);
}

/* Parses the query; answers 400 and returns false unless exactly the
 * parameters `a` and `b` are given. */
static bool query_of(struct exchange *ex, enum log_query_param a, enum log_query_param b,
                     struct log_query *q)
{
	const struct http_request *req = exchange_request(ex);
	char err[160];
	if (log_query_parse(req->query, strlen(req->query), q, err, sizeof err) < 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, err);
		return false;
	}
	for (int i = 0; i < LOG_QUERY_COUNT; i++)
		if (q->has[i] != (i == (int)a || i == (int)b)) {
			exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST,
			                       a == LOG_QUERY_INDEX
			                               ? "give index and size, nothing else"
			                               : "give first and second, nothing else");
			return false;
		}
	return true;
}

static void inclusion_on_request(struct handler *self, struct exchange *ex)
{
	struct log_handler *h =
	        (struct log_handler *)((char *)self - offsetof(struct log_handler, inclusion));
	struct log_query q;
	if (!query_of(ex, LOG_QUERY_INDEX, LOG_QUERY_SIZE, &q))
		return;
	uint64_t index = q.value[LOG_QUERY_INDEX], size = q.value[LOG_QUERY_SIZE];
	struct store_txn *txn = read_txn(ex, h->env);
	if (!txn)
		return;
	uint64_t n;
	uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN];
	size_t count = 0;
	struct store_log_leaf leaf;
	int rc = store_log_size(txn, &n);
	if (rc == 0 && (index >= size || size > n)) {
		store_txn_abort(txn);
		char detail[160];
		snprintf(detail, sizeof detail,
		         "need index < size <= the log's size (%" PRIu64 " leaves)", n);
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, detail);
		return;
	}
	if (rc == 0)
		rc = store_log_leaf_get(txn, index, &leaf);
	if (rc == 0)
		rc = store_log_inclusion(txn, index, size, path, &count);
	store_txn_abort(txn);
	if (rc) {
		respond_store_error(ex, rc, "the log is not available");
		return;
	}
	struct buf b = {0};
	ca_log_inclusion_json(&b, index, size, leaf.hash, path, count);
	respond_json(ex, &b, LOG_CACHE_SIGNED);
}

static void consistency_on_request(struct handler *self, struct exchange *ex)
{
	struct log_handler *h =
	        (struct log_handler *)((char *)self - offsetof(struct log_handler, consistency));
	struct log_query q;
	if (!query_of(ex, LOG_QUERY_FIRST, LOG_QUERY_SECOND, &q))
		return;
	uint64_t first = q.value[LOG_QUERY_FIRST], second = q.value[LOG_QUERY_SECOND];
	struct store_txn *txn = read_txn(ex, h->env);
	if (!txn)
		return;
	uint64_t n;
	uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN];
	size_t count = 0;
	int rc = store_log_size(txn, &n);
	if (rc == 0 && (first == 0 || first > second || second > n)) {
		store_txn_abort(txn);
		char detail[160];
		snprintf(detail, sizeof detail,
		         "need 0 < first <= second <= the log's size (%" PRIu64 " leaves)", n);
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, detail);
		return;
	}
	if (rc == 0)
		rc = store_log_consistency(txn, first, second, path, &count);
	store_txn_abort(txn);
	if (rc) {
		respond_store_error(ex, rc, "the log is not available");
		return;
	}
	struct buf b = {0};
	ca_log_consistency_json(&b, first, second, path, count);
	respond_json(ex, &b, LOG_CACHE_SIGNED);
}

/* --- signing tree heads (worker 0) -------------------------------------------------------- */

struct sign_job {
	uv_work_t req;
	struct log_handler *h;
	int rc;
	uint64_t signed_size;
};

static void sign_work_cb(uv_work_t *req)
{
	struct sign_job *job = req->data;
	struct log_handler *h = job->h;
	if (!h->signer) {
		job->rc = ca_sth_signer_open(h->env->data_dir, &h->signer);
		if (job->rc)
			return;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int64_t lease = h->interval_ms * 3 / 1000;
	job->rc = ca_sth_sign_due(h->signer, h->env->store, h->holder, now_ms,
	                          lease < STH_LEASE_MIN_S ? STH_LEASE_MIN_S : lease,
	                          &job->signed_size);
}

static void sign_after_cb(uv_work_t *req, int status)
{
	struct sign_job *job = req->data;
	struct log_handler *h = job->h;
	h->busy = false;
	if (status == 0 && job->rc == 0 && job->signed_size) {
		metric_add(h->signed_heads, 1);
		log_info("log: signed the tree head of %" PRIu64 " leaves", job->signed_size);
	} else if (status == 0 && job->rc && job->rc != -EBUSY) {
		metric_add(h->failures, 1);
		log_warn("log: cannot sign a tree head: %s%s", strerror(-job->rc),
		         job->rc == -ENOENT  ? " (no DIR/ca/receipt.pem and receipt.key yet)"
		         : job->rc == -EPERM ? " (DIR/ca/receipt.key is readable by others)"
		                             : "");
	}
	free(job);
}

static void timer_cb(uv_timer_t *timer)
{
	struct log_handler *h = timer->data;
	if (h->busy || h->stopped)
		return;
	struct sign_job *job = calloc(1, sizeof *job);
	if (!job)
		return;
	job->h = h;
	job->req.data = job;
	if (uv_queue_work(h->env->loop, &job->req, sign_work_cb, sign_after_cb) != 0) {
		free(job);
		return;
	}
	h->busy = true;
}

static void signing_start(struct log_handler *h)
{
	h->interval_ms = config_get_ms(h->env->config, "log.sth_interval", STH_INTERVAL_MS);
	uint64_t holder = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	h->holder = holder ? holder : 1;
	h->signed_heads = metrics_counter("kensho_log_sth_signed_total", NULL,
	                                  "Signed tree heads this worker made");
	h->failures = metrics_counter("kensho_log_sth_failures_total", NULL,
	                              "Rounds of tree-head signing that failed");
	uv_timer_init(h->env->loop, &h->timer);
	h->timer.data = h;
	/* first round soon after start, so a restarted server soon covers what
	 * came in while it was down */
	uv_timer_start(&h->timer, timer_cb, 1000, (uint64_t)h->interval_ms);
	h->signing = true;
}

/* --- lifecycle ------------------------------------------------------------------------------ */

static int log_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct log_handler *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->env = env;
	h->sth = (struct handler){.name = "log", .on_request = sth_on_request};
	h->sth_by_size = (struct handler){.name = "log", .on_request = sth_by_size_on_request};
	h->inclusion = (struct handler){.name = "log", .on_request = inclusion_on_request};
	h->consistency = (struct handler){.name = "log", .on_request = consistency_on_request};
	unsigned get = HTTP_METHOD_GET | HTTP_METHOD_HEAD;
	int rc = router_add(r, "/v1/log/sth", get, PEER_ROLE_INTAKE, &h->sth);
	if (rc == 0)
		rc = router_add(r, STH_PREFIX, get, PEER_ROLE_INTAKE, &h->sth_by_size);
	if (rc == 0)
		rc = router_add(r, "/v1/log/proof/inclusion", get, PEER_ROLE_INTAKE, &h->inclusion);
	if (rc == 0)
		rc = router_add(r, "/v1/log/proof/consistency", get, PEER_ROLE_INTAKE,
		                &h->consistency);
	if (rc) {
		free(h);
		return rc;
	}
	/* A replica signs no tree heads: it copies the primary's. */
	const char *primary = config_get(env->config, "replication.primary", NULL);
	if (env->store && env->data_dir && metrics_worker_index() == 0 && !(primary && *primary))
		signing_start(h);
	*context = h;
	return 0;
}

static void log_context_dispose(void *context)
{
	struct log_handler *h = context;
	h->stopped = true;
	if (h->signing)
		uv_close((uv_handle_t *)&h->timer, NULL);
}

static void log_dispose(void *context)
{
	struct log_handler *h = context;
	/* The loop has ended: a blocking write is fine now, and lets another
	 * kenshod on this data directory sign at once instead of after the
	 * lease lapses. */
	if (h->signing)
		ca_sth_release(h->env->store, h->holder);
	ca_sth_signer_free(h->signer);
	free(h);
}

const struct handler_family log_family = {
        .name = "log",
        .on_context_init = log_context_init,
        .on_context_dispose = log_context_dispose,
        .dispose = log_dispose,
};
