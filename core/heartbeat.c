/* Worker liveness and readiness for the service manager (see heartbeat.h). */
#include "core/heartbeat.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"
#include "core/sdnotify.h"

/* One worker's slot: written by the worker, read by the supervisor. */
struct heartbeat_slot {
	_Atomic uint64_t beat_ms;  /* CLOCK_MONOTONIC of the last loop turn */
	_Atomic uint64_t reloaded; /* the last reload round it finished */
	_Atomic unsigned ready;    /* 1 once it listens */
};

struct heartbeat_area {
	_Atomic uint64_t reload_round; /* incremented by the supervisor per SIGHUP */
	struct heartbeat_slot slots[];
};

static struct heartbeat_area *area; /* NULL with one worker */
static unsigned area_workers;
static char ready_status[512];
static uint64_t watchdog_ms;

/* Worker side: its timer, its slot and the round its reload began in. */
static uv_timer_t beat_timer;
static bool beat_timer_running;
static unsigned beat_index;
static uint64_t reload_round_seen;

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int heartbeat_setup(unsigned workers, const char *status)
{
	snprintf(ready_status, sizeof(ready_status), "%s", status ? status : "serving");
	watchdog_ms = sdnotify_watchdog_usec() / 1000;
	if (sdnotify_watchdog_usec() && !watchdog_ms)
		watchdog_ms = 1;
	if (workers <= 1 || area)
		return 0;
	size_t len = sizeof(*area) + workers * sizeof(area->slots[0]);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0, len);
	area = p;
	area_workers = workers;
	return 0;
}

static struct heartbeat_slot *slot_of(unsigned index)
{
	return area && index < area_workers ? &area->slots[index] : NULL;
}

static void beat_cb(uv_timer_t *t)
{
	(void)t;
	struct heartbeat_slot *s = slot_of(beat_index);
	if (s)
		atomic_store(&s->beat_ms, monotonic_ms());
	else
		sdnotify_send("WATCHDOG=1");
}

int heartbeat_start(uv_loop_t *loop, unsigned index)
{
	if (!watchdog_ms || beat_timer_running)
		return 0;
	beat_index = index;
	/* One worker pings every half interval, as sd_watchdog_enabled(3) advises;
	 * a supervised one stamps twice as often, so the supervisor's ping at
	 * half an interval always finds a stamp younger than that. */
	uint64_t period = area ? watchdog_ms / 4 : watchdog_ms / 2;
	if (period == 0)
		period = 1;
	int rc = uv_timer_init(loop, &beat_timer);
	if (rc == 0)
		rc = uv_timer_start(&beat_timer, beat_cb, 0, period);
	if (rc != 0) {
		log_error("heartbeat: cannot start the watchdog timer: %s", uv_strerror(rc));
		return rc;
	}
	/* The heartbeat alone must not keep a draining loop alive. */
	uv_unref((uv_handle_t *)&beat_timer);
	beat_timer_running = true;
	return 0;
}

void heartbeat_stop(void)
{
	if (!beat_timer_running)
		return;
	beat_timer_running = false;
	uv_timer_stop(&beat_timer);
	uv_close((uv_handle_t *)&beat_timer, NULL);
}

void heartbeat_ready(unsigned index)
{
	struct heartbeat_slot *s = slot_of(index);
	if (s) {
		atomic_store(&s->beat_ms, monotonic_ms());
		atomic_store(&s->ready, 1u);
	} else {
		sdnotify_sendf("READY=1\nSTATUS=%s", ready_status);
	}
}

void heartbeat_reload_begin(void)
{
	if (area)
		reload_round_seen = atomic_load(&area->reload_round);
	else
		sdnotify_reloading();
}

void heartbeat_reload_end(unsigned index)
{
	struct heartbeat_slot *s = slot_of(index);
	if (s)
		atomic_store(&s->reloaded, reload_round_seen);
	else
		sdnotify_sendf("READY=1\nSTATUS=%s", ready_status);
}

void heartbeat_stopping(void)
{
	if (!area)
		sdnotify_send("STOPPING=1\nSTATUS=draining connections");
}

void heartbeat_slot_reset(unsigned index)
{
	struct heartbeat_slot *s = slot_of(index);
	if (!s)
		return;
	atomic_store(&s->ready, 0u);
	atomic_store(&s->beat_ms, monotonic_ms());
	/* A new worker reads the configuration afresh: it owes no reload. */
	atomic_store(&s->reloaded, atomic_load(&area->reload_round));
}

bool heartbeat_slot_ready(unsigned index)
{
	struct heartbeat_slot *s = slot_of(index);
	return s && atomic_load(&s->ready);
}

uint64_t heartbeat_slot_age_ms(unsigned index)
{
	struct heartbeat_slot *s = slot_of(index);
	if (!s)
		return 0;
	uint64_t beat = atomic_load(&s->beat_ms), now = monotonic_ms();
	return now > beat ? now - beat : 0;
}

uint64_t heartbeat_reload_request(void)
{
	return area ? atomic_fetch_add(&area->reload_round, 1) + 1 : 0;
}

bool heartbeat_slot_reloaded(unsigned index, uint64_t round)
{
	struct heartbeat_slot *s = slot_of(index);
	return !s || atomic_load(&s->reloaded) >= round;
}

const char *heartbeat_ready_status(void)
{
	return ready_status;
}

uint64_t heartbeat_watchdog_ms(void)
{
	return watchdog_ms;
}
