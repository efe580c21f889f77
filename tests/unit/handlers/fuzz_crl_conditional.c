/* Fuzz target: the CRL endpoint's parsers of request headers
 * (If-None-Match lists and HTTP-dates) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "handlers/crl_serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* the value must find its own ETag and tolerate anything else */
	(void)crl_if_none_match(text, size, "\"0123456789abcdef0123456789abcdef\"");
	int64_t when;
	if (crl_http_date_parse(text, size, &when) == 0 && size == 0)
		__builtin_trap(); /* an empty value is never a date */
	return 0;
}
