/* HTTP/1.1 request parsing on llhttp: the parser callbacks that assemble one
 * exchange's request (target, fields, de-chunked body) while enforcing the
 * size limits. The connection (conn.c) feeds bytes and dispatches. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server_impl.h"

static struct conn *parser_conn(llhttp_t *p)
{
	return p->data;
}

/* The request is refused (a limit, a missing Host...): remember the status,
 * code and detail for conn.c's error response and stop the parser. llhttp
 * replaces the reason of a refusal from on_headers_complete with its own
 * "User callback error", so the words are kept here instead. */
__attribute__((format(printf, 4, 5))) static int
parse_reject(llhttp_t *p, int status, const char *code, const char *detail, ...)
{
	struct conn *c = parser_conn(p);
	c->error_status = status;
	c->error_code = code;
	va_list ap;
	va_start(ap, detail);
	vsnprintf(c->error_detail, sizeof(c->error_detail), detail, ap);
	va_end(ap);
	return HPE_USER;
}

#define OUT_OF_MEMORY(p)                                                                           \
	parse_reject(p, 503, HTTP_ERROR_UNAVAILABLE,                                               \
	             "the server is short of memory for this request; retry")

static int on_message_begin(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	if (c->parsing)
		return 0;
	c->parsing = exchange_new(c);
	if (!c->parsing)
		return OUT_OF_MEMORY(p);
	c->parsing->start_ns = uv_hrtime();
	c->requests_begun++;
	return 0;
}

/* Counts request-line and field bytes against limits.header_bytes. */
static int count_head(llhttp_t *p, struct exchange *ex, size_t len)
{
	ex->head_bytes += len;
	if (ex->head_bytes > parser_conn(p)->server->limits.header_bytes)
		return parse_reject(p, 431, HTTP_ERROR_HEADER_TOO_LARGE,
		                    "the request line and header fields exceed the %zu bytes "
		                    "this server accepts",
		                    parser_conn(p)->server->limits.header_bytes);
	return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
	struct exchange *ex = parser_conn(p)->parsing;
	return count_head(p, ex, len + 1);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct exchange *ex = c->parsing;
	if (count_head(p, ex, len))
		return HPE_USER;
	ex->url_len += len;
	if (ex->url_len > c->server->limits.uri_bytes)
		return parse_reject(p, 414, HTTP_ERROR_URI_TOO_LONG,
		                    "the request-target is longer than the %zu bytes this server "
		                    "accepts",
		                    c->server->limits.uri_bytes);
	if (buf_append(&ex->head, at, len))
		return OUT_OF_MEMORY(p);
	return 0;
}

static int on_url_complete(llhttp_t *p)
{
	struct exchange *ex = parser_conn(p)->parsing;
	if (buf_append(&ex->head, "", 1))
		return OUT_OF_MEMORY(p);
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct exchange *ex = parser_conn(p)->parsing;
	if (ex->headers_done)
		return 0; /* trailer fields (RFC 9112 7.1.2): not merged, ignored */
	/* Per-field overhead (": " and CRLF) counts as well. */
	if (count_head(p, ex, len + (ex->in_value || ex->span_count == 0 ? 4 : 0)))
		return HPE_USER;
	if (ex->in_value || ex->span_count == 0 ||
	    ex->spans[ex->span_count - 1].value_off != SIZE_MAX) {
		if (ex->span_count == ex->span_cap) {
			size_t cap = ex->span_cap ? ex->span_cap * 2 : 16;
			struct header_span *bigger = realloc(ex->spans, cap * sizeof(*bigger));
			if (!bigger)
				return OUT_OF_MEMORY(p);
			ex->spans = bigger;
			ex->span_cap = cap;
		}
		ex->spans[ex->span_count++] = (struct header_span){ex->head.len, 0, SIZE_MAX, 0};
		ex->in_value = false;
	}
	ex->spans[ex->span_count - 1].name_len += len;
	if (buf_append(&ex->head, at, len))
		return OUT_OF_MEMORY(p);
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct exchange *ex = parser_conn(p)->parsing;
	if (ex->headers_done)
		return 0;
	if (buf_append(&ex->head, "", 1))
		return OUT_OF_MEMORY(p);
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct exchange *ex = parser_conn(p)->parsing;
	if (ex->headers_done)
		return 0;
	if (count_head(p, ex, len))
		return HPE_USER;
	struct header_span *sp = &ex->spans[ex->span_count - 1];
	if (sp->value_off == SIZE_MAX)
		sp->value_off = ex->head.len;
	sp->value_len += len;
	ex->in_value = true;
	if (buf_append(&ex->head, at, len))
		return OUT_OF_MEMORY(p);
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct exchange *ex = parser_conn(p)->parsing;
	if (ex->headers_done)
		return 0;
	struct header_span *sp = &ex->spans[ex->span_count - 1];
	if (sp->value_off == SIZE_MAX)
		sp->value_off = ex->head.len; /* empty value */
	ex->in_value = true;
	if (buf_append(&ex->head, "", 1))
		return OUT_OF_MEMORY(p);
	return 0;
}

