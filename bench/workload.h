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

/** POSTs the files of a directory in turn (sorted by name), e.g. distinct
 * signed applications for the intake, where resubmitting the same bytes
 * would only return the first receipt. */
struct files_workload {
	struct bench_workload super;
	const char *path;
	const char *content_type;
	uint8_t **bodies;
	size_t *lengths;
	size_t count;
	size_t next_index;
	bool once; /**< stop after each file was sent once */
	double check_share;
	uint64_t counter;
};

/** Reads every regular file in dir. Returns 0, -ENOENT (no files) or -errno. */
int files_workload_init(struct files_workload *w, const char *dir, const char *path,
                        const char *content_type, bool once, double check_share);
/** Frees the bodies. */
void files_workload_free(struct files_workload *w);
