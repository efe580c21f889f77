/* CRL endpoints: see crl_serve.h.
 *
 * Serving: each published file (each CA's full and delta CRLs and its ARL,
 * ca/arl_issue.h) is held in memory with its validators
 * (a strong ETag from the SHA-256 of the bytes, Last-Modified = thisUpdate)
 * and swapped for the new one on the loop thread once a replacement has been
 * read on the thread pool. A timer stats the files (uv_fs_stat, off the
 * loop), so every worker serves what any process published. The loop never
 * reads a file after start-up.
 *
 * Publishing is the publisher's (crl_publisher.h), which the family starts
 * beside its routes: it tells the family when it has published, so the new
 * file is served without waiting for the next check.
 *
 * Freshness (docs/architecture.md rule 6): a CRL past its nextUpdate is never served.
 * Its URL answers 503, /readyz fails naming it, kensho_crl_stale says so and
 * the log says it once, until a newer file replaces it. */
#include "handlers/crl_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/arl_issue.h"
#include "ca/crl_issue.h"
#include "core/conditional.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/readiness.h"
#include "handlers/crl_publisher.h"
#include "handlers/handlers.h"
#include "pki/crl_read.h"
#include "pki/hash.h"

#define CRL_CHECK_INTERVAL_MS_DEFAULT 1000
#define CRL_MAX_BYTES_DEFAULT         (512LL * 1024 * 1024)

enum { DOC_SIGN, DOC_SIGN_DELTA, DOC_AUTH, DOC_AUTH_DELTA, DOC_SIGN_ARL, DOC_AUTH_ARL, DOC_COUNT };

static const struct {
	const char *label;
	bool delta;
	bool arl; /* the CA's authority revocation list (ca/arl_issue.h) */
	const char *url_path;
	const char *metric_kind;
} DOCS[DOC_COUNT] = {
        {"sign", false, false, "/crl/sign.crl", "sign"},
        {"sign", true, false, "/crl/sign-delta.crl", "sign"},
        {"auth", false, false, "/crl/auth.crl", "auth"},
        {"auth", true, false, "/crl/auth-delta.crl", "auth"},
        {"sign", false, true, "/crl/sign/arl.crl", "sign-arl"},
        {"auth", false, true, "/crl/auth/arl.crl", "auth-arl"},
};

/* Where a document is published. */
static void doc_path(const char *data_dir, int index, char *out, size_t out_len)
{
	if (DOCS[index].arl)
		arl_path(data_dir, DOCS[index].label, out, out_len);
	else
		crl_path(data_dir, DOCS[index].label, DOCS[index].delta, out, out_len);
}

/* The bytes of one published file. Responses borrow them
 * (exchange_respond_borrowed) instead of copying a CRL of tens of megabytes
 * per request; the image goes when its document has moved on to a
 * replacement and the last response sending it has been written. Loop
 * thread only (a load job hands over its single reference). */
struct crl_image {
	unsigned refs;
	uint8_t bytes[];
};

static void crl_image_unref(struct crl_image *image)
{
	if (image && --image->refs == 0)
		free(image);
}

/* exchange_respond_borrowed's release callback. */
static void crl_image_release(void *image)
{
	crl_image_unref(image);
}

