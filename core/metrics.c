/* The metrics registry in shared memory.
 *
 * Layout of the area (one anonymous MAP_SHARED mapping, inherited by every
 * forked worker):
 *
 *   area_header | series[max_series] | cells[workers][cells_per_worker]
 *
 * A series record (name, labels, help, type, bounds, first cell) is written
 * once, under the header's process-shared mutex, and published by bumping
 * series_count with release order; after that it never changes except for
 * the family links. Registration is rare (start-up, a route's first answer
 * with a new status), so the mutex is never on a request's path.
 *
 * Each worker owns one row of cells and is its row's only writer, so an
 * update is a relaxed load and store of an 8-byte atomic (no lock, no
 * read-modify-write across cores); a scrape reads every row with relaxed
 * loads and merges. A counter's or gauge's cell holds a double's bits; a
 * histogram has one cell per bucket (uint64 counts, +Inf last) and one for
 * the sum. Its count is the sum of its buckets, so _count always equals the
 * +Inf bucket even when a scrape races an observation.
 *
 * The mutex is robust: a worker killed while registering leaves it
 * recoverable (its half-written record was never published). */
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define NAME_MAX_LEN   96
#define LABELS_MAX_LEN 192
#define HELP_MAX_LEN   160
#define BOUNDS_MAX     32
/* Cells per series on average (a counter takes 1, a histogram bounds + 2). */
#define CELLS_PER_SERIES 4

struct shared_series {
	char name[NAME_MAX_LEN];
	char labels[LABELS_MAX_LEN];
	char help[HELP_MAX_LEN];
	uint8_t type;
	uint8_t merge;
	uint16_t bound_count;
	uint32_t cell;               /* first cell in each worker's row */
	uint32_t family_first;       /* index of the family's first series */
	_Atomic int32_t family_next; /* next series of the family, -1 at the end */
	int32_t family_last;         /* on the family's first series: its last */
	double bounds[BOUNDS_MAX];
};

struct area_header {
	pthread_mutex_t lock;
	_Atomic uint32_t series_count;
	uint32_t cells_used;
	uint32_t max_series;
	uint32_t cells_per_worker;
	uint32_t workers;
	double created_at; /* unix time, for uptime */
	bool full_logged;
};

/* This process's handle on one series: where its row's cells are. */
struct metric {
	uint32_t index;
	enum metric_type type;
	uint16_t bound_count;
	const double *bounds; /* in the shared record, immutable once published */
	_Atomic uint64_t *cells;
	double (*read)(void *arg);
	void *read_arg;
	struct metric *next_in_bucket;
	struct metric *next_local;
};

#define LOCAL_HASH_SIZE 256

static struct {
	struct area_header *header;
	struct shared_series *series;
	_Atomic uint64_t *cells;
	size_t bytes;
	bool implicit; /* created by the first registration, not metrics_setup */
	unsigned worker;
	struct metric *local_first;
	struct metric *local_hash[LOCAL_HASH_SIZE];
} registry;

const double metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t metrics_latency_bound_count =
        sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);

