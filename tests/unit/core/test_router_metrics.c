/* The router's matching rules and the metrics registry's exposition format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/metrics.h"
#include "core/readiness.h"
#include "core/reload.h"

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

/* "/" (the status page) is an exact path: other unknown paths stay 404. */
static void test_router_root_is_exact(void **state)
{
	struct router *r = router_new();
	assert_int_equal(router_add(r, "/", HTTP_METHOD_GET, ROUTE_OPEN, &health), 0);
	assert_int_equal(router_add(r, "/crl/", HTTP_METHOD_GET, ROUTE_OPEN, &crl), 0);
	unsigned allowed = 0;
	assert_string_equal(match_name(r, HTTP_METHOD_GET, "/", 1, &allowed), "health");
	assert_null(router_match(r, HTTP_METHOD_GET, "/nope", 5, &allowed));
	assert_int_equal(allowed, 0);
	assert_null(router_match(r, HTTP_METHOD_POST, "/ocsp", 5, &allowed));
	assert_int_equal(allowed, 0);
	assert_string_equal(match_name(r, HTTP_METHOD_GET, "/crl/a", 6, &allowed), "crl");
	/* routes are looked up by the byte after '/': any byte, or none */
	assert_null(router_match(r, HTTP_METHOD_GET, "", 0, &allowed));
	assert_null(router_match(r, HTTP_METHOD_GET, "/\xff", 2, &allowed));
	assert_null(router_match(r, HTTP_METHOD_GET, "c", 1, &allowed));
	router_free(r);
}

/* core knows no role names: any bit will do. */
#define SOME_ROLE ((core_role_set)1 << 3)

static core_role_set asked_roles;
static int access_calls;
static bool access_answer;
static bool record_access(void *arg, struct handler *h, struct exchange *ex, core_role_set roles)
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
	assert_int_equal(router_add(r, "/v1/admin/", HTTP_METHOD_POST, SOME_ROLE, &v1), 0);
	assert_int_equal(router_add(r, "/healthz", HTTP_METHOD_GET, ROUTE_OPEN, &health), 0);
	struct handler *g = router_match(r, HTTP_METHOD_POST, "/v1/admin/x", 11, NULL);
	assert_non_null(g);
	handled = access_calls = 0;
	access_answer = false;
	g->on_request(g, NULL);
	assert_int_equal(access_calls, 1);
	assert_int_equal(asked_roles, SOME_ROLE);
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

/* The whole exposition as a NUL-terminated string (caller frees). */
static char *render_all(void)
{
	struct buf b = {0};
	assert_int_equal(metrics_render(&b), 0);
	buf_append(&b, "", 1);
	return (char *)b.data;
}

static void assert_line(const char *text, const char *line)
{
	char want[256];
	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("missing line \"%s\" in:\n%s", line, text);
}

/* Worker 1 as another process: registers in another order, adds a series
 * worker 0 never saw, and exits. */
