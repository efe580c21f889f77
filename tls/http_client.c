/* The blocking HTTP/1.1 client of the command-line programs: see
 * http_client.h. */
#include "tls/http_client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "pki/errors.h"
#include "pki/random.h"
#include "pki/x509_write.h"

/* --- URLs ---------------------------------------------------------------------- */

int http_url_parse(const char *text, struct http_url *out)
{
	memset(out, 0, sizeof(*out));
	const char *p;
	if (strncmp(text, "http://", 7) == 0) {
		p = text + 7;
	} else if (strncmp(text, "https://", 8) == 0) {
		p = text + 8;
		out->tls = true;
	} else if (strstr(text, "://")) {
		return -EPROTONOSUPPORT;
	} else {
		return -EINVAL;
	}
	size_t host_len = strcspn(p, ":/");
	if (host_len == 0 || host_len >= sizeof(out->host))
		return -EINVAL;
	memcpy(out->host, p, host_len);
	p += host_len;
	snprintf(out->port, sizeof(out->port), out->tls ? "443" : "80");
	if (*p == ':') {
		p++;
		size_t port_len = strspn(p, "0123456789");
		if (port_len == 0 || port_len > 5 || (p[port_len] && p[port_len] != '/'))
			return -EINVAL;
		memcpy(out->port, p, port_len);
		out->port[port_len] = '\0';
		if (atoi(out->port) < 1 || atoi(out->port) > 65535)
			return -EINVAL;
		p += port_len;
	}
	size_t base_len = strlen(p);
	while (base_len > 0 && p[base_len - 1] == '/')
		base_len--;
	if (base_len >= sizeof(out->base))
		return -EINVAL;
	for (size_t i = 0; i < base_len; i++) {
		/* The base goes into the request line verbatim. */
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return -EINVAL;
	}
	memcpy(out->base, p, base_len);
	return 0;
}

/* --- responses ----------------------------------------------------------------- */

/* The end of the line starting at p (CRLF or a bare LF): its '\n'. */
static const uint8_t *line_end(const uint8_t *p, const uint8_t *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

static int header_is(const uint8_t *line, size_t len, const char *name, const uint8_t **value,
                     size_t *value_len)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp((const char *)line, name, n) != 0)
		return 0;
	const uint8_t *v = line + n + 1;
	const uint8_t *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*value = v;
	*value_len = (size_t)(e - v);
	return 1;
}

/* Parses a decimal number of at most 18 digits or a hex one of at most 15
 * (a Content-Length or a chunk size; the caller's max_response bounds what
 * is read). */
static int parse_number(const uint8_t *p, size_t len, int base, size_t *out)
{
	/* A replica's snapshot of a large store is gigabytes; size_t holds
	 * either bound without overflow. */
	if (len == 0 || len > (base == 10 ? 18u : 15u))
		return -EBADMSG;
	size_t v = 0;
	for (size_t i = 0; i < len; i++) {
		int d;
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (base == 16 && isxdigit(p[i]))
			d = tolower(p[i]) - 'a' + 10;
		else
			return -EBADMSG;
		v = v * (size_t)base + (size_t)d;
	}
	*out = v;
	return 0;
}

/* RFC 9112 §7.1: chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF. */
static int dechunk(const uint8_t *p, const uint8_t *end, struct buf *out)
{
	for (;;) {
		const uint8_t *nl = line_end(p, end);
		if (!nl)
			return -EBADMSG;
		size_t digits = 0;
		while (p + digits < nl && isxdigit(p[digits]))
			digits++;
		size_t size;
		if (parse_number(p, digits, 16, &size) < 0)
			return -EBADMSG;
		p = nl + 1;
		if (size == 0)
			return 0; /* trailers, if any, are ignored */
		if ((size_t)(end - p) < size + 1)
			return -EBADMSG;
		if (buf_append(out, p, size) < 0)
			return -ENOMEM;
		p += size;
		if (*p == '\r')
			p++;
		if (p >= end || *p != '\n')
			return -EBADMSG;
		p++;
	}
}

