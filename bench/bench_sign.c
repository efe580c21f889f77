/* bench_sign: the raw mbedTLS signing rate of one private key, the bound on
 * full TLS handshakes per second per core (each full handshake signs its
 * ServerKeyExchange once with the server key; docs/tls.md, Handshake cost).
 *
 * Signs a SHA-256 hash with mbedtls_pk_sign, as mbedTLS 2.28's TLS server
 * does (RSA PKCS#1 v1.5 with blinding, or deterministic-free ECDSA with the
 * DRBG), for --seconds per run, --runs times, on one thread, and prints
 * each run's rate per second of wall time and per second of this process's
 * CPU time (per core: what other processes on a shared machine take from
 * it does not count), and the medians.
 *
 * Usage: bench_sign --key FILE [--seconds S] [--runs R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "pki/x509_write.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *key_path = NULL;
	double seconds = 2;
	int runs = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc)
			key_path = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else
			key_path = NULL, i = argc;
	}
	if (!key_path || seconds <= 0 || runs < 1 || runs > 63) {
		fprintf(stderr, "usage: bench_sign --key FILE [--seconds S] [--runs 1..63]\n");
		return 2;
	}
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	if (x509_key_load(&key, key_path) != 0) {
		fprintf(stderr, "bench_sign: cannot load the private key %s\n", key_path);
		return 1;
	}
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	                          (const unsigned char *)"bench_sign", 10) != 0)
		return 1;
	unsigned char hash[32] = {1, 2, 3}, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	double rates[64], cpu_rates[64];
	for (int r = 0; r < runs; r++) {
		unsigned long n = 0;
		double start = clock_s(CLOCK_MONOTONIC), end = start;
		double cpu_start = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		while (end - start < seconds) {
			size_t len;
			hash[31] = (unsigned char)n;
			if (mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &len,
			                    mbedtls_ctr_drbg_random, &drbg) != 0) {
				fprintf(stderr, "bench_sign: signing failed\n");
				return 1;
			}
			n++;
			end = clock_s(CLOCK_MONOTONIC);
		}
		rates[r] = (double)n / (end - start);
		cpu_rates[r] = (double)n / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu_start);
		printf("run %d: %.0f signs/s, %.0f per CPU second\n", r + 1, rates[r],
		       cpu_rates[r]);
	}
	qsort(rates, (size_t)runs, sizeof rates[0], compare);
	qsort(cpu_rates, (size_t)runs, sizeof cpu_rates[0], compare);
	printf("%s %s: median %.0f signs/s, %.0f per CPU second, over %d runs of %.1f s\n",
	       key_path, mbedtls_pk_get_name(&key), rates[runs / 2], cpu_rates[runs / 2], runs,
	       seconds);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	mbedtls_pk_free(&key);
	return 0;
}
