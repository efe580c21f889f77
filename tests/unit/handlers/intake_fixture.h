/* Shared by the verify/intake unit tests: a store in a temporary directory
 * that knows the test CA of tests/unit/pki/cms/ (label "sign") and its
 * certificates, with "revoked" (serial 1006) revoked for keyCompromise. */
#pragma once
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "storage/store.h"

#define REVOKED_AT 1790000000 /* 2026-09-21 */

struct intake_fixture {
	char dir[64];
	struct store *store;
};

static inline uint8_t *fixture_file(const char *name, size_t *len)
{
	*len = 0;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CMS_FIXTURES, name);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	uint8_t *data = malloc(1 << 16);
	*len = fread(data, 1, 1 << 16, fp);
	fclose(fp);
	return data;
}

static inline int fixture_insert_cert(struct store_txn *txn, uint32_t issuer, const char *pem)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CMS_FIXTURES, pem);
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	int rc = mbedtls_x509_crt_parse_file(&crt, path);
	if (rc == 0) {
		struct store_cert c = {.issuer_id = issuer, .kind = CERT_KIND_SIGN};
		c.serial.len = (uint8_t)crt.serial.len;
		memcpy(c.serial.bytes, crt.serial.p, crt.serial.len);
		c.not_before = 1767225600;
		c.not_after = 2398377600;
		rc = store_cert_insert(txn, &c, (struct store_blob){crt.raw.p, crt.raw.len});
		if (rc == 0 && strcmp(pem, "revoked.pem") == 0)
			rc = store_cert_revoke(txn, issuer, &c.serial, REVOKED_AT,
			                       CRL_REASON_KEY_COMPROMISE);
	}
	mbedtls_x509_crt_free(&crt);
	return rc;
}

static inline int fixture_remove_entry(const char *path, const struct stat *st, int flag,
                                       struct FTW *ftw)
{
	return remove(path);
}

static inline struct intake_fixture *intake_fixture_open(void)
{
	struct intake_fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/kensho-intake-XXXXXX");
	if (!mkdtemp(f->dir))
		return NULL;
	struct store_options opts = {.path = f->dir};
	if (store_open(&opts, &f->store) != 0)
		return NULL;
	struct store_txn *txn;
	if (store_txn_begin(f->store, true, &txn) != 0)
		return NULL;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse_file(&ca, CMS_FIXTURES "/ca.pem") != 0)
		return NULL;
	struct store_issuer issuer = {.kind = CERT_KIND_SIGN, .label = "sign"};
	int rc = store_issuer_put(txn, &issuer, (struct store_blob){ca.raw.p, ca.raw.len});
	mbedtls_x509_crt_free(&ca);
	static const char *const certs[] = {"signer.pem", "expired.pem", "future.pem",
	                                    "wrongku.pem", "revoked.pem"};
	for (size_t i = 0; rc == 0 && i < sizeof certs / sizeof certs[0]; i++)
		rc = fixture_insert_cert(txn, issuer.id, certs[i]);
	if (rc != 0) {
		store_txn_abort(txn);
		return NULL;
	}
	if (store_txn_commit(txn) != 0)
		return NULL;
	return f;
}

static inline void intake_fixture_close(struct intake_fixture *f)
{
	store_close(f->store);
	nftw(f->dir, fixture_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
}
