/* kensho-bench's workloads: where requests come from and how answers are
 * checked. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/loadgen.h"

/** The same request every time (a URL, an optional body). */
struct fixed_workload {
	struct bench_workload super;
	struct bench_request request;
	uint8_t *body; /**< owned */
	double check_share;
	uint64_t counter;
};

/** Sets up a fixed workload; body may be NULL. Answers are checked (status
 * 200) at the given share of requests. */
void fixed_workload_init(struct fixed_workload *w, const char *method, const char *path,
                         uint8_t *body, size_t body_len, const char *content_type,
                         double check_share);
/** Frees the body. */
void fixed_workload_free(struct fixed_workload *w);
