/* The primary's replication endpoints (handlers/replication.c), replica role:
 * GET /v1/replication/snapshot and /v1/replication/changes. docs/cluster.md. */
#pragma once
#include <stdbool.h>

struct exchange;
struct handler_env;
struct handler_family;

/** On a primary that learnt another node was promoted past its epoch
 * (storage: store_fence_get), answers 503 fenced naming the new primary
 * and returns true; the write handlers call it first. */
bool replication_refuse_if_fenced(const struct handler_env *env, struct exchange *ex);

/** Routes the snapshot and change-log endpoints. */
extern const struct handler_family replication_family;
/** On a replica only: answers the paths of the families that write (intake,
 * tsa, admin), which do not start there, with 503 naming the primary. */
extern const struct handler_family replica_refusal_family;
