/* Fuzz target: an address as a person types it (`kensho issue --address`),
 * normalized and checked, then its flags computed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/jpki_address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = 0;
	char out[JPKI_ADDRESS_BUF], err[256];
	if (jpki_address_normalize(text, out, err, sizeof(err)) == 0) {
		if (strlen(out) >= JPKI_ADDRESS_BUF)
			abort();
		char *flags = jpki_substitute_flags(out);
		if (!flags)
			abort();
		free(flags);
	}
	jpki_address_municipality(text, NULL);
	free(text);
	return 0;
}
