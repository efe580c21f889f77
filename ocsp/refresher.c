/* The refresher's loop: lease, pick, sign, write back, pace. See refresher.h. */
#include "ocsp/refresher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "ocsp/service.h"

struct ocsp_refresher {
	const struct ocsp_responder_set *set;
	struct store *store;
	struct ocsp_refresher_config cfg;
	struct ocsp_refresher_stats stats;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping; /* under lock */
	double tokens;
	int64_t refilled;    /* clock of the last refill */
	int64_t lease_until; /* when the lease this refresher last took expires */
};

static int64_t now_of(const struct ocsp_refresher *r)
{
	return r->cfg.clock ? r->cfg.clock(r->cfg.clock_arg) : (int64_t)time(NULL);
}

int ocsp_refresher_new(const struct ocsp_responder_set *set,
                       const struct ocsp_refresher_config *cfg, struct ocsp_refresher **out)
{
	*out = NULL;
	if (!set || !cfg || !cfg->holder || cfg->batch == 0 || cfg->rate <= 0 ||
	    cfg->lease_ttl <= 0 || cfg->refresh_before < 0)
		return -EINVAL;
	struct ocsp_refresher *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->set = set;
	r->store = ocsp_responder_set_store(set);
	r->cfg = *cfg;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	*out = r;
	return 0;
}

struct lease_args {
	uint64_t holder;
	int64_t now, ttl;
};

static int lease_cb(struct store_txn *txn, void *arg)
{
	struct lease_args *a = arg;
	return store_lease_take(txn, OCSP_REFRESH_LEASE, a->holder, a->now, a->ttl, NULL);
}

struct pick {
	const struct ocsp_responder_set *set;
	size_t n, cap;
	struct store_refresh_entry *e;
};

/* Skips certificates of issuers without a responder here (they could never
 * be signed, and would otherwise hold the front of the index forever). */
static int pick_cb(const struct store_refresh_entry *e, void *arg)
{
	struct pick *p = arg;
	if (!ocsp_responder_set_get(p->set, e->issuer_id))
		return 0;
	p->e[p->n++] = *e;
	return p->n == p->cap; /* 1: full */
}

static int first_cb(const struct store_refresh_entry *e, void *arg)
{
	*(int64_t *)arg = e->next_update;
	return 1;
}

struct write_args {
	struct ocsp_presigned_batch *batches;
	size_t n;
	size_t cached, stale, signings;
};

static int write_cb(struct store_txn *txn, void *arg)
{
	struct write_args *a = arg;
	a->cached = a->stale = a->signings = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct ocsp_presigned_batch *b = &a->batches[i];
		if (!b->response.der.data)
			continue;
		int err = ocsp_service_presigned_batch_put(txn, b);
		if (err)
			return err;
		size_t cached = 0;
		for (size_t m = 0; m < b->count; m++) {
			if (b->members[m].result == 0)
				cached++;
			else if (b->members[m].result == -ESTALE)
				a->stale++; /* a revocation won: the record waits, missing */
		}
		a->cached += cached;
		a->signings += cached > 0;
	}
	return 0;
}

int ocsp_refresher_run_once(struct ocsp_refresher *r, size_t budget, bool *held, size_t *signed_out,
                            int64_t *next_due)
{
	*held = false;
	*signed_out = 0;
	*next_due = INT64_MAX;
	int64_t now = now_of(r);
	int err = 0;
	/* No one else may take a lease before it expires: while more than two
	 * thirds of it are left, signing needs no write (and fsync) to renew. */
	if (r->lease_until - now <= r->cfg.lease_ttl * 2 / 3) {
		struct lease_args lease = {r->cfg.holder, now, r->cfg.lease_ttl};
		err = store_write(r->store, lease_cb, &lease);
		if (err == -EBUSY) {
			r->lease_until = 0;
			atomic_store(&r->stats.lease, 0);
			return 0;
		}
		if (err)
			return err;
		r->lease_until = now + r->cfg.lease_ttl;
	}
	*held = true;
	atomic_store(&r->stats.lease, 1);

	/* the budget is in signatures; a signature answers per_signature */
	size_t per = r->cfg.per_signature ? r->cfg.per_signature : 1;
	size_t most = r->cfg.batch > per ? r->cfg.batch : per;
	size_t limit = budget < most / per ? budget * per : most;
	int64_t due_at = now + r->cfg.refresh_before;
	struct pick pick = {r->set, 0, limit, NULL};
	struct ocsp_presigned_batch *answers = NULL;
	struct ocsp_cert_ref *refs = NULL;
	size_t batches = 0;
	if (limit) {
		pick.e = calloc(limit, sizeof(*pick.e));
		answers = calloc(limit, sizeof(*answers));
		refs = calloc(limit, sizeof(*refs));
		if (!pick.e || !answers || !refs) {
			free(pick.e);
			free(answers);
			free(refs);
			return -ENOMEM;
		}
	}
	struct store_txn *txn;
	err = store_txn_begin(r->store, false, &txn);
	if (err)
		goto out;
	/* The oldest answer there is: a missing one has no time it fell due
	 * (kensho_ocsp_cached_answers{state="missing"} counts those). */
	int64_t oldest = INT64_MAX;
	err = store_refresh_each_from(txn, 1, INT64_MAX, 1, first_cb, &oldest);
	if (err == 1)
		err = 0;
	if (!err && limit)
		err = store_refresh_each(txn, due_at, SIZE_MAX, pick_cb, &pick);
	if (err == 1)
		err = 0;
	/* signed in this read snapshot; the write below checks the versions */
	for (size_t i = 0; i < pick.n; i++)
		refs[i] = (struct ocsp_cert_ref){pick.e[i].issuer_id, pick.e[i].serial};
	ocsp_batch_sort(refs, pick.n);
	for (size_t i = 0, end; i < pick.n && !err; i = end) {
		end = ocsp_batch_end(refs, pick.n, i, per);
		struct store_serial serials[OCSP_BATCH_MAX];
		for (size_t j = i; j < end; j++)
			serials[j - i] = refs[j].serial;
		int e = ocsp_service_presign_batch_read(r->set, txn, refs[i].issuer_id, serials,
		                                        end - i, now, STORE_SIGNATURE_REFRESH,
		                                        &answers[batches]);
		if (e == -ENOENT)
			continue; /* an issuer without a responder here */
		err = e;
		if (!e)
			batches++;
	}
	store_txn_abort(txn);
	if (oldest != INT64_MAX) {
		int64_t due_since = oldest - r->cfg.refresh_before;
		atomic_store(&r->stats.oldest_due_age, now > due_since ? now - due_since : 0);
	} else {
		atomic_store(&r->stats.oldest_due_age, 0);
	}
	if (err)
		goto out;
	if (pick.n && r->cfg.before_write)
		r->cfg.before_write(r->cfg.clock_arg);
	if (pick.n) {
		struct write_args w = {answers, batches, 0, 0, 0};
		err = store_write(r->store, write_cb, &w);
		if (err)
			goto out;
		*signed_out = w.signings;
		atomic_fetch_add(&r->stats.signatures, w.cached);
		atomic_fetch_add(&r->stats.signings, w.signings);
		atomic_fetch_add(&r->stats.stale, w.stale);
	}
	/* what is next in line, after this batch */
	err = store_txn_begin(r->store, false, &txn);
	if (!err) {
		int64_t next = INT64_MAX;
		err = store_refresh_each(txn, INT64_MAX, 1, first_cb, &next);
		store_txn_abort(txn);
		if (err == 1)
			err = 0;
		if (next != INT64_MAX)
			*next_due = next - r->cfg.refresh_before;
	}
out:
	for (size_t i = 0; i < batches; i++)
		ocsp_presigned_batch_free(&answers[i]);
	free(answers);
	free(refs);
	free(pick.e);
	return err;
}

