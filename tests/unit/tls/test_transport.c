/* tls/tls.c: a server transport driven in memory against an mbedTLS client.
 * Handshake, data both ways, client-certificate policy, refused protocol
 * versions and ciphers, garbage and truncated records, tickets, reload and
 * the handshake timeout. Certificates come from tls_demo_pki_ensure. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "handlers/roles.h"
#include "tls/tls.h"
#include "tls/tls_demo_pki.h"
#include "tls/tls_policy.h"
#include "tls/tls_ticket.h"

static char dir[256];       /* demo PKI that the server trusts */
static char other_dir[256]; /* a second, untrusted demo PKI */

/* --- the connection side of the server transport ----------------------------- */

struct fake_conn {
	struct buf to_client; /* ciphertext the server sent */
	struct buf plaintext; /* what the server delivered */
	int established;
	int failed;
	int fail_err;
	char fail_why[256];
	struct peer_info peer;
	struct transport *t;
};

static int conn_send(void *conn, const uint8_t *data, size_t len)
{
	struct fake_conn *c = conn;
	return buf_append(&c->to_client, data, len);
}

static int conn_deliver(void *conn, const uint8_t *data, size_t len)
{
	struct fake_conn *c = conn;
	return buf_append(&c->plaintext, data, len);
}

static void conn_established(void *conn)
{
	struct fake_conn *c = conn;
	c->established++;
}

static void conn_fail(void *conn, int err, const char *why)
{
	struct fake_conn *c = conn;
	c->failed++;
	c->fail_err = err;
	snprintf(c->fail_why, sizeof c->fail_why, "%s", why);
}

static void conn_open(struct fake_conn *c, struct tls_factory *f)
{
	memset(c, 0, sizeof *c);
	struct transport_io io = {
	        .conn = c,
	        .send = conn_send,
	        .deliver = conn_deliver,
	        .established = conn_established,
	        .fail = conn_fail,
	};
	snprintf(c->peer.address, sizeof c->peer.address, "127.0.0.1:1");
	struct transport_factory *base = tls_factory_base(f);
	c->t = base->create(base, &io, &c->peer);
	assert_non_null(c->t);
	assert_int_equal(c->t->ops->start(c->t), 0);
}

static void conn_close(struct fake_conn *c)
{
	c->t->ops->destroy(c->t);
	buf_free(&c->to_client);
	buf_free(&c->plaintext);
}

/* --- an mbedTLS client ----------------------------------------------------------- */

struct client {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	struct buf to_server;
	struct fake_conn *server; /* its to_client is our input */
	size_t in_off;
	int ciphersuites[2];
};

static int client_send(void *arg, const unsigned char *data, size_t len)
{
	struct client *cl = arg;
	buf_append(&cl->to_server, data, len);
	return (int)len;
}

static int client_recv(void *arg, unsigned char *out, size_t len)
{
	struct client *cl = arg;
	struct buf *in = &cl->server->to_client;
	size_t avail = in->len - cl->in_off;
	if (avail == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (len > avail)
		len = avail;
	memcpy(out, in->data + cl->in_off, len);
	cl->in_off += len;
	return (int)len;
}

struct client_opts {
	const char *cert_base; /* e.g. "clients/operator" under pki_dir */
	const char *pki_dir;
	int minor_version; /* 0: TLS 1.2 */
	int ciphersuite;   /* 0: defaults */
};

static void client_init(struct client *cl, struct fake_conn *server, const struct client_opts *o)
{
	memset(cl, 0, sizeof *cl);
	cl->server = server;
	mbedtls_entropy_init(&cl->entropy);
	mbedtls_ctr_drbg_init(&cl->drbg);
	assert_int_equal(
	        mbedtls_ctr_drbg_seed(&cl->drbg, mbedtls_entropy_func, &cl->entropy, NULL, 0), 0);
	mbedtls_ssl_config_init(&cl->conf);
	mbedtls_ssl_init(&cl->ssl);
	mbedtls_x509_crt_init(&cl->ca);
	mbedtls_x509_crt_init(&cl->cert);
	mbedtls_pk_init(&cl->key);
	assert_int_equal(mbedtls_ssl_config_defaults(&cl->conf, MBEDTLS_SSL_IS_CLIENT,
	                                             MBEDTLS_SSL_TRANSPORT_STREAM,
	                                             MBEDTLS_SSL_PRESET_DEFAULT),
	                 0);
	mbedtls_ssl_conf_rng(&cl->conf, mbedtls_ctr_drbg_random, &cl->drbg);
	char path[512];
	snprintf(path, sizeof path, "%s/tls/ca.pem", dir);
	assert_int_equal(mbedtls_x509_crt_parse_file(&cl->ca, path), 0);
	mbedtls_ssl_conf_ca_chain(&cl->conf, &cl->ca, NULL);
	mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	if (o && o->minor_version) {
		mbedtls_ssl_conf_min_version(&cl->conf, 3, o->minor_version);
		mbedtls_ssl_conf_max_version(&cl->conf, 3, o->minor_version);
	}
	if (o && o->ciphersuite) {
		cl->ciphersuites[0] = o->ciphersuite;
		mbedtls_ssl_conf_ciphersuites(&cl->conf, cl->ciphersuites);
	}
	if (o && o->cert_base) {
		snprintf(path, sizeof path, "%s/tls/%s.pem", o->pki_dir ? o->pki_dir : dir,
		         o->cert_base);
		assert_int_equal(mbedtls_x509_crt_parse_file(&cl->cert, path), 0);
		snprintf(path, sizeof path, "%s/tls/%s.key", o->pki_dir ? o->pki_dir : dir,
		         o->cert_base);
		assert_int_equal(mbedtls_pk_parse_keyfile(&cl->key, path, NULL), 0);
		assert_int_equal(mbedtls_ssl_conf_own_cert(&cl->conf, &cl->cert, &cl->key), 0);
	}
	assert_int_equal(mbedtls_ssl_setup(&cl->ssl, &cl->conf), 0);
	assert_int_equal(mbedtls_ssl_set_hostname(&cl->ssl, "localhost"), 0);
	mbedtls_ssl_set_bio(&cl->ssl, cl, client_send, client_recv, NULL);
}

static void client_free(struct client *cl)
{
	mbedtls_ssl_free(&cl->ssl);
	mbedtls_ssl_config_free(&cl->conf);
	mbedtls_x509_crt_free(&cl->ca);
	mbedtls_x509_crt_free(&cl->cert);
	mbedtls_pk_free(&cl->key);
	mbedtls_ctr_drbg_free(&cl->drbg);
	mbedtls_entropy_free(&cl->entropy);
	buf_free(&cl->to_server);
}

/* Moves the client's output into the server transport. */
static void flush_to_server(struct client *cl)
{
	if (cl->to_server.len == 0)
		return;
	struct fake_conn *s = cl->server;
	assert_int_equal(s->t->ops->on_read(s->t, cl->to_server.data, cl->to_server.len), 0);
	buf_reset(&cl->to_server);
}

/* Runs the handshake to completion or failure; returns the client's result. */
static int handshake(struct client *cl)
{
	int rc = MBEDTLS_ERR_SSL_WANT_READ;
	for (int round = 0; round < 50; round++) {
		rc = mbedtls_ssl_handshake(&cl->ssl);
		flush_to_server(cl);
		if (rc != MBEDTLS_ERR_SSL_WANT_READ)
			break;
		if (cl->server->failed && cl->in_off == cl->server->to_client.len)
			break;
	}
	if (rc == 0) {
		/* The server's Finished is processed; let it see ours too. */
		flush_to_server(cl);
	}
	return rc;
}

static void client_write(struct client *cl, const char *text)
{
	assert_int_equal(mbedtls_ssl_write(&cl->ssl, (const unsigned char *)text, strlen(text)),
	                 (int)strlen(text));
	flush_to_server(cl);
}

static int client_read(struct client *cl, char *out, size_t cap)
{
	int n = mbedtls_ssl_read(&cl->ssl, (unsigned char *)out, cap - 1);
	if (n >= 0)
		out[n] = '\0';
	return n;
}

/* --- factory helpers ------------------------------------------------------------- */

static struct tls_factory *factory_with(enum tls_client_auth auth, int64_t timeout_ms)
{
	char cert[512], key[512], trust[512], policy[512], err[256] = "";
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust,
	        .policy_file = policy,
	        .roles = &handler_roles,
	        .client_auth = auth,
	        .handshake_timeout_ms = timeout_ms,
	        .ticket_lifetime_s = 3600,
	};
	struct tls_factory *f = NULL;
	int rc = tls_factory_new(NULL, &s, &f, err, sizeof err);
	if (rc != 0)
		fail_msg("tls_factory_new: %d %s", rc, err);
	return f;
}

