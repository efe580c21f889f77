/* kenshod's configuration: an optional file of `key = value` lines
 * (`# comments`, keys like `ocsp.validity`, `limits.header_bytes`) overlaid by
 * command-line flags. Every module reads its settings through these getters
 * with its own default, so a missing file means "all defaults".
 *
 * Values: strings as written (no quotes needed; "..." allowed), integers with
 * optional K/M/G (×1024) or s/ms/m/h suffixes where the getter says so,
 * booleans as true/false/yes/no/on/off/1/0. A key given twice: the last wins.
 * Flags set with config_set override the file.
 *
 * Every key kenshod accepts is declared once, in a table of struct config_key
 * owned by the module that reads it (core/config_keys.c: server, limits, log,
 * store; tls/tls_config_keys.c: tls; handlers/config_keys.c: plain, ocsp,
 * crl, intake). kenshod checks the whole configuration (file and flags)
 * against these tables with config_validate before it does anything else, so
 * an unknown key or a malformed value stops start-up with
 * `FILE:LINE: key: what is wrong; accepted: ...`. The tables are also the
 * source of the configuration reference (name, type, default, unit, meaning).
 *
 * To add a key: add one line to its module's table (name, type, the default
 * exactly as an operator would write it, the unit, the accepted range or
 * choices, a one-line meaning, and whether a SIGHUP applies it live: true
 * only when kenshod's reload really applies the new value), read it with
 * the getter of its type and the same default, and document it in docs/.
 * A key missing from the tables is refused at start-up, so a key read but
 * not declared is found at once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;

/** The kinds of value a key takes (see config_key_accepted for each one's syntax). */
enum config_type {
	CONFIG_STRING,       /**< any text (paths, URLs) */
	CONFIG_INT,          /**< a decimal integer */
	CONFIG_SIZE,         /**< bytes, optional K/M/G suffix (×1024) */
	CONFIG_DURATION,     /**< milliseconds, optional ms/s/m/h/d suffix */
	CONFIG_BOOL,         /**< true/false, yes/no, on/off, 1/0 */
	CONFIG_ENUM,         /**< one of `choices` */
	CONFIG_ADDRESS_LIST, /**< HOST:PORT, [IPv6]:PORT or *:PORT, separated by commas or spaces */
};

/** One accepted key: the single description of it that validation, the
 * getters' callers and the configuration reference share. */
struct config_key {
	const char *name;          /**< "limits.body_bytes" */
	enum config_type type;     /**< how its value is written */
	const char *default_value; /**< as written in a file; NULL: computed or none (meaning says) */
	const char *unit;          /**< what the number counts ("bytes", "ms"); NULL if none */
	int64_t min, max;          /**< INT, SIZE (bytes), DURATION (ms): range; both 0: any */
	const char *choices;       /**< ENUM: "a|b|c" */
	const char *meaning;       /**< one line for the reference */
	bool live;                 /**< SIGHUP applies a changed value; false: at restart */
};

/** core's and kenshod's own keys: server.*, log.*, limits.*, store.* (config_keys.c). */
extern const struct config_key core_config_keys[];

/** Where the flag of a key came from, for messages ("--workers"). */
#define CONFIG_ORIGIN_MAX 32

/** Creates an empty configuration. NULL on ENOMEM. */
struct config *config_new(void);
/** Frees it. */
void config_free(struct config *c);
/** Parses `key = value` text. On error returns -EINVAL and writes
 * "line N: what is wrong" into err (size err_len). Keys already set by
 * config_set (flags) are not overridden. */
int config_parse(struct config *c, const char *text, size_t len, char *err, size_t err_len);
/** Reads and parses a file; -errno or -EINVAL with err filled. */
int config_load_file(struct config *c, const char *path, char *err, size_t err_len);
/** Copies every key set by a flag from src into dst (as flags), so a file
 * re-read on SIGHUP is overlaid by the same command line. 0 or -ENOMEM. */
int config_copy_flags(struct config *dst, const struct config *src);
/** Sets a key (copied), overriding the file. Returns 0 or -ENOMEM. */
int config_set(struct config *c, const char *key, const char *value);
/** Like config_set, remembering the flag that set it for messages. */
int config_set_flag(struct config *c, const char *key, const char *value, const char *flag);

/** Checks every key of c against the tables (a NULL-terminated list of
 * arrays, each ended by an entry with a NULL name). On problems returns
 * -EINVAL and writes one line per problem into err:
 * `FILE:LINE: key: what is wrong; accepted: ...` (for a flag, the flag's
 * name instead of FILE:LINE). */
int config_validate(const struct config *c, const struct config_key *const *tables, char *err,
                    size_t err_len);
/** The formats of config_reference_print. */
enum config_reference_format {
	CONFIG_REFERENCE_MARKDOWN, /**< a markdown table per section (docs/) */
	CONFIG_REFERENCE_ROFF,     /**< man(7) paragraphs for kenshod.conf(5) */
	CONFIG_REFERENCE_EXAMPLE,  /**< a configuration file, every key commented out */
};
/** Parses "markdown", "roff" or "example"; -EINVAL for anything else. */
int config_reference_format_parse(const char *name, enum config_reference_format *format);
/** Writes the reference of every key in tables (name, type, default, what
 * it accepts, live or at restart, meaning) to out (config_reference.c). */
int config_reference_print(FILE *out, const struct config_key *const *tables,
                           enum config_reference_format format);
/** Checks one value against its key; -EINVAL with the reason in why. */
int config_check_value(const struct config_key *k, const char *value, char *why, size_t why_len);
/** Describes what a key accepts ("a size in bytes (K, M, G ×1024), 1..1G"). */
void config_key_accepted(const struct config_key *k, char *out, size_t out_len);
/** Finds a key in the tables, or NULL. */
const struct config_key *config_key_find(const struct config_key *const *tables, const char *name);
/** Splits a listen address "HOST:PORT", "[IPv6]:PORT" or "*:PORT" (host ""
 * for all addresses) and checks it: the port is 1..65535 in decimal, the host
 * a name or an IP address. -EINVAL with the reason in why. */
int config_parse_address(const char *text, char *host, size_t host_len, unsigned *port, char *why,
                         size_t why_len);

/** A number that changes whenever c's keys or values change and that no other
 * configuration of the process ever has (0 for NULL): a key for caching
 * what is derived from it. */
uint64_t config_version(const struct config *c);
/** A string value, or fallback when absent. */
const char *config_get(const struct config *c, const char *key, const char *fallback);
/** An integer value; fallback when absent or malformed (malformed values are
 * also reported by config_validate_int). */
int64_t config_get_int(const struct config *c, const char *key, int64_t fallback);
/** A byte size: plain or with K, M, G suffix (×1024). */
int64_t config_get_size(const struct config *c, const char *key, int64_t fallback);
/** A duration in milliseconds: plain numbers are milliseconds; suffixes ms, s, m, h, d. */
int64_t config_get_ms(const struct config *c, const char *key, int64_t fallback);
/** A boolean. */
bool config_get_bool(const struct config *c, const char *key, bool fallback);
/** Calls fn for every key whose name starts with prefix (e.g. "listen."). */
void config_each(const struct config *c, const char *prefix,
                 void (*fn)(const char *key, const char *value, void *arg), void *arg);
