/* The admin API (operator role, mutual TLS only). Each call runs the same
 * ca/ library function as the `kensho` command (ca_issue, ca_revoke,
 * ca_event) on libuv's thread pool, because those commit with fsync
 * (docs/architecture.md rule 2: answered only once durable). Reload runs the same hooks
 * as SIGHUP.
 *
 *   POST /v1/admin/issue   name, birth, sex, address, sign_pubkey, auth_pubkey (PEM)
 *                          201 {"person_id", "sign": {...}|null, "auth": {...}}
 *   POST /v1/admin/revoke  kind, serial, reason         200 {"kind","serial","status","reason"}
 *   POST /v1/admin/event   kind, serial, event          200 {"kind","serial","event"}
 *   POST /v1/admin/reload                               200 {"reloaded": N} | 500
 *
 * Bodies are application/json (a flat object) or an HTML form. Errors:
 * 400 bad_request, 403 forbidden, 404 not_found, 409 conflict, 415,
 * 503 busy / store_unavailable. The admin API never generates key pairs:
 * private keys would have to travel in a response (docs/architecture.md rule 5), so
 * public keys are required and renewal is left to the command line. */
#include "handlers/admin.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "ca/ca.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/exchange.h"
#include "core/json.h"
#include "core/log.h"
#include "core/reload.h"
#include "handlers/admin_params.h"
#include "handlers/handlers.h"
#include "handlers/replication.h"
#include "handlers/roles.h"
#include "handlers/sync_gate.h"
#include "storage/store.h"

/* Admin calls waiting for or on the thread pool; more are refused with 503
 * so an operator script cannot starve the pool that OCSP signing uses. */
#define ADMIN_MAX_IN_FLIGHT 8

enum admin_op { OP_ISSUE, OP_REVOKE, OP_EVENT };

struct admin_context;

struct admin_handler {
	struct handler super;
	struct admin_context *ctx;
	enum admin_op op;
};

/* The family's state on one worker loop. */
struct admin_context {
	const struct handler_env *env;
	struct admin_handler handlers[3]; /* by enum admin_op */
	struct handler reload_handler;
	struct ca *ca;   /* opened on first use; closed by dispose */
	uv_mutex_t lock; /* ca/ calls one at a time: they share keys and random state */
	unsigned in_flight;
	struct sync_gate *gate; /* replication.sync_replicas; NULL: none */
};

struct admin_job {
	uv_work_t work;
	struct admin_context *ctx;
	struct exchange *ex;
	enum admin_op op;
	struct admin_params params;
	char actor[256];
	/* parsed inputs */
	enum cert_kind kind;
	struct store_serial serial;
	enum crl_reason reason;
	enum ca_event_type event;
	struct ca_issue_request issue;
	/* outputs */
	int rc;
	char err[CA_ERR_LEN];
	struct ca_issued issued;
};

static int status_for(int rc)
{
	switch (rc) {
	case -ENOENT: return 404;
	case -EALREADY:
	case -EEXIST: return 409;
	case -EINVAL:
	case -EPERM:
	case -ENOTSUP:
	case -ERANGE: return 400;
	case -EBUSY:
	case -EAGAIN: return 503;
	default: return 500;
	}
}

static const char *error_for(int status)
{
	switch (status) {
	case 404: return HTTP_ERROR_NOT_FOUND;
	case 409: return HTTP_ERROR_CONFLICT;
	case 400: return HTTP_ERROR_BAD_REQUEST;
	case 503: return HTTP_ERROR_UNAVAILABLE;
	default: return HTTP_ERROR_INTERNAL;
	}
}

static void job_free(struct admin_job *job)
{
	ca_issued_free(&job->issued);
	admin_params_free(&job->params);
	free(job);
}

static void issued_cert_write(struct json *j, const char *key, enum cert_kind kind,
                              const struct ca_issued_cert *c)
{
	if (!c->issued) {
		json_null(j, key);
		return;
	}
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&c->serial, hex);
	json_object_begin(j, key);
	json_string(j, "kind", ca_kind_name(kind));
	json_string(j, "serial", hex);
	json_time(j, "not_before", c->not_before);
	json_time(j, "not_after", c->not_after);
	char *b64 = malloc(4 * ((c->der_len + 2) / 3) + 1);
	if (b64) {
		base64_encode(c->der, c->der_len, b64);
		json_string(j, "certificate", b64);
		free(b64);
	}
	json_object_end(j);
}

