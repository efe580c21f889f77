/* Logging for people: one line per event on stderr, level-filtered, as text
 * or as one JSON object per line. Never pass key material or the four
 * personal items to these functions.
 *
 * With log.file / log.access_file set, stderr and stdout are the configured
 * files (log_redirect), and log_reopen opens them again by name, which is
 * what logrotate's SIGUSR1 asks for: every line written after it lands in
 * the new file at the configured path. */
#pragma once

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/** How each line is written (log.format). */
enum log_format {
	LOG_FORMAT_TEXT = 0, /**< "<time> <level> [pid] <message>" */
	LOG_FORMAT_JSON = 1, /**< {"time","level","pid","worker","component","message","fields"} */
};

/** Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/** Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *text, enum log_level *out);
/** Sets the line format (default LOG_FORMAT_TEXT). */
void log_set_format(enum log_format format);
/** Parses "text" or "json"; returns 0 or -EINVAL. */
int log_parse_format(const char *text, enum log_format *out);
/** The line format in force. */
enum log_format log_get_format(void);
/** Names this process's worker index in JSON lines; -1 (the default): none. */
void log_set_worker(int index);
/** Prints one line "<time> <level> [pid] <message>" (or its JSON form) if
 * `level` is enabled. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** One named value of an event, for a log search to select on without
 * parsing the message: a string (`text` non-NULL) or an integer. */
struct log_field {
	const char *key;
	const char *text;
	long long number;
};
#define LOG_TEXT(k, v) ((struct log_field){.key = (k), .text = (v) ? (v) : ""})
#define LOG_INT(k, v)  ((struct log_field){.key = (k), .number = (long long)(v)})

/** Like log_msg, with `count` fields: JSON lines carry them as the object
 * "fields" ({"key":value,...}, integers as numbers), text lines append
 * " key=value" after the message. */
void log_fields(enum log_level level, const struct log_field *fields, unsigned count,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Makes fd (STDOUT_FILENO or STDERR_FILENO) write to path, appending and
 * creating it with mode 0640, and remembers path for log_reopen. Returns 0
 * or -errno (nothing changed). */
int log_redirect(int fd, const char *path);
/** Opens every path given to log_redirect again (after logrotate renamed
 * it), flushing stdout first. Returns 0 or the first -errno; a file that
 * cannot be opened keeps the previous one, and the failure is logged. */
int log_reopen(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
