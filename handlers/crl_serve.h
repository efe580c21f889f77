/* /crl/{sign,auth}.crl and /crl/{sign,auth}-delta.crl: the published CRLs
 * (DIR/crl/) served from memory with validators for conditional GET. The
 * family also runs this worker's CRL publisher (crl_publisher.h), which
 * regenerates them on a schedule and after revocations. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct handler_family;

/** Adds the four CRL routes (GET and HEAD), loads the published files,
 * starts the timer that reloads replaced files (crl.check_interval, files up
 * to crl.max_bytes) and starts the publisher (its settings in
 * crl_publisher.h); both timers stop when the worker drains. */
extern const struct handler_family crl_family;

