/* The handler-facing exchange (exchange.h): request accessors and response
 * serialization. Responses are queued on the connection, which writes them
 * in request order (RFC 9112 9.3.2). */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/json.h"
#include "core/log.h"
#include "core/server_impl.h"

/* Spare exchanges a server keeps, and the largest buffer one keeps: enough
 * for the requests of a busy worker, not a cache of large bodies. */
#define EXCHANGE_SPARES_MAX     32
#define EXCHANGE_SPARE_BUF_MAX  16384
#define EXCHANGE_SPARE_SPAN_MAX 64

struct exchange *exchange_new(struct conn *c)
{
	struct server *s = c->server;
	struct exchange *ex = s->spare_exchanges;
	if (ex) {
		s->spare_exchanges = ex->next;
		s->spare_exchange_count--;
		ex->next = NULL;
	} else {
		ex = calloc(1, sizeof(*ex));
	}
	if (!ex)
		return NULL;
	ex->conn = c;
	ex->loop = c->server->loop;
	ex->request_id[0] = '\0';
	ex->peer = c->peer;
	ex->req.peer = &ex->peer;
	ex->req.path = ex->req.target = ex->req.query = "";
	ex->req.method_name = "";
	return ex;
}

void exchange_free(struct exchange *ex)
{
	if (!ex)
		return;
	buf_free(&ex->head);
	buf_free(&ex->body);
	buf_free(&ex->extra_headers);
	buf_free(&ex->out);
	if (ex->body_release)
		ex->body_release(ex->body_release_arg);
	free(ex->spans);
	free(ex->headers);
	free(ex);
}

/* An emptied buffer to keep, or none when it grew past what is kept. */
static struct buf buf_kept(struct buf *b)
{
	if (b->cap > EXCHANGE_SPARE_BUF_MAX || b->failed)
		buf_free(b);
	b->len = 0;
	return *b;
}

void exchange_recycle(struct exchange *ex)
{
	struct server *s = ex && ex->conn ? ex->conn->server : NULL;
	if (!s || s->spare_exchange_count >= EXCHANGE_SPARES_MAX) {
		exchange_free(ex);
		return;
	}
	if (ex->body_release)
		ex->body_release(ex->body_release_arg);
	struct buf head = buf_kept(&ex->head), body = buf_kept(&ex->body);
	struct buf extra = buf_kept(&ex->extra_headers), out = buf_kept(&ex->out);
	struct header_span *spans = ex->spans;
	size_t span_cap = ex->span_cap;
	struct http_header *headers = ex->headers;
	size_t headers_cap = ex->headers_cap;
	if (span_cap > EXCHANGE_SPARE_SPAN_MAX || headers_cap > EXCHANGE_SPARE_SPAN_MAX) {
		free(spans);
		free(headers);
		spans = NULL;
		headers = NULL;
		span_cap = headers_cap = 0;
	}
	/* Nothing of the last request survives but memory: every field is
	 * zero again, as calloc left it, except the kept allocations, and the
	 * request id and peer, which exchange_new sets. */
	memset(ex, 0, offsetof(struct exchange, request_id));
	ex->head = head;
	ex->body = body;
	ex->extra_headers = extra;
	ex->out = out;
	ex->spans = spans;
	ex->span_cap = span_cap;
	ex->headers = headers;
	ex->headers_cap = headers_cap;
	ex->next = s->spare_exchanges;
	s->spare_exchanges = ex;
	s->spare_exchange_count++;
}

void exchange_spares_free(struct server *s)
{
	while (s->spare_exchanges) {
		struct exchange *ex = s->spare_exchanges;
		s->spare_exchanges = ex->next;
		exchange_free(ex);
	}
	s->spare_exchange_count = 0;
}

const struct http_request *exchange_request(const struct exchange *ex)
{
	return &ex->req;
}

uv_loop_t *exchange_loop(const struct exchange *ex)
{
	return ex->loop;
}

bool exchange_is_cancelled(const struct exchange *ex)
{
	return ex->conn == NULL;
}

