/* The TLS transport (core/transport.h) on mbedTLS 2.28, and the per-listener
 * factory that owns its configuration.
 *
 * Protocol choices (see docs/tls.md): TLS 1.2 only; ECDHE key exchange with
 * AES-GCM or ChaCha20-Poly1305 (RFC 7905) only; an RSA or ECDSA server
 * certificate; session tickets (RFC 5077) whose keys rotate; renegotiation
 * off. Handshakes advance only when bytes arrive, so the loop never waits on a
 * peer; a handshake that has not finished within the configured time fails.
 *
 * Reload: tls_factory_reload() builds a complete new configuration from the
 * files and swaps it in only if every file loaded. Each connection holds a
 * reference to the configuration it started with, so open connections and
 * requests in flight are untouched; new connections get the new one.
 *
 * Session tickets are sealed with keys derived from a shared secret in a file
 * and the time period (tls/tls_ticket.h), so a ticket from any worker, any
 * machine holding the same file, or any earlier configuration generation
 * resumes here, for its lifetime and within two rotation periods.
 *
 * Handshake steps never run on the loop (with a loop): each step of a
 * connection's handshake (mbedtls_ssl_handshake_step until it needs more
 * bytes: signatures, key exchange, client-certificate checks) runs on the
 * libuv thread pool, one step per connection at a time; the loop only moves
 * ciphertext in and out. At most max_handshakes handshakes are in progress;
 * beyond that the factory reports busy and listeners leave connections in
 * the kernel backlog. Record I/O after the handshake stays on the loop.
 * Without a loop (unit tests, fuzz targets) steps run in the caller.
 *
 * A factory is used on one loop thread (its pool steps excepted). Create it
 * after fork() (each worker process its own), so random generators are
 * never shared between processes; within one, mbedTLS's locking
 * (MBEDTLS_THREADING_C, on in Debian's build) guards the shared generator. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/role_set.h"
#include "core/transport.h"

struct config;
struct role_table;
struct tls_factory;

enum tls_client_auth {
	TLS_CLIENT_AUTH_NONE = 0, /**< no CertificateRequest */
	TLS_CLIENT_AUTH_OPTIONAL, /**< asked for; if presented it must verify */
	TLS_CLIENT_AUTH_REQUIRED, /**< handshake fails without a verified certificate */
};

/** Where a TLS listener's material lives and how it behaves. Strings are
 * copied by tls_factory_new. */
struct tls_settings {
	const char *cert_file;   /**< PEM server certificate (chain: leaf first) */
	const char *key_file;    /**< PEM/DER private key, owner-only permissions */
	const char *trust_file;  /**< PEM CAs for client certificates; NULL: none */
	const char *policy_file; /**< client-certificate policy; NULL: no roles */
	const char *crl_file;    /**< CRLs of the client CAs (PEM or DER); NULL: none */
	bool crl_optional;       /**< crl_file is a default: a missing file means no CRLs */
	/** The role names the policy may use (tls_policy.h); not copied, it
	 * must outlive the factory. kenshod: handlers/roles.h's table. */
	const struct role_table *roles;
	enum tls_client_auth client_auth;
	int64_t handshake_timeout_ms; /**< 0: no limit */
	int64_t ticket_lifetime_s;    /**< how long a ticket resumes; 0: no tickets */
	const char *ticket_key_file;  /**< shared ticket secret; NULL: this factory's own */
	int64_t ticket_rotation_s;    /**< ticket key period; 0: 12 hours */
	int client_key_max_bits;      /**< largest RSA client key accepted; 0: 4096 */
	/** Handshakes in progress at once (tls.max_handshakes); beyond it the
	 * factory is busy and listeners leave connections in the backlog.
	 * 0: TLS_DEFAULT_MAX_HANDSHAKES. */
	unsigned max_handshakes;
};

#define TLS_DEFAULT_MAX_HANDSHAKES 128

/** Client-certificate keys outside these bounds are refused before mbedTLS
 * uses them (docs/tls.md, Handshake cost). */
#define TLS_CLIENT_RSA_MIN_BITS      2048
#define TLS_CLIENT_RSA_MAX_BITS      4096 /**< default of tls.client_key_max_bits */
#define TLS_CLIENT_RSA_LIMIT_BITS    8192 /**< highest tls.client_key_max_bits */
#define TLS_CLIENT_RSA_EXPONENT_BITS 32   /**< e < 2^32 (65537 is the usual) */
#define TLS_CLIENT_CHAIN_MAX         8    /**< certificates in a client's Certificate */

/** Fills settings from kenshod's configuration (tls.cert, tls.key,
 * tls.trust, tls.policy, tls.crl, tls.client_auth, tls.handshake_timeout,
 * tls.ticket_lifetime, tls.ticket_key, tls.ticket_rotation,
 * tls.client_key_max_bits, tls.max_handshakes), defaulting files to DIR/tls/...
 * (docs/tls.md). Returned strings point into config or into `storage` (size storage_len). Returns 0
 * or -EINVAL with a message in err. */
int tls_settings_from_config(const struct config *c, const char *data_dir, struct tls_settings *out,
                             char *storage, size_t storage_len, char *err, size_t err_len);

/** Parses "none", "optional" or "required". */
int tls_client_auth_parse(const char *text, enum tls_client_auth *out);

/** Loads the files and creates a factory. `loop` runs the handshake timeout
 * sweep and the pool steps (NULL: no timeouts, steps run in the caller). On failure returns
 * -errno/-EINVAL with a message for the operator in err. */
