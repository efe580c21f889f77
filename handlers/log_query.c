/* Query strings of the log's proof endpoints: see log_query.h. */
#include "handlers/log_query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const NAMES[LOG_QUERY_COUNT] = {
        [LOG_QUERY_INDEX] = "index",
        [LOG_QUERY_SIZE] = "size",
        [LOG_QUERY_FIRST] = "first",
        [LOG_QUERY_SECOND] = "second",
};

int log_query_number(const char *text, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -EINVAL;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		uint64_t digit = (uint64_t)(text[i] - '0');
		if (n > (UINT64_MAX - digit) / 10)
			return -EINVAL;
		n = n * 10 + digit;
	}
	*out = n;
	return 0;
}

int number_query_parse(const char *query, size_t len, const char *const *names, size_t count,
                       bool *has, uint64_t *values, char *err, size_t err_len)
{
	for (size_t i = 0; i < count; i++) {
		has[i] = false;
		values[i] = 0;
	}
	if (len > 0 && query[len - 1] == '&') {
		snprintf(err, err_len, "the query ends in an empty parameter");
		return -EINVAL;
	}
	size_t at = 0;
	while (at < len) {
		const char *part = query + at;
		const char *amp = memchr(part, '&', len - at);
		size_t part_len = amp ? (size_t)(amp - part) : len - at;
		at += part_len + (amp ? 1 : 0);
		const char *eq = memchr(part, '=', part_len);
		size_t name_len = eq ? (size_t)(eq - part) : part_len;
		size_t which = count;
		for (size_t i = 0; i < count; i++)
			if (strlen(names[i]) == name_len && memcmp(names[i], part, name_len) == 0)
				which = i;
		if (which == count) {
			char known[96] = "";
			for (size_t i = 0, used = 0; i < count && used < sizeof known; i++)
				used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
				                         i ? ", " : "", names[i]);
			snprintf(err, err_len, "unknown query parameter \"%.*s\" (%s)",
			         (int)(name_len > 32 ? 32 : name_len), part, known);
			return -EINVAL;
		}
		if (has[which]) {
			snprintf(err, err_len, "%s is given twice", names[which]);
			return -EINVAL;
		}
		size_t value_len = eq ? part_len - name_len - 1 : 0;
		if (!eq || log_query_number(eq + 1, value_len, &values[which]) < 0) {
			snprintf(err, err_len, "%s takes a decimal number (0 to 2^64-1)",
			         names[which]);
			return -EINVAL;
		}
		has[which] = true;
	}
	return 0;
}

int log_query_parse(const char *query, size_t len, struct log_query *out, char *err, size_t err_len)
{
	return number_query_parse(query, len, NAMES, LOG_QUERY_COUNT, out->has, out->value, err,
	                          err_len);
}
