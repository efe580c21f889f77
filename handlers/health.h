/* /healthz, /readyz and /metrics: the operator's view of one worker. */
#pragma once

struct handler_family;

/** GET /healthz (liveness), /readyz (core/readiness.h checks) and /metrics
 * (core/metrics.h, Prometheus text). */
extern const struct handler_family health_family;
