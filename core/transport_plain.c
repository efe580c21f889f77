/* The plain transport: bytes pass straight between socket and HTTP. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/exchange.h"
#include "core/log.h"
#include "core/proxy_protocol.h"
#include "core/transport.h"

struct plain_transport {
	struct transport super;
	bool reading; /* some bytes arrived already */
};

static int plain_start(struct transport *t)
{
	t->io.established(t->io.conn);
	return 0;
}

static int plain_on_read(struct transport *t, const uint8_t *data, size_t len)
{
	struct plain_transport *p = (struct plain_transport *)t;
	/* A PROXY header here means a balancer was pointed at a listener not
	 * marked for it (server.listen_proxy): refuse it, and say so, rather
	 * than answer its bytes as a malformed request. Six bytes tell it from
	 * any request line ("P" alone could begin POST). */
	if (!p->reading && len >= 6 && proxy_header_suspected(data, len)) {
		log_warn("%s: a PROXY protocol header on a listener without server.listen_proxy; "
		         "connection refused",
		         t->peer ? t->peer->address : "?");
		return -EPROTO;
	}
	p->reading = true;
	return t->io.deliver(t->io.conn, data, len);
}

static int plain_write(struct transport *t, const uint8_t *data, size_t len)
{
	return t->io.send(t->io.conn, data, len);
}

static int plain_shutdown(struct transport *t)
{
	(void)t;
	return 0;
}

static void plain_destroy(struct transport *t)
{
	free(t);
}

static const struct transport_ops plain_ops = {
        .start = plain_start,
        .on_read = plain_on_read,
        .write = plain_write,
        .shutdown = plain_shutdown,
        .destroy = plain_destroy,
};

struct transport *transport_plain_new(const struct transport_io *io, struct peer_info *peer)
{
	struct plain_transport *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	struct transport *t = &p->super;
	t->ops = &plain_ops;
	t->io = *io;
	t->peer = peer;
	return t;
}
