/* POST /tsa: kensho's RFC 3161 time-stamping authority (docs/tsa.md).
 *
 * A query (application/timestamp-query) is decoded on the loop thread; a
 * refusal (PKIStatus rejection with its failInfo, RFC 3161 §2.4.2) is
 * answered at once, and a good query is signed on libuv's worker pool, at
 * most TSA_MAX_INFLIGHT at a time per process (beyond: 503 busy). Either way
 * the answer is HTTP 200 with an application/timestamp-reply body (§3.4);
 * HTTP errors are kept for what is not a query at all (wrong media type,
 * empty or oversized body). The token itself, and its serialNumber, are
 * tsa_stamp.c's, which intake shares. */
#include "handlers/tsa.h"
#include "handlers/replication.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ca/ca.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/http_errors.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/handlers.h"
#include "handlers/tsa_stamp.h"
#include "pki/der.h"
#include "pki/signer.h"

#define TSA_QUERY_TYPE "application/timestamp-query"
#define TSA_REPLY_TYPE "application/timestamp-reply"
/** Signings queued or running per process. */
#define TSA_MAX_INFLIGHT 64

struct tsa_handler {
	struct handler super;
	const struct handler_env *env;
	struct pki_signer *signer; /* NULL: the data directory has no unit */
	char missing[160];         /* why not, for the rejection's statusString */
	const char *policy;        /* dotted, from the config */
	uint8_t policy_oid[TSP_POLICY_MAX];
	size_t policy_len;
	uv_mutex_t sign_lock; /* the key's RSA blinding state is not thread-safe */
	unsigned inflight;
	uint32_t counter;
	struct metric *granted, *rejected;
};

struct tsa_job {
	uv_work_t work;
	struct tsa_handler *handler;
	struct exchange *exchange;
	struct tsp_request request;
	uint32_t counter;
	uint8_t *reply;
	size_t reply_len;
	int error;
};

static void respond_reply(struct exchange *ex, uint8_t *der, size_t len)
{
	exchange_add_header(ex, "Cache-Control", "no-store");
	exchange_respond_owned(ex, 200, TSA_REPLY_TYPE, der, len);
}

static void respond_rejection(struct tsa_handler *h, struct exchange *ex, enum tsp_fail_info fail,
                              const char *text)
{
	uint8_t *der;
	size_t len;
	metric_add(h->rejected, 1);
	if (tsp_response_reject(fail, text, &der, &len)) {
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	respond_reply(ex, der, len);
}

/* A cms_sign_cb: jobs of this process may run on several pool threads at
 * once, and a key's RSA blinding state takes one signer at a time. */
static int sign_with_lock(void *arg, const uint8_t *digest_info, size_t len, uint8_t *sig,
                          size_t *sig_len)
{
	struct tsa_handler *h = arg;
	uv_mutex_lock(&h->sign_lock);
	int rc = pki_signer_sign(h->signer, digest_info, len, sig, sig_len);
	uv_mutex_unlock(&h->sign_lock);
	return rc;
}

static void sign_work_cb(uv_work_t *work)
{
	struct tsa_job *job = work->data;
	struct tsa_handler *h = job->handler;
	struct tsa_stamper stamper = {
	        .policy = h->policy,
	        .sign = sign_with_lock,
	        .sign_arg = h,
	};
	pki_signer_cert(h->signer, &stamper.cert, &stamper.cert_len);
	job->error = tsa_stamp(&stamper, &job->request, job->counter, &job->reply, &job->reply_len);
}

static void sign_done_cb(uv_work_t *work, int status)
{
	struct tsa_job *job = work->data;
	struct tsa_handler *h = job->handler;
	h->inflight--;
	if (status || job->error) {
		log_warn("tsa: signing failed: %s", strerror(-(status ? status : job->error)));
		free(job->reply);
		respond_rejection(h, job->exchange, TSP_FAIL_SYSTEM_FAILURE, "signing failed");
	} else {
		metric_add(h->granted, 1);
		respond_reply(job->exchange, job->reply, job->reply_len);
	}
	free(job);
}

/* RFC 3161 §3.4 names the media type; parameters after ';' are allowed. */
static bool is_query_type(const struct exchange *ex)
{
	size_t len = 0;
	const char *ct = exchange_header(ex, "Content-Type", &len);
	size_t want = sizeof(TSA_QUERY_TYPE) - 1;
	if (!ct || len < want || strncasecmp(ct, TSA_QUERY_TYPE, want) != 0)
		return false;
	return len == want || ct[want] == ';' || ct[want] == ' ';
}

static void tsa_on_request(struct handler *self, struct exchange *ex)
{
	struct tsa_handler *h = (struct tsa_handler *)self;
	const struct http_request *rq = exchange_request(ex);
	if (replication_refuse_if_fenced(h->env, ex))
		return;
	if (!is_query_type(ex)) {
		exchange_respond_error(ex, 415, HTTP_ERROR_UNSUPPORTED_MEDIA_TYPE,
		                       "POST /tsa takes " TSA_QUERY_TYPE " (RFC 3161 §3.4)");
		return;
	}
	if (!rq->body || rq->body_len == 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_EMPTY_BODY,
		                       "POST /tsa needs a DER TimeStampReq as its body");
		return;
	}
	if (rq->body_len > TSP_REQUEST_MAX) {
		exchange_respond_error(ex, 413, HTTP_ERROR_PAYLOAD_TOO_LARGE,
		                       "a TimeStampReq is at most 1024 bytes here");
		return;
	}
	struct tsa_job *job = calloc(1, sizeof(*job));
	if (!job) {
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	enum tsp_fail_info fail;
	const char *why = NULL;
	if (tsp_request_decode(rq->body, rq->body_len, &job->request, &fail) < 0) {
		why = fail == TSP_FAIL_BAD_ALG ? "the hash must be SHA-256, SHA-384 or SHA-512"
		      : fail == TSP_FAIL_BAD_REQUEST          ? "the nonce is longer than 160 bits"
		      : fail == TSP_FAIL_UNACCEPTED_EXTENSION ? "no extensions are supported"
		      : fail == TSP_FAIL_UNACCEPTED_POLICY    ? "unknown policy"
		                                              : "not a DER TimeStampReq v1";
	} else if (job->request.policy_len &&
	           (job->request.policy_len != h->policy_len ||
	            memcmp(job->request.policy, h->policy_oid, h->policy_len) != 0)) {
		fail = TSP_FAIL_UNACCEPTED_POLICY;
		why = "unknown policy";
	} else if (!h->signer) {
		fail = TSP_FAIL_SYSTEM_FAILURE;
		why = h->missing;
	}
	if (why) {
		free(job);
		respond_rejection(h, ex, fail, why);
		return;
	}
	if (exchange_is_cancelled(ex)) {
		free(job);
		respond_rejection(h, ex, TSP_FAIL_SYSTEM_FAILURE, "cancelled");
		return;
	}
	if (h->inflight >= TSA_MAX_INFLIGHT) {
		free(job);
		exchange_add_header(ex, "Retry-After", "1");
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY,
		                       "time-stamping queue is full; retry");
		return;
	}
	job->work.data = job;
	job->handler = h;
	job->exchange = ex;
	job->counter = h->counter++ & ~TSA_INTAKE_COUNTER_BASE; /* intake numbers above */
	if (uv_queue_work(exchange_loop(ex), &job->work, sign_work_cb, sign_done_cb)) {
		free(job);
		respond_rejection(h, ex, TSP_FAIL_SYSTEM_FAILURE, "could not queue the signing");
		return;
	}
	h->inflight++;
}

