/* Each CA's authority revocation list (ARL): the certificates a CA issues
 * that are not a person's (its delegated OCSP responder; for the signing CA
 * also the time-stamping unit) and that were revoked.
 *
 * The CA certificates name it, as the real ones do, by a cRLDistributionPoint
 * that is the CA's own DN as a directoryName; the responder's and the unit's
 * certificates name it by that directoryName and by its URL
 * (<base>/crl/<label>/arl.crl). Its issuingDistributionPoint carries the same
 * two names and neither onlyContainsUserCerts nor onlyContainsCACerts
 * (docs/crl.md, "The authority revocation list", says why).
 *
 * What is revoked is kept in DIR/ca/<label>-arl.list, one line per
 * certificate ("<serial hex> <revocation unix time> <reason code>"), replaced
 * atomically under the CRL publication lock; the ARL is published as
 * DIR/crl/<label>-arl.crl with DIR/crl/<label>-arl.state beside it, on the
 * same schedule as the full CRLs (crl_issue.h). It is tiny (a handful of
 * entries), so it is built in memory. Functions sign and fsync: never call
 * them on an event-loop thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/crl_issue.h"
#include "common/vocab.h"

/** The most certificates one ARL lists (the list file is refused beyond). */
#define ARL_ENTRIES_MAX 4096

/** The path a label's ARL is published at. */
int arl_path(const char *data_dir, const char *label, char *out, size_t out_len);

/** The URL a label's ARL is served at: <base_url>/crl/<label>/arl.crl. */
int arl_url(const char *base_url, const char *label, char *out, size_t out_len);

/** Adds a certificate of the label's CA to its ARL list (durably, under the
 * publication lock). -EALREADY if it is on it, -ENOSPC beyond
 * ARL_ENTRIES_MAX. The ARL itself is published by arl_generate. */
int arl_revoke(const char *data_dir, const char *label, const uint8_t *serial, size_t serial_len,
               int64_t revoked_at, enum crl_reason reason);

/** Whether a serial is on the label's ARL list (0 no, 1 yes, or -errno). */
int arl_listed(const char *data_dir, const char *label, const uint8_t *serial, size_t serial_len);

/** Generates, signs and publishes the label's ARL (the caller holds the
 * publication lock, or no other publisher runs): base_url NULL is
 * DIR/ca/base-url's, now 0 the current time, validity 0
 * CRL_FULL_VALIDITY_DEFAULT. -ENOENT without the CA's files. */
int arl_generate(const char *data_dir, const char *label, const char *base_url, int64_t now,
                 int64_t validity, struct crl_generate_result *result);

/** Whether the label's ARL is due: none published, not the one its state
 * describes, its list changed, its nextUpdate within the refresh margin, or
 * policy->full_interval passed. -ENOENT when the CA has no files here. */
int arl_due(const char *data_dir, const char *label, int64_t now_ms,
            const struct crl_policy *policy, bool *due);
