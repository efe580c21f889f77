/* core/role_set: the opaque role set and the shape of an application's role
 * table, with a made-up table (core itself names no role). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/role_set.h"

enum { READ = 1 << 0, WRITE = 1 << 1, AUDIT = 1 << 4 };

static const struct role_name names[] = {
        {"reader", READ, true},
        {"reader+writer", READ | WRITE, true},
        {"writer", WRITE, false},
        {"auditor", AUDIT, true},
};
static const struct role_table table = {names, sizeof names / sizeof names[0], WRITE};

static void test_set_helpers(void **state)
{
	assert_true(core_role_set_has(READ | WRITE, READ));
	assert_true(core_role_set_has(READ, 0));
	assert_true(core_role_set_has(0, 0));
	assert_false(core_role_set_has(READ, READ | WRITE));
	assert_false(core_role_set_has(0, AUDIT));
	assert_int_equal(core_role_set_missing(READ, READ | WRITE | AUDIT), WRITE | AUDIT);
	assert_int_equal(core_role_set_missing(READ | WRITE, READ), 0);
	assert_int_equal(core_role_set_first(WRITE | AUDIT), WRITE);
	assert_int_equal(core_role_set_first(AUDIT), AUDIT);
	assert_int_equal(core_role_set_first(0), 0);
	assert_int_equal(core_role_set_first((core_role_set)1 << 31), (core_role_set)1 << 31);
}

static void test_find(void **state)
{
	const struct role_name *r = role_table_find(&table, "reader+writer", 13);
	assert_non_null(r);
	assert_int_equal(r->roles, READ | WRITE);
	assert_int_equal(role_table_find(&table, "reader", 6)->roles, READ);
	/* a prefix, a longer word and a name no policy may grant are not found */
	assert_null(role_table_find(&table, "read", 4));
	assert_null(role_table_find(&table, "reader+", 7));
	assert_null(role_table_find(&table, "writer", 6));
	assert_null(role_table_find(&table, "", 0));
	assert_null(role_table_find(NULL, "reader", 6));
}

static void test_names_and_format(void **state)
{
	assert_string_equal(role_table_name(&table, WRITE), "writer");
	assert_string_equal(role_table_name(&table, AUDIT), "auditor");
	assert_null(role_table_name(&table, 1 << 7));
	assert_null(role_table_name(&table, 0));
	char out[64];
	role_table_format(&table, AUDIT | WRITE | READ, ",", out, sizeof out);
	assert_string_equal(out, "reader,writer,auditor"); /* lowest bit first */
	role_table_format(&table, WRITE | AUDIT, " or ", out, sizeof out);
	assert_string_equal(out, "writer or auditor");
	role_table_format(&table, 0, ",", out, sizeof out);
	assert_string_equal(out, "");
	role_table_format(&table, READ | 1 << 7, ",", out, sizeof out); /* unnamed: left out */
	assert_string_equal(out, "reader");
	char small[8];
	role_table_format(&table, READ | WRITE, ",", small, sizeof small);
	assert_true(strlen(small) < sizeof small);
	assert_memory_equal(small, "reader", 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_helpers),
	        cmocka_unit_test(test_find),
	        cmocka_unit_test(test_names_and_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
