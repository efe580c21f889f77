/* The admin API: POST /v1/admin/{issue,revoke,event,reload}, operator role
 * over mutual TLS only (docs/tls.md). */
#pragma once

struct handler_env;
struct router;

/** Adds the admin routes. Returns 0 or -errno. */
int admin_routes(struct router *r, const struct handler_env *env);
