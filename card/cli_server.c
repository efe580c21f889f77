/* kensho-card's connection to a kensho server: see cli_server.h. */
#include "card/cli_server.h"

#include <errno.h>
#include <stdio.h>

int cli_server_open(const struct cli_options *o, struct http_client **client)
{
	struct http_client_options options = {
	        .cacert = o->cacert,
	        .cert = o->cert,
	        .key = o->key,
	        .user_agent = "kensho-card",
	};
	int err = http_url_parse(o->server, &options.url);
	if (err < 0) {
		fprintf(stderr, "kensho-card: bad --server URL %s (%s)\n", o->server,
		        err == -EPROTONOSUPPORT ? "only http:// and https:// are supported"
		                                : "malformed");
		return 2;
	}
	if (!options.url.tls && (o->cacert || o->cert || o->key)) {
		fputs("kensho-card: --cacert, --cert and --key are for an https:// --server\n",
		      stderr);
		return 2;
	}
	if (options.url.tls && !o->cacert) {
		fputs("kensho-card: an https:// --server needs --cacert FILE (the CA that issued "
		      "the server's certificate)\n",
		      stderr);
		return 2;
	}
	if ((o->cert != NULL) != (o->key != NULL)) {
		fputs("kensho-card: --cert and --key go together\n", stderr);
		return 2;
	}
	char why[512];
	err = http_client_new(&options, client, why, sizeof(why));
	if (err == -EPERM) {
		fprintf(stderr,
		        "kensho-card: %s is readable by others; a private key must be "
		        "owner-only (chmod 600)\n",
		        o->key);
		return 1;
	}
	if (err < 0) {
		fprintf(stderr, "kensho-card: %s\n", why);
		return 1;
	}
	return 0;
}
