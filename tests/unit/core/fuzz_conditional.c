/* Fuzz target: core/conditional's parsers of request headers (If-None-Match
 * lists and HTTP-dates) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/conditional.h"
#include "core/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* every member lies inside the value, and each call makes progress */
	size_t pos = 0, last = 0, count = 0;
	struct entity_tag tag;
	while (conditional_next_etag(text, size, &pos, &tag)) {
		if (pos > size || (count++ > 0 && pos <= last))
			__builtin_trap();
		if (tag.opaque && (tag.opaque < text || tag.opaque + tag.opaque_len > text + size ||
		                   tag.opaque_len < 2 || tag.opaque[0] != '"'))
			__builtin_trap();
		last = pos;
	}
	(void)conditional_etag_listed(text, size, "\"0123456789abcdef0123456789abcdef\"");

	int64_t when;
	if (conditional_parse_date(text, size, INT64_C(1796428800), &when) == 0) {
		if (size == 0)
			__builtin_trap(); /* an empty value is never a date */
		/* an IMF-fixdate that parsed formats back to the same bytes */
		char again[HTTP_DATE_SIZE];
		if (size == HTTP_DATE_SIZE - 1 && text[3] == ',' &&
		    memcmp(text + 23, "60", 2) != 0 &&
		    (http_date_format(when, again) != 0 || memcmp(again, text, size) != 0))
			__builtin_trap();
	}
	return 0;
}
