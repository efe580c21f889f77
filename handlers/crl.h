/* /crl/{sign,auth}.crl and /crl/{sign,auth}-delta.crl: the published CRLs
 * (DIR/crl/) served from memory with validators for conditional GET, and
 * their regeneration on a schedule and after revocations. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct handler_family;

/** Adds the four CRL routes (GET and HEAD), loads the published files and
 * starts the timer that reloads replaced files and, when a store is at hand
 * and crl.generate is on, regenerates due CRLs on the thread pool (one
 * process at a time, by an flock on DIR/crl/.generate.lock); the timer stops
 * when the worker drains. Settings: crl.check_interval, crl.delta_after_ms,
 * crl.full_interval, crl.full_validity, crl.delta_validity, crl.base_url,
 * crl.max_bytes, crl.generate. */
extern const struct handler_family crl_family;

/** RFC 9110 §13.1.2: true if an If-None-Match list of entity tags names the
 * strong tag etag (with its quotes), by weak comparison; "*" never matches. */
bool crl_if_none_match(const char *value, size_t len, const char *etag);

/** Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete
 * RFC 850 and asctime forms) into unix seconds. Returns 0 or -EINVAL. */
int crl_http_date_parse(const char *text, size_t len, int64_t *out);
