/* The layer between a connection's socket and its HTTP parser.
 *
 * The connection owns the socket and does all I/O with libuv. It hands every
 * chunk of bytes it reads to its transport, and the transport hands plaintext
 * up (deliver) and ciphertext down (send). The plain transport passes bytes
 * straight through; the TLS transport (tls/) runs mbedTLS over in-memory
 * buffers. Neither ever touches the socket or blocks, and HTTP code never knows
 * which one it is talking through. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;
struct peer_info;
struct transport;

/** What a transport may ask of the connection beneath and above it. */
struct transport_io {
	void *conn;
	/** Queues bytes for the socket (copied). Returns 0 or a negative errno. */
	int (*send)(void *conn, const uint8_t *data, size_t len);
	/** Delivers plaintext to the HTTP layer. Returns 0, or a negative errno
	 * after which the transport must stop delivering. */
	int (*deliver)(void *conn, const uint8_t *data, size_t len);
	/** Reports that the handshake finished; peer fields (tls, client_cert,
	 * subject, spki_sha256, roles) have been filled in. Plain transports call
	 * it at start. */
	void (*established)(void *conn);
	/** Reports a fatal transport error (bad record, failed handshake); the
	 * connection closes after flushing what was sent. */
	void (*fail)(void *conn, int err, const char *why);
};

struct transport_ops {
	/** Starts the transport (a TLS server waits for the ClientHello). */
	int (*start)(struct transport *t);
	/** Feeds bytes read from the socket. Returns 0 or a negative errno. */
	int (*on_read)(struct transport *t, const uint8_t *data, size_t len);
	/** Sends application bytes (encrypting if needed). */
	int (*write)(struct transport *t, const uint8_t *data, size_t len);
	/** Begins an orderly close (TLS close_notify); plain: nothing to do. */
	int (*shutdown)(struct transport *t);
	/** Frees the transport. */
	void (*destroy)(struct transport *t);
	/** Optional (NULL: nothing to do). Sees each request's header fields
	 * before it is dispatched and may update the peer from them: a trusted
	 * load balancer's forwarded client certificate (tls/tls_proxy.c).
	 * Returns 0, or a negative errno with a sentence for the client in why:
	 * the request gets 403 and the connection closes. */
	int (*request_head)(struct transport *t, const struct http_request *req, char *why,
	                    size_t why_len);
};

struct transport {
	const struct transport_ops *ops;
	struct transport_io io;
	struct peer_info *peer; /**< owned by the connection, filled by the transport */
};

/** Creates a plain (pass-through) transport. Returns NULL on ENOMEM. */
struct transport *transport_plain_new(const struct transport_io *io, struct peer_info *peer);

/** A factory for a listener's transports: plain listeners have none, TLS
 * listeners get one from tls/ (owning certificates, policy and tickets). */
struct transport_factory {
	struct transport *(*create)(struct transport_factory *self, const struct transport_io *io,
	                            struct peer_info *peer);
	/** Optional (NULL: never). True while the factory wants no new
	 * connections (TLS: tls.max_handshakes handshakes in progress); the
	 * listener then leaves them in the kernel backlog. */
	bool (*busy)(struct transport_factory *self);
	/** Set by the server when it listens with this factory: the factory
	 * calls room(room_arg) when it stops being busy. */
	void (*room)(void *room_arg);
	void *room_arg;
};
