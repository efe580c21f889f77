/* Addresses in the resident-register form (docs/jpki.md, "The address").
 *
 * Character-set membership is asked of glibc's iconv: a character belongs to
 * JIS X 0208 or 0213 if EUC-JISX0213 encodes it in its two-octet plane-1 form
 * or its three-octet plane-2 form (not the single-shifted half-width kana of
 * JIS X 0201); it belongs to JIS X 0208 if that plane-1 cell is one of the
 * 6,879 cells JIS X 0208 assigns. */
#include "ca/jpki_address.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS_MAX_CHARS  200
#define TYPED_MAX_BYTES    4096
#define FULLWIDTH_OFFSET   0xfee0u
#define FULLWIDTH_HYPHEN   0xff0du
#define IDEOGRAPHIC_SPACE  0x3000u
#define DISTRICT_MAX_BYTES 24 /* "…郡" within eight characters */

/* --- UTF-8 ------------------------------------------------------------------- */

/* Decodes one code point at *p; advances *p. Returns -1 on invalid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
static long utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned long cp;
	int extra;
	if (s[0] < 0x80) {
		cp = s[0];
		extra = 0;
	} else if (s[0] >= 0xc2 && s[0] < 0xe0) {
		cp = s[0] & 0x1f;
		extra = 1;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		extra = 2;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		cp = s[0] & 0x07;
		extra = 3;
	} else {
		return -1;
	}
	for (int i = 1; i <= extra; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*p = s + 1 + extra;
	return (long)cp;
}

static size_t utf8_put(char *out, unsigned long cp)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* --- character sets ------------------------------------------------------------ */

/* The cells JIS X 0208 (1997) assigns in its non-kanji rows 1-8, as
 * [first, last] ranges per row; rows 16-46 and 48-83 are full, row 47 has
 * cells 1-51 and row 84 cells 1-6; rows 9-15 and 85-94 are empty. */
static bool jis0208_cell(int row, int cell)
{
	static const unsigned char ranges[8][8] = {
	        {1, 94},                         /* row 1 */
	        {1, 14, 26, 33, 42, 48, 60, 74}, /* row 2 (and 82-89, 94) */
	        {16, 25, 33, 58, 65, 90},        /* row 3 */
	        {1, 83},                         /* row 4 */
	        {1, 86},                         /* row 5 */
	        {1, 24, 33, 56},                 /* row 6 */
	        {1, 33, 49, 81},                 /* row 7 */
	        {1, 32},                         /* row 8 */
	};
	if (cell < 1 || cell > 94)
		return false;
	if (row >= 1 && row <= 8) {
		if (row == 2 && ((cell >= 82 && cell <= 89) || cell == 94))
			return true;
		for (int i = 0; i < 8 && ranges[row - 1][i]; i += 2)
			if (cell >= ranges[row - 1][i] && cell <= ranges[row - 1][i + 1])
				return true;
		return false;
	}
	if (row == 47)
		return cell <= 51;
	if (row == 84)
		return cell <= 6;
	return row >= 16 && row <= 83;
}

enum charset { CS_OUTSIDE, CS_JISX0213, CS_JISX0208 };

/* Six JIS X 0208 characters have two Unicode mappings: the JIS one glibc
 * uses and the Windows (CP932) one that Japanese text, the real card's
 * address included (１２－７), mostly carries. The latter is read as the
 * former. */
static unsigned long jis_mapping(unsigned long cp)
{
	switch (cp) {
	case 0xff0d: return 0x2212; /* FULLWIDTH HYPHEN-MINUS: MINUS SIGN, 1-2-29 */
	case 0xff5e: return 0x301c; /* FULLWIDTH TILDE: WAVE DASH, 1-1-33 */
	case 0x2225: return 0x2016; /* PARALLEL TO: DOUBLE VERTICAL LINE, 1-1-34 */
	case 0xffe0: return 0x00a2; /* FULLWIDTH CENT SIGN, 1-1-81 */
	case 0xffe1: return 0x00a3; /* FULLWIDTH POUND SIGN, 1-1-82 */
	case 0xffe2: return 0x00ac; /* FULLWIDTH NOT SIGN, 1-2-44 */
	default: return cp;
	}
}

