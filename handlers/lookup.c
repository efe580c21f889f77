/* Certificate lookup: GET/HEAD /v1/certs/{sign|auth}/{serial hex}.
 *
 *   200 {"kind": "sign", "serial": "0a1b...", "status": "good"|"revoked"|"expired",
 *        "not_before": "...Z", "not_after": "...Z",
 *        "revoked_at": "...Z", "reason": "keyCompromise",      (revoked only)
 *        "links": {"pair": {"kind": "auth", "serial": "..."} | null,
 *                  "replaces": {...} | null, "replaced_by": {...} | null}}
 *   400 bad_serial, 404 not_found, 503 store_unavailable
 *
 * A read transaction is a few B-tree lookups in a memory map, cheap enough
 * for the loop thread. The person's four items are never part of the
 * answer; only linked serials are. */
#include "handlers/lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "core/buf.h"
#include "core/exchange.h"
#include "core/json.h"
#include "handlers/lookup_personal.h"
#include "handlers/roles.h"
#include "storage/store.h"

struct lookup_handler {
	struct handler super;
	const struct handler_env *env;
};

static void link_write(struct json *j, const char *key, enum cert_kind kind,
                       const struct store_serial *serial)
{
	if (!serial->len) {
		json_null(j, key);
		return;
	}
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(serial, hex);
	json_object_begin(j, key);
	json_string(j, "kind", ca_kind_name(kind));
	json_string(j, "serial", hex);
	json_object_end(j);
}

static void cert_write(struct json *j, const struct store_cert *c, int64_t now)
{
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&c->serial, hex);
	enum cert_kind other = c->kind == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN;
	const char *status = c->status == CERT_STATUS_REVOKED ? "revoked"
	                     : now > c->not_after             ? "expired"
	                                                      : "good";
	json_object_begin(j, NULL);
	json_string(j, "kind", ca_kind_name(c->kind));
	json_string(j, "serial", hex);
	json_string(j, "status", status);
	json_time(j, "not_before", c->not_before);
	json_time(j, "not_after", c->not_after);
	if (c->status == CERT_STATUS_REVOKED) {
		json_time(j, "revoked_at", c->revoked_at);
		json_string(j, "reason", ca_reason_name(c->reason));
	}
	json_object_begin(j, "links");
	link_write(j, "pair", other, &c->pair);
	link_write(j, "replaces", c->kind, &c->replaces);
	link_write(j, "replaced_by", c->kind, &c->replaced_by);
	json_object_end(j);
	json_object_end(j);
}

/* Reads the record; 0, -ENOENT (unknown issuer or serial) or a store error. */
static int cert_read(struct store *store, enum cert_kind kind, const struct store_serial *serial,
                     struct store_cert *out)
{
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	struct store_issuer issuer;
	err = store_issuer_by_label(txn, ca_kind_name(kind), &issuer);
	if (!err)
		err = store_cert_get(txn, issuer.id, serial, out);
	store_txn_abort(txn);
	return err;
}

static void lookup_on_request(struct handler *self, struct exchange *ex)
{
	struct lookup_handler *h = (struct lookup_handler *)self;
	const struct http_request *req = exchange_request(ex);
	enum cert_kind kind;
	struct store_serial serial;
	int err = lookup_path_parse(req->path, req->path_len, &kind, &serial);
	if (err == -EINVAL) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_SERIAL,
		                       "the serial must be 1 to 40 hex digits (at most 20 octets)");
		return;
	}
	if (err) {
		exchange_respond_error(
		        ex, 404, HTTP_ERROR_NOT_FOUND,
		        "use /v1/certs/sign/{serial hex} or /v1/certs/auth/{serial hex}");
		return;
	}

	if (!h->env->store) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store is not open");
		return;
	}
	struct store_cert cert;
	err = cert_read(h->env->store, kind, &serial, &cert);
	if (err == -ENOENT) {
		exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND,
		                       "no such certificate was issued");
		return;
	}
	if (err) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE, strerror(-err));
		return;
	}
	struct buf body = {0};
	struct json j;
	json_init(&j, &body);
	cert_write(&j, &cert, time(NULL));
	if (body.failed) {
		buf_free(&body);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	if (lookup_personal_requested(req)) {
		lookup_personal_respond(ex, h->env, &cert, &body);
		return;
	}
	exchange_add_header(ex, "Cache-Control", "no-store");
	size_t len;
	uint8_t *bytes = buf_steal(&body, &len);
	exchange_respond_owned(ex, 200, "application/json", bytes, len);
}

static int lookup_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct lookup_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->super = (struct handler){.name = "lookup", .on_request = lookup_on_request};
	h->env = env;
	int rc = router_add(r, LOOKUP_PREFIX, HTTP_METHOD_GET | HTTP_METHOD_HEAD,
	                    PEER_ROLE_RELYING_PARTY, &h->super);
	if (rc) {
		free(h);
		return rc;
	}
	*context = h;
	return 0;
}

static void lookup_dispose(void *context)
{
	free(context);
}

const struct handler_family lookup_family = {
        .name = "lookup",
        .on_context_init = lookup_context_init,
        .dispose = lookup_dispose,
};
