/* kenshod's role names, defined once (see roles.h). Kept apart from the
 * role checks in roles.c so the TLS tests and tools can use the real names
 * without the HTTP side. */
#include "handlers/roles.h"

/* docs/tls.md has the table. The grantable names are the words of a
 * tls.policy line; the others name a role that comes only with another
 * (personal with relying-party) or that no policy grants (the status page,
 * see handler_peer_roles). */
static const struct role_name names[] = {
        {"relying-party", PEER_ROLE_RELYING_PARTY, true},
        {"relying-party+personal", PEER_ROLE_RELYING_PARTY | PEER_ROLE_PERSONAL, true},
        {"intake", PEER_ROLE_INTAKE, true},
        {"operator", PEER_ROLE_OPERATOR, true},
        {"replica", PEER_ROLE_REPLICA, true},
        {"personal", PEER_ROLE_PERSONAL, false},
        {"status-page", PEER_ROLE_STATUS, false},
};

/* docs/architecture.md rule 4: personal data, the admin API and the whole
 * store (replication) need a certificate, so a caller without one can never
 * be granted them. */
const struct role_table handler_roles = {
        .names = names,
        .count = sizeof names / sizeof names[0],
        .authenticated_only = PEER_ROLE_PERSONAL | PEER_ROLE_OPERATOR | PEER_ROLE_REPLICA,
};
