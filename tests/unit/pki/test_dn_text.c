/* pki/dn_text: RFC 4514 escaping, each string type decoded to UTF-8, values
 * that are not valid strings written as #hex, order and separators, and the
 * bounds (truncation on a whole character, malformed input). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pki/der.h"
#include "pki/dn_text.h"

struct attr {
	const char *oid; /* dotted */
	uint8_t tag;
	const void *value;
	size_t len;    /* 0: strlen(value) */
	bool same_rdn; /* joins the previous attribute's RDN */
};

/* A DER Name of the attributes, in order. */
static uint8_t *name_of(const struct attr *attrs, size_t n, size_t *len)
{
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	for (size_t i = 0; i < n; i++) {
		if (!attrs[i].same_rdn) {
			if (i > 0)
				der_end(&d);
			der_begin(&d, DER_SET);
		}
		der_begin(&d, DER_SEQUENCE);
		der_oid(&d, attrs[i].oid);
		size_t vlen = attrs[i].len ? attrs[i].len : strlen(attrs[i].value);
		der_tlv(&d, attrs[i].tag, attrs[i].value, vlen);
		der_end(&d);
	}
	if (n > 0)
		der_end(&d);
	der_end(&d);
	uint8_t *out;
	assert_int_equal(der_finish(&d, &out, len), 0);
	return out;
}

static void expect_text(const struct attr *attrs, size_t n, const char *want)
{
	size_t len;
	uint8_t *der = name_of(attrs, n, &len);
	char text[512];
	print_message("want %s\n", want);
	assert_int_equal(dn_text(der, len, text, sizeof text), (int)strlen(want));
	assert_string_equal(text, want);
	free(der);
}

#define CN "2.5.4.3"
#define L  "2.5.4.7"
#define C  "2.5.4.6"
#define O  "2.5.4.10"

static void one(const char *oid, uint8_t tag, const void *value, size_t len, const char *want)
{
	struct attr a = {oid, tag, value, len, false};
	expect_text(&a, 1, want);
}

static void test_escaping(void **state)
{
	(void)state;
	one(CN, 0x0c, "a,b+c\"d\\e<f>g;h", 0, "CN=a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h");
	one(CN, 0x0c, " lead", 0, "CN=\\ lead");
	one(CN, 0x0c, "#lead", 0, "CN=\\#lead");
	one(CN, 0x0c, "trail ", 0, "CN=trail\\ ");
	one(CN, 0x0c, " ", 0, "CN=\\ ");
	one(CN, 0x0c, "in # and  = ", 0, "CN=in # and  =\\ ");
	one(CN, 0x16, "a\0b", 3, "CN=a\\00b");         /* NUL as a hex pair */
	one(CN, 0x0c, "a\nb\x7f", 0, "CN=a\\0Ab\\7F"); /* other controls too */
	one(CN, 0x0c, "", 0, "CN=");
}

static void test_string_types(void **state)
{
	(void)state;
	one(L, 0x0c, "愛知県名古屋市", 0, "L=愛知県名古屋市");     /* UTF8String */
	one(C, 0x13, "JP", 0, "C=JP");                             /* PrintableString */
	one(CN, 0x13, "a@b*c", 0, "CN=a@b*c");                     /* taken as seen in practice */
	one(CN, 0x16, "user@example.jp", 0, "CN=user@example.jp"); /* IA5String */
	one(CN, 0x1a, "visible", 0, "CN=visible");                 /* VisibleString */
	one(CN, 0x12, "012 34", 0, "CN=012 34");                   /* NumericString */
	static const uint8_t bmp[] = {0x61, 0x1b, 0x77, 0xe5, 0x00, 0x2c}; /* 愛知, */
	one(L, 0x1e, bmp, sizeof bmp, "L=愛知\\,");
	static const uint8_t universal[] = {0x00, 0x02, 0x0b, 0xb7,
	                                    0x00, 0x00, 0x91, 0xce}; /* 𠮷野 */
	one(CN, 0x1c, universal, sizeof universal, "CN=𠮷野");
}

static void test_invalid_values_are_hex(void **state)
{
	(void)state;
	one(CN, 0x0c, "\xc0\x80", 2, "CN=#0c02c080");       /* overlong NUL */
	one(CN, 0x0c, "\xed\xa0\x80", 3, "CN=#0c03eda080"); /* a surrogate in UTF-8 */
	one(CN, 0x0c, "\xe6\x84", 2, "CN=#0c02e684");       /* truncated character */
	one(CN, 0x0c, "\xff", 1, "CN=#0c01ff");
	one(CN, 0x16, "\x80", 1, "CN=#160180");    /* IA5 is 7-bit */
	one(CN, 0x13, "a\x01", 2, "CN=#13026101"); /* control in PrintableString */
	one(CN, 0x12, "12a", 3, "CN=#1203313261"); /* NumericString */
	static const uint8_t odd_bmp[] = {0x61, 0x1b, 0x77};
	one(CN, 0x1e, odd_bmp, sizeof odd_bmp, "CN=#1e03611b77");
	static const uint8_t surrogate_bmp[] = {0xd8, 0x00, 0xdc, 0x00};
	one(CN, 0x1e, surrogate_bmp, sizeof surrogate_bmp, "CN=#1e04d800dc00");
	static const uint8_t big_universal[] = {0x00, 0x11, 0x00, 0x00};
	one(CN, 0x1c, big_universal, sizeof big_universal, "CN=#1c0400110000");
	one(CN, 0x14, "teletex", 0, "CN=#140774656c65746578"); /* TeletexString: ambiguous */
}

