/* Fuzz target: the query string of GET /v1/replication/changes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "handlers/replication_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replication_query q;
	char err[128];
	err[0] = '\0';
	int rc = replication_query_parse((const char *)data, size, &q, err, sizeof err);
	if (rc != 0 && (rc != -22 || err[0] == '\0'))
		__builtin_trap(); /* a refusal always says why */
	if (rc == 0 && size < 7)
		__builtin_trap(); /* "after=N" is the shortest valid query */
	return 0;
}
