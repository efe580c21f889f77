/* Demo TLS PKI (see tls_demo_pki.h): ECDSA P-256 keys (the server's may be
 * RSA-2048, tls.demo_key), certificates written
 * with mbedTLS's x509write and the extensions it lacks in 2.28 (subject
 * alternative name, extended key usage) encoded with the DER writer. */
#include "tls/tls_demo_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "core/log.h"
#include "pki/der.h"
#include "pki/errors.h"
#include "tls/tls.h"

#define PEM_MAX 8192
/* Leaves: the CA/Browser Forum's 398-day maximum, less a day for the
 * backdating below; the CA outlives several leaves. */
#define DEMO_LEAF_DAYS 397
#define DEMO_CA_DAYS   3650

enum cert_kind { KIND_CA, KIND_SERVER, KIND_CLIENT };

/* One client certificate per name a policy may grant, so mutual TLS can be
 * shown and tested. It is called after the last role of the name: the one
 * that name adds (relying-party+personal: personal). NULL: no demo client. */
static const char *demo_client_name(const struct role_table *roles, const struct role_name *r)
{
	if (!r->grantable || !r->roles)
		return NULL;
	core_role_set last = (core_role_set)1 << (31 - __builtin_clz(r->roles));
	return role_table_name(roles, last);
}

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	size_t off = 0;
	int rc = 0;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fchmod(fd, mode) != 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

static int gen_key(struct rng *r, enum tls_demo_key type, mbedtls_pk_context *pk)
{
	mbedtls_pk_init(pk);
	int rc;
	if (type == TLS_DEMO_KEY_RSA2048) {
		rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
		if (rc == 0)
			rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), mbedtls_ctr_drbg_random,
			                         &r->drbg, 2048, 65537);
		return rc;
	}
	rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (rc == 0)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
		                         mbedtls_ctr_drbg_random, &r->drbg);
	return rc;
}

int tls_demo_key_parse(const char *text, enum tls_demo_key *out)
{
	if (strcmp(text, "ecdsa-p256") == 0)
		*out = TLS_DEMO_KEY_ECDSA_P256;
	else if (strcmp(text, "rsa-2048") == 0)
		*out = TLS_DEMO_KEY_RSA2048;
	else
		return -EINVAL;
	return 0;
}

static void format_time(time_t t, char out[15])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

/* SubjectAltName (RFC 5280 §4.2.1.6): dNSName localhost, iPAddress 127.0.0.1. */
static int server_san(uint8_t **der, size_t *len)
{
	static const uint8_t loopback[4] = {127, 0, 0, 1};
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_tlv(&d, DER_CONTEXT_PRIMITIVE(2), "localhost", 9);
	der_tlv(&d, DER_CONTEXT_PRIMITIVE(7), loopback, sizeof loopback);
	der_end(&d);
	return der_finish(&d, der, len);
}

/* ExtKeyUsage (RFC 5280 §4.2.1.12) with a single purpose. */
static int ext_key_usage(const char *purpose_oid, uint8_t **der, size_t *len)
{
	struct der d;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_oid(&d, purpose_oid);
	der_end(&d);
	return der_finish(&d, der, len);
}

static int add_der_extension(mbedtls_x509write_cert *crt, const char *oid, size_t oid_len,
                             int (*build)(const char *, uint8_t **, size_t *), const char *arg)
{
	uint8_t *der;
	size_t len;
	int rc = build(arg, &der, &len);
	if (rc < 0)
		return rc;
	rc = mbedtls_x509write_crt_set_extension(crt, oid, oid_len, 0, der, len);
	free(der);
	return rc;
}

static int build_san(const char *unused, uint8_t **der, size_t *len)
{
	(void)unused;
	return server_san(der, len);
}

/* Issues one certificate into pem (PEM_MAX bytes). Returns an mbedTLS error
 * or a negative errno from the DER writer. */
