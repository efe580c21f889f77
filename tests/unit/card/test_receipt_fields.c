/* card/receipt_fields.c: the fields kensho-card checks in a receipt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "card/receipt_fields.h"

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int parse(const char *text, struct receipt_summary *s)
{
	return receipt_fields_parse((const uint8_t *)text, strlen(text), s);
}

static void test_valid_receipt(void **state)
{
	struct receipt_summary s;
	assert_int_equal(
	        parse("{\"version\":1,\"receipt\":42,\"received_at\":\"2026-11-22T15:00:00Z\","
	              "\"sha256\":\"" HEX64 "\",\"result\":{\"valid\":true,\"sha256\":\"x\"}}",
	              &s),
	        0);
	assert_int_equal(s.number, 42);
	assert_string_equal(s.received_at, "2026-11-22T15:00:00Z");
	assert_string_equal(s.sha256, HEX64);
	assert_true(s.valid);
	assert_false(s.has_log_index); /* version 1: before the log */
	assert_int_equal(
	        parse("{\"version\":1,\"receipt\":7,\"received_at\":\"t\",\"sha256\":\"" HEX64
	              "\",\"result\":{\"valid\":false}}",
	              &s),
	        0);
	assert_false(s.valid);
}

static void test_receipt_with_log_index(void **state)
{
	struct receipt_summary s;
	assert_int_equal(parse("{\"version\":2,\"receipt\":42,\"log_index\":1234,\"received_at\":"
	                       "\"2026-11-22T15:00:00Z\",\"sha256\":\"" HEX64
	                       "\",\"result\":{\"valid\":true}}",
	                       &s),
	                 0);
	assert_int_equal(s.number, 42);
	assert_true(s.has_log_index);
	assert_int_equal(s.log_index, 1234);
	assert_true(s.valid);
	/* a log_index inside the result is not the receipt's */
	assert_int_equal(
	        parse("{\"version\":1,\"receipt\":1,\"received_at\":\"t\",\"sha256\":\"" HEX64
	              "\",\"result\":{\"log_index\":5,\"valid\":true}}",
	              &s),
	        0);
	assert_false(s.has_log_index);
	assert_int_equal(parse("{\"version\":2,\"receipt\":1,\"log_index\":\"x\",\"received_at\":"
	                       "\"t\",\"sha256\":\"" HEX64 "\",\"result\":{}}",
	                       &s),
	                 -EBADMSG);
	assert_int_equal(parse("{\"version\":2,\"receipt\":1,\"log_index\":99999999999999999999999,"
	                       "\"received_at\":\"t\",\"sha256\":\"" HEX64 "\",\"result\":{}}",
	                       &s),
	                 -EBADMSG);
}

static void test_malformed(void **state)
{
	struct receipt_summary s;
	assert_int_equal(parse("", &s), -EBADMSG);
	assert_int_equal(parse("{\"receipt\":\"x\"}", &s), -EBADMSG);
	assert_int_equal(parse("{\"receipt\":99999999999999999999999,\"received_at\":\"t\"}", &s),
	                 -EBADMSG);
	assert_int_equal(parse("{\"receipt\":1,\"received_at\":\"t\",\"sha256\":\"abc\","
	                       "\"result\":{}}",
	                       &s),
	                 -EBADMSG);
	assert_int_equal(parse("{\"receipt\":1,\"received_at\":\"t\\\"\",\"sha256\":\"" HEX64
	                       "\",\"result\":{}}",
	                       &s),
	                 -EBADMSG);
	assert_int_equal(
	        parse("{\"receipt\":1,\"received_at\":\"t\",\"sha256\":\"" HEX64 "\"}", &s),
	        -EBADMSG);
	assert_int_equal(parse("{\"receipt\":1,\"received_at\":\"unterminated", &s), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_receipt),
	        cmocka_unit_test(test_receipt_with_log_index),
	        cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
