/* The operator's CA library: the two JPKI-style CAs and their OCSP
 * responders, issuing certificate pairs, revocation and the real service's
 * revocation rules, synthetic populations. The `kensho` command line, the
 * admin API and kenshod's first start all call these same functions.
 *
 * Files below DIR (the data directory):
 *   DIR/ca/{sign,auth}-ca.pem, .key     the CAs (keys mode 0600)
 *   DIR/ca/{sign,auth}-ocsp.pem, .key   their delegated OCSP responders
 *   DIR/ca/tsa.pem, tsa.key             the time-stamping unit (RFC 3161),
 *                                       issued by the signing CA
 *   DIR/ca/base-url                     where CRLs and OCSP are published
 *   DIR/store/                          the LMDB environment (storage/store.h)
 *
 * Every state change is one store write transaction together with its audit
 * record; after it commits, the changed certificates' OCSP answers are
 * pre-signed by the OCSP service (ocsp/service.h) with the responders in
 * DIR/ca. A struct ca is used by one thread at a time (its random generator
 * is not shared); write transactions fsync, so call the writing functions
 * off an event loop (uv_queue_work). Functions return 0 or a negative errno;
 * those that take `err` also write a message for people there. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

#include "storage/store.h"

/** Base URL used when `ca init` gets none. */
#define CA_DEFAULT_BASE_URL "http://127.0.0.1:8080"
/** The store's directory below DIR. */
#define CA_STORE_SUBDIR STORE_DATA_SUBDIR
/** Length of the random serial numbers kensho issues (octets, top bit clear). */
#define CA_SERIAL_LEN 16
/** Room for a message for people. */
#define CA_ERR_LEN 256

struct ca;

/** Writes DIR/store into out. Returns 0 or -ENAMETOOLONG. */
int ca_store_path(const char *data_dir, char *out, size_t cap);

/** Opens (creating if needed) the store of a data directory. */
int ca_store_open(const char *data_dir, struct store **out);

/** Like ca_store_open, with the sizes and limits of `base` (its path is
 * ignored; zero fields take the store's defaults). */
int ca_store_open_with(const char *data_dir, const struct store_options *base, struct store **out);

/** The time-stamping unit's files in a data directory. */
struct ca_tsa_files {
	char ca[PATH_MAX];   /**< DIR/ca/sign-ca.pem: the CA that issued it */
	char cert[PATH_MAX]; /**< DIR/ca/tsa.pem */
	char key[PATH_MAX];  /**< DIR/ca/tsa.key, mode 0600 */
};

/** Fills *out with the time-stamping unit's files: the one place these
 * names are built (ca init writes them, kenshod's /tsa reads them). 0 or
 * -ENAMETOOLONG. */
int ca_tsa_files(const char *data_dir, struct ca_tsa_files *out);

/** True if DIR already holds the CAs. */
bool ca_exists(const char *data_dir);

/** Creates both CAs, their OCSP responders and the time-stamping unit, writes their files, stores
 * base_url (NULL: CA_DEFAULT_BASE_URL) and registers both issuers in the
 * store. -EEXIST if the CAs exist already. */
int ca_init(const char *data_dir, const char *base_url, char err[CA_ERR_LEN]);

/** DIR/ca/ file whose presence makes end-entity certificates name their
 * municipality's CRL partition (docs/crl.md, "Partitions"). */
#define CA_CRL_PARTITIONS_FILE "crl-partitions"

/** Turns the CRL partitions of certificates issued from now on on or off
 * (`kensho ca init --crl-partitions`). */
int ca_crl_partitions_set(const char *data_dir, bool on, char err[CA_ERR_LEN]);

/** Whether this CA's end-entity certificates name CRL partitions. */
bool ca_crl_partitions(const struct ca *ca);

/** Creates the time-stamping unit in a data directory whose CAs exist but
 * that has none (made before kensho had one), with an audit record.
 * -EEXIST if DIR/ca/tsa.pem exists. */
int ca_tsa_init(const char *data_dir, char err[CA_ERR_LEN]);

/** The certificates a CA issues that are not a person's. */
enum ca_service_cert {
	CA_SERVICE_OCSP_SIGN, /**< the signing CA's delegated OCSP responder */
	CA_SERVICE_OCSP_AUTH, /**< the user-authentication CA's responder */
	CA_SERVICE_TSA,       /**< the time-stamping unit (signing CA) */
};

