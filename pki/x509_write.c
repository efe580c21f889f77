#include "pki/x509_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509.h>

#include "pki/errors.h"

#define OID_SHA256_WITH_RSA "1.2.840.113549.1.1.11"
#define SPKI_MAX            2100 /* RSA-4096 SubjectPublicKeyInfo fits */
#define KEY_PEM_MAX         16000
#define FILE_READ_MAX       (1u << 20)

void x509_name_write(struct der *d, const struct x509_name_attr *attrs, size_t count)
{
	der_begin(d, DER_SEQUENCE);
	for (size_t i = 0; i < count; i++) {
		bool printable = strcmp(attrs[i].oid, X509_OID_COUNTRY) == 0;
		der_begin(d, DER_SET);
		der_begin(d, DER_SEQUENCE);
		der_oid(d, attrs[i].oid);
		der_tlv(d, printable ? DER_PRINTABLE_STRING : DER_UTF8_STRING, attrs[i].value,
		        strlen(attrs[i].value));
		der_end(d);
		der_end(d);
	}
	der_end(d);
}

int x509_spki_der(mbedtls_pk_context *key, uint8_t *out, size_t cap)
{
	int n = mbedtls_pk_write_pubkey_der(key, out, cap);
	if (n < 0)
		return pki_errno(n);
	/* mbedTLS writes backwards from the end of the buffer. */
	memmove(out, out + cap - (size_t)n, (size_t)n);
	return n;
}

int x509_spki_key_bits(const uint8_t *spki, size_t spki_len, const uint8_t **bits, size_t *len)
{
	unsigned char *p = (unsigned char *)spki;
	const unsigned char *end = spki + spki_len;
	size_t l;
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -EINVAL;
	end = p + l;
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return -EINVAL;
	p += l;
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_BIT_STRING) || l < 1 || p[0] != 0)
		return -EINVAL;
	*bits = p + 1;
	*len = l - 1;
	return 0;
}

int x509_key_id(mbedtls_pk_context *key, uint8_t out[20])
{
	uint8_t spki[SPKI_MAX];
	int n = x509_spki_der(key, spki, sizeof(spki));
	if (n < 0)
		return n;
	const uint8_t *bits;
	size_t len;
	int err = x509_spki_key_bits(spki, (size_t)n, &bits, &len);
	if (err)
		return err;
	return pki_errno(mbedtls_sha1_ret(bits, len, out));
}

int x509_cert_parts(const uint8_t *der, size_t len, const uint8_t **subject, size_t *subject_len,
                    const uint8_t **spki, size_t *spki_len)
{
	const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t l;
	if (mbedtls_asn1_get_tag(&p, end, &l, seq))
		return -EINVAL;
	end = p + l;
	if (mbedtls_asn1_get_tag(&p, end, &l, seq)) /* TBSCertificate */
		return -EINVAL;
	end = p + l;
	if (mbedtls_asn1_get_tag(&p, end, &l,
	                         MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED) == 0)
		p += l; /* version */
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_INTEGER))
		return -EINVAL;
	p += l;
	for (int i = 0; i < 3; i++) { /* signature, issuer, validity */
		if (mbedtls_asn1_get_tag(&p, end, &l, seq))
			return -EINVAL;
		p += l;
	}
	const unsigned char *start = p;
	if (mbedtls_asn1_get_tag(&p, end, &l, seq))
		return -EINVAL;
	p += l;
	*subject = start;
	*subject_len = (size_t)(p - start);
	start = p;
	if (mbedtls_asn1_get_tag(&p, end, &l, seq))
		return -EINVAL;
	p += l;
	*spki = start;
	*spki_len = (size_t)(p - start);
	return 0;
}

static void algorithm_write(struct der *d)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, OID_SHA256_WITH_RSA);
	der_null(d);
	der_end(d);
}

static int tbs_write(const struct x509_cert_template *t, uint8_t **out, size_t *out_len)
{
	if (t->serial_len == 0 || t->serial_len > 20 || (t->serial[0] & 0x80))
		return -EINVAL;
	uint8_t spki[SPKI_MAX];
	int spki_len = x509_spki_der(t->subject_key, spki, sizeof(spki));
	if (spki_len < 0)
		return spki_len;

	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_CONTEXT(0));
	der_int(&d, 2); /* v3 */
	der_end(&d);
	der_uint_bytes(&d, t->serial, t->serial_len);
	algorithm_write(&d);
	der_raw(&d, t->issuer, t->issuer_len);
	der_begin(&d, DER_SEQUENCE);
	der_time(&d, t->not_before);
	der_time(&d, t->not_after);
	der_end(&d);
	der_raw(&d, t->subject, t->subject_len);
	der_raw(&d, spki, (size_t)spki_len);
	if (t->extension_count) {
		der_begin(&d, DER_CONTEXT(3));
		der_begin(&d, DER_SEQUENCE);
		for (size_t i = 0; i < t->extension_count; i++) {
			const struct x509_extension *e = &t->extensions[i];
			der_begin(&d, DER_SEQUENCE);
			der_oid(&d, e->oid);
			if (e->critical) /* DER omits the DEFAULT FALSE */
				der_bool(&d, true);
			der_tlv(&d, DER_OCTET_STRING, e->value, e->len);
			der_end(&d);
		}
		der_end(&d);
		der_end(&d);
	}
	der_end(&d);
	int err = der_finish(&d, out, out_len);
	der_free(&d);
	return err;
}

