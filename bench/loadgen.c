#include "bench/loadgen.h"

#include <errno.h>
#include <llhttp.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/buf.h"
#include "core/json.h"

#define REQUEST_TIMEOUT_MS 10000
#define RECONNECT_DELAY_MS 50
#define GRACE_MS           2000
/* Open loop: the due timer fires at most this often (see arm_due_timer). */
#define DUE_TICK_MIN_NS 100000u

enum conn_state {
	CONN_CLOSED,
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_READY,
	CONN_BUSY,
	CONN_CLOSING
};

struct run;

struct conn {
	struct run *run;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect_req;
	enum conn_state state;
	llhttp_t parser;
	struct bench_request req;
	uint64_t intended_ns;
	uint64_t sent_ns; /* when the request was handed to the socket */
	bool response_done;
	bool keep_alive;
	bool last_failed; /* the last close was an error: reconnect after a pause */
	struct buf body;
	/* TLS over in-memory buffers: bytes read wait in tls_in until mbedTLS asks. */
	bool tls_active;
	mbedtls_ssl_context ssl;
	struct buf tls_in;
	size_t tls_in_off;
	bool offered;               /* a saved session was offered for resumption */
	uint8_t offered_master[48]; /* its master secret */
};

struct run {
	uv_loop_t loop;
	const struct bench_options *opts;
	struct bench_workload *workload;
	struct bench_result *result;
	struct sockaddr_storage addr;
	char host_header[300];
	struct conn *conns;
	uv_timer_t tick;
	uv_timer_t end;
	int timerfd; /* open loop: fires at the next due time, to the nanosecond */
	uv_poll_t due_poll;
	uint64_t start_ns;
	uint64_t measure_from_ns;
	uint64_t interval_ns; /* open loop: time between due requests */
	uint64_t due;         /* open loop: requests whose due time has come */
	uint64_t starved;     /* open loop: requests before this one found no free connection */
	uint64_t issued;
	bool stopping;
	bool grace_over;
	bool workload_done;
	unsigned open_handles;
	/* TLS client state shared by all connections. */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own_cert;
	mbedtls_pk_context own_key;
	mbedtls_ssl_config tls_conf;
	mbedtls_ssl_session session;
	bool have_session;
	llhttp_settings_t settings;
};

static void conn_connect(struct conn *c);
static void conn_close(struct conn *c, bool failed);
static void dispatch(struct run *r);
static bool any_busy(const struct run *r);
static void finish(struct run *r);

static bool measuring(const struct run *r, uint64_t t)
{
	return t >= r->measure_from_ns;
}

/* --- writing ---------------------------------------------------------------- */

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
	char data[];
};

static void on_write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = req->data;
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING) {
		c->run->result->errors_io++;
		conn_close(c, true);
	}
	free(w);
}

static int raw_write(struct conn *c, const void *data, size_t len)
{
	struct write_req *w = malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	memcpy(w->data, data, len);
	w->buf = uv_buf_init(w->data, (unsigned)len);
	w->req.data = c;
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write_cb);
	if (rc < 0)
		free(w);
	else
		c->run->result->bytes_out += len;
	return rc;
}

