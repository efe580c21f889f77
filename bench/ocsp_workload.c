#include "bench/ocsp_workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "storage/store.h"
#include "pki/ocsp_codec.h"

enum klass { KLASS_GOOD, KLASS_REVOKED, KLASS_UNKNOWN, KLASS_COUNT };
static const char *const klass_names[] = {"good", "revoked", "unknown"};

struct issuer {
	uint32_t id;
	uint8_t *der;
	size_t len;
	/* what its CertIDs name it by, taken once: [0] SHA-1, [1] SHA-256 */
	struct ocsp_issuer_hashes hashes[2];
	struct ocsp_verifier *verifier; /* checks its responders' answers */
};

/* One prebuilt request: a certificate asked with a SHA-1 or SHA-256 CertID,
 * with or without a nonce. */
struct variant {
	enum klass klass;
	unsigned issuer;
	struct ocsp_cert_id id;
	bool nonce;
	uint8_t nonce_bytes[16];
	char *path;    /* GET target */
	uint8_t *body; /* POST body */
	size_t body_len;
};

/* Each class has its plain SHA-1 variants, SHA-256 variants (misses), and a
 * pool of nonce variants. */
struct klass_pool {
	size_t count; /* certificates sampled */
	struct variant *sha1, *sha256;
	size_t nonce_count;
	struct variant *nonce;
};

struct ocsp_workload {
	struct bench_workload super;
	struct ocsp_mix mix;
	char base[256]; /* the responder's path without a trailing '/' */
	struct issuer *issuers;
	size_t issuer_count;
	struct klass_pool pools[KLASS_COUNT];
	double cumulative[KLASS_COUNT];
	uint64_t rng;
	uint64_t counter;
	/* prefetch: every plain SHA-1 variant once, in order, answers saved */
	bool prefetching;
	size_t prefetch_next;
	FILE *prefetch_out;
	struct sampled *records[KLASS_COUNT]; /* kept for the openssl index */
	/* variants addressed by tag: tag = class << 28 | kind << 26 | index */
	/* OCSP_SCENARIO_UNIFORM: every certificate, its request built when sent;
	 * tag = sha256 << 31 | index into `all` */
	struct uniform_cert *all;
	size_t all_count, all_cap;
	struct variant scratch; /* the request being sent */
	struct variant checked; /* the request being checked */
};

/* One certificate of the uniform scenario: what building its request and
 * checking its answer need, compact (a store of 10,000,000 certificates
 * is 250 MB of them). */
struct uniform_cert {
	uint8_t issuer; /* index into issuers */
	uint8_t klass;
	uint8_t serial_len;
	uint8_t serial[STORE_SERIAL_MAX];
};

static uint64_t next_random(uint64_t *state)
{
	/* splitmix64: fast, reproducible from --seed, good enough to draw a mix. */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *state)
{
	return (double)(next_random(state) >> 11) / 9007199254740992.0;
}

/* --- sampling the population ------------------------------------------------- */

struct sampled {
	uint32_t issuer_id;
	struct store_serial serial;
	int64_t not_after;
	int64_t revoked_at;
	int reason;
};

struct reservoir {
	struct sampled *items;
	size_t cap, count;
	uint64_t seen;
	uint64_t *rng;
};

/* Algorithm R: after n offers every offered item is kept with probability
 * cap/n, so the sample is uniform over the whole population. */
static void reservoir_offer(struct reservoir *r, const struct sampled *item)
{
	r->seen++;
	size_t slot;
	if (r->count < r->cap)
		slot = r->count++;
	else if ((slot = (size_t)(next_random(r->rng) % r->seen)) >= r->cap)
		return;
	r->items[slot] = *item;
}

