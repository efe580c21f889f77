/* The Merkle log's endpoint family (handlers/log.c): GET /v1/log/sth,
 * /v1/log/sth/{size}, /v1/log/proof/inclusion and /v1/log/proof/consistency,
 * intake role; on worker 0 also the tree-head signer (log.sth_interval).
 * docs/log.md. */
#pragma once

struct handler_family;

/** Routes the log's endpoints and, on worker 0, signs tree heads. */
extern const struct handler_family log_family;