static int tls_bio_send(void *ctx, const unsigned char *data, size_t len)
{
	return raw_write(ctx, data, len) == 0 ? (int)len : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int tls_bio_recv(void *ctx, unsigned char *out, size_t len)
{
	struct conn *c = ctx;
	size_t avail = c->tls_in.len - c->tls_in_off;
	if (!avail)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (len > avail)
		len = avail;
	memcpy(out, c->tls_in.data + c->tls_in_off, len);
	c->tls_in_off += len;
	if (c->tls_in_off == c->tls_in.len) {
		buf_reset(&c->tls_in);
		c->tls_in_off = 0;
	}
	return (int)len;
}

static int conn_write(struct conn *c, const uint8_t *data, size_t len)
{
	if (!c->tls_active)
		return raw_write(c, data, len);
	while (len) {
		int n = mbedtls_ssl_write(&c->ssl, data, len);
		if (n < 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- requests and answers ---------------------------------------------------- */

static void send_request(struct conn *c, uint64_t intended_ns)
{
	struct run *r = c->run;
	if (r->workload->next(r->workload, &c->req) != 0) {
		r->workload_done = true;
		return;
	}
	struct buf head = {0};
	buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kensho-bench\r\n",
	           c->req.method, c->req.path, r->host_header);
	if (c->req.content_type)
		buf_printf(&head, "Content-Type: %s\r\n", c->req.content_type);
	if (c->req.body_len || strcmp(c->req.method, "POST") == 0)
		buf_printf(&head, "Content-Length: %zu\r\n", c->req.body_len);
	if (r->opts->reconnect_each)
		buf_append_str(&head, "Connection: close\r\n");
	buf_append_str(&head, "\r\n");
	if (c->req.body_len)
		buf_append(&head, c->req.body, c->req.body_len);
	if (head.failed) {
		buf_free(&head);
		r->workload_done = true;
		return;
	}
	c->intended_ns = intended_ns;
	c->sent_ns = uv_hrtime();
	if (r->interval_ns && measuring(r, intended_ns))
		histogram_record(&r->result->send_delay, c->sent_ns - intended_ns);
	c->state = CONN_BUSY;
	c->response_done = false;
	buf_reset(&c->body);
	r->issued++;
	r->result->sent++;
	int rc = conn_write(c, head.data, head.len);
	buf_free(&head);
	if (rc < 0) {
		r->result->errors_io++;
		conn_close(c, true);
		return;
	}
}

static void on_request_timeout_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->state == CONN_BUSY) {
		c->run->result->errors_timeout++;
		conn_close(c, true);
	}
}

static void send_next(struct conn *c, uint64_t intended_ns)
{
	send_request(c, intended_ns);
	if (c->state == CONN_BUSY)
		uv_timer_start(&c->timer, on_request_timeout_cb, REQUEST_TIMEOUT_MS, 0);
}

static bool may_issue(const struct run *r)
{
	if (r->stopping || r->workload_done)
		return false;
	return !r->opts->max_requests || r->issued < r->opts->max_requests;
}

/* Gives each ready connection its next request: at once in closed loop, or
 * the oldest due request in open loop (measured from when it was due). */
static void dispatch(struct run *r)
{
	if (r->interval_ns)
		r->due = (uv_hrtime() - r->start_ns) / r->interval_ns + 1;
	for (unsigned i = 0; i < r->opts->connections && may_issue(r); i++) {
		struct conn *c = &r->conns[i];
		if (c->state != CONN_READY)
			continue;
		if (r->interval_ns == 0) {
			send_next(c, uv_hrtime());
		} else if (r->issued < r->due) {
			uint64_t intended = r->start_ns + r->issued * r->interval_ns;
			if (r->issued < r->starved && measuring(r, intended))
				r->result->waited_for_connection++;
			send_next(c, intended);
		}
	}
	/* Due and still unsent: every connection is waiting for an answer. */
	if (r->interval_ns && r->issued < r->due && may_issue(r))
		r->starved = r->due;
}

static int on_body_cb(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	if (c->req.check)
		buf_append(&c->body, at, len);
	return 0;
}

static int on_message_complete_cb(llhttp_t *p)
{
	struct conn *c = p->data;
	struct run *r = c->run;
	struct bench_result *res = r->result;
	uint64_t now = uv_hrtime();
	int status = llhttp_get_status_code(p);
	c->keep_alive = llhttp_should_keep_alive(p);
	c->response_done = true;
	uv_timer_stop(&c->timer);
	if (measuring(r, c->intended_ns)) {
		res->completed++;
		histogram_record(&res->latency, now - c->intended_ns);
		if (r->interval_ns)
			histogram_record(&res->after_send, now - c->sent_ns);
		if (status >= 500)
			res->status_5xx++;
		else if (status >= 400)
			res->status_4xx++;
		else if (status >= 300)
			res->status_3xx++;
		else
			res->status_2xx++;
		if (c->req.check) {
			res->checked++;
			bool ok = r->workload->check
			                  ? r->workload->check(r->workload, &c->req, status,
			                                       c->body.data, c->body.len)
			                  : status >= 200 && status < 300;
			if (!ok)
				res->check_failed++;
		}
	}
	return HPE_PAUSED; /* one answer at a time: the caller decides what follows */
}

static void handle_plaintext(struct conn *c, const uint8_t *data, size_t len)
{
	while (len) {
		llhttp_errno_t e = llhttp_execute(&c->parser, (const char *)data, len);
		size_t used = len;
		if (e == HPE_PAUSED) {
			used = (size_t)(llhttp_get_error_pos(&c->parser) - (const char *)data);
			llhttp_resume(&c->parser);
		} else if (e != HPE_OK) {
			c->run->result->errors_parse++;
			conn_close(c, true);
			return;
		}
		data += used;
		len -= used;
		if (c->response_done) {
			c->response_done = false;
			if (!c->keep_alive || c->run->opts->reconnect_each || c->run->stopping) {
				conn_close(c, false);
				if (c->run->stopping && !any_busy(c->run))
					finish(c->run);
				return;
			}
			c->state = CONN_READY;
			dispatch(c->run);
			if (c->state == CONN_CLOSING)
				return;
		} else if (c->state != CONN_BUSY && len) {
			c->run->result->errors_parse++; /* bytes nobody asked for */
			conn_close(c, true);
			return;
		}
	}
}

/* --- TLS handshake ------------------------------------------------------------- */

static void tls_progress(struct conn *c)
{
	struct run *r = c->run;
	if (c->state == CONN_HANDSHAKE) {
		int rc = mbedtls_ssl_handshake(&c->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (rc != 0) {
			char msg[128];
			mbedtls_strerror(rc, msg, sizeof(msg));
			fprintf(stderr, "kensho-bench: TLS handshake failed: %s\n", msg);
			r->result->errors_connect++;
			conn_close(c, true);
			return;
		}
		if (r->opts->tls_resume) {
			mbedtls_ssl_session s;
			mbedtls_ssl_session_init(&s);
			if (mbedtls_ssl_get_session(&c->ssl, &s) == 0) {
				/* An abbreviated handshake reuses the offered session's
				 * master secret (RFC 5246 §7.4.1.2, RFC 5077 §3.1); a full
				 * one derives a new one. (The session id says nothing here:
				 * with a ticket mbedTLS offers a fresh random id.) */
				if (c->offered && memcmp(s.master, c->offered_master,
				                         sizeof(c->offered_master)) == 0)
					r->result->handshakes_resumed++;
				mbedtls_ssl_session_free(&r->session);
				r->session = s;
				r->have_session = true;
			} else {
				mbedtls_ssl_session_free(&s);
			}
		}
		c->state = CONN_READY;
		dispatch(r);
		if (c->state != CONN_BUSY && c->state != CONN_READY)
			return;
	}
	uint8_t plain[16384];
	for (;;) {
		int n = mbedtls_ssl_read(&c->ssl, plain, sizeof(plain));
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			if (c->state == CONN_BUSY)
				r->result->errors_io++;
			conn_close(c, c->state == CONN_BUSY);
			return;
		}
		if (n < 0) {
			r->result->errors_io++;
			conn_close(c, true);
			return;
		}
		handle_plaintext(c, plain, (size_t)n);
		if (c->state == CONN_CLOSING || c->state == CONN_CLOSED)
			return;
	}
}

/* --- connection lifecycle ----------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char slab[65536]; /* one loop, one read at a time */
	b->base = slab;
	b->len = sizeof(slab);
}

