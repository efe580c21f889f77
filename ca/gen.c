/* Synthetic populations (`kensho gen`).
 *
 * Speed comes from three choices: people are written in large write
 * transactions (one fsync per batch, not per person); by default only status
 * records and persons are stored, with no certificate signed (RSA-2048 signs
 * at about 600/s per core, so 2M certificates would take an hour); and every
 * person's data is a pure function of (seed, index), so a batch that must be
 * redone after the store grows its map (-EAGAIN) regenerates identically.
 *
 * With `certs`, every status record also gets a real DER certificate signed
 * by the CA, for keys drawn round-robin from a small pool generated up front:
 * the certificates parse and verify, but people share subject keys.
 *
 * Serial numbers: 9 octets, 0x4b, the seed's low 24 bits, then a 40-bit
 * counter (four per person), big-endian. They are unique within a seed and
 * across seeds that differ in their low 24 bits, never collide with the
 * 16-octet random serials of real issuance, and grow monotonically, so each
 * batch appends to the end of the certificate B-tree instead of dirtying
 * pages all over it: random synthetic serials made a million people five
 * times slower. (Real issuance keeps unpredictable serials.) */
#include "ca/ca_internal.h"
#include "ca/jpki_address.h"
#include "core/log.h"
#include "ocsp/service.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_PEOPLE       100000
#define BATCH_PEOPLE_CERTS 200
#define GEN_SERIAL_TAG     0x4b
#define DAY                86400
#define ISSUED_WITHIN_DAYS (4 * 365)
#define KEY_POOL_DEFAULT   4
#define KEY_POOL_MAX       64

/* Nanoseconds on the monotonic clock, for the progress rate. */
static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *const FAMILY[] = {
        "佐藤", "鈴木", "高橋",   "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
        "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林",   "斎藤", "清水",
        "山崎", "森",   "池田",   "橋本", "阿部", "石川", "山下", "中島", "石井", "小川",
        "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本",
};
static const char *const GIVEN_MALE[] = {
        "翔太", "大輔", "健太", "拓也", "直樹", "和也", "達也", "誠",   "浩二", "隆",
        "蓮",   "悠真", "湊",   "大翔", "陽翔", "樹",   "一郎", "正男", "勝",   "清",
};
static const char *const GIVEN_FEMALE[] = {
        "陽子", "恵子", "裕子", "美穂",   "愛", "彩",   "真由美", "智子", "明美", "由美子",
        "陽菜", "結衣", "葵",   "さくら", "凛", "美咲", "花子",   "和子", "幸子", "節子",
};
static const char *const TOWN[] = {
        "本町", "中央", "栄町", "緑町", "旭町", "幸町", "桜木町", "東町",
        "西町", "南町", "北町", "新町", "元町", "城東", "港町",   "若葉",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64's finalizer: a bijection on 64-bit values. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct prng {
	uint64_t state;
};

static uint64_t prng_next(struct prng *r)
{
	r->state += 0x9e3779b97f4a7c15ULL;
	return mix64(r->state);
}

static uint64_t prng_below(struct prng *r, uint64_t n)
{
	return prng_next(r) % n;
}

static double prng_unit(struct prng *r)
{
	return (double)(prng_next(r) >> 11) / 9007199254740992.0;
}

struct gen {
	struct ca *ca;
	const struct ca_gen_options *opts;
	struct ca_gen_result *result;
	mbedtls_pk_context pool[KEY_POOL_MAX];
	unsigned pool_size;
	int64_t now;
	uint64_t first, last; /* this batch: people [first, last) */
	uint64_t batch_certs, batch_revoked;
	uint64_t pool_next;
	char *err;
	/* --certs: this batch's certificates, pre-signed at its end */
	struct ocsp_cert_ref *pending;
	size_t pending_len;
};

