/* The CAs, issuance, revocation and the real service's revocation rules.
 *
 * Certificates are signed before their transaction begins (RSA signing is
 * slow and needs no store state), so each write transaction holds only store
 * work: the person, the certificates, their links, revocations and the audit
 * record commit together or not at all. */
#include "ca/ca_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

#include "core/log.h"
#include "tls/ocsp.h"

#define RSA_BITS          2048
#define OFFICE_CODE       "KNSH01" /* the subject CN's issuing-office part */
#define SERIAL_RETRIES    3
#define NAME_MAX_BYTES    255
#define ADDRESS_MAX_BYTES 800

static const char *const KIND_LABEL[] = {[CERT_KIND_SIGN] = "sign", [CERT_KIND_AUTH] = "auth"};

void ca_error(char *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, CA_ERR_LEN, fmt, ap);
	va_end(ap);
}

int ca_store_path(const char *data_dir, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", data_dir, CA_STORE_SUBDIR);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int ca_store_open_with(const char *data_dir, const struct store_options *base,
                       struct store **out)
{
	char path[PATH_MAX];
	int err = ca_store_path(data_dir, path, sizeof(path));
	if (err)
		return err;
	struct store_options opts = *base;
	opts.path = path;
	return store_open(&opts, out);
}

int ca_store_open(const char *data_dir, struct store **out)
{
	const struct store_options defaults = {0};
	return ca_store_open_with(data_dir, &defaults, out);
}

static int ca_file(const char *data_dir, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/ca/%s", data_dir, name);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

bool ca_exists(const char *data_dir)
{
	char path[PATH_MAX];
	struct stat st;
	return ca_file(data_dir, "sign-ca.pem", path, sizeof(path)) == 0 && stat(path, &st) == 0;
}

int ca_random(void *state, unsigned char *out, size_t len)
{
	struct ca *ca = state;
	return mbedtls_ctr_drbg_random(&ca->drbg, out, len);
}

static int rng_setup(struct ca *ca)
{
	mbedtls_entropy_init(&ca->entropy);
	mbedtls_ctr_drbg_init(&ca->drbg);
	static const unsigned char personal[] = "kensho ca";
	return x509_error_from_mbedtls(mbedtls_ctr_drbg_seed(
	        &ca->drbg, mbedtls_entropy_func, &ca->entropy, personal, sizeof(personal) - 1));
}

static struct ca *ca_alloc(const char *data_dir)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return NULL;
	snprintf(ca->data_dir, sizeof(ca->data_dir), "%s", data_dir);
	for (int k = 0; k < 3; k++)
		mbedtls_pk_init(&ca->ca_key[k]);
	if (rng_setup(ca)) {
		ca_close(ca);
		return NULL;
	}
	return ca;
}

void ca_close(struct ca *ca)
{
	if (!ca)
		return;
	if (ca->own_store && ca->store)
		store_close(ca->store);
	for (int k = 0; k < 3; k++)
		ocsp_responder_free(ca->responder[k]);
	for (int k = 0; k < 3; k++)
		mbedtls_pk_free(&ca->ca_key[k]);
	mbedtls_ctr_drbg_free(&ca->drbg);
	mbedtls_entropy_free(&ca->entropy);
	free(ca);
}

struct store *ca_store(struct ca *ca)
{
	return ca->store;
}

uint32_t ca_issuer_id(const struct ca *ca, enum cert_kind kind)
{
	return ca->issuer_id[kind];
}

const char *ca_base_url(const struct ca *ca)
{
	return ca->base_url;
}

void ca_set_presign(struct ca *ca, ca_presign_fn fn, void *arg)
{
	ca->presign = fn;
	ca->presign_arg = arg;
}

int ca_presign_in_txn(struct ca *ca, struct store_txn *txn, enum cert_kind kind,
                      const struct store_serial *serial)
{
	struct ocsp_responder *r = ca->responder[kind];
	if (!r)
		return -ENOENT;
	struct store_cert cert;
	int e = store_cert_get(txn, ca->issuer_id[kind], serial, &cert);
	if (e)
		return e;
	struct ocsp_signed signed_response;
	struct store_response cached;
	e = ocsp_presign(r, &cert, time(NULL), &signed_response, &cached);
	if (e)
		return e;
	e = store_response_put(txn, ca->issuer_id[kind], serial, &cached);
	free(signed_response.der);
	return e;
}

struct presign_state {
	struct ca *ca;
	enum cert_kind kind;
	const struct store_serial *serial;
};

static int presign_cb(struct store_txn *txn, void *arg)
{
	struct presign_state *st = arg;
	return ca_presign_in_txn(st->ca, txn, st->kind, st->serial);
}

void ca_presign_after_commit(struct ca *ca, enum cert_kind kind, const struct store_serial *serial)
{
	int err;
	if (ca->presign) {
		err = ca->presign(ca->presign_arg, ca->issuer_id[kind], serial);
	} else if (ca->responder[kind]) {
		/* -ESTALE: a later change won the race; its own pre-sign follows. */
		struct presign_state st = {ca, kind, serial};
		err = store_write(ca->store, presign_cb, &st);
		if (err == -ESTALE)
			err = 0;
	} else {
		return;
	}
	if (err) {
		char label[64];
		ca_cert_label(kind, serial, label, sizeof(label));
		log_warn("pre-signing the OCSP response of %s failed (%s); it will be signed live",
		         label, strerror(-err));
	}
}

