/* `kensho ocsp status` and `kensho presign`: how fresh the store's pre-signed
 * OCSP answers are, and signing every answer that is due or missing.
 *
 * Both classify answers as kenshod does (storage/store.h, store_freshness):
 * an answer is due once its nextUpdate is within ocsp.refresh_before of now,
 * so their defaults are kenshod's: validity 1 hour, refresh before a quarter
 * of it. The command line takes these as --validity and --refresh-before in
 * seconds, as `kensho crl` takes its validity.
 *
 * presign works in batches: the next batch of keys is read in a read
 * transaction (store_response_each, resuming after the last key of the
 * previous batch), then signed in one write transaction, --ocsp-batch
 * certificates of an issuer per signed answer (ocsp_service_presign_batch_read
 * and ocsp_service_presigned_batch_put; by default one each, as `kensho gen`
 * signs). The records are read again inside that write transaction, and
 * LMDB admits one writer at a time across processes, so a revocation kenshod
 * commits meanwhile either comes before (the answer says revoked) or after
 * (it deletes the answer, and a batch's answers for all its members): never
 * a good answer for a revoked certificate. That is also why presign may run
 * beside kenshod. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/cli.h"
#include "core/buf.h"
#include "core/json.h"
#include "ocsp/responder_set.h"
#include "ocsp/service.h"
#include "storage/store.h"

#define DEFAULT_VALIDITY_S 3600
#define DEFAULT_BATCH      100
#define BATCH_MAX          100000
#define PLAIN_PROGRESS_S   5 /* between progress lines when stderr is no terminal */
#define PROGRESS_BAR_WIDTH 30

/* --validity and --refresh-before, checked; both commands take them. */
struct answer_policy {
	int64_t validity_s;
	int64_t refresh_before_s;
};