static void gen_serial(const struct gen *g, uint64_t counter, struct store_serial *out)
{
	uint64_t seed = g->opts->seed & 0xffffff;
	out->len = 9;
	out->bytes[0] = GEN_SERIAL_TAG;
	for (int i = 0; i < 3; i++)
		out->bytes[1 + i] = (uint8_t)(seed >> (16 - 8 * i));
	for (int i = 0; i < 5; i++)
		out->bytes[4 + i] = (uint8_t)(counter >> (32 - 8 * i));
}

static void synth_person(struct prng *r, struct store_person *p, struct jpki_date *birth)
{
	uint64_t s = prng_below(r, 100);
	p->sex = s < 49 ? 1 : s < 99 ? 2 : 3;
	const char *given = p->sex == 1   ? GIVEN_MALE[prng_below(r, COUNT(GIVEN_MALE))]
	                    : p->sex == 2 ? GIVEN_FEMALE[prng_below(r, COUNT(GIVEN_FEMALE))]
	                                  : GIVEN_MALE[prng_below(r, COUNT(GIVEN_MALE))];
	snprintf(p->name, sizeof(p->name), "%s\u3000%s", FAMILY[prng_below(r, COUNT(FAMILY))],
	         given);
	birth->year = 1935 + (int)prng_below(r, 2022 - 1935 + 1);
	birth->month = 1 + (int)prng_below(r, 12);
	birth->day = 1 + (int)prng_below(r, 28);
	jpki_birth_code(birth, p->birth);
}

/* Cumulative population weights over jpki_municipalities: a person lives in
 * a municipality with a probability proportional to its population. Where
 * the table has none (data/README.md), the median of those it has for the
 * same kind (市, 区, 町, 村) stands in. */
static uint64_t *weights;
static uint64_t weight_total;
static pthread_once_t weights_once = PTHREAD_ONCE_INIT;