/* The unit's key must be owner-only (docs/architecture.md rule 5). A data
 * directory made before kensho had a TSA has neither file: that is not an
 * error for the rest of the server, so it only disables /tsa. */
static int load_unit(struct tsa_handler *h)
{
	struct ca_tsa_files files;
	int err = ca_tsa_files(h->env->data_dir, &files);
	if (err)
		return err;
	struct stat st;
	if (stat(files.cert, &st) < 0 && errno == ENOENT) {
		/* The client is told what is missing, not where on this host. */
		snprintf(h->missing, sizeof h->missing,
		         "this server has no time-stamping unit (ca/tsa.pem is missing from "
		         "its data directory)");
		log_warn("tsa: %s is missing: /tsa refuses every query with systemFailure. "
		         "`kensho --data %s ca tsa-init` creates the unit; then restart kenshod",
		         files.cert, h->env->data_dir);
		return 0;
	}
	err = tsa_unit_load(h->env->data_dir, &h->signer);
	if (err)
		log_error("tsa: cannot load the time-stamping unit %s with %s: %s%s", files.cert,
		          files.key, strerror(-err),
		          err == -EPERM ? " (the key must be mode 0600)" : "");
	return err;
}

static int tsa_context_init(struct router *r, const struct handler_env *env, void **context)
{
	const char *policy = config_get(env->config, "tsa.policy", TSA_DEFAULT_POLICY);
	struct tsa_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int n = der_oid_encode(policy, h->policy_oid, sizeof h->policy_oid);
	if (n <= 0) {
		log_error("tsa.policy must be a dotted OID, not \"%s\"", policy);
		free(h);
		return -EINVAL;
	}
	h->policy_len = (size_t)n;
	h->policy = policy;
	h->env = env;
	h->super.name = "tsa";
	h->super.on_request = tsa_on_request;
	h->granted = metrics_counter("kensho_tsa_answers_total", "answer=\"granted\"",
	                             "time-stamp queries by answer");
	h->rejected = metrics_counter("kensho_tsa_answers_total", "answer=\"rejected\"",
	                              "time-stamp queries by answer");
	int err = uv_mutex_init(&h->sign_lock);
	if (err) {
		free(h);
		return err;
	}
	err = load_unit(h);
	if (!err)
		err = router_add(r, "/tsa", HTTP_METHOD_POST, PEER_ROLE_INTAKE, &h->super);
	if (err) {
		pki_signer_free(h->signer);
		uv_mutex_destroy(&h->sign_lock);
		free(h);
		return err;
	}
	*context = h;
	return 0;
}

static void tsa_dispose(void *context)
{
	struct tsa_handler *h = context;
	pki_signer_free(h->signer);
	uv_mutex_destroy(&h->sign_lock);
	free(h);
}

const struct handler_family tsa_family = {
        .name = "tsa",
        .on_context_init = tsa_context_init,
        .dispose = tsa_dispose,
};
