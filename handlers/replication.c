/* The primary's side of replication (docs/cluster.md), replica role only:
 *
 *   GET /v1/replication/snapshot            a compacted, consistent copy of the
 *                                           LMDB environment (data.mdb)
 *   GET /v1/replication/changes?after=SEQ[&wait=SECONDS][&replica=ID]
 *                                           the change entries after SEQ; with
 *                                           ID, replica ID's acknowledgement of
 *                                           SEQ (storage/replica_acks.c)
 *   GET /v1/replication/files               the public files beside the store:
 *                                           CA and responder certificates,
 *                                           base-url, published CRLs
 *                                           (ca/replica_files.h), never a key
 *
 * A batch of changes is application/x-kensho-changes: repeated
 * { u64 sequence, u32 length, change entry } (big-endian), at most
 * replication.batch_bytes (but always at least one entry), in order, without
 * gaps. X-Kensho-Last-Sequence is the log's last sequence when the batch was
 * read. With wait=S and nothing new, the request is held (polled every
 * POLL_MS on the loop: a read transaction is two B-tree seeks) until an
 * entry arrives or S (at most replication.max_wait) has passed: then 200
 * with an empty body. SEQ older than the retained log: 410 (take a
 * snapshot); SEQ beyond the log: 409 (this replica followed another
 * history; take a snapshot).
 *
 * The snapshot is written by mdb_env_copyfd2 on the thread pool into an
 * unlinked temporary file in the data directory, then served from a
 * read-only mapping of it (the core writes a borrowed body without copying
 * it on plain connections), one at a time per worker. X-Kensho-Sequence is
 * the log's last sequence just before the copy began; the copy's own log
 * (possibly a little further) is what a replica follows from. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/replica_files.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/metrics.h"
#include "handlers/handlers.h"
#include "handlers/replication.h"
#include "handlers/replication_query.h"
#include "pki/hash.h"
#include "storage/store.h"

#define POLL_MS             20
#define BATCH_BYTES_DEFAULT (4LL << 20)
#define MAX_WAIT_MS_DEFAULT (30LL * 1000)
#define CHANGES_TYPE        "application/x-kensho-changes"
#define ACKED_SLOTS         16

struct replication_handler;

/* A held long poll: answered by its timer, or by on_context_dispose. */
struct poll {
	uv_timer_t timer;
	struct exchange *ex;
	struct replication_handler *h;
	uint64_t after;
	uint64_t deadline; /* uv_now in ms */
	bool answered;
	struct poll *next, **prev;
};

struct replication_handler {
	struct handler changes, snapshot, files, state;
	const struct handler_env *env;
	size_t batch_bytes;
	int64_t max_wait_ms;
	bool stopped;
	bool copying;  /* a snapshot is on the thread pool */
	bool bundling; /* a files bundle is on the thread pool */
	struct poll *polls;
	struct metric *snapshots, *batches, *bytes;
	/* The last acknowledgement written per replica id (a few replicas per
	 * primary): an unchanged cursor costs no write. */
	struct {
		uint64_t replica, seq;
	} acked[ACKED_SLOTS];
	unsigned acked_next;
};

/* --- changes ---------------------------------------------------------------------- */

struct batch {
	struct buf out;
};

