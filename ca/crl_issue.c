/* CRL generation from the revocation index: see crl_issue.h. */
#include "ca/crl_issue.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/pk.h>

#include "ca/ca.h"
#include "ca/jpki_address.h"
#include "ca/jpki_profile.h"
#include "core/log.h"
#include "storage/store.h"
#include "pki/crl_read.h"
#include "pki/crl_write.h"

int crl_path(const char *data_dir, const char *label, bool delta, char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "%s/crl/%s%s.crl", data_dir, label, delta ? "-delta" : "");
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

int crl_url(const char *base_url, const char *label, bool delta, char *out, size_t out_len)
{
	size_t len = strlen(base_url);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	int n = snprintf(out, out_len, "%.*s/crl/%s%s.crl", (int)len, base_url, label,
	                 delta ? "-delta" : "");
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

static crl_publish_hook_fn publish_hook;

void crl_set_publish_hook(crl_publish_hook_fn hook)
{
	publish_hook = hook;
}

/* Marks a step of publication for a test that stops the process there. */
static void publish_step(const char *step)
{
	if (publish_hook)
		publish_hook(step);
}

static bool label_valid(const char *label)
{
	return label && (!strcmp(label, "sign") || !strcmp(label, "auth"));
}

void crl_base_url_read(const char *data_dir, char *out, size_t out_len)
{
	char path[4096];
	snprintf(out, out_len, "%s", CA_DEFAULT_BASE_URL);
	snprintf(path, sizeof path, "%s/ca/base-url", data_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)out_len, f)) {
		out[strcspn(out, "\r\n \t")] = 0;
		if (!out[0])
			snprintf(out, out_len, "%s", CA_DEFAULT_BASE_URL);
	}
	fclose(f);
}

/* Loads the CA's private key, refusing one that others may read (docs/architecture.md,
 * rule 5). */
static int load_ca_key(const char *data_dir, const char *label, mbedtls_pk_context *key)
{
	static const char *const names[] = {"%s/ca/%s-ca.key", "%s/ca/%s-ca-key.pem"};
	char path[4096];
	struct stat st;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, names[i], data_dir, label);
		if (stat(path, &st) != 0)
			continue;
		if (st.st_mode & 077) {
			log_error("crl: %s is readable by group or others; chmod 600 it", path);
			return -EPERM;
		}
		if (mbedtls_pk_parse_keyfile(key, path, NULL) != 0) {
			log_error("crl: %s is not a private key kensho can read", path);
			return -EINVAL;
		}
		return 0;
	}
	log_error("crl: no private key for the %s CA in %s/ca (run `kensho ca init`)", label,
	          data_dir);
	return -ENOENT;
}

static int state_path(const char *data_dir, const char *label, bool delta, char *out,
                      size_t out_len)
{
	int n = snprintf(out, out_len, "%s/crl/%s%s.state", data_dir, label, delta ? "-delta" : "");
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

int crl_state_read(const char *data_dir, const char *label, bool delta, struct crl_state *st)
{
	char path[4096];
	int err = state_path(data_dir, label, delta, path, sizeof path);
	if (err)
		return err;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int n = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNu64, &st->number,
	               &st->base_number, &st->this_update, &st->change_seq);
	fclose(f);
	return n == 4 ? 0 : -EINVAL;
}

