/* POST /v1/verify: answers whether a signature (CMS) or a bare certificate
 * is valid now, and why not (docs/intake.md). Nothing is stored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/handlers.h"
#include "handlers/roles.h"
#include "handlers/verify.h"

/* --- POST /v1/verify ----------------------------------------------------------- */

struct verify_handler {
	struct handler super;
	const struct handler_env *env;
	struct store *store;
	struct verify_ca_cache *cas;
	struct metric *public_key_operations;
};

int verify_key_limits_from_config(const struct config *config, struct verify_key_limits *out)
{
	int64_t bits = config_get_int(config, "verify.max_rsa_bits", VERIFY_DEFAULT_MAX_RSA_BITS);
	int64_t exponent =
	        config_get_int(config, "verify.max_rsa_exponent", VERIFY_DEFAULT_MAX_RSA_EXPONENT);
	if (bits < VERIFY_MIN_RSA_BITS || bits > VERIFY_LIMIT_MAX_RSA_BITS) {
		log_error("verify.max_rsa_bits = %lld: takes %d..%d (default %d)", (long long)bits,
		          VERIFY_MIN_RSA_BITS, VERIFY_LIMIT_MAX_RSA_BITS,
		          VERIFY_DEFAULT_MAX_RSA_BITS);
		return -EINVAL;
	}
	if (exponent < 3 || exponent > (int64_t)VERIFY_LIMIT_MAX_RSA_EXPONENT) {
		log_error("verify.max_rsa_exponent = %lld: takes 3..%u (default %d)",
		          (long long)exponent, VERIFY_LIMIT_MAX_RSA_EXPONENT,
		          VERIFY_DEFAULT_MAX_RSA_EXPONENT);
		return -EINVAL;
	}
	out->max_rsa_bits = (unsigned)bits;
	out->max_rsa_exponent = (uint64_t)exponent;
	return 0;
}

struct metric *verify_operations_metric(const char *route)
{
	char labels[32];
	snprintf(labels, sizeof labels, "route=\"%s\"", route);
	return metrics_counter("kensho_verify_public_key_operations_total", labels,
	                       "RSA signature checks done for submissions (a kensho CA's on the "
	                       "signer's certificate, and the signer's)");
}

bool verify_read_body(struct exchange *ex, const char *empty_detail, struct verify_body *out)
{
	const struct http_request *req = exchange_request(ex);
	if (!req->body || req->body_len == 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_EMPTY_BODY, empty_detail);
		return false;
	}
	size_t header_len;
	const char *header = exchange_header(ex, "Kensho-Signature-Length", &header_len);
	out->cms = req->body;
	if (verify_split_body(req->body, req->body_len, header, header_len, &out->cms_len,
	                      &out->detached, &out->detached_len) < 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_SIGNATURE_LENGTH,
		                       "Kensho-Signature-Length must be 1..body length");
		return false;
	}
	return true;
}

static void verify_on_request(struct handler *self, struct exchange *ex)
{
	struct verify_handler *h = (struct verify_handler *)self;
	struct verify_body submission;
	if (!verify_read_body(ex, "POST a DER CMS SignedData or a DER certificate", &submission))
		return;
	struct verify_result r;
	const char *detail;
	int rc = verify_submission(h->store, h->cas, submission.cms, submission.cms_len,
	                           submission.detached, submission.detached_len,
	                           (int64_t)time(NULL), &r, &detail);
	metric_add(h->public_key_operations, r.public_key_operations);
	if (rc == -EINVAL || rc == -ENOTSUP || rc == -E2BIG) {
		exchange_respond_error(ex, rc == -E2BIG ? 413 : 400,
		                       rc == -E2BIG ? HTTP_ERROR_PAYLOAD_TOO_LARGE
		                                    : HTTP_ERROR_MALFORMED_BODY,
		                       detail);
		return;
	}
	if (rc < 0) {
		log_error("verify: store read failed: %s", strerror(-rc));
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store could not be read");
		return;
	}
	struct buf out = {0};
	verify_result_json(&r, &out);
	if (out.failed) {
		buf_free(&out);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	size_t len;
	uint8_t *body = buf_steal(&out, &len);
	exchange_respond_owned(ex, 200, "application/json", body, len);
}

static int verify_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct verify_key_limits limits;
	int rc = verify_key_limits_from_config(env->config, &limits);
	if (rc < 0)
		return rc;
	struct verify_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->super.name = "verify";
	h->super.on_request = verify_on_request;
	h->env = env;
	h->store = env->store;
	h->cas = verify_ca_cache_new(&limits);
	h->public_key_operations = verify_operations_metric("verify");
	rc = h->cas ? router_add(r, "/v1/verify", HTTP_METHOD_POST, PEER_ROLE_RELYING_PARTY,
	                         &h->super)
	            : -ENOMEM;
	if (rc < 0) {
		verify_ca_cache_free(h->cas);
		free(h);
		return rc;
	}
	*context = h;
	return 0;
}

/* Every check runs on the loop at once: nothing to stop. */
static void verify_context_dispose(void *context)
{
	(void)context;
}

static void verify_dispose(void *context)
{
	struct verify_handler *h = context;
	verify_ca_cache_free(h->cas);
	free(h);
}

const struct handler_family verify_family = {
        .name = "verify",
        .on_context_init = verify_context_init,
        .on_context_dispose = verify_context_dispose,
        .dispose = verify_dispose,
};
