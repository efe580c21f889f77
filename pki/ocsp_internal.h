/* Pieces shared by pki/ocsp_request.c and pki/ocsp_response.c; not for
 * other modules (they use pki/ocsp_codec.h). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "pki/ocsp_codec.h"

/** id-pkix-ocsp-nonce, 1.3.6.1.5.5.7.48.1.2 (RFC 6960 §4.4.1). */
#define OCSP_OID_NONCE "\x2b\x06\x01\x05\x05\x07\x30\x01\x02"

/** Decodes one CertID TLV at *p (keeping its DER); advances *p. */
int ocsp_cert_id_decode(unsigned char **p, const unsigned char *end, struct ocsp_cert_id *out);
/** Decodes Extensions content [*p, end), picking up a nonce; others ignored. */
int ocsp_extensions_decode(unsigned char **p, const unsigned char *end, bool *has_nonce,
                           uint8_t *nonce, size_t *nonce_len);
