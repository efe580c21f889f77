/* Private to core/: the structures shared by the server's files (server.c,
 * listener.c, conn.c, http.c, exchange.c, accesslog.c). Nothing outside core/
 * includes this. */
#pragma once
#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/server.h"
#include "core/transport.h"

struct metric;

/* The request counter and latency histogram of one route and status, kept so
 * a request does not format and hash label text (server_record_exchange). */
struct route_series {
	char route[32]; /* "" = empty slot */
	int status;
	struct metric *requests;
	struct metric *duration;
};

#define ROUTE_SERIES_SLOTS 32

struct listener {
	struct server *server;
	uv_tcp_t tcp;
	struct transport_factory *factory;
	char address[80];
	/* A connection waits in the kernel's backlog because the server is at
	 * limits.connections; libuv stops polling until we accept it. */
	bool accept_pending;
	bool closed;
	struct listener *next;
};

struct server {
	uv_loop_t *loop;
	struct router *router;
	struct server_limits limits;
	struct listener *listeners;
	struct conn *conns; /* doubly linked, for drain and close */
	unsigned conn_count;
	bool draining;
	bool closing;
	bool access_log;
	bool access_log_dirty;
	int open_handles; /* freed when the last one closes after server_close */
	uv_timer_t drain_timer;
	uv_timer_t lag_timer;
	uv_check_t flush_check;
	uint64_t lag_expected_ns;
	void (*drain_done)(struct server *s, void *arg);
	void *drain_arg;
	char date[40];
	time_t date_second;
	struct metric *m_open;
	struct metric *m_accepted;
	struct metric *m_deferred;
	struct metric *m_bytes_in;
	struct metric *m_bytes_out;
	struct metric *m_lag;
	struct metric *m_rejected;
	struct route_series route_series[ROUTE_SERIES_SLOTS];
	/* answered exchanges kept with their buffers for the next requests
	 * (exchange_recycle), at most EXCHANGE_SPARES_MAX */
	struct exchange *spare_exchanges;
	unsigned spare_exchange_count;
};

enum conn_state { CONN_OPEN, CONN_LINGER, CONN_CLOSED };
enum conn_timer_mode { TIMER_NONE, TIMER_IDLE, TIMER_REQUEST, TIMER_WRITE, TIMER_LINGER };

struct conn {
	struct server *server;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	uv_timer_t timer;
	uv_shutdown_t shutdown_req;
	struct transport *transport;
	struct peer_info peer;
	llhttp_t parser;
	enum conn_state state;
	enum conn_timer_mode timer_mode;
	int open_handles;
	struct exchange *parsing;                 /* the request being read */
	struct exchange *completed;               /* set by on_message_complete for dispatch */
	struct exchange *queue_head, *queue_tail; /* dispatched, in request order */
	unsigned in_flight;
	int error_status;       /* set by a parser callback that refused the request */
	const char *error_code; /* its HTTP_ERROR_* code */
	char error_detail[160]; /* what was wrong, in words for the client */
	struct buf stash; /* plaintext held while parsing is paused */
	size_t write_pending;
	uint64_t requests_begun; /* counts message starts, to restart the request timer */
	uint64_t timer_request;
	uint64_t timer_deadline; /* idle and write timers: loop time (ms) they end at */
	bool reading;
	bool paused;   /* not parsing: pipeline full or output backed up */
	bool no_more;  /* no further requests on this connection */
	bool in_parse; /* inside conn_parse (guards re-entry) */
	bool peer_eof;
	bool close_after_flush;
	bool plain; /* plain transport: responses go to the socket uncopied */
	struct conn *prev, *next;
};

/* The longest X-Request-Id taken from a client (exchange_assign_request_id). */
#define REQUEST_ID_MAX 64

struct header_span {
	size_t name_off, name_len, value_off, value_len;
};

