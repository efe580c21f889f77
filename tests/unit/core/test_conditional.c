/* core/conditional: If-None-Match lists, the three HTTP-date forms and the
 * 304 decision of RFC 9110 §13.2.2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/conditional.h"

/* 2026-12-05T00:00:00Z: "now" for the RFC 850 century rule. */
#define NOW INT64_C(1796428800)

static const char etag[] = "\"c15974412833cac73ae764672c51bbbd\"";

static bool listed(const char *value)
{
	return conditional_etag_listed(value, strlen(value), etag);
}

static void test_etag_listed(void **state)
{
	assert_true(listed("\"c15974412833cac73ae764672c51bbbd\""));
	assert_true(listed("W/\"c15974412833cac73ae764672c51bbbd\"")); /* weak comparison */
	assert_true(listed("\"a\", \"b\",W/\"c15974412833cac73ae764672c51bbbd\""));
	assert_false(listed("*")); /* an older copy must not be kept */
	assert_true(listed("*, \"c15974412833cac73ae764672c51bbbd\""));
	assert_true(listed(" ,, \"c15974412833cac73ae764672c51bbbd\" "));
	assert_true(listed("\t\"c15974412833cac73ae764672c51bbbd\"\t,"));
	assert_false(listed(""));
	assert_false(listed("\"c15974412833cac73ae764672c51bbb\""));
	assert_false(listed("c15974412833cac73ae764672c51bbbd"));
	assert_false(listed("\"c15974412833cac73ae764672c51bbbd"));
	assert_false(listed("\"c15974412833cac73ae764672c51bbbd\"junk"));
	assert_false(listed("w/\"c15974412833cac73ae764672c51bbbd\"")); /* W/ is case-sensitive */
	assert_false(listed("\"x\", \"y\""));
	assert_false(listed("W/"));
	/* a weak tag of our own compares by its opaque part too */
	assert_true(conditional_etag_listed("\"v1\"", 4, "W/\"v1\""));
}

/* Reads every member of `list` into tags[]; returns how many. */
static size_t members(const char *list, struct entity_tag *tags, size_t max)
{
	size_t pos = 0, n = 0;
	while (n < max && conditional_next_etag(list, strlen(list), &pos, &tags[n])) {
		assert_true(pos <= strlen(list));
		n++;
	}
	return n;
}

static void assert_tag(const struct entity_tag *t, const char *opaque, bool weak)
{
	assert_non_null(t->opaque);
	assert_int_equal(t->opaque_len, strlen(opaque));
	assert_memory_equal(t->opaque, opaque, strlen(opaque));
	assert_int_equal(t->weak, weak);
	assert_false(t->any);
}

static void assert_malformed(const struct entity_tag *t)
{
	assert_null(t->opaque);
	assert_false(t->any);
}

static void test_etag_members(void **state)
{
	struct entity_tag t[8];
	assert_int_equal(members("", t, 8), 0);
	assert_int_equal(members(" , ,\t", t, 8), 0); /* empty members only */

	assert_int_equal(members("*", t, 8), 1);
	assert_true(t[0].any);
	assert_null(t[0].opaque);

	assert_int_equal(members("W/\"a,b\" , \"\", *,\"x y\", unquoted, \"open", t, 8), 6);
	assert_tag(&t[0], "\"a,b\"", true); /* a comma inside the quotes is etagc */
	assert_tag(&t[1], "\"\"", false);   /* the empty tag is a tag */
	assert_true(t[2].any);
	assert_malformed(&t[3]); /* a space is not etagc */
	assert_malformed(&t[4]);
	assert_malformed(&t[5]);

	/* garbage after the closing quote spoils that member, not the next */
	assert_int_equal(members("\"a\" b, \"c\"", t, 8), 2);
	assert_malformed(&t[0]);
	assert_tag(&t[1], "\"c\"", false);

	/* obs-text is allowed, DEL and controls are not */
	assert_int_equal(members("\"\xc3\xa9\", \"a\x7f\", \"a\x01\"", t, 8), 3);
	assert_tag(&t[0], "\"\xc3\xa9\"", false);
	assert_malformed(&t[1]);
	assert_malformed(&t[2]);
	assert_int_equal(members("*x, W/*", t, 8), 2);
	assert_malformed(&t[0]);
	assert_malformed(&t[1]);
}

