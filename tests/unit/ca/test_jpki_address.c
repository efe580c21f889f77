/* Addresses in the resident-register form (ca/jpki_address.c): the
 * municipalities table, normalizing typed text, the character-set checks and
 * the substitute-character flags. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ca/jpki_address.h"

static void test_table(void **state)
{
	(void)state;
	assert_int_equal(jpki_municipality_count, 1741);
	const struct jpki_municipality *m = jpki_municipality_by_code("132217");
	assert_non_null(m);
	assert_string_equal(m->prefecture, "東京都");
	assert_string_equal(m->prefecture_romanized, "Tokyo");
	assert_string_equal(m->name, "清瀬市");
	assert_string_equal(m->romanized, "Kiyose-shi");
	m = jpki_municipality_by_code("011002");
	assert_non_null(m);
	assert_string_equal(m->romanized, "Sapporo-shi");
	assert_string_equal(m->prefecture_romanized, "Hokkaido");
	assert_int_equal(m->population, 1975065);
	/* every municipality has its 2020 Census count but Futaba-machi, which
	 * counted none; together the national total (data/README.md) */
	uint64_t total = 0;
	size_t without = 0;
	for (size_t i = 0; i < jpki_municipality_count; i++) {
		total += jpki_municipalities[i].population;
		without += jpki_municipalities[i].population == 0;
	}
	assert_int_equal(total, 126226568);
	assert_int_equal(without, 1);
	assert_int_equal(jpki_municipality_by_code("075469")->population, 0);
	assert_null(jpki_municipality_by_code("999999"));
	/* the islands' villages are not rows */
	assert_null(jpki_municipality_by_code("016969"));
}

static void test_lookup(void **state)
{
	(void)state;
	int pref = -1;
	const struct jpki_municipality *m =
	        jpki_address_municipality("東京都清瀬市観布子南１２－７－２０２", &pref);
	assert_non_null(m);
	assert_string_equal(m->code, "132217");
	/* a designated city's ward stays in the rest of the address */
	m = jpki_address_municipality("北海道札幌市中央区北一条西二丁目", NULL);
	assert_non_null(m);
	assert_string_equal(m->name, "札幌市");
	/* a town after its district */
	m = jpki_address_municipality("東京都西多摩郡瑞穂町箱根ケ崎２", NULL);
	assert_non_null(m);
	assert_string_equal(m->romanized, "Mizuho-machi");
	/* the longest name wins: 郡山市 is not a district */
	m = jpki_address_municipality("福島県郡山市朝日１", NULL);
	assert_non_null(m);
	assert_string_equal(m->name, "郡山市");
	assert_null(jpki_address_municipality("東京都架空市１", &pref));
	assert_int_equal(pref, 1);
	assert_null(jpki_address_municipality("架空県架空市１", &pref));
	assert_int_equal(pref, 0);
}

static void expect_normal(const char *typed, const char *want)
{
	char out[JPKI_ADDRESS_BUF], err[256] = "";
	int e = jpki_address_normalize(typed, out, err, sizeof(err));
	if (e)
		print_error("%s: %s\n", typed, err);
	assert_int_equal(e, 0);
	assert_string_equal(out, want);
}

static void expect_bad(const char *typed, const char *words)
{
	char out[JPKI_ADDRESS_BUF], err[256] = "";
	assert_int_equal(jpki_address_normalize(typed, out, err, sizeof(err)), -EINVAL);
	if (!strstr(err, words))
		print_error("%s: %s\n", typed, err);
	assert_non_null(strstr(err, words));
	assert_string_equal(out, "");
}

static void test_normalize(void **state)
{
	(void)state;
	expect_normal("東京都清瀬市観布子南12-7-202", "東京都清瀬市観布子南１２－７－２０２");
	/* already in the register's form: unchanged */
	expect_normal("東京都清瀬市観布子南１２－７－２０２",
	              "東京都清瀬市観布子南１２－７－２０２");
	/* every kind of dash, and a long-vowel mark between digits */
	expect_normal("東京都清瀬市本町1‐2–3—4−5ー6", "東京都清瀬市本町１－２－３－４－５－６");
	/* but a long-vowel mark in a word stays */
	expect_normal("東京都清瀬市センター1", "東京都清瀬市センター１");
	/* letters and spaces full-width; outer spaces dropped */
	expect_normal("  東京都清瀬市本町1 A棟 101\t", "東京都清瀬市本町１　Ａ棟　１０１");
	expect_normal("北海道札幌市中央区北1条西2丁目", "北海道札幌市中央区北１条西２丁目");
}

static void test_bad_input(void **state)
{
	(void)state;
	expect_bad("", "empty");
	expect_bad("   ", "empty");
	expect_bad("Tokyo 1-2", "prefecture");
	expect_bad("東京都架空市1", "no municipality");
	expect_bad("東京都清瀬市ｱｲｳ", "U+FF71");
	expect_bad("東京都清瀬市😀", "outside JIS X 0208 and JIS X 0213");
	expect_bad("東京都清瀬市\x01", "U+0001");
	expect_bad("東京都清瀬市\xff", "not UTF-8");
	expect_bad("東京都清瀬市\xed\xa0\x80", "not UTF-8"); /* a surrogate */
	expect_bad("東京都清瀬市\xc0\xaf", "not UTF-8");     /* overlong */
	char long_address[1024] = "東京都清瀬市";
	for (int i = 0; i < 195; i++)
		strcat(long_address, "あ");
	expect_bad(long_address, "201 characters");
	long_address[strlen(long_address) - 3] = 0; /* exactly 200 */
	char out[JPKI_ADDRESS_BUF];
	assert_int_equal(jpki_address_normalize(long_address, out, NULL, 0), 0);
	/* 200 four-octet characters fill the buffer exactly */
	char big[1024] = "東京都清瀬市";
	for (int i = 0; i < 194; i++)
		strcat(big, "\xf0\xa0\x80\x8b"); /* U+2000B, JIS X 0213 plane 2 */
	int e = jpki_address_normalize(big, out, NULL, 0);
	if (e == 0)
		assert_true(strlen(out) < JPKI_ADDRESS_BUF);
	char *huge = malloc(8192);
	assert_non_null(huge);
	memset(huge, 'a', 8191);
	huge[8191] = 0;
	assert_int_equal(jpki_address_normalize(huge, out, NULL, 0), -EINVAL);
	free(huge);
}

static void test_flags(void **state)
{
	(void)state;
	char *f = jpki_substitute_flags("東京都清瀬市１２－７");
	assert_non_null(f);
	assert_string_equal(f, "0000000000");
	free(f);
	/* 﨑 and ① are JIS X 0213 (not 0208): flagged */
	f = jpki_substitute_flags("山﨑\u3000①");
	assert_non_null(f);
	assert_string_equal(f, "0101");
	free(f);
	assert_null(jpki_substitute_flags("\xff"));
	f = jpki_substitute_flags("");
	assert_non_null(f);
	assert_string_equal(f, "");
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),     cmocka_unit_test(test_lookup),
	        cmocka_unit_test(test_normalize), cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
