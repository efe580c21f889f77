/* Intake receipts: see receipt.h. */
#include "handlers/receipt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "core/json.h"
#include "pki/random.h"
#include "pki/cms_build.h"

#define RECEIPT_KEY_BITS      2048
#define RECEIPT_CERT_YEARS    20
#define RECEIPT_SUBJECT       "C=JP,O=kensho,CN=kensho intake receipts"
#define RECEIPT_LOAD_ATTEMPTS 50 /* x 20 ms: another starter finishing creation */

struct receipt_signer {
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
};

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		p += n;
		len -= (size_t)n;
	}
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static void validity_text(int64_t t, char out[15])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

/* Makes a fresh key and a self-signed certificate for it (PEM). */
static int generate(uint8_t *key_pem, size_t key_cap, uint8_t *cert_pem, size_t cert_cap)
{
	mbedtls_pk_context key;
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	int rc = -EIO;
	uint8_t serial_bytes[16];
	char not_before[15], not_after[15];
	int64_t now = time(NULL);
	validity_text(now - 3600, not_before);
	validity_text(now + (int64_t)RECEIPT_CERT_YEARS * 365 * 86400, not_after);
	if (pki_random(NULL, serial_bytes, sizeof serial_bytes) != 0)
		goto out;
	serial_bytes[0] &= 0x7f; /* positive, RFC 5280 §4.1.2.2 */
	serial_bytes[0] |= 0x01;
	if (mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
	    mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), pki_random, NULL, RECEIPT_KEY_BITS, 65537) !=
	            0 ||
	    mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes) != 0)
		goto out;
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	if (mbedtls_x509write_crt_set_serial(&w, &serial) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&w, RECEIPT_SUBJECT) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&w, RECEIPT_SUBJECT) != 0 ||
	    mbedtls_x509write_crt_set_validity(&w, not_before, not_after) != 0 ||
	    mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1) != 0 ||
	    mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
	                                                    MBEDTLS_X509_KU_NON_REPUDIATION) != 0 ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&w) != 0 ||
	    mbedtls_x509write_crt_pem(&w, cert_pem, cert_cap, pki_random, NULL) != 0 ||
	    mbedtls_pk_write_key_pem(&key, key_pem, key_cap) != 0)
		goto out;
	rc = 0;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	return rc;
}

/* Creates the pair unless it exists. The certificate is published with
 * link(2), which fails if another starter won; the key goes in place first
 * under the certificate's name only after the certificate is linked, so a
 * loader that sees the certificate waits briefly for the key. */
static int create(const char *cert_path, const char *key_path)
{
	uint8_t key_pem[4096], cert_pem[4096];
	int rc = generate(key_pem, sizeof key_pem, cert_pem, sizeof cert_pem);
	if (rc < 0)
		return rc;
	char cert_tmp[4200], key_tmp[4200]; /* paths are under 4096 */
	snprintf(cert_tmp, sizeof cert_tmp, "%s.%d.tmp", cert_path, (int)getpid());
	snprintf(key_tmp, sizeof key_tmp, "%s.%d.tmp", key_path, (int)getpid());
	unlink(cert_tmp);
	unlink(key_tmp);
	rc = write_file(key_tmp, key_pem, strlen((char *)key_pem), 0600);
	if (rc == 0)
		rc = write_file(cert_tmp, cert_pem, strlen((char *)cert_pem), 0644);
	if (rc == 0 && link(cert_tmp, cert_path) < 0)
		rc = errno == EEXIST ? 0 : -errno; /* another process made it */
	else if (rc == 0 && rename(key_tmp, key_path) < 0)
		rc = -errno;
	unlink(cert_tmp);
	unlink(key_tmp);
	memset(key_pem, 0, sizeof key_pem);
	return rc;
}

static int load(struct receipt_signer *s, const char *cert_path, const char *key_path)
{
	struct stat st;
	if (stat(key_path, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM; /* docs/architecture.md rule 5: owner-only key files */
	if (mbedtls_x509_crt_parse_file(&s->cert, cert_path) != 0)
		return -EINVAL;
	if (mbedtls_pk_parse_keyfile(&s->key, key_path, NULL) != 0)
		return -EINVAL;
	if (mbedtls_pk_get_type(&s->key) != MBEDTLS_PK_RSA ||
	    mbedtls_pk_check_pair(&s->cert.pk, &s->key) != 0)
		return -EINVAL;
	return 0;
}

int receipt_signer_open(const char *data_dir, struct receipt_signer **out)
{
	char dir[4000], cert_path[4096], key_path[4096];
	if (snprintf(dir, sizeof dir, "%s/ca", data_dir) >= (int)sizeof dir)
		return -ENAMETOOLONG;
	snprintf(cert_path, sizeof cert_path, "%s/receipt.pem", dir);
	snprintf(key_path, sizeof key_path, "%s/receipt.key", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	int rc = 0;
	if (access(cert_path, F_OK) < 0 && (rc = create(cert_path, key_path)) < 0)
		return rc;
	struct receipt_signer *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (int attempt = 0; attempt < RECEIPT_LOAD_ATTEMPTS; attempt++) {
		mbedtls_pk_init(&s->key);
		mbedtls_x509_crt_init(&s->cert);
		rc = load(s, cert_path, key_path);
		if (rc != -ENOENT)
			break;
		mbedtls_pk_free(&s->key);
		mbedtls_x509_crt_free(&s->cert);
		usleep(20000);
	}
	if (rc < 0) {
		receipt_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void receipt_signer_free(struct receipt_signer *s)
{
	if (!s)
		return;
	mbedtls_pk_free(&s->key);
	mbedtls_x509_crt_free(&s->cert);
	free(s);
}

void receipt_signer_cert(const struct receipt_signer *s, const uint8_t **der, size_t *len)
{
	*der = s->cert.raw.p;
	*len = s->cert.raw.len;
}

int receipt_content(const struct receipt_fields *f, uint8_t **out, size_t *len)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_int(&j, "version", 1);
	json_uint(&j, "receipt", f->number);
	json_time(&j, "received_at", f->received_at);
	json_hex(&j, "sha256", f->sha256, sizeof f->sha256);
	json_object_end(&j);
	/* The result is already JSON (made with core/json.h): splice it in as
	 * the last member, in place of the closing brace. */
	if (f->result_json_len > 0 && !b.failed) {
		b.len--;
		buf_append_str(&b, ",\"result\":");
		buf_append(&b, f->result_json, f->result_json_len);
		buf_append_str(&b, "}");
	}
	if (b.failed) {
		buf_free(&b);
		return -ENOMEM;
	}
	*out = buf_steal(&b, len);
	return 0;
}

int receipt_sign(struct receipt_signer *s, const struct receipt_fields *f, uint8_t **der,
                 size_t *len)
{
	uint8_t *content;
	size_t content_len;
	int rc = receipt_content(f, &content, &content_len);
	if (rc < 0)
		return rc;
	struct cms_build_params p = {
	        .content = content,
	        .content_len = content_len,
	        .signed_attributes = true,
	        .signing_time = f->received_at,
	        .cert = s->cert.raw.p,
	        .cert_len = s->cert.raw.len,
	        .sign = cms_sign_pk,
	        .sign_arg = &s->key,
	};
	rc = cms_build_signed(&p, der, len);
	free(content);
	return rc;
}
