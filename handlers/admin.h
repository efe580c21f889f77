/* The admin API: POST /v1/admin/{issue,revoke,event,reload}, operator role
 * over mutual TLS only (docs/tls.md). */
#pragma once

struct handler_family;

/** The admin routes; the CAs are opened on the first call and closed when
 * the family is disposed of. */
extern const struct handler_family admin_family;
