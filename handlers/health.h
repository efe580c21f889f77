/* /healthz, /readyz and /metrics: the operator's view of one worker. */
#pragma once

struct handler_env;
struct router;

/** Adds GET /healthz (liveness), /readyz (core/readiness.h checks) and
 * /metrics (core/metrics.h, Prometheus text). Returns 0 or -errno. */
int health_routes(struct router *r, const struct handler_env *env);