struct exchange {
	struct conn *conn; /* NULL once cancelled */
	uv_loop_t *loop;
	struct exchange *next;
	struct http_request req;
	struct buf head; /* request-target, path, query, header text */
	struct header_span *spans;
	size_t span_count, span_cap;
	struct http_header *headers;
	size_t headers_cap;
	uint32_t header_initials; /* bit (c & 31) of each field name's first byte c */
	struct buf body;
	size_t head_bytes;
	size_t url_len;
	bool in_value;     /* last header callback was a value */
	bool headers_done; /* later fields are trailers: ignored */
	bool expect_continue;
	bool continue_sent;
	bool responded;
	bool close_after;
	int status;
	const char *route;
	struct buf extra_headers;
	struct buf out; /* serialized response head (and a copied body) */
	/* A body sent after `out` without copying (exchange_respond_borrowed);
	 * body_release(body_release_arg) runs when the exchange is freed. */
	const uint8_t *body_out;
	size_t body_out_len;
	void (*body_release)(void *arg);
	void *body_release_arg;
	size_t body_bytes_out;
	uint64_t start_ns;
	size_t bytes_in;
	/* Last, and not cleared when the exchange is kept for reuse
	 * (exchange_recycle): exchange_new sets both. */
	char request_id[REQUEST_ID_MAX + 1]; /* X-Request-Id, "" until dispatched */
	struct peer_info peer;
};

/* conn.c */
/** Starts serving an accepted/adopted stream (io already initialised). */
int conn_start(struct conn *c, struct transport_factory *factory);
/** Allocates a connection for server s (io not yet initialised). */
struct conn *conn_alloc(struct server *s);
/** Frees a connection whose io was never initialised. */
void conn_discard(struct conn *c);
/** Closes at once; pending exchanges are cancelled. */
void conn_close(struct conn *c);
/** Drain: closes if idle, else marks the connection to close when done. */
void conn_drain(struct conn *c);
/** Writes responses that are ready, in request order. */
void conn_flush(struct conn *c);

/* http.c */
/** The llhttp callbacks shared by every connection. */
extern const llhttp_settings_t http_parser_settings;
/** Fills ex->req from the parsed head (after on_headers_complete). */
int http_request_finish_head(struct exchange *ex, llhttp_t *parser);
/** Why parsing stopped with `err`, for the error response: the status, an
 * HTTP_ERROR_* code and a detail for the client (never llhttp's wording). */
void http_parse_error(const struct conn *c, llhttp_errno_t err, int *status, const char **code,
                      char *detail, size_t detail_len);

/* exchange.c */
/** A fresh exchange for connection c. NULL on ENOMEM. */
struct exchange *exchange_new(struct conn *c);
/** Frees an exchange and what it owns. */
void exchange_free(struct exchange *ex);
/** Done with an answered exchange whose connection is open: keeps it, with
 * its buffers' memory, for exchange_new on the same server (up to
 * EXCHANGE_SPARES_MAX; buffers that grew large are freed); otherwise as
 * exchange_free. Saves a dozen allocations per request. */
void exchange_recycle(struct exchange *ex);
/** Frees the exchanges a server keeps for reuse (when it goes). */
void exchange_spares_free(struct server *s);
/** Gives ex its request id: the client's X-Request-Id when well-formed,
 * else a new one unique to this server (process prefix + sequence). */
void exchange_assign_request_id(struct exchange *ex);

/* server.c */
/** The current IMF-fixdate for the Date header (RFC 9110 5.6.7). */
const char *server_date(struct server *s);
/** Drops one of the server's own handles; frees it when closing and done. */
void server_release_handle(struct server *s);
/** Called by conn.c for a new connection (counted and listed). */
void server_connection_opened(struct server *s, struct conn *c);
/** Called by conn.c when a connection is gone. */
void server_connection_closed(struct server *s, struct conn *c);
/** Records metrics for a finished exchange. */
void server_record_exchange(struct server *s, const struct exchange *ex);

/* listener.c */
/** Accepts connections that waited for a free slot. */
void listener_accept_pending(struct server *s);
/** Closes every listener. */
void listener_close_all(struct server *s);

/* accesslog.c */
/** Writes one JSON line for a finished exchange to stdout. */
void accesslog_write(struct server *s, const struct exchange *ex);
