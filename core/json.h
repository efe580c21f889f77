/* Minimal JSON writer onto a struct buf. kensho only emits JSON (API answers,
 * access log, bench results); it parses none. Commas are managed here so
 * callers write fields in order and never think about separators. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define JSON_MAX_DEPTH 16

struct json {
	struct buf *out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

/** Starts writing into `out` (appending). */
void json_init(struct json *j, struct buf *out);
/** Opens an object; `key` is NULL at top level or inside an array. */
void json_object_begin(struct json *j, const char *key);
/** Closes the innermost object. */
void json_object_end(struct json *j);
/** Opens an array; `key` as for json_object_begin. */
void json_array_begin(struct json *j, const char *key);
/** Closes the innermost array. */
void json_array_end(struct json *j);
/** Writes a string member (or array element when key is NULL); NULL value → null. */
void json_string(struct json *j, const char *key, const char *value);
/** Writes a string of given length: NULs and control characters are
 * escaped, bytes that are not well-formed UTF-8 become U+FFFD. */
void json_string_n(struct json *j, const char *key, const char *value, size_t len);
/** Writes bytes as a lowercase hex string. */
void json_hex(struct json *j, const char *key, const uint8_t *data, size_t len);
/** Writes a signed integer. */
void json_int(struct json *j, const char *key, int64_t value);
/** Writes an unsigned integer. */
void json_uint(struct json *j, const char *key, uint64_t value);
/** Writes a number with up to 6 significant decimals. */
void json_double(struct json *j, const char *key, double value);
/** Writes true or false. */
void json_bool(struct json *j, const char *key, bool value);
/** Writes null. */
void json_null(struct json *j, const char *key);
/** Writes a UTC time (unix seconds) as RFC 3339 "YYYY-MM-DDTHH:MM:SSZ". */
void json_time(struct json *j, const char *key, int64_t unix_seconds);