static void work_cb(uv_work_t *req)
{
	struct admin_job *job = req->data;
	struct admin_context *ctx = job->ctx;
	uv_mutex_lock(&ctx->lock);
	switch (job->op) {
	case OP_ISSUE: job->rc = ca_issue(ctx->ca, &job->issue, &job->issued, job->err); break;
	case OP_REVOKE:
		job->rc = ca_revoke(ctx->ca, job->kind, &job->serial, job->reason, job->actor,
		                    job->err);
		break;
	case OP_EVENT:
		job->rc = ca_event(ctx->ca, job->kind, &job->serial, job->event, job->actor, NULL,
		                   job->err);
		break;
	}
	uv_mutex_unlock(&ctx->lock);
}

static void respond_committed(struct admin_job *job);

static void synced_cb(void *arg, int rc, unsigned acked, unsigned wanted)
{
	struct admin_job *job = arg;
	if (rc == 0) {
		respond_committed(job);
		return;
	}
	char detail[300];
	sync_gate_describe(rc, acked, wanted, sync_gate_timeout_ms(job->ctx->gate), detail,
	                   sizeof detail);
	log_warn("admin: %s by \"%s\": %s", job->ctx->handlers[job->op].super.name, job->actor,
	         detail);
	exchange_respond_error(job->ex, 503, HTTP_ERROR_NOT_REPLICATED, detail);
	job_free(job);
}

static void after_work_cb(uv_work_t *req, int status)
{
	struct admin_job *job = req->data;
	struct admin_context *ctx = job->ctx;
	ctx->in_flight--;
	if (status == UV_ECANCELED) {
		exchange_respond_error(job->ex, 503, HTTP_ERROR_UNAVAILABLE, "shutting down");
		job_free(job);
		return;
	}
	if (job->rc < 0) {
		int code = status_for(job->rc);
		log_info("admin: %s by \"%s\" failed: %s", ctx->handlers[job->op].super.name,
		         job->actor, job->err[0] ? job->err : strerror(-job->rc));
		exchange_respond_error(job->ex, code, error_for(code),
		                       job->err[0] ? job->err : strerror(-job->rc));
		job_free(job);
		return;
	}
	log_info("admin: %s by \"%s\" committed", ctx->handlers[job->op].super.name, job->actor);
	/* Answered once replication.sync_replicas replicas hold it too. */
	sync_gate_wait(ctx->gate, synced_cb, job);
}

