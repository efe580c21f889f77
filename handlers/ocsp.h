/* The OCSP endpoint family (handlers/ocsp.c). */
#pragma once

struct router;
struct handler_env;

/** Loads a delegated responder per issuer in the store (DIR/ca/LABEL-ocsp.pem
 * and .key) and routes /ocsp and /ocsp/ to the responder. Settings:
 * ocsp.validity, ocsp.responder_id, ocsp.key_type, ocsp.max_inflight_signs,
 * ocsp.refresh_before (docs/ocsp.md). Returns 0 or -errno. */
int ocsp_routes(struct router *r, const struct handler_env *env);
