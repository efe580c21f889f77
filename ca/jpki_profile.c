#include "ca/jpki_profile.h"
#include "ca/jpki_address.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_SUBJECT_KEY_ID    "2.5.29.14"
#define OID_KEY_USAGE         "2.5.29.15"
#define OID_SUBJECT_ALT_NAME  "2.5.29.17"
#define OID_ISSUER_ALT_NAME   "2.5.29.18"
#define OID_BASIC_CONSTRAINTS "2.5.29.19"
#define OID_CRL_DIST_POINTS   "2.5.29.31"
#define OID_CERT_POLICIES     "2.5.29.32"
#define OID_AUTHORITY_KEY_ID  "2.5.29.35"
#define OID_EXT_KEY_USAGE     "2.5.29.37"
#define OID_AUTHORITY_INFO    "1.3.6.1.5.5.7.1.1"
#define OID_AD_OCSP           "1.3.6.1.5.5.7.48.1"
#define OID_OCSP_NOCHECK      "1.3.6.1.5.5.7.48.1.5"
#define OID_KP_OCSP_SIGNING   "1.3.6.1.5.5.7.3.9"
#define OID_KP_TIME_STAMPING  "1.3.6.1.5.5.7.3.8"

#define SECONDS_PER_DAY 86400
#define EXTENSIONS_MAX  10

/* KeyUsage bits (RFC 5280 §4.2.1.3), first octet of the BIT STRING. */
#define KU_DIGITAL_SIGNATURE 0x80
#define KU_NON_REPUDIATION   0x40
#define KU_KEY_CERT_SIGN     0x04
#define KU_CRL_SIGN          0x02

/* --- calendar --------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

int jpki_date_parse(const char *text, struct jpki_date *out)
{
	int y, m, d, n = 0;
	if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return -EINVAL;
	if (y < 1868 || y > 9999 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -EINVAL;
	*out = (struct jpki_date){y, m, d};
	return 0;
}

void jpki_date_from_unix(int64_t t, struct jpki_date *out)
{
	int64_t z = (t >= 0 ? t : t - (SECONDS_PER_DAY - 1)) / SECONDS_PER_DAY + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	out->year = (int)(yoe + era * 400 + (m <= 2));
	out->month = m;
	out->day = d;
}

int64_t jpki_date_to_unix(const struct jpki_date *date)
{
	return days_from_civil(date->year, date->month, date->day) * SECONDS_PER_DAY;
}

static int date_compare(int y1, int m1, int d1, int y2, int m2, int d2)
{
	if (y1 != y2)
		return y1 < y2 ? -1 : 1;
	if (m1 != m2)
		return m1 < m2 ? -1 : 1;
	return d1 < d2 ? -1 : d1 > d2;
}

void jpki_birth_code(const struct jpki_date *b, char out[10])
{
	/* First day of each era; Meiji is counted from 1868-01-01 as Japanese
	 * law applies it retroactively to the start of that year. */
	static const struct {
		int y, m, d, code;
	} eras[] = {
	        {2019, 5, 1, 5},  {1989, 1, 8, 4}, {1926, 12, 25, 3},
	        {1912, 7, 30, 2}, {1868, 1, 1, 1},
	};
	int code = 0;
	for (size_t i = 0; i < sizeof(eras) / sizeof(eras[0]); i++)
		if (date_compare(b->year, b->month, b->day, eras[i].y, eras[i].m, eras[i].d) >= 0) {
			code = eras[i].code;
			break;
		}
	char text[48];
	snprintf(text, sizeof(text), "%d%04d%02d%02d", code, b->year % 10000, b->month % 100,
	         b->day % 100);
	memcpy(out, text, 9);
	out[9] = 0;
}

int jpki_age_on(const struct jpki_date *birth, const struct jpki_date *on)
{
	int age = on->year - birth->year;
	if (on->month < birth->month || (on->month == birth->month && on->day < birth->day))
		age--;
	return age;
}

