/* The socketpair harness (http_harness.h). */
#include "http_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/readiness.h"

struct exchange *harness_pending[256];
int harness_pending_count;
int harness_big_count;

static void echo_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	const struct http_request *r = exchange_request(ex);
	char text[512];
	int n = snprintf(text, sizeof(text), "%s %s%s%s len=%zu", r->method_name, r->path,
	                 r->query[0] ? "?" : "", r->query, r->body_len);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1; /* truncated echo of a long target */
	size_t vlen = 0;
	const char *v = exchange_header(ex, "x-echo", &vlen);
	if (v && (size_t)n + vlen + 1 < sizeof(text)) {
		text[n++] = ' ';
		memcpy(text + n, v, vlen);
		n += (int)vlen;
	}
	exchange_respond(ex, 200, "text/plain", text, (size_t)n);
}

static void async_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	if (harness_pending_count < 256)
		harness_pending[harness_pending_count++] = ex;
	else
		exchange_respond(ex, 503, NULL, NULL, 0);
}

/* /big?N answers N bytes: large responses for the write-side bounds. */
static void big_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	size_t n = strtoul(exchange_request(ex)->query, NULL, 10);
	char *body = malloc(n ? n : 1);
	if (!body) {
		exchange_respond(ex, 500, NULL, NULL, 0);
		return;
	}
	memset(body, 'b', n);
	harness_big_count++;
	exchange_respond_owned(ex, 200, "application/octet-stream", body, n);
}

static struct handler big_handler = {.name = "big", .on_request = big_on_request};
static struct handler echo_handler = {.name = "echo", .on_request = echo_on_request};
static struct handler async_handler = {.name = "async", .on_request = async_on_request};

int harness_start(struct harness *h, const struct server_limits *l)
{
	memset(h, 0, sizeof(*h));
	h->client = -1;
	signal(SIGPIPE, SIG_IGN); /* as kenshod does: a dead peer is an error return */
	harness_pending_count = 0;
	harness_big_count = 0;
	struct server_limits defaults;
	server_limits_default(&defaults);
	if (uv_loop_init(&h->loop))
		return -EIO;
	h->router = router_new();
	unsigned all = HTTP_METHOD_GET | HTTP_METHOD_HEAD | HTTP_METHOD_POST | HTTP_METHOD_PUT |
	               HTTP_METHOD_DELETE | HTTP_METHOD_OPTIONS;
	router_add(h->router, "/echo", all, ROUTE_OPEN, &echo_handler);
	router_add(h->router, "/async/", all, ROUTE_OPEN, &async_handler);
	router_add(h->router, "/big", HTTP_METHOD_GET, ROUTE_OPEN, &big_handler);
	h->server = server_new(&h->loop, h->router, l ? l : &defaults);
	return h->server ? 0 : -ENOMEM;
}

int harness_connect(struct harness *h)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	int rc = server_adopt_fd(h->server, sv[0], NULL);
	if (rc < 0) {
		close(sv[1]);
		return rc;
	}
	h->client = sv[1];
	h->peer_closed = false;
	buf_reset(&h->received);
	return sv[1];
}

static void harness_drain_socket(struct harness *h)
{
	uint8_t tmp[65536];
	for (;;) {
		ssize_t n = read(h->client, tmp, sizeof(tmp));
		if (n > 0) {
			buf_append(&h->received, tmp, (size_t)n);
			continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			h->peer_closed = true;
		break;
	}
}

void harness_send(struct harness *h, const void *data, size_t len)
{
	const uint8_t *p = data;
	int spins = 0;
	while (len > 0 && spins < 100000) {
		ssize_t n = write(h->client, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the server closed: later checks see it */
		uv_run(&h->loop, UV_RUN_NOWAIT);
		harness_drain_socket(h);
		spins++;
	}
}

static int count_complete(const struct harness *h)
{
	int n = 0;
	struct response r;
	while (harness_response(h, n, &r))
		n++;
	return n;
}

int harness_pump(struct harness *h, int responses, int ms)
{
	uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
	for (;;) {
		uv_run(&h->loop, UV_RUN_NOWAIT);
		harness_drain_socket(h);
		int n = count_complete(h);
		if ((responses > 0 && n >= responses) || h->peer_closed || uv_hrtime() > deadline)
			return n;
		struct pollfd pfd = {h->client, POLLIN, 0};
		poll(&pfd, 1, 1);
	}
}

bool harness_response(const struct harness *h, int n, struct response *out)
{
	if (!h->received.data)
		return false;
	const char *p = (const char *)h->received.data;
	const char *end = p + h->received.len;
	for (int i = 0; p && p < end; i++) {
		const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!head_end)
			return false;
		size_t head_len = (size_t)(head_end - p) + 4;
		/* The received bytes are not NUL-terminated: parse a copy. */
		char line[64];
		size_t line_len = head_len < sizeof(line) - 1 ? head_len : sizeof(line) - 1;
		memcpy(line, p, line_len);
		line[line_len] = '\0';
		int status = 0;
		if (sscanf(line, "HTTP/1.1 %d", &status) != 1)
			return false;
		size_t clen = 0;
		const char *cl = memmem(p, head_len, "\r\nContent-Length: ", 18);
		if (cl)
			clen = strtoul(cl + 18, NULL, 10); /* ends at the CRLF before head_end */
		/* interim (1xx) responses carry no content */
		size_t body_len = status < 200 ? 0 : clen;
		if ((size_t)(end - head_end - 4) < body_len)
			return false;
		if (i == n) {
			if (out) {
				out->status = status;
				size_t copy = head_len < sizeof(out->head) - 1
				                      ? head_len
				                      : sizeof(out->head) - 1;
				memcpy(out->head, p, copy);
				out->head[copy] = '\0';
				out->content_length = clen;
				out->body = (const uint8_t *)head_end + 4;
			}
			return true;
		}
		p = head_end + 4 + body_len;
	}
	return false;
}

void harness_stop(struct harness *h)
{
	if (h->client >= 0)
		close(h->client);
	h->client = -1;
	/* Let the server notice the close, then take everything down. */
	for (int i = 0; i < 5; i++)
		uv_run(&h->loop, UV_RUN_NOWAIT);
	server_close(h->server);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&h->loop);
	if (rc != 0) {
		fprintf(stderr, "harness: loop still has handles\n");
		abort();
	}
	router_free(h->router);
	buf_free(&h->received);
	metrics_reset();
	readiness_reset();
}
