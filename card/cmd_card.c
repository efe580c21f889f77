/* kensho-card's commands that only talk to the card: readers, info, cert,
 * pin-status and pin-verify (commands.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "card/commands.h"
#include "card/session.h"
#include "core/encoding.h"
#include "pki/dn_text.h"

int cli_cmd_readers(const struct cli_options *o)
{
	struct pcsc_session s;
	int err = pcsc_open(&s);
	if (err < 0)
		return cli_report_error("cannot reach the PC/SC service", err);
	struct pcsc_reader readers[16];
	size_t n = 0;
	err = pcsc_list_readers(&s, readers, 16, &n);
	pcsc_close(&s);
	if (err < 0)
		return cli_report_error("cannot list readers", err);
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

int cli_cmd_pin_status(const struct cli_options *o)
{
	struct card_session s;
	if (card_session_open(o, &s))
		return 1;
	int auth = -1, sign = -1;
	int err_auth = jpki_pin_tries(&s.transport, JPKI_KEY_AUTH, &auth);
	int err_sign = jpki_pin_tries(&s.transport, JPKI_KEY_SIGN, &sign);
	card_session_close(&s);
	print_tries("user-authentication PIN", err_auth, auth, JPKI_AUTH_PIN_TRIES);
	print_tries("signing PIN", err_sign, sign, JPKI_SIGN_PIN_TRIES);
	if (err_auth < 0)
		return cli_report_error("cannot read PIN status", err_auth);
	if (err_sign < 0)
		return cli_report_error("cannot read PIN status", err_sign);
	return 0;
}

int cli_cmd_info(const struct cli_options *o)
{
	struct card_session s;
	if (card_session_open(o, &s))
		return 1;
	printf("reader: %s\n", s.pcsc.reader);
	char label[APDU_TOKEN_INFO_LEN + 1];
	enum apdu_card_kind kind = APDU_CARD_UNKNOWN;
	int err = jpki_read_token_info(&s.transport, label, sizeof(label), &kind);
	if (err < 0) {
		card_session_close(&s);
		return cli_report_error("cannot read token info", err);
	}
	printf("token: %s\n", label);
	printf("card: %s\n", kind == APDU_CARD_MY_NUMBER  ? "My Number card"
	                     : kind == APDU_CARD_RESIDENT ? "Basic Resident Register card"
	                                                  : "unknown JPKI card");
	int auth = -1, sign = -1;
	int err_auth = jpki_pin_tries(&s.transport, JPKI_KEY_AUTH, &auth);
	int err_sign = jpki_pin_tries(&s.transport, JPKI_KEY_SIGN, &sign);
	print_tries("user-authentication PIN", err_auth, auth, JPKI_AUTH_PIN_TRIES);
	print_tries("signing PIN", err_sign, sign, JPKI_SIGN_PIN_TRIES);
	struct buf der = {0};
	err = jpki_read_cert(&s.transport, JPKI_CERT_AUTH, &der);
	card_session_close(&s);
	if (err < 0) {
		buf_free(&der);
		return cli_report_error("cannot read the user-authentication certificate", err);
	}
	print_cert_summary("auth certificate", der.data, der.len);
	buf_free(&der);
	return 0;
}

int cli_cmd_cert(const struct cli_options *o)
{
	enum jpki_cert which;
	if (!o->arg)
		return cli_usage_error();
	if (strcmp(o->arg, "auth") == 0)
		which = JPKI_CERT_AUTH;
	else if (strcmp(o->arg, "sign") == 0)
		which = JPKI_CERT_SIGN;
	else if (strcmp(o->arg, "auth-ca") == 0)
		which = JPKI_CERT_AUTH_CA;
	else if (strcmp(o->arg, "sign-ca") == 0)
		which = JPKI_CERT_SIGN_CA;
	else
		return cli_usage_error();

	struct card_session s;
	if (card_session_open(o, &s))
		return 1;
	/* The signing certificate carries the four personal items: the card
	 * releases it only after the signing PIN. */
	if (which == JPKI_CERT_SIGN && card_session_verify_pin(o, &s, JPKI_KEY_SIGN)) {
		card_session_close(&s);
		return 1;
	}
	struct buf der = {0};
	int rc = card_session_read_cert(&s, which, &der);
	card_session_close(&s);
	if (rc == 0)
		rc = cli_output_pem(o->out, "CERTIFICATE", der.data, der.len);
	buf_free(&der);
	return rc;
}

int cli_cmd_pin_verify(const struct cli_options *o)
{
	enum jpki_key key;
	if (o->arg && strcmp(o->arg, "auth") == 0)
		key = JPKI_KEY_AUTH;
	else if (o->arg && strcmp(o->arg, "sign") == 0)
		key = JPKI_KEY_SIGN;
	else
		return cli_usage_error();
	struct card_session s;
	if (card_session_open(o, &s))
		return 1;
	int rc = card_session_verify_pin(o, &s, key);
	card_session_close(&s);
	if (rc == 0)
		printf("%s PIN verified\n",
		       key == JPKI_KEY_SIGN ? "signing" : "user-authentication");
	return rc;
}
