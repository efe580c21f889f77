/* Fuzz target: the lookup endpoint's path parser, fed raw request paths. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "handlers/lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cert_kind kind;
	struct store_serial serial;
	if (lookup_path_parse((const char *)data, size, &kind, &serial) == 0) {
		/* A parsed serial is minimal positive DER content. */
		if (serial.len == 0 || serial.len > STORE_SERIAL_MAX)
			__builtin_trap();
		if (serial.len > 1 && serial.bytes[0] == 0 && !(serial.bytes[1] & 0x80))
			__builtin_trap();
		if (kind != CERT_KIND_SIGN && kind != CERT_KIND_AUTH)
			__builtin_trap();
	}
	return 0;
}
