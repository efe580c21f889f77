/* See replica.h and docs/cluster.md. Everything here blocks (the HTTPS
 * client, write commits): it runs before the workers start, or on the
 * follower's own thread, never on a loop thread. */
#include "daemon/replica.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ca/replica_files.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "pki/hash.h"
#include "storage/store.h"
#include "tls/http_client.h"

#define BATCH_MAX          ((size_t)64 << 20)
#define RETRY_MS           1000
#define CHANGES_USER_AGENT "kenshod-replica"

int replica_settings_read(const struct config *c, struct replica_settings *out)
{
	*out = (struct replica_settings){
	        .primary = config_get(c, "replication.primary", NULL),
	        .cert = config_get(c, "replication.cert", NULL),
	        .key = config_get(c, "replication.key", NULL),
	        .ca = config_get(c, "replication.ca", NULL),
	        .max_lag_ms = config_get_ms(c, "replication.max_lag", 30000),
	        .poll_wait_ms = config_get_ms(c, "replication.poll_wait", 5000),
	        .files_interval_ms = config_get_ms(c, "replication.files_interval", 10000),
	        .snapshot_max =
	                (uint64_t)config_get_size(c, "replication.snapshot_max", (int64_t)4 << 30),
	        .snapshot_timeout_ms = config_get_ms(c, "replication.snapshot_timeout", 900000),
	        .peers = config_get(c, "replication.peers", NULL),
	        .peer_interval_ms = config_get_ms(c, "replication.peer_interval", 2000),
	};
	if (out->peers && !*out->peers)
		out->peers = NULL;
	if (!out->primary && out->peers && (!out->cert || !out->key || !out->ca)) {
		log_error("replication: replication.peers needs replication.cert, replication.key "
		          "and replication.ca (a client certificate with the replica role on the "
		          "peers, its key, and the CA their server certificates chain to)");
		return -EINVAL;
	}
	if (out->primary && !*out->primary)
		out->primary = NULL;
	if (!out->primary)
		return 0;
	struct http_url url;
	if (http_url_parse(out->primary, &url) != 0 || !url.tls) {
		log_error("replication: --replica-of must be https://HOST:PORT, not \"%s\"",
		          out->primary);
		return -EINVAL;
	}
	if (!out->cert || !out->key || !out->ca) {
		log_error("replication: a replica needs replication.cert, replication.key and "
		          "replication.ca (its client certificate with the replica role, its key, "
		          "and the CA the primary's server certificate chains to)");
		return -EINVAL;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client_open(const struct replica_settings *s, int timeout_ms, struct http_client **out)
{
	struct http_client_options o = {
	        .cacert = s->ca,
	        .cert = s->cert,
	        .key = s->key,
	        .timeout_ms = timeout_ms,
	        .user_agent = CHANGES_USER_AGENT,
	};
	http_url_parse(s->primary, &o.url);
	char why[512];
	int rc = http_client_new(&o, out, why, sizeof why);
	if (rc)
		log_error("replication: %s", why);
	return rc;
}

/* Says, for people, why an answer from the primary is not what kensho's
 * replication endpoints give; -EPROTO. */
static int not_replication(const struct replica_settings *s, const char *path,
                           const struct http_reply *r)
{
	if (r->status == 403)
		log_error(
		        "replication: %s refused GET %s (403): the certificate in replication.cert "
		        "is not granted the replica role by the primary's tls.policy",
		        s->primary, path);
	else
		log_error("replication: %s does not answer GET %s as a kensho primary does "
		          "(status %d, Content-Type \"%s\"); is --replica-of a kenshod?",
		          s->primary, path, r->status, r->content_type);
	return -EPROTO;
}

static int fetch(struct http_client *c, const struct replica_settings *s, const char *path,
                 size_t max, struct http_reply *reply)
{
	int rc = http_client_get(c, path, max, reply);
	if (rc)
		log_error("replication: GET %s%s failed: %s", s->primary, path,
		          http_client_strerror(rc));
	return rc;
}

/* --- the public files ----------------------------------------------------------- */

static int files_sync(struct http_client *c, const struct replica_settings *s, const char *data_dir)
{
	struct http_reply r;
	int rc = fetch(c, s, "/v1/replication/files", REPLICA_FILES_MAX, &r);
	if (rc == 0 && (r.status != 200 || strcmp(r.content_type, "application/x-kensho-files")))
		rc = not_replication(s, "/v1/replication/files", &r);
	unsigned written = 0;
	if (rc == 0) {
		rc = replica_files_install(data_dir, r.body, r.body_len, &written);
		if (rc == -EBADMSG)
			log_error("replication: the files bundle from %s is malformed; nothing "
			          "written",
			          s->primary);
		else if (rc)
			log_error("replication: cannot write the primary's files into %s: %s",
			          data_dir, strerror(-rc));
	}
	if (rc == 0 && written)
		log_info("replication: %u file(s) updated from the primary", written);
	http_reply_free(&r);
	return rc;
}

/* --- the snapshot --------------------------------------------------------------- */

static int remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) == 0 ? 0 : -errno;
}