/* Loads the delegated responders for pre-signing; without them (files
 * missing) the CA still works and the responder signs live. */
static void load_responders(struct ca *ca)
{
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		char ca_path[PATH_MAX], cert_path[PATH_MAX], key_path[PATH_MAX], name[32];
		snprintf(name, sizeof(name), "%s-ca.pem", KIND_LABEL[k]);
		int e = ca_file(ca->data_dir, name, ca_path, sizeof(ca_path));
		snprintf(name, sizeof(name), "%s-ocsp.pem", KIND_LABEL[k]);
		e = e ? e : ca_file(ca->data_dir, name, cert_path, sizeof(cert_path));
		snprintf(name, sizeof(name), "%s-ocsp.key", KIND_LABEL[k]);
		e = e ? e : ca_file(ca->data_dir, name, key_path, sizeof(key_path));
		struct ocsp_responder_options opts = {.store_issuer_id = ca->issuer_id[k]};
		if (!e)
			e = ocsp_responder_load(ca_path, cert_path, key_path, &opts,
			                        &ca->responder[k]);
		if (e) {
			ca->responder[k] = NULL;
			log_warn("no OCSP pre-signing for %s certificates: loading %s failed (%s)",
			         KIND_LABEL[k], key_path, strerror(-e));
		}
	}
}

void ca_cert_label(enum cert_kind kind, const struct store_serial *serial, char *out, size_t cap)
{
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(serial, hex);
	snprintf(out, cap, "%s/%s", ca_kind_name(kind), hex);
}

int ca_audit(struct store_txn *txn, const char *actor, const char *action, const char *subject)
{
	struct store_audit a = {.time = time(NULL)};
	snprintf(a.actor, sizeof(a.actor), "%s", actor ? actor : "cli");
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.subject, sizeof(a.subject), "%s", subject);
	return store_audit_append(txn, &a);
}

/* --- names of things ------------------------------------------------------------ */

static const struct {
	const char *name;
	enum crl_reason reason;
} REASONS[] = {
        {"unspecified", CRL_REASON_UNSPECIFIED},
        {"keyCompromise", CRL_REASON_KEY_COMPROMISE},
        {"cACompromise", CRL_REASON_CA_COMPROMISE},
        {"affiliationChanged", CRL_REASON_AFFILIATION_CHANGED},
        {"superseded", CRL_REASON_SUPERSEDED},
        {"cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION},
        {"certificateHold", CRL_REASON_CERTIFICATE_HOLD},
        {"removeFromCRL", CRL_REASON_REMOVE_FROM_CRL},
        {"privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN},
        {"aACompromise", CRL_REASON_AA_COMPROMISE},
};

int ca_reason_parse(const char *name, enum crl_reason *out)
{
	for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++)
		if (strcmp(name, REASONS[i].name) == 0) {
			*out = REASONS[i].reason;
			return 0;
		}
	return -EINVAL;
}

const char *ca_reason_name(enum crl_reason reason)
{
	for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++)
		if (REASONS[i].reason == reason)
			return REASONS[i].name;
	return "unknown";
}

static const char *const EVENT_NAMES[] = {
        [CA_EVENT_MOVE] = "move", [CA_EVENT_RENAME] = "rename",   [CA_EVENT_DEATH] = "death",
        [CA_EVENT_LOSS] = "loss", [CA_EVENT_REQUEST] = "request", [CA_EVENT_RENEW] = "renew",
};

int ca_event_parse(const char *name, enum ca_event_type *out)
{
	for (int e = CA_EVENT_MOVE; e <= CA_EVENT_RENEW; e++)
		if (strcmp(name, EVENT_NAMES[e]) == 0) {
			*out = (enum ca_event_type)e;
			return 0;
		}
	return -EINVAL;
}

int ca_kind_parse(const char *name, enum cert_kind *out)
{
	if (strcmp(name, "sign") == 0)
		*out = CERT_KIND_SIGN;
	else if (strcmp(name, "auth") == 0)
		*out = CERT_KIND_AUTH;
	else
		return -EINVAL;
	return 0;
}

const char *ca_kind_name(enum cert_kind kind)
{
	return kind == CERT_KIND_SIGN || kind == CERT_KIND_AUTH ? KIND_LABEL[kind] : "?";
}

/* --- ca init -------------------------------------------------------------------- */

static int random_serial(struct ca *ca, struct store_serial *serial)
{
	serial->len = CA_SERIAL_LEN;
	int ret = ca_random(ca, serial->bytes, CA_SERIAL_LEN);
	if (ret)
		return x509_error_from_mbedtls(ret);
	/* Positive (RFC 5280 §4.1.2.2) and minimal: the first octet is 01..7f. */
	serial->bytes[0] &= 0x7f;
	if (serial->bytes[0] == 0)
		serial->bytes[0] = 1;
	return 0;
}

static int write_pem(const char *path, const uint8_t *der, size_t len)
{
	char *pem;
	int err = x509_cert_pem(der, len, &pem);
	if (err)
		return err;
	err = x509_file_write(path, pem, strlen(pem), 0644);
	free(pem);
	return err;
}