static void on_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	if (n == 0)
		return;
	if (n < 0) {
		bool failed = c->state == CONN_BUSY;
		if (failed)
			c->run->result->errors_io++;
		conn_close(c, failed);
		return;
	}
	c->run->result->bytes_in += (uint64_t)n;
	if (c->tls_active) {
		buf_append(&c->tls_in, b->base, (size_t)n);
		tls_progress(c);
	} else if (c->state == CONN_BUSY) {
		handle_plaintext(c, (const uint8_t *)b->base, (size_t)n);
	} else {
		c->run->result->errors_parse++;
		conn_close(c, true);
	}
}

static int tls_start(struct conn *c)
{
	struct run *r = c->run;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &r->tls_conf) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, r->opts->servername) != 0)
		return -ENOMEM;
	c->offered = false;
	if (r->opts->tls_resume && r->have_session &&
	    mbedtls_ssl_set_session(&c->ssl, &r->session) == 0) {
		c->offered = true;
		memcpy(c->offered_master, r->session.master, sizeof(c->offered_master));
	}
	mbedtls_ssl_set_bio(&c->ssl, c, tls_bio_send, tls_bio_recv, NULL);
	c->tls_active = true;
	c->state = CONN_HANDSHAKE;
	tls_progress(c);
	return 0;
}

