/* Server-wide metrics in Prometheus text format (/metrics).
 *
 * Any module may register counters, gauges and histograms by name (plus an
 * optional label set) and update them from the loop thread. With --workers N
 * the values live in one shared memory area that the supervisor maps before
 * it forks: every series has one slot per worker, a worker writes only its
 * own slot (no contention between cores), and a scrape answered by any
 * worker adds the slots up, so every scrape shows the whole server.
 * Series are found by name and labels, not by registration order, so workers
 * may register them in any order and at any time. A restarted worker takes
 * over its predecessor's slot: counters and histograms continue and never go
 * backwards; its gauges start again from zero.
 *
 * Not thread-safe within a process: update from the loop thread only (not
 * from uv_queue_work). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metric;

/** How the workers' values of one gauge combine into the value scraped. */
enum metrics_merge {
	METRICS_MERGE_SUM, /**< a quantity each worker holds a part of (open connections) */
	METRICS_MERGE_MAX, /**< the worst or largest worker (loop lag, a shared size) */
	METRICS_MERGE_OWN, /**< the answering worker's own value: for read series that every
	                        worker computes alike from a shared source (the store) */
};

/** Default bound on the number of series (metrics.max_series). */
#define METRICS_DEFAULT_MAX_SERIES 2048

/** Creates the shared area for `workers` worker slots and up to max_series
 * series (0 = the default); call before forking workers and before any
 * series is registered. Without it the first registration creates an area
 * for one worker. Returns 0, -EINVAL, -EBUSY (series already registered) or
 * -ENOMEM. */
int metrics_setup(unsigned workers, unsigned max_series);
/** Makes this process write worker `index`'s slot (call in the child after
 * fork; series registered before are moved to that slot). */
void metrics_set_worker(unsigned index);
/** Supervisor side: worker `index` is gone; its gauges drop to zero while
 * its counters and histograms stay for its successor to continue. */
void metrics_worker_exited(unsigned index);

/** Finds or creates a counter series. `labels` is NULL or Prometheus label
 * text such as `route="ocsp",code="200"`; name and labels are copied.
 * Returns NULL on ENOMEM, when the registry is full, or when `name` exists
 * with another type (updates through NULL are ignored). */
struct metric *metrics_counter(const char *name, const char *labels, const char *help);
/** Finds or creates a gauge series whose workers' values are summed. */
struct metric *metrics_gauge(const char *name, const char *labels, const char *help);
/** Finds or creates a gauge series with the given merge across workers. */
struct metric *metrics_gauge_merged(const char *name, const char *labels, const char *help,
                                    enum metrics_merge merge);
/** A gauge that this worker reads with read(arg) at every scrape it answers
 * (for a value that changes without an event to hook, like a map's size).
 * Other workers' slots hold what they last read; MAX merge suits a value
 * every worker can see. */
struct metric *metrics_gauge_read(const char *name, const char *labels, const char *help,
                                  enum metrics_merge merge, double (*read)(void *arg), void *arg);
/** A counter that this worker reads with read(arg) at every scrape it answers,
 * for a count kept elsewhere and shared by every worker (the store's
 * signature counts); merged METRICS_MERGE_OWN, so each worker registers it
 * and shows what it has just read. */
struct metric *metrics_counter_read(const char *name, const char *labels, const char *help,
                                    double (*read)(void *arg), void *arg);
/** Finds or creates a histogram series with ascending upper `bounds` (copied;
 * +Inf is implied; at most 32). All series of one name share their bounds. */
struct metric *metrics_histogram(const char *name, const char *labels, const char *help,
                                 const double *bounds, size_t bound_count);

/** Adds to a counter (v >= 0) or gauge. NULL metrics are ignored. */
void metric_add(struct metric *m, double v);
/** Sets a gauge (this worker's slot). */
void metric_set(struct metric *m, double v);
/** Records one observation in a histogram. */
void metric_observe(struct metric *m, double v);
/** The server-wide value of a counter or gauge (merged over workers), or a
 * histogram's count. */
double metric_value(const struct metric *m);

/** One series as metrics_each shows it, merged over every worker. */
struct metrics_series_view {
	const char *labels;      /**< Prometheus label text, "" for none */
	double value;            /**< a counter's or gauge's value; a histogram's count */
	size_t bound_count;      /**< histograms: number of finite bounds, else 0 */
	const double *bounds;    /**< histograms: the ascending upper bounds */
	const uint64_t *buckets; /**< histograms: per-bucket counts (not cumulative), +Inf last */
};

/** Calls fn for every series named `name` (a family without its _bucket or
 * _count suffixes), in registration order. Returns the number of series. */
int metrics_each(const char *name, void (*fn)(const struct metrics_series_view *, void *arg),
                 void *arg);
/** Unix time at which the shared area was created: when the server started
 * (workers restarted since share it). 0 before any metrics exist. */
double metrics_started_at(void);
/** Number of worker slots of the shared area (kenshod's --workers). */
unsigned metrics_worker_count(void);
/** The slot this process writes (metrics_set_worker; 0 before it). */
unsigned metrics_worker_index(void);

/** Default latency buckets in seconds (0.5 ms to 10 s). */
extern const double metrics_latency_bounds[];
/** Number of entries in metrics_latency_bounds. */
extern const size_t metrics_latency_bound_count;

/** Appends every series, merged over all workers, in Prometheus text
 * exposition format 0.0.4 (reading this worker's read-gauges first). */
int metrics_render(struct buf *out);
/** Forgets this process's handles (pointers handed out become invalid). An
 * area created implicitly goes too; one from metrics_setup stays for the
 * other workers (metrics_teardown removes it). */
void metrics_reset(void);
/** metrics_reset, and unmaps the shared area whoever created it. */
void metrics_teardown(void);
