/* Fuzz target admin_params: admin API bodies. Byte 0 picks the media type
 * (JSON, form, none); the rest is the body. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "handlers/admin_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"application/json", "application/x-www-form-urlencoded",
	                                    NULL};
	if (size < 1)
		return 0;
	const char *ct = types[data[0] % 3];
	struct admin_params p;
	char err[200];
	if (admin_params_parse(ct, ct ? strlen(ct) : 0, data + 1, size - 1, &p, err, sizeof(err)) ==
	    0) {
		for (size_t i = 0; i < p.count; i++) /* every value is a C string */
			if (strlen(p.items[i].value) > size ||
			    !admin_params_get(&p, p.items[i].key))
				__builtin_trap();
		admin_params_free(&p);
	}
	return 0;
}
