/* Session tickets (RFC 5077) that every kenshod process can open.
 *
 * A master secret lives in a file (64 hex digits, owner-only). The key that
 * seals a ticket is derived from it and the time period:
 *   HKDF-SHA256(master, info = "kensho ticket" || period as 8 bytes big-endian)
 * gives 48 bytes, an AES-256-GCM key and a 16-byte key name. Every worker and
 * every machine holding the same file computes the same keys independently,
 * so a ticket issued by one resumes on any other; nothing is coordinated at
 * run time. A ticket opens in the period that sealed it and the next one.
 *
 * Ticket: key name (16) | IV (12) | AES-256-GCM(inner) | tag (16), with the
 * key name as additional data. Inner: version (1) | session start: when the
 * full handshake that established the session ended, seconds since the epoch
 * (8, big-endian) | trust fingerprint (32) | mbedtls_ssl_session_save().
 * A resumed session gets a new ticket with the same start, so the lifetime
 * bounds the whole chain: a client certificate is verified again at least
 * once per lifetime.
 * The trust fingerprint is SHA-256 over the client-certificate trust store in
 * force when the ticket was sealed; a ticket sealed under another trust store
 * does not open, so no session outlives the trust that verified its client. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Named, not included: kenshod's main uses this header for the key file
 * alone and stays free of mbedTLS headers. */
struct mbedtls_ssl_session;

#define TLS_TICKET_MASTER_LEN 32
#define TLS_TICKET_NAME_LEN   16

/** What seals and opens tickets. */
struct tls_ticket_keys {
	uint8_t master[TLS_TICKET_MASTER_LEN]; /**< the shared secret */
	int64_t rotation_s;                    /**< length of a key period, > 0 */
	int64_t lifetime_s;                    /**< how long a ticket is honoured, > 0 */
	uint8_t trust_fp[32];                  /**< SHA-256 of the trust store (zeros: none) */
};

/** Creates `path` with a fresh random master secret (mode 0600) unless it
 * already exists. Returns 0 or a negative errno with a message in err. */
int tls_ticket_key_ensure(const char *path, char *err, size_t err_len);

/** Reads the master secret from `path`, refusing a file that group or others
 * may access (-EPERM) or that is not 64 hex digits (-EINVAL). */
int tls_ticket_key_load(const char *path, uint8_t master[TLS_TICKET_MASTER_LEN], char *err,
                        size_t err_len);

/** Derives the AES-256-GCM key and key name for `period`. Returns 0 or a
 * negative errno. */
int tls_ticket_derive(const uint8_t master[TLS_TICKET_MASTER_LEN], uint64_t period, uint8_t key[32],
                      uint8_t name[TLS_TICKET_NAME_LEN]);

/** Seals `session`, established by a full handshake at `start`, with the key
 * of time `now` (seconds since the epoch) into out[0..cap), drawing the IV
 * from f_rng. Returns 0 with *len set, -ENOSPC (cap is too small), or another
 * negative errno. */
int tls_ticket_seal(const struct tls_ticket_keys *k, int64_t now, int64_t start,
                    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
                    const struct mbedtls_ssl_session *session, uint8_t *out, size_t cap, size_t *len);

/** Opens a ticket from a ClientHello (outside input; decrypted in place)
 * into `session`, and its session start into *start (if not NULL). Returns 0;
 * -ENOKEY for a key name of neither the current
 * nor the previous period; -EBADMSG for a ticket that does not authenticate or
 * whose contents do not parse; -ETIME for a session older than the lifetime; or
 * -EKEYREJECTED for one sealed under another trust store. */
int tls_ticket_open(const struct tls_ticket_keys *k, int64_t now, uint8_t *buf, size_t len,
                    struct mbedtls_ssl_session *session, int64_t *start);
