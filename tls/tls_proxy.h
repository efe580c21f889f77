/* Listeners behind a TLS-terminating load balancer (HAProxy): each
 * connection begins with a PROXY protocol v2 header (core/proxy_protocol.h)
 * from an address in proxy.trusted, naming the client's address and, in
 * PP2_TYPE_SSL, whether the client spoke TLS and sent a certificate that
 * verified. HAProxy 2.6 cannot put a whole certificate in a TLV (its unique
 * id is cut at 127 bytes, its SSL sub-TLVs carry only the CN), so the
 * balancer forwards the verified certificate itself, base64 DER, in the
 * request header TLS_PROXY_CERT_HEADER (deploy/haproxy.cfg), which kenshod
 * reads only on these listeners and only when the PROXY header says a
 * certificate was sent. The certificate then gets its subject, SPKI hash and
 * roles from the TLS factory's trust store and policy, exactly as in a
 * direct handshake (tls_factory_forwarded_client).
 *
 * Refused and logged: a peer outside proxy.trusted (whether it sends a PROXY
 * header or not), a trusted peer without a PROXY v2 header or with a
 * malformed one, a certificate header where the PROXY header announced none
 * or none where it announced one, a second or changed certificate within one
 * connection, and a certificate that tls.trust, tls.policy or tls.crl
 * refuses (403 and close). */
#pragma once
#include <stddef.h>

#include "core/transport.h"

struct tls_factory;
struct tls_proxy_factory;

/** The request header carrying the client certificate (base64 DER), set
 * by the load balancer; compared case-insensitively. */
#define TLS_PROXY_CERT_HEADER "x-kensho-client-cert"

/** A factory for PROXY-protocol listeners, judging certificates with tls's
 * configuration (followed across reloads) and trusting the load balancers
 * in `trusted` ("ADDR[/PREFIX] ..."). Returns 0, or -EINVAL/-ENOMEM with a
 * message in err. */
int tls_proxy_factory_new(struct tls_factory *tls, const char *trusted,
                          struct tls_proxy_factory **out, char *err, size_t err_len);
/** The generic factory a listener calls. */
struct transport_factory *tls_proxy_factory_base(struct tls_proxy_factory *p);
/** What an observer hears about (for metrics), on the loop thread. */
enum tls_proxy_event {
	TLS_PROXY_ACCEPTED = 0, /**< a PROXY header from a trusted balancer was accepted */
	TLS_PROXY_UNTRUSTED,    /**< a peer outside proxy.trusted was refused */
	TLS_PROXY_BAD_HEADER,   /**< a trusted peer sent no, or a malformed, PROXY header */
	TLS_PROXY_CERT_REFUSED, /**< a forwarded certificate was refused */
	TLS_PROXY_EVENTS,
};

/** Calls fn(arg, event) as connections are accepted or refused (NULL: none). */
void tls_proxy_factory_set_observer(struct tls_proxy_factory *p,
                                    void (*fn)(void *arg, enum tls_proxy_event event), void *arg);

/** Frees the factory once every transport it made is gone (NULL is fine). */
void tls_proxy_factory_free(struct tls_proxy_factory *p);