/* Parses raw into out; *framed tells whether the message says where it ends
 * (Content-Length, chunked, or a status that has no body), so a reader that
 * gets 0 here knows the response is complete without waiting for the close. */
static int response_parse(const uint8_t *raw, size_t len, struct http_reply *out, bool *framed)
{
	memset(out, 0, sizeof(*out));
	*framed = false;
	if (!raw || len == 0)
		return -EBADMSG;
	const uint8_t *end = raw + len;
	const uint8_t *nl = line_end(raw, end);
	/* "HTTP/1.x NNN" at least. */
	if (!nl || nl - raw < 12 || memcmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ')
		return -EBADMSG;
	size_t status;
	if (parse_number(raw + 9, 3, 10, &status) < 0 || status < 100 || status > 599 ||
	    (raw[12] != ' ' && raw[12] != '\r' && raw[12] != '\n'))
		return -EBADMSG;
	out->status = (int)status;

	bool chunked = false;
	bool has_length = false;
	size_t content_length = 0;
	const uint8_t *p = nl + 1;
	out->headers = p;
	for (;;) {
		nl = line_end(p, end);
		if (!nl)
			return -EBADMSG;
		size_t line_len = (size_t)(nl - p);
		if (line_len > 0 && p[line_len - 1] == '\r')
			line_len--;
		if (line_len == 0) {
			out->headers_len = (size_t)(p - out->headers);
			p = nl + 1;
			break;
		}
		const uint8_t *v;
		size_t vlen;
		if (header_is(p, line_len, "Content-Length", &v, &vlen)) {
			if (parse_number(v, vlen, 10, &content_length) < 0)
				return -EBADMSG;
			has_length = true;
		} else if (header_is(p, line_len, "Transfer-Encoding", &v, &vlen)) {
			chunked = vlen == 7 && strncasecmp((const char *)v, "chunked", 7) == 0;
			if (!chunked)
				return -EBADMSG;
		} else if (header_is(p, line_len, "Content-Type", &v, &vlen)) {
			if (vlen >= sizeof(out->content_type))
				vlen = sizeof(out->content_type) - 1;
			memcpy(out->content_type, v, vlen);
			out->content_type[vlen] = '\0';
		}
		p = nl + 1;
	}
	/* RFC 9112 §6.3: these never have a body, whatever the headers say. */
	if (status == 204 || status == 304) {
		*framed = true;
		out->body = p;
		return 0;
	}
	if (chunked) {
		int err = dechunk(p, end, &out->decoded);
		if (err < 0) {
			buf_free(&out->decoded);
			return err;
		}
		*framed = true;
		out->body = out->decoded.data;
		out->body_len = out->decoded.len;
		return 0;
	}
	size_t available = (size_t)(end - p);
	if (has_length) {
		if (content_length > available)
			return -EBADMSG;
		available = content_length;
		*framed = true;
	}
	out->body = p;
	out->body_len = available;
	return 0;
}

int http_response_parse(const uint8_t *raw, size_t len, struct http_reply *out)
{
	bool framed;
	return response_parse(raw, len, out, &framed);
}

int http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t cap)
{
	const uint8_t *p = reply->headers;
	const uint8_t *end = p ? p + reply->headers_len : NULL;
	while (p && p < end) {
		const uint8_t *nl = line_end(p, end);
		if (!nl)
			break;
		size_t line_len = (size_t)(nl - p);
		const uint8_t *v;
		size_t vlen;
		if (header_is(p, line_len, name, &v, &vlen)) {
			if (vlen >= cap)
				return -ENOSPC;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = nl + 1;
	}
	return -ENOENT;
}

void http_reply_free(struct http_reply *reply)
{
	buf_free(&reply->decoded);
	buf_free(&reply->raw);
	reply->body = NULL;
	reply->body_len = 0;
	reply->headers = NULL;
	reply->headers_len = 0;
}

/* --- the client ---------------------------------------------------------------- */

struct http_client {
	struct http_url url;
	int timeout_ms;
	char *user_agent;
	/* https only: loaded once by http_client_new, used by every request. */
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own_cert;
	mbedtls_pk_context own_key;
	bool has_own_cert;
	mbedtls_ssl_config conf;
};

/* One request's connection: the socket, the TLS session over it, and the
 * errno of the socket call that failed (the BIO records it, so a timeout is
 * reported as one and not as a TLS failure). */
struct http_connection {
	int fd;
	int io_error;
	bool tls;
	mbedtls_ssl_context ssl;
};

static void say(char *why, size_t why_len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
	if (!why || why_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static int load_certificates(mbedtls_x509_crt *crt, const char *path, const char *what, char *why,
                             size_t why_len)
{
	int rc = mbedtls_x509_crt_parse_file(crt, path);
	if (rc == 0)
		return 0;
	char text[128] = "";
	if (rc < 0)
		mbedtls_strerror(rc, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%d certificate(s) could not be parsed", rc);
	say(why, why_len, "%s: cannot load the %s: %s", path, what, text);
	return pki_errno(rc) == -ENOMEM ? -ENOMEM : -ENOKEY;
}

/* The client's own certificate and key; the key under kensho's rule for key
 * files (x509_key_load: owner-only, stat follows a symbolic link). */
static int load_own_credentials(struct http_client *c, const char *cert, const char *key, char *why,
                                size_t why_len)
{
	int err = load_certificates(&c->own_cert, cert, "client certificate", why, why_len);
	if (err < 0)
		return err;
	err = x509_key_load(&c->own_key, key);
	if (err == -EPERM) {
		say(why, why_len,
		    "%s: private key readable by group or others; chmod 600 it (only its owner "
		    "may read it)",
		    key);
		return -EPERM;
	}
	if (err < 0) {
		say(why, why_len, "%s: cannot load the private key: %s", key, strerror(-err));
		return err == -ENOMEM ? -ENOMEM : -ENOKEY;
	}
	if (mbedtls_pk_check_pair(&c->own_cert.pk, &c->own_key) != 0) {
		say(why, why_len, "%s: not the private key of %s", key, cert);
		return -ENOKEY;
	}
	c->has_own_cert = true;
	return 0;
}

/* TLS 1.2 with mbedTLS's default suites (kenshod offers only ECDHE with
 * AEAD, docs/tls.md); the server must present a chain to the CA file. */
static int tls_configure(struct http_client *c, const struct http_client_options *o, char *why,
                         size_t why_len)
{
	if (!o->cacert) {
		say(why, why_len, "an https:// server needs a CA file (--cacert) to verify it");
		return -ENOKEY;
	}
	int err = load_certificates(&c->ca, o->cacert, "CA certificates", why, why_len);
	if (err < 0)
		return err;
	if (o->cert) {
		err = load_own_credentials(c, o->cert, o->key, why, why_len);
		if (err < 0)
			return err;
	}
	int rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	                                     MBEDTLS_SSL_TRANSPORT_STREAM,
	                                     MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc == 0 && c->has_own_cert)
		rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->own_key);
	if (rc != 0) {
		say(why, why_len, "cannot set up TLS");
		return pki_errno(rc);
	}
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&c->conf, pki_random, NULL);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	return 0;
}

int http_client_new(const struct http_client_options *o, struct http_client **out, char *why,
                    size_t why_len)
{
	*out = NULL;
	if ((o->cert != NULL) != (o->key != NULL)) {
		say(why, why_len,
		    "a client certificate and its key go together (--cert and --key)");
		return -EINVAL;
	}
	if (!o->url.tls && (o->cacert || o->cert)) {
		say(why, why_len, "--cacert, --cert and --key are for an https:// server");
		return -EINVAL;
	}
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c) {
		say(why, why_len, "out of memory");
		return -ENOMEM;
	}
	c->url = o->url;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HTTP_CLIENT_TIMEOUT_MS_DEFAULT;
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->own_cert);
	mbedtls_pk_init(&c->own_key);
	mbedtls_ssl_config_init(&c->conf);
	int err = 0;
	if (o->user_agent && !(c->user_agent = strdup(o->user_agent))) {
		say(why, why_len, "out of memory");
		err = -ENOMEM;
	}
	if (err == 0 && c->url.tls)
		err = tls_configure(c, o, why, why_len);
	if (err < 0) {
		http_client_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_pk_free(&c->own_key);
	mbedtls_x509_crt_free(&c->own_cert);
	mbedtls_x509_crt_free(&c->ca);
	free(c->user_agent);
	free(c);
}

