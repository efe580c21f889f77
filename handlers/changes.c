/* The relying parties' change feed (docs/api.md, "Change feed"),
 * relying-party role:
 *
 *   GET /v1/changes?after=CURSOR[&limit=N]
 *   200 {"changes": [
 *          {"cursor": 41, "time": "...Z", "type": "revoked", "kind": "sign",
 *           "serial": "0a1b...", "revoked_at": "...Z", "reason": "affiliationChanged"},
 *          {"cursor": 42, "time": "...Z", "type": "linked", "kind": "sign",
 *           "serial": "0a1b...", "replaced_by": "7f00..."}],
 *        "next": 42, "last": 57, "more": true}
 *   400 bad_request (the query), 503 store_unavailable
 *
 * The feed is the store's change log (storage/logs.c, also read by delta
 * CRLs), filtered to what a platform business acts on: revocations, with
 * their time and reason, and renewals, old certificate to new. Issuances
 * are left out. `cursor` is the change's sequence number: a client stores
 * `next` and asks with after=next; `more` says the log goes on. `next` may
 * pass entries that were not shown (issuances), so a page can be empty and
 * still move the cursor. Every page is a read transaction on the loop thread
 * bounded by SCAN_MAX entries, like a lookup. The person's four items are
 * never part of it. */
#include "handlers/changes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "core/buf.h"
#include "core/exchange.h"
#include "core/json.h"
#include "handlers/handlers.h"
#include "handlers/log_query.h"
#include "handlers/roles.h"
#include "storage/store.h"

#define CHANGES_PATH  "/v1/changes"
#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000
#define SCAN_MAX      10000 /* entries read per page at most, shown or not */

struct changes_handler {
	struct handler super;
	const struct handler_env *env;
};

struct page {
	struct store_txn *txn;
	struct json *j;
	uint64_t limit, shown, scanned, next;
	int error;
};

static void serial_write(struct json *j, const char *key, const struct store_serial *serial)
{
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(serial, hex);
	json_string(j, key, hex);
}

/* Writes one change if the feed shows it; 1 stops the walk. */
static int page_visit(const struct store_change *ch, void *arg)
{
	struct page *p = arg;
	if (p->shown == p->limit || p->scanned == SCAN_MAX)
		return 1;
	p->scanned++;
	p->next = ch->seq;
	if (ch->type != STORE_CHANGE_REVOKED && ch->type != STORE_CHANGE_LINKED)
		return 0;
	struct store_cert cert;
	int rc = store_cert_get(p->txn, ch->issuer_id, &ch->serial, &cert);
	if (rc) {
		p->error = rc == -ENOENT ? -EIO : rc; /* a change names a certificate */
		return 1;
	}
	/* A renewal links both ways; the feed tells it once, old to new. */
	if (ch->type == STORE_CHANGE_LINKED && cert.replaced_by.len == 0)
		return 0;
	json_object_begin(p->j, NULL);
	json_uint(p->j, "cursor", ch->seq);
	json_time(p->j, "time", ch->time);
	json_string(p->j, "type", ch->type == STORE_CHANGE_REVOKED ? "revoked" : "linked");
	json_string(p->j, "kind", ca_kind_name(cert.kind));
	serial_write(p->j, "serial", &cert.serial);
	if (ch->type == STORE_CHANGE_REVOKED) {
		json_time(p->j, "revoked_at", cert.revoked_at);
		json_string(p->j, "reason", ca_reason_name(cert.reason));
	} else {
		serial_write(p->j, "replaced_by", &cert.replaced_by);
	}
	json_object_end(p->j);
	p->shown++;
	return 0;
}

static void changes_on_request(struct handler *self, struct exchange *ex)
{
	struct changes_handler *h = (struct changes_handler *)self;
	const struct http_request *req = exchange_request(ex);
	static const char *const names[] = {"after", "limit"};
	bool has[2];
	uint64_t values[2];
	char err[160];
	if (number_query_parse(req->query, strlen(req->query), names, 2, has, values, err,
	                       sizeof err) < 0) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, err);
		return;
	}
	if (!has[0]) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST,
		                       "after=CURSOR is required (0 for the beginning)");
		return;
	}
	uint64_t limit = has[1] ? values[1] : LIMIT_DEFAULT;
	if (limit < 1 || limit > LIMIT_MAX) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST,
		                       "limit is 1 to 1000 changes per page");
		return;
	}
	if (!h->env->store) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store is not open");
		return;
	}
	struct store_txn *txn;
	int rc = store_txn_begin(h->env->store, false, &txn);
	uint64_t last = 0;
	if (rc == 0)
		rc = store_change_last(txn, &last);
	if (rc) {
		if (txn)
			store_txn_abort(txn);
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE, strerror(-rc));
		return;
	}
	uint64_t after = values[0];
	if (after > last) {
		store_txn_abort(txn);
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST,
		                       "after is beyond the last change (a cursor from another "
		                       "service?)");
		return;
	}
	struct buf body = {0};
	struct json j;
	json_init(&j, &body);
	json_object_begin(&j, NULL);
	json_array_begin(&j, "changes");
	struct page p = {.txn = txn, .j = &j, .limit = limit, .next = after};
	rc = after < last ? store_change_each(txn, after + 1, page_visit, &p) : 0;
	store_txn_abort(txn);
	if (rc == 1)
		rc = p.error;
	if (rc < 0) {
		buf_free(&body);
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE, strerror(-rc));
		return;
	}
	json_array_end(&j);
	json_uint(&j, "next", p.next);
	json_uint(&j, "last", last);
	json_bool(&j, "more", p.next < last);
	json_object_end(&j);
	if (body.failed) {
		buf_free(&body);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	exchange_add_header(ex, "Cache-Control", "no-store");
	size_t len;
	uint8_t *bytes = buf_steal(&body, &len);
	exchange_respond_owned(ex, 200, "application/json", bytes, len);
}

static int changes_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct changes_handler *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->super = (struct handler){.name = "changes", .on_request = changes_on_request};
	h->env = env;
	int rc = router_add(r, CHANGES_PATH, HTTP_METHOD_GET | HTTP_METHOD_HEAD,
	                    PEER_ROLE_RELYING_PARTY, &h->super);
	if (rc) {
		free(h);
		return rc;
	}
	*context = h;
	return 0;
}

static void changes_dispose(void *context)
{
	free(context);
}

const struct handler_family changes_family = {
        .name = "changes",
        .on_context_init = changes_context_init,
        .dispose = changes_dispose,
};