/* One published file as served. */
struct crl_doc {
	struct crl_image *image; /* owns data; NULL until published */
	uint8_t *data;
	size_t len;
	char etag[2 * 16 + 3];  /* "<128 bits of SHA-256 in hex>" */
	char last_modified[40]; /* IMF-fixdate of thisUpdate */
	int64_t this_update;
	int64_t next_update;
	uint64_t number;   /* cRLNumber */
	bool stale_logged; /* its expiry has been logged */
	/* the file it was read from, to notice a replacement */
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

struct crl_service;

struct crl_route {
	struct handler super;
	struct crl_service *svc;
	int index;
};

struct crl_service {
	uv_loop_t *loop;
	char data_dir[2048];
	struct crl_publisher *publisher;
	struct crl_doc docs[DOC_COUNT];
	struct crl_route routes[DOC_COUNT];
	struct handler partition_route; /* /crl/<kind>-<code>[-delta].crl */
	uv_fs_t stat_req[DOC_COUNT];
	bool stating[DOC_COUNT];
	bool loading[DOC_COUNT];
	uv_timer_t timer;
	bool timer_ready; /* initialised: on_context_dispose closes it */
	bool closing;     /* on_context_dispose has run: start nothing new */
	int64_t check_ms;
	int64_t max_bytes;
	struct metric *next_update[DOC_COUNT], *number[DOC_COUNT], *stale[DOC_COUNT];
};

/* --- conditional requests ---------------------------------------------------------- */

/* RFC 9110 §13.2.2 through core/conditional.h; "If-None-Match: *" gets the
 * current CRL, which may list a revocation an older copy lacks (DESIGN rule 1). */
static bool not_modified(struct exchange *ex, const struct crl_doc *doc)
{
	struct conditional_validators v = {doc->etag, doc->this_update, true};
	return conditional_check(ex, &v);
}

/* A unix time as ISO 8601 UTC, for logs and error details. */
static void format_time(int64_t t, char *out, size_t out_len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- serving -------------------------------------------------------------------------- */

static void crl_on_request(struct handler *self, struct exchange *ex)
{
	struct crl_route *route = (struct crl_route *)self;
	const struct crl_doc *doc = &route->svc->docs[route->index];
	if (!doc->data) {
		exchange_add_header(ex, "Cache-Control", "no-store");
		exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND,
		                       "this CRL has not been published yet");
		return;
	}
	int64_t left = doc->next_update - (int64_t)time(NULL);
	if (doc->next_update && left <= 0) {
		char detail[200], when[40];
		format_time(doc->next_update, when, sizeof when);
		snprintf(detail, sizeof detail,
		         "%s passed its nextUpdate (%s) and no newer CRL has been published",
		         DOCS[route->index].url_path, when);
		exchange_add_header(ex, "Cache-Control", "no-store");
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, detail);
		return;
	}
	char cache[64];
	if (doc->next_update)
		snprintf(cache, sizeof cache, "public, max-age=%" PRId64 ", no-transform", left);
	else
		snprintf(cache, sizeof cache, "no-cache");
	exchange_add_header(ex, "ETag", doc->etag);
	exchange_add_header(ex, "Last-Modified", doc->last_modified);
	exchange_add_header(ex, "Cache-Control", cache);
	if (not_modified(ex, doc)) {
		exchange_respond(ex, 304, NULL, NULL, 0);
		return;
	}
	doc->image->refs++;
	exchange_respond_borrowed(ex, 200, "application/pkix-crl", doc->data, doc->len,
	                          crl_image_release, doc->image);
}

/* --- loading a replaced file (thread pool) ------------------------------------------ */

struct load_job {
	uv_work_t req;
	struct crl_service *svc;
	int index;
	char path[4096];
	int64_t max_bytes;
	struct crl_doc doc;
	int err;
};

static int read_whole(const char *path, int64_t max_bytes, struct crl_doc *doc)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int err = 0;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto done;
	}
	if (st.st_size <= 0 || st.st_size > max_bytes) {
		err = -EFBIG;
		goto done;
	}
	doc->image = malloc(sizeof(*doc->image) + (size_t)st.st_size);
	if (!doc->image) {
		err = -ENOMEM;
		goto done;
	}
	doc->image->refs = 1;
	doc->data = doc->image->bytes;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, doc->data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto done;
		}
		got += (size_t)n;
	}
	doc->len = got;
	doc->dev = (uint64_t)st.st_dev;
	doc->ino = (uint64_t)st.st_ino;
	doc->size = (uint64_t)st.st_size;
	doc->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
done:
	close(fd);
	return err;
}

/* Reads a published CRL and prepares what its answers carry (ETag, dates).
 * Returns 0 or a negative errno; doc->image may be set even on failure. */