static int batch_cb(uint64_t seq, struct store_blob entry, void *arg)
{
	struct batch *b = arg;
	uint8_t head[12];
	for (int i = 0; i < 8; i++)
		head[i] = (uint8_t)(seq >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		head[8 + i] = (uint8_t)(entry.len >> (24 - 8 * i));
	buf_append(&b->out, head, sizeof head);
	buf_append(&b->out, entry.data, entry.len);
	return b->out.failed ? -ENOMEM : 0;
}

/* Answers the batch after `after`, or returns 1 (nothing new, nothing
 * answered) when `hold` and the log has nothing after it. */
static int changes_answer(struct replication_handler *h, struct exchange *ex, uint64_t after,
                          bool hold)
{
	struct store_txn *txn = NULL;
	if (!h->env->store || store_txn_begin(h->env->store, false, &txn) < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store cannot be read");
		return 0;
	}
	uint64_t first, last;
	int rc = store_replication_bounds(txn, &first, &last);
	if (rc == 0 && hold && after == last) {
		store_txn_abort(txn);
		return 1;
	}
	struct batch b = {0};
	if (rc == 0)
		rc = store_replication_each(txn, after, h->batch_bytes, batch_cb, &b);
	store_txn_abort(txn);
	if (rc == -ESTALE || rc == -ERANGE) {
		buf_free(&b.out);
		char detail[160];
		snprintf(detail, sizeof detail,
		         "the log holds sequences %" PRIu64 " to %" PRIu64 "; a replica at %" PRIu64
		         " must take a fresh snapshot",
		         first, last, after);
		if (rc == -ESTALE)
			exchange_respond_error(ex, 410, HTTP_ERROR_GONE, detail);
		else
			exchange_respond_error(ex, 409, HTTP_ERROR_CONFLICT, detail);
		return 0;
	}
	if (rc) {
		buf_free(&b.out);
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the replication log cannot be read");
		return 0;
	}
	char seq[24];
	snprintf(seq, sizeof seq, "%" PRIu64, last);
	exchange_add_header(ex, "X-Kensho-Last-Sequence", seq);
	exchange_add_header(ex, "Cache-Control", "no-store");
	size_t len;
	uint8_t *bytes = buf_steal(&b.out, &len);
	metric_add(h->batches, 1);
	metric_add(h->bytes, (double)len);
	exchange_respond_owned(ex, 200, CHANGES_TYPE, bytes, len);
	return 0;
}

static void poll_close_cb(uv_handle_t *handle)
{
	free(handle->data);
}

static void poll_finish(struct poll *p)
{
	if (p->next)
		p->next->prev = p->prev;
	*p->prev = p->next;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, poll_close_cb);
}

static void poll_timer_cb(uv_timer_t *timer)
{
	struct poll *p = timer->data;
	bool expired = uv_now(timer->loop) >= p->deadline;
	if (exchange_is_cancelled(p->ex)) {
		exchange_respond(p->ex, 200, CHANGES_TYPE, NULL, 0); /* discarded */
		poll_finish(p);
		return;
	}
	if (changes_answer(p->h, p->ex, p->after, !expired) == 1)
		return; /* still nothing: poll again */
	poll_finish(p);
}

/* --- acknowledgements (storage/replica_acks.c) --------------------------------------- */

/* A replica asks for the changes after `after` only once it has committed
 * every change up to it: the request acknowledges `after`. The record is a
 * write transaction, so it is made on the thread pool, never on the loop
 * (LMDB's one writer may be busy with a revocation or a bulk import). */
struct ack_job {
	uv_work_t work;
	struct store *store;
	uint64_t replica, seq;
	int rc;
};

static int64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ack_work_cb(uv_work_t *work)
{
	struct ack_job *j = work->data;
	struct store_txn *txn;
	char name[24];
	snprintf(name, sizeof name, "%" PRIu64, j->replica);
	if ((j->rc = store_txn_begin(j->store, true, &txn)) != 0)
		return;
	j->rc = store_replica_ack_put(txn, name, j->seq, unix_ms());
	j->rc = j->rc ? (store_txn_abort(txn), j->rc) : store_txn_commit(txn);
}

static void ack_after_cb(uv_work_t *work, int status)
{
	struct ack_job *j = work->data;
	if (status == 0 && j->rc)
		log_warn("replication: the acknowledgement of sequence %" PRIu64
		         " by replica %" PRIu64 " was not recorded: %s",
		         j->seq, j->replica, strerror(-j->rc));
	free(j);
}

static void ack_record(struct replication_handler *h, uint64_t replica, uint64_t seq)
{
	if (!replica || !h->env->store || h->stopped)
		return;
	unsigned slot = ACKED_SLOTS;
	for (unsigned i = 0; i < ACKED_SLOTS; i++)
		if (h->acked[i].replica == replica)
			slot = i;
	if (slot < ACKED_SLOTS && h->acked[slot].seq >= seq)
		return; /* already written (the record only moves forward) */
	if (slot == ACKED_SLOTS)
		slot = h->acked_next++ % ACKED_SLOTS;
	struct ack_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	*j = (struct ack_job){.store = h->env->store, .replica = replica, .seq = seq};
	j->work.data = j;
	if (uv_queue_work(h->env->loop, &j->work, ack_work_cb, ack_after_cb)) {
		free(j);
		return;
	}
	h->acked[slot].replica = replica;
	h->acked[slot].seq = seq;
}

