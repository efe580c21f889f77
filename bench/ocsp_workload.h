/* The OCSP workload: requests drawn from a population in a kensho data
 * directory, in configurable shares of good, revoked and unknown
 * certificates, cache misses and nonce requests, sent as RFC 5019 GETs or
 * POSTs. A sample of answers is checked against the store — status, CertID
 * echo, nonce echo and the signature — so a fast wrong answer cannot pass for
 * speed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/loadgen.h"

/** How certificates are drawn. */
enum ocsp_scenario {
	/** A sample of --pool certificates per class (good, revoked, unknown)
	 * in the --mix shares: a hot set that a prefetch can warm. */
	OCSP_SCENARIO_HOT,
	/** Every certificate of the store (of --issuer), each request one drawn
	 * uniformly from all of them, so classes come in the population's own
	 * shares; requests are built when sent, no prefetch. */
	OCSP_SCENARIO_UNIFORM,
};

struct ocsp_mix {
	enum ocsp_scenario scenario;
	double good; /**< shares of the population drawn (normalised) */
	double revoked;
	double unknown; /**< serials never issued by a known issuer */
	double miss;    /**< share asked with a SHA-256 CertID, which the
	                 * pre-signed (SHA-1) cache cannot answer: signed live */
	double nonce;   /**< share carrying a nonce: always signed live */
	bool post;      /**< POST instead of GET */
	double check_share;
	unsigned pool; /**< distinct certificates sampled per class */
	uint64_t seed;
	const char *issuer; /**< only this issuer's label ("sign"/"auth"); NULL: all */
	const char *path;   /**< the responder's path: NULL means "/ocsp" (kenshod);
	                     * "/" for responders at the root (CFSSL) */
};

struct ocsp_workload;

/** Samples the population in data_dir (its store, read-only) and prebuilds
 * the requests. Returns 0, or a negative errno with a message on stderr. */
int ocsp_workload_open(const char *data_dir, const struct ocsp_mix *mix,
                       struct ocsp_workload **out);
/** The workload interface for loadgen_run. */
struct bench_workload *ocsp_workload_base(struct ocsp_workload *w);
/** Prints what was sampled (counts per class). */
void ocsp_workload_describe(const struct ocsp_workload *w);
/** Makes the next loadgen run ask for every sampled certificate once
 * (SHA-1 CertID, no nonce, in order) and stop: it fills the responder's
 * cache, and when `save` is not NULL writes each answer there as one base64
 * line (the responses file CFSSL's ocspserve reads). */
void ocsp_workload_prefetch(struct ocsp_workload *w, FILE *save);
/** Returns to drawing the mix after a prefetch. */
void ocsp_workload_end_prefetch(struct ocsp_workload *w);
/** Writes the sampled good and revoked certificates of one issuer as an
 * OpenSSL CA index (what `openssl ocsp -index` answers from). */
int ocsp_workload_write_openssl_index(const struct ocsp_workload *w, FILE *out);
/** Frees everything. */
void ocsp_workload_free(struct ocsp_workload *w);