static int kind_of(const char *name)
{
	static const char *const ends[] = {"市", "区", "町", "村"};
	size_t n = strlen(name);
	for (int i = 0; i < 4; i++)
		if (n >= 3 && strcmp(name + n - 3, ends[i]) == 0)
			return i;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void weights_make(void)
{
	size_t n = jpki_municipality_count;
	uint64_t *w = calloc(n, sizeof(*w));
	uint32_t *known = calloc(n, sizeof(*known));
	if (!w || !known) {
		free(w);
		free(known);
		return;
	}
	uint32_t median[4] = {0};
	for (int k = 0; k < 4; k++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (jpki_municipalities[i].population &&
			    kind_of(jpki_municipalities[i].name) == k)
				known[m++] = jpki_municipalities[i].population;
		qsort(known, m, sizeof(*known), cmp_u32);
		median[k] = m ? known[m / 2] : 1;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t pop = jpki_municipalities[i].population;
		total += pop ? pop : median[kind_of(jpki_municipalities[i].name)];
		w[i] = total;
	}
	free(known);
	weights = w;
	weight_total = total;
}

static const struct jpki_municipality *pick_municipality(struct prng *r)
{
	uint64_t x = prng_below(r, weight_total);
	size_t lo = 0, hi = jpki_municipality_count - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (weights[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return &jpki_municipalities[lo];
}

/* Appends n in full-width digits (the resident register's form). */
static size_t fullwidth_number(char *out, unsigned n)
{
	char ascii[16];
	int len = snprintf(ascii, sizeof(ascii), "%u", n);
	size_t o = 0;
	for (int i = 0; i < len; i++) {
		out[o++] = (char)0xef; /* U+FF10 + d: EF BC 90+d */
		out[o++] = (char)0xbc;
		out[o++] = (char)(0x90 + (ascii[i] - '0'));
	}
	out[o] = 0;
	return o;
}

static uint32_t synth_address(struct prng *r, struct store_person *p)
{
	const struct jpki_municipality *m = pick_municipality(r);
	char a[16], b[16], c[16];
	fullwidth_number(a, 1 + (unsigned)prng_below(r, 9));
	fullwidth_number(b, 1 + (unsigned)prng_below(r, 30));
	fullwidth_number(c, 1 + (unsigned)prng_below(r, 20));
	snprintf(p->address, sizeof(p->address), "%s%s%s%s\uff0d%s\uff0d%s", m->prefecture, m->name,
	         TOWN[prng_below(r, COUNT(TOWN))], a, b, c);
	return (uint32_t)strtoul(m->code, NULL, 10);
}

/* Inserts one certificate (signing it first with --certs). */
static int gen_cert(struct gen *g, struct store_txn *txn, struct store_cert *rec,
                    const struct store_person *p)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	if (g->opts->certs) {
		struct jpki_items items = {p->name, p->birth, p->sex, p->address};
		mbedtls_pk_context *key = &g->pool[g->pool_next++ % g->pool_size];
		int e = ca_sign_ee(g->ca, rec->kind, &rec->serial, rec->not_before, rec->not_after,
		                   key, rec->kind == CERT_KIND_SIGN ? &items : NULL, rec->partition,
		                   &der, &der_len);
		if (e)
			return e;
	}
	rec->issuer_id = g->ca->issuer_id[rec->kind];
	int e = store_cert_insert(txn, rec, (struct store_blob){der, der_len});
	free(der);
	if (!e)
		g->batch_certs++;
	return e;
}

enum synth_event { SYNTH_MOVE, SYNTH_RENAME, SYNTH_LOSS, SYNTH_DEATH, SYNTH_REQUEST, SYNTH_RENEW };

/* Shares of the events among revoked people: moves dominate real revocation
 * counts, then losses, deaths, renewals and requests. */
static enum synth_event pick_event(struct prng *r)
{
	uint64_t x = prng_below(r, 100);
	return x < 40   ? SYNTH_MOVE
	       : x < 48 ? SYNTH_RENAME
	       : x < 63 ? SYNTH_LOSS
	       : x < 78 ? SYNTH_DEATH
	       : x < 88 ? SYNTH_REQUEST
	                : SYNTH_RENEW;
}

static int gen_revoke(struct gen *g, struct store_txn *txn, enum synth_event event, bool has_sign,
                      struct store_cert *certs, int64_t event_at);

static int gen_one(struct gen *g, struct store_txn *txn, uint64_t index)
{
	struct prng r = {mix64(g->opts->seed * 0x9e3779b97f4a7c15ULL ^ mix64(index + 1))};
	struct store_person p = {0};
	struct jpki_date birth;
	synth_person(&r, &p, &birth);
	uint32_t partition = synth_address(&r, &p);

	int64_t issued = g->now - (int64_t)prng_below(&r, ISSUED_WITHIN_DAYS) * DAY -
	                 (int64_t)prng_below(&r, DAY);
	struct jpki_date issue_day;
	jpki_date_in_japan(issued, &issue_day);
	if (jpki_age_on(&birth, &issue_day) < 0)
		issued = jpki_date_to_unix(&birth) + DAY; /* born after: issued as a newborn */
	jpki_date_in_japan(issued, &issue_day);
	bool has_sign = jpki_age_on(&birth, &issue_day) >= JPKI_SIGN_MIN_AGE;

	bool revoke = prng_unit(&r) < g->opts->revoked;
	enum synth_event event = pick_event(&r);
	if (!has_sign && (event == SYNTH_MOVE || event == SYNTH_RENAME))
		event = SYNTH_LOSS;
	int64_t event_at = issued + (int64_t)prng_below(&r, (uint64_t)(g->now - issued) + 1);
	struct store_person moved = p;
	uint32_t moved_partition = partition;
	if (revoke && event == SYNTH_MOVE)
		moved_partition = synth_address(&r, &moved);

	int e = store_person_put(txn, &moved);
	if (e)
		return e;

	/* Each person owns four serial counters: the pair and a possible new pair. */
	struct store_cert certs[3] = {{0}};
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		certs[k].kind = (enum cert_kind)k;
		certs[k].status = CERT_STATUS_GOOD;
		certs[k].not_before = issued;
		certs[k].not_after = jpki_validity_end(&birth, issued);
		certs[k].person_id = moved.id;
		certs[k].partition = partition;
		gen_serial(g, index * 4 + (uint64_t)k - 1, &certs[k].serial);
	}
	if (has_sign) {
		certs[CERT_KIND_SIGN].pair = certs[CERT_KIND_AUTH].serial;
		certs[CERT_KIND_AUTH].pair = certs[CERT_KIND_SIGN].serial;
	}

	/* A renewal or a move issues new certificates that replace the old ones. */
	bool renew = revoke && event == SYNTH_RENEW;
	bool new_sign =
	        revoke && (event == SYNTH_MOVE || event == SYNTH_RENAME || renew) && has_sign;
	struct store_cert fresh[3] = {{0}};
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		bool wanted = k == CERT_KIND_SIGN ? new_sign : renew;
		if (!wanted)
			continue;
		fresh[k] = certs[k];
		fresh[k].partition = moved_partition;
		fresh[k].not_before = event_at;
		fresh[k].not_after = jpki_validity_end(&birth, event_at);
		fresh[k].pair = (struct store_serial){0};
		gen_serial(g, index * 4 + 2 + (uint64_t)k - 1, &fresh[k].serial);
		fresh[k].replaces = certs[k].serial;
		certs[k].replaced_by = fresh[k].serial;
	}
	if (renew && has_sign) {
		fresh[CERT_KIND_SIGN].pair = fresh[CERT_KIND_AUTH].serial;
		fresh[CERT_KIND_AUTH].pair = fresh[CERT_KIND_SIGN].serial;
	} else if (new_sign) {
		/* The user-auth certificate's partner is now the new signing one. */
		fresh[CERT_KIND_SIGN].pair = certs[CERT_KIND_AUTH].serial;
		certs[CERT_KIND_AUTH].pair = fresh[CERT_KIND_SIGN].serial;
	}

	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		if (k == CERT_KIND_SIGN && !has_sign)
			continue;
		e = gen_cert(g, txn, &certs[k], &p);
		if (!e && fresh[k].serial.len)
			e = gen_cert(g, txn, &fresh[k], &moved);
	}
	if (!e && revoke)
		e = gen_revoke(g, txn, event, has_sign, certs, event_at);
	/* With real certificates, also pre-sign their OCSP responses, as issuance
	 * does, at the end of the batch's transaction (presign_pending). */
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e && g->opts->certs; k++) {
		if (k == CERT_KIND_SIGN && !has_sign)
			continue;
		uint32_t issuer = g->ca->issuer_id[k];
		g->pending[g->pending_len++] = (struct ocsp_cert_ref){issuer, certs[k].serial};
		if (fresh[k].serial.len)
			g->pending[g->pending_len++] =
			        (struct ocsp_cert_ref){issuer, fresh[k].serial};
	}
	return e;
}

