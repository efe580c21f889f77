/* handlers/lookup.c against a real store, through a stand-in exchange that
 * records the response (the HTTP path is covered by the integration test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ca/ca.h"
#include "core/exchange.h"
#include "handlers/lookup.h"

/* --- the stand-in exchange and router ------------------------------------------ */

struct exchange {
	struct http_request req;
	int status;
	char body[4096];
	bool answered;
};

static struct handler *routed;
static char routed_path[64];

const struct http_request *exchange_request(const struct exchange *ex)
{
	return &ex->req;
}

void exchange_add_header(struct exchange *ex, const char *name, const char *value) {}

static void answer(struct exchange *ex, int status, const void *body, size_t len)
{
	assert_false(ex->answered); /* exactly once */
	ex->answered = true;
	ex->status = status;
	assert_true(len < sizeof(ex->body));
	memcpy(ex->body, body, len);
	ex->body[len] = 0;
}

void exchange_respond_owned(struct exchange *ex, int status, const char *content_type, void *body,
                            size_t body_len)
{
	assert_string_equal(content_type, "application/json");
	answer(ex, status, body, body_len);
	free(body);
}

void exchange_respond_error(struct exchange *ex, int status, const char *error, const char *detail)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);
	answer(ex, status, body, (size_t)n);
}

/* Used by handlers/lookup_personal.c (the ?personal=1 branch). */
uv_loop_t *exchange_loop(const struct exchange *ex)
{
	return uv_default_loop();
}

void exchange_respond(struct exchange *ex, int status, const char *content_type, const void *body,
                      size_t body_len)
{
	answer(ex, status, body, body_len);
}

int router_add(struct router *r, const char *path, unsigned methods, unsigned roles,
               struct handler *h)
{
	assert_int_equal(roles, PEER_ROLE_RELYING_PARTY);
	routed = h;
	snprintf(routed_path, sizeof(routed_path), "%s", path);
	assert_true(methods & HTTP_METHOD_GET);
	return 0;
}

/* --- fixtures ---------------------------------------------------------------------- */

