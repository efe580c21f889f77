/* bench/histogram: bucket precision, percentiles, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bench/histogram.h"

static struct histogram h;

static void test_small_values_are_exact(void **state)
{
	histogram_reset(&h);
	for (uint64_t v = 1; v <= 100; v++)
		histogram_record(&h, v);
	assert_int_equal(h.total, 100);
	assert_int_equal(histogram_percentile(&h, 50), 50);
	assert_int_equal(histogram_percentile(&h, 99), 99);
	assert_int_equal(histogram_percentile(&h, 100), 100);
	assert_int_equal(h.min, 1);
	assert_true(histogram_mean(&h) > 50.49 && histogram_mean(&h) < 50.51);
}

static void test_large_values_within_one_sixty_fourth(void **state)
{
	/* Every value comes back as its bucket's upper edge: never below the
	 * value and never more than 1/64 above it. */
	for (uint64_t v = 128; v < (1ull << 40); v = v * 3 / 2 + 7) {
		histogram_reset(&h);
		histogram_record(&h, v);
		histogram_record(&h, v * 4); /* so that max does not clamp the answer */
		uint64_t p = histogram_percentile(&h, 50);
		assert_true(p >= v);
		assert_true((double)(p - v) <= (double)v / 64.0);
	}
}

static void test_percentiles_of_a_bimodal_distribution(void **state)
{
	histogram_reset(&h);
	histogram_record_n(&h, 1000, 990);     /* 1 us */
	histogram_record_n(&h, 10000000, 10);  /* 10 ms */
	uint64_t p50 = histogram_percentile(&h, 50), p99 = histogram_percentile(&h, 99);
	uint64_t p999 = histogram_percentile(&h, 99.9);
	assert_true(p50 >= 1000 && p50 < 1016);
	assert_true(p99 >= 1000 && p99 < 1016);   /* rank 990 is the last fast one */
	assert_true(p999 >= 10000000 && p999 <= 10000000);  /* clamped to max */
	assert_int_equal(h.max, 10000000);
}

static void test_merge_adds_counts_and_extremes(void **state)
{
	static struct histogram other;
	histogram_reset(&h);
	histogram_reset(&other);
	histogram_record(&h, 500);
	histogram_record(&other, 5);
	histogram_record(&other, 5000000);
	histogram_merge(&h, &other);
	assert_int_equal(h.total, 3);
	assert_int_equal(h.min, 5);
	assert_int_equal(h.max, 5000000);
	histogram_reset(&other);
	histogram_merge(&h, &other); /* merging an empty one changes nothing */
	assert_int_equal(h.total, 3);
	assert_int_equal(h.min, 5);
}

static void test_empty_and_out_of_range(void **state)
{
	histogram_reset(&h);
	assert_int_equal(histogram_percentile(&h, 99), 0);
	histogram_record(&h, UINT64_MAX);
	assert_int_equal(h.counts[HISTOGRAM_BUCKETS - 1], 1);
	assert_int_equal(histogram_percentile(&h, 50), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_values_are_exact),
		cmocka_unit_test(test_large_values_within_one_sixty_fourth),
		cmocka_unit_test(test_percentiles_of_a_bimodal_distribution),
		cmocka_unit_test(test_merge_adds_counts_and_extremes),
		cmocka_unit_test(test_empty_and_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
