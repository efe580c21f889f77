/* Caller roles for handlers: who may see what (docs/tls.md has the table).
 *
 * Routes declare the roles they need in router_add(); handlers_register_all
 * installs handler_check_access() as the router's check, so the decision is
 * made once, before any handler runs. */
#pragma once
#include <stdbool.h>

#include "core/role_set.h"

struct exchange;
struct handler;
struct handler_env;
struct peer_info;

/** kenshod's caller roles: the bits of a core_role_set. */
enum peer_role {
	PEER_ROLE_RELYING_PARTY = 1 << 0, /**< status queries */
	PEER_ROLE_PERSONAL = 1 << 1,      /**< may receive the four personal items */
	PEER_ROLE_INTAKE = 1 << 2,        /**< may submit applications */
	PEER_ROLE_OPERATOR = 1 << 3,      /**< admin API */
	PEER_ROLE_STATUS = 1 << 4,        /**< status page: operators, or local plain callers */
	PEER_ROLE_REPLICA = 1 << 5,       /**< replication snapshot and change log */
};

/** The one table of role names (role_names.c): the words a tls.policy line
 * grants roles with (relying-party, relying-party+personal, intake,
 * operator), each role's own name for role lists, and the roles a caller
 * without a certificate never gets. kenshod hands it to the TLS policy. */
extern const struct role_table handler_roles;

/** What the demo policy.conf (first start with --listen-tls, docs/tls.md)
 * grants TLS callers without a certificate. */
#define PEER_ROLES_DEMO_ANONYMOUS PEER_ROLE_RELYING_PARTY

/** The roles a caller has. Over TLS: what the client-certificate policy
 * granted (re-evaluated by the TLS layer when the policy is reloaded). On a
 * plain listener: relying-party if `plain.relying_party` is true (the
 * default), intake if `intake.allow_plain` is true, never personal or
 * operator. The status page's role comes with operator over TLS, and on a
 * plain listener to callers on a loopback address while `status.local` is
 * true (the default). */
core_role_set handler_peer_roles(const struct handler_env *env, const struct peer_info *peer);

/** The router's role check (router_access_fn; arg is the handler_env): true
 * if the caller holds every role in `roles`; otherwise answers
 * through h->on_forbidden, or 403 {"error":"forbidden","detail":...}, and
 * returns false. */
bool handler_check_access(void *env, struct handler *h, struct exchange *ex, core_role_set roles);

/** The same check for a role a handler needs beyond its route's (e.g. the
 * personal items of a lookup): true, or answers 403 and returns false. */
bool handler_require_role(struct exchange *ex, const struct handler_env *env, core_role_set roles);