/** Revokes one of the CAs' service certificates: puts it on its CA's
 * authority revocation list (ca/arl_issue.h; published at the next CRL
 * check or `kensho crl --arl`) with an audit record, then makes a new key
 * and certificate in its place (kenshod's OCSP responders are re-read on
 * SIGHUP or POST /v1/admin/reload);
 * `replacement` (may be NULL) gets the new serial. */
int ca_revoke_service_cert(const char *data_dir, enum ca_service_cert which, enum crl_reason reason,
                           const char *actor, struct store_serial *replacement,
                           char err[CA_ERR_LEN]);

/** Loads the CAs of DIR (keys, certificates, base URL) and opens its store. */
int ca_open(const char *data_dir, struct ca **out, char err[CA_ERR_LEN]);
/** ca_open for a command that writes (issue, revoke, event, gen): refused
 * (-EROFS, err naming the new primary) on a primary that learnt another node
 * was promoted past its epoch (docs/cluster.md, "Promotion"). */
int ca_open_writer(const char *data_dir, struct ca **out, char err[CA_ERR_LEN]);
/** Loads the CAs like ca_open but on a store the caller already opened
 * (kenshod's, one per process); the caller keeps ownership of it. */
int ca_open_with_store(const char *data_dir, struct store *store, struct ca **out,
                       char err[CA_ERR_LEN]);
/** Closes what ca_open opened. */
void ca_close(struct ca *ca);
/** The store the CA writes. */
struct store *ca_store(struct ca *ca);
/** Makes DIR's store a primary's at the next epoch (storage: store_promote)
 * once the CA, OCSP responder and TSA keys in DIR/ca load; store is the
 * caller's open store, or NULL to open DIR's. 0 with *epoch and the log's
 * *last sequence, or -ENOKEY / another -errno with err saying why. */
int ca_promote(const char *data_dir, struct store *store, uint64_t *epoch, uint64_t *last,
               char err[CA_ERR_LEN]);
/** Blocks until every change committed so far is held by the replicas
 * kenshod's replication.sync_replicas asks for (recorded in the store; none
 * when it never ran with it). 0, or -ETIMEDOUT (or another -errno) with err
 * saying how many acknowledged. For the command line, after a write. */
int ca_sync_wait(struct ca *ca, char err[CA_ERR_LEN]);
/** The store's issuer id for a kind. */
uint32_t ca_issuer_id(const struct ca *ca, enum cert_kind kind);
/** The configured base URL. */
const char *ca_base_url(const struct ca *ca);

/** The basic four items as the operator enters them. */
struct ca_person {
	const char *name;    /**< UTF-8, family and given name separated by U+3000 */
	const char *birth;   /**< YYYY-MM-DD */
	int sex;             /**< 1 male, 2 female, 3 unknown */
	const char *address; /**< UTF-8 from the prefecture on, at most 200 characters */
};

/** An issuance. Public keys are PEM or DER SubjectPublicKeyInfo; NULL means
 * kensho generates the key pair and hands the private key back. */
struct ca_issue_request {
	struct ca_person person;
	const uint8_t *sign_pubkey;
	size_t sign_pubkey_len;
	const uint8_t *auth_pubkey;
	size_t auth_pubkey_len;
	const char *actor; /**< for the audit log: "cli" or the operator's subject */
};

/** One issued certificate; all pointers are malloc'd (freed by ca_issued_free). */
struct ca_issued_cert {
	bool issued; /**< false: not issued (signing certificate of a child) */
	struct store_serial serial;
	int64_t not_before; /**< unix seconds, as in the certificate */
	int64_t not_after;
	uint8_t *der;
	size_t der_len;
	char *key_pem;      /**< the generated private key, NULL if the caller gave the key */
	uint32_t partition; /**< the municipality's local government code (CRL partition) */
};

/** The outcome of an issuance or renewal. */
struct ca_issued {
	uint64_t person_id;
	struct ca_issued_cert sign;
	struct ca_issued_cert auth;
};

/** Writes one issued certificate as OUTDIR/KIND.pem (0644) and, when kensho
 * generated the key, OUTDIR/KIND.key (0600); nothing for a certificate that
 * was not issued. Returns 0 or -errno with err naming the file. */
int ca_issued_cert_write(const char *out_dir, const char *kind, const struct ca_issued_cert *c,
                         char err[CA_ERR_LEN]);

/** Frees what an issuance returned (wiping the private keys). */
void ca_issued_free(struct ca_issued *issued);

/** Checks the four items as ca_issue would (-EINVAL with err), so a command
 * can refuse bad input before it looks at anything else. */
int ca_person_check(const struct ca_person *person, char err[CA_ERR_LEN]);

