/* The CRL publisher: see crl_publisher.h.
 *
 * On a timer, one job at a time goes to the thread pool; it takes the
 * publication lock without waiting (crl_publish_lock) so only one process
 * generates, asks crl_due (ca/crl.h) what is due and publishes it with
 * crl_generate, which writes, fsyncs and renames so that a crash at any step
 * leaves the previous CRL in place. The loop never signs, writes a file or
 * waits for a lock. */
#include "handlers/crl_publisher.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ca/arl_issue.h"
#include "ca/crl_issue.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

#define CRL_DELTA_AFTER_MS_DEFAULT   (60 * 1000)
#define CRL_FULL_INTERVAL_MS_DEFAULT (24 * 3600 * 1000LL)

static const char *const LABELS[2] = {"sign", "auth"};

struct crl_publisher {
	uv_loop_t *loop;
	struct store *store;
	char data_dir[2048];
	char base_url[1024]; /* "" = DIR/ca/base-url */
	bool active;         /* crl.generate is on and a store is at hand */
	bool stopped;        /* crl_publisher_stop has run: start nothing new */
	bool generating;     /* a job is on the pool */
	uv_timer_t timer;    /* initialised only when active */
	int64_t full_validity, delta_validity;
	struct crl_policy policy;
	struct crl_watch watch[2]; /* used only by the generation job */
	void (*published)(void *arg);
	void *arg;
	struct metric *generated, *failed;
};

/* --- generating (thread pool) ------------------------------------------------------------ */

struct gen_job {
	uv_work_t req;
	struct crl_publisher *pub;
	int64_t now_ms;
	int published;
	int failures;
};

static int generate_one(struct crl_publisher *pub, const char *label, bool delta)
{
	struct crl_generate_options opts = {
	        .data_dir = pub->data_dir,
	        .label = label,
	        .delta = delta,
	        .base_url = pub->base_url[0] ? pub->base_url : NULL,
	        .validity = delta ? pub->delta_validity : pub->full_validity,
	};
	struct crl_generate_result result;
	int err = crl_generate(pub->store, &opts, &result);
	if (err == -ESTALE) /* another process published first: decide again next time */
		err = 0;
	return err;
}

/* With partitions on (DIR/ca/crl-partitions), every municipality's CRLs
 * follow the CA's own: fulls after its full, deltas after its delta. */
static void generate_partitions(struct crl_publisher *pub, struct gen_job *job, const char *label,
                                bool delta)
{
	if (!crl_partitions_enabled(pub->data_dir))
		return;
	struct crl_generate_options opts = {
	        .data_dir = pub->data_dir,
	        .label = label,
	        .delta = delta,
	        .base_url = pub->base_url[0] ? pub->base_url : NULL,
	        .validity = delta ? pub->delta_validity : pub->full_validity,
	};
	struct crl_partitions_result r;
	if (crl_generate_partitions(pub->store, &opts, &r) != 0)
		job->failures++;
	else
		job->published += (int)r.count;
}

static void gen_work_cb(uv_work_t *req)
{
	struct gen_job *job = req->data;
	struct crl_publisher *pub = job->pub;
	int fd;
	/* Another process generating: it will publish, we will load. */
	if (crl_publish_lock(pub->data_dir, false, &fd) != 0)
		return;
	for (int k = 0; k < 2; k++) {
		bool full, delta;
		int err = crl_due(pub->store, pub->data_dir, LABELS[k], job->now_ms, &pub->policy,
		                  &pub->watch[k], &full, &delta);
		if (err) {
			if (err != -ENOENT)
				job->failures++;
			continue;
		}
		if (full) {
			if ((err = generate_one(pub, LABELS[k], false)) != 0) {
				job->failures++;
				continue;
			}
			job->published++;
			generate_partitions(pub, job, LABELS[k], false);
		}
		if (full || delta) {
			if (generate_one(pub, LABELS[k], true) != 0)
				job->failures++;
			else
				job->published++;
			generate_partitions(pub, job, LABELS[k], true);
		}
	}
	/* The authority revocation lists, on the full CRLs' schedule. */
	for (int k = 0; k < 2; k++) {
		bool due;
		int err = arl_due(pub->data_dir, LABELS[k], job->now_ms, &pub->policy, &due);
		if (err || !due) {
			if (err && err != -ENOENT)
				job->failures++;
			continue;
		}
		struct crl_generate_result result;
		if (arl_generate(pub->data_dir, LABELS[k], pub->base_url[0] ? pub->base_url : NULL,
		                 0, pub->full_validity, &result) != 0)
			job->failures++;
		else
			job->published++;
	}
	crl_publish_unlock(fd);
}

static void gen_after_cb(uv_work_t *req, int status)
{
	struct gen_job *job = req->data;
	struct crl_publisher *pub = job->pub;
	(void)status;
	pub->generating = false;
	metric_add(pub->generated, job->published);
	metric_add(pub->failed, job->failures);
	/* serve what was just published without waiting a tick */
	if (job->published && !pub->stopped && pub->published)
		pub->published(pub->arg);
	free(job);
}

