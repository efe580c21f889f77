/* POST /v1/verify: answers whether a signature (CMS) or a bare certificate
 * is valid now, and why not (docs/intake.md). Nothing is stored. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "handlers/roles.h"
#include "handlers/verify.h"

/* --- POST /v1/verify ----------------------------------------------------------- */

struct verify_handler {
	struct handler super;
	const struct handler_env *env;
	struct store *store;
	struct verify_ca_cache *cas;
};

bool verify_read_body(struct exchange *ex, const char *empty_detail, struct verify_body *out)
{
	const struct http_request *req = exchange_request(ex);
	if (!req->body || req->body_len == 0) {
		exchange_respond_error(ex, 400, "empty_body", empty_detail);
		return false;
	}
	size_t header_len;
	const char *header = exchange_header(ex, "Kensho-Signature-Length", &header_len);
	out->cms = req->body;
	if (verify_split_body(req->body, req->body_len, header, header_len, &out->cms_len,
	                      &out->detached, &out->detached_len) < 0) {
		exchange_respond_error(ex, 400, "bad_signature_length",
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
	if (rc == -EINVAL || rc == -ENOTSUP || rc == -E2BIG) {
		exchange_respond_error(ex, rc == -E2BIG ? 413 : 400, "malformed", detail);
		return;
	}
	if (rc < 0) {
		log_error("verify: store read failed: %s", strerror(-rc));
		exchange_respond_error(ex, 503, "unavailable", "the store could not be read");
		return;
	}
	struct buf out = {0};
	verify_result_json(&r, &out);
	if (out.failed) {
		buf_free(&out);
		exchange_respond_error(ex, 500, "out_of_memory", NULL);
		return;
	}
	size_t len;
	uint8_t *body = buf_steal(&out, &len);
	exchange_respond_owned(ex, 200, "application/json", body, len);
}

int verify_routes(struct router *r, const struct handler_env *env)
{
	static struct verify_handler h; /* lives as long as the process */
	h.super.name = "verify";
	h.super.on_request = verify_on_request;
	h.env = env;
	h.store = env->store;
	h.cas = verify_ca_cache_new();
	if (!h.cas)
		return -ENOMEM;
	return router_add(r, "/v1/verify", HTTP_METHOD_POST, PEER_ROLE_RELYING_PARTY, &h.super);
}
