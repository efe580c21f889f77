/* What a struct pki_cert (pki/verify.h) holds, for pki/ only: code outside
 * pki/ sees the certificate through pki/verify.h's functions. */
#ifndef KENSHO_PKI_CERT_INTERNAL_H
#define KENSHO_PKI_CERT_INTERNAL_H

#include <mbedtls/x509_crt.h>

#include "pki/verify.h"

struct pki_cert {
	mbedtls_x509_crt crt;
	struct pki_cert_info info;
};

/** An empty certificate (crt initialised), or NULL when out of memory. */
struct pki_cert *pki_cert_new(void);
/** Fills in the parts of a certificate whose crt is parsed. Returns 0, or
 * -EINVAL when its validity cannot be read. */
int pki_cert_finish(struct pki_cert *c);

#endif
