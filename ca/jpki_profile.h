/* The JPKI certificate profile (docs/jpki.md): the two CAs, their delegated OCSP
 * responders, and the end-entity signing and user-authentication
 * certificates, plus the calendar rules they depend on (era-coded birth
 * dates, the age limit, validity to the fifth birthday after issuance). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "storage/store.h"
#include "pki/x509_write.h"

struct jpki_municipality;

/* The basic four items' otherName types (docs/jpki.md). */
#define JPKI_OID_NAME          "1.2.392.200149.8.5.5.1"
#define JPKI_OID_NAME_FLAGS    "1.2.392.200149.8.5.5.2"
#define JPKI_OID_SEX           "1.2.392.200149.8.5.5.3"
#define JPKI_OID_BIRTH         "1.2.392.200149.8.5.5.4"
#define JPKI_OID_ADDRESS       "1.2.392.200149.8.5.5.5"
#define JPKI_OID_ADDRESS_FLAGS "1.2.392.200149.8.5.5.6"
#define JPKI_POLICY_SIGN       "1.2.392.200149.8.5.1.1.20"
#define JPKI_POLICY_AUTH       "1.2.392.200149.8.5.1.3.30"

/** The signing certificate is not issued to children under this age. */
#define JPKI_SIGN_MIN_AGE 15
/** Address limit in characters (code points), from the prefecture on. */
#define JPKI_ADDRESS_MAX_CHARS 200
/** CA validity: ten years, to 23:59:59 JST on the day before the tenth
 * anniversary of the day of issuance (as the real 2023 CA certificates). */
#define JPKI_CA_VALIDITY_YEARS 10
/** Serial length of the CA certificates (octets, top bit clear): the real
 * ones have four. */
#define JPKI_CA_SERIAL_LEN 4
/** Length of the user-authentication certificate's subject CN, an opaque
 * identifier on a real card (docs/jpki.md). */
#define JPKI_AUTH_CN_LEN 23
/** Japan Standard Time's offset from UTC (seconds); JST has no summer time. */
#define JPKI_JST_OFFSET (9 * 3600)
/** Delegated OCSP responder validity: two years, within the CA's ten. */
#define JPKI_OCSP_VALIDITY_DAYS 730
/** Validity of the time-stamping unit's certificate (days). */
#define JPKI_TSA_VALIDITY_DAYS 1825

/** A calendar date. */
struct jpki_date {
	int year, month, day;
};

/** Parses and validates "YYYY-MM-DD" (a real Gregorian date, year 1868 or later). */
int jpki_date_parse(const char *text, struct jpki_date *out);
/** The UTC calendar date of a unix time. */
void jpki_date_from_unix(int64_t unix_seconds, struct jpki_date *out);
/** The calendar date in Japan (JST) of a unix time: the day every validity
 * and age rule of the service counts in. */
void jpki_date_in_japan(int64_t unix_seconds, struct jpki_date *out);
/** Unix seconds of 00:00:00 UTC on a date. */
int64_t jpki_date_to_unix(const struct jpki_date *date);
/** The certificate's birth-date item EYYYYMMDD with the era digit (1 Meiji,
 * 2 Taishō, 3 Shōwa, 4 Heisei, 5 Reiwa) of the day of birth. */
void jpki_birth_code(const struct jpki_date *birth, char out[10]);
/** Completed years of age on `on`. */
int jpki_age_on(const struct jpki_date *birth, const struct jpki_date *on);
/** End of validity: 23:59:59 JST on the fifth birthday after the day (in
 * Japan) of `issued_at` (a 29 February birthday falls on 28 February in
 * common years). */
int64_t jpki_validity_end(const struct jpki_date *birth, int64_t issued_at);

/** Appends the CA's Name for a kind (docs/jpki.md, "The CAs"). */
void jpki_ca_name(struct der *d, enum cert_kind kind);