static int64_t date_at(const char *text, int64_t now)
{
	int64_t t = -1;
	int rc = conditional_parse_date(text, strlen(text), now, &t);
	if (rc != 0) {
		assert_int_equal(rc, -EINVAL);
		return -1;
	}
	return t;
}

static int64_t date(const char *text)
{
	return date_at(text, NOW);
}

static void test_imf_fixdate(void **state)
{
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Sun, 22 Nov 2026 15:00:11 GMT"), 1795359611);
	assert_int_equal(date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
	assert_int_equal(date("Wed, 31 Dec 1969 23:59:58 GMT"), -2);
	assert_int_equal(date("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400); /* 400-year leap */
	assert_int_equal(date("Fri, 31 Dec 9999 23:59:59 GMT"), INT64_C(253402300799));
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:60 GMT"), 784111799); /* leap second */
	/* bad weekday: unknown, long form, lower case, or not the date's own */
	assert_int_equal(date("Sum, 06 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sunday, 06 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("sun, 06 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Mon, 06 Nov 1994 08:49:37 GMT"), -1);
	/* bad month */
	assert_int_equal(date("Sun, 06 Nox 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 NOV 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 11 1994 08:49:37 GMT"), -1);
	/* out-of-range fields */
	assert_int_equal(date("Sat, 00 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Thu, 31 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Tue, 29 Feb 2022 08:49:37 GMT"), -1);
	assert_int_equal(date("Thu, 29 Feb 1900 00:00:00 GMT"), -1); /* 1900 was no leap year */
	assert_int_equal(date("Sun, 06 Nov 1994 24:00:00 GMT"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:60:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:61 GMT"), -1);
	/* shape: widths, spaces, zone, trailing bytes */
	assert_int_equal(date("Sun, 6 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 Nov 94 08:49:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 8:49:37 GMT"), -1);
	assert_int_equal(date("Sun,  06 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date(" Sun, 06 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 UTC"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 +0000"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT trailing"), -1);
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT "), -1);
	assert_int_equal(date(""), -1);
	assert_int_equal(date("yesterday"), -1);
	/* the length given, not the NUL, ends the value */
	int64_t t;
	assert_int_equal(conditional_parse_date("Sun, 06 Nov 1994 08:49:37 GMTxx", 29, NOW, &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(conditional_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", 28, NOW, &t),
	                 -EINVAL);
}

static void test_rfc850_date(void **state)
{
	assert_int_equal(date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Saturday, 05-Dec-26 00:00:00 GMT"), NOW);
	/* §5.6.7: a two-digit year more than 50 years ahead is in the past */
	assert_int_equal(date("Sunday, 01-Mar-76 00:00:00 GMT"), INT64_C(3350246400)); /* 2076 */
	assert_int_equal(date("Tuesday, 01-Mar-77 00:00:00 GMT"), 226022400);          /* 1977 */
	assert_int_equal(date("Monday, 01-Mar-77 00:00:00 GMT"), -1); /* 2077's weekday */
	/* the same digits read against another "now" (2090-01-01) */
	int64_t in_2090 = INT64_C(3786912000);
	assert_int_equal(date_at("Sunday, 06-Nov-94 08:49:37 GMT", in_2090), -1); /* 2094: Sat */
	assert_int_equal(date_at("Saturday, 06-Nov-94 08:49:37 GMT", in_2090), INT64_C(3939871777));
	assert_int_equal(date_at("Sunday, 06-Nov-94 08:49:37 GMT", 0), 784111777);
	/* bad weekday and month */
	assert_int_equal(date("Sun, 06-Nov-94 08:49:37 GMT"), -1);
	assert_int_equal(date("Sonday, 06-Nov-94 08:49:37 GMT"), -1);
	assert_int_equal(date("Sunday, 06-Nox-94 08:49:37 GMT"), -1);
	/* out-of-range fields and shape */
	assert_int_equal(date("Wednesday, 31-Apr-96 00:00:00 GMT"), -1);
	assert_int_equal(date("Sunday, 06-Nov-94 25:00:00 GMT"), -1);
	assert_int_equal(date("Sunday, 06-Nov-1994 08:49:37 GMT"), -1);
	assert_int_equal(date("Sunday, 6-Nov-94 08:49:37 GMT"), -1);
	assert_int_equal(date("Sunday, 06 Nov 94 08:49:37 GMT"), -1);
	assert_int_equal(date("Sunday, 06-Nov-94 08:49:37"), -1);
}

static void test_asctime_date(void **state)
{
	assert_int_equal(date("Sun Nov  6 08:49:37 1994"), 784111777);
	assert_int_equal(date("Sun Nov 06 08:49:37 1994"), 784111777); /* 2DIGIT is allowed too */
	assert_int_equal(date("Sun Nov 22 15:00:11 2026"), 1795359611);
	/* bad weekday and month */
	assert_int_equal(date("Mon Nov  6 08:49:37 1994"), -1);
	assert_int_equal(date("Sunday Nov  6 08:49:37 1994"), -1);
	assert_int_equal(date("Sun Nxv  6 08:49:37 1994"), -1);
	/* out-of-range fields */
	assert_int_equal(date("Sun Nov  0 08:49:37 1994"), -1);
	assert_int_equal(date("Sun Nov 36 08:49:37 1994"), -1);
	assert_int_equal(date("Sun Nov  6 08:49:99 1994"), -1);
	/* shape */
	assert_int_equal(date("Sun Nov 6 08:49:37 1994"), -1);
	assert_int_equal(date("Sun Nov  6 08:49:37 94"), -1);
	assert_int_equal(date("Sun Nov  6 08:49:37 1994 GMT"), -1);
	assert_int_equal(date("Sun Nov  6 08:49:37  1994"), -1);
}

static bool decide(const char *inm, const char *ims, int64_t last_modified, bool by_date)
{
	struct conditional_validators v = {etag, last_modified, by_date};
	return conditional_not_modified(inm, inm ? strlen(inm) : 0, ims, ims ? strlen(ims) : 0, NOW,
	                                &v);
}

static void test_decision(void **state)
{
	const char *lm = "Sun, 06 Nov 1994 08:49:37 GMT"; /* 784111777 */
	/* no conditions: the full answer */
	assert_false(decide(NULL, NULL, 784111777, true));
	/* If-None-Match alone */
	assert_true(decide(etag, NULL, 784111777, true));
	assert_true(decide("W/\"c15974412833cac73ae764672c51bbbd\"", NULL, 784111777, false));
	assert_false(decide("\"other\"", NULL, 784111777, true));
	assert_false(decide("*", NULL, 784111777, true)); /* kensho's rule */
	assert_false(decide("*", lm, 784111777, true));
	/* If-None-Match wins over If-Modified-Since (§13.2.2), even empty */
	assert_false(decide("\"other\"", lm, 784111777, true));
	assert_false(decide("", lm, 784111777, true));
	assert_true(decide(etag, "Sat, 01 Jan 1994 00:00:00 GMT", 784111777, true));
	/* If-Modified-Since: not modified when Last-Modified <= the date */
	assert_true(decide(NULL, lm, 784111777, true));
	assert_true(decide(NULL, lm, 784111776, true));
	assert_false(decide(NULL, lm, 784111778, true));
	assert_true(decide(NULL, "Sunday, 06-Nov-94 08:49:37 GMT", 784111777, true));
	assert_true(decide(NULL, "Sun Nov  6 08:49:37 1994", 784111777, true));
	/* an invalid date is ignored */
	assert_false(decide(NULL, "yesterday", 0, true));
	assert_false(decide(NULL, "Mon, 06 Nov 1994 08:49:37 GMT", 0, true));
	/* by_date false: only the tag can prove the copy current */
	assert_false(decide(NULL, lm, 784111777, false));
	assert_true(decide(etag, lm, 784111777, false));
	/* a response without an ETag never matches a list */
	struct conditional_validators none = {NULL, 784111777, true};
	assert_false(conditional_not_modified(etag, strlen(etag), NULL, 0, NOW, &none));
	assert_true(conditional_not_modified(NULL, 0, lm, strlen(lm), NOW, &none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_etag_listed),  cmocka_unit_test(test_etag_members),
	        cmocka_unit_test(test_imf_fixdate),  cmocka_unit_test(test_rfc850_date),
	        cmocka_unit_test(test_asctime_date), cmocka_unit_test(test_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