void jpki_date_in_japan(int64_t unix_seconds, struct jpki_date *out)
{
	jpki_date_from_unix(unix_seconds + JPKI_JST_OFFSET, out);
}

int64_t jpki_validity_end(const struct jpki_date *birth, int64_t issued_at)
{
	struct jpki_date now;
	jpki_date_in_japan(issued_at, &now);
	/* The first birthday strictly after the day of issuance, then four more. */
	int year = now.year;
	if (date_compare(now.year, birth->month, birth->day, now.year, now.month, now.day) <= 0)
		year++;
	year += 4;
	int day = birth->day;
	if (birth->month == 2 && day == 29 && !leap_year(year))
		day = 28;
	/* 23:59:59 JST that day, as on the real certificates. */
	return days_from_civil(year, birth->month, day) * SECONDS_PER_DAY + SECONDS_PER_DAY - 1 -
	       JPKI_JST_OFFSET;
}

int jpki_utf8_chars(const char *text)
{
	int chars = 0;
	const unsigned char *p = (const unsigned char *)text;
	while (*p) {
		int extra;
		if (*p < 0x80)
			extra = 0;
		else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			extra = 1;
		else if ((*p & 0xf0) == 0xe0)
			extra = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			extra = 3;
		else
			return -EINVAL;
		p++;
		for (int i = 0; i < extra; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return -EINVAL;
		chars++;
	}
	return chars;
}

/* --- names ----------------------------------------------------------------- */

static const char ORG_UNIT_AGENCY[] = "Japan Agency for Local Authority Information Systems";

static void ca_name_attrs(enum cert_kind kind, struct x509_name_attr attrs[4])
{
	attrs[0] = (struct x509_name_attr){X509_OID_COUNTRY, "JP"};
	attrs[1] = (struct x509_name_attr){X509_OID_ORG, "JPKI"};
	attrs[2] = (struct x509_name_attr){X509_OID_ORG_UNIT,
	                                   kind == CERT_KIND_SIGN ? "JPKI for digital signature"
	                                                          : "JPKI for user authentication"};
	attrs[3] = (struct x509_name_attr){X509_OID_ORG_UNIT, ORG_UNIT_AGENCY};
}

void jpki_ca_name(struct der *d, enum cert_kind kind)
{
	struct x509_name_attr attrs[4];
	ca_name_attrs(kind, attrs);
	x509_name_write(d, attrs, 4);
}

void jpki_service_name(struct der *d, enum cert_kind kind)
{
	/* As on the real 2023 CA certificates: C as PrintableString, the
	 * others UTF8String (x509_name_write's rule), one attribute per RDN. */
	struct x509_name_attr attrs[4] = {
	        {X509_OID_COUNTRY, "JP"},
	        {X509_OID_ORG, "公的個人認証サービス"},
	        {X509_OID_ORG_UNIT, kind == CERT_KIND_SIGN ? "公的個人認証サービス署名用"
	                                                   : "公的個人認証サービス利用者証明用"},
	        {X509_OID_ORG_UNIT, "地方公共団体情報システム機構"},
	};
	x509_name_write(d, attrs, 4);
}

void jpki_partition_name(struct der *d, enum cert_kind kind, const struct jpki_municipality *m)
{
	char cn[96];
	snprintf(cn, sizeof(cn), "%s CRLDP", m->romanized);
	const struct x509_name_attr attrs[] = {
	        {X509_OID_COUNTRY, "JP"},
	        {X509_OID_ORG, "JPKI"},
	        {X509_OID_ORG_UNIT, kind == CERT_KIND_SIGN ? "JPKI for digital signature"
	                                                   : "JPKI for user authentication"},
	        {X509_OID_ORG_UNIT, "CRL Distribution Points"},
	        {X509_OID_ORG_UNIT, m->prefecture_romanized},
	        {X509_OID_CN, cn},
	};
	x509_name_write(d, attrs, 6);
}

/* A directoryName GeneralName ([4] EXPLICIT Name) of the kind's CA or its
 * service name, appended to d. */
static void directory_name(struct der *d, enum cert_kind kind, bool service)
{
	der_begin(d, DER_CONTEXT(4));
	if (service)
		jpki_service_name(d, kind);
	else
		jpki_ca_name(d, kind);
	der_end(d);
}

/* --- extensions -------------------------------------------------------------- */

struct ext_list {
	struct x509_extension ext[EXTENSIONS_MAX];
	uint8_t *owned[EXTENSIONS_MAX];
	size_t count;
	int error;
};

static void ext_add(struct ext_list *l, const char *oid, bool critical, struct der *d)
{
	uint8_t *value = NULL;
	size_t len = 0;
	int err = der_finish(d, &value, &len);
	der_free(d);
	if (!err && l->count == EXTENSIONS_MAX)
		err = -ENOSPC;
	if (err) {
		free(value);
		if (!l->error)
			l->error = err;
		return;
	}
	l->owned[l->count] = value;
	l->ext[l->count++] = (struct x509_extension){oid, critical, value, len};
}

static void ext_free(struct ext_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->owned[i]);
}

