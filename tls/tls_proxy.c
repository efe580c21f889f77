/* PROXY protocol v2 listeners behind a TLS-terminating load balancer (see
 * tls_proxy.h). */
#include "tls/tls_proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/proxy_protocol.h"
#include "tls/tls.h"

/* Larger than any certificate tls.client_key_max_bits allows (an RSA-8192
 * one is under 3 KiB of DER). */
#define FORWARDED_CERT_MAX 8192

struct tls_proxy_factory {
	struct transport_factory super;
	struct tls_factory *tls;
	struct proxy_trust *trusted;
	void (*observer)(void *arg, enum tls_proxy_event event);
	void *observer_arg;
};

enum proxy_state { PROXY_WAITING, PROXY_OPEN, PROXY_REFUSED };

struct proxy_conn {
	struct transport super;
	struct tls_proxy_factory *factory;
	enum proxy_state state;
	uint8_t head[PROXY_V2_MAX_BYTES];
	size_t head_len;
	bool cert_expected; /* PP2_TYPE_SSL: a certificate was sent and verified */
	char cn[256];       /* PP2_SUBTYPE_SSL_CN, "" if not sent */
	char *cert_text;    /* the header value the peer's identity comes from */
	size_t cert_text_len;
	unsigned generation; /* TLS configuration it was judged under; 0: not yet */
};

static void observe(struct tls_proxy_factory *p, enum tls_proxy_event event)
{
	if (p->observer)
		p->observer(p->observer_arg, event);
}

static int refuse(struct proxy_conn *c, enum tls_proxy_event event, const char *fmt,
                  const char *detail)
{
	observe(c->factory, event);
	char msg[400];
	snprintf(msg, sizeof msg, fmt, detail);
	log_warn("proxy: %s: %s; connection refused", c->super.peer->address, msg);
	c->state = PROXY_REFUSED;
	c->super.io.fail(c->super.io.conn, -EACCES, msg);
	return -EACCES;
}

static int proxy_start(struct transport *t)
{
	(void)t;
	return 0;
}

/* The PROXY header names who the balancer served: the client's address,
 * whether it spoke TLS, and whether it sent a certificate that verified. */
static int accept_header(struct proxy_conn *c, const struct proxy_v2_header *h)
{
	struct peer_info *peer = c->super.peer;
	snprintf(peer->via, sizeof peer->via, "%s", peer->address);
	if (!h->local)
		snprintf(peer->address, sizeof peer->address, "%s", h->source);
	/* LOCAL is the balancer's own connection (a health check): its TLVs
	 * describe no client (proxy-protocol.txt §2.2). */
	peer->tls = !h->local && h->has_ssl && (h->ssl_client & PROXY_V2_CLIENT_SSL);
	peer->client_cert = false;
	peer->subject[0] = '\0';
	peer->roles = peer->tls ? tls_factory_anonymous_roles(c->factory->tls) : 0;
	c->cert_expected = peer->tls && (h->ssl_client &
	                                 (PROXY_V2_CLIENT_CERT_CONN | PROXY_V2_CLIENT_CERT_SESS));
	snprintf(c->cn, sizeof c->cn, "%s", h->ssl_cn);
	if (c->cert_expected && h->ssl_verify != 0) {
		char v[16];
		snprintf(v, sizeof v, "%u", (unsigned)h->ssl_verify);
		return refuse(c, TLS_PROXY_CERT_REFUSED,
		              "the load balancer passed a client certificate that did not verify "
		              "(verify result %s)",
		              v);
	}
	if (peer->tls && !c->cert_expected &&
	    tls_factory_client_auth(c->factory->tls) == TLS_CLIENT_AUTH_REQUIRED)
		return refuse(c, TLS_PROXY_CERT_REFUSED, "%s",
		              "no client certificate, and tls.client_auth is required");
	c->state = PROXY_OPEN;
	observe(c->factory, TLS_PROXY_ACCEPTED);
	log_debug("proxy: %s via %s: %s%s", peer->address, peer->via, peer->tls ? "TLS" : "plain",
	          c->cert_expected ? " with a client certificate" : "");
	c->super.io.established(c->super.io.conn);
	return 0;
}