static int issuer_hashes(const uint8_t *der, size_t len, struct store_issuer *issuer)
{
	const uint8_t *name, *spki, *bits;
	size_t name_len, spki_len, bits_len;
	int err = x509_cert_parts(der, len, &name, &name_len, &spki, &spki_len);
	if (!err)
		err = x509_spki_key_bits(spki, spki_len, &bits, &bits_len);
	if (err)
		return err;
	int ret = mbedtls_sha1_ret(name, name_len, issuer->name_sha1);
	if (!ret)
		ret = mbedtls_sha1_ret(bits, bits_len, issuer->key_sha1);
	if (!ret)
		ret = mbedtls_sha256_ret(name, name_len, issuer->name_sha256, 0);
	if (!ret)
		ret = mbedtls_sha256_ret(bits, bits_len, issuer->key_sha256, 0);
	return x509_error_from_mbedtls(ret);
}

struct init_state {
	uint8_t *der[3];
	size_t der_len[3];
};

static int init_register_cb(struct store_txn *txn, void *arg)
{
	struct init_state *st = arg;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		struct store_issuer issuer = {.kind = (enum cert_kind)k};
		snprintf(issuer.label, sizeof(issuer.label), "%s", KIND_LABEL[k]);
		/* Re-running init over a store that knew these labels keeps their ids. */
		struct store_issuer old;
		if (store_issuer_by_label(txn, issuer.label, &old) == 0)
			issuer.id = old.id;
		int err = issuer_hashes(st->der[k], st->der_len[k], &issuer);
		if (!err)
			err = store_issuer_put(txn, &issuer,
			                       (struct store_blob){st->der[k], st->der_len[k]});
		if (!err)
			err = ca_audit(txn, "cli", "ca-init", issuer.label);
		if (err)
			return err;
	}
	return 0;
}

/* Creates one CA (or responder) key, certificate and files. */
static int init_one(struct ca *ca, enum cert_kind kind, bool responder, mbedtls_pk_context *key,
                    uint8_t **der, size_t *der_len, char *err)
{
	char path[PATH_MAX], name[32];
	int e = x509_key_generate(key, RSA_BITS, ca_random, ca);
	struct store_serial serial;
	if (!e)
		e = random_serial(ca, &serial);
	int64_t now = time(NULL);
	if (!e)
		e = responder ? jpki_ocsp_cert(kind, &ca->ca_key[kind], key, serial.bytes,
		                               serial.len, now, ca_random, ca, der, der_len)
		              : jpki_ca_cert(kind, key, serial.bytes, serial.len, now, ca_random,
		                             ca, der, der_len);
	if (e) {
		ca_error(err, "creating the %s %s failed: %s", KIND_LABEL[kind],
		         responder ? "OCSP responder" : "CA", strerror(-e));
		return e;
	}
	snprintf(name, sizeof(name), "%s-%s.key", KIND_LABEL[kind], responder ? "ocsp" : "ca");
	e = ca_file(ca->data_dir, name, path, sizeof(path));
	if (!e)
		e = x509_key_save(key, path);
	if (!e) {
		snprintf(name, sizeof(name), "%s-%s.pem", KIND_LABEL[kind],
		         responder ? "ocsp" : "ca");
		e = ca_file(ca->data_dir, name, path, sizeof(path));
	}
	if (!e)
		e = write_pem(path, *der, *der_len);
	if (e)
		ca_error(err, "writing %s failed: %s", path, strerror(-e));
	return e;
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int ca_init(const char *data_dir, const char *base_url, char err[CA_ERR_LEN])
{
	if (!base_url)
		base_url = CA_DEFAULT_BASE_URL;
	size_t url_len = strlen(base_url);
	while (url_len && base_url[url_len - 1] == '/')
		url_len--;
	if ((strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8)) ||
	    url_len > 400) {
		ca_error(err, "--base-url must be an http:// or https:// URL of at most 400 bytes");
		return -EINVAL;
	}
	if (ca_exists(data_dir)) {
		ca_error(err, "%s/ca already holds the CAs; refusing to replace them", data_dir);
		return -EEXIST;
	}
	char path[PATH_MAX];
	int e = make_dir(data_dir, 0700);
	if (!e)
		e = ca_file(data_dir, "", path, sizeof(path));
	if (!e)
		e = make_dir(path, 0700);
	if (e) {
		ca_error(err, "creating %s/ca failed: %s", data_dir, strerror(-e));
		return e;
	}
	struct ca *ca = ca_alloc(data_dir);
	if (!ca) {
		ca_error(err, "out of memory or no entropy source");
		return -ENOMEM;
	}
	snprintf(ca->base_url, sizeof(ca->base_url), "%.*s", (int)url_len, base_url);

	struct init_state st = {0};
	uint8_t *ocsp_der = NULL;
	size_t ocsp_len = 0;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		mbedtls_pk_context responder;
		mbedtls_pk_init(&responder);
		e = init_one(ca, (enum cert_kind)k, false, &ca->ca_key[k], &st.der[k],
		             &st.der_len[k], err);
		if (!e)
			e = init_one(ca, (enum cert_kind)k, true, &responder, &ocsp_der, &ocsp_len,
			             err);
		free(ocsp_der);
		ocsp_der = NULL;
		mbedtls_pk_free(&responder);
	}
	if (!e) {
		char text[512];
		int n = snprintf(text, sizeof(text), "%s\n", ca->base_url);
		e = ca_file(data_dir, "base-url", path, sizeof(path));
		if (!e)
			e = x509_file_write(path, text, (size_t)n, 0644);
		if (e)
			ca_error(err, "writing %s failed: %s", path, strerror(-e));
	}
	if (!e) {
		struct store *store;
		e = ca_store_open(data_dir, &store);
		if (!e) {
			e = store_write(store, init_register_cb, &st);
			store_close(store);
		}
		if (e)
			ca_error(err, "registering the issuers in the store failed: %s",
			         strerror(-e));
	}
	for (int k = 0; k < 3; k++)
		free(st.der[k]);
	ca_close(ca);
	return e;
}

