/* The HTTP/1.1 layer through the real connection path: parsing at every byte
 * boundary, pipelining order and bounds, every limit, timeouts, and the
 * lifetime of exchanges answered after their client left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http_harness.h"

#define REQ(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static void expect_body(const struct response *r, const char *text)
{
	assert_int_equal(r->content_length, strlen(text));
	assert_memory_equal(r->body, text, strlen(text));
}

static void test_simple_get(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = "GET /echo?a=1 HTTP/1.1\r\nHost: t\r\nX-Echo:  padded value \r\n\r\n";
	harness_send(&h, req, sizeof(req) - 1);
	assert_int_equal(harness_pump(&h, 1, 2000), 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, 200);
	expect_body(&r, "GET /echo?a=1 len=0 padded value");
	assert_non_null(strstr(r.head, "Date: "));
	assert_null(strstr(r.head, "Connection: close"));
	harness_stop(&h);
}

/* A request with a chunked body, delivered in two writes split at every byte
 * position, on one keep-alive connection: each split must give the same answer. */
static void test_split_at_every_byte(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = "POST /echo/?q=x HTTP/1.1\r\nHost: t\r\nX-Echo: v\r\n"
	                   "Transfer-Encoding: chunked\r\n\r\n"
	                   "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n";
	size_t len = sizeof(req) - 1;
	for (size_t cut = 1; cut < len; cut++) {
		harness_send(&h, req, cut);
		harness_pump(&h, (int)cut, 1);
		harness_send(&h, req + cut, len - cut);
		assert_int_equal(harness_pump(&h, (int)cut, 2000), (int)cut);
		struct response r;
		assert_true(harness_response(&h, (int)cut - 1, &r));
		assert_int_equal(r.status, 404); /* /echo/ is not /echo */
	}
	/* The same split game on a route that echoes the parsed request. */
	const char req2[] = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	                    "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
	size_t len2 = sizeof(req2) - 1;
	int base = (int)len - 1;
	for (size_t cut = 1; cut < len2; cut++) {
		harness_send(&h, req2, cut);
		harness_pump(&h, base + (int)cut, 1);
		harness_send(&h, req2 + cut, len2 - cut);
		assert_int_equal(harness_pump(&h, base + (int)cut, 2000), base + (int)cut);
		struct response r;
		assert_true(harness_response(&h, base + (int)cut - 1, &r));
		assert_int_equal(r.status, 200);
		expect_body(&r, "POST /echo len=8");
	}
	harness_stop(&h);
}

static void test_pipelined_burst_in_order(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	struct buf burst = {0};
	for (int i = 0; i < 200; i++)
		buf_printf(&burst, "GET /echo?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	harness_send(&h, burst.data, burst.len);
	assert_int_equal(harness_pump(&h, 200, 5000), 200);
	for (int i = 0; i < 200; i++) {
		struct response r;
		char want[64];
		assert_true(harness_response(&h, i, &r));
		snprintf(want, sizeof(want), "GET /echo?n=%d len=0", i);
		expect_body(&r, want);
	}
	buf_free(&burst);
	harness_stop(&h);
}

/* Handlers answering out of order still produce responses in request order,
 * and no more than limits.pipeline requests are dispatched at once. */
static void test_async_out_of_order_and_pipeline_bound(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.pipeline_depth = 4;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	struct buf burst = {0};
	for (int i = 0; i < 10; i++)
		buf_printf(&burst, "GET /async/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	harness_send(&h, burst.data, burst.len);
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 4);
	/* answer the held ones backwards: nothing may be sent before #0 */
	for (int i = 3; i >= 1; i--) {
		char body[16];
		int n = snprintf(body, sizeof(body), "%d", i);
		exchange_respond(harness_pending[i], 200, "text/plain", body, (size_t)n);
	}
	assert_int_equal(harness_pump(&h, 1, 50), 0);
	exchange_respond(harness_pending[0], 200, "text/plain", "0", 1);
	assert_int_equal(harness_pump(&h, 4, 2000), 4);
	/* the drained pipeline lets the next four in */
	harness_pump(&h, 5, 100);
	assert_int_equal(harness_pending_count, 8);
	for (int i = 4; i < 8; i++)
		exchange_respond(harness_pending[i], 200, "text/plain", "x", 1);
	harness_pump(&h, 8, 1000);
	assert_int_equal(harness_pending_count, 10);
	for (int i = 8; i < 10; i++)
		exchange_respond(harness_pending[i], 200, "text/plain", "y", 1);
	assert_int_equal(harness_pump(&h, 10, 2000), 10);
	for (int i = 0; i < 4; i++) {
		struct response r;
		char want[4];
		snprintf(want, sizeof(want), "%d", i);
		assert_true(harness_response(&h, i, &r));
		expect_body(&r, want);
	}
	buf_free(&burst);
	harness_stop(&h);
}

/* The server gives up on a connection (here: the drain bound passes) while a
 * handler holds its exchange: the exchange stays valid, reports cancelled,
 * and the late answer is dropped without leaking. */
static void test_late_answer_after_connection_closed(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.drain_timeout_ms = 30;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	const char req[] = "POST /async/x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
	harness_send(&h, req, sizeof(req) - 1);
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 1);
	struct exchange *ex = harness_pending[0];
	assert_false(exchange_is_cancelled(ex));
	server_drain(h.server, NULL, NULL);
	for (int i = 0; i < 100 && server_connection_count(h.server); i++)
		uv_run(&h.loop, UV_RUN_ONCE);
	assert_int_equal(server_connection_count(h.server), 0);
	assert_true(exchange_is_cancelled(ex));
	const struct http_request *r = exchange_request(ex);
	assert_int_equal(r->body_len, 3);
	assert_memory_equal(r->body, "abc", 3);
	assert_string_equal(r->path, "/async/x");
	assert_ptr_equal(exchange_loop(ex), &h.loop);
	harness_stop(&h);
	/* after the server itself is gone, too */
	exchange_respond(ex, 200, "text/plain", "late", 4);
}

