/* core/log: JSON lines carry time, level, pid, worker, component and the
 * escaped message, and an event's named fields (as "fields" in JSON, as
 * key=value in text); text lines keep their format; a redirected stderr is
 * reopened by name after a rename (what logrotate and SIGUSR1 do). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/log.h"

struct fixture {
	char dir[64];
	char path[128];
	int saved_stderr;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kensho-log-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/kenshod.log", f->dir);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	log_set_format(LOG_FORMAT_TEXT);
	log_set_worker(-1);
	char old[160];
	snprintf(old, sizeof(old), "%s.1", f->path);
	unlink(old);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The whole file as a string (static buffer). */
static const char *read_all(const char *path)
{
	static char text[8192];
	FILE *in = fopen(path, "r");
	if (!in)
		return NULL;
	size_t n = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[n] = '\0';
	return text;
}

static void test_json_line_fields_and_escapes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_redirect(STDERR_FILENO, f->path), 0);
	log_set_format(LOG_FORMAT_JSON);
	log_set_worker(3);
	log_error("tls: a \"quoted\"\nline\x01 \\");
	log_set_worker(-1);
	log_warn("SIGHUP: no component in capitals");
	log_debug("below the level: not written");
	const char *text = read_all(f->path);
	assert_non_null(text);
	char want[256];
	snprintf(want, sizeof(want),
	         "\",\"level\":\"error\",\"pid\":%d,\"worker\":3,\"component\":\"tls\","
	         "\"message\":\"tls: a \\\"quoted\\\"\\nline\\u0001 \\\\\"}\n{\"time\":\"",
	         (int)getpid());
	assert_non_null(strstr(text, want));
	assert_memory_equal(text, "{\"time\":\"", 9);
	snprintf(want, sizeof(want),
	         "\",\"level\":\"warn\",\"pid\":%d,\"message\":\"SIGHUP: no component in "
	         "capitals\"}\n",
	         (int)getpid());
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "below the level"));
	/* Two lines, each ending in a newline, none inside a line. */
	int lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
}

static void test_text_line(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_redirect(STDERR_FILENO, f->path), 0);
	log_info("crl: plain text");
	const char *text = read_all(f->path);
	char want[64];
	snprintf(want, sizeof(want), "Z info [%d] crl: plain text\n", (int)getpid());
	assert_non_null(strstr(text, want));
	assert_int_equal(text[4], '-');
}

static void test_fields(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_redirect(STDERR_FILENO, f->path), 0);
	struct log_field fields[] = {LOG_INT("worker_index", 2), LOG_TEXT("reason", "a \"b\""),
	                             LOG_INT("signal", -9)};
	log_fields(LOG_ERROR, fields, 3, "supervisor: worker %d gone", 2);
	log_set_format(LOG_FORMAT_JSON);
	log_fields(LOG_ERROR, fields, 3, "supervisor: worker %d gone", 2);
	log_fields(LOG_DEBUG, fields, 3, "below the level: not written");
	const char *text = read_all(f->path);
	assert_non_null(text);
	assert_non_null(strstr(text, "] supervisor: worker 2 gone worker_index=2 reason=a \"b\" signal=-9\n"));
	assert_non_null(strstr(text, "\"message\":\"supervisor: worker 2 gone\","
	                             "\"fields\":{\"worker_index\":2,\"reason\":\"a \\\"b\\\"\","
	                             "\"signal\":-9}}\n"));
	assert_null(strstr(text, "below the level"));
}

static void test_reopen_after_rename(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(log_redirect(STDERR_FILENO, f->path), 0);
	log_info("before the rotation");
	char old[160];
	snprintf(old, sizeof(old), "%s.1", f->path);
	assert_int_equal(rename(f->path, old), 0);
	log_info("after the rename, before the signal");
	assert_int_equal(log_reopen(), 0);
	log_info("after the reopen");
	const char *text = read_all(f->path);
	assert_non_null(text);
	assert_non_null(strstr(text, "log: log files reopened"));
	assert_non_null(strstr(text, "after the reopen"));
	assert_null(strstr(text, "before"));
	text = read_all(old);
	assert_non_null(strstr(text, "before the rotation"));
	assert_non_null(strstr(text, "after the rename, before the signal"));
	assert_null(strstr(text, "after the reopen"));
}

static void test_redirect_refused(void **state)
{
	struct fixture *f = *state;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no-such-dir/x.log", f->dir);
	assert_int_equal(log_redirect(STDERR_FILENO, missing), -ENOENT);
	assert_int_equal(log_redirect(7, f->path), -EINVAL);
	enum log_format format;
	assert_int_equal(log_parse_format("json", &format), 0);
	assert_int_equal(format, LOG_FORMAT_JSON);
	assert_int_equal(log_parse_format("text", &format), 0);
	assert_int_equal(format, LOG_FORMAT_TEXT);
	assert_int_equal(log_parse_format("JSON", &format), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_json_line_fields_and_escapes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_text_line, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_redirect_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
