/* kensho-bench's engine: N HTTP/1.1 keep-alive connections on one libuv loop
 * driving a workload closed-loop (each connection sends its next request when
 * the last answer arrived) or open-loop (requests are due at a constant rate
 * whether or not answers keep up; latency runs from the moment a request was
 * due, not from when a connection was free to send it, so queueing delay is
 * not hidden — the coordinated-omission correction).
 *
 * Every run is bounded by a duration and optionally a request count, and stops
 * by itself; answers still outstanding at the end are counted, not waited for
 * beyond a short grace period. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/histogram.h"

struct buf;
struct tls_client_config;

/** One request to send: filled by the workload. Pointers stay valid until
 * the workload is asked for the next request on the same slot. */
struct bench_request {
	const char *method; /**< "GET" or "POST" */
	const char *path;   /**< origin-form target */
	const uint8_t *body;
	size_t body_len;
	const char *content_type; /**< NULL: none */
	bool check;               /**< ask the workload to check this answer */
	uint32_t tag;             /**< workload's own index, handed back to check */
};

/** Where requests come from, and how answers are judged. */
struct bench_workload {
	/** Fills *req for the next request. Returns 0, or -1 to stop the run. */
	int (*next)(struct bench_workload *self, struct bench_request *req);
	/** Judges an answer the workload asked to check (req->check). Returns
	 * true when the answer is right. NULL: any 2xx status is right. */
	bool (*check)(struct bench_workload *self, const struct bench_request *req, int status,
	              const uint8_t *body, size_t body_len);
};

struct bench_options {
	char host[256];
	int port;
	bool tls;
	bool tls_resume;    /**< offer TLS session resumption on reconnect */
	const char *cacert; /**< PEM trust for https (NULL: do not verify) */
	/** The name sent as SNI and checked against the server certificate.
	 * NULL: the chain is verified but no name is checked (mbedTLS 2.28
	 * matches DNS names only, so an IP literal could never match). */
	const char *servername;
	unsigned connections;
	double rate;           /**< open-loop requests/s in total; 0: closed loop */
	double duration_s;     /**< run length (bounded even with max_requests) */
	double warmup_s;       /**< recorded separately, not in the results */
	uint64_t max_requests; /**< 0: only the duration bounds the run */
	bool reconnect_each;   /**< new connection per request (handshake cost) */
	const char *cert;      /**< https client certificate, PEM (NULL: none) */
	const char *key;       /**< its private key; must be owner-only (mode 0600) */
};

struct bench_result {
	struct histogram latency; /**< ns, of measured (post-warm-up) answers */
	/** ns from a request's due time to its sending, open loop: the generator's
	 * own share of `latency` (waiting for its loop or a free connection) */
	struct histogram send_delay;
	/** ns from sending to the answer, open loop: the rest of `latency` */
	struct histogram after_send;
	/** open loop: measured requests that were due while every connection
	 * waited for an answer (their lateness is the server's, queued) */
	uint64_t waited_for_connection;
	uint64_t sent;
	uint64_t completed;
	uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
	uint64_t errors_connect, errors_io, errors_parse, errors_timeout;
	uint64_t checked, check_failed;
	uint64_t bytes_in, bytes_out;
	uint64_t connects;           /**< TCP (and TLS) connections made */
	uint64_t handshakes_resumed; /**< TLS sessions resumed */
	double elapsed_s;            /**< measured interval */
};

/** Runs the benchmark to completion. Returns 0, or a negative errno when it
 * could not start (e.g. the host did not resolve); *result is filled. */
int loadgen_run(const struct bench_options *opts, struct bench_workload *workload,
                struct bench_result *result);

/** Writes the result as one JSON object (latency in microseconds). */
void loadgen_result_json(const struct bench_options *opts, const char *label,
                         const struct bench_result *r, struct buf *out);