static char dir[256];
static struct ca *ca;
static struct handler_env env;
static void *lookup_context; /* the family's, from on_context_init */
static struct ca_issued pair;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/kensho-test-lookup-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char err[CA_ERR_LEN];
	struct ca_issue_request req = {
	        .person = {"田中\u3000実", "1975-03-03", 1, "京都府京都市左京区1"}};
	if (ca_init(dir, NULL, err) || ca_open(dir, &ca, err) || ca_issue(ca, &req, &pair, err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	env.store = ca_store(ca);
	env.data_dir = dir;
	return lookup_family.on_context_init(NULL, &env, &lookup_context);
}

static int teardown(void **state)
{
	lookup_family.on_context_dispose(lookup_context);
	lookup_family.dispose(lookup_context);
	ca_issued_free(&pair);
	ca_close(ca);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void get(const char *path, struct exchange *ex)
{
	memset(ex, 0, sizeof(*ex));
	ex->req.method = HTTP_METHOD_GET;
	ex->req.path = path;
	ex->req.path_len = strlen(path);
	routed->on_request(routed, ex);
	assert_true(ex->answered);
}

static void path_of(const char *kind, const struct store_serial *serial, char *out, size_t cap)
{
	char hex[41];
	store_serial_to_hex(serial, hex);
	snprintf(out, cap, "/v1/certs/%s/%s", kind, hex);
}

static void test_route(void **state)
{
	assert_string_equal(routed_path, "/v1/certs/");
	assert_string_equal(routed->name, "lookup");
}

static void test_good_certificate_with_links(void **state)
{
	char path[128], hex[41], expect[128];
	struct exchange ex;
	path_of("sign", &pair.sign.serial, path, sizeof(path));
	get(path, &ex);
	assert_int_equal(ex.status, 200);
	assert_non_null(strstr(ex.body, "\"kind\":\"sign\""));
	assert_non_null(strstr(ex.body, "\"status\":\"good\""));
	assert_non_null(strstr(ex.body, "\"not_after\":\""));
	store_serial_to_hex(&pair.auth.serial, hex);
	snprintf(expect, sizeof(expect), "\"pair\":{\"kind\":\"auth\",\"serial\":\"%s\"}", hex);
	assert_non_null(strstr(ex.body, expect));
	assert_non_null(strstr(ex.body, "\"replaced_by\":null"));
	assert_null(strstr(ex.body, "revoked_at"));
	/* Never the four items. */
	assert_null(strstr(ex.body, "田中"));
	assert_null(strstr(ex.body, "京都"));
	assert_null(strstr(ex.body, "319750303"));

	/* Leading zeros and upper case name the same serial. */
	char upper[128] = "/v1/certs/sign/00";
	store_serial_to_hex(&pair.sign.serial, hex);
	for (size_t i = 0; hex[i]; i++)
		hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	strcat(upper, hex);
	get(upper, &ex);
	assert_int_equal(ex.status, 200);
}

static void test_revoked_and_renewed(void **state)
{
	char err[CA_ERR_LEN], path[128], hex[41], expect[128];
	struct ca_issued renewed;
	assert_int_equal(
	        ca_event(ca, CERT_KIND_AUTH, &pair.auth.serial, CA_EVENT_RENEW, "t", &renewed, err),
	        0);
	struct exchange ex;
	path_of("auth", &pair.auth.serial, path, sizeof(path));
	get(path, &ex);
	assert_int_equal(ex.status, 200);
	assert_non_null(strstr(ex.body, "\"status\":\"revoked\""));
	assert_non_null(strstr(ex.body, "\"reason\":\"superseded\""));
	assert_non_null(strstr(ex.body, "\"revoked_at\":\""));
	store_serial_to_hex(&renewed.auth.serial, hex);
	snprintf(expect, sizeof(expect), "\"replaced_by\":{\"kind\":\"auth\",\"serial\":\"%s\"}",
	         hex);
	assert_non_null(strstr(ex.body, expect));

	path_of("auth", &renewed.auth.serial, path, sizeof(path));
	get(path, &ex);
	store_serial_to_hex(&pair.auth.serial, hex);
	snprintf(expect, sizeof(expect), "\"replaces\":{\"kind\":\"auth\",\"serial\":\"%s\"}", hex);
	assert_non_null(strstr(ex.body, expect));
	ca_issued_free(&renewed);
}

static void test_errors(void **state)
{
	struct exchange ex;
	static const struct {
		const char *path;
		int status;
	} cases[] = {
	        {"/v1/certs/sign/zz", 400},
	        {"/v1/certs/sign/", 400},
	        {"/v1/certs/sign/0123456789012345678901234567890123456789ab", 400},
	        {"/v1/certs/sign/12/34", 400},
	        {"/v1/certs/sign/0102030405", 404},
	        {"/v1/certs/both/01", 404},
	        {"/v1/certs/sign", 404},
	        {"/v1/certs/", 404},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		get(cases[i].path, &ex);
		assert_int_equal(ex.status, cases[i].status);
		assert_non_null(strstr(ex.body, "\"error\""));
	}
	/* The sign serial is not a user-auth certificate. */
	char path[128];
	path_of("auth", &pair.sign.serial, path, sizeof(path));
	get(path, &ex);
	assert_int_equal(ex.status, 404);
}

static void test_path_parse(void **state)
{
	enum cert_kind kind;
	struct store_serial serial;
	assert_int_equal(lookup_path_parse("/v1/certs/auth/7f", 17, &kind, &serial), 0);
	assert_int_equal(kind, CERT_KIND_AUTH);
	assert_int_equal(serial.len, 1);
	assert_int_equal(serial.bytes[0], 0x7f);
	assert_int_equal(lookup_path_parse("/v1/certs/auth/80", 17, &kind, &serial), 0);
	assert_int_equal(serial.len, 2); /* 0x00 keeps it positive */
	assert_int_equal(lookup_path_parse("/v1/certs/auth/8", 15, &kind, &serial), -EINVAL);
	assert_int_equal(lookup_path_parse("/v2/certs/auth/80", 17, &kind, &serial), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_route),
	        cmocka_unit_test(test_good_certificate_with_links),
	        cmocka_unit_test(test_revoked_and_renewed),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_path_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