static int issue(struct rng *r, enum cert_kind kind, const char *subject, mbedtls_pk_context *key,
                 const char *issuer, mbedtls_pk_context *issuer_key, unsigned char *pem)
{
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	char not_before[15], not_after[15];
	time_t now = time(NULL);
	format_time(now - 3600, not_before);
	format_time(now + (time_t)(kind == KIND_CA ? DEMO_CA_DAYS : DEMO_LEAF_DAYS) * 86400,
	            not_after);
	uint8_t serial_bytes[16];
	int rc = mbedtls_ctr_drbg_random(&r->drbg, serial_bytes, sizeof serial_bytes);
	serial_bytes[0] &= 0x7f; /* positive (RFC 5280 §4.1.2.2) */
	serial_bytes[0] |= 0x01;
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, key);
	mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_subject_name(&crt, subject);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_validity(&crt, not_before, not_after);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_basic_constraints(&crt, kind == KIND_CA,
		                                                 kind == KIND_CA ? 0 : -1);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_key_usage(
		        &crt, kind == KIND_CA
		                      ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
		                      : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (rc == 0 && kind == KIND_SERVER)
		rc = add_der_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
		                       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), build_san,
		                       NULL);
	if (rc == 0 && kind != KIND_CA)
		rc = add_der_extension(
		        &crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		        MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), ext_key_usage,
		        kind == KIND_SERVER ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2");
	if (rc == 0)
		rc = mbedtls_x509write_crt_pem(&crt, pem, PEM_MAX, mbedtls_ctr_drbg_random,
		                               &r->drbg);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return rc;
}

