/* See replication_query.h. */
#include "handlers/replication_query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers/log_query.h"

int replication_query_parse(const char *query, size_t len, struct replication_query *out, char *err,
                            size_t err_len)
{
	static const char *const names[] = {"after", "wait", "replica", "epoch"};
	bool has[4];
	uint64_t values[4];
	int rc = number_query_parse(query, len, names, 4, has, values, err, err_len);
	if (rc)
		return rc;
	if (!has[0]) {
		snprintf(err, err_len, "after=SEQUENCE is required");
		return -EINVAL;
	}
	*out = (struct replication_query){
	        .after = values[0], .wait_s = values[1], .replica = values[2], .epoch = values[3]};
	return 0;
}
