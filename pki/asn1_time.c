/* UTCTime and GeneralizedTime: see asn1_time.h. */
#include "pki/asn1_time.h"

#include <errno.h>
#include <stdbool.h>

#include <mbedtls/asn1.h>

#include "pki/der.h"

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm, so no dependence on the C library's range. */
static int64_t days_from_civil(int64_t year, int mon, int day)
{
	int64_t y = mon <= 2 ? year - 1 : year;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int pki_asn1_time_parse(int tag, const uint8_t *text, size_t len, int64_t *out)
{
	if (tag != DER_UTC_TIME && tag != DER_GENERALIZED_TIME)
		return -EINVAL;
	size_t digits = tag == DER_UTC_TIME ? 12 : 14;
	if (len != digits + 1 || text[digits] != 'Z')
		return -EINVAL;
	int v[7], n = 0;
	for (size_t i = 0; i < digits; i += 2) {
		if (text[i] < '0' || text[i] > '9' || text[i + 1] < '0' || text[i + 1] > '9')
			return -EINVAL;
		v[n++] = (text[i] - '0') * 10 + (text[i + 1] - '0');
	}
	int64_t year;
	const int *f; /* month, day, hour, minute, second */
	if (tag == DER_UTC_TIME) {
		year = v[0] < 50 ? 2000 + v[0] : 1900 + v[0];
		f = v + 1;
	} else {
		year = v[0] * 100 + v[1];
		f = v + 2;
	}
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int mon = f[0], day = f[1];
	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] + (mon == 2 && is_leap(year)) ||
	    f[2] > 23 || f[3] > 59 || f[4] > 59)
		return -EINVAL;
	*out = days_from_civil(year, mon, day) * 86400 + f[2] * 3600 + f[3] * 60 + f[4];
	return 0;
}

int pki_asn1_time_read(unsigned char **p, const unsigned char *end, int64_t *out)
{
	unsigned char *q = *p;
	size_t len;
	if (q >= end)
		return -EINVAL;
	int tag = *q;
	if ((tag != DER_UTC_TIME && tag != DER_GENERALIZED_TIME) ||
	    mbedtls_asn1_get_tag(&q, end, &len, tag) != 0 ||
	    pki_asn1_time_parse(tag, q, len, out) != 0)
		return -EINVAL;
	*p = q + len;
	return 0;
}