static int fsync_dir(const char *file_path)
{
	char copy[4096];
	snprintf(copy, sizeof copy, "%s", file_path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return err;
}

/* A temporary file beside `path`, to be renamed over it once complete. */
struct tmp_file {
	char path[4096];
	FILE *f;
};

static int tmp_open(struct tmp_file *t, const char *path)
{
	int n = snprintf(t->path, sizeof t->path, "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof t->path)
		return -ENAMETOOLONG;
	int fd = mkostemp(t->path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0644);
	t->f = fdopen(fd, "wb");
	if (!t->f) {
		int err = -errno;
		close(fd);
		unlink(t->path);
		return err;
	}
	return 0;
}

/* Flushes and fsyncs the file's data; the caller then renames it. */
static int tmp_sync(struct tmp_file *t)
{
	int err = 0;
	if (fflush(t->f) != 0 || fsync(fileno(t->f)) != 0)
		err = errno ? -errno : -EIO;
	if (fclose(t->f) != 0 && !err)
		err = -EIO;
	t->f = NULL;
	return err;
}

static void tmp_discard(struct tmp_file *t)
{
	if (t->f)
		fclose(t->f);
	t->f = NULL;
	unlink(t->path);
}

static int tmp_publish(struct tmp_file *t, const char *path)
{
	if (rename(t->path, path) != 0) {
		int err = -errno;
		unlink(t->path);
		return err;
	}
	return fsync_dir(path);
}

static int write_state(const char *data_dir, const char *label, bool delta,
                       const struct crl_state *st)
{
	char path[4096];
	struct tmp_file t;
	int err = state_path(data_dir, label, delta, path, sizeof path);
	if (err || (err = tmp_open(&t, path)))
		return err;
	fprintf(t.f, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRIu64 "\n", st->number,
	        st->base_number, st->this_update, st->change_seq);
	if ((err = tmp_sync(&t))) {
		tmp_discard(&t);
		return err;
	}
	return tmp_publish(&t, path);
}

/* --- the entry source ---------------------------------------------------------- */

struct revoked_source {
	struct store_txn *txn;
	uint32_t issuer_id;
	uint32_t partition;     /* only this partition's certificates; 0: all */
	int64_t since;          /* revocation-index start (inclusive) */
	int64_t expired_before; /* entries whose not_after is earlier are left out */
	/* delta only: revocations dated before `since` that committed after
	 * the base was read (collected once, replayed in both passes) */
	struct store_cert *extra;
	size_t extra_count;
	size_t extra_cap;
	/* current pass */
	crl_emit_fn emit;
	void *emit_arg;
};

static int emit_cert(struct revoked_source *src, const struct store_cert *c)
{
	if (c->status != CERT_STATUS_REVOKED || c->not_after < src->expired_before ||
	    (src->partition && c->partition != src->partition))
		return 0;
	struct crl_entry e = {
	        .serial = c->serial.bytes,
	        .serial_len = c->serial.len,
	        .revoked_at = c->revoked_at,
	        .reason = (int)c->reason,
	};
	return src->emit(src->emit_arg, &e);
}

static int revoked_cb(const struct store_cert *c, void *arg)
{
	return emit_cert(arg, c);
}

static int revoked_source_cb(void *arg, crl_emit_fn emit, void *emit_arg)
{
	struct revoked_source *src = arg;
	src->emit = emit;
	src->emit_arg = emit_arg;
	int err = store_revoked_each(src->txn, src->issuer_id, src->since, revoked_cb, src);
	for (size_t i = 0; !err && i < src->extra_count; i++)
		err = emit_cert(src, &src->extra[i]);
	return err;
}

/* A full partition CRL's entries read beforehand, in one pass over the
 * revocation index for every partition (crl_generate_partitions), with the
 * change-log position read in the same transaction. */
struct part_entry {
	struct store_serial serial;
	int64_t revoked_at;
	int64_t not_after;
	uint32_t partition;
	uint8_t reason;
};

struct preloaded {
	const struct part_entry *entries; /* this partition's */
	size_t count;
	uint64_t change_seq;
	/* current pass */
	int64_t expired_before;
};

static int preloaded_source_cb(void *arg, crl_emit_fn emit, void *emit_arg)
{
	const struct preloaded *pre = arg;
	int err = 0;
	for (size_t i = 0; i < pre->count && !err; i++) {
		const struct part_entry *p = &pre->entries[i];
		if (p->not_after < pre->expired_before)
			continue;
		struct crl_entry e = {
		        .serial = p->serial.bytes,
		        .serial_len = p->serial.len,
		        .revoked_at = p->revoked_at,
		        .reason = (int)p->reason,
		};
		err = emit(emit_arg, &e);
	}
	return err;
}

static int serial_compare(const void *a, const void *b)
{
	const struct store_serial *x = &((const struct store_cert *)a)->serial;
	const struct store_serial *y = &((const struct store_cert *)b)->serial;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->bytes, y->bytes, x->len);
}

static int extra_cb(const struct store_change *ch, void *arg)
{
	struct revoked_source *src = arg;
	if (ch->type != STORE_CHANGE_REVOKED || ch->issuer_id != src->issuer_id)
		return 0;
	struct store_cert c;
	int err = store_cert_get(src->txn, src->issuer_id, &ch->serial, &c);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	/* At or after `since` the revocation index already has it. */
	if (c.status != CERT_STATUS_REVOKED || c.revoked_at >= src->since ||
	    (src->partition && c.partition != src->partition))
		return 0;
	if (src->extra_count == src->extra_cap) {
		size_t cap = src->extra_cap ? 2 * src->extra_cap : 16;
		struct store_cert *grown = realloc(src->extra, cap * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		src->extra = grown;
		src->extra_cap = cap;
	}
	src->extra[src->extra_count++] = c;
	return 0;
}

/* Collects the delta's back-dated revocations, one entry per certificate. */
static int collect_extras(struct revoked_source *src, uint64_t from_seq)
{
	int err = store_change_each(src->txn, from_seq, extra_cb, src);
	if (err || src->extra_count < 2)
		return err;
	qsort(src->extra, src->extra_count, sizeof *src->extra, serial_compare);
	size_t kept = 1;
	for (size_t i = 1; i < src->extra_count; i++)
		if (serial_compare(&src->extra[i], &src->extra[kept - 1]) != 0)
			src->extra[kept++] = src->extra[i];
	src->extra_count = kept;
	return 0;
}

/* --- generation ---------------------------------------------------------------- */

struct number_update {
	const struct store_issuer *read;
	bool delta;
	uint64_t number;
	int64_t this_update;
};

static int number_update_cb(struct store_txn *txn, void *arg)
{
	const struct number_update *u = arg;
	struct store_issuer now;
	struct store_blob cert;
	int err = store_issuer_get(txn, u->read->id, &now);
	if (!err)
		err = store_issuer_cert(txn, u->read->id, &cert);
	if (err)
		return err;
	if (now.crl_number != u->read->crl_number ||
	    now.base_crl_number != u->read->base_crl_number)
		return -ESTALE;
	now.crl_number = u->number;
	if (!u->delta) {
		now.base_crl_number = u->number;
		now.base_crl_time = u->this_update;
	}
	/* store_issuer_put stores the certificate again: give it a copy, not
	 * a pointer into the pages this transaction is rewriting. */
	uint8_t *copy = malloc(cert.len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, cert.data, cert.len);
	err = store_issuer_put(txn, &now, (struct store_blob){copy, cert.len});
	free(copy);
	return err;
}

/* Advances the issuer's CRL numbers once the file is durable. -ESTALE when
 * another generator advanced them since we read them. */
static int commit_numbers(struct store *store, const struct store_issuer *read, bool delta,
                          uint64_t number, int64_t this_update)
{
	struct number_update u = {read, delta, number, this_update};
	return store_write(store, number_update_cb, &u);
}

static int generate_inner(struct store *store, const struct crl_generate_options *opts,
                          struct crl_generate_result *result, struct preloaded *pre)
{
	if (!store || !opts || !opts->data_dir || !label_valid(opts->label) || !result)
		return -EINVAL;
	memset(result, 0, sizeof *result);

	char dir[4096], base_url[1024], idp[1200], freshest[1200];
	snprintf(dir, sizeof dir, "%s/crl", opts->data_dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		int err = -errno;
		log_error("crl: cannot create %s: %s", dir, strerror(errno));
		return err;
	}
	if (opts->base_url)
		snprintf(base_url, sizeof base_url, "%s", opts->base_url);
	else
		crl_base_url_read(opts->data_dir, base_url, sizeof base_url);
	/* A partition's files and URLs are the label's with its code. */
	const struct jpki_municipality *muni = NULL;
	char file_label[32];
	snprintf(file_label, sizeof file_label, "%s", opts->label);
	if (opts->partition) {
		char code[16];
		snprintf(code, sizeof code, "%06u", opts->partition);
		if (!(muni = jpki_municipality_by_code(code))) {
			log_error("crl: %s is no local government code of data/municipalities.tsv",
			          code);
			return -EINVAL;
		}
		snprintf(file_label, sizeof file_label, "%s-%s", opts->label, code);
	}
	int err = crl_path(opts->data_dir, file_label, opts->delta, result->path,
	                   sizeof result->path);
	if (err || (err = crl_url(base_url, file_label, false, idp, sizeof idp)) ||
	    (err = crl_url(base_url, file_label, true, freshest, sizeof freshest)))
		return err;
	uint8_t *idp_dn = NULL;
	size_t idp_dn_len = 0;
	if (muni) {
		struct der d;
		der_init(&d);
		jpki_partition_name(
		        &d, strcmp(opts->label, "sign") ? CERT_KIND_AUTH : CERT_KIND_SIGN, muni);
		if ((err = der_finish(&d, &idp_dn, &idp_dn_len)))
			return err;
	}
	/* A partition numbers its own CRLs, after the last of either kind. */
	struct crl_state part_full = {0}, part_delta = {0};
	bool have_part_full = false;
	if (muni) {
		have_part_full = crl_state_read(opts->data_dir, file_label, false, &part_full) == 0;
		if (crl_state_read(opts->data_dir, file_label, true, &part_delta) != 0)
			part_delta.number = 0;
	}

	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	if ((err = load_ca_key(opts->data_dir, opts->label, &key))) {
		mbedtls_pk_free(&key);
		free(idp_dn);
		return err;
	}

	int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
	int64_t validity = opts->validity ? opts->validity
	                   : opts->delta  ? CRL_DELTA_VALIDITY_DEFAULT
	                                  : CRL_FULL_VALIDITY_DEFAULT;
	struct revoked_source src = {0};
	struct tmp_file tmp = {.f = NULL};
	struct store_txn *txn = NULL;
	struct store_issuer issuer;
	bool have_tmp = false;

	if ((err = store_txn_begin(store, false, &txn)))
		goto done;
	src.txn = txn;
	if ((err = store_issuer_by_label(txn, opts->label, &issuer))) {
		if (err == -ENOENT)
			log_error("crl: no %s issuer in the store (run `kensho ca init`)",
			          opts->label);
		goto done;
	}
	struct store_blob cert;
	const uint8_t *name;
	size_t name_len, key_id_len;
	uint8_t key_id[64];
	if ((err = store_issuer_cert(txn, issuer.id, &cert)) ||
	    (err = crl_issuer_from_cert(cert.data, cert.len, &name, &name_len, key_id,
	                                &key_id_len))) {
		log_error("crl: the %s issuer's certificate is missing or unreadable", opts->label);
		goto done;
	}
	uint64_t change_seq;
	if (pre)
		change_seq = pre->change_seq; /* read with the entries */
	else if ((err = store_change_last(txn, &change_seq)))
		goto done;

	src.issuer_id = issuer.id;
	src.partition = opts->partition;
	if (muni) {
		if (opts->delta && !have_part_full) {
			log_error("crl: no full CRL for partition %s yet: generate one before a "
			          "delta",
			          file_label);
			err = -ENOENT;
			goto done;
		}
		uint64_t last =
		        part_full.number > part_delta.number ? part_full.number : part_delta.number;
		issuer.crl_number = last;
		issuer.base_crl_number = have_part_full ? part_full.number : 0;
		issuer.base_crl_time = have_part_full ? part_full.this_update : 0;
		if (opts->delta) {
			src.since = part_full.this_update;
			src.expired_before = now;
			if ((err = collect_extras(&src, part_full.change_seq + 1)))
				goto done;
		} else {
			src.since = 0;
			src.expired_before = have_part_full && part_full.this_update < now
			                             ? part_full.this_update
			                             : now;
		}
	} else if (opts->delta) {
		if (issuer.base_crl_number == 0) {
			log_error("crl: no full %s CRL yet: generate one before a delta",
			          opts->label);
			err = -ENOENT;
			goto done;
		}
		src.since = issuer.base_crl_time;
		src.expired_before = now;
		struct crl_state st;
		if (crl_state_read(opts->data_dir, opts->label, false, &st) != 0 ||
		    st.number != issuer.base_crl_number) {
			/* The store numbered a full CRL whose publication did not
			 * finish: a delta on it would name a base nobody can get,
			 * and a client would then trust an old full CRL. */
			log_error("crl: the full %s CRL number %" PRIu64 " was never published "
			          "(interrupted publication); generate a full CRL before a delta",
			          opts->label, issuer.base_crl_number);
			err = -ENOENT;
			goto done;
		}
		if ((err = collect_extras(&src, st.change_seq + 1)))
			goto done;
	} else {
		/* RFC 5280 §3.3: an entry stays until it has appeared on one
		 * regularly scheduled CRL issued beyond the certificate's
		 * validity, which the previous full CRL (issued at
		 * base_crl_time) was for anything that expired before it. */
		src.since = 0;
		src.expired_before = issuer.base_crl_time ? issuer.base_crl_time : now;
		if (src.expired_before > now)
			src.expired_before = now;
	}

	struct crl_spec spec = {
	        .issuer_name = name,
	        .issuer_name_len = name_len,
	        .authority_key_id = key_id,
	        .authority_key_id_len = key_id_len,
	        .number = issuer.crl_number + 1,
	        .delta = opts->delta,
	        .base_number = issuer.base_crl_number,
	        .this_update = now,
	        .next_update = now + validity,
	        .distribution_point = idp,
	        .distribution_point_dn = idp_dn,
	        .distribution_point_dn_len = idp_dn_len,
	        .only_user_certs = true,
	        .freshest_crl = opts->delta ? NULL : freshest,
	        .source = revoked_source_cb,
	        .source_arg = &src,
	};
	if (pre) {
		pre->expired_before = src.expired_before;
		spec.source = preloaded_source_cb;
		spec.source_arg = pre;
	}
	if ((err = tmp_open(&tmp, result->path)))
		goto done;
	have_tmp = true;
	setvbuf(tmp.f, NULL, _IOFBF, 1 << 16);
	struct crl_result written;
	if ((err = crl_write(&spec, &key, tmp.f, &written)) || (err = tmp_sync(&tmp))) {
		log_error("crl: writing %s failed: %s", tmp.path, strerror(-err));
		goto done;
	}
	store_txn_abort(txn);
	txn = NULL;
	publish_step("written");

	/* The store's numbers are the arbiter between generators, so they
	 * advance first; the state file is written last. A crash in between
	 * leaves a state that lags the store, which crl_due takes as "publish
	 * again" and crl_generate refuses as a delta's base. */
	if (!muni && (err = commit_numbers(store, &issuer, opts->delta, spec.number, now)))
		goto done;
	publish_step("committed");
	if ((err = tmp_publish(&tmp, result->path)))
		goto done;
	have_tmp = false;
	publish_step("renamed");
	struct crl_state state = {
	        .number = spec.number,
	        .base_number = opts->delta ? issuer.base_crl_number : spec.number,
	        .this_update = now,
	        .change_seq = change_seq,
	};
	if ((err = write_state(opts->data_dir, file_label, opts->delta, &state)))
		log_warn("crl: could not record %s%s.state (%s): the next %s", file_label,
		         opts->delta ? "-delta" : "", strerror(-err),
		         opts->delta ? "check regenerates the delta"
		                     : "deltas may miss back-dated revocations");
	err = 0;
	result->number = spec.number;
	result->base_number = opts->delta ? issuer.base_crl_number : spec.number;
	result->entries = written.entries;
	result->bytes = written.bytes;
	log_info("crl: published %s (number %" PRIu64 ", %" PRIu64 " entries, %" PRIu64 " bytes)",
	         result->path, result->number, result->entries, result->bytes);
done:
	if (have_tmp)
		tmp_discard(&tmp);
	if (txn)
		store_txn_abort(txn);
	free(src.extra);
	free(idp_dn);
	mbedtls_pk_free(&key);
	return err;
}

int crl_generate(struct store *store, const struct crl_generate_options *opts,
                 struct crl_generate_result *result)
{
	return generate_inner(store, opts, result, NULL);
}

struct collect {
	struct part_entry *entries;
	size_t count, cap;
};

static int collect_cb(const struct store_cert *c, void *arg)
{
	struct collect *col = arg;
	if (c->status != CERT_STATUS_REVOKED || !c->partition)
		return 0;
	if (col->count == col->cap) {
		size_t cap = col->cap ? 2 * col->cap : 4096;
		struct part_entry *grown = realloc(col->entries, cap * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		col->entries = grown;
		col->cap = cap;
	}
	col->entries[col->count++] = (struct part_entry){
	        .serial = c->serial,
	        .revoked_at = c->revoked_at,
	        .not_after = c->not_after,
	        .partition = c->partition,
	        .reason = (uint8_t)c->reason,
	};
	return 0;
}

static int partition_compare(const void *a, const void *b)
{
	const struct part_entry *x = a, *y = b;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	if (x->serial.len != y->serial.len)
		return x->serial.len < y->serial.len ? -1 : 1;
	return memcmp(x->serial.bytes, y->serial.bytes, x->serial.len);
}

/* Full CRLs of every partition from one read of the revocation index: the
 * entries (some 50 bytes each) are held in memory, sorted by partition, and
 * each partition's CRL is written from its slice. */
static int generate_full_partitions(struct store *store, const struct crl_generate_options *opts,
                                    struct crl_partitions_result *result)
{
	struct collect col = {0};
	struct store_txn *txn;
	struct store_issuer issuer;
	uint64_t change_seq = 0;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	if (!(err = store_issuer_by_label(txn, opts->label, &issuer)) &&
	    !(err = store_change_last(txn, &change_seq)))
		err = store_revoked_each(txn, issuer.id, 0, collect_cb, &col);
	store_txn_abort(txn);
	if (err) {
		free(col.entries);
		return err;
	}
	if (col.count > 1)
		qsort(col.entries, col.count, sizeof *col.entries, partition_compare);
	struct crl_generate_options one = *opts;
	size_t at = 0;
	for (size_t i = 0; i < jpki_municipality_count && !err; i++) {
		one.partition = (uint32_t)strtoul(jpki_municipalities[i].code, NULL, 10);
		/* the table is in code order, and so are the entries */
		while (at < col.count && col.entries[at].partition < one.partition)
			at++;
		size_t end = at;
		while (end < col.count && col.entries[end].partition == one.partition)
			end++;
		/* no revoked entry at all: entries is NULL, and so is the slice */
		struct preloaded pre = {col.entries ? col.entries + at : NULL, end - at, change_seq,
		                        0};
		struct crl_generate_result r;
		err = generate_inner(store, &one, &r, &pre);
		if (!err) {
			result->count++;
			result->entries += r.entries;
			result->bytes += r.bytes;
			if (r.bytes > result->largest)
				result->largest = r.bytes;
		}
		at = end;
	}
	free(col.entries);
	return err;
}

/* The partitions that a revocation committed after `from` touched: the
 * highest change-log sequence per partition, in `seen` (by table index). */
struct touched {
	struct store_txn *txn;
	uint32_t issuer_id;
	uint64_t *seen;
};

static int touched_cb(const struct store_change *ch, void *arg)
{
	struct touched *t = arg;
	if (ch->type != STORE_CHANGE_REVOKED || ch->issuer_id != t->issuer_id)
		return 0;
	struct store_cert c;
	int err = store_cert_get(t->txn, t->issuer_id, &ch->serial, &c);
	if (err == -ENOENT || (!err && !c.partition))
		return 0;
	if (err)
		return err;
	char code[16];
	snprintf(code, sizeof code, "%06u", c.partition);
	const struct jpki_municipality *m = jpki_municipality_by_code(code);
	if (m)
		t->seen[m - jpki_municipalities] = ch->seq;
	return 0;
}

/* Every partition's delta that is due: none yet, not on its partition's
 * current full CRL, past half its validity, or a revocation in the
 * partition committed after it was read. The rest keep their delta: with
 * 1,741 partitions, signing only where something changed is what keeps a
 * delta round short. */
static int generate_delta_partitions(struct store *store, const struct crl_generate_options *opts,
                                     struct crl_partitions_result *result)
{
	size_t n = jpki_municipality_count;
	struct crl_state *full = calloc(n, sizeof *full), *delta = calloc(n, sizeof *delta);
	bool *have_full = calloc(n, sizeof *have_full), *have_delta = calloc(n, sizeof *have_delta);
	uint64_t *seen = calloc(n, sizeof *seen);
	int err = full && delta && have_full && have_delta && seen ? 0 : -ENOMEM;
	uint64_t from = UINT64_MAX;
	char label[32];
	for (size_t i = 0; i < n && !err; i++) {
		snprintf(label, sizeof label, "%s-%s", opts->label, jpki_municipalities[i].code);
		have_full[i] = crl_state_read(opts->data_dir, label, false, &full[i]) == 0;
		have_delta[i] = crl_state_read(opts->data_dir, label, true, &delta[i]) == 0;
		if (have_full[i] && have_delta[i] && delta[i].change_seq < from)
			from = delta[i].change_seq;
	}
	if (!err && from != UINT64_MAX) {
		struct store_txn *txn;
		struct store_issuer issuer;
		if (!(err = store_txn_begin(store, false, &txn))) {
			struct touched t = {txn, 0, seen};
			if (!(err = store_issuer_by_label(txn, opts->label, &issuer))) {
				t.issuer_id = issuer.id;
				err = store_change_each(txn, from + 1, touched_cb, &t);
			}
			store_txn_abort(txn);
		}
	}
	int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
	int64_t validity = opts->validity ? opts->validity : CRL_DELTA_VALIDITY_DEFAULT;
	struct crl_generate_options one = *opts;
	for (size_t i = 0; i < n && !err; i++) {
		if (!have_full[i])
			continue; /* a delta needs its full CRL */
		bool due = !have_delta[i] || delta[i].base_number != full[i].number ||
		           now - delta[i].this_update >= validity / 2 ||
		           seen[i] > delta[i].change_seq;
		if (!due)
			continue;
		one.partition = (uint32_t)strtoul(jpki_municipalities[i].code, NULL, 10);
		struct crl_generate_result r;
		err = crl_generate(store, &one, &r);
		if (!err) {
			result->count++;
			result->entries += r.entries;
			result->bytes += r.bytes;
			if (r.bytes > result->largest)
				result->largest = r.bytes;
		}
	}
	free(full);
	free(delta);
	free(have_full);
	free(have_delta);
	free(seen);
	return err;
}

int crl_generate_partitions(struct store *store, const struct crl_generate_options *opts,
                            struct crl_partitions_result *result)
{
	memset(result, 0, sizeof *result);
	if (!opts->delta)
		return generate_full_partitions(store, opts, result);
	/* A delta reads the index only from its base's time; it is signed
	 * again only where something changed (below). */
	return generate_delta_partitions(store, opts, result);
}

bool crl_partitions_enabled(const char *data_dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/ca/%s", data_dir, CA_CRL_PARTITIONS_FILE);
	return stat(path, &st) == 0;
}

/* --- the publication lock ------------------------------------------------------ */

/* Whether name is a temporary file of publication: "<label>[-delta].crl.tmp.*"
 * or "<label>[-delta].state.tmp.*". */
static bool is_publication_tmp(const char *name)
{
	static const char *const prefixes[] = {
	        "sign.crl.tmp.",       "sign-delta.crl.tmp.",   "auth.crl.tmp.",
	        "auth-delta.crl.tmp.", "sign.state.tmp.",       "sign-delta.state.tmp.",
	        "auth.state.tmp.",     "auth-delta.state.tmp.",
	};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Removes what a generator killed mid-way left behind. Only the lock holder
 * writes these files, so every one found under the lock is abandoned. */
static void remove_abandoned_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_publication_tmp(e->d_name))
			continue;
		char path[4600];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			log_warn("crl: removed %s, left by an interrupted publication", path);
	}
	closedir(d);
}

int crl_publish_lock(const char *data_dir, bool wait, int *fd_out)
{
	char dir[4096], lock_path[4200];
	snprintf(dir, sizeof dir, "%s/crl", data_dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	snprintf(lock_path, sizeof lock_path, "%s/.generate.lock", dir);
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc;
	while ((rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		int err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		close(fd);
		return err;
	}
	remove_abandoned_tmp(dir);
	*fd_out = fd;
	return 0;
}

void crl_publish_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

/* --- scheduling ------------------------------------------------------------------ */

struct pending_scan {
	uint32_t issuer_id;
	struct crl_watch *watch;
};

static int pending_cb(const struct store_change *ch, void *arg)
{
	struct pending_scan *scan = arg;
	scan->watch->scanned_seq = ch->seq;
	if (ch->type == STORE_CHANGE_REVOKED && ch->issuer_id == scan->issuer_id &&
	    !scan->watch->pending_since)
		scan->watch->pending_since = ch->time ? ch->time : 1;
	return 0;
}

/* The first bytes of a published CRL hold its dates: read only those. */
static int read_published_head(const char *data_dir, const char *label, bool delta,
                               struct crl_info *out)
{
	char path[4096];
	int err = crl_path(data_dir, label, delta, path, sizeof path);
	if (err)
		return err;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t head[8192];
	ssize_t n;
	while ((n = pread(fd, head, sizeof head, 0)) < 0 && errno == EINTR)
		;
	err = n < 0 ? -errno : crl_read_head(head, (size_t)n, out);
	close(fd);
	return err;
}

int64_t crl_refresh_margin_ms(const struct crl_policy *policy, int64_t this_update,
                              int64_t next_update)
{
	int64_t validity_ms = (next_update - this_update) * 1000;
	if (validity_ms < 0)
		validity_ms = 0;
	int64_t margin =
	        policy->refresh_before_ms > 0 ? policy->refresh_before_ms : validity_ms / 4;
	if (policy->refresh_before_ms <= 0 && margin > CRL_REFRESH_BEFORE_MAX_DEFAULT * 1000LL)
		margin = CRL_REFRESH_BEFORE_MAX_DEFAULT * 1000LL;
	/* keep at least half the validity to serve the CRL in */
	if (margin > validity_ms / 2)
		margin = validity_ms / 2;
	if (margin < policy->min_margin_ms)
		margin = policy->min_margin_ms;
	return margin;
}

/* Whether a published CRL must be replaced: it is missing or unreadable, it
 * is not the one the state beside it describes, or its nextUpdate is within
 * the refresh margin. The file's own dates decide, whoever generated it. */
static bool published_expiring(const char *data_dir, const char *label, bool delta,
                               const struct crl_state *state, int64_t now_ms,
                               const struct crl_policy *policy, struct crl_info *head)
{
	if (read_published_head(data_dir, label, delta, head) != 0 ||
	    head->this_update != state->this_update)
		return true;
	if (!head->next_update)
		return false;
	return now_ms >= head->next_update * 1000 - crl_refresh_margin_ms(policy, head->this_update,
	                                                                  head->next_update);
}

int crl_due(struct store *store, const char *data_dir, const char *label, int64_t now_ms,
            const struct crl_policy *policy, struct crl_watch *watch, bool *full, bool *delta)
{
	*full = *delta = false;
	if (!label_valid(label))
		return -EINVAL;
	int64_t now = now_ms / 1000;
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	struct store_issuer issuer;
	if ((err = store_issuer_by_label(txn, label, &issuer)))
		goto done;

	/* A state that lags the store's numbers is a publication that did not
	 * finish (the numbers advance before the file is renamed and the state
	 * written): publish again rather than wait for the schedule. */
	struct crl_state full_state;
	struct crl_info head;
	*full = issuer.base_crl_number == 0 ||
	        crl_state_read(data_dir, label, false, &full_state) != 0 ||
	        full_state.number != issuer.base_crl_number ||
	        published_expiring(data_dir, label, false, &full_state, now_ms, policy, &head) ||
	        now - head.this_update >= policy->full_interval;

	struct crl_state state;
	if (crl_state_read(data_dir, label, true, &state) != 0 ||
	    state.base_number != issuer.base_crl_number || state.number != issuer.crl_number ||
	    published_expiring(data_dir, label, true, &state, now_ms, policy, &head)) {
		/* none yet, on an older full CRL, interrupted, or expiring */
		*delta = true;
		goto done;
	}
	if (state.number != watch->delta_number) {
		/* a new delta was published (by us or another process): what it
		 * was read at is where pending revocations start */
		watch->delta_number = state.number;
		watch->scanned_seq = state.change_seq;
		watch->pending_since = 0;
	}
	struct pending_scan scan = {issuer.id, watch};
	if ((err = store_change_each(txn, watch->scanned_seq + 1, pending_cb, &scan)))
		goto done;
	*delta = (watch->pending_since &&
	          now_ms - watch->pending_since * 1000 >= policy->delta_after_ms) ||
	         now - state.this_update >= policy->delta_refresh;
done:
	store_txn_abort(txn);
	return err;
}