static int group_setup(void **state)
{
	char err[256];
	snprintf(dir, sizeof dir, "/tmp/kensho-tls-unit-XXXXXX");
	snprintf(other_dir, sizeof other_dir, "/tmp/kensho-tls-other-XXXXXX");
	if (!mkdtemp(dir) || !mkdtemp(other_dir))
		return -1;
	if (tls_demo_pki_ensure(dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err, sizeof err) !=
	            0 ||
	    tls_demo_pki_ensure(other_dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err,
	                        sizeof err) != 0) {
		fprintf(stderr, "demo pki: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, other_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- tests ----------------------------------------------------------------------- */

static void test_demo_pki_files(void **state)
{
	static const char *keys[] = {"ca.key",
	                             "server.key",
	                             "clients/operator.key",
	                             "clients/relying-party.key",
	                             "clients/personal.key",
	                             "clients/intake.key"};
	char path[512];
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s/tls/%s", dir, keys[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* The server certificate names localhost and 127.0.0.1 and chains to ca.pem. */
	mbedtls_x509_crt ca, server;
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&server);
	snprintf(path, sizeof path, "%s/tls/ca.pem", dir);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, path), 0);
	snprintf(path, sizeof path, "%s/tls/server.pem", dir);
	assert_int_equal(mbedtls_x509_crt_parse_file(&server, path), 0);
	uint32_t flags = 0;
	assert_int_equal(
	        mbedtls_x509_crt_verify(&server, &ca, NULL, "localhost", &flags, NULL, NULL), 0);
	assert_int_not_equal(
	        mbedtls_x509_crt_verify(&server, &ca, NULL, "example.org", &flags, NULL, NULL), 0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
	                         &server, MBEDTLS_OID_SERVER_AUTH,
	                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
	                 0);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&server);
	/* A second call leaves the existing material alone. */
	struct stat before, after;
	assert_int_equal(stat(path, &before), 0);
	char err[128];
	assert_int_equal(tls_demo_pki_ensure(dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS, err,
	                                     sizeof err),
	                 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
}

/* The demo's client certificates and policy follow the role table it is
 * given: one client per grantable name, called after its last role. */
static void test_demo_pki_follows_the_role_table(void **state)
{
	static const struct role_name names[] = {
	        {"reader", 1 << 0, true},
	        {"reader+auditor", 1 << 0 | 1 << 1, true},
	        {"auditor", 1 << 1, false},
	};
	static const struct role_table table = {names, 3, 1 << 1};
	char work[] = "/tmp/kensho-demo-roles-XXXXXX", path[256], err[256] = "";
	assert_non_null(mkdtemp(work));
	assert_int_equal(tls_demo_pki_ensure(work, &table, 1 << 2, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "anonymous"));
	snprintf(path, sizeof path, "%s/tls/server.pem", work);
	assert_int_not_equal(access(path, F_OK), 0); /* incomplete: tried again next time */
	assert_int_equal(tls_demo_pki_ensure(work, &table, 1 << 0, err, sizeof err), 0);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/tls/clients/reader.pem", work);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/tls/clients/auditor.pem", work);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/tls/policy.conf", work);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char text[4096];
	size_t n = fread(text, 1, sizeof text - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_non_null(strstr(text, "\nreader issuer "));
	assert_non_null(strstr(text, "\nreader+auditor issuer "));
	assert_non_null(strstr(text, " subject CN=auditor, O=kensho demo\n"));
	assert_non_null(strstr(text, "\nreader anonymous\n"));
	assert_null(strstr(text, "\nauditor "));
	/* and the policy it wrote parses with the same table */
	struct tls_policy *p = NULL;
	assert_int_equal(tls_policy_load(path, &table, &p, err, sizeof err), 0);
	assert_int_equal(tls_policy_anonymous_roles(p), 1 << 0);
	tls_policy_free(p);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
	assert_int_equal(system(cmd), 0);
}

static void test_handshake_and_data_both_ways(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_OPTIONAL, 0);
	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	client_init(&cl, &s, NULL);
	assert_int_equal(handshake(&cl), 0);
	assert_int_equal(s.established, 1);
	assert_int_equal(s.failed, 0);
	assert_true(s.peer.tls);
	assert_false(s.peer.client_cert);
	assert_int_equal(s.peer.roles, PEER_ROLE_RELYING_PARTY); /* policy: anonymous */
	assert_string_equal(mbedtls_ssl_get_version(&cl.ssl), "TLSv1.2");
	const char *suite = mbedtls_ssl_get_ciphersuite(&cl.ssl);
	assert_non_null(strstr(suite, "ECDHE-ECDSA"));

	client_write(&cl, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(s.plaintext.len, 18);
	assert_memory_equal(s.plaintext.data, "GET / HTTP/1.1\r\n\r\n", 18);

	/* A body larger than one record comes out whole on the other side. */
	size_t big_len = 40000;
	uint8_t *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(s.t->ops->write(s.t, big, big_len), 0);
	uint8_t *got = malloc(big_len);
	size_t have = 0;
	while (have < big_len) {
		int n = mbedtls_ssl_read(&cl.ssl, got + have, big_len - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(got, big, big_len);
	free(big);
	free(got);

	/* Orderly close: the server answers close_notify with close_notify. */
	assert_int_equal(mbedtls_ssl_close_notify(&cl.ssl), 0);
	flush_to_server(&cl);
	char tmp[16];
	assert_int_equal(client_read(&cl, tmp, sizeof tmp), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	assert_int_equal(s.t->ops->write(s.t, (const uint8_t *)"x", 1), -ENOTCONN);

	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.handshakes, 1);
	assert_int_equal(st.handshake_failures, 0);
	client_free(&cl);
	conn_close(&s);
	tls_factory_free(f);
}

/* --- handshake steps on the thread pool ------------------------------------------ */

static int room_calls;

static void count_room(void *arg)
{
	(void)arg;
	room_calls++;
}

/* Runs the loop until no handshake step is queued or running. */
static void drain_steps(uv_loop_t *loop, struct tls_factory *f)
{
	struct tls_stats st;
	tls_factory_stats(f, &st);
	while (st.steps_queued > 0) {
		uv_run(loop, UV_RUN_ONCE);
		tls_factory_stats(f, &st);
	}
}

static struct tls_factory *factory_on_loop(uv_loop_t *loop, unsigned max_handshakes)
{
	char cert[512], key[512], trust[512], policy[512], err[256] = "";
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust,
	        .policy_file = policy,
	        .roles = &handler_roles,
	        .client_auth = TLS_CLIENT_AUTH_OPTIONAL,
	        .ticket_lifetime_s = 3600,
	        .max_handshakes = max_handshakes,
	};
	struct tls_factory *f = NULL;
	int rc = tls_factory_new(loop, &s, &f, err, sizeof err);
	if (rc != 0)
		fail_msg("tls_factory_new: %d %s", rc, err);
	return f;
}

/* With a loop, every handshake step runs on the pool and none in the
 * caller's (the loop's) thread; the factory is busy at max_handshakes and
 * says when it has room again; a connection destroyed while its step runs
 * is freed by the step's after_work (ASan sees a leak or a use after free
 * otherwise). */
static void test_steps_run_on_the_pool(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct tls_factory *f = factory_on_loop(&loop, 1);
	struct transport_factory *base = tls_factory_base(f);
	room_calls = 0;
	base->room = count_room;
	assert_false(base->busy(base));

	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	assert_true(base->busy(base)); /* one handshake in progress, cap 1 */
	client_init(&cl, &s, NULL);
	int rc = MBEDTLS_ERR_SSL_WANT_READ;
	for (int round = 0; round < 50 && rc == MBEDTLS_ERR_SSL_WANT_READ; round++) {
		rc = mbedtls_ssl_handshake(&cl.ssl);
		flush_to_server(&cl);
		drain_steps(&loop, f);
	}
	assert_int_equal(rc, 0);
	flush_to_server(&cl);
	drain_steps(&loop, f);
	assert_int_equal(s.established, 1);
	assert_int_equal(s.failed, 0);
	assert_false(base->busy(base));
	assert_int_equal(room_calls, 1);
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.handshakes, 1);
	assert_int_equal(st.steps_on_loop, 0);
	assert_true(st.steps_on_pool > 0);
	assert_int_equal(st.in_progress, 0);
	/* Records after the handshake stay on the loop. */
	client_write(&cl, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(s.plaintext.len, 18);
	client_free(&cl);
	conn_close(&s);

	/* Closed while its first step is on the pool. */
	conn_open(&s, f);
	client_init(&cl, &s, NULL);
	assert_int_equal(mbedtls_ssl_handshake(&cl.ssl), MBEDTLS_ERR_SSL_WANT_READ);
	flush_to_server(&cl);
	tls_factory_stats(f, &st);
	assert_int_equal(st.steps_queued, 1);
	conn_close(&s);
	drain_steps(&loop, f);
	tls_factory_stats(f, &st);
	assert_int_equal(st.in_progress, 0);
	assert_int_equal(room_calls, 2);
	client_free(&cl);

	tls_factory_free(f);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void spki_of(const char *pem_path, uint8_t out[32])
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, pem_path), 0);
	mbedtls_sha256_ret(crt.pk_raw.p, crt.pk_raw.len, out, 0);
	mbedtls_x509_crt_free(&crt);
}

