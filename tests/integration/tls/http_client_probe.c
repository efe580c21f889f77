/* kensho-http-client-probe: one POST through tls/http_client.c, for testing
 * the shared client against real servers. Not part of any product.
 *
 *   kensho-http-client-probe URL PATH [--cacert F] [--cert F] [--key F]
 *                            [--timeout-ms N] [--body TEXT] [--user-agent UA]
 *
 * Prints "status N", "content-type T", "body-length N" and "body TEXT" on
 * success (exit 0); "new-error NAME WHY" when the client cannot be created
 * (exit 2); "post-error NAME" when the request fails (exit 1). NAME is the
 * errno's symbolic name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/http_client.h"

static const char *errno_name(int err)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
	        {EPERM, "EPERM"},
	        {ENOKEY, "ENOKEY"},
	        {EINVAL, "EINVAL"},
	        {ENOMEM, "ENOMEM"},
	        {EHOSTUNREACH, "EHOSTUNREACH"},
	        {ECONNREFUSED, "ECONNREFUSED"},
	        {ETIMEDOUT, "ETIMEDOUT"},
	        {EACCES, "EACCES"},
	        {EPIPE, "EPIPE"},
	        {ECONNRESET, "ECONNRESET"},
	        {E2BIG, "E2BIG"},
	        {EBADMSG, "EBADMSG"},
	        {EPROTO, "EPROTO"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].code == -err)
			return names[i].name;
	}
	static char text[32];
	snprintf(text, sizeof(text), "errno-%d", -err);
	return text;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: kensho-http-client-probe URL PATH [options]\n", stderr);
		return 64;
	}
	struct http_client_options o = {0};
	const char *body = "";
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--cacert") == 0)
			o.cacert = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0)
			o.cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			o.key = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			o.timeout_ms = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--body") == 0)
			body = argv[i + 1];
		else if (strcmp(argv[i], "--user-agent") == 0)
			o.user_agent = argv[i + 1];
		else
			return 64;
	}
	int err = http_url_parse(argv[1], &o.url);
	if (err < 0) {
		printf("new-error %s bad URL\n", errno_name(err));
		return 2;
	}
	char why[512] = "";
	struct http_client *client;
	err = http_client_new(&o, &client, why, sizeof(why));
	if (err < 0) {
		printf("new-error %s %s\n", errno_name(err), why);
		return 2;
	}
	struct http_reply reply;
	err = http_client_post(client, argv[2], "text/plain", (const uint8_t *)body, strlen(body),
	                       &reply);
	http_client_free(client);
	if (err < 0) {
		printf("post-error %s\n", errno_name(err));
		http_reply_free(&reply);
		return 1;
	}
	printf("status %d\ncontent-type %s\nbody-length %zu\nbody ", reply.status,
	       reply.content_type, reply.body_len);
	fwrite(reply.body, 1, reply.body_len, stdout);
	printf("\n");
	http_reply_free(&reply);
	return 0;
}
