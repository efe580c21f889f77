/* The operator's status page and its JSON.
 *
 * GET / answers one self-contained HTML page (handlers/status.html, turned
 * into a C string at build time): the network it runs on is closed, so it
 * loads nothing else. Its script reads GET /v1/status every few seconds.
 *
 * The request rate and latency percentiles come from the shared metrics
 * (core/metrics.h), which every worker sees whole. Each worker samples them
 * every STATUS_SAMPLE_MS into a small ring, so the chart is already there on
 * the page's first load, whichever worker answers it. The other numbers are
 * read at the request: the metrics' own values, so the page and /metrics
 * agree, plus two cheap store reads (the cached responses' count that LMDB
 * keeps, and the revocations of the last day, capped).
 *
 * How many cached OCSP answers are fresh, due for refresh or missing is a
 * walk of every certificate (store_response_freshness), too long for a
 * loop: worker 0 runs it on the thread pool every STATUS_FRESHNESS_MS and
 * publishes the counts as gauges merged by MAX, so every worker's page and
 * /metrics show the same figures, with the time they were counted. */
#include "handlers/status.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/version.h"
#include "handlers/handlers.h"
#include "status_html.h"
#include "storage/store.h"

/* One sample every 10 s; 61 samples give the last ten minutes' 60 intervals. */
#define STATUS_SAMPLE_MS  10000
#define STATUS_SAMPLES    61
#define STATUS_BOUNDS_MAX 32
/* Revocations counted for the page: the last day, at most this many (the
 * count is a read on the loop, so it is bounded like every loop task). */
#define STATUS_REVOKED_WINDOW_S (24 * 3600)
#define STATUS_REVOKED_CAP      10000
#define STATUS_ISSUERS_MAX      16
/* The freshness walk: first a second after start, then every five minutes
 * (a million certificates took 2.1 s of one pool thread, bench-store). */
#define STATUS_FRESHNESS_FIRST_MS 1000
#define STATUS_FRESHNESS_MS       (5 * 60 * 1000)

enum freshness_state { FRESH_FRESH, FRESH_DUE, FRESH_MISSING, FRESH_STATES };
static const char *const freshness_labels[FRESH_STATES] = {
        "state=\"fresh\"", "state=\"due\"", "state=\"missing\""};

/* The whole server's cumulative request count and latency buckets at one time. */
struct status_sample {
	double time; /* unix seconds */
	double requests;
	size_t bound_count;
	double bounds[STATUS_BOUNDS_MAX];
	uint64_t buckets[STATUS_BOUNDS_MAX + 1]; /* per bucket, all routes summed */
};

struct status_state {
	struct handler page;
	struct handler data;
	const struct handler_env *env;
	uv_timer_t timer; /* the sampler; closed by on_context_dispose */
	uv_timer_t fresh_timer;  /* worker 0: the freshness walk's schedule */
	bool fresh_timer_open;
	bool scan_running;       /* a walk is on the thread pool */
	uv_work_t scan;
	int64_t scan_due_at;     /* in: now + ocsp.refresh_before */
	int scan_rc;             /* out */
	struct store_freshness scan_result;
	struct metric *answers[FRESH_STATES];
	struct metric *oldest_this_update, *counted_at;
	struct status_sample ring[STATUS_SAMPLES];
	size_t ring_next;  /* where the next sample goes */
	size_t ring_count; /* samples held, up to STATUS_SAMPLES */
};

static double now_unix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_requests_cb(const struct metrics_series_view *v, void *arg)
{
	struct status_sample *s = arg;
	s->requests += v->value;
}

static void add_latency_cb(const struct metrics_series_view *v, void *arg)
{
	struct status_sample *s = arg;
	if (v->bound_count > STATUS_BOUNDS_MAX)
		return;
	if (s->bound_count == 0) {
		s->bound_count = v->bound_count;
		memcpy(s->bounds, v->bounds, v->bound_count * sizeof(double));
	}
	/* One family, one set of bounds (core/metrics.c enforces it). */
	if (v->bound_count != s->bound_count)
		return;
	for (size_t i = 0; i <= v->bound_count; i++)
		s->buckets[i] += v->buckets[i];
}

static void sample_take(struct status_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->time = now_unix();
	metrics_each("kensho_http_requests_total", add_requests_cb, s);
	metrics_each("kensho_http_request_duration_seconds", add_latency_cb, s);
}

