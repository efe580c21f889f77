/* The certificate vocabulary that storage/ and pki/ both speak: which kind of
 * JPKI certificate, whether it is revoked and why (RFC 5280 CRLReason), and
 * its serial number. Only types here, no functions: both libraries include
 * this header, neither includes the other (common/README.md says why). */
#pragma once
#include <stdint.h>

/** The two certificates of a card: the signing and the user-authentication one. */
enum cert_kind { CERT_KIND_SIGN = 1, CERT_KIND_AUTH = 2 };

/** A certificate's status as the CA recorded it. */
enum cert_status { CERT_STATUS_GOOD = 0, CERT_STATUS_REVOKED = 1 };

/** RFC 5280 §5.3.1 CRLReason codes (7 is not used). */
enum crl_reason {
	CRL_REASON_UNSPECIFIED = 0,
	CRL_REASON_KEY_COMPROMISE = 1,
	CRL_REASON_CA_COMPROMISE = 2,
	CRL_REASON_AFFILIATION_CHANGED = 3,
	CRL_REASON_SUPERSEDED = 4,
	CRL_REASON_CESSATION_OF_OPERATION = 5,
	CRL_REASON_CERTIFICATE_HOLD = 6,
	CRL_REASON_REMOVE_FROM_CRL = 8,
	CRL_REASON_PRIVILEGE_WITHDRAWN = 9,
	CRL_REASON_AA_COMPROMISE = 10,
};

/** Longest serial number kensho keeps (RFC 5280 §4.1.2.2: at most 20 octets). */
#define STORE_SERIAL_MAX 20

/** A certificate serial number: the INTEGER's content octets, big-endian,
 * exactly as in DER (minimal, with a leading 0x00 only if the top bit is set).
 * The name is the one every user already spells; it lives here because the
 * serial is the certificate's, not the store's. */
struct store_serial {
	uint8_t len;
	uint8_t bytes[STORE_SERIAL_MAX];
};