/* The committed write's answer. */
static void respond_committed(struct admin_job *job)
{
	struct buf body = {0};
	struct json j;
	json_init(&j, &body);
	json_object_begin(&j, NULL);
	char hex[2 * STORE_SERIAL_MAX + 1];
	int code = 200;
	switch (job->op) {
	case OP_ISSUE:
		code = 201;
		json_uint(&j, "person_id", job->issued.person_id);
		issued_cert_write(&j, "sign", CERT_KIND_SIGN, &job->issued.sign);
		issued_cert_write(&j, "auth", CERT_KIND_AUTH, &job->issued.auth);
		break;
	case OP_REVOKE:
		store_serial_to_hex(&job->serial, hex);
		json_string(&j, "kind", ca_kind_name(job->kind));
		json_string(&j, "serial", hex);
		json_string(&j, "status", "revoked");
		json_string(&j, "reason", ca_reason_name(job->reason));
		break;
	case OP_EVENT:
		store_serial_to_hex(&job->serial, hex);
		json_string(&j, "kind", ca_kind_name(job->kind));
		json_string(&j, "serial", hex);
		json_string(&j, "event", admin_params_get(&job->params, "event"));
		break;
	}
	json_object_end(&j);
	if (body.failed)
		exchange_respond_error(job->ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
	else
		exchange_respond(job->ex, code, "application/json", body.data, body.len);
	buf_free(&body);
	job_free(job);
}

/* Checks and converts the fields; answers 400 and returns false on error. */
static bool job_prepare(struct admin_job *job)
{
	const struct admin_params *p = &job->params;
	char detail[200];
	const char *missing = NULL;
	if (job->op == OP_ISSUE) {
		static const char *const required[] = {"name",    "birth",       "sex",
		                                       "address", "sign_pubkey", "auth_pubkey"};
		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]) && !missing; i++)
			if (!admin_params_get(p, required[i]))
				missing = required[i];
		if (missing) {
			snprintf(detail, sizeof(detail),
			         "missing field \"%s\" (the admin API takes public keys, never "
			         "returns private ones)",
			         missing);
			goto bad;
		}
		const char *sex = admin_params_get(p, "sex");
		if (strlen(sex) != 1 || sex[0] < '1' || sex[0] > '3') {
			snprintf(detail, sizeof(detail), "sex must be 1, 2 or 3");
			goto bad;
		}
		const char *spk = admin_params_get(p, "sign_pubkey");
		const char *apk = admin_params_get(p, "auth_pubkey");
		job->issue = (struct ca_issue_request){
		        .person = {admin_params_get(p, "name"), admin_params_get(p, "birth"),
		                   sex[0] - '0', admin_params_get(p, "address")},
		        .sign_pubkey = (const uint8_t *)spk,
		        .sign_pubkey_len = strlen(spk),
		        .auth_pubkey = (const uint8_t *)apk,
		        .auth_pubkey_len = strlen(apk),
		        .actor = job->actor,
		};
		return true;
	}
	const char *kind = admin_params_get(p, "kind");
	const char *serial = admin_params_get(p, "serial");
	const char *what = admin_params_get(p, job->op == OP_REVOKE ? "reason" : "event");
	if (!kind || !serial || !what) {
		snprintf(detail, sizeof(detail), "needs kind, serial and %s",
		         job->op == OP_REVOKE ? "reason" : "event");
		goto bad;
	}
	if (ca_kind_parse(kind, &job->kind) < 0) {
		snprintf(detail, sizeof(detail), "kind must be sign or auth");
		goto bad;
	}
	if (store_serial_from_hex(serial, strlen(serial), &job->serial) < 0) {
		snprintf(detail, sizeof(detail), "serial must be hexadecimal");
		goto bad;
	}
	if (job->op == OP_REVOKE && ca_reason_parse(what, &job->reason) < 0) {
		snprintf(detail, sizeof(detail),
		         "unknown reason \"%.60s\" (RFC 5280 names, e.g. keyCompromise)", what);
		goto bad;
	}
	if (job->op == OP_EVENT) {
		if (ca_event_parse(what, &job->event) < 0) {
			snprintf(detail, sizeof(detail),
			         "event must be move, rename, death, loss or request");
			goto bad;
		}
		if (job->event == CA_EVENT_RENEW) {
			snprintf(detail, sizeof(detail),
			         "renew generates key pairs; run `kensho event ... renew` on the "
			         "host instead");
			goto bad;
		}
	}
	return true;
bad:
	exchange_respond_error(job->ex, 400, HTTP_ERROR_BAD_REQUEST, detail);
	return false;
}

static bool ca_ready(struct exchange *ex, struct admin_context *ctx)
{
	const struct handler_env *env = ctx->env;
	if (ctx->ca)
		return true;
	if (!env->store) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store is not open");
		return false;
	}
	char err[CA_ERR_LEN] = "";
	int rc = ca_open_with_store(env->data_dir, env->store, &ctx->ca, err);
	if (rc < 0) {
		log_error("admin: cannot load the CAs: %s", err);
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE,
		                       "the CAs could not be loaded");
		return false;
	}
	return true;
}

static void admin_on_request(struct handler *self, struct exchange *ex)
{
	struct admin_handler *h = (struct admin_handler *)self;
	struct admin_context *ctx = h->ctx;
	if (replication_refuse_if_fenced(ctx->env, ex))
		return;
	if (ctx->in_flight >= ADMIN_MAX_IN_FLIGHT) {
		exchange_add_header(ex, "Retry-After", "1");
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY,
		                       "too many admin calls in progress");
		return;
	}
	if (!ca_ready(ex, ctx))
		return;
	const struct http_request *req = exchange_request(ex);
	struct admin_job *job = calloc(1, sizeof(*job));
	if (!job) {
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	job->ctx = ctx;
	job->ex = ex;
	job->op = h->op;
	snprintf(job->actor, sizeof(job->actor), "%s", req->peer->subject);
	size_t ct_len = 0;
	const char *ct = exchange_header(ex, "Content-Type", &ct_len);
	char err[200] = "";
	int rc = admin_params_parse(ct, ct_len, req->body, req->body_len, &job->params, err,
	                            sizeof(err));
	if (rc < 0) {
		exchange_respond_error(ex, rc == -EPROTONOSUPPORT ? 415 : 400,
		                       rc == -EPROTONOSUPPORT ? HTTP_ERROR_UNSUPPORTED_MEDIA_TYPE
		                                              : HTTP_ERROR_BAD_REQUEST,
		                       err);
		job_free(job);
		return;
	}
	if (!job_prepare(job)) {
		job_free(job);
		return;
	}
	job->work.data = job;
	rc = uv_queue_work(exchange_loop(ex), &job->work, work_cb, after_work_cb);
	if (rc < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, uv_strerror(rc));
		job_free(job);
		return;
	}
	ctx->in_flight++;
}

