/* handlers/role_names.c: kenshod's one table of role names, as the TLS
 * policy, the role lists and the refusals read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "handlers/roles.h"

static core_role_set word(const char *name)
{
	const struct role_name *r = role_table_find(&handler_roles, name, strlen(name));
	return r ? r->roles : (core_role_set)-1;
}

static void test_policy_words(void **state)
{
	assert_int_equal(word("relying-party"), PEER_ROLE_RELYING_PARTY);
	assert_int_equal(word("relying-party+personal"),
	                 PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL);
	assert_int_equal(word("intake"), PEER_ROLE_INTAKE);
	assert_int_equal(word("operator"), PEER_ROLE_OPERATOR);
	assert_int_equal(word("replica"), PEER_ROLE_REPLICA);
	/* personal comes only with relying-party; no policy grants the status page */
	assert_int_equal(word("personal"), (core_role_set)-1);
	assert_int_equal(word("status-page"), (core_role_set)-1);
	assert_int_equal(word("admin"), (core_role_set)-1);
	/* docs/architecture.md rule 4 */
	assert_int_equal(handler_roles.authenticated_only,
	                 PEER_ROLE_PERSONAL | PEER_ROLE_OPERATOR | PEER_ROLE_REPLICA);
}

static void test_every_role_has_one_name(void **state)
{
	for (core_role_set bit = 1; bit <= PEER_ROLE_REPLICA; bit <<= 1) {
		size_t named = 0;
		for (size_t i = 0; i < handler_roles.count; i++)
			named += handler_roles.names[i].roles == bit;
		assert_int_equal(named, 1);
	}
}

static void test_role_lists(void **state)
{
	char out[80];
	role_table_format(&handler_roles, PEER_ROLE_OPERATOR | PEER_ROLE_RELYING_PARTY, ",", out,
	                  sizeof out);
	assert_string_equal(out, "relying-party,operator");
	role_table_format(&handler_roles, PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL, ",", out,
	                  sizeof out);
	assert_string_equal(out, "relying-party,personal");
	role_table_format(&handler_roles, PEER_ROLE_INTAKE | PEER_ROLE_STATUS, ",", out,
	                  sizeof out);
	assert_string_equal(out, "intake,status-page");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_policy_words),
	        cmocka_unit_test(test_every_role_has_one_name),
	        cmocka_unit_test(test_role_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
