#include "core/encoding.h"

#include <errno.h>
#include <string.h>
#include <time.h>

void hex_encode(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
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

/* Each base64 and base64url character's value plus one; 0 for every other
 * byte, so one load classifies and decodes a character. */
static const uint8_t b64_value_plus_one[256] = {
        ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
        ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
        ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
        ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
        ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
        ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
        ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
        ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
        ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
        ['-'] = 63, ['/'] = 64, ['_'] = 64,
};

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
	/* Four characters make three octets; a character outside the alphabet
	 * makes its value -1, and so the OR of the four negative. */
	for (; i + 4 <= text_len; i += 4) {
		int32_t a = (int32_t)b64_value_plus_one[t[i]] - 1;
		int32_t b = (int32_t)b64_value_plus_one[t[i + 1]] - 1;
		int32_t c = (int32_t)b64_value_plus_one[t[i + 2]] - 1;
		int32_t d = (int32_t)b64_value_plus_one[t[i + 3]] - 1;
		if ((a | b | c | d) < 0)
			return -EINVAL;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[pos] = (uint8_t)(v >> 16);
		out[pos + 1] = (uint8_t)(v >> 8);
		out[pos + 2] = (uint8_t)v;
		pos += 3;
	}
	/* Two or three characters left: one or two octets, and the bits left
	 * over must be zero for a canonical encoding. */
	uint32_t acc = 0;
	int bits = 0;
	for (; i < text_len; i++) {
		int32_t v = (int32_t)b64_value_plus_one[t[i]] - 1;
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[pos++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -EINVAL;
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
	char digits[20];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	out[n] = 0;
	return n;
}

size_t hex_encode_uint(uint64_t v, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t n = 0;
	do {
		digits[n++] = hex[v & 0xf];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	out[n] = 0;
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
