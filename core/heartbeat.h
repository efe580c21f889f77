/* What kenshod tells its service manager (core/sdnotify.h) about its
 * workers: ready once every worker listens, reloaded once every worker ran
 * its reload hooks, and alive only while every worker's loop turns.
 *
 * With one worker, kenshod is the worker and notifies directly from its
 * loop. With several, each worker writes its slot of a small shared-memory
 * area (mapped before fork) and the supervisor (core/process.c) reads the
 * slots and notifies: READY=1 when all are ready, WATCHDOG=1 every half
 * watchdog interval only while every slot's heartbeat is recent, so a
 * stalled worker loop gets the service restarted. Without $NOTIFY_SOCKET
 * nothing is sent; without $WATCHDOG_USEC no heartbeat timer runs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/** Prepares for `workers` workers, after sdnotify_open and before any fork:
 * with more than one, maps the shared slots. ready_status is the STATUS
 * line sent with READY=1 (copied). Returns 0 or a negative errno. */
int heartbeat_setup(unsigned workers, const char *ready_status);

/* --- in a worker ----------------------------------------------------------- */

/** Starts an unreferenced timer on loop whose every run proves the loop
 * turns: it stamps the worker's slot, or with one worker pings the
 * watchdog. Does nothing without a watchdog interval. Returns 0 or -errno. */
int heartbeat_start(uv_loop_t *loop, unsigned index);
/** Stops and closes the timer started by heartbeat_start (safe if none). */
void heartbeat_stop(void);
/** Every listener of worker index is bound and it is about to serve. */
void heartbeat_ready(unsigned index);
/** A reload (SIGHUP) begins in this worker, before its hooks run. */
void heartbeat_reload_begin(void);
/** This worker's reload hooks ran. */
void heartbeat_reload_end(unsigned index);
/** This worker drains (SIGTERM). */
void heartbeat_stopping(void);

/* --- in the supervisor ----------------------------------------------------- */

/** Resets slot index before its worker is forked: not ready, beat now. */
void heartbeat_slot_reset(unsigned index);
/** True once the worker in slot index said it serves. */
bool heartbeat_slot_ready(unsigned index);
/** Milliseconds since the worker in slot index last turned its loop. */
uint64_t heartbeat_slot_age_ms(unsigned index);
/** Starts a reload round; returns its number for heartbeat_slot_reloaded. */
uint64_t heartbeat_reload_request(void);
/** True when the worker in slot index finished reload round `round`. */
bool heartbeat_slot_reloaded(unsigned index, uint64_t round);
/** The STATUS line given to heartbeat_setup. */
const char *heartbeat_ready_status(void);
/** The watchdog interval in milliseconds (0: none). */
uint64_t heartbeat_watchdog_ms(void);