/* Waits up to `seconds` or until stopped; true when stopping. */
static bool wait_for(struct ocsp_refresher *r, double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if (seconds > 3600)
		seconds = 3600;
	long long ns = (long long)(seconds * 1e9);
	until.tv_sec += ns / 1000000000;
	until.tv_nsec += ns % 1000000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->stopping)
		if (pthread_cond_timedwait(&r->wake, &r->lock, &until) == ETIMEDOUT)
			break;
	bool stop = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static void refill(struct ocsp_refresher *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (r->refilled)
		r->tokens += (double)(ms - r->refilled) * r->cfg.rate / 1000.0;
	else
		r->tokens = (double)r->cfg.batch;
	if (r->tokens > (double)r->cfg.batch)
		r->tokens = (double)r->cfg.batch;
	r->refilled = ms;
}

static void *refresher_main(void *arg)
{
	struct ocsp_refresher *r = arg;
	/* renew well before the lease lapses, whatever else happens */
	double renew = (double)r->cfg.lease_ttl / 3;
	for (;;) {
		refill(r);
		if (r->tokens < 1) {
			if (wait_for(r, (1 - r->tokens) / r->cfg.rate))
				break;
			continue;
		}
		bool held;
		size_t n;
		int64_t next_due;
		int err = ocsp_refresher_run_once(r, (size_t)r->tokens, &held, &n, &next_due);
		r->tokens -= (double)n;
		if (r->cfg.report)
			r->cfg.report(r->cfg.report_arg, &r->stats);
		double pause = 0;
		if (err) {
			log_warn("ocsp: refreshing answers failed: %s", strerror(-err));
			pause = 1;
		} else if (!held) {
			pause = renew;
		} else if (n == 0) {
			int64_t now = now_of(r);
			pause = next_due > now ? (double)(next_due - now) : 1;
			if (pause > renew)
				pause = renew;
		}
		if (pause > 0 && wait_for(r, pause))
			break;
		pthread_mutex_lock(&r->lock);
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
	}
	return NULL;
}

int ocsp_refresher_start(struct ocsp_refresher *r)
{
	if (r->running)
		return -EALREADY;
	int rc = pthread_create(&r->thread, NULL, refresher_main, r);
	if (rc)
		return -rc;
	r->running = true;
	return 0;
}

static int release_cb(struct store_txn *txn, void *arg)
{
	return store_lease_release(txn, OCSP_REFRESH_LEASE, *(uint64_t *)arg);
}

void ocsp_refresher_stop(struct ocsp_refresher *r)
{
	if (!r || !r->running)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->running = false;
	if (atomic_load(&r->stats.lease)) {
		store_write(r->store, release_cb, &r->cfg.holder);
		atomic_store(&r->stats.lease, 0);
		if (r->cfg.report)
			r->cfg.report(r->cfg.report_arg, &r->stats);
	}
}

void ocsp_refresher_free(struct ocsp_refresher *r)
{
	if (!r)
		return;
	ocsp_refresher_stop(r);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r);
}

const struct ocsp_refresher_stats *ocsp_refresher_stats(const struct ocsp_refresher *r)
{
	return &r->stats;
}
