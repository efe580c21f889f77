/* Worker threads of one event loop for CPU-heavy jobs (TLS handshake steps),
 * whose completions reach the loop without libuv's uv_async_send.
 *
 * Why not uv_queue_work: in libuv 1.44 (Debian 12) a completion is announced
 * with uv_async_send, and the loop, on waking, spins (pause, sched_yield)
 * while a sender is between marking the handle pending and writing its
 * eventfd. A sender preempted there, by the very wake-up it caused, keeps
 * the loop spinning until the scheduler runs it again: under a handshake
 * flood on two cores most of the loop thread's samples were that spin, and
 * every connection of the loop waited (docs/tls.md, Handshakes off the
 * loop). Here a thread only appends its finished job to a list under a mutex
 * and writes an eventfd that the loop polls; nothing on the loop waits for a
 * thread. The threads also run at a lower CPU priority (nice +10) than the
 * loop, so when cores are short the loop's requests go first.
 *
 * Loop side only, except offload_job.work, which runs on a thread. */
#pragma once
#include <uv.h>

struct offload;

struct offload_job {
	void (*work)(struct offload_job *job); /**< on an offload thread */
	void (*done)(struct offload_job *job); /**< then on the loop */
	struct offload_job *next;              /* the queues' own */
};

/** Starts `threads` threads (1 to 64) for `loop`. 0, or a negative errno. */
int offload_open(uv_loop_t *loop, unsigned threads, struct offload **out);

/** Queues a job; its done callback runs on the loop after its work. The
 * loop stays alive while jobs are queued or running. */
void offload_submit(struct offload *o, struct offload_job *job);

/** Jobs queued or running. */
unsigned offload_pending(const struct offload *o);

/** Stops the threads and frees everything once the loop has closed the
 * poll handle. Call with no job pending (their done callbacks would not
 * run). NULL is ignored. */
void offload_close(struct offload *o);
