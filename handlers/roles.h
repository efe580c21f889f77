/* Caller roles for handlers: who may see what (docs/tls.md has the table). */
#pragma once
#include <stdbool.h>

struct exchange;
struct handler_env;
struct peer_info;

/** The roles a caller has. Over TLS: what the client-certificate policy
 * granted. On a plain listener: relying-party if `plain.relying_party` is
 * true (the default), and never personal, intake or operator. */
unsigned handler_peer_roles(const struct handler_env *env, const struct peer_info *peer);

/** True if the caller has every PEER_ROLE_* bit in `roles`; otherwise answers
 * 403 {"error":"forbidden",...} and returns false (the exchange is done). */
bool handler_require_role(struct exchange *ex, const struct handler_env *env, unsigned roles);