/* Same hooks as SIGHUP. With --workers N the request reaches one worker, so
 * it signals the supervisor, which forwards SIGHUP to all of them. */
static void reload_on_request(struct handler *self, struct exchange *ex)
{
	struct admin_context *ctx =
	        (struct admin_context *)((char *)self -
	                                 offsetof(struct admin_context, reload_handler));
	const struct handler_env *env = ctx->env;
	const struct http_request *req = exchange_request(ex);
	log_info("admin: reload requested by \"%s\"", req->peer->subject);
	if (config_get_int(env->config, "server.workers", 1) > 1) {
		if (kill(getppid(), SIGHUP) != 0) {
			exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, strerror(errno));
			return;
		}
		static const char body[] = "{\"reload\":\"signalled\",\"detail\":\"every worker "
		                           "reloads; refused files are logged\"}";
		exchange_respond(ex, 202, "application/json", body, sizeof(body) - 1);
		return;
	}
	int ran = reload_run_all();
	char why[512];
	if (reload_last_failures(why, sizeof(why)) > 0) {
		exchange_respond_error(ex, 500, HTTP_ERROR_RELOAD_REFUSED, why);
		return;
	}
	struct buf body = {0};
	buf_printf(&body, "{\"reloaded\":%d}", ran);
	exchange_respond(ex, 200, "application/json", body.data, body.len);
	buf_free(&body);
}

static int admin_context_init(struct router *r, const struct handler_env *env, void **context)
{
	static const char *const paths[] = {"/v1/admin/issue", "/v1/admin/revoke",
	                                    "/v1/admin/event"};
	static const char *const names[] = {"admin-issue", "admin-revoke", "admin-event"};
	struct admin_context *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	if (uv_mutex_init(&ctx->lock) != 0) {
		free(ctx);
		return -ENOMEM;
	}
	ctx->env = env;
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++) {
		ctx->handlers[i] = (struct admin_handler){
		        {.name = names[i], .on_request = admin_on_request}, ctx, (enum admin_op)i};
		rc = router_add(r, paths[i], HTTP_METHOD_POST, PEER_ROLE_OPERATOR,
		                &ctx->handlers[i].super);
	}
	ctx->reload_handler =
	        (struct handler){.name = "admin-reload", .on_request = reload_on_request};
	if (rc == 0)
		rc = router_add(r, "/v1/admin/reload", HTTP_METHOD_POST, PEER_ROLE_OPERATOR,
		                &ctx->reload_handler);
	if (rc < 0) {
		uv_mutex_destroy(&ctx->lock);
		free(ctx);
		return rc;
	}
	if ((rc = sync_gate_new(env->loop, env->store, env->config, &ctx->gate)) < 0) {
		uv_mutex_destroy(&ctx->lock);
		free(ctx);
		return rc;
	}
	*context = ctx;
	return 0;
}

/* Writes waiting for replicas are answered not_replicated: the worker drains. */
static void admin_context_dispose(void *context)
{
	struct admin_context *ctx = context;
	sync_gate_close(ctx->gate);
}

static void admin_dispose(void *context)
{
	struct admin_context *ctx = context;
	sync_gate_free(ctx->gate);
	ca_close(ctx->ca);
	uv_mutex_destroy(&ctx->lock);
	free(ctx);
}

const struct handler_family admin_family = {
        .name = "admin",
        .on_context_init = admin_context_init,
        .on_context_dispose = admin_context_dispose,
        .dispose = admin_dispose,
};
