/* The supervisor: a plain signal loop (no libuv, so children start from a
 * clean slate after fork) that keeps N workers alive and speaks for them to
 * the service manager (core/heartbeat.h). */
#include "core/process.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/heartbeat.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sdnotify.h"

/* A worker that dies within this long of its start is restarted only after
 * the same delay, so a crash loop does not spin the CPU. */
#define RESTART_BACKOFF_MS 1000

struct worker_slot {
	pid_t pid;
	uint64_t started_ms;
	uint64_t restart_at_ms; /* 0: not waiting */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pid_t spawn(unsigned index, int (*worker_main)(unsigned, void *), void *arg,
                   const sigset_t *old_mask)
{
	heartbeat_slot_reset(index);
	pid_t pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, old_mask, NULL);
		/* A restarted worker continues its predecessor's metric slot. */
		metrics_set_worker(index);
		exit(worker_main(index, arg));
	}
	if (pid < 0)
		log_error("cannot fork worker %u: %s", index, strerror(errno));
	return pid;
}

static void signal_all(struct worker_slot *slots, unsigned n, int sig)
{
	for (unsigned i = 0; i < n; i++) {
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
	}
}

/* What the service manager has been told, and what it waits for. */
struct notify_state {
	bool ready_sent;       /* READY=1 after start or after the last reload */
	uint64_t reload_round; /* the round READY=1 waits for; 0: none */
	uint64_t next_ping_ms; /* when WATCHDOG=1 is next due */
	bool stall_reported;   /* a stalled worker was logged */
};

/* READY=1 once every worker listens (at start) or once every running worker
 * ran its reload hooks (after SIGHUP); a worker forked since the reload read
 * the configuration afresh and owes nothing. */
static void notify_ready_when_due(struct notify_state *ns, const struct worker_slot *slots,
                                  unsigned n)
{
	if (ns->ready_sent)
		return;
	for (unsigned i = 0; i < n; i++) {
		bool running = slots[i].pid > 0;
		if (ns->reload_round && running && !heartbeat_slot_reloaded(i, ns->reload_round))
			return;
		if (!ns->reload_round && !(running && heartbeat_slot_ready(i)))
			return;
	}
	ns->ready_sent = true;
	ns->reload_round = 0;
	sdnotify_sendf("READY=1\nSTATUS=%s", heartbeat_ready_status());
}

/* WATCHDOG=1 every half interval, but only while every running worker's
 * loop stamped its heartbeat within one interval: a worker stuck in a loop
 * turn then stops the pings, and the service manager restarts kenshod. A
 * worker that died is the supervisor's to restart and does not stop them. */
static void notify_watchdog_when_due(struct notify_state *ns, const struct worker_slot *slots,
                                     unsigned n, uint64_t now)
{
	uint64_t interval = heartbeat_watchdog_ms();
	if (!interval || now < ns->next_ping_ms)
		return;
	ns->next_ping_ms = now + (interval / 2 ? interval / 2 : 1);
	for (unsigned i = 0; i < n; i++) {
		uint64_t age = heartbeat_slot_age_ms(i);
		if (slots[i].pid <= 0 || age < interval)
			continue;
		if (!ns->stall_reported) {
			log_error(
			        "supervisor: worker %u (pid %d) has not turned its event loop for "
			        "%llu ms; withholding the watchdog ping so that the service "
			        "manager restarts kenshod",
			        i, (int)slots[i].pid, (unsigned long long)age);
			sdnotify_sendf("STATUS=worker %u (pid %d) stalled for %llu ms", i,
			               (int)slots[i].pid, (unsigned long long)age);
			ns->stall_reported = true;
		}
		return;
	}
	if (ns->stall_reported) {
		log_info("supervisor: every worker's loop turns again");
		sdnotify_sendf("STATUS=%s", heartbeat_ready_status());
		ns->stall_reported = false;
	}
	sdnotify_send("WATCHDOG=1");
}

static unsigned count_alive(const struct worker_slot *slots, unsigned n)
{
	unsigned alive = 0;
	for (unsigned i = 0; i < n; i++)
		alive += slots[i].pid > 0;
	return alive;
}