/* Pre-signs the batch's certificates in its own transaction (so the batch
 * stays one commit), --ocsp-batch of one issuer per signed answer. */
static int presign_pending(struct gen *g, struct store_txn *txn)
{
	size_t per = g->opts->ocsp_batch ? g->opts->ocsp_batch : 1;
	ocsp_batch_sort(g->pending, g->pending_len);
	for (size_t i = 0, end; i < g->pending_len; i = end) {
		end = ocsp_batch_end(g->pending, g->pending_len, i, per);
		struct store_serial serials[OCSP_BATCH_MAX];
		for (size_t j = i; j < end; j++)
			serials[j - i] = g->pending[j].serial;
		struct ocsp_presigned_batch b;
		int e = ocsp_service_presign_batch_read(g->ca->responders, txn,
		                                        g->pending[i].issuer_id, serials, end - i,
		                                        (int64_t)time(NULL),
		                                        STORE_SIGNATURE_ISSUANCE, &b);
		if (e == -ENOENT)
			continue; /* no responder loaded: the server signs live */
		if (!e)
			e = ocsp_service_presigned_batch_put(txn, &b);
		ocsp_presigned_batch_free(&b);
		if (e)
			return e;
	}
	return 0;
}

static int gen_revoke(struct gen *g, struct store_txn *txn, enum synth_event event, bool has_sign,
                      struct store_cert *certs, int64_t event_at)
{
	int e = 0;