static void on_connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	struct run *r = c->run;
	if (c->state != CONN_CONNECTING)
		return;
	if (status < 0) {
		r->result->errors_connect++;
		conn_close(c, true);
		return;
	}
	r->result->connects++;
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read_cb);
	if (r->opts->tls) {
		if (tls_start(c) < 0) {
			r->result->errors_connect++;
			conn_close(c, true);
		}
		return;
	}
	c->state = CONN_READY;
	dispatch(r);
}

static void conn_connect(struct conn *c)
{
	struct run *r = c->run;
	if (r->stopping || !may_issue(r))
		return;
	uv_tcp_init(&r->loop, &c->tcp);
	r->open_handles++;
	c->tcp.data = c;
	c->connect_req.data = c;
	llhttp_init(&c->parser, HTTP_RESPONSE, &r->settings);
	c->parser.data = c;
	c->state = CONN_CONNECTING;
	c->tls_active = false;
	buf_reset(&c->tls_in);
	c->tls_in_off = 0;
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&r->addr,
	                        on_connect_cb);
	if (rc < 0) {
		r->result->errors_connect++;
		conn_close(c, true);
	}
}

static void on_retry_cb(uv_timer_t *t)
{
	conn_connect(t->data);
}

static void on_tcp_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct run *r = c->run;
	r->open_handles--;
	c->state = CONN_CLOSED;
	if (!r->stopping && may_issue(r))
		uv_timer_start(&c->timer, on_retry_cb, c->last_failed ? RECONNECT_DELAY_MS : 0, 0);
	else if (r->stopping && r->open_handles == 0)
		uv_stop(&r->loop);
}

/* Closes the TCP connection; unless the run is ending it is reopened from the
 * close callback, after a short pause when it failed so that a refusing
 * server is not hammered in a tight loop. */
static void conn_close(struct conn *c, bool failed)
{
	if (c->state == CONN_CLOSING || c->state == CONN_CLOSED)
		return;
	uv_timer_stop(&c->timer);
	if (c->tls_active) {
		mbedtls_ssl_free(&c->ssl);
		c->tls_active = false;
	}
	c->state = CONN_CLOSING;
	c->last_failed = failed;
	uv_close((uv_handle_t *)&c->tcp, on_tcp_close_cb);
}

/* --- the run ------------------------------------------------------------------ */

static bool any_busy(const struct run *r)
{
	for (unsigned i = 0; i < r->opts->connections; i++) {
		enum conn_state s = r->conns[i].state;
		if (s == CONN_BUSY)
			return true;
	}
	return false;
}

static void finish(struct run *r)
{
	if (!r->result->elapsed_s)
		r->result->elapsed_s = (double)(uv_hrtime() - r->measure_from_ns) / 1e9;
	r->stopping = true;
	uv_timer_stop(&r->tick);
	uv_timer_stop(&r->end);
	if (r->timerfd >= 0) {
		struct itimerspec off = {0};
		timerfd_settime(r->timerfd, 0, &off, NULL);
		uv_poll_stop(&r->due_poll);
	}
	for (unsigned i = 0; i < r->opts->connections; i++) {
		struct conn *c = &r->conns[i];
		uv_timer_stop(&c->timer);
		if (c->state == CONN_BUSY)
			r->result->errors_timeout++; /* still unanswered after the grace period */
		conn_close(c, false);
	}
	if (r->open_handles == 0)
		uv_stop(&r->loop);
}