/* The client closes its socket while the handler works: the answer is
 * written into a dead socket, the connection closes, nothing leaks. */
static void test_answer_after_client_closed(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/async/y"), strlen(REQ("/async/y")));
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 1);
	close(h.client);
	h.client = -1;
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	exchange_respond(harness_pending[0], 200, "text/plain", "late", 4);
	for (int i = 0; i < 100 && server_connection_count(h.server); i++)
		uv_run(&h.loop, UV_RUN_ONCE);
	assert_int_equal(server_connection_count(h.server), 0);
	harness_stop(&h);
}

static int released;

static void count_release(void *arg)
{
	assert_ptr_equal(arg, &released);
	released++;
}

/* A borrowed body larger than the socket buffers goes out uncopied and in
 * full; the release callback runs once, only after the last byte is written.
 * HEAD counts the body but sends none, and releases it at once. */
static void test_borrowed_body_sent_then_released(void **state)
{
	static uint8_t body[3 * 1024 * 1024];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + i / 251);
	released = 0;
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/async/a"), strlen(REQ("/async/a")));
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 1);
	exchange_respond_borrowed(harness_pending[0], 200, "application/octet-stream", body,
	                          sizeof(body), count_release, &released);
	assert_int_equal(released, 0); /* the socketpair cannot hold 3 MB yet */
	assert_int_equal(harness_pump(&h, 1, 5000), 1);
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_int_equal(released, 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(r.content_length, sizeof(body));
	assert_memory_equal(r.body, body, sizeof(body));

	const char head[] = "HEAD /async/b HTTP/1.1\r\nHost: t\r\n\r\n";
	harness_send(&h, head, sizeof(head) - 1);
	harness_pump(&h, 2, 100);
	assert_int_equal(harness_pending_count, 2);
	exchange_respond_borrowed(harness_pending[1], 200, "application/octet-stream", body,
	                          sizeof(body), count_release, &released);
	assert_int_equal(released, 2);
	/* the harness cannot frame a HEAD answer: it is the bare head after the body */
	harness_pump(&h, 2, 200);
	const char *second = (const char *)r.body + sizeof(body);
	size_t rest = h.received.len - (size_t)((const uint8_t *)second - h.received.data);
	assert_true(rest > 4 && strncmp(second, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_memory_equal(second + rest - 4, "\r\n\r\n", 4);
	static const char length[] = "Content-Length: 3145728\r\n";
	assert_non_null(memmem(second, rest, length, sizeof(length) - 1));
	harness_stop(&h);
}

/* An answer to a client that has gone releases the borrowed body at once. */
static void test_borrowed_body_released_when_client_gone(void **state)
{
	released = 0;
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/async/z"), strlen(REQ("/async/z")));
	harness_pump(&h, 1, 100);
	close(h.client);
	h.client = -1;
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	exchange_respond_borrowed(harness_pending[0], 200, "text/plain", "gone", 4, count_release,
	                          &released);
	assert_int_equal(released, 1);
	harness_stop(&h);
}

/* exchange_respond_owned takes the malloc'd body and frees it (the sanitizer
 * build reports a leak or a double free). */
static void test_owned_body(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/async/o"), strlen(REQ("/async/o")));
	harness_pump(&h, 1, 100);
	char *body = strdup("owned body");
	exchange_respond_owned(harness_pending[0], 200, "text/plain", body, strlen(body));
	assert_int_equal(harness_pump(&h, 1, 2000), 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	expect_body(&r, "owned body");
	assert_non_null(strstr(r.head, "Content-Type: text/plain\r\n"));
	harness_stop(&h);
}

struct limit_case {
	const char *what;
	int status;
};

/* Sends one request and expects `status`, Connection: close and the close. */
static void expect_refusal(const struct server_limits *l, const void *req, size_t len, int status)
{
	struct harness h;
	assert_int_equal(harness_start(&h, l), 0);
	harness_connect(&h);
	harness_send(&h, req, len);
	harness_pump(&h, 1, 2000);
	harness_pump(&h, 2, 300); /* give it time to close */
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, status);
	assert_non_null(strstr(r.head, "Connection: close"));
	assert_true(h.peer_closed);
	harness_stop(&h);
}

/* Every kind of malformed request gets its code and a detail that names
 * what was wrong (never llhttp's own words, such as "User callback error"). */
static void test_error_codes_and_details(void **state)
{
	static const struct {
		const char *request;
		int status;
		const char *code;
		const char *detail; /* a part of the detail */
	} cases[] = {
	        {"GET /echo HTTP/1.1\r\n\r\n", 400, "missing_host", "needs a Host"},
	        {"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate_host",
	         "exactly one Host"},
	        {"GET /echo HTTP/2.0\r\nHost: t\r\n\r\n", 505, "version_not_supported",
	         "HTTP/2.0 is not served"},
	        {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "version_not_supported", "HTTP/2"},
	        {"GET /echo HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n", 417,
	         "expectation_failed", "only 100-continue"},
	        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", 413,
	         "payload_too_large", "Content-Length 1000 exceeds the 100 bytes"},
	        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", 400, "bad_request",
	         "Content-Length"},
	        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n",
	         400, "bad_request", "both Content-Length and Transfer-Encoding"},
	        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
	         "bad_request", "chunk size"},
	        {"GET /echo HTTP/1.1\r\nHost: t\r\nBad\x01Name: v\r\n\r\n", 400, "bad_request",
	         "header field"},
	        {"GET echo HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", "request-target"},
	        {"GET /echo HTTX/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", "request line"},
	        {"GET /echo HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400, "bad_request",
	         "must end with HTTP/1.1"},
	        {"GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n", 404, "not_found", "no endpoint"},
	};
	struct server_limits l;
	server_limits_default(&l);
	l.body_bytes = 100;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct harness h;
		assert_int_equal(harness_start(&h, &l), 0);
		harness_connect(&h);
		harness_send(&h, cases[i].request, strlen(cases[i].request));
		harness_pump(&h, 1, 2000);
		struct response r;
		if (!harness_response(&h, 0, &r))
			fail_msg("no response to case %zu", i);
		char body[512] = "";
		snprintf(body, sizeof(body), "%.*s", (int)r.content_length, (const char *)r.body);
		char code[64];
		snprintf(code, sizeof(code), "\"error\":\"%s\"", cases[i].code);
		if (r.status != cases[i].status || !strstr(body, code) ||
		    !strstr(body, cases[i].detail) || strstr(body, "callback"))
			fail_msg("case %zu: %d %s", i, r.status, body);
		harness_stop(&h);
	}
}

