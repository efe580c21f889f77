/* Synchronous acknowledgement on a worker loop (docs/cluster.md): holds a
 * write's answer until replication.sync_replicas replicas have durably
 * applied it, or replication.sync_timeout has passed.
 *
 * A waiter is bound to the change log's last sequence when it starts
 * waiting: the write it answers for committed at or before it. One timer
 * per gate re-reads the acknowledgements (storage/replica_acks.c: one read
 * transaction and a short cursor walk) every few milliseconds while anyone
 * waits; nothing blocks the loop. */
#pragma once
#include <uv.h>

struct config;
struct store;
struct sync_gate;

/** rc: 0 when `wanted` replicas hold the write, -ETIMEDOUT after the
 * timeout, -ECANCELED when the gate closed first (the worker drains), or
 * another -errno when the store could not be read. */
typedef void (*sync_gate_cb)(void *arg, int rc, unsigned acked, unsigned wanted);

/** Makes a gate from replication.sync_replicas and sync_timeout; *out is
 * NULL (and every wait answers at once) when sync_replicas is 0. */
int sync_gate_new(uv_loop_t *loop, struct store *store, const struct config *config,
                  struct sync_gate **out);
/** Calls cb(arg, ...) once, later on the loop (at once with a NULL gate). */
void sync_gate_wait(struct sync_gate *g, sync_gate_cb cb, void *arg);
/** What the error answer says about a failed wait: "only 0 of 1 replicas
 * acknowledged it within 10000 ms" and the like. */
void sync_gate_describe(int rc, unsigned acked, unsigned wanted, int64_t timeout_ms, char *out,
                        size_t len);
/** The configured timeout (0 for a NULL gate). */
int64_t sync_gate_timeout_ms(const struct sync_gate *g);
/** Answers every waiter with -ECANCELED, and every later wait too (the
 * worker drains); closes the timer. NULL is ignored. */
void sync_gate_close(struct sync_gate *g);
/** Frees a closed gate once the loop has run to its end. NULL is ignored. */
void sync_gate_free(struct sync_gate *g);
