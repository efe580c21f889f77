/* pki/der: encodings checked against vectors from `openssl asn1parse -genstr`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mbedtls/asn1.h>

#include "pki/der.h"

static void expect(struct der *d, const char *hex)
{
	uint8_t *out;
	size_t len;
	assert_int_equal(der_finish(d, &out, &len), 0);
	char *text = malloc(2 * len + 1);
	for (size_t i = 0; i < len; i++)
		sprintf(text + 2 * i, "%02x", out[i]);
	text[2 * len] = 0;
	assert_string_equal(text, hex);
	free(text);
	free(out);
}

static void test_oid_matches_openssl(void **state)
{
	struct der d;
	der_init(&d);
	der_oid(&d, "1.2.392.200149.8.5.5.1");
	expect(&d, "060a2a83088c9b5508050501");
}

static void test_integers(void **state)
{
	struct der d;
	der_init(&d);
	der_int(&d, -129);
	der_int(&d, 128);
	der_int(&d, 0);
	der_uint_bytes(&d, (const uint8_t *)"\x00\x00\x80", 3);
	der_uint_bytes(&d, (const uint8_t *)"\x00\x7f", 2);
	expect(&d, "0202ff7f"
	           "02020080"
	           "020100"
	           "02020080"
	           "02017f");
}

static void test_time_switches_form_in_2050(void **state)
{
	struct der d;
	der_init(&d);
	der_time(&d, 2524607999LL); /* 2049-12-31T23:59:59Z */
	der_time(&d, 2524608000LL); /* 2050-01-01T00:00:00Z */
	expect(&d, "170d3439313233313233353935395a"
	           "180f32303530303130313030303030305a");
}

static void test_nested_long_form_lengths(void **state)
{
	struct der d;
	der_init(&d);
	uint8_t blob[300];
	memset(blob, 0xab, sizeof(blob));
	der_begin(&d, DER_SEQUENCE);
	der_begin(&d, DER_CONTEXT(0));
	der_tlv(&d, DER_OCTET_STRING, blob, sizeof(blob));
	der_end(&d);
	der_null(&d);
	der_end(&d);
	uint8_t *out;
	size_t len;
	assert_int_equal(der_finish(&d, &out, &len), 0);
	/* 30 82 0137 | a0 82 0130 | 04 82 012c <300> | 05 00 */
	assert_int_equal(len, 4 + 4 + 4 + 300 + 2);
	assert_memory_equal(out, "\x30\x82\x01\x36\xa0\x82\x01\x30\x04\x82\x01\x2c", 12);
	assert_memory_equal(out + 12 + 300, "\x05\x00", 2);
	free(out);
}

static void test_errors_are_sticky(void **state)
{
	struct der d;
	uint8_t *out;
	size_t len;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	assert_int_equal(der_finish(&d, &out, &len), -EINVAL); /* still open */
	der_init(&d);
	der_oid(&d, "3.1");
	der_null(&d);
	assert_int_equal(der_finish(&d, &out, &len), -EINVAL);
	der_init(&d);
	der_end(&d);
	assert_int_equal(der_finish(&d, &out, &len), -EINVAL);
}

