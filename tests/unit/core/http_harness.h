/* A kensho server on its own loop with one connection on a socketpair: the
 * test holds the client end and drives the real connection path byte by
 * byte. Shared by the HTTP unit tests and the connection fuzz target. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/server.h"

struct harness {
	uv_loop_t loop;
	struct router *router;
	struct server *server;
	int client; /* our end of the socketpair, non-blocking */
	struct buf received;
	bool peer_closed; /* the server closed its end */
};

/** One parsed response from harness.received. */
struct response {
	int status;
	char head[2048];
	size_t content_length;
	const uint8_t *body;
};

/** Starts a server with limits l (NULL: defaults) and the test routes:
 * /echo (any method: answers "METHOD path?query len=N"), /async/ (holds the
 * exchange in harness_pending for the test to answer), /big?N (N bytes).
 * Returns 0 or -errno. */
int harness_start(struct harness *h, const struct server_limits *l);
/** Adds a connection: returns the client fd (also stored as h->client). */
int harness_connect(struct harness *h);
/** Sends bytes, running the loop while the socket is full. */
void harness_send(struct harness *h, const void *data, size_t len);
/** Runs the loop for up to ms or until `responses` complete responses (or
 * the close) have arrived; returns the number of complete responses. */
int harness_pump(struct harness *h, int responses, int ms);
/** Parses the n-th (0-based) complete response; false if absent. */
bool harness_response(const struct harness *h, int n, struct response *out);
/** Closes the client end, the server and the loop (asserting no handle leaked). */
void harness_stop(struct harness *h);

/** Exchanges held by the /async/ route, in arrival order. */
extern struct exchange *harness_pending[256];
/** How many /async/ exchanges arrived. */
extern int harness_pending_count;
/** How many /big requests were answered. */
extern int harness_big_count;
