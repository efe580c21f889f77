/* kensho's one blocking HTTP/1.1 client, for the command-line programs that
 * talk to kenshod: `kensho --server` (the admin API over mutual TLS) and
 * kensho-card (OCSP and intake over http:// or https://).
 *
 * One request per connection ("Connection: close"). Over https:// it speaks
 * TLS 1.2 on mbedTLS 2.28 as kenshod does (docs/tls.md): the server must
 * chain to a CA file and carry the URL's host name (mbedTLS 2.28 matches DNS
 * names only, so use localhost rather than 127.0.0.1 with the demo
 * certificate); a client certificate is optional. Every step is bounded in
 * time, and the response in size. The calls block: nothing here may run on a
 * libuv loop thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Largest response accepted (status line, headers and body). */
#define HTTP_CLIENT_MAX_RESPONSE (1u << 20)
/** Milliseconds allowed for connecting and for each send and receive, when
 * the options give none. */
#define HTTP_CLIENT_TIMEOUT_MS_DEFAULT 15000

/** Where a URL points: http[s]://host[:port][/base]. */
struct http_url {
	char host[256];
	char port[8];
	char base[512]; /**< path prefix without a trailing '/', may be empty */
	bool tls;       /**< https:// */
};

/** How to reach the server. Strings are used by http_client_new only. */
struct http_client_options {
	struct http_url url;    /**< from http_url_parse */
	const char *cacert;     /**< https: PEM CA(s) the server must chain to (required) */
	const char *cert;       /**< https: PEM client certificate, or NULL */
	const char *key;        /**< its private key, owner-only (with cert, or NULL) */
	int timeout_ms;         /**< per step; 0: HTTP_CLIENT_TIMEOUT_MS_DEFAULT */
	const char *user_agent; /**< User-Agent sent, or NULL for none */
};

/** A parsed response. body points into raw or, for a chunked body, into
 * decoded; free with http_reply_free. */
struct http_reply {
	int status;
	const uint8_t *body;
	size_t body_len;
	char content_type[128];
	const uint8_t *headers; /**< the header lines, for http_reply_header */
	size_t headers_len;
	struct buf raw;     /**< the bytes read by http_client_post */
	struct buf decoded; /**< de-chunked body */
};

struct http_client;

/** Parses an http:// or https:// URL (default ports 80, 443). Returns 0,
 * -EPROTONOSUPPORT (another scheme) or -EINVAL. */
int http_url_parse(const char *text, struct http_url *out);

/** Loads what the connection needs before any byte is sent, so a bad file
 * fails before the caller does anything costly (or spends a PIN try). The
 * key file must be readable by its owner only; a symbolic link is judged by
 * the file it points to (docs/architecture.md rule 5). Returns 0, -EPERM
 * (the key is readable by group or others), -ENOKEY (a file cannot be read
 * or parsed, --cacert is missing for https, or the key is not the
 * certificate's), -EINVAL (a certificate without a key or the other way
 * round, or TLS files for an http:// URL) or -ENOMEM; on failure `why` (may
 * be NULL) names the file and the reason, for people. */
int http_client_new(const struct http_client_options *options, struct http_client **out, char *why,
                    size_t why_len);

/** POSTs body to the URL's base + path and reads the whole response into
 * *reply (free it with http_reply_free, also after a failure). Returns 0, or
 * -EHOSTUNREACH (the name does not resolve), -ECONNREFUSED, -ETIMEDOUT,
 * -EACCES (the server's certificate does not verify or does not name the
 * host), -EPROTO (the TLS handshake failed otherwise, e.g. the server refused
 * our certificate), -E2BIG (response over HTTP_CLIENT_MAX_RESPONSE),
 * -EBADMSG (not an HTTP response), -ENOMEM, -ECONNRESET (reset before any
 * answer) or another negative errno from the socket. */
int http_client_post(struct http_client *client, const char *path, const char *content_type,
                     const uint8_t *body, size_t len, struct http_reply *reply);

/** GETs the URL's base + path like http_client_post, accepting a response
 * of up to max_response bytes (0: HTTP_CLIENT_MAX_RESPONSE). */
int http_client_get(struct http_client *client, const char *path, size_t max_response,
                    struct http_reply *reply);

/** Frees a client (NULL is fine). */
void http_client_free(struct http_client *client);

/** Why http_client_post failed, in words for the person at the terminal
 * (the options are named as both programs spell them: --cacert, --cert,
 * --key). */
const char *http_client_strerror(int err);

/** Parses a complete response: status line, headers, then the body by
 * Content-Length, by chunked transfer coding, or to the end of the bytes.
 * body points into raw (or reply->decoded). Returns 0 or -EBADMSG. */
int http_response_parse(const uint8_t *raw, size_t len, struct http_reply *out);

/** Copies the first header named `name` (case-insensitive) into out
 * (capacity cap, NUL-terminated). Returns 0, -ENOENT or -ENOSPC. */
int http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t cap);

/** Frees what a reply owns. */
void http_reply_free(struct http_reply *reply);
