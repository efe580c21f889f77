/* Worker threads of one loop; see offload.h. */
#include "core/offload.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OFFLOAD_NICE 10 /* below the loop: when cores are short, requests go first */

struct offload {
	uv_loop_t *loop;
	uv_poll_t poll; /* the eventfd, readable when jobs are done */
	int efd;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct offload_job *queue, **queue_tail; /* FIFO, under lock */
	struct offload_job *done, **done_tail;   /* FIFO, under lock */
	bool stopping;                           /* under lock */
	unsigned pending;                        /* loop only */
	unsigned threads;
	pthread_t thread[];
};

static void *thread_main(void *arg)
{
	struct offload *o = arg;
	/* Raising one's own nice value needs no privilege; failing leaves it. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), OFFLOAD_NICE);
	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->queue && !o->stopping)
			pthread_cond_wait(&o->wake, &o->lock);
		if (!o->queue)
			break; /* stopping, and nothing left */
		struct offload_job *job = o->queue;
		o->queue = job->next;
		if (!o->queue)
			o->queue_tail = &o->queue;
		pthread_mutex_unlock(&o->lock);

		job->work(job);

		pthread_mutex_lock(&o->lock);
		job->next = NULL;
		*o->done_tail = job;
		o->done_tail = &job->next;
		pthread_mutex_unlock(&o->lock);
		uint64_t one = 1;
		/* Cannot fail short of a bug: the counter would have to reach
		 * 2^64-1 without the loop ever reading it. */
		(void)!write(o->efd, &one, sizeof one);
		pthread_mutex_lock(&o->lock);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static void poll_cb(uv_poll_t *handle, int status, int events)
{
	(void)status;
	(void)events;
	struct offload *o = handle->data;
	uint64_t count;
	(void)!read(o->efd, &count, sizeof count); /* nonblocking: EAGAIN when already drained */
	pthread_mutex_lock(&o->lock);
	struct offload_job *job = o->done;
	o->done = NULL;
	o->done_tail = &o->done;
	pthread_mutex_unlock(&o->lock);
	while (job) {
		struct offload_job *next = job->next;
		if (--o->pending == 0)
			uv_unref((uv_handle_t *)&o->poll);
		job->done(job); /* may submit again, or close o once none is pending */
		job = next;
	}
}

int offload_open(uv_loop_t *loop, unsigned threads, struct offload **out)
{
	*out = NULL;
	if (threads < 1 || threads > 64)
		return -EINVAL;
	struct offload *o = calloc(1, sizeof *o + threads * sizeof(pthread_t));
	if (!o)
		return -ENOMEM;
	o->loop = loop;
	o->queue_tail = &o->queue;
	o->done_tail = &o->done;
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->efd < 0) {
		int err = -errno;
		free(o);
		return err;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	int rc = uv_poll_init(loop, &o->poll, o->efd);
	if (rc < 0) {
		close(o->efd);
		pthread_cond_destroy(&o->wake);
		pthread_mutex_destroy(&o->lock);
		free(o);
		return rc;
	}
	o->poll.data = o;
	rc = uv_poll_start(&o->poll, UV_READABLE, poll_cb);
	if (rc < 0) {
		offload_close(o); /* no threads yet: only closes the handle */
		return rc;
	}
	uv_unref((uv_handle_t *)&o->poll); /* idle threads keep no loop alive */
	for (; o->threads < threads; o->threads++) {
		rc = -pthread_create(&o->thread[o->threads], NULL, thread_main, o);
		if (rc < 0)
			break;
	}
	if (o->threads == 0) {
		offload_close(o);
		return rc;
	}
	*out = o;
	return 0;
}

void offload_submit(struct offload *o, struct offload_job *job)
{
	if (o->pending++ == 0)
		uv_ref((uv_handle_t *)&o->poll);
	job->next = NULL;
	pthread_mutex_lock(&o->lock);
	*o->queue_tail = job;
	o->queue_tail = &job->next;
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
}

unsigned offload_pending(const struct offload *o)
{
	return o->pending;
}

static void closed_cb(uv_handle_t *handle)
{
	struct offload *o = handle->data;
	close(o->efd);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void offload_close(struct offload *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	for (unsigned i = 0; i < o->threads; i++)
		pthread_join(o->thread[i], NULL);
	uv_close((uv_handle_t *)&o->poll, closed_cb);
}
