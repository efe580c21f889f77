/* kenshod's configuration: an optional file of `key = value` lines
 * (`# comments`, keys like `ocsp.validity`, `limits.header_bytes`) overlaid by
 * command-line flags. Every module reads its settings through these getters
 * with its own default, so a missing file means "all defaults".
 *
 * Values: strings as written (no quotes needed; "..." allowed), integers with
 * optional K/M/G (×1024) or s/ms/m/h suffixes where the getter says so,
 * booleans as true/false/yes/no/on/off/1/0. A key given twice: the last wins.
 * Flags set with config_set override the file. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

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
/** Sets a key (copied), overriding the file. Returns 0 or -ENOMEM. */
int config_set(struct config *c, const char *key, const char *value);

/** A string value, or fallback when absent. */
const char *config_get(const struct config *c, const char *key, const char *fallback);
/** An integer value; fallback when absent or malformed (malformed values are
 * also reported by config_validate_int). */
int64_t config_get_int(const struct config *c, const char *key, int64_t fallback);
/** A byte size: plain or with K, M, G suffix (×1024). */
int64_t config_get_size(const struct config *c, const char *key, int64_t fallback);
/** A duration in milliseconds: plain numbers are milliseconds; suffixes ms, s, m, h. */
int64_t config_get_ms(const struct config *c, const char *key, int64_t fallback);
/** A boolean. */
bool config_get_bool(const struct config *c, const char *key, bool fallback);
/** Calls fn for every key whose name starts with prefix (e.g. "listen."). */
void config_each(const struct config *c, const char *prefix,
                 void (*fn)(const char *key, const char *value, void *arg), void *arg);
