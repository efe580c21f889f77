/* kensho-card sign: CMS SignedData over a file with the card's signing key
 * (commands.h). */
#include <stdio.h>
#include <stdlib.h>

#include "card/commands.h"
#include "card/session.h"

int cli_cmd_sign(const struct cli_options *o)
{
	if (!o->file) {
		fputs("kensho-card: sign needs --file FILE\n", stderr);
		return 2;
	}
	struct buf content = {0};
	if (cli_read_file(o->file, CLI_MAX_SIGNED_FILE, &content)) {
		buf_free(&content);
		return 1;
	}
	uint8_t *cms = NULL;
	size_t cms_len = 0;
	int rc = card_session_sign_content(o, &content, &cms, &cms_len);
	buf_free(&content);
	if (rc == 0) {
		struct buf out_path = {0};
		if (o->out)
			buf_append_str(&out_path, o->out);
		else
			buf_printf(&out_path, "%s.p7s", o->file);
		buf_append(&out_path, "", 1);
		rc = out_path.failed ? 1
		                     : cli_write_file((const char *)out_path.data, cms, cms_len);
		if (rc == 0)
			printf("signed %s: %s (%zu bytes, CMS SignedData, DER)\n", o->file,
			       (const char *)out_path.data, cms_len);
		buf_free(&out_path);
	}
	free(cms);
	return rc;
}
