/* A small blocking HTTP/1.1 client for kensho-card: one POST per connection
 * ("Connection: close") over http:// or https:// (mbedTLS 2.28, TLS 1.2, the
 * server verified against a CA file, optionally a client certificate),
 * bounded in size and time. A CLI
 * may block; nothing here may run on a libuv loop thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Largest response accepted (headers and body). */
#define HTTP_CLIENT_MAX_RESPONSE (1u << 20)
/** Seconds allowed for connecting, and for each send and receive. */
#define HTTP_CLIENT_TIMEOUT_SECONDS 15

/** Where a URL points: http[s]://host[:port][/base]. */
struct http_url {
	char host[256];
	char port[8];
	char base[512]; /**< path prefix without a trailing '/', may be empty */
	bool tls;       /**< https:// */
	/* Set by the caller after http_url_parse, used for https only: */
	const char *cacert; /**< PEM CA certificates the server must chain to (required) */
	const char *cert;   /**< PEM client certificate, or NULL */
	const char *key;    /**< its private key (owner-only file), or NULL */
};

/** A parsed response; body and content_type point into the raw buffer (or,
 * for a chunked body, into `decoded`). */
struct http_reply {
	int status;
	const uint8_t *body;
	size_t body_len;
	char content_type[128];
	struct buf decoded;     /**< de-chunked body; free with http_reply_free */
	const uint8_t *headers; /**< the header lines, for http_reply_header */
	size_t headers_len;
};

/** Parses an http:// or https:// URL (default ports 80, 443). Returns 0,
 * -EPROTONOSUPPORT (another scheme) or -EINVAL. */
int http_url_parse(const char *url, struct http_url *out);

/** Parses a complete response (everything read until the server closed):
 * status line, headers, body by Content-Length, chunked transfer coding or
 * to the end. Returns 0 or -EBADMSG. */
int http_response_parse(const uint8_t *raw, size_t len, struct http_reply *out);

/** POSTs body to url's base + path and reads the response into *raw (which
 * owns the bytes *reply points into). Returns 0, -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH (name not resolved), -E2BIG, -EBADMSG, -EIO, or for https
 * -ENOKEY (no --cacert, or an unreadable certificate or key), -EPERM (the
 * key file is readable by others), -EACCES (the server's certificate
 * does not verify or name the host) or -EPROTO (handshake failed). */
int http_post(const struct http_url *url, const char *path, const char *content_type,
              const uint8_t *body, size_t len, struct buf *raw, struct http_reply *reply);

/** Copies the first header named `name` (case-insensitive) into out
 * (capacity cap, NUL-terminated). Returns 0, -ENOENT or -ENOSPC. */
int http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t cap);

/** Whether a private key file may be used: it must exist and be readable
 * by its owner only (no group/other bits), as everywhere in kensho.
 * Returns 0, -EPERM or -ENOENT. */
int http_key_file_check(const char *path);

/** Frees what a parsed reply owns. */
void http_reply_free(struct http_reply *reply);
