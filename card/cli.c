/* kensho-card's shared helpers: usage, error reports and files (cli.h). */
#include "card/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "core/encoding.h"

void cli_usage(FILE *out)
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

int cli_usage_error(void)
{
	cli_usage(stderr);
	return 2;
}

/* Prints the error the way every command does, and returns the exit code. */
int cli_report_error(const char *what, int err)
{
	fprintf(stderr, "kensho-card: %s: %s\n", what, card_strerror(err));
	return 1;
}

int cli_read_file(const char *path, size_t max, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "kensho-card: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	uint8_t chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(out, chunk, n);
		if (out->len > max) {
			fclose(f);
			fprintf(stderr, "kensho-card: %s is larger than %zu bytes\n", path, max);
			return 1;
		}
	}
	int bad = ferror(f) || out->failed;
	fclose(f);
	if (bad) {
		fprintf(stderr, "kensho-card: cannot read %s\n", path);
		return 1;
	}
	return 0;
}

int cli_write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "kensho-card: cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
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

int cli_load_cert_file(const char *path, struct buf *der)
{
	struct buf raw = {0};
	if (cli_read_file(path, 65536, &raw)) {
		buf_free(&raw);
		return 1;
	}
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	buf_append(&raw, "", 1); /* PEM parsing wants the NUL counted */
	int ret = mbedtls_x509_crt_parse(&crt, raw.data, raw.len);
	if (ret != 0) {
		/* Not PEM: try the bytes as DER (without the NUL). */
		ret = mbedtls_x509_crt_parse_der(&crt, raw.data, raw.len - 1);
	}
	if (ret == 0)
		buf_append(der, crt.raw.p, crt.raw.len);
	mbedtls_x509_crt_free(&crt);
	buf_free(&raw);
	if (ret != 0) {
		fprintf(stderr, "kensho-card: %s holds no certificate\n", path);
		return 1;
	}
	return 0;
}
