#include "core/json.h"

#include <inttypes.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

void json_init(struct json *j, struct buf *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

/* The length of the well-formed UTF-8 sequence starting at s[0] (2 to 4
 * bytes, s[0] >= 0x80), or 0 when it is not one: a stray continuation byte,
 * an overlong form, a surrogate, beyond U+10FFFF, or cut short (RFC 3629 4). */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* the bounds of the second byte */
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/* JSON text must be UTF-8 (RFC 8259 8.1) but the bytes written come from
 * clients (paths, user agents) and certificates: each byte that is not part
 * of a well-formed sequence becomes U+FFFD, so every output parses. */
static void escape(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	buf_append(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t n = utf8_sequence_length((const unsigned char *)s + i, len - i);
			if (n) {
				buf_append(b, s + i, n);
				i += n - 1;
			} else {
				buf_append(b, "\\ufffd", 6);
			}
			continue;
		}
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				buf_append(b, u, sizeof(u));
			} else {
				buf_append(b, &s[i], 1);
			}
		}
	}
	buf_append(b, "\"", 1);
}

/* Writes the separator and key that precede any value. */
static void member(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		buf_append(j->out, ",", 1);
	j->need_comma[j->depth] = true;
	if (key) {
		escape(j->out, key, strlen(key));
		buf_append(j->out, ":", 1);
	}
}

static void open(struct json *j, const char *key, char bracket)
{
	member(j, key);
	buf_append(j->out, &bracket, 1);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	else
		j->out->failed = 1;
	j->need_comma[j->depth] = false;
}

static void close_(struct json *j, char bracket)
{
	if (j->depth > 0)
		j->depth--;
	buf_append(j->out, &bracket, 1);
}

void json_object_begin(struct json *j, const char *key)
{
	open(j, key, '{');
}
void json_object_end(struct json *j)
{
	close_(j, '}');
}
void json_array_begin(struct json *j, const char *key)
{
	open(j, key, '[');
}
void json_array_end(struct json *j)
{
	close_(j, ']');
}

void json_string_n(struct json *j, const char *key, const char *value, size_t len)
{
	member(j, key);
	escape(j->out, value, len);
}

void json_string(struct json *j, const char *key, const char *value)
{
	if (!value) {
		json_null(j, key);
		return;
	}
	json_string_n(j, key, value, strlen(value));
}

void json_hex(struct json *j, const char *key, const uint8_t *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	member(j, key);
	buf_append(j->out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		char pair[2] = {hex[data[i] >> 4], hex[data[i] & 15]};
		buf_append(j->out, pair, 2);
	}
	buf_append(j->out, "\"", 1);
}

void json_int(struct json *j, const char *key, int64_t value)
{
	member(j, key);
	buf_printf(j->out, "%" PRId64, value);
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
	member(j, key);
	buf_printf(j->out, "%" PRIu64, value);
}

void json_double(struct json *j, const char *key, double value)
{
	member(j, key);
	buf_printf(j->out, "%.6g", value);
}

void json_bool(struct json *j, const char *key, bool value)
{
	member(j, key);
	buf_append_str(j->out, value ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	buf_append_str(j->out, "null");
}

void json_time(struct json *j, const char *key, int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	char text[32];
	gmtime_r(&t, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_string(j, key, text);
}
