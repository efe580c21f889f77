/* The tls.* keys: declared once for kenshod's validation and the reference
 * (core/config.h says how to add one); tls_settings.c reads them with the
 * same defaults. */
#include "tls/tls_config_keys.h"

#define MINUTE (60 * 1000LL)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

const struct config_key tls_config_keys[] = {
        {"tls.cert", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "server certificate chain, leaf first (PEM); default DIR/tls/server.pem", false},
        {"tls.key", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "its private key (PEM or DER, mode 0600); default DIR/tls/server.key", false},
        {"tls.trust", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "CAs for client certificates (PEM); default DIR/tls/ca.pem if present", false},
        {"tls.policy", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "client-certificate policy; default DIR/tls/policy.conf if present", false},
        {"tls.crl", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "CRLs of the client-certificate CAs (PEM or DER), read again on reload; default "
         "DIR/tls/crl.pem if present",
         false},
        {"tls.client_auth", CONFIG_ENUM, "optional", NULL, 0, 0, "none|optional|required",
         "ask for client certificates (none when unset and there is no trust store)", false},
        {"tls.client_key_max_bits", CONFIG_INT, "4096", "bits", 2048, 8192, NULL,
         "largest RSA key a client certificate may have; larger ones are refused before use",
         false},
        {"tls.demo_key", CONFIG_ENUM, "ecdsa-p256", NULL, 0, 0, "ecdsa-p256|rsa-2048",
         "key type of the demo server certificate made on first start without tls.cert", false},
        {"tls.handshake_timeout", CONFIG_DURATION, "10s", "ms", 0, DAY, NULL,
         "drop handshakes slower than this (0: no limit)", false},
        {"tls.max_handshakes", CONFIG_INT, "128", NULL, 1, 100000, NULL,
         "TLS handshakes in progress per worker; beyond it new connections wait in the "
         "kernel backlog",
         false},
        {"tls.ticket_lifetime", CONFIG_DURATION, "1h", "ms", 0, 30 * DAY, NULL,
         "how long a session ticket resumes (0: no tickets)", false},
        {"tls.ticket_rotation", CONFIG_DURATION, "12h", "ms", MINUTE, 30 * DAY, NULL,
         "ticket key period; a ticket opens in its period and the next", false},
        {"tls.ticket_key", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "the ticket secret file, 64 hex digits, mode 0600; default DIR/tls/ticket.key", false},
        {"proxy.trusted", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "load balancers allowed on server.listen_proxy: ADDR[/PREFIX] ..., blank- or "
         "comma-separated; anyone else is refused",
         false},
        {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, false},
};
