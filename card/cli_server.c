/* kensho-card's commands that talk to a kensho server or build CMS:
 * sign, check, submit. */
#include <errno.h>
#include <stdio.h>

#include "card/cli.h"

int cli_cmd_sign(const struct cli_options *o)
{
	fputs("kensho-card: sign: CMS output is not available in this build yet\n", stderr);
	return 1;
}

int cli_cmd_check(const struct cli_options *o)
{
	fputs("kensho-card: check: OCSP is not available in this build yet\n", stderr);
	return 1;
}

int cli_cmd_submit(const struct cli_options *o)
{
	fputs("kensho-card: submit: intake is not available in this build yet\n", stderr);
	return 1;
}