static void hex_of(const uint8_t h[32], char out[65]);

static void spki_hex_of(const char *pem_path, char out[65])
{
	uint8_t h[32];
	spki_of(pem_path, h);
	hex_of(h, out);
}

static void test_client_certificates_get_policy_roles(void **state)
{
	static const struct {
		const char *base, *subject;
		unsigned roles;
	} cases[] = {
	        {"clients/operator", "CN=operator, O=kensho demo", PEER_ROLE_OPERATOR},
	        {"clients/relying-party", "CN=relying-party, O=kensho demo",
	         PEER_ROLE_RELYING_PARTY},
	        {"clients/personal", "CN=personal, O=kensho demo",
	         PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL},
	        {"clients/intake", "CN=intake, O=kensho demo", PEER_ROLE_INTAKE},
	};
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_REQUIRED, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.cert_base = cases[i].base};
		client_init(&cl, &s, &o);
		assert_int_equal(handshake(&cl), 0);
		assert_int_equal(s.established, 1);
		assert_true(s.peer.client_cert);
		assert_string_equal(s.peer.subject, cases[i].subject);
		assert_int_equal(s.peer.roles, cases[i].roles);
		char path[512];
		uint8_t spki[32];
		snprintf(path, sizeof path, "%s/tls/%s.pem", dir, cases[i].base);
		spki_of(path, spki);
		assert_memory_equal(s.peer.spki_sha256, spki, 32);
		client_free(&cl);
		conn_close(&s);
	}
	tls_factory_free(f);
}

static void test_required_without_certificate_fails(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_REQUIRED, 0);
	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	client_init(&cl, &s, NULL);
	int rc = handshake(&cl);
	assert_int_not_equal(rc, 0);
	assert_int_equal(s.established, 0);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.fail_err, -EACCES);
	/* The client was told by an alert, not just a dropped connection. */
	assert_int_equal(rc, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
	client_free(&cl);
	conn_close(&s);
	tls_factory_free(f);
}

static void test_untrusted_certificate_refused_even_when_optional(void **state)
{
	for (int mode = TLS_CLIENT_AUTH_OPTIONAL; mode <= TLS_CLIENT_AUTH_REQUIRED; mode++) {
		struct tls_factory *f = factory_with((enum tls_client_auth)mode, 0);
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.cert_base = "clients/operator", .pki_dir = other_dir};
		client_init(&cl, &s, &o);
		handshake(&cl);
		char tmp[16];
		client_read(&cl, tmp, sizeof tmp); /* picks up a late alert */
		assert_int_equal(s.established, 0);
		assert_int_equal(s.failed, 1);
		assert_int_equal(s.fail_err, -EACCES);
		assert_int_equal(s.peer.roles, 0);
		struct tls_stats st;
		tls_factory_stats(f, &st);
		assert_int_equal(st.client_cert_verifies, 0); /* refused before its key is used */
		client_free(&cl);
		conn_close(&s);
		tls_factory_free(f);
	}
}

static void test_old_versions_and_weak_ciphers_refused(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_NONE, 0);
	struct client_opts refused[] = {
	        {.minor_version = MBEDTLS_SSL_MINOR_VERSION_1}, /* TLS 1.0 */
	        {.minor_version = MBEDTLS_SSL_MINOR_VERSION_2}, /* TLS 1.1 */
	        {.ciphersuite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
	        {.ciphersuite = MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256}, /* no forward secrecy */
	        {.ciphersuite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM},
	        {.ciphersuite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256},
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		client_init(&cl, &s, &refused[i]);
		assert_int_not_equal(handshake(&cl), 0);
		assert_int_equal(s.established, 0);
		assert_int_equal(s.failed, 1);
		client_free(&cl);
		conn_close(&s);
	}
	/* Each allowed suite works with the ECDSA certificate. */
	static const int allowed[] = {
	        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.ciphersuite = allowed[i]};
		client_init(&cl, &s, &o);
		assert_int_equal(handshake(&cl), 0);
		assert_int_equal(s.established, 1);
		client_free(&cl);
		conn_close(&s);
	}
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.handshake_failures, sizeof refused / sizeof refused[0]);
	tls_factory_free(f);
}

static void test_garbage_and_truncated_records(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_NONE, 0);
	/* Garbage instead of a ClientHello. */
	{
		struct fake_conn s;
		conn_open(&s, f);
		static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		assert_int_equal(s.t->ops->on_read(s.t, junk, sizeof junk - 1), 0);
		assert_int_equal(s.failed, 1);
		assert_int_equal(s.established, 0);
		/* Later bytes are ignored, not processed after the failure. */
		assert_int_equal(s.t->ops->on_read(s.t, junk, sizeof junk - 1), 0);
		assert_int_equal(s.failed, 1);
		conn_close(&s);
	}
	/* A record split at every byte boundary still arrives whole. */
	{
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		client_init(&cl, &s, NULL);
		assert_int_equal(handshake(&cl), 0);
		assert_int_equal(mbedtls_ssl_write(&cl.ssl, (const unsigned char *)"hello", 5), 5);
		for (size_t i = 0; i < cl.to_server.len; i++) {
			assert_int_equal(s.plaintext.len, 0);
			assert_int_equal(s.t->ops->on_read(s.t, cl.to_server.data + i, 1), 0);
		}
		buf_reset(&cl.to_server);
		assert_int_equal(s.plaintext.len, 5);
		assert_int_equal(s.failed, 0);
		/* A record with a flipped bit fails authentication (bad_record_mac). */
		assert_int_equal(mbedtls_ssl_write(&cl.ssl, (const unsigned char *)"world", 5), 5);
		cl.to_server.data[cl.to_server.len - 1] ^= 0x01;
		flush_to_server(&cl);
		assert_int_equal(s.plaintext.len, 5);
		assert_int_equal(s.failed, 1);
		client_free(&cl);
		conn_close(&s);
	}
	/* A header announcing an oversized record is refused at once. */
	{
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		client_init(&cl, &s, NULL);
		assert_int_equal(handshake(&cl), 0);
		static const uint8_t huge[] = {0x17, 0x03, 0x03, 0xff, 0xff};
		assert_int_equal(s.t->ops->on_read(s.t, huge, sizeof huge), 0);
		assert_int_equal(s.failed, 1);
		client_free(&cl);
		conn_close(&s);
	}
	/* A peer that never completes a record cannot grow our buffer without bound. */
	{
		struct fake_conn s;
		conn_open(&s, f);
		static const uint8_t partial[] = {0x16, 0x03, 0x01, 0x40,
		                                  0x00}; /* 16 KiB handshake */
		uint8_t zeros[4096] = {0};
		assert_int_equal(s.t->ops->on_read(s.t, partial, sizeof partial), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(s.t->ops->on_read(s.t, zeros, sizeof zeros), 0);
		assert_int_equal(s.failed, 0); /* still an incomplete record */
		for (int i = 0; i < 80 && !s.failed; i++)
			assert_int_equal(s.t->ops->on_read(s.t, zeros, sizeof zeros), 0);
		assert_int_equal(s.failed, 1);
		conn_close(&s);
	}
	tls_factory_free(f);
}