/* A replica's change `after` must be this log's: the same epoch. Otherwise
 * it followed a primary this one replaced (or replaced this one): 409, take
 * a fresh snapshot. Answers and returns false when it is not. */
static bool epoch_matches(struct replication_handler *h, struct exchange *ex, uint64_t after,
                          uint64_t epoch)
{
	struct store_txn *txn;
	uint64_t here = 0;
	if (!h->env->store || store_txn_begin(h->env->store, false, &txn) < 0)
		return true; /* changes_answer says the store cannot be read */
	int rc = store_change_epoch_at(txn, after, &here);
	store_txn_abort(txn);
	if (rc || here == epoch)
		return true; /* not held: 410 or 409 from changes_answer */
	char detail[200];
	snprintf(detail, sizeof detail,
	         "the replica's change %" PRIu64 " is of epoch %" PRIu64 ", this log's of epoch "
	         "%" PRIu64 ": it followed another primary; it must take a fresh snapshot",
	         after, epoch, here);
	exchange_respond_error(ex, 409, HTTP_ERROR_CONFLICT, detail);
	return false;
}

static void changes_on_request(struct handler *self, struct exchange *ex)
{
	struct replication_handler *h =
	        (struct replication_handler *)((char *)self -
	                                       offsetof(struct replication_handler, changes));
	const struct http_request *req = exchange_request(ex);
	struct replication_query q;
	char err[128];
	if (replication_query_parse(req->query, strlen(req->query), &q, err, sizeof err)) {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, err);
		return;
	}
	if (q.epoch && q.after && !epoch_matches(h, ex, q.after, q.epoch))
		return;
	ack_record(h, q.replica, q.after);
	bool hold = q.wait_s > 0 && !h->stopped;
	if (changes_answer(h, ex, q.after, hold) != 1)
		return;
	struct poll *p = calloc(1, sizeof *p);
	if (!p) {
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "out of memory");
		return;
	}
	uint64_t wait_ms = q.wait_s > (uint64_t)h->max_wait_ms / 1000 ? (uint64_t)h->max_wait_ms
	                                                              : q.wait_s * 1000;
	*p = (struct poll){.ex = ex, .h = h, .after = q.after};
	p->deadline = uv_now(h->env->loop) + wait_ms;
	uv_timer_init(h->env->loop, &p->timer);
	p->timer.data = p;
	p->next = h->polls;
	p->prev = &h->polls;
	if (h->polls)
		h->polls->prev = &p->next;
	h->polls = p;
	uv_timer_start(&p->timer, poll_timer_cb, POLL_MS, POLL_MS);
}

/* --- snapshot --------------------------------------------------------------------- */

struct snapshot_job {
	uv_work_t work;
	struct replication_handler *h;
	struct exchange *ex;
	uint64_t seq;
	int rc;
	void *map;
	size_t size;
	uint8_t sha256[PKI_SHA256_LEN];
};

static void snapshot_work_cb(uv_work_t *work)
{
	struct snapshot_job *j = work->data;
	char path[4096];
	snprintf(path, sizeof path, "%s/snapshot.XXXXXX", j->h->env->data_dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		j->rc = -errno;
		return;
	}
	unlink(path); /* nothing to clean up after a crash */
	struct store_txn *txn;
	if (store_txn_begin(j->h->env->store, false, &txn) == 0) {
		uint64_t first;
		store_replication_bounds(txn, &first, &j->seq);
		store_txn_abort(txn);
	}
	j->rc = store_snapshot_write(j->h->env->store, fd);
	struct stat st;
	if (j->rc == 0 && fstat(fd, &st) != 0)
		j->rc = -errno;
	if (j->rc == 0 && st.st_size > 0) {
		j->size = (size_t)st.st_size;
		j->map = mmap(NULL, j->size, PROT_READ, MAP_SHARED, fd, 0);
		if (j->map == MAP_FAILED) {
			j->map = NULL;
			j->rc = -errno;
		} else {
			pki_sha256(j->map, j->size, j->sha256);
		}
	} else if (j->rc == 0) {
		j->rc = -EIO;
	}
	close(fd);
}

