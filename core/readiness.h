/* Readiness checks behind /readyz: each handler family registers what must be
 * true before it can serve (store open, signing keys loaded). Per process. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct buf;

/** A check: returns 0 when ready, or a negative errno with a short reason for
 * people written into why (size why_len). Runs on the loop; must not block. */
typedef int (*readiness_check_fn)(void *arg, char *why, size_t why_len);

/** Registers a named check (name copied). Returns 0 or -ENOMEM. */
int readiness_register(const char *name, readiness_check_fn fn, void *arg);
/** Runs every check and appends {"ready":bool,"checks":{"name":"ok"|reason}}
 * to out. Returns true when all checks pass. */
bool readiness_evaluate(struct buf *out);
/** Forgets the checks registered with this fn and arg: a module whose state
 * goes away before the process does (a handler family's dispose). */
void readiness_unregister(readiness_check_fn fn, void *arg);
/** Forgets every check (tests, shutdown). */
void readiness_reset(void);