static int write_all(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0) {
			close(fd);
			return -errno;
		}
		done += (size_t)n;
	}
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

/* Fetches a snapshot into DIR/store.incoming, checks it whole and opening,
 * then puts it in place of DIR/store. Nothing in DIR/store changes unless
 * every check passed. */
static int snapshot_install(struct http_client *c, const struct replica_settings *s,
                            const char *data_dir)
{
	const char *path = "/v1/replication/snapshot";
	struct http_reply r;
	log_info("replication: fetching a snapshot of the primary's store from %s", s->primary);
	int rc = fetch(c, s, path, (size_t)s->snapshot_max, &r);
	if (rc) {
		http_reply_free(&r);
		return rc;
	}
	char sha_hex[80] = "";
	if (r.status != 200 || strcmp(r.content_type, "application/octet-stream") != 0 ||
	    http_reply_header(&r, "X-Kensho-Snapshot-SHA256", sha_hex, sizeof sha_hex) != 0) {
		rc = not_replication(s, path, &r);
		http_reply_free(&r);
		return rc;
	}
	uint8_t sha[PKI_SHA256_LEN];
	char got[2 * PKI_SHA256_LEN + 1];
	pki_sha256(r.body, r.body_len, sha);
	for (int i = 0; i < PKI_SHA256_LEN; i++)
		snprintf(got + 2 * i, 3, "%02x", sha[i]);
	if (strcmp(got, sha_hex) != 0) {
		log_error("replication: the snapshot from %s arrived damaged or incomplete "
		          "(%zu bytes, SHA-256 differs from the primary's); nothing installed",
		          s->primary, r.body_len);
		http_reply_free(&r);
		return -EBADMSG;
	}
	char incoming[4200], store_dir[4200];
	snprintf(incoming, sizeof incoming, "%s/%s.incoming", data_dir, STORE_DATA_SUBDIR);
	snprintf(store_dir, sizeof store_dir, "%s/%s", data_dir, STORE_DATA_SUBDIR);
	remove_tree(incoming);
	rc = mkdir(incoming, 0700) == 0 ? 0 : -errno;
	char file[4400];
	snprintf(file, sizeof file, "%s/data.mdb", incoming);
	if (rc == 0)
		rc = write_all(file, r.body, r.body_len);
	http_reply_free(&r);
	uint64_t last = 0;
	if (rc == 0) {
		rc = store_snapshot_verify(incoming, &last);
		if (rc)
			log_error("replication: the snapshot from %s is not a kensho store this "
			          "kenshod can open (%s); nothing installed",
			          s->primary, strerror(-rc));
	}
	if (rc == 0) {
		/* A crash between these two steps leaves no store: the next start
		 * bootstraps again, from scratch. */
		rc = remove_tree(store_dir);
		if (rc == 0 || rc == -ENOENT)
			rc = rename(incoming, store_dir) == 0 ? 0 : -errno;
		if (rc)
			log_error("replication: cannot install the snapshot as %s: %s", store_dir,
			          strerror(-rc));
	}
	if (rc) {
		remove_tree(incoming);
		return rc;
	}
	log_info("replication: installed a snapshot at sequence %" PRIu64, last);
	return 0;
}

/* What the primary says of a cursor and its change's epoch: 0 it can
 * continue, -ESTALE it cannot (410/409: trimmed, beyond its log, or of
 * another epoch: this store followed, or was, another primary), or another
 * error. */
