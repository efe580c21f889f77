/* The keys core and kenshod's main read: server.*, log.*, limits.* (see
 * server_limits_from_config) and store.*. Declared here once (config.h says
 * how to add one); the defaults are those of server_limits_default and the
 * store's, as an operator would write them. */
#include "core/config.h"

#define KIB    1024LL
#define MIB    (1024LL * 1024)
#define GIB    (1024LL * 1024 * 1024)
#define SECOND 1000LL
#define HOUR   (3600 * SECOND)

const struct config_key core_config_keys[] = {
        {"server.data", CONFIG_STRING, "./var/kensho", NULL, 0, 0, NULL,
         "data directory; ca/, crl/, tls/ and the store are created below it", false},
        {"server.listen", CONFIG_ADDRESS_LIST, NULL, NULL, 0, 0, NULL,
         "plain HTTP listeners (--listen); none by default", false},
        {"server.listen_tls", CONFIG_ADDRESS_LIST, NULL, NULL, 0, 0, NULL,
         "HTTPS listeners (--listen-tls); none by default", false},
        {"server.listen_proxy", CONFIG_ADDRESS_LIST, NULL, NULL, 0, 0, NULL,
         "listeners for a TLS-terminating load balancer: a PROXY protocol v2 header from an "
         "address in proxy.trusted, then HTTP (docs/tls.md); none by default",
         false},
        {"server.workers", CONFIG_INT, "1", "processes", 1, 256, NULL,
         "worker processes sharing the ports with SO_REUSEPORT (--workers)", false},
        {"server.base_url", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "http(s) URL written into the demo certificates' OCSP and CRL pointers when the "
         "data directory is created; default: the first listener's URL",
         false},
        {"server.user", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "after binding its listeners, each worker becomes this user (--user); a data "
         "directory kenshod creates is given to it; none: keep the starting user", false},
        {"server.allow_root", CONFIG_BOOL, "off", NULL, 0, 0, NULL,
         "serve as root when no server.user is set (--allow-root); refused otherwise", false},
        {"log.level", CONFIG_ENUM, "info", NULL, 0, 0, "error|warn|info|debug",
         "verbosity of the people-facing log on stderr (--log-level)", true},
        {"log.access", CONFIG_BOOL, "on", NULL, 0, 0, NULL,
         "the JSON access log on stdout, one line per request (--no-access-log)", true},
        {"log.format", CONFIG_ENUM, "text", NULL, 0, 0, "text|json",
         "the people-facing log's lines: text, or one JSON object per line", false},
        {"log.file", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "write the people-facing log to this file instead of stderr; reopened on SIGUSR1", false},
        {"log.access_file", CONFIG_STRING, NULL, NULL, 0, 0, NULL,
         "write the access log to this file instead of stdout; reopened on SIGUSR1", false},
        {"limits.header_bytes", CONFIG_SIZE, "16K", "bytes", 256, 16 * MIB, NULL,
         "request line plus header fields larger than this: 431", true},
        {"limits.uri_bytes", CONFIG_SIZE, "8K", "bytes", 64, 16 * MIB, NULL,
         "request-target longer than this: 414", true},
        {"limits.body_bytes", CONFIG_SIZE, "1M", "bytes", 1, 4 * GIB, NULL,
         "request bodies larger than this: 413", true},
        {"limits.connections", CONFIG_INT, "10000", "connections", 1, 10000000, NULL,
         "open connections per worker; further ones wait in the listen queue", true},
        {"limits.backlog", CONFIG_INT, "511", "connections", 1, 65535, NULL,
         "the listen queue (listen(2)) behind limits.connections", false},
        {"limits.pipeline", CONFIG_INT, "32", "requests", 1, 65536, NULL,
         "requests in flight on one connection before kenshod stops reading it", true},
        {"limits.write_buffer_bytes", CONFIG_SIZE, "1M", "bytes", 1 * KIB, 4 * GIB, NULL,
         "unsent response bytes on one connection before kenshod stops reading it", true},
        {"limits.request_timeout", CONFIG_DURATION, "10s", "ms", 1, 24 * HOUR, NULL,
         "a request's first byte to its last: 408", true},
        {"limits.idle_timeout", CONFIG_DURATION, "60s", "ms", 1, 24 * HOUR, NULL,
         "an idle keep-alive connection is closed after this", true},
        {"limits.linger_timeout", CONFIG_DURATION, "2s", "ms", 1, HOUR, NULL,
         "after a closing response, unread request bytes are discarded for this long", true},
        {"limits.drain_timeout", CONFIG_DURATION, "10s", "ms", 1, 24 * HOUR, NULL,
         "after SIGTERM, in-flight requests get this long to finish", false},
        {"store.map_size", CONFIG_SIZE, "1G", "bytes", 1 * MIB, 1024 * 1024 * GIB, NULL,
         "initial size of the LMDB map; never below the file's size", false},
        {"store.map_max", CONFIG_SIZE, "1024G", "bytes", 1 * MIB, 1024 * 1024 * GIB, NULL,
         "the map doubles on demand up to this size", false},
        {"store.max_readers", CONFIG_INT, "1024", "readers", 1, 1000000, NULL,
         "LMDB reader slots: concurrent read transactions across all processes", false},
        {"metrics.max_series", CONFIG_INT, "2048", "series", 64, 1000000, NULL,
         "series the shared metrics area holds; beyond it new series are not recorded", false},
        {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, false},
};
