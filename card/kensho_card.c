/* kensho-card: the card holder's terminal client for the JPKI application.
 * main parses the options and calls one command (commands.h); see
 * docs/card.md for the commands and what each prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card/commands.h"
#include "core/version.h"

static int parse_int(const char *text, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < 0 || v > 1000000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_options o = {.pin_fd = -1, .kind = JPKI_KEY_AUTH};
	const char *command = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		int wait_s;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("kensho-card %s\n", KENSHO_VERSION);
			return 0;
		} else if (strcmp(a, "--pin") == 0) {
			fputs("kensho-card: PINs are never taken from the command line; use "
			      "--pin-fd N or the terminal\n",
			      stderr);
			return 2;
		} else if (strcmp(a, "--reader") == 0 && next) {
			o.reader = argv[++i];
		} else if (strcmp(a, "--wait") == 0 && next && parse_int(next, &wait_s) == 0) {
			o.wait_ms = wait_s * 1000;
			i++;
		} else if (strcmp(a, "--pin-fd") == 0 && next && parse_int(next, &o.pin_fd) == 0) {
			i++;
		} else if (strcmp(a, "--out") == 0 && next) {
			o.out = argv[++i];
		} else if (strcmp(a, "--file") == 0 && next) {
			o.file = argv[++i];
		} else if (strcmp(a, "--receipt-cert") == 0 && next) {
			o.receipt_cert = argv[++i];
		} else if (strcmp(a, "--ca") == 0 && next) {
			o.ca = argv[++i];
		} else if (strcmp(a, "--server") == 0 && next) {
			o.server = argv[++i];
		} else if (strcmp(a, "--cacert") == 0 && next) {
			o.cacert = argv[++i];
		} else if (strcmp(a, "--cert") == 0 && next) {
			o.cert = argv[++i];
		} else if (strcmp(a, "--key") == 0 && next) {
			o.key = argv[++i];
		} else if (strcmp(a, "--kind") == 0 && next) {
			i++;
			if (strcmp(next, "auth") == 0)
				o.kind = JPKI_KEY_AUTH;
			else if (strcmp(next, "sign") == 0)
				o.kind = JPKI_KEY_SIGN;
			else
				return cli_usage_error();
		} else if (a[0] == '-') {
			fprintf(stderr, "kensho-card: unknown or incomplete option %s\n", a);
			return 2;
		} else if (!command) {
			command = a;
		} else if (!o.arg) {
			o.arg = a;
		} else {
			return cli_usage_error();
		}
	}
	if (!command)
		return cli_usage_error();
	if (strcmp(command, "readers") == 0)
		return cli_cmd_readers(&o);
	if (strcmp(command, "info") == 0)
		return cli_cmd_info(&o);
	if (strcmp(command, "cert") == 0)
		return cli_cmd_cert(&o);
	if (strcmp(command, "pin-status") == 0)
		return cli_cmd_pin_status(&o);
	if (strcmp(command, "pin-verify") == 0)
		return cli_cmd_pin_verify(&o);
	if (strcmp(command, "sign") == 0)
		return cli_cmd_sign(&o);
	if (strcmp(command, "check") == 0)
		return cli_cmd_check(&o);
	if (strcmp(command, "submit") == 0)
		return cli_cmd_submit(&o);
	fprintf(stderr, "kensho-card: unknown command %s\n", command);
	return cli_usage_error();
}
