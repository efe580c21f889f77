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

#include "core/json.h"
#include "pki/cms_build.h"
#include "pki/signer.h"

#define RECEIPT_KEY_BITS      2048
#define RECEIPT_CERT_YEARS    20
#define RECEIPT_SUBJECT       "C=JP,O=kensho,CN=kensho intake receipts"
#define RECEIPT_LOAD_ATTEMPTS 50 /* x 20 ms: another starter finishing creation */

struct receipt_signer {
	struct pki_signer *signer;
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

/* Creates the pair unless it exists. The certificate is published with
 * link(2), which fails if another starter won; the key goes in place first
 * under the certificate's name only after the certificate is linked, so a
 * loader that sees the certificate waits briefly for the key. */
static int create(const char *cert_path, const char *key_path)
{
	char key_pem[4096], cert_pem[4096];
	int64_t now = time(NULL);
	struct pki_self_signed what = {
	        .subject = RECEIPT_SUBJECT,
	        .key_bits = RECEIPT_KEY_BITS,
	        .not_before = now - 3600,
	        .not_after = now + (int64_t)RECEIPT_CERT_YEARS * 365 * 86400,
	};
	int rc = pki_self_signed_create(&what, key_pem, sizeof key_pem, cert_pem, sizeof cert_pem);
	if (rc < 0)
		return rc;
	char cert_tmp[4200], key_tmp[4200]; /* paths are under 4096 */
	snprintf(cert_tmp, sizeof cert_tmp, "%s.%d.tmp", cert_path, (int)getpid());
	snprintf(key_tmp, sizeof key_tmp, "%s.%d.tmp", key_path, (int)getpid());
	unlink(cert_tmp);
	unlink(key_tmp);
	rc = write_file(key_tmp, key_pem, strlen(key_pem), 0600);
	if (rc == 0)
		rc = write_file(cert_tmp, cert_pem, strlen(cert_pem), 0644);
	if (rc == 0 && link(cert_tmp, cert_path) < 0)
		rc = errno == EEXIST ? 0 : -errno; /* another process made it */
	else if (rc == 0 && rename(key_tmp, key_path) < 0)
		rc = -errno;
	unlink(cert_tmp);
	unlink(key_tmp);
	memset(key_pem, 0, sizeof key_pem);
	return rc;
}

/* The key file must be owner-only (docs/architecture.md rule 5); a missing
 * one is -ENOENT, which the caller waits out while another starter creates
 * the pair. */
static int load(const char *cert_path, const char *key_path, struct pki_signer **out)
{
	struct stat st;
	if (stat(key_path, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM;
	return pki_signer_load(cert_path, key_path, out);
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
	struct pki_signer *signer = NULL;
	for (int attempt = 0; attempt < RECEIPT_LOAD_ATTEMPTS; attempt++) {
		rc = load(cert_path, key_path, &signer);
		if (rc != -ENOENT)
			break;
		usleep(20000);
	}
	if (rc < 0)
		return rc;
	struct receipt_signer *s = calloc(1, sizeof *s);
	if (!s) {
		pki_signer_free(signer);
		return -ENOMEM;
	}
	s->signer = signer;
	*out = s;
	return 0;
}

void receipt_signer_free(struct receipt_signer *s)
{
	if (!s)
		return;
	pki_signer_free(s->signer);
	free(s);
}

void receipt_signer_cert(const struct receipt_signer *s, const uint8_t **der, size_t *len)
{
	pki_signer_cert(s->signer, der, len);
}

int receipt_content(const struct receipt_fields *f, uint8_t **out, size_t *len)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_int(&j, "version", 2);
	json_uint(&j, "receipt", f->number);
	json_uint(&j, "log_index", f->log_index);
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
	const uint8_t *cert;
	size_t cert_len;
	pki_signer_cert(s->signer, &cert, &cert_len);
	struct cms_build_params p = {
	        .content = content,
	        .content_len = content_len,
	        .signed_attributes = true,
	        .signing_time = f->received_at,
	        .cert = cert,
	        .cert_len = cert_len,
	        .sign = pki_signer_sign,
	        .sign_arg = s->signer,
	};
	rc = cms_build_signed(&p, der, len);
	free(content);
	return rc;
}
