/* bench-store: the OCSP responder's hot path, store_status_lookup, over a
 * population of certificates that each have a cached response of realistic
 * size. Prints medians over several runs of lookups per second and latency
 * percentiles, for one and two threads, in three modes measured in the same
 * run so they can be compared:
 *
 *   txn-reuse   a read transaction per lookup, reset and renewed (default)
 *   txn-fresh   a read transaction per lookup, created and freed each time
 *   one-txn     all of a thread's lookups in one read transaction (the cost of
 *               the lookup alone, without beginning and ending a transaction)
 *
 * Each lookup copies the cached response out, as the responder does. Times
 * include two clock_gettime calls per lookup. Last, the freshness walk the
 * status page runs off the loop (store_response_freshness: every
 * certificate with its response, in one read transaction) is timed.
 *
 *   bench-store [--certs N] [--lookups M] [--runs R] [--response-size B] [--dir DIR]
 *
 * With --dir an existing population of the same size is reused (filling a
 * million certificates takes a while); without it a temporary one is made and
 * removed.
 *
 * With --data DIR it measures a kensho data directory's own store instead
 * (`kensho gen` then `kensho presign`: real records, batch answers), drawing
 * among the certificates that have an answer, all lookups of a thread in one
 * read transaction, in three modes:
 *
 *   uniform     record and answer of a certificate drawn uniformly
 *   record      the record alone (store_cert_get), drawn the same way
 *   one-key     record and answer of one certificate, every time
 *
 * The gaps between them are what reading the answer costs, and what the
 * store's cold pages cost (a uniform draw over a store larger than the CPU's
 * caches) against the same work on pages already in them. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"

#define SERIAL_LEN  16
#define MAX_THREADS 2
#define MAX_RUNS    15
#define FILL_BATCH  10000

struct config {
	uint64_t certs;
	uint64_t lookups; /* per run, split among the threads */
	int runs;
	size_t response_size;
	const char *dir;
	const struct pick *picks; /* with --data: the certificates drawn from */
};

/* A certificate of a --data store that has an answer. */
struct pick {
	uint32_t issuer;
	struct store_serial serial;
};

enum mode {
	MODE_TXN_REUSE,
	MODE_TXN_FRESH,
	MODE_ONE_TXN, /* synthetic population; with --data, "uniform" */
	MODE_RECORD,
	MODE_ONE_KEY,
	MODE_COUNT
};
static const char *const mode_names[MODE_COUNT] = {"txn-reuse", "txn-fresh", "one-txn", "record",
                                                   "one-key"};
/* The modes each kind of population is measured in, as many for either. */
#define MODES_MEASURED 3
static const enum mode synthetic_modes[MODES_MEASURED] = {MODE_TXN_REUSE, MODE_TXN_FRESH,
                                                          MODE_ONE_TXN};
static const enum mode data_modes[MODES_MEASURED] = {MODE_ONE_TXN, MODE_RECORD, MODE_ONE_KEY};