static void test_session_ticket_resumes(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_OPTIONAL, 0);
	mbedtls_ssl_session saved;
	mbedtls_ssl_session_init(&saved);
	{
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.cert_base = "clients/operator"};
		client_init(&cl, &s, &o);
		mbedtls_ssl_conf_session_tickets(&cl.conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
		assert_int_equal(handshake(&cl), 0);
		assert_int_equal(mbedtls_ssl_get_session(&cl.ssl, &saved), 0);
		client_free(&cl);
		conn_close(&s);
	}
	{
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.cert_base = "clients/operator"};
		client_init(&cl, &s, &o);
		assert_int_equal(mbedtls_ssl_set_session(&cl.ssl, &saved), 0);
		assert_int_equal(handshake(&cl), 0);
		/* The resumed session keeps the verified certificate and its roles. */
		assert_true(s.peer.client_cert);
		assert_int_equal(s.peer.roles, PEER_ROLE_OPERATOR);
		client_free(&cl);
		conn_close(&s);
	}
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.handshakes, 2);
	assert_int_equal(st.resumed, 1);
	mbedtls_ssl_session_free(&saved);
	tls_factory_free(f);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void test_reload_keeps_old_config_on_error(void **state)
{
	/* A private copy of the files, so the test can break them. */
	char work[256], cmd[800];
	snprintf(work, sizeof work, "/tmp/kensho-tls-reload-XXXXXX");
	assert_non_null(mkdtemp(work));
	snprintf(cmd, sizeof cmd, "cp -rp '%s/tls' '%s/tls'", dir, work);
	assert_int_equal(system(cmd), 0);
	char saved_dir[256];
	memcpy(saved_dir, dir, sizeof dir);
	memcpy(dir, work, sizeof dir);

	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_OPTIONAL, 0);
	struct fake_conn live;
	struct client live_cl;
	conn_open(&live, f);
	struct client_opts op = {.cert_base = "clients/operator"};
	client_init(&live_cl, &live, &op);
	assert_int_equal(handshake(&live_cl), 0);

	char path[512], backup[512], err[256] = "";
	/* 1. A broken policy file is refused with the file and line named. */
	snprintf(path, sizeof path, "%s/tls/policy.conf", dir);
	snprintf(backup, sizeof backup, "%s/tls/policy.conf.good", dir);
	copy_file(path, backup);
	FILE *fp = fopen(path, "r");
	int lines = 0;
	for (int ch; (ch = fgetc(fp)) != EOF;)
		lines += ch == '\n';
	fclose(fp);
	fp = fopen(path, "a");
	fputs("superuser subject CN=x\n", fp);
	fclose(fp);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), -EINVAL);
	char where[32];
	snprintf(where, sizeof where, "line %d:", lines + 1);
	assert_non_null(strstr(err, "policy.conf"));
	assert_non_null(strstr(err, where));
	copy_file(backup, path);
	/* 2. A key that does not match the certificate. */
	snprintf(path, sizeof path, "%s/tls/server.key", dir);
	snprintf(backup, sizeof backup, "%s/tls/server.key.good", dir);
	copy_file(path, backup);
	char other_key[512];
	snprintf(other_key, sizeof other_key, "%s/tls/clients/intake.key", dir);
	copy_file(other_key, path);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "does not belong"));
	/* 3. A key readable by others. */
	copy_file(backup, path);
	chmod(path, 0644);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), -EPERM);
	chmod(path, 0600);
	/* 4. A truncated certificate. */
	snprintf(path, sizeof path, "%s/tls/server.pem", dir);
	snprintf(backup, sizeof backup, "%s/tls/server.pem.good", dir);
	copy_file(path, backup);
	assert_int_equal(truncate(path, 100), 0);
	assert_true(tls_factory_reload(f, err, sizeof err) < 0);
	assert_non_null(strstr(err, "server.pem"));
	copy_file(backup, path);

	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.generation, 1);
	assert_int_equal(st.reload_failures, 4);

	/* The live connection never noticed. */
	client_write(&live_cl, "still here");
	assert_int_equal(live.plaintext.len, 10);
	assert_int_equal(live.failed, 0);

	/* 5. A good reload: the operator loses the role in the new policy, on
	 * the open connection too (from its next request), and on new ones. */
	snprintf(path, sizeof path, "%s/tls/policy.conf", dir);
	fp = fopen(path, "w");
	fputs("relying-party subject CN=operator, O=kensho demo\n", fp);
	fclose(fp);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), 0);
	tls_factory_stats(f, &st);
	assert_int_equal(st.generation, 2);
	assert_int_equal(st.reloads, 1);
	client_write(&live_cl, "!");
	assert_int_equal(live.plaintext.len, 11);
	assert_int_equal(live.peer.roles, PEER_ROLE_RELYING_PARTY);
	assert_int_equal(live.t->ops->write(live.t, (const uint8_t *)"ok", 2), 0);
	char tmp[8];
	assert_int_equal(client_read(&live_cl, tmp, sizeof tmp), 2);

	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	client_init(&cl, &s, &op);
	assert_int_equal(handshake(&cl), 0);
	assert_int_equal(s.peer.roles, PEER_ROLE_RELYING_PARTY);
	client_free(&cl);
	conn_close(&s);

	client_free(&live_cl);
	conn_close(&live);
	tls_factory_free(f);
	memcpy(dir, saved_dir, sizeof dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
	assert_int_equal(system(cmd), 0);
}

static void test_handshake_timeout(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_NONE, 200);
	struct fake_conn slow, done;
	conn_open(&slow, f);
	conn_open(&done, f);
	struct client cl;
	client_init(&cl, &done, NULL);
	assert_int_equal(handshake(&cl), 0);
	uint64_t now = uv_hrtime() / 1000000u;
	assert_int_equal(tls_factory_expire_handshakes(f, now), 0);
	assert_int_equal(tls_factory_expire_handshakes(f, now + 250), 1);
	assert_int_equal(slow.failed, 1);
	assert_int_equal(slow.fail_err, -ETIMEDOUT);
	assert_int_equal(done.failed, 0);
	assert_int_equal(tls_factory_expire_handshakes(f, now + 500), 0);
	client_free(&cl);
	conn_close(&slow);
	conn_close(&done);
	tls_factory_free(f);
}

static unsigned roles_of(const struct tls_policy *p, const char *subject, const uint8_t *spki,
                         const uint8_t *issuer)
{
	struct tls_client_id id = {
	        .subject = subject, .spki_sha256 = spki, .issuer_sha256 = issuer};
	return tls_policy_roles(p, &id);
}

static void test_policy_parsing(void **state)
{
	struct tls_policy *p = NULL;
	char err[300] = "";
	const char good[] = "# comment\n"
	                    "\n"
	                    "operator,intake subject CN=a,   O=b  # trailing comment\r\n"
	                    "relying-party+personal spki "
	                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	                    "relying-party anonymous\n";
	assert_int_equal(
	        tls_policy_parse(good, sizeof good - 1, &handler_roles, &p, err, sizeof err), 0);
	uint8_t spki[32] = {0}, ca[2][32];
	memset(ca[0], 0xca, 32);
	memset(ca[1], 0xcb, 32);
	/* Unbound subject rules bind to the only trusted CA. */
	assert_int_equal(tls_policy_bind(p, (const uint8_t(*)[32])ca, 1, err, sizeof err), 0);
	assert_int_equal(roles_of(p, "CN=a, O=b", spki, ca[0]),
	                 PEER_ROLE_OPERATOR | PEER_ROLE_INTAKE);
	assert_int_equal(roles_of(p, "CN=a, O=b", spki, ca[1]), 0); /* another CA */
	assert_int_equal(roles_of(p, "CN=a, O=b", spki, NULL), 0);  /* unknown CA */
	assert_int_equal(roles_of(p, "CN=a, O=c", spki, ca[0]), 0);
	for (int i = 0; i < 32; i++)
		spki[i] = (uint8_t)((i % 16) * 0x11);
	assert_int_equal(roles_of(p, "CN=z", spki, NULL),
	                 PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL);
	assert_int_equal(tls_policy_anonymous_roles(p), PEER_ROLE_RELYING_PARTY);
	tls_policy_free(p);

	/* With two trusted CAs an unbound subject rule is ambiguous: refused. */
	assert_int_equal(
	        tls_policy_parse(good, sizeof good - 1, &handler_roles, &p, err, sizeof err), 0);
	assert_int_equal(tls_policy_bind(p, (const uint8_t(*)[32])ca, 2, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "line 3: subject rule names no issuer"));
	tls_policy_free(p);
	/* Without a trust store no certificate is verified: nothing to bind. */
	assert_int_equal(
	        tls_policy_parse(good, sizeof good - 1, &handler_roles, &p, err, sizeof err), 0);
	assert_int_equal(tls_policy_bind(p, NULL, 0, err, sizeof err), 0);
	tls_policy_free(p);

	/* Bound rules and deny rules. */
	char bound[600];
	snprintf(bound, sizeof bound,
	         "operator issuer %s subject CN=op\n"
	         "deny spki %s\n"
	         "deny issuer %s serial 00:0A:1b\n",
	         "cbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcb",
	         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	         "cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca");
	assert_int_equal(
	        tls_policy_parse(bound, strlen(bound), &handler_roles, &p, err, sizeof err), 0);
	assert_int_equal(tls_policy_bind(p, (const uint8_t(*)[32])ca, 2, err, sizeof err), 0);
	uint8_t other[32] = {1};
	assert_int_equal(roles_of(p, "CN=op", other, ca[1]), PEER_ROLE_OPERATOR);
	assert_int_equal(roles_of(p, "CN=op", other, ca[0]), 0);
	const uint8_t serial[] = {0x00, 0x0a, 0x1b}, serial2[] = {0x0a, 0x1c};
	struct tls_client_id id = {.subject = "CN=x",
	                           .spki_sha256 = other,
	                           .issuer_sha256 = ca[0],
	                           .serial = serial,
	                           .serial_len = sizeof serial};
	assert_true(tls_policy_denies(p, &id));
	id.issuer_sha256 = ca[1]; /* same serial, another CA */
	assert_false(tls_policy_denies(p, &id));
	id.serial = serial2;
	id.serial_len = sizeof serial2;
	id.issuer_sha256 = ca[0];
	assert_false(tls_policy_denies(p, &id));
	id.spki_sha256 = spki; /* the denied key */
	assert_true(tls_policy_denies(p, &id));
	/* A rule naming a CA that is not trusted matches nothing: a warning. */
	assert_int_equal(tls_policy_bind(p, (const uint8_t(*)[32])ca, 1, err, sizeof err), 1);
	assert_non_null(strstr(err, "line 1: issuer cbcbcbcb... is not a CA in tls.trust"));
	tls_policy_free(p);

	static const struct {
		const char *text, *needle;
	} bad[] = {
	        {"admin subject CN=x\n", "line 1: unknown role"},
	        {"\noperator spki 0011\n", "line 2: spki wants 64 hex"},
	        {"operator subject\n", "line 1: subject rule without a DN"},
	        {"operator anonymous\n", "anonymous callers may not"},
	        {"relying-party+personal anonymous\n", "anonymous callers may not"},
	        {"intake cn=foo\n", "expected \"subject\""},
	        {"operator, subject CN=x\n", "unknown role"},
	        {"operator issuer 12 subject CN=x\n", "issuer wants the CA's SPKI SHA-256"},
	        {"deny subject CN=x\n", "expected \"deny spki HEX\""},
	        {"deny spki 12\n", "deny spki wants 64 hex"},
	        {"deny issuer cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca\n",
	         "expected \"serial HEX\""},
	        {"deny issuer cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca "
	         "serial 0x12\n",
	         "deny serial wants the serial number in hex"},
	        {"relying-party issuer "
	         "cacacacacacacacacacacacacacacacacacacacacacacacacacacacacacacaca anonymous\n",
	         "anonymous caller has no issuer"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = NULL;
		assert_int_equal(tls_policy_parse(bad[i].text, strlen(bad[i].text), &handler_roles,
		                                  &p, err, sizeof err),
		                 -EINVAL);
		assert_null(p);
		if (!strstr(err, bad[i].needle))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].needle);
	}
}

