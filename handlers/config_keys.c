/* The endpoint families' keys, declared once for kenshod's validation and
 * the reference (core/config.h says how to add one). Each family reads its
 * keys in its own file with the same defaults: plain.* in roles.c, ocsp.* in
 * ocsp.c, crl.* in crl_serve.c and crl_publisher.c, verify.* in verify.c,
 * intake.* in intake.c, status.* in roles.c, tsa.* in tsa.c. */
#include "handlers/config_keys.h"

#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)
#define MIB    (1024LL * 1024)
#define GIB    (1024LL * MIB)

const struct config_key handlers_config_keys[] = {
        {"plain.relying_party", CONFIG_BOOL, "true", NULL, 0, 0, NULL,
         "plain-HTTP callers get the relying-party role", false},
        {"ocsp.validity", CONFIG_DURATION, "1h", "ms", MINUTE, 366 * DAY, NULL,
         "nextUpdate - thisUpdate of signed OCSP responses", false},
        {"ocsp.refresh_before", CONFIG_DURATION, NULL, "ms", 0, 366 * DAY, NULL,
         "re-sign a cached response when less than this is left; default a quarter of "
         "ocsp.validity",
         false},
        {"ocsp.responder_id", CONFIG_ENUM, "by-key", NULL, 0, 0, "by-key|by-name",
         "ResponderID: SHA-1 of the responder's public key, or its subject", false},
        {"ocsp.key_type", CONFIG_ENUM, NULL, NULL, 0, 0, "rsa|ecdsa",
         "the responder keys must be of this type (default: any)", false},
        {"ocsp.max_inflight_signs", CONFIG_INT, "32", "signatures", 0, 1000000, NULL,
         "live signings queued or running per process; beyond: tryLater", false},
        {"ocsp.cached_only", CONFIG_BOOL, "false", NULL, 0, 0, NULL,
         "answer only from the store's pre-signed answers, without responder keys (a "
         "replica; on with --replica-of); an answer that needs signing is tryLater",
         false},
        {"ocsp.refresh_rate", CONFIG_INT, "200", "signatures/s", 0, 1000000, NULL,
         "the refresher's signing budget (one refresher per data directory); 0: off",
         false},
        {"ocsp.refresh_batch", CONFIG_INT, "64", "answers", 1, 100000, NULL,
         "answers the refresher signs per write transaction", false},
        {"ocsp.batch", CONFIG_INT, "1", "certificates", 1, 32, NULL,
         "certificates of one issuer the refresher answers with one signed response "
         "(docs/ocsp.md: which clients accept more than 1)",
         false},
        {"crl.check_interval", CONFIG_DURATION, "1s", "ms", 10, HOUR, NULL,
         "how often CRL files are checked and the schedule consulted", false},
        {"crl.delta_after_ms", CONFIG_DURATION, "60000", "ms", 0, DAY, NULL,
         "a revocation waits this long for its delta CRL", false},
        {"crl.full_interval", CONFIG_DURATION, "24h", "ms", SECOND, 366 * DAY, NULL,
         "a new full CRL (and a delta on it) this often", false},
        {"crl.full_validity", CONFIG_DURATION, "48h", "ms", SECOND, 366 * DAY, NULL,
         "nextUpdate - thisUpdate of a full CRL", false},
        {"crl.delta_validity", CONFIG_DURATION, "2h", "ms", SECOND, 366 * DAY, NULL,
         "nextUpdate - thisUpdate of a delta CRL; reissued halfway", false},
        {"crl.refresh_before", CONFIG_DURATION, NULL, "ms", 0, 366 * DAY, NULL,
         "reissue a CRL this long before its nextUpdate; default a quarter of its validity, "
         "at most 6h; never more than half the validity nor less than 3 crl.check_interval",
         false},
        {"crl.base_url", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "distribution point prefix of generated CRLs; default DIR/ca/base-url", false},
        {"crl.max_bytes", CONFIG_SIZE, "512M", "bytes", 1, 64 * GIB, NULL,
         "largest CRL file a worker loads", false},
        {"crl.generate", CONFIG_BOOL, "true", NULL, 0, 0, NULL,
         "false: serve what others publish, never generate", false},
        {"verify.max_rsa_bits", CONFIG_INT, "4096", "bits", 2048, 8192, NULL,
         "largest RSA modulus accepted for a signer's key (/v1/verify, /v1/intake)", false},
        {"verify.max_rsa_exponent", CONFIG_INT, "65537", NULL, 3, 4294967295LL, NULL,
         "largest RSA public exponent accepted for a signer's key", false},
        {"intake.allow_plain", CONFIG_BOOL, "false", NULL, 0, 0, NULL,
         "also accept submissions and receipt reads on plain-HTTP listeners", false},
        {"intake.queue_max", CONFIG_INT, "1024", "submissions", 1, 1000000, NULL,
         "submissions waiting per worker before 503", false},
        {"intake.batch_max", CONFIG_INT, "64", "submissions", 1, 100000, NULL,
         "submissions per write transaction (fsync)", false},
        {"log.sth_interval", CONFIG_DURATION, "60s", "ms", SECOND, DAY, NULL,
         "how often worker 0 signs a tree head of the Merkle log, when it grew", false},
        {"replication.batch_bytes", CONFIG_SIZE, "4M", "bytes", 4096, GIB, NULL,
         "largest batch of change entries sent to a replica (at least one entry is)", false},
        {"replication.max_wait", CONFIG_DURATION, "30s", "ms", SECOND, 10 * MINUTE, NULL,
         "longest a replica's changes request is held waiting for a change", false},
        {"replication.primary", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "https://HOST:PORT of the primary this node replicates (--replica-of); unset: "
         "this node is a primary",
         false},
        {"replication.cert", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "a replica's client certificate (PEM), granted the replica role by the primary",
         false},
        {"replication.key", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "its private key (PEM, owner-only)", false},
        {"replication.ca", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "the CA (PEM) the primary's server certificate chains to", false},
        {"replication.max_lag", CONFIG_DURATION, "30s", "ms", SECOND, DAY, NULL,
         "a replica's /readyz fails once it has not held everything the primary had for "
         "this long (behind, or the primary unreachable)",
         false},
        {"replication.poll_wait", CONFIG_DURATION, "5s", "ms", SECOND, 10 * MINUTE, NULL,
         "how long a replica's long poll for changes waits on the primary", false},
        {"replication.files_interval", CONFIG_DURATION, "10s", "ms", SECOND, DAY, NULL,
         "how often a replica copies the primary's CA certificates and CRLs", false},
        {"replication.snapshot_max", CONFIG_SIZE, "4G", "bytes", MIB, 1024 * GIB, NULL,
         "largest snapshot a replica accepts (it is held in memory while written)", false},
        {"replication.snapshot_timeout", CONFIG_DURATION, "15m", "ms", SECOND, DAY, NULL,
         "how long a replica waits for the primary's snapshot to start arriving (the primary "
         "first writes a compacted copy: minutes for a large store)",
         false},
        {"replication.retain", CONFIG_INT, "100000", "changes", 1, 1000000000000LL, NULL,
         "change entries the primary's log keeps for replicas that fall behind; older "
         "ones are trimmed and such a replica takes a fresh snapshot",
         false},
        {"replication.retain_bytes", CONFIG_SIZE, "1G", "bytes", MIB, 1024 * 1024 * GIB, NULL,
         "and at most this many bytes of them (the newest entry always stays): a bulk "
         "population is not kept twice",
         false},
        {"replication.peers", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "a primary's other nodes (https://HOST:PORT, space-separated): when one of them "
         "was promoted past this node's epoch, this node takes no more writes",
         false},
        {"replication.peer_interval", CONFIG_DURATION, "2s", "ms", 100, HOUR, NULL,
         "how often a primary asks its replication.peers for their role and epoch", false},
        {"replication.sync_replicas", CONFIG_INT, "0", "replicas", 0, 64, NULL,
         "a revocation or an intake receipt is acknowledged only once this many replicas "
         "have durably applied it (0: once durable on the primary)",
         false},
        {"replication.sync_timeout", CONFIG_DURATION, "10s", "ms", 100, HOUR, NULL,
         "how long such a write waits for them before it fails (it stays committed on the "
         "primary and reaches the replicas as they catch up)",
         false},
        {"tsa.policy", CONFIG_STRING, "1.3.6.1.4.1.32473.3161.1", NULL, 0, 0, NULL,
         "TSAPolicyId of /tsa's tokens and of intake's signature timestamps; the default "
         "is a placeholder under RFC 5612's documentation arc: set your own",
         false},
        {"status.local", CONFIG_BOOL, "true", NULL, 0, 0, NULL,
         "plain-HTTP callers on a loopback address may read the status page (/, /v1/status)",
         false},
        {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, false},
};