static const char *mode_name(const struct config *cfg, enum mode m)
{
	return cfg->picks && m == MODE_ONE_TXN ? "uniform" : mode_names[m];
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Certificate i's serial: 16 pseudo-random octets, positive, as CAs that
 * follow CA/B-style random serials issue them. */
static void serial_for(uint64_t i, struct store_serial *out)
{
	uint64_t state = i * 2 + 1;
	uint64_t a = splitmix64(&state), b = splitmix64(&state);
	out->len = SERIAL_LEN;
	for (int k = 0; k < 8; k++) {
		out->bytes[k] = (uint8_t)(a >> (8 * k));
		out->bytes[8 + k] = (uint8_t)(b >> (8 * k));
	}
	out->bytes[0] = (out->bytes[0] & 0x7f) | 0x01;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- filling ---------------------------------------------------------------------- */

struct fill {
	const struct config *cfg;
	uint32_t issuer;
	uint64_t first, count;
	uint8_t *response;
};

static int issuer_fn(struct store_txn *txn, void *arg)
{
	struct store_issuer is = {.kind = CERT_KIND_SIGN};
	snprintf(is.label, sizeof(is.label), "sign");
	memset(is.name_sha1, 1, sizeof(is.name_sha1));
	memset(is.key_sha1, 2, sizeof(is.key_sha1));
	memset(is.name_sha256, 3, sizeof(is.name_sha256));
	memset(is.key_sha256, 4, sizeof(is.key_sha256));
	int rc = store_issuer_put(txn, &is, (struct store_blob){0});
	*(uint32_t *)arg = is.id;
	return rc;
}

static int fill_fn(struct store_txn *txn, void *arg)
{
	struct fill *f = arg;
	for (uint64_t i = f->first; i < f->first + f->count; i++) {
		struct store_cert c = {.issuer_id = f->issuer, .kind = CERT_KIND_SIGN};
		serial_for(i, &c.serial);
		c.not_before = 1700000000;
		c.not_after = 1700000000 + 5 * 365 * 86400;
		c.person_id = i + 1;
		int rc = store_cert_insert(txn, &c, (struct store_blob){0});
		if (rc)
			return rc;
		memcpy(f->response + 16, &i, sizeof(i)); /* each response differs */
		struct store_response r = {.der = {f->response, f->cfg->response_size},
		                           .this_update = 1700000000,
		                           .next_update = 1700000000 + 86400,
		                           .cert_version = c.version};
		rc = store_response_put(txn, f->issuer, &c.serial, &r);
		if (rc)
			return rc;
	}
	return 0;
}

/* Fills the store unless it already holds cfg->certs certificates. */
static int fill_store(struct store *s, const struct config *cfg, uint32_t *issuer)
{
	struct store_txn *txn;
	struct store_issuer is;
	uint64_t count = 0;
	int rc = store_txn_begin(s, false, &txn);
	if (rc)
		return rc;
	rc = store_issuer_by_label(txn, "sign", &is);
	if (rc == 0)
		rc = store_cert_count(txn, is.id, &count);
	store_txn_abort(txn);
	if (rc == 0 && count == cfg->certs) {
		*issuer = is.id;
		printf("reusing %llu certificates in %s\n", (unsigned long long)count, cfg->dir);
		return 0;
	}
	if (rc == 0) {
		fprintf(stderr,
		        "%s holds another population (%llu certificates); use an empty "
		        "directory\n",
		        cfg->dir, (unsigned long long)count);
		return -EEXIST;
	}
	if (rc != -ENOENT)
		return rc;
	rc = store_write(s, issuer_fn, issuer);
	if (rc)
		return rc;
	struct fill f = {cfg, *issuer, 0, 0, malloc(cfg->response_size)};
	if (!f.response)
		return -ENOMEM;
	/* Looks like a DER OCSPResponse of the given size; content is filler. */
	uint64_t seed = 42;
	for (size_t i = 0; i < cfg->response_size; i++)
		f.response[i] = (uint8_t)splitmix64(&seed);
	f.response[0] = 0x30;
	f.response[1] = 0x82;
	f.response[2] = (uint8_t)((cfg->response_size - 4) >> 8);
	f.response[3] = (uint8_t)(cfg->response_size - 4);
	uint64_t start = now_ns();
	for (uint64_t first = 0; first < cfg->certs && rc == 0; first += FILL_BATCH) {
		f.first = first;
		f.count = cfg->certs - first < FILL_BATCH ? cfg->certs - first : FILL_BATCH;
		rc = store_write(s, fill_fn, &f);
		if ((first / FILL_BATCH) % 10 == 9)
			fprintf(stderr, "\rfilled %llu", (unsigned long long)(first + f.count));
	}
	free(f.response);
	if (rc == 0)
		printf("\rfilled %llu certificates with %zu-byte responses in %.1f s\n",
		       (unsigned long long)cfg->certs, cfg->response_size,
		       (double)(now_ns() - start) / 1e9);
	return rc;
}

/* --- a kensho data directory's store (--data) ------------------------------------ */

struct picks {
	struct pick *items;
	size_t count, cap;
};

static int pick_fn(const struct store_answer *a, void *arg)
{
	struct picks *p = arg;
	if (a->state == STORE_ANSWER_MISSING)
		return 0;
	if (p->count == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 4096;
		struct pick *items = realloc(p->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		p->items = items;
		p->cap = cap;
	}
	p->items[p->count++] = (struct pick){a->issuer_id, a->serial};
	return 0;
}

/* The certificates of the store in `path` that have an answer (none: count 0). */
static int load_picks(const char *path, struct picks *out)
{
	struct store_options opts = {.path = path, .read_only = true};
	struct store *s;
	struct store_txn *txn;
	int rc = store_open(&opts, &s);
	if (rc)
		return rc;
	rc = store_txn_begin(s, false, &txn);
	if (rc == 0) {
		rc = store_response_each(txn, 0, NULL, pick_fn, out);
		store_txn_abort(txn);
	}
	store_close(s);
	return rc;
}

/* --- measuring -------------------------------------------------------------------- */

struct worker {
	struct store *store;
	const struct config *cfg;
	uint32_t issuer;
	enum mode mode;
	uint64_t lookups, seed;
	uint32_t *latency_ns;
	uint64_t misses, errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *copy = malloc(w->cfg->response_size);
	struct store_txn *shared = NULL;
	if (w->mode >= MODE_ONE_TXN && store_txn_begin(w->store, false, &shared) != 0)
		w->errors++;
	for (uint64_t i = 0; i < w->lookups && copy; i++) {
		uint32_t issuer = w->issuer;
		struct store_serial serial;
		uint64_t draw = splitmix64(&w->seed) % w->cfg->certs;
		if (w->cfg->picks) {
			const struct pick *p = &w->cfg->picks[w->mode == MODE_ONE_KEY ? 0 : draw];
			issuer = p->issuer;
			serial = p->serial;
		} else {
			serial_for(draw, &serial);
		}
		uint64_t t0 = now_ns();
		struct store_txn *txn = shared;
		if (!txn && store_txn_begin(w->store, false, &txn) != 0) {
			w->errors++;
			continue;
		}
		struct store_cert cert;
		struct store_response response;
		if (w->mode == MODE_RECORD) {
			if (store_cert_get(txn, issuer, &serial, &cert) != 0)
				w->errors++;
		} else if (store_status_lookup(txn, issuer, &serial, &cert, &response) != 0) {
			w->errors++;
		} else if (!response.der.data) {
			w->misses++;
		} else if (response.der.len > w->cfg->response_size) {
			w->errors++;
		} else {
			memcpy(copy, response.der.data, response.der.len);
		}
		if (!shared)
			store_txn_commit(txn);
		uint64_t elapsed = now_ns() - t0;
		w->latency_ns[i] = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
	}
	if (shared)
		store_txn_commit(shared);
	free(copy);
	return NULL;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct result {
	double per_second, p50, p99, p999;
};

static int measure(const struct config *cfg, uint32_t issuer, enum mode mode, int threads,
                   uint64_t seed, uint32_t *latency, struct result *out)
{
	struct store *s;
	struct store_options opts = {.path = cfg->dir,
	                             .read_only = true,
	                             .read_txn_pool = mode == MODE_TXN_FRESH ? -1 : 0};
	int rc = store_open(&opts, &s);
	if (rc)
		return rc;
	struct worker workers[MAX_THREADS];
	pthread_t ids[MAX_THREADS];
	uint64_t per_thread = cfg->lookups / (uint64_t)threads;
	uint64_t start = now_ns();
	for (int t = 0; t < threads; t++) {
		workers[t] = (struct worker){s,
		                             cfg,
		                             issuer,
		                             mode,
		                             per_thread,
		                             seed + (uint64_t)t,
		                             latency + (uint64_t)t * per_thread,
		                             0,
		                             0};
		pthread_create(&ids[t], NULL, worker_main, &workers[t]);
	}
	uint64_t misses = 0, errors = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(ids[t], NULL);
		misses += workers[t].misses;
		errors += workers[t].errors;
	}
	double seconds = (double)(now_ns() - start) / 1e9;
	store_close(s);
	if (errors || misses) {
		fprintf(stderr, "%s: %llu errors, %llu lookups without a cached response\n",
		        mode_name(cfg, mode), (unsigned long long)errors,
		        (unsigned long long)misses);
		return -EIO;
	}
	uint64_t total = per_thread * (uint64_t)threads;
	qsort(latency, total, sizeof(*latency), compare_u32);
	out->per_second = (double)total / seconds;
	out->p50 = latency[total / 2];
	out->p99 = latency[total * 99 / 100];
	out->p999 = latency[total * 999 / 1000];
	return 0;
}

static double median(double *values, int n)
{
	qsort(values, (size_t)n, sizeof(*values), compare_double);
	return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-store [--certs N] [--lookups M] [--runs R] "
	                "[--response-size B] [--dir DIR]\n"
	                "       bench-store --data DIR [--lookups M] [--runs R]\n");
}

int main(int argc, char **argv)
{
	struct config cfg = {
	        .certs = 1000000, .lookups = 1000000, .runs = 5, .response_size = 1500};
	static const struct option options[] = {
	        {"certs", required_argument, NULL, 'n'},
	        {"lookups", required_argument, NULL, 'm'},
	        {"runs", required_argument, NULL, 'r'},
	        {"dir", required_argument, NULL, 'd'},
	        {"response-size", required_argument, NULL, 's'},
	        {"data", required_argument, NULL, 'D'},
	        {NULL, 0, NULL, 0},
	};
	const char *data = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n': cfg.certs = strtoull(optarg, NULL, 10); break;
		case 'm': cfg.lookups = strtoull(optarg, NULL, 10); break;
		case 'r': cfg.runs = atoi(optarg); break;
		case 'd': cfg.dir = optarg; break;
		case 's': cfg.response_size = strtoull(optarg, NULL, 10); break;
		case 'D': data = optarg; break;
		default: usage(); return 2;
		}
	}
	if (cfg.certs == 0 || cfg.lookups < 1000 || cfg.runs < 1 || cfg.runs > MAX_RUNS ||
	    cfg.response_size < 64 || cfg.response_size > 65536 || (data && cfg.dir)) {
		usage();
		return 2;
	}
	char temp[] = "/tmp/kensho-bench-store-XXXXXX";
	char data_store[4096];
	bool own_dir = !cfg.dir && !data;
	if (own_dir && !(cfg.dir = mkdtemp(temp))) {
		perror("mkdtemp");
		return 1;
	}
	/* A map big enough for the population up front: growth is tested
	 * elsewhere and would only add noise to the fill time. */
	size_t estimate = (size_t)cfg.certs * (cfg.response_size + 400) * 2 + (64u << 20);
	struct store_options opts = {.path = cfg.dir, .map_size = estimate};
	struct store *s;
	uint32_t issuer = 0;
	struct picks picks = {0};
	int rc;
	if (data) {
		snprintf(data_store, sizeof(data_store), "%s/%s", data, STORE_DATA_SUBDIR);
		opts = (struct store_options){.path = cfg.dir = data_store, .read_only = true};
		rc = load_picks(data_store, &picks);
		if (rc == 0 && picks.count == 0) {
			fprintf(stderr, "bench-store: %s holds no answers (kensho presign first)\n",
			        data_store);
			return 1;
		}
		cfg.picks = picks.items;
		cfg.certs = picks.count;
		cfg.response_size = 65536; /* the copy's buffer: answers are smaller */
	} else if ((rc = store_open(&opts, &s)) == 0) {
		rc = fill_store(s, &cfg, &issuer);
		store_close(s);
	}
	uint32_t *latency = rc == 0 ? malloc(cfg.lookups * sizeof(*latency)) : NULL;
	if (rc == 0 && !latency)
		rc = -ENOMEM;
	if (rc == 0) {
		/* Warm the page cache: one pass that touches every record. */
		struct result ignored;
		struct config warm = cfg;
		warm.lookups = cfg.certs < 1000 ? 1000 : cfg.certs;
		uint32_t *warm_latency = malloc(warm.lookups * sizeof(*warm_latency));
		rc = warm_latency
		             ? measure(&warm, issuer, MODE_ONE_TXN, 1, 7, warm_latency, &ignored)
		             : -ENOMEM;
		free(warm_latency);
	}
	const enum mode *modes = data ? data_modes : synthetic_modes;
	if (rc == 0) {
		if (data)
			printf("%s: %llu certificates with an answer, %llu lookups per run, median "
			       "of %d runs\n",
			       data, (unsigned long long)cfg.certs, (unsigned long long)cfg.lookups,
			       cfg.runs);
		else
			printf("%llu certificates, %zu-byte cached responses, %llu lookups per "
			       "run, median of %d runs\n",
			       (unsigned long long)cfg.certs, cfg.response_size,
			       (unsigned long long)cfg.lookups, cfg.runs);
		printf("%-10s %7s %14s %9s %9s %9s\n", "mode", "threads", "lookups/s", "p50 ns",
		       "p99 ns", "p99.9 ns");
	}
	for (int threads = 1; rc == 0 && threads <= MAX_THREADS; threads++) {
		double rate[MODE_COUNT][MAX_RUNS], p50[MODE_COUNT][MAX_RUNS];
		double p99[MODE_COUNT][MAX_RUNS], p999[MODE_COUNT][MAX_RUNS];
		/* Modes alternate within each run so drift on a shared machine
		 * affects them alike. */
		for (int run = 0; rc == 0 && run < cfg.runs; run++) {
			for (int i = 0; rc == 0 && i < MODES_MEASURED; i++) {
				enum mode m = modes[i];
				struct result r;
				rc = measure(&cfg, issuer, m, threads, (uint64_t)run * 1000 + 1,
				             latency, &r);
				rate[m][run] = r.per_second;
				p50[m][run] = r.p50;
				p99[m][run] = r.p99;
				p999[m][run] = r.p999;
			}
		}
		for (int i = 0; rc == 0 && i < MODES_MEASURED; i++) {
			enum mode m = modes[i];
			printf("%-10s %7d %14.0f %9.0f %9.0f %9.0f\n", mode_name(&cfg, m), threads,
			       median(rate[m], cfg.runs), median(p50[m], cfg.runs),
			       median(p99[m], cfg.runs), median(p999[m], cfg.runs));
		}
	}
	if (rc == 0) {
		double walk[MAX_RUNS];
		struct store_freshness f = {0};
		rc = store_open(&opts, &s);
		bool opened = rc == 0;
		for (int run = 0; rc == 0 && run < cfg.runs; run++) {
			struct store_txn *txn;
			uint64_t start = now_ns();
			rc = store_txn_begin(s, false, &txn);
			if (rc == 0) {
				rc = store_response_freshness(txn, 0, &f);
				store_txn_abort(txn);
			}
			walk[run] = (double)(now_ns() - start) / 1e9;
		}
		if (opened)
			store_close(s);
		if (rc == 0) {
			printf("freshness walk: %.3f s for %llu certificates (%llu fresh), median "
			       "of %d runs\n",
			       median(walk, cfg.runs),
			       (unsigned long long)(f.fresh + f.due + f.missing),
			       (unsigned long long)f.fresh, cfg.runs);
		}
	}
	free(latency);
	free(picks.items);
	if (own_dir)
		nftw(cfg.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	if (rc) {
		fprintf(stderr, "bench-store: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
