#include "pki/random.h"

#include <errno.h>
#include <sys/random.h>

#include <mbedtls/entropy.h>

int pki_random(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	while (len > 0) {
		ssize_t n = getrandom(out, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		}
		out += n;
		len -= (size_t)n;
	}
	return 0;
}
