/* One client connection: socket I/O through a transport, parsing, dispatch in
 * request order, timeouts, and an orderly close.
 *
 * Life cycle: OPEN (reading, parsing, answering) → LINGER (our side shut
 * down after a final response; reading and discarding so the client sees the
 * response rather than a reset, RFC 9112 9.6) → CLOSED (libuv handles
 * closing; memory released in the last close callback). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/server_impl.h"

#define CONN_READ_SIZE 65536

/* One write libuv could not finish at once: either a copy of the bytes, or
 * the exchange whose head and body are being written (freed when done). */
struct write_req {
	uv_write_t req;
	struct conn *conn;
	size_t len;
	struct exchange *exchange;
	uint8_t data[];
};

static void conn_parse(struct conn *c, const uint8_t *data, size_t len);
static void conn_begin_linger(struct conn *c);
static void conn_update_timer(struct conn *c);
static void conn_maybe_resume(struct conn *c);
static void conn_after_eof(struct conn *c);

struct conn *conn_alloc(struct server *s)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->server = s;
	c->io.handle.data = c;
	server_connection_opened(s, c);
	return c;
}

void conn_discard(struct conn *c)
{
	server_connection_closed(c->server, c);
	free(c);
}

/* --- closing -------------------------------------------------------------- */

/* Empties the connection's queue of exchanges. Handlers still working keep
 * their exchange (exchange.h): it is detached, so its late answer is
 * discarded. Answered-but-unsent ones are freed now. */
static void drop_queue(struct conn *c)
{
	struct exchange *ex = c->queue_head;
	while (ex) {
		struct exchange *next = ex->next;
		if (ex->responded) {
			exchange_free(ex);
		} else {
			ex->conn = NULL;
			ex->next = NULL;
		}
		ex = next;
	}
	c->queue_head = c->queue_tail = NULL;
	c->in_flight = 0;
}

static void conn_handle_closed_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	if (c->transport)
		c->transport->ops->destroy(c->transport);
	buf_free(&c->stash);
	server_connection_closed(c->server, c);
	free(c);
}

void conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	drop_queue(c);
	exchange_free(c->parsing);
	c->parsing = NULL;
	exchange_free(c->completed);
	c->completed = NULL;
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed_cb);
	uv_close(&c->io.handle, conn_handle_closed_cb);
}

void conn_drain(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	/* A request being read may finish: its dispatch sees the server
	 * draining and answers with Connection: close. */
	if (c->parsing)
		return;
	c->no_more = true;
	if (!c->queue_head) {
		if (c->write_pending)
			c->close_after_flush = true;
		else
			conn_close(c);
	}
}

/* --- writing -------------------------------------------------------------- */

static void conn_write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->conn;
	c->write_pending -= w->len;
	exchange_free(w->exchange);
	free(w);
	if (c->state == CONN_CLOSED)
		return;
	if (status < 0) {
		log_debug("write to %s failed: %s", c->peer.address, uv_strerror(status));
		conn_close(c);
		return;
	}
	if (c->state == CONN_OPEN)
		conn_flush(c);
}

/* Offers bufs to the socket without waiting; returns how many bytes the
 * kernel took (0 when it would block or earlier writes are still queued, so
 * bytes never overtake each other), or a negative errno. uv_write would
 * also try at once, but needs a request and a callback per write. */
static ssize_t conn_try_write(struct conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
	if (c->write_pending)
		return 0;
	int n = uv_try_write(&c->io.stream, bufs, nbufs);
	if (n == UV_EAGAIN || n == UV_ENOSYS)
		return 0;
	return n;
}

/* transport_io.send: writes what the socket takes now and queues a copy of
 * the rest. */
static int conn_send(void *conn, const uint8_t *data, size_t len)
{
	struct conn *c = conn;
	if (c->state == CONN_CLOSED)
		return -ECANCELED;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	ssize_t sent = conn_try_write(c, &b, 1);
	if (sent < 0)
		return (int)sent;
	metric_add(c->server->m_bytes_out, (double)len);
	data += sent;
	len -= (size_t)sent;
	if (len == 0)
		return 0;
	struct write_req *w = malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	w->conn = c;
	w->len = len;
	w->exchange = NULL;
	memcpy(w->data, data, len);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	int rc = uv_write(&w->req, &c->io.stream, &b, 1, conn_write_cb);
	if (rc < 0) {
		free(w);
		return rc;
	}
	c->write_pending += len;
	return 0;
}

