/* kenshod's HTTP/1.1 server on one libuv loop: listeners, connections and
 * their limits. The daemon creates one per worker process; tests and fuzz
 * targets create one on their own loop and hand it a socketpair.
 *
 * Every limit answers as RFC 9110/9112 prescribe: header section too large
 * 431, request-target too long 414, content too large 413 (also for chunked
 * bodies that grow past the bound), slow request 408, malformed 400; each of
 * these closes the connection after the response. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct config;
struct router;
struct server;
struct transport_factory;

/** Bounds of one server; every field has a config key (docs/configuration.md). */
struct server_limits {
	size_t header_bytes;       /**< limits.header_bytes: request line + fields (431) */
	size_t uri_bytes;          /**< limits.uri_bytes: request-target (414) */
	size_t body_bytes;         /**< limits.body_bytes: de-chunked content (413) */
	unsigned max_connections;  /**< limits.connections: beyond it, accepts wait */
	unsigned pipeline_depth;   /**< limits.pipeline: requests in flight per connection */
	size_t write_buffer_bytes; /**< limits.write_buffer_bytes: unsent output per connection */
	uint64_t idle_timeout_ms;  /**< limits.idle_timeout: keep-alive idle or stalled writes */
	uint64_t
	        request_timeout_ms; /**< limits.request_timeout: first byte to full request (408) */
	uint64_t linger_timeout_ms; /**< limits.linger_timeout: read-and-discard after closing */
	uint64_t drain_timeout_ms;  /**< limits.drain_timeout: SIGTERM to forced close */
	int backlog;                /**< limits.backlog: listen(2) queue */
};

/** Fills in the defaults. */
void server_limits_default(struct server_limits *l);
/** Overlays limits.* keys from a configuration onto l. */
void server_limits_from_config(struct server_limits *l, const struct config *c);

/** Creates a server on loop dispatching to router (both outlive it). NULL on ENOMEM. */
struct server *server_new(uv_loop_t *loop, struct router *router, const struct server_limits *l);

/** Turns the JSON access log (one line per request on stdout) on or off. */
void server_set_access_log(struct server *s, bool enabled);
/** Applies new limits to the running server (a reload): every request and
 * connection checked from now on uses them; limits.backlog and
 * limits.drain_timeout keep their values from start. */
void server_set_limits(struct server *s, const struct server_limits *l);

/** Listens on "HOST:PORT" ("[v6]:PORT" for IPv6) with SO_REUSEPORT so worker
 * processes share the port. factory NULL means plain HTTP; otherwise every
 * connection gets factory->create() as its transport (TLS). Returns 0 or a
 * negative errno, with the reason logged. */
/** Fails (-EADDRINUSE, logged as "cannot listen on ...") when another
 * process holds HOST:PORT, even with SO_REUSEPORT; kenshod calls it for every
 * address before its workers bind them shared. */
int server_check_address_free(const char *host_port);
int server_listen(struct server *s, const char *host_port, struct transport_factory *factory);

/** Serves one already-connected stream socket (a socketpair end in tests and
 * fuzzing; the server owns fd afterwards). Returns 0 or a negative errno. */
int server_adopt_fd(struct server *s, int fd, struct transport_factory *factory);

/** Open connections right now. */
unsigned server_connection_count(const struct server *s);

/** Stops accepting, closes idle connections, lets in-flight requests finish
 * (answering them with Connection: close) and force-closes what is left after
 * limits.drain_timeout. done runs once when no connection is left. */
void server_drain(struct server *s, void (*done)(struct server *s, void *arg), void *arg);

/** True once server_drain was called. */
bool server_is_draining(const struct server *s);

/** A readiness check (core/readiness.h) that fails while draining. */
int server_readiness_check(void *server, char *why, size_t why_len);

/** Closes everything immediately and frees the server once libuv has closed
 * its handles (run the loop afterwards). Pending exchanges are cancelled. */
void server_close(struct server *s);