/* --- ca open ---------------------------------------------------------------------- */

static int load_base_url(struct ca *ca)
{
	char path[PATH_MAX];
	uint8_t *text;
	size_t len;
	int err = ca_file(ca->data_dir, "base-url", path, sizeof(path));
	if (!err)
		err = x509_file_read(path, &text, &len);
	if (err == -ENOENT) {
		snprintf(ca->base_url, sizeof(ca->base_url), "%s", CA_DEFAULT_BASE_URL);
		return 0;
	}
	if (err)
		return err;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == '/'))
		len--;
	snprintf(ca->base_url, sizeof(ca->base_url), "%.*s", (int)len, (const char *)text);
	free(text);
	return 0;
}

static int load_issuers(struct ca *ca)
{
	struct store_txn *txn;
	int err = store_txn_begin(ca->store, false, &txn);
	if (err)
		return err;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !err; k++) {
		struct store_issuer issuer;
		err = store_issuer_by_label(txn, KIND_LABEL[k], &issuer);
		if (!err)
			ca->issuer_id[k] = issuer.id;
	}
	store_txn_abort(txn);
	return err;
}

int ca_open_with_store(const char *data_dir, struct store *store, struct ca **out,
                       char err[CA_ERR_LEN])
{
	struct ca *ca = ca_alloc(data_dir);
	if (!ca) {
		ca_error(err, "out of memory or no entropy source");
		return -ENOMEM;
	}
	ca->store = store;
	char path[PATH_MAX];
	int e = 0;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		char name[32];
		snprintf(name, sizeof(name), "%s-ca.key", KIND_LABEL[k]);
		e = ca_file(data_dir, name, path, sizeof(path));
		if (!e)
			e = x509_key_load(&ca->ca_key[k], path);
		if (e == -EPERM)
			ca_error(err, "%s is readable by others; chmod 600 it", path);
		else if (e)
			ca_error(err, "loading %s failed: %s (run `kensho --data %s ca init`?)",
			         path, strerror(-e), data_dir);
	}
	if (!e) {
		e = load_base_url(ca);
		if (e)
			ca_error(err, "reading %s/ca/base-url failed: %s", data_dir, strerror(-e));
	}
	if (!e && store) {
		e = load_issuers(ca);
		if (e)
			ca_error(err,
			         "the store has no issuers: %s (run `kensho --data %s ca init`)",
			         strerror(-e), data_dir);
		else
			load_responders(ca);
	}
	if (e) {
		ca_close(ca);
		return e;
	}
	*out = ca;
	return 0;
}

int ca_open(const char *data_dir, struct ca **out, char err[CA_ERR_LEN])
{
	struct store *store;
	int e = ca_store_open(data_dir, &store);
	if (e) {
		ca_error(err, "opening the store in %s/%s failed: %s", data_dir, CA_STORE_SUBDIR,
		         strerror(-e));
		return e;
	}
	e = ca_open_with_store(data_dir, store, out, err);
	if (e) {
		store_close(store);
		return e;
	}
	(*out)->own_store = true;
	return 0;
}

/* --- issuing ----------------------------------------------------------------------- */

int ca_sign_ee(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
               int64_t not_before, int64_t not_after, mbedtls_pk_context *subject_key,
               const struct jpki_items *items, uint8_t **der, size_t *der_len)
{
	/* CN: issue timestamp, a six-digit sequence and the office code (JPKI.md). */
	char cn[64];
	struct tm tm;
	time_t t = (time_t)not_before;
	gmtime_r(&t, &tm);
	unsigned sequence =
	        ((unsigned)serial->bytes[serial->len - 3] << 16 |
	         (unsigned)serial->bytes[serial->len - 2] << 8 | serial->bytes[serial->len - 1]) %
	        1000000;
	snprintf(cn, sizeof(cn), "%04d%02d%02d%02d%02d%02d%06u%s", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sequence, OFFICE_CODE);
	struct jpki_ee ee = {
	        .kind = kind,
	        .serial = serial->bytes,
	        .serial_len = serial->len,
	        .not_before = not_before,
	        .not_after = not_after,
	        .subject_key = subject_key,
	        .common_name = cn,
	        .items = items,
	        .base_url = ca->base_url,
	};
	return jpki_ee_cert(&ee, &ca->ca_key[kind], ca_random, ca, der, der_len);
}