/** Issues a person's certificate pair: both certificates, the person's four
 * items and the links, one transaction. People under 15 get no signing
 * certificate (docs/jpki.md); sign.issued is then false. */
int ca_issue(struct ca *ca, const struct ca_issue_request *req, struct ca_issued *out,
             char err[CA_ERR_LEN]);

/** Revokes one certificate with an RFC 5280 reason. -ENOENT unknown serial,
 * -EALREADY already revoked. */
int ca_revoke(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
              enum crl_reason reason, const char *actor, char err[CA_ERR_LEN]);

/** Life events of the real service (docs/jpki.md, "revoked when"). */
enum ca_event_type {
	CA_EVENT_MOVE = 1, /**< address changed: signing certificate, affiliationChanged */
	CA_EVENT_RENAME,   /**< name changed: signing certificate, affiliationChanged */
	CA_EVENT_DEATH,    /**< both, cessationOfOperation (see ca.c why) */
	CA_EVENT_LOSS,     /**< card lost: both, keyCompromise */
	CA_EVENT_REQUEST,  /**< holder's request: both, cessationOfOperation */
	CA_EVENT_RENEW,    /**< new pair issued; both old ones superseded and linked */
};

/** Applies an event to the pair the given certificate belongs to, in one
 * transaction with its audit record. For CA_EVENT_RENEW, `renewed` (may be
 * NULL) receives the new pair; keys are generated. */
int ca_event(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
             enum ca_event_type event, const char *actor, struct ca_issued *renewed,
             char err[CA_ERR_LEN]);

/** The new item after a move or a name change, for reissuing the signing
 * certificate. */
struct ca_change {
	const char *name;           /**< the new name (rename), else NULL */
	const char *address;        /**< the new address (move), else NULL */
	const uint8_t *sign_pubkey; /**< the new key, PEM or DER; NULL: generated */
	size_t sign_pubkey_len;
};

/** Like ca_event; for CA_EVENT_MOVE and CA_EVENT_RENAME with `change` also
 * stores the new item and issues the replacement signing certificate in the
 * same transaction: linked replaces/replaced_by with the old one, and the
 * user-auth certificate's pair becomes it. It is returned in reissued->sign
 * (reissued may be NULL). -EINVAL for other events or a missing item. */
int ca_event_change(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                    enum ca_event_type event, const struct ca_change *change, const char *actor,
                    struct ca_issued *reissued, char err[CA_ERR_LEN]);

/** Parses an RFC 5280 reason name ("keyCompromise", ...). */
int ca_reason_parse(const char *name, enum crl_reason *out);
/** The RFC 5280 name of a reason. */
const char *ca_reason_name(enum crl_reason reason);
/** Parses "move", "rename", "death", "loss", "request" or "renew". */
int ca_event_parse(const char *name, enum ca_event_type *out);
/** The event's name as the command line takes it ("move", ...). */
const char *ca_event_name(enum ca_event_type event);
/** Parses "sign" or "auth". */
int ca_kind_parse(const char *name, enum cert_kind *out);
/** "sign" or "auth". */
const char *ca_kind_name(enum cert_kind kind);

/** Synthetic population options (`kensho gen`). */
struct ca_gen_options {
	uint64_t people;
	double revoked;    /**< share of people with a revoking event, 0..1 */
	uint64_t seed;     /**< same seed, same population */
	bool certs;        /**< also sign real DER certificates (keys from a small pool) */
	unsigned key_pool; /**< keys in the pool when certs (0: 4) */
	/** With certs: certificates of one issuer per pre-signed OCSP answer
	 * (1 to OCSP_BATCH_MAX; 0: 1), as kenshod's ocsp.batch. */
	unsigned ocsp_batch;
	bool progress; /**< draw a progress bar on stderr */
};

/** Counts of what ca_gen wrote. */
struct ca_gen_result {
	uint64_t people;
	uint64_t certs;
	uint64_t revoked;
	double seconds;
};

/** Creates a synthetic population in large transactions (see gen.c). */
int ca_gen(struct ca *ca, const struct ca_gen_options *opts, struct ca_gen_result *result,
           char err[CA_ERR_LEN]);

/** On an empty data directory: ca init with base_url (where the service
 * will be reached; NULL: CA_DEFAULT_BASE_URL) and a demo population of
 * `people` with real certificates, some revoked, and one named person whose
 * certificates (and keys) are written to DIR/demo/{sign,auth}.{pem,key}.
 * Does nothing (returns 0) if the CAs exist. */
int ca_bootstrap_demo(const char *data_dir, const char *base_url, unsigned people);
