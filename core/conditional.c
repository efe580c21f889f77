/* Conditional GET: If-None-Match lists, HTTP-dates and the 304 decision (see
 * conditional.h). */
#include "core/conditional.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/exchange.h"

/* --- If-None-Match ------------------------------------------------------------------ */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text. */
static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

bool conditional_next_etag(const char *list, size_t len, size_t *pos, struct entity_tag *out)
{
	size_t i = *pos;
	while (i < len && (is_ows(list[i]) || list[i] == ','))
		i++;
	if (i >= len) {
		*pos = len;
		return false;
	}
	memset(out, 0, sizeof *out);
	bool well_formed = false;
	if (list[i] == '*') {
		i++;
		out->any = true;
		well_formed = true;
	} else {
		if (len - i >= 2 && list[i] == 'W' && list[i + 1] == '/') {
			out->weak = true;
			i += 2;
		}
		if (i < len && list[i] == '"') {
			size_t open = i++;
			while (i < len && list[i] != '"' && is_etagc((unsigned char)list[i]))
				i++;
			if (i < len && list[i] == '"') {
				i++;
				out->opaque = list + open;
				out->opaque_len = i - open;
				well_formed = true;
			}
		}
	}
	while (i < len && is_ows(list[i]))
		i++;
	if (!well_formed || (i < len && list[i] != ',')) {
		/* Whatever it was, it names no tag; go on with the next member. */
		out->opaque = NULL;
		out->opaque_len = 0;
		out->any = false;
		while (i < len && list[i] != ',')
			i++;
	}
	*pos = i;
	return true;
}

bool conditional_etag_listed(const char *list, size_t len, const char *etag)
{
	/* Weak comparison (§8.8.3.2): the W/ prefix of either side is ignored. */
	if (etag[0] == 'W' && etag[1] == '/')
		etag += 2;
	size_t etag_len = strlen(etag);
	size_t pos = 0;
	struct entity_tag tag;
	while (conditional_next_etag(list, len, &pos, &tag)) {
		if (tag.opaque && tag.opaque_len == etag_len &&
		    memcmp(tag.opaque, etag, etag_len) == 0)
			return true;
	}
	return false;
}

/* --- HTTP-date ------------------------------------------------------------------------ */

static const char short_days[] = "SunMonTueWedThuFriSat";
static const char *const long_days[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

struct cursor {
	const char *at;
	const char *end;
};

static bool take(struct cursor *c, const char *literal)
{
	size_t n = strlen(literal);
	if ((size_t)(c->end - c->at) < n || memcmp(c->at, literal, n) != 0)
		return false;
	c->at += n;
	return true;
}

/* Exactly `count` digits. */
static bool take_digits(struct cursor *c, int count, int *out)
{
	if (c->end - c->at < count)
		return false;
	int v = 0;
	for (int k = 0; k < count; k++) {
		char d = c->at[k];
		if (d < '0' || d > '9')
			return false;
		v = v * 10 + (d - '0');
	}
	c->at += count;
	*out = v;
	return true;
}

/* A three-letter name from `table` (n names); its index or -1. */
static int take_short_name(struct cursor *c, const char *table, int n)
{
	if (c->end - c->at < 3)
		return -1;
	for (int k = 0; k < n; k++) {
		if (memcmp(c->at, table + 3 * k, 3) == 0) {
			c->at += 3;
			return k;
		}
	}
	return -1;
}

static int take_long_day(struct cursor *c)
{
	for (int k = 0; k < 7; k++)
		if (take(c, long_days[k]))
			return k;
	return -1;
}

/* time-of-day = hour ":" minute ":" second, each two digits. */
static bool take_time(struct cursor *c, int *hour, int *minute, int *second)
{
	return take_digits(c, 2, hour) && take(c, ":") && take_digits(c, 2, minute) &&
	       take(c, ":") && take_digits(c, 2, second);
}

static bool is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month /* 0-11 */)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 1 && is_leap(year) ? 29 : days[month];
}

/* Days from 1970-01-01 to year-month(1-12)-day in the proleptic Gregorian
 * calendar (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
	year -= month <= 2;
	int64_t era = (year >= 0 ? year : year - 399) / 400;
	int64_t year_of_era = year - era * 400;
	int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return era * 146097 + day_of_era - 719468;
}

/* RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the
 * most recent past year with the same last two digits. */
