/* See replication_query.h. */
#include "handlers/replication_query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers/log_query.h"

int replication_query_parse(const char *query, size_t len, struct replication_query *out, char *err,
                            size_t err_len)
{
	*out = (struct replication_query){0};
	bool has_after = false, has_wait = false;
	size_t at = 0;
	while (at < len) {
		const char *part = query + at;
		const char *amp = memchr(part, '&', len - at);
		size_t part_len = amp ? (size_t)(amp - part) : len - at;
		at += part_len + (amp ? 1 : 0);
		const char *eq = memchr(part, '=', part_len);
		if (!eq) {
			snprintf(err, err_len, "each parameter is name=number");
			return -EINVAL;
		}
		size_t name_len = (size_t)(eq - part);
		const char *value = eq + 1;
		size_t value_len = part_len - name_len - 1;
		bool *seen;
		uint64_t *slot;
		if (name_len == 5 && memcmp(part, "after", 5) == 0) {
			seen = &has_after;
			slot = &out->after;
		} else if (name_len == 4 && memcmp(part, "wait", 4) == 0) {
			seen = &has_wait;
			slot = &out->wait_s;
		} else {
			snprintf(err, err_len, "unknown parameter (after and wait are known)");
			return -EINVAL;
		}
		if (*seen) {
			snprintf(err, err_len, "a parameter is given twice");
			return -EINVAL;
		}
		*seen = true;
		if (log_query_number(value, value_len, slot) != 0) {
			snprintf(err, err_len,
			         "a value is not a decimal number of at most 20 digits");
			return -EINVAL;
		}
		if (amp && at == len) {
			snprintf(err, err_len, "the query ends with '&'");
			return -EINVAL;
		}
	}
	if (!has_after) {
		snprintf(err, err_len, "after=SEQUENCE is required");
		return -EINVAL;
	}
	return 0;
}
