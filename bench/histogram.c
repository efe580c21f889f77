#include "bench/histogram.h"

#include <string.h>

void histogram_reset(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

static unsigned bucket_of(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - 6; /* v >> shift is in [64, 128) */
	unsigned index = 64 * shift + (unsigned)(v >> shift);
	return index < HISTOGRAM_BUCKETS ? index : HISTOGRAM_BUCKETS - 1;
}

/* The largest value that maps to bucket `index`. */
static uint64_t bucket_upper(unsigned index)
{
	if (index < 128)
		return index;
	unsigned shift = index / 64 - 1;
	uint64_t sub = index - 64 * shift;
	return ((sub + 1) << shift) - 1;
}

void histogram_record_n(struct histogram *h, uint64_t value, uint64_t count)
{
	if (!count)
		return;
	h->counts[bucket_of(value)] += count;
	if (h->total == 0 || value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	h->total += count;
	h->sum += (double)value * (double)count;
}

void histogram_record(struct histogram *h, uint64_t value)
{
	histogram_record_n(h, value, 1);
}

void histogram_merge(struct histogram *h, const struct histogram *other)
{
	if (!other->total)
		return;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		h->counts[i] += other->counts[i];
	if (h->total == 0 || other->min < h->min)
		h->min = other->min;
	if (other->max > h->max)
		h->max = other->max;
	h->total += other->total;
	h->sum += other->sum;
}

uint64_t histogram_percentile(const struct histogram *h, double percentile)
{
	if (!h->total)
		return 0;
	if (percentile >= 100.0)
		return h->max;
	/* The rank of the value at this percentile, 1-based (nearest-rank method). */
	uint64_t rank = (uint64_t)(percentile / 100.0 * (double)h->total + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t upper = bucket_upper(i);
			return upper < h->max ? (upper > h->min ? upper : h->min) : h->max;
		}
	}
	return h->max;
}

double histogram_mean(const struct histogram *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}
