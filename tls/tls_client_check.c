/* The client Certificate precheck (tls.h, tls_client_chain_check): runs on
 * attacker-chosen bytes before mbedTLS sees them, so it lives apart from the
 * transport and is fuzzed on its own (tests/unit/tls/fuzz_tls_client_chain.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "tls/tls.h"

/* Keys whose operations cost what a normal handshake costs: an attacker's
 * RSA-8192 key with a huge public exponent makes one signature check cost
 * hundreds of milliseconds of the loop (docs/architecture.md rule 3). */
static int check_client_key(const mbedtls_pk_context *pk, int max_rsa_bits, char *why,
                            size_t why_len)
{
	switch (mbedtls_pk_get_type(pk)) {
	case MBEDTLS_PK_RSA: {
		const mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
		size_t bits = mbedtls_pk_get_bitlen(pk);
		size_t e_bits = mbedtls_mpi_bitlen(&rsa->E);
		if (bits < TLS_CLIENT_RSA_MIN_BITS || bits > (size_t)max_rsa_bits) {
			snprintf(
			        why, why_len,
			        "RSA key of %zu bits (accepted: %d to %d, tls.client_key_max_bits)",
			        bits, TLS_CLIENT_RSA_MIN_BITS, max_rsa_bits);
			return -EKEYREJECTED;
		}
		if (e_bits > TLS_CLIENT_RSA_EXPONENT_BITS) {
			snprintf(why, why_len,
			         "RSA public exponent of %zu bits (accepted: below 2^%d, e.g. "
			         "65537)",
			         e_bits, TLS_CLIENT_RSA_EXPONENT_BITS);
			return -EKEYREJECTED;
		}
		return 0;
	}
	case MBEDTLS_PK_ECKEY:
	case MBEDTLS_PK_ECDSA: {
		mbedtls_ecp_group_id id = mbedtls_pk_ec(*pk)->grp.id;
		if (id == MBEDTLS_ECP_DP_SECP256R1 || id == MBEDTLS_ECP_DP_SECP384R1)
			return 0;
		snprintf(why, why_len, "EC key on a curve other than P-256 or P-384");
		return -EKEYREJECTED;
	}
	default:
		snprintf(why, why_len, "key neither RSA nor EC (P-256, P-384)");
		return -EKEYREJECTED;
	}
}

static bool is_trusted_copy(const mbedtls_x509_crt *trusted, const uint8_t *der, size_t len)
{
	for (const mbedtls_x509_crt *t = trusted; t && t->raw.p; t = t->next)
		if (t->raw.len == len && memcmp(t->raw.p, der, len) == 0)
			return true;
	return false;
}

static size_t get_u24(const uint8_t *p)
{
	return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

int tls_client_chain_check(const uint8_t *body, size_t len, int max_rsa_bits,
                           const struct mbedtls_x509_crt *trusted, char *why, size_t why_len)
{
	/* certificate_list<0..2^24-1>; anything malformed is left to mbedTLS,
	 * which refuses it while parsing, before any public-key operation. */
	if (len < 3 || get_u24(body) != len - 3)
		return 0;
	size_t off = 3, count = 0;
	while (off + 3 <= len) {
		size_t n = get_u24(body + off);
		off += 3;
		if (n > len - off)
			return 0;
		if (++count > TLS_CLIENT_CHAIN_MAX) {
			snprintf(why, why_len, "more than %d certificates in the chain",
			         TLS_CLIENT_CHAIN_MAX);
			return -EMSGSIZE;
		}
		const uint8_t *der = body + off;
		off += n;
		if (is_trusted_copy(trusted, der, n))
			continue;
		mbedtls_x509_crt crt;
		mbedtls_x509_crt_init(&crt);
		int rc = 0;
		if (mbedtls_x509_crt_parse_der(&crt, der, n) == 0) {
			char key_why[120];
			rc = check_client_key(&crt.pk, max_rsa_bits, key_why, sizeof key_why);
			if (rc < 0)
				snprintf(why, why_len, "certificate %zu of the chain: %s", count,
				         key_why);
		}
		mbedtls_x509_crt_free(&crt);
		if (rc < 0)
			return rc;
	}
	return 0;
}
