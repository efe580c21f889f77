/* kensho-card submit: sign a file on the card, POST it to /v1/intake and
 * check the signed receipt (docs/intake.md) against the pinned receipt
 * certificate (commands.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "card/cli_server.h"
#include "card/commands.h"
#include "card/receipt_fields.h"
#include "card/session.h"
#include "core/encoding.h"
#include "pki/cms.h"
#include "pki/verify.h"

/* True when the certificate is, byte for byte, the pinned one. */
static bool is_pinned(const struct pki_cert *cert, const struct buf *pinned)
{
	const struct pki_bytes *der = &pki_cert_info(cert)->der;
	return der->len == pinned->len && memcmp(der->p, pinned->data, pinned->len) == 0;
}

/* Checks the receipt: CMS signed by exactly the pinned certificate, a valid
 * signature, and content naming this submission. Prints what it says. */
static int check_receipt(const uint8_t *der, size_t len, const struct buf *pinned,
                         const char *number_header, const uint8_t submitted_sha256[32])
{
	struct cms_signed_data sd;
	if (cms_decode(der, len, &sd) < 0 || sd.detached) {
		fputs("kensho-card: the receipt is not a CMS SignedData with content\n", stderr);
		return 1;
	}
	struct pki_cert *signer = NULL;
	int rc = 1;
	enum cms_verdict verdict = CMS_VERDICT_BAD_SIGNATURE;
	if (cms_signer_cert(&sd, &signer) < 0)
		fputs("kensho-card: the receipt carries no signer certificate\n", stderr);
	else if (!is_pinned(signer, pinned))
		fputs("kensho-card: the receipt is not signed by the pinned receipt certificate\n",
		      stderr);
	else if (cms_verify_signature(&sd, sd.content.p, sd.content.len, signer, &verdict) < 0 ||
	         verdict != CMS_VERDICT_VALID)
		fprintf(stderr, "kensho-card: the receipt's signature does not verify (%s)\n",
		        cms_verdict_name(verdict));
	else
		rc = 0;
	pki_cert_free(signer);
	if (rc)
		return rc;

	struct receipt_summary s;
	char expected[65];
	hex_encode(submitted_sha256, 32, expected);
	if (receipt_fields_parse(sd.content.p, sd.content.len, &s) < 0) {
		fputs("kensho-card: the receipt's content is malformed\n", stderr);
		return 1;
	}
	char number[24];
	snprintf(number, sizeof(number), "%llu", (unsigned long long)s.number);
	if (strcmp(number, number_header) != 0) {
		fputs("kensho-card: the receipt's number differs from the server's answer\n",
		      stderr);
		return 1;
	}
	if (strcmp(s.sha256, expected) != 0) {
		fputs("kensho-card: the receipt is for other bytes than those submitted\n", stderr);
		return 1;
	}
	printf("receipt number: %s\n", number);
	if (s.has_log_index)
		printf("log index: %llu\n", (unsigned long long)s.log_index);
	printf("received at: %s\n", s.received_at);
	printf("sha256: %s\n", s.sha256);
	printf("result: %s\n", s.valid ? "valid" : "not valid");
	printf("content: %.*s\n", (int)sd.content.len, (const char *)sd.content.p);
	printf("receipt: verified (signature by the pinned receipt certificate, this "
	       "submission's SHA-256)\n");
	return s.valid ? 0 : 1;
}

int cli_cmd_submit(const struct cli_options *o)
{
	if (!o->file || !o->server || !o->receipt_cert) {
		fputs("kensho-card: submit needs --file FILE --server URL --receipt-cert PEM\n",
		      stderr);
		return 2;
	}
	struct http_client *client = NULL;
	int rc = cli_server_open(o, &client);
	if (rc)
		return rc;
	struct buf pinned = {0}, content = {0};
	if (cli_load_cert_file(o->receipt_cert, &pinned) ||
	    cli_read_file(o->file, CLI_MAX_SIGNED_FILE, &content)) {
		buf_free(&pinned);
		buf_free(&content);
		http_client_free(client);
		return 1;
	}
	uint8_t *cms = NULL;
	size_t cms_len = 0;
	rc = card_session_sign_content(o, &content, &cms, &cms_len);
	buf_free(&content);
	struct http_reply reply = {0};
	if (rc == 0) {
		int err = http_client_post(client, "/v1/intake", "application/cms", cms, cms_len,
		                           &reply);
		if (err < 0) {
			fprintf(stderr, "kensho-card: submitting to %s failed: %s\n", o->server,
			        http_client_strerror(err));
			rc = 1;
		}
	}
	http_client_free(client);
	char number[24] = "";
	if (rc == 0 && (reply.status == 201 || reply.status == 200) &&
	    http_reply_header(&reply, "Kensho-Receipt", number, sizeof(number)) == 0) {
		printf("submitted: %s (%s)\n", o->file,
		       reply.status == 201 ? "stored" : "already stored: the same receipt again");
		uint8_t digest[32];
		mbedtls_sha256_ret(cms, cms_len, digest, 0);
		rc = check_receipt(reply.body, reply.body_len, &pinned, number, digest);
		if (rc == 0 && o->out)
			rc = cli_write_file(o->out, reply.body, reply.body_len);
	} else if (rc == 0) {
		/* Errors come as JSON {"error","detail"}; a rejected application
		 * (422) as its verification result. */
		fprintf(stderr, "kensho-card: the server refused the application (HTTP %d): %.*s\n",
		        reply.status, (int)(reply.body_len > 2000 ? 2000 : reply.body_len),
		        (const char *)reply.body);
		rc = 1;
	}
	free(cms);
	http_reply_free(&reply);
	buf_free(&pinned);
	return rc;
}
