/* Fuzzes the JSON writer's string escaping with arbitrary bytes (paths and
 * user agents in the access log): the output must always be one JSON string
 * of well-formed UTF-8 with no raw control characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent check of UTF-8 well-formedness (RFC 3629's table). */
static int utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n > len)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_string_n(&j, NULL, (const char *)data, size);
	if (b.failed) {
		buf_free(&b);
		return 0;
	}
	if (b.len < 2 || b.data[0] != '"' || b.data[b.len - 1] != '"' || !utf8_ok(b.data, b.len))
		abort();
	for (size_t i = 1; i + 1 < b.len; i++) {
		if (b.data[i] < 0x20 || b.data[i] == 0x7f)
			abort();
		if (b.data[i] == '\\') {
			i++; /* the escaped character */
			continue;
		}
		if (b.data[i] == '"')
			abort();
	}
	buf_free(&b);
	return 0;
}
