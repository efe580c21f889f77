/* kensho-tls-probe: a minimal loopback HTTPS server on the TLS transport, for
 * testing tls/ with real clients (curl, openssl s_client, testssl.sh) apart
 * from kenshod. It answers every request with the caller's identity as JSON,
 * 403 for /v1/admin/... without the operator role, and reloads its TLS
 * configuration on SIGHUP. Not part of kenshod.
 *
 *   kensho-tls-probe DATA_DIR PORT [none|optional|required]
 *
 * DATA_DIR/tls/ is created with the demo PKI on first start; READY is printed
 * on stdout once listening. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/json.h"
#include "core/log.h"
#include "handlers/roles.h"
#include "tls/tls.h"
#include "tls/tls_demo_pki.h"
#include "tls/tls_policy.h"

struct probe_conn {
	uv_tcp_t tcp;
	struct transport *t;
	struct peer_info peer;
	struct buf request;
	bool closing;
};

static struct tls_factory *factory;

static void close_cb(uv_handle_t *h)
{
	struct probe_conn *c = h->data;
	if (c->t)
		c->t->ops->destroy(c->t);
	buf_free(&c->request);
	free(c);
}

static void conn_close(struct probe_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void write_cb(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

static int io_send(void *conn, const uint8_t *data, size_t len)
{
	struct probe_conn *c = conn;
	if (c->closing)
		return -EPIPE;
	uv_write_t *req = malloc(sizeof *req);
	char *copy = malloc(len);
	if (!req || !copy) {
		free(req);
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, data, len);
	req->data = copy;
	uv_buf_t b = uv_buf_init(copy, (unsigned)len);
	int rc = uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc < 0) {
		free(copy);
		free(req);
	}
	return rc;
}

static void respond(struct probe_conn *c, const char *path)
{
	int status = 200;
	struct buf body = {0};
	struct json j;
	json_init(&j, &body);
	json_object_begin(&j, NULL);
	if (strncmp(path, "/v1/admin/", 10) == 0 && !(c->peer.roles & PEER_ROLE_OPERATOR)) {
		status = 403;
		json_string(&j, "error", "forbidden");
		json_string(&j, "detail", "this endpoint needs the operator role");
	} else {
		char roles[80];
		role_table_format(&handler_roles, c->peer.roles, ",", roles, sizeof roles);
		json_bool(&j, "tls", c->peer.tls);
		json_bool(&j, "client_cert", c->peer.client_cert);
		json_string(&j, "subject", c->peer.subject);
		json_hex(&j, "spki_sha256", c->peer.spki_sha256, 32);
		json_string(&j, "roles", roles);
		json_string(&j, "path", path);
	}
	json_object_end(&j);
	struct buf out = {0};
	buf_printf(
	        &out,
	        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	        status, status == 200 ? "OK" : "Forbidden", body.len);
	buf_append(&out, body.data, body.len);
	if (!out.failed)
		c->t->ops->write(c->t, out.data, out.len);
	buf_free(&out);
	buf_free(&body);
}

/* Just enough HTTP: requests without bodies, pipelined or one by one. */
static int io_deliver(void *conn, const uint8_t *data, size_t len)
{
	struct probe_conn *c = conn;
	if (buf_append(&c->request, data, len) < 0 || c->request.len > 65536)
		return -EMSGSIZE;
	for (;;) {
		uint8_t *end = memmem(c->request.data, c->request.len, "\r\n\r\n", 4);
		if (!end)
			return 0;
		size_t head = (size_t)(end - c->request.data) + 4;
		char path[256] = "/";
		sscanf((char *)c->request.data, "%*s %255s", path);
		respond(c, path);
		memmove(c->request.data, c->request.data + head, c->request.len - head);
		c->request.len -= head;
	}
}

static void io_established(void *conn)
{
	(void)conn;
}

static void io_fail(void *conn, int err, const char *why)
{
	struct probe_conn *c = conn;
	log_info("probe: %s: %s", c->peer.address, why);
	conn_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char slab[65536];
	*b = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct probe_conn *c = s->data;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n > 0 && !c->closing)
		c->t->ops->on_read(c->t, (const uint8_t *)b->base, (size_t)n);
}

static void connection_cb(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	struct probe_conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	snprintf(c->peer.address, sizeof c->peer.address, "client");
	struct transport_io io = {
	        .conn = c,
	        .send = io_send,
	        .deliver = io_deliver,
	        .established = io_established,
	        .fail = io_fail,
	};
	struct transport_factory *base = tls_factory_base(factory);
	c->t = base->create(base, &io, &c->peer);
	if (!c->t) {
		conn_close(c);
		return;
	}
	c->t->ops->start(c->t);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void sighup_cb(uv_signal_t *h, int signum)
{
	char err[512];
	if (tls_factory_reload(factory, err, sizeof err) == 0)
		log_info("probe: TLS configuration reloaded");
	else
		log_error("tls: reload refused, previous configuration stays in force: %s", err);
}

static void sigterm_cb(uv_signal_t *h, int signum)
{
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DATA_DIR PORT [none|optional|required]\n", argv[0]);
		return 2;
	}
	char err[512], storage[2048];
	if (tls_demo_pki_ensure(argv[1], &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err,
	                        sizeof err) != 0) {
		fprintf(stderr, "demo pki: %s\n", err);
		return 1;
	}
	struct tls_settings s;
	char cert[1024], key[1024], trust[1024], policy[1024];
	snprintf(cert, sizeof cert, "%s/tls/server.pem", argv[1]);
	snprintf(key, sizeof key, "%s/tls/server.key", argv[1]);
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", argv[1]);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", argv[1]);
	(void)storage;
	memset(&s, 0, sizeof s);
	s.cert_file = getenv("PROBE_CERT") ? getenv("PROBE_CERT") : cert;
	s.key_file = getenv("PROBE_KEY") ? getenv("PROBE_KEY") : key;
	s.trust_file = trust;
	s.policy_file = policy;
	s.roles = &handler_roles;
	s.handshake_timeout_ms =
	        getenv("PROBE_HANDSHAKE_MS") ? atoi(getenv("PROBE_HANDSHAKE_MS")) : 10000;
	s.ticket_lifetime_s = 3600;
	if (argc > 3 && tls_client_auth_parse(argv[3], &s.client_auth) < 0) {
		fprintf(stderr, "bad client auth mode %s\n", argv[3]);
		return 2;
	}
	uv_loop_t *loop = uv_default_loop();
	if (tls_factory_new(loop, &s, &factory, err, sizeof err) != 0) {
		fprintf(stderr, "tls: %s\n", err);
		return 1;
	}
	uv_tcp_t server;
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
	uv_tcp_init(loop, &server);
	if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
	    uv_listen((uv_stream_t *)&server, 128, connection_cb) != 0) {
		fprintf(stderr, "cannot listen on port %s\n", argv[2]);
		return 1;
	}
	uv_signal_t hup, term;
	uv_signal_init(loop, &hup);
	uv_signal_start(&hup, sighup_cb, SIGHUP);
	uv_signal_init(loop, &term);
	uv_signal_start(&term, sigterm_cb, SIGTERM);
	printf("READY\n");
	fflush(stdout);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
