/* kensho-card's connection to a kensho server (--server, --cacert, --cert,
 * --key) through the shared blocking client (tls/http_client.h). Used by the
 * commands that talk to kenshod; calls nothing above it (card/README.md). */
#pragma once
#include "card/cli.h"
#include "tls/http_client.h"

/** Parses --server and loads --cacert/--cert/--key into a client, before
 * anything touches the card (so no PIN try is spent on a bad option or an
 * unusable key). Prints why on failure; returns 0, 2 (usage) or 1. */
int cli_server_open(const struct cli_options *o, struct http_client **client);
