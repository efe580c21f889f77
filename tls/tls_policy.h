/* Client-certificate policy: which roles (a core_role_set) a verified client
 * certificate is granted, and which certificates are denied.
 *
 * The policy file has one rule per line, `# comments` and blank lines allowed:
 *
 *     ROLES [issuer CA] subject DN   e.g. operator issuer 9f3c... subject CN=operator, O=x
 *     ROLES [issuer CA] spki HEX     e.g. intake spki 5d41...(64 hex digits)
 *     ROLES anonymous                roles for TLS callers without a certificate
 *     deny spki HEX                  refuse this key, whoever certified it
 *     deny issuer CA serial HEX      refuse this certificate (like a CRL entry)
 *
 * ROLES is a comma-separated list of role names. tls/ knows none: the
 * application hands the parser its role table (kenshod: handlers/roles.h,
 * whose names are relying-party, relying-party+personal, intake, operator);
 * only its grantable names may appear, and its authenticated_only roles
 * never on an anonymous line. CA is the SHA-256 of the issuing CA's SubjectPublicKeyInfo
 * (64 hex digits); that CA must be in tls.trust. A subject rule matches only
 * certificates that CA issued: a subject rule without `issuer` is bound, by
 * tls_policy_bind, to the trust store's CA when it holds exactly one, and is
 * refused when it holds several. A certificate matching several rules gets
 * the union. Subjects are compared as mbedTLS prints them (x509_dn_gets),
 * ignoring spaces after the RDN separators. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/role_set.h"

struct tls_policy;

/** What the policy looks at in a verified client certificate. */
struct tls_client_id {
	const char *subject;          /**< as mbedTLS prints it */
	const uint8_t *spki_sha256;   /**< 32 bytes */
	const uint8_t *issuer_sha256; /**< the issuing CA's SPKI SHA-256; NULL: not known */
	const uint8_t *serial;        /**< the certificate's serial number, big-endian */
	size_t serial_len;
};

/** Parses policy text with the role names of `roles` (NULL: none, so only
 * deny rules parse). On error returns -EINVAL with "line N: why" in err. */
int tls_policy_parse(const char *text, size_t len, const struct role_table *roles,
                     struct tls_policy **out, char *err, size_t err_len);
/** Reads and parses a policy file; -errno or -EINVAL with err filled. */
int tls_policy_load(const char *path, const struct role_table *roles, struct tls_policy **out,
                    char *err, size_t err_len);
/** Checks the policy against the trust store's CAs (their SPKI SHA-256):
 * binds subject rules without `issuer` to the only CA, and refuses (-EINVAL,
 * "line N: why" in err) such rules when there are several CAs. Returns how
 * many rules name a CA that is not in the trust store (they match nothing;
 * err describes the first, for a warning), or -EINVAL. */
int tls_policy_bind(struct tls_policy *p, const uint8_t (*ca_spki)[32], size_t ca_count, char *err,
                    size_t err_len);
/** Frees a policy (NULL is fine). */
void tls_policy_free(struct tls_policy *p);
/** Roles for a verified certificate. */
core_role_set tls_policy_roles(const struct tls_policy *p, const struct tls_client_id *id);
/** True if a deny rule names the certificate. */
bool tls_policy_denies(const struct tls_policy *p, const struct tls_client_id *id);
/** Roles for a TLS caller who presented no certificate. */
core_role_set tls_policy_anonymous_roles(const struct tls_policy *p);