static int cursor_check(struct http_client *c, const struct replica_settings *s, uint64_t after,
                        uint64_t epoch)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/replication/changes?after=%" PRIu64 "&epoch=%" PRIu64,
	         after, epoch);
	struct http_reply r;
	int rc = fetch(c, s, path, BATCH_MAX, &r);
	if (rc == 0 && (r.status == 410 || r.status == 409))
		rc = -ESTALE;
	else if (rc == 0 &&
	         (r.status != 200 || strcmp(r.content_type, "application/x-kensho-changes")))
		rc = not_replication(s, path, &r);
	http_reply_free(&r);
	return rc;
}

/* The store's cursor, its change's epoch, and whether it asked for a
 * snapshot; -ENOENT: no store. */
static int local_cursor(const char *data_dir, uint64_t *last, uint64_t *epoch, bool *need_snapshot)
{
	char dir[4200], file[4400];
	snprintf(dir, sizeof dir, "%s/%s", data_dir, STORE_DATA_SUBDIR);
	snprintf(file, sizeof file, "%s/data.mdb", dir);
	if (access(file, F_OK) != 0)
		return -ENOENT;
	struct store *s;
	int rc = store_open(&(struct store_options){.path = dir}, &s);
	if (rc)
		return rc;
	struct store_txn *txn;
	rc = store_txn_begin(s, false, &txn);
	if (rc == 0) {
		uint64_t first;
		rc = store_replication_bounds(txn, &first, last);
		*epoch = 0;
		if (rc == 0 && *last)
			store_change_epoch_at(txn, *last, epoch);
		struct store_replica_state st;
		*need_snapshot = store_replica_state_get(txn, &st) == 0 && st.need_snapshot;
		store_txn_abort(txn);
	}
	store_close(s);
	return rc;
}

int replica_prepare(const char *data_dir, const struct replica_settings *s)
{
	struct http_client *c;
	int64_t timeout = s->poll_wait_ms + 15000;
	int rc = client_open(s, (int)(timeout > 600000 ? 600000 : timeout), &c);
	if (rc)
		return rc;
	uint64_t last = 0, epoch = 0;
	bool need_snapshot = false;
	rc = local_cursor(data_dir, &last, &epoch, &need_snapshot);
	if (rc == 0 && !need_snapshot) {
		rc = cursor_check(c, s, last, epoch);
		if (rc == -ESTALE) {
			log_warn("replication: the primary no longer holds the changes after "
			         "sequence %" PRIu64 "; taking a fresh snapshot",
			         last);
			need_snapshot = true;
			rc = 0;
		}
	} else if (rc == -ENOENT || rc == 0) {
		need_snapshot = true;
		rc = 0;
	}
	if (rc == 0 && need_snapshot) {
		/* The primary answers only once its compacted copy is written:
		 * minutes for a large store, with nothing on the wire meanwhile. */
		struct http_client *slow;
		int64_t wait =
		        s->snapshot_timeout_ms > 600000000 ? 600000000 : s->snapshot_timeout_ms;
		if ((rc = client_open(s, (int)wait, &slow)) == 0) {
			rc = snapshot_install(slow, s, data_dir);
			http_client_free(slow);
		}
	}
	if (rc == 0)
		rc = files_sync(c, s, data_dir);
	http_client_free(c);
	return rc;
}

/* --- the follower ----------------------------------------------------------------- */

struct replica_follower {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct store *store;
	const char *data_dir;
	struct replica_settings s;
	struct http_client *client;
	uint64_t id; /* DIR/replica-id: the primary records acknowledgements under it */
	struct metric *applied_seq, *lag_changes, *lag_seconds, *bytes, *reconnects, *batches,
	        *refused;
};

struct batch_apply {
	const uint8_t *p;
	size_t len;
	uint64_t primary_last;
	uint64_t applied;
	int64_t now;
	int error; /* -ESTALE gap, -EBADMSG undecodable */
};

