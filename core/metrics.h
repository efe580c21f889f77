/* Process-wide metrics in Prometheus text format (/metrics).
 *
 * Any module may register counters, gauges and histograms by name (plus an
 * optional label set) and update them from the loop thread. Values are per
 * process: with --workers N each worker keeps and exposes its own, and every
 * series carries no worker label, so a scraper sees whichever worker answered
 * (sum across workers with a per-instance scrape or a pid-distinct job).
 * Not thread-safe: update from the loop thread only (not from uv_queue_work). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metric;

/** Finds or creates a counter series. `labels` is NULL or Prometheus label
 * text such as `route="ocsp",code="200"`; name and labels are copied.
 * Returns NULL on ENOMEM or when `name` exists with another type. */
struct metric *metrics_counter(const char *name, const char *labels, const char *help);
/** Finds or creates a gauge series (see metrics_counter). */
struct metric *metrics_gauge(const char *name, const char *labels, const char *help);
/** Finds or creates a histogram series with ascending upper `bounds` (copied;
 * +Inf is implied). All series of one name should share their bounds. */
struct metric *metrics_histogram(const char *name, const char *labels, const char *help,
                                 const double *bounds, size_t bound_count);

/** Adds to a counter (v >= 0) or gauge. NULL metrics are ignored. */
void metric_add(struct metric *m, double v);
/** Sets a gauge. */
void metric_set(struct metric *m, double v);
/** Records one observation in a histogram. */
void metric_observe(struct metric *m, double v);
/** The current value of a counter or gauge, or a histogram's count. */
double metric_value(const struct metric *m);

/** Default latency buckets in seconds (0.5 ms to 10 s). */
extern const double metrics_latency_bounds[];
/** Number of entries in metrics_latency_bounds. */
extern const size_t metrics_latency_bound_count;

/** Appends every series in Prometheus text exposition format 0.0.4. */
int metrics_render(struct buf *out);
/** Frees every metric (pointers handed out become invalid). */
void metrics_reset(void);
