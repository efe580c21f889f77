/* The service manager's notification protocol (sd_notify(3)), written out
 * rather than linked from libsystemd: it is one datagram of "KEY=value"
 * lines to the AF_UNIX socket named by $NOTIFY_SOCKET, and libsystemd would
 * be a new runtime dependency (with its own threads and allocations) for
 * twenty lines. Without $NOTIFY_SOCKET every call does nothing, so kenshod
 * behaves the same outside systemd.
 *
 * Only the service's main process notifies: kenshod itself with one worker,
 * the supervisor (core/process.h) with several. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/** Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID once and connects
 * the socket, so later notifications work after privileges are dropped.
 * Returns 0 (also when there is no socket) or a negative errno. */
int sdnotify_open(void);
/** True when sdnotify_open found a notification socket. */
bool sdnotify_enabled(void);
/** Sends state, e.g. "READY=1\nSTATUS=serving"; 0 when not enabled. */
int sdnotify_send(const char *state);
/** Like sdnotify_send with a printf format. */
int sdnotify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Sends RELOADING=1 with MONOTONIC_USEC (systemd 253+ reads it; older ones
 * ignore it) and a STATUS line. */
int sdnotify_reloading(void);
/** The watchdog interval systemd expects pings within (WatchdogSec=), in
 * microseconds; 0 when there is none or it is meant for another process. */
uint64_t sdnotify_watchdog_usec(void);
