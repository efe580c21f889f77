/* Fuzz target: public keys as `kensho issue --sign-pubkey` and the admin API
 * receive them (PEM or DER), then the SubjectPublicKeyInfo walk that key
 * identifiers and OCSP key hashes use. */
#include <stddef.h>
#include <stdint.h>

#include "pki/x509_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	if (x509_pubkey_parse(&key, data, size) == 0) {
		uint8_t id[20];
		if (x509_key_id(&key, id) != 0)
			__builtin_trap(); /* a parsed key always has an SPKI */
	}
	mbedtls_pk_free(&key);

	const uint8_t *bits, *subject, *spki;
	size_t bits_len, subject_len, spki_len;
	if (x509_spki_key_bits(data, size, &bits, &bits_len) == 0 &&
	    (bits < data || bits + bits_len > data + size))
		__builtin_trap();
	if (x509_cert_parts(data, size, &subject, &subject_len, &spki, &spki_len) == 0 &&
	    (spki + spki_len > data + size || subject + subject_len > data + size))
		__builtin_trap();
	return 0;
}
