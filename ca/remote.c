/* kensho's remote mode (see remote.h): the same options as the local
 * commands, turned into a form body and POSTed to /v1/admin/COMMAND over
 * TLS 1.2 with the operator's certificate; the server answers JSON. */
#include "ca/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "ca/cli.h"
#include "core/buf.h"
#include "pki/x509_write.h"

#define REMOTE_MAX_RESPONSE (1 << 20)
#define REMOTE_TIMEOUT_MS   60000

/* Percent-encodes a form value (WHATWG URL §5.2). */
static void form_add(struct buf *b, const char *key, const char *value)
{
	if (!value)
		return;
	buf_printf(b, "%s%s=", b->len ? "&" : "", key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '*')
			buf_append(b, p, 1);
		else if (*p == ' ')
			buf_append_str(b, "+");
		else
			buf_printf(b, "%%%02X", *p);
	}
}

static char *read_text_file(const char *command, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_fail(command, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 65536)
		buf_append(&b, chunk, n);
	fclose(f);
	buf_append(&b, "", 1);
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* Builds the request body for a command; returns CLI_EXIT_* on a bad
 * command line. */
static int build_body(int argc, char **argv, struct buf *body, char **to_free)
{
	const char *cmd = argv[0];
	struct cli_args args;
	if (strcmp(cmd, "revoke") == 0) {
		if (cli_parse(argc, argv, "kind:,serial:,reason:", &args) || args.positional_count)
			return CLI_EXIT_USAGE;
		form_add(body, "kind", cli_get(&args, "kind"));
		form_add(body, "serial", cli_get(&args, "serial"));
		form_add(body, "reason", cli_get(&args, "reason"));
	} else if (strcmp(cmd, "event") == 0) {
		if (cli_parse(argc, argv, "kind:,serial:", &args) || args.positional_count != 1)
			return CLI_EXIT_USAGE;
		form_add(body, "kind", cli_get(&args, "kind"));
		form_add(body, "serial", cli_get(&args, "serial"));
		form_add(body, "event", args.positional[0]);
	} else if (strcmp(cmd, "issue") == 0) {
		if (cli_parse(argc, argv,
		              "name:,birth:,sex:,address:,sign-pubkey:,auth-pubkey:,out:", &args) ||
		    args.positional_count)
			return CLI_EXIT_USAGE;
		if (!cli_get(&args, "sign-pubkey") || !cli_get(&args, "auth-pubkey")) {
			cli_fail(cmd,
			         "remote issue needs --sign-pubkey and --auth-pubkey: the admin "
			         "API never sends private keys");
			return CLI_EXIT_USAGE;
		}
		form_add(body, "name", cli_get(&args, "name"));
		form_add(body, "birth", cli_get(&args, "birth"));
		form_add(body, "sex", cli_get(&args, "sex"));
		form_add(body, "address", cli_get(&args, "address"));
		for (int k = 0; k < 2; k++) {
			const char *opt = k ? "auth-pubkey" : "sign-pubkey";
			char *pem = read_text_file(cmd, cli_get(&args, opt));
			if (!pem)
				return CLI_EXIT_FAILED;
			form_add(body, k ? "auth_pubkey" : "sign_pubkey", pem);
			to_free[k] = pem;
		}
	} else if (strcmp(cmd, "reload") == 0) {
		if (argc != 1)
			return CLI_EXIT_USAGE;
	} else {
		cli_fail(cmd, "not available with --server (remote: issue, revoke, event, reload)");
		return CLI_EXIT_USAGE;
	}
	return body->failed ? CLI_EXIT_FAILED : 0;
}

static int parse_server(const char *url, char *host, size_t host_len, char *port, size_t port_len)
{
	if (strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	const char *h = url + 8;
	size_t n = strcspn(h, ":/");
	if (n == 0 || n >= host_len)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (h[n] == ':') {
		size_t p = strcspn(h + n + 1, "/");
		if (p == 0 || p >= port_len)
			return -EINVAL;
		memcpy(port, h + n + 1, p);
		port[p] = '\0';
	} else {
		snprintf(port, port_len, "443");
	}
	return 0;
}

static void tls_fail(const char *command, const char *what, int rc)
{
	char why[160];
	mbedtls_strerror(rc, why, sizeof(why));
	cli_fail(command, "%s: %s", what, why);
}

/* One HTTPS request with Connection: close; the whole answer lands in resp. */
static int https_post(const struct remote_options *o, const char *command, const char *path,
                      const struct buf *body, struct buf *resp)
{
	char host[256], port[16];
	if (parse_server(o->server, host, sizeof(host), port, sizeof(port)) < 0) {
		cli_fail(command, "--server must look like https://HOST:PORT");
		return CLI_EXIT_USAGE;
	}
	mbedtls_net_context net;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_net_init(&net);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	int status = CLI_EXIT_FAILED, rc;
	if ((rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0))) {
		tls_fail(command, "random generator", rc);
		goto out;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&ca, o->cacert))) {
		tls_fail(command, o->cacert, rc);
		goto out;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&cert, o->cert))) {
		tls_fail(command, o->cert, rc);
		goto out;
	}
	/* The same owner-only rule kenshod applies to its keys (docs/architecture.md rule 5);
	 * stat follows a symbolic link, so a link to a readable key is refused too. */
	if ((rc = x509_key_load(&key, o->key))) {
		if (rc == -EPERM)
			cli_fail(command,
			         "%s: private key readable by group or others; chmod 600 it "
			         "(only its owner may read it)",
			         o->key);
		else
			cli_fail(command, "%s: cannot load the private key: %s", o->key,
			         strerror(-rc));
		goto out;
	}
	mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	                            MBEDTLS_SSL_PRESET_DEFAULT);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	mbedtls_ssl_conf_read_timeout(&conf, REMOTE_TIMEOUT_MS);
	if ((rc = mbedtls_ssl_conf_own_cert(&conf, &cert, &key)) ||
	    (rc = mbedtls_ssl_setup(&ssl, &conf)) || (rc = mbedtls_ssl_set_hostname(&ssl, host))) {
		tls_fail(command, "TLS setup", rc);
		goto out;
	}
	if ((rc = mbedtls_net_connect(&net, host, port, MBEDTLS_NET_PROTO_TCP))) {
		tls_fail(command, o->server, rc);
		goto out;
	}
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			tls_fail(command, "TLS handshake", rc);
			goto out;
		}
	}
	struct buf req = {0};
	buf_printf(&req,
	           "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: "
	           "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\nConnection: "
	           "close\r\n\r\n",
	           path, host, port, body->len);
	buf_append(&req, body->data, body->len);
	for (size_t off = 0; off < req.len;) {
		rc = mbedtls_ssl_write(&ssl, req.data + off, req.len - off);
		if (rc < 0) {
			buf_free(&req);
			tls_fail(command, "sending", rc);
			goto out;
		}
		off += (size_t)rc;
	}
	buf_free(&req);
	unsigned char chunk[4096];
	while (resp->len < REMOTE_MAX_RESPONSE) {
		rc = mbedtls_ssl_read(&ssl, chunk, sizeof(chunk));
		if (rc > 0) {
			buf_append(resp, chunk, (size_t)rc);
			continue;
		}
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    rc == MBEDTLS_ERR_NET_CONN_RESET)
			break;
		if (rc == MBEDTLS_ERR_SSL_WANT_READ)
			continue;
		tls_fail(command, "reading the answer", rc);
		goto out;
	}
	mbedtls_ssl_close_notify(&ssl);
	status = 0;
