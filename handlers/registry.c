/* Wires every endpoint family into the router and runs their lifecycle
 * hooks. Each family adds one line to the table below (its
 * `struct handler_family` from its own header). */
#include "handlers/handlers.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/exchange.h"
#include "core/log.h"
#include "handlers/admin.h"
#include "handlers/changes.h"
#include "handlers/crl_serve.h"
#include "handlers/health.h"
#include "handlers/log.h"
#include "handlers/lookup.h"
#include "handlers/ocsp.h"
#include "handlers/replication.h"
#include "handlers/roles.h"
#include "handlers/status.h"
#include "handlers/tsa.h"
#include "handlers/verify.h"

static const struct handler_family *const families[] = {
        &health_family, &crl_family,    &lookup_family,      &ocsp_family,
        &admin_family,  &verify_family, &intake_family,      &status_family,
        &tsa_family,    &log_family,    &replication_family, &replica_refusal_family,
        &changes_family,
};

#define FAMILY_COUNT (sizeof(families) / sizeof(families[0]))

struct handlers_context {
	size_t started;               /* families[0..started) have a context */
	void *contexts[FAMILY_COUNT]; /* each family's own */
	bool disposed;                /* on_context_dispose has run */
};

int handlers_context_init(struct router *r, const struct handler_env *env,
                          struct handlers_context **out)
{
	struct handlers_context *hc = calloc(1, sizeof(*hc));
	*out = hc;
	if (!hc)
		return -ENOMEM;
	/* Every route declares its roles; this is the one place they are
	 * checked (handlers/roles.h). */
	router_set_access(r, handler_check_access, (void *)env);
	const char *primary = config_get(env->config, "replication.primary", NULL);
	bool replica = primary && *primary;
	for (size_t i = 0; i < FAMILY_COUNT; i++) {
		/* A replica holds no signing keys and takes no writes: these
		 * families stay off and replica_refusal_family answers for them. */
		if (replica && (families[i] == &intake_family || families[i] == &tsa_family ||
		                families[i] == &admin_family))
			continue;
		int rc = families[i]->on_context_init(r, env, &hc->contexts[i]);
		if (rc == 0 || hc->contexts[i])
			hc->started = i + 1; /* a half-made context is disposed of too */
		if (rc < 0) {
			/* The family has logged which file or setting failed; this
			 * line only says what it cost, in words, not a bare code. */
			log_error(
			        "%s endpoints not started: %s (see the message above for the file "
			        "or setting to fix)",
			        families[i]->name, strerror(-rc));
			handlers_context_dispose(hc);
			return rc;
		}
	}
	return 0;
}

void handlers_context_dispose(struct handlers_context *hc)
{
	if (!hc || hc->disposed)
		return;
	hc->disposed = true;
	for (size_t i = hc->started; i-- > 0;)
		if (families[i]->on_context_dispose && hc->contexts[i])
			families[i]->on_context_dispose(hc->contexts[i]);
}

void handlers_dispose(struct handlers_context *hc)
{
	if (!hc)
		return;
	for (size_t i = hc->started; i-- > 0;)
		if (hc->contexts[i]) /* NULL: skipped on a replica, or nothing made */
			families[i]->dispose(hc->contexts[i]);
	free(hc);
}
