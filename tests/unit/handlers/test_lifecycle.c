/* The endpoint families' lifecycle (handlers/handlers.h): each family, and
 * all of them through the registry, started on a loop of its own against a
 * real data directory, then disposed of; the loop must close cleanly
 * (uv_loop_close returns 0) with no handle left for anyone to sweep, and no
 * /readyz check or SIGHUP hook may outlive its family. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "ca/ca.h"
#include "ca/crl_issue.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/readiness.h"
#include "core/reload.h"
#include "handlers/admin.h"
#include "handlers/crl_serve.h"
#include "handlers/handlers.h"
#include "handlers/health.h"
#include "handlers/lookup.h"
#include "handlers/ocsp.h"
#include "handlers/status.h"
#include "handlers/verify.h"
#include "storage/store.h"

static char dir[256];
static struct store *store;

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kensho-test-lifecycle-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char err[CA_ERR_LEN];
	if (ca_init(dir, NULL, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	struct store_options defaults = {0};
	return ca_store_open_with(dir, &defaults, &store);
}

static int group_teardown(void **state)
{
	(void)state;
	store_close(store);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- a loop of one's own ---------------------------------------------------------- */

struct fixture {
	uv_loop_t loop;
	struct router *router;
	struct config *config;
	struct handler_env env;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->router = router_new();
	f->config = config_new();
	assert_non_null(f->router);
	assert_non_null(f->config);
	f->env = (struct handler_env){&f->loop, store, f->config, dir};
}

static void count_handle_cb(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}

static int handles_left(uv_loop_t *loop)
{
	int n = 0;
	uv_walk(loop, count_handle_cb, &n);
	return n;
}

static void turn_done_cb(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, NULL);
}

/* One turn of the loop, in which every timer due at once fires. The
 * families' own handles do not keep a loop alive (kenshod's listeners do),
 * so a timer of the test's holds it for that turn. */
static void fixture_turn(struct fixture *f)
{
	uv_timer_t turn;
	assert_int_equal(uv_timer_init(&f->loop, &turn), 0);
	assert_int_equal(uv_timer_start(&turn, turn_done_cb, 0, 0), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_true(uv_is_closing((uv_handle_t *)&turn));
	uv_run(&f->loop, UV_RUN_NOWAIT); /* its close callback */
}

/* Runs the loop to its end: every close callback and pool job done. */
static void fixture_drain(struct fixture *f)
{
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(handles_left(&f->loop), 0);
}

static void fixture_close(struct fixture *f)
{
	assert_int_equal(uv_loop_close(&f->loop), 0);
	router_free(f->router);
	config_free(f->config);
}

/* True if /readyz currently runs a check of that name. */
static bool readiness_has(const char *name)
{
	struct buf b = {0};
	readiness_evaluate(&b);
	buf_append(&b, "", 1);
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\":", name);
	bool found = strstr((const char *)b.data, quoted) != NULL;
	buf_free(&b);
	return found;
}

/* --- one family at a time ------------------------------------------------------------ */

static const struct handler_family *const each_family[] = {
        &health_family, &crl_family,    &lookup_family, &ocsp_family,
        &admin_family,  &verify_family, &intake_family, &status_family,
};

/* Started, given one turn of the loop (timers due at once fire: the CRL
 * family stats its files and queues a generation), stopped while that work
 * is still in flight, run to the end, freed: the loop closes cleanly. */
static void test_each_family_closes_its_loop(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(each_family) / sizeof(each_family[0]); i++) {
		const struct handler_family *family = each_family[i];
		struct fixture f;
		fixture_init(&f);
		void *context = NULL;
		assert_int_equal(family->on_context_init(f.router, &f.env, &context), 0);
		assert_non_null(context);
		fixture_turn(&f);
		if (family->on_context_dispose)
			family->on_context_dispose(context);
		fixture_drain(&f);
		family->dispose(context);
		fixture_close(&f);
	}
	assert_false(readiness_has("crl"));
	assert_int_equal(reload_run_all(), 0);
}

/* The CRL publisher's first job, queued before the drain, finishes its
 * publication before the loop can end. */
