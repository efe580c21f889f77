/* The relying parties' change feed (handlers/changes.c): GET /v1/changes,
 * revocations and renewals from the store's change log, paginated by cursor,
 * relying-party role. docs/api.md. */
#pragma once

struct handler_family;

/** Routes GET /v1/changes. */
extern const struct handler_family changes_family;
