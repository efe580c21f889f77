/* The server: limits, connection bookkeeping, drain, per-request metrics and
 * the loop-lag probe. Listeners live in listener.c, connections in conn.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/server_impl.h"

#define LAG_INTERVAL_MS 1000

void server_limits_default(struct server_limits *l)
{
	*l = (struct server_limits){
	        .header_bytes = 16 * 1024,
	        .uri_bytes = 8 * 1024,
	        .body_bytes = 1024 * 1024,
	        .max_connections = 10000,
	        .pipeline_depth = 32,
	        .write_buffer_bytes = 1024 * 1024,
	        .idle_timeout_ms = 60 * 1000,
	        .request_timeout_ms = 10 * 1000,
	        .linger_timeout_ms = 2 * 1000,
	        .drain_timeout_ms = 10 * 1000,
	        .backlog = 511,
	};
}

static size_t positive_size(const struct config *c, const char *key, size_t fallback)
{
	int64_t v = config_get_size(c, key, (int64_t)fallback);
	return v > 0 ? (size_t)v : fallback;
}

static uint64_t positive_ms(const struct config *c, const char *key, uint64_t fallback)
{
	int64_t v = config_get_ms(c, key, (int64_t)fallback);
	return v > 0 ? (uint64_t)v : fallback;
}

static unsigned positive_int(const struct config *c, const char *key, unsigned fallback)
{
	int64_t v = config_get_int(c, key, fallback);
	return v > 0 && v <= UINT32_MAX ? (unsigned)v : fallback;
}

void server_limits_from_config(struct server_limits *l, const struct config *c)
{
	l->header_bytes = positive_size(c, "limits.header_bytes", l->header_bytes);
	l->uri_bytes = positive_size(c, "limits.uri_bytes", l->uri_bytes);
	l->body_bytes = positive_size(c, "limits.body_bytes", l->body_bytes);
	l->max_connections = positive_int(c, "limits.connections", l->max_connections);
	l->pipeline_depth = positive_int(c, "limits.pipeline", l->pipeline_depth);
	l->write_buffer_bytes =
	        positive_size(c, "limits.write_buffer_bytes", l->write_buffer_bytes);
	l->idle_timeout_ms = positive_ms(c, "limits.idle_timeout", l->idle_timeout_ms);
	l->request_timeout_ms = positive_ms(c, "limits.request_timeout", l->request_timeout_ms);
	l->linger_timeout_ms = positive_ms(c, "limits.linger_timeout", l->linger_timeout_ms);
	l->drain_timeout_ms = positive_ms(c, "limits.drain_timeout", l->drain_timeout_ms);
	l->backlog = (int)positive_int(c, "limits.backlog", (unsigned)l->backlog);
}

/* The server's own memory, once nothing refers to it. */
static void server_free(struct server *s)
{
	exchange_spares_free(s);
	free(s);
}

/* After server_close, the server goes once its own handles, its listeners
 * and every connection have closed (libuv runs close callbacks in no
 * particular order). */
void server_release_handle(struct server *s)
{
	s->open_handles--;
	if (s->closing && s->open_handles == 0 && s->conn_count == 0)
		server_free(s);
}

static void server_handle_closed_cb(uv_handle_t *h)
{
	server_release_handle(h->data);
}

/* Measures how late a 1 s timer fires: the time the loop spent blocked. */
static void lag_timer_cb(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t now = uv_hrtime();
	double lag = now > s->lag_expected_ns ? (double)(now - s->lag_expected_ns) / 1e9 : 0;
	metric_set(s->m_lag, lag);
	s->lag_expected_ns = now + (uint64_t)LAG_INTERVAL_MS * 1000000u;
}

/* Access-log lines are written to a buffered stdout and flushed once per
 * loop iteration, so a burst costs one write. */
static void flush_check_cb(uv_check_t *h)
{
	struct server *s = h->data;
	if (s->access_log_dirty) {
		fflush(stdout);
		s->access_log_dirty = false;
	}
}

struct server *server_new(uv_loop_t *loop, struct router *router, const struct server_limits *l)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->router = router;
	s->limits = *l;
	s->m_open = metrics_gauge("kensho_http_connections_open", NULL, "Open client connections.");
	s->m_accepted = metrics_counter("kensho_http_connections_accepted_total", NULL,
	                                "Connections accepted.");
	s->m_deferred = metrics_counter("kensho_http_connections_deferred_total", NULL,
	                                "Times accepting waited for a free connection slot.");
	s->m_bytes_in = metrics_counter("kensho_http_received_bytes_total", NULL,
	                                "Bytes read from clients (before TLS decryption).");
	s->m_bytes_out = metrics_counter("kensho_http_sent_bytes_total", NULL,
	                                 "Bytes queued to clients (after TLS encryption).");
	s->m_rejected = metrics_counter("kensho_http_rejected_requests_total", NULL,
	                                "Requests refused by a limit, a timeout or as malformed.");
	s->m_lag = metrics_gauge_merged("kensho_loop_lag_seconds", NULL,
	                                "How late the last 1 s loop timer fired (worst worker).",
	                                METRICS_MERGE_MAX);
	uv_timer_init(loop, &s->drain_timer);
	uv_timer_init(loop, &s->lag_timer);
	uv_check_init(loop, &s->flush_check);
	s->drain_timer.data = s->lag_timer.data = s->flush_check.data = s;
	s->open_handles = 3;
	s->lag_expected_ns = uv_hrtime() + (uint64_t)LAG_INTERVAL_MS * 1000000u;
	uv_timer_start(&s->lag_timer, lag_timer_cb, LAG_INTERVAL_MS, LAG_INTERVAL_MS);
	uv_unref((uv_handle_t *)&s->lag_timer);
	uv_check_start(&s->flush_check, flush_check_cb);
	uv_unref((uv_handle_t *)&s->flush_check);
	return s;
}