/* Generates a key and a certificate and writes DIR/<base>.pem and .key. */
static int issue_to_files(struct rng *r, enum cert_kind kind, const char *subject,
                          const char *issuer, mbedtls_pk_context *issuer_key, const char *base,
                          enum tls_demo_key type, mbedtls_pk_context *key_out, char *err,
                          size_t err_len)
{
	mbedtls_pk_context key;
	unsigned char *pem = calloc(2, PEM_MAX);
	if (!pem)
		return -ENOMEM;
	unsigned char *key_pem = pem + PEM_MAX;
	int rc = gen_key(r, type, &key);
	if (rc == 0)
		rc = issue(r, kind, subject, &key, issuer, issuer_key ? issuer_key : &key, pem);
	if (rc == 0)
		rc = mbedtls_pk_write_key_pem(&key, key_pem, PEM_MAX);
	if (rc != 0) {
		char why[128];
		if (rc < -0xff || rc > 0)
			mbedtls_strerror(rc, why, sizeof why);
		else
			snprintf(why, sizeof why, "%s", strerror(-rc));
		snprintf(err, err_len, "creating demo certificate %s: %s", base, why);
		rc = rc < -0xff ? pki_errno(rc) : rc;
		goto out;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s.key", base);
	rc = write_file(path, key_pem, strlen((char *)key_pem), 0600);
	if (rc == 0) {
		snprintf(path, sizeof path, "%s.pem", base);
		rc = write_file(path, pem, strlen((char *)pem), 0644);
	}
	if (rc < 0)
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
out:
	if (rc == 0 && key_out)
		*key_out = key;
	else
		mbedtls_pk_free(&key);
	free(pem);
	return rc;
}

/* Each rule names the demo TLS CA as the issuer (its SPKI SHA-256), so a
 * certificate with the same subject from another CA added to tls.trust later
 * gets none of these roles. */
static int write_policy(const char *dir, mbedtls_pk_context *ca_key, const struct role_table *roles,
                        core_role_set anonymous, char *err, size_t err_len)
{
	unsigned char spki[1024];
	int n = mbedtls_pk_write_pubkey_der(ca_key, spki, sizeof spki);
	if (n <= 0) {
		snprintf(err, err_len, "cannot encode the demo CA's public key");
		return -EINVAL;
	}
	uint8_t hash[32];
	mbedtls_sha256_ret(spki + sizeof spki - (size_t)n, (size_t)n, hash, 0);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	char text[4096];
	size_t used = (size_t)snprintf(
	        text, sizeof text,
	        "# kensho client-certificate policy (demo; see docs/tls.md). Issuer %s is\n"
	        "# the demo TLS CA (ca.pem): SHA-256 of its SubjectPublicKeyInfo.\n",
	        hex);
	core_role_set anonymous_named = 0;
	char anonymous_words[256] = "";
	for (size_t i = 0; roles && i < roles->count && used < sizeof text; i++) {
		const struct role_name *r = &roles->names[i];
		const char *cn = demo_client_name(roles, r);
		if (cn)
			used += (size_t)snprintf(text + used, sizeof text - used,
			                         "%s issuer %s subject CN=%s, O=kensho demo\n",
			                         r->name, hex, cn);
		if (r->grantable && r->roles && core_role_set_has(anonymous, r->roles)) {
			size_t at = strlen(anonymous_words);
			snprintf(anonymous_words + at, sizeof anonymous_words - at, "%s%s",
			         at ? "," : "", r->name);
			anonymous_named |= r->roles;
		}
	}
	if (anonymous_named != anonymous) {
		snprintf(err, err_len, "no role names grant the demo's anonymous roles (0x%x)",
		         (unsigned)anonymous);
		return -EINVAL;
	}
	if (anonymous && used < sizeof text)
		used += (size_t)snprintf(text + used, sizeof text - used, "%s anonymous\n",
		                         anonymous_words);
	if (used >= sizeof text) {
		snprintf(err, err_len, "the demo policy is longer than %zu bytes", sizeof text);
		return -E2BIG;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/policy.conf", dir);
	int rc = write_file(path, text, used, 0644);
	if (rc < 0)
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
	return rc;
}

int tls_demo_pki_ensure(const char *data_dir, const struct role_table *roles,
                        core_role_set anonymous, char *err, size_t err_len)
{
	return tls_demo_pki_ensure_key(data_dir, roles, anonymous, TLS_DEMO_KEY_ECDSA_P256, err,
	                               err_len);
}

int tls_demo_pki_ensure_key(const char *data_dir, const struct role_table *roles,
                            core_role_set anonymous, enum tls_demo_key server_key, char *err,
                            size_t err_len)
{
	char dir[4000], path[4096];
	struct stat st;
	if (snprintf(dir, sizeof dir, "%s/tls", data_dir) >= (int)sizeof dir)
		return -ENAMETOOLONG;
	snprintf(path, sizeof path, "%s/server.pem", dir);
	if (stat(path, &st) == 0)
		return 0;
	int rc = make_dir(dir);
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/clients", dir);
		rc = make_dir(path);
	}
	if (rc < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	struct rng r;
	mbedtls_entropy_init(&r.entropy);
	mbedtls_ctr_drbg_init(&r.drbg);
	static const char pers[] = "kensho demo pki";
	rc = mbedtls_ctr_drbg_seed(&r.drbg, mbedtls_entropy_func, &r.entropy,
	                           (const unsigned char *)pers, sizeof pers - 1);
	if (rc != 0) {
		snprintf(err, err_len, "seeding the random generator failed");
		rc = pki_errno(rc);
		goto out;
	}
	static const char ca_name[] = "CN=kensho demo TLS CA,O=kensho demo";
	mbedtls_pk_context ca_key;
	snprintf(path, sizeof path, "%s/ca", dir);
	rc = issue_to_files(&r, KIND_CA, ca_name, ca_name, NULL, path, TLS_DEMO_KEY_ECDSA_P256,
	                    &ca_key, err, err_len);
	if (rc < 0)
		goto out;
	for (size_t i = 0; rc == 0 && roles && i < roles->count; i++) {
		const char *cn = demo_client_name(roles, &roles->names[i]);
		if (!cn)
			continue;
		char subject[128];
		snprintf(subject, sizeof subject, "CN=%s,O=kensho demo", cn);
		snprintf(path, sizeof path, "%s/clients/%s", dir, cn);
		rc = issue_to_files(&r, KIND_CLIENT, subject, ca_name, &ca_key, path,
		                    TLS_DEMO_KEY_ECDSA_P256, NULL, err, err_len);
	}
	if (rc == 0)
		rc = write_policy(dir, &ca_key, roles, anonymous, err, err_len);
	/* server.pem last: its presence means the set is complete. */
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/server", dir);
		rc = issue_to_files(&r, KIND_SERVER, "CN=localhost,O=kensho demo", ca_name, &ca_key,
		                    path, server_key, NULL, err, err_len);
	}
	mbedtls_pk_free(&ca_key);
	if (rc == 0)
		log_info("tls: created demo TLS CA and certificates in %s (CA: %s/ca.pem, server "
		         "key %s)",
		         dir, dir, server_key == TLS_DEMO_KEY_RSA2048 ? "RSA-2048" : "ECDSA P-256");
out:
	mbedtls_ctr_drbg_free(&r.drbg);
	mbedtls_entropy_free(&r.entropy);
	return rc;
}
