/* Liveness, readiness and metrics endpoints. Liveness says only that the loop
 * answers; readiness runs the registered checks (store open, keys loaded, not
 * draining) so a load balancer stops sending before a worker goes away. */
#include "handlers/health.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/metrics.h"
#include "core/readiness.h"
#include "handlers/handlers.h"

static void healthz_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	static const char body[] = "{\"status\":\"ok\"}\n";
	exchange_add_header(ex, "Cache-Control", "no-store");
	exchange_respond(ex, 200, "application/json", body, sizeof(body) - 1);
}

static void readyz_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	struct buf b = {0};
	bool ready = readiness_evaluate(&b);
	if (b.failed) {
		buf_free(&b);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	exchange_add_header(ex, "Cache-Control", "no-store");
	size_t len;
	uint8_t *body = buf_steal(&b, &len);
	/* RFC 9110 15.6.4: 503 tells balancers to try elsewhere for now. */
	exchange_respond_owned(ex, ready ? 200 : 503, "application/json", body, len);
}

static void metrics_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	struct buf b = {0};
	if (metrics_render(&b)) {
		buf_free(&b);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	size_t len;
	uint8_t *body = buf_steal(&b, &len);
	exchange_add_header(ex, "Cache-Control", "no-store");
	exchange_respond_owned(ex, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

struct health_context {
	struct handler healthz, readyz, metrics;
};

static int health_context_init(struct router *r, const struct handler_env *env, void **context)
{
	(void)env;
	struct health_context *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -ENOMEM;
	hc->healthz = (struct handler){.name = "healthz", .on_request = healthz_on_request};
	hc->readyz = (struct handler){.name = "readyz", .on_request = readyz_on_request};
	hc->metrics = (struct handler){.name = "metrics", .on_request = metrics_on_request};
	int rc = router_add(r, "/healthz", HTTP_METHOD_GET, ROUTE_OPEN, &hc->healthz);
	if (rc == 0)
		rc = router_add(r, "/readyz", HTTP_METHOD_GET, ROUTE_OPEN, &hc->readyz);
	if (rc == 0)
		rc = router_add(r, "/metrics", HTTP_METHOD_GET, ROUTE_OPEN, &hc->metrics);
	if (rc) {
		free(hc);
		return rc;
	}
	*context = hc;
	return 0;
}

static void health_dispose(void *context)
{
	free(context);
}

const struct handler_family health_family = {
        .name = "health",
        .on_context_init = health_context_init,
        .dispose = health_dispose,
};
