/* Role checks shared by every endpoint family (see roles.h). */
#include "handlers/roles.h"

#include <stdio.h>

#include "core/config.h"
#include "core/exchange.h"
#include "handlers/handlers.h"

unsigned handler_peer_roles(const struct handler_env *env, const struct peer_info *peer)
{
	if (!peer)
		return 0;
	if (peer->tls)
		return peer->roles;
	/* DESIGN.md rule 4: personal data and the admin API only to callers a
	 * certificate identified, so plain HTTP can at most ask for status. */
	bool anonymous = env && env->config
	                         ? config_get_bool(env->config, "plain.relying_party", true)
	                         : true;
	return anonymous ? PEER_ROLE_RELYING_PARTY : 0;
}

static const char *role_name(unsigned role)
{
	switch (role) {
	case PEER_ROLE_RELYING_PARTY: return "relying-party";
	case PEER_ROLE_PERSONAL: return "relying-party+personal";
	case PEER_ROLE_INTAKE: return "intake";
	case PEER_ROLE_OPERATOR: return "operator";
	default: return "another";
	}
}

bool handler_require_role(struct exchange *ex, const struct handler_env *env, unsigned roles)
{
	const struct http_request *req = exchange_request(ex);
	unsigned have = handler_peer_roles(env, req->peer);
	if ((have & roles) == roles)
		return true;
	unsigned missing = roles & ~have;
	unsigned first = missing & -missing;
	char detail[160];
	snprintf(detail, sizeof(detail), "this endpoint needs the %s role%s", role_name(first),
	         req->peer && req->peer->tls ? "" : " and a TLS client certificate");
	exchange_respond_error(ex, 403, HTTP_ERROR_FORBIDDEN, detail);
	return false;
}
