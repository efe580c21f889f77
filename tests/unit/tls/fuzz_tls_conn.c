/* Fuzz target tls_conn: bytes through the real connection path — core's
 * server adopts one end of a socketpair with the TLS transport factory, and
 * the fuzzer's bytes arrive on the other end, so they cross libuv's reads,
 * the TLS transport, llhttp and the router exactly as on a listener.
 *
 * Input format as tls_records: byte 0 mode, byte 1 chunk size, then what the
 * peer sends. Mode even: the bytes arrive on a fresh connection. Mode odd: an
 * mbedTLS client completes a handshake over the socket first (with the
 * operator's certificate when mode & 2, and then sends one real encrypted
 * request when mode & 4), and the bytes follow as raw records. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <uv.h>

#include "core/exchange.h"
#include "core/log.h"
#include "core/server.h"
#include "handlers/roles.h"
#include "tls/tls.h"
#include "tls/tls_demo_pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void turn(void);

#define MAX_SPINS 4000

static char pki_dir[64];
static uv_loop_t loop;
static struct router *router;
static struct server *server;
static struct tls_factory *factory;
static struct handler ok_handler;

static void ok_on_request(struct handler *self, struct exchange *ex)
{
	exchange_respond(ex, 200, "text/plain", "ok", 2);
}

static void teardown(void)
{
	server_close(server);
	uv_run(&loop, UV_RUN_DEFAULT);
	tls_factory_free(factory);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	router_free(router);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pki_dir);
}

static void setup_once(void)
{
	char err[256] = "", cert[128], key[128], trust[128], policy[128];
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN); /* as kenshod: a closed peer is an error return */
	snprintf(pki_dir, sizeof(pki_dir), "/tmp/kensho-fuzz-conn-XXXXXX");
	if (!mkdtemp(pki_dir) ||
	    tls_demo_pki_ensure(pki_dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err,
	                        sizeof(err)) != 0) {
		fprintf(stderr, "demo pki: %s\n", err);
		abort();
	}
	snprintf(cert, sizeof(cert), "%s/tls/server.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/tls/server.key", pki_dir);
	snprintf(trust, sizeof(trust), "%s/tls/ca.pem", pki_dir);
	snprintf(policy, sizeof(policy), "%s/tls/policy.conf", pki_dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust,
	        .policy_file = policy,
	        .roles = &handler_roles,
	        .client_auth = TLS_CLIENT_AUTH_OPTIONAL,
	        .handshake_timeout_ms = 2000,
	        .ticket_lifetime_s = 3600,
	};
	uv_loop_init(&loop);
	router = router_new();
	ok_handler = (struct handler){.name = "ok", .on_request = ok_on_request};
	struct server_limits limits;
	server_limits_default(&limits);
	if (!router || router_add(router, "/", HTTP_METHOD_GET | HTTP_METHOD_POST, ROUTE_OPEN, &ok_handler) ||
	    !(server = server_new(&loop, router, &limits)) ||
	    tls_factory_new(&loop, &s, &factory, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		abort();
	}
	server_set_access_log(server, false);
	atexit(teardown);
}

/* The peer's end: non-blocking, drained of whatever the server sends. */
static void drain(int fd)
{
	uint8_t sink[16384];
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
	for (int spins = 0; len > 0 && spins < MAX_SPINS; spins++) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return; /* the server closed: fine */
		drain(fd);
		turn();
	}
}

static int peer_send(void *arg, const unsigned char *d, size_t len)
{
	ssize_t n = write(*(int *)arg, d, len);
	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)n;
}

static int peer_recv(void *arg, unsigned char *d, size_t len)
{
	ssize_t n = read(*(int *)arg, d, len);
	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
	if (n == 0)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return (int)n;
}

/* One turn of the loop; handshake steps run on the thread pool, so a turn
 * also waits for the steps queued during it, and every input meets the
 * same server state whatever the pool's timing. */
static void turn(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
	struct tls_stats st;
	tls_factory_stats(factory, &st);
	while (st.steps_queued > 0) {
		uv_run(&loop, UV_RUN_ONCE);
		tls_factory_stats(factory, &st);
	}
}

/* A real client handshake over the socket, the loop turning in between. */
static void client_handshake(int fd, bool with_cert, bool send_request)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	bool ok = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) == 0 &&
	          mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	                                      MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT) == 0;
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	if (ok && with_cert) {
		char path[128];
		snprintf(path, sizeof(path), "%s/tls/clients/operator.pem", pki_dir);
		ok = mbedtls_x509_crt_parse_file(&cert, path) == 0;
		snprintf(path, sizeof(path), "%s/tls/clients/operator.key", pki_dir);
		ok = ok && mbedtls_pk_parse_keyfile(&key, path, NULL) == 0 &&
		     mbedtls_ssl_conf_own_cert(&conf, &cert, &key) == 0;
	}
	ok = ok && mbedtls_ssl_setup(&ssl, &conf) == 0;
	mbedtls_ssl_set_bio(&ssl, &fd, peer_send, peer_recv, NULL);
	int rc = MBEDTLS_ERR_SSL_WANT_READ;
	for (int spins = 0; ok && spins < MAX_SPINS; spins++) {
		rc = mbedtls_ssl_handshake(&ssl);
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		turn();
	}
	if (!ok || rc != 0) {
		fprintf(stderr, "fuzz_tls_conn: setup handshake failed (%d)\n", rc);
		abort();
	}
	if (send_request) {
		static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
		for (int spins = 0; spins < MAX_SPINS; spins++) {
			rc = mbedtls_ssl_write(&ssl, (const unsigned char *)req, sizeof(req) - 1);
			if (rc != MBEDTLS_ERR_SSL_WANT_WRITE)
				break;
			turn();
		}
		/* The answer must come back through the same path. */
		unsigned char answer[256];
		for (int spins = 0; spins < MAX_SPINS; spins++) {
			turn();
			rc = mbedtls_ssl_read(&ssl, answer, sizeof(answer) - 1);
			if (rc != MBEDTLS_ERR_SSL_WANT_READ)
				break;
		}
		if (rc <= 0 || memcmp(answer, "HTTP/1.1 200", 12) != 0) {
			fprintf(stderr, "fuzz_tls_conn: no answer to a real request (%d)\n", rc);
			abort();
		}
	}
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&cert);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!server)
		setup_once();
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	size_t chunk = (size_t)data[1] * 64 + 1;
	data += 2;
	size -= 2;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		abort();
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	if (server_adopt_fd(server, fds[0], tls_factory_base(factory)) != 0)
		abort();
	if (mode & 1)
		client_handshake(fds[1], mode & 2, mode & 4);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		write_all(fds[1], data + off, n);
		turn();
	}
	/* End of input: the connection must wind down by itself. */
	shutdown(fds[1], SHUT_WR);
	for (int spins = 0; spins < MAX_SPINS && server_connection_count(server) > 0; spins++) {
		drain(fds[1]);
		turn();
	}
	close(fds[1]);
	for (int spins = 0; spins < MAX_SPINS && server_connection_count(server) > 0; spins++)
		turn();
	return 0;
}