/* A plain connection sends a response's head and body straight from the
 * exchange in one writev: the body is never copied, however large. If the
 * socket does not take it all, the exchange lives on in the write request
 * until the rest is written. Always consumes ex. */
static int conn_send_exchange(struct conn *c, struct exchange *ex)
{
	uv_buf_t bufs[2] = {
	        uv_buf_init((char *)ex->out.data, (unsigned)ex->out.len),
	        uv_buf_init((char *)ex->body_out, (unsigned)ex->body_out_len),
	};
	uv_buf_t *rest = bufs;
	unsigned nbufs = ex->body_out_len ? 2 : 1;
	size_t total = ex->out.len + ex->body_out_len;
	metric_add(c->server->m_bytes_out, (double)total);
	ssize_t sent = conn_try_write(c, bufs, nbufs);
	if (sent < 0 || (size_t)sent == total) {
		if (sent < 0)
			exchange_free(ex);
		else
			exchange_recycle(ex);
		return sent < 0 ? (int)sent : 0;
	}
	size_t skip = (size_t)sent;
	while (skip >= rest->len) {
		skip -= rest->len;
		rest++;
		nbufs--;
	}
	rest->base += skip;
	rest->len -= skip;
	struct write_req *w = malloc(sizeof(*w));
	if (!w) {
		exchange_free(ex);
		return -ENOMEM;
	}
	w->conn = c;
	w->len = total - (size_t)sent;
	w->exchange = ex;
	int rc = uv_write(&w->req, &c->io.stream, rest, nbufs, conn_write_cb);
	if (rc < 0) {
		free(w);
		exchange_free(ex);
		return rc;
	}
	c->write_pending += w->len;
	return 0;
}

static void conn_write(struct conn *c, const uint8_t *data, size_t len)
{
	int rc = c->transport->ops->write(c->transport, data, len);
	if (rc < 0) {
		log_debug("write to %s failed: %s", c->peer.address, strerror(-rc));
		conn_close(c);
	}
}

/* Writes a finished exchange's response and frees the exchange. A TLS
 * transport encrypts (and so copies) anyway; a plain one is bypassed so the
 * body goes out uncopied. */
static void conn_write_exchange(struct conn *c, struct exchange *ex)
{
	if (!c->plain) {
		conn_write(c, ex->out.data, ex->out.len);
		if (ex->body_out_len && c->state == CONN_OPEN)
			conn_write(c, ex->body_out, ex->body_out_len);
		exchange_recycle(ex);
		return;
	}
	int rc = conn_send_exchange(c, ex);
	if (rc < 0) {
		log_debug("write to %s failed: %s", c->peer.address, strerror(-rc));
		conn_close(c);
	}
}

/* RFC 9110 10.1.1: send 100 Continue only when the request is next in line,
 * so the interim response never lands inside an earlier final response. */
static void conn_maybe_send_continue(struct conn *c)
{
	struct exchange *ex = c->parsing;
	if (c->state != CONN_OPEN || !ex || !ex->expect_continue || ex->continue_sent ||
	    c->queue_head || c->paused)
		return;
	ex->continue_sent = true;
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	conn_write(c, (const uint8_t *)cont, sizeof(cont) - 1);
}

void conn_flush(struct conn *c)
{
	while (c->state == CONN_OPEN && c->queue_head && c->queue_head->responded) {
		struct exchange *ex = c->queue_head;
		c->queue_head = ex->next;
		if (!c->queue_head)
			c->queue_tail = NULL;
		c->in_flight--;
		server_record_exchange(c->server, ex);
		bool close = ex->close_after;
		conn_write_exchange(c, ex);
		if (close) {
			c->no_more = true;
			c->close_after_flush = true;
			break;
		}
	}
	if (c->state != CONN_OPEN)
		return;
	if (c->close_after_flush) {
		/* Requests pipelined behind a closing response are dropped. */
		drop_queue(c);
		if (c->write_pending == 0) {
			conn_begin_linger(c);
			return;
		}
	} else if (c->no_more && !c->queue_head && !c->parsing && c->write_pending == 0) {
		/* draining, or the client half-closed: answers are out, close
		 * gracefully so they are not lost to a reset */
		conn_begin_linger(c);
		return;
	}
	conn_maybe_send_continue(c);
	conn_update_timer(c);
	conn_maybe_resume(c);
}

/* --- timers --------------------------------------------------------------- */