out:
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&cert);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return status;
}

int cli_remote(const struct remote_options *o, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (!o->cert || !o->key || !o->cacert) {
		cli_fail(cmd, "--server needs --cert, --key and --cacert (mutual TLS)");
		return CLI_EXIT_USAGE;
	}
	struct buf body = {0};
	char *to_free[2] = {NULL, NULL};
	int status = build_body(argc, argv, &body, to_free);
	free(to_free[0]);
	free(to_free[1]);
	if (status) {
		buf_free(&body);
		return status;
	}
	char path[64];
	snprintf(path, sizeof(path), "/v1/admin/%s", cmd);
	struct buf resp = {0};
	status = https_post(o, cmd, path, &body, &resp);
	buf_free(&body);
	if (status) {
		buf_free(&resp);
		return status;
	}
	buf_append(&resp, "", 1);
	int code = 0;
	const char *text = (const char *)resp.data;
	const char *payload = strstr(text, "\r\n\r\n");
	if (sscanf(text, "HTTP/1.%*d %d", &code) != 1 || !payload) {
		cli_fail(cmd, "not an HTTP answer from %s", o->server);
		buf_free(&resp);
		return CLI_EXIT_FAILED;
	}
	payload += 4;
	/* The JSON answer as is: scripts parse it; people can read it. */
	if (code >= 200 && code < 300) {
		printf("%s%s", payload,
		       payload[0] && payload[strlen(payload) - 1] == '\n' ? "" : "\n");
		status = 0;
	} else {
		cli_fail(cmd, "HTTP %d: %s", code, payload);
		status = CLI_EXIT_FAILED;
	}
	buf_free(&resp);
	return status;
}
