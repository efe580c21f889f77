#include "ca/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Finds name in spec; returns 1 (takes a value), 0 (flag) or -1 (unknown). */
static int spec_find(const char *spec, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = spec; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool valued = len && p[len - 1] == ':';
		size_t name_len = valued ? len - 1 : len;
		if (name_len == n && strncmp(p, name, n) == 0)
			return valued ? 1 : 0;
		if (!end)
			break;
		p = end + 1;
	}
	return -1;
}

void cli_fail(const char *command, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kensho %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse(int argc, char **argv, const char *spec, struct cli_args *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			if (out->positional_count == CLI_ARGS_MAX)
				return -EINVAL;
			out->positional[out->positional_count++] = arg;
			continue;
		}
		int valued = spec_find(spec, arg + 2);
		if (valued < 0) {
			cli_fail(argv[0], "unknown option %s", arg);
			return -EINVAL;
		}
		if (valued && i + 1 >= argc) {
			cli_fail(argv[0], "%s needs a value", arg);
			return -EINVAL;
		}
		if (out->count == CLI_ARGS_MAX)
			return -EINVAL;
		out->keys[out->count] = arg + 2;
		out->values[out->count++] = valued ? argv[++i] : NULL;
	}
	return 0;
}

const char *cli_get(const struct cli_args *args, const char *key)
{
	for (int i = args->count - 1; i >= 0; i--) /* the last one wins */
		if (strcmp(args->keys[i], key) == 0)
			return args->values[i];
	return NULL;
}

bool cli_has(const struct cli_args *args, const char *key)
{
	for (int i = 0; i < args->count; i++)
		if (strcmp(args->keys[i], key) == 0)
			return true;
	return false;
}
