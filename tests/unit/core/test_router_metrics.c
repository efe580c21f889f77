/* The router's matching rules and the metrics registry's exposition format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/metrics.h"
#include "core/readiness.h"

static int handled;
static void noop(struct handler *self, struct exchange *ex)
{
	handled++;
}

static struct handler ocsp_get = {.name = "ocsp-get", .on_request = noop},
                      ocsp_post = {.name = "ocsp-post", .on_request = noop},
                      crl = {.name = "crl", .on_request = noop},
                      health = {.name = "health", .on_request = noop},
                      v1 = {.name = "v1", .on_request = noop};

/* router_match hands out a guard named like the handler it runs. */
static const char *match_name(struct router *r, enum http_method m, const char *path, size_t len,
                              unsigned *allowed)
{
	struct handler *h = router_match(r, m, path, len, allowed);
	return h ? h->name : NULL;
}

static void test_router_rules(void **state)
{
	struct router *r = router_new();
	assert_int_equal(router_add(r, "/ocsp", HTTP_METHOD_POST, ROUTE_OPEN, &ocsp_post), 0);
	assert_int_equal(router_add(r, "/ocsp/", HTTP_METHOD_GET, ROUTE_OPEN, &ocsp_get), 0);
	assert_int_equal(
	        router_add(r, "/crl/", HTTP_METHOD_GET | HTTP_METHOD_HEAD, ROUTE_OPEN, &crl), 0);
	assert_int_equal(router_add(r, "/healthz", HTTP_METHOD_GET, ROUTE_OPEN, &health), 0);
	assert_int_equal(router_add(r, "/v1/", HTTP_METHOD_POST, ROUTE_OPEN, &v1), 0);
	assert_int_equal(router_add(r, "/ocsp", HTTP_METHOD_POST, ROUTE_OPEN, &ocsp_get), -EEXIST);
	assert_int_equal(router_add(r, "nope", HTTP_METHOD_GET, ROUTE_OPEN, &v1), -EINVAL);

	unsigned allowed = 0;
	assert_string_equal(match_name(r, HTTP_METHOD_POST, "/ocsp", 5, &allowed), "ocsp-post");
	assert_int_equal(allowed, HTTP_METHOD_POST);
	assert_string_equal(match_name(r, HTTP_METHOD_GET, "/ocsp/MEIw", 10, &allowed), "ocsp-get");
	/* GET routes answer HEAD too (RFC 9110 9.3.2) */
	assert_string_equal(match_name(r, HTTP_METHOD_HEAD, "/healthz", 8, &allowed), "health");
	assert_int_equal(allowed, HTTP_METHOD_GET | HTTP_METHOD_HEAD);
	/* a known path with the wrong method: NULL but methods reported (405) */
	assert_null(router_match(r, HTTP_METHOD_DELETE, "/healthz", 8, &allowed));
	assert_int_equal(allowed, HTTP_METHOD_GET | HTTP_METHOD_HEAD);
	/* exact match only for paths without a trailing slash */
	assert_null(router_match(r, HTTP_METHOD_GET, "/healthzz", 9, &allowed));
	assert_int_equal(allowed, 0);
	/* longest prefix wins; the path length argument is honoured */
	assert_string_equal(match_name(r, HTTP_METHOD_GET, "/crl/sign.crl", 13, &allowed), "crl");
	assert_null(router_match(r, HTTP_METHOD_GET, "/crl/sign.crl", 4, &allowed));
	router_free(r);
}

static unsigned asked_roles;
static int access_calls;
static bool access_answer;
static bool record_access(void *arg, struct handler *h, struct exchange *ex, unsigned roles)
{
	(void)ex;
	assert_ptr_equal(arg, &asked_roles);
	assert_ptr_equal(h, &v1); /* the route's own handler, for on_forbidden */
	asked_roles = roles;
	access_calls++;
	return access_answer;
}

/* The router checks a route's roles before its handler runs, and never for
 * open routes. */
