/* The metrics registry: families (one name, type, help) holding series (one
 * label set each). Lookups hash name+labels so per-request lookups by route
 * and status stay cheap. */
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct family {
	char *name;
	char *help;
	enum metric_type type;
	struct metric *first, *last;
	struct family *next;
};

struct metric {
	struct family *family;
	char *labels; /* "" when none */
	double value; /* counter/gauge value, histogram sum */
	uint64_t count;
	double *bounds;
	uint64_t *buckets; /* per bound (not cumulative); count holds the total */
	size_t bound_count;
	struct metric *next_in_family;
	struct metric *next_in_bucket;
};

#define METRICS_HASH_SIZE 256

static struct family *families_first, *families_last;
static struct metric *series_hash[METRICS_HASH_SIZE];

const double metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t metrics_latency_bound_count =
        sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);

static uint32_t hash_series(const char *name, const char *labels)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '{') * 16777619u;
	for (const char *p = labels; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % METRICS_HASH_SIZE;
}

static struct family *family_get(const char *name, const char *help, enum metric_type type)
{
	for (struct family *f = families_first; f; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return f->type == type ? f : NULL;
	}
	struct family *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		free(f);
		return NULL;
	}
	f->type = type;
	if (families_last)
		families_last->next = f;
	else
		families_first = f;
	families_last = f;
	return f;
}

static struct metric *series_get(const char *name, const char *labels, const char *help,
                                 enum metric_type type, const double *bounds, size_t bound_count)
{
	if (!labels)
		labels = "";
	uint32_t h = hash_series(name, labels);
	for (struct metric *m = series_hash[h]; m; m = m->next_in_bucket) {
		if (strcmp(m->family->name, name) == 0 && strcmp(m->labels, labels) == 0)
			return m->family->type == type ? m : NULL;
	}
	struct family *f = family_get(name, help, type);
	if (!f)
		return NULL;
	struct metric *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->family = f;
	m->labels = strdup(labels);
	if (type == METRIC_HISTOGRAM) {
		m->bounds = malloc(bound_count * sizeof(double) + 1);
		m->buckets = calloc(bound_count + 1, sizeof(uint64_t));
		m->bound_count = bound_count;
		if (m->bounds)
			memcpy(m->bounds, bounds, bound_count * sizeof(double));
	}
	if (!m->labels || (type == METRIC_HISTOGRAM && (!m->bounds || !m->buckets))) {
		free(m->labels);
		free(m->bounds);
		free(m->buckets);
		free(m);
		return NULL;
	}
	if (f->last)
		f->last->next_in_family = m;
	else
		f->first = m;
	f->last = m;
	m->next_in_bucket = series_hash[h];
	series_hash[h] = m;
	return m;
}

struct metric *metrics_counter(const char *name, const char *labels, const char *help)
{
	return series_get(name, labels, help, METRIC_COUNTER, NULL, 0);
}

struct metric *metrics_gauge(const char *name, const char *labels, const char *help)
{
	return series_get(name, labels, help, METRIC_GAUGE, NULL, 0);
}

struct metric *metrics_histogram(const char *name, const char *labels, const char *help,
                                 const double *bounds, size_t bound_count)
{
	return series_get(name, labels, help, METRIC_HISTOGRAM, bounds, bound_count);
}

void metric_add(struct metric *m, double v)
{
	if (m && m->family->type != METRIC_HISTOGRAM)
		m->value += v;
}

void metric_set(struct metric *m, double v)
{
	if (m && m->family->type == METRIC_GAUGE)
		m->value = v;
}

void metric_observe(struct metric *m, double v)
{
	if (!m || m->family->type != METRIC_HISTOGRAM)
		return;
	size_t i = 0;
	while (i < m->bound_count && v > m->bounds[i])
		i++;
	m->buckets[i]++;
	m->count++;
	m->value += v;
}

double metric_value(const struct metric *m)
{
	if (!m)
		return 0;
	return m->family->type == METRIC_HISTOGRAM ? (double)m->count : m->value;
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

int metrics_render(struct buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	for (struct family *f = families_first; f; f = f->next) {
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		           type_names[f->type]);
		for (struct metric *m = f->first; m; m = m->next_in_family) {
			if (f->type != METRIC_HISTOGRAM) {
				buf_append_str(out, f->name);
				render_labels(out, m->labels, NULL);
				buf_append_str(out, " ");
				render_number(out, m->value);
				buf_append_str(out, "\n");
				continue;
			}
			uint64_t cumulative = 0;
			for (size_t i = 0; i <= m->bound_count; i++) {
				char le[48];
				cumulative += m->buckets[i];
				if (i < m->bound_count)
					snprintf(le, sizeof(le), "le=\"%g\"", m->bounds[i]);
				else
					snprintf(le, sizeof(le), "le=\"+Inf\"");
				buf_printf(out, "%s_bucket", f->name);
				render_labels(out, m->labels, le);
				buf_printf(out, " %llu\n", (unsigned long long)cumulative);
			}
			buf_printf(out, "%s_sum", f->name);
			render_labels(out, m->labels, NULL);
			buf_append_str(out, " ");
			render_number(out, m->value);
			buf_printf(out, "\n%s_count", f->name);
			render_labels(out, m->labels, NULL);
			buf_printf(out, " %llu\n", (unsigned long long)m->count);
		}
	}
	return out->failed ? -ENOMEM : 0;
}

void metrics_reset(void)
{
	struct family *f = families_first;
	while (f) {
		struct metric *m = f->first;
		while (m) {
			struct metric *next = m->next_in_family;
			free(m->labels);
			free(m->bounds);
			free(m->buckets);
			free(m);
			m = next;
		}
		struct family *next = f->next;
		free(f->name);
		free(f->help);
		free(f);
		f = next;
	}
	families_first = families_last = NULL;
	memset(series_hash, 0, sizeof(series_hash));
}
