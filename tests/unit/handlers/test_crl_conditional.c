/* handlers/crl: the request-header parsers behind conditional GET. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "handlers/crl_serve.h"

static const char etag[] = "\"c15974412833cac73ae764672c51bbbd\"";

static bool inm(const char *value)
{
	return crl_if_none_match(value, strlen(value), etag);
}

static void test_if_none_match(void **state)
{
	assert_true(inm("\"c15974412833cac73ae764672c51bbbd\""));
	assert_true(inm("W/\"c15974412833cac73ae764672c51bbbd\""));
	assert_true(inm("\"a\", \"b\",W/\"c15974412833cac73ae764672c51bbbd\""));
	assert_false(inm("*")); /* an older copy must not be kept */
	assert_true(inm("*, \"c15974412833cac73ae764672c51bbbd\""));
	assert_true(inm(" ,, \"c15974412833cac73ae764672c51bbbd\" "));
	assert_false(inm(""));
	assert_false(inm("\"c15974412833cac73ae764672c51bbb\""));
	assert_false(inm("c15974412833cac73ae764672c51bbbd"));
	assert_false(inm("\"c15974412833cac73ae764672c51bbbd"));
	assert_false(inm("\"x\", \"y\""));
	assert_false(inm("W/"));
}

static int64_t date(const char *text)
{
	int64_t t = -1;
	if (crl_http_date_parse(text, strlen(text), &t) != 0)
		return -1;
	return t;
}

static void test_http_dates(void **state)
{
	/* RFC 9110 §5.6.7's example in its three forms */
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Sun Nov  6 08:49:37 1994"), 784111777);
	assert_int_equal(date("Sun, 22 Nov 2026 15:00:11 GMT"), 1795359611);
	assert_int_equal(date(""), -1);
	assert_int_equal(date("yesterday"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT trailing"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37"), -1);
	static const char long_text[] =
	        "Sun, 06 Nov 1994 08:49:37 GMT                                   "
	        "                                  ";
	assert_int_equal(date(long_text), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_if_none_match),
	        cmocka_unit_test(test_http_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
