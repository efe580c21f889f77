/* Caller roles for handlers: who may see what (docs/tls.md has the table).
 *
 * Routes declare the roles they need in router_add(); handlers_register_all
 * installs handler_check_access() as the router's check, so the decision is
 * made once, before any handler runs. */
#pragma once
#include <stdbool.h>

struct exchange;
struct handler;
struct handler_env;
struct peer_info;

/** The roles a caller has. Over TLS: what the client-certificate policy
 * granted (re-evaluated by the TLS layer when the policy is reloaded). On a
 * plain listener: relying-party if `plain.relying_party` is true (the
 * default), intake if `intake.allow_plain` is true, never personal or
 * operator. The status page's role comes with operator over TLS, and on a
 * plain listener to callers on a loopback address while `status.local` is
 * true (the default). */
unsigned handler_peer_roles(const struct handler_env *env, const struct peer_info *peer);

/** The router's role check (router_access_fn; arg is the handler_env): true
 * if the caller holds every PEER_ROLE_* bit in `roles`; otherwise answers
 * through h->on_forbidden, or 403 {"error":"forbidden","detail":...}, and
 * returns false. */
bool handler_check_access(void *env, struct handler *h, struct exchange *ex, unsigned roles);

/** The same check for a role a handler needs beyond its route's (e.g. the
 * personal items of a lookup): true, or answers 403 and returns false. */
bool handler_require_role(struct exchange *ex, const struct handler_env *env, unsigned roles);