static bool token_equal(const char *a, size_t a_len, const char *b)
{
	return a_len == strlen(b) && strncasecmp(a, b, a_len) == 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	struct exchange *ex = c->parsing;
	ex->headers_done = true;
	if (http_request_finish_head(ex, p))
		return OUT_OF_MEMORY(p);
	if (p->http_major != 1)
		return parse_reject(p, 505, HTTP_ERROR_VERSION_NOT_SUPPORTED,
		                    "HTTP/%d.%d is not served here; send HTTP/1.1 (or HTTP/1.0)",
		                    p->http_major, p->http_minor);
	/* RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request
	 * without exactly one Host field. */
	size_t host_count = 0;
	for (size_t i = 0; i < ex->req.header_count; i++) {
		if (token_equal(ex->req.headers[i].name, ex->req.headers[i].name_len, "host"))
			host_count++;
	}
	if (ex->req.http_minor >= 1 && host_count == 0)
		return parse_reject(p, 400, HTTP_ERROR_MISSING_HOST,
		                    "an HTTP/1.1 request needs a Host header field (RFC 9112 3.2)");
	if (ex->req.http_minor >= 1 && host_count > 1)
		return parse_reject(p, 400, HTTP_ERROR_DUPLICATE_HOST,
		                    "an HTTP/1.1 request needs exactly one Host header field; this "
		                    "one has %zu",
		                    host_count);
	/* RFC 9110 8.6 and 15.5.14: refuse a declared length beyond the bound
	 * before reading it (and instead of 100 Continue). */
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->server->limits.body_bytes)
		return parse_reject(p, 413, HTTP_ERROR_PAYLOAD_TOO_LARGE,
		                    "Content-Length %llu exceeds the %zu bytes this server accepts",
		                    (unsigned long long)p->content_length,
		                    c->server->limits.body_bytes);
	/* The transport may take the caller's identity from the head (a load
	 * balancer's forwarded certificate); the request sees the result. */
	if (c->transport->ops->request_head) {
		char why[160] = "";
		if (c->transport->ops->request_head(c->transport, &ex->req, why, sizeof why) < 0)
			return parse_reject(p, 403, HTTP_ERROR_FORBIDDEN, "%s", why);
		ex->peer = c->peer;
	}
	size_t expect_len;
	const char *expect = exchange_header(ex, "expect", &expect_len);
	if (expect) {
		/* RFC 9110 10.1.1: 100-continue is the only expectation defined;
		 * anything else gets 417. */
		if (!token_equal(expect, expect_len, "100-continue"))
			return parse_reject(p, 417, HTTP_ERROR_EXPECTATION_FAILED,
			                    "Expect: %.*s is not supported; only 100-continue is",
			                    (int)(expect_len > 40 ? 40 : expect_len), expect);
		if (ex->req.http_minor >= 1)
			ex->expect_continue = true;
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct exchange *ex = c->parsing;
	if (ex->body.len + len > c->server->limits.body_bytes)
		return parse_reject(p, 413, HTTP_ERROR_PAYLOAD_TOO_LARGE,
		                    "the body exceeds the %zu bytes this server accepts",
		                    c->server->limits.body_bytes);
	if (buf_append(&ex->body, at, len))
		return OUT_OF_MEMORY(p);
	return 0;
}

/* Pauses the parser after each request so conn.c dispatches it outside
 * llhttp's callbacks (a handler may answer, or close, synchronously). */
static int on_message_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	struct exchange *ex = c->parsing;
	ex->close_after = !llhttp_should_keep_alive(p);
	if (ex->body.len) {
		ex->req.body = ex->body.data;
		ex->req.body_len = ex->body.len;
	}
	c->completed = ex;
	c->parsing = NULL;
	return HPE_PAUSED;
}

