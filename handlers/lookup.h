/* GET /v1/certs/{sign|auth}/{serial hex}: a certificate's status record as
 * JSON (status, kind, validity, revocation, links). Never the four personal
 * items (docs/architecture.md rule 4). */
#pragma once
#include <stddef.h>

#include "handlers/handlers.h"
#include "storage/store.h"

/** The route prefix. */
#define LOOKUP_PREFIX "/v1/certs/"

/** Parses a request path "/v1/certs/{sign|auth}/{hex}". Returns 0, -ENOENT
 * (no such resource: answer 404) or -EINVAL (bad serial: answer 400). */
int lookup_path_parse(const char *path, size_t len, enum cert_kind *kind,
                      struct store_serial *serial);

/** GET and HEAD LOOKUP_PREFIX{sign|auth}/{serial hex}. */
extern const struct handler_family lookup_family;
