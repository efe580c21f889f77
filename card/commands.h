/* kensho-card's commands, one function each, called by main (kensho_card.c)
 * with the parsed options. The top of the program's dependency tree below
 * main: commands call the card session (session.h), the server connection
 * (cli_server.h) and the shared helpers (cli.h), never each other
 * (card/README.md). Each returns the process exit code (0 ok, 1 failure,
 * 2 usage) and has already told the user why. */
#pragma once
#include "card/cli.h"

/** `readers`: every reader and whether a card is in it (cmd_card.c). */
int cli_cmd_readers(const struct cli_options *o);
/** `info`: token info, PIN tries, the user-authentication certificate. */
int cli_cmd_info(const struct cli_options *o);
/** `cert auth|sign|auth-ca|sign-ca [--out F]`: a certificate as PEM. */
int cli_cmd_cert(const struct cli_options *o);
/** `pin-status`: tries left for both PINs. */
int cli_cmd_pin_status(const struct cli_options *o);
/** `pin-verify auth|sign`: checks a PIN on the card. */
int cli_cmd_pin_verify(const struct cli_options *o);
/** `sign --file F [--out F.p7s]`: CMS SignedData with the signing key (cmd_sign.c). */
int cli_cmd_sign(const struct cli_options *o);
/** `check [--kind auth|sign] --server URL`: OCSP status of the card's cert (cmd_check.c). */
int cli_cmd_check(const struct cli_options *o);
/** `submit --file F --server URL`: sign, submit to /v1/intake, check the
 * receipt (cmd_submit.c). */
int cli_cmd_submit(const struct cli_options *o);
