/* kensho-card check: asks a kensho server over OCSP about the card's
 * certificate and checks the signed answer (commands.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "card/cli_server.h"
#include "card/commands.h"
#include "card/session.h"
#include "core/encoding.h"
#include "pki/ocsp_codec.h"

/* Clock skew tolerated on OCSP thisUpdate/nextUpdate (RFC 5019 §4 leaves it
 * to the client; five minutes is common practice). */
#define CLI_OCSP_SKEW_SECONDS 300
#define CLI_OCSP_NONCE_LEN    16

static const char *status_name(enum ocsp_cert_status s)
{
	return s == OCSP_CERT_GOOD ? "good" : s == OCSP_CERT_REVOKED ? "revoked" : "unknown";
}

/* RFC 5280 §5.3.1 CRLReason names. */
static const char *reason_name(int reason)
{
	static const char *const names[] = {
	        "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
	        "superseded",    "cessationOfOperation", "certificateHold", "(unused)",
	        "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};
	if (reason < 0 || reason >= (int)(sizeof(names) / sizeof(names[0])))
		return "none given";
	return names[reason];
}

static void print_time(const char *label, int64_t t)
{
	char text[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s: %s\n", label, text);
}

/* Asks the server about the certificate (issued by ca) over OCSP and checks
 * the signed answer. Returns 0 with *status set, or 1 (told why). */
static int ocsp_check(const char *server, struct http_client *client, const struct buf *cert,
                      const struct buf *ca, enum ocsp_cert_status *status)
{
	int err;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, cert->data, cert->len) != 0) {
		mbedtls_x509_crt_free(&crt);
		return cli_report_error("the card's certificate", -EBADMSG);
	}
	struct ocsp_cert_id id;
	err = ocsp_cert_id_make(PKI_DIGEST_SHA1, ca->data, ca->len, crt.serial.p, crt.serial.len,
	                        &id);
	char serial[2 * OCSP_SERIAL_MAX + 1] = "";
	if (err == 0)
		hex_encode(id.serial, id.serial_len, serial);
	mbedtls_x509_crt_free(&crt);
	if (err < 0) {
		fprintf(stderr, "kensho-card: cannot identify the certificate for OCSP\n");
		return 1;
	}
	uint8_t nonce[CLI_OCSP_NONCE_LEN];
	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
		fprintf(stderr, "kensho-card: no randomness for the OCSP nonce\n");
		return 1;
	}
	uint8_t *request = NULL;
	size_t request_len = 0;
	if (ocsp_request_encode(&id, 1, nonce, sizeof(nonce), &request, &request_len) < 0) {
		fprintf(stderr, "kensho-card: cannot encode the OCSP request\n");
		return 1;
	}
	struct http_reply reply = {0};
	err = http_client_post(client, "/ocsp", "application/ocsp-request", request, request_len,
	                       &reply);
	free(request);
	int rc = 1;
	struct ocsp_response_info *info = calloc(1, sizeof(*info));
	if (err < 0) {
		fprintf(stderr, "kensho-card: OCSP request to %s failed: %s\n", server,
		        http_client_strerror(err));
	} else if (reply.status != 200) {
		fprintf(stderr, "kensho-card: the server answered HTTP %d\n", reply.status);
	} else if (!info) {
		fprintf(stderr, "kensho-card: out of memory\n");
	} else if (ocsp_response_parse(reply.body, reply.body_len, info) < 0) {
		fprintf(stderr, "kensho-card: the server's OCSP response is malformed\n");
	} else if (info->status != OCSP_STATUS_SUCCESSFUL) {
		fprintf(stderr, "kensho-card: the server refused the OCSP request (status %d)\n",
		        info->status);
	} else if (ocsp_response_verify(info, ca->data, ca->len) < 0) {
		fprintf(stderr, "kensho-card: the OCSP response's signature does not verify "
		                "against the certificate's CA: not trusted\n");
	} else {
		rc = 0;
	}
	const struct ocsp_single *single = NULL;
	int64_t now = time(NULL);
	if (rc == 0) {
		for (size_t i = 0; i < info->count; i++) {
			if (info->singles[i].id.der_len == id.der_len &&
			    memcmp(info->singles[i].id.der, id.der, id.der_len) == 0)
				single = &info->singles[i];
		}
		rc = 1;
		/* RFC 8954 §2: a nonce that comes back must be ours; a cached
		 * (RFC 5019) response may carry none. */
		size_t expected_len = 2 + sizeof(nonce);
		if (!single)
			fprintf(stderr, "kensho-card: the OCSP response is about another "
			                "certificate\n");
		else if (info->has_nonce && (info->nonce_len != expected_len ||
		                             memcmp(info->nonce + 2, nonce, sizeof(nonce)) != 0))
			fprintf(stderr,
			        "kensho-card: the OCSP response's nonce is not ours (replay?)\n");
		else if (single->this_update > now + CLI_OCSP_SKEW_SECONDS)
			fprintf(stderr, "kensho-card: the OCSP response is from the future\n");
		else if (single->next_update && single->next_update < now - CLI_OCSP_SKEW_SECONDS)
			fprintf(stderr,
			        "kensho-card: the OCSP response is stale (nextUpdate passed)\n");
		else
			rc = 0;
	}
	if (rc == 0) {
		printf("serial: %s\n", serial);
		printf("status: %s\n", status_name(single->status));
		if (single->status == OCSP_CERT_REVOKED) {
			print_time("revoked at", single->revoked_at);
			printf("reason: %s\n", reason_name(single->reason));
		}
		print_time("this update", single->this_update);
		if (single->next_update)
			print_time("next update", single->next_update);
		printf("response: signature verified%s\n",
		       info->has_nonce ? ", nonce matches" : ", no nonce (pre-signed)");
		*status = single->status;
	}
	free(info);
	http_reply_free(&reply);
	return rc;
}

int cli_cmd_check(const struct cli_options *o)
{
	if (!o->server) {
		fputs("kensho-card: check needs --server URL\n", stderr);
		return 2;
	}
	struct http_client *client = NULL;
	int rc = cli_server_open(o, &client);
	if (rc)
		return rc;
	struct buf ca = {0};
	if (o->ca && cli_load_cert_file(o->ca, &ca)) {
		buf_free(&ca);
		http_client_free(client);
		return 1;
	}
	struct card_session s;
	if (card_session_open(o, &s)) {
		buf_free(&ca);
		http_client_free(client);
		return 1;
	}
	int sign = o->kind == JPKI_KEY_SIGN;
	struct buf cert = {0};
	rc = sign ? card_session_verify_pin(o, &s, JPKI_KEY_SIGN) : 0;
	if (rc == 0)
		rc = card_session_read_cert(&s, sign ? JPKI_CERT_SIGN : JPKI_CERT_AUTH, &cert);
	/* Without --ca, the CA certificate stored on the card is the anchor. */
	if (rc == 0 && !o->ca)
		rc = card_session_read_cert(&s, sign ? JPKI_CERT_SIGN_CA : JPKI_CERT_AUTH_CA, &ca);
	card_session_close(&s);
	enum ocsp_cert_status status = OCSP_CERT_UNKNOWN;
	if (rc == 0) {
		printf("certificate: %s\n", sign ? "signing" : "user authentication");
		rc = ocsp_check(o->server, client, &cert, &ca, &status);
	}
	http_client_free(client);
	buf_free(&cert);
	buf_free(&ca);
	if (rc == 0 && status != OCSP_CERT_GOOD) {
		fprintf(stderr, "kensho-card: the card's %s certificate is %s\n",
		        sign ? "signing" : "user-authentication", status_name(status));
		return 1;
	}
	return rc;
}
