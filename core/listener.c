/* Listening sockets. Each worker process binds its own socket with
 * SO_REUSEPORT, so the kernel spreads connections across workers.
 *
 * At limits.connections the accept is deferred: libuv stops polling a
 * listener whose connection callback did not accept, so the new connection
 * waits in the kernel backlog (bounded by limits.backlog) while existing ones
 * are served, and is accepted as soon as a slot frees. The same holds while
 * a listener's transport factory says it is busy (TLS handshakes in progress
 * at tls.max_handshakes): the factory calls room() when it has room again. */
#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/server_impl.h"

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		uv_ip4_name(in, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		uv_ip6_name(in6, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%d", host, port);
	} else {
		snprintf(out, len, "local");
	}
}

static void accept_failed_closed_cb(uv_handle_t *h)
{
	conn_discard(h->data);
}

static int listener_accept_one(struct listener *l)
{
	struct server *s = l->server;
	struct conn *c = conn_alloc(s);
	if (!c)
		return -ENOMEM;
	uv_tcp_init(s->loop, &c->io.tcp);
	c->io.handle.data = c;
	int rc = uv_accept((uv_stream_t *)&l->tcp, &c->io.stream);
	if (rc < 0) {
		/* the tcp handle is initialised: free only in its close callback */
		c->state = CONN_CLOSED;
		uv_close(&c->io.handle, accept_failed_closed_cb);
		return rc;
	}
	uv_tcp_nodelay(&c->io.tcp, 1);
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &len) == 0)
		format_peer(&ss, c->peer.address, sizeof(c->peer.address));
	metric_add(s->m_accepted, 1);
	return conn_start(c, l->factory);
}

/* At limits.connections, or while the listener's transport factory is busy
 * (TLS: tls.max_handshakes handshakes in progress), connections wait in the
 * kernel backlog. */
static bool listener_full(const struct listener *l)
{
	const struct server *s = l->server;
	return s->conn_count >= s->limits.max_connections ||
	       (l->factory && l->factory->busy && l->factory->busy(l->factory));
}

static void listener_connection_cb(uv_stream_t *stream, int status)
{
	struct listener *l = stream->data;
	struct server *s = l->server;
	if (status < 0) {
		log_warn("accept on %s failed: %s", l->address, uv_strerror(status));
		return;
	}
	if (listener_full(l)) {
		if (!l->accept_pending)
			metric_add(s->m_deferred, 1);
		l->accept_pending = true;
		return;
	}
	int rc = listener_accept_one(l);
	if (rc < 0)
		log_debug("accept on %s: %s", l->address, uv_strerror(rc));
}

void listener_accept_pending(struct server *s)
{
	for (struct listener *l = s->listeners; l; l = l->next) {
		if (!l->accept_pending || l->closed || listener_full(l))
			continue;
		l->accept_pending = false;
		int rc = listener_accept_one(l);
		if (rc < 0)
			log_debug("deferred accept on %s: %s", l->address, uv_strerror(rc));
	}
}

static void listener_room_cb(void *server)
{
	listener_accept_pending(server);
}

static void listener_closed_cb(uv_handle_t *h)
{
	struct listener *l = h->data;
	struct server *s = l->server;
	free(l);
	server_release_handle(s);
}

/* Binds a TCP socket to HOST:PORT. `shared` sets SO_REUSEPORT, so that the
 * workers of one kenshod can all bind it. Returns the fd or a negative errno
 * (logged). */
static int bind_address(const char *host_port, bool shared)
{
	char host[256], port[16], why[256];
	unsigned port_number;
	if (config_parse_address(host_port, host, sizeof(host), &port_number, why, sizeof(why))) {
		log_error("listen address %s; expected HOST:PORT, [IPv6]:PORT or *:PORT", why);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", port_number);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gai != 0) {
		log_error("listen address %s: %s", host_port, gai_strerror(gai));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -errno : 0;
	int one = 1;
	if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		rc = -errno;
	if (rc == 0 && shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		rc = -errno;
	if (rc == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen))
		rc = -errno;
	freeaddrinfo(ai);
	if (rc < 0) {
		log_error("cannot listen on %s: %s", host_port, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* SO_REUSEPORT lets any process of the same user join a port, so a second
 * kenshod started on an address in use would silently share its traffic.
 * An exclusive bind fails while anyone holds the address; it is released at
 * once, before the workers bind it shared. */
int server_check_address_free(const char *host_port)
{
	int fd = bind_address(host_port, false);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int server_listen(struct server *s, const char *host_port, struct transport_factory *factory)
{
	int fd = bind_address(host_port, true);
	if (fd < 0)
		return fd;
	int rc;
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->server = s;
	l->factory = factory;
	if (factory) {
		factory->room = listener_room_cb;
		factory->room_arg = s;
	}
	snprintf(l->address, sizeof(l->address), "%s", host_port);
	uv_tcp_init(s->loop, &l->tcp);
	l->tcp.data = l;
	s->open_handles++;
	rc = uv_tcp_open(&l->tcp, fd);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, s->limits.backlog, listener_connection_cb);
	if (rc < 0) {
		log_error("cannot listen on %s: %s", host_port, uv_strerror(rc));
		if (uv_fileno((uv_handle_t *)&l->tcp, &(uv_os_fd_t){0}) != 0)
			close(fd);
		uv_close((uv_handle_t *)&l->tcp, listener_closed_cb);
		return rc;
	}
	l->next = s->listeners;
	s->listeners = l;
	log_info("listening on %s (%s)", host_port, factory ? "tls" : "http");
	return 0;
}

void listener_close_all(struct server *s)
{
	struct listener *l = s->listeners;
	s->listeners = NULL;
	while (l) {
		struct listener *next = l->next;
		l->closed = true;
		uv_close((uv_handle_t *)&l->tcp, listener_closed_cb);
		l = next;
	}
}