/** Appends the four-RDN Name of the service for a kind (C=JP,
 * O=公的個人認証サービス, OU=公的個人認証サービス署名用 or 利用者証明用,
 * OU=地方公共団体情報システム機構): the CA's subjectAltName and its
 * end-entity certificates' issuerAltName. */
void jpki_service_name(struct der *d, enum cert_kind kind);

/** A CA certificate's notAfter for one issued at `issued_at`. */
int64_t jpki_ca_validity_end(int64_t issued_at);

/** Writes a self-signed CA certificate for `kind` with `key`. */
int jpki_ca_cert(enum cert_kind kind, mbedtls_pk_context *key, const uint8_t *serial,
                 size_t serial_len, int64_t now, x509_rng_fn rng, void *rng_state, uint8_t **der,
                 size_t *der_len);

/** Writes the delegated OCSP responder certificate (id-kp-OCSPSigning,
 * id-pkix-ocsp-nocheck; RFC 6960 §4.2.2.2) for `responder_key`, signed by the
 * CA. Its cRLDistributionPoints names the CA's authority revocation list: the
 * CA's DN and, unless NULL, arl_url. */
int jpki_ocsp_cert(enum cert_kind kind, mbedtls_pk_context *ca_key,
                   mbedtls_pk_context *responder_key, const uint8_t *serial, size_t serial_len,
                   const char *arl_url, int64_t now, x509_rng_fn rng, void *rng_state,
                   uint8_t **der, size_t *der_len);

/** Writes the time-stamping unit's certificate for `tsa_key`, issued by the
 * signing CA (`ca_key`): critical extendedKeyUsage id-kp-timeStamping alone
 * (RFC 3161 §2.3), digitalSignature and nonRepudiation (docs/tsa.md); its
 * cRLDistributionPoints names the signing CA's ARL as jpki_ocsp_cert's does. */
int jpki_tsa_cert(mbedtls_pk_context *ca_key, mbedtls_pk_context *tsa_key, const uint8_t *serial,
                  size_t serial_len, const char *arl_url, int64_t now, x509_rng_fn rng,
                  void *rng_state, uint8_t **der, size_t *der_len);

/** The basic four items as written into the signing certificate. */
struct jpki_items {
	const char *name;       /**< UTF-8, family and given name separated by U+3000 */
	const char *birth_code; /**< EYYYYMMDD */
	int sex;                /**< 1, 2 or 3 */
	const char *address;    /**< UTF-8, from the prefecture on */
};

/** An end-entity certificate to issue. */
struct jpki_ee {
	enum cert_kind kind;
	const uint8_t *serial; /**< positive magnitude, at most 20 octets */
	size_t serial_len;
	int64_t not_before;
	int64_t not_after;
	mbedtls_pk_context *subject_key;
	const char *common_name;        /**< signing: timestamp + sequence + office; auth: opaque */
	const struct jpki_items *items; /**< signing certificates only; NULL for user-auth */
	const char *base_url;           /**< CRL and OCSP URLs are made from it */
	/** The municipality whose CRL partition the certificate names
	 * (docs/crl.md, "Partitions"); NULL: the CA's whole CRL. */
	const struct jpki_municipality *partition;
};

/** Appends the Name of a municipality's CRL distribution point for a kind:
 * C=JP, O=JPKI, OU=JPKI for digital signature (or user authentication),
 * OU=CRL Distribution Points, OU=<prefecture>, CN=<municipality> CRLDP, the
 * names romanized (docs/crl.md). */
void jpki_partition_name(struct der *d, enum cert_kind kind, const struct jpki_municipality *m);

/** Writes an end-entity certificate signed by the kind's CA key. */
int jpki_ee_cert(const struct jpki_ee *ee, mbedtls_pk_context *ca_key, x509_rng_fn rng,
                 void *rng_state, uint8_t **der, size_t *der_len);

/** Counts UTF-8 code points; -EINVAL if the text is not valid UTF-8. */
int jpki_utf8_chars(const char *text);