static void on_grace_over_cb(uv_timer_t *t)
{
	finish(t->data);
}

/* The measured interval is over: issue nothing more, let answers in flight
 * arrive for a short grace period, then close everything. */
static void on_end_cb(uv_timer_t *t)
{
	struct run *r = t->data;
	if (!r->stopping) {
		r->result->elapsed_s = (double)(uv_hrtime() - r->measure_from_ns) / 1e9;
		r->stopping = true;
	}
	if (!any_busy(r))
		finish(r);
	else
		uv_timer_start(&r->end, on_grace_over_cb, GRACE_MS, 0);
}

static void on_tick_cb(uv_timer_t *t)
{
	struct run *r = t->data;
	if (!may_issue(r) && !any_busy(r))
		on_end_cb(&r->end);
}

/* Open loop: a libuv timer only has millisecond resolution, which would add up
 * to 1 ms of the generator's own delay to every latency measured from the due
 * time. A timerfd on the same monotonic clock as uv_hrtime() wakes the loop
 * without spinning a core; armed once as a periodic timer (re-arming it by a
 * system call at every request was an eighth of the generator's profile at
 * 25,000 requests/s). It fires every interval, but at most every
 * DUE_TICK_MIN_NS, each time sending every request due by then: at 31,000
 * requests/s a timer interrupt per request took a fifth of the generator's
 * CPU on a virtual machine, and an answer arriving sends the requests due
 * anyway (dispatch). A coarser tick can only lengthen the latencies measured,
 * which still start at each request's own due time. */
static void arm_due_timer(struct run *r)
{
	uint64_t period = r->interval_ns > DUE_TICK_MIN_NS ? r->interval_ns : DUE_TICK_MIN_NS;
	uint64_t first = r->start_ns + r->interval_ns;
	struct itimerspec when = {
	        .it_value = {.tv_sec = (time_t)(first / 1000000000u),
	                     .tv_nsec = (long)(first % 1000000000u)},
	        .it_interval = {.tv_sec = (time_t)(period / 1000000000u),
	                        .tv_nsec = (long)(period % 1000000000u)},
	};
	timerfd_settime(r->timerfd, TFD_TIMER_ABSTIME, &when, NULL);
}