static void test_router_checks_roles_first(void **state)
{
	struct router *r = router_new();
	router_set_access(r, record_access, &asked_roles);
	assert_int_equal(router_add(r, "/v1/admin/", HTTP_METHOD_POST, PEER_ROLE_OPERATOR, &v1), 0);
	assert_int_equal(router_add(r, "/healthz", HTTP_METHOD_GET, ROUTE_OPEN, &health), 0);
	struct handler *g = router_match(r, HTTP_METHOD_POST, "/v1/admin/x", 11, NULL);
	assert_non_null(g);
	handled = access_calls = 0;
	access_answer = false;
	g->on_request(g, NULL);
	assert_int_equal(access_calls, 1);
	assert_int_equal(asked_roles, PEER_ROLE_OPERATOR);
	assert_int_equal(handled, 0); /* refused: the handler never ran */
	access_answer = true;
	g->on_request(g, NULL);
	assert_int_equal(access_calls, 2);
	assert_int_equal(handled, 1);
	struct handler *open = router_match(r, HTTP_METHOD_GET, "/healthz", 8, NULL);
	open->on_request(open, NULL);
	assert_int_equal(access_calls, 2);
	assert_int_equal(handled, 2);
	router_free(r);
}

static void test_metrics_exposition(void **state)
{
	struct metric *c1 = metrics_counter("t_requests_total", "route=\"a\"", "Requests.");
	struct metric *c2 = metrics_counter("t_requests_total", "route=\"b\"", "Requests.");
	assert_ptr_equal(metrics_counter("t_requests_total", "route=\"a\"", "x"), c1);
	assert_null(metrics_gauge("t_requests_total", NULL, "wrong type"));
	metric_add(c1, 2);
	metric_add(c2, 1);
	struct metric *g = metrics_gauge("t_open", NULL, "Open.");
	metric_set(g, 5);
	metric_add(g, -1);
	const double bounds[] = {0.1, 1};
	struct metric *h = metrics_histogram("t_latency_seconds", NULL, "Latency.", bounds, 2);
	metric_observe(h, 0.05);
	metric_observe(h, 0.5);
	metric_observe(h, 5);
	assert_true(metric_value(h) == 3);

	struct buf b = {0};
	assert_int_equal(metrics_render(&b), 0);
	buf_append(&b, "", 1);
	const char *want = "# HELP t_requests_total Requests.\n"
	                   "# TYPE t_requests_total counter\n"
	                   "t_requests_total{route=\"a\"} 2\n"
	                   "t_requests_total{route=\"b\"} 1\n"
	                   "# HELP t_open Open.\n"
	                   "# TYPE t_open gauge\n"
	                   "t_open 4\n"
	                   "# HELP t_latency_seconds Latency.\n"
	                   "# TYPE t_latency_seconds histogram\n"
	                   "t_latency_seconds_bucket{le=\"0.1\"} 1\n"
	                   "t_latency_seconds_bucket{le=\"1\"} 2\n"
	                   "t_latency_seconds_bucket{le=\"+Inf\"} 3\n"
	                   "t_latency_seconds_sum 5.55\n"
	                   "t_latency_seconds_count 3\n";
	assert_string_equal((char *)b.data, want);
	buf_free(&b);
	metrics_reset();
}

static int check_fails(void *arg, char *why, size_t len)
{
	strncpy(why, "store closed", len);
	return *(int *)arg ? -EIO : 0;
}

static void test_readiness(void **state)
{
	int failing = 0;
	readiness_register("store", check_fails, &failing);
	struct buf b = {0};
	assert_true(readiness_evaluate(&b));
	buf_append(&b, "", 1);
	assert_string_equal((char *)b.data, "{\"ready\":true,\"checks\":{\"store\":\"ok\"}}\n");
	buf_reset(&b);
	failing = 1;
	assert_false(readiness_evaluate(&b));
	buf_append(&b, "", 1);
	assert_string_equal((char *)b.data,
	                    "{\"ready\":false,\"checks\":{\"store\":\"store closed\"}}\n");
	buf_free(&b);
	readiness_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_router_rules),
	        cmocka_unit_test(test_router_checks_roles_first),
	        cmocka_unit_test(test_metrics_exposition),
	        cmocka_unit_test(test_readiness),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
