/* Demo TLS material for a first start with `--listen-tls` and no configured
 * certificate: a local TLS CA, a server certificate for localhost and
 * 127.0.0.1, client certificates for each role and a policy file mapping them,
 * all below DIR/tls/ (docs/tls.md lists the files). Not for production:
 * operators configure tls.cert, tls.key, tls.trust and tls.policy. */
#pragma once
#include <stddef.h>

#include "core/role_set.h"

/** Creates DIR/tls/... unless DIR/tls/server.pem already exists: one client
 * certificate per name `roles` lets a policy grant, called after the last
 * role of that name (CN=personal and clients/personal.pem for kenshod's
 * relying-party+personal), a policy.conf granting each its roles, and
 * `anonymous` to callers without a certificate (0: nothing). Private keys
 * get mode 0600. Returns 0 (also when nothing needed doing) or -errno with a
 * message in err. */
int tls_demo_pki_ensure(const char *data_dir, const struct role_table *roles,
                        core_role_set anonymous, char *err, size_t err_len);

/** The server certificate's key type (tls.demo_key; docs/tls.md, Handshake
 * cost): ECDSA P-256 signs a handshake about ten times faster than RSA-2048. */
enum tls_demo_key {
	TLS_DEMO_KEY_ECDSA_P256 = 0, /**< "ecdsa-p256", the default */
	TLS_DEMO_KEY_RSA2048,        /**< "rsa-2048", for clients that only speak RSA */
};

/** Parses "ecdsa-p256" or "rsa-2048"; -EINVAL otherwise. */
int tls_demo_key_parse(const char *text, enum tls_demo_key *out);

/** tls_demo_pki_ensure with the server certificate's key type chosen; the CA
 * and client certificates stay ECDSA P-256. An existing server.pem is kept
 * whatever its key type. */
int tls_demo_pki_ensure_key(const char *data_dir, const struct role_table *roles,
                            core_role_set anonymous, enum tls_demo_key server_key, char *err,
                            size_t err_len);