static void issued_cert_free(struct ca_issued_cert *c)
{
	free(c->der);
	if (c->key_pem) {
		mbedtls_platform_zeroize(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	memset(c, 0, sizeof(*c));
}

void ca_issued_free(struct ca_issued *issued)
{
	issued_cert_free(&issued->sign);
	issued_cert_free(&issued->auth);
}

/* A person, validated, in the forms the certificate and the store need. */
struct person {
	struct store_person record;
	struct jpki_date birth;
	struct jpki_items items;
};

static int person_check(const struct ca_person *in, struct person *p, char *err)
{
	memset(p, 0, sizeof(*p));
	if (!in->name || !in->name[0] || strlen(in->name) > NAME_MAX_BYTES ||
	    jpki_utf8_chars(in->name) < 0) {
		ca_error(err, "the name must be UTF-8 text of 1 to %d bytes", NAME_MAX_BYTES);
		return -EINVAL;
	}
	int chars = in->address ? jpki_utf8_chars(in->address) : -1;
	if (chars < 1 || chars > JPKI_ADDRESS_MAX_CHARS ||
	    strlen(in->address) > ADDRESS_MAX_BYTES) {
		ca_error(err, "the address must be UTF-8 text of 1 to %d characters",
		         JPKI_ADDRESS_MAX_CHARS);
		return -EINVAL;
	}
	if (in->sex < 1 || in->sex > 3) {
		ca_error(err, "sex must be 1 (male), 2 (female) or 3 (unknown)");
		return -EINVAL;
	}
	struct jpki_date today;
	jpki_date_from_unix(time(NULL), &today);
	if (!in->birth || jpki_date_parse(in->birth, &p->birth) ||
	    jpki_age_on(&p->birth, &today) < 0) {
		ca_error(err, "the birth date must be YYYY-MM-DD, from 1868 and not in the future");
		return -EINVAL;
	}
	snprintf(p->record.name, sizeof(p->record.name), "%s", in->name);
	snprintf(p->record.address, sizeof(p->record.address), "%s", in->address);
	jpki_birth_code(&p->birth, p->record.birth);
	p->record.sex = in->sex;
	p->items = (struct jpki_items){p->record.name, p->record.birth, p->record.sex,
	                               p->record.address};
	return 0;
}

/* The stored person back in checked form (for renewals). */
static int person_from_record(const struct store_person *rec, struct person *p)
{
	memset(p, 0, sizeof(*p));
	p->record = *rec;
	char iso[11];
	if (strlen(rec->birth) != 9)
		return -EINVAL;
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2s", rec->birth + 1, rec->birth + 5,
	         rec->birth + 7);
	if (jpki_date_parse(iso, &p->birth))
		return -EINVAL;
	p->items = (struct jpki_items){p->record.name, p->record.birth, p->record.sex,
	                               p->record.address};
	return 0;
}

/* Signs one certificate of a new pair, generating its key if none given. */
static int prepare_cert(struct ca *ca, enum cert_kind kind, const struct person *p,
                        const uint8_t *pubkey, size_t pubkey_len, int64_t now,
                        struct ca_issued_cert *out, char *err)
{
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	int e;
	if (pubkey) {
		e = x509_pubkey_parse(&key, pubkey, pubkey_len);
		if (e)
			ca_error(err, "the %s public key is not an RSA public key in PEM or DER",
			         KIND_LABEL[kind]);
	} else {
		e = x509_key_generate(&key, RSA_BITS, ca_random, ca);
		if (!e)
			e = x509_key_pem(&key, &out->key_pem);
		if (e)
			ca_error(err, "generating the %s key failed: %s", KIND_LABEL[kind],
			         strerror(-e));
	}
	if (!e)
		e = random_serial(ca, &out->serial);
	out->not_before = now;
	out->not_after = jpki_validity_end(&p->birth, now);
	if (!e) {
		e = ca_sign_ee(ca, kind, &out->serial, now, out->not_after, &key,
		               kind == CERT_KIND_SIGN ? &p->items : NULL, &out->der, &out->der_len);
		if (e)
			ca_error(err, "signing the %s certificate failed: %s", KIND_LABEL[kind],
			         strerror(-e));
	}
	mbedtls_pk_free(&key);
	out->issued = e == 0;
	return e;
}

static bool sign_allowed(const struct person *p, int64_t now)
{
	struct jpki_date today;
	jpki_date_from_unix(now, &today);
	return jpki_age_on(&p->birth, &today) >= JPKI_SIGN_MIN_AGE;
}

static int prepare_pair(struct ca *ca, const struct person *p, const struct ca_issue_request *req,
                        int64_t now, struct ca_issued *out, char *err)
{
	memset(out, 0, sizeof(*out));
	int e = 0;
	if (sign_allowed(p, now))
		e = prepare_cert(ca, CERT_KIND_SIGN, p, req ? req->sign_pubkey : NULL,
		                 req ? req->sign_pubkey_len : 0, now, &out->sign, err);
	else if (req && req->sign_pubkey) {
		ca_error(err, "no signing certificate for people under %d (JPKI.md)",
		         JPKI_SIGN_MIN_AGE);
		e = -EPERM;
	}
	if (!e)
		e = prepare_cert(ca, CERT_KIND_AUTH, p, req ? req->auth_pubkey : NULL,
		                 req ? req->auth_pubkey_len : 0, now, &out->auth, err);
	if (e)
		ca_issued_free(out);
	return e;
}

/* Inserts a prepared pair for person_id, linking each certificate to its
 * pair and to the certificate it replaces (if any). */
static int insert_pair(struct ca *ca, struct store_txn *txn, struct ca_issued *pair,
                       uint64_t person_id, const struct store_serial *replaces)
{
	struct ca_issued_cert *certs[3] = {NULL, &pair->sign, &pair->auth};
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		struct ca_issued_cert *c = certs[k];
		if (!c->issued)
			continue;
		struct ca_issued_cert *other =
		        certs[k == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN];
		struct store_cert rec = {
		        .issuer_id = ca->issuer_id[k],
		        .serial = c->serial,
		        .kind = (enum cert_kind)k,
		        .status = CERT_STATUS_GOOD,
		        .person_id = person_id,
		};
		rec.not_before = c->not_before;
		rec.not_after = c->not_after;
		int e;
		if (other->issued)
			rec.pair = other->serial;
		if (replaces && replaces[k].len)
			rec.replaces = replaces[k];
		e = store_cert_insert(txn, &rec, (struct store_blob){c->der, c->der_len});
		if (e)
			return e;
	}
	return 0;
}