static void test_crl_publication_in_flight_completes(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/crl/sign.crl", dir);
	unlink(path);
	struct fixture f;
	fixture_init(&f);
	void *context = NULL;
	assert_int_equal(crl_family.on_context_init(f.router, &f.env, &context), 0);
	assert_true(readiness_has("crl"));
	fixture_turn(&f);
	crl_family.on_context_dispose(context);
	fixture_drain(&f);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
	crl_family.dispose(context);
	assert_false(readiness_has("crl"));
	fixture_close(&f);
}

/* --- every family through the registry ----------------------------------------------- */

static void test_registry_starts_and_disposes_all(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct handlers_context *hc = NULL;
	assert_int_equal(handlers_context_init(f.router, &f.env, &hc), 0);
	assert_non_null(hc);
	assert_true(readiness_has("crl"));
	assert_int_equal(reload_run_all(), 1); /* ocsp's responder keys */
	unsigned allowed = 0;
	assert_non_null(router_match(f.router, HTTP_METHOD_GET, "/crl/sign.crl", 13, &allowed));
	fixture_turn(&f);
	handlers_context_dispose(hc);
	handlers_context_dispose(hc); /* the second time does nothing */
	fixture_drain(&f);
	handlers_dispose(hc);
	assert_false(readiness_has("crl"));
	assert_int_equal(reload_run_all(), 0);
	fixture_close(&f);
}

/* A family that refuses its settings stops the start; the families started
 * before it are disposed of like after a drain. */
static void test_registry_failed_start_disposes_the_started(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	assert_int_equal(config_set(f.config, "ocsp.responder_id", "by-nothing"), 0);
	struct handlers_context *hc = NULL;
	assert_int_equal(handlers_context_init(f.router, &f.env, &hc), -EINVAL);
	assert_non_null(hc); /* health, crl and lookup had started */
	fixture_drain(&f);
	handlers_dispose(hc);
	assert_false(readiness_has("crl"));
	fixture_close(&f);
}

/* A family that fails halfway leaves its half-made context to the disposal
 * hooks: here the CRL family's second route is taken already. */
static void dummy_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	(void)ex;
}

static void test_half_made_context_is_disposed(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct handler taken = {.name = "taken", .on_request = dummy_on_request};
	assert_int_equal(
	        router_add(f.router, "/crl/sign-delta.crl", HTTP_METHOD_GET, ROUTE_OPEN, &taken),
	        0);
	struct handlers_context *hc = NULL;
	assert_int_equal(handlers_context_init(f.router, &f.env, &hc), -EEXIST);
	assert_non_null(hc);
	fixture_drain(&f);
	handlers_dispose(hc); /* the CRL family's readiness check goes with it */
	assert_false(readiness_has("crl"));
	fixture_close(&f);
}

/* A CRL found expired at start is reported, not served, from the first
 * request on (the family names whether anyone here could have replaced it). */
static void test_crl_expired_at_start(void **state)
{
	(void)state;
	struct crl_generate_options old = {.data_dir = dir,
	                                   .label = "auth",
	                                   .now = (int64_t)time(NULL) - 7200,
	                                   .validity = 60};
	struct crl_generate_result result;
	assert_int_equal(crl_generate(store, &old, &result), 0);
	struct fixture f;
	fixture_init(&f);
	assert_int_equal(config_set(f.config, "crl.generate", "false"), 0);
	void *context = NULL;
	assert_int_equal(crl_family.on_context_init(f.router, &f.env, &context), 0);
	struct buf b = {0};
	assert_false(readiness_evaluate(&b));
	buf_append(&b, "", 1);
	assert_non_null(strstr((const char *)b.data, "/crl/auth.crl expired at"));
	buf_free(&b);
	crl_family.on_context_dispose(context);
	fixture_drain(&f);
	crl_family.dispose(context);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_each_family_closes_its_loop),
	        cmocka_unit_test(test_crl_publication_in_flight_completes),
	        cmocka_unit_test(test_registry_starts_and_disposes_all),
	        cmocka_unit_test(test_registry_failed_start_disposes_the_started),
	        cmocka_unit_test(test_half_made_context_is_disposed),
	        cmocka_unit_test(test_crl_expired_at_start),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