int x509_cert_sign(const struct x509_cert_template *t, mbedtls_pk_context *issuer_key,
                   x509_rng_fn rng, void *rng_state, uint8_t **der, size_t *der_len)
{
	uint8_t *tbs;
	size_t tbs_len;
	int err = tbs_write(t, &tbs, &tbs_len);
	if (err)
		return err;

	uint8_t hash[32];
	uint8_t sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t sig_len = 0;
	int ret = mbedtls_sha256_ret(tbs, tbs_len, hash, 0);
	if (ret == 0)
		ret = mbedtls_pk_sign(issuer_key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
		                      &sig_len, rng, rng_state);
	if (ret) {
		free(tbs);
		return pki_errno(ret);
	}

	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_raw(&d, tbs, tbs_len);
	algorithm_write(&d);
	der_bit_string(&d, sig, sig_len, 0);
	der_end(&d);
	free(tbs);
	err = der_finish(&d, der, der_len);
	der_free(&d);
	return err;
}

/* --- keys and files ----------------------------------------------------------- */

int x509_key_generate(mbedtls_pk_context *key, unsigned bits, x509_rng_fn rng, void *rng_state)
{
	int ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
	if (ret == 0)
		ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*key), rng, rng_state, bits, 65537);
	return pki_errno(ret);
}

int x509_key_pem(mbedtls_pk_context *key, char **pem)
{
	unsigned char *buf = malloc(KEY_PEM_MAX);
	if (!buf)
		return -ENOMEM;
	int ret = mbedtls_pk_write_key_pem(key, buf, KEY_PEM_MAX);
	if (ret) {
		mbedtls_platform_zeroize(buf, KEY_PEM_MAX);
		free(buf);
		return pki_errno(ret);
	}
	*pem = (char *)buf;
	return 0;
}

int x509_key_save(mbedtls_pk_context *key, const char *path)
{
	char *pem;
	int err = x509_key_pem(key, &pem);
	if (err)
		return err;
	size_t len = strlen(pem);
	err = x509_file_write(path, pem, len, 0600);
	mbedtls_platform_zeroize(pem, len);
	free(pem);
	return err;
}

int x509_key_load(mbedtls_pk_context *key, const char *path)
{
	struct stat st;
	if (stat(path, &st))
		return -errno;
	if (st.st_mode & 077)
		return -EPERM;
	return pki_errno(mbedtls_pk_parse_keyfile(key, path, NULL));
}

int x509_pubkey_parse(mbedtls_pk_context *key, const uint8_t *data, size_t len)
{
	/* mbedTLS wants PEM NUL-terminated, with the NUL counted. */
	uint8_t *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	copy[len] = 0;
	bool pem = len >= 10 && memcmp(data, "-----BEGIN", 10) == 0;
	int ret = mbedtls_pk_parse_public_key(key, copy, pem ? len + 1 : len);
	free(copy);
	if (ret)
		return pki_errno(ret);
	return mbedtls_pk_get_type(key) == MBEDTLS_PK_RSA ? 0 : -ENOTSUP;
}

int x509_cert_pem(const uint8_t *der, size_t len, char **pem)
{
	size_t cap = len * 4 / 3 + len / 48 + 128;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t olen;
	int ret =
	        mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	                                 "-----END CERTIFICATE-----\n", der, len, buf, cap, &olen);
	if (ret) {
		free(buf);
		return pki_errno(ret);
	}
	*pem = (char *)buf;
	return 0;
}

int x509_cert_from_pem(const char *pem, size_t len, uint8_t **der, size_t *der_len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, pem, len);
	copy[len] = 0;
	mbedtls_pem_context ctx;
	mbedtls_pem_init(&ctx);
	size_t used;
	int ret = mbedtls_pem_read_buffer(&ctx, "-----BEGIN CERTIFICATE-----",
	                                  "-----END CERTIFICATE-----", (unsigned char *)copy, NULL,
	                                  0, &used);
	free(copy);
	int err = pki_errno(ret);
	if (!err) {
		size_t n = ctx.buflen;
		*der = malloc(n);
		if (*der) {
			memcpy(*der, ctx.buf, n);
			*der_len = n;
		} else {
			err = -ENOMEM;
		}
	}
	mbedtls_pem_free(&ctx);
	return err;
}

int x509_file_write(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return -errno;
	int err = 0;
	const uint8_t *p = data;
	while (len && !err) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	if (!err && fchmod(fd, (mode_t)mode)) /* umask must not widen or narrow it */
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int x509_file_read(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	uint8_t *buf = malloc(FILE_READ_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, FILE_READ_MAX + 1, f);
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && n > FILE_READ_MAX)
		err = -EFBIG;
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}
