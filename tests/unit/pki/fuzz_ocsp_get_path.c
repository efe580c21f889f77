/* Fuzz target: the RFC 5019 GET path decoder and then the request decoder,
 * the way handlers/ocsp.c chains them. */
#include <stdint.h>
#include <stdlib.h>

#include "pki/ocsp_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t der[OCSP_REQUEST_MAX];
	static struct ocsp_request req;
	int n = ocsp_get_path_decode((const char *)data, size, der, sizeof(der));
	if (n > (int)sizeof(der))
		abort();
	if (n > 0)
		ocsp_request_decode(der, (size_t)n, &req);
	return 0;
}
