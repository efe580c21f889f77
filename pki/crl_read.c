/* CRL header reader: see crl_read.h. */
#include "pki/crl_read.h"

#include <errno.h>
#include <string.h>

#include <mbedtls/asn1.h>

#include "pki/asn1_time.h"
#include "pki/der.h"

#define CONSTRUCTED_SEQUENCE (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* A non-negative INTEGER of at most 8 content octets (CRL numbers). */
static int read_uint(unsigned char **p, const unsigned char *end, uint64_t *out)
{
	size_t len;
	if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0)
		return -EINVAL;
	const unsigned char *v = *p;
	*p += len;
	if (v[0] & 0x80)
		return -EINVAL;
	if (len > 9 || (len == 9 && v[0] != 0))
		return -EINVAL;
	uint64_t value = 0;
	for (size_t i = 0; i < len; i++)
		value = value << 8 | v[i];
	*out = value;
	return 0;
}

static bool oid_is(const unsigned char *oid, size_t len, const char *dotted)
{
	uint8_t want[16];
	int n = der_oid_encode(dotted, want, sizeof want);
	return n > 0 && (size_t)n == len && memcmp(oid, want, len) == 0;
}

/* crlExtensions: picks out cRLNumber and deltaCRLIndicator. */
static int read_extensions(unsigned char **p, const unsigned char *end, struct crl_info *out)
{
	size_t len;
	if (mbedtls_asn1_get_tag(p, end, &len, CONSTRUCTED_SEQUENCE) != 0)
		return -EINVAL;
	end = *p + len;
	while (*p < end) {
		if (mbedtls_asn1_get_tag(p, end, &len, CONSTRUCTED_SEQUENCE) != 0)
			return -EINVAL;
		const unsigned char *ext_end = *p + len;
		size_t oid_len;
		if (mbedtls_asn1_get_tag(p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0)
			return -EINVAL;
		const unsigned char *oid = *p;
		*p += oid_len;
		int critical = 0;
		int ret = mbedtls_asn1_get_bool(p, ext_end, &critical);
		if (ret != 0 && ret != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG)
			return -EINVAL;
		size_t value_len;
		if (mbedtls_asn1_get_tag(p, ext_end, &value_len, MBEDTLS_ASN1_OCTET_STRING) != 0)
			return -EINVAL;
		unsigned char *value = *p;
		const unsigned char *value_end = value + value_len;
		if (oid_is(oid, oid_len, "2.5.29.20")) {
			if (read_uint(&value, value_end, &out->number) != 0)
				return -EINVAL;
		} else if (oid_is(oid, oid_len, "2.5.29.27")) {
			if (read_uint(&value, value_end, &out->base_number) != 0)
				return -EINVAL;
			out->delta = true;
		}
		if (value_end != ext_end)
			return -EINVAL;
		*p = (unsigned char *)ext_end;
	}
	return 0;
}

/* version, signature, issuer, thisUpdate and nextUpdate of a tbsCertList. */
static int read_tbs_head(unsigned char **p, const unsigned char *end, struct crl_info *out)
{
	size_t n;
	int version = 0;
	int ret = mbedtls_asn1_get_int(p, end, &version);
	if (ret != 0 && ret != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG)
		return -EINVAL;
	/* signature AlgorithmIdentifier and issuer Name: skipped */
	for (int i = 0; i < 2; i++) {
		if (mbedtls_asn1_get_tag(p, end, &n, CONSTRUCTED_SEQUENCE) != 0)
			return -EINVAL;
		*p += n;
	}
	if (pki_asn1_time_read(p, end, &out->this_update) != 0)
		return -EINVAL;
	if (*p < end && (**p == DER_UTC_TIME || **p == DER_GENERALIZED_TIME) &&
	    pki_asn1_time_read(p, end, &out->next_update) != 0)
		return -EINVAL;
	return 0;
}

int crl_read_info(const uint8_t *der, size_t len, struct crl_info *out)
{
	memset(out, 0, sizeof *out);
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t n;
	/* CertificateList, then tbsCertList */
	if (mbedtls_asn1_get_tag(&p, end, &n, CONSTRUCTED_SEQUENCE) != 0)
		return -EINVAL;
	end = p + n;
	if (mbedtls_asn1_get_tag(&p, end, &n, CONSTRUCTED_SEQUENCE) != 0)
		return -EINVAL;
	end = p + n;
	if (read_tbs_head(&p, end, out) != 0)
		return -EINVAL;
	if (p < end && *p == CONSTRUCTED_SEQUENCE) {
		if (mbedtls_asn1_get_tag(&p, end, &n, CONSTRUCTED_SEQUENCE) != 0)
			return -EINVAL;
		out->entries_len = n;
		p += n;
	}
	if (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &n,
		                         MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED |
		                                 0) != 0)
			return -EINVAL;
		const unsigned char *ext_end = p + n;
		if (read_extensions(&p, ext_end, out) != 0 || p != ext_end)
			return -EINVAL;
	}
	return p == end ? 0 : -EINVAL;
}

/* A SEQUENCE's tag and length whose content may lie beyond end (the prefix
 * of a larger file): the length is decoded, not checked against end. */
static int read_sequence_header(unsigned char **p, const unsigned char *end, size_t *len)
{
	if (end - *p < 2 || **p != CONSTRUCTED_SEQUENCE)
		return -EINVAL;
	(*p)++;
	size_t first = *(*p)++;
	if (first < 0x80) {
		*len = first;
		return 0;
	}
	size_t octets = first & 0x7f;
	if (octets == 0 || octets > sizeof(size_t) || (size_t)(end - *p) < octets)
		return -EINVAL;
	size_t value = 0;
	for (size_t i = 0; i < octets; i++)
		value = value << 8 | *(*p)++;
	*len = value;
	return 0;
}

int crl_read_head(const uint8_t *der, size_t len, struct crl_info *out)
{
	memset(out, 0, sizeof *out);
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	size_t n;
	if (read_sequence_header(&p, end, &n) != 0 || read_sequence_header(&p, end, &n) != 0)
		return -EINVAL;
	if (n < (size_t)(end - p))
		end = p + n;
	return read_tbs_head(&p, end, out);
}