void server_set_access_log(struct server *s, bool enabled)
{
	s->access_log = enabled;
}

void server_set_limits(struct server *s, const struct server_limits *l)
{
	/* listen(2) sized the queue already, and the supervisor's deadline for
	 * a drain was fixed at start: those two stay as they were. */
	int backlog = s->limits.backlog;
	uint64_t drain_timeout_ms = s->limits.drain_timeout_ms;
	s->limits = *l;
	s->limits.backlog = backlog;
	s->limits.drain_timeout_ms = drain_timeout_ms;
}

int server_adopt_fd(struct server *s, int fd, struct transport_factory *factory)
{
	struct conn *c = conn_alloc(s);
	if (!c)
		return -ENOMEM;
	uv_pipe_init(s->loop, &c->io.pipe, 0);
	c->io.handle.data = c;
	int rc = uv_pipe_open(&c->io.pipe, fd);
	if (rc < 0) {
		close(fd);
		uv_timer_init(s->loop, &c->timer);
		c->timer.data = c;
		c->open_handles = 2;
		conn_close(c);
		return rc;
	}
	snprintf(c->peer.address, sizeof(c->peer.address), "local");
	return conn_start(c, factory);
}

unsigned server_connection_count(const struct server *s)
{
	return s->conn_count;
}

void server_connection_opened(struct server *s, struct conn *c)
{
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->conn_count++;
	metric_set(s->m_open, s->conn_count);
}

static void server_finish_drain(struct server *s)
{
	uv_timer_stop(&s->drain_timer);
	void (*done)(struct server *, void *) = s->drain_done;
	s->drain_done = NULL;
	if (done)
		done(s, s->drain_arg);
}

void server_connection_closed(struct server *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->conn_count--;
	metric_set(s->m_open, s->conn_count);
	if (s->closing) {
		if (s->conn_count == 0 && s->open_handles == 0)
			server_free(s);
		return;
	}
	if (s->draining && s->conn_count == 0)
		server_finish_drain(s);
	else if (!s->draining)
		listener_accept_pending(s);
}

static void drain_timer_cb(uv_timer_t *t)
{
	struct server *s = t->data;
	log_warn("drain: %u connection(s) still open after %llu ms; closing them", s->conn_count,
	         (unsigned long long)s->limits.drain_timeout_ms);
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_close(c);
	}
}

void server_drain(struct server *s, void (*done)(struct server *s, void *arg), void *arg)
{
	if (s->draining)
		return;
	s->draining = true;
	s->drain_done = done;
	s->drain_arg = arg;
	listener_close_all(s);
	log_info("draining: %u connection(s) open", s->conn_count);
	uv_timer_start(&s->drain_timer, drain_timer_cb, s->limits.drain_timeout_ms, 0);
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_drain(c);
	}
	if (s->conn_count == 0)
		server_finish_drain(s);
}

bool server_is_draining(const struct server *s)
{
	return s->draining;
}

int server_readiness_check(void *server, char *why, size_t why_len)
{
	struct server *s = server;
	if (s->draining) {
		snprintf(why, why_len, "draining");
		return -ESHUTDOWN;
	}
	return 0;
}

void server_close(struct server *s)
{
	s->closing = true;
	s->drain_done = NULL;
	listener_close_all(s);
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	if (s->access_log_dirty)
		fflush(stdout);
	uv_close((uv_handle_t *)&s->drain_timer, server_handle_closed_cb);
	uv_close((uv_handle_t *)&s->lag_timer, server_handle_closed_cb);
	uv_close((uv_handle_t *)&s->flush_check, server_handle_closed_cb);
}

const char *server_date(struct server *s)
{
	time_t now = time(NULL);
	if (now != s->date_second) {
		http_date_format((int64_t)now, s->date);
		s->date_second = now;
	}
	return s->date;
}

static void route_series_lookup(struct route_series *rs, const char *route, int status)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", route, status);
	rs->requests = metrics_counter("kensho_http_requests_total", labels,
	                               "Requests answered, by route and status.");
	snprintf(labels, sizeof(labels), "route=\"%s\"", route);
	rs->duration = metrics_histogram("kensho_http_request_duration_seconds", labels,
	                                 "Time from a request's first byte to its response.",
	                                 metrics_latency_bounds, metrics_latency_bound_count);
}

/* A server sees few route/status pairs: remember each pair's series in a
 * small direct-mapped table, keyed by a copy of the name (handlers may be
 * replaced on reload, so their name pointers are not kept). Names too long
 * for a slot are looked up every time. */
static struct route_series route_series_get(struct server *s, const char *route, int status)
{
	size_t len = strlen(route);
	struct route_series fresh = {.status = status};
	if (len >= sizeof(fresh.route)) {
		route_series_lookup(&fresh, route, status);
		return fresh;
	}
	unsigned slot = ((unsigned)status * 31u + (unsigned char)route[0] * 7u + (unsigned)len) %
	                ROUTE_SERIES_SLOTS;
	struct route_series *rs = &s->route_series[slot];
	if (rs->status != status || strcmp(rs->route, route) != 0) {
		route_series_lookup(rs, route, status);
		memcpy(rs->route, route, len + 1);
		rs->status = status;
	}
	return *rs;
}

void server_record_exchange(struct server *s, const struct exchange *ex)
{
	const char *route = ex->route ? ex->route : "-";
	struct route_series rs = route_series_get(s, route, ex->status);
	metric_add(rs.requests, 1);
	metric_observe(rs.duration, (double)(uv_hrtime() - ex->start_ns) / 1e9);
	if (s->access_log) {
		accesslog_write(s, ex);
		s->access_log_dirty = true;
	}
}
