#include "card/receipt_fields.h"

#include <errno.h>
#include <string.h>

/* Finds `"key":` in [p, end); returns the first byte after the colon. The
 * receipt's writer puts version, receipt, received_at and sha256 before the
 * nested result object, so the first match of those keys is the top-level
 * one. */
static const uint8_t *find_key(const uint8_t *p, const uint8_t *end, const char *key)
{
	size_t key_len = strlen(key);
	while (p + key_len + 3 <= end) {
		const uint8_t *q = memchr(p, '"', (size_t)(end - p));
		if (!q || q + key_len + 3 > end)
			return NULL;
		if (memcmp(q + 1, key, key_len) == 0 && q[key_len + 1] == '"' &&
		    q[key_len + 2] == ':')
			return q + key_len + 3;
		p = q + 1;
	}
	return NULL;
}

/* Copies the JSON string starting at p (which must be '"') into out; escapes
 * are refused (none of the fields read here has any). */
static int copy_string(const uint8_t *p, const uint8_t *end, char *out, size_t cap)
{
	if (!p || p >= end || *p != '"')
		return -EBADMSG;
	p++;
	size_t n = 0;
	while (p < end && *p != '"') {
		if (*p == '\\' || *p < 0x20 || n + 1 >= cap)
			return -EBADMSG;
		out[n++] = (char)*p++;
	}
	if (p >= end)
		return -EBADMSG;
	out[n] = '\0';
	return 0;
}

/* Reads the decimal number at p (at least one digit, fits in 64 bits). */
static int read_number(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	if (!p || p >= end || *p < '0' || *p > '9')
		return -EBADMSG;
	uint64_t n = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return 0;
}

int receipt_fields_parse(const uint8_t *json, size_t len, struct receipt_summary *out)
{
	memset(out, 0, sizeof(*out));
	const uint8_t *end = json + len;
	if (read_number(find_key(json, end, "receipt"), end, &out->number) < 0)
		return -EBADMSG;
	if (copy_string(find_key(json, end, "received_at"), end, out->received_at,
	                sizeof(out->received_at)) < 0)
		return -EBADMSG;
	if (copy_string(find_key(json, end, "sha256"), end, out->sha256, sizeof(out->sha256)) < 0 ||
	    strlen(out->sha256) != 64)
		return -EBADMSG;
	const uint8_t *result = find_key(json, end, "result");
	if (!result)
		return -EBADMSG;
	/* Only a top-level log_index counts: it comes before the result. */
	const uint8_t *log_index = find_key(json, result, "log_index");
	if (log_index) {
		if (read_number(log_index, result, &out->log_index) < 0)
			return -EBADMSG;
		out->has_log_index = true;
	}
	const uint8_t *valid = find_key(result, end, "valid");
	out->valid = valid && end - valid >= 4 && memcmp(valid, "true", 4) == 0;
	return 0;
}
