/* kenshod as a read replica (docs/cluster.md): `--replica-of URL`.
 *
 * Before the workers start, replica_prepare brings DIR/store to a state the
 * primary can continue: a fresh snapshot when there is none (or when the
 * primary no longer holds what follows the store's cursor), and the public
 * files beside it. In worker 0 a follower thread then long-polls the
 * primary's change log and applies each batch with its cursor in one write
 * transaction. Every worker's /readyz reads the replica's state from the
 * store, so all of them stop being ready together. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct replica_follower;

/** The replication.* settings of a replica. */
struct replica_settings {
	const char *primary; /**< https://HOST:PORT; NULL: not a replica */
	const char *cert, *key, *ca;
	int64_t max_lag_ms;
	int64_t poll_wait_ms;
	int64_t files_interval_ms;
	uint64_t snapshot_max;
	int64_t snapshot_timeout_ms; /**< how long the primary may take to start the snapshot */
	const char *peers;           /**< a primary's replication.peers: URLs; NULL: none */
	int64_t peer_interval_ms;
};

/** Reads the replication.* keys. 0, or -EINVAL (logged) when a replica
 * lacks its certificate, key or CA. */
int replica_settings_read(const struct config *c, struct replica_settings *out);

/** Bootstraps or re-bootstraps data_dir from the primary (no store yet,
 * or its cursor is gone from the primary's log), and copies the public
 * files. 0, or -errno with the reason logged for people. */
int replica_prepare(const char *data_dir, const struct replica_settings *s);

/** Starts the follower thread on an open store. */
int replica_follower_start(struct store *store, const char *data_dir,
                           const struct replica_settings *s, struct replica_follower **out);
/** Stops and joins it (waits for the poll in flight, at most poll_wait + a
 * few seconds). NULL is ignored. */
void replica_follower_stop(struct replica_follower *f);

/** On a primary with replication.peers, asks each peer's
 * /v1/replication/state once now and then every peer_interval: when one is
 * a primary of a later epoch (it was promoted), records the fence in the
 * store and stops (the node takes no more writes). *out is NULL without
 * peers, or when already fenced. */
struct fence_watch;
int replica_fence_watch_start(struct store *store, const struct replica_settings *s,
                              struct fence_watch **out);
/** Stops and joins it. NULL is ignored. */
void replica_fence_watch_stop(struct fence_watch *w);
/** /readyz check (arg: the store): fails while the store is fenced. */
int replica_fence_readiness_check(void *arg, char *why, size_t why_len);

/** /readyz check (arg: struct replica_readiness): fails while the replica is
 * further behind than max_lag, or needs a snapshot. */
struct replica_readiness {
	struct store *store;
	int64_t max_lag_ms;
	const char *primary;
};
int replica_readiness_check(void *arg, char *why, size_t why_len);
/** For a metrics gauge (arg: struct replica_readiness): seconds since the
 * replica last held everything the primary had; -1 before the first contact. */
double replica_lag_seconds_read(void *arg);