static void start_generation(struct crl_publisher *pub)
{
	struct gen_job *job = calloc(1, sizeof *job);
	if (!job)
		return;
	job->req.data = job;
	job->pub = pub;
	job->now_ms = (int64_t)time(NULL) * 1000;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		job->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (uv_queue_work(pub->loop, &job->req, gen_work_cb, gen_after_cb) != 0) {
		free(job);
		return;
	}
	pub->generating = true;
}

static void timer_cb(uv_timer_t *t)
{
	struct crl_publisher *pub = t->data;
	if (!pub->generating)
		start_generation(pub);
}

/* --- life ------------------------------------------------------------------------------------ */

static void read_config(struct crl_publisher *pub, const struct config *c, int64_t check_ms)
{
	pub->policy.delta_after_ms =
	        config_get_ms(c, "crl.delta_after_ms", CRL_DELTA_AFTER_MS_DEFAULT);
	int64_t full_ms = config_get_ms(c, "crl.full_interval", CRL_FULL_INTERVAL_MS_DEFAULT);
	pub->policy.full_interval = full_ms / 1000 > 0 ? full_ms / 1000 : 1;
	int64_t full_validity_ms =
	        config_get_ms(c, "crl.full_validity", CRL_FULL_VALIDITY_DEFAULT * 1000LL);
	int64_t delta_validity_ms =
	        config_get_ms(c, "crl.delta_validity", CRL_DELTA_VALIDITY_DEFAULT * 1000LL);
	pub->full_validity = full_validity_ms / 1000 > 0 ? full_validity_ms / 1000 : 1;
	pub->delta_validity = delta_validity_ms / 1000 > 0 ? delta_validity_ms / 1000 : 1;
	/* reissue a delta halfway through its validity even without changes */
	pub->policy.delta_refresh = pub->delta_validity / 2 > 0 ? pub->delta_validity / 2 : 1;
	/* 0: a quarter of each CRL's validity, capped (ca/crl.h) */
	pub->policy.refresh_before_ms = config_get_ms(c, "crl.refresh_before", 0);
	/* a file is noticed up to one check late, and served by every worker
	 * up to one check after it appears */
	pub->policy.min_margin_ms = 3 * check_ms;
	int64_t shortest =
	        pub->full_validity < pub->delta_validity ? pub->full_validity : pub->delta_validity;
	if (shortest * 1000 < 2 * pub->policy.min_margin_ms)
		log_warn("crl: a CRL valid for %" PRId64 "s is reissued at every check: keep "
		         "crl.full_validity and crl.delta_validity above six times "
		         "crl.check_interval (%" PRId64 " ms)",
		         shortest, check_ms);
	snprintf(pub->base_url, sizeof pub->base_url, "%s", config_get(c, "crl.base_url", ""));
}

int crl_publisher_start(const struct crl_publisher_options *opts, struct crl_publisher **out)
{
	struct crl_publisher *pub = calloc(1, sizeof *pub);
	if (!pub)
		return -ENOMEM;
	pub->loop = opts->loop;
	pub->store = opts->store;
	pub->published = opts->published;
	pub->arg = opts->arg;
	snprintf(pub->data_dir, sizeof pub->data_dir, "%s", opts->data_dir ? opts->data_dir : ".");
	read_config(pub, opts->config, opts->check_ms);
	pub->generated = metrics_counter("kensho_crl_published_total", NULL,
	                                 "CRLs (full and delta) this worker generated");
	pub->failed = metrics_counter("kensho_crl_generation_failures_total", NULL,
	                              "CRL due checks or generations that failed");
	bool generate = config_get_bool(opts->config, "crl.generate", true);
	if (generate && !pub->store)
		log_info("crl: no store in this process; serving published CRLs without "
		         "generating them");
	pub->active = generate && pub->store;
	if (pub->active) {
		int err = uv_timer_init(pub->loop, &pub->timer);
		if (err) {
			free(pub);
			return err;
		}
		pub->timer.data = pub;
		/* The timer may not keep the loop alive on its own. */
		uv_unref((uv_handle_t *)&pub->timer);
		/* first tick at once: generate what is due */
		uv_timer_start(&pub->timer, timer_cb, 0, (uint64_t)opts->check_ms);
	}
	*out = pub;
	return 0;
}

bool crl_publisher_active(const struct crl_publisher *p)
{
	return p && p->active;
}

void crl_publisher_stop(struct crl_publisher *p)
{
	if (!p || p->stopped)
		return;
	p->stopped = true;
	if (p->active)
		uv_close((uv_handle_t *)&p->timer, NULL);
}

void crl_publisher_free(struct crl_publisher *p)
{
	free(p);
}