int tls_factory_new(uv_loop_t *loop, const struct tls_settings *s, struct tls_factory **out,
                    char *err, size_t err_len);

/** The generic factory a listener calls to create connections' transports. */
struct transport_factory *tls_factory_base(struct tls_factory *f);

/** Re-reads certificate, key, trust store and policy. On any error the old
 * configuration stays in force, err says which file failed and why, and a
 * negative errno is returned. On success the roles of every open
 * connection are evaluated again under the new policy and trust store, so a
 * role withdrawn (or a certificate denied) takes effect on live keep-alive
 * connections too, from their next request. */
int tls_factory_reload(struct tls_factory *f, char *err, size_t err_len);

/** Fails every handshake that started more than the timeout before now_ms
 * (uv_now scale). The factory's timer calls it; tests may too. Returns the
 * number of connections failed. */
unsigned tls_factory_expire_handshakes(struct tls_factory *f, uint64_t now_ms);

/** A client certificate (DER) that a trusted TLS-terminating load balancer
 * verified and forwarded (tls/tls_proxy.c): fills peer's client_cert,
 * subject, SPKI hash and roles exactly as a direct handshake with it would,
 * under the configuration in force (tls.trust: the certificate must be
 * signed by one of its CAs and be within its validity; tls.policy's rules
 * and deny rules; tls.crl). With tls.client_auth = none it gets the
 * anonymous roles. expected_cn (NULL or "": none), the CN the balancer
 * named in the PROXY header, must be the certificate's. Returns 0, or
 * -EACCES / -EINVAL with the refusal in why (peer then has no roles). */
int tls_factory_forwarded_client(struct tls_factory *f, const uint8_t *der, size_t len,
                                 const char *expected_cn, struct peer_info *peer, char *why,
                                 size_t why_len);
/** Roles of a TLS caller without a certificate, under the policy in force. */
core_role_set tls_factory_anonymous_roles(const struct tls_factory *f);
/** tls.client_auth in force. */
enum tls_client_auth tls_factory_client_auth(const struct tls_factory *f);
/** The configuration generation in force (1 at start, +1 per reload). */
unsigned tls_factory_generation(const struct tls_factory *f);

/** Replaces the wall clock (seconds since the epoch) that picks ticket key
 * periods and ticket ages; for tests. NULL restores time(). */
void tls_factory_set_clock(struct tls_factory *f, int64_t (*now_s)(void));

/** Counters for metrics. */
struct tls_stats {
	uint64_t handshakes;           /**< completed */
	uint64_t handshake_failures;   /**< failed, timed out or refused */
	uint64_t resumed;              /**< completed by session ticket */
	uint64_t reloads;              /**< successful reloads */
	uint64_t reload_failures;      /**< refused reloads */
	uint64_t client_cert_refused;  /**< client certificates refused before CertificateVerify */
	uint64_t client_cert_verifies; /**< CertificateVerify messages checked with a client key */
	unsigned generation;           /**< configuration in force, 1 at start */
	/** mbedtls_ssl_handshake_step calls made on the loop's thread (only
	 * without a loop, as in the unit tests) and on the thread pool. */
	uint64_t steps_on_loop;
	uint64_t steps_on_pool;
	unsigned in_progress;  /**< handshakes holding a tls.max_handshakes slot */
	uint64_t busy;         /**< times the factory reached tls.max_handshakes */
	unsigned steps_queued; /**< pool steps queued or running now */
};

/** Copies the factory's counters. */
void tls_factory_stats(const struct tls_factory *f, struct tls_stats *out);

/** What an observer hears about (for metrics). */
enum tls_event {
	TLS_EVENT_HANDSHAKE,         /**< a full handshake completed */
	TLS_EVENT_RESUMED,           /**< a handshake completed by session ticket */
	TLS_EVENT_HANDSHAKE_FAILED,  /**< refused, bad record or bad certificate */
	TLS_EVENT_HANDSHAKE_TIMEOUT, /**< tls.handshake_timeout passed */
	TLS_EVENT_STEP_LOOP,         /**< a handshake step ran on the loop's thread */
	TLS_EVENT_STEP_POOL,         /**< a handshake step ran on the thread pool */
};

/** Calls fn(arg, event) on the loop thread as handshakes end (NULL: none),
 * so kenshod can count them in /metrics without tls/ knowing metrics. */
void tls_factory_set_observer(struct tls_factory *f, void (*fn)(void *arg, enum tls_event event),
                              void *arg);

/** Frees the factory once every transport it created has been destroyed
 * (call at shutdown). With a loop, memory is released in the timer's close
 * callback, so the loop must run once more. */
void tls_factory_free(struct tls_factory *f);

struct mbedtls_x509_crt;

/** Checks the body of a client's TLS 1.2 Certificate message (RFC 5246
 * §7.4.2, after the 4-byte handshake header) before mbedTLS spends any
 * public-key operation on it: at most TLS_CLIENT_CHAIN_MAX certificates, each
 * with an RSA key of TLS_CLIENT_RSA_MIN_BITS..max_rsa_bits bits and a public
 * exponent below 2^32, or an EC key on P-256 or P-384. Certificates
 * byte-identical to one in `trusted` (a list; NULL: none) are not checked.
 * Returns 0 when acceptable (or so malformed that mbedTLS refuses it without
 * public-key work), or -EKEYREJECTED / -EMSGSIZE with the reason in why. */
int tls_client_chain_check(const uint8_t *body, size_t len, int max_rsa_bits,
                           const struct mbedtls_x509_crt *trusted, char *why, size_t why_len);
