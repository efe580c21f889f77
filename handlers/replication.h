/* The primary's replication endpoints (handlers/replication.c), replica role:
 * GET /v1/replication/snapshot and /v1/replication/changes. docs/cluster.md. */
#pragma once

struct handler_family;

/** Routes the snapshot and change-log endpoints. */
extern const struct handler_family replication_family;
/** On a replica only: answers the paths of the families that write (intake,
 * tsa, admin), which do not start there, with 503 naming the primary. */
extern const struct handler_family replica_refusal_family;
