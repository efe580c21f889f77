/* The time-stamping endpoint family (handlers/tsa.c). */
#pragma once

struct handler_family;

/** Loads the time-stamping unit (DIR/ca/tsa.pem and .key, made by `kensho ca
 * init`) and routes POST /tsa (RFC 3161 over HTTP, §3.4) to it, intake role.
 * Setting: tsa.policy (docs/tsa.md). A data directory without the unit
 * still starts; /tsa then answers a rejection saying so. */
extern const struct handler_family tsa_family;