const llhttp_settings_t http_parser_settings = {
        .on_message_begin = on_message_begin,
        .on_method = on_method,
        .on_url = on_url,
        .on_url_complete = on_url_complete,
        .on_header_field = on_header_field,
        .on_header_field_complete = on_header_field_complete,
        .on_header_value = on_header_value,
        .on_header_value_complete = on_header_value_complete,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

static enum http_method method_from_llhttp(uint8_t m)
{
	switch (m) {
	case HTTP_GET: return HTTP_METHOD_GET;
	case HTTP_HEAD: return HTTP_METHOD_HEAD;
	case HTTP_POST: return HTTP_METHOD_POST;
	case HTTP_PUT: return HTTP_METHOD_PUT;
	case HTTP_DELETE: return HTTP_METHOD_DELETE;
	case HTTP_OPTIONS: return HTTP_METHOD_OPTIONS;
	default: return HTTP_METHOD_OTHER;
	}
}

int http_request_finish_head(struct exchange *ex, llhttp_t *parser)
{
	struct http_request *r = &ex->req;
	uint8_t m = llhttp_get_method(parser);
	r->method = method_from_llhttp(m);
	r->method_name = llhttp_method_name((llhttp_method_t)m);
	r->http_minor = llhttp_get_http_minor(parser);
	if (ex->url_len == 0 || ex->head.len == 0)
		return -EINVAL;
	/* path and query as separate NUL-terminated copies after the fields,
	 * so the buffer no longer moves once pointers are taken. */
	size_t url_len = ex->url_len;
	/* Reserve first: appending from the buffer to itself must not move it. */
	if (buf_reserve(&ex->head, url_len + 2))
		return -ENOMEM;
	size_t path_off = ex->head.len;
	const char *url = (const char *)ex->head.data;
	const char *q = memchr(url, '?', url_len);
	size_t path_len = q ? (size_t)(q - url) : url_len;
	buf_append(&ex->head, url, path_len);
	buf_append(&ex->head, "", 1);
	size_t query_off = ex->head.len;
	if (q)
		buf_append(&ex->head, q + 1, url_len - path_len - 1);
	buf_append(&ex->head, "", 1);
	if (ex->span_count > ex->headers_cap || !ex->headers) {
		size_t cap = ex->span_count ? ex->span_count : 1;
		struct http_header *headers = realloc(ex->headers, cap * sizeof(*headers));
		if (!headers)
			return -ENOMEM;
		ex->headers = headers;
		ex->headers_cap = cap;
	}
	if (ex->head.failed)
		return -ENOMEM;
	const char *base = (const char *)ex->head.data;
	r->target = base;
	r->target_len = url_len;
	r->path = base + path_off;
	r->path_len = path_len;
	r->query = base + query_off;
	for (size_t i = 0; i < ex->span_count; i++) {
		const struct header_span *sp = &ex->spans[i];
		const char *v = base + (sp->value_off == SIZE_MAX ? sp->name_off : sp->value_off);
		size_t vlen = sp->value_off == SIZE_MAX ? 0 : sp->value_len;
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		ex->headers[i] = (struct http_header){base + sp->name_off, sp->name_len, v, vlen};
		if (sp->name_len)
			ex->header_initials |= 1u << (base[sp->name_off] & 31);
	}
	r->headers = ex->headers;
	r->header_count = ex->span_count;
	return 0;
}

/* The one translation of llhttp's errors into what a client developer reads.
 * llhttp's own reasons ("Invalid header value char", "User callback error")
 * name its internals; these name the part of the request that was wrong. */
void http_parse_error(const struct conn *c, llhttp_errno_t err, int *status, const char **code,
                      char *detail, size_t detail_len)
{
	if (c->error_status) {
		*status = c->error_status;
		*code = c->error_code;
		snprintf(detail, detail_len, "%s", c->error_detail);
		return;
	}
	*status = 400;
	*code = HTTP_ERROR_BAD_REQUEST;
	const char *what;
	switch (err) {
	case HPE_INVALID_METHOD: what = "the method is not one HTTP/1.1 defines"; break;
	case HPE_INVALID_URL:
		what = "the request-target is not valid (an absolute path such as /ocsp, with "
		       "no spaces or control characters)";
		break;
	case HPE_INVALID_VERSION:
		what = "the request line must end with HTTP/1.1 (or HTTP/1.0) and CRLF";
		break;
	case HPE_PAUSED_H2_UPGRADE:
		*status = 505;
		*code = HTTP_ERROR_VERSION_NOT_SUPPORTED;
		what = "an HTTP/2 connection preface; this server speaks HTTP/1.1 only";
		break;
	case HPE_INVALID_CONSTANT:
		what = "the request line is not \"METHOD /path HTTP/1.1\"";
		break;
	case HPE_INVALID_HEADER_TOKEN:
		what = "a header field is malformed (a name with a character not allowed in a "
		       "token, a missing colon, or a control character in a value)";
		break;
	case HPE_INVALID_CONTENT_LENGTH: what = "Content-Length is not one decimal number"; break;
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		what = "the request has both Content-Length and Transfer-Encoding";
		break;
	case HPE_INVALID_TRANSFER_ENCODING: what = "Transfer-Encoding must end with chunked"; break;
	case HPE_INVALID_CHUNK_SIZE:
		what = "a chunk size of the chunked body is not a hexadecimal number";
		break;
	case HPE_STRICT:
	case HPE_CR_EXPECTED:
	case HPE_LF_EXPECTED:
	case HPE_UNEXPECTED_SPACE:
		what = "a line is malformed (every line ends with CRLF; no space before a "
		       "field's colon or at the start of a field line)";
		break;
	case HPE_CLOSED_CONNECTION:
		what = "more data followed a request with Connection: close";
		break;
	default: what = "the request is not valid HTTP/1.1"; break;
	}
	snprintf(detail, detail_len, "%s", what);
}
