/* The handler-facing side of kensho's HTTP server: one request and its
 * response (an "exchange"), handlers, and the router.
 *
 * A handler sees a parsed request and answers through the exchange. It never
 * sees the socket, llhttp or TLS. It may answer at once, or later from a libuv
 * callback (after work on the thread pool): the connection keeps responses in
 * request order (pipelining) and holds later responses until earlier ones are
 * answered.
 *
 * Lifetime: the exchange and everything reachable from it (request fields,
 * body, headers) stay valid until exchange_respond*() is called. If the client
 * goes away while a handler is still working, the exchange stays valid and the
 * late response is silently discarded; exchange_is_cancelled() tells a handler
 * it may skip the work. A handler must answer every exchange exactly once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/http_errors.h"
#include "core/role_set.h"

struct exchange;
struct buf;

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET = 1 << 0,
	HTTP_METHOD_HEAD = 1 << 1,
	HTTP_METHOD_POST = 1 << 2,
	HTTP_METHOD_PUT = 1 << 3,
	HTTP_METHOD_DELETE = 1 << 4,
	HTTP_METHOD_OPTIONS = 1 << 5,
};

struct http_header {
	const char *name; /**< as received; compare case-insensitively */
	size_t name_len;
	const char *value; /**< surrounding whitespace trimmed */
	size_t value_len;
};

/** Who is on the other end, as far as the transport could tell. */
struct peer_info {
	char address[64];        /**< "127.0.0.1:5555" or "[::1]:5555" */
	char via[64];            /**< the load balancer that sent a PROXY header, "" if none */
	bool tls;                /**< arrived over TLS */
	bool client_cert;        /**< a client certificate was presented and verified */
	char subject[256];       /**< client certificate subject DN, "" if none */
	uint8_t spki_sha256[32]; /**< SHA-256 of the client cert's SubjectPublicKeyInfo */
	core_role_set roles;     /**< granted by the transport (the TLS policy) */
};

struct http_request {
	enum http_method method;
	const char *method_name; /**< e.g. "GET", NUL-terminated */
	const char *target;      /**< request-target as received, NUL-terminated */
	size_t target_len;
	const char *path; /**< target up to '?', NUL-terminated, not decoded */
	size_t path_len;
	const char *query; /**< after '?', NUL-terminated, "" if none */
	const struct http_header *headers;
	size_t header_count;
	const uint8_t *body; /**< whole body (de-chunked); NULL if none */
	size_t body_len;
	int http_minor; /**< 0 or 1 (HTTP/1.x) */
	const struct peer_info *peer;
	uint64_t received_ns; /**< uv_hrtime() when the request head completed */
};

/** A handler: embed it as `super` in a struct holding the handler's state. */
struct handler {
	/** Route label for metrics and the access log, e.g. "ocsp". */
	const char *name;
	/** Handles one request. Must eventually call exchange_respond*() once. */
	void (*on_request)(struct handler *self, struct exchange *ex);
	/** Optional: answers a caller the route refused (see router_set_access)
	 * in the protocol's own form; NULL: 403 {"error":"forbidden",...}. */
	void (*on_forbidden)(struct handler *self, struct exchange *ex, const char *detail);
};

/** The request of this exchange. */
const struct http_request *exchange_request(const struct exchange *ex);
/** The loop the exchange runs on (for uv_queue_work, timers). */
uv_loop_t *exchange_loop(const struct exchange *ex);
/** True once the client has gone and any response would be discarded. */
bool exchange_is_cancelled(const struct exchange *ex);

/** Looks up a request header (case-insensitive name). Returns the value (not
 * NUL-terminated) and its length in *len, or NULL if absent. */
const char *exchange_header(const struct exchange *ex, const char *name, size_t *len);

/** Adds a response header (copied). Call before exchange_respond*(). Do not
 * set Content-Length, Connection, Date or Transfer-Encoding: the core does. */
void exchange_add_header(struct exchange *ex, const char *name, const char *value);
/** exchange_add_header for a header kensho composed itself from digits,
 * dates and fixed words, with both lengths known (neither needs a NUL): such
 * text holds no CR or LF, so it is not searched for them.
 * Anything taken from a request or the store goes through
 * exchange_add_header. */
void exchange_add_composed_header(struct exchange *ex, const char *name, size_t name_len,
                                  const char *value, size_t value_len);

/** Sends the response: status, Content-Type (NULL for none) and a body that
 * is copied. For HEAD the body is counted in Content-Length but not sent. */
void exchange_respond(struct exchange *ex, int status, const char *content_type, const void *body,
                      size_t body_len);

/** Like exchange_respond but takes ownership of a malloc'd body: it is sent
 * without copying on plain connections and freed once written. */
void exchange_respond_owned(struct exchange *ex, int status, const char *content_type, void *body,
                            size_t body_len);

/** Like exchange_respond but the body is only borrowed (not copied on plain
 * connections): it must stay valid and unchanged until release(arg) is called,
 * exactly once, when the core is done with it (sent, discarded, or at once on a
 * second answer). For a large body shared by many responses, e.g. a
 * reference-counted file image whose release drops one reference. */
void exchange_respond_borrowed(struct exchange *ex, int status, const char *content_type,
                               const void *body, size_t body_len, void (*release)(void *arg),
                               void *arg);

/** This request's id, as sent back in X-Request-Id and written to the
 * access log (for a handler's log lines about it). */
const char *exchange_request_id(const struct exchange *ex);

/** Answers {"error": error, "detail": detail} as application/json; `error`
 * is an HTTP_ERROR_* code (core/http_errors.h), `detail` says in words what
 * was wrong with this request. */
void exchange_respond_error(struct exchange *ex, int status, const char *error, const char *detail);

/** Asks the core to close the connection after this response. */
void exchange_close_after(struct exchange *ex);

/* --- router -------------------------------------------------------------- */

struct router;

/** Creates an empty router. Returns NULL on allocation failure. */
struct router *router_new(void);
/** Frees the router (not the handlers). */
void router_free(struct router *r);

/** A route open to every caller (liveness, readiness, metrics). */
#define ROUTE_OPEN ((core_role_set)0)

/** Routes requests whose path equals `path` (or, when it ends in '/' and is
 * not "/" itself, starts with it; the longest match wins) and whose method
 * is in `methods` (a mask of HTTP_METHOD_*) to `h`, for callers holding
 * every role in `roles` (ROUTE_OPEN: anyone). The router checks
 * the roles before `h` runs, so no handler can forget. A path that matches
 * with another method gets 405 with Allow. Returns 0 or -EINVAL / -ENOMEM / -EEXIST. */
int router_add(struct router *r, const char *path, unsigned methods, core_role_set roles,
               struct handler *h);

/** Decides whether the caller of `ex` holds `roles`. Returns true to let the
 * route's handler run; otherwise it has answered the exchange itself. */
typedef bool (*router_access_fn)(void *arg, struct handler *h, struct exchange *ex,
                                 core_role_set roles);

/** Installs the role check for routes that need roles. Without one, a caller
 * must hold the roles in its peer_info (plain callers hold none). */
void router_set_access(struct router *r, router_access_fn fn, void *arg);

/** Finds the handler for method+path: a guard that checks the route's roles
 * and then runs the handler given to router_add (its name is the same);
 * *allowed gets the methods the path accepts (0 if no route matches).
 * Returns NULL when none applies. */
struct handler *router_match(const struct router *r, enum http_method method, const char *path,
                             size_t path_len, unsigned *allowed);
