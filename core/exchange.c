/* The handler-facing exchange (exchange.h): request accessors and response
 * serialization. Responses are queued on the connection, which writes them
 * in request order (RFC 9112 9.3.2). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/log.h"
#include "core/server_impl.h"

struct exchange *exchange_new(struct conn *c)
{
	struct exchange *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->conn = c;
	ex->loop = c->server->loop;
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
	free(ex->spans);
	free(ex->headers);
	free(ex);
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

/* Header names and values must not smuggle CR/LF into the response. */
static bool header_text_ok(const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			return false;
	}
	return true;
}

void exchange_add_header(struct exchange *ex, const char *name, const char *value)
{
	if (ex->responded)
		return;
	if (!header_text_ok(name) || !header_text_ok(value)) {
		log_warn("dropping response header %s: CR or LF in it", name);
		return;
	}
	buf_printf(&ex->extra_headers, "%s: %s\r\n", name, value);
}

void exchange_close_after(struct exchange *ex)
{
	ex->close_after = true;
}

const char *http_reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* RFC 9110 6.4.1: 1xx, 204 and 304 responses carry no content. */
static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

static void exchange_serialize(struct exchange *ex, struct conn *c, int status,
                               const char *content_type, const void *body, size_t body_len)
{
	struct buf *o = &ex->out;
	bool head = ex->req.method == HTTP_METHOD_HEAD;
	bool close = ex->close_after || c->no_more || c->server->draining;
	if (close)
		ex->close_after = true;
	buf_reserve(o, 160 + ex->extra_headers.len + (head ? 0 : body_len));
	buf_printf(o, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: kensho\r\n", status,
	           http_reason_phrase(status), server_date(c->server));
	if (content_type && status_has_body(status))
		buf_printf(o, "Content-Type: %s\r\n", content_type);
	if (status_has_body(status))
		buf_printf(o, "Content-Length: %zu\r\n", body_len);
	if (close)
		buf_append_str(o, "Connection: close\r\n");
	else if (ex->req.http_minor == 0)
		buf_append_str(o, "Connection: keep-alive\r\n");
	buf_append(o, ex->extra_headers.data, ex->extra_headers.len);
	buf_append_str(o, "\r\n");
	if (!head && status_has_body(status) && body_len)
		buf_append(o, body, body_len);
	ex->body_bytes_out = status_has_body(status) ? body_len : 0;
}

void exchange_respond(struct exchange *ex, int status, const char *content_type, const void *body,
                      size_t body_len)
{
	if (ex->responded) {
		log_error("handler %s answered %s twice; second answer dropped",
		          ex->route ? ex->route : "-", ex->req.path);
		return;
	}
	ex->responded = true;
	struct conn *c = ex->conn;
	if (!c) {
		/* The client went away while the handler worked (exchange.h). */
		exchange_free(ex);
		return;
	}
	ex->status = status;
	exchange_serialize(ex, c, status, content_type, body, body_len);
	conn_flush(c);
}

void exchange_respond_owned(struct exchange *ex, int status, const char *content_type, void *body,
                            size_t body_len)
{
	exchange_respond(ex, status, content_type, body, body_len);
	free(body);
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