static int collect_issuer(const struct store_issuer *issuer, void *arg)
{
	struct ocsp_workload *w = arg;
	if (w->mix.issuer && strcmp(w->mix.issuer, issuer->label) != 0)
		return 0;
	struct issuer *more = realloc(w->issuers, (w->issuer_count + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	w->issuers = more;
	w->issuers[w->issuer_count++] = (struct issuer){.id = issuer->id};
	return 0;
}

struct collector {
	struct ocsp_workload *w;
	struct reservoir *reservoir;
};

static bool wanted_issuer(const struct ocsp_workload *w, uint32_t id);

static int collect_issued(const struct store_change *change, void *arg)
{
	struct collector *c = arg;
	if (change->type == STORE_CHANGE_ISSUED && wanted_issuer(c->w, change->issuer_id)) {
		struct sampled item = {.issuer_id = change->issuer_id, .serial = change->serial};
		reservoir_offer(c->reservoir, &item);
	}
	return 0;
}

static int collect_revoked(const struct store_cert *cert, void *arg)
{
	struct sampled item = {
	        .issuer_id = cert->issuer_id,
	        .serial = cert->serial,
	        .not_after = cert->not_after,
	        .revoked_at = cert->revoked_at,
	        .reason = cert->reason,
	};
	reservoir_offer(arg, &item);
	return 0;
}

/* Every issuer of the store, its certificate and CertID hashes. */
static int load_issuers(struct ocsp_workload *w, struct store_txn *txn)
{
	int rc = store_issuer_each(txn, collect_issuer, w);
	for (size_t i = 0; rc == 0 && i < w->issuer_count; i++) {
		struct issuer *is = &w->issuers[i];
		struct store_blob der;
		rc = store_issuer_cert(txn, is->id, &der);
		if (rc == 0 && !(is->der = malloc(der.len)))
			rc = -ENOMEM;
		if (rc)
			break;
		memcpy(is->der, der.data, der.len);
		is->len = der.len;
		rc = ocsp_issuer_hashes_take(PKI_DIGEST_SHA1, is->der, is->len, &is->hashes[0]);
		if (rc == 0)
			rc = ocsp_issuer_hashes_take(PKI_DIGEST_SHA256, is->der, is->len,
			                             &is->hashes[1]);
		if (rc == 0)
			rc = ocsp_verifier_new(is->der, is->len, &is->verifier);
	}
	return rc;
}

static int issuer_index(const struct ocsp_workload *w, uint32_t id)
{
	for (size_t i = 0; i < w->issuer_count; i++)
		if (w->issuers[i].id == id)
			return (int)i;
	return -1;
}

static bool wanted_issuer(const struct ocsp_workload *w, uint32_t id)
{
	return issuer_index(w, id) >= 0;
}

/* --- building requests -------------------------------------------------------- */

static int build_variant(struct ocsp_workload *w, struct variant *v, enum klass k, unsigned issuer,
                         const struct store_serial *serial, enum pki_digest hash, bool nonce)
{
	const struct issuer *is = &w->issuers[issuer];
	v->klass = k;
	v->issuer = issuer;
	v->nonce = nonce;
	int rc = ocsp_cert_id_build(&is->hashes[hash == PKI_DIGEST_SHA256], serial->bytes,
	                            serial->len, &v->id);
	if (rc < 0)
		return rc;
	if (nonce)
		for (size_t i = 0; i < sizeof(v->nonce_bytes); i++)
			v->nonce_bytes[i] = (uint8_t)next_random(&w->rng);
	rc = ocsp_request_encode(&v->id, 1, nonce ? v->nonce_bytes : NULL,
	                         nonce ? sizeof(v->nonce_bytes) : 0, &v->body, &v->body_len);
	if (rc < 0)
		return rc;
	/* RFC 6960 Appendix A.1: GET {url}/{url-encoding of base64 of the DER}. */
	char *b64 = malloc(4 * ((v->body_len + 2) / 3) + 1);
	struct buf path = {0};
	if (!b64)
		return -ENOMEM;
	base64_encode(v->body, v->body_len, b64);
	buf_append_str(&path, w->base);
	buf_append_str(&path, "/");
	for (const char *p = b64; *p; p++) {
		if (*p == '+')
			buf_append_str(&path, "%2B");
		else if (*p == '/')
			buf_append_str(&path, "%2F");
		else if (*p == '=')
			buf_append_str(&path, "%3D");
		else
			buf_append(&path, p, 1);
	}
	buf_append(&path, "", 1);
	free(b64);
	if (path.failed)
		return -ENOMEM;
	v->path = (char *)buf_steal(&path, NULL);
	return 0;
}

static int build_pool(struct ocsp_workload *w, enum klass k, const struct sampled *items, size_t n)
{
	struct klass_pool *pool = &w->pools[k];
	pool->sha1 = calloc(n ? n : 1, sizeof(struct variant));
	pool->sha256 = calloc(n ? n : 1, sizeof(struct variant));
	pool->nonce_count = n < 1024 ? n : 1024;
	pool->nonce = calloc(pool->nonce_count ? pool->nonce_count : 1, sizeof(struct variant));
	if (!pool->sha1 || !pool->sha256 || !pool->nonce)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int is = issuer_index(w, items[i].issuer_id);
		if (is < 0)
			return -ENOENT;
		int rc = build_variant(w, &pool->sha1[i], k, (unsigned)is, &items[i].serial,
		                       PKI_DIGEST_SHA1, false);
		if (rc == 0)
			rc = build_variant(w, &pool->sha256[i], k, (unsigned)is, &items[i].serial,
			                   PKI_DIGEST_SHA256, false);
		if (rc < 0)
			return rc;
		pool->count++;
	}
	for (size_t i = 0; i < pool->nonce_count; i++) {
		size_t pick = (size_t)(next_random(&w->rng) % n);
		int is = issuer_index(w, items[pick].issuer_id);
		int rc = build_variant(w, &pool->nonce[i], k, (unsigned)is, &items[pick].serial,
		                       PKI_DIGEST_SHA1, true);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void free_pool(struct klass_pool *pool)
{
	struct variant *lists[] = {pool->sha1, pool->sha256, pool->nonce};
	size_t counts[] = {pool->count, pool->count, pool->nonce_count};
	for (int l = 0; l < 3; l++) {
		for (size_t i = 0; lists[l] && i < counts[l]; i++) {
			free(lists[l][i].path);
			free(lists[l][i].body);
		}
		free(lists[l]);
	}
}

/* --- the workload interface ---------------------------------------------------- */

#define TAG(k, kind, index) ((uint32_t)(k) << 28 | (uint32_t)(kind) << 26 | (uint32_t)(index))

static const struct variant *variant_of(const struct ocsp_workload *w, uint32_t tag)
{
	const struct klass_pool *pool = &w->pools[tag >> 28];
	unsigned kind = tag >> 26 & 3;
	size_t index = tag & ((1u << 26) - 1);
	return kind == 0   ? &pool->sha1[index]
	       : kind == 1 ? &pool->sha256[index]
	                   : &pool->nonce[index];
}

static void variant_clear(struct variant *v)
{
	free(v->path);
	free(v->body);
	memset(v, 0, sizeof(*v));
}

#define UNIFORM_SHA256 (1u << 31)

/* Builds the request of the uniform scenario's certificate `tag` names into v. */
static int uniform_variant(struct ocsp_workload *w, uint32_t tag, struct variant *v)
{
	const struct uniform_cert *c = &w->all[tag & ~UNIFORM_SHA256];
	struct store_serial serial = {.len = c->serial_len};
	memcpy(serial.bytes, c->serial, c->serial_len);
	variant_clear(v);
	return build_variant(w, v, (enum klass)c->klass, c->issuer, &serial,
	                     tag & UNIFORM_SHA256 ? PKI_DIGEST_SHA256 : PKI_DIGEST_SHA1, false);
}

static void set_check(struct ocsp_workload *w, struct bench_request *req)
{
	uint64_t n = w->counter++;
	if (w->mix.check_share >= 1)
		req->check = true;
	else if (w->mix.check_share > 0)
		req->check = n % (uint64_t)(1.0 / w->mix.check_share) == 0;
}

static void fill_request(const struct ocsp_workload *w, const struct variant *v,
                         struct bench_request *req)
{
	if (w->mix.post) {
		req->method = "POST";
		req->path = w->base[0] ? w->base : "/";
		req->body = v->body;
		req->body_len = v->body_len;
		req->content_type = "application/ocsp-request";
	} else {
		req->method = "GET";
		req->path = v->path;
	}
}

/* The uniform scenario: any certificate of the store, each equally likely.
 * loadgen copies the request when it is handed over, so one scratch
 * variant serves every request. */
static int uniform_next(struct ocsp_workload *w, struct bench_request *req)
{
	uint32_t tag = (uint32_t)(next_random(&w->rng) % w->all_count);
	if (w->mix.miss > 0 && uniform(&w->rng) < w->mix.miss)
		tag |= UNIFORM_SHA256;
	if (uniform_variant(w, tag, &w->scratch) != 0)
		return -1;
	*req = (struct bench_request){.tag = tag};
	fill_request(w, &w->scratch, req);
	set_check(w, req);
	return 0;
}

static int ocsp_next(struct bench_workload *self, struct bench_request *req)
{
	struct ocsp_workload *w = (struct ocsp_workload *)self;
	if (w->mix.scenario == OCSP_SCENARIO_UNIFORM)
		return uniform_next(w, req);
	if (w->prefetching) {
		/* Only the classes the mix will draw: a class with no share would
		 * only cost signatures here. */
		size_t n = w->prefetch_next++;
		for (int k = 0; k < KLASS_COUNT; k++) {
			double share = w->cumulative[k] - (k ? w->cumulative[k - 1] : 0);
			if (share <= 0)
				continue;
			if (n < w->pools[k].count) {
				uint32_t tag = TAG(k, 0, n);
				*req = (struct bench_request){.method = "GET",
				                              .path = variant_of(w, tag)->path,
				                              .tag = tag,
				                              .check = true};
				return 0;
			}
			n -= w->pools[k].count;
		}
		return -1;
	}
	double pick = uniform(&w->rng);
	enum klass k = KLASS_GOOD;
	while (k < KLASS_UNKNOWN && pick >= w->cumulative[k])
		k++;
	struct klass_pool *pool = &w->pools[k];
	unsigned kind = 0;
	size_t index;
	if (w->mix.nonce > 0 && uniform(&w->rng) < w->mix.nonce) {
		kind = 2;
		index = (size_t)(next_random(&w->rng) % pool->nonce_count);
	} else {
		kind = w->mix.miss > 0 && uniform(&w->rng) < w->mix.miss;
		index = (size_t)(next_random(&w->rng) % pool->count);
	}
	uint32_t tag = TAG(k, kind, index);
	*req = (struct bench_request){.tag = tag};
	fill_request(w, variant_of(w, tag), req);
	set_check(w, req);
	return 0;
}

static bool ocsp_check(struct bench_workload *self, const struct bench_request *req, int status,
                       const uint8_t *body, size_t body_len)
{
	struct ocsp_workload *w = (struct ocsp_workload *)self;
	const struct variant *v;
	if (w->mix.scenario == OCSP_SCENARIO_UNIFORM) {
		if (uniform_variant(w, req->tag, &w->checked) != 0)
			return false;
		v = &w->checked;
	} else {
		v = variant_of(w, req->tag);
	}
	static struct ocsp_response_info info; /* large; one loop thread */
	if (status != 200 || ocsp_response_parse(body, body_len, &info) != 0)
		return false;
	if (info.status != OCSP_STATUS_SUCCESSFUL || info.count < 1)
		return false;
	/* A pre-generated batch answer holds several SingleResponses (RFC 6960
	 * §4.2.2.3): the one for the asked CertID counts, as for Go's
	 * ParseResponseForCert. */
	const struct ocsp_single *s = NULL;
	for (size_t i = 0; i < info.count && !s; i++)
		if (info.singles[i].id.der_len == v->id.der_len &&
		    memcmp(info.singles[i].id.der, v->id.der, v->id.der_len) == 0)
			s = &info.singles[i];
	if (!s)
		return false;
	enum ocsp_cert_status want = v->klass == KLASS_GOOD      ? OCSP_CERT_GOOD
	                             : v->klass == KLASS_REVOKED ? OCSP_CERT_REVOKED
	                                                         : OCSP_CERT_UNKNOWN;
	if (s->status != want)
		return false;
	if (v->nonce) {
		/* The echoed extnValue is an OCTET STRING wrapping our 16 octets. */
		if (!info.has_nonce || info.nonce_len != 2 + sizeof(v->nonce_bytes) ||
		    memcmp(info.nonce + 2, v->nonce_bytes, sizeof(v->nonce_bytes)) != 0)
			return false;
	}
	if (ocsp_verifier_check(w->issuers[v->issuer].verifier, &info) != 0)
		return false;
	if (w->prefetching && w->prefetch_out) {
		char *b64 = malloc(4 * ((body_len + 2) / 3) + 1);
		if (!b64)
			return false;
		base64_encode(body, body_len, b64);
		fprintf(w->prefetch_out, "%s\n", b64);
		free(b64);
	}
	return true;
}

void ocsp_workload_prefetch(struct ocsp_workload *w, FILE *save)
{
	w->prefetching = true;
	w->prefetch_next = 0;
	w->prefetch_out = save;
}

void ocsp_workload_end_prefetch(struct ocsp_workload *w)
{
	w->prefetching = false;
	w->prefetch_out = NULL;
}

static void index_time(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 16, "%y%m%d%H%M%SZ", &tm);
}

int ocsp_workload_write_openssl_index(const struct ocsp_workload *w, FILE *out)
{
	static const char *const reasons[] = {
	        "unspecified",   "keyCompromise",        "CACompromise",    "affiliationChanged",
	        "superseded",    "cessationOfOperation", "certificateHold", "unspecified",
	        "removeFromCRL", "privilegeWithdrawn",   "AACompromise"};
	for (int k = KLASS_GOOD; k <= KLASS_REVOKED; k++) {
		for (size_t i = 0; i < w->pools[k].count; i++) {
			const struct sampled *item = &w->records[k][i];
			char serial[2 * STORE_SERIAL_MAX + 1], expiry[16], revoked[16];
			store_serial_to_hex(&item->serial, serial);
			for (char *p = serial; *p; p++)
				if (*p >= 'a' && *p <= 'f')
					*p = (char)(*p - 'a' + 'A');
			index_time(item->not_after, expiry);
			if (k == KLASS_GOOD) {
				fprintf(out, "V\t%s\t\t%s\tunknown\t/CN=%s\n", expiry, serial,
				        serial);
			} else {
				index_time(item->revoked_at, revoked);
				int reason =
				        item->reason >= 0 && item->reason <= 10 ? item->reason : 0;
				fprintf(out, "R\t%s\t%s,%s\t%s\tunknown\t/CN=%s\n", expiry, revoked,
				        reasons[reason], serial, serial);
			}
		}
	}
	return ferror(out) ? -EIO : 0;
}

struct bench_workload *ocsp_workload_base(struct ocsp_workload *w)
{
	return &w->super;
}

static int load_population(struct ocsp_workload *w, const char *data_dir,
                           struct reservoir *good_and_all, struct reservoir *revoked)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/" STORE_DATA_SUBDIR, data_dir);
	struct store_options opts = {.path = path, .read_only = true};
	struct store *s;
	int rc = store_open(&opts, &s);
	if (rc < 0) {
		fprintf(stderr, "kensho-bench: cannot open the store in %s: %s\n", path,
		        strerror(-rc));
		return rc;
	}
	struct store_txn *txn = NULL;
	rc = store_txn_begin(s, false, &txn);
	if (rc == 0)
		rc = load_issuers(w, txn);
	if (rc == 0 && w->issuer_count == 0) {
		fprintf(stderr, "kensho-bench: the store in %s has no issuers\n", path);
		rc = -ENOENT;
	}
	/* Every issued certificate is offered to one reservoir; revoked ones come
	 * from the revocation index too, so a rare class is still well sampled. */
	struct collector issued = {w, good_and_all};
	if (rc == 0)
		rc = store_change_each(txn, 0, collect_issued, &issued);
	for (size_t i = 0; rc == 0 && i < w->issuer_count; i++)
		rc = store_revoked_each(txn, w->issuers[i].id, 0, collect_revoked, revoked);
	/* Keep only good certificates in the first reservoir. */
	size_t kept = 0;
	for (size_t i = 0; rc == 0 && i < good_and_all->count; i++) {
		struct store_cert cert;
		if (store_cert_get(txn, good_and_all->items[i].issuer_id,
		                   &good_and_all->items[i].serial, &cert) == 0 &&
		    cert.status == CERT_STATUS_GOOD) {
			good_and_all->items[i].not_after = cert.not_after;
			good_and_all->items[kept++] = good_and_all->items[i];
		}
	}
	good_and_all->count = kept < revoked->cap ? kept : revoked->cap;
	if (txn)
		store_txn_abort(txn);
	store_close(s);
	return rc;
}

struct uniform_loader {
	struct ocsp_workload *w;
	struct store_txn *txn;
	size_t counts[KLASS_COUNT];
};

static int collect_every(const struct store_change *change, void *arg)
{
	struct uniform_loader *l = arg;
	struct ocsp_workload *w = l->w;
	int is = issuer_index(w, change->issuer_id);
	if (change->type != STORE_CHANGE_ISSUED || is < 0)
		return 0;
	struct store_cert cert;
	if (store_cert_get(l->txn, change->issuer_id, &change->serial, &cert) != 0)
		return 0;
	if (w->all_count == w->all_cap) {
		size_t cap = w->all_cap ? 2 * w->all_cap : 65536;
		if (cap > UNIFORM_SHA256)
			return -E2BIG;
		struct uniform_cert *more = realloc(w->all, cap * sizeof(*more));
		if (!more)
			return -ENOMEM;
		w->all = more;
		w->all_cap = cap;
	}
	enum klass k = cert.status == CERT_STATUS_GOOD ? KLASS_GOOD : KLASS_REVOKED;
	struct uniform_cert *c = &w->all[w->all_count++];
	c->issuer = (uint8_t)is;
	c->klass = (uint8_t)k;
	c->serial_len = change->serial.len;
	memcpy(c->serial, change->serial.bytes, change->serial.len);
	l->counts[k]++;
	return 0;
}

/* The uniform scenario's population: every issued certificate of the wanted
 * issuers with its current status, read in one transaction. */
static int load_every_certificate(struct ocsp_workload *w, const char *data_dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/" STORE_DATA_SUBDIR, data_dir);
	struct store_options opts = {.path = path, .read_only = true};
	struct store *s;
	int rc = store_open(&opts, &s);
	if (rc < 0) {
		fprintf(stderr, "kensho-bench: cannot open the store in %s: %s\n", path,
		        strerror(-rc));
		return rc;
	}
	struct uniform_loader l = {.w = w};
	rc = store_txn_begin(s, false, &l.txn);
	if (rc == 0)
		rc = load_issuers(w, l.txn);
	if (rc == 0 && w->issuer_count > 255)
		rc = -E2BIG;
	if (rc == 0)
		rc = store_change_each(l.txn, 0, collect_every, &l);
	if (l.txn)
		store_txn_abort(l.txn);
	store_close(s);
	if (rc == 0 && w->all_count == 0) {
		fprintf(stderr, "kensho-bench: the store in %s has no certificates to ask for\n",
		        path);
		rc = -ENOENT;
	}
	if (rc == 0) {
		w->pools[KLASS_GOOD].count = l.counts[KLASS_GOOD];
		w->pools[KLASS_REVOKED].count = l.counts[KLASS_REVOKED];
		double total = (double)w->all_count;
		w->cumulative[KLASS_GOOD] = (double)l.counts[KLASS_GOOD] / total;
		w->cumulative[KLASS_REVOKED] = w->cumulative[KLASS_UNKNOWN] = 1;
	}
	return rc;
}

static int uniform_open(const char *data_dir, struct ocsp_workload *w)
{
	if (w->mix.nonce > 0) {
		fprintf(stderr, "kensho-bench: --scenario uniform asks without nonces "
		                "(--nonce measures live signing: use the hot scenario)\n");
		return -EINVAL;
	}
	return load_every_certificate(w, data_dir);
}

int ocsp_workload_open(const char *data_dir, const struct ocsp_mix *mix, struct ocsp_workload **out)
{
	struct ocsp_workload *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->mix = *mix;
	snprintf(w->base, sizeof(w->base), "%s", mix->path ? mix->path : "/ocsp");
	size_t base_len = strlen(w->base);
	while (base_len && w->base[base_len - 1] == '/')
		w->base[--base_len] = '\0';
	/* A fixed default seed: two runs on the same data draw the same sample, so
	 * a prefetch warms exactly what the measured run asks for. */
	w->rng = mix->seed ? mix->seed : 1;
	w->super.next = ocsp_next;
	w->super.check = ocsp_check;
	if (mix->scenario == OCSP_SCENARIO_UNIFORM) {
		int rc = uniform_open(data_dir, w);
		if (rc < 0) {
			ocsp_workload_free(w);
			return rc;
		}
		*out = w;
		return 0;
	}
	size_t pool = mix->pool ? mix->pool : 10000;
	/* The issued-certificates reservoir oversamples: revoked ones are filtered
	 * out of it afterwards and the rest cut to the pool size. */
	struct reservoir good = {.cap = 2 * pool + 16, .rng = &w->rng};
	struct reservoir revoked = {.cap = pool, .rng = &w->rng};
	struct sampled *unknown = calloc(pool, sizeof(*unknown));
	good.items = calloc(good.cap, sizeof(*good.items));
	revoked.items = calloc(pool, sizeof(*revoked.items));
	int rc = good.items && revoked.items && unknown ? 0 : -ENOMEM;
	if (rc == 0)
		rc = load_population(w, data_dir, &good, &revoked);
	/* Unknown: 16 random octets under a known issuer (a collision with an
	 * issued serial is astronomically unlikely). */
	for (size_t i = 0; rc == 0 && i < pool; i++) {
		unknown[i].issuer_id = w->issuers[next_random(&w->rng) % w->issuer_count].id;
		unknown[i].serial.len = 16;
		for (int b = 0; b < 16; b++)
			unknown[i].serial.bytes[b] = (uint8_t)next_random(&w->rng);
		unknown[i].serial.bytes[0] = (unknown[i].serial.bytes[0] & 0x3f) | 0x40;
	}
	double shares[KLASS_COUNT] = {mix->good, mix->revoked, mix->unknown};
	size_t counts[KLASS_COUNT] = {good.count, revoked.count, pool};
	double total = 0;
	for (int k = 0; k < KLASS_COUNT; k++) {
		if (shares[k] > 0 && counts[k] == 0 && rc == 0) {
			fprintf(stderr,
			        "kensho-bench: the mix asks for %s certificates, the population "
			        "has none\n",
			        klass_names[k]);
			rc = -ENOENT;
		}
		total += shares[k] > 0 ? shares[k] : 0;
	}
	if (rc == 0 && total <= 0)
		rc = -EINVAL;
	double acc = 0;
	for (int k = 0; rc == 0 && k < KLASS_COUNT; k++) {
		acc += (shares[k] > 0 ? shares[k] : 0) / total;
		w->cumulative[k] = acc;
	}
	if (rc == 0)
		rc = build_pool(w, KLASS_GOOD, good.items, good.count);
	if (rc == 0)
		rc = build_pool(w, KLASS_REVOKED, revoked.items, revoked.count);
	if (rc == 0)
		rc = build_pool(w, KLASS_UNKNOWN, unknown, pool);
	w->records[KLASS_GOOD] = good.items;
	w->records[KLASS_REVOKED] = revoked.items;
	w->records[KLASS_UNKNOWN] = unknown;
	if (rc < 0) {
		ocsp_workload_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void ocsp_workload_describe(const struct ocsp_workload *w)
{
	if (w->mix.scenario == OCSP_SCENARIO_UNIFORM) {
		printf("population: %zu issuers; uniform over all %zu certificates (%zu good, "
		       "%zu revoked); misses %.2f; %s\n",
		       w->issuer_count, w->all_count, w->pools[KLASS_GOOD].count,
		       w->pools[KLASS_REVOKED].count, w->mix.miss, w->mix.post ? "POST" : "GET");
		return;
	}
	printf("population: %zu issuers; sampled %zu good, %zu revoked, %zu unknown serials\n",
	       w->issuer_count, w->pools[KLASS_GOOD].count, w->pools[KLASS_REVOKED].count,
	       w->pools[KLASS_UNKNOWN].count);
	printf("mix: good %.2f revoked %.2f unknown %.2f; misses %.2f nonces %.2f; %s\n",
	       w->cumulative[0], w->cumulative[1] - w->cumulative[0], 1 - w->cumulative[1],
	       w->mix.miss, w->mix.nonce, w->mix.post ? "POST" : "GET");
}

void ocsp_workload_free(struct ocsp_workload *w)
{
	if (!w)
		return;
	for (int k = 0; k < KLASS_COUNT; k++)
		free_pool(&w->pools[k]);
	for (size_t i = 0; i < w->issuer_count; i++) {
		free(w->issuers[i].der);
		ocsp_verifier_free(w->issuers[i].verifier);
	}
	for (int k = 0; k < KLASS_COUNT; k++)
		free(w->records[k]);
	variant_clear(&w->scratch);
	variant_clear(&w->checked);
	free(w->all);
	free(w->issuers);
	free(w);
}
