/* The translation between kensho's digest names and mbedTLS's, for pki/
 * only: code outside pki/ names digests with enum pki_digest (pki/hash.h). */
#ifndef KENSHO_PKI_HASH_INTERNAL_H
#define KENSHO_PKI_HASH_INTERNAL_H

#include <mbedtls/md.h>

#include "pki/hash.h"

/** mbedTLS's name for a digest; MBEDTLS_MD_NONE for a value outside the enum. */
mbedtls_md_type_t pki_digest_md(enum pki_digest digest);
/** kensho's name for an mbedTLS digest. Returns 0, or -ENOTSUP for one
 * enum pki_digest does not name. */
int pki_digest_from_md(mbedtls_md_type_t md, enum pki_digest *out);

#endif
