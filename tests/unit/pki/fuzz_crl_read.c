/* Fuzz target: the CRL header readers (pki/crl_read.h) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "pki/crl_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_info info;
	if (crl_read_info(data, size, &info) == 0 && info.entries_len > size)
		__builtin_trap(); /* entries must lie inside the input */
	struct crl_info head;
	if (crl_read_head(data, size, &head) == 0 && crl_read_info(data, size, &info) == 0 &&
	    (head.this_update != info.this_update || head.next_update != info.next_update))
		__builtin_trap(); /* a prefix reads the same dates as the whole */
	return 0;
}