const char *exchange_header(const struct exchange *ex, const char *name, size_t *len)
{
	/* Most lookups are for fields a request does not have: a field name
	 * whose first letter (either case: c & 31) no field starts with is
	 * answered without a search. */
	if (!(ex->header_initials & 1u << (name[0] & 31)))
		return NULL;
	size_t name_len = strlen(name);
	for (size_t i = 0; i < ex->req.header_count; i++) {
		const struct http_header *h = &ex->req.headers[i];
		if (h->name_len == name_len && strncasecmp(h->name, name, name_len) == 0) {
			if (len)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

const char *exchange_request_id(const struct exchange *ex)
{
	return ex->request_id;
}

/* A client's (or a load balancer's) id is kept when it is 1..REQUEST_ID_MAX
 * characters that need no escaping in a header or a JSON string, so one id
 * follows a request through every log on its path. */
static bool request_id_acceptable(const char *id, size_t len)
{
	if (len == 0 || len > REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)id[i];
		bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= 'A' && ch <= 'Z');
		if (!alnum && !strchr("-_.:@/+=", ch))
			return false;
	}
	return true;
}

/* New ids are a random 48-bit prefix drawn once per process and a sequence
 * number: unique across workers and restarts without a system call per
 * request. A fork clears the prefix so a child never repeats its parent's. */
static char id_prefix[13];
static uint64_t id_sequence;

static void request_id_forget_prefix(void)
{
	id_prefix[0] = '\0';
}

void exchange_assign_request_id(struct exchange *ex)
{
	size_t len;
	const char *given = exchange_header(ex, "x-request-id", &len);
	if (given && request_id_acceptable(given, len)) {
		memcpy(ex->request_id, given, len);
		ex->request_id[len] = '\0';
		return;
	}
	if (!id_prefix[0]) {
		static bool hooked;
		if (!hooked)
			hooked = pthread_atfork(NULL, NULL, request_id_forget_prefix) == 0;
		uint8_t r[6];
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			uint64_t mix = uv_hrtime() ^ ((uint64_t)getpid() << 32);
			memcpy(r, &mix, sizeof(r));
		}
		snprintf(id_prefix, sizeof(id_prefix), "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
		         r[3], r[4], r[5]);
		id_sequence = 0;
	}
	/* "prefix-sequence" in lowercase hex, without printf (per request) */
	memcpy(ex->request_id, id_prefix, sizeof(id_prefix) - 1);
	ex->request_id[sizeof(id_prefix) - 1] = '-';
	hex_encode_uint(++id_sequence, ex->request_id + sizeof(id_prefix));
}

/* Header names and values must not smuggle CR/LF into the response. */
static bool header_text_ok(const char *s, size_t len)
{
	return strcspn(s, "\r\n") == len;
}

/* Appends "name: value\r\n" (both already checked). */
static void append_header(struct buf *b, const char *name, size_t name_len, const char *value,
                          size_t value_len)
{
	if (!b->failed && name_len + value_len + 4 <= b->cap - b->len) {
		/* in place when it fits: a cached answer appends six */
		uint8_t *p = b->data + b->len;
		memcpy(p, name, name_len);
		p += name_len;
		memcpy(p, ": ", 2);
		memcpy(p + 2, value, value_len);
		memcpy(p + 2 + value_len, "\r\n", 2);
		b->len += name_len + value_len + 4;
		return;
	}
	buf_append(b, name, name_len);
	buf_append(b, ": ", 2);
	buf_append(b, value, value_len);
	buf_append(b, "\r\n", 2);
}

void exchange_add_header(struct exchange *ex, const char *name, const char *value)
{
	if (ex->responded)
		return;
	size_t name_len = strlen(name), value_len = strlen(value);
	if (!header_text_ok(name, name_len) || !header_text_ok(value, value_len)) {
		log_warn("dropping response header %s: CR or LF in it", name);
		return;
	}
	append_header(&ex->extra_headers, name, name_len, value, value_len);
}

void exchange_add_composed_header(struct exchange *ex, const char *name, size_t name_len,
                                  const char *value, size_t value_len)
{
	if (!ex->responded)
		append_header(&ex->extra_headers, name, name_len, value, value_len);
}

void exchange_close_after(struct exchange *ex)
{
	ex->close_after = true;
}

/* The status line of a known status, whole (one append per response);
 * NULL for any other. */
#define STATUS_LINE(code, reason)                                                                  \
	case code: return "HTTP/1.1 " #code " " reason "\r\n"
static const char *status_line(int status)
{
	switch (status) {
		STATUS_LINE(100, "Continue");
		STATUS_LINE(200, "OK");
		STATUS_LINE(201, "Created");
		STATUS_LINE(202, "Accepted");
		STATUS_LINE(204, "No Content");
		STATUS_LINE(206, "Partial Content");
		STATUS_LINE(301, "Moved Permanently");
		STATUS_LINE(302, "Found");
		STATUS_LINE(304, "Not Modified");
		STATUS_LINE(400, "Bad Request");
		STATUS_LINE(401, "Unauthorized");
		STATUS_LINE(403, "Forbidden");
		STATUS_LINE(404, "Not Found");
		STATUS_LINE(405, "Method Not Allowed");
		STATUS_LINE(406, "Not Acceptable");
		STATUS_LINE(408, "Request Timeout");
		STATUS_LINE(409, "Conflict");
		STATUS_LINE(411, "Length Required");
		STATUS_LINE(412, "Precondition Failed");
		STATUS_LINE(413, "Content Too Large");
		STATUS_LINE(414, "URI Too Long");
		STATUS_LINE(415, "Unsupported Media Type");
		STATUS_LINE(417, "Expectation Failed");
		STATUS_LINE(422, "Unprocessable Content");
		STATUS_LINE(429, "Too Many Requests");
		STATUS_LINE(431, "Request Header Fields Too Large");
		STATUS_LINE(500, "Internal Server Error");
		STATUS_LINE(501, "Not Implemented");
		STATUS_LINE(502, "Bad Gateway");
		STATUS_LINE(503, "Service Unavailable");
		STATUS_LINE(504, "Gateway Timeout");
		STATUS_LINE(505, "HTTP Version Not Supported");
	default: return NULL;
	}
}

