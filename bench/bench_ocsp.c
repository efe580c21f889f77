/* bench_ocsp: kenshod's OCSP request→response path without the network.
 *
 * Builds a data directory the way `kensho ca init` does (the signing CA and
 * its RSA-2048 delegated responder), adds a P-256 responder certificate of
 * the same CA for the ECDSA figure, N certificates, the first H pre-signed,
 * then times,
 * each over several runs (the median is printed):
 *   lookup    a read transaction + store_status_lookup (the bare store cost)
 *   hit-post  decode a DER request, then ocsp_service_lookup (pick the
 *             responder, look up, check the cached response answers the
 *             CertID) and copy the hit: the fast path
 *   hit-get   the same from the base64 GET path
 *   sign-rsa  / sign-ecdsa   one live signature (a miss)
 *   miss      ocsp_service_presign: read, sign, write back (fsync'd commit)
 * and the ratio of the fast path to the bare lookup.
 *
 * Usage: bench_ocsp [--certs N] [--presigned H] [--runs R] [--seconds S] */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <uv.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "ca/ca.h"
#include "ca/jpki_profile.h"
#include "core/encoding.h"
#include "pki/random.h"
#include "pki/x509_write.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "storage/store.h"
#include "pki/ocsp_codec.h"

struct bench {
	struct store *store;
	uint32_t issuer;
	struct ocsp_responder_set *set;
	struct ocsp_responder *ecdsa;
	size_t certs, presigned;
	uint8_t **req_der; /* one pre-encoded request per pre-signed cert */
	size_t *req_len;
	char **req_b64;
	size_t *req_b64_len;
	uint8_t *copy; /* where the fast path copies the response */
	uint64_t rng;
};

static void serial_of(size_t i, uint8_t out[4])
{
	uint32_t v = (uint32_t)i + 0x10000000u; /* 4 octets, top bit clear */
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static size_t next_index(struct bench *b, size_t n)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return (size_t)(b->rng % n);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_ocsp: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* --- set-up --------------------------------------------------------------------------- */

/* Writes `text` to path with mode. 0 or -errno. */
static int write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int err = fputs(text, f) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err ? err : (chmod(path, mode) ? -errno : 0);
}

/* A P-256 delegated responder of the signing CA in dir: key and certificate
 * made with the CA's own profile code, loaded as an ECDSA responder. */
static int ecdsa_responder(const char *dir, struct ocsp_responder **out)
{
	struct ocsp_responder_files files;
	char ca_key_path[PATH_MAX], cert_path[PATH_MAX], key_path[PATH_MAX];
	int err = ocsp_responder_files(dir, "sign", &files);
	if (err)
		return err;
	snprintf(ca_key_path, sizeof ca_key_path, "%s/ca/sign-ca.key", dir);
	snprintf(cert_path, sizeof cert_path, "%s/ca/bench-ec-ocsp.pem", dir);
	snprintf(key_path, sizeof key_path, "%s/ca/bench-ec-ocsp.key", dir);
	mbedtls_pk_context ca_key, key;
	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&key);
	uint8_t *der = NULL;
	size_t der_len = 0;
	char *pem = NULL;
	const uint8_t serial[4] = {0x7e, 0xc0, 0x00, 0x01};
	err = x509_key_load(&ca_key, ca_key_path);
	if (!err && mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
		err = -ENOMEM;
	if (!err && mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), pki_random,
	                                NULL) != 0)
		err = -EIO;
	if (!err)
		err = jpki_ocsp_cert(CERT_KIND_SIGN, &ca_key, &key, serial, sizeof serial, NULL,
		                     (int64_t)time(NULL), pki_random, NULL, &der, &der_len);
	if (!err)
		err = x509_cert_pem(der, der_len, &pem);
	if (!err)
		err = write_text(cert_path, pem, 0644);
	if (!err)
		err = x509_key_save(&key, key_path);
	struct ocsp_responder_options ec_opts = {.key_type = OCSP_KEY_ECDSA};
	if (!err)
		err = ocsp_responder_load(files.ca, cert_path, key_path, &ec_opts, out);
	free(pem);
	free(der);
	mbedtls_pk_free(&key);
	mbedtls_pk_free(&ca_key);
	return err;
}

/* The data directory: `kensho ca init`'s CAs and responders, the store
 * with its signing issuer, and the two responders measured. */
