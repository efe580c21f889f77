/* Fuzz target: the CRL header reader (tls/crl_read.h) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "tls/crl_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_info info;
	if (crl_read_info(data, size, &info) == 0 && info.entries_len > size)
		__builtin_trap(); /* entries must lie inside the input */
	return 0;
}
