/* Session tickets sealed with keys derived from a shared secret (see
 * tls_ticket.h). */
#include "tls/tls_ticket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/gcm.h>
#include <mbedtls/ssl.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "core/encoding.h"
#include "pki/errors.h"

#define TICKET_IV_LEN       12
#define TICKET_TAG_LEN      16
#define TICKET_VERSION      1
#define TICKET_INNER_HEADER (1 + 8 + 32)
#define TICKET_OVERHEAD     (TLS_TICKET_NAME_LEN + TICKET_IV_LEN + TICKET_TAG_LEN)
/* Machines sharing a key file may disagree on the time by this much. */
#define TICKET_CLOCK_SKEW_S 300

/* --- the key file ---------------------------------------------------------------- */

int tls_ticket_key_ensure(const char *path, char *err, size_t err_len)
{
	uint8_t secret[TLS_TICKET_MASTER_LEN];
	char text[2 * TLS_TICKET_MASTER_LEN + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		int rc = -errno;
		snprintf(err, err_len, "%s: cannot create session ticket key: %s", path,
		         strerror(errno));
		return rc;
	}
	int rc = 0;
	if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret) {
		rc = -EIO;
		snprintf(err, err_len, "%s: no randomness for the ticket key", path);
	} else {
		hex_encode(secret, sizeof secret, text);
		size_t n = strlen(text);
		text[n++] = '\n';
		if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
			rc = -EIO;
			snprintf(err, err_len, "%s: cannot write ticket key: %s", path,
			         strerror(errno));
		}
	}
	mbedtls_platform_zeroize(secret, sizeof secret);
	mbedtls_platform_zeroize(text, sizeof text);
	close(fd);
	if (rc < 0)
		unlink(path);
	return rc;
}

int tls_ticket_key_load(const char *path, uint8_t master[TLS_TICKET_MASTER_LEN], char *err,
                        size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, err_len, "%s: session ticket key: %s", path, strerror(errno));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, err_len,
		         "%s: session ticket key readable by group or others (mode %03o); chmod "
		         "600 it",
		         path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -EPERM;
	}
	char text[2 * TLS_TICKET_MASTER_LEN + 4];
	ssize_t n = read(fd, text, sizeof text);
	close(fd);
	int rc = -EINVAL;
	if (n > 0) {
		size_t len = (size_t)n;
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		if (len == 2 * TLS_TICKET_MASTER_LEN &&
		    hex_decode(text, len, master, TLS_TICKET_MASTER_LEN) == TLS_TICKET_MASTER_LEN)
			rc = 0;
	}
	mbedtls_platform_zeroize(text, sizeof text);
	if (rc < 0)
		snprintf(err, err_len,
		         "%s: session ticket key must be %d hex digits (openssl rand -hex %d)",
		         path, 2 * TLS_TICKET_MASTER_LEN, TLS_TICKET_MASTER_LEN);
	return rc;
}

/* --- keys per period --------------------------------------------------------------- */

int tls_ticket_derive(const uint8_t master[TLS_TICKET_MASTER_LEN], uint64_t period, uint8_t key[32],
                      uint8_t name[TLS_TICKET_NAME_LEN])
{
	static const char label[] = "kensho ticket";
	uint8_t info[sizeof label - 1 + 8];
	memcpy(info, label, sizeof label - 1);
	for (int i = 0; i < 8; i++)
		info[sizeof label - 1 + i] = (uint8_t)(period >> (56 - 8 * i));
	uint8_t okm[32 + TLS_TICKET_NAME_LEN];
	/* RFC 5869: no salt (a string of zeros); the period goes into info so
	 * one extraction serves every period. */
	int mrc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), NULL, 0, master,
	                       TLS_TICKET_MASTER_LEN, info, sizeof info, okm, sizeof okm);
	if (mrc == 0) {
		memcpy(key, okm, 32);
		memcpy(name, okm + 32, TLS_TICKET_NAME_LEN);
	}
	mbedtls_platform_zeroize(okm, sizeof okm);
	return mrc == 0 ? 0 : -EIO;
}

