/* Fuzz target: the OCSP request decoder (POST bodies come straight from the
 * network). Whatever decodes must re-encode to a request that decodes to the
 * same CertIDs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/ocsp_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ocsp_request req, again;
	if (ocsp_request_decode(data, size, &req))
		return 0;
	uint8_t *der;
	size_t len;
	if (ocsp_request_encode(req.ids, req.count, NULL, 0, &der, &len))
		abort();
	if (ocsp_request_decode(der, len, &again) || again.count != req.count)
		abort();
	for (size_t i = 0; i < req.count; i++)
		if (again.ids[i].der_len != req.ids[i].der_len ||
		    memcmp(again.ids[i].der, req.ids[i].der, req.ids[i].der_len))
			abort();
	free(der);
	return 0;
}