static void ext_key_usage(struct ext_list *l, uint8_t bits)
{
	int unused = 0;
	while (unused < 7 && !(bits & (1u << unused)))
		unused++;
	struct der d;
	der_init(&d);
	der_bit_string(&d, &bits, 1, unused);
	ext_add(l, OID_KEY_USAGE, true, &d);
}

static void ext_key_ids(struct ext_list *l, mbedtls_pk_context *subject, mbedtls_pk_context *issuer)
{
	uint8_t id[20];
	struct der d;
	int err = x509_key_id(subject, id);
	if (err) {
		l->error = l->error ? l->error : err;
		return;
	}
	der_init(&d);
	der_tlv(&d, DER_OCTET_STRING, id, sizeof(id));
	ext_add(l, OID_SUBJECT_KEY_ID, false, &d);
	if (!issuer)
		return;
	err = x509_key_id(issuer, id);
	if (err) {
		l->error = l->error ? l->error : err;
		return;
	}
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_tlv(&d, DER_CONTEXT_PRIMITIVE(0), id, sizeof(id));
	der_end(&d);
	ext_add(l, OID_AUTHORITY_KEY_ID, false, &d);
}

static void other_name(struct der *d, const char *oid, const char *value)
{
	der_begin(d, DER_CONTEXT(0)); /* otherName [0] IMPLICIT OtherName */
	der_oid(d, oid);
	der_begin(d, DER_CONTEXT(0)); /* value [0] EXPLICIT */
	der_tlv(d, DER_UTF8_STRING, value, strlen(value));
	der_end(d);
	der_end(d);
}

static void ext_four_items(struct ext_list *l, const struct jpki_items *items)
{
	char *name_flags = jpki_substitute_flags(items->name);
	char *address_flags = jpki_substitute_flags(items->address);
	char sex[2] = {(char)('0' + items->sex), 0};
	if (!name_flags || !address_flags || items->sex < 1 || items->sex > 3) {
		l->error = l->error ? l->error : -EINVAL;
	} else {
		struct der d;
		der_init(&d);
		der_begin(&d, DER_SEQUENCE);
		/* The order a real card has: 1, 4, 3, 5, 2, 6 (docs/jpki.md). */
		other_name(&d, JPKI_OID_NAME, items->name);
		other_name(&d, JPKI_OID_BIRTH, items->birth_code);
		other_name(&d, JPKI_OID_SEX, sex);
		other_name(&d, JPKI_OID_ADDRESS, items->address);
		other_name(&d, JPKI_OID_NAME_FLAGS, name_flags);
		other_name(&d, JPKI_OID_ADDRESS_FLAGS, address_flags);
		der_end(&d);
		ext_add(l, OID_SUBJECT_ALT_NAME, false, &d);
	}
	free(name_flags);
	free(address_flags);
}

