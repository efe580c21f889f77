/* Fuzz target tls_ticket: the session ticket parser (tls/tls_ticket.c), which
 * reads a ticket straight out of a client's ClientHello.
 *
 * Input: mode (1) | now, seconds since the epoch (8, big-endian) | trust
 * fingerprint (32) | body. The master secret is fixed (bytes 0..31; seeds are
 * real tickets kenshod issued with it, see make_ticket_corpus.py).
 *   mode even: body is a ticket as a client sends it (key name, IV,
 *              ciphertext, tag), opened as is;
 *   mode odd:  body is a ticket's plaintext (version, issue time, trust
 *              fingerprint, serialized session), sealed with the key of `now`
 *              and then opened, so the fuzzer reaches the inner parsing.
 * A ticket that opens must seal again and open to the same session. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/gcm.h>
#include <mbedtls/ssl.h>

#include "tls/tls_ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER   (1 + 8 + 32)
#define ROTATION (12 * 3600)

/* Deterministic "randomness" for IVs: the fuzzer must replay exactly. */
static int counter_rng(void *arg, unsigned char *out, size_t len)
{
	uint8_t *c = arg;
	for (size_t i = 0; i < len; i++)
		out[i] = (*c)++;
	return 0;
}

/* Seals arbitrary plaintext the way tls_ticket_seal lays a ticket out. */
static size_t seal_raw(const struct tls_ticket_keys *k, int64_t now, const uint8_t *inner,
                       size_t inner_len, uint8_t *out)
{
	uint8_t key[32];
	if (tls_ticket_derive(k->master, (uint64_t)now / ROTATION, key, out) != 0)
		abort();
	uint8_t *iv = out + TLS_TICKET_NAME_LEN, *ct = iv + 12;
	memset(iv, 7, 12);
	mbedtls_gcm_context gcm;
	mbedtls_gcm_init(&gcm);
	if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256) != 0 ||
	    mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, inner_len, iv, 12, out,
	                              TLS_TICKET_NAME_LEN, inner, ct, 16, ct + inner_len) != 0)
		abort();
	mbedtls_gcm_free(&gcm);
	return TLS_TICKET_NAME_LEN + 12 + inner_len + 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	struct tls_ticket_keys k = {.rotation_s = ROTATION, .lifetime_s = ROTATION};
	for (int i = 0; i < TLS_TICKET_MASTER_LEN; i++)
		k.master[i] = (uint8_t)i;
	uint64_t at = 0;
	for (int i = 0; i < 8; i++)
		at = at << 8 | data[1 + i];
	int64_t now = (int64_t)(at >> 1); /* non-negative */
	memcpy(k.trust_fp, data + 9, 32);
	const uint8_t *body = data + HEADER;
	size_t len = size - HEADER;

	uint8_t *ticket = malloc(len + 64);
	if (!ticket)
		return 0;
	size_t ticket_len = len;
	if (data[0] & 1)
		ticket_len = seal_raw(&k, now, body, len, ticket);
	else
		memcpy(ticket, body, len);

	mbedtls_ssl_session session;
	mbedtls_ssl_session_init(&session);
	int64_t start = 0;
	int rc = tls_ticket_open(&k, now, ticket, ticket_len, &session, &start);
	if (rc == 0) {
		/* What opened must round-trip. */
		size_t cap = ticket_len + 4096, again_len = 0;
		uint8_t *again = malloc(cap);
		uint8_t ctr = 0;
		mbedtls_ssl_session back;
		mbedtls_ssl_session_init(&back);
		if (again) {
			if (tls_ticket_seal(&k, now, start, counter_rng, &ctr, &session, again, cap,
			                    &again_len) != 0 ||
			    tls_ticket_open(&k, now, again, again_len, &back, NULL) != 0 ||
			    back.ciphersuite != session.ciphersuite ||
			    memcmp(back.master, session.master, sizeof back.master) != 0) {
				fprintf(stderr, "ticket did not round-trip\n");
				abort();
			}
			free(again);
		}
		mbedtls_ssl_session_free(&back);
	} else if (rc != -ENOKEY && rc != -EBADMSG && rc != -ETIME && rc != -EKEYREJECTED) {
		fprintf(stderr, "unexpected result %d\n", rc);
		abort();
	}
	mbedtls_ssl_session_free(&session);
	free(ticket);
	return 0;
}