static int set_up(struct bench *b, const char *dir)
{
	char err_text[CA_ERR_LEN];
	int err = ca_init(dir, "http://127.0.0.1:8080", err_text);
	if (err) {
		fprintf(stderr, "bench_ocsp: ca init: %s\n", err_text);
		return err;
	}
	err = ca_store_open(dir, &b->store);
	struct store_txn *txn = NULL;
	struct store_issuer issuer;
	if (!err)
		err = store_txn_begin(b->store, false, &txn);
	if (!err) {
		err = store_issuer_by_label(txn, "sign", &issuer);
		store_txn_abort(txn);
	}
	if (err)
		return err;
	b->issuer = issuer.id;
	struct ocsp_responder_options opts = {.validity_seconds = 3600};
	err = ocsp_responder_set_open(dir, b->store, &opts, &b->set);
	return err ? err : ecdsa_responder(dir, &b->ecdsa);
}

/* --- the measured operations (each returns 0 or exits) ---------------------------------- */

static void op_lookup(struct bench *b)
{
	uint8_t serial[4];
	serial_of(next_index(b, b->presigned), serial);
	struct store_serial s = {.len = 4};
	memcpy(s.bytes, serial, 4);
	struct store_txn *txn;
	struct store_cert cert;
	struct store_response resp;
	if (store_txn_begin(b->store, false, &txn) ||
	    store_status_lookup(txn, b->issuer, &s, &cert, &resp) || !resp.der.data)
		die("lookup", EIO);
	store_txn_abort(txn);
}

static struct ocsp_query scratch;

static void copy_hit_cb(const struct ocsp_query *q, const struct ocsp_cached *hit, void *arg)
{
	struct bench *b = arg;
	memcpy(b->copy, hit->der, hit->len);
}

static void fast_path(struct bench *b, const uint8_t *der, size_t len)
{
	if (ocsp_request_decode(der, len, &scratch.request))
		die("decode", EINVAL);
	int rc = ocsp_service_lookup(b->set, &scratch, (int64_t)time(NULL), 0, copy_hit_cb, b);
	if (rc != 1)
		die("hit", rc < 0 ? rc : EIO);
}

static void op_hit_post(struct bench *b)
{
	size_t i = next_index(b, b->presigned);
	fast_path(b, b->req_der[i], b->req_len[i]);
}

static void op_hit_get(struct bench *b)
{
	size_t i = next_index(b, b->presigned);
	static uint8_t der[OCSP_REQUEST_MAX];
	int n = ocsp_get_path_decode(b->req_b64[i], b->req_b64_len[i], der, sizeof(der));
	if (n <= 0)
		die("get path", EINVAL);
	fast_path(b, der, (size_t)n);
}

static void sign_with(struct bench *b, struct ocsp_responder *r)
{
	uint8_t serial[4];
	serial_of(next_index(b, b->certs), serial);
	struct ocsp_cert_id id;
	if (ocsp_responder_cert_id(r, PKI_DIGEST_SHA1, serial, 4, &id))
		die("cert id", EINVAL);
	struct ocsp_answer a = {.id = &id, .status = OCSP_CERT_GOOD, .reason = -1};
	struct ocsp_signed out;
	if (ocsp_response_sign(r, &a, 1, NULL, 0, (int64_t)time(NULL), &out))
		die("sign", EIO);
	free(out.der);
}

static void op_sign_rsa(struct bench *b)
{
	sign_with(b, ocsp_responder_set_get(b->set, b->issuer));
}

static void op_sign_ecdsa(struct bench *b)
{
	sign_with(b, b->ecdsa);
}

static void op_miss(struct bench *b)
{
	/* Certificates past the pre-signed ones: sign and cache, as a miss does. */
	struct store_serial s = {.len = 4};
	serial_of(b->presigned + next_index(b, b->certs - b->presigned), s.bytes);
	int err = ocsp_service_presign(b->set, b->issuer, &s);
	if (err)
		die("miss", err);
}