static void uri_general_name(struct der *d, const char *base, const char *path)
{
	char uri[1024];
	int n = snprintf(uri, sizeof(uri), "%s%s", base, path);
	if (n < 0 || (size_t)n >= sizeof(uri)) {
		d->error = d->error ? d->error : -ENAMETOOLONG;
		return;
	}
	der_tlv(d, DER_CONTEXT_PRIMITIVE(6), uri, (size_t)n);
}

static void ext_ee_common(struct ext_list *l, const struct jpki_ee *ee)
{
	struct der d;
	bool sign = ee->kind == CERT_KIND_SIGN;

	/* Not critical: mbedTLS 2.28 rejects certificates whose critical policy
	 * extension names anything but anyPolicy, and kensho's own verifier
	 * (and relying parties on mbedTLS) must parse these. */
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, sign ? JPKI_POLICY_SIGN : JPKI_POLICY_AUTH);
	der_end(&d);
	der_end(&d);
	ext_add(l, OID_CERT_POLICIES, false, &d);

	/* The issuer's alternative name: the same four-RDN service name as
	 * the CA certificate's subjectAltName (docs/jpki.md). */
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	directory_name(&d, ee->kind, true);
	der_end(&d);
	ext_add(l, OID_ISSUER_ALT_NAME, false, &d);

	/* The CA's whole CRL, or the municipality's partition: its directoryName
	 * and its URL (docs/crl.md, "Partitions"). */
	char path[64];
	if (ee->partition)
		snprintf(path, sizeof(path), "/crl/%s-%s.crl", sign ? "sign" : "auth",
		         ee->partition->code);
	else
		snprintf(path, sizeof(path), "/crl/%s.crl", sign ? "sign" : "auth");
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);   /* DistributionPoint */
	der_begin(&d, DER_CONTEXT(0)); /* distributionPoint (a CHOICE: explicit) */
	der_begin(&d, DER_CONTEXT(0)); /* fullName [0] IMPLICIT GeneralNames */
	if (ee->partition) {
		der_begin(&d, DER_CONTEXT(4)); /* directoryName [4] EXPLICIT Name */
		jpki_partition_name(&d, ee->kind, ee->partition);
		der_end(&d);
	}
	uri_general_name(&d, ee->base_url, path);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	ext_add(l, OID_CRL_DIST_POINTS, false, &d);

	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, OID_AD_OCSP);
	uri_general_name(&d, ee->base_url, "/ocsp");
	der_end(&d);
	der_end(&d);
	ext_add(l, OID_AUTHORITY_INFO, false, &d);
}

/* cRLDistributionPoints naming the kind's authority revocation list: one
 * DistributionPoint whose fullName is the CA's own DN as a directoryName,
 * as on the real CA certificates, and for the certificates the CA issues
 * that are not a person's also the ARL's URL (arl_url non-NULL), so HTTP
 * clients can fetch it (docs/crl.md, "The authority revocation list"). */
static void ext_arl_distribution_point(struct ext_list *l, enum cert_kind kind, const char *arl_url)
{
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_SEQUENCE);   /* DistributionPoint */
	der_begin(&d, DER_CONTEXT(0)); /* distributionPoint (a CHOICE: explicit) */
	der_begin(&d, DER_CONTEXT(0)); /* fullName [0] IMPLICIT GeneralNames */
	directory_name(&d, kind, false);
	if (arl_url)
		der_tlv(&d, DER_CONTEXT_PRIMITIVE(6), arl_url, strlen(arl_url));
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	ext_add(l, OID_CRL_DIST_POINTS, false, &d);
}

/* --- certificates -------------------------------------------------------------- */

