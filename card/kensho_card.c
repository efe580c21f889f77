/* kensho-card: the card holder's terminal client for the JPKI application.
 * See docs/card.md for the commands and what each prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "card/cli.h"
#include "card/jpki.h"
#include "card/pcsc.h"
#include "card/pin_input.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/version.h"
#include "pki/dn_text.h"

static void usage(FILE *out)
{
	fputs("usage: kensho-card [--reader NAME] [--wait SECONDS] COMMAND [options]\n"
	      "commands:\n"
	      "  readers                         list readers and whether a card is in each\n"
	      "  info                            token info, PIN tries, user-auth certificate\n"
	      "  cert auth|sign [--out FILE]     write a certificate (PEM); sign needs its PIN\n"
	      "  pin-status                      tries left for both PINs\n"
	      "  pin-verify auth|sign            check a PIN (a wrong one spends a try)\n"
	      "  sign --file F [--out F.p7s]     CMS SignedData over F with the signing key\n"
	      "  check [--kind auth|sign] [--ca FILE] --server URL\n"
	      "                                  ask a kensho server (OCSP) about the card's cert\n"
	      "  submit --file F --server URL --receipt-cert PEM\n"
	      "                                  sign F, submit it to URL/v1/intake, verify the\n"
	      "                                  receipt against the pinned receipt certificate\n"
	      "options: --pin-fd N reads the PIN from descriptor N (else the terminal, no echo)\n"
	      "  with an https:// --server: --cacert FILE verifies the server,\n"
	      "  --cert FILE --key FILE present a client certificate (key mode 0600)\n"
	      "--version prints the version, --help this text\n",
	      out);
}

/* Prints the error the way every command does, and returns the exit code. */
int cli_fail(const char *what, int err)
{
	fprintf(stderr, "kensho-card: %s: %s\n", what, card_strerror(err));
	return 1;
}

int cli_open_card(const struct cli_options *o, struct pcsc_session *s, struct card_transport *t)
{
	int err = pcsc_open(s);
	if (err < 0)
		return cli_fail("cannot reach the PC/SC service", err);
	err = pcsc_connect_card(s, o->reader, o->wait_ms);
	if (err < 0) {
		pcsc_close(s);
		return cli_fail("cannot connect to a card", err);
	}
	*t = pcsc_transport(s);
	err = jpki_select(t);
	if (err < 0) {
		pcsc_close(s);
		return cli_fail("cannot select the JPKI application", err);
	}
	return 0;
}

/* Reads the key's PIN from --pin-fd or the terminal and verifies it. */
int cli_verify_pin(const struct cli_options *o, const struct card_transport *t, enum jpki_key key)
{
	char pin[PIN_INPUT_MAX];
	size_t len = 0;
	const char *prompt = key == JPKI_KEY_SIGN ? "Signing PIN (6-16 characters, A-Z and 0-9): "
	                                          : "User-authentication PIN (4 digits): ";
	int err = pin_input_read(o->pin_fd, prompt, pin, sizeof(pin), &len);
	if (err < 0) {
		explicit_bzero(pin, sizeof(pin));
		fprintf(stderr, "kensho-card: cannot read the PIN: %s\n",
		        err == -ENOTTY    ? "no terminal; pass it with --pin-fd N"
		        : err == -ENODATA ? "empty PIN"
		                          : "input error");
		return 1;
	}
	int tries = -1;
	err = jpki_verify_pin(t, key, pin, len, &tries);
	explicit_bzero(pin, sizeof(pin));
	if (err == -EKEYREJECTED) {
		fprintf(stderr, "kensho-card: wrong PIN: %d %s left before the PIN is blocked\n",
		        tries, tries == 1 ? "try" : "tries");
		return 1;
	}
	if (err == -EINVAL) {
		fprintf(stderr,
		        "kensho-card: that is not a valid %s (not sent to the card, no "
		        "try spent)\n",
		        key == JPKI_KEY_SIGN ? "signing PIN: 6-16 characters of A-Z and 0-9 with "
		                               "at least one of each"
		                             : "user-authentication PIN: 4 digits");
		return 1;
	}
	if (err < 0)
		return cli_fail(key == JPKI_KEY_SIGN ? "signing PIN" : "user-authentication PIN",
		                err);
	return 0;
}

int cli_read_cert(const struct card_transport *t, enum jpki_cert which, struct buf *der)
{
	int err = jpki_read_cert(t, which, der);
	if (err < 0)
		return cli_fail("cannot read the certificate", err);
	return 0;
}