/* --- one connection ------------------------------------------------------------ */

/* A socket call failed: EAGAIN means SO_RCVTIMEO/SO_SNDTIMEO passed, a
 * timeout, not a retry. */
static int socket_error(int error)
{
	return error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS ? -ETIMEDOUT
	                                                                       : -error;
}

static int connect_to(const struct http_client *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	if (getaddrinfo(c->url.host, c->url.port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int err = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		/* Linux applies SO_SNDTIMEO to connect() too. */
		struct timeval tv = {.tv_sec = c->timeout_ms / 1000,
		                     .tv_usec = (c->timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(res);
			return fd;
		}
		err = errno == EINPROGRESS || errno == ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		close(fd);
	}
	freeaddrinfo(res);
	return err;
}

static int bio_send_cb(void *ctx, const unsigned char *p, size_t len)
{
	struct http_connection *conn = ctx;
	for (;;) {
		ssize_t n = send(conn->fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		conn->io_error = socket_error(errno);
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int bio_recv_cb(void *ctx, unsigned char *p, size_t len)
{
	struct http_connection *conn = ctx;
	for (;;) {
		ssize_t n = recv(conn->fd, p, len, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		conn->io_error = socket_error(errno);
		return MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* What a failed TLS call means: the socket's own error when there was one,
 * else mbedTLS's code through kensho's one translation. */
static int tls_failure(const struct http_connection *conn, int rc)
{
	return conn->io_error ? conn->io_error : pki_errno(rc);
}

static int tls_handshake(struct http_client *c, struct http_connection *conn)
{
	conn->tls = true;
	mbedtls_ssl_init(&conn->ssl);
	int rc = mbedtls_ssl_setup(&conn->ssl, &c->conf);
	if (rc == 0)
		rc = mbedtls_ssl_set_hostname(&conn->ssl, c->url.host);
	if (rc != 0)
		return pki_errno(rc);
	mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send_cb, bio_recv_cb, NULL);
	while ((rc = mbedtls_ssl_handshake(&conn->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		/* A server that hangs up mid-handshake refused it (often our
		 * certificate, or the lack of one): the same as its alert. */
		if (conn->io_error == -EPIPE || conn->io_error == -ECONNRESET)
			return -EPROTO;
		if (conn->io_error)
			return conn->io_error;
		/* -EACCES when the server's certificate does not verify (untrusted,
		 * expired, another name), -EPROTO for other handshake failures. */
		return pki_errno(rc);
	}
	return 0;
}

static int connection_send(struct http_connection *conn, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (conn->tls) {
			int rc = mbedtls_ssl_write(&conn->ssl, p, len);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (rc < 0)
				return tls_failure(conn, rc);
			n = rc;
		} else {
			n = send(conn->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return socket_error(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to cap bytes; 0 when the server closed (with close_notify over
 * TLS, or without, or by a reset, which is then in io_error: kenshod's
 * answers are framed, so an abrupt close cannot truncate one unnoticed). */
static ssize_t connection_recv(struct http_connection *conn, uint8_t *p, size_t cap)
{
	for (;;) {
		if (conn->tls) {
			int rc = mbedtls_ssl_read(&conn->ssl, p, cap);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				return 0;
			if (rc == MBEDTLS_ERR_NET_RECV_FAILED && conn->io_error == -ECONNRESET)
				return 0;
			return rc < 0 ? tls_failure(conn, rc) : rc;
		}
		ssize_t n = recv(conn->fd, p, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET) {
			conn->io_error = -ECONNRESET;
			return 0;
		}
		if (n < 0)
			return socket_error(errno);
		return n;
	}
}

static void connection_close(struct http_connection *conn)
{
	if (conn->tls)
		mbedtls_ssl_free(&conn->ssl);
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
}

/* Reads until the response is complete (by its framing) or the server
 * closes; at most max bytes. */
static int read_response(struct http_connection *conn, struct buf *raw, size_t max)
{
	for (;;) {
		if (buf_reserve(raw, 16384) < 0)
			return -ENOMEM;
		ssize_t n = connection_recv(conn, raw->data + raw->len, raw->cap - raw->len);
		if (n < 0)
			return (int)n;
		/* A reset before any answer is a failure, not an empty answer. */
		if (n == 0)
			return raw->len == 0 && conn->io_error ? conn->io_error : 0;
		raw->len += (size_t)n;
		if (raw->len > max)
			return -E2BIG;
		struct http_reply trial;
		bool framed = false;
		int err = response_parse(raw->data, raw->len, &trial, &framed);
		buf_free(&trial.decoded);
		if (err == 0 && framed)
			return 0;
	}
}

/* One request (a body only with a content type) and its whole response. */
static int client_request(struct http_client *c, const char *method, const char *path,
                          const char *content_type, const uint8_t *body, size_t len, size_t max,
                          struct http_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	struct buf head = {0};
	buf_printf(&head, "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n", method,
	           c->url.base, path, c->url.host, c->url.port);
	if (content_type)
		buf_printf(&head, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, len);
	if (c->user_agent)
		buf_printf(&head, "User-Agent: %s\r\n", c->user_agent);
	buf_append_str(&head, "\r\n");
	if (head.failed) {
		buf_free(&head);
		return -ENOMEM;
	}
	struct http_connection conn = {.fd = connect_to(c)};
	if (conn.fd < 0) {
		buf_free(&head);
		return conn.fd;
	}
	int err = c->url.tls ? tls_handshake(c, &conn) : 0;
	if (err == 0)
		err = connection_send(&conn, head.data, head.len);
	buf_free(&head);
	if (err == 0 && content_type && len)
		err = connection_send(&conn, body, len);
	struct buf raw = {0};
	if (err == 0)
		err = read_response(&conn, &raw, max);
	if (conn.tls && err == 0)
		mbedtls_ssl_close_notify(&conn.ssl);
	connection_close(&conn);
	if (err == 0)
		err = http_response_parse(raw.data, raw.len, reply);
	/* The reply's pointers lead into raw's bytes, which it now owns. */
	reply->raw = raw;
	return err;
}

int http_client_post(struct http_client *c, const char *path, const char *content_type,
                     const uint8_t *body, size_t len, struct http_reply *reply)
{
	return client_request(c, "POST", path, content_type, body, len, HTTP_CLIENT_MAX_RESPONSE,
	                      reply);
}

int http_client_get(struct http_client *c, const char *path, size_t max_response,
                    struct http_reply *reply)
{
	return client_request(c, "GET", path, NULL, NULL, 0,
	                      max_response ? max_response : HTTP_CLIENT_MAX_RESPONSE, reply);
}

const char *http_client_strerror(int err)
{
	switch (err) {
	case -EACCES:
		return "the server's certificate does not verify against --cacert or does not "
		       "name the host (use the DNS name it was issued for, e.g. localhost)";
	case -ENOKEY: return "cannot load --cacert, or --cert/--key (or the key is not the cert's)";
	case -EPERM: return "the client key is readable by others";
	case -EPROTO:
		return "the TLS handshake failed (the server may require a client certificate it "
		       "trusts)";
	case -EHOSTUNREACH: return "the host name does not resolve";
	case -E2BIG: return "the answer is larger than the client accepts";
	case -EBADMSG: return "the answer is not HTTP/1.1";
	default: return strerror(-err);
	}
}