static int load_doc(const char *path, int64_t max_bytes, struct crl_doc *doc)
{
	int err = read_whole(path, max_bytes, doc);
	struct crl_info info;
	if (!err && crl_read_info(doc->data, doc->len, &info) != 0)
		err = -EINVAL;
	if (err)
		return err;
	doc->this_update = info.this_update;
	doc->next_update = info.next_update;
	doc->number = info.number;
	uint8_t hash[32];
	char hex[2 * 16 + 1];
	pki_sha256(doc->data, doc->len, hash);
	hex_encode(hash, 16, hex);
	snprintf(doc->etag, sizeof doc->etag, "\"%s\"", hex);
	time_t t = (time_t)info.this_update;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(doc->last_modified, sizeof doc->last_modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return 0;
}

static void update_freshness(struct crl_service *svc);

static void load_work_cb(uv_work_t *req)
{
	struct load_job *job = req->data;
	job->err = load_doc(job->path, job->max_bytes, &job->doc);
}

static void load_after_cb(uv_work_t *req, int status)
{
	struct load_job *job = req->data;
	struct crl_service *svc = job->svc;
	svc->loading[job->index] = false;
	if (status == 0 && job->err == 0) {
		struct crl_doc *doc = &svc->docs[job->index];
		crl_image_unref(doc->image);
		*doc = job->doc;
		job->doc.image = NULL;
		log_info("crl: serving %s (%zu bytes, ETag %s)", DOCS[job->index].url_path,
		         doc->len, doc->etag);
		/* The gauges describe what is served from this moment, not from
		 * the next tick. */
		update_freshness(svc);
	} else if (job->err) {
		log_warn("crl: cannot serve %s: %s", job->path, strerror(-job->err));
		/* remember the identity so a broken file is not reread every tick */
		struct crl_doc *doc = &svc->docs[job->index];
		if (job->doc.ino) {
			doc->dev = job->doc.dev;
			doc->ino = job->doc.ino;
			doc->size = job->doc.size;
			doc->mtime_ns = job->doc.mtime_ns;
		}
	}
	crl_image_unref(job->doc.image);
	free(job);
}

static void start_load(struct crl_service *svc, int index)
{
	struct load_job *job = calloc(1, sizeof *job);
	if (!job)
		return;
	job->req.data = job;
	job->svc = svc;
	job->index = index;
	job->max_bytes = svc->max_bytes;
	doc_path(svc->data_dir, index, job->path, sizeof job->path);
	if (uv_queue_work(svc->loop, &job->req, load_work_cb, load_after_cb) != 0) {
		free(job);
		return;
	}
	svc->loading[index] = true;
}

static void stat_cb(uv_fs_t *req)
{
	struct crl_service *svc = req->data;
	int index = (int)(req - svc->stat_req);
	svc->stating[index] = false;
	if (req->result == 0 && !svc->closing && !svc->loading[index]) {
		const uv_stat_t *st = &req->statbuf;
		const struct crl_doc *doc = &svc->docs[index];
		int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
		if (st->st_dev != doc->dev || st->st_ino != doc->ino || st->st_size != doc->size ||
		    mtime_ns != doc->mtime_ns)
			start_load(svc, index);
	}
	uv_fs_req_cleanup(req);
}

static void check_files(struct crl_service *svc)
{
	for (int i = 0; i < DOC_COUNT; i++) {
		if (svc->stating[i] || svc->loading[i])
			continue;
		char path[4096];
		doc_path(svc->data_dir, i, path, sizeof path);
		svc->stat_req[i].data = svc;
		if (uv_fs_stat(svc->loop, &svc->stat_req[i], path, stat_cb) == 0)
			svc->stating[i] = true;
	}
}

/* --- freshness ------------------------------------------------------------------------ */

static bool doc_stale(const struct crl_doc *doc, int64_t now)
{
	return doc->data && doc->next_update && now >= doc->next_update;
}

/* Publishes each served CRL's dates and number as metrics and logs, once per
 * file, a CRL that has expired without a replacement. */
static void update_freshness(struct crl_service *svc)
{
	int64_t now = (int64_t)time(NULL);
	for (int i = 0; i < DOC_COUNT; i++) {
		struct crl_doc *doc = &svc->docs[i];
		bool stale = doc_stale(doc, now);
		metric_set(svc->stale[i], stale ? 1 : 0);
		if (doc->data) {
			metric_set(svc->next_update[i], (double)doc->next_update);
			metric_set(svc->number[i], (double)doc->number);
		}
		if (!stale || doc->stale_logged)
			continue;
		doc->stale_logged = true;
		char when[40];
		format_time(doc->next_update, when, sizeof when);
		log_error(
		        "crl: %s (number %" PRIu64 ") passed its nextUpdate %s and is no longer "
		        "served (503, /readyz fails): %s",
		        DOCS[i].url_path, doc->number, when,
		        crl_publisher_active(svc->publisher)
		                ? "this node could not publish a newer one in time; see the "
		                  "errors above"
		                : "crl.generate is off here and no newer file has been published");
	}
}

/* /readyz: not ready while any published CRL is past its nextUpdate. */
static int crl_readiness_check(void *arg, char *why, size_t why_len)
{
	const struct crl_service *svc = arg;
	int64_t now = (int64_t)time(NULL);
	size_t used = 0;
	why[0] = 0;
	for (int i = 0; i < DOC_COUNT; i++) {
		if (!doc_stale(&svc->docs[i], now))
			continue;
		char when[40];
		format_time(svc->docs[i].next_update, when, sizeof when);
		int n = snprintf(why + used, why_len - used, "%s%s expired at %s", used ? "; " : "",
		                 DOCS[i].url_path, when);
		if (n < 0 || (size_t)n >= why_len - used)
			break;
		used += (size_t)n;
	}
	return why[0] ? -ESTALE : 0;
}

/* --- timer and shutdown ---------------------------------------------------------------- */

static void timer_cb(uv_timer_t *t)
{
	struct crl_service *svc = t->data;
	check_files(svc);
	update_freshness(svc);
}

/* The publisher has published: load the new files now, not at the next tick. */
static void published_cb(void *arg)
{
	struct crl_service *svc = arg;
	if (!svc->closing)
		check_files(svc);
}

/* --- partitions ----------------------------------------------------------------- */

/* A municipality's CRLs (docs/crl.md, "Partitions"): some three thousand
 * small files, so unlike the CAs' own CRLs they are not held in memory but
 * read on the thread pool per request, with the same validators and the same
 * refusal of a CRL past its nextUpdate. */
struct partition_job {
	uv_work_t req;
	struct exchange *ex;
	char path[4096];
	char url_path[64];
	int64_t max_bytes;
	struct crl_doc doc;
	int err;
};

/* "/crl/<sign|auth>-<six digits>[-delta].crl" into "<kind>-<code>[-delta]";
 * false for anything else. */
static bool partition_name(const char *path, size_t len, char *out, size_t out_len)
{
	static const char prefix[] = "/crl/", suffix[] = ".crl";
	if (len < sizeof prefix - 1 + 11 + sizeof suffix - 1 || len >= out_len + 9 ||
	    memcmp(path, prefix, sizeof prefix - 1) != 0 ||
	    memcmp(path + len - (sizeof suffix - 1), suffix, sizeof suffix - 1) != 0)
		return false;
	const char *name = path + sizeof prefix - 1;
	size_t n = len - (sizeof prefix - 1) - (sizeof suffix - 1);
	if ((memcmp(name, "sign-", 5) != 0 && memcmp(name, "auth-", 5) != 0) ||
	    (n != 11 && (n != 17 || memcmp(name + 11, "-delta", 6) != 0)))
		return false;
	for (size_t i = 5; i < 11; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	memcpy(out, name, n);
	out[n] = 0;
	return true;
}

static void partition_work_cb(uv_work_t *req)
{
	struct partition_job *job = req->data;
	job->err = load_doc(job->path, job->max_bytes, &job->doc);
}

static void partition_after_cb(uv_work_t *req, int status)
{
	struct partition_job *job = req->data;
	struct exchange *ex = job->ex;
	struct crl_doc *doc = &job->doc;
	if (status != 0 || job->err) {
		exchange_add_header(ex, "Cache-Control", "no-store");
		if (status == 0 && job->err == -ENOENT)
			exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND,
			                       "this CRL has not been published yet");
		else
			exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE,
			                       "this CRL cannot be read");
	} else if (doc->next_update && doc->next_update <= (int64_t)time(NULL)) {
		char detail[200], when[40];
		format_time(doc->next_update, when, sizeof when);
		snprintf(detail, sizeof detail,
		         "%s passed its nextUpdate (%s) and no newer CRL has been published",
		         job->url_path, when);
		exchange_add_header(ex, "Cache-Control", "no-store");
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, detail);
	} else {
		char cache[64];
		int64_t left = doc->next_update - (int64_t)time(NULL);
		if (doc->next_update)
			snprintf(cache, sizeof cache, "public, max-age=%" PRId64 ", no-transform",
			         left);
		else
			snprintf(cache, sizeof cache, "no-cache");
		exchange_add_header(ex, "ETag", doc->etag);
		exchange_add_header(ex, "Last-Modified", doc->last_modified);
		exchange_add_header(ex, "Cache-Control", cache);
		if (not_modified(ex, doc)) {
			exchange_respond(ex, 304, NULL, NULL, 0);
		} else {
			/* the response takes the job's reference */
			exchange_respond_borrowed(ex, 200, "application/pkix-crl", doc->data,
			                          doc->len, crl_image_release, doc->image);
			doc->image = NULL;
		}
	}
	crl_image_unref(doc->image);
	free(job);
}