static void snapshot_release(void *arg)
{
	struct snapshot_job *j = arg;
	munmap(j->map, j->size);
	free(j);
}

static void snapshot_after_cb(uv_work_t *work, int status)
{
	struct snapshot_job *j = work->data;
	j->h->copying = false;
	if (status != 0 || j->rc != 0) {
		log_error("replication: snapshot for %s failed: %s", exchange_request_id(j->ex),
		          strerror(status ? ECANCELED : -j->rc));
		exchange_respond_error(j->ex, 503, HTTP_ERROR_UNAVAILABLE,
		                       "the snapshot could not be written; try again");
		if (j->map)
			munmap(j->map, j->size);
		free(j);
		return;
	}
	char seq[24];
	snprintf(seq, sizeof seq, "%" PRIu64, j->seq);
	exchange_add_header(j->ex, "X-Kensho-Sequence", seq);
	char hex[2 * PKI_SHA256_LEN + 1];
	for (int i = 0; i < PKI_SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", j->sha256[i]);
	exchange_add_header(j->ex, "X-Kensho-Snapshot-SHA256", hex);
	exchange_add_header(j->ex, "Cache-Control", "no-store");
	metric_add(j->h->snapshots, 1);
	metric_add(j->h->bytes, (double)j->size);
	exchange_respond_borrowed(j->ex, 200, "application/octet-stream", j->map, j->size,
	                          snapshot_release, j);
}

static void snapshot_on_request(struct handler *self, struct exchange *ex)
{
	struct replication_handler *h =
	        (struct replication_handler *)((char *)self -
	                                       offsetof(struct replication_handler, snapshot));
	if (exchange_request(ex)->query[0] != '\0') {
		exchange_respond_error(ex, 400, HTTP_ERROR_BAD_REQUEST, "this path takes no query");
		return;
	}
	if (!h->env->store || !h->env->data_dir) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE, "no store");
		return;
	}
	if (h->copying || h->stopped) {
		exchange_add_header(ex, "Retry-After", "5");
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY,
		                       "a snapshot is being written; try again shortly");
		return;
	}
	struct snapshot_job *j = calloc(1, sizeof *j);
	if (!j) {
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "out of memory");
		return;
	}
	j->h = h;
	j->ex = ex;
	j->work.data = j;
	int rc = uv_queue_work(h->env->loop, &j->work, snapshot_work_cb, snapshot_after_cb);
	if (rc) {
		free(j);
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "the thread pool refused the job");
		return;
	}
	h->copying = true;
}

/* --- files ------------------------------------------------------------------------ */

struct files_job {
	uv_work_t work;
	struct replication_handler *h;
	struct exchange *ex;
	struct buf out;
	int rc;
};

static void files_work_cb(uv_work_t *work)
{
	struct files_job *j = work->data;
	j->rc = replica_files_collect(j->h->env->data_dir, &j->out);
}

static void files_after_cb(uv_work_t *work, int status)
{
	struct files_job *j = work->data;
	j->h->bundling = false;
	if (status != 0 || j->rc != 0) {
		exchange_respond_error(j->ex, 503, HTTP_ERROR_UNAVAILABLE,
		                       "the data directory's files could not be read; try again");
		buf_free(&j->out);
		free(j);
		return;
	}
	size_t len;
	uint8_t *bytes = buf_steal(&j->out, &len);
	exchange_add_header(j->ex, "Cache-Control", "no-store");
	metric_add(j->h->bytes, (double)len);
	exchange_respond_owned(j->ex, 200, "application/x-kensho-files", bytes, len);
	free(j);
}

static void files_on_request(struct handler *self, struct exchange *ex)
{
	struct replication_handler *h =
	        (struct replication_handler *)((char *)self -
	                                       offsetof(struct replication_handler, files));
	if (!h->env->data_dir) {
		exchange_respond_error(ex, 503, HTTP_ERROR_UNAVAILABLE, "no data directory");
		return;
	}
	if (h->bundling || h->stopped) {
		exchange_add_header(ex, "Retry-After", "1");
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "busy; try again shortly");
		return;
	}
	struct files_job *j = calloc(1, sizeof *j);
	if (!j) {
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "out of memory");
		return;
	}
	j->h = h;
	j->ex = ex;
	j->work.data = j;
	if (uv_queue_work(h->env->loop, &j->work, files_work_cb, files_after_cb)) {
		free(j);
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "the thread pool refused the job");
		return;
	}
	h->bundling = true;
}