/* One write transaction: every entry of the batch, then the state. */
static int batch_apply_cb(struct store_txn *txn, void *arg)
{
	struct batch_apply *b = arg;
	b->error = 0;
	uint64_t first, last;
	int rc = store_replication_bounds(txn, &first, &last);
	if (rc)
		return rc;
	size_t at = 0;
	while (at < b->len) {
		if (b->len - at < 12)
			return b->error = -EBADMSG;
		uint64_t seq = 0;
		for (int i = 0; i < 8; i++)
			seq = seq << 8 | b->p[at + i];
		size_t n = (size_t)b->p[at + 8] << 24 | (size_t)b->p[at + 9] << 16 |
		           (size_t)b->p[at + 10] << 8 | b->p[at + 11];
		at += 12;
		if (n > b->len - at)
			return b->error = -EBADMSG;
		rc = store_replication_apply(txn, seq, b->p + at, n);
		if (rc == -ESTALE || rc == -EBADMSG || rc == -EPERM)
			return b->error = rc;
		if (rc)
			return rc;
		last = seq;
		at += n;
	}
	b->applied = last;
	struct store_replica_state st = {0};
	store_replica_state_get(txn, &st);
	st.contact_ms = b->now;
	st.primary_last = b->primary_last;
	if (last >= b->primary_last)
		st.caught_up_ms = b->now;
	st.need_snapshot = false;
	return store_replica_state_put(txn, &st);
}

static int mark_need_snapshot_cb(struct store_txn *txn, void *arg)
{
	(void)arg;
	struct store_replica_state st = {0};
	store_replica_state_get(txn, &st);
	st.need_snapshot = true;
	return store_replica_state_put(txn, &st);
}

/* A snapshot carries its primary's local records of which replicas hold
 * what (storage/replica_acks.c); a replica has none of its own. */
static int forget_acks_cb(struct store_txn *txn, void *arg)
{
	(void)arg;
	return store_replica_acks_clear(txn);
}

/* Waits ms on wake unless *stop is (or becomes) set under lock; true when
 * stopped. The follower's and the fence watcher's pause. */
static bool sleep_unless_stopped(pthread_mutex_t *lock, pthread_cond_t *wake, const bool *stop,
                                 int64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(lock);
	while (!*stop && pthread_cond_timedwait(wake, lock, &until) == 0) {
	}
	bool was = *stop;
	pthread_mutex_unlock(lock);
	return was;
}

static bool follower_sleep(struct replica_follower *f, int64_t ms)
{
	return sleep_unless_stopped(&f->lock, &f->wake, &f->stop, ms);
}