static void partition_on_request(struct handler *self, struct exchange *ex)
{
	struct crl_service *svc = (struct crl_service *)((char *)self - offsetof(struct crl_service,
	                                                                         partition_route));
	const struct http_request *req = exchange_request(ex);
	char name[32];
	if (!partition_name(req->path, req->path_len, name, sizeof name)) {
		exchange_respond_error(ex, 404, HTTP_ERROR_NOT_FOUND, "no such CRL");
		return;
	}
	struct partition_job *job = calloc(1, sizeof *job);
	if (!job) {
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, "out of memory");
		return;
	}
	job->req.data = job;
	job->ex = ex;
	job->max_bytes = svc->max_bytes;
	snprintf(job->url_path, sizeof job->url_path, "/crl/%s.crl", name);
	snprintf(job->path, sizeof job->path, "%s/crl/%s.crl", svc->data_dir, name);
	if (uv_queue_work(svc->loop, &job->req, partition_work_cb, partition_after_cb) != 0) {
		free(job);
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, "cannot queue the read");
	}
}

/* On failure the context is left half made, for the two disposal hooks. */
static int crl_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct crl_service *svc = calloc(1, sizeof *svc);
	if (!svc)
		return -ENOMEM;
	*context = svc;
	svc->loop = env->loop;
	snprintf(svc->data_dir, sizeof svc->data_dir, "%s", env->data_dir ? env->data_dir : ".");
	/* A missing config (tests) reads as every default. */
	svc->check_ms =
	        config_get_ms(env->config, "crl.check_interval", CRL_CHECK_INTERVAL_MS_DEFAULT);
	if (svc->check_ms < 10)
		svc->check_ms = 10;
	svc->max_bytes = config_get_size(env->config, "crl.max_bytes", CRL_MAX_BYTES_DEFAULT);
	for (int i = 0; i < DOC_COUNT; i++) {
		char labels[64];
		snprintf(labels, sizeof labels, "kind=\"%s\",delta=\"%s\"", DOCS[i].metric_kind,
		         DOCS[i].delta ? "true" : "false");
		/* Every worker serves the same files: a sum over workers would
		 * double a date, so these take the largest worker's value (the
		 * newest CRL; stale as soon as any worker's is). */
		svc->next_update[i] = metrics_gauge_merged(
		        "kensho_crl_next_update_seconds", labels,
		        "nextUpdate of the CRL served (unix time)", METRICS_MERGE_MAX);
		svc->number[i] =
		        metrics_gauge_merged("kensho_crl_number", labels,
		                             "cRLNumber of the CRL served", METRICS_MERGE_MAX);
		svc->stale[i] = metrics_gauge_merged(
		        "kensho_crl_stale", labels,
		        "1 while the CRL is past its nextUpdate and not served", METRICS_MERGE_MAX);
	}
	if (readiness_register("crl", crl_readiness_check, svc) != 0)
		return -ENOMEM;

	for (int i = 0; i < DOC_COUNT; i++) {
		svc->routes[i] = (struct crl_route){
		        .super = {.name = "crl", .on_request = crl_on_request},
		        .svc = svc,
		        .index = i,
		};
		int err = router_add(r, DOCS[i].url_path, HTTP_METHOD_GET | HTTP_METHOD_HEAD,
		                     PEER_ROLE_RELYING_PARTY, &svc->routes[i].super);
		if (err)
			return err;
	}
	svc->partition_route = (struct handler){.name = "crl", .on_request = partition_on_request};
	int err = router_add(r, "/crl/", HTTP_METHOD_GET | HTTP_METHOD_HEAD,
	                     PEER_ROLE_RELYING_PARTY, &svc->partition_route);
	if (err)
		return err;
	err = uv_timer_init(svc->loop, &svc->timer);
	if (err)
		return err;
	svc->timer_ready = true;
	svc->timer.data = svc;
	/* The timer may not keep the loop alive on its own. */
	uv_unref((uv_handle_t *)&svc->timer);
	/* What is already published is served from the first request: loaded
	 * here, before the worker listens (a CRL that exists on disk must not be
	 * answered 404 while a load runs). Later replacements load on the pool. */
	for (int i = 0; i < DOC_COUNT; i++) {
		char path[4096];
		struct crl_doc doc = {0};
		doc_path(svc->data_dir, i, path, sizeof path);
		err = load_doc(path, svc->max_bytes, &doc);
		if (err == 0) {
			svc->docs[i] = doc;
			log_info("crl: serving %s (%zu bytes, ETag %s)", DOCS[i].url_path, doc.len,
			         doc.etag);
		} else {
			crl_image_unref(doc.image);
			if (err != -ENOENT)
				log_warn("crl: cannot serve %s: %s", path, strerror(-err));
		}
	}
	/* The publisher: its first tick, at once, generates what is due. */
	const struct crl_publisher_options publishing = {
	        .loop = svc->loop,
	        .store = env->store,
	        .config = env->config,
	        .data_dir = svc->data_dir,
	        .check_ms = svc->check_ms,
	        .published = published_cb,
	        .arg = svc,
	};
	err = crl_publisher_start(&publishing, &svc->publisher);
	if (err)
		return err;
	update_freshness(svc); /* names the publisher when a file has expired */
	/* first tick at once: load what changed */
	uv_timer_start(&svc->timer, timer_cb, 0, (uint64_t)svc->check_ms);
	return 0;
}

/* The worker drains: stop the timers, so nothing is checked, loaded or
 * generated any more. A generation or load already on the pool finishes;
 * the documents stay in memory for requests still being answered. */
static void crl_context_dispose(void *context)
{
	struct crl_service *svc = context;
	svc->closing = true;
	crl_publisher_stop(svc->publisher);
	if (svc->timer_ready)
		uv_close((uv_handle_t *)&svc->timer, NULL);
}

/* The loop has ended: no load, stat or generation job is left. */
static void crl_dispose(void *context)
{
	struct crl_service *svc = context;
	readiness_unregister(crl_readiness_check, svc);
	crl_publisher_free(svc->publisher);
	for (int i = 0; i < DOC_COUNT; i++)
		crl_image_unref(svc->docs[i].image);
	free(svc);
}

const struct handler_family crl_family = {
        .name = "crl",
        .on_context_init = crl_context_init,
        .on_context_dispose = crl_context_dispose,
        .dispose = crl_dispose,
};
