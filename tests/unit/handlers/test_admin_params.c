/* handlers/admin_params.c (admin API bodies) and handlers/roles.c (who may
 * call what). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/exchange.h"
#include "handlers/admin_params.h"
#include "handlers/handlers.h"
#include "handlers/roles.h"

static int parse(const char *ct, const char *body, struct admin_params *p, char *err)
{
	return admin_params_parse(ct, ct ? strlen(ct) : 0, (const uint8_t *)body, strlen(body), p,
	                          err, 200);
}

static void test_form(void **state)
{
	struct admin_params p;
	char err[200];
	assert_int_equal(
	        parse("application/x-www-form-urlencoded",
	              "kind=auth&serial=0A1b&reason=key%43ompromise&note=a+b%20c&empty=&kind=sign",
	              &p, err),
	        0);
	assert_string_equal(admin_params_get(&p, "kind"), "sign"); /* last wins */
	assert_string_equal(admin_params_get(&p, "serial"), "0A1b");
	assert_string_equal(admin_params_get(&p, "reason"), "keyCompromise");
	assert_string_equal(admin_params_get(&p, "note"), "a b c");
	assert_string_equal(admin_params_get(&p, "empty"), "");
	assert_null(admin_params_get(&p, "missing"));
	admin_params_free(&p);
	/* No Content-Type: a form, as curl -d sends. */
	assert_int_equal(parse(NULL, "a=1", &p, err), 0);
	assert_string_equal(admin_params_get(&p, "a"), "1");
	admin_params_free(&p);
	assert_int_equal(parse(NULL, "a=%4", &p, err), -EINVAL);
	assert_int_equal(parse(NULL, "a=%zz", &p, err), -EINVAL);
	assert_int_equal(parse(NULL, "a=%00", &p, err), -EINVAL);
}

static void test_json(void **state)
{
	struct admin_params p;
	char err[200];
	assert_int_equal(parse("application/json; charset=utf-8",
	                       " {\"name\": \"\\u5c71\\u7530\\u3000\\u592a\\u90ce\", \"sex\": 1,"
	                       " \"pem\": \"-----BEGIN\\nX\\/Y\\\"\", \"ok\": true, \"emoji\": "
	                       "\"\\ud83d\\ude00\"}\n",
	                       &p, err),
	                 0);
	assert_string_equal(admin_params_get(&p, "name"), "山田\u3000太郎");
	assert_string_equal(admin_params_get(&p, "sex"), "1");
	assert_string_equal(admin_params_get(&p, "pem"), "-----BEGIN\nX/Y\"");
	assert_string_equal(admin_params_get(&p, "ok"), "true");
	assert_string_equal(admin_params_get(&p, "emoji"), "\xf0\x9f\x98\x80");
	admin_params_free(&p);
	assert_int_equal(parse("application/json", "{}", &p, err), 0);
	assert_int_equal(p.count, 0);

	static const char *const bad[] = {
	        "",
	        "[]",
	        "{",
	        "{\"a\"}",
	        "{\"a\":}",
	        "{\"a\":1,}",
	        "{\"a\":1} x",
	        "{\"a\":{\"b\":1}}",
	        "{\"a\":[1]}",
	        "{\"a\":\"\\ud800\"}",
	        "{\"a\":\"\\u0000\"}",
	        "{\"a\":\"\\q\"}",
	        "{\"a\":\"tab\there\"}",
	        "{\"a\":nope}",
	        "{\"a\":\"unterminated}",
	        "{a:1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse("application/json", bad[i], &p, err);
		if (rc != -EINVAL)
			fail_msg("accepted %s (rc %d)", bad[i], rc);
	}
	assert_int_equal(parse("text/plain", "a=1", &p, err), -EPROTONOSUPPORT);
}

static void test_too_many_fields(void **state)
{
	char body[1024] = "";
	for (int i = 0; i <= ADMIN_PARAMS_MAX; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), "%sk%d=v", i ? "&" : "",
		         i);
	struct admin_params p;
	char err[200];
	assert_int_equal(parse(NULL, body, &p, err), -E2BIG);
	assert_non_null(strstr(err, "more than"));
}

static void test_roles(void **state)
{
	struct config *c = config_new();
	struct handler_env env = {.config = c};
	struct peer_info plain = {.tls = false, .roles = PEER_ROLE_OPERATOR};
	struct peer_info tls = {.tls = true, .roles = PEER_ROLE_INTAKE};
	/* Plain HTTP never gets more than relying-party, whatever roles says. */
	assert_int_equal(handler_peer_roles(&env, &plain), PEER_ROLE_RELYING_PARTY);
	assert_int_equal(handler_peer_roles(&env, &tls), PEER_ROLE_INTAKE);
	assert_int_equal(config_set(c, "plain.relying_party", "no"), 0);
	assert_int_equal(handler_peer_roles(&env, &plain), 0);
	assert_int_equal(handler_peer_roles(&env, NULL), 0);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_form),
	        cmocka_unit_test(test_json),
	        cmocka_unit_test(test_too_many_fields),
	        cmocka_unit_test(test_roles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
