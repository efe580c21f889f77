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

/** RFC 9110 §13.1.2: true if an If-None-Match list of entity tags names the
 * strong tag etag (with its quotes), by weak comparison; "*" never matches. */
bool crl_if_none_match(const char *value, size_t len, const char *etag);

/** Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete
 * RFC 850 and asctime forms) into unix seconds. Returns 0 or -EINVAL. */
int crl_http_date_parse(const char *text, size_t len, int64_t *out);
