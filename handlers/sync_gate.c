/* See sync_gate.h. */
#include "handlers/sync_gate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/metrics.h"
#include "storage/store.h"

#define CHECK_MS 5

struct waiter {
	uint64_t seq;
	uint64_t deadline; /* uv_now, ms */
	sync_gate_cb cb;
	void *arg;
	struct waiter *next;
};

struct sync_gate {
	uv_timer_t timer;
	struct store *store;
	struct store_sync sync;
	struct waiter *waiters;
	bool closing;
	struct metric *acked, *timed_out, *cancelled;
};

int sync_gate_new(uv_loop_t *loop, struct store *store, const struct config *config,
                  struct sync_gate **out)
{
	*out = NULL;
	struct store_sync sync = {
	        .replicas = (uint32_t)config_get_int(config, "replication.sync_replicas", 0),
	        .timeout_ms = config_get_ms(config, "replication.sync_timeout", 10000),
	};
	if (sync.replicas == 0 || !store)
		return 0;
	struct sync_gate *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->store = store;
	g->sync = sync;
	static const char help[] = "writes that waited for replication.sync_replicas replicas, "
	                           "by how the wait ended";
	g->acked = metrics_counter("kensho_replication_sync_total", "result=\"acked\"", help);
	g->timed_out = metrics_counter("kensho_replication_sync_total", "result=\"timeout\"", help);
	g->cancelled =
	        metrics_counter("kensho_replication_sync_total", "result=\"cancelled\"", help);
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	*out = g;
	return 0;
}

int64_t sync_gate_timeout_ms(const struct sync_gate *g)
{
	return g ? g->sync.timeout_ms : 0;
}

/* Answers and unlinks every waiter `done` says is done. */
static void sweep(struct sync_gate *g, bool cancel)
{
	struct store_txn *txn = NULL;
	int read_rc = cancel ? -ECANCELED : store_txn_begin(g->store, false, &txn);
	uint64_t now = uv_now(g->timer.loop);
	struct waiter **pp = &g->waiters;
	while (*pp) {
		struct waiter *w = *pp;
		unsigned acked = 0;
		int rc = read_rc ? read_rc : store_replica_acks(txn, w->seq, &acked);
		if (rc == 0 && acked < g->sync.replicas)
			rc = now >= w->deadline ? -ETIMEDOUT : 1;
		if (rc == 1) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		metric_add(rc == 0 ? g->acked : rc == -ETIMEDOUT ? g->timed_out : g->cancelled, 1);
		w->cb(w->arg, rc, acked, g->sync.replicas);
		free(w);
	}
	if (txn)
		store_txn_abort(txn);
	if (!g->waiters)
		uv_timer_stop(&g->timer);
}

static void timer_cb(uv_timer_t *timer)
{
	sweep(timer->data, false);
}

void sync_gate_wait(struct sync_gate *g, sync_gate_cb cb, void *arg)
{
	if (!g) {
		cb(arg, 0, 0, 0);
		return;
	}
	if (g->closing) {
		cb(arg, -ECANCELED, 0, g->sync.replicas);
		return;
	}
	struct waiter *w = calloc(1, sizeof *w);
	struct store_txn *txn = NULL;
	uint64_t first = 0;
	int rc = w ? store_txn_begin(g->store, false, &txn) : -ENOMEM;
	if (rc == 0) {
		rc = store_replication_bounds(txn, &first, &w->seq);
		store_txn_abort(txn);
	}
	if (rc) {
		free(w);
		cb(arg, rc, 0, g->sync.replicas);
		return;
	}
	w->deadline = uv_now(g->timer.loop) + (uint64_t)g->sync.timeout_ms;
	w->cb = cb;
	w->arg = arg;
	w->next = g->waiters;
	g->waiters = w;
	if (!uv_is_active((uv_handle_t *)&g->timer))
		uv_timer_start(&g->timer, timer_cb, CHECK_MS, CHECK_MS);
}

void sync_gate_describe(int rc, unsigned acked, unsigned wanted, int64_t timeout_ms, char *out,
                        size_t len)
{
	if (rc == -ETIMEDOUT)
		snprintf(out, len,
		         "committed on the primary, but only %u of the %u replicas "
		         "replication.sync_replicas asks for acknowledged it within %" PRId64
		         " ms; it stands, and reaches the replicas as they catch up",
		         acked, wanted, timeout_ms);
	else if (rc == -ECANCELED)
		snprintf(out, len,
		         "committed on the primary; the server is stopping before %u replicas "
		         "acknowledged it",
		         wanted);
	else
		snprintf(out, len,
		         "committed on the primary; the replicas' acknowledgements cannot be read: "
		         "%s",
		         strerror(-rc));
}

void sync_gate_close(struct sync_gate *g)
{
	if (!g || g->closing)
		return;
	g->closing = true;
	sweep(g, true);
	uv_close((uv_handle_t *)&g->timer, NULL);
}

void sync_gate_free(struct sync_gate *g)
{
	free(g);
}
