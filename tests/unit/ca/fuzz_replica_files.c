/* Fuzz target: the replica's check of a files bundle from its primary. */
#include <stddef.h>
#include <stdint.h>

#include "ca/replica_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc = replica_files_check(data, size);
	if (rc != 0 && rc != -74 /* -EBADMSG */)
		__builtin_trap();
	if (rc == 0 && (size == 0 || data[0] != 1))
		__builtin_trap();
	return 0;
}