/* Which set a code point is in; cd converts UTF-8 to EUC-JISX0213. */
static enum charset charset_of(iconv_t cd, unsigned long cp)
{
	char in[4], out[8];
	cp = jis_mapping(cp);
	size_t in_len = utf8_put(in, cp), out_len = sizeof(out);
	char *ip = in, *op = out;
	iconv(cd, NULL, NULL, NULL, NULL);
	if (iconv(cd, &ip, &in_len, &op, &out_len) == (size_t)-1)
		return CS_OUTSIDE;
	/* Flush: a combining sequence's first half can be held back. */
	if (iconv(cd, NULL, NULL, &op, &out_len) == (size_t)-1)
		return CS_OUTSIDE;
	size_t n = sizeof(out) - out_len;
	const unsigned char *u = (const unsigned char *)out;
	if (n == 2 && u[0] >= 0xa1 && u[1] >= 0xa1)
		return jis0208_cell(u[0] - 0xa0, u[1] - 0xa0) ? CS_JISX0208 : CS_JISX0213;
	if (n == 3 && u[0] == 0x8f && u[1] >= 0xa1 && u[2] >= 0xa1)
		return CS_JISX0213;
	return CS_OUTSIDE; /* ASCII, or JIS X 0201 half-width kana */
}

static iconv_t open_jisx0213(void)
{
	return iconv_open("EUC-JISX0213", "UTF-8");
}

char *jpki_substitute_flags(const char *text)
{
	size_t len = strlen(text);
	char *flags = malloc(len + 1);
	iconv_t cd = open_jisx0213();
	if (!flags || cd == (iconv_t)-1) {
		free(flags);
		if (cd != (iconv_t)-1)
			iconv_close(cd);
		return NULL;
	}
	const unsigned char *p = (const unsigned char *)text;
	size_t n = 0;
	while (*p) {
		long cp = utf8_next(&p);
		if (cp < 0) {
			free(flags);
			iconv_close(cd);
			return NULL;
		}
		flags[n++] = charset_of(cd, (unsigned long)cp) == CS_JISX0208 ? '0' : '1';
	}
	flags[n] = 0;
	iconv_close(cd);
	return flags;
}

/* --- municipalities -------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix, size_t *len)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) != 0)
		return false;
	*len = n;
	return true;
}

/* The longest municipality of prefecture `pref` whose name starts `rest`. */
static const struct jpki_municipality *longest_in(const char *pref, const char *rest)
{
	const struct jpki_municipality *best = NULL;
	size_t best_len = 0, n;
	for (size_t i = 0; i < jpki_municipality_count; i++) {
		const struct jpki_municipality *m = &jpki_municipalities[i];
		if (strcmp(m->prefecture, pref) == 0 && starts_with(rest, m->name, &n) &&
		    n > best_len) {
			best = m;
			best_len = n;
		}
	}
	return best;
}

const struct jpki_municipality *jpki_address_municipality(const char *address, int *pref_known)
{
	const char *pref = NULL;
	size_t pref_len = 0;
	for (size_t i = 0; i < jpki_municipality_count && !pref; i++)
		if (starts_with(address, jpki_municipalities[i].prefecture, &pref_len))
			pref = jpki_municipalities[i].prefecture;
	if (pref_known)
		*pref_known = pref != NULL;
	if (!pref)
		return NULL;
	const char *rest = address + pref_len;
	const struct jpki_municipality *m = longest_in(pref, rest);
	if (m)
		return m;
	/* A town or village is written after its district: "…郡<town>". */
	const char *gun = strstr(rest, "郡");
	if (gun && gun > rest && (size_t)(gun - rest) <= DISTRICT_MAX_BYTES)
		return longest_in(pref, gun + strlen("郡"));
	return NULL;
}

const struct jpki_municipality *jpki_municipality_by_code(const char *code)
{
	for (size_t i = 0; i < jpki_municipality_count; i++)
		if (strcmp(jpki_municipalities[i].code, code) == 0)
			return &jpki_municipalities[i];
	return NULL;
}

