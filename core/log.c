#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"

static enum log_level max_level = LOG_INFO;
static enum log_format line_format = LOG_FORMAT_TEXT;
static int worker_index = -1;
static const char *const names[] = {"error", "warn", "info", "debug"};

/* The files behind stdout (index 0) and stderr (index 1), NULL: inherited. */
static char *redirect_paths[2];

void log_set_level(enum log_level level)
{
	max_level = level;
}

int log_parse_level(const char *text, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_format(enum log_format format)
{
	line_format = format;
}

enum log_format log_get_format(void)
{
	return line_format;
}

int log_parse_format(const char *text, enum log_format *out)
{
	if (strcmp(text, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(text, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

void log_set_worker(int index)
{
	worker_index = index;
}

/* Messages follow the convention "component: what happened" ("tls: reload
 * refused ...", "supervisor: worker 1 ..."); JSON lines carry that first word
 * as a field of its own so a log search can select one part of kenshod. */
static size_t component_length(const char *message)
{
	size_t n = 0;
	while ((message[n] >= 'a' && message[n] <= 'z') ||
	       (message[n] >= '0' && message[n] <= '9') || message[n] == '_' || message[n] == '-')
		n++;
	return n > 0 && message[n] == ':' && message[n + 1] == ' ' ? n : 0;
}

static void write_json_line(const char *when, enum log_level level, const char *message,
                            const struct log_field *fields, unsigned count)
{
	struct buf line = {0};
	struct json j;
	json_init(&j, &line);
	json_object_begin(&j, NULL);
	json_string(&j, "time", when);
	json_string(&j, "level", names[level]);
	json_int(&j, "pid", getpid());
	if (worker_index >= 0)
		json_int(&j, "worker", worker_index);
	size_t component = component_length(message);
	if (component)
		json_string_n(&j, "component", message, component);
	json_string(&j, "message", message);
	if (count) {
		json_object_begin(&j, "fields");
		for (unsigned i = 0; i < count; i++) {
			if (fields[i].text)
				json_string(&j, fields[i].key, fields[i].text);
			else
				json_int(&j, fields[i].key, fields[i].number);
		}
		json_object_end(&j);
	}
	json_object_end(&j);
	buf_append_str(&line, "\n");
	/* One write per line so that lines from worker processes do not interleave. */
	if (!line.failed)
		fwrite(line.data, 1, line.len, stderr);
	buf_free(&line);
}

static void write_line(enum log_level level, const struct log_field *fields, unsigned count,
                       const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm tm;
	char stamp[32], when[48];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, sizeof(when), "%s.%03dZ", stamp, (int)(tv.tv_usec / 1000));

	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (line_format == LOG_FORMAT_JSON) {
		write_json_line(when, level, line, fields, count);
		return;
	}
	size_t len = strlen(line);
	for (unsigned i = 0; i < count && len < sizeof(line); i++) {
		int n = fields[i].text
		                ? snprintf(line + len, sizeof(line) - len, " %s=%s", fields[i].key,
		                           fields[i].text)
		                : snprintf(line + len, sizeof(line) - len, " %s=%lld", fields[i].key,
		                           fields[i].number);
		len += n > 0 ? (size_t)n : 0;
	}
	/* One fprintf per line so that lines from worker processes do not interleave. */
	fprintf(stderr, "%s %s [%d] %s\n", when, names[level], (int)getpid(), line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > max_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	write_line(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_fields(enum log_level level, const struct log_field *fields, unsigned count,
                const char *fmt, ...)
{
	if (level > max_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	write_line(level, fields, count, fmt, ap);
	va_end(ap);
}

/* Opens path for appending and puts it behind fd; 0 or -errno. */
static int redirect_open(int fd, const char *path)
{
	int opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (opened < 0)
		return -errno;
	int rc = dup2(opened, fd) < 0 ? -errno : 0;
	close(opened);
	return rc;
}

int log_redirect(int fd, const char *path)
{
	if (fd != STDOUT_FILENO && fd != STDERR_FILENO)
		return -EINVAL;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (fd == STDOUT_FILENO)
		fflush(stdout);
	int rc = redirect_open(fd, path);
	if (rc) {
		free(copy);
		return rc;
	}
	char **slot = &redirect_paths[fd == STDERR_FILENO];
	free(*slot);
	*slot = copy;
	return 0;
}

int log_reopen(void)
{
	/* Buffered access-log lines belong to the file they were written for. */
	fflush(stdout);
	int first = 0;
	for (int i = 0; i < 2; i++) {
		if (!redirect_paths[i])
			continue;
		int rc = redirect_open(i ? STDERR_FILENO : STDOUT_FILENO, redirect_paths[i]);
		if (rc) {
			log_error("log: cannot reopen %s: %s; still writing to the previous file",
			          redirect_paths[i], strerror(-rc));
			if (!first)
				first = rc;
		}
	}
	if (redirect_paths[0] || redirect_paths[1])
		log_info("log: log files reopened");
	return first;
}