static uint64_t period_of(const struct tls_ticket_keys *k, int64_t now)
{
	return now <= 0 ? 0 : (uint64_t)now / (uint64_t)k->rotation_s;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- sealing and opening ------------------------------------------------------------ */

int tls_ticket_seal(const struct tls_ticket_keys *k, int64_t now, int64_t start,
                    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
                    const mbedtls_ssl_session *session, uint8_t *out, size_t cap, size_t *len)
{
	if (cap < TICKET_OVERHEAD + TICKET_INNER_HEADER)
		return -ENOSPC;
	uint8_t key[32];
	uint8_t *name = out, *iv = out + TLS_TICKET_NAME_LEN;
	uint8_t *inner = iv + TICKET_IV_LEN;
	size_t room = cap - TICKET_OVERHEAD - TICKET_INNER_HEADER, session_len = 0;
	int rc = tls_ticket_derive(k->master, period_of(k, now), key, name);
	if (rc < 0)
		return rc;
	rc = -EIO;
	if (f_rng(p_rng, iv, TICKET_IV_LEN) != 0)
		goto out;
	inner[0] = TICKET_VERSION;
	put_be64(inner + 1, start < 0 ? 0 : (uint64_t)start);
	memcpy(inner + 9, k->trust_fp, 32);
	int mrc =
	        mbedtls_ssl_session_save(session, inner + TICKET_INNER_HEADER, room, &session_len);
	if (mrc != 0) {
		rc = pki_errno(mrc); /* -ENOSPC: the session does not fit */
		goto out;
	}
	size_t inner_len = TICKET_INNER_HEADER + session_len;
	mbedtls_gcm_context gcm;
	mbedtls_gcm_init(&gcm);
	mrc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (mrc == 0)
		mrc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, inner_len, iv,
		                                TICKET_IV_LEN, name, TLS_TICKET_NAME_LEN, inner,
		                                inner, TICKET_TAG_LEN, inner + inner_len);
	mbedtls_gcm_free(&gcm);
	if (mrc == 0) {
		*len = TICKET_OVERHEAD + inner_len;
		rc = 0;
	}
out:
	mbedtls_platform_zeroize(key, sizeof key);
	return rc;
}

int tls_ticket_open(const struct tls_ticket_keys *k, int64_t now, uint8_t *buf, size_t len,
                    mbedtls_ssl_session *session, int64_t *start)
{
	if (len < TICKET_OVERHEAD + TICKET_INNER_HEADER)
		return -EBADMSG;
	/* RFC 5077 §4: the key name picks the key; only the current and the
	 * previous period are honoured, so a key lives two periods at most. */
	uint64_t period = period_of(k, now);
	uint8_t key[32], name[TLS_TICKET_NAME_LEN];
	bool found = false;
	for (uint64_t back = 0; back < 2 && back <= period && !found; back++) {
		if (tls_ticket_derive(k->master, period - back, key, name) < 0)
			return -EIO;
		found = memcmp(name, buf, TLS_TICKET_NAME_LEN) == 0;
	}
	if (!found) {
		mbedtls_platform_zeroize(key, sizeof key);
		return -ENOKEY;
	}
	const uint8_t *iv = buf + TLS_TICKET_NAME_LEN;
	uint8_t *inner = buf + TLS_TICKET_NAME_LEN + TICKET_IV_LEN;
	size_t inner_len = len - TICKET_OVERHEAD;
	mbedtls_gcm_context gcm;
	mbedtls_gcm_init(&gcm);
	int mrc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (mrc == 0)
		mrc = mbedtls_gcm_auth_decrypt(&gcm, inner_len, iv, TICKET_IV_LEN, buf,
		                               TLS_TICKET_NAME_LEN, inner + inner_len,
		                               TICKET_TAG_LEN, inner, inner);
	mbedtls_gcm_free(&gcm);
	mbedtls_platform_zeroize(key, sizeof key);
	if (mrc != 0)
		return -EBADMSG;
	int rc = 0;
	uint64_t issued = get_be64(inner + 1), at = now < 0 ? 0 : (uint64_t)now;
	if (inner[0] != TICKET_VERSION)
		rc = -EBADMSG;
	else if (issued > at + TICKET_CLOCK_SKEW_S ||
	         (issued < at && at - issued > (uint64_t)k->lifetime_s))
		rc = -ETIME;
	else if (memcmp(inner + 9, k->trust_fp, 32) != 0)
		rc = -EKEYREJECTED;
	else if (mbedtls_ssl_session_load(session, inner + TICKET_INNER_HEADER,
	                                  inner_len - TICKET_INNER_HEADER) != 0)
		rc = -EBADMSG;
	if (rc == 0 && start)
		*start = (int64_t)issued;
	/* The plaintext holds the session's master secret; do not leave it in
	 * the ClientHello buffer. */
	mbedtls_platform_zeroize(inner, inner_len);
	return rc;
}
