/* The OCSP endpoint family (handlers/ocsp.c). */
#pragma once

struct handler_family;

/** Loads a delegated responder per issuer in the store (DIR/ca/LABEL-ocsp.pem
 * and .key), reloaded on SIGHUP, and routes /ocsp and /ocsp/ to the
 * responder. Settings: ocsp.validity, ocsp.responder_id, ocsp.key_type,
 * ocsp.max_inflight_signs, ocsp.refresh_before (docs/ocsp.md). */
extern const struct handler_family ocsp_family;
