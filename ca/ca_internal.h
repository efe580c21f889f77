/* What ca.c shares with lifecycle.c and gen.c; not for use outside ca/. */
#pragma once
#include <limits.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "ca/ca.h"
#include "ca/jpki_profile.h"

struct ca {
	char data_dir[PATH_MAX];
	char base_url[512];
	struct store *store;
	bool own_store;
	uint32_t issuer_id[3];        /**< by enum cert_kind */
	mbedtls_pk_context ca_key[3]; /**< by enum cert_kind */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	struct ocsp_responder_set *responders; /**< pre-signers (NULL: none could load) */
	bool crl_partitions; /**< end-entity certificates name their municipality's CRL */
};

/** Every key kensho's CAs make or certify: RSA-2048 (docs/jpki.md). */
#define CA_RSA_BITS 2048

/** Draws a fresh positive serial of CA_SERIAL_LEN octets. */
int ca_random_serial(struct ca *ca, struct store_serial *serial);

/** The CA's random generator, as mbedTLS takes it. */
int ca_random(void *ca, unsigned char *out, size_t len);
/** A fresh user-authentication subject CN: JPKI_AUTH_CN_LEN random digits
 * and capital letters. */
int ca_auth_common_name(struct ca *ca, char cn[JPKI_AUTH_CN_LEN + 1]);

/** Signs an end-entity certificate of `kind` with the CA's key; items is
 * NULL for user-auth certificates. */
int ca_sign_ee(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
               int64_t not_before, int64_t not_after, mbedtls_pk_context *subject_key,
               const struct jpki_items *items, uint32_t partition, uint8_t **der, size_t *der_len);

/** Appends an audit record "actor did action on kind/serial (detail)". */
int ca_audit(struct store_txn *txn, const char *actor, const char *action, const char *subject);

/** Formats "kind/serialhex" into out. */
void ca_cert_label(enum cert_kind kind, const struct store_serial *serial, char *out, size_t cap);

/** Writes a message for people into err (which may be NULL). */
void ca_error(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Pre-signs a certificate's OCSP answer after a committed change to it
 * (issue, revoke, event) with the OCSP service (docs/architecture.md:
 * pre-sign on issuance and on status change). A failure is logged and does
 * not undo the change: the server signs live on a miss. */
void ca_presign_after_commit(struct ca *ca, enum cert_kind kind, const struct store_serial *serial);