static bool stopped(struct replica_follower *f)
{
	pthread_mutex_lock(&f->lock);
	bool stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

/* One long poll and its batch. 0 to poll again at once, 1 to back off. */
static int follow_once(struct replica_follower *f)
{
	struct store_txn *txn;
	uint64_t first, applied = 0;
	if (store_txn_begin(f->store, false, &txn) != 0)
		return 1;
	uint64_t epoch = 0;
	store_replication_bounds(txn, &first, &applied);
	if (applied)
		store_change_epoch_at(txn, applied, &epoch);
	store_txn_abort(txn);
	char path[160];
	snprintf(path, sizeof path,
	         "/v1/replication/changes?after=%" PRIu64 "&wait=%" PRId64 "&replica=%" PRIu64
	         "&epoch=%" PRIu64,
	         applied, f->s.poll_wait_ms / 1000 > 0 ? f->s.poll_wait_ms / 1000 : 1, f->id,
	         epoch);
	struct http_reply r;
	/* A batch holds at least one entry, and one transaction's entry can be
	 * large (a population generated in bulk): bounded like a snapshot. */
	size_t max = (size_t)f->s.snapshot_max > BATCH_MAX ? (size_t)f->s.snapshot_max : BATCH_MAX;
	int rc = http_client_get(f->client, path, max, &r);
	if (rc) {
		metric_add(f->reconnects, 1);
		log_warn("replication: %s unreachable: %s", f->s.primary, http_client_strerror(rc));
		http_reply_free(&r);
		return 1;
	}
	if (r.status == 410 || r.status == 409) {
		log_error("replication: the primary no longer holds the changes after sequence "
		          "%" PRIu64 " (%d); this replica stops being ready; restart kenshod to "
		          "take a fresh snapshot",
		          applied, r.status);
		http_reply_free(&r);
		store_write(f->store, mark_need_snapshot_cb, NULL);
		return 1;
	}
	char last_text[32] = "";
	if (r.status != 200 || strcmp(r.content_type, "application/x-kensho-changes") != 0 ||
	    http_reply_header(&r, "X-Kensho-Last-Sequence", last_text, sizeof last_text) != 0) {
		not_replication(&f->s, path, &r);
		http_reply_free(&r);
		return 1;
	}
	struct batch_apply b = {.p = r.body, .len = r.body_len, .now = now_ms()};
	b.primary_last = strtoull(last_text, NULL, 10);
	rc = store_write(f->store, batch_apply_cb, &b);
	if (rc == -EBADMSG) {
		metric_add(f->refused, 1);
		log_error("replication: a change after sequence %" PRIu64 " from %s is "
		          "undecodable; nothing of the batch was applied",
		          applied, f->s.primary);
	} else if (rc == -EPERM) {
		metric_add(f->refused, 1);
		log_error(
		        "replication: %s sends changes of an older epoch than this store's: this "
		        "node was promoted (kensho promote), or follows a primary that was "
		        "replaced; nothing applied. Restart kenshod without --replica-of to serve "
		        "as the primary",
		        f->s.primary);
	} else if (rc == -ESTALE) {
		metric_add(f->refused, 1);
		log_error("replication: the batch after sequence %" PRIu64 " has a gap; nothing "
		          "of it was applied",
		          applied);
	} else if (rc) {
		log_error("replication: cannot apply a batch: %s", strerror(-rc));
	} else {
		metric_add(f->batches, 1);
		metric_add(f->bytes, (double)r.body_len);
		metric_set(f->applied_seq, (double)b.applied);
		metric_set(f->lag_changes,
		           b.primary_last > b.applied ? (double)(b.primary_last - b.applied) : 0);
	}
	http_reply_free(&r);
	return rc ? 1 : 0;
}

/* This replica's id: drawn once and kept in DIR/replica-id (not in the
 * store, which a snapshot replaces), so the primary counts one replica once
 * in replication.sync_replicas however often it restarts or re-bootstraps. */
static int replica_id_load(const char *data_dir, uint64_t *id)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/replica-id", data_dir);
	FILE *fp = fopen(path, "r");
	if (fp) {
		int ok = fscanf(fp, "%" SCNu64, id) == 1 && *id != 0;
		fclose(fp);
		if (ok)
			return 0;
		log_error(
		        "replication: %s does not hold a replica id (a decimal number); remove it "
		        "to draw a new one",
		        path);
		return -EINVAL;
	}
	do {
		if (getrandom(id, sizeof *id, 0) != sizeof *id)
			return -errno;
		*id >>= 11; /* exact in a JSON number and a double */
	} while (*id == 0);
	char tmp[4112];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (!fp)
		return -errno;
	int rc = fprintf(fp, "%" PRIu64 "\n", *id) > 0 && fflush(fp) == 0 && fsync(fileno(fp)) == 0
	                 ? 0
	                 : -EIO;
	fclose(fp);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		log_error("replication: cannot write %s: %s", path, strerror(-rc));
	return rc;
}

static void *follower_main(void *arg)
{
	struct replica_follower *f = arg;
	int64_t next_files = now_ms() + f->s.files_interval_ms;
	while (!stopped(f)) {
		int backoff = follow_once(f);
		if (now_ms() >= next_files) {
			files_sync(f->client, &f->s, f->data_dir);
			next_files = now_ms() + f->s.files_interval_ms;
		}
		if (backoff && follower_sleep(f, RETRY_MS))
			break;
	}
	return NULL;
}

