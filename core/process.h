/* The process model for --workers N: a supervisor forks N worker processes,
 * each running its own loop, and restarts any worker that dies. SIGTERM and
 * SIGINT are forwarded (workers drain), SIGHUP is forwarded (workers reload),
 * SIGUSR1 reopens the supervisor's log files and is forwarded (workers
 * reopen theirs).
 * Each worker writes metric slot `index` (metrics_setup before supervising);
 * a restarted worker continues its predecessor's slot. */
#pragma once
#include <stdint.h>

/** Exit status a worker uses for a start-up failure (bad config, port in
 * use) that restarting cannot fix: the supervisor then stops everything. */
#define PROCESS_EXIT_CONFIG 78

/** Runs worker_main(index, arg) in `workers` child processes and supervises
 * them until SIGTERM/SIGINT; then waits up to grace_ms for them to exit
 * (killing stragglers). Returns the supervisor's exit status. */
int process_supervise(unsigned workers, int (*worker_main)(unsigned index, void *arg), void *arg,
                      uint64_t grace_ms);