static void conn_reject(struct conn *c, int status, const char *code, const char *detail);

static void conn_timer_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	/* Activity moved an idle or write timer's end without restarting it
	 * (conn_set_timer): wait for the rest. */
	uint64_t now = uv_now(c->server->loop);
	if ((c->timer_mode == TIMER_IDLE || c->timer_mode == TIMER_WRITE) &&
	    now < c->timer_deadline) {
		uv_timer_start(&c->timer, conn_timer_cb, c->timer_deadline - now, 0);
		return;
	}
	char detail[96];
	switch (c->timer_mode) {
	case TIMER_REQUEST:
		/* RFC 9110 15.5.9: the request did not arrive in time. */
		snprintf(detail, sizeof(detail),
		         "the request did not arrive within %llu ms of its first byte",
		         (unsigned long long)c->server->limits.request_timeout_ms);
		conn_reject(c, 408, HTTP_ERROR_REQUEST_TIMEOUT, detail);
		break;
	case TIMER_IDLE:
	case TIMER_WRITE:
	case TIMER_LINGER:
	case TIMER_NONE: conn_close(c); break;
	}
}

static void conn_set_timer(struct conn *c, enum conn_timer_mode mode, uint64_t ms)
{
	/* The request timer runs from a request's first byte and the linger
	 * timer from the shutdown: activity does not extend them. */
	if (c->timer_mode == mode && mode == TIMER_LINGER)
		return;
	if (c->timer_mode == mode && mode == TIMER_REQUEST && c->timer_request == c->requests_begun)
		return;
	/* Idle and write timers restart on every request or write; moving
	 * their end is enough, and the timer re-arms itself for the rest when
	 * it fires (conn_timer_cb), instead of a timer-heap update each time. */
	uint64_t deadline = uv_now(c->server->loop) + ms;
	if (c->timer_mode == mode && (mode == TIMER_IDLE || mode == TIMER_WRITE) &&
	    deadline >= c->timer_deadline) {
		c->timer_deadline = deadline;
		return;
	}
	c->timer_request = c->requests_begun;
	c->timer_mode = mode;
	c->timer_deadline = deadline;
	if (mode == TIMER_NONE)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

/* Picks the one timeout that applies now: a request being read must finish
 * within request_timeout (slow senders), pending output must make progress
 * within idle_timeout (slow readers), and an idle keep-alive connection is
 * closed after idle_timeout (RFC 9112 9.5). Handlers working on a request are
 * not timed here. */
static void conn_update_timer(struct conn *c)
{
	const struct server_limits *l = &c->server->limits;
	if (c->state != CONN_OPEN)
		return;
	if (c->parsing && !c->paused)
		conn_set_timer(c, TIMER_REQUEST, l->request_timeout_ms);
	else if (c->write_pending)
		conn_set_timer(c, TIMER_WRITE, l->idle_timeout_ms);
	else if (c->queue_head)
		conn_set_timer(c, TIMER_NONE, 0);
	else
		conn_set_timer(c, TIMER_IDLE, l->idle_timeout_ms);
}

/* --- reading -------------------------------------------------------------- */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	/* One buffer per loop is enough: the transport consumes every read
	 * synchronously and keeps what it still needs. */
	static char buffer[CONN_READ_SIZE];
	*b = uv_buf_init(buffer, sizeof(buffer));
}

static void conn_read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = stream->data;
	if (n == 0 || c->state == CONN_CLOSED)
		return;
	if (n < 0) {
		if (n != UV_EOF || c->state == CONN_LINGER) {
			conn_close(c);
			return;
		}
		/* Half-close (RFC 9112 9.6): answer what was asked, then close. */
		c->peer_eof = true;
		uv_read_stop(stream);
		c->reading = false;
		conn_after_eof(c);
		return;
	}
	if (c->state == CONN_LINGER)
		return; /* discarding */
	metric_add(c->server->m_bytes_in, (double)n);
	int rc = c->transport->ops->on_read(c->transport, (const uint8_t *)b->base, (size_t)n);
	if (rc < 0 && c->state == CONN_OPEN)
		conn_close(c);
}

/* The client sent its last byte. Requests held back by the pipeline bound
 * are still parsed and answered; once none is held, a partial request can
 * never complete, so it is dropped and the connection closes when the
 * answers are out. */
static void conn_after_eof(struct conn *c)
{
	if (c->state != CONN_OPEN || c->paused)
		return;
	exchange_free(c->parsing);
	c->parsing = NULL;
	c->no_more = true;
	conn_flush(c);
}

