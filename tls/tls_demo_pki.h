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
