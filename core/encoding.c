#include "core/encoding.h"

#include <errno.h>
#include <string.h>
#include <time.h>

void hex_encode(const uint8_t *data, size_t len, char *out)
{
	/* Two digits per octet from one table entry: serials and ETags are
	 * hex-encoded for every cached answer. */
	static const char pairs[] =
	        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	        "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	        "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
	for (size_t i = 0; i < len; i++)
		memcpy(out + 2 * i, pairs + 2 * data[i], 2);
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int percent_escape_decode(const char *text, size_t len, size_t at)
{
	int hi = at + 2 < len ? hex_value(text[at + 1]) : -1;
	int lo = at + 2 < len ? hex_value(text[at + 2]) : -1;
	return hi < 0 || lo < 0 ? -EINVAL : hi << 4 | lo;
}

int hex_decode(const char *text, size_t text_len, uint8_t *out, size_t cap)
{
	if (text_len % 2)
		return -EINVAL;
	if (text_len / 2 > cap)
		return -ENOSPC;
	for (size_t i = 0; i < text_len; i += 2) {
		int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(text_len / 2);
}

/* Each base64 and base64url character and its value ('+' and '-' are 62,
 * '/' and '_' 63). */
// clang-format off
#define B64_ALPHABET(X) \
	X('A', 0) X('B', 1) X('C', 2) X('D', 3) X('E', 4) X('F', 5) X('G', 6) \
	X('H', 7) X('I', 8) X('J', 9) X('K', 10) X('L', 11) X('M', 12) X('N', 13) \
	X('O', 14) X('P', 15) X('Q', 16) X('R', 17) X('S', 18) X('T', 19) X('U', 20) \
	X('V', 21) X('W', 22) X('X', 23) X('Y', 24) X('Z', 25) X('a', 26) X('b', 27) \
	X('c', 28) X('d', 29) X('e', 30) X('f', 31) X('g', 32) X('h', 33) X('i', 34) \
	X('j', 35) X('k', 36) X('l', 37) X('m', 38) X('n', 39) X('o', 40) X('p', 41) \
	X('q', 42) X('r', 43) X('s', 44) X('t', 45) X('u', 46) X('v', 47) X('w', 48) \
	X('x', 49) X('y', 50) X('z', 51) X('0', 52) X('1', 53) X('2', 54) X('3', 55) \
	X('4', 56) X('5', 57) X('6', 58) X('7', 59) X('8', 60) X('9', 61) X('+', 62) \
	X('-', 62) X('/', 63) X('_', 63)
// clang-format on

/* A character's value in place for each position of a group of four, with
 * one bit of the top octet set per position: the OR of a group's four
 * entries is its three octets when the top octet is 0x0f, and every other
 * byte's entry is 0. */
#define B64_AT(v, shift, bit) ((uint32_t)(v) << (shift) | 1u << (bit))
#define B64_Q0(c, v)          [c] = B64_AT(v, 18, 24),
#define B64_Q1(c, v)          [c] = B64_AT(v, 12, 25),
#define B64_Q2(c, v)          [c] = B64_AT(v, 6, 26),
#define B64_Q3(c, v)          [c] = B64_AT(v, 0, 27),
#define B64_VALID             0x0f000000u
static const uint32_t b64_q0[256] = {B64_ALPHABET(B64_Q0)};
static const uint32_t b64_q1[256] = {B64_ALPHABET(B64_Q1)};
static const uint32_t b64_q2[256] = {B64_ALPHABET(B64_Q2)};
static const uint32_t b64_q3[256] = {B64_ALPHABET(B64_Q3)};

int base64_decode_any(const char *text, size_t text_len, uint8_t *out, size_t cap)
{
	while (text_len > 0 && text[text_len - 1] == '=')
		text_len--;
	if (text_len % 4 == 1)
		return -EINVAL;
	size_t n = text_len / 4 * 3 + (text_len % 4 ? text_len % 4 - 1 : 0);
	if (n > cap)
		return -ENOSPC;
	const unsigned char *t = (const unsigned char *)text;
	size_t pos = 0, i = 0;
	for (; i + 4 <= text_len; i += 4) {
		uint32_t v = b64_q0[t[i]] | b64_q1[t[i + 1]] | b64_q2[t[i + 2]] | b64_q3[t[i + 3]];
		if ((v & 0xff000000u) != B64_VALID)
			return -EINVAL;
		out[pos] = (uint8_t)(v >> 16);
		out[pos + 1] = (uint8_t)(v >> 8);
		out[pos + 2] = (uint8_t)v;
		pos += 3;
	}
	/* Two or three characters left: one or two octets, and the bits left
	 * over must be zero for a canonical encoding. */
	if (i < text_len) {
		uint32_t v = b64_q0[t[i]] | b64_q1[t[i + 1]] |
		             (i + 2 < text_len ? b64_q2[t[i + 2]] : 1u << 26) | 1u << 27;
		if ((v & 0xff000000u) != B64_VALID)
			return -EINVAL;
		out[pos++] = (uint8_t)(v >> 16);
		if (i + 2 < text_len) {
			out[pos++] = (uint8_t)(v >> 8);
			if (v & 0xff)
				return -EINVAL;
		} else if (v & 0xffff) {
			return -EINVAL;
		}
	}
	return (int)pos;
}

size_t base64_encode(const uint8_t *data, size_t len, char *out)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

size_t decimal_encode(uint64_t v, char *out)
{
	/* Two digits per division, from the end: Content-Length and max-age
	 * are written for every answer. */
	static const char pairs[] =
	        "0001020304050607080910111213141516171819202122232425262728293031323334353637383940"
	        "4142434445464748495051525354555657585960616263646566676869707172737475767778798081"
	        "828384858687888990919293949596979899";
	size_t n = 1;
	for (uint64_t rest = v; rest >= 10; rest /= 10)
		n++;
	out[n] = 0;
	size_t i = n;
	for (; v >= 100; v /= 100, i -= 2)
		memcpy(out + i - 2, pairs + 2 * (v % 100), 2);
	if (v >= 10)
		memcpy(out + i - 2, pairs + 2 * v, 2);
	else
		out[i - 1] = (char)('0' + v);
	return n;
}

size_t hex_encode_uint(uint64_t v, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = v ? (size_t)(64 - __builtin_clzll(v) + 3) / 4 : 1;
	out[n] = 0;
	for (size_t i = n; i-- > 0; v >>= 4)
		out[i] = hex[v & 0xf];
	return n;
}

static void two_digits(char *out, int v)
{
	out[0] = (char)('0' + v / 10);
	out[1] = (char)('0' + v % 10);
}

/* The proleptic Gregorian date of a day counted from 1970-01-01 (days
 * before it negative): eras of 400 years of 146,097 days, years counted
 * from March so the leap day ends them (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t z = days + 719468; /* days since 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                      /* 0..146096 */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
	int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (*month <= 2));
}