/* RFC 9110 6.4.1: 1xx, 204 and 304 responses carry no content. */
static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* Writes the status line and headers into ex->out, and the body too when
 * `copy_body`; otherwise the caller sets ex->body_out. Appended piece by
 * piece rather than with printf, whose format parsing was a visible share of
 * serving a cached OCSP answer. */
static void exchange_serialize(struct exchange *ex, struct conn *c, int status,
                               const char *content_type, const void *body, size_t body_len,
                               bool copy_body)
{
	struct buf *o = &ex->out;
	bool head = ex->req.method == HTTP_METHOD_HEAD;
	/* When the connection is ending (drain, HTTP/1.0, half-close), only its
	 * last answer says so: earlier pipelined requests are still answered. */
	bool last = ex->next == NULL && c->parsing == NULL;
	bool close = ex->close_after || (last && (c->no_more || c->server->draining));
	if (close)
		ex->close_after = true;
	bool send_body = !head && status_has_body(status) && body_len && copy_body;
	buf_reserve(o, 200 + ex->extra_headers.len + (send_body ? body_len : 0));
	char number[24];
	const char *line = status_line(status);
	if (line) {
		buf_append_str(o, line);
	} else {
		buf_append_str(o, "HTTP/1.1 ");
		buf_append(o, number, decimal_encode(status >= 0 ? (uint64_t)status : 0, number));
		buf_append_str(o, " Unknown\r\n");
	}
	buf_append_str(o, "Date: ");
	buf_append_str(o, server_date(c->server));
	buf_append_str(o, "\r\nServer: kensho\r\n");
	if (ex->request_id[0]) {
		buf_append_str(o, "X-Request-Id: ");
		buf_append_str(o, ex->request_id);
		buf_append_str(o, "\r\n");
	}
	if (content_type && status_has_body(status))
		append_header(o, "Content-Type", 12, content_type, strlen(content_type));
	if (status_has_body(status))
		append_header(o, "Content-Length", 14, number, decimal_encode(body_len, number));
	if (close)
		buf_append_str(o, "Connection: close\r\n");
	else if (ex->req.http_minor == 0)
		buf_append_str(o, "Connection: keep-alive\r\n");
	buf_append(o, ex->extra_headers.data, ex->extra_headers.len);
	buf_append_str(o, "\r\n");
	if (send_body)
		buf_append(o, body, body_len);
}

/* The shared tail of every exchange_respond*: `release` (may be NULL) frees
 * a body that is sent without copying; NULL means the body is copied. */
static void exchange_answer(struct exchange *ex, int status, const char *content_type,
                            const void *body, size_t body_len, void (*release)(void *arg),
                            void *arg)
{
	if (ex->responded) {
		log_error("handler %s answered %s twice; second answer dropped",
		          ex->route ? ex->route : "-", ex->req.path);
		if (release)
			release(arg);
		return;
	}
	ex->responded = true;
	if (release) {
		ex->body_release = release;
		ex->body_release_arg = arg;
	}
	struct conn *c = ex->conn;
	if (!c) {
		/* The client went away while the handler worked (exchange.h). */
		exchange_free(ex);
		return;
	}
	ex->status = status;
	exchange_serialize(ex, c, status, content_type, body, body_len, release == NULL);
	if (release && ex->req.method != HTTP_METHOD_HEAD && status_has_body(status)) {
		ex->body_out = body;
		ex->body_out_len = body_len;
	}
	ex->body_bytes_out = status_has_body(status) ? body_len : 0;
	conn_flush(c);
}

void exchange_respond(struct exchange *ex, int status, const char *content_type, const void *body,
                      size_t body_len)
{
	exchange_answer(ex, status, content_type, body, body_len, NULL, NULL);
}

void exchange_respond_owned(struct exchange *ex, int status, const char *content_type, void *body,
                            size_t body_len)
{
	exchange_answer(ex, status, content_type, body, body_len, free, body);
}

void exchange_respond_borrowed(struct exchange *ex, int status, const char *content_type,
                               const void *body, size_t body_len, void (*release)(void *arg),
                               void *arg)
{
	exchange_answer(ex, status, content_type, body, body_len, release, arg);
}

void exchange_respond_error(struct exchange *ex, int status, const char *error, const char *detail)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_string(&j, "error", error);
	json_string(&j, "detail", detail ? detail : "");
	json_object_end(&j);
	buf_append_str(&b, "\n");
	exchange_respond(ex, status, "application/json", b.data, b.len);
	buf_free(&b);
}
