/* Certificates and signatures with kensho types: see verify.h. */
#include "pki/verify.h"

#include <errno.h>
#include <stdlib.h>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "pki/asn1_time.h"
#include "pki/cert_internal.h"
#include "pki/errors.h"

#define CONSTRUCTED_SEQUENCE (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

static struct pki_bytes bytes_of(const mbedtls_x509_buf *b)
{
	return (struct pki_bytes){b->p, b->len};
}

/* The validity of a TBSCertificate (RFC 5280 §4.1), read with kensho's one
 * Time reader: version [0] (optional), serialNumber, signature and issuer
 * are stepped over. */
static int read_validity(const mbedtls_x509_buf *tbs, int64_t *not_before, int64_t *not_after)
{
	unsigned char *p = tbs->p;
	const unsigned char *end = tbs->p + tbs->len;
	size_t len;
	if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQUENCE) != 0)
		return -EINVAL;
	end = p + len;
	if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
		if (mbedtls_asn1_get_tag(&p, end, &len, *p) != 0)
			return -EINVAL;
		p += len;
	}
	static const int skipped[] = {MBEDTLS_ASN1_INTEGER, CONSTRUCTED_SEQUENCE,
	                              CONSTRUCTED_SEQUENCE};
	for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
		if (mbedtls_asn1_get_tag(&p, end, &len, skipped[i]) != 0)
			return -EINVAL;
		p += len;
	}
	if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQUENCE) != 0)
		return -EINVAL;
	const unsigned char *validity_end = p + len;
	if (pki_asn1_time_read(&p, validity_end, not_before) != 0 ||
	    pki_asn1_time_read(&p, validity_end, not_after) != 0 || p != validity_end)
		return -EINVAL;
	return 0;
}

int pki_cert_finish(struct pki_cert *c)
{
	const mbedtls_x509_crt *crt = &c->crt;
	c->info.der = bytes_of(&crt->raw);
	c->info.subject = bytes_of(&crt->subject_raw);
	c->info.issuer = bytes_of(&crt->issuer_raw);
	c->info.serial = bytes_of(&crt->serial);
	return read_validity(&crt->tbs, &c->info.not_before, &c->info.not_after);
}

struct pki_cert *pki_cert_new(void)
{
	struct pki_cert *c = calloc(1, sizeof *c);
	if (c)
		mbedtls_x509_crt_init(&c->crt);
	return c;
}

int pki_cert_parse(const uint8_t *der, size_t len, struct pki_cert **out)
{
	struct pki_cert *c = pki_cert_new();
	if (!c)
		return -ENOMEM;
	int rc = pki_errno(mbedtls_x509_crt_parse_der(&c->crt, der, len));
	if (rc == 0)
		rc = pki_cert_finish(c);
	if (rc < 0) {
		pki_cert_free(c);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	*out = c;
	return 0;
}

void pki_cert_free(struct pki_cert *c)
{
	if (!c)
		return;
	mbedtls_x509_crt_free(&c->crt);
	free(c);
}

const struct pki_cert_info *pki_cert_info(const struct pki_cert *c)
{
	return &c->info;
}

int pki_cert_key(const struct pki_cert *c, struct pki_key_info *out)
{
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&c->crt.pk;
	*out = (struct pki_key_info){
	        .rsa = mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA,
	        .name = mbedtls_pk_get_name(pk),
	        .bits = mbedtls_pk_get_bitlen(pk),
	};
	if (!out->rsa)
		return 0;
	mbedtls_mpi e;
	mbedtls_mpi_init(&e);
	int rc = pki_errno(mbedtls_rsa_export(mbedtls_pk_rsa(*pk), NULL, NULL, NULL, NULL, &e));
	out->exponent_bits = mbedtls_mpi_bitlen(&e);
	uint8_t be[8];
	if (rc == 0 && out->exponent_bits <= 64 && mbedtls_mpi_write_binary(&e, be, sizeof be) == 0)
		for (size_t i = 0; i < sizeof be; i++)
			out->exponent = out->exponent << 8 | be[i];
	mbedtls_mpi_free(&e);
	return rc < 0 ? -EINVAL : 0;
}

bool pki_cert_may_sign(const struct pki_cert *c)
{
	return mbedtls_x509_crt_check_key_usage(&c->crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0 ||
	       mbedtls_x509_crt_check_key_usage(&c->crt, MBEDTLS_X509_KU_NON_REPUDIATION) == 0;
}

int pki_cert_verify_issued(const struct pki_cert *cert, const struct pki_cert *ca, bool key_judged)
{
	uint32_t flags = 0;
	mbedtls_x509_crt_verify((mbedtls_x509_crt *)&cert->crt, (mbedtls_x509_crt *)&ca->crt, NULL,
	                        NULL, &flags, NULL, NULL);
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	if (key_judged)
		flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_BAD_KEY;
	return flags == 0 ? 0 : -EKEYREJECTED;
}

int pki_cert_verify_sha256(const struct pki_cert *cert, const uint8_t *data, size_t len,
                           const uint8_t *sig, size_t sig_len)
{
	uint8_t hash[32];
	if (mbedtls_sha256_ret(data, len, hash, 0) != 0)
		return -EKEYREJECTED;
	int rc = mbedtls_pk_verify((mbedtls_pk_context *)&cert->crt.pk, MBEDTLS_MD_SHA256, hash,
	                           sizeof hash, sig, sig_len);
	return rc == 0 ? 0 : -EKEYREJECTED;
}
