/* Logging for people: one line per event on stderr, level-filtered.
 * Never pass key material or the four personal items to these functions. */
#pragma once

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/** Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/** Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *text, enum log_level *out);
/** Prints one line "<time> <level> [pid] <message>" if `level` is enabled. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