/* tls/ knows no role names: the parser reads whatever table it is given. */
static void test_policy_role_names_are_injected(void **state)
{
	static const struct role_name names[] = {
	        {"reader", 1 << 0, true},
	        {"auditor", 1 << 5, true},
	        {"root", 1 << 6, true},
	        {"hidden", 1 << 7, false},
	};
	static const struct role_table table = {names, 4, 1 << 6};
	struct tls_policy *p = NULL;
	char err[300] = "";
	const char text[] = "reader,auditor spki "
	                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	                    "reader anonymous\n";
	assert_int_equal(tls_policy_parse(text, sizeof text - 1, &table, &p, err, sizeof err), 0);
	assert_int_equal(tls_policy_anonymous_roles(p), 1 << 0);
	uint8_t spki[32];
	for (int i = 0; i < 32; i++)
		spki[i] = (uint8_t)((i % 16) * 0x11);
	assert_int_equal(roles_of(p, "CN=z", spki, NULL), 1 << 0 | 1 << 5);
	tls_policy_free(p);

	static const struct {
		const struct role_table *roles;
		const char *text, *message;
	} bad[] = {
	        {&table, "operator subject CN=x\n",
	         "line 1: unknown role in \"operator\" (use reader, auditor, root, or deny)"},
	        {&table, "hidden subject CN=x\n",
	         "line 1: unknown role in \"hidden\" (use reader, auditor, root, or deny)"},
	        {&table, "reader,root anonymous\n",
	         "line 1: anonymous callers may not get root roles"},
	        {&handler_roles, "admin subject CN=x\n",
	         "line 1: unknown role in \"admin\" (use relying-party, relying-party+personal, "
	         "intake, operator, replica, or deny)"},
	        {&handler_roles, "operator anonymous\n",
	         "line 1: anonymous callers may not get personal or operator or replica roles"},
	        {NULL, "relying-party anonymous\n",
	         "line 1: unknown role in \"relying-party\" (use deny)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = NULL;
		assert_int_equal(tls_policy_parse(bad[i].text, strlen(bad[i].text), bad[i].roles,
		                                  &p, err, sizeof err),
		                 -EINVAL);
		assert_null(p);
		assert_string_equal(err, bad[i].message);
	}
	/* without names only deny rules parse */
	const char deny[] = "deny spki "
	                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	assert_int_equal(tls_policy_parse(deny, sizeof deny - 1, NULL, &p, err, sizeof err), 0);
	tls_policy_free(p);
}

/* --- client certificates: key bounds, issuers, deny rules, reload ------------------ */

/* A factory over the demo server material with the given trust store and
 * policy files. */
static struct tls_factory *factory_files(const char *trust, const char *policy, char *err,
                                         size_t err_len, int *rc)
{
	char cert[512], key[512];
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust,
	        .policy_file = policy,
	        .roles = &handler_roles,
	        .client_auth = TLS_CLIENT_AUTH_OPTIONAL,
	        .ticket_lifetime_s = 3600,
	};
	struct tls_factory *f = NULL;
	*rc = tls_factory_new(NULL, &s, &f, err, err_len);
	return f;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void hex_of(const uint8_t h[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* A certificate for an RSA public key of `bits` bits and exponent `e_bits`
 * bits, signed by other_dir's (untrusted) CA. The modulus need not factor:
 * only its size matters, since the server must refuse it unused. */
static void make_rsa_cert(size_t bits, size_t e_bits, const char *out_pem)
{
	mbedtls_pk_context pk, ca_key;
	mbedtls_pk_init(&pk);
	mbedtls_pk_init(&ca_key);
	assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
	mbedtls_mpi n, e;
	mbedtls_mpi_init(&n);
	mbedtls_mpi_init(&e);
	assert_int_equal(mbedtls_mpi_lset(&n, 1), 0);
	assert_int_equal(mbedtls_mpi_shift_l(&n, bits - 1), 0);
	assert_int_equal(mbedtls_mpi_add_int(&n, &n, 0x1234567), 0); /* odd, `bits` bits */
	assert_int_equal(mbedtls_mpi_lset(&e, 1), 0);
	assert_int_equal(mbedtls_mpi_shift_l(&e, e_bits - 1), 0);
	assert_int_equal(mbedtls_mpi_add_int(&e, &e, 1), 0);
	assert_int_equal(mbedtls_rsa_import(mbedtls_pk_rsa(pk), &n, NULL, NULL, NULL, &e), 0);
	assert_int_equal(mbedtls_rsa_complete(mbedtls_pk_rsa(pk)), 0);
	char path[512];
	snprintf(path, sizeof path, "%s/tls/ca.key", other_dir);
	assert_int_equal(mbedtls_pk_parse_keyfile(&ca_key, path, NULL), 0);

	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
	mbedtls_x509write_cert w;
	mbedtls_x509write_crt_init(&w);
	mbedtls_x509write_crt_set_subject_key(&w, &pk);
	mbedtls_x509write_crt_set_issuer_key(&w, &ca_key);
	assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=operator,O=kensho demo"),
	                 0);
	assert_int_equal(
	        mbedtls_x509write_crt_set_issuer_name(&w, "CN=kensho demo TLS CA,O=kensho demo"),
	        0);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_mpi serial;
	mbedtls_mpi_init(&serial);
	mbedtls_mpi_lset(&serial, 77);
	assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
	assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231000000"),
	                 0);
	unsigned char pem[8192];
	assert_int_equal(
	        mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &drbg), 0);
	write_text(out_pem, (const char *)pem);
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	mbedtls_mpi_free(&n);
	mbedtls_mpi_free(&e);
	mbedtls_pk_free(&pk);
	mbedtls_pk_free(&ca_key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
}

/* Runs a client with certificate `pem` (and any key: the server must stop
 * before the key is ever used) against f; returns the client's result. */
static int handshake_with_cert(struct tls_factory *f, struct fake_conn *s, const char *pem,
                               const char *key_base)
{
	struct client cl;
	conn_open(s, f);
	client_init(&cl, s, NULL);
	mbedtls_x509_crt_free(&cl.cert);
	mbedtls_x509_crt_init(&cl.cert);
	assert_int_equal(mbedtls_x509_crt_parse_file(&cl.cert, pem), 0);
	char path[512];
	snprintf(path, sizeof path, "%s/tls/%s.key", other_dir, key_base);
	assert_int_equal(mbedtls_pk_parse_keyfile(&cl.key, path, NULL), 0);
	assert_int_equal(mbedtls_ssl_conf_own_cert(&cl.conf, &cl.cert, &cl.key), 0);
	int rc = handshake(&cl);
	client_free(&cl);
	return rc;
}

static void test_oversized_client_key_refused_before_use(void **state)
{
	char pem[512];
	snprintf(pem, sizeof pem, "%s/tls/rsa8192.pem", other_dir);
	make_rsa_cert(8192, 8000, pem); /* RSA-8192 with a huge public exponent */

	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_OPTIONAL, 0);
	struct fake_conn s;
	int rc = handshake_with_cert(f, &s, pem, "clients/operator");
	/* Refused with an alert, not a dropped connection ... */
	assert_int_equal(rc, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
	assert_int_equal(s.established, 0);
	assert_int_equal(s.failed, 1);
	assert_non_null(strstr(s.fail_why, "RSA key of 8192 bits"));
	conn_close(&s);
	/* ... and before the CertificateVerify: the key was never used. */
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.client_cert_refused, 1);
	assert_int_equal(st.client_cert_verifies, 0);

	/* A trusted certificate does reach the CertificateVerify: the counter
	 * counts what it says. */
	struct client cl;
	conn_open(&s, f);
	struct client_opts o = {.cert_base = "clients/operator"};
	client_init(&cl, &s, &o);
	assert_int_equal(handshake(&cl), 0);
	client_free(&cl);
	conn_close(&s);
	tls_factory_stats(f, &st);
	assert_int_equal(st.client_cert_verifies, 1);
	tls_factory_free(f);

	/* The key bounds, one by one, on the Certificate message itself. */
	static const struct {
		size_t bits, e_bits;
		int max_bits, want;
		const char *why;
	} cases[] = {
	        {8192, 17, 4096, -EKEYREJECTED, "RSA key of 8192 bits"},
	        {8192, 17, 8192, 0, NULL},
	        {4096, 17, 4096, 0, NULL},
	        {4096, 40, 4096, -EKEYREJECTED, "public exponent of 40 bits"},
	        {1024, 17, 4096, -EKEYREJECTED, "RSA key of 1024 bits"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_rsa_cert(cases[i].bits, cases[i].e_bits, pem);
		mbedtls_x509_crt crt;
		mbedtls_x509_crt_init(&crt);
		assert_int_equal(mbedtls_x509_crt_parse_file(&crt, pem), 0);
		uint8_t msg[4096];
		size_t n = crt.raw.len;
		assert_true(n + 6 < sizeof msg);
		msg[0] = (uint8_t)((n + 3) >> 16), msg[1] = (uint8_t)((n + 3) >> 8),
		msg[2] = (uint8_t)(n + 3);
		msg[3] = (uint8_t)(n >> 16), msg[4] = (uint8_t)(n >> 8), msg[5] = (uint8_t)n;
		memcpy(msg + 6, crt.raw.p, n);
		char why[200] = "";
		assert_int_equal(tls_client_chain_check(msg, n + 6, cases[i].max_bits, NULL, why,
		                                        sizeof why),
		                 cases[i].want);
		if (cases[i].why && !strstr(why, cases[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].why);
		/* The same certificate in the trust store is not held against it. */
		assert_int_equal(tls_client_chain_check(msg, n + 6, cases[i].max_bits, &crt, why,
		                                        sizeof why),
		                 0);
		mbedtls_x509_crt_free(&crt);
	}
}

static void test_untrusted_small_key_refused_before_certificate_verify(void **state)
{
	struct tls_factory *f = factory_with(TLS_CLIENT_AUTH_OPTIONAL, 0);
	struct fake_conn s;
	char pem[512];
	snprintf(pem, sizeof pem, "%s/tls/clients/operator.pem", other_dir);
	int rc = handshake_with_cert(f, &s, pem, "clients/operator");
	assert_int_equal(rc, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
	assert_int_equal(s.failed, 1);
	assert_non_null(strstr(s.fail_why, "client certificate refused"));
	conn_close(&s);
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.client_cert_refused, 1);
	assert_int_equal(st.client_cert_verifies, 0);
	tls_factory_free(f);
}

/* Subject rules are bound to their CA: a second CA in tls.trust cannot mint
 * an operator by copying the subject. */
static void test_subject_rules_bound_to_their_issuer(void **state)
{
	char trust[512], policy[512], err[400] = "", cmd[1400];
	snprintf(trust, sizeof trust, "%s/tls/both-cas.pem", other_dir);
	snprintf(cmd, sizeof cmd, "cat '%s/tls/ca.pem' '%s/tls/ca.pem' > '%s'", dir, other_dir,
	         trust);
	assert_int_equal(system(cmd), 0);
	/* The demo policy names its CA, so it stays valid with two CAs. */
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", dir);
	int rc;
	struct tls_factory *f = factory_files(trust, policy, err, sizeof err, &rc);
	if (rc != 0)
		fail_msg("%s", err);
	static const struct {
		const char *pki;
		unsigned roles;
	} cases[] = {{NULL, PEER_ROLE_OPERATOR}, {"other", 0}};
	for (size_t i = 0; i < 2; i++) {
		struct fake_conn s;
		struct client cl;
		conn_open(&s, f);
		struct client_opts o = {.cert_base = "clients/operator",
		                        .pki_dir = cases[i].pki ? other_dir : NULL};
		client_init(&cl, &s, &o);
		assert_int_equal(handshake(&cl), 0);
		assert_true(s.peer.client_cert);
		assert_string_equal(s.peer.subject, "CN=operator, O=kensho demo");
		assert_int_equal(s.peer.roles, cases[i].roles);
		client_free(&cl);
		conn_close(&s);
	}
	tls_factory_free(f);

	/* An old-style policy without issuers is ambiguous with two CAs. */
	snprintf(policy, sizeof policy, "%s/tls/unbound.conf", other_dir);
	write_text(policy, "operator subject CN=operator, O=kensho demo\n");
	f = factory_files(trust, policy, err, sizeof err, &rc);
	assert_null(f);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "unbound.conf: line 1: subject rule names no "
	                            "issuer and tls.trust holds 2 CAs"));
	/* ... and fine with one. */
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	f = factory_files(trust, policy, err, sizeof err, &rc);
	assert_int_equal(rc, 0);
	tls_factory_free(f);
}