static uint64_t bits_of(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

static double double_of(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

static double cell_double(_Atomic uint64_t *cell)
{
	return double_of(atomic_load_explicit(cell, memory_order_relaxed));
}

static void cell_set_double(_Atomic uint64_t *cell, double v)
{
	atomic_store_explicit(cell, bits_of(v), memory_order_relaxed);
}

static _Atomic uint64_t *row_of(unsigned worker)
{
	return registry.cells + (size_t)worker * registry.header->cells_per_worker;
}

static void unmap_area(void)
{
	if (registry.header)
		munmap(registry.header, registry.bytes);
	registry.header = NULL;
	registry.series = NULL;
	registry.cells = NULL;
	registry.bytes = 0;
	registry.implicit = false;
}

static int map_area(unsigned workers, unsigned max_series)
{
	size_t cells_per_worker = (size_t)max_series * CELLS_PER_SERIES;
	size_t head = (sizeof(struct area_header) + 63) & ~(size_t)63;
	size_t series = (size_t)max_series * sizeof(struct shared_series);
	size_t bytes = head + series + (size_t)workers * cells_per_worker * sizeof(uint64_t);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	struct area_header *h = p;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&h->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc) {
		munmap(p, bytes);
		return -rc;
	}
	h->max_series = max_series;
	h->cells_per_worker = (uint32_t)cells_per_worker;
	h->workers = workers;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	h->created_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	registry.header = h;
	registry.series = (struct shared_series *)((char *)p + head);
	registry.cells = (_Atomic uint64_t *)((char *)p + head + series);
	registry.bytes = bytes;
	return 0;
}

int metrics_setup(unsigned workers, unsigned max_series)
{
	if (workers == 0 || max_series > (1u << 20))
		return -EINVAL;
	if (registry.local_first)
		return -EBUSY;
	unmap_area();
	registry.worker = 0;
	return map_area(workers, max_series ? max_series : METRICS_DEFAULT_MAX_SERIES);
}

static void rebind(struct metric *m)
{
	m->cells = row_of(registry.worker) + registry.series[m->index].cell;
}

void metrics_set_worker(unsigned index)
{
	if (!registry.header || index >= registry.header->workers)
		return;
	registry.worker = index;
	for (struct metric *m = registry.local_first; m; m = m->next_local)
		rebind(m);
}

unsigned metrics_worker_index(void)
{
	return registry.worker;
}

void metrics_worker_exited(unsigned index)
{
	if (!registry.header || index >= registry.header->workers)
		return;
	uint32_t count = atomic_load_explicit(&registry.header->series_count, memory_order_acquire);
	_Atomic uint64_t *row = row_of(index);
	for (uint32_t i = 0; i < count; i++) {
		if (registry.series[i].type == METRIC_GAUGE)
			cell_set_double(&row[registry.series[i].cell], 0);
	}
}

static int lock_area(void)
{
	int rc = pthread_mutex_lock(&registry.header->lock);
	if (rc == EOWNERDEAD) {
		/* A worker died while registering; its record was not published. */
		pthread_mutex_consistent(&registry.header->lock);
		rc = 0;
	}
	return -rc;
}

static uint32_t hash_series(const char *name, const char *labels)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '{') * 16777619u;
	for (const char *p = labels; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % LOCAL_HASH_SIZE;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Under the lock: the index of name+labels, creating it; -1 when full or
 * when the name exists with another type. */
static int32_t shared_find_or_add(const char *name, const char *labels, const char *help,
                                  enum metric_type type, enum metrics_merge merge,
                                  const double *bounds, size_t bound_count)
{
	struct area_header *h = registry.header;
	uint32_t count = atomic_load_explicit(&h->series_count, memory_order_relaxed);
	int32_t family = -1;
	for (uint32_t i = 0; i < count; i++) {
		struct shared_series *s = &registry.series[i];
		if (strcmp(s->name, name) != 0)
			continue;
		if (s->type != type)
			return -1;
		family = (int32_t)s->family_first;
		if (strcmp(s->labels, labels) == 0)
			return (int32_t)i;
	}
	uint32_t cells = type == METRIC_HISTOGRAM ? (uint32_t)bound_count + 2 : 1;
	if (count >= h->max_series || h->cells_used + cells > h->cells_per_worker) {
		if (!h->full_logged)
			log_error("metrics: registry full (metrics.max_series = %u); %s{%s} and "
			          "later new series are not recorded",
			          h->max_series, name, labels);
		h->full_logged = true;
		return -1;
	}
	struct shared_series *s = &registry.series[count];
	memset(s, 0, sizeof(*s));
	copy_text(s->name, sizeof(s->name), name);
	copy_text(s->labels, sizeof(s->labels), labels);
	copy_text(s->help, sizeof(s->help), help ? help : "");
	s->type = (uint8_t)type;
	s->merge = (uint8_t)merge;
	s->bound_count = (uint16_t)bound_count;
	if (bound_count)
		memcpy(s->bounds, bounds, bound_count * sizeof(double));
	s->cell = h->cells_used;
	atomic_store_explicit(&s->family_next, -1, memory_order_relaxed);
	if (family < 0) {
		s->family_first = count;
		s->family_last = (int32_t)count;
	} else {
		struct shared_series *first = &registry.series[family];
		s->family_first = (uint32_t)family;
		if (first->bound_count != bound_count && type == METRIC_HISTOGRAM)
			return -1; /* one family, one set of bounds */
	}
	h->cells_used += cells;
	/* Publish the record before linking it where readers can reach it. */
	atomic_store_explicit(&h->series_count, count + 1, memory_order_release);
	if (family >= 0) {
		struct shared_series *first = &registry.series[family];
		atomic_store_explicit(&registry.series[first->family_last].family_next,
		                      (int32_t)count, memory_order_release);
		first->family_last = (int32_t)count;
	}
	return (int32_t)count;
}

static struct metric *series_get(const char *name, const char *labels, const char *help,
                                 enum metric_type type, enum metrics_merge merge,
                                 const double *bounds, size_t bound_count)
{
	if (!labels)
		labels = "";
	if (strlen(name) >= NAME_MAX_LEN || strlen(labels) >= LABELS_MAX_LEN ||
	    bound_count > BOUNDS_MAX) {
		log_error("metrics: %s{%s} is too long to register", name, labels);
		return NULL;
	}
	uint32_t h = hash_series(name, labels);
	for (struct metric *m = registry.local_hash[h]; m; m = m->next_in_bucket) {
		const struct shared_series *s = &registry.series[m->index];
		if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
			return m->type == type ? m : NULL;
	}
	if (!registry.header) {
		if (map_area(1, METRICS_DEFAULT_MAX_SERIES) != 0)
			return NULL;
		registry.implicit = true;
		registry.worker = 0;
	}
	struct metric *m = calloc(1, sizeof(*m));
	if (!m || lock_area() != 0) {
		free(m);
		return NULL;
	}
	int32_t index = shared_find_or_add(name, labels, help, type, merge, bounds, bound_count);
	pthread_mutex_unlock(&registry.header->lock);
	if (index < 0) {
		free(m);
		return NULL;
	}
	const struct shared_series *s = &registry.series[index];
	m->index = (uint32_t)index;
	m->type = type;
	m->bound_count = s->bound_count;
	m->bounds = s->bounds;
	rebind(m);
	m->next_in_bucket = registry.local_hash[h];
	registry.local_hash[h] = m;
	m->next_local = registry.local_first;
	registry.local_first = m;
	return m;
}

struct metric *metrics_counter(const char *name, const char *labels, const char *help)
{
	return series_get(name, labels, help, METRIC_COUNTER, METRICS_MERGE_SUM, NULL, 0);
}

struct metric *metrics_gauge(const char *name, const char *labels, const char *help)
{
	return series_get(name, labels, help, METRIC_GAUGE, METRICS_MERGE_SUM, NULL, 0);
}

struct metric *metrics_gauge_merged(const char *name, const char *labels, const char *help,
                                    enum metrics_merge merge)
{
	return series_get(name, labels, help, METRIC_GAUGE, merge, NULL, 0);
}

struct metric *metrics_gauge_read(const char *name, const char *labels, const char *help,
                                  enum metrics_merge merge, double (*read)(void *arg), void *arg)
{
	struct metric *m = series_get(name, labels, help, METRIC_GAUGE, merge, NULL, 0);
	if (m) {
		m->read = read;
		m->read_arg = arg;
		if (read)
			cell_set_double(m->cells, read(arg));
	}
	return m;
}

struct metric *metrics_counter_read(const char *name, const char *labels, const char *help,
                                    double (*read)(void *arg), void *arg)
{
	struct metric *m =
	        series_get(name, labels, help, METRIC_COUNTER, METRICS_MERGE_OWN, NULL, 0);
	if (m) {
		m->read = read;
		m->read_arg = arg;
		if (read)
			cell_set_double(m->cells, read(arg));
	}
	return m;
}

struct metric *metrics_histogram(const char *name, const char *labels, const char *help,
                                 const double *bounds, size_t bound_count)
{
	return series_get(name, labels, help, METRIC_HISTOGRAM, METRICS_MERGE_SUM, bounds,
	                  bound_count);
}

void metric_add(struct metric *m, double v)
{
	if (m && m->type != METRIC_HISTOGRAM)
		cell_set_double(m->cells, cell_double(m->cells) + v);
}

void metric_set(struct metric *m, double v)
{
	if (m && m->type == METRIC_GAUGE)
		cell_set_double(m->cells, v);
}

void metric_observe(struct metric *m, double v)
{
	if (!m || m->type != METRIC_HISTOGRAM)
		return;
	size_t i = 0;
	while (i < m->bound_count && v > m->bounds[i])
		i++;
	atomic_store_explicit(&m->cells[i],
	                      atomic_load_explicit(&m->cells[i], memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	_Atomic uint64_t *sum = &m->cells[m->bound_count + 1];
	cell_set_double(sum, cell_double(sum) + v);
}

/* One series merged over every worker's row: `value` for a counter or gauge
 * (the histogram's sum otherwise), and per-bucket totals in `buckets`. */
static double merge_series(const struct shared_series *s, uint64_t *buckets)
{
	unsigned workers = registry.header->workers;
	double value = 0;
	if (buckets)
		memset(buckets, 0, ((size_t)s->bound_count + 1) * sizeof(uint64_t));
	if (s->type != METRIC_HISTOGRAM && s->merge == METRICS_MERGE_OWN)
		return cell_double(row_of(registry.worker) + s->cell);
	for (unsigned w = 0; w < workers; w++) {
		_Atomic uint64_t *cells = row_of(w) + s->cell;
		if (s->type == METRIC_HISTOGRAM) {
			for (size_t i = 0; buckets && i <= s->bound_count; i++)
				buckets[i] += atomic_load_explicit(&cells[i], memory_order_relaxed);
			value += cell_double(&cells[s->bound_count + 1]);
			continue;
		}
		double v = cell_double(cells);
		if (s->type == METRIC_GAUGE && s->merge == METRICS_MERGE_MAX)
			value = w == 0 || v > value ? v : value;
		else
			value += v;
	}
	return value;
}

double metric_value(const struct metric *m)
{
	if (!m)
		return 0;
	const struct shared_series *s = &registry.series[m->index];
	if (m->type != METRIC_HISTOGRAM)
		return merge_series(s, NULL);
	uint64_t buckets[BOUNDS_MAX + 1];
	merge_series(s, buckets);
	uint64_t count = 0;
	for (size_t i = 0; i <= s->bound_count; i++)
		count += buckets[i];
	return (double)count;
}

int metrics_each(const char *name, void (*fn)(const struct metrics_series_view *, void *arg),
                 void *arg)
{
	if (!registry.header)
		return 0;
	uint32_t count = atomic_load_explicit(&registry.header->series_count, memory_order_acquire);
	int seen = 0;
	for (uint32_t i = 0; i < count; i++) {
		const struct shared_series *s = &registry.series[i];
		if (strcmp(s->name, name) != 0)
			continue;
		uint64_t buckets[BOUNDS_MAX + 1];
		struct metrics_series_view view = {.labels = s->labels};
		if (s->type == METRIC_HISTOGRAM) {
			merge_series(s, buckets);
			for (size_t b = 0; b <= s->bound_count; b++)
				view.value += (double)buckets[b];
			view.bound_count = s->bound_count;
			view.bounds = s->bounds;
			view.buckets = buckets;
		} else {
			view.value = merge_series(s, NULL);
		}
		fn(&view, arg);
		seen++;
	}
	return seen;
}

double metrics_started_at(void)
{
	return registry.header ? registry.header->created_at : 0;
}

unsigned metrics_worker_count(void)
{
	return registry.header ? registry.header->workers : 0;
}

static void render_labels(struct buf *out, const char *labels, const char *extra)
{
	if (!*labels && !extra)
		return;
	buf_append_str(out, "{");
	buf_append_str(out, labels);
	if (extra) {
		if (*labels)
			buf_append_str(out, ",");
		buf_append_str(out, extra);
	}
	buf_append_str(out, "}");
}

static void render_number(struct buf *out, double v)
{
	if (isinf(v))
		buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(out, "%.0f", v);
	else
		buf_printf(out, "%.9g", v);
}

static void render_series(struct buf *out, const struct shared_series *s)
{
	if (s->type != METRIC_HISTOGRAM) {
		buf_append_str(out, s->name);
		render_labels(out, s->labels, NULL);
		buf_append_str(out, " ");
		render_number(out, merge_series(s, NULL));
		buf_append_str(out, "\n");
		return;
	}
	uint64_t buckets[BOUNDS_MAX + 1];
	double sum = merge_series(s, buckets);
	uint64_t cumulative = 0;
	for (size_t i = 0; i <= s->bound_count; i++) {
		char le[48];
		cumulative += buckets[i];
		if (i < s->bound_count)
			snprintf(le, sizeof(le), "le=\"%g\"", s->bounds[i]);
		else
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		buf_printf(out, "%s_bucket", s->name);
		render_labels(out, s->labels, le);
		buf_printf(out, " %llu\n", (unsigned long long)cumulative);
	}
	buf_printf(out, "%s_sum", s->name);
	render_labels(out, s->labels, NULL);
	buf_append_str(out, " ");
	render_number(out, sum);
	buf_printf(out, "\n%s_count", s->name);
	render_labels(out, s->labels, NULL);
	buf_printf(out, " %llu\n", (unsigned long long)cumulative);
}

int metrics_render(struct buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	if (!registry.header)
		return 0;
	for (struct metric *m = registry.local_first; m; m = m->next_local) {
		if (m->read)
			cell_set_double(m->cells, m->read(m->read_arg));
	}
	uint32_t count = atomic_load_explicit(&registry.header->series_count, memory_order_acquire);
	for (uint32_t i = 0; i < count; i++) {
		const struct shared_series *first = &registry.series[i];
		if (first->family_first != i)
			continue;
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", first->name, first->help,
		           first->name, type_names[first->type]);
		int32_t j = (int32_t)i;
		while (j >= 0 && (uint32_t)j < count) {
			render_series(out, &registry.series[j]);
			j = atomic_load_explicit(&registry.series[j].family_next,
			                         memory_order_acquire);
		}
	}
	return out->failed ? -ENOMEM : 0;
}

void metrics_reset(void)
{
	struct metric *m = registry.local_first;
	while (m) {
		struct metric *next = m->next_local;
		free(m);
		m = next;
	}
	registry.local_first = NULL;
	memset(registry.local_hash, 0, sizeof(registry.local_hash));
	if (registry.implicit)
		unmap_area();
}

void metrics_teardown(void)
{
	metrics_reset();
	unmap_area();
}
