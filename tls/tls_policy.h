/* Client-certificate policy: which roles (core/exchange.h PEER_ROLE_*) a
 * verified client certificate is granted.
 *
 * The policy file has one rule per line, `# comments` and blank lines allowed:
 *
 *     ROLES subject DN        e.g.  operator subject CN=operator, O=kensho demo
 *     ROLES spki HEX          e.g.  intake spki 5d41...(64 hex digits)
 *     ROLES anonymous         roles for TLS callers without a certificate
 *
 * ROLES is a comma-separated list of relying-party, relying-party+personal,
 * intake, operator. A certificate matching several rules gets the union.
 * Subjects are compared as mbedTLS prints them (x509_dn_gets), ignoring
 * spaces after the RDN separators. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct tls_policy;

/** Parses policy text. On error returns -EINVAL with "line N: why" in err. */
int tls_policy_parse(const char *text, size_t len, struct tls_policy **out, char *err,
                     size_t err_len);
/** Reads and parses a policy file; -errno or -EINVAL with err filled. */
int tls_policy_load(const char *path, struct tls_policy **out, char *err, size_t err_len);
/** Frees a policy (NULL is fine). */
void tls_policy_free(struct tls_policy *p);
/** Roles for a verified certificate with this subject and SPKI SHA-256. */
unsigned tls_policy_roles(const struct tls_policy *p, const char *subject,
                          const uint8_t spki_sha256[32]);
/** Roles for a TLS caller who presented no certificate. */
unsigned tls_policy_anonymous_roles(const struct tls_policy *p);
/** Parses a comma-separated role list into PEER_ROLE_* bits; -EINVAL if a
 * name is unknown. */
int tls_roles_parse(const char *text, size_t len, unsigned *roles);
/** Writes the role names of `roles` ("operator,intake"; "" for none) into out. */
void tls_roles_format(unsigned roles, char *out, size_t out_len);