	bool revoke_auth = event != SYNTH_MOVE && event != SYNTH_RENAME;
	enum crl_reason reason = event == SYNTH_MOVE || event == SYNTH_RENAME
	                                 ? CRL_REASON_AFFILIATION_CHANGED
	                         : event == SYNTH_LOSS  ? CRL_REASON_KEY_COMPROMISE
	                         : event == SYNTH_RENEW ? CRL_REASON_SUPERSEDED
	                                                : CRL_REASON_CESSATION_OF_OPERATION;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		if ((k == CERT_KIND_SIGN && !has_sign) || (k == CERT_KIND_AUTH && !revoke_auth))
			continue;
		e = store_cert_revoke(txn, g->ca->issuer_id[k], &certs[k].serial, event_at, reason);
		if (!e)
			g->batch_revoked++;
	}
	return e;
}

static int batch_cb(struct store_txn *txn, void *arg)
{
	struct gen *g = arg;
	g->batch_certs = g->batch_revoked = 0;
	g->pending_len = 0;
	for (uint64_t i = g->first; i < g->last; i++) {
		int e = gen_one(g, txn, i);
		if (e)
			return e;
	}
	if (g->opts->certs) {
		int e = presign_pending(g, txn);
		if (e)
			return e;
	}
	char subject[128];
	snprintf(subject, sizeof(subject), "people %llu-%llu seed %llu",
	         (unsigned long long)g->first, (unsigned long long)g->last - 1,
	         (unsigned long long)g->opts->seed);
	return ca_audit(txn, "cli", "gen", subject);
}