static void conn_read_start(struct conn *c)
{
	if (c->reading || c->peer_eof || c->state == CONN_CLOSED)
		return;
	if (uv_read_start(&c->io.stream, conn_alloc_cb, conn_read_cb) == 0)
		c->reading = true;
}

static void conn_read_stop(struct conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop(&c->io.stream);
	c->reading = false;
}

/* transport_io.deliver: plaintext for the HTTP layer. */
static int conn_deliver(void *conn, const uint8_t *data, size_t len)
{
	struct conn *c = conn;
	if (c->state != CONN_OPEN || c->no_more)
		return 0;
	if (c->paused || c->stash.len) {
		if (buf_append(&c->stash, data, len))
			return -ENOMEM;
		return 0;
	}
	conn_parse(c, data, len);
	return 0;
}

static bool conn_should_pause(const struct conn *c)
{
	const struct server_limits *l = &c->server->limits;
	return c->in_flight >= l->pipeline_depth || c->write_pending >= l->write_buffer_bytes;
}

/* Resumes parsing held-back input once answers have drained. */
static void conn_maybe_resume(struct conn *c)
{
	if (!c->paused || c->in_parse || c->state != CONN_OPEN || c->no_more ||
	    conn_should_pause(c))
		return;
	c->paused = false;
	struct buf held = c->stash;
	memset(&c->stash, 0, sizeof(c->stash));
	if (held.len)
		conn_parse(c, held.data, held.len);
	buf_free(&held);
	if (c->state != CONN_OPEN)
		return;
	if (c->peer_eof)
		conn_after_eof(c);
	else if (!c->paused && !c->no_more)
		conn_read_start(c);
	conn_update_timer(c);
}

/* Queues an internal error response after the requests already in flight
 * and stops reading requests: the connection closes once it is sent. */
static void conn_reject(struct conn *c, int status, const char *code, const char *detail)
{
	if (c->state != CONN_OPEN)
		return;
	exchange_free(c->parsing);
	c->parsing = NULL;
	c->no_more = true;
	conn_read_stop(c);
	struct exchange *ex = exchange_new(c);
	if (!ex) {
		conn_close(c);
		return;
	}
	ex->start_ns = uv_hrtime();
	ex->close_after = true;
	ex->route = "-";
	exchange_assign_request_id(ex);
	metric_add(c->server->m_rejected, 1);
	if (c->queue_tail)
		c->queue_tail->next = ex;
	else
		c->queue_head = ex;
	c->queue_tail = ex;
	c->in_flight++;
	log_debug("%s: %d %s", c->peer.address, status, detail);
	exchange_respond_error(ex, status, code, detail);
}

static void conn_dispatch(struct conn *c, struct exchange *ex)
{
	if (c->queue_tail)
		c->queue_tail->next = ex;
	else
		c->queue_head = ex;
	c->queue_tail = ex;
	c->in_flight++;
	ex->bytes_in = ex->head_bytes + ex->body.len;
	if (ex->close_after)
		c->no_more = true;
	if (c->server->draining)
		ex->close_after = true;
	const struct http_request *r = &ex->req;
	ex->req.received_ns = ex->start_ns;
	exchange_assign_request_id(ex);
	unsigned allowed = 0;
	struct handler *h =
	        router_match(c->server->router, r->method, r->path, r->path_len, &allowed);
	if (h) {
		ex->route = h->name;
		h->on_request(h, ex);
		return;
	}
	if (allowed) {
		/* RFC 9110 15.5.6: 405 lists the methods the target supports. */
		static const struct {
			unsigned bit;
			const char *name;
		} names[] = {{HTTP_METHOD_GET, "GET"},       {HTTP_METHOD_HEAD, "HEAD"},
		             {HTTP_METHOD_POST, "POST"},     {HTTP_METHOD_PUT, "PUT"},
		             {HTTP_METHOD_DELETE, "DELETE"}, {HTTP_METHOD_OPTIONS, "OPTIONS"}};
		char list[64] = "";
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (allowed & names[i].bit) {
				if (list[0])
					strcat(list, ", ");
				strcat(list, names[i].name);
			}
		}
		ex->route = "-";
		exchange_add_header(ex, "Allow", list);
		char detail[128];
		snprintf(detail, sizeof(detail), "%.16s is not allowed on this path; allowed: %s",
		         r->method_name, list);
		exchange_respond_error(ex, 405, HTTP_ERROR_METHOD_NOT_ALLOWED, detail);
		return;
	}
	ex->route = "-";
	exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND,
	                       "no endpoint serves this path (docs/api.md lists them)");
}