struct issue_state {
	struct ca *ca;
	struct person *person;
	struct ca_issued *out;
	const char *actor;
	int64_t now;
};

static int issue_cb(struct store_txn *txn, void *arg)
{
	struct issue_state *st = arg;
	struct store_person rec = st->person->record;
	rec.id = 0;
	int e = store_person_put(txn, &rec);
	if (!e)
		e = insert_pair(st->ca, txn, st->out, rec.id, NULL);
	if (!e) {
		st->out->person_id = rec.id;
		char subject[128];
		ca_cert_label(CERT_KIND_AUTH, &st->out->auth.serial, subject, sizeof(subject));
		if (st->out->sign.issued) {
			char sign[64];
			ca_cert_label(CERT_KIND_SIGN, &st->out->sign.serial, sign, sizeof(sign));
			size_t n = strlen(subject);
			snprintf(subject + n, sizeof(subject) - n, " %s", sign);
		}
		e = ca_audit(txn, st->actor, "issue", subject);
	}
	return e;
}

int ca_issue(struct ca *ca, const struct ca_issue_request *req, struct ca_issued *out,
             char err[CA_ERR_LEN])
{
	struct person p;
	int e = person_check(&req->person, &p, err);
	if (e)
		return e;
	int64_t now = time(NULL);
	for (int attempt = 0; attempt < SERIAL_RETRIES; attempt++) {
		e = prepare_pair(ca, &p, req, now, out, err);
		if (e)
			return e;
		struct issue_state st = {ca, &p, out, req->actor, now};
		e = store_write(ca->store, issue_cb, &st);
		if (e != -EEXIST)
			break;
		ca_issued_free(out); /* a serial collided: draw new ones */
	}
	if (e) {
		ca_error(err, "storing the certificates failed: %s", strerror(-e));
		ca_issued_free(out);
		return e;
	}
	if (out->sign.issued)
		ca_presign_after_commit(ca, CERT_KIND_SIGN, &out->sign.serial);
	ca_presign_after_commit(ca, CERT_KIND_AUTH, &out->auth.serial);
	return 0;
}

/* --- revoking -------------------------------------------------------------------------- */

struct revoke_state {
	struct ca *ca;
	enum cert_kind kind;
	const struct store_serial *serial;
	enum crl_reason reason;
	const char *actor;
};

static int revoke_cb(struct store_txn *txn, void *arg)
{
	struct revoke_state *st = arg;
	uint32_t issuer = st->ca->issuer_id[st->kind];
	struct store_cert cert;
	int e = store_cert_get(txn, issuer, st->serial, &cert);
	if (!e)
		e = store_cert_revoke(txn, issuer, st->serial, time(NULL), st->reason);
	if (!e) {
		char subject[128];
		ca_cert_label(st->kind, st->serial, subject, sizeof(subject));
		size_t n = strlen(subject);
		snprintf(subject + n, sizeof(subject) - n, " %s", ca_reason_name(st->reason));
		e = ca_audit(txn, st->actor, "revoke", subject);
	}
	return e;
}

static void revoke_error(char *err, int e, enum cert_kind kind, const struct store_serial *serial)
{
	char label[64];
	ca_cert_label(kind, serial, label, sizeof(label));
	if (e == -ENOENT)
		ca_error(err, "no certificate %s was issued", label);
	else if (e == -EALREADY)
		ca_error(err, "%s is already revoked", label);
	else
		ca_error(err, "revoking %s failed: %s", label, strerror(-e));
}

int ca_revoke(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
              enum crl_reason reason, const char *actor, char err[CA_ERR_LEN])
{
	if (reason == CRL_REASON_REMOVE_FROM_CRL) {
		ca_error(err, "removeFromCRL is only for delta CRLs, not a revocation reason");
		return -EINVAL;
	}
	struct revoke_state st = {ca, kind, serial, reason, actor};
	int e = store_write(ca->store, revoke_cb, &st);
	if (e) {
		revoke_error(err, e, kind, serial);
		return e;
	}
	ca_presign_after_commit(ca, kind, serial);
	return 0;
}

/* --- events ------------------------------------------------------------------------------ */

/* Which certificates an event revokes, and why (JPKI.md, "revoked when").
 *
 * Death: the real service's code is not public. kensho uses
 * cessationOfOperation: the certificate is no longer needed, and a code of its
 * own would tell every CRL reader that the holder died, which is personal
 * data (DESIGN.md rule 4). The audit log keeps the true event. */