int replica_follower_start(struct store *store, const char *data_dir,
                           const struct replica_settings *s, struct replica_follower **out)
{
	struct replica_follower *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->store = store;
	f->data_dir = data_dir;
	f->s = *s;
	int rc = replica_id_load(data_dir, &f->id);
	if (rc == 0 && (rc = store_write(store, forget_acks_cb, NULL)) != 0)
		log_error("replication: cannot clear the snapshot's acknowledgements: %s",
		          strerror(-rc));
	if (rc) {
		free(f);
		return rc;
	}
	int64_t timeout = s->poll_wait_ms + 15000;
	rc = client_open(s, (int)(timeout > 600000 ? 600000 : timeout), &f->client);
	if (rc) {
		free(f);
		return rc;
	}
	f->applied_seq = metrics_gauge("kensho_replication_applied_sequence", NULL,
	                               "the last change-log sequence this replica applied");
	f->lag_changes = metrics_gauge("kensho_replication_lag_changes", NULL,
	                               "changes the primary had that this replica had not "
	                               "applied, at the last poll");
	f->bytes = metrics_counter("kensho_replication_bytes_total", NULL,
	                           "bytes of change batches this replica applied");
	f->batches = metrics_counter("kensho_replication_batches_total", NULL,
	                             "change batches this replica applied");
	f->reconnects = metrics_counter("kensho_replication_reconnects_total", NULL,
	                                "polls of the primary that failed to connect");
	f->refused = metrics_counter("kensho_replication_refused_total", NULL,
	                             "batches refused (undecodable or with a gap)");
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	rc = pthread_create(&f->thread, NULL, follower_main, f);
	if (rc) {
		http_client_free(f->client);
		free(f);
		return -rc;
	}
	*out = f;
	return 0;
}

void replica_follower_stop(struct replica_follower *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	http_client_free(f->client);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f);
}

/* --- the fence watcher (a primary with replication.peers) ---------------------------- */

#define PEERS_MAX 16

struct fence_watch {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct store *store;
	int64_t interval_ms;
	size_t count;
	char urls[PEERS_MAX][256];
	struct http_client *clients[PEERS_MAX];
};

static int fence_cb(struct store_txn *txn, void *arg)
{
	return store_fence_put(txn, arg);
}

/* Peer i's epoch when it says it is a primary; 0 when it is not, or does
 * not answer (a partition cannot be told from a dead peer). */
static uint64_t peer_primary_epoch(struct fence_watch *w, size_t i)
{
	struct http_reply r;
	char role[16] = "", epoch_text[24] = "";
	uint64_t epoch = 0;
	int rc = http_client_get(w->clients[i], "/v1/replication/state", 4096, &r);
	if (rc)
		log_debug("replication: peer %s unreachable: %s", w->urls[i],
		          http_client_strerror(rc));
	else if (r.status == 200 &&
	         http_reply_header(&r, "X-Kensho-Role", role, sizeof role) == 0 &&
	         http_reply_header(&r, "X-Kensho-Epoch", epoch_text, sizeof epoch_text) == 0 &&
	         strcmp(role, "primary") == 0)
		epoch = strtoull(epoch_text, NULL, 10);
	http_reply_free(&r);
	return epoch;
}

/* Asks every peer for its role and epoch; records a fence when one is a
 * primary of a later epoch than this store's. True when fenced. */
static bool fence_pass(struct fence_watch *w)
{
	uint64_t mine = 0;
	struct store_txn *txn;
	struct store_fence fence;
	if (store_txn_begin(w->store, false, &txn) != 0)
		return false;
	bool fenced = store_fence_get(txn, &fence) == 0;
	store_epoch(txn, &mine);
	store_txn_abort(txn);
	for (size_t i = 0; i < w->count && !fenced; i++) {
		uint64_t theirs = peer_primary_epoch(w, i);
		if (theirs <= mine)
			continue;
		fence = (struct store_fence){.epoch = theirs};
		snprintf(fence.primary, sizeof fence.primary, "%s", w->urls[i]);
		if (store_write(w->store, fence_cb, &fence) != 0)
			continue;
		fenced = true;
		log_error("replication: %s is the primary at epoch %" PRIu64 " (this node: epoch "
		          "%" PRIu64
		          "): this node takes no more writes and is not ready; restart it "
		          "with --replica-of %s to rejoin",
		          w->urls[i], theirs, mine, w->urls[i]);
	}
	return fenced;
}

static void *fence_main(void *arg)
{
	struct fence_watch *w = arg;
	for (;;) {
		bool stop = sleep_unless_stopped(&w->lock, &w->wake, &w->stop, w->interval_ms);
		if (stop || fence_pass(w))
			break;
	}
	return NULL;
}