static void progress_draw(uint64_t done, uint64_t total, double seconds, bool final)
{
	const int width = 40;
	int filled = total ? (int)((double)done / (double)total * width) : width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = 0;
	double rate = seconds > 0 ? (double)done / seconds : 0;
	fprintf(stderr, "\r[%s] %3d%% %llu/%llu people, %.0f people/s", bar,
	        total ? (int)(done * 100 / total) : 100, (unsigned long long)done,
	        (unsigned long long)total, rate);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

int ca_gen(struct ca *ca, const struct ca_gen_options *opts, struct ca_gen_result *result,
           char err[CA_ERR_LEN])
{
	if (opts->revoked < 0 || opts->revoked > 1 || isnan(opts->revoked)) {
		ca_error(err, "--revoked must be a fraction between 0 and 1");
		return -EINVAL;
	}
	if (opts->people > (1ULL << 38)) {
		ca_error(err, "--people is limited to 2^38");
		return -EINVAL;
	}
	struct gen *g = calloc(1, sizeof(*g));
	pthread_once(&weights_once, weights_make); /* the admin API may run gen on any worker */
	if (!g || !weights) {
		free(g);
		return -ENOMEM;
	}
	memset(result, 0, sizeof(*result));
	g->ca = ca;
	g->opts = opts;
	g->result = result;
	g->err = err;
	g->now = time(NULL);
	int e = 0;
	if (opts->ocsp_batch > OCSP_BATCH_MAX) {
		ca_error(err, "--ocsp-batch is at most %d certificates", OCSP_BATCH_MAX);
		free(g);
		return -EINVAL;
	}
	if (opts->certs) {
		/* at most two certificates of each kind per person */
		g->pending = calloc(BATCH_PEOPLE_CERTS * 4, sizeof(*g->pending));
		if (!g->pending)
			e = -ENOMEM;
		g->pool_size = opts->key_pool ? opts->key_pool : KEY_POOL_DEFAULT;
		if (g->pool_size > KEY_POOL_MAX)
			g->pool_size = KEY_POOL_MAX;
		for (unsigned i = 0; i < g->pool_size; i++)
			mbedtls_pk_init(&g->pool[i]);
		for (unsigned i = 0; i < g->pool_size && !e; i++)
			e = x509_key_generate(&g->pool[i], 2048, ca_random, ca);
		if (e)
			ca_error(err, "generating the key pool failed: %s", strerror(-e));
	}
	uint64_t start = monotonic_ns();
	uint64_t batch = opts->certs ? BATCH_PEOPLE_CERTS : BATCH_PEOPLE;
	for (uint64_t first = 0; first < opts->people && !e; first += batch) {
		g->first = first;
		g->last = first + batch < opts->people ? first + batch : opts->people;
		e = store_write(g->ca->store, batch_cb, g); /* redone whole if the map grows */
		if (e == -EEXIST)
			ca_error(err,
			         "a population with seed %llu is in the store already; use another "
			         "--seed",
			         (unsigned long long)opts->seed);
		else if (e)
			ca_error(err, "writing people %llu-%llu failed: %s",
			         (unsigned long long)g->first, (unsigned long long)g->last - 1,
			         strerror(-e));
		if (e)
			break;
		result->people = g->last;
		result->certs += g->batch_certs;
		result->revoked += g->batch_revoked;
		if (opts->progress)
			progress_draw(result->people, opts->people,
			              (double)(monotonic_ns() - start) / 1e9, false);
	}
	result->seconds = (double)(monotonic_ns() - start) / 1e9;
	if (opts->progress)
		progress_draw(result->people, opts->people, result->seconds, true);
	for (unsigned i = 0; i < g->pool_size; i++)
		mbedtls_pk_free(&g->pool[i]);
	free(g->pending);
	free(g);
	return e;
}

/* One named person whose certificates are written to DIR/demo/, so the
 * start-up message and the guides can show a query for a real certificate
 * without issuing one first. */
static int demo_person(struct ca *ca, const char *data_dir, char err[CA_ERR_LEN])
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/demo", data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = -errno;
		ca_error(err, "creating %s failed: %s", dir, strerror(-e));
		return e;
	}
	const struct ca_issue_request req = {
	        .person = {"検証　太郎", "1985-06-15", 1, "東京都千代田区霞が関２－１－２"},
	        .actor = "demo",
	};
	struct ca_issued issued;
	int e = ca_issue(ca, &req, &issued, err);
	if (e)
		return e;
	e = ca_issued_cert_write(dir, "sign", &issued.sign, err);
	if (!e)
		e = ca_issued_cert_write(dir, "auth", &issued.auth, err);
	ca_issued_free(&issued);
	return e;
}

int ca_bootstrap_demo(const char *data_dir, const char *base_url, unsigned people)
{
	if (ca_exists(data_dir))
		return 0;
	char err[CA_ERR_LEN] = "";
	int e = ca_init(data_dir, base_url, err);
	struct ca *ca = NULL;
	if (!e)
		e = ca_open(data_dir, &ca, err);
	if (!e) {
		struct ca_gen_options opts = {
		        .people = people, .revoked = 0.05, .seed = 1, .certs = true, .key_pool = 2};
		struct ca_gen_result result;
		e = ca_gen(ca, &opts, &result, err);
		if (!e)
			e = demo_person(ca, data_dir, err);
		if (!e)
			log_info("demo data in %s: %llu people, %llu certificates, %llu revoked, "
			         "and the demo person's 2 certificates with their keys in %s/demo/",
			         data_dir, (unsigned long long)result.people,
			         (unsigned long long)result.certs,
			         (unsigned long long)result.revoked, data_dir);
	}
	if (e)
		log_error("creating the demo CAs in %s failed: %s", data_dir, err);
	ca_close(ca);
	return e;
}
