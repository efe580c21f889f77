/* handlers/log_query: the proof endpoints' query strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "handlers/log_query.h"

static int parse(const char *text, struct log_query *q)
{
	char err[160];
	return log_query_parse(text, strlen(text), q, err, sizeof err);
}

static void test_accepts(void **state)
{
	(void)state;
	struct log_query q;
	assert_int_equal(parse("index=3&size=10", &q), 0);
	assert_true(q.has[LOG_QUERY_INDEX] && q.has[LOG_QUERY_SIZE]);
	assert_false(q.has[LOG_QUERY_FIRST] || q.has[LOG_QUERY_SECOND]);
	assert_int_equal(q.value[LOG_QUERY_INDEX], 3);
	assert_int_equal(q.value[LOG_QUERY_SIZE], 10);
	assert_int_equal(parse("second=18446744073709551615&first=0", &q), 0);
	assert_int_equal(q.value[LOG_QUERY_SECOND], UINT64_MAX);
	assert_int_equal(q.value[LOG_QUERY_FIRST], 0);
	assert_int_equal(parse("", &q), 0);
	assert_false(q.has[LOG_QUERY_INDEX]);
}

static void test_refuses(void **state)
{
	(void)state;
	struct log_query q;
	static const char *const bad[] = {
	        "index=1&index=2", /* repeated */
	        "leaf=1",          /* unknown */
	        "index",           /* no value */
	        "index=",          /* empty value */
	        "index=-1",
	        "index=+1",
	        "index=1a",
	        "index=0x10",
	        "index=%31",
	        "size=18446744073709551616",  /* 2^64 */
	        "size=000000000000000000001", /* 21 digits */
	        "index=1&",
	        "&index=1",
	        "index=1&&size=2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (parse(bad[i], &q) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	char err[160];
	assert_int_equal(log_query_parse("leaf=1", 6, &q, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "unknown query parameter \"leaf\""));
}

static void test_number(void **state)
{
	(void)state;
	uint64_t n;
	assert_int_equal(log_query_number("42", 2, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(log_query_number("42", 1, &n), 0); /* only len bytes are read */
	assert_int_equal(n, 4);
	assert_int_equal(log_query_number("", 0, &n), -EINVAL);
	assert_int_equal(log_query_number("4/", 2, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepts),
	        cmocka_unit_test(test_refuses),
	        cmocka_unit_test(test_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