/* strftime is locale-aware and costs thousands of instructions, and
 * gmtime_r goes through the time zone machinery; the fixed English names
 * of RFC 9110 5.6.7 and UTC's arithmetic need none of that. */
/* The last dates formatted on this thread. A cached OCSP answer's
 * thisUpdate and nextUpdate repeat from request to request, and answers
 * signed together (a refresher batch, a multi-certificate answer) share
 * them too, so most calls copy 30 bytes instead of doing the arithmetic. */
#define RECENT_DATES 2
static _Thread_local struct {
	int64_t t;
	char text[HTTP_DATE_SIZE]; /* "" while unused */
} recent_dates[RECENT_DATES];
static _Thread_local unsigned recent_next;

int http_date_format(int64_t t, char out[HTTP_DATE_SIZE])
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (unsigned k = 0; k < RECENT_DATES; k++) {
		if (recent_dates[k].t == t && recent_dates[k].text[0]) {
			memcpy(out, recent_dates[k].text, HTTP_DATE_SIZE);
			return 0;
		}
	}
	/* Four-digit years only: 0000-01-01 to 9999-12-31. */
	if (t < INT64_C(-62167219200) || t > INT64_C(253402300799)) {
		out[0] = 0;
		return -EINVAL;
	}
	int64_t day_number = t / 86400, second = t % 86400;
	if (second < 0) {
		second += 86400;
		day_number--;
	}
	int year, month, day;
	civil_from_days(day_number, &year, &month, &day);
	int weekday = (int)((day_number % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
	memcpy(out, days + 3 * weekday, 3);
	out[3] = ',';
	out[4] = ' ';
	two_digits(out + 5, day);
	out[7] = ' ';
	memcpy(out + 8, months + 3 * (month - 1), 3);
	out[11] = ' ';
	two_digits(out + 12, year / 100);
	two_digits(out + 14, year % 100);
	out[16] = ' ';
	two_digits(out + 17, (int)(second / 3600));
	out[19] = ':';
	two_digits(out + 20, (int)(second / 60 % 60));
	out[22] = ':';
	two_digits(out + 23, (int)(second % 60));
	memcpy(out + 25, " GMT", 5);
	memcpy(recent_dates[recent_next].text, out, HTTP_DATE_SIZE);
	recent_dates[recent_next].t = t;
	recent_next = (recent_next + 1) % RECENT_DATES;
	return 0;
}