static int sign_with(struct ext_list *l, const uint8_t *serial, size_t serial_len,
                     enum cert_kind kind, struct der *subject, int64_t not_before,
                     int64_t not_after, mbedtls_pk_context *subject_key, mbedtls_pk_context *ca_key,
                     x509_rng_fn rng, void *rng_state, uint8_t **der, size_t *der_len)
{
	struct der issuer;
	uint8_t *issuer_der = NULL, *subject_der = NULL;
	size_t issuer_len = 0, subject_len = 0;
	der_init(&issuer);
	jpki_ca_name(&issuer, kind);
	int err = l->error;
	int e1 = der_finish(&issuer, &issuer_der, &issuer_len);
	int e2 = der_finish(subject, &subject_der, &subject_len);
	der_free(&issuer);
	der_free(subject);
	err = err ? err : e1 ? e1 : e2;
	if (!err) {
		struct x509_cert_template t = {
		        .serial = serial,
		        .serial_len = serial_len,
		        .issuer = issuer_der,
		        .issuer_len = issuer_len,
		        .subject = subject_der,
		        .subject_len = subject_len,
		        .not_before = not_before,
		        .not_after = not_after,
		        .subject_key = subject_key,
		        .extensions = l->ext,
		        .extension_count = l->count,
		};
		err = x509_cert_sign(&t, ca_key, rng, rng_state, der, der_len);
	}
	free(issuer_der);
	free(subject_der);
	ext_free(l);
	return err;
}

int64_t jpki_ca_validity_end(int64_t issued_at)
{
	/* The calendar day of issuance in Japan, then the day before the same
	 * date ten years on (days_from_civil carries 29 February of a common
	 * year into 1 March, so the last day is then 28 February). */
	struct jpki_date jst;
	jpki_date_in_japan(issued_at, &jst);
	int64_t last_day =
	        days_from_civil(jst.year + JPKI_CA_VALIDITY_YEARS, jst.month, jst.day) - 1;
	return last_day * SECONDS_PER_DAY + SECONDS_PER_DAY - 1 - JPKI_JST_OFFSET;
}

int jpki_ca_cert(enum cert_kind kind, mbedtls_pk_context *key, const uint8_t *serial,
                 size_t serial_len, int64_t now, x509_rng_fn rng, void *rng_state, uint8_t **der,
                 size_t *der_len)
{
	/* The real CA certificates' extensions, in their order and with their
	 * criticality (docs/jpki.md, "The CAs"); no authorityKeyIdentifier. */
	struct ext_list l = {0};
	struct der d;
	ext_key_usage(&l, KU_KEY_CERT_SIGN | KU_CRL_SIGN);

	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	directory_name(&d, kind, true);
	der_end(&d);
	ext_add(&l, OID_SUBJECT_ALT_NAME, false, &d);

	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_bool(&d, true); /* cA; no pathLenConstraint */
	der_end(&d);
	ext_add(&l, OID_BASIC_CONSTRAINTS, true, &d);

	ext_arl_distribution_point(&l, kind, NULL);
	ext_key_ids(&l, key, NULL);

	struct der subject;
	der_init(&subject);
	jpki_ca_name(&subject, kind);
	return sign_with(&l, serial, serial_len, kind, &subject, now, jpki_ca_validity_end(now),
	                 key, key, rng, rng_state, der, der_len);
}

int jpki_ocsp_cert(enum cert_kind kind, mbedtls_pk_context *ca_key,
                   mbedtls_pk_context *responder_key, const uint8_t *serial, size_t serial_len,
                   const char *arl_url, int64_t now, x509_rng_fn rng, void *rng_state,
                   uint8_t **der, size_t *der_len)
{
	struct ext_list l = {0};
	struct der d;
	ext_key_usage(&l, KU_DIGITAL_SIGNATURE);
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, OID_KP_OCSP_SIGNING);
	der_end(&d);
	ext_add(&l, OID_EXT_KEY_USAGE, false, &d);
	/* RFC 6960 §4.2.2.2.1: relying parties need not check the responder's
	 * own status; its value is NULL. */
	der_init(&d);
	der_null(&d);
	ext_add(&l, OID_OCSP_NOCHECK, false, &d);
	/* Not a person's certificate: its revocation is on the CA's ARL. */
	ext_arl_distribution_point(&l, kind, arl_url);
	ext_key_ids(&l, responder_key, ca_key);

	struct x509_name_attr attrs[5];
	ca_name_attrs(kind, attrs);
	attrs[4] = (struct x509_name_attr){X509_OID_CN, "OCSP Responder"};
	struct der subject;
	der_init(&subject);
	x509_name_write(&subject, attrs, 5);
	return sign_with(&l, serial, serial_len, kind, &subject, now,
	                 now + (int64_t)JPKI_OCSP_VALIDITY_DAYS * SECONDS_PER_DAY, responder_key,
	                 ca_key, rng, rng_state, der, der_len);
}

