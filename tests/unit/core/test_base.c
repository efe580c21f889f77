/* kensho_base: buffers, JSON writer, hex and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/json.h"

static void test_buf_grows_and_steals(void **state)
{
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "%d,", i), 0);
	assert_int_equal(b.len, 3890);
	assert_memory_equal(b.data, "0,1,2,", 6);
	size_t len;
	uint8_t *data = buf_steal(&b, &len);
	assert_int_equal(len, 3890);
	assert_null(b.data);
	free(data);
}

static void test_json_nesting_and_escapes(void **state)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_string(&j, "s", "a\"b\\c\n\x01");
	json_int(&j, "n", -5);
	json_array_begin(&j, "list");
	json_bool(&j, NULL, true);
	json_null(&j, NULL);
	json_hex(&j, NULL, (const uint8_t *)"\x0a\xff", 2);
	json_array_end(&j);
	json_time(&j, "t", 0);
	json_object_end(&j);
	buf_append(&b, "", 1);
	assert_string_equal(
	        (char *)b.data,
	        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-5,\"list\":[true,null,\"0aff\"],"
	        "\"t\":\"1970-01-01T00:00:00Z\"}");
	buf_free(&b);
}

/* JSON strings carry UTF-8 exactly; bytes that are not UTF-8 become U+FFFD. */
static void test_json_utf8(void **state)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_array_begin(&j, NULL);
	json_string(&j, NULL, "愛知県 𠮷");
	json_string(&j, NULL,
	            "a\xff"
	            "b\xc0\x80"
	            "c\xed\xa0\x80"
	            "d\xe6\x84");
	json_string(&j, NULL, "\xf4\x90\x80\x80\xc3\xa9");
	json_array_end(&j);
	buf_append(&b, "", 1);
	assert_string_equal((char *)b.data,
	                    "[\"愛知県 𠮷\","
	                    "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\","
	                    "\"\\ufffd\\ufffd\\ufffd\\ufffdé\"]");
	buf_free(&b);
}

/* Bytes from clients are not always UTF-8: each byte outside a well-formed
 * sequence becomes U+FFFD, well-formed text passes unchanged. */
static void test_json_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"caf\xc3\xa9 \xe6\xa4\x9c \xf0\x9f\x94\x92",
	         "\"caf\xc3\xa9 \xe6\xa4\x9c \xf0\x9f\x94\x92\""},
	        {"/\xff\xfe", "\"/\\ufffd\\ufffd\""},
	        {"\xc3\x28", "\"\\ufffd(\""},                             /* bad continuation */
	        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                       /* overlong '/' */
	        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* a surrogate */
	        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
	        {"\xe6\xa4", "\"\\ufffd\\ufffd\""},                       /* cut short */
	        {"\x7f\x1b", "\"\\u007f\\u001b\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = {0};
		struct json j;
		json_init(&j, &b);
		json_string(&j, NULL, cases[i].in);
		buf_append(&b, "", 1);
		assert_string_equal((char *)b.data, cases[i].out);
		buf_free(&b);
	}
}

static void test_hex_round_trip_and_errors(void **state)
{
	uint8_t out[4];
	char text[9];
	assert_int_equal(hex_decode("00aFff10", 8, out, sizeof(out)), 4);
	hex_encode(out, 4, text);
	assert_string_equal(text, "00afff10");
	assert_int_equal(hex_decode("abc", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("zz", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0011223344", 10, out, sizeof(out)), -ENOSPC);
}

static void test_integer_formatting(void **state)
{
	char out[24];
	assert_int_equal(decimal_encode(0, out), 1);
	assert_string_equal(out, "0");
	assert_int_equal(decimal_encode(1529, out), 4);
	assert_string_equal(out, "1529");
	assert_int_equal(decimal_encode(UINT64_MAX, out), 20);
	assert_string_equal(out, "18446744073709551615");
	/* every width, at both ends of each power of ten, as printf writes it */
	char want[24];
	for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
		uint64_t values[] = {p - 1, p, p + 1, p * 3 + 7};
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);
			assert_int_equal(decimal_encode(values[i], out), strlen(want));
			assert_string_equal(out, want);
		}
	}
	assert_int_equal(hex_encode_uint(0, out), 1);
	assert_string_equal(out, "0");
	assert_int_equal(hex_encode_uint(0x6b030dbe, out), 8);
	assert_string_equal(out, "6b030dbe");
	assert_int_equal(hex_encode_uint(UINT64_MAX, out), 16);
	assert_string_equal(out, "ffffffffffffffff");
}

