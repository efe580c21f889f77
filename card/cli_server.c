/* kensho-card's commands that build CMS or ask a kensho server over OCSP:
 * sign and check (submit is in cli_submit.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "card/cli.h"
#include "card/http_client.h"
#include "core/encoding.h"
#include "pki/cms_build.h"
#include "pki/ocsp.h"

/* Clock skew tolerated on OCSP thisUpdate/nextUpdate (RFC 5019 §4 leaves it
 * to the client; five minutes is common practice). */
#define CLI_OCSP_SKEW_SECONDS 300
#define CLI_OCSP_NONCE_LEN    16

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

/* cms_sign_cb: the card pads and signs the DigestInfo with the signing key. */
static int card_sign_cb(void *arg, const uint8_t *digest_info, size_t digest_info_len, uint8_t *sig,
                        size_t *sig_len)
{
	const struct card_transport *t = arg;
	if (CMS_MAX_SIGNATURE < JPKI_SIGNATURE_LEN)
		return -ENOSPC;
	return jpki_sign(t, JPKI_KEY_SIGN, digest_info, digest_info_len, sig, sig_len);
}

int cli_sign_content(const struct cli_options *o, const struct buf *content, uint8_t **cms,
                     size_t *cms_len)
{
	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t))
		return 1;
	struct buf cert = {0};
	int rc = cli_verify_pin(o, &t, JPKI_KEY_SIGN);
	if (rc == 0)
		rc = cli_read_cert(&t, JPKI_CERT_SIGN, &cert);
	if (rc == 0) {
		struct cms_build_params p = {
		        .content = content->data,
		        .content_len = content->len,
		        .signed_attributes = true,
		        .signing_time = time(NULL),
		        .md = MBEDTLS_MD_SHA256,
		        .cert = cert.data,
		        .cert_len = cert.len,
		        .sign = card_sign_cb,
		        .sign_arg = &t,
		};
		int err = cms_build_signed(&p, cms, cms_len);
		if (err < 0)
			rc = cli_fail("cannot sign", err);
	}
	pcsc_close(&s);
	buf_free(&cert);
	return rc;
}

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
	int rc = cli_sign_content(o, &content, &cms, &cms_len);
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

int cli_server_url(const struct cli_options *o, struct http_url *url)
{
	int err = http_url_parse(o->server, url);
	if (err < 0) {
		fprintf(stderr, "kensho-card: bad --server URL %s (%s)\n", o->server,
		        err == -EPROTONOSUPPORT ? "only http:// and https:// are supported"
		                                : "malformed");
		return 2;
	}
	if (!url->tls) {
		if (o->cacert || o->cert || o->key) {
			fputs("kensho-card: --cacert, --cert and --key are for an https:// "
			      "--server\n",
			      stderr);
			return 2;
		}
		return 0;
	}
	if (!o->cacert) {
		fputs("kensho-card: an https:// --server needs --cacert FILE (the CA that issued "
		      "the server's certificate)\n",
		      stderr);
		return 2;
	}
	if ((o->cert != NULL) != (o->key != NULL)) {
		fputs("kensho-card: --cert and --key go together\n", stderr);
		return 2;
	}
	if (o->key) {
		err = http_key_file_check(o->key);
		if (err == -EPERM) {
			fprintf(stderr,
			        "kensho-card: %s is readable by others; a private key must be "
			        "owner-only (chmod 600)\n",
			        o->key);
			return 1;
		}
		if (err < 0) {
			fprintf(stderr, "kensho-card: cannot read the key %s\n", o->key);
			return 1;
		}
	}
	url->cacert = o->cacert;
	url->cert = o->cert;
	url->key = o->key;
	return 0;
}

const char *cli_http_strerror(int err)
{
	switch (err) {
	case -EACCES:
		return "the server's certificate does not verify against --cacert or does not "
		       "name the host (use the DNS name it was issued for, e.g. localhost)";
	case -ENOKEY: return "cannot load --cacert, or --cert/--key (or the key is not the cert's)";
	case -EPERM: return "the client key is readable by others";
	case -EPROTO:
		return "the TLS handshake failed (the server may require a client certificate it "
		       "trusts)";
	case -EHOSTUNREACH: return "the host name does not resolve";
	default: return strerror(-err);
	}
}

/* Asks the server at url about the certificate (issued by ca) over OCSP and
 * checks the signed answer. Returns 0 with *status set, or 1 (told why). */
static int ocsp_check(const char *server, const struct http_url *url, const struct buf *cert,
                      const struct buf *ca, enum ocsp_cert_status *status)
{
	int err;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, cert->data, cert->len) != 0) {
		mbedtls_x509_crt_free(&crt);
		return cli_fail("the card's certificate", -EBADMSG);
	}
	struct ocsp_cert_id id;
	err = ocsp_cert_id_make(OCSP_HASH_SHA1, ca->data, ca->len, crt.serial.p, crt.serial.len,
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
	struct buf raw = {0};
	struct http_reply reply = {0};
	err = http_post(url, "/ocsp", "application/ocsp-request", request, request_len, &raw,
	                &reply);
	free(request);
	int rc = 1;
	struct ocsp_response_info *info = calloc(1, sizeof(*info));
	if (err < 0) {
		fprintf(stderr, "kensho-card: OCSP request to %s failed: %s\n", server,
		        cli_http_strerror(err));
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
	buf_free(&raw);
	return rc;
}

int cli_cmd_check(const struct cli_options *o)
{
	if (!o->server) {
		fputs("kensho-card: check needs --server URL\n", stderr);
		return 2;
	}
	struct http_url url;
	int url_rc = cli_server_url(o, &url);
	if (url_rc)
		return url_rc;
	struct buf ca = {0};
	if (o->ca && cli_load_cert_file(o->ca, &ca)) {
		buf_free(&ca);
		return 1;
	}
	struct pcsc_session s;
	struct card_transport t;
	if (cli_open_card(o, &s, &t)) {
		buf_free(&ca);
		return 1;
	}
	int sign = o->kind == JPKI_KEY_SIGN;
	struct buf cert = {0};
	int rc = sign ? cli_verify_pin(o, &t, JPKI_KEY_SIGN) : 0;
	if (rc == 0)
		rc = cli_read_cert(&t, sign ? JPKI_CERT_SIGN : JPKI_CERT_AUTH, &cert);
	/* Without --ca, the CA certificate stored on the card is the anchor. */
	if (rc == 0 && !o->ca)
		rc = cli_read_cert(&t, sign ? JPKI_CERT_SIGN_CA : JPKI_CERT_AUTH_CA, &ca);
	pcsc_close(&s);
	enum ocsp_cert_status status = OCSP_CERT_UNKNOWN;
	if (rc == 0) {
		printf("certificate: %s\n", sign ? "signing" : "user authentication");
		rc = ocsp_check(o->server, &url, &cert, &ca, &status);
	}
	buf_free(&cert);
	buf_free(&ca);
	if (rc == 0 && status != OCSP_CERT_GOOD) {
		fprintf(stderr, "kensho-card: the card's %s certificate is %s\n",
		        sign ? "signing" : "user-authentication", status_name(status));
		return 1;
	}
	return rc;
}
