/* core/offload.h: every job's work runs on an offload thread (below the
 * loop's priority), its done callback on the loop, each exactly once; the
 * loop stays alive while jobs
 * are pending and not after; done callbacks may submit again; close frees
 * everything once the loop has run (LeakSanitizer checks in the ASan build). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/offload.h"

enum { JOBS = 200 };

struct item {
	struct offload_job job;
	struct offload *o;
	uv_thread_t loop_thread;
	pthread_t worker;
	int nice;
	int works, dones;
	bool resubmit; /* done submits the job once more */
};

static atomic_int works_total;
static int dones_total;

static struct item *item_of(struct offload_job *job)
{
	return (struct item *)((char *)job - offsetof(struct item, job));
}

static void work(struct offload_job *job)
{
	struct item *it = item_of(job);
	it->worker = pthread_self();
	it->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	it->works++;
	atomic_fetch_add(&works_total, 1);
}

static void done(struct offload_job *job)
{
	struct item *it = item_of(job);
	uv_thread_t self = uv_thread_self();
	assert_true(uv_thread_equal(&self, &it->loop_thread));
	it->dones++;
	dones_total++;
	if (it->resubmit) {
		it->resubmit = false;
		offload_submit(it->o, &it->job);
	}
}

static void test_jobs_run_off_the_loop_and_finish_on_it(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct offload *o;
	assert_int_equal(offload_open(&loop, 3, &o), 0);
	static struct item items[JOBS];
	for (int i = 0; i < JOBS; i++) {
		items[i] = (struct item){.job = {.work = work, .done = done},
		                         .o = o,
		                         .loop_thread = uv_thread_self(),
		                         .resubmit = i % 10 == 0};
		offload_submit(o, &items[i].job);
	}
	assert_int_equal(offload_pending(o), JOBS);
	/* the loop runs until every job, resubmitted ones too, is done */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(offload_pending(o), 0);
	assert_int_equal(atomic_load(&works_total), JOBS + JOBS / 10);
	assert_int_equal(dones_total, JOBS + JOBS / 10);
	pthread_t loop_pthread = pthread_self();
	for (int i = 0; i < JOBS; i++) {
		int want = i % 10 == 0 ? 2 : 1;
		assert_int_equal(items[i].works, want);
		assert_int_equal(items[i].dones, want);
		assert_false(pthread_equal(items[i].worker, loop_pthread));
		assert_true(items[i].nice > getpriority(PRIO_PROCESS, 0)); /* below the loop */
	}
	offload_close(o);
	uv_run(&loop, UV_RUN_DEFAULT); /* closes the poll handle, frees */
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_idle_offload_keeps_no_loop_alive(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct offload *o;
	assert_int_equal(offload_open(&loop, 2, &o), 0);
	/* returns at once: no job pending */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	offload_close(o);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_thread_counts_refused(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct offload *o = (struct offload *)&loop;
	assert_int_equal(offload_open(&loop, 0, &o), -EINVAL);
	assert_null(o);
	assert_int_equal(offload_open(&loop, 65, &o), -EINVAL);
	offload_close(NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jobs_run_off_the_loop_and_finish_on_it),
	        cmocka_unit_test(test_idle_offload_keeps_no_loop_alive),
	        cmocka_unit_test(test_bad_thread_counts_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