static void test_check_strict(void **state)
{
	(void)state;
	static const uint8_t ok[] = {0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x80};
	assert_int_equal(der_check_strict(ok, sizeof ok), 0);
	/* primitive content is not looked into: 04 81 .. inside an OCTET STRING */
	static const uint8_t opaque[] = {0x04, 0x03, 0x04, 0x81, 0x00};
	assert_int_equal(der_check_strict(opaque, sizeof opaque), 0);
	/* after a nested value ends, its parent's next value is read */
	static const uint8_t siblings[] = {0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x05, 0x05, 0x00};
	assert_int_equal(der_check_strict(siblings, sizeof siblings), 0);
	static const uint8_t empty_inner[] = {0x30, 0x04, 0x30, 0x00, 0x05, 0x00};
	assert_int_equal(der_check_strict(empty_inner, sizeof empty_inner), 0);
	/* a value longer than its parent, though within the whole input */
	static const uint8_t child_overrun[] = {0x30, 0x07, 0x30, 0x02, 0x30,
	                                        0x03, 0x02, 0x01, 0x05};
	static const uint8_t long_short[] = {0x30, 0x81, 0x03, 0x02, 0x01, 0x05};
	static const uint8_t nested[] = {0x30, 0x06, 0x30, 0x04, 0x02, 0x81, 0x01, 0x05};
	static const uint8_t zero_lead[] = {0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05};
	static const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00};
	static const uint8_t trailing[] = {0x30, 0x03, 0x02, 0x01, 0x05, 0x00};
	static const uint8_t inner_overrun[] = {0x30, 0x03, 0x02, 0x05, 0x05};
	static const uint8_t long_tag[] = {0x1f, 0x81, 0x01, 0x00};
	const struct {
		const uint8_t *p;
		size_t len;
	} bad[] = {{long_short, sizeof long_short},      {nested, sizeof nested},
	           {zero_lead, sizeof zero_lead},        {indefinite, sizeof indefinite},
	           {trailing, sizeof trailing},          {inner_overrun, sizeof inner_overrun},
	           {long_tag, sizeof long_tag},          {ok, 1},
	           {child_overrun, sizeof child_overrun}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(der_check_strict(bad[i].p, bad[i].len), -EINVAL);
	/* nesting deeper than DER_MAX_DEPTH is refused, not recursed into */
	uint8_t deep[2 * (DER_MAX_DEPTH + 2)];
	for (int i = 0; i < DER_MAX_DEPTH + 2; i++) {
		deep[2 * i] = 0x30;
		deep[2 * i + 1] = (uint8_t)(sizeof deep - 2 * (size_t)i - 2);
	}
	assert_int_equal(der_check_strict(deep, sizeof deep), -EINVAL);
	assert_int_equal(der_check_strict(deep + 4, sizeof deep - 4), 0);
}

/* der_read_header reads exactly what mbedtls_asn1_get_tag reads: the same
 * result, length and position, on generated headers of every form. */
static void test_read_header_matches_mbedtls(void **state)
{
	(void)state;
	uint64_t rng = 42;
	for (int round = 0; round < 200000; round++) {
		unsigned char bytes[8];
		for (size_t i = 0; i < sizeof(bytes); i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			bytes[i] = (unsigned char)(rng >> 56);
		}
		/* mostly plausible headers: the right tag, length forms 0x80..0x85 */
		if (round % 3 != 0)
			bytes[0] = 0x30;
		if (round % 4 == 1)
			bytes[1] = (unsigned char)(0x80 | (bytes[1] % 6));
		size_t avail = (size_t)(rng >> 40) % (sizeof(bytes) + 1);
		unsigned char *mine = bytes, *theirs = bytes;
		size_t my_len = 7777, their_len = 7777;
		int a = der_read_header(&mine, bytes + avail, &my_len, 0x30);
		int b = mbedtls_asn1_get_tag(&theirs, bytes + avail, &their_len, 0x30);
		assert_int_equal(a == 0, b == 0);
		assert_ptr_equal(mine, theirs);
		if (b == 0)
			assert_int_equal(my_len, their_len);
	}
	/* and on long forms with content that fits */
	unsigned char big[300] = {0x04, 0x82, 0x01, 0x00};
	unsigned char *p = big;
	size_t len;
	assert_int_equal(der_read_header(&p, big + sizeof(big), &len, 0x04), 0);
	assert_int_equal(len, 256);
	assert_ptr_equal(p, big + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_oid_matches_openssl),
	        cmocka_unit_test(test_read_header_matches_mbedtls),
	        cmocka_unit_test(test_integers),
	        cmocka_unit_test(test_time_switches_form_in_2050),
	        cmocka_unit_test(test_nested_long_form_lengths),
	        cmocka_unit_test(test_errors_are_sticky),
	        cmocka_unit_test(test_check_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
