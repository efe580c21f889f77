/* The query string of GET /v1/replication/changes: `after` (a sequence
 * number, required), `wait` (seconds, optional), `replica` (the replica's
 * id, optional: its acknowledgement of `after` is recorded under it) and
 * `epoch` (the epoch of the replica's change `after`, optional: checked
 * against the primary's), each a decimal number, each at most once. Kept
 * apart from HTTP so the parser can be fuzzed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replication_query {
	uint64_t after;
	uint64_t wait_s;  /**< 0 when absent: answer at once */
	uint64_t replica; /**< 0 when absent: nothing acknowledged */
	uint64_t epoch;   /**< 0 when absent: not checked */
};

/** Parses "after=N[&wait=S][&replica=ID][&epoch=E]" in any order. 0, or
 * -EINVAL with err saying why. */
int replication_query_parse(const char *query, size_t len, struct replication_query *out, char *err,
                            size_t err_len);
