/* The CAs, issuance, revocation and the real service's revocation rules.
 *
 * Certificates are signed before their transaction begins (RSA signing is
 * slow and needs no store state), so each write transaction holds only store
 * work: the person, the certificates, their links, revocations and the audit
 * record commit together or not at all. */
#include "ca/ca_internal.h"
#include "ca/jpki_address.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "ca/arl_issue.h"
#include "core/log.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "pki/errors.h"

#define OFFICE_CODE "KNSH01" /* the subject CN's issuing-office part */

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

int ca_store_open_with(const char *data_dir, const struct store_options *base, struct store **out)
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

int ca_tsa_files(const char *data_dir, struct ca_tsa_files *out)
{
	int err = ca_file(data_dir, "sign-ca.pem", out->ca, sizeof(out->ca));
	if (!err)
		err = ca_file(data_dir, "tsa.pem", out->cert, sizeof(out->cert));
	if (!err)
		err = ca_file(data_dir, "tsa.key", out->key, sizeof(out->key));
	return err;
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
	return pki_errno(mbedtls_ctr_drbg_seed(&ca->drbg, mbedtls_entropy_func, &ca->entropy,
	                                       personal, sizeof(personal) - 1));
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
	ocsp_responder_set_free(ca->responders);
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

int ca_open_writer(const char *data_dir, struct ca **out, char err[CA_ERR_LEN])
{
	int rc = ca_open(data_dir, out, err);
	if (rc)
		return rc;
	struct store_txn *txn;
	struct store_fence fence;
	if (store_txn_begin((*out)->store, false, &txn) != 0)
		return 0; /* the write itself will say the store cannot be read */
	rc = store_fence_get(txn, &fence);
	store_txn_abort(txn);
	if (rc)
		return 0;
	snprintf(err, CA_ERR_LEN,
	         "this node was fenced: %.120s is the primary at epoch %llu; write there, or "
	         "rejoin with kenshod --replica-of it",
	         fence.primary, (unsigned long long)fence.epoch);
	ca_close(*out);
	*out = NULL;
	return -EROFS;
}

int ca_sync_wait(struct ca *ca, char err[CA_ERR_LEN])
{
	struct store_sync sync;
	struct store_txn *txn;
	uint64_t first, last;
	int rc = store_txn_begin(ca->store, false, &txn);
	if (rc == 0) {
		rc = store_replication_sync_get(txn, &sync);
		if (rc == 0)
			rc = store_replication_bounds(txn, &first, &last);
		store_txn_abort(txn);
	}
	unsigned acked = 0;
	if (rc == 0)
		rc = store_replication_sync_wait(ca->store, last, &sync, &acked);
	if (rc == -ETIMEDOUT)
		snprintf(err, CA_ERR_LEN,
		         "committed here, but only %u of the %u replicas replication.sync_replicas "
		         "asks for acknowledged it within %lld ms; it stands, and reaches the "
		         "replicas as they catch up",
		         acked, (unsigned)sync.replicas, (long long)sync.timeout_ms);
	else if (rc)
		snprintf(err, CA_ERR_LEN,
		         "committed here; the replicas' acknowledgements cannot be read: %s",
		         strerror(-rc));
	return rc;
}

uint32_t ca_issuer_id(const struct ca *ca, enum cert_kind kind)
{
	return ca->issuer_id[kind];
}

const char *ca_base_url(const struct ca *ca)
{
	return ca->base_url;
}

void ca_presign_after_commit(struct ca *ca, enum cert_kind kind, const struct store_serial *serial)
{
	uint32_t issuer_id = ca->issuer_id[kind];
	/* Without a responder (its files could not be loaded) the server signs live. */
	if (!ca->responders || !ocsp_responder_set_get(ca->responders, issuer_id))
		return;
	int err = ocsp_service_presign(ca->responders, issuer_id, serial);
	if (err) {
		char label[64];
		ca_cert_label(kind, serial, label, sizeof(label));
		log_warn("pre-signing the OCSP response of %s failed (%s); it will be signed live",
		         label, strerror(-err));
	}
}

/* The delegated responders for pre-signing, with the library's defaults
 * (by key, one hour). Without them (files missing) the CA still works and
 * the server signs live. */
static void load_responders(struct ca *ca)
{
	const struct ocsp_responder_options defaults = {0};
	int err = ocsp_responder_set_open_available(ca->data_dir, ca->store, &defaults,
	                                            &ca->responders);
	if (err) {
		ca->responders = NULL;
		log_warn("no OCSP pre-signing: reading the issuers failed (%s)", strerror(-err));
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

const char *ca_event_name(enum ca_event_type event)
{
	return event >= CA_EVENT_MOVE && event <= CA_EVENT_RENEW ? EVENT_NAMES[event] : "?";
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

static int random_serial(struct ca *ca, size_t len, struct store_serial *serial)
{
	serial->len = len;
	int ret = ca_random(ca, serial->bytes, len);
	if (ret)
		return pki_errno(ret);
	/* Positive (RFC 5280 §4.1.2.2) and minimal: the first octet is 01..7f. */
	serial->bytes[0] &= 0x7f;
	if (serial->bytes[0] == 0)
		serial->bytes[0] = 1;
	return 0;
}

int ca_random_serial(struct ca *ca, struct store_serial *serial)
{
	return random_serial(ca, CA_SERIAL_LEN, serial);
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
	return pki_errno(ret);
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
	char name[32];
	int e = x509_key_generate(key, CA_RSA_BITS, ca_random, ca);
	struct store_serial serial;
	if (!e) /* the CAs' serials are as short as the real ones' */
		e = random_serial(ca, responder ? CA_SERIAL_LEN : JPKI_CA_SERIAL_LEN, &serial);
	int64_t now = time(NULL);
	char arl[1200];
	if (!e)
		e = arl_url(ca->base_url, KIND_LABEL[kind], arl, sizeof(arl));
	if (!e)
		e = responder ? jpki_ocsp_cert(kind, &ca->ca_key[kind], key, serial.bytes,
		                               serial.len, arl, now, ca_random, ca, der, der_len)
		              : jpki_ca_cert(kind, key, serial.bytes, serial.len, now, ca_random,
		                             ca, der, der_len);
	if (e) {
		ca_error(err, "creating the %s %s failed: %s", KIND_LABEL[kind],
		         responder ? "OCSP responder" : "CA", strerror(-e));
		return e;
	}
	/* The CA certificate and the responder's files go where the OCSP
	 * service loads the responder from; the CA key is the CA's alone. */
	struct ocsp_responder_files files = {0};
	char ca_key[PATH_MAX] = "";
	snprintf(name, sizeof(name), "%s-ca.key", KIND_LABEL[kind]);
	e = ocsp_responder_files(ca->data_dir, KIND_LABEL[kind], &files);
	if (!e)
		e = ca_file(ca->data_dir, name, ca_key, sizeof(ca_key));
	const char *path = responder ? files.key : ca_key;
	if (!e)
		e = x509_key_save(key, path);
	if (!e) {
		path = responder ? files.cert : files.ca;
		e = write_pem(path, *der, *der_len);
	}
	if (e)
		ca_error(err, "writing %s failed: %s", path, strerror(-e));
	return e;
}

/* Creates the time-stamping unit: a key and a certificate from the signing
 * CA, whose key is in ca->ca_key[CERT_KIND_SIGN] by now. */
static int init_tsa(struct ca *ca, char *err)
{
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	uint8_t *der = NULL;
	size_t der_len = 0;
	struct store_serial serial;
	struct ca_tsa_files files;
	const char *path = NULL;
	int e = x509_key_generate(&key, CA_RSA_BITS, ca_random, ca);
	if (!e)
		e = ca_random_serial(ca, &serial);
	char arl[1200];
	if (!e)
		e = arl_url(ca->base_url, KIND_LABEL[CERT_KIND_SIGN], arl, sizeof(arl));
	if (!e)
		e = jpki_tsa_cert(&ca->ca_key[CERT_KIND_SIGN], &key, serial.bytes, serial.len, arl,
		                  time(NULL), ca_random, ca, &der, &der_len);
	if (e) {
		ca_error(err, "creating the time-stamping unit failed: %s", strerror(-e));
		goto done;
	}
	e = ca_tsa_files(ca->data_dir, &files);
	if (!e) {
		path = files.key;
		e = x509_key_save(&key, path);
	}
	if (!e) {
		path = files.cert;
		e = write_pem(path, der, der_len);
	}
	if (e)
		ca_error(err, "writing %s failed: %s", path ? path : ca->data_dir, strerror(-e));
done:
	free(der);
	mbedtls_pk_free(&key);
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
	if (!e)
		e = init_tsa(ca, err);
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

int ca_crl_partitions_set(const char *data_dir, bool on, char err[CA_ERR_LEN])
{
	char path[PATH_MAX];
	int e = ca_file(data_dir, CA_CRL_PARTITIONS_FILE, path, sizeof(path));
	if (!e && on)
		e = x509_file_write(path, "municipality\n", 13, 0644);
	else if (!e && unlink(path) != 0 && errno != ENOENT)
		e = -errno;
	if (e)
		ca_error(err, "writing %s failed: %s", path, strerror(-e));
	return e;
}

bool ca_crl_partitions(const struct ca *ca)
{
	return ca->crl_partitions;
}

static void load_crl_partitions(struct ca *ca)
{
	char path[PATH_MAX];
	struct stat st;
	ca->crl_partitions =
	        ca_file(ca->data_dir, CA_CRL_PARTITIONS_FILE, path, sizeof(path)) == 0 &&
	        stat(path, &st) == 0;
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

/* Reads the issuers (and the responders for pre-signing) from the store. */
static int ca_attach_store(struct ca *ca, struct store *store, char err[CA_ERR_LEN])
{
	ca->store = store;
	int e = load_issuers(ca);
	if (e) {
		ca_error(err, "the store has no issuers: %s (run `kensho --data %s ca init`)",
		         strerror(-e), ca->data_dir);
		return e;
	}
	load_responders(ca);
	return 0;
}

/* The CA's keys and settings, without its store. */
static int ca_load_files(const char *data_dir, struct ca **out, char err[CA_ERR_LEN])
{
	struct ca *ca = ca_alloc(data_dir);
	if (!ca) {
		ca_error(err, "out of memory or no entropy source");
		return -ENOMEM;
	}
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
		load_crl_partitions(ca);
		e = load_base_url(ca);
		if (e)
			ca_error(err, "reading %s/ca/base-url failed: %s", data_dir, strerror(-e));
	}
	if (e) {
		ca_close(ca);
		return e;
	}
	*out = ca;
	return 0;
}

int ca_open_with_store(const char *data_dir, struct store *store, struct ca **out,
                       char err[CA_ERR_LEN])
{
	struct ca *ca;
	int e = ca_load_files(data_dir, &ca, err);
	if (!e && store && (e = ca_attach_store(ca, store, err)))
		ca_close(ca);
	if (!e)
		*out = ca;
	return e;
}

/* The files first: a CA whose keys cannot be used never opens the store, so a
 * caller that already has it open in this process (LMDB allows one
 * environment per file and process) does not get a second one. */
int ca_open(const char *data_dir, struct ca **out, char err[CA_ERR_LEN])
{
	struct ca *ca;
	int e = ca_load_files(data_dir, &ca, err);
	if (e)
		return e;
	struct store *store;
	e = ca_store_open(data_dir, &store);
	if (e) {
		ca_error(err, "opening the store in %s/%s failed: %s", data_dir, CA_STORE_SUBDIR,
		         strerror(-e));
		ca_close(ca);
		return e;
	}
	ca->own_store = true;
	e = ca_attach_store(ca, store, err);
	if (e) {
		ca_close(ca); /* closes the store it owns */
		return e;
	}
	*out = ca;
	return 0;
}

static int tsa_audit_cb(struct store_txn *txn, void *arg)
{
	(void)arg;
	return ca_audit(txn, "cli", "tsa-init", "tsa");
}

int ca_tsa_init(const char *data_dir, char err[CA_ERR_LEN])
{
	struct ca_tsa_files files;
	struct stat st;
	int e = ca_tsa_files(data_dir, &files);
	if (e) {
		ca_error(err, "%s: %s", data_dir, strerror(-e));
		return e;
	}
	if (stat(files.cert, &st) == 0) {
		ca_error(err, "%s already exists; refusing to replace the time-stamping unit",
		         files.cert);
		return -EEXIST;
	}
	struct ca *ca;
	e = ca_open(data_dir, &ca, err);
	if (e)
		return e;
	e = init_tsa(ca, err);
	if (!e) {
		e = store_write(ca->store, tsa_audit_cb, NULL);
		if (e)
			ca_error(err, "recording the audit record failed: %s", strerror(-e));
	}
	ca_close(ca);
	return e;
}

/* --- revoking the CAs' own service certificates -------------------------------------- */

/* The serial (INTEGER content octets, as in the certificate) of a PEM file's
 * certificate. */
static int cert_file_serial(const char *path, struct store_serial *serial)
{
	uint8_t *pem, *der = NULL;
	size_t pem_len, der_len = 0;
	int e = x509_file_read(path, &pem, &pem_len);
	if (e)
		return e;
	e = x509_cert_from_pem((const char *)pem, pem_len, &der, &der_len);
	free(pem);
	if (e)
		return e;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	e = pki_errno(mbedtls_x509_crt_parse_der(&crt, der, der_len));
	if (!e && (crt.serial.len == 0 || crt.serial.len > sizeof(serial->bytes)))
		e = -EINVAL;
	if (!e) {
		memcpy(serial->bytes, crt.serial.p, crt.serial.len);
		serial->len = crt.serial.len;
	}
	mbedtls_x509_crt_free(&crt);
	free(der);
	return e;
}

struct service_audit {
	const char *actor;
	const char *action;
	char subject[96];
};

static int service_audit_cb(struct store_txn *txn, void *arg)
{
	const struct service_audit *a = arg;
	return ca_audit(txn, a->actor, a->action, a->subject);
}

int ca_revoke_service_cert(const char *data_dir, enum ca_service_cert which, enum crl_reason reason,
                           const char *actor, struct store_serial *replacement,
                           char err[CA_ERR_LEN])
{
	bool tsa = which == CA_SERVICE_TSA;
	enum cert_kind kind = which == CA_SERVICE_OCSP_AUTH ? CERT_KIND_AUTH : CERT_KIND_SIGN;
	const char *label = KIND_LABEL[kind];
	struct ocsp_responder_files files;
	struct ca_tsa_files tsa_files;
	int e = tsa ? ca_tsa_files(data_dir, &tsa_files)
	            : ocsp_responder_files(data_dir, label, &files);
	const char *path = tsa ? tsa_files.cert : files.cert;
	struct store_serial serial;
	if (!e)
		e = cert_file_serial(path, &serial);
	if (e) {
		ca_error(err, "reading %s failed: %s", path, strerror(-e));
		return e;
	}
	struct ca *ca;
	if ((e = ca_open(data_dir, &ca, err)))
		return e;
	/* First the revocation, durably; then the replacement. Run again
	 * after a failed replacement, the listed certificate is replaced. */
	e = arl_revoke(data_dir, label, serial.bytes, serial.len, time(NULL), reason);
	if (e && e != -EALREADY) {
		ca_error(err, "adding %s to the %s ARL failed: %s", path, label, strerror(-e));
		goto done;
	}
	if (e == 0) {
		struct service_audit a = {actor ? actor : "cli",
		                          tsa ? "revoke-tsa" : "revoke-responder", ""};
		char hex[2 * STORE_SERIAL_MAX + 1];
		store_serial_to_hex(&serial, hex);
		snprintf(a.subject, sizeof(a.subject), "%s-arl/%s (%s)", label, hex,
		         ca_reason_name(reason));
		if ((e = store_write(ca->store, service_audit_cb, &a))) {
			ca_error(err, "recording the audit record failed: %s", strerror(-e));
			goto done;
		}
	}
	if (tsa) {
		e = init_tsa(ca, err);
	} else {
		mbedtls_pk_context key;
		mbedtls_pk_init(&key);
		uint8_t *der = NULL;
		size_t der_len = 0;
		e = init_one(ca, kind, true, &key, &der, &der_len, err);
		free(der);
		mbedtls_pk_free(&key);
	}
	if (!e && replacement)
		e = cert_file_serial(path, replacement);
done:
	ca_close(ca);
	return e;
}

/* --- issuing ----------------------------------------------------------------------- */

int ca_auth_common_name(struct ca *ca, char cn[JPKI_AUTH_CN_LEN + 1])
{
	/* Digits and capital letters, each drawn without bias from the CA's
	 * random generator: 23 of 36 symbols are about 119 bits, so two of the
	 * 200 million certificates of the real service's size share one with a
	 * probability under 10^-19. */
	static const char symbols[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = 0;
	while (n < JPKI_AUTH_CN_LEN) {
		unsigned char buf[32];
		int e = ca_random(ca, buf, sizeof(buf));
		if (e)
			return e;
		for (size_t i = 0; i < sizeof(buf) && n < JPKI_AUTH_CN_LEN; i++)
			if (buf[i] < 252) /* 252 = 7 * 36 */
				cn[n++] = symbols[buf[i] % 36];
	}
	cn[n] = 0;
	return 0;
}

int ca_sign_ee(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
               int64_t not_before, int64_t not_after, mbedtls_pk_context *subject_key,
               const struct jpki_items *items, uint32_t partition, uint8_t **der, size_t *der_len)
{
	/* Signing CN: issue timestamp, a six-digit sequence and the office code.
	 * User-authentication CN: an opaque identifier of 23 characters, as on a
	 * real card (docs/jpki.md). */
	char cn[64];
	if (kind == CERT_KIND_AUTH) {
		int e = ca_auth_common_name(ca, cn);
		if (e)
			return e;
	} else {
		struct tm tm;
		time_t t = (time_t)not_before;
		gmtime_r(&t, &tm);
		unsigned sequence = ((unsigned)serial->bytes[serial->len - 3] << 16 |
		                     (unsigned)serial->bytes[serial->len - 2] << 8 |
		                     serial->bytes[serial->len - 1]) %
		                    1000000;
		snprintf(cn, sizeof(cn), "%04d%02d%02d%02d%02d%02d%06u%s", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sequence,
		         OFFICE_CODE);
	}
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
	if (ca->crl_partitions && partition) {
		char code[16];
		snprintf(code, sizeof(code), "%06u", partition);
		ee.partition = jpki_municipality_by_code(code);
	}
	return jpki_ee_cert(&ee, &ca->ca_key[kind], ca_random, ca, der, der_len);
}
