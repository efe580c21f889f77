/* Key-and-certificate signers: see signer.h. */
#include "pki/signer.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <mbedtls/bignum.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "pki/cms_build.h"
#include "pki/errors.h"
#include "pki/random.h"

#define SERIAL_LEN 16

struct pki_signer {
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
};

/* "YYYYMMDDHHMMSS", as mbedtls_x509write_crt_set_validity takes it. */
static void validity_text(int64_t t, char out[15])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

int pki_self_signed_create(const struct pki_self_signed *what, char *key_pem, size_t key_cap,
                           char *cert_pem, size_t cert_cap)
{
	mbedtls_pk_context key;
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	uint8_t serial_bytes[SERIAL_LEN];
	char not_before[15], not_after[15];
	validity_text(what->not_before, not_before);
	validity_text(what->not_after, not_after);
	int ret = pki_random(NULL, serial_bytes, sizeof serial_bytes);
	serial_bytes[0] &= 0x7f; /* positive, RFC 5280 §4.1.2.2 */
	serial_bytes[0] |= 0x01;
	if (ret == 0)
		ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
	if (ret == 0)
		ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), pki_random, NULL, what->key_bits,
		                          65537);
	if (ret == 0)
		ret = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes);
	if (ret == 0) {
		mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
		mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
		mbedtls_x509write_crt_set_subject_key(&w, &key);
		mbedtls_x509write_crt_set_issuer_key(&w, &key);
		ret = mbedtls_x509write_crt_set_serial(&w, &serial);
	}
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_subject_name(&w, what->subject);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_issuer_name(&w, what->subject);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_validity(&w, not_before, not_after);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_key_usage(
		        &w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_NON_REPUDIATION);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (ret == 0)
		ret = mbedtls_x509write_crt_pem(&w, (unsigned char *)cert_pem, cert_cap, pki_random,
		                                NULL);
	if (ret == 0)
		ret = mbedtls_pk_write_key_pem(&key, (unsigned char *)key_pem, key_cap);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	return pki_errno(ret);
}

int pki_signer_load(const char *cert_path, const char *key_path, struct pki_signer **out)
{
	struct pki_signer *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	mbedtls_pk_init(&s->key);
	mbedtls_x509_crt_init(&s->cert);
	int rc = pki_errno(mbedtls_x509_crt_parse_file(&s->cert, cert_path));
	if (rc > 0)
		rc = -EINVAL; /* a PEM certificate that did not parse */
	if (rc == 0)
		rc = pki_errno(mbedtls_pk_parse_keyfile(&s->key, key_path, NULL));
	if (rc == 0 && mbedtls_pk_get_type(&s->key) != MBEDTLS_PK_RSA)
		rc = -EINVAL;
	if (rc == 0 && mbedtls_pk_check_pair(&s->cert.pk, &s->key) != 0)
		rc = -EINVAL;
	if (rc < 0) {
		pki_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void pki_signer_free(struct pki_signer *s)
{
	if (!s)
		return;
	mbedtls_pk_free(&s->key);
	mbedtls_x509_crt_free(&s->cert);
	free(s);
}

void pki_signer_cert(const struct pki_signer *s, const uint8_t **der, size_t *len)
{
	*der = s->cert.raw.p;
	*len = s->cert.raw.len;
}

int pki_signer_sign(void *signer, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                    size_t *sig_len)
{
	struct pki_signer *s = signer;
	return cms_sign_pk(&s->key, digest_info, digest_info_len, sig, sig_len);
}
