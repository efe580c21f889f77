/* Fuzz target: the RFC 3161 request decoder (POST /tsa bodies come straight
 * from the network). A decoded request must be one the encoder can answer:
 * bounded fields and an imprint of its hash's length; a refusal must name a
 * failInfo the refusal encoder takes. */
#include <stdint.h>
#include <stdlib.h>

#include "pki/tsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tsp_request rq;
	enum tsp_fail_info fail;
	uint8_t *der;
	size_t len;
	if (tsp_request_decode(data, size, &rq, &fail) < 0) {
		if (tsp_response_reject(fail, NULL, &der, &len) != 0)
			abort();
		free(der);
		return 0;
	}
	size_t digest = rq.md == PKI_DIGEST_SHA256   ? 32
	                : rq.md == PKI_DIGEST_SHA384 ? 48
	                : rq.md == PKI_DIGEST_SHA512 ? 64
	                                             : 0;
	if (digest == 0 || rq.imprint_der_len < digest + 2 ||
	    rq.imprint_der_len > sizeof rq.imprint_der || rq.policy_len > TSP_POLICY_MAX ||
	    rq.nonce_len > TSP_NONCE_MAX + 1)
		abort();
	return 0;
}