static void sample_timer_cb(uv_timer_t *timer)
{
	struct status_state *st = timer->data;
	sample_take(&st->ring[st->ring_next]);
	st->ring_next = (st->ring_next + 1) % STATUS_SAMPLES;
	if (st->ring_count < STATUS_SAMPLES)
		st->ring_count++;
}

/* The q-quantile (0..1) of the observations between two samples, in
 * seconds, interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile does; -1 when nothing was observed. An answer in the
 * +Inf bucket reports the largest finite bound. */
static double interval_quantile(const struct status_sample *from, const struct status_sample *to,
                                double q)
{
	size_t n = to->bound_count;
	/* A sample taken before the first request has no histogram yet: its
	 * counts are all zero. */
	if (n == 0 || (from->bound_count != n && from->bound_count != 0))
		return -1;
	uint64_t delta[STATUS_BOUNDS_MAX + 1], total = 0;
	for (size_t i = 0; i <= n; i++) {
		/* A restarted worker's row continues (core/metrics.h), so counts
		 * never go backwards; guard anyway rather than wrap. */
		uint64_t before = from->bound_count ? from->buckets[i] : 0;
		delta[i] = to->buckets[i] >= before ? to->buckets[i] - before : 0;
		total += delta[i];
	}
	if (total == 0)
		return -1;
	double rank = q * (double)total, seen = 0;
	for (size_t i = 0; i <= n; i++) {
		if (seen + (double)delta[i] >= rank && delta[i] > 0) {
			if (i == n)
				return to->bounds[n - 1];
			double lower = i == 0 ? 0 : to->bounds[i - 1];
			return lower + (to->bounds[i] - lower) * ((rank - seen) / (double)delta[i]);
		}
		seen += (double)delta[i];
	}
	return to->bounds[n - 1];
}

static void json_seconds_as_ms(struct json *j, const char *key, double seconds)
{
	if (seconds < 0)
		json_null(j, key);
	else
		json_double(j, key, seconds * 1000);
}

/* One point per interval between consecutive samples, oldest first; the last
 * interval runs from the newest sample to `now`. */