static void event_rule(enum ca_event_type event, bool *sign, bool *auth, enum crl_reason *reason)
{
	*sign = true;
	*auth = true;
	switch (event) {
	case CA_EVENT_MOVE:
	case CA_EVENT_RENAME:
		*auth = false; /* the user-auth certificate carries none of the four items */
		*reason = CRL_REASON_AFFILIATION_CHANGED;
		break;
	case CA_EVENT_LOSS: *reason = CRL_REASON_KEY_COMPROMISE; break;
	case CA_EVENT_DEATH:
	case CA_EVENT_REQUEST: *reason = CRL_REASON_CESSATION_OF_OPERATION; break;
	case CA_EVENT_RENEW: *reason = CRL_REASON_SUPERSEDED; break;
	}
}

struct event_state {
	struct ca *ca;
	enum cert_kind kind;
	const struct store_serial *serial;
	enum ca_event_type event;
	const char *actor;
	struct ca_issued *renewed;    /* the new pair (renew) or signing certificate (change) */
	const struct person *changed; /* the person after a move or rename, or NULL */
	int64_t now;
	bool revoked[3];            /* by kind: what this event revoked */
	struct store_serial old[3]; /* the person's pair, by kind */
};

/* Finds the pair a certificate belongs to. */
static int pair_of(struct ca *ca, struct store_txn *txn, enum cert_kind kind,
                   const struct store_serial *serial, struct store_cert certs[3], bool have[3])
{
	enum cert_kind other = kind == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN;
	have[kind] = have[other] = false;
	int e = store_cert_get(txn, ca->issuer_id[kind], serial, &certs[kind]);
	if (e)
		return e;
	have[kind] = true;
	if (certs[kind].pair.len) {
		e = store_cert_get(txn, ca->issuer_id[other], &certs[kind].pair, &certs[other]);
		if (e && e != -ENOENT)
			return e;
		have[other] = e == 0;
	}
	return 0;
}

/* After a move or rename: the replacement signing certificate, linked to the
 * one it replaces and to the pair's user-auth certificate, and the person's
 * new item. */
static int reissue_signing(struct ca *ca, struct store_txn *txn, struct event_state *st,
                           struct store_cert certs[3], const bool have[3])
{
	const struct ca_issued_cert *n = &st->renewed->sign;
	struct store_cert rec = {
	        .issuer_id = ca->issuer_id[CERT_KIND_SIGN],
	        .serial = n->serial,
	        .kind = CERT_KIND_SIGN,
	        .status = CERT_STATUS_GOOD,
	        .not_before = n->not_before,
	        .not_after = n->not_after,
	        .person_id = certs[CERT_KIND_SIGN].person_id,
	        .replaces = certs[CERT_KIND_SIGN].serial,
	};
	if (have[CERT_KIND_AUTH])
		rec.pair = certs[CERT_KIND_AUTH].serial;
	int e = store_cert_insert(txn, &rec, (struct store_blob){n->der, n->der_len});
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		struct store_cert old;
		if (!have[k])
			continue;
		e = store_cert_get(txn, ca->issuer_id[k], &certs[k].serial, &old);
		if (e)
			break;
		if (k == CERT_KIND_SIGN)
			old.replaced_by = n->serial;
		else
			old.pair = n->serial;
		e = store_cert_update_links(txn, &old);
	}
	if (!e) {
		struct store_person person = st->changed->record;
		person.id = rec.person_id;
		e = store_person_put(txn, &person);
	}
	if (!e)
		st->renewed->person_id = rec.person_id;
	return e;
}

static int event_cb(struct store_txn *txn, void *arg)
{
	struct event_state *st = arg;
	struct ca *ca = st->ca;
	struct store_cert certs[3];
	bool have[3];
	memset(st->revoked, 0, sizeof(st->revoked));
	int e = pair_of(ca, txn, st->kind, st->serial, certs, have);
	if (e)
		return e;

	bool want[3];
	enum crl_reason reason = CRL_REASON_UNSPECIFIED;
	event_rule(st->event, &want[CERT_KIND_SIGN], &want[CERT_KIND_AUTH], &reason);
	if (st->event != CA_EVENT_RENEW && !have[CERT_KIND_SIGN] && !want[CERT_KIND_AUTH])
		return -ENOENT; /* a move of someone who has no signing certificate */

	int revoked = 0;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		st->old[k] = have[k] ? certs[k].serial : (struct store_serial){0};
		if (!have[k] || !want[k])
			continue;
		if (certs[k].replaced_by.len && st->event == CA_EVENT_RENEW)
			return -EALREADY; /* renewed before */
		e = store_cert_revoke(txn, ca->issuer_id[k], &certs[k].serial, st->now, reason);
		if (e == -EALREADY)
			continue; /* revoked earlier, e.g. the signing one after a move */
		if (e)
			return e;
		st->revoked[k] = true;
		revoked++;
	}
	if (st->event == CA_EVENT_RENEW) {
		e = insert_pair(ca, txn, st->renewed, certs[st->kind].person_id, st->old);
		for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
			struct ca_issued_cert *n =
			        k == CERT_KIND_SIGN ? &st->renewed->sign : &st->renewed->auth;
			if (!have[k] || !n->issued)
				continue;
			struct store_cert old;
			e = store_cert_get(txn, ca->issuer_id[k], &certs[k].serial, &old);
			if (!e) {
				old.replaced_by = n->serial;
				e = store_cert_update_links(txn, &old);
			}
		}
		if (e)
			return e;
		st->renewed->person_id = certs[st->kind].person_id;
	} else if (revoked == 0) {
		return -EALREADY;
	} else if (st->changed) {
		e = reissue_signing(ca, txn, st, certs, have);
		if (e)
			return e;
	}
	char subject[128];
	char action[32];
	ca_cert_label(st->kind, st->serial, subject, sizeof(subject));
	snprintf(action, sizeof(action), "event-%s", EVENT_NAMES[st->event]);
	return ca_audit(txn, st->actor, action, subject);
}