/* --- state: what a peer's fence watcher asks ---------------------------------------- */

/* GET /v1/replication/state: this node's role (primary, replica, fenced),
 * epoch and last sequence, in X-Kensho-Role, -Epoch and -Sequence and as
 * JSON. A primary with replication.peers asks each peer (daemon/replica.c,
 * the fence watcher). */
static void state_on_request(struct handler *self, struct exchange *ex)
{
	struct replication_handler *h =
	        (struct replication_handler *)((char *)self -
	                                       offsetof(struct replication_handler, state));
	struct store_txn *txn;
	if (!h->env->store || store_txn_begin(h->env->store, false, &txn) < 0) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store cannot be read");
		return;
	}
	uint64_t epoch = 0, first = 0, last = 0;
	struct store_fence fence;
	int rc = store_epoch(txn, &epoch);
	if (rc == 0)
		rc = store_replication_bounds(txn, &first, &last);
	bool fenced = rc == 0 && store_fence_get(txn, &fence) == 0;
	store_txn_abort(txn);
	if (rc) {
		exchange_respond_error(ex, 503, HTTP_ERROR_STORE_UNAVAILABLE,
		                       "the store cannot be read");
		return;
	}
	const char *primary = config_get(h->env->config, "replication.primary", NULL);
	const char *role = primary && *primary ? "replica" : fenced ? "fenced" : "primary";
	char e[24], q[24];
	snprintf(e, sizeof e, "%" PRIu64, epoch);
	snprintf(q, sizeof q, "%" PRIu64, last);
	exchange_add_header(ex, "X-Kensho-Role", role);
	exchange_add_header(ex, "X-Kensho-Epoch", e);
	exchange_add_header(ex, "X-Kensho-Sequence", q);
	exchange_add_header(ex, "Cache-Control", "no-store");
	struct buf body = {0};
	buf_printf(&body, "{\"role\":\"%s\",\"epoch\":%s,\"sequence\":%s}", role, e, q);
	if (body.failed)
		exchange_respond_error(ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
	else
		exchange_respond(ex, 200, "application/json", body.data, body.len);
	buf_free(&body);
}

/* --- life --------------------------------------------------------------------------- */

static int replication_context_init(struct router *r, const struct handler_env *env, void **context)
{
	struct replication_handler *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->env = env;
	h->batch_bytes = (size_t)config_get_size(env->config, "replication.batch_bytes",
	                                         BATCH_BYTES_DEFAULT);
	h->max_wait_ms = config_get_ms(env->config, "replication.max_wait", MAX_WAIT_MS_DEFAULT);
	h->changes = (struct handler){.name = "replication", .on_request = changes_on_request};
	h->snapshot = (struct handler){.name = "replication", .on_request = snapshot_on_request};
	h->files = (struct handler){.name = "replication", .on_request = files_on_request};
	h->state = (struct handler){.name = "replication", .on_request = state_on_request};
	int rc = router_add(r, "/v1/replication/changes", HTTP_METHOD_GET, PEER_ROLE_REPLICA,
	                    &h->changes);
	if (rc == 0)
		rc = router_add(r, "/v1/replication/snapshot", HTTP_METHOD_GET, PEER_ROLE_REPLICA,
		                &h->snapshot);
	if (rc == 0)
		rc = router_add(r, "/v1/replication/files", HTTP_METHOD_GET, PEER_ROLE_REPLICA,
		                &h->files);
	if (rc == 0)
		rc = router_add(r, "/v1/replication/state", HTTP_METHOD_GET, PEER_ROLE_REPLICA,
		                &h->state);
	if (rc) {
		free(h);
		return rc;
	}
	h->snapshots = metrics_counter("kensho_replication_snapshots_served_total", NULL,
	                               "snapshots of the store sent to replicas");
	h->batches = metrics_counter("kensho_replication_batches_served_total", NULL,
	                             "batches of change entries sent to replicas");
	h->bytes = metrics_counter("kensho_replication_bytes_served_total", NULL,
	                           "bytes of snapshots and change entries sent to replicas");
	*context = h;
	return 0;
}