/* --- normalizing --------------------------------------------------------------- */

static bool is_dash(unsigned long cp)
{
	return cp == '-' || (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xfe63 ||
	       cp == 0xff70 || cp == FULLWIDTH_HYPHEN;
}

static bool is_digit(unsigned long cp)
{
	return (cp >= '0' && cp <= '9') || (cp >= 0xff10 && cp <= 0xff19);
}

static bool is_space(unsigned long cp)
{
	return cp == ' ' || cp == '\t' || cp == IDEOGRAPHIC_SPACE;
}

static void say(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

int jpki_address_normalize(const char *typed, char out[JPKI_ADDRESS_BUF], char *err, size_t err_cap)
{
	out[0] = 0;
	if (!typed || strlen(typed) > TYPED_MAX_BYTES) {
		say(err, err_cap, "the address is missing or longer than %d octets",
		    TYPED_MAX_BYTES);
		return -EINVAL;
	}
	/* Decode once, so the long-vowel mark can see its neighbours. */
	size_t cap = strlen(typed) + 1, count = 0;
	unsigned long *cps = malloc(cap * sizeof(*cps));
	if (!cps) {
		say(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	const unsigned char *p = (const unsigned char *)typed;
	while (*p) {
		long cp = utf8_next(&p);
		if (cp < 0) {
			say(err, err_cap, "the address is not UTF-8 text");
			free(cps);
			return -EINVAL;
		}
		cps[count++] = (unsigned long)cp;
	}
	size_t first = 0, end = count;
	while (first < end && is_space(cps[first]))
		first++;
	while (end > first && is_space(cps[end - 1]))
		end--;
	if (end - first > ADDRESS_MAX_CHARS) {
		say(err, err_cap, "the address has %zu characters; the limit is %d", end - first,
		    ADDRESS_MAX_CHARS);
		free(cps);
		return -EINVAL;
	}
	if (first == end) {
		say(err, err_cap, "the address is empty");
		free(cps);
		return -EINVAL;
	}
	iconv_t cd = open_jisx0213();
	if (cd == (iconv_t)-1) {
		say(err, err_cap, "iconv has no EUC-JISX0213 converter: %s", strerror(errno));
		free(cps);
		return -ENOSYS;
	}
	size_t o = 0;
	int e = 0;
	for (size_t i = first; i < end && !e; i++) {
		unsigned long cp = cps[i];
		if (is_dash(cp) || (cp == 0x30fc && i > first && is_digit(cps[i - 1]) &&
		                    i + 1 < end && is_digit(cps[i + 1])))
			cp = FULLWIDTH_HYPHEN;
		else if (cp == ' ' || cp == '\t')
			cp = IDEOGRAPHIC_SPACE;
		else if (cp > 0x20 && cp < 0x7f)
			cp += FULLWIDTH_OFFSET;
		if (charset_of(cd, cp) == CS_OUTSIDE) {
			char shown[5] = {0};
			utf8_put(shown, cps[i]);
			if (cps[i] < 0x20 || cps[i] == 0x7f)
				shown[0] = '?';
			say(err, err_cap,
			    "character %zu of the address, U+%04lX (%s), is outside JIS X 0208 and "
			    "JIS X 0213",
			    i - first + 1, cps[i], shown);
			e = -EINVAL;
		} else {
			o += utf8_put(out + o, cp);
		}
	}
	out[o] = 0;
	iconv_close(cd);
	free(cps);
	if (e) {
		out[0] = 0;
		return e;
	}
	int pref_known = 0;
	if (!jpki_address_municipality(out, &pref_known)) {
		if (pref_known)
			say(err, err_cap,
			    "the address names no municipality of its prefecture known to "
			    "data/municipalities.tsv after the prefecture");
		else
			say(err, err_cap,
			    "the address must start with a prefecture (都道府県), e.g. 東京都");
		out[0] = 0;
		return -EINVAL;
	}
	return 0;
}
