/* Fuzz target: pki/dn_text over arbitrary bytes taken as a DER Name. The
 * text must be NUL-terminated inside the buffer and valid UTF-8 whatever
 * the input, in a roomy buffer and in a small one (truncation). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pki/dn_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80             ? 1
		           : (*p & 0xe0) == 0xc0 ? 2
		           : (*p & 0xf0) == 0xe0 ? 3
		           : (*p & 0xf8) == 0xf0 ? 4
		                                 : 0;
		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char big[1 << 16];
	char small[24];
	int n = dn_text(data, size, big, sizeof big);
	if (n >= 0 && (strlen(big) != (size_t)n || !utf8_valid(big)))
		__builtin_trap();
	if (n < 0 && !utf8_valid(big))
		__builtin_trap();
	int m = dn_text(data, size, small, sizeof small);
	if (strlen(small) >= sizeof small || !utf8_valid(small))
		__builtin_trap();
	if (n >= 0 && m >= 0 && strcmp(big, small) != 0)
		__builtin_trap();
	return 0;
}
