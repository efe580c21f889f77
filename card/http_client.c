#include "card/http_client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "pki/errors.h"

int http_url_parse(const char *url, struct http_url *out)
{
	memset(out, 0, sizeof(*out));
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		out->tls = true;
	} else if (strstr(url, "://")) {
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

/* Finds the end of the line starting at p (CRLF or a bare LF). */
static const uint8_t *line_end(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	return nl;
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

/* Parses a decimal or hex number of at most 9 digits (bodies stay under the
 * 1 MiB limit, so longer numbers are malformed). */
static int parse_number(const uint8_t *p, size_t len, int base, size_t *out)
{
	if (len == 0 || len > 9)
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

int http_response_parse(const uint8_t *raw, size_t len, struct http_reply *out)
{
	memset(out, 0, sizeof(*out));
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

	int chunked = 0;
	int has_length = 0;
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
			has_length = 1;
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
	if (chunked) {
		int err = dechunk(p, end, &out->decoded);
		if (err < 0) {
			buf_free(&out->decoded);
			return err;
		}
		out->body = out->decoded.data;
		out->body_len = out->decoded.len;
		return 0;
	}
	size_t available = (size_t)(end - p);
	if (has_length) {
		if (content_length > available)
			return -EBADMSG;
		available = content_length;
	}
	out->body = p;
	out->body_len = available;
	return 0;
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
}

static int connect_to(const struct http_url *url)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	if (getaddrinfo(url->host, url->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int err = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = HTTP_CLIENT_TIMEOUT_SECONDS};
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

int http_key_file_check(const char *path)
{
	struct stat st;
	if (!path || stat(path, &st) != 0)
		return -ENOENT;
	return (st.st_mode & 077) ? -EPERM : 0;
}

/* One connection: the socket, and the TLS session over it for https. */
struct conn {
	int fd;
	bool tls;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own_cert;
	mbedtls_pk_context own_key;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
};

/* The socket has SO_RCVTIMEO/SO_SNDTIMEO, so EAGAIN means a step took longer
 * than HTTP_CLIENT_TIMEOUT_SECONDS: a timeout, not a retry. */
static int bio_send(void *ctx, const unsigned char *p, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int bio_recv(void *ctx, unsigned char *p, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = recv(fd, p, len, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

static void conn_free(struct conn *c)
{
	if (c->tls) {
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
		mbedtls_pk_free(&c->own_key);
		mbedtls_x509_crt_free(&c->own_cert);
		mbedtls_x509_crt_free(&c->ca);
		mbedtls_ctr_drbg_free(&c->drbg);
		mbedtls_entropy_free(&c->entropy);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* TLS 1.2 as kenshod speaks it (docs/tls.md); the server must chain to
 * url->cacert and name url->host (mbedTLS 2.28 matches DNS names only). */
static int tls_start(struct conn *c, const struct http_url *url)
{
	c->tls = true;
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->own_cert);
	mbedtls_pk_init(&c->own_key);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	if (!url->cacert || mbedtls_x509_crt_parse_file(&c->ca, url->cacert) != 0)
		return -ENOKEY;
	if (url->cert || url->key) {
		int err = http_key_file_check(url->key);
		if (err < 0)
			return err == -EPERM ? -EPERM : -ENOKEY;
		if (!url->cert || mbedtls_x509_crt_parse_file(&c->own_cert, url->cert) != 0 ||
		    mbedtls_pk_parse_keyfile(&c->own_key, url->key, NULL) != 0 ||
		    mbedtls_pk_check_pair(&c->own_cert.pk, &c->own_key) != 0)
			return -ENOKEY;
	}
	if (mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
	                          (const unsigned char *)"kensho-card", 11) != 0 ||
	    mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	                                MBEDTLS_SSL_TRANSPORT_STREAM,
	                                MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -EIO;
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	if (url->cert && mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->own_key) != 0)
		return -ENOMEM;
	if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, url->host) != 0)
		return -ENOMEM;
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	int rc;
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			return pki_errno(rc);
	}
	return 0;
}

static int conn_send(struct conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (c->tls) {
			int rc = mbedtls_ssl_write(&c->ssl, p, len);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (rc < 0)
				return pki_errno(rc);
			n = rc;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == EAGAIN ? -ETIMEDOUT : -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to cap bytes; 0 at the end of the response (the server closed,
 * with close_notify over TLS). */
static ssize_t conn_recv(struct conn *c, uint8_t *p, size_t cap)
{
	for (;;) {
		if (c->tls) {
			int rc = mbedtls_ssl_read(&c->ssl, p, cap);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				return 0;
			return rc < 0 ? pki_errno(rc) : rc;
		}
		ssize_t n = recv(c->fd, p, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -EIO;
		return n;
	}
}

int http_post(const struct http_url *url, const char *path, const char *content_type,
              const uint8_t *body, size_t len, struct buf *raw, struct http_reply *reply)
{
	struct buf head = {0};
	buf_printf(&head,
	           "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n"
	           "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: kensho-card\r\n\r\n",
	           url->base, path, url->host, url->port, content_type, len);
	if (head.failed) {
		buf_free(&head);
		return -ENOMEM;
	}
	struct conn c = {.fd = connect_to(url)};
	if (c.fd < 0) {
		buf_free(&head);
		return c.fd;
	}
	int err = url->tls ? tls_start(&c, url) : 0;
	if (err == 0)
		err = conn_send(&c, head.data, head.len);
	buf_free(&head);
	if (err == 0)
		err = conn_send(&c, body, len);
	while (err == 0) {
		if (buf_reserve(raw, 16384) < 0) {
			err = -ENOMEM;
			break;
		}
		ssize_t n = conn_recv(&c, raw->data + raw->len, raw->cap - raw->len);
		if (n < 0) {
			err = (int)n;
			break;
		}
		if (n == 0)
			break;
		raw->len += (size_t)n;
		if (raw->len > HTTP_CLIENT_MAX_RESPONSE)
			err = -E2BIG;
	}
	if (c.tls && err == 0)
		mbedtls_ssl_close_notify(&c.ssl);
	conn_free(&c);
	if (err == 0)
		err = http_response_parse(raw->data, raw->len, reply);
	return err;
}
