/* Disclosure of the four personal items (see lookup_personal.h). The person
 * is read and the audit record appended in one write transaction on the
 * thread pool: the answer leaves only after the record is durable, so no
 * disclosure can go unrecorded (docs/architecture.md rules 2 and 4). */
#include "handlers/lookup_personal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/exchange.h"
#include "core/json.h"
#include "core/log.h"
#include "handlers/handlers.h"
#include "handlers/roles.h"

struct disclosure {
	uv_work_t work;
	struct exchange *ex;
	struct store *store;
	struct buf body; /* the certificate's JSON object */
	uint64_t person_id;
	struct store_audit audit;
	struct store_person person;
	int rc;
};

bool lookup_personal_requested(const struct http_request *req)
{
	const char *q = req->query;
	size_t n = strlen("personal=1");
	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		if (len == n && memcmp(q, "personal=1", n) == 0)
			return true;
		q = end ? end + 1 : NULL;
	}
	return false;
}

static void disclose_work_cb(uv_work_t *req)
{
	struct disclosure *d = req->data;
	struct store_txn *txn;
	d->rc = store_txn_begin(d->store, true, &txn);
	if (d->rc < 0)
		return;
	d->rc = store_person_get(txn, d->person_id, &d->person);
	if (d->rc == 0)
		d->rc = store_audit_append(txn, &d->audit);
	if (d->rc < 0) {
		store_txn_abort(txn);
		return;
	}
	d->rc = store_txn_commit(txn);
}

static void disclosure_free(struct disclosure *d)
{
	buf_free(&d->body);
	/* The four items never outlive the answer. */
	memset(&d->person, 0, sizeof(d->person));
	free(d);
}

static void disclose_done_cb(uv_work_t *req, int status)
{
	struct disclosure *d = req->data;
	if (status < 0 || d->rc < 0) {
		int rc = status < 0 ? status : d->rc; /* libuv's codes are negative errno */
		if (rc == -ENOENT)
			exchange_respond_error(d->ex, 404, HTTP_ERROR_NOT_FOUND,
			                       "no personal record for this certificate");
		else
			exchange_respond_error(d->ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
			                       strerror(-rc));
		disclosure_free(d);
		return;
	}
	log_info("lookup: disclosed the four items of %s to \"%s\" (audit %llu)", d->audit.subject,
	         d->audit.actor, (unsigned long long)d->audit.seq);
	/* The certificate object, reopened to add one member. */
	struct buf *b = &d->body;
	b->len--; /* its closing '}' */
	buf_append_str(b, ",\"personal\":");
	struct json j;
	json_init(&j, b);
	json_object_begin(&j, NULL);
	json_string(&j, "name", d->person.name);
	json_string(&j, "birth", d->person.birth);
	json_int(&j, "sex", d->person.sex);
	json_string(&j, "address", d->person.address);
	json_object_end(&j);
	buf_append_str(b, "}");
	if (b->failed) {
		exchange_respond_error(d->ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
	} else {
		exchange_add_header(d->ex, "Cache-Control", "no-store");
		exchange_respond(d->ex, 200, "application/json", b->data, b->len);
	}
	/* exchange_respond copied the body; wipe ours. */
	memset(b->data, 0, b->len);
	disclosure_free(d);
}

void lookup_personal_respond(struct exchange *ex, const struct handler_env *env,
                             const struct store_cert *cert, struct buf *status_json)
{
	const struct http_request *req = exchange_request(ex);
	if (!handler_require_role(ex, env, PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL)) {
		buf_free(status_json);
		return;
	}
	if (cert->kind != CERT_KIND_SIGN || cert->person_id == 0 || status_json->len == 0 ||
	    status_json->data[status_json->len - 1] != '}') {
		buf_free(status_json);
		exchange_respond_error(
		        ex, 400, HTTP_ERROR_BAD_REQUEST,
		        "the four items are disclosed only with a signing certificate");
		return;
	}
	struct disclosure *d = calloc(1, sizeof(*d));
	if (!d) {
		buf_free(status_json);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	d->ex = ex;
	d->store = env->store;
	d->body = *status_json;
	memset(status_json, 0, sizeof(*status_json));
	d->person_id = cert->person_id;
	d->audit.time = time(NULL);
	char spki[65];
	hex_encode(req->peer->spki_sha256, sizeof(req->peer->spki_sha256), spki);
	/* Caller and the certificate it authenticated with. */
	snprintf(d->audit.actor, sizeof(d->audit.actor), "%.150s spki:%s", req->peer->subject,
	         spki);
	snprintf(d->audit.action, sizeof(d->audit.action), "disclose-personal");
	char serial[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&cert->serial, serial);
	snprintf(d->audit.subject, sizeof(d->audit.subject), "sign/%s", serial);
	d->work.data = d;
	int rc = uv_queue_work(exchange_loop(ex), &d->work, disclose_work_cb, disclose_done_cb);
	if (rc < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, uv_strerror(rc));
		disclosure_free(d);
	}
}