static int64_t full_year(int two_digits, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	int64_t this_year = gmtime_r(&t, &tm) ? tm.tm_year + 1900 : 1970;
	int64_t year = this_year - this_year % 100 + two_digits;
	if (year > this_year + 50)
		year -= 100;
	return year;
}

int conditional_parse_date(const char *text, size_t len, int64_t now, int64_t *out)
{
	struct cursor c = {text, text + len};
	int weekday, day, month, hour, minute, second, digits;
	int64_t year;
	if (len >= 4 && text[3] == ',') { /* IMF-fixdate */
		if ((weekday = take_short_name(&c, short_days, 7)) < 0 || !take(&c, ", ") ||
		    !take_digits(&c, 2, &day) || !take(&c, " ") ||
		    (month = take_short_name(&c, months, 12)) < 0 || !take(&c, " ") ||
		    !take_digits(&c, 4, &digits) || !take(&c, " ") ||
		    !take_time(&c, &hour, &minute, &second) || !take(&c, " GMT"))
			return -EINVAL;
		year = digits;
	} else if (len >= 4 && text[3] == ' ') { /* asctime-date */
		if ((weekday = take_short_name(&c, short_days, 7)) < 0 || !take(&c, " ") ||
		    (month = take_short_name(&c, months, 12)) < 0 || !take(&c, " "))
			return -EINVAL;
		/* date3's day is two digits or a space and one digit */
		if (!(take(&c, " ") ? take_digits(&c, 1, &day) : take_digits(&c, 2, &day)) ||
		    !take(&c, " ") || !take_time(&c, &hour, &minute, &second) || !take(&c, " ") ||
		    !take_digits(&c, 4, &digits))
			return -EINVAL;
		year = digits;
	} else { /* rfc850-date */
		if ((weekday = take_long_day(&c)) < 0 || !take(&c, ", ") ||
		    !take_digits(&c, 2, &day) || !take(&c, "-") ||
		    (month = take_short_name(&c, months, 12)) < 0 || !take(&c, "-") ||
		    !take_digits(&c, 2, &digits) || !take(&c, " ") ||
		    !take_time(&c, &hour, &minute, &second) || !take(&c, " GMT"))
			return -EINVAL;
		year = full_year(digits, now);
	}
	if (c.at != c.end || day < 1 || day > days_in_month(year, month) || hour > 23 ||
	    minute > 59 || second > 60)
		return -EINVAL;
	/* A leap second is still within its minute: counting it as :59 never
	 * makes a copy look newer than it is. */
	if (second == 60)
		second = 59;
	int64_t days = days_from_civil(year, month + 1, day);
	/* 1970-01-01 was a Thursday (4); a date naming another weekday
	 * contradicts itself and is no date at all. */
	if ((int)(((days % 7) + 11) % 7) != weekday)
		return -EINVAL;
	*out = days * 86400 + hour * 3600 + minute * 60 + second;
	return 0;
}

/* --- the decision ----------------------------------------------------------------------- */

bool conditional_not_modified(const char *if_none_match, size_t if_none_match_len,
                              const char *if_modified_since, size_t if_modified_since_len,
                              int64_t now, const struct conditional_validators *v)
{
	/* §13.2.2 step 3: If-None-Match decides alone, and §13.1.3: without it
	 * If-Modified-Since is evaluated; an invalid date is ignored. */
	if (if_none_match)
		return v->etag &&
		       conditional_etag_listed(if_none_match, if_none_match_len, v->etag);
	int64_t since;
	return if_modified_since && v->by_date &&
	       conditional_parse_date(if_modified_since, if_modified_since_len, now, &since) == 0 &&
	       v->last_modified <= since;
}

bool conditional_check(const struct exchange *ex, const struct conditional_validators *v)
{
	const struct http_request *req = exchange_request(ex);
	if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD)
		return false;
	size_t inm_len = 0, ims_len = 0;
	const char *inm = exchange_header(ex, "If-None-Match", &inm_len);
	const char *ims = exchange_header(ex, "If-Modified-Since", &ims_len);
	return conditional_not_modified(inm, inm_len, ims, ims_len, (int64_t)time(NULL), v);
}
