/* kensho's remote mode (see remote.h): the same options as the local
 * commands, turned into a form body and POSTed to /v1/admin/COMMAND over
 * TLS 1.2 with the operator's certificate (tls/http_client.h); the server
 * answers JSON. */
#include "ca/remote.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/cli.h"
#include "core/buf.h"
#include "tls/http_client.h"

/* The admin API's commands may wait for durable commits and a reload. */
#define REMOTE_TIMEOUT_MS 60000

/* Percent-encodes a form value (WHATWG URL §5.2). */
static void form_add(struct buf *b, const char *key, const char *value)
{
	if (!value)
		return;
	buf_printf(b, "%s%s=", b->len ? "&" : "", key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '*')
			buf_append(b, p, 1);
		else if (*p == ' ')
			buf_append_str(b, "+");
		else
			buf_printf(b, "%%%02X", *p);
	}
}

static char *read_text_file(const char *command, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_fail(command, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 65536)
		buf_append(&b, chunk, n);
	fclose(f);
	buf_append(&b, "", 1);
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* Builds the request body for a command; returns CLI_EXIT_* on a bad
 * command line. */
static int build_body(int argc, char **argv, struct buf *body, char **to_free)
{
	const char *cmd = argv[0];
	struct cli_args args;
	if (strcmp(cmd, "revoke") == 0) {
		if (cli_parse(argc, argv, "kind:,serial:,reason:", &args) || args.positional_count)
			return CLI_EXIT_USAGE;
		form_add(body, "kind", cli_get(&args, "kind"));
		form_add(body, "serial", cli_get(&args, "serial"));
		form_add(body, "reason", cli_get(&args, "reason"));
	} else if (strcmp(cmd, "event") == 0) {
		if (cli_parse(argc, argv, "kind:,serial:", &args) || args.positional_count != 1)
			return CLI_EXIT_USAGE;
		form_add(body, "kind", cli_get(&args, "kind"));
		form_add(body, "serial", cli_get(&args, "serial"));
		form_add(body, "event", args.positional[0]);
	} else if (strcmp(cmd, "issue") == 0) {
		if (cli_parse(argc, argv,
		              "name:,birth:,sex:,address:,sign-pubkey:,auth-pubkey:,out:", &args) ||
		    args.positional_count)
			return CLI_EXIT_USAGE;
		if (!cli_get(&args, "sign-pubkey") || !cli_get(&args, "auth-pubkey")) {
			cli_fail(cmd,
			         "remote issue needs --sign-pubkey and --auth-pubkey: the admin "
			         "API never sends private keys");
			return CLI_EXIT_USAGE;
		}
		form_add(body, "name", cli_get(&args, "name"));
		form_add(body, "birth", cli_get(&args, "birth"));
		form_add(body, "sex", cli_get(&args, "sex"));
		form_add(body, "address", cli_get(&args, "address"));
		for (int k = 0; k < 2; k++) {
			const char *opt = k ? "auth-pubkey" : "sign-pubkey";
			char *pem = read_text_file(cmd, cli_get(&args, opt));
			if (!pem)
				return CLI_EXIT_FAILED;
			form_add(body, k ? "auth_pubkey" : "sign_pubkey", pem);
			to_free[k] = pem;
		}
	} else if (strcmp(cmd, "reload") == 0) {
		if (argc != 1)
			return CLI_EXIT_USAGE;
	} else {
		cli_fail(cmd, "not available with --server (remote: issue, revoke, event, reload)");
		return CLI_EXIT_USAGE;
	}
	return body->failed ? CLI_EXIT_FAILED : 0;
}

/* One POST over the shared client (tls/http_client.h); the parsed answer
 * lands in reply. */
static int https_post(const struct remote_options *o, const char *command, const char *path,
                      const struct buf *body, struct http_reply *reply)
{
	struct http_client_options options = {
	        .cacert = o->cacert,
	        .cert = o->cert,
	        .key = o->key,
	        .timeout_ms = REMOTE_TIMEOUT_MS,
	};
	if (http_url_parse(o->server, &options.url) < 0 || !options.url.tls) {
		cli_fail(command, "--server must look like https://HOST:PORT");
		return CLI_EXIT_USAGE;
	}
	/* The key goes through kenshod's own owner-only rule (docs/architecture.md
	 * rule 5), which judges a symbolic link by the file it points to. */
	struct http_client *client;
	char why[512];
	int err = http_client_new(&options, &client, why, sizeof(why));
	if (err < 0) {
		cli_fail(command, "%s", why);
		return CLI_EXIT_FAILED;
	}
	err = http_client_post(client, path, "application/x-www-form-urlencoded", body->data,
	                       body->len, reply);
	http_client_free(client);
	if (err < 0) {
		cli_fail(command, "%s: %s", o->server, http_client_strerror(err));
		return CLI_EXIT_FAILED;
	}
	return 0;
}

int cli_remote(const struct remote_options *o, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (!o->cert || !o->key || !o->cacert) {
		cli_fail(cmd, "--server needs --cert, --key and --cacert (mutual TLS)");
		return CLI_EXIT_USAGE;
	}
	struct buf body = {0};
	char *to_free[2] = {NULL, NULL};
	int status = build_body(argc, argv, &body, to_free);
	free(to_free[0]);
	free(to_free[1]);
	if (status) {
		buf_free(&body);
		return status;
	}
	char path[64];
	snprintf(path, sizeof(path), "/v1/admin/%s", cmd);
	struct http_reply reply = {0};
	status = https_post(o, cmd, path, &body, &reply);
	buf_free(&body);
	if (status == 0) {
		/* The JSON answer as is: scripts parse it; people can read it. */
		int len = reply.body_len > INT_MAX ? INT_MAX : (int)reply.body_len;
		const char *text = (const char *)reply.body;
		bool newline = len > 0 && text[len - 1] == '\n';
		if (reply.status >= 200 && reply.status < 300) {
			printf("%.*s%s", len, text, newline ? "" : "\n");
		} else {
			cli_fail(cmd, "HTTP %d: %.*s", reply.status, len, text);
			status = CLI_EXIT_FAILED;
		}
	}
	http_reply_free(&reply);
	return status;
}
