/* Fuzz target: the client-side OCSP response parser (kensho-card and
 * kensho-bench read responses from servers they do not control). */
#include <stdint.h>

#include "pki/ocsp_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ocsp_response_info info;
	ocsp_response_parse(data, size, &info);
	return 0;
}
