/* Wires every endpoint family into the router. Each family adds one line to
 * the table below (its `*_routes` function from its own header). */
#include "handlers/handlers.h"

#include <stddef.h>
#include <string.h>

#include "core/log.h"
#include "handlers/admin.h"
#include "handlers/crl.h"
#include "handlers/health.h"
#include "handlers/lookup.h"
#include "core/exchange.h"
#include "handlers/ocsp.h"
#include "handlers/roles.h"
#include "handlers/status.h"
#include "handlers/verify.h"

struct family {
	const char *name;
	handler_routes_fn routes;
};

static const struct family families[] = {
        {"health", health_routes},
        {"crl", crl_routes},
        {"lookup", lookup_routes},
        {"ocsp", ocsp_routes},
        {"admin", admin_routes},
        {"verify", verify_routes},
        {"intake", intake_routes},
        {"status", status_routes},
};

int handlers_register_all(struct router *r, const struct handler_env *env)
{
	/* Every route declares its roles; this is the one place they are
	 * checked (handlers/roles.h). */
	router_set_access(r, handler_check_access, (void *)env);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		int rc = families[i].routes(r, env);
		if (rc < 0) {
			/* The family has logged which file or setting failed; this
			 * line only says what it cost, in words, not a bare code. */
			log_error(
			        "%s endpoints not started: %s (see the message above for the file "
			        "or setting to fix)",
			        families[i].name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}