int jpki_tsa_cert(mbedtls_pk_context *ca_key, mbedtls_pk_context *tsa_key, const uint8_t *serial,
                  size_t serial_len, const char *arl_url, int64_t now, x509_rng_fn rng,
                  void *rng_state, uint8_t **der, size_t *der_len)
{
	struct ext_list l = {0};
	struct der d;
	ext_key_usage(&l, KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	/* RFC 3161 §2.3: exactly one extended key usage, id-kp-timeStamping,
	 * and the extension critical. */
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, OID_KP_TIME_STAMPING);
	der_end(&d);
	ext_add(&l, OID_EXT_KEY_USAGE, true, &d);
	ext_arl_distribution_point(&l, CERT_KIND_SIGN, arl_url);
	ext_key_ids(&l, tsa_key, ca_key);

	struct x509_name_attr attrs[5];
	ca_name_attrs(CERT_KIND_SIGN, attrs);
	attrs[4] = (struct x509_name_attr){X509_OID_CN, "Time-Stamping Unit"};
	struct der subject;
	der_init(&subject);
	x509_name_write(&subject, attrs, 5);
	return sign_with(&l, serial, serial_len, CERT_KIND_SIGN, &subject, now,
	                 now + (int64_t)JPKI_TSA_VALIDITY_DAYS * SECONDS_PER_DAY, tsa_key, ca_key,
	                 rng, rng_state, der, der_len);
}

int jpki_ee_cert(const struct jpki_ee *ee, mbedtls_pk_context *ca_key, x509_rng_fn rng,
                 void *rng_state, uint8_t **der, size_t *der_len)
{
	bool sign = ee->kind == CERT_KIND_SIGN;
	if (sign != (ee->items != NULL))
		return -EINVAL;
	struct ext_list l = {0};
	ext_key_usage(&l, sign ? KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION : KU_DIGITAL_SIGNATURE);
	ext_ee_common(&l, ee);
	if (sign)
		ext_four_items(&l, ee->items);
	ext_key_ids(&l, ee->subject_key, ca_key);

	/* Signing: C=JP, L=<prefecture>, L=<municipality>, CN, the localities
	 * romanized as on a real card (L=Tokyo, L=Kiyose-shi). An address
	 * stored before the table (no known municipality) gets no locality. */
	struct x509_name_attr attrs[4];
	size_t n = 0;
	attrs[n++] = (struct x509_name_attr){X509_OID_COUNTRY, "JP"};
	const struct jpki_municipality *m =
	        sign ? jpki_address_municipality(ee->items->address, NULL) : NULL;
	if (m) {
		attrs[n++] = (struct x509_name_attr){X509_OID_LOCALITY, m->prefecture_romanized};
		attrs[n++] = (struct x509_name_attr){X509_OID_LOCALITY, m->romanized};
	}
	attrs[n++] = (struct x509_name_attr){X509_OID_CN, ee->common_name};
	struct der subject;
	der_init(&subject);
	x509_name_write(&subject, attrs, n);
	return sign_with(&l, ee->serial, ee->serial_len, ee->kind, &subject, ee->not_before,
	                 ee->not_after, ee->subject_key, ca_key, rng, rng_state, der, der_len);
}