static int proxy_on_read(struct transport *t, const uint8_t *data, size_t len)
{
	struct proxy_conn *c = (struct proxy_conn *)t;
	if (c->state == PROXY_OPEN)
		return t->io.deliver(t->io.conn, data, len);
	if (c->state == PROXY_REFUSED || len == 0)
		return c->state == PROXY_REFUSED ? -EACCES : 0;
	if (!proxy_trust_allows(c->factory->trusted, t->peer->address))
		return refuse(
		        c, TLS_PROXY_UNTRUSTED, "%s",
		        proxy_header_suspected(data, len)
		                ? "sent a PROXY header but is not in proxy.trusted"
		                : "is not in proxy.trusted (this listener serves load balancers "
		                  "only)");
	size_t take = sizeof c->head - c->head_len;
	if (take > len)
		take = len;
	memcpy(c->head + c->head_len, data, take);
	c->head_len += take;
	struct proxy_v2_header h;
	char why[160];
	int n = proxy_v2_parse(c->head, c->head_len, &h, why, sizeof why);
	if (n == -EAGAIN)
		return 0;
	if (n == -EPROTO)
		return refuse(c, TLS_PROXY_BAD_HEADER, "%s",
		              "a trusted load balancer sent no PROXY protocol v2 header");
	if (n < 0)
		return refuse(c, TLS_PROXY_BAD_HEADER, "malformed PROXY header: %s", why);
	int rc = accept_header(c, &h);
	if (rc < 0)
		return rc;
	/* The client's first bytes: what followed the header in `head`, then
	 * the rest of this read. */
	if ((size_t)n < c->head_len)
		rc = t->io.deliver(t->io.conn, c->head + n, c->head_len - (size_t)n);
	if (rc == 0 && take < len)
		rc = t->io.deliver(t->io.conn, data + take, len - take);
	return rc;
}

static int proxy_write(struct transport *t, const uint8_t *data, size_t len)
{
	return t->io.send(t->io.conn, data, len);
}

static int proxy_shutdown(struct transport *t)
{
	(void)t;
	return 0;
}

static void proxy_destroy(struct transport *t)
{
	struct proxy_conn *c = (struct proxy_conn *)t;
	free(c->cert_text);
	free(c);
}

static const struct http_header *find_cert_header(const struct http_request *req, size_t *count)
{
	const struct http_header *found = NULL;
	*count = 0;
	for (size_t i = 0; i < req->header_count; i++) {
		const struct http_header *hd = &req->headers[i];
		if (hd->name_len == sizeof TLS_PROXY_CERT_HEADER - 1 &&
		    strncasecmp(hd->name, TLS_PROXY_CERT_HEADER, hd->name_len) == 0) {
			found = hd;
			(*count)++;
		}
	}
	return found;
}

/* Judges the forwarded certificate under the TLS configuration in force.
 * The same header on the same connection under the same configuration is
 * judged once. */
static int judge_certificate(struct proxy_conn *c, const struct http_header *hd, char *why,
                             size_t why_len)
{
	struct peer_info *peer = c->super.peer;
	unsigned generation = tls_factory_generation(c->factory->tls);
	if (c->cert_text) {
		bool same = hd->value_len == c->cert_text_len &&
		            memcmp(hd->value, c->cert_text, hd->value_len) == 0;
		if (!same) {
			snprintf(why, why_len,
			         "the forwarded client certificate changed within one connection");
			log_warn("proxy: %s via %s: %s", peer->address, peer->via, why);
			return -EACCES;
		}
		if (generation == c->generation)
			return 0;
	} else {
		if (hd->value_len > FORWARDED_CERT_MAX * 4 / 3 + 4) {
			snprintf(why, why_len, "the forwarded client certificate is too long");
			return -EACCES;
		}
		c->cert_text = malloc(hd->value_len + 1);
		if (!c->cert_text)
			return -ENOMEM;
		memcpy(c->cert_text, hd->value, hd->value_len);
		c->cert_text[hd->value_len] = '\0';
		c->cert_text_len = hd->value_len;
	}
	uint8_t *der = malloc(hd->value_len);
	if (!der)
		return -ENOMEM;
	int n = base64_decode_any(c->cert_text, c->cert_text_len, der, hd->value_len);
	int rc;
	if (n <= 0) {
		snprintf(why, why_len, "the forwarded client certificate is not base64");
		rc = -EACCES;
	} else {
		rc = tls_factory_forwarded_client(c->factory->tls, der, (size_t)n, c->cn, peer, why,
		                                  why_len);
	}
	free(der);
	c->generation = generation;
	if (rc < 0) {
		log_info("proxy: %s via %s: %s", peer->address, peer->via, why);
		return -EACCES;
	}
	return 0;
}

