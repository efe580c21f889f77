/* Fuzz target for pki/cms: any bytes through decode, signer lookup and the
 * signature check, as /v1/verify and /v1/intake feed them. */
#include <stddef.h>
#include <stdint.h>

#include "pki/cms.h"
#include "pki/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cms_signed_data sd;
	if (cms_decode(data, size, &sd) != 0)
		return 0;
	struct pki_cert *signer;
	if (cms_signer_cert(&sd, &signer) == 0) {
		enum cms_verdict verdict;
		/* Detached: check against the input itself, which exercises the
		 * same digest and signature paths. */
		const uint8_t *content = sd.detached ? data : sd.content.p;
		size_t content_len = sd.detached ? size : sd.content.len;
		cms_verify_signature(&sd, content, content_len, signer, &verdict);
		pki_cert_free(signer);
	}
	return 0;
}