static void spki_hex_of(const char *pem_path, char out[65]);

/* deny rules refuse a certificate at the handshake, and a reload that adds
 * one (or withdraws a role) reaches connections already open. */
static void test_deny_rules_and_reload_reach_open_connections(void **state)
{
	char policy[512], trust[512], err[400] = "", path[512], ca_hex[65], intake_hex[65];
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	snprintf(policy, sizeof policy, "%s/tls/deny.conf", other_dir);
	spki_hex_of(trust, ca_hex);
	snprintf(path, sizeof path, "%s/tls/clients/intake.pem", dir);
	spki_hex_of(path, intake_hex);
	char text[1200];
	snprintf(text, sizeof text,
	         "operator issuer %s subject CN=operator, O=kensho demo\n"
	         "relying-party issuer %s subject CN=relying-party, O=kensho demo\n"
	         "intake issuer %s subject CN=intake, O=kensho demo\n"
	         "deny spki %s\n",
	         ca_hex, ca_hex, ca_hex, intake_hex);
	write_text(policy, text);
	int rc;
	struct tls_factory *f = factory_files(trust, policy, err, sizeof err, &rc);
	if (rc != 0)
		fail_msg("%s", err);

	/* A denied key: refused with certificate_revoked before its key is used. */
	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	struct client_opts o = {.cert_base = "clients/intake"};
	client_init(&cl, &s, &o);
	assert_int_equal(handshake(&cl), MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
	assert_int_equal(s.failed, 1);
	assert_non_null(strstr(s.fail_why, "deny rule"));
	client_free(&cl);
	conn_close(&s);
	struct tls_stats st;
	tls_factory_stats(f, &st);
	assert_int_equal(st.client_cert_verifies, 0);

	/* Two live keep-alive connections: operator and relying party. */
	struct fake_conn op_s, rp_s;
	struct client op_cl, rp_cl;
	conn_open(&op_s, f);
	struct client_opts op = {.cert_base = "clients/operator"};
	client_init(&op_cl, &op_s, &op);
	assert_int_equal(handshake(&op_cl), 0);
	assert_int_equal(op_s.peer.roles, PEER_ROLE_OPERATOR);
	conn_open(&rp_s, f);
	struct client_opts rp = {.cert_base = "clients/relying-party"};
	client_init(&rp_cl, &rp_s, &rp);
	assert_int_equal(handshake(&rp_cl), 0);
	assert_int_equal(rp_s.peer.roles, PEER_ROLE_RELYING_PARTY);

	/* Reload: the operator rule is withdrawn, the relying party's
	 * certificate is denied by issuer and serial. Both open connections see
	 * it from their next request. */
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	snprintf(path, sizeof path, "%s/tls/clients/relying-party.pem", dir);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, path), 0);
	char serial[200];
	size_t at = 0;
	for (size_t i = 0; i < crt.serial.len; i++)
		at += (size_t)snprintf(serial + at, sizeof serial - at, "%02x", crt.serial.p[i]);
	mbedtls_x509_crt_free(&crt);
	snprintf(text, sizeof text,
	         "relying-party issuer %s subject CN=operator, O=kensho demo\n"
	         "relying-party issuer %s subject CN=relying-party, O=kensho demo\n"
	         "deny issuer %s serial %s\n",
	         ca_hex, ca_hex, ca_hex, serial);
	write_text(policy, text);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), 0);
	assert_int_equal(op_s.peer.roles, PEER_ROLE_RELYING_PARTY);
	assert_int_equal(rp_s.peer.roles, 0);
	/* The connections themselves stay usable. */
	client_write(&op_cl, "GET");
	assert_int_equal(op_s.failed, 0);

	/* A new connection with the denied certificate is refused outright. */
	conn_open(&s, f);
	client_init(&cl, &s, &rp);
	assert_int_equal(handshake(&cl), MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
	client_free(&cl);
	conn_close(&s);

	client_free(&op_cl);
	client_free(&rp_cl);
	conn_close(&op_s);
	conn_close(&rp_s);
	tls_factory_free(f);
}

