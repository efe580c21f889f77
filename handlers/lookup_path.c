/* The lookup endpoint's path grammar, apart from the handler so that it can
 * be fuzzed without a server: "/v1/certs/" ("sign" | "auth") "/" 1*40HEXDIG. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "handlers/lookup.h"

static bool is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

int lookup_path_parse(const char *path, size_t len, enum cert_kind *kind,
                      struct store_serial *serial)
{
	size_t prefix = strlen(LOOKUP_PREFIX);
	if (len < prefix || memcmp(path, LOOKUP_PREFIX, prefix) != 0)
		return -ENOENT;
	const char *rest = path + prefix;
	size_t rest_len = len - prefix;
	const char *slash = memchr(rest, '/', rest_len);
	if (!slash)
		return -ENOENT;
	size_t kind_len = (size_t)(slash - rest);
	if (kind_len == 4 && memcmp(rest, "sign", 4) == 0)
		*kind = CERT_KIND_SIGN;
	else if (kind_len == 4 && memcmp(rest, "auth", 4) == 0)
		*kind = CERT_KIND_AUTH;
	else
		return -ENOENT;
	const char *hex = slash + 1;
	size_t hex_len = rest_len - kind_len - 1;
	if (hex_len == 0 || hex_len > 2 * STORE_SERIAL_MAX || !is_hex(hex, hex_len) ||
	    store_serial_from_hex(hex, hex_len, serial))
		return -EINVAL;
	return 0;
}
