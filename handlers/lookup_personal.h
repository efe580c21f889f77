/* The personal branch of GET /v1/certs/sign/{serial}?personal=1: the
 * signing certificate's four items for callers with the
 * relying-party+personal role, each disclosure audited before it is sent
 * (docs/architecture.md rule 4). */
#pragma once
#include <stdbool.h>

#include "storage/store.h"

struct buf;
struct exchange;
struct handler_env;
struct http_request;

/** True if the request asks for the four items (query personal=1). */
bool lookup_personal_requested(const struct http_request *req);

/** Answers the lookup with the four items added to the certificate's JSON
 * object in `status_json` (taken over). Refuses with 403 without the role,
 * 400 for an authentication certificate. The audit record (caller,
 * certificate, time) is committed on the thread pool before the answer. */
void lookup_personal_respond(struct exchange *ex, const struct handler_env *env,
                             const struct store_cert *cert, struct buf *status_json);