static void on_due_cb(uv_poll_t *p, int status, int events)
{
	struct run *r = p->data;
	uint64_t expirations;
	if (read(r->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	dispatch(r);
}

/* A client certificate for servers that give roles by certificate (kensho's
 * intake role, docs/tls.md). Like everywhere in kensho, a private key that
 * others may read is refused rather than used. */
static int client_cert_setup(struct run *r)
{
	const struct bench_options *o = r->opts;
	struct stat st;
	if (!o->key || stat(o->key, &st) != 0) {
		fprintf(stderr, "kensho-bench: cannot read the client key %s\n",
		        o->key ? o->key : "(none given)");
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "kensho-bench: %s is readable by others; chmod 600 it\n", o->key);
		return -EPERM;
	}
	if (mbedtls_x509_crt_parse_file(&r->own_cert, o->cert) != 0) {
		fprintf(stderr, "kensho-bench: cannot read the client certificate %s\n", o->cert);
		return -EINVAL;
	}
	if (mbedtls_pk_parse_keyfile(&r->own_key, o->key, NULL) != 0) {
		fprintf(stderr, "kensho-bench: cannot read the client key %s\n", o->key);
		return -EINVAL;
	}
	if (mbedtls_ssl_conf_own_cert(&r->tls_conf, &r->own_cert, &r->own_key) != 0 ||
	    mbedtls_pk_check_pair(&r->own_cert.pk, &r->own_key) != 0) {
		fprintf(stderr, "kensho-bench: %s does not belong to %s\n", o->key, o->cert);
		return -EINVAL;
	}
	return 0;
}

static int tls_setup(struct run *r)
{
	const struct bench_options *o = r->opts;
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	mbedtls_x509_crt_init(&r->ca);
	mbedtls_x509_crt_init(&r->own_cert);
	mbedtls_pk_init(&r->own_key);
	mbedtls_ssl_config_init(&r->tls_conf);
	mbedtls_ssl_session_init(&r->session);
	if (!o->tls)
		return 0;
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
	                          (const unsigned char *)"kensho-bench", 12) != 0)
		return -EIO;
	if (mbedtls_ssl_config_defaults(&r->tls_conf, MBEDTLS_SSL_IS_CLIENT,
	                                MBEDTLS_SSL_TRANSPORT_STREAM,
	                                MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -EIO;
	mbedtls_ssl_conf_min_version(&r->tls_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&r->tls_conf, mbedtls_ctr_drbg_random, &r->drbg);
	mbedtls_ssl_conf_session_tickets(&r->tls_conf,
	                                 o->tls_resume ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
	                                               : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	if (o->cacert) {
		int rc = mbedtls_x509_crt_parse_file(&r->ca, o->cacert);
		if (rc != 0) {
			fprintf(stderr, "kensho-bench: cannot read CA certificates from %s\n",
			        o->cacert);
			return -EINVAL;
		}
		mbedtls_ssl_conf_ca_chain(&r->tls_conf, &r->ca, NULL);
		mbedtls_ssl_conf_authmode(&r->tls_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(&r->tls_conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	if (o->cert)
		return client_cert_setup(r);
	return 0;
}

static void tls_teardown(struct run *r)
{
	mbedtls_ssl_session_free(&r->session);
	mbedtls_ssl_config_free(&r->tls_conf);
	mbedtls_x509_crt_free(&r->ca);
	mbedtls_x509_crt_free(&r->own_cert);
	mbedtls_pk_free(&r->own_key);
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

static int resolve(struct run *r)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", r->opts->port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int rc = getaddrinfo(r->opts->host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "kensho-bench: cannot resolve %s: %s\n", r->opts->host,
		        gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	bool v6 = strchr(r->opts->host, ':') != NULL;
	snprintf(r->host_header, sizeof(r->host_header), v6 ? "[%s]:%d" : "%s:%d", r->opts->host,
	         r->opts->port);
	return 0;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int loadgen_run(const struct bench_options *opts, struct bench_workload *workload,
                struct bench_result *result)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(result, 0, sizeof(*result));
	histogram_reset(&result->latency);
	histogram_reset(&result->send_delay);
	histogram_reset(&result->after_send);
	r->opts = opts;
	r->workload = workload;
	r->result = result;
	int rc = resolve(r);
	if (rc == 0)
		rc = tls_setup(r);
	if (rc == 0)
		rc = uv_loop_init(&r->loop);
	if (rc < 0) {
		tls_teardown(r);
		free(r);
		return rc;
	}
	llhttp_settings_init(&r->settings);
	r->settings.on_body = on_body_cb;
	r->settings.on_message_complete = on_message_complete_cb;
	r->conns = calloc(opts->connections, sizeof(*r->conns));
	r->start_ns = uv_hrtime();
	r->measure_from_ns = r->start_ns + (uint64_t)(opts->warmup_s * 1e9);
	r->interval_ns = opts->rate > 0 ? (uint64_t)(1e9 / opts->rate) : 0;
	if (r->interval_ns == 0 && opts->rate > 0)
		r->interval_ns = 1;
	uv_timer_init(&r->loop, &r->tick);
	uv_timer_init(&r->loop, &r->end);
	r->tick.data = r->end.data = r;
	for (unsigned i = 0; i < opts->connections; i++) {
		struct conn *c = &r->conns[i];
		c->run = r;
		uv_timer_init(&r->loop, &c->timer);
		c->timer.data = c;
		conn_connect(c);
	}
	/* The tick notices the end of a count-bounded run. */
	uv_timer_start(&r->tick, on_tick_cb, 1, 1);
	r->timerfd = -1;
	if (r->interval_ns) {
		r->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (r->timerfd < 0 || uv_poll_init(&r->loop, &r->due_poll, r->timerfd) < 0) {
			fprintf(stderr, "kensho-bench: cannot create the open-loop timer\n");
			r->stopping = true;
		} else {
			r->due_poll.data = r;
			uv_poll_start(&r->due_poll, UV_READABLE, on_due_cb);
			r->due = 1;
			dispatch(r);
			arm_due_timer(r);
		}
	}
	uv_timer_start(&r->end, on_end_cb, (uint64_t)((opts->warmup_s + opts->duration_s) * 1000),
	               0);
	uv_run(&r->loop, UV_RUN_DEFAULT);

	uv_walk(&r->loop, close_walk_cb, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	if (r->timerfd >= 0)
		close(r->timerfd);
	for (unsigned i = 0; i < opts->connections; i++) {
		buf_free(&r->conns[i].body);
		buf_free(&r->conns[i].tls_in);
		if (r->conns[i].tls_active)
			mbedtls_ssl_free(&r->conns[i].ssl);
	}
	free(r->conns);
	tls_teardown(r);
	free(r);
	return 0;
}

static void json_histogram_us(struct json *j, const struct histogram *h)
{
	const double points[] = {50, 90, 99, 99.9};
	const char *names[] = {"p50", "p90", "p99", "p99_9"};
	for (int i = 0; i < 4; i++)
		json_double(j, names[i], (double)histogram_percentile(h, points[i]) / 1e3);
	json_double(j, "max", (double)h->max / 1e3);
	json_double(j, "mean", histogram_mean(h) / 1e3);
}

void loadgen_result_json(const struct bench_options *opts, const char *label,
                         const struct bench_result *r, struct buf *out)
{
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_string(&j, "label", label);
	json_string(&j, "mode", opts->rate > 0 ? "open-loop" : "closed-loop");
	json_bool(&j, "tls", opts->tls);
	if (opts->tls)
		json_bool(&j, "tls_resume", opts->tls_resume);
	json_uint(&j, "connections", opts->connections);
	if (opts->rate > 0)
		json_double(&j, "target_rate", opts->rate);
	json_double(&j, "duration_s", r->elapsed_s);
	json_uint(&j, "requests", r->completed);
	json_double(&j, "throughput_rps",
	            r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0);
	json_object_begin(&j, "latency_us");
	json_histogram_us(&j, &r->latency);
	json_object_end(&j);
	if (opts->rate > 0) {
		json_object_begin(&j, "send_delay_us");
		json_histogram_us(&j, &r->send_delay);
		json_object_end(&j);
		json_object_begin(&j, "after_send_us");
		json_histogram_us(&j, &r->after_send);
		json_object_end(&j);
		json_uint(&j, "waited_for_connection", r->waited_for_connection);
	}
	json_object_begin(&j, "status");
	json_uint(&j, "2xx", r->status_2xx);
	json_uint(&j, "3xx", r->status_3xx);
	json_uint(&j, "4xx", r->status_4xx);
	json_uint(&j, "5xx", r->status_5xx);
	json_object_end(&j);
	json_object_begin(&j, "errors");
	json_uint(&j, "connect", r->errors_connect);
	json_uint(&j, "io", r->errors_io);
	json_uint(&j, "parse", r->errors_parse);
	json_uint(&j, "timeout", r->errors_timeout);
	json_object_end(&j);
	json_object_begin(&j, "checks");
	json_uint(&j, "sampled", r->checked);
	json_uint(&j, "failed", r->check_failed);
	json_object_end(&j);
	json_uint(&j, "connects", r->connects);
	if (opts->tls)
		json_uint(&j, "resumed", r->handshakes_resumed);
	json_uint(&j, "bytes_in", r->bytes_in);
	json_uint(&j, "bytes_out", r->bytes_out);
	json_object_end(&j);
}
