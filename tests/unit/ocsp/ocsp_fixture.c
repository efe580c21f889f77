#include "ocsp_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/encoding.h"
#include "ocsp/responder_set.h"
#include "pki/ocsp_codec.h"

static int copy_file(const char *from, const char *to, mode_t mode)
{
	FILE *in = fopen(from, "rb");
	if (!in)
		return -errno;
	FILE *out = fopen(to, "wb");
	if (!out) {
		fclose(in);
		return -errno;
	}
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	int err = fclose(out) ? -errno : 0;
	if (!err && chmod(to, mode))
		err = -errno;
	return err;
}

int ocsp_fixture_ca_der(const char *fixtures, uint8_t **der, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/ca.pem", fixtures);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char pem[8192], text[8192];
	size_t n = fread(pem, 1, sizeof(pem) - 1, f), t = 0;
	fclose(f);
	pem[n] = 0;
	char *p = strstr(pem, "-----BEGIN CERTIFICATE-----");
	char *end = p ? strstr(p, "-----END") : NULL;
	if (!end)
		return -EINVAL;
	for (p += 27; p < end; p++)
		if (*p != '\n' && *p != '\r')
			text[t++] = *p;
	*der = malloc(t);
	int got = *der ? base64_decode_any(text, t, *der, t) : -ENOMEM;
	if (got < 0) {
		free(*der);
		return got;
	}
	*len = (size_t)got;
	return 0;
}

int ocsp_fixture_create(const char *fixtures, const char *data, bool ecdsa, struct store **out,
                        uint32_t *issuer_id)
{
	char from[1024], to[1024];
	snprintf(to, sizeof(to), "%s/ca", data);
	mkdir(data, 0700);
	if (mkdir(to, 0700) && errno != EEXIST)
		return -errno;
	const char *responder = ecdsa ? "responder-ec" : "responder-rsa";
	struct ocsp_responder_files paths;
	int err = ocsp_responder_files(data, "sign", &paths);
	if (err)
		return err;
	struct {
		const char *from, *to;
		mode_t mode;
	} files[] = {{"ca", paths.ca, 0644},
	             {responder, paths.cert, 0644},
	             {responder, paths.key, 0600}};
	for (size_t i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s.%s", fixtures, files[i].from,
		         i == 2 ? "key" : "pem");
		err = copy_file(from, files[i].to, files[i].mode);
		if (err)
			return err;
	}

	uint8_t *ca;
	size_t ca_len;
	err = ocsp_fixture_ca_der(fixtures, &ca, &ca_len);
	if (err)
		return err;
	struct ocsp_cert_id sha1, sha256;
	const uint8_t one = 1;
	err = ocsp_cert_id_make(PKI_DIGEST_SHA1, ca, ca_len, &one, 1, &sha1);
	if (!err)
		err = ocsp_cert_id_make(PKI_DIGEST_SHA256, ca, ca_len, &one, 1, &sha256);
	struct store_issuer issuer = {.kind = CERT_KIND_SIGN, .label = "sign"};
	memcpy(issuer.name_sha1, sha1.name_hash, 20);
	memcpy(issuer.key_sha1, sha1.key_hash, 20);
	memcpy(issuer.name_sha256, sha256.name_hash, 32);
	memcpy(issuer.key_sha256, sha256.key_hash, 32);

	snprintf(to, sizeof(to), "%s/store", data);
	struct store_options opts = {.path = to, .map_size = 64 << 20};
	struct store *s = NULL;
	if (!err)
		err = store_open(&opts, &s);
	struct store_txn *txn = NULL;
	if (!err)
		err = store_txn_begin(s, true, &txn);
	if (!err) {
		err = store_issuer_put(txn, &issuer, (struct store_blob){ca, ca_len});
		if (err)
			store_txn_abort(txn);
		else
			err = store_txn_commit(txn);
	}
	free(ca);
	if (err) {
		if (s)
			store_close(s);
		return err;
	}
	*issuer_id = issuer.id;
	*out = s;
	return 0;
}

int ocsp_fixture_add_cert(struct store *s, uint32_t issuer_id, const uint8_t *serial, size_t len)
{
	struct store_cert cert = {
	        .issuer_id = issuer_id,
	        .kind = CERT_KIND_SIGN,
	        .status = CERT_STATUS_GOOD,
	        .not_before = 1700000000,
	        .not_after = 2000000000,
	};
	if (len == 0 || len > STORE_SERIAL_MAX)
		return -EINVAL;
	cert.serial.len = (uint8_t)len;
	memcpy(cert.serial.bytes, serial, len);
	struct store_txn *txn;
	int err = store_txn_begin(s, true, &txn);
	if (err)
		return err;
	err = store_cert_insert(txn, &cert, (struct store_blob){0});
	if (err) {
		store_txn_abort(txn);
		return err;
	}
	return store_txn_commit(txn);
}
