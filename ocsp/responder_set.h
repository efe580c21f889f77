/* The delegated OCSP responders of a data directory: one per issuer in the
 * store, loaded from the files `kensho ca init` writes. The set remembers
 * the store it was opened on; ocsp/service.h answers and caches with it. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pki/ocsp_codec.h"

struct store;
struct ocsp_responder_set;

/** An issuer's responder files in a data directory. */
struct ocsp_responder_files {
	char ca[PATH_MAX];   /**< DIR/ca/LABEL-ca.pem: the issuing CA's certificate */
	char cert[PATH_MAX]; /**< DIR/ca/LABEL-ocsp.pem: the delegated responder's certificate */
	char key[PATH_MAX];  /**< DIR/ca/LABEL-ocsp.key: its private key, mode 0600 */
};

/** Fills *out with the responder files of the issuer labelled `label`
 * ("sign", "auth") in data_dir: the one place these names are built (ca init
 * writes the files there, the set reads them). 0 or -ENAMETOOLONG. */
int ocsp_responder_files(const char *data_dir, const char *label, struct ocsp_responder_files *out);

/** Loads a responder for every issuer in the store, with `base` options;
 * fails (logging which) if any cannot be loaded. The store stays the
 * caller's and must outlive the set. */
int ocsp_responder_set_open(const char *data_dir, struct store *store,
                            const struct ocsp_responder_options *base,
                            struct ocsp_responder_set **out);
/** Like ocsp_responder_set_open, but an issuer whose responder cannot be
 * loaded is left out with a warning (for the CA tools: without it, that
 * issuer's answers are not pre-signed and the server signs them live). */
int ocsp_responder_set_open_available(const char *data_dir, struct store *store,
                                      const struct ocsp_responder_options *base,
                                      struct ocsp_responder_set **out);
/** Frees the set and its responders (NULL is fine). */
void ocsp_responder_set_free(struct ocsp_responder_set *set);
/** The store the set was opened on. */
struct store *ocsp_responder_set_store(const struct ocsp_responder_set *set);
/** The responder of a store issuer id, or NULL. */
struct ocsp_responder *ocsp_responder_set_get(const struct ocsp_responder_set *set,
                                              uint32_t issuer_id);
/** The one responder that answers for every CertID of a request, with its
 * issuer id in *issuer_id; NULL when a CertID is not ours or two name
 * different issuers (one response has one signer). */
struct ocsp_responder *ocsp_responder_set_match(const struct ocsp_responder_set *set,
                                                const struct ocsp_cert_id *ids, size_t count,
                                                uint32_t *issuer_id);
