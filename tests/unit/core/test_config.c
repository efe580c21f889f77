/* The config parser and typed getters (core/config.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/server.h"
#include "handlers/config_keys.h"
#include "tls/tls_config_keys.h"

static const struct config_key *const all_tables[] = {core_config_keys, tls_config_keys,
                                                      handlers_config_keys, NULL};

/* Loads text from a file named like kenshod's and validates it. */
static int validate_file(const char *text, const char *flag_key, const char *flag_value,
                         const char *flag, char *path, char *err, size_t err_len)
{
	strcpy(path, "/tmp/kensho-validate-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	struct config *c = config_new();
	if (flag_key)
		assert_int_equal(config_set_flag(c, flag_key, flag_value, flag), 0);
	char parse_err[256];
	assert_int_equal(config_load_file(c, path, parse_err, sizeof(parse_err)), 0);
	int rc = config_validate(c, all_tables, err, err_len);
	config_free(c);
	remove(path);
	return rc;
}

static void assert_has_line(const char *report, const char *line)
{
	if (!strstr(report, line))
		fail_msg("expected \"%s\" in:\n%s", line, report);
}

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

static void test_validate_names_file_line_key(void **state)
{
	char path[64], err[8192], want[512];
	int rc = validate_file("# every kind of mistake\n"
	                       "limits.body_bytes = lots\n"
	                       "ocsp.validity = 1 day\n"
	                       "server.workers = many\n"
	                       "limits.body_byte = 2M\n"
	                       "no.such.key = 1\n"
	                       "log.access = maybe\n"
	                       "tls.client_auth = sometimes\n"
	                       "limits.header_bytes = 2\n"
	                       "server.listen = 127.0.0.1:99999\n"
	                       "server.listen_tls = nonsense\n"
	                       "crl.check_interval = 5\n"
	                       "ocsp.max_inflight_signs = -1\n"
	                       "intake.queue_max = 12x\n",
	                       NULL, NULL, NULL, path, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	static const char *const lines[] = {
	        ":2: limits.body_bytes: \"lots\" is not a size; accepted: a size in bytes",
	        ":3: ocsp.validity: \"1 day\" is not a duration; accepted: a duration",
	        ":4: server.workers: \"many\" is not an integer; accepted: an integer, from 1 to "
	        "256",
	        ":5: limits.body_byte: unknown key (did you mean limits.body_bytes?); accepted in "
	        "limits.: header_bytes",
	        ":6: no.such.key: unknown key; accepted sections: server log limits store metrics tls",
	        ":7: log.access: \"maybe\" is not a boolean; accepted: true/false",
	        ":8: tls.client_auth: \"sometimes\" is not a choice; accepted: one of none, "
	        "optional, required",
	        ":9: limits.header_bytes: 2 is out of range; accepted: a size in bytes, optionally "
	        "with K, M or G (x1024), from 256 to 16M",
	        ":10: server.listen: \"127.0.0.1:99999\": port \"99999\" is not a number from 1 "
	        "to 65535",
	        ":11: server.listen_tls: \"nonsense\" has no \":PORT\"",
	        ":12: crl.check_interval: 5 is out of range; accepted: a duration: milliseconds, "
	        "or a number with ms, s, m, h or d, from 10ms to 1h",
	        ":13: ocsp.max_inflight_signs: -1 is out of range",
	        ":14: intake.queue_max: \"12x\" is not an integer",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(want, sizeof(want), "%s%s", path, lines[i]);
		assert_has_line(err, want);
	}
	/* one line per problem */
	size_t newlines = 0;
	for (const char *p = err; *p; p++)
		newlines += *p == '\n';
	assert_int_equal(newlines + 1, sizeof(lines) / sizeof(lines[0]));
}

static void test_validate_flags(void **state)
{
	char path[64], err[4096];
	/* A flag names itself; the file's value it overrides is still checked. */
	int rc = validate_file("server.workers = many\nlimits.body_bytes = 2M\n", "server.workers",
	                       "abc", "--workers", path, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_has_line(err, "--workers: server.workers: \"abc\" is not an integer; accepted: an "
	                     "integer, from 1 to 256");
	assert_has_line(err, ":1: server.workers: \"many\" is not an integer");
	assert_null(strstr(err, "body_bytes"));

	struct config *c = config_new();
	assert_int_equal(config_set_flag(c, "server.listen", "127.0.0.1:8080, [::1]:0", "--listen"),
	                 0);
	assert_int_equal(config_validate(c, all_tables, err, sizeof(err)), -EINVAL);
	assert_has_line(err, "--listen: server.listen: \"[::1]:0\": port \"0\" is not a number");
	config_free(c);
}

static void test_validate_accepts_good_configuration(void **state)
{
	char path[64], err[4096] = "";
	int rc = validate_file(
	        "server.listen = 127.0.0.1:8080, [::1]:8080 *:9000\n"
	        "server.workers = 4\nlimits.body_bytes = 2M\nlimits.idle_timeout = 30s\n"
	        "ocsp.validity = 1d\nlog.access = off\nlog.level = warn\n"
	        "tls.client_auth = required\ncrl.delta_after_ms = 300\n"
	        "ocsp.max_inflight_signs = 0\ntls.handshake_timeout = 0\n"
	        "crl.base_url = \"http://va.example/\"\n",
	        "server.workers", "2", "--workers", path, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	struct config *c = config_new();
	assert_int_equal(config_validate(c, all_tables, err, sizeof(err)), 0);
	config_free(c);
}

static void test_address_parse(void **state)
{
	static const struct {
		const char *text, *host;
		unsigned port;
	} good[] = {
	        {"127.0.0.1:8080", "127.0.0.1", 8080},   {"[::1]:443", "::1", 443}, {"*:1", "", 1},
	        {"localhost:65535", "localhost", 65535}, {":80", "", 80},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char host[64], why[128];
		unsigned port = 0;
		assert_int_equal(config_parse_address(good[i].text, host, sizeof(host), &port, why,
		                                      sizeof(why)),
		                 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	static const char *const bad[] = {
	        "nonsense",      "127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:",
	        "127.0.0.1:80x", "::1:80",          "[::1]80",     "a b:80",
	        "127.0.0.1:-1",  "h:0000080",       "[::1]",       "x/y:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char host[64], why[128] = "";
		unsigned port;
		if (config_parse_address(bad[i], host, sizeof(host), &port, why, sizeof(why)) !=
		    -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(strstr(why, bad[i]));
	}
}

/* The tables are the single description of every key: each entry complete,
 * each name once, each default itself an accepted value. */
static void test_key_tables_are_consistent(void **state)
{
	for (size_t t = 0; all_tables[t]; t++)
		for (const struct config_key *k = all_tables[t]; k->name; k++) {
			assert_non_null(k->meaning);
			assert_true(config_key_find(all_tables, k->name) == k);
			assert_true(strchr(k->name, '.') != NULL);
			if (k->type == CONFIG_ENUM)
				assert_non_null(k->choices);
			assert_true(k->min <= k->max);
			char why[256] = "";
			if (k->default_value &&
			    config_check_value(k, k->default_value, why, sizeof(why)) != 0)
				fail_msg("%s: default %s: %s", k->name, k->default_value, why);
		}
}

/* core's limits: the table's defaults are server_limits_default's. */
static void test_limit_defaults_match_the_server(void **state)
{
	struct config *c = config_new();
	for (const struct config_key *k = core_config_keys; k->name; k++)
		if (strncmp(k->name, "limits.", 7) == 0)
			assert_int_equal(config_set(c, k->name, k->default_value), 0);
	/* Every field from the table's text alone (zero where a key were missing). */
	struct server_limits from_table = {0}, built_in;
	server_limits_default(&built_in);
	server_limits_from_config(&from_table, c);
	assert_int_equal(from_table.header_bytes, built_in.header_bytes);
	assert_int_equal(from_table.uri_bytes, built_in.uri_bytes);
	assert_int_equal(from_table.body_bytes, built_in.body_bytes);
	assert_int_equal(from_table.max_connections, built_in.max_connections);
	assert_int_equal(from_table.pipeline_depth, built_in.pipeline_depth);
	assert_int_equal(from_table.write_buffer_bytes, built_in.write_buffer_bytes);
	assert_int_equal(from_table.idle_timeout_ms, built_in.idle_timeout_ms);
	assert_int_equal(from_table.request_timeout_ms, built_in.request_timeout_ms);
	assert_int_equal(from_table.linger_timeout_ms, built_in.linger_timeout_ms);
	assert_int_equal(from_table.drain_timeout_ms, built_in.drain_timeout_ms);
	assert_int_equal(from_table.backlog, built_in.backlog);
	config_free(c);
}

/* A file re-read on SIGHUP stays under the command line's flags. */
static void test_copy_flags_survive_a_reread(void **state)
{
	struct config *start = config_new(), *next = config_new();
	assert_int_equal(config_set_flag(start, "log.level", "debug", "--log-level"), 0);
	static const char file[] = "log.level = warn\nlimits.body_bytes = 2M\n";
	assert_int_equal(config_parse(start, file, strlen(file), NULL, 0), 0);
	static const char changed[] = "log.level = error\nlimits.body_bytes = 3M\n";
	assert_int_equal(config_copy_flags(next, start), 0);
	assert_int_equal(config_parse(next, changed, strlen(changed), NULL, 0), 0);
	assert_string_equal(config_get(next, "log.level", ""), "debug");
	assert_int_equal(config_get_size(next, "limits.body_bytes", 0), 3 * 1024 * 1024);
	/* The file's own values are not flags: they are not carried over. */
	struct config *again = config_new();
	assert_int_equal(config_copy_flags(again, start), 0);
	assert_null(config_get(again, "limits.body_bytes", NULL));
	config_free(again);
	config_free(next);
	config_free(start);
}

static char *reference(enum config_reference_format format)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(config_reference_print(f, all_tables, format), 0);
	fclose(f);
	return text;
}

static void test_reference_formats(void **state)
{
	enum config_reference_format format;
	assert_int_equal(config_reference_format_parse("roff", &format), 0);
	assert_int_equal(format, CONFIG_REFERENCE_ROFF);
	assert_int_equal(config_reference_format_parse("html", &format), -EINVAL);

	char *md = reference(CONFIG_REFERENCE_MARKDOWN);
	assert_non_null(strstr(md, "| `limits.body_bytes` | `1M` | a size in bytes"));
	assert_non_null(
	        strstr(md, "| `log.level` | `info` | one of error, warn, info, debug | live"));
	assert_non_null(strstr(md, "| `tls.cert` | (none) | any text | restart |"));
	free(md);

	char *roff = reference(CONFIG_REFERENCE_ROFF);
	assert_non_null(strstr(roff, ".TP\n.B limits.body_bytes\n"));
	assert_non_null(strstr(roff, "\\-\\-log\\-level"));
	/* Only requests start a line with '.': text never does. */
	for (const char *line = roff; line && *line; line = strchr(line, '\n'), line += !!line)
		if (*line == '.')
			assert_true(
			        strncmp(line, ".TP\n", 4) == 0 || strncmp(line, ".B ", 3) == 0 ||
			        strncmp(line, ".br\n", 4) == 0 || strncmp(line, ".SS ", 4) == 0);
	free(roff);

	char *example = reference(CONFIG_REFERENCE_EXAMPLE);
	for (size_t t = 0; all_tables[t]; t++)
		for (const struct config_key *k = all_tables[t]; k->name; k++) {
			char line[256];
			snprintf(line, sizeof(line), "\n#%s =%s%s\n", k->name,
			         k->default_value ? " " : "",
			         k->default_value ? k->default_value : "");
			if (!strstr(example, line))
				fail_msg("the example lacks \"%s\"", line + 1);
		}
	/* All commented out: as a file it sets nothing. */
	struct config *c = config_new();
	assert_int_equal(config_parse(c, example, strlen(example), NULL, 0), 0);
	assert_null(config_get(c, "log.level", NULL));
	config_free(c);
	free(example);
}

/* live is a promise kenshod's reload keeps (daemon/main.c config_apply_live):
 * these keys and no others. A key made live needs its reload code first. */
static void test_live_keys_are_the_ones_a_reload_applies(void **state)
{
	static const char *const live[] = {
	        "log.level",
	        "log.access",
	        "limits.header_bytes",
	        "limits.uri_bytes",
	        "limits.body_bytes",
	        "limits.connections",
	        "limits.pipeline",
	        "limits.write_buffer_bytes",
	        "limits.request_timeout",
	        "limits.idle_timeout",
	        "limits.linger_timeout",
	};
	size_t n = 0;
	for (size_t t = 0; all_tables[t]; t++)
		for (const struct config_key *k = all_tables[t]; k->name; k++) {
			bool listed = false;
			for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
				listed = listed || strcmp(live[i], k->name) == 0;
			if (listed != k->live)
				fail_msg("%s: live is %d", k->name, k->live);
			n += k->live;
		}
	assert_int_equal(n, sizeof(live) / sizeof(live[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_values_and_comments),
	        cmocka_unit_test(test_typed_getters_fall_back_on_malformed),
	        cmocka_unit_test(test_errors_name_the_line),
	        cmocka_unit_test(test_flags_override_file),
	        cmocka_unit_test(test_each_and_file),
	        cmocka_unit_test(test_validate_names_file_line_key),
	        cmocka_unit_test(test_validate_flags),
	        cmocka_unit_test(test_validate_accepts_good_configuration),
	        cmocka_unit_test(test_address_parse),
	        cmocka_unit_test(test_key_tables_are_consistent),
	        cmocka_unit_test(test_limit_defaults_match_the_server),
	        cmocka_unit_test(test_copy_flags_survive_a_reread),
	        cmocka_unit_test(test_reference_formats),
	        cmocka_unit_test(test_live_keys_are_the_ones_a_reload_applies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
