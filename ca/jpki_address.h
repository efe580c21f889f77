/* Addresses in the resident-register form the signing certificate carries
 * (docs/jpki.md, "The address"): Japan's prefectures and municipalities
 * (the table in data/municipalities.tsv, compiled in), normalizing typed text
 * to the register's form, the character-set check, and the
 * substitute-character flags. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/** One municipality (a city, town, village or Tokyo special ward) of the
 * table: its local government code (全国地方公共団体コード, six digits with
 * the check digit), names in kanji and romanized. */
struct jpki_municipality {
	const char *code;
	const char *prefecture;           /**< kanji, with its 都/道/府/県 */
	const char *prefecture_romanized; /**< e.g. "Tokyo" */
	const char *name;                 /**< kanji, e.g. "清瀬市" */
	const char *romanized;            /**< e.g. "Kiyose-shi" */
	uint32_t population;              /**< 0 where the table has none */
};

extern const struct jpki_municipality jpki_municipalities[];
extern const size_t jpki_municipality_count;

/** Longest prefix of an address that names a prefecture and then one of its
 * municipalities, optionally after a district ("…郡"): the municipality, or
 * NULL (and *pref_known tells whether at least the prefecture was found, when
 * pref_known is not NULL). */
const struct jpki_municipality *jpki_address_municipality(const char *address, int *pref_known);

/** The municipality with a local government code, or NULL. */
const struct jpki_municipality *jpki_municipality_by_code(const char *code);

/** Buffer size that holds any normalized address (200 characters of at most
 * four UTF-8 octets, and the terminator). */
#define JPKI_ADDRESS_BUF 801

/** Turns an address as a person types it into the resident-register form:
 * ASCII letters, digits and punctuation become their full-width forms, every
 * kind of dash (and a long-vowel mark between digits) becomes U+FF0D, spaces
 * U+3000, leading and trailing spaces dropped. Then checks it: at most 200
 * characters, each in JIS X 0208 or JIS X 0213, starting with a prefecture
 * and one of its municipalities. Returns 0, or -EINVAL with a sentence in
 * err. */
int jpki_address_normalize(const char *typed, char out[JPKI_ADDRESS_BUF], char *err,
                           size_t err_cap);

/** One flag per character: '1' for a character outside JIS X 0208 (one the
 * register's basic set holds only as a substitute), '0' otherwise. malloc'd;
 * NULL if the text is not UTF-8 or memory runs out. */
char *jpki_substitute_flags(const char *text);