static void write_window(struct json *j, const struct status_state *st,
                         const struct status_sample *now)
{
	json_object_begin(j, "window");
	json_int(j, "sample_seconds", STATUS_SAMPLE_MS / 1000);
	json_array_begin(j, "points");
	size_t oldest = (st->ring_next + STATUS_SAMPLES - st->ring_count) % STATUS_SAMPLES;
	for (size_t k = 0; k < st->ring_count; k++) {
		const struct status_sample *from = &st->ring[(oldest + k) % STATUS_SAMPLES];
		const struct status_sample *to =
		        k + 1 < st->ring_count ? &st->ring[(oldest + k + 1) % STATUS_SAMPLES] : now;
		double seconds = to->time - from->time;
		if (seconds < 0.001)
			continue; /* the clock stepped back, or no time passed */
		double requests =
		        to->requests >= from->requests ? to->requests - from->requests : 0;
		json_object_begin(j, NULL);
		json_int(j, "time", (int64_t)to->time);
		json_double(j, "seconds", seconds);
		json_uint(j, "requests", (uint64_t)requests);
		json_double(j, "rate", requests / seconds);
		json_seconds_as_ms(j, "p50_ms", interval_quantile(from, to, 0.50));
		json_seconds_as_ms(j, "p90_ms", interval_quantile(from, to, 0.90));
		json_seconds_as_ms(j, "p99_ms", interval_quantile(from, to, 0.99));
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

/* Copies the value of `name="..."` from Prometheus label text. */
static void label_value(const char *labels, const char *name, char *out, size_t out_len)
{
	out[0] = '\0';
	size_t name_len = strlen(name);
	for (const char *p = labels; (p = strstr(p, name)) != NULL; p += name_len) {
		if ((p != labels && p[-1] != ',') || strncmp(p + name_len, "=\"", 2) != 0)
			continue;
		const char *v = p + name_len + 2, *end = strchr(v, '"');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		if (len >= out_len)
			len = out_len - 1;
		memcpy(out, v, len);
		out[len] = '\0';
		return;
	}
}

/* Writes one JSON member per series of a family: {"<label value>": value}. */
struct by_label {
	struct json *json;
	const char *label;
};

static void write_by_label_cb(const struct metrics_series_view *v, void *arg)
{
	struct by_label *b = arg;
	char key[64];
	label_value(v->labels, b->label, key, sizeof(key));
	json_double(b->json, key[0] ? key : "total", v->value);
}

static void write_family(struct json *j, const char *key, const char *metric, const char *label)
{
	struct by_label b = {j, label};
	json_object_begin(j, key);
	metrics_each(metric, write_by_label_cb, &b);
	json_object_end(j);
}

static void value_cb(const struct metrics_series_view *v, void *arg)
{
	*(double *)arg += v->value;
}

static double family_total(const char *metric)
{
	double total = 0;
	metrics_each(metric, value_cb, &total);
	return total;
}

struct label_total {
	const char *labels;
	double total;
};

static void label_value_cb(const struct metrics_series_view *v, void *arg)
{
	struct label_total *t = arg;
	if (v->labels && strcmp(v->labels, t->labels) == 0)
		t->total += v->value;
}

/* The merged value of one series of a family, chosen by its label set. */
static double family_label_total(const char *metric, const char *labels)
{
	struct label_total t = {labels, 0};
	metrics_each(metric, label_value_cb, &t);
	return t.total;
}

/* CRLs: one entry per (kind, delta) from the CRL service's gauges. */
struct crl_row {
	char kind[16];
	bool delta;
	double number, next_update, stale;
};

struct crl_rows {
	struct crl_row rows[8];
	size_t count;
	int field; /* 0 number, 1 next_update, 2 stale */
};

static void crl_row_cb(const struct metrics_series_view *v, void *arg)
{
	struct crl_rows *c = arg;
	char kind[16], delta[8];
	label_value(v->labels, "kind", kind, sizeof(kind));
	label_value(v->labels, "delta", delta, sizeof(delta));
	bool is_delta = strcmp(delta, "true") == 0;
	size_t i = 0;
	while (i < c->count && (strcmp(c->rows[i].kind, kind) != 0 || c->rows[i].delta != is_delta))
		i++;
	if (i == c->count) {
		if (c->count == sizeof(c->rows) / sizeof(c->rows[0]))
			return;
		memset(&c->rows[i], 0, sizeof(c->rows[i]));
		memcpy(c->rows[i].kind, kind, sizeof(kind));
		c->rows[i].delta = is_delta;
		c->count++;
	}
	double *field[] = {&c->rows[i].number, &c->rows[i].next_update, &c->rows[i].stale};
	*field[c->field] = v->value;
}

static void write_crls(struct json *j)
{
	struct crl_rows c = {.count = 0};
	static const char *const metrics[] = {"kensho_crl_number", "kensho_crl_next_update_seconds",
	                                      "kensho_crl_stale"};
	for (int f = 0; f < 3; f++) {
		c.field = f;
		metrics_each(metrics[f], crl_row_cb, &c);
	}
	json_array_begin(j, "crls");
	for (size_t i = 0; i < c.count; i++) {
		json_object_begin(j, NULL);
		json_string(j, "kind", c.rows[i].kind);
		json_bool(j, "delta", c.rows[i].delta);
		json_uint(j, "number", (uint64_t)c.rows[i].number);
		json_int(j, "next_update", (int64_t)c.rows[i].next_update);
		json_bool(j, "stale", c.rows[i].stale != 0);
		json_object_end(j);
	}
	json_array_end(j);
}

struct revoked_count {
	uint64_t count;
	bool capped;
};

static int count_revoked_cb(const struct store_cert *cert, void *arg)
{
	(void)cert;
	struct revoked_count *rc = arg;
	if (++rc->count >= STATUS_REVOKED_CAP) {
		rc->capped = true;
		return 1;
	}
	return 0;
}

struct issuer_ids {
	uint32_t ids[STATUS_ISSUERS_MAX];
	size_t count;
};

static int collect_issuer_cb(const struct store_issuer *issuer, void *arg)
{
	struct issuer_ids *list = arg;
	if (list->count < STATUS_ISSUERS_MAX)
		list->ids[list->count++] = issuer->id;
	return 0;
}

/* The store's part: cached OCSP responses and the last day's revocations. */
static void write_store(struct json *j, struct store *store, double now)
{
	struct store_txn *txn = NULL;
	uint64_t responses = 0;
	struct revoked_count revoked = {0, false};
	struct issuer_ids issuers = {.count = 0};
	int rc = store ? store_txn_begin(store, false, &txn) : -ENOENT;
	if (rc == 0)
		rc = store_response_count(txn, &responses);
	if (rc == 0)
		rc = store_issuer_each(txn, collect_issuer_cb, &issuers);
	for (size_t i = 0; rc == 0 && i < issuers.count && !revoked.capped; i++) {
		rc = store_revoked_each(txn, issuers.ids[i], (int64_t)now - STATUS_REVOKED_WINDOW_S,
		                        count_revoked_cb, &revoked);
		if (rc > 0)
			rc = 0; /* stopped at the cap */
	}
	if (txn)
		store_txn_abort(txn);
	if (rc < 0) {
		log_warn("status: cannot read the store: %s", strerror(-rc));
		json_null(j, "cached_responses");
		json_null(j, "revoked_last_day");
		return;
	}
	json_uint(j, "cached_responses", responses);
	json_uint(j, "revoked_last_day", revoked.count);
	json_bool(j, "revoked_last_day_capped", revoked.capped);
}

static int64_t refresh_before_s(const struct config *c)
{
	int64_t validity_ms = c ? config_get_ms(c, "ocsp.validity", 3600 * 1000) : 3600 * 1000;
	return (c ? config_get_ms(c, "ocsp.refresh_before", validity_ms / 4) : validity_ms / 4) /
	       1000;
}

/* On a pool thread: one read transaction over the whole store. */
static void scan_work_cb(uv_work_t *work)
{
	struct status_state *st = work->data;
	struct store_txn *txn = NULL;
	st->scan_rc = store_txn_begin(st->env->store, false, &txn);
	if (st->scan_rc == 0) {
		st->scan_rc = store_response_freshness(txn, st->scan_due_at, &st->scan_result);
		store_txn_abort(txn);
	}
}

static void scan_done_cb(uv_work_t *work, int status)
{
	struct status_state *st = work->data;
	st->scan_running = false;
	if (status != 0 || st->scan_rc != 0) {
		log_warn("status: cannot count the cached OCSP answers: %s",
		         strerror(status ? -status : -st->scan_rc));
		return;
	}
	const struct store_freshness *f = &st->scan_result;
	metric_set(st->answers[FRESH_FRESH], (double)f->fresh);
	metric_set(st->answers[FRESH_DUE], (double)f->due);
	metric_set(st->answers[FRESH_MISSING], (double)f->missing);
	metric_set(st->oldest_this_update, (double)f->oldest_this_update);
	metric_set(st->counted_at, floor(now_unix()));
}

static void fresh_timer_cb(uv_timer_t *timer)
{
	struct status_state *st = timer->data;
	if (st->scan_running)
		return;
	st->scan_due_at = (int64_t)now_unix() + refresh_before_s(st->env->config);
	st->scan.data = st;
	if (uv_queue_work(st->env->loop, &st->scan, scan_work_cb, scan_done_cb) == 0)
		st->scan_running = true;
}

/* now − the oldest answer's thisUpdate that worker 0's last count found:
 * every worker computes it alike at its scrape. */
static double oldest_age_read(void *arg)
{
	struct status_state *st = arg;
	double oldest = metric_value(st->oldest_this_update);
	double age = oldest > 0 ? floor(now_unix()) - oldest : 0;
	return age > 0 ? age : 0;
}

/* The gauges every worker registers (so each scrape has them) and worker
 * 0's schedule that fills them. */
static int freshness_start(struct status_state *st)
{
	for (int i = 0; i < FRESH_STATES; i++)
		st->answers[i] = metrics_gauge_merged(
		        "kensho_ocsp_cached_answers", freshness_labels[i],
		        "certificates whose cached OCSP answer is fresh, due for refresh "
		        "(within ocsp.refresh_before of nextUpdate, or past it) or missing, "
		        "as of kensho_ocsp_cached_answers_counted_seconds",
		        METRICS_MERGE_MAX);
	st->oldest_this_update = metrics_gauge_merged(
	        "kensho_ocsp_cached_answer_oldest_seconds", NULL,
	        "thisUpdate of the oldest usable cached OCSP answer (unix time; 0: none)",
	        METRICS_MERGE_MAX);
	metrics_gauge_read("kensho_ocsp_cached_answer_oldest_age_seconds", NULL,
	                   "age of the oldest usable cached OCSP answer now, in seconds, as "
	                   "of the last count (0: none)",
	                   METRICS_MERGE_OWN, oldest_age_read, st);
	st->counted_at = metrics_gauge_merged(
	        "kensho_ocsp_cached_answers_counted_seconds", NULL,
	        "when the cached OCSP answers were last counted (unix time; 0: not yet)",
	        METRICS_MERGE_MAX);
	if (metrics_worker_index() != 0 || !st->env->store)
		return 0;
	int rc = uv_timer_init(st->env->loop, &st->fresh_timer);
	if (rc)
		return rc;
	st->fresh_timer_open = true;
	st->fresh_timer.data = st;
	uv_timer_start(&st->fresh_timer, fresh_timer_cb, STATUS_FRESHNESS_FIRST_MS,
	               STATUS_FRESHNESS_MS);
	uv_unref((uv_handle_t *)&st->fresh_timer);
	return 0;
}

static void write_freshness(struct json *j)
{
	json_object_begin(j, "cached_answers");
	double counted = family_total("kensho_ocsp_cached_answers_counted_seconds");
	if (counted > 0) {
		json_uint(j, "fresh", (uint64_t)family_label_total("kensho_ocsp_cached_answers",
		                                                   freshness_labels[FRESH_FRESH]));
		json_uint(j, "due", (uint64_t)family_label_total("kensho_ocsp_cached_answers",
		                                                 freshness_labels[FRESH_DUE]));
		json_uint(j, "missing", (uint64_t)family_label_total("kensho_ocsp_cached_answers",
		                                                     freshness_labels[FRESH_MISSING]));
		json_int(j, "oldest_this_update",
		         (int64_t)family_total("kensho_ocsp_cached_answer_oldest_seconds"));
		json_int(j, "counted_at", (int64_t)counted);
	} else {
		json_null(j, "fresh");
		json_null(j, "due");
		json_null(j, "missing");
		json_null(j, "oldest_this_update");
		json_null(j, "counted_at");
	}
	json_object_end(j);
}

/* The node's place in the cluster (docs/cluster.md): primary, replica (with
 * its lag) or fenced, and the store's epoch. */
static void write_replication(struct json *j, const struct status_state *st)
{
	const struct config *c = st->env ? st->env->config : NULL;
	const char *primary = c ? config_get(c, "replication.primary", NULL) : NULL;
	bool replica = primary && *primary;
	uint64_t epoch = 0;
	bool fenced = false, known = false;
	struct store_txn *txn;
	if (st->env && st->env->store && store_txn_begin(st->env->store, false, &txn) == 0) {
		struct store_fence fence;
		known = store_epoch(txn, &epoch) == 0;
		fenced = store_fence_get(txn, &fence) == 0;
		store_txn_abort(txn);
	}
	json_object_begin(j, "replication");
	json_string(j, "role", replica ? "replica" : fenced ? "fenced" : "primary");
	if (known)
		json_uint(j, "epoch", epoch);
	else
		json_null(j, "epoch");
	if (replica)
		json_double(j, "lag_seconds", family_total("kensho_replication_lag_seconds"));
	else
		json_null(j, "lag_seconds");
	json_object_end(j);
}

static int status_render(struct buf *out, const struct status_state *st)
{
	struct status_sample now;
	sample_take(&now);
	const struct config *c = st->env ? st->env->config : NULL;
	double started = metrics_started_at();
	struct json j;
	json_init(&j, out);
	json_object_begin(&j, NULL);
	json_string(&j, "version", KENSHO_VERSION);
	json_int(&j, "now", (int64_t)now.time);
	json_int(&j, "started_at", (int64_t)floor(started));
	json_int(&j, "uptime_seconds", started > 0 ? (int64_t)(now.time - started) : 0);
	json_uint(&j, "workers", metrics_worker_count());
	write_replication(&j, st);
	json_object_begin(&j, "requests");
	json_uint(&j, "total", (uint64_t)now.requests);
	json_uint(&j, "connections_open", (uint64_t)family_total("kensho_http_connections_open"));
	json_uint(&j, "rejected_total",
	          (uint64_t)family_total("kensho_http_rejected_requests_total"));
	json_double(&j, "loop_lag_seconds", family_total("kensho_loop_lag_seconds"));
	json_object_end(&j);
	write_window(&j, st, &now);
	json_object_begin(&j, "ocsp");
	write_family(&j, "answers", "kensho_ocsp_answers_total", "answer");
	json_uint(&j, "signs_inflight", (uint64_t)family_total("kensho_ocsp_signs_inflight"));
	int64_t validity_ms = c ? config_get_ms(c, "ocsp.validity", 3600 * 1000) : 3600 * 1000;
	json_int(&j, "validity_seconds", validity_ms / 1000);
	json_int(&j, "refresh_before_seconds", refresh_before_s(c));
	write_freshness(&j);
	write_store(&j, st->env ? st->env->store : NULL, now.time);
	json_object_end(&j);
	write_crls(&j);
	json_object_end(&j);
	return out->failed ? -ENOMEM : 0;
}

static void status_data_on_request(struct handler *self, struct exchange *ex)
{
	struct status_state *st =
	        (struct status_state *)((char *)self - offsetof(struct status_state, data));
	struct buf b = {0};
	if (status_render(&b, st) != 0) {
		buf_free(&b);
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		return;
	}
	size_t len;
	uint8_t *body = buf_steal(&b, &len);
	exchange_add_header(ex, "Cache-Control", "no-store");
	exchange_respond_owned(ex, 200, "application/json", body, len);
}

static void status_page_on_request(struct handler *self, struct exchange *ex)
{
	(void)self;
	exchange_add_header(ex, "Cache-Control", "no-store");
	/* The page is all inline: nothing else may load or frame it. */
	exchange_add_header(ex, "Content-Security-Policy",
	                    "default-src 'none'; script-src 'unsafe-inline'; style-src "
	                    "'unsafe-inline'; img-src data:; connect-src 'self'; "
	                    "frame-ancestors 'none'");
	exchange_add_header(ex, "X-Content-Type-Options", "nosniff");
	exchange_respond(ex, 200, "text/html; charset=utf-8", status_html, sizeof(status_html) - 1);
}

static int status_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct status_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->env = env;
	st->page = (struct handler){.name = "status", .on_request = status_page_on_request};
	st->data = (struct handler){.name = "status", .on_request = status_data_on_request};
	int rc =
	        router_add(r, "/", HTTP_METHOD_GET | HTTP_METHOD_HEAD, PEER_ROLE_STATUS, &st->page);
	if (rc == 0)
		rc = router_add(r, "/v1/status", HTTP_METHOD_GET, PEER_ROLE_STATUS, &st->data);
	if (rc == 0)
		rc = uv_timer_init(env->loop, &st->timer);
	if (rc != 0) {
		free(st);
		return rc;
	}
	st->timer.data = st;
	/* On /metrics too, so the page's numbers can be checked against it. */
	metric_set(metrics_gauge_merged("kensho_workers", NULL,
	                                "worker processes of this kenshod (--workers)",
	                                METRICS_MERGE_MAX),
	           metrics_worker_count());
	metric_set(metrics_gauge_merged("kensho_start_time_seconds", NULL,
	                                "when this kenshod started (unix time)", METRICS_MERGE_MAX),
	           floor(metrics_started_at()));
	rc = freshness_start(st);
	if (rc != 0) {
		uv_close((uv_handle_t *)&st->timer, NULL);
		*context = st; /* the timer is freed once the loop has run */
		return rc;
	}
	sample_timer_cb(&st->timer); /* the first interval starts now */
	uv_timer_start(&st->timer, sample_timer_cb, STATUS_SAMPLE_MS, STATUS_SAMPLE_MS);
	/* The sampler alone must not keep a stopping worker's loop running
	 * before on_context_dispose closes it. */
	uv_unref((uv_handle_t *)&st->timer);
	*context = st;
	return 0;
}

static void status_context_dispose(void *context)
{
	struct status_state *st = context;
	if (!uv_is_closing((uv_handle_t *)&st->timer))
		uv_close((uv_handle_t *)&st->timer, NULL);
	if (st->fresh_timer_open)
		uv_close((uv_handle_t *)&st->fresh_timer, NULL);
	st->fresh_timer_open = false;
}

/* The timer's close callback has run: the loop has ended. */
static void status_dispose(void *context)
{
	free(context);
}

const struct handler_family status_family = {
        .name = "status",
        .on_context_init = status_context_init,
        .on_context_dispose = status_context_dispose,
        .dispose = status_dispose,
};