static int proxy_request_head(struct transport *t, const struct http_request *req, char *why,
                              size_t why_len)
{
	struct proxy_conn *c = (struct proxy_conn *)t;
	struct peer_info *peer = t->peer;
	size_t count;
	const struct http_header *hd = find_cert_header(req, &count);
	if (count > 1) {
		snprintf(why, why_len, "more than one %s header", TLS_PROXY_CERT_HEADER);
		return -EACCES;
	}
	if (!c->cert_expected) {
		if (hd) {
			/* The balancer must remove the header from what clients send;
			 * one here means it did not. */
			snprintf(why, why_len,
			         "a client certificate header on a connection whose PROXY header "
			         "announced no certificate");
			log_warn("proxy: %s via %s: %s (check the load balancer's del-header)",
			         peer->address, peer->via, why);
			return -EACCES;
		}
		if (peer->tls)
			peer->roles = tls_factory_anonymous_roles(c->factory->tls);
		return 0;
	}
	if (!hd) {
		snprintf(why, why_len,
		         "the load balancer announced a client certificate but did not forward it "
		         "(%s)",
		         TLS_PROXY_CERT_HEADER);
		log_warn("proxy: %s via %s: %s", peer->address, peer->via, why);
		return -EACCES;
	}
	return judge_certificate(c, hd, why, why_len);
}

/* Every refusal of a request head is a refused (or missing, or unannounced)
 * certificate. */
static int proxy_request_head_counted(struct transport *t, const struct http_request *req,
                                      char *why, size_t why_len)
{
	int rc = proxy_request_head(t, req, why, why_len);
	if (rc < 0)
		observe(((struct proxy_conn *)t)->factory, TLS_PROXY_CERT_REFUSED);
	return rc;
}

static const struct transport_ops proxy_ops = {
        .start = proxy_start,
        .on_read = proxy_on_read,
        .write = proxy_write,
        .shutdown = proxy_shutdown,
        .destroy = proxy_destroy,
        .request_head = proxy_request_head_counted,
};

static struct transport *factory_create(struct transport_factory *self,
                                        const struct transport_io *io, struct peer_info *peer)
{
	struct proxy_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->super.ops = &proxy_ops;
	c->super.io = *io;
	c->super.peer = peer;
	c->factory = (struct tls_proxy_factory *)self;
	return &c->super;
}

int tls_proxy_factory_new(struct tls_factory *tls, const char *trusted,
                          struct tls_proxy_factory **out, char *err, size_t err_len)
{
	struct tls_proxy_factory *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	char why[200];
	int rc = proxy_trust_parse(trusted ? trusted : "", &p->trusted, why, sizeof why);
	if (rc < 0) {
		snprintf(err, err_len, "proxy.trusted: %s", rc == -ENOMEM ? "out of memory" : why);
		free(p);
		return rc;
	}
	p->super.create = factory_create;
	p->tls = tls;
	*out = p;
	return 0;
}

void tls_proxy_factory_set_observer(struct tls_proxy_factory *p,
                                    void (*fn)(void *arg, enum tls_proxy_event event), void *arg)
{
	p->observer = fn;
	p->observer_arg = arg;
}

struct transport_factory *tls_proxy_factory_base(struct tls_proxy_factory *p)
{
	return &p->super;
}

void tls_proxy_factory_free(struct tls_proxy_factory *p)
{
	if (!p)
		return;
	proxy_trust_free(p->trusted);
	free(p);
}