/* Reads what a renewal needs before any signing: the person behind a
 * certificate. */
static int renewal_person(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                          struct person *p)
{
	struct store_txn *txn;
	int e = store_txn_begin(ca->store, false, &txn);
	if (e)
		return e;
	struct store_cert cert;
	struct store_person rec;
	e = store_cert_get(txn, ca->issuer_id[kind], serial, &cert);
	if (!e && cert.person_id == 0)
		e = -ENODATA;
	if (!e)
		e = store_person_get(txn, cert.person_id, &rec);
	store_txn_abort(txn);
	if (!e)
		e = person_from_record(&rec, p);
	return e;
}

/* The person after a move or rename, checked like a new issuance. */
static int changed_person(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                          enum ca_event_type event, const struct ca_change *change,
                          struct person *out, char *err)
{
	bool move = event == CA_EVENT_MOVE;
	if ((event != CA_EVENT_MOVE && event != CA_EVENT_RENAME) ||
	    !(move ? change->address : change->name)) {
		ca_error(err,
		         "a reissue needs a move with the new address or a rename with the new "
		         "name");
		return -EINVAL;
	}
	struct person old;
	int e = renewal_person(ca, kind, serial, &old);
	if (e) {
		revoke_error(err, -ENOENT, kind, serial);
		return -ENOENT;
	}
	char birth[32];
	snprintf(birth, sizeof(birth), "%04d-%02d-%02d", old.birth.year % 10000,
	         old.birth.month % 100, old.birth.day % 100);
	struct ca_person in = {
	        .name = move ? old.record.name : change->name,
	        .birth = birth,
	        .sex = old.record.sex,
	        .address = move ? change->address : old.record.address,
	};
	return person_check(&in, out, err);
}

int ca_event(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
             enum ca_event_type event, const char *actor, struct ca_issued *renewed,
             char err[CA_ERR_LEN])
{
	return ca_event_change(ca, kind, serial, event, NULL, actor, renewed, err);
}

int ca_event_change(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                    enum ca_event_type event, const struct ca_change *change, const char *actor,
                    struct ca_issued *renewed, char err[CA_ERR_LEN])
{
	struct ca_issued pair;
	struct person changed;
	struct event_state st = {ca,   kind, serial,     event, actor,
	                         NULL, NULL, time(NULL), {0},   {{0}}};
	int e = 0;
	if (change) {
		e = changed_person(ca, kind, serial, event, change, &changed, err);
		if (e)
			return e;
		st.changed = &changed;
	}
	for (int attempt = 0; attempt < SERIAL_RETRIES; attempt++) {
		if (change) {
			memset(&pair, 0, sizeof(pair));
			e = prepare_cert(ca, CERT_KIND_SIGN, &changed, change->sign_pubkey,
			                 change->sign_pubkey_len, st.now, &pair.sign, err);
			if (e) {
				ca_issued_free(&pair);
				return e;
			}
			st.renewed = &pair;
		} else if (event == CA_EVENT_RENEW) {
			struct person p;
			e = renewal_person(ca, kind, serial, &p);
			if (e == -ENOENT || e == -ENODATA) {
				revoke_error(err, -ENOENT, kind, serial);
				return -ENOENT;
			}
			if (!e)
				e = prepare_pair(ca, &p, NULL, st.now, &pair, err);
			if (e)
				return e;
			st.renewed = &pair;
		}
		e = store_write(ca->store, event_cb, &st);
		if (e != -EEXIST || !st.renewed)
			break;
		ca_issued_free(&pair);
	}
	if (e) {
		char label[64];
		ca_cert_label(kind, serial, label, sizeof(label));
		if (e == -ENOENT)
			ca_error(
			        err,
			        "%s: no such certificate, or the holder has no signing certificate",
			        label);
		else if (e == -EALREADY)
			ca_error(err, "%s: nothing to do, the certificates are already %s", label,
			         event == CA_EVENT_RENEW ? "renewed" : "revoked");
		else
			ca_error(err, "%s: %s failed: %s", label, EVENT_NAMES[event], strerror(-e));
		if (st.renewed)
			ca_issued_free(&pair);
		return e;
	}
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++)
		if (st.revoked[k])
			ca_presign_after_commit(ca, (enum cert_kind)k, &st.old[k]);
	if (st.renewed) {
		if (pair.sign.issued)
			ca_presign_after_commit(ca, CERT_KIND_SIGN, &pair.sign.serial);
		if (pair.auth.issued)
			ca_presign_after_commit(ca, CERT_KIND_AUTH, &pair.auth.serial);
		if (renewed)
			*renewed = pair;
		else
			ca_issued_free(&pair);
	}
	return 0;
}