/* RFC 9110 5.6.7's example, the epoch, and agreement with strftime across
 * leap days and centuries. */
static void test_http_date_format(void **state)
{
	char out[HTTP_DATE_SIZE];
	assert_int_equal(http_date_format(784111777, out), 0);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(http_date_format(0, out), 0);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	for (int64_t t = -2208988800; t < 4102444800; t += 86400 * 37 + 3671) {
		time_t tt = (time_t)t;
		struct tm tm;
		char expected[64];
		gmtime_r(&tt, &tm);
		strftime(expected, sizeof(expected), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(http_date_format(t, out), 0);
		assert_string_equal(out, expected);
	}
	/* every day of four centuries (a whole Gregorian cycle), at a moving
	 * time of day, and the years at the ends of the range */
	for (int64_t t = INT64_C(946684800) - 86400LL * 146097 / 2, k = 0; k < 146097 + 2;
	     t += 86400 + 1, k++) {
		time_t tt = (time_t)t;
		struct tm tm;
		char expected[64];
		gmtime_r(&tt, &tm);
		strftime(expected, sizeof(expected), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(http_date_format(t, out), 0);
		assert_string_equal(out, expected);
	}
	assert_int_equal(http_date_format(INT64_C(253402300799), out), 0);
	assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	assert_int_equal(http_date_format(INT64_C(-62167219200), out), 0);
	assert_string_equal(out, "Sat, 01 Jan 0000 00:00:00 GMT");
	assert_int_equal(http_date_format(INT64_C(-62167219201), out), -EINVAL);
	assert_int_equal(http_date_format(INT64_C(253402300800), out), -EINVAL); /* year 10000 */
}

static void test_base64_variants(void **state)
{
	uint8_t out[16];
	/* "\xfb\xff" is "+/8=" in base64 and "-_8" in unpadded base64url. */
	assert_int_equal(base64_decode_any("+/8=", 4, out, sizeof(out)), 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(base64_decode_any("-_8", 3, out, sizeof(out)), 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(base64_decode_any("a", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode_any("ab*d", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode_any("/9", 2, out, sizeof(out)), -EINVAL); /* stray bits */
	char text[16];
	assert_int_equal(base64_encode((const uint8_t *)"kensho", 6, text), 8);
	assert_string_equal(text, "a2Vuc2hv");
	assert_int_equal(base64_encode((const uint8_t *)"ke", 2, text), 4);
	assert_string_equal(text, "a2U=");
}

/* Every length round-trips; a byte outside the alphabet at any position of
 * a group or of the tail is refused, as are stray bits in a tail of three. */
static void test_base64_every_position(void **state)
{
	uint8_t data[48], out[48];
	char text[72];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 151 + 7);
	for (size_t len = 0; len <= sizeof(data); len++) {
		size_t n = base64_encode(data, len, text);
		assert_int_equal(base64_decode_any(text, n, out, sizeof(out)), (int)len);
		assert_memory_equal(out, data, len);
		size_t unpadded = n;
		while (unpadded && text[unpadded - 1] == '=')
			unpadded--;
		for (size_t at = 0; at < unpadded; at++) {
			char saved = text[at];
			text[at] = at % 2 ? '%' : '\0';
			assert_int_equal(base64_decode_any(text, unpadded, out, sizeof(out)),
			                 -EINVAL);
			text[at] = saved;
		}
	}
	assert_int_equal(base64_decode_any("a2U", 3, out, sizeof(out)), 2);
	assert_int_equal(base64_decode_any("a2V", 3, out, sizeof(out)), -EINVAL); /* stray bits */
	assert_int_equal(base64_decode_any("a2Vuc2hv", 8, out, 5), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_buf_grows_and_steals),
	        cmocka_unit_test(test_json_nesting_and_escapes),
	        cmocka_unit_test(test_json_utf8),
	        cmocka_unit_test(test_json_invalid_utf8_replaced),
	        cmocka_unit_test(test_hex_round_trip_and_errors),
	        cmocka_unit_test(test_base64_variants),
	        cmocka_unit_test(test_base64_every_position),
	        cmocka_unit_test(test_integer_formatting),
	        cmocka_unit_test(test_http_date_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