/* Held polls are answered now (with what there is) so the worker can drain. */
static void replication_context_dispose(void *context)
{
	struct replication_handler *h = context;
	h->stopped = true;
	while (h->polls) {
		struct poll *p = h->polls;
		if (changes_answer(h, p->ex, p->after, false) == 1)
			exchange_respond(p->ex, 200, CHANGES_TYPE, NULL, 0);
		poll_finish(p);
	}
}

static void replication_dispose(void *context)
{
	free(context);
}

const struct handler_family replication_family = {
        .name = "replication",
        .on_context_init = replication_context_init,
        .on_context_dispose = replication_context_dispose,
        .dispose = replication_dispose,
};

/* --- a fenced primary's refusal of writes ------------------------------------------ */

static void json_text(struct buf *b, const char *text);

bool replication_refuse_if_fenced(const struct handler_env *env, struct exchange *ex)
{
	struct store_txn *txn;
	struct store_fence fence;
	if (!env->store || store_txn_begin(env->store, false, &txn) < 0)
		return false; /* the write itself will say the store cannot be read */
	int rc = store_fence_get(txn, &fence);
	store_txn_abort(txn);
	if (rc)
		return false;
	struct buf b = {0};
	buf_printf(&b,
	           "{\"error\":\"" HTTP_ERROR_FENCED "\",\"detail\":\"another node was promoted "
	           "to primary at epoch %" PRIu64
	           "; this one takes no more writes\",\"primary\":\"",
	           fence.epoch);
	json_text(&b, fence.primary);
	buf_append_str(&b, "\"}");
	exchange_add_header(ex, "Cache-Control", "no-store");
	if (b.failed)
		exchange_respond_error(ex, 503, HTTP_ERROR_FENCED, "fenced");
	else
		exchange_respond(ex, 503, "application/json", b.data, b.len);
	buf_free(&b);
	return true;
}

/* --- a replica's refusal of writes ----------------------------------------------- */

/* On a replica (replication.primary set) the families that write or sign
 * (intake, tsa, admin) do not start (registry.c); their paths answer 503
 * read_only_replica naming the primary instead, so a client or a load
 * balancer knows where writes go. */
struct refusal_route {
	struct handler super;
	const struct refusal *owner;
};

struct refusal {
	struct refusal_route routes[4];
	struct handler promote;
	const struct handler_env *env;
	bool promoting;
	char body[1024];
	size_t body_len;
};

/* POST /v1/admin/promote on a replica (operator role): ca_promote, as
 * `kensho promote` does, on the thread pool (it loads keys and writes). */
struct promote_job {
	uv_work_t work;
	struct refusal *f;
	struct exchange *ex;
	uint64_t epoch, last;
	int rc;
	char err[CA_ERR_LEN];
};

static void promote_work_cb(uv_work_t *work)
{
	struct promote_job *j = work->data;
	j->rc = ca_promote(j->f->env->data_dir, j->f->env->store, &j->epoch, &j->last, j->err);
}

static void promote_after_cb(uv_work_t *work, int status)
{
	struct promote_job *j = work->data;
	j->f->promoting = false;
	if (status < 0 || j->rc) {
		int code = status < 0 ? 503 : j->rc == -ENOKEY ? 409 : 500;
		log_error("replication: promotion refused: %s",
		          status < 0 ? "shutting down" : j->err);
		exchange_respond_error(j->ex, code,
		                       code == 409   ? HTTP_ERROR_CONFLICT
		                       : code == 503 ? HTTP_ERROR_UNAVAILABLE
		                                     : HTTP_ERROR_INTERNAL,
		                       status < 0 ? "shutting down" : j->err);
	} else {
		log_info("replication: promoted to epoch %" PRIu64 " at change %" PRIu64
		         "; restart kenshod without --replica-of to serve as the primary",
		         j->epoch, j->last);
		struct buf b = {0};
		buf_printf(
		        &b,
		        "{\"promoted\":true,\"epoch\":%" PRIu64 ",\"sequence\":%" PRIu64
		        ",\"detail\":\"this store now refuses the old primary's changes; restart "
		        "kenshod without --replica-of to serve as the primary\"}",
		        j->epoch, j->last);
		if (b.failed)
			exchange_respond_error(j->ex, 500, HTTP_ERROR_INTERNAL, "out of memory");
		else
			exchange_respond(j->ex, 200, "application/json", b.data, b.len);
		buf_free(&b);
	}
	free(j);
}