static void test_limits(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.header_bytes = 1024;
	l.uri_bytes = 256;
	l.body_bytes = 100;
	struct buf b = {0};

	/* 431: one huge field (RFC 6585 5) */
	buf_printf(&b, "GET /echo HTTP/1.1\r\nHost: t\r\nX: ");
	for (int i = 0; i < 2000; i++)
		buf_append_str(&b, "a");
	buf_append_str(&b, "\r\n\r\n");
	expect_refusal(&l, b.data, b.len, 431);
	/* 431: many small fields adding up */
	buf_reset(&b);
	buf_printf(&b, "GET /echo HTTP/1.1\r\nHost: t\r\n");
	for (int i = 0; i < 200; i++)
		buf_printf(&b, "X-%d: v\r\n", i);
	buf_append_str(&b, "\r\n");
	expect_refusal(&l, b.data, b.len, 431);
	/* 414: request-target beyond limits.uri_bytes */
	buf_reset(&b);
	buf_append_str(&b, "GET /echo?");
	for (int i = 0; i < 300; i++)
		buf_append_str(&b, "q");
	buf_append_str(&b, " HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_refusal(&l, b.data, b.len, 414);
	/* 413: declared length too large, refused before the body arrives */
	const char big_cl[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n";
	expect_refusal(&l, big_cl, sizeof(big_cl) - 1, 413);
	/* 413: a chunked body that grows past the bound */
	buf_reset(&b);
	buf_append_str(&b, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 20; i++)
		buf_append_str(&b, "a\r\n0123456789\r\n");
	buf_append_str(&b, "0\r\n\r\n");
	expect_refusal(&l, b.data, b.len, 413);
	/* exactly at the bound is fine */
	buf_reset(&b);
	buf_append_str(&b, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "z");
	{
		struct harness h;
		assert_int_equal(harness_start(&h, &l), 0);
		harness_connect(&h);
		harness_send(&h, b.data, b.len);
		assert_int_equal(harness_pump(&h, 1, 2000), 1);
		struct response r;
		assert_true(harness_response(&h, 0, &r));
		expect_body(&r, "POST /echo len=100");
		harness_stop(&h);
	}
	/* 400: malformed request line, bad chunk size, missing Host in 1.1 */
	const char bad1[] = "GET /echo HTTP/1.1 extra\r\nHost: t\r\n\r\n";
	expect_refusal(&l, bad1, sizeof(bad1) - 1, 400);
	const char bad2[] = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	                    "zz\r\n";
	expect_refusal(&l, bad2, sizeof(bad2) - 1, 400);
	const char bad3[] = "GET /echo HTTP/1.1\r\n\r\n";
	expect_refusal(&l, bad3, sizeof(bad3) - 1, 400);
	const char bad4[] = "GET /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
	                    "Transfer-Encoding: chunked\r\n\r\n";
	expect_refusal(&l, bad4, sizeof(bad4) - 1, 400);
	/* 417: an expectation other than 100-continue */
	const char bad5[] = "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n";
	expect_refusal(&l, bad5, sizeof(bad5) - 1, 417);
	buf_free(&b);
}

/* A refusal pipelined behind good requests waits its turn. */
static void test_error_after_pipelined_requests(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = REQ("/echo?1") REQ("/echo?2") "BROKEN\r\n\r\n" REQ("/echo?3");
	harness_send(&h, req, sizeof(req) - 1);
	assert_int_equal(harness_pump(&h, 3, 2000), 3);
	harness_pump(&h, 4, 200);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	expect_body(&r, "GET /echo?1 len=0");
	assert_true(harness_response(&h, 1, &r));
	expect_body(&r, "GET /echo?2 len=0");
	assert_true(harness_response(&h, 2, &r));
	assert_int_equal(r.status, 400);
	assert_false(harness_response(&h, 3, &r));
	assert_true(h.peer_closed);
	harness_stop(&h);
}

static void test_request_timeout_408(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.request_timeout_ms = 100;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	const char part[] = "GET /echo HTTP/1.1\r\nHost: t\r\n";
	harness_send(&h, part, sizeof(part) - 1);
	/* trickling bytes does not extend the request timer */
	for (int i = 0; i < 3; i++) {
		harness_pump(&h, 1, 30);
		harness_send(&h, "X: y\r\n", 6);
	}
	assert_int_equal(harness_pump(&h, 1, 2000), 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, 408);
	harness_pump(&h, 2, 500);
	assert_true(h.peer_closed);
	harness_stop(&h);
}

static void test_idle_timeout_closes_silently(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.idle_timeout_ms = 50;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/echo"), strlen(REQ("/echo")));
	assert_int_equal(harness_pump(&h, 1, 1000), 1);
	harness_pump(&h, 2, 1000);
	assert_true(h.peer_closed);
	assert_int_equal(harness_pump(&h, 2, 10), 1); /* no 408 on an idle connection */
	harness_stop(&h);
}

static void test_expect_100_continue(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char head[] = "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	                    "Content-Length: 4\r\n\r\n";
	harness_send(&h, head, sizeof(head) - 1);
	assert_int_equal(harness_pump(&h, 1, 1000), 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, 100);
	harness_send(&h, "body", 4);
	assert_int_equal(harness_pump(&h, 2, 1000), 2);
	assert_true(harness_response(&h, 1, &r));
	expect_body(&r, "POST /echo len=4");
	harness_stop(&h);
}

static void test_head_and_http10(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n";
	harness_send(&h, req, sizeof(req) - 1);
	harness_pump(&h, 0, 200);
	const char *text = (const char *)h.received.data;
	assert_non_null(text);
	assert_non_null(strstr(text, "Content-Length: 16\r\n"));
	const char *end = strstr(text, "\r\n\r\n");
	assert_int_equal((size_t)(end + 4 - text), h.received.len); /* no body */
	harness_stop(&h);

	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req10[] = "GET /echo HTTP/1.0\r\n\r\n" REQ("/echo");
	harness_send(&h, req10, sizeof(req10) - 1);
	harness_pump(&h, 2, 500);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_non_null(strstr(r.head, "Connection: close"));
	assert_false(harness_response(&h, 1, &r)); /* HTTP/1.0 without keep-alive */
	assert_true(h.peer_closed);
	harness_stop(&h);
}

static void test_method_not_allowed_and_not_found(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = "PATCH /echo HTTP/1.1\r\nHost: t\r\n\r\n" REQ("/nothing");
	harness_send(&h, req, sizeof(req) - 1);
	assert_int_equal(harness_pump(&h, 2, 1000), 2);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"));
	assert_true(harness_response(&h, 1, &r));
	assert_int_equal(r.status, 404);
	harness_stop(&h);
}

/* Half-close: the client sends its requests and shuts down its side; the
 * answers still arrive, then the server closes. */
static void test_half_close_still_answers(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = REQ("/echo?a") REQ("/echo?b");
	harness_send(&h, req, sizeof(req) - 1);
	shutdown(h.client, SHUT_WR);
	harness_pump(&h, 3, 1000);
	assert_int_equal(harness_pump(&h, 3, 10), 2);
	assert_true(h.peer_closed);
	harness_stop(&h);
}

/* More pipelined requests than limits.pipeline, then a half-close: the held
 * ones are still parsed and answered before the close. */
static void test_half_close_with_held_requests(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.pipeline_depth = 2;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	struct buf burst = {0};
	for (int i = 0; i < 20; i++)
		buf_printf(&burst, "GET /async/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	harness_send(&h, burst.data, burst.len);
	shutdown(h.client, SHUT_WR);
	for (int answered = 0; answered < 20;) {
		harness_pump(&h, answered + 1, 50);
		assert_true(harness_pending_count <= answered + 2);
		for (; answered < harness_pending_count; answered++)
			exchange_respond(harness_pending[answered], 200, "text/plain", "k", 1);
		if (h.peer_closed)
			break;
	}
	harness_pump(&h, 21, 500);
	assert_int_equal(harness_pump(&h, 21, 10), 20);
	assert_true(h.peer_closed);
	buf_free(&burst);
	harness_stop(&h);
}

/* A client that does not read: output stops growing past
 * limits.write_buffer_bytes (no more requests are parsed), everything is
 * delivered once it reads, and one that never reads is closed after
 * limits.idle_timeout. */
static void test_write_backpressure_and_stalled_reader(void **state)
{
	struct server_limits l;
	server_limits_default(&l);
	l.write_buffer_bytes = 64 * 1024;
	l.idle_timeout_ms = 300;
	struct harness h;
	assert_int_equal(harness_start(&h, &l), 0);
	harness_connect(&h);
	struct buf burst = {0};
	for (int i = 0; i < 100; i++)
		buf_append_str(&burst, "GET /big?100000 HTTP/1.1\r\nHost: t\r\n\r\n");
	harness_send(&h, burst.data, burst.len);
	for (int i = 0; i < 50; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT); /* without reading our end */
	/* socket buffers hold a few hundred KB; the bound stops the rest */
	assert_true(harness_big_count > 0);
	assert_true(harness_big_count < 20);
	assert_int_equal(harness_pump(&h, 100, 30000), 100);
	assert_int_equal(harness_big_count, 100);
	/* now one that never reads: closed once its output made no progress
	 * for the idle timeout, never sooner (the 30 s is only a ceiling for a
	 * loaded machine, not a measurement) */
	harness_send(&h, burst.data, burst.len);
	uint64_t start = uv_hrtime();
	while (server_connection_count(h.server) && uv_hrtime() - start < 30000000000u) {
		uv_run(&h.loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(server_connection_count(h.server), 0);
	uint64_t waited_ms = (uv_hrtime() - start) / 1000000u;
	assert_true(waited_ms >= 250);
	buf_free(&burst);
	harness_stop(&h);
}

/* Drain with several pipelined requests in flight: every one is answered,
 * only the last says Connection: close. */
static void test_drain_answers_every_pipelined_request(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	const char req[] = REQ("/async/1") REQ("/async/2") REQ("/async/3");
	harness_send(&h, req, sizeof(req) - 1);
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 3);
	server_drain(h.server, NULL, NULL);
	exchange_respond(harness_pending[1], 200, "text/plain", "2", 1);
	exchange_respond(harness_pending[0], 200, "text/plain", "1", 1);
	exchange_respond(harness_pending[2], 200, "text/plain", "3", 1);
	assert_int_equal(harness_pump(&h, 3, 1000), 3);
	struct response r;
	for (int i = 0; i < 3; i++) {
		char want[2] = {(char)('1' + i), 0};
		assert_true(harness_response(&h, i, &r));
		expect_body(&r, want);
		assert_true((strstr(r.head, "Connection: close") != NULL) == (i == 2));
	}
	harness_pump(&h, 4, 500);
	assert_true(h.peer_closed);
	harness_stop(&h);
}

/* Drain: a held request is answered with Connection: close, then done. */
static bool drained;
static void on_drained(struct server *s, void *arg)
{
	drained = true;
}

static void test_drain_finishes_in_flight(void **state)
{
	struct harness h;
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_connect(&h);
	harness_send(&h, REQ("/async/1"), strlen(REQ("/async/1")));
	harness_pump(&h, 1, 100);
	assert_int_equal(harness_pending_count, 1);
	drained = false;
	server_drain(h.server, on_drained, NULL);
	assert_false(drained);
	exchange_respond(harness_pending[0], 200, "text/plain", "ok", 2);
	assert_int_equal(harness_pump(&h, 1, 1000), 1);
	struct response r;
	assert_true(harness_response(&h, 0, &r));
	assert_non_null(strstr(r.head, "Connection: close"));
	harness_pump(&h, 2, 1000);
	assert_true(h.peer_closed); /* our FIN, then lingering until the client's */
	close(h.client);
	h.client = -1;
	for (int i = 0; i < 100 && !drained; i++)
		uv_run(&h.loop, UV_RUN_ONCE);
	assert_true(drained);
	harness_stop(&h);
}

int main(void)
{
	log_set_level(getenv("KENSHO_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_simple_get),
	        cmocka_unit_test(test_split_at_every_byte),
	        cmocka_unit_test(test_pipelined_burst_in_order),
	        cmocka_unit_test(test_async_out_of_order_and_pipeline_bound),
	        cmocka_unit_test(test_late_answer_after_connection_closed),
	        cmocka_unit_test(test_answer_after_client_closed),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_error_codes_and_details),
	        cmocka_unit_test(test_error_after_pipelined_requests),
	        cmocka_unit_test(test_request_timeout_408),
	        cmocka_unit_test(test_idle_timeout_closes_silently),
	        cmocka_unit_test(test_expect_100_continue),
	        cmocka_unit_test(test_head_and_http10),
	        cmocka_unit_test(test_method_not_allowed_and_not_found),
	        cmocka_unit_test(test_half_close_still_answers),
	        cmocka_unit_test(test_half_close_with_held_requests),
	        cmocka_unit_test(test_write_backpressure_and_stalled_reader),
	        cmocka_unit_test(test_drain_finishes_in_flight),
	        cmocka_unit_test(test_drain_answers_every_pipelined_request),
	        cmocka_unit_test(test_borrowed_body_sent_then_released),
	        cmocka_unit_test(test_borrowed_body_released_when_client_gone),
	        cmocka_unit_test(test_owned_body),
	};
	if (getenv("KENSHO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KENSHO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
