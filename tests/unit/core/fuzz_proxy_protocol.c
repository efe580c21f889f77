/* Fuzz target: core/proxy_protocol's PROXY v2 parser (the first bytes of
 * every connection on a server.listen_proxy listener) and the
 * proxy.trusted list parser, on arbitrary bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
	if (!memchr(s, 0, cap))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_v2_header h;
	char why[160];
	int n = proxy_v2_parse(data, size, &h, why, sizeof why);
	if (n > 0) {
		if ((size_t)n > size || n > PROXY_V2_MAX_BYTES || (size_t)n != h.length)
			__builtin_trap();
		check_text(h.source, sizeof h.source);
		check_text(h.ssl_cn, sizeof h.ssl_cn);
		check_text(h.ssl_version, sizeof h.ssl_version);
		/* the header alone parses the same; one byte less wants more */
		struct proxy_v2_header again;
		if (proxy_v2_parse(data, (size_t)n, &again, why, sizeof why) != n ||
		    proxy_v2_parse(data, (size_t)n - 1, &again, why, sizeof why) != -EAGAIN)
			__builtin_trap();
	} else if (n != -EAGAIN && n != -EPROTO && n != -EBADMSG && n != -EMSGSIZE &&
	           n != -ENOMEM) {
		__builtin_trap();
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct proxy_trust *t;
	char err[200];
	if (proxy_trust_parse(text, &t, err, sizeof err) == 0) {
		(void)proxy_trust_allows(t, "127.0.0.1:1");
		(void)proxy_trust_allows(t, "[::ffff:10.0.0.1]:2");
		(void)proxy_trust_allows(t, text);
		proxy_trust_free(t);
	}
	free(text);
	return 0;
}
