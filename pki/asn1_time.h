/* Reading an ASN.1 Time (RFC 5280 §4.1.2.5): the one reader of UTCTime and
 * GeneralizedTime in kensho, for certificates, CRLs, OCSP responses and CMS
 * signing times alike. Writing is der_time/der_generalized_time (der.h).
 *
 * Only the DER forms RFC 5280 allows are taken: UTCTime "YYMMDDHHMMSSZ", its
 * YY 50..99 meaning 19YY and 00..49 meaning 20YY (§4.1.2.5.1), and
 * GeneralizedTime "YYYYMMDDHHMMSSZ" (§4.1.2.5.2): seconds present, "Z", no
 * fraction, no offset, a real calendar date and a time of day up to 23:59:59. */
#ifndef KENSHO_PKI_ASN1_TIME_H
#define KENSHO_PKI_ASN1_TIME_H

#include <stddef.h>
#include <stdint.h>

/** Reads the Time TLV at *p (before end) as unix seconds and moves *p past it.
 * Returns 0, or -EINVAL (another tag, a bad length or a malformed time; *p is
 * left where it was). */
int pki_asn1_time_read(unsigned char **p, const unsigned char *end, int64_t *out);

/** Converts the content octets of a UTCTime (tag 0x17) or GeneralizedTime
 * (tag 0x18) to unix seconds. Returns 0 or -EINVAL. */
int pki_asn1_time_parse(int tag, const uint8_t *text, size_t len, int64_t *out);

#endif
