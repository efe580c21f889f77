/* crl_fixture: writes a CRL with the streaming encoder from a list of
 * entries, for tests that check it with real peers (openssl, python3
 * cryptography) without a store.
 *
 *   crl_fixture --cert CA.der --key CA.key --number N [--delta BASE]
 *               --this-update T --next-update T [--idp URL] [--freshest URL]
 *               (--entries FILE | --synthetic COUNT) --out FILE
 *
 * FILE has one entry a line: "SERIALHEX REVOKED_AT REASON [INVALIDITY]".
 * --synthetic COUNT makes COUNT entries with serials 1..COUNT (reason
 * keyCompromise on every third), streamed: memory stays flat. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/pk.h>

#include "core/encoding.h"
#include "pki/crl_write.h"

struct list_source {
	const char *path;
	uint64_t synthetic;
	int64_t base_time;
};

static int list_source_cb(void *arg, crl_emit_fn emit, void *emit_arg)
{
	struct list_source *src = arg;
	if (src->synthetic) {
		for (uint64_t i = 1; i <= src->synthetic; i++) {
			uint8_t serial[9];
			size_t n = 0;
			/* big-endian, minimal, with a 0x00 pad if the top bit is set */
			uint8_t be[8];
			for (int k = 7; k >= 0; k--)
				be[7 - k] = (uint8_t)(i >> (8 * k));
			size_t skip = 0;
			while (skip < 7 && be[skip] == 0)
				skip++;
			if (be[skip] & 0x80)
				serial[n++] = 0;
			memcpy(serial + n, be + skip, 8 - skip);
			n += 8 - skip;
			struct crl_entry e = {
			        .serial = serial,
			        .serial_len = n,
			        .revoked_at = src->base_time + (int64_t)(i % 86400),
			        .reason = i % 3 == 0 ? 1 : 0,
			};
			int err = emit(emit_arg, &e);
			if (err)
				return err;
		}
		return 0;
	}
	FILE *f = fopen(src->path, "r");
	if (!f)
		return -errno;
	char line[512];
	int err = 0;
	while (!err && fgets(line, sizeof line, f)) {
		char hex[256];
		long long at, inval = 0;
		int reason;
		int n = sscanf(line, "%255s %lld %d %lld", hex, &at, &reason, &inval);
		if (n < 3)
			continue;
		uint8_t serial[128];
		int len = hex_decode(hex, strlen(hex), serial, sizeof serial);
		if (len <= 0) {
			err = -EINVAL;
			break;
		}
		struct crl_entry e = {
		        .serial = serial,
		        .serial_len = (size_t)len,
		        .revoked_at = at,
		        .reason = reason,
		        .invalidity_date = n == 4 ? inval : 0,
		};
		err = emit(emit_arg, &e);
	}
	fclose(f);
	return err;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *data = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *grown = realloc(data, cap);
			if (!grown) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = grown;
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return data;
}

int main(int argc, char **argv)
{
	const char *cert_path = NULL, *key_path = NULL, *out_path = NULL;
	struct list_source src = {0};
	struct crl_spec spec = {.only_user_certs = true};
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--cert"))
			cert_path = v;
		else if (!strcmp(k, "--key"))
			key_path = v;
		else if (!strcmp(k, "--out"))
			out_path = v;
		else if (!strcmp(k, "--number"))
			spec.number = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--delta")) {
			spec.delta = true;
			spec.base_number = strtoull(v, NULL, 10);
		} else if (!strcmp(k, "--this-update"))
			spec.this_update = strtoll(v, NULL, 10);
		else if (!strcmp(k, "--next-update"))
			spec.next_update = strtoll(v, NULL, 10);
		else if (!strcmp(k, "--idp"))
			spec.distribution_point = v;
		else if (!strcmp(k, "--freshest"))
			spec.freshest_crl = v;
		else if (!strcmp(k, "--entries"))
			src.path = v;
		else if (!strcmp(k, "--synthetic"))
			src.synthetic = strtoull(v, NULL, 10);
		else {
			fprintf(stderr, "crl_fixture: unknown option %s\n", k);
			return 2;
		}
	}
	if (!cert_path || !key_path || !out_path || (!src.path && !src.synthetic)) {
		fprintf(stderr, "crl_fixture: --cert, --key, --out and entries are required\n");
		return 2;
	}
	src.base_time = spec.this_update - 86400;

	size_t cert_len;
	uint8_t *cert = read_file(cert_path, &cert_len);
	if (!cert) {
		perror(cert_path);
		return 1;
	}
	uint8_t key_id[64];
	size_t key_id_len;
	int err = crl_issuer_from_cert(cert, cert_len, &spec.issuer_name, &spec.issuer_name_len,
	                               key_id, &key_id_len);
	if (err) {
		fprintf(stderr, "crl_fixture: %s: not a certificate (%d)\n", cert_path, err);
		return 1;
	}
	spec.authority_key_id = key_id;
	spec.authority_key_id_len = key_id_len;

	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	if (mbedtls_pk_parse_keyfile(&key, key_path, NULL) != 0) {
		fprintf(stderr, "crl_fixture: %s: cannot read key\n", key_path);
		return 1;
	}
	spec.source = list_source_cb;
	spec.source_arg = &src;

	FILE *out = fopen(out_path, "wb");
	if (!out) {
		perror(out_path);
		return 1;
	}
	static char big[1 << 16];
	setvbuf(out, big, _IOFBF, sizeof big);
	struct crl_result result;
	err = crl_write(&spec, &key, out, &result);
	if (fclose(out) != 0 && !err)
		err = -EIO;
	mbedtls_pk_free(&key);
	free(cert);
	if (err) {
		fprintf(stderr, "crl_fixture: crl_write failed: %s\n", strerror(-err));
		return 1;
	}
	printf("entries %" PRIu64 " bytes %" PRIu64 "\n", result.entries, result.bytes);
	return 0;
}
