/* The primary's replication endpoints (handlers/replication.c), replica role:
 * GET /v1/replication/snapshot and /v1/replication/changes. docs/cluster.md. */
#pragma once

struct handler_family;

/** Routes the snapshot and change-log endpoints. */
extern const struct handler_family replication_family;