int process_supervise(unsigned workers, int (*worker_main)(unsigned index, void *arg), void *arg,
                      uint64_t grace_ms)
{
	sigset_t mask, old_mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);

	struct worker_slot *slots = calloc(workers, sizeof(*slots));
	if (!slots)
		return 1;
	for (unsigned i = 0; i < workers; i++) {
		slots[i].pid = spawn(i, worker_main, arg, &old_mask);
		slots[i].started_ms = now_ms();
	}
	log_info("supervisor: %u workers started", workers);

	bool stopping = false;
	int status = 0;
	uint64_t stop_deadline = 0;
	struct notify_state ns = {.next_ping_ms = now_ms()};
	while (!stopping || count_alive(slots, workers) > 0) {
		/* Wake at least twice per watchdog interval to ping in time. */
		uint64_t tick_ms = 200, half = heartbeat_watchdog_ms() / 2;
		if (half && half < tick_ms)
			tick_ms = half;
		struct timespec tick = {0, (long)tick_ms * 1000000};
		siginfo_t info;
		int sig = sigtimedwait(&mask, &info, &tick);
		uint64_t now = now_ms();
		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				log_info("supervisor: stopping workers");
				sdnotify_send("STOPPING=1\nSTATUS=draining connections");
				stopping = true;
				stop_deadline = now + grace_ms;
			}
			signal_all(slots, workers, SIGTERM);
		} else if (sig == SIGHUP && !stopping) {
			log_info("supervisor: reload requested");
			sdnotify_reloading();
			ns.reload_round = heartbeat_reload_request();
			ns.ready_sent = false;
			signal_all(slots, workers, SIGHUP);
		} else if (sig == SIGUSR1) {
			/* logrotate renamed the files: the supervisor's own lines and
			 * every worker's move to new files at the configured paths. */
			log_reopen();
			signal_all(slots, workers, SIGUSR1);
		}
		/* Reap every child that exited (SIGCHLD may coalesce). */
		int wstatus;
		pid_t pid;
		while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
			for (unsigned i = 0; i < workers; i++) {
				if (slots[i].pid != pid)
					continue;
				slots[i].pid = 0;
				metrics_worker_exited(i);
				if (stopping)
					break;
				if (WIFEXITED(wstatus) &&
				    WEXITSTATUS(wstatus) == PROCESS_EXIT_CONFIG) {
					log_error("supervisor: worker %u cannot start; stopping",
					          i);
					sdnotify_sendf("STOPPING=1\nSTATUS=worker %u cannot start",
					               i);
					stopping = true;
					status = 1;
					stop_deadline = now + grace_ms;
					signal_all(slots, workers, SIGTERM);
					break;
				}
				if (WIFSIGNALED(wstatus)) {
					struct log_field f[] = {LOG_INT("worker_index", i),
					                        LOG_INT("worker_pid", pid),
					                        LOG_INT("signal", WTERMSIG(wstatus))};
					log_fields(LOG_ERROR, f, 3,
					           "supervisor: worker %u (pid %d) killed by signal %d",
					           i, (int)pid, WTERMSIG(wstatus));
				} else {
					struct log_field f[] = {LOG_INT("worker_index", i),
					                        LOG_INT("worker_pid", pid),
					                        LOG_INT("exit_status", WEXITSTATUS(wstatus))};
					log_fields(LOG_ERROR, f, 3,
					           "supervisor: worker %u (pid %d) exited with %d", i,
					           (int)pid, WEXITSTATUS(wstatus));
				}
				bool quick = now - slots[i].started_ms < RESTART_BACKOFF_MS;
				slots[i].restart_at_ms = quick ? now + RESTART_BACKOFF_MS : now;
			}
		}
		for (unsigned i = 0; !stopping && i < workers; i++) {
			if (slots[i].pid == 0 && slots[i].restart_at_ms &&
			    now >= slots[i].restart_at_ms) {
				slots[i].restart_at_ms = 0;
				slots[i].pid = spawn(i, worker_main, arg, &old_mask);
				slots[i].started_ms = now;
				struct log_field f[] = {LOG_INT("worker_index", i),
				                        LOG_INT("worker_pid", slots[i].pid)};
				log_fields(LOG_INFO, f, 2, "supervisor: restarted worker %u as pid %d",
				           i, (int)slots[i].pid);
			}
		}
		if (!stopping) {
			notify_ready_when_due(&ns, slots, workers);
			notify_watchdog_when_due(&ns, slots, workers, now);
		}
		if (stopping && now > stop_deadline && count_alive(slots, workers) > 0) {
			log_warn("supervisor: workers did not stop in time; killing them");
			signal_all(slots, workers, SIGKILL);
			stop_deadline = UINT64_MAX;
		}
	}
	free(slots);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	log_info("supervisor: all workers stopped");
	return status;
}