int replica_fence_watch_start(struct store *store, const struct replica_settings *s,
                              struct fence_watch **out)
{
	*out = NULL;
	if (!s->peers || s->primary)
		return 0;
	struct fence_watch *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->store = store;
	w->interval_ms = s->peer_interval_ms;
	const char *p = s->peers;
	int rc = 0;
	while (*p && rc == 0) {
		size_t n = strcspn(p, " ,\t");
		if (n == 0) {
			p++;
			continue;
		}
		if (w->count == PEERS_MAX || n >= sizeof w->urls[0]) {
			log_error("replication.peers: at most %d URLs of under 256 bytes",
			          PEERS_MAX);
			rc = -EINVAL;
			break;
		}
		memcpy(w->urls[w->count], p, n);
		w->urls[w->count][n] = '\0';
		p += n;
		struct replica_settings peer = *s;
		peer.primary = w->urls[w->count];
		struct http_url url;
		if (http_url_parse(peer.primary, &url) != 0 || !url.tls) {
			log_error("replication.peers: \"%s\" is not https://HOST:PORT",
			          peer.primary);
			rc = -EINVAL;
			break;
		}
		rc = client_open(&peer, 3000, &w->clients[w->count]);
		if (rc == 0)
			w->count++;
	}
	if (rc == 0) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->wake, NULL);
		/* Once before this worker listens: a primary that comes back after
		 * another was promoted learns it before it takes a write here. */
		if (!fence_pass(w) &&
		    (rc = -pthread_create(&w->thread, NULL, fence_main, w)) == 0) {
			*out = w;
			return 0;
		}
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
	}
	for (size_t i = 0; i < w->count; i++)
		http_client_free(w->clients[i]);
	free(w);
	return rc;
}

void replica_fence_watch_stop(struct fence_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->count; i++)
		http_client_free(w->clients[i]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int replica_fence_readiness_check(void *arg, char *why, size_t why_len)
{
	struct store_txn *txn;
	if (store_txn_begin(arg, false, &txn) != 0) {
		snprintf(why, why_len, "the store cannot be read");
		return -1;
	}
	struct store_fence fence;
	int rc = store_fence_get(txn, &fence);
	store_txn_abort(txn);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		snprintf(why, why_len, "the fence record cannot be read");
	else
		snprintf(why, why_len,
		         "fenced: %s is the primary at epoch %" PRIu64
		         "; restart with --replica-of it",
		         fence.primary, fence.epoch);
	return -1;
}

int replica_readiness_check(void *arg, char *why, size_t why_len)
{
	struct replica_readiness *r = arg;
	struct store_txn *txn;
	if (store_txn_begin(r->store, false, &txn) != 0) {
		snprintf(why, why_len, "the store cannot be read");
		return -EIO;
	}
	struct store_replica_state st;
	int rc = store_replica_state_get(txn, &st);
	store_txn_abort(txn);
	int64_t now = now_ms();
	if (rc == -ENOENT) {
		snprintf(why, why_len, "not yet in contact with the primary %s", r->primary);
		return -EAGAIN;
	}
	if (rc) {
		snprintf(why, why_len, "the replica's state cannot be read");
		return -EIO;
	}
	if (st.need_snapshot) {
		snprintf(why, why_len,
		         "the primary %s no longer holds what follows; restart to "
		         "take a snapshot",
		         r->primary);
		return -ESTALE;
	}
	if (now - st.caught_up_ms > r->max_lag_ms) {
		snprintf(why, why_len,
		         "behind the primary %s by %" PRId64 " ms (replication.max_lag %" PRId64
		         " ms)%s",
		         r->primary, now - st.caught_up_ms, r->max_lag_ms,
		         now - st.contact_ms > r->max_lag_ms ? "; the primary is unreachable" : "");
		return -EAGAIN;
	}
	return 0;
}

double replica_lag_seconds_read(void *arg)
{
	struct replica_readiness *r = arg;
	struct store_txn *txn;
	if (store_txn_begin(r->store, false, &txn) != 0)
		return -1;
	struct store_replica_state st;
	int rc = store_replica_state_get(txn, &st);
	store_txn_abort(txn);
	if (rc)
		return -1;
	return (double)(now_ms() - st.caught_up_ms) / 1000.0;
}
