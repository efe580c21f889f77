/* The plain transport: bytes pass straight between socket and HTTP. */
#include <stdlib.h>

#include "core/transport.h"

static int plain_start(struct transport *t)
{
	t->io.established(t->io.conn);
	return 0;
}

static int plain_on_read(struct transport *t, const uint8_t *data, size_t len)
{
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
	struct transport *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ops = &plain_ops;
	t->io = *io;
	t->peer = peer;
	return t;
}