/* --- timing ------------------------------------------------------------------------------- */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs op for about `seconds`, `runs` times; returns the median ops/s. */
static double measure(struct bench *b, const char *name, void (*op)(struct bench *), int runs,
                      double seconds)
{
	double rates[64];
	for (int r = 0; r < runs; r++) {
		uint64_t start = uv_hrtime(), deadline = start + (uint64_t)(seconds * 1e9);
		uint64_t count = 0, now;
		do {
			for (int k = 0; k < 16; k++)
				op(b);
			count += 16;
			now = uv_hrtime();
		} while (now < deadline);
		rates[r] = (double)count / ((double)(now - start) / 1e9);
	}
	qsort(rates, (size_t)runs, sizeof(double), compare_double);
	double median = rates[runs / 2];
	printf("%-10s %12.0f ops/s %10.2f us/op   (runs: min %.0f, max %.0f)\n", name, median,
	       1e6 / median, rates[0], rates[runs - 1]);
	fflush(stdout);
	return median;
}

/* --- set-up --------------------------------------------------------------------------------- */

static void populate(struct bench *b)
{
	struct store_txn *txn;
	if (store_txn_begin(b->store, true, &txn))
		die("begin", EIO);
	for (size_t i = 0; i < b->certs; i++) {
		struct store_cert cert = {.issuer_id = b->issuer,
		                          .kind = CERT_KIND_SIGN,
		                          .status = CERT_STATUS_GOOD,
		                          .not_before = 1700000000,
		                          .not_after = 2000000000,
		                          .serial = {.len = 4}};
		serial_of(i, cert.serial.bytes);
		int err = store_cert_insert(txn, &cert, (struct store_blob){0});
		if (err)
			die("insert", err);
	}
	int err = store_txn_commit(txn);
	if (err)
		die("commit", err);
	struct ocsp_responder *r = ocsp_responder_set_get(b->set, b->issuer);
	b->req_der = calloc(b->presigned, sizeof(*b->req_der));
	b->req_len = calloc(b->presigned, sizeof(*b->req_len));
	b->req_b64 = calloc(b->presigned, sizeof(*b->req_b64));
	b->req_b64_len = calloc(b->presigned, sizeof(*b->req_b64_len));
	for (size_t i = 0; i < b->presigned; i++) {
		struct store_serial s = {.len = 4};
		serial_of(i, s.bytes);
		err = ocsp_service_presign(b->set, b->issuer, &s);
		struct ocsp_cert_id id;
		if (!err)
			err = ocsp_responder_cert_id(r, PKI_DIGEST_SHA1, s.bytes, 4, &id);
		if (!err)
			err = ocsp_request_encode(&id, 1, NULL, 0, &b->req_der[i], &b->req_len[i]);
		if (err)
			die("presign", err);
		b->req_b64[i] = malloc(b->req_len[i] / 3 * 4 + 8);
		b->req_b64_len[i] = base64_encode(b->req_der[i], b->req_len[i], b->req_b64[i]);
	}
}

int main(int argc, char **argv)
{
	struct bench b = {.certs = 100000, .presigned = 1000, .rng = 0x9e3779b97f4a7c15ull};
	int runs = 5;
	double seconds = 0.5;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--certs"))
			b.certs = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--presigned"))
			b.presigned = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
	}
	if (b.presigned == 0 || b.presigned >= b.certs || runs < 1 || runs > 63) {
		fprintf(stderr, "usage: bench_ocsp [--certs N] [--presigned H<N] [--runs 1..63] "
		                "[--seconds S]\n");
		return 2;
	}
	char dir[] = "/tmp/kensho-bench-ocsp-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	int err = set_up(&b, dir);
	if (err)
		die("set-up", err);
	b.copy = malloc(65536);
	printf("bench_ocsp: %zu certificates, %zu pre-signed (RSA-2048 responder), %d runs of "
	       "%.1fs, median shown\n",
	       b.certs, b.presigned, runs, seconds);
	populate(&b);

	double lookup = measure(&b, "lookup", op_lookup, runs, seconds);
	double hit_post = measure(&b, "hit-post", op_hit_post, runs, seconds);
	double hit_get = measure(&b, "hit-get", op_hit_get, runs, seconds);
	measure(&b, "sign-rsa", op_sign_rsa, runs, seconds);
	measure(&b, "sign-ecdsa", op_sign_ecdsa, runs, seconds);
	measure(&b, "miss", op_miss, runs, seconds);
	printf("fast path / bare lookup: POST %.2fx, GET %.2fx the lookup's time\n",
	       lookup / hit_post, lookup / hit_get);

	ocsp_responder_free(b.ecdsa);
	ocsp_responder_set_free(b.set);
	store_close(b.store);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? 1 : 0;
}
