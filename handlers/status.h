/* The operator's status page (GET /) and the numbers behind it (GET /v1/status). */
#pragma once

struct handler_env;
struct router;

/** Adds GET / (one self-contained HTML page) and GET /v1/status (JSON) for
 * the status role (handlers/roles.h), and starts this worker's 10 s sampler
 * of the request rate and latency. Returns 0 or -errno. */
int status_routes(struct router *r, const struct handler_env *env);