int cli_write_pem(FILE *out, const char *label, const uint8_t *der, size_t len)
{
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (!b64)
		return -ENOMEM;
	size_t n = base64_encode(der, len, b64);
	fprintf(out, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < n; i += 64)
		fprintf(out, "%.*s\n", (int)(n - i < 64 ? n - i : 64), b64 + i);
	fprintf(out, "-----END %s-----\n", label);
	free(b64);
	return ferror(out) ? -EIO : 0;
}

static int cmd_readers(const struct cli_options *o)
{
	struct pcsc_session s;
	int err = pcsc_open(&s);
	if (err < 0)
		return cli_fail("cannot reach the PC/SC service", err);
	struct pcsc_reader readers[16];
	size_t n = 0;
	err = pcsc_list_readers(&s, readers, 16, &n);
	pcsc_close(&s);
	if (err < 0)
		return cli_fail("cannot list readers", err);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\n", readers[i].name, readers[i].card_present ? "card" : "empty");
	return 0;
}

static void print_cert_summary(const char *label, const uint8_t *der, size_t len)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		printf("%s: unparsable certificate (%zu bytes)\n", label, len);
		mbedtls_x509_crt_free(&crt);
		return;
	}
	char text[512];
	char serial[2 * 32 + 1];
	size_t slen = crt.serial.len > 32 ? 32 : crt.serial.len;
	hex_encode(crt.serial.p, slen, serial);
	printf("%s serial: %s\n", label, serial);
	/* UTF-8 as the certificate holds it (pki/dn_text.h); a name too long
	 * for the line keeps its longest whole-character prefix. */
	if (dn_text(crt.subject_raw.p, crt.subject_raw.len, text, sizeof(text)) != -EINVAL)
		printf("%s subject: %s\n", label, text);
	if (dn_text(crt.issuer_raw.p, crt.issuer_raw.len, text, sizeof(text)) != -EINVAL)
		printf("%s issuer: %s\n", label, text);
	printf("%s valid: %04d-%02d-%02dT%02d:%02d:%02dZ to %04d-%02d-%02dT%02d:%02d:%02dZ\n",
	       label, crt.valid_from.year, crt.valid_from.mon, crt.valid_from.day,
	       crt.valid_from.hour, crt.valid_from.min, crt.valid_from.sec, crt.valid_to.year,
	       crt.valid_to.mon, crt.valid_to.day, crt.valid_to.hour, crt.valid_to.min,
	       crt.valid_to.sec);
	mbedtls_x509_crt_free(&crt);
}

static void print_tries(const char *label, int err, int tries, int max)
{
	if (err < 0)
		printf("%s: unknown (%s)\n", label, card_strerror(err));
	else if (tries == 0)
		printf("%s: blocked (0 of %d tries left)\n", label, max);
	else if (tries < 0)
		printf("%s: verified in this session\n", label);
	else
		printf("%s: %d of %d tries left\n", label, tries, max);
}

static int cmd_pin_status(const struct cli_options *o)
{
	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t))
		return 1;
	int auth = -1, sign = -1;
	int err_auth = jpki_pin_tries(&t, JPKI_KEY_AUTH, &auth);
	int err_sign = jpki_pin_tries(&t, JPKI_KEY_SIGN, &sign);
	pcsc_close(&s);
	print_tries("user-authentication PIN", err_auth, auth, JPKI_AUTH_PIN_TRIES);
	print_tries("signing PIN", err_sign, sign, JPKI_SIGN_PIN_TRIES);
	if (err_auth < 0)
		return cli_fail("cannot read PIN status", err_auth);
	if (err_sign < 0)
		return cli_fail("cannot read PIN status", err_sign);
	return 0;
}