static void test_types_without_short_names(void **state)
{
	(void)state;
	one("2.5.4.5", 0x13, "1234", 0, "2.5.4.5=#130431323334"); /* serialNumber */
	one("1.2.840.113549.1.9.1", 0x16, "a@b", 0, "1.2.840.113549.1.9.1=#1603614062");
	one("2.5.4.8", 0x0c, "東京都", 0, "ST=東京都");
	one("2.5.4.9", 0x0c, "1-2", 0, "STREET=1-2");
	one("2.5.4.11", 0x0c, "unit", 0, "OU=unit");
	one("0.9.2342.19200300.100.1.25", 0x16, "jp", 0, "DC=jp");
	one("0.9.2342.19200300.100.1.1", 0x0c, "u1", 0, "UID=u1");
}

static void test_order_and_separators(void **state)
{
	(void)state;
	const struct attr jpki[] = {
	        {C, 0x13, "JP", 0, false},
	        {L, 0x0c, "愛知県", 0, false},
	        {L, 0x0c, "名古屋市", 0, false},
	        {CN, 0x0c, "試験　太郎", 0, false},
	};
	expect_text(jpki, 4, "C=JP, L=愛知県, L=名古屋市, CN=試験　太郎");
	const struct attr multi[] = {
	        {C, 0x13, "JP", 0, false},
	        {CN, 0x0c, "a", 0, false},
	        {O, 0x0c, "b", 0, true},
	};
	expect_text(multi, 3, "C=JP, CN=a+O=b");
	expect_text(NULL, 0, ""); /* the empty Name */
}

static void test_bounds(void **state)
{
	(void)state;
	const struct attr a[] = {{C, 0x13, "JP", 0, false}, {L, 0x0c, "愛知県", 0, false}};
	size_t len;
	uint8_t *der = name_of(a, 2, &len);
	char text[64];
	/* "C=JP, L=愛知県" is 17 bytes: every smaller buffer gets a prefix that
	 * ends on a whole character, never half a kanji. */
	assert_int_equal(dn_text(der, len, text, 18), 17);
	static const char *const prefixes[] = {"",
	                                       "",
	                                       "C",
	                                       "C=",
	                                       "C=J",
	                                       "C=JP",
	                                       "C=JP",
	                                       "C=JP, ",
	                                       "C=JP, L",
	                                       "C=JP, L=",
	                                       "C=JP, L=",
	                                       "C=JP, L=",
	                                       "C=JP, L=愛",
	                                       "C=JP, L=愛",
	                                       "C=JP, L=愛",
	                                       "C=JP, L=愛知",
	                                       "C=JP, L=愛知",
	                                       "C=JP, L=愛知"};
	for (size_t cap = 1; cap < 18; cap++) {
		memset(text, 'x', sizeof text);
		assert_int_equal(dn_text(der, len, text, cap), -ENOSPC);
		assert_string_equal(text, prefixes[cap]);
	}
	assert_int_equal(dn_text(der, len, NULL, 0), -ENOSPC);
	/* malformed: truncated, trailing bytes, an empty RDN, not a Name */
	for (size_t n = 0; n < len; n++) {
		text[0] = 'x';
		assert_int_equal(dn_text(der, n, text, sizeof text), -EINVAL);
		assert_string_equal(text, "");
	}
	uint8_t longer[128];
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(dn_text(longer, len + 1, text, sizeof text), -EINVAL);
	static const uint8_t empty_rdn[] = {0x30, 0x02, 0x31, 0x00};
	assert_int_equal(dn_text(empty_rdn, sizeof empty_rdn, text, sizeof text), -EINVAL);
	static const uint8_t not_name[] = {0x04, 0x02, 0x31, 0x00};
	assert_int_equal(dn_text(not_name, sizeof not_name, text, sizeof text), -EINVAL);
	assert_int_equal(dn_text(NULL, 0, text, sizeof text), -EINVAL);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escaping),
	        cmocka_unit_test(test_string_types),
	        cmocka_unit_test(test_invalid_values_are_hex),
	        cmocka_unit_test(test_types_without_short_names),
	        cmocka_unit_test(test_order_and_separators),
	        cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