/* Feeds plaintext to llhttp; dispatches each completed request outside the
 * parser's callbacks; stops (stashing the rest) when the pipeline is full. */
static void conn_parse(struct conn *c, const uint8_t *data, size_t len)
{
	c->in_parse = true;
	while (len > 0 && c->state == CONN_OPEN && !c->no_more) {
		llhttp_errno_t err = llhttp_execute(&c->parser, (const char *)data, len);
		if (err == HPE_OK)
			break;
		if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
			/* RFC 9110 7.8: Upgrade is optional to honour; we answer
			 * in HTTP/1.1 and keep parsing. */
			const uint8_t *pos = (const uint8_t *)llhttp_get_error_pos(&c->parser);
			size_t used = pos ? (size_t)(pos - data) : len;
			if (used > len)
				used = len;
			if (err == HPE_PAUSED)
				llhttp_resume(&c->parser);
			else
				llhttp_resume_after_upgrade(&c->parser);
			data += used;
			len -= used;
			struct exchange *ex = c->completed;
			c->completed = NULL;
			if (ex)
				conn_dispatch(c, ex);
			if (c->state == CONN_OPEN && !c->no_more && conn_should_pause(c)) {
				c->paused = true;
				conn_read_stop(c);
				if (len && buf_append(&c->stash, data, len))
					conn_close(c);
				len = 0;
			}
			continue;
		}
		int status;
		const char *code;
		char detail[sizeof(c->error_detail)];
		http_parse_error(c, err, &status, &code, detail, sizeof(detail));
		conn_reject(c, status, code, detail);
		break;
	}
	c->in_parse = false;
	if (c->state == CONN_OPEN) {
		conn_maybe_send_continue(c);
		conn_update_timer(c);
	}
}

/* --- transport callbacks and start --------------------------------------- */

static void conn_established(void *conn)
{
	(void)conn;
}

static void conn_transport_fail(void *conn, int err, const char *why)
{
	struct conn *c = conn;
	log_debug("%s: transport failed: %s (%s)", c->peer.address, why ? why : "",
	          strerror(err < 0 ? -err : err));
	if (c->state != CONN_OPEN)
		return;
	c->no_more = true;
	c->close_after_flush = true;
	conn_read_stop(c);
	if (c->write_pending == 0)
		conn_close(c);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;
	if (c->state != CONN_LINGER)
		return;
	if (status < 0 || c->peer_eof) {
		conn_close(c);
		return;
	}
	c->reading = false;
	if (uv_read_start(&c->io.stream, conn_alloc_cb, conn_read_cb) != 0)
		conn_close(c);
}

/* Our final response is out: send FIN, then read and discard until the
 * client closes or linger_timeout passes, so unread request bytes do not
 * turn into a reset that destroys the response in flight (RFC 9112 9.6). */
static void conn_begin_linger(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->transport->ops->shutdown(c->transport);
	c->state = CONN_LINGER;
	c->timer_mode = TIMER_NONE;
	conn_set_timer(c, TIMER_LINGER, c->server->limits.linger_timeout_ms);
	conn_read_stop(c);
	c->shutdown_req.data = c;
	if (uv_shutdown(&c->shutdown_req, &c->io.stream, conn_shutdown_cb) != 0) {
		c->state = CONN_OPEN;
		conn_close(c);
	}
}

int conn_start(struct conn *c, struct transport_factory *factory)
{
	struct server *s = c->server;
	c->open_handles = 2;
	uv_timer_init(s->loop, &c->timer);
	c->timer.data = c;
	llhttp_init(&c->parser, HTTP_REQUEST, &http_parser_settings);
	c->parser.data = c;
	struct transport_io io = {c, conn_send, conn_deliver, conn_established,
	                          conn_transport_fail};
	c->plain = factory == NULL;
	c->transport = factory ? factory->create(factory, &io, &c->peer)
	                       : transport_plain_new(&io, &c->peer);
	if (!c->transport) {
		conn_close(c);
		return -ENOMEM;
	}
	int rc = c->transport->ops->start(c->transport);
	if (rc < 0) {
		conn_close(c);
		return rc;
	}
	conn_read_start(c);
	conn_update_timer(c);
	return 0;
}