/* --- session tickets shared through a key file ------------------------------------ */

#define ROTATION 3600
static int64_t fake_now = 1800000000; /* a period boundary plus 0 */

static int64_t fake_clock(void)
{
	return fake_now;
}

/* A factory as a second worker or machine would build it: its own random
 * generator and configuration, only the ticket key file in common. */
static struct tls_factory *factory_sharing(const char *ticket_key, const char *trust_file)
{
	char cert[512], key[512], policy[512], err[256] = "";
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .trust_file = trust_file,
	        .policy_file = trust_file ? policy : NULL,
	        .roles = &handler_roles,
	        .client_auth = trust_file ? TLS_CLIENT_AUTH_OPTIONAL : TLS_CLIENT_AUTH_NONE,
	        .ticket_lifetime_s = ROTATION,
	        .ticket_key_file = ticket_key,
	        .ticket_rotation_s = ROTATION,
	};
	struct tls_factory *f = NULL;
	int rc = tls_factory_new(NULL, &s, &f, err, sizeof err);
	if (rc != 0)
		fail_msg("tls_factory_new: %d %s", rc, err);
	tls_factory_set_clock(f, fake_clock);
	return f;
}

/* A full handshake on f; the client's session (with its ticket) goes to out. */
static void issue_ticket(struct tls_factory *f, mbedtls_ssl_session *out, const char *cert_base)
{
	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	struct client_opts o = {.cert_base = cert_base};
	client_init(&cl, &s, &o);
	mbedtls_ssl_conf_session_tickets(&cl.conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	assert_int_equal(handshake(&cl), 0);
	assert_int_equal(s.established, 1);
	mbedtls_ssl_session_init(out);
	assert_int_equal(mbedtls_ssl_get_session(&cl.ssl, out), 0);
	assert_non_null(out->ticket);
	client_free(&cl);
	conn_close(&s);
}

/* Offers `saved` to f. The handshake must complete either way; returns
 * whether f resumed it (rather than falling back to a full handshake). */
static bool offer_ticket_renew(struct tls_factory *f, const mbedtls_ssl_session *saved,
                               struct peer_info *peer_out, mbedtls_ssl_session *renewed)
{
	struct tls_stats before, after;
	tls_factory_stats(f, &before);
	struct fake_conn s;
	struct client cl;
	conn_open(&s, f);
	client_init(&cl, &s, NULL);
	mbedtls_ssl_conf_session_tickets(&cl.conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	assert_int_equal(mbedtls_ssl_set_session(&cl.ssl, saved), 0);
	assert_int_equal(handshake(&cl), 0);
	assert_int_equal(s.established, 1);
	assert_int_equal(s.failed, 0);
	if (peer_out)
		*peer_out = s.peer;
	if (renewed) {
		mbedtls_ssl_session_init(renewed);
		assert_int_equal(mbedtls_ssl_get_session(&cl.ssl, renewed), 0);
		assert_non_null(renewed->ticket);
	}
	client_free(&cl);
	conn_close(&s);
	tls_factory_stats(f, &after);
	assert_int_equal(after.handshakes, before.handshakes + 1);
	return after.resumed == before.resumed + 1;
}

static bool offer_ticket(struct tls_factory *f, const mbedtls_ssl_session *saved,
                         struct peer_info *peer_out)
{
	return offer_ticket_renew(f, saved, peer_out, NULL);
}

static void ticket_key_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/tls/%s", dir, name);
	unlink(out);
	char err[256] = "";
	if (tls_ticket_key_ensure(out, err, sizeof err) != 0)
		fail_msg("tls_ticket_key_ensure: %s", err);
}

static void test_ticket_resumes_on_another_factory(void **state)
{
	char shared[512], other[512], trust[512];
	ticket_key_path(shared, sizeof shared, "ticket.key");
	ticket_key_path(other, sizeof other, "other-ticket.key");
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	fake_now = 1800000000;
	struct tls_factory *a = factory_sharing(shared, trust);
	struct tls_factory *b = factory_sharing(shared, trust);
	struct tls_factory *stranger = factory_sharing(other, trust);
	mbedtls_ssl_session saved;
	issue_ticket(a, &saved, "clients/operator");
	/* Another process with the same file resumes, and still knows who the
	 * client is and what it may do. */
	struct peer_info peer;
	assert_true(offer_ticket(b, &saved, &peer));
	assert_true(peer.client_cert);
	assert_int_equal(peer.roles, PEER_ROLE_OPERATOR);
	assert_true(offer_ticket(a, &saved, NULL));
	/* One with a different secret cannot open it: a full handshake. */
	assert_false(offer_ticket(stranger, &saved, NULL));
	/* A reload keeps the keys: tickets issued before it still resume. */
	char err[256] = "";
	assert_int_equal(tls_factory_reload(b, err, sizeof err), 0);
	assert_true(offer_ticket(b, &saved, NULL));
	mbedtls_ssl_session_free(&saved);
	tls_factory_free(a);
	tls_factory_free(b);
	tls_factory_free(stranger);
}

static void test_ticket_periods(void **state)
{
	char shared[512];
	ticket_key_path(shared, sizeof shared, "ticket.key");
	struct tls_factory *a = factory_sharing(shared, NULL);
	struct tls_factory *b = factory_sharing(shared, NULL);
	/* Issued late in one period... */
	int64_t start = (int64_t)1800000000 / ROTATION * ROTATION;
	fake_now = start + ROTATION - 60;
	mbedtls_ssl_session saved;
	issue_ticket(a, &saved, NULL);
	/* ...it opens in the next period with the previous period's key. */
	fake_now = start + ROTATION + 60;
	assert_true(offer_ticket(b, &saved, NULL));
	/* Two periods on, that key is gone. */
	fake_now = start + 2 * ROTATION + 60;
	assert_false(offer_ticket(b, &saved, NULL));
	assert_false(offer_ticket(a, &saved, NULL));
	mbedtls_ssl_session_free(&saved);

	/* The derived keys differ per period and per secret; names too. */
	uint8_t m1[TLS_TICKET_MASTER_LEN] = {1}, m2[TLS_TICKET_MASTER_LEN] = {2};
	uint8_t k1[32], n1[TLS_TICKET_NAME_LEN], k2[32], n2[TLS_TICKET_NAME_LEN];
	assert_int_equal(tls_ticket_derive(m1, 7, k1, n1), 0);
	assert_int_equal(tls_ticket_derive(m1, 7, k2, n2), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(tls_ticket_derive(m1, 8, k2, n2), 0);
	assert_memory_not_equal(k1, k2, 32);
	assert_memory_not_equal(n1, n2, TLS_TICKET_NAME_LEN);
	assert_int_equal(tls_ticket_derive(m2, 7, k2, n2), 0);
	assert_memory_not_equal(k1, k2, 32);
	tls_factory_free(a);
	tls_factory_free(b);
}

static void test_ticket_lifetime_and_trust_store(void **state)
{
	char shared[512], trust[512], other_trust[512];
	ticket_key_path(shared, sizeof shared, "ticket.key");
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	snprintf(other_trust, sizeof other_trust, "%s/tls/ca.pem", other_dir);
	int64_t start = (int64_t)1800000000 / ROTATION * ROTATION;
	fake_now = start + 10;
	struct tls_factory *a = factory_sharing(shared, trust);
	mbedtls_ssl_session saved;
	issue_ticket(a, &saved, NULL);
	/* Same period, but older than tls.ticket_lifetime: not honoured. */
	fake_now = start + 10 + ROTATION + 1;
	assert_false(offer_ticket(a, &saved, NULL));
	fake_now = start + 10 + ROTATION - 1;
	assert_true(offer_ticket(a, &saved, NULL));
	/* Resuming does not stretch the session: whatever ticket the client
	 * holds afterwards stops resuming at the session's start plus the
	 * lifetime, so a client certificate is verified again at least that
	 * often. */
	fake_now = start + 10 + ROTATION / 2;
	mbedtls_ssl_session renewed;
	assert_true(offer_ticket_renew(a, &saved, NULL, &renewed));
	fake_now = start + 10 + ROTATION - 1;
	assert_true(offer_ticket(a, &renewed, NULL));
	fake_now = start + 10 + ROTATION + 1;
	assert_false(offer_ticket(a, &renewed, NULL));
	mbedtls_ssl_session_free(&renewed);
	fake_now = start + 10;
	/* A server trusting other client CAs does not take the session on. */
	struct tls_factory *b = factory_sharing(shared, other_trust);
	assert_false(offer_ticket(b, &saved, NULL));
	mbedtls_ssl_session_free(&saved);
	tls_factory_free(a);
	tls_factory_free(b);
}

static void test_tampered_ticket_gets_full_handshake(void **state)
{
	char shared[512];
	ticket_key_path(shared, sizeof shared, "ticket.key");
	fake_now = 1800000000;
	struct tls_factory *f = factory_sharing(shared, NULL);
	mbedtls_ssl_session saved;
	issue_ticket(f, &saved, NULL);
	size_t len = saved.ticket_len;
	/* Key name, IV, ciphertext, tag: one flipped bit anywhere is refused. */
	size_t where[] = {0, 20, 40, len / 2, len - 1};
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		saved.ticket[where[i]] ^= 0x01;
		assert_false(offer_ticket(f, &saved, NULL));
		saved.ticket[where[i]] ^= 0x01;
	}
	/* Truncated. */
	saved.ticket_len = len - 1;
	assert_false(offer_ticket(f, &saved, NULL));
	saved.ticket_len = 20;
	assert_false(offer_ticket(f, &saved, NULL));
	saved.ticket_len = len;
	assert_true(offer_ticket(f, &saved, NULL));
	mbedtls_ssl_session_free(&saved);
	tls_factory_free(f);
}

static void test_ticket_key_file(void **state)
{
	char path[512], err[256] = "";
	ticket_key_path(path, sizeof path, "ticket.key");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t first[TLS_TICKET_MASTER_LEN], again[TLS_TICKET_MASTER_LEN];
	assert_int_equal(tls_ticket_key_load(path, first, err, sizeof err), 0);
	/* An existing file is kept. */
	assert_int_equal(tls_ticket_key_ensure(path, err, sizeof err), 0);
	assert_int_equal(tls_ticket_key_load(path, again, err, sizeof err), 0);
	assert_memory_equal(first, again, sizeof first);

	/* Readable by group or others: refused, by the loader and the factory. */
	char cert[512], key[512];
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	struct tls_settings s = {
	        .cert_file = cert,
	        .key_file = key,
	        .ticket_lifetime_s = 3600,
	        .ticket_key_file = path,
	};
	struct tls_factory *f = NULL;
	for (mode_t mode = 0640; mode; mode = mode == 0640 ? 0604 : 0) {
		chmod(path, mode);
		assert_int_equal(tls_ticket_key_load(path, again, err, sizeof err), -EPERM);
		err[0] = '\0';
		assert_int_equal(tls_factory_new(NULL, &s, &f, err, sizeof err), -EPERM);
		assert_non_null(strstr(err, "ticket.key"));
		assert_non_null(strstr(err, "chmod 600"));
	}
	chmod(path, 0600);
	/* A reload that finds the file readable by others keeps the old keys. */
	assert_int_equal(tls_factory_new(NULL, &s, &f, err, sizeof err), 0);
	chmod(path, 0644);
	assert_int_equal(tls_factory_reload(f, err, sizeof err), -EPERM);
	chmod(path, 0600);
	tls_factory_free(f);

	/* Not 64 hex digits, or missing: refused with a hint. */
	static const char *bad[] = {
	        "", "abcd\n", "zz00000000000000000000000000000000000000000000000000000000000000\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		FILE *fp = fopen(path, "w");
		fputs(bad[i], fp);
		fclose(fp);
		assert_int_equal(tls_ticket_key_load(path, again, err, sizeof err), -EINVAL);
		assert_non_null(strstr(err, "hex"));
	}
	unlink(path);
	assert_int_equal(tls_ticket_key_load(path, again, err, sizeof err), -ENOENT);
	/* Hand-made with openssl rand -hex 32 works. */
	FILE *fp = fopen(path, "w");
	fputs("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n", fp);
	fclose(fp);
	chmod(path, 0600);
	assert_int_equal(tls_ticket_key_load(path, again, err, sizeof err), 0);
	assert_int_equal(again[0], 0x00);
	assert_int_equal(again[31], 0xff);
	unlink(path);
}

/* Every file error names the file, the setting and what to do or expect. */
static void test_file_errors_name_file_and_setting(void **state)
{
	char cert[512], key[512], trust[512], policy[512], bad[512], err[512];
	snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
	snprintf(key, sizeof key, "%s/tls/server.key", dir);
	snprintf(trust, sizeof trust, "%s/tls/ca.pem", dir);
	snprintf(policy, sizeof policy, "%s/tls/policy.conf", dir);
	snprintf(bad, sizeof bad, "%s/tls/garbage.txt", other_dir);
	write_text(bad, "not PEM at all\n");
	chmod(bad, 0600);
	static const struct {
		int field; /* 0 cert, 1 key, 2 trust, 3 policy */
		int missing;
		const char *needles[3];
	} cases[] = {
	        {0,
	         1,
	         {"/nope.pem (tls.cert, server certificate): cannot read: No such file",
	          "point tls.cert at another", NULL}},
	        {1, 1, {"/nope.pem (tls.key, server private key): cannot read", NULL, NULL}},
	        {2, 1, {"/nope.pem (tls.trust, client-certificate CAs): cannot read", NULL, NULL}},
	        {3,
	         1,
	         {"/nope.pem (tls.policy, client-certificate policy): cannot read", NULL, NULL}},
	        {0, 0, {"garbage.txt (tls.cert): not a valid PEM certificate chain", NULL, NULL}},
	        {1,
	         0,
	         {"garbage.txt (tls.key): not a valid unencrypted PEM or DER private key", NULL,
	          NULL}},
	        {2,
	         0,
	         {"garbage.txt (tls.trust): not a valid PEM list of CA certificates", NULL, NULL}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *files[4] = {cert, key, trust, policy};
		files[cases[i].field] = cases[i].missing ? "/nope.pem" : bad;
		struct tls_settings st = {
		        .cert_file = files[0],
		        .key_file = files[1],
		        .trust_file = files[2],
		        .policy_file = files[3],
		        .roles = &handler_roles,
		        .client_auth = TLS_CLIENT_AUTH_OPTIONAL,
		};
		struct tls_factory *f = NULL;
		err[0] = '\0';
		assert_true(tls_factory_new(NULL, &st, &f, err, sizeof err) < 0);
		assert_null(f);
		for (int k = 0; k < 3 && cases[i].needles[k]; k++)
			if (!strstr(err, cases[i].needles[k]))
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				         cases[i].needles[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_policy_parsing),
	        cmocka_unit_test(test_policy_role_names_are_injected),
	        cmocka_unit_test(test_demo_pki_files),
	        cmocka_unit_test(test_demo_pki_follows_the_role_table),
	        cmocka_unit_test(test_handshake_and_data_both_ways),
	        cmocka_unit_test(test_client_certificates_get_policy_roles),
	        cmocka_unit_test(test_required_without_certificate_fails),
	        cmocka_unit_test(test_untrusted_certificate_refused_even_when_optional),
	        cmocka_unit_test(test_old_versions_and_weak_ciphers_refused),
	        cmocka_unit_test(test_garbage_and_truncated_records),
	        cmocka_unit_test(test_session_ticket_resumes),
	        cmocka_unit_test(test_reload_keeps_old_config_on_error),
	        cmocka_unit_test(test_handshake_timeout),
	        cmocka_unit_test(test_ticket_resumes_on_another_factory),
	        cmocka_unit_test(test_ticket_periods),
	        cmocka_unit_test(test_ticket_lifetime_and_trust_store),
	        cmocka_unit_test(test_tampered_ticket_gets_full_handshake),
	        cmocka_unit_test(test_ticket_key_file),
	        cmocka_unit_test(test_oversized_client_key_refused_before_use),
	        cmocka_unit_test(test_untrusted_small_key_refused_before_certificate_verify),
	        cmocka_unit_test(test_subject_rules_bound_to_their_issuer),
	        cmocka_unit_test(test_deny_rules_and_reload_reach_open_connections),
	        cmocka_unit_test(test_file_errors_name_file_and_setting),
	        cmocka_unit_test(test_steps_run_on_the_pool),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