static int parse_seconds(const char *command, const struct cli_args *args, const char *key,
                         int64_t *out)
{
	const char *text = cli_get(args, key);
	if (!text)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > 366LL * 86400) {
		cli_fail(command, "--%s wants a number of seconds (0 to 366 days)", key);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int policy_parse(const char *command, const struct cli_args *args, struct answer_policy *p)
{
	p->validity_s = DEFAULT_VALIDITY_S;
	if (parse_seconds(command, args, "validity", &p->validity_s))
		return -EINVAL;
	if (p->validity_s < 60) {
		cli_fail(command, "--validity must be at least 60 seconds");
		return -EINVAL;
	}
	p->refresh_before_s = p->validity_s / 4;
	if (parse_seconds(command, args, "refresh-before", &p->refresh_before_s))
		return -EINVAL;
	if (p->refresh_before_s >= p->validity_s) {
		/* a new answer would be due at once */
		cli_fail(command, "--refresh-before must be shorter than --validity");
		return -EINVAL;
	}
	return 0;
}

/* Writes a duration as people read it: 42s, 5m07s, 3h12m, 2d04h. */
static void duration_format(int64_t s, char *out, size_t cap)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, cap, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(out, cap, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, cap, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(out, cap, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static int freshness_read(struct store *store, int64_t due_at, struct store_freshness *f)
{
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	err = store_response_freshness(txn, due_at, f);
	store_txn_abort(txn);
	return err;
}

static const char *purpose_name(unsigned p)
{
	return store_signature_purpose_name((enum store_signature_purpose)p);
}

static void status_print_text(const struct store_freshness *f, const struct answer_policy *p,
                              const uint64_t *signatures, int64_t now)
{
	uint64_t total = f->fresh + f->due + f->missing;
	char age[32] = "-", validity[32], margin[32];
	if (f->oldest_this_update)
		duration_format(now - f->oldest_this_update, age, sizeof(age));
	duration_format(p->validity_s, validity, sizeof(validity));
	duration_format(p->refresh_before_s, margin, sizeof(margin));
	printf("certificates      %12" PRIu64 "\n", total);
	printf("fresh             %12" PRIu64 "\n", f->fresh);
	printf("due               %12" PRIu64 "   (nextUpdate within %s)\n", f->due, margin);
	printf("missing           %12" PRIu64 "\n", f->missing);
	printf("oldest answer age %12s\n", age);
	printf("validity          %12s\n", validity);
	for (unsigned k = 0; k < STORE_SIGNATURE_PURPOSES; k++)
		printf("signed %-10s %12" PRIu64 "\n", purpose_name(k), signatures[k]);
}

static void status_print_json(const struct store_freshness *f, const struct answer_policy *p,
                              const uint64_t *signatures, int64_t now)
{
	struct buf b = {0};
	struct json j;
	json_init(&j, &b);
	json_object_begin(&j, NULL);
	json_uint(&j, "certificates", f->fresh + f->due + f->missing);
	json_uint(&j, "fresh", f->fresh);
	json_uint(&j, "due", f->due);
	json_uint(&j, "missing", f->missing);
	if (f->oldest_this_update)
		json_int(&j, "oldest_age_seconds", now - f->oldest_this_update);
	else
		json_null(&j, "oldest_age_seconds");
	json_int(&j, "validity_seconds", p->validity_s);
	json_int(&j, "refresh_before_seconds", p->refresh_before_s);
	json_object_begin(&j, "signatures");
	for (unsigned k = 0; k < STORE_SIGNATURE_PURPOSES; k++)
		json_uint(&j, purpose_name(k), signatures[k]);
	json_object_end(&j);
	json_object_end(&j);
	if (!b.failed)
		printf("%.*s\n", (int)b.len, (const char *)b.data);
	buf_free(&b);
}

/* --watch: one line per interval with the signatures per second by purpose
 * over it, from the store-wide counters, until SIGINT or `count` lines. */
static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void status_watch(struct store *store, const uint64_t *first, double interval_s, long count,
                         bool json)
{
	uint64_t before[STORE_SIGNATURE_PURPOSES];
	memcpy(before, first, sizeof(before));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sigaction sa = {.sa_handler = watch_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long n = 0; !watch_stop && (count <= 0 || n < count); n++) {
		struct timespec wait = {(time_t)interval_s,
		                        (long)((interval_s - (double)(time_t)interval_s) * 1e9)};
		while (nanosleep(&wait, &wait) != 0 && errno == EINTR && !watch_stop)
			;
		if (watch_stop)
			break;
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double elapsed =
		        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		uint64_t now[STORE_SIGNATURE_PURPOSES];
		store_signatures_read(store, now);
		if (json)
			printf("{\"interval_seconds\": %.3f, \"signatures_per_second\": {",
			       elapsed);
		else
			printf("signatures/s");
		for (unsigned k = 0; k < STORE_SIGNATURE_PURPOSES; k++) {
			double rate = elapsed > 0 ? (double)(now[k] - before[k]) / elapsed : 0;
			if (json)
				printf("%s\"%s\": %.1f", k ? ", " : "", purpose_name(k), rate);
			else
				printf("   %s %.1f", purpose_name(k), rate);
		}
		printf(json ? "}}\n" : "\n");
		fflush(stdout);
		memcpy(before, now, sizeof(before));
		t0 = t1;
	}
}

const char CLI_OCSP_HELP[] =
        "Counts the store's certificates whose pre-signed OCSP answer is fresh, due\n"
        "(nextUpdate within --refresh-before of now) or missing, the oldest\n"
        "answer's age and the OCSP signatures made on this store by purpose (live,\n"
        "refresh, issuance), by every kenshod and kensho since the store was made;\n"
        "--json prints one JSON object. --watch SECONDS then prints the signatures\n"
        "per second by purpose every SECONDS until interrupted (or --count lines).\n"
        "--validity (default 3600) and --refresh-before (default a quarter of it),\n"
        "in seconds, should be kenshod's ocsp.validity and ocsp.refresh_before.\n";

static void ocsp_usage(void)
{
	fprintf(stderr,
	        "usage: kensho [--data DIR] ocsp status [--json] [--validity SECONDS]\n"
	        "                                       [--refresh-before SECONDS]\n"
	        "                                       [--watch SECONDS [--count N]]\n%s",
	        CLI_OCSP_HELP);
}

int cli_ocsp(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	struct answer_policy policy;
	if (cli_parse(argc, argv, "json,validity:,refresh-before:,watch:,count:", &args) ||
	    args.positional_count != 1 || strcmp(args.positional[0], "status") != 0) {
		ocsp_usage();
		return CLI_EXIT_USAGE;
	}
	if (policy_parse("ocsp", &args, &policy))
		return CLI_EXIT_USAGE;
	double watch_s = 0;
	long watch_count = 0;
	const char *watch = cli_get(&args, "watch");
	const char *count = cli_get(&args, "count");
	if (watch) {
		char *end;
		watch_s = strtod(watch, &end);
		if (end == watch || *end || !(watch_s >= 0.1 && watch_s <= 86400)) {
			cli_fail("ocsp", "--watch wants a number of seconds from 0.1 to 86400");
			return CLI_EXIT_USAGE;
		}
	}
	if (count) {
		char *end;
		watch_count = strtol(count, &end, 10);
		if (!watch || end == count || *end || watch_count < 1) {
			cli_fail("ocsp", "--count wants a positive number of lines, with --watch");
			return CLI_EXIT_USAGE;
		}
	}
	struct store *store;
	const struct store_options read_only = {.read_only = true};
	int err = ca_store_open_with(data_dir, &read_only, &store);
	if (err) {
		cli_fail("ocsp", "cannot open the store in %s/%s: %s", data_dir, CA_STORE_SUBDIR,
		         strerror(-err));
		return CLI_EXIT_FAILED;
	}
	int64_t now = (int64_t)time(NULL);
	struct store_freshness f;
	uint64_t signatures[STORE_SIGNATURE_PURPOSES];
	store_signatures_read(store, signatures);
	err = freshness_read(store, now + policy.refresh_before_s, &f);
	if (err) {
		store_close(store);
		cli_fail("ocsp", "reading the cached answers failed: %s", strerror(-err));
		return CLI_EXIT_FAILED;
	}
	bool json = cli_has(&args, "json");
	if (json)
		status_print_json(&f, &policy, signatures, now);
	else
		status_print_text(&f, &policy, signatures, now);
	fflush(stdout);
	if (watch)
		status_watch(store, signatures, watch_s, watch_count, json);
	store_close(store);
	return 0;
}

/* --- presign ---------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void interrupt_cb(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct presign {
	const struct ocsp_responder_set *responders;
	int64_t due_at;
	bool all;
	size_t batch_max;
	struct store_answer *batch; /* the next keys to sign */
	size_t batch_len;
	bool have_position; /* the walk resumes after batch[batch_len - 1] */
	struct store_answer position;
	bool walk_done;
	size_t per_signature; /* --ocsp-batch: certificates per signed answer */
	struct ocsp_cert_ref *refs;
	uint64_t signed_count, skipped, signatures;
	uint64_t batch_signed, batch_skipped, batch_signatures; /* of the write transaction */
	/* progress */
	uint64_t total; /* answers to sign, as counted at the start */
	uint64_t start_ms, last_line_ms;
	bool terminal;
};

static int collect_cb(const struct store_answer *a, void *arg)
{
	struct presign *p = arg;
	if (!p->all && a->state == STORE_ANSWER_FRESH)
		return 0;
	p->batch[p->batch_len++] = *a;
	return p->batch_len == p->batch_max ? 1 : 0;
}

/* Reads the next batch of keys in a read transaction. */
static int batch_collect(struct store *store, struct presign *p)
{
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	p->batch_len = 0;
	err = store_response_each(txn, p->due_at, p->have_position ? &p->position : NULL,
	                          collect_cb, p);
	store_txn_abort(txn);
	if (err < 0)
		return err;
	p->walk_done = err == 0; /* the walk ended before the batch filled */
	if (p->batch_len) {
		p->position = p->batch[p->batch_len - 1];
		p->have_position = true;
	}
	return 0;
}

/* Signs a batch inside one write transaction; run again from the start if
 * the map grows, so it only counts. */
static int batch_sign_cb(struct store_txn *txn, void *arg)
{
	struct presign *p = arg;
	p->batch_signed = p->batch_skipped = p->batch_signatures = 0;
	for (size_t i = 0; i < p->batch_len; i++)
		p->refs[i] = (struct ocsp_cert_ref){p->batch[i].issuer_id, p->batch[i].serial};
	/* --ocsp-batch certificates of one issuer per signed answer, each
	 * signed for its record as read in this write transaction */
	ocsp_batch_sort(p->refs, p->batch_len);
	for (size_t i = 0, end; i < p->batch_len; i = end) {
		end = ocsp_batch_end(p->refs, p->batch_len, i, p->per_signature);
		struct store_serial serials[OCSP_BATCH_MAX];
		for (size_t j = i; j < end; j++)
			serials[j - i] = p->refs[j].serial;
		struct ocsp_presigned_batch b;
		int err = ocsp_service_presign_batch_read(p->responders, txn, p->refs[i].issuer_id,
		                                          serials, end - i, time(NULL),
		                                          STORE_SIGNATURE_ISSUANCE, &b);
		if (err == -ENOENT) { /* deleted since, or an issuer without a responder */
			p->batch_skipped += end - i;
			continue;
		}
		if (!err)
			err = ocsp_service_presigned_batch_put(txn, &b);
		ocsp_presigned_batch_free(&b);
		if (err)
			return err;
		p->batch_signatures++;
		p->batch_signed += b.count;
		p->batch_skipped += end - i - b.count;
	}
	return 0;
}

static void progress_show(struct presign *p, bool final)
{
	uint64_t now = monotonic_ms();
	if (!final && !p->terminal && now - p->last_line_ms < PLAIN_PROGRESS_S * 1000)
		return;
	p->last_line_ms = now;
	uint64_t done = p->signed_count + p->skipped;
	double seconds = (double)(now - p->start_ms) / 1000.0;
	double rate = seconds > 0 ? (double)p->signed_count / seconds : 0;
	/* The total was counted at the start; answers that fell due since can
	 * take done past it. */
	uint64_t total = done > p->total ? done : p->total;
	char eta[32] = "-";
	if (rate > 0 && !final)
		duration_format((int64_t)((double)(total - done) / rate), eta, sizeof(eta));
	int percent = total ? (int)(done * 100 / total) : 100;
	if (p->terminal) {
		char bar[PROGRESS_BAR_WIDTH + 1];
		int filled = total ? (int)(done * PROGRESS_BAR_WIDTH / total) : PROGRESS_BAR_WIDTH;
		for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
			bar[i] = i < filled ? '#' : '.';
		bar[PROGRESS_BAR_WIDTH] = 0;
		fprintf(stderr, "\r[%s] %3d%% %" PRIu64 "/%" PRIu64 " answers, %.0f/s, ETA %s  ",
		        bar, percent, done, total, rate, eta);
		if (final)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "presign: %3d%% %" PRIu64 "/%" PRIu64 " answers, %.0f/s, ETA %s\n",
		        percent, done, total, rate, eta);
	}
	fflush(stderr);
}

const char CLI_PRESIGN_HELP[] =
        "Signs and caches the OCSP answer of every certificate whose answer is due\n"
        "(nextUpdate within --refresh-before of now) or missing; --all: of every\n"
        "certificate. Answers are valid for --validity seconds (default 3600; give\n"
        "kenshod's ocsp.validity and ocsp.refresh_before if configured otherwise).\n"
        "--batch N answers are signed per write transaction (default 100): larger\n"
        "batches fsync less but hold the store's writer lock longer.\n"
        "--ocsp-batch N (1 to 32, default 1) signs one answer for up to N certificates\n"
        "of one issuer, as kenshod's ocsp.batch: N times fewer signatures, for clients\n"
        "that accept several SingleResponses (docs/ocsp.md).\n"
        "Safe to run beside a running kenshod: LMDB lets one writer in at a time,\n"
        "and each answer is signed for its record as read in the write transaction\n"
        "that stores it, so a revocation is never answered good. Ctrl-C stops after\n"
        "the current batch, keeping the batches already written (exit status 130).\n";

static void presign_usage(void)
{
	fprintf(stderr,
	        "usage: kensho [--data DIR] presign [--all] [--batch N] [--ocsp-batch N]\n"
	        "                                   [--validity SECONDS] [--refresh-before "
	        "SECONDS]\n%s",
	        CLI_PRESIGN_HELP);
}

int cli_presign(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	struct answer_policy policy;
	if (cli_parse(argc, argv, "all,batch:,ocsp-batch:,validity:,refresh-before:", &args) ||
	    args.positional_count) {
		presign_usage();
		return CLI_EXIT_USAGE;
	}
	if (policy_parse("presign", &args, &policy))
		return CLI_EXIT_USAGE;
	struct presign p = {.all = cli_has(&args, "all"), .batch_max = DEFAULT_BATCH};
	const char *batch = cli_get(&args, "batch");
	if (batch) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(batch, &end, 10);
		if (errno || end == batch || *end || n == 0 || n > BATCH_MAX) {
			cli_fail("presign", "--batch wants a number of answers from 1 to %d",
			         BATCH_MAX);
			return CLI_EXIT_USAGE;
		}
		p.batch_max = (size_t)n;
	}
	p.per_signature = 1;
	const char *per = cli_get(&args, "ocsp-batch");
	if (per) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(per, &end, 10);
		if (errno || end == per || *end || n == 0 || n > OCSP_BATCH_MAX) {
			cli_fail("presign",
			         "--ocsp-batch wants a number of certificates from 1 to %d",
			         OCSP_BATCH_MAX);
			return CLI_EXIT_USAGE;
		}
		p.per_signature = (size_t)n;
	}
	/* whole signed answers per write transaction */
	p.batch_max = (p.batch_max + p.per_signature - 1) / p.per_signature * p.per_signature;

	struct store *store;
	int err = ca_store_open(data_dir, &store);
	if (err) {
		cli_fail("presign", "cannot open the store in %s/%s: %s", data_dir, CA_STORE_SUBDIR,
		         strerror(-err));
		return CLI_EXIT_FAILED;
	}
	struct ocsp_responder_set *responders = NULL;
	const struct ocsp_responder_options options = {.validity_seconds = policy.validity_s};
	err = ocsp_responder_set_open(data_dir, store, &options, &responders);
	if (err) {
		store_close(store);
		cli_fail("presign",
		         "cannot load the OCSP responders of %s/ca (see above): %s; "
		         "kensho ca init creates them",
		         data_dir, strerror(-err));
		return CLI_EXIT_FAILED;
	}
	p.responders = responders;
	p.due_at = (int64_t)time(NULL) + policy.refresh_before_s;
	p.batch = calloc(p.batch_max, sizeof(*p.batch));
	p.refs = calloc(p.batch_max, sizeof(*p.refs));
	struct store_freshness before;
	err = p.batch && p.refs ? freshness_read(store, p.due_at, &before) : -ENOMEM;
	if (err) {
		cli_fail("presign", "reading the cached answers failed: %s", strerror(-err));
		goto done;
	}
	p.total = before.due + before.missing + (p.all ? before.fresh : 0);
	p.terminal = isatty(STDERR_FILENO);
	p.start_ms = p.last_line_ms = monotonic_ms();

	/* Ctrl-C ends the loop between batches; a second one (SA_RESETHAND)
	 * kills at once, losing only the batch under way. */
	struct sigaction sa = {.sa_handler = interrupt_cb, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	struct sigaction old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	while (!interrupted && !p.walk_done) {
		if ((err = batch_collect(store, &p))) {
			cli_fail("presign", "reading the next certificates failed: %s",
			         strerror(-err));
			break;
		}
		if (p.batch_len == 0)
			break;
		if ((err = store_write(store, batch_sign_cb, &p))) {
			cli_fail("presign", "signing a batch of %zu answers failed: %s",
			         p.batch_len, strerror(-err));
			break;
		}
		p.signed_count += p.batch_signed;
		p.skipped += p.batch_skipped;
		p.signatures += p.batch_signatures;
		progress_show(&p, false);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	progress_show(&p, true);
	double seconds = (double)(monotonic_ms() - p.start_ms) / 1000.0;
	printf("presign: signed %" PRIu64 " answers in %.1f s (%.0f/s)", p.signed_count, seconds,
	       seconds > 0 ? (double)p.signed_count / seconds : 0.0);
	if (p.per_signature > 1)
		printf(", %" PRIu64 " signatures (%.0f/s)", p.signatures,
		       seconds > 0 ? (double)p.signatures / seconds : 0.0);
	if (p.skipped)
		printf(", %" PRIu64 " skipped (certificate gone or no responder)", p.skipped);
	printf("%s\n",
	       interrupted ? "; interrupted: what was signed is kept, run again to go on" : "");
	fflush(stdout);
done:
	free(p.refs);
	free(p.batch);
	ocsp_responder_set_free(responders);
	store_close(store);
	if (err)
		return CLI_EXIT_FAILED;
	return interrupted ? 128 + SIGINT : 0;
}