static int cmd_info(const struct cli_options *o)
{
	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t))
		return 1;
	printf("reader: %s\n", s.reader);
	char label[APDU_TOKEN_INFO_LEN + 1];
	enum apdu_card_kind kind = APDU_CARD_UNKNOWN;
	int err = jpki_read_token_info(&t, label, sizeof(label), &kind);
	if (err < 0) {
		pcsc_close(&s);
		return cli_fail("cannot read token info", err);
	}
	printf("token: %s\n", label);
	printf("card: %s\n", kind == APDU_CARD_MY_NUMBER  ? "My Number card"
	                     : kind == APDU_CARD_RESIDENT ? "Basic Resident Register card"
	                                                  : "unknown JPKI card");
	int auth = -1, sign = -1;
	int err_auth = jpki_pin_tries(&t, JPKI_KEY_AUTH, &auth);
	int err_sign = jpki_pin_tries(&t, JPKI_KEY_SIGN, &sign);
	print_tries("user-authentication PIN", err_auth, auth, JPKI_AUTH_PIN_TRIES);
	print_tries("signing PIN", err_sign, sign, JPKI_SIGN_PIN_TRIES);
	struct buf der = {0};
	err = jpki_read_cert(&t, JPKI_CERT_AUTH, &der);
	pcsc_close(&s);
	if (err < 0) {
		buf_free(&der);
		return cli_fail("cannot read the user-authentication certificate", err);
	}
	print_cert_summary("auth certificate", der.data, der.len);
	buf_free(&der);
	return 0;
}

static int cmd_cert(const struct cli_options *o)
{
	enum jpki_cert which;
	if (!o->arg)
		return usage(stderr), 2;
	if (strcmp(o->arg, "auth") == 0)
		which = JPKI_CERT_AUTH;
	else if (strcmp(o->arg, "sign") == 0)
		which = JPKI_CERT_SIGN;
	else if (strcmp(o->arg, "auth-ca") == 0)
		which = JPKI_CERT_AUTH_CA;
	else if (strcmp(o->arg, "sign-ca") == 0)
		which = JPKI_CERT_SIGN_CA;
	else
		return usage(stderr), 2;

	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t))
		return 1;
	/* The signing certificate carries the four personal items: the card
	 * releases it only after the signing PIN. */
	if (which == JPKI_CERT_SIGN && cli_verify_pin(o, &t, JPKI_KEY_SIGN)) {
		pcsc_close(&s);
		return 1;
	}
	struct buf der = {0};
	int rc = cli_read_cert(&t, which, &der);
	pcsc_close(&s);
	if (rc == 0)
		rc = cli_output_pem(o->out, "CERTIFICATE", der.data, der.len);
	buf_free(&der);
	return rc;
}

int cli_output_pem(const char *path, const char *label, const uint8_t *der, size_t len)
{
	FILE *out = path ? fopen(path, "w") : stdout;
	if (!out) {
		fprintf(stderr, "kensho-card: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	int err = cli_write_pem(out, label, der, len);
	if (path && fclose(out) != 0)
		err = -EIO;
	if (err < 0) {
		fprintf(stderr, "kensho-card: cannot write %s\n", path ? path : "output");
		return 1;
	}
	return 0;
}

static int cmd_pin_verify(const struct cli_options *o)
{
	enum jpki_key key;
	if (o->arg && strcmp(o->arg, "auth") == 0)
		key = JPKI_KEY_AUTH;
	else if (o->arg && strcmp(o->arg, "sign") == 0)
		key = JPKI_KEY_SIGN;
	else
		return usage(stderr), 2;
	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t))
		return 1;
	int rc = cli_verify_pin(o, &t, key);
	pcsc_close(&s);
	if (rc == 0)
		printf("%s PIN verified\n",
		       key == JPKI_KEY_SIGN ? "signing" : "user-authentication");
	return rc;
}

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
			usage(stdout);
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
				return usage(stderr), 2;
		} else if (a[0] == '-') {
			fprintf(stderr, "kensho-card: unknown or incomplete option %s\n", a);
			return 2;
		} else if (!command) {
			command = a;
		} else if (!o.arg) {
			o.arg = a;
		} else {
			return usage(stderr), 2;
		}
	}
	if (!command)
		return usage(stderr), 2;
	if (strcmp(command, "readers") == 0)
		return cmd_readers(&o);
	if (strcmp(command, "info") == 0)
		return cmd_info(&o);
	if (strcmp(command, "cert") == 0)
		return cmd_cert(&o);
	if (strcmp(command, "pin-status") == 0)
		return cmd_pin_status(&o);
	if (strcmp(command, "pin-verify") == 0)
		return cmd_pin_verify(&o);
	if (strcmp(command, "sign") == 0)
		return cli_cmd_sign(&o);
	if (strcmp(command, "check") == 0)
		return cli_cmd_check(&o);
	if (strcmp(command, "submit") == 0)
		return cli_cmd_submit(&o);
	fprintf(stderr, "kensho-card: unknown command %s\n", command);
	return usage(stderr), 2;
}