static void promote_on_request(struct handler *self, struct exchange *ex)
{
	struct refusal *f = (struct refusal *)((char *)self - offsetof(struct refusal, promote));
	if (f->promoting) {
		exchange_respond_error(ex, 409, HTTP_ERROR_CONFLICT, "a promotion is in progress");
		return;
	}
	struct promote_job *j = calloc(1, sizeof *j);
	if (!j) {
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "out of memory");
		return;
	}
	*j = (struct promote_job){.f = f, .ex = ex};
	j->work.data = j;
	log_info("replication: promotion requested by \"%s\"", exchange_request(ex)->peer->subject);
	if (uv_queue_work(f->env->loop, &j->work, promote_work_cb, promote_after_cb)) {
		free(j);
		exchange_respond_error(ex, 503, HTTP_ERROR_BUSY, "the thread pool refused the job");
		return;
	}
	f->promoting = true;
}

static void refusal_on_request(struct handler *self, struct exchange *ex)
{
	const struct refusal_route *route = (const struct refusal_route *)self;
	exchange_add_header(ex, "Cache-Control", "no-store");
	exchange_respond(ex, 503, "application/json", route->owner->body, route->owner->body_len);
}

/* JSON string content: the primary's URL came from the operator's flag. */
static void json_text(struct buf *b, const char *text)
{
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, p, 1);
	}
}

static int refusal_context_init(struct router *r, const struct handler_env *env, void **context)
{
	const char *primary = config_get(env->config, "replication.primary", NULL);
	if (!primary || !*primary)
		return 0; /* a primary: nothing to refuse */
	struct refusal *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	struct buf b = {0};
	buf_append_str(&b, "{\"error\":\"" HTTP_ERROR_READ_ONLY_REPLICA "\",\"detail\":\"this node "
	                   "is a read-only replica; send writes to the primary\",\"primary\":\"");
	json_text(&b, primary);
	buf_append_str(&b, "\"}");
	if (b.failed || b.len >= sizeof f->body) {
		buf_free(&b);
		free(f);
		log_error("replication.primary is too long");
		return -EINVAL;
	}
	memcpy(f->body, b.data, b.len);
	f->body_len = b.len;
	buf_free(&b);
	static const struct {
		const char *path;
		unsigned methods;
		core_role_set roles;
	} paths[4] = {
	        {"/v1/intake", HTTP_METHOD_POST, PEER_ROLE_INTAKE},
	        {"/v1/intake/", HTTP_METHOD_GET | HTTP_METHOD_HEAD, PEER_ROLE_INTAKE},
	        {"/tsa", HTTP_METHOD_POST, PEER_ROLE_INTAKE},
	        {"/v1/admin/", HTTP_METHOD_POST, PEER_ROLE_OPERATOR},
	};
	int rc = 0;
	for (int i = 0; i < 4 && rc == 0; i++) {
		f->routes[i] = (struct refusal_route){
		        .super = {.name = "replica", .on_request = refusal_on_request}, .owner = f};
		rc = router_add(r, paths[i].path, paths[i].methods, paths[i].roles,
		                &f->routes[i].super);
	}
	f->env = env;
	f->promote = (struct handler){.name = "admin-promote", .on_request = promote_on_request};
	if (rc == 0)
		rc = router_add(r, "/v1/admin/promote", HTTP_METHOD_POST, PEER_ROLE_OPERATOR,
		                &f->promote);
	if (rc) {
		free(f);
		return rc;
	}
	*context = f;
	return 0;
}

static void refusal_dispose(void *context)
{
	free(context);
}

const struct handler_family replica_refusal_family = {
        .name = "replica",
        .on_context_init = refusal_context_init,
        .dispose = refusal_dispose,
};
