/* pki/asn1_time: UTCTime's two centuries (RFC 5280 §4.1.2.5.1), GeneralizedTime,
 * and the forms DER and RFC 5280 rule out; expected values from Python's
 * calendar.timegm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pki/asn1_time.h"
#include "pki/der.h"

static int parse(int tag, const char *text, int64_t *out)
{
	return pki_asn1_time_parse(tag, (const uint8_t *)text, strlen(text), out);
}

static int64_t utc(const char *text)
{
	int64_t t = 0;
	assert_int_equal(parse(DER_UTC_TIME, text, &t), 0);
	return t;
}

static int64_t generalized(const char *text)
{
	int64_t t = 0;
	assert_int_equal(parse(DER_GENERALIZED_TIME, text, &t), 0);
	return t;
}

static void test_utc_time_two_centuries(void **state)
{
	/* YY 00..49 is 20YY, 50..99 is 19YY */
	assert_true(utc("000101000000Z") == 946684800);
	assert_true(utc("491231235959Z") == 2524607999);
	assert_true(utc("500101000000Z") == -631152000);
	assert_true(utc("991231235959Z") == 946684799);
	assert_true(utc("700101000000Z") == 0);
}

static void test_generalized_time(void **state)
{
	assert_true(generalized("19700101000000Z") == 0);
	assert_true(generalized("20500101000000Z") == 2524608000);
	assert_true(generalized("20240229120000Z") == 1709208000);
	assert_true(generalized("20000229000000Z") == 951782400);
	assert_true(generalized("19000301000000Z") == -2203891200);
	assert_true(generalized("99991231235959Z") == 253402300799);
	/* the same instant in both forms */
	assert_true(generalized("20491231235959Z") == utc("491231235959Z"));
}

static void test_malformed_times_are_refused(void **state)
{
	static const struct {
		int tag;
		const char *text;
	} bad[] = {
	        {DER_UTC_TIME, "4912312359Z"},           /* no seconds */
	        {DER_UTC_TIME, "491231235959"},          /* no Z */
	        {DER_UTC_TIME, "491231235959+0900"},     /* an offset */
	        {DER_UTC_TIME, "20491231235959Z"},       /* four-digit year in a UTCTime */
	        {DER_GENERALIZED_TIME, "491231235959Z"}, /* two-digit year */
	        {DER_GENERALIZED_TIME, "20240101000000.5Z"},
	        {DER_GENERALIZED_TIME, "20240101000000"},
	        {DER_GENERALIZED_TIME, "2024010100000Z0"},
	        {DER_GENERALIZED_TIME, "2024 101000000Z"},
	        {DER_GENERALIZED_TIME, "2024-1-1000000Z"},
	        {DER_GENERALIZED_TIME, "20241301000000Z"}, /* month 13 */
	        {DER_GENERALIZED_TIME, "20240001000000Z"}, /* month 0 */
	        {DER_GENERALIZED_TIME, "20240100000000Z"}, /* day 0 */
	        {DER_GENERALIZED_TIME, "20240431000000Z"}, /* 31 April */
	        {DER_GENERALIZED_TIME, "20230229000000Z"}, /* not a leap year */
	        {DER_GENERALIZED_TIME, "21000229000000Z"}, /* nor is 2100 */
	        {DER_GENERALIZED_TIME, "20240101240000Z"}, /* hour 24 */
	        {DER_GENERALIZED_TIME, "20240101006000Z"}, /* minute 60 */
	        {DER_GENERALIZED_TIME, "20240101000060Z"}, /* second 60 */
	        {DER_GENERALIZED_TIME, ""},
	        {DER_OCTET_STRING, "20240101000000Z"}, /* not a time type */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t t = 42;
		assert_int_equal(parse(bad[i].tag, bad[i].text, &t), -EINVAL);
		assert_true(t == 42); /* untouched */
	}
}

/* Validity as a certificate carries it: SEQUENCE { UTCTime, GeneralizedTime }. */
static void test_read_walks_tlvs(void **state)
{
	unsigned char der[] = "\x17\x0d"
	                      "491231235959Z"
	                      "\x18\x0f"
	                      "20500101000000Z";
	unsigned char *p = der, *end = der + sizeof der - 1;
	int64_t not_before, not_after;
	assert_int_equal(pki_asn1_time_read(&p, end, &not_before), 0);
	assert_int_equal(pki_asn1_time_read(&p, end, &not_after), 0);
	assert_true(not_before == 2524607999 && not_after == 2524608000);
	assert_ptr_equal(p, end);
	assert_int_equal(pki_asn1_time_read(&p, end, &not_after), -EINVAL); /* nothing left */
}

static void test_read_refuses_and_stays(void **state)
{
	unsigned char truncated[] = "\x18\x0f"
	                            "2050010100000";
	unsigned char wrong_tag[] = "\x04\x0f"
	                            "20500101000000Z";
	unsigned char bad_date[] = "\x17\x0d"
	                           "491331235959Z";
	unsigned char long_len[] = "\x18\x10"
	                           "20500101000000Z0";
	unsigned char *cases[] = {truncated, wrong_tag, bad_date, long_len};
	size_t lens[] = {sizeof truncated - 1, sizeof wrong_tag - 1, sizeof bad_date - 1,
	                 sizeof long_len - 1};
	for (size_t i = 0; i < 4; i++) {
		unsigned char *p = cases[i];
		int64_t t;
		assert_int_equal(pki_asn1_time_read(&p, cases[i] + lens[i], &t), -EINVAL);
		assert_ptr_equal(p, cases[i]);
	}
	unsigned char *p = truncated;
	int64_t t;
	assert_int_equal(pki_asn1_time_read(&p, p, &t), -EINVAL); /* empty input */
}

/* What der_time writes (UTCTime through 2049, GeneralizedTime from 2050)
 * reads back as the same instant. */
static void test_reads_what_der_time_writes(void **state)
{
	static const int64_t times[] = {-631152000, 0,          946684799,   1796454000,
	                                2524607999, 2524608000, 253402300799};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		struct der d;
		der_init(&d);
		der_time(&d, times[i]);
		uint8_t *out;
		size_t len;
		assert_int_equal(der_finish(&d, &out, &len), 0);
		assert_int_equal(out[0],
		                 times[i] < 2524608000 ? DER_UTC_TIME : DER_GENERALIZED_TIME);
		unsigned char *p = out;
		int64_t back = 0;
		assert_int_equal(pki_asn1_time_read(&p, out + len, &back), 0);
		assert_true(back == times[i]);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_utc_time_two_centuries),
	        cmocka_unit_test(test_generalized_time),
	        cmocka_unit_test(test_malformed_times_are_refused),
	        cmocka_unit_test(test_read_walks_tlvs),
	        cmocka_unit_test(test_read_refuses_and_stays),
	        cmocka_unit_test(test_reads_what_der_time_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
