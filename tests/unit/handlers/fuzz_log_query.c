/* Fuzz target log_query: the query strings of GET /v1/log/proof/... and the
 * tree size of /v1/log/sth/{size}. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/log_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly `size` bytes, so a read past the end is caught */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	struct log_query q;
	char err[160];
	if (log_query_parse(text, size, &q, err, sizeof err) == 0) {
		/* every parameter found was spelled out in the input */
		for (int i = 0; i < LOG_QUERY_COUNT; i++)
			if (q.has[i] && !memchr(text, '=', size))
				__builtin_trap();
	} else if (!memchr(err, '\0', sizeof err)) {
		__builtin_trap();
	}
	uint64_t n;
	if (log_query_number(text, size, &n) == 0 && (size == 0 || size > 20))
		__builtin_trap();
	free(text);
	return 0;
}
