/* bench-log: the Merkle log's cost as it grows. Appends audit records (each
 * one a leaf, as kensho does) in write transactions of 10,000, and at each
 * checkpoint size (1,000, then x10 up to --leaves) times, in one read
 * transaction each, the tree root and inclusion and consistency proofs for
 * pseudo-random indexes and sizes. Prints medians over --runs rounds of
 * --proofs operations, so the cost at a million leaves can be compared with
 * the cost at a thousand measured in the same run, plus the append rate.
 *
 *   bench-log [--leaves N] [--proofs P] [--runs R]
 *
 * The store lives in a temporary directory, removed at the end. */
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"

#define BATCH    10000
#define MAX_RUNS 15

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

struct fill {
	uint64_t from, to;
};

static int fill_cb(struct store_txn *txn, void *arg)
{
	struct fill *f = arg;
	for (uint64_t i = f->from; i < f->to; i++) {
		struct store_audit a = {.time = 1796000000 + (int64_t)i};
		snprintf(a.actor, sizeof a.actor, "CN=operator,O=kensho");
		snprintf(a.action, sizeof a.action, "disclose-personal");
		snprintf(a.subject, sizeof a.subject, "sign/%016llx", (unsigned long long)i);
		int rc = store_audit_append(txn, &a);
		if (rc)
			return rc;
	}
	return 0;
}

enum op { OP_ROOT, OP_INCLUSION, OP_CONSISTENCY, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"root", "inclusion", "consistency"};

/* Microseconds per operation of `op` over `count` pseudo-random arguments
 * below `size`, in one read transaction. */
static double time_op(struct store *s, enum op op, uint64_t size, int count, uint64_t *seed)
{
	struct store_txn *txn;
	if (store_txn_begin(s, false, &txn))
		return -1;
	static uint8_t path[STORE_PROOF_MAX][STORE_HASH_LEN];
	uint8_t root[STORE_HASH_LEN];
	size_t n;
	int rc = 0;
	double start = now_s();
	for (int i = 0; i < count && rc == 0; i++) {
		uint64_t a = splitmix64(seed) % size, b = a + 1 + splitmix64(seed) % (size - a);
		if (b > size)
			b = size;
		switch (op) {
		case OP_ROOT: rc = store_log_root(txn, b, root); break;
		case OP_INCLUSION: rc = store_log_inclusion(txn, a, size, path, &n); break;
		default: rc = store_log_consistency(txn, a + 1, size, path, &n); break;
		}
	}
	double elapsed = now_s() - start;
	store_txn_abort(txn);
	return rc ? -1 : elapsed * 1e6 / count;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	uint64_t leaves = 1000000;
	int proofs = 2000, runs = 5;
	static const struct option options[] = {
	        {"leaves", required_argument, NULL, 'n'},
	        {"proofs", required_argument, NULL, 'p'},
	        {"runs", required_argument, NULL, 'r'},
	        {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n': leaves = strtoull(optarg, NULL, 10); break;
		case 'p': proofs = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench-log [--leaves N] [--proofs P] [--runs R]\n");
			return 2;
		}
	}
	if (leaves < 1000 || proofs < 1 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr,
		        "bench-log: need --leaves >= 1000, --proofs >= 1, 1 <= --runs <= %d\n",
		        MAX_RUNS);
		return 2;
	}
	char dir[] = "/tmp/kensho-bench-log-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("bench-log: mkdtemp");
		return 1;
	}
	struct store *s;
	struct store_options so = {.path = dir};
	if (store_open(&so, &s)) {
		fprintf(stderr, "bench-log: cannot open a store in %s\n", dir);
		return 1;
	}
	printf("%10s %-12s %12s\n", "leaves", "operation", "median us");
	uint64_t have = 0, seed = 1;
	double append_s = 0;
	int rc = 0;
	for (uint64_t checkpoint = 1000; checkpoint <= leaves && rc == 0; checkpoint *= 10) {
		double start = now_s();
		while (have < checkpoint && rc == 0) {
			struct fill f = {have,
			                 have + BATCH < checkpoint ? have + BATCH : checkpoint};
			rc = store_write(s, fill_cb, &f);
			have = f.to;
		}
		append_s += now_s() - start;
		for (int op = 0; op < OP_COUNT && rc == 0; op++) {
			double samples[MAX_RUNS];
			for (int r = 0; r < runs; r++)
				samples[r] = time_op(s, (enum op)op, checkpoint, proofs, &seed);
			double m = median(samples, runs);
			if (m < 0)
				rc = -1;
			printf("%10llu %-12s %12.2f\n", (unsigned long long)checkpoint,
			       op_names[op], m);
		}
	}
	if (rc == 0)
		printf("appended %llu audit records with their leaves in %.1f s: %.0f records/s "
		       "(write transactions of %d, each fsync'd)\n",
		       (unsigned long long)have, append_s, (double)have / append_s, BATCH);
	store_close(s);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	if (rc)
		fprintf(stderr, "bench-log: failed\n");
	return rc ? 1 : 0;
}
