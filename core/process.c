/* The supervisor: a plain signal loop (no libuv, so children start from a
 * clean slate after fork) that keeps N workers alive. */
#include "core/process.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"

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
	while (!stopping || count_alive(slots, workers) > 0) {
		struct timespec tick = {0, 200 * 1000000};
		siginfo_t info;
		int sig = sigtimedwait(&mask, &info, &tick);
		uint64_t now = now_ms();
		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				log_info("supervisor: stopping workers");
				stopping = true;
				stop_deadline = now + grace_ms;
			}
			signal_all(slots, workers, SIGTERM);
		} else if (sig == SIGHUP) {
			log_info("supervisor: reload requested");
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
					stopping = true;
					status = 1;
					stop_deadline = now + grace_ms;
					signal_all(slots, workers, SIGTERM);
					break;
				}
				if (WIFSIGNALED(wstatus))
					log_error("supervisor: worker %u (pid %d) killed by signal "
					          "%d",
					          i, (int)pid, WTERMSIG(wstatus));
				else
					log_error("supervisor: worker %u (pid %d) exited with %d",
					          i, (int)pid, WEXITSTATUS(wstatus));
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
				log_info("supervisor: restarted worker %u as pid %d", i,
				         (int)slots[i].pid);
			}
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
