/* The operator's status page (GET /) and the numbers behind it (GET /v1/status). */
#pragma once

struct handler_family;

/** GET / (one self-contained HTML page) and GET /v1/status (JSON) for the
 * status role (handlers/roles.h), and this worker's 10 s sampler of the
 * request rate and latency. */
extern const struct handler_family status_family;