static void other_worker(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		metrics_reset(); /* the parent's handles; the area stays */
		metrics_set_worker(1);
		const double bounds[] = {0.1, 1};
		metric_observe(metrics_histogram("t_seconds", NULL, "Latency.", bounds, 2), 0.5);
		metric_set(metrics_gauge_merged("t_lag", NULL, "Lag.", METRICS_MERGE_MAX), 7);
		metric_set(metrics_gauge("t_open", NULL, "Open."), 3);
		metric_add(metrics_counter("t_total", "code=\"404\"", "Requests."), 5);
		metric_add(metrics_counter("t_total", "code=\"200\"", "Requests."), 4);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_metrics_merge_workers(void **state)
{
	assert_int_equal(metrics_setup(3, 0), 0);
	metrics_set_worker(0);
	struct metric *ok = metrics_counter("t_total", "code=\"200\"", "Requests.");
	struct metric *open = metrics_gauge("t_open", NULL, "Open.");
	struct metric *lag = metrics_gauge_merged("t_lag", NULL, "Lag.", METRICS_MERGE_MAX);
	const double bounds[] = {0.1, 1};
	struct metric *h = metrics_histogram("t_seconds", NULL, "Latency.", bounds, 2);
	metric_add(ok, 2);
	metric_set(open, 5);
	metric_set(lag, 1);
	metric_observe(h, 0.05);
	other_worker();
	/* worker 2 in this process: the handles move to its slot */
	metrics_set_worker(2);
	metric_add(ok, 10);
	metric_set(open, 1);
	metric_set(lag, 2);
	char *text = render_all();
	assert_line(text, "t_total{code=\"200\"} 16");
	assert_line(text, "t_total{code=\"404\"} 5");
	assert_line(text, "t_open 9");
	assert_line(text, "t_lag 7");
	assert_line(text, "t_seconds_bucket{le=\"0.1\"} 1");
	assert_line(text, "t_seconds_bucket{le=\"1\"} 2");
	assert_line(text, "t_seconds_count 2");
	assert_line(text, "t_seconds_sum 0.55");
	/* one family, one HELP/TYPE, both series under it */
	assert_non_null(strstr(text, "# TYPE t_total counter\nt_total{code=\"200\"} 16\n"
	                             "t_total{code=\"404\"} 5\n"));
	assert_true(metric_value(ok) == 16);
	free(text);

	/* Worker 1 dies: its gauges drop out, its counters stay; its successor
	 * continues from where it was. */
	metrics_worker_exited(1);
	text = render_all();
	assert_line(text, "t_total{code=\"200\"} 16");
	assert_line(text, "t_open 6");
	assert_line(text, "t_lag 2");
	assert_line(text, "t_seconds_count 2");
	free(text);
	metrics_set_worker(1);
	metric_add(ok, 1);
	assert_true(metric_value(ok) == 17);
	metrics_teardown();
}

static double read_value(void *arg)
{
	return *(const double *)arg;
}

/* A read counter or gauge merged METRICS_MERGE_OWN shows what the worker
 * answering the scrape has just read (a count kept in a shared store), never
 * a sum with, or another worker's stale, reading. */
static void test_metrics_read_own(void **state)
{
	(void)state;
	assert_int_equal(metrics_setup(2, 0), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		metrics_reset();
		metrics_set_worker(1);
		static double stale = 100;
		metrics_counter_read("t_signed_total", "purpose=\"live\"", "Signed.", read_value,
		                     &stale);
		metrics_gauge_read("t_age_seconds", NULL, "Age.", METRICS_MERGE_OWN, read_value,
		                   &stale);
		char *text = render_all();
		free(text);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	metrics_set_worker(0);
	double current = 140, age = 3;
	struct metric *m = metrics_counter_read("t_signed_total", "purpose=\"live\"", "Signed.",
	                                        read_value, &current);
	metrics_gauge_read("t_age_seconds", NULL, "Age.", METRICS_MERGE_OWN, read_value, &age);
	current = 150;
	char *text = render_all();
	assert_line(text, "t_signed_total{purpose=\"live\"} 150");
	assert_line(text, "t_age_seconds 3");
	assert_non_null(strstr(text, "# TYPE t_signed_total counter\n"));
	assert_true(metric_value(m) == 150);
	free(text);
	metrics_teardown();
}

struct seen_series {
	int count;
	double value_sum;
	uint64_t first_bucket;
	size_t bound_count;
	char labels[64];
};

static void seen_cb(const struct metrics_series_view *v, void *arg)
{
	struct seen_series *seen = arg;
	seen->count++;
	seen->value_sum += v->value;
	if (v->buckets)
		seen->first_bucket += v->buckets[0];
	seen->bound_count = v->bound_count;
	snprintf(seen->labels, sizeof(seen->labels), "%s", v->labels);
}

/* metrics_each visits one family's series with values merged over workers,
 * as /metrics shows them; the area knows its workers and its start. */
static void test_metrics_each(void **state)
{
	assert_int_equal(metrics_setup(2, 0), 0);
	assert_int_equal(metrics_worker_count(), 2);
	assert_true(metrics_started_at() > 1e9);
	metrics_set_worker(0);
	struct metric *a = metrics_counter("e_total", "route=\"a\"", "Requests.");
	struct metric *b = metrics_counter("e_total", "route=\"b\"", "Requests.");
	metrics_counter("e_total_other", NULL, "A longer name is another family.");
	const double bounds[] = {0.1, 1};
	struct metric *h = metrics_histogram("e_seconds", "route=\"a\"", "Latency.", bounds, 2);
	metric_add(a, 2);
	metric_observe(h, 0.05);
	metrics_set_worker(1);
	metric_add(a, 3);
	metric_add(b, 4);
	metric_observe(h, 5);
	struct seen_series seen = {0};
	assert_int_equal(metrics_each("e_total", seen_cb, &seen), 2);
	assert_int_equal(seen.count, 2);
	assert_true(seen.value_sum == 9);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(metrics_each("e_seconds", seen_cb, &seen), 1);
	assert_true(seen.value_sum == 2); /* a histogram's count */
	assert_int_equal(seen.bound_count, 2);
	assert_int_equal(seen.first_bucket, 1);
	assert_string_equal(seen.labels, "route=\"a\"");
	assert_int_equal(metrics_each("e_missing", seen_cb, &seen), 0);
	metrics_teardown();
}

static void test_metrics_registry_full(void **state)
{
	assert_int_equal(metrics_setup(1, 64), 0);
	char name[32];
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "t_c%d_total", i);
		assert_non_null(metrics_counter(name, NULL, "c"));
	}
	assert_null(metrics_counter("t_one_more_total", NULL, "c"));
	metric_add(NULL, 1); /* ignored */
	/* existing series are still found */
	assert_non_null(metrics_counter("t_c3_total", NULL, "c"));
	assert_int_equal(metrics_setup(1, 64), -EBUSY);
	metrics_teardown();
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

/* A module that goes away takes its own checks with it and no one else's:
 * the last one kept is still where the next registration links. */
static void test_readiness_unregister(void **state)
{
	int a = 1, b = 0;
	readiness_register("a1", check_fails, &a);
	readiness_register("b", check_fails, &b);
	readiness_register("a2", check_fails, &a);
	readiness_unregister(check_fails, &a);
	readiness_register("c", check_fails, &b);
	struct buf out = {0};
	assert_true(readiness_evaluate(&out));
	buf_append(&out, "", 1);
	assert_string_equal((char *)out.data,
	                    "{\"ready\":true,\"checks\":{\"b\":\"ok\",\"c\":\"ok\"}}\n");
	buf_free(&out);
	readiness_unregister(check_fails, &b);
	out = (struct buf){0};
	assert_true(readiness_evaluate(&out));
	buf_append(&out, "", 1);
	assert_string_equal((char *)out.data, "{\"ready\":true,\"checks\":{}}\n");
	buf_free(&out);
	readiness_reset();
}

static void count_reload(void *arg)
{
	(*(int *)arg)++;
}

static void test_reload_unregister(void **state)
{
	int a = 0, b = 0;
	assert_int_equal(reload_register("a", count_reload, &a), 0);
	assert_int_equal(reload_register("b", count_reload, &b), 0);
	reload_unregister(count_reload, &b);
	assert_int_equal(reload_register("b2", count_reload, &b), 0);
	assert_int_equal(reload_run_all(), 2);
	assert_int_equal(a, 1);
	assert_int_equal(b, 1);
	reload_unregister(count_reload, &a);
	reload_unregister(count_reload, &b);
	assert_int_equal(reload_run_all(), 0);
	reload_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_router_rules),
	        cmocka_unit_test(test_router_root_is_exact),
	        cmocka_unit_test(test_router_checks_roles_first),
	        cmocka_unit_test(test_metrics_exposition),
	        cmocka_unit_test(test_metrics_merge_workers),
	        cmocka_unit_test(test_metrics_read_own),
	        cmocka_unit_test(test_metrics_each),
	        cmocka_unit_test(test_metrics_registry_full),
	        cmocka_unit_test(test_readiness),
	        cmocka_unit_test(test_readiness_unregister),
	        cmocka_unit_test(test_reload_unregister),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
