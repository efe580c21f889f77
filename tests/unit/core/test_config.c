/* The config parser and typed getters (core/config.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/config.h"

static struct config *parse_ok(const char *text)
{
	struct config *c = config_new();
	char err[128] = "";
	assert_int_equal(config_parse(c, text, strlen(text), err, sizeof(err)), 0);
	return c;
}

static void test_values_and_comments(void **state)
{
	struct config *c = parse_ok("# a comment\n"
	                            "  limits.header_bytes = 32K   # trailing\n"
	                            "name=\"quoted # not a comment\"\r\n"
	                            "\n"
	                            "empty =\n"
	                            "limits.idle_timeout = 2m\n"
	                            "flag = On\n"
	                            "dup = 1\n"
	                            "dup = 2\n");
	assert_int_equal(config_get_size(c, "limits.header_bytes", 0), 32 * 1024);
	assert_string_equal(config_get(c, "name", NULL), "quoted # not a comment");
	assert_string_equal(config_get(c, "empty", "x"), "");
	assert_int_equal(config_get_ms(c, "limits.idle_timeout", 0), 120000);
	assert_true(config_get_bool(c, "flag", false));
	assert_int_equal(config_get_int(c, "dup", 0), 2);
	assert_null(config_get(c, "missing", NULL));
	assert_int_equal(config_get_int(c, "missing", 7), 7);
	config_free(c);
}

static void test_typed_getters_fall_back_on_malformed(void **state)
{
	struct config *c =
	        parse_ok("n = 12x\nsize = 3T\nms = 5 days\nb = maybe\nbig = 99999999999G\n"
	                 "s = 3s\nms2 = 250ms\nplain = 40\nneg = -3\n");
	assert_int_equal(config_get_int(c, "n", -1), -1);
	assert_int_equal(config_get_size(c, "size", -1), -1);
	assert_int_equal(config_get_ms(c, "ms", -1), -1);
	assert_false(config_get_bool(c, "b", false));
	assert_int_equal(config_get_size(c, "big", -1), -1);
	assert_int_equal(config_get_ms(c, "s", 0), 3000);
	assert_int_equal(config_get_ms(c, "ms2", 0), 250);
	assert_int_equal(config_get_ms(c, "plain", 0), 40);
	assert_int_equal(config_get_int(c, "neg", 0), -3);
	config_free(c);
}

static void test_errors_name_the_line(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
	        {"a = 1\nnot a pair\n", "line 2: expected `key = value`"},
	        {"= 3\n", "line 1: missing key before '='"},
	        {"a b = 3\n", "line 1: key may contain only letters, digits, '.', '_', '-'"},
	        {"a = \"open\n", "line 1: unterminated quoted value"},
	        {"a = \"x\" y\n", "line 1: text after closing quote"},
	        {"a = x\001y\n", "line 1: control character in value"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = config_new();
		char err[128] = "";
		assert_int_equal(
		        config_parse(c, cases[i].text, strlen(cases[i].text), err, sizeof(err)),
		        -EINVAL);
		assert_string_equal(err, cases[i].err);
		config_free(c);
	}
	struct config *c = config_new();
	char err[128];
	assert_int_equal(config_parse(c, "a = b\0c", 7, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: NUL byte");
	config_free(c);
}

static void test_flags_override_file(void **state)
{
	struct config *c = config_new();
	assert_int_equal(config_set(c, "server.workers", "4"), 0);
	char err[64];
	const char text[] = "server.workers = 2\nother = 1\n";
	assert_int_equal(config_parse(c, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(config_get_int(c, "server.workers", 0), 4);
	assert_int_equal(config_get_int(c, "other", 0), 1);
	assert_int_equal(config_set(c, "other", "5"), 0);
	assert_int_equal(config_get_int(c, "other", 0), 5);
	config_free(c);
}

static void count_cb(const char *key, const char *value, void *arg)
{
	(*(int *)arg)++;
	assert_memory_equal(key, "limits.", 7);
}

static void test_each_and_file(void **state)
{
	struct config *c = parse_ok("limits.a = 1\nlimits.b = 2\nother = 3\n");
	int n = 0;
	config_each(c, "limits.", count_cb, &n);
	assert_int_equal(n, 2);
	config_free(c);

	char path[] = "/tmp/kensho-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("limits.body_bytes = 2M\n", f);
	fclose(f);
	c = config_new();
	char err[256];
	assert_int_equal(config_load_file(c, path, err, sizeof(err)), 0);
	assert_int_equal(config_get_size(c, "limits.body_bytes", 0), 2 * 1024 * 1024);
	config_free(c);
	remove(path);
	c = config_new();
	assert_int_equal(config_load_file(c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_values_and_comments),
	        cmocka_unit_test(test_typed_getters_fall_back_on_malformed),
	        cmocka_unit_test(test_errors_name_the_line),
	        cmocka_unit_test(test_flags_override_file),
	        cmocka_unit_test(test_each_and_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
