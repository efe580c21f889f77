/* A data directory with one issuer ("sign", the test CA of
 * tests/unit/pki/ocsp/) and its delegated responder where the OCSP service
 * looks for them, for the service's tests and bench_ocsp. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/** Creates DATA/ca/ (CA and responder files, key 0600; the ECDSA responder if
 * `ecdsa`) and DATA/store with the issuer registered. */
int ocsp_fixture_create(const char *fixtures, const char *data, bool ecdsa, struct store **out,
                        uint32_t *issuer_id);
/** Inserts a good certificate with the serial (INTEGER content octets). */
int ocsp_fixture_add_cert(struct store *s, uint32_t issuer_id, const uint8_t *serial, size_t len);
/** The test CA's certificate DER (malloc'd). */
int ocsp_fixture_ca_der(const char *fixtures, uint8_t **der, size_t *len);
