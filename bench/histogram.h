/* A log-linear latency histogram (HdrHistogram-style): exact below 128 ns,
 * then 64 sub-buckets per power of two, so any recorded value is reported
 * within 1/64 (1.6 %) of itself, from nanoseconds to about 70 minutes, in a
 * fixed 19 KiB array. Recording is an index computation and an increment. */
#pragma once
#include <stdint.h>

#define HISTOGRAM_BUCKETS (64 * 35 + 128)

struct histogram {
	uint64_t counts[HISTOGRAM_BUCKETS];
	uint64_t total;
	uint64_t min;
	uint64_t max;
	double sum;
};

/** Empties the histogram. */
void histogram_reset(struct histogram *h);
/** Records one value (nanoseconds); values beyond the range count in the top bucket. */
void histogram_record(struct histogram *h, uint64_t value);
/** Records `count` copies of a value. */
void histogram_record_n(struct histogram *h, uint64_t value, uint64_t count);
/** Adds another histogram's counts into h. */
void histogram_merge(struct histogram *h, const struct histogram *other);
/** The value at a percentile (0..100): the upper edge of the bucket holding it,
 * clamped to the recorded max. 0 when empty. */
uint64_t histogram_percentile(const struct histogram *h, double percentile);
/** The arithmetic mean, 0 when empty. */
double histogram_mean(const struct histogram *h);
