/* CRL generation for one issuer from the store's revocation index.
 *
 * A full CRL lists every revoked certificate that has not yet expired; a
 * delta lists what changed since the last full (base) CRL: certificates
 * revoked at or after the base's thisUpdate, plus revocations committed after
 * the base was generated but dated earlier (found through the change log).
 * Both are published atomically as DIR/crl/<label>.crl and
 * DIR/crl/<label>-delta.crl: a temporary file is written and fsynced, the
 * issuer's CRL numbers advance in a write transaction, the file is renamed
 * into place (fsync of the directory), and last DIR/crl/<label>.state records
 * what was published. A crash at any step leaves the old file with a state
 * that matches it, so a state behind the store's numbers means "publish
 * again" (crl_due) and never "this number is out" (a delta's base).
 *
 * Generation reads the index twice in one read transaction (pki/crl_write.h)
 * and so needs constant memory however many entries there are. It signs and
 * fsyncs: never call it on an event-loop thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/** What to generate. */
struct crl_generate_options {
	const char *data_dir; /**< DIR: keys in DIR/ca/, output in DIR/crl/ */
	const char *label;    /**< "sign" or "auth" */
	bool delta;           /**< a delta CRL on the last full one */
	const char *base_url; /**< the distribution point prefix; NULL: DIR/ca/base-url or the
	                         default */
	int64_t now;          /**< thisUpdate; 0: the current time */
	int64_t validity;     /**< nextUpdate - thisUpdate in seconds; 0: the default */
	/** A municipality's partition (its local government code, docs/crl.md
	 * "Partitions"): only the certificates issued to an address there,
	 * published as DIR/crl/<label>-<code>[-delta].crl with the partition's
	 * issuingDistributionPoint; its numbers and base are its own, kept in
	 * its state files (the caller holds the publication lock). 0: the CA's
	 * whole CRL. */
	uint32_t partition;
};

/** What was published. */
struct crl_generate_result {
	uint64_t number;      /**< the new CRL's cRLNumber */
	uint64_t base_number; /**< for a delta, the base it applies to */
	uint64_t entries;     /**< revoked certificates listed */
	uint64_t bytes;       /**< size of the DER file */
	char path[4096];      /**< where it was published */
};

/** Default nextUpdate - thisUpdate of a full CRL (seconds). */
#define CRL_FULL_VALIDITY_DEFAULT (48 * 3600)
/** Default nextUpdate - thisUpdate of a delta CRL (seconds). */
#define CRL_DELTA_VALIDITY_DEFAULT (2 * 3600)

/** Generates, signs and publishes a full or delta CRL. Returns 0, -ENOENT (no
 * such issuer, or a delta without a full CRL before it), -EPERM (the CA key
 * is readable by others), -ESTALE (another generator published first: retry),
 * or another negative errno; errors are also logged with what to do. */
int crl_generate(struct store *store, const struct crl_generate_options *opts,
                 struct crl_generate_result *result);

/** What crl_generate_partitions published. */
struct crl_partitions_result {
	uint64_t count;   /**< partitions published */
	uint64_t entries; /**< entries in all */
	uint64_t bytes;   /**< bytes in all */
	uint64_t largest; /**< the largest partition's bytes */
};

/** Generates every municipality's partition CRL (full, or with opts->delta
 * the deltas of those that have a full CRL) with crl_generate, in turn; the
 * caller holds the publication lock. opts->partition is ignored. */
int crl_generate_partitions(struct store *store, const struct crl_generate_options *opts,
                            struct crl_partitions_result *result);

/** Whether DIR/ca/crl-partitions turns partitions on (docs/crl.md). */
bool crl_partitions_enabled(const char *data_dir);

/** What was recorded beside a published CRL (DIR/crl/<label>[-delta].state). */
struct crl_state {
	uint64_t number;      /**< its cRLNumber */
	uint64_t base_number; /**< the full CRL it applies to (itself for a full CRL) */
	int64_t this_update;  /**< its thisUpdate */
	uint64_t change_seq;  /**< the change log's last sequence when it was read */
};

/** Reads the state recorded with a label's last full or delta CRL. */
int crl_state_read(const char *data_dir, const char *label, bool delta, struct crl_state *out);

/** Default cap on the refresh margin when none is configured (seconds). */
#define CRL_REFRESH_BEFORE_MAX_DEFAULT (6 * 3600)

/** When CRLs are due. */
struct crl_policy {
	int64_t full_interval;     /**< seconds between full CRLs */
	int64_t delta_after_ms;    /**< how long a revocation waits for its delta CRL */
	int64_t delta_refresh;     /**< seconds after which a delta is reissued anyway */
	int64_t refresh_before_ms; /**< reissue this long before nextUpdate; 0: a quarter of
	                              the CRL's validity, at most CRL_REFRESH_BEFORE_MAX_DEFAULT */
	int64_t min_margin_ms;     /**< never less margin than this (the check interval's
	                              slack) */
};

/** The margin before nextUpdate at which a CRL with these dates is reissued:
 * refresh_before_ms (or the default), at most half the validity, at least
 * min_margin_ms. */
int64_t crl_refresh_margin_ms(const struct crl_policy *policy, int64_t this_update,
                              int64_t next_update);

/** The caller's memory of what crl_due has already read from the change log,
 * one per label, zeroed before the first call. */
struct crl_watch {
	uint64_t delta_number; /**< the delta this scan started from */
	uint64_t scanned_seq;  /**< last change-log sequence looked at */
	int64_t pending_since; /**< time of the first revocation not on a delta; 0: none */
};

/** Decides whether a full and/or a delta CRL is due for a label: a full one
 * when there is none, its publication was interrupted (the state lags the
 * store), the file is not the one its state describes, its nextUpdate is
 * within the refresh margin, or full_interval has passed; a delta likewise,
 * or when it is not on the current full CRL, delta_after_ms has passed since
 * the first revocation it lacks, or delta_refresh since it was issued. Reads
 * the store, the state files and the published files' first bytes only, so
 * every process comes to the same answer. Returns 0, or -ENOENT when the
 * store has no such issuer. */
int crl_due(struct store *store, const char *data_dir, const char *label, int64_t now_ms,
            const struct crl_policy *policy, struct crl_watch *watch, bool *full, bool *delta);

/** The path a label's full or delta CRL is published at, written into out. */
int crl_path(const char *data_dir, const char *label, bool delta, char *out, size_t out_len);

/** The configured distribution point prefix, written into out: DIR/ca/base-url
 * (written by `kensho ca init --base-url`), else CA_DEFAULT_BASE_URL. */
void crl_base_url_read(const char *data_dir, char *out, size_t out_len);

/** The distribution point URL of a label's full or delta CRL, written into out. */
int crl_url(const char *base_url, const char *label, bool delta, char *out, size_t out_len);

/** Takes DIR/crl/.generate.lock, which every publisher holds while it
 * generates (wait: block until free, else -EAGAIN when another holds it),
 * and removes temporary files that a killed publisher left in DIR/crl/.
 * On success *fd is the lock, released with crl_publish_unlock. */
int crl_publish_lock(const char *data_dir, bool wait, int *fd);

/** Releases a lock taken by crl_publish_lock. */
void crl_publish_unlock(int fd);

/** A function called at each step of publication: "written" (the temporary
 * file is durable), "committed" (the store's numbers advanced), "renamed"
 * (the file is in place, its state not yet written). */
typedef void (*crl_publish_hook_fn)(const char *step);

/** Test seam: sets (or with NULL clears) the hook that a crash test uses to
 * stop the process between two steps. kensho's programs never set it. */
void crl_set_publish_hook(crl_publish_hook_fn hook);
