/* Role checks shared by every endpoint family (see roles.h). */
#include "handlers/roles.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/exchange.h"
#include "handlers/handlers.h"

/* "127.0.0.1:5555", "[::1]:5555" or an IPv4-mapped "[::ffff:127.0.0.1]:5555". */
static bool peer_is_loopback(const char *address)
{
	return strncmp(address, "127.", 4) == 0 || strncmp(address, "[::1]:", 6) == 0 ||
	       strncmp(address, "[::ffff:127.", 12) == 0;
}

core_role_set handler_peer_roles(const struct handler_env *env, const struct peer_info *peer)
{
	if (!peer)
		return 0;
	const struct config *c = env ? env->config : NULL;
	if (peer->tls) {
		/* The status page is the operator's; over TLS only their
		 * certificate opens it. */
		core_role_set granted = peer->roles;
		if (granted & PEER_ROLE_OPERATOR)
			granted |= PEER_ROLE_STATUS;
		return granted;
	}
	/* docs/architecture.md rule 4: personal data and the admin API only to callers a
	 * certificate identified, so plain HTTP can at most ask for status, and
	 * submit applications where the operator allowed it on a trusted
	 * network (docs/intake.md). */
	/* The answer depends only on the configuration and on whether the peer
	 * is on loopback: remembered per configuration version, so the three
	 * lookups below run once, not on every plain-HTTP request. */
	bool loopback = peer_is_loopback(peer->address);
	static _Thread_local struct {
		uint64_t version; /* 0: empty */
		core_role_set roles;
	} remembered[2];
	uint64_t version = config_version(c);
	if (version && remembered[loopback].version == version)
		return remembered[loopback].roles;
	core_role_set roles = 0;
	if (!c || config_get_bool(c, "plain.relying_party", true))
		roles |= PEER_ROLE_RELYING_PARTY;
	if (c && config_get_bool(c, "intake.allow_plain", false))
		roles |= PEER_ROLE_INTAKE;
	/* Someone on the machine itself may read the status page over plain
	 * HTTP (docs/operators-guide.md): it shows counts and dates, never a
	 * certificate's holder, and the loopback address cannot be forged over
	 * TCP. */
	if (loopback && (!c || config_get_bool(c, "status.local", true)))
		roles |= PEER_ROLE_STATUS;
	remembered[loopback].version = version;
	remembered[loopback].roles = roles;
	return roles;
}

/* How a refusal names a missing role: by the policy word that grants it
 * with the fewest others ("relying-party+personal" for personal), else by
 * its own name. */
static const char *role_name(core_role_set role)
{
	const struct role_name *best = NULL;
	for (size_t i = 0; i < handler_roles.count; i++) {
		const struct role_name *r = &handler_roles.names[i];
		if (r->grantable && (r->roles & role) &&
		    (!best || __builtin_popcount(r->roles) < __builtin_popcount(best->roles)))
			best = r;
	}
	const char *own = role_table_name(&handler_roles, role);
	return best ? best->name : own ? own : "another";
}

/* Says which role is missing and, for plain callers, what would give it. */
static void refusal_detail(const struct peer_info *peer, core_role_set missing, char *out,
                           size_t out_len)
{
	core_role_set first = core_role_set_first(missing);
	const char *how = "";
	if (!peer || !peer->tls) {
		if (first == PEER_ROLE_RELYING_PARTY)
			how = " (plain HTTP callers have it only while plain.relying_party is "
			      "true; "
			      "or use TLS with a client certificate)";
		else if (first == PEER_ROLE_STATUS)
			how = ": a TLS client certificate with the operator role, or plain HTTP "
			      "from "
			      "a loopback address while status.local is true";
		else if (first == PEER_ROLE_INTAKE)
			how = " over TLS (a client certificate); plain HTTP is refused while "
			      "intake.allow_plain is false";
		else
			how = " and a TLS client certificate";
	} else if (!peer->client_cert) {
		how = " (present a client certificate the policy grants it)";
	} else {
		how = " (the client-certificate policy does not grant it to this certificate)";
	}
	snprintf(out, out_len, "this endpoint needs the %s role%s", role_name(first), how);
}

bool handler_check_access(void *arg, struct handler *h, struct exchange *ex, core_role_set roles)
{
	const struct handler_env *env = arg;
	const struct http_request *req = exchange_request(ex);
	core_role_set have = handler_peer_roles(env, req->peer);
	if (core_role_set_has(have, roles))
		return true;
	char detail[256];
	refusal_detail(req->peer, core_role_set_missing(have, roles), detail, sizeof(detail));
	if (h && h->on_forbidden)
		h->on_forbidden(h, ex, detail);
	else
		exchange_respond_error(ex, 403, HTTP_ERROR_FORBIDDEN, detail);
	return false;
}

bool handler_require_role(struct exchange *ex, const struct handler_env *env, core_role_set roles)
{
	return handler_check_access((void *)env, NULL, ex, roles);
}
