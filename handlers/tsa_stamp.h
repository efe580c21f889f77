/* One RFC 3161 token from kensho's time-stamping unit: shared by POST /tsa
 * (handlers/tsa.c) and intake, which time-stamps the signature value of each
 * application it accepts (docs/intake.md, "Evidence").
 *
 * serialNumber (RFC 3161 §2.4.2: unique per token of this TSA) is 160 bits:
 * the signing time in microseconds (64), the process id (32), a per-process
 * counter (32) and 32 random bits. Two workers differ in their pid, one
 * worker in its counter (/tsa counts from 0, intake from 2^31), and a
 * restart in its time; the random part covers a clock stepped back onto a
 * reused pid. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "pki/tsp.h"

struct pki_signer;

/** The placeholder policy: an arc of enterprise number 32473, which RFC
 * 5612 reserves for documentation. A real deployment sets tsa.policy to an
 * OID under its own arc. */
#define TSA_DEFAULT_POLICY "1.3.6.1.4.1.32473.3161.1"
/** The accuracy claimed (seconds): the host clock, kept by NTP. */
#define TSA_ACCURACY_SECONDS 1
/** Where intake's counter starts, so its serials never meet /tsa's. */
#define TSA_INTAKE_COUNTER_BASE 0x80000000u

/** Who signs a token and under which policy. */
struct tsa_stamper {
	const char *policy;  /**< dotted */
	const uint8_t *cert; /**< the unit's certificate, DER */
	size_t cert_len;
	cms_sign_cb sign; /**< with the unit's key */
	void *sign_arg;
};

/** Grants a token for `request` at the current time, numbered with
 * `counter` (see above): *reply is a malloc'd TimeStampResp. Returns 0,
 * -EIO (no random bytes) or tsp_response_grant's error. Blocks (one RSA
 * signature): never on an event loop. */
int tsa_stamp(const struct tsa_stamper *s, const struct tsp_request *request, uint32_t counter,
              uint8_t **reply, size_t *reply_len);

/** Loads the unit of data_dir (DIR/ca/tsa.pem and tsa.key, made by `kensho
 * ca init`). -ENOENT when the directory has no unit (made before kensho had
 * one), -EPERM when the key is readable by group or others (docs/architecture.md
 * rule 5), or pki_signer_load's error. */
int tsa_unit_load(const char *data_dir, struct pki_signer **out);
