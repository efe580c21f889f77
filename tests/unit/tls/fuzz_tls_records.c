/* Fuzz target tls_records: drives bytes from the network through the TLS
 * server transport exactly as a connection does (on_read in chunks, then
 * write and shutdown if it got that far).
 *
 * Input: byte 0 selects the mode, byte 1 the chunk size, the rest is what
 * the peer sends.
 *   mode even: the bytes arrive on a fresh connection (ClientHellos, SSLv2
 *              hellos, garbage, truncated records);
 *   mode odd:  an in-memory mbedTLS client first completes a real handshake
 *              (with the operator's client certificate when mode & 2), then
 *              the bytes arrive as records on the established session. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/log.h"
#include "handlers/roles.h"
#include "tls/tls.h"
#include "tls/tls_demo_pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char pki_dir[64];
static struct tls_factory *factory;

struct sink {
	struct buf to_client;
	size_t client_off;
	size_t delivered;
	bool established, failed;
};

static int sink_send(void *conn, const uint8_t *d, size_t len)
{
	return buf_append(&((struct sink *)conn)->to_client, d, len);
}

static int sink_deliver(void *conn, const uint8_t *d, size_t len)
{
	(void)d;
	((struct sink *)conn)->delivered += len;
	return 0;
}

static void sink_established(void *conn)
{
	((struct sink *)conn)->established = true;
}

static void sink_fail(void *conn, int err, const char *why)
{
	(void)err;
	(void)why;
	((struct sink *)conn)->failed = true;
}

static void remove_pki(void)
{
	char cmd[128];
	tls_factory_free(factory);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pki_dir);
}

static void setup_once(void)
{
	char err[256] = "", cert[128], key[128], trust[128], policy[128];
	log_set_level(LOG_ERROR);
	snprintf(pki_dir, sizeof pki_dir, "/tmp/kensho-fuzz-tls-XXXXXX");
	if (!mkdtemp(pki_dir) ||
	    tls_demo_pki_ensure(pki_dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err,
	                        sizeof err) != 0) {
		fprintf(stderr, "demo pki: %s\n", err);
		abort();
	}
	snprintf(cert, sizeof cert, "%s/tls/server.pem", pki_dir);
	snprintf(key, sizeof key, "%s/tls/server.key", pki_dir);
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", pki_dir);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", pki_dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust,
	        .policy_file = policy,
	        .roles = &handler_roles,
	        .client_auth = TLS_CLIENT_AUTH_OPTIONAL,
	        .handshake_timeout_ms = 1000,
	        .ticket_lifetime_s = 3600,
	};
	if (tls_factory_new(NULL, &s, &factory, err, sizeof err) != 0) {
		fprintf(stderr, "tls_factory_new: %s\n", err);
		abort();
	}
	atexit(remove_pki);
}

struct client {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	struct buf out;
	struct sink *server;
};

static int client_send(void *arg, const unsigned char *d, size_t len)
{
	struct client *c = arg;
	return buf_append(&c->out, d, len) == 0 ? (int)len : MBEDTLS_ERR_SSL_ALLOC_FAILED;
}

static int client_recv(void *arg, unsigned char *d, size_t len)
{
	struct sink *s = ((struct client *)arg)->server;
	size_t avail = s->to_client.len - s->client_off;
	if (avail == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (len > avail)
		len = avail;
	memcpy(d, s->to_client.data + s->client_off, len);
	s->client_off += len;
	return (int)len;
}

/* Completes a real handshake between an mbedTLS client and t. */
static bool client_handshake(struct transport *t, struct sink *s, bool with_cert)
{
	struct client c;
	memset(&c, 0, sizeof c);
	c.server = s;
	mbedtls_entropy_init(&c.entropy);
	mbedtls_ctr_drbg_init(&c.drbg);
	mbedtls_ssl_config_init(&c.conf);
	mbedtls_ssl_init(&c.ssl);
	mbedtls_x509_crt_init(&c.cert);
	mbedtls_pk_init(&c.key);
	bool ok = mbedtls_ctr_drbg_seed(&c.drbg, mbedtls_entropy_func, &c.entropy, NULL, 0) == 0 &&
	          mbedtls_ssl_config_defaults(&c.conf, MBEDTLS_SSL_IS_CLIENT,
	                                      MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT) == 0;
	mbedtls_ssl_conf_rng(&c.conf, mbedtls_ctr_drbg_random, &c.drbg);
	mbedtls_ssl_conf_authmode(&c.conf, MBEDTLS_SSL_VERIFY_NONE);
	if (ok && with_cert) {
		char path[128];
		snprintf(path, sizeof path, "%s/tls/clients/operator.pem", pki_dir);
		ok = mbedtls_x509_crt_parse_file(&c.cert, path) == 0;
		snprintf(path, sizeof path, "%s/tls/clients/operator.key", pki_dir);
		ok = ok && mbedtls_pk_parse_keyfile(&c.key, path, NULL) == 0 &&
		     mbedtls_ssl_conf_own_cert(&c.conf, &c.cert, &c.key) == 0;
	}
	ok = ok && mbedtls_ssl_setup(&c.ssl, &c.conf) == 0;
	mbedtls_ssl_set_bio(&c.ssl, &c, client_send, client_recv, NULL);
	for (int round = 0; ok && round < 20 && !s->established && !s->failed; round++) {
		int rc = mbedtls_ssl_handshake(&c.ssl);
		if (c.out.len) {
			t->ops->on_read(t, c.out.data, c.out.len);
			buf_reset(&c.out);
		}
		if (rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ)
			break;
	}
	mbedtls_ssl_free(&c.ssl);
	mbedtls_ssl_config_free(&c.conf);
	mbedtls_x509_crt_free(&c.cert);
	mbedtls_pk_free(&c.key);
	mbedtls_ctr_drbg_free(&c.drbg);
	mbedtls_entropy_free(&c.entropy);
	buf_free(&c.out);
	if (!s->established) {
		fprintf(stderr, "fuzz_tls_records: setup handshake failed\n");
		abort();
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!factory)
		setup_once();
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	size_t chunk = (size_t)data[1] * 64 + 1;
	data += 2;
	size -= 2;

	struct sink s;
	memset(&s, 0, sizeof s);
	struct peer_info peer;
	memset(&peer, 0, sizeof peer);
	struct transport_io io = {
	        .conn = &s,
	        .send = sink_send,
	        .deliver = sink_deliver,
	        .established = sink_established,
	        .fail = sink_fail,
	};
	struct transport_factory *base = tls_factory_base(factory);
	struct transport *t = base->create(base, &io, &peer);
	if (!t)
		return 0;
	t->ops->start(t);
	if (mode & 1)
		client_handshake(t, &s, mode & 2);
	for (size_t off = 0; off < size && !s.failed; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		t->ops->on_read(t, data + off, n);
	}
	/* Whatever state it reached, answering and closing must be safe. */
	if (s.established && !s.failed)
		t->ops->write(t, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19);
	t->ops->shutdown(t);
	t->ops->destroy(t);
	buf_free(&s.to_client);
	return 0;
}
