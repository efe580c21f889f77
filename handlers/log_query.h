/* Query strings made of decimal numbers only, "name=digits&name=digits":
 * GET /v1/log/proof/... (`index`, `size`, `first`, `second`),
 * /v1/replication/changes and /v1/changes. Kept apart from HTTP so the parser
 * of this outside input can be fuzzed alone. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_query_param {
	LOG_QUERY_INDEX,
	LOG_QUERY_SIZE,
	LOG_QUERY_FIRST,
	LOG_QUERY_SECOND,
	LOG_QUERY_COUNT
};

/** The parameters found. */
struct log_query {
	bool has[LOG_QUERY_COUNT];
	uint64_t value[LOG_QUERY_COUNT];
};

/** Parses "name=digits&name=digits" (as received: nothing is percent-
 * decoded, as no valid value needs it) where each name is one of the
 * `count` names, at most once; has[i] and values[i] tell what names[i]
 * got. Returns 0, or -EINVAL with err saying why: an unknown or repeated
 * name, a value that is not 1 to 20 decimal digits or does not fit in 64
 * bits, an empty part. */
int number_query_parse(const char *query, size_t len, const char *const *names, size_t count,
                       bool *has, uint64_t *values, char *err, size_t err_len);

/** number_query_parse with the log's four names. */
int log_query_parse(const char *query, size_t len, struct log_query *out, char *err,
                    size_t err_len);

/** Parses a decimal number of 1 to 20 digits that fits in 64 bits (a tree
 * size in a path). 0 or -EINVAL. */
int log_query_number(const char *text, size_t len, uint64_t *out);
