/* kensho-bench: measures kenshod (or any HTTP server) under a bounded load and
 * reports latency percentiles, throughput and errors, as text and JSON.
 * See `kensho-bench --help` and docs/benchmarks.md. */
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen.h"
#include "bench/ocsp_workload.h"
#include "bench/workload.h"
#include "core/buf.h"
#include "core/version.h"

static const char usage[] =
        "usage: kensho-bench --url URL [options]\n"
        "  --url URL            http://host:port/path or https://...\n"
        "  --duration S         measured seconds (default 10)\n"
        "  --warmup S           seconds of load before measuring (default 0)\n"
        "  --requests N         stop after N requests (the duration still bounds the run)\n"
        "  --connections N      concurrent connections (default 10)\n"
        "  --rate R             open loop: R requests/s in total, latency from due time\n"
        "                       (default: closed loop)\n"
        "  --method M           GET (default) or POST\n"
        "  --body-file F        request body (implies POST unless --method)\n"
        "  --content-type T     Content-Type of the body\n"
        "  --check-share F      share of answers checked (default 0.01)\n"
        "  --cacert F           verify the https server against these CA certificates\n"
        "  --cert F --key F     https: present this client certificate (key mode 0600)\n"
        "  --servername NAME    https: SNI and the name the certificate must carry\n"
        "                       (default: the URL's host; with an IP address only the\n"
        "                       chain is verified: mbedTLS 2.28 matches DNS names only)\n"
        "  --no-resume          https: full handshake on every connection\n"
        "  --reconnect          a new connection per request (measures handshakes)\n"
        "  --label L            name of this run in the JSON output\n"
        "  --json F             write the result as JSON to F ('-' for stdout)\n"
        "  --body-dir D         POST the files in D in turn (e.g. distinct applications)\n"
        "  --body-once          with --body-dir: send each file once, then stop\n"
        "OCSP mix (requests go to the URL's host, path /ocsp):\n"
        "  --ocsp-data DIR      draw requests from the population in a kensho data dir\n"
        "  --scenario NAME      hot (default): --pool certificates per class in the --mix\n"
        "                       shares, which --prefetch can warm; uniform: each request\n"
        "                       asks for one of every certificate of the store (of\n"
        "                       --issuer), drawn uniformly, in the population's own\n"
        "                       shares (--mix, --pool, --nonce, --prefetch do not apply)\n"
        "  --mix G,R,U          shares of good, revoked, unknown (default 0.9,0.05,0.05)\n"
        "  --miss F             share asked with SHA-256 CertIDs (not pre-signed: signed live)\n"
        "  --nonce F            share carrying a nonce (always signed live)\n"
        "  --post               POST requests instead of RFC 5019 GETs\n"
        "  --pool N             certificates sampled per class (default 10000)\n"
        "  --seed S             seed for the sample and the mix (default 1)\n"
        "  --issuer LABEL       only this issuer's certificates (sign or auth)\n"
        "  --ocsp-path P        the responder's path (default /ocsp; / for CFSSL)\n"
        "  --prefetch           first ask for every sampled certificate once (fills the\n"
        "                       responder's cache; every answer is checked)\n"
        "  --save-responses F   with --prefetch: write the answers as base64 lines to F\n"
        "  --openssl-index F    write the sample as an OpenSSL CA index to F\n"
        "  --setup-only         stop after --prefetch / --openssl-index\n"
        "  --version            print the version and exit\n"
        "  --help               print this text and exit\n";

static int parse_url(const char *url, struct bench_options *o, char **path)
{
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		o->port = 80;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		o->port = 443;
		o->tls = true;
	} else {
		return -EINVAL;
	}
	const char *host_end;
	if (*p == '[') {
		host_end = strchr(p, ']');
		if (!host_end)
			return -EINVAL;
		p++;
	} else {
		host_end = p + strcspn(p, ":/");
	}
	size_t host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len >= sizeof(o->host))
		return -EINVAL;
	memcpy(o->host, p, host_len);
	o->host[host_len] = '\0';
	const char *rest = host_end + (*host_end == ']');
	if (*rest == ':') {
		char *end;
		long port = strtol(rest + 1, &end, 10);
		if (port <= 0 || port > 65535)
			return -EINVAL;
		o->port = (int)port;
		rest = end;
	}
	*path = strdup(*rest == '/' ? rest : "/");
	return *path ? 0 : -ENOMEM;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	if (!b.data)
		buf_reserve(&b, 1);
	return buf_steal(&b, len);
}

static void print_histogram_us(const char *what, const struct histogram *h)
{
	printf("  %s us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", what,
	       histogram_percentile(h, 50) / 1e3, histogram_percentile(h, 90) / 1e3,
	       histogram_percentile(h, 99) / 1e3, histogram_percentile(h, 99.9) / 1e3,
	       h->max / 1e3);
}

static void print_text(const char *label, const struct bench_options *o,
                       const struct bench_result *r)
{
	double rps = r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0;
	printf("%s: %s, %u connections%s, %.1f s\n", label,
	       o->rate > 0 ? "open loop" : "closed loop", o->connections,
	       o->tls ? (o->tls_resume ? ", https (resumption on)" : ", https (resumption off)")
	              : "",
	       r->elapsed_s);
	if (o->rate > 0)
		printf("  target rate %.0f/s\n", o->rate);
	printf("  requests %llu, %.0f/s; status 2xx %llu 3xx %llu 4xx %llu 5xx %llu\n",
	       (unsigned long long)r->completed, rps, (unsigned long long)r->status_2xx,
	       (unsigned long long)r->status_3xx, (unsigned long long)r->status_4xx,
	       (unsigned long long)r->status_5xx);
	print_histogram_us("latency", &r->latency);
	if (o->rate > 0) {
		print_histogram_us("sent late", &r->send_delay);
		print_histogram_us("answered after sending", &r->after_send);
		printf("  due while every connection waited for an answer: %llu\n",
		       (unsigned long long)r->waited_for_connection);
	}
	printf("  errors: connect %llu io %llu parse %llu timeout %llu; checked %llu, wrong %llu\n",
	       (unsigned long long)r->errors_connect, (unsigned long long)r->errors_io,
	       (unsigned long long)r->errors_parse, (unsigned long long)r->errors_timeout,
	       (unsigned long long)r->checked, (unsigned long long)r->check_failed);
	if (o->tls)
		printf("  connections made %llu, sessions resumed %llu\n",
		       (unsigned long long)r->connects, (unsigned long long)r->handshakes_resumed);
}

/* Before a measured OCSP run: ask for each sampled certificate once (warming
 * the responder's cache, saving the answers for peers that serve files) and
 * write the sample as an OpenSSL index for `openssl ocsp -index`. */
static int ocsp_setup(struct ocsp_workload *w, const struct bench_options *measured, bool prefetch,
                      const char *save_path, const char *index_path)
{
	if (index_path) {
		FILE *f = fopen(index_path, "w");
		int rc = f ? ocsp_workload_write_openssl_index(w, f) : -errno;
		if (f && fclose(f) != 0)
			rc = -EIO;
		if (rc < 0) {
			fprintf(stderr, "kensho-bench: cannot write %s\n", index_path);
			return rc;
		}
	}
	if (!prefetch)
		return 0;
	FILE *save = NULL;
	if (save_path && !(save = fopen(save_path, "w"))) {
		fprintf(stderr, "kensho-bench: cannot write %s\n", save_path);
		return -errno;
	}
	struct bench_options o = *measured;
	o.rate = 0;
	o.warmup_s = 0;
	o.duration_s = 3600;
	o.max_requests = 0;
	o.connections = o.connections < 8 ? o.connections : 8;
	struct bench_result r;
	ocsp_workload_prefetch(w, save);
	int rc = loadgen_run(&o, ocsp_workload_base(w), &r);
	ocsp_workload_end_prefetch(w);
	if (save && fclose(save) != 0)
		rc = -EIO;
	printf("prefetch: %llu answers in %.1f s, %llu wrong, %llu errors\n",
	       (unsigned long long)r.completed, r.elapsed_s, (unsigned long long)r.check_failed,
	       (unsigned long long)(r.errors_connect + r.errors_io + r.errors_parse +
	                            r.errors_timeout));
	if (rc == 0 && (r.check_failed || r.completed == 0)) {
		fprintf(stderr, "kensho-bench: prefetch got wrong or no answers\n");
		rc = -EPROTO;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_options o = {.connections = 10, .duration_s = 10, .tls_resume = true};
	const char *url = NULL, *method = NULL, *body_file = NULL, *content_type = NULL;
	const char *json_path = NULL, *label = "kensho-bench";
	double check_share = 0.01;
	const char *ocsp_data = NULL;
	struct ocsp_mix mix = {.good = 0.9, .revoked = 0.05, .unknown = 0.05};
	enum {
		OPT_WARMUP = 256,
		OPT_NO_RESUME,
		OPT_CHECK_SHARE,
		OPT_CONTENT_TYPE,
		OPT_BODY_FILE,
		OPT_OCSP_DATA,
		OPT_MIX,
		OPT_MISS,
		OPT_NONCE,
		OPT_POST,
		OPT_POOL,
		OPT_SEED,
		OPT_ISSUER,
		OPT_PREFETCH,
		OPT_SAVE_RESPONSES,
		OPT_OPENSSL_INDEX,
		OPT_SETUP_ONLY,
		OPT_BODY_DIR,
		OPT_OCSP_PATH,
		OPT_CERT,
		OPT_KEY,
		OPT_SERVERNAME,
		OPT_BODY_ONCE,
		OPT_SCENARIO,
	};
	bool body_once = false;
	bool prefetch = false, setup_only = false;
	const char *body_dir = NULL;
	const char *save_responses = NULL, *openssl_index = NULL;
	static const struct option longopts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"duration", required_argument, NULL, 'd'},
	        {"warmup", required_argument, NULL, OPT_WARMUP},
	        {"requests", required_argument, NULL, 'n'},
	        {"connections", required_argument, NULL, 'c'},
	        {"rate", required_argument, NULL, 'r'},
	        {"method", required_argument, NULL, 'm'},
	        {"body-file", required_argument, NULL, OPT_BODY_FILE},
	        {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
	        {"check-share", required_argument, NULL, OPT_CHECK_SHARE},
	        {"cacert", required_argument, NULL, 'C'},
	        {"no-resume", no_argument, NULL, OPT_NO_RESUME},
	        {"reconnect", no_argument, NULL, 'R'},
	        {"label", required_argument, NULL, 'l'},
	        {"json", required_argument, NULL, 'j'},
	        {"body-dir", required_argument, NULL, OPT_BODY_DIR},
	        {"body-once", no_argument, NULL, OPT_BODY_ONCE},
	        {"servername", required_argument, NULL, OPT_SERVERNAME},
	        {"ocsp-data", required_argument, NULL, OPT_OCSP_DATA},
	        {"mix", required_argument, NULL, OPT_MIX},
	        {"miss", required_argument, NULL, OPT_MISS},
	        {"nonce", required_argument, NULL, OPT_NONCE},
	        {"post", no_argument, NULL, OPT_POST},
	        {"pool", required_argument, NULL, OPT_POOL},
	        {"seed", required_argument, NULL, OPT_SEED},
	        {"issuer", required_argument, NULL, OPT_ISSUER},
	        {"prefetch", no_argument, NULL, OPT_PREFETCH},
	        {"save-responses", required_argument, NULL, OPT_SAVE_RESPONSES},
	        {"openssl-index", required_argument, NULL, OPT_OPENSSL_INDEX},
	        {"setup-only", no_argument, NULL, OPT_SETUP_ONLY},
	        {"ocsp-path", required_argument, NULL, OPT_OCSP_PATH},
	        {"scenario", required_argument, NULL, OPT_SCENARIO},
	        {"cert", required_argument, NULL, OPT_CERT},
	        {"key", required_argument, NULL, OPT_KEY},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "u:d:n:c:r:m:C:Rl:j:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'd': o.duration_s = atof(optarg); break;
		case OPT_WARMUP: o.warmup_s = atof(optarg); break;
		case 'n': o.max_requests = strtoull(optarg, NULL, 10); break;
		case 'c': o.connections = (unsigned)atoi(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'm': method = optarg; break;
		case OPT_BODY_FILE: body_file = optarg; break;
		case OPT_CONTENT_TYPE: content_type = optarg; break;
		case OPT_CHECK_SHARE: check_share = atof(optarg); break;
		case 'C': o.cacert = optarg; break;
		case OPT_NO_RESUME: o.tls_resume = false; break;
		case 'R': o.reconnect_each = true; break;
		case 'l': label = optarg; break;
		case 'j': json_path = optarg; break;
		case OPT_OCSP_DATA: ocsp_data = optarg; break;
		case OPT_MIX:
			if (sscanf(optarg, "%lf,%lf,%lf", &mix.good, &mix.revoked, &mix.unknown) !=
			    3) {
				fprintf(stderr, "kensho-bench: --mix wants three shares: "
				                "good,revoked,unknown\n");
				return 2;
			}
			break;
		case OPT_MISS: mix.miss = atof(optarg); break;
		case OPT_NONCE: mix.nonce = atof(optarg); break;
		case OPT_POST: mix.post = true; break;
		case OPT_POOL: mix.pool = (unsigned)atoi(optarg); break;
		case OPT_SEED: mix.seed = strtoull(optarg, NULL, 10); break;
		case OPT_ISSUER: mix.issuer = optarg; break;
		case OPT_PREFETCH: prefetch = true; break;
		case OPT_SAVE_RESPONSES: save_responses = optarg; break;
		case OPT_OPENSSL_INDEX: openssl_index = optarg; break;
		case OPT_SETUP_ONLY: setup_only = true; break;
		case OPT_BODY_DIR: body_dir = optarg; break;
		case OPT_OCSP_PATH: mix.path = optarg; break;
		case OPT_SCENARIO:
			if (strcmp(optarg, "hot") == 0)
				mix.scenario = OCSP_SCENARIO_HOT;
			else if (strcmp(optarg, "uniform") == 0)
				mix.scenario = OCSP_SCENARIO_UNIFORM;
			else {
				fprintf(stderr, "kensho-bench: --scenario is hot or uniform\n");
				return 2;
			}
			break;
		case OPT_CERT: o.cert = optarg; break;
		case OPT_KEY: o.key = optarg; break;
		case OPT_SERVERNAME: o.servername = optarg; break;
		case OPT_BODY_ONCE: body_once = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("kensho-bench %s\n", KENSHO_VERSION); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	char *path = NULL;
	if (!url || parse_url(url, &o, &path) != 0) {
		fprintf(stderr,
		        "kensho-bench: a valid --url http[s]://host[:port][/path] is required\n%s",
		        usage);
		return 2;
	}
	/* An IP literal can never match a certificate's DNS names in mbedTLS 2.28:
	 * then only the chain is verified unless --servername names the host. */
	struct in6_addr ip;
	if (!o.servername && inet_pton(AF_INET, o.host, &ip) != 1 &&
	    inet_pton(AF_INET6, o.host, &ip) != 1)
		o.servername = o.host;
	if (o.connections == 0 || o.connections > 100000 || o.duration_s <= 0 ||
	    o.duration_s > 86400 || o.warmup_s < 0 || o.rate < 0) {
		fprintf(stderr,
		        "kensho-bench: --connections must be 1..100000, --duration 0..86400 s\n");
		free(path);
		return 2;
	}
	if ((o.cert != NULL) != (o.key != NULL) || (o.cert && !o.tls)) {
		fprintf(stderr,
		        "kensho-bench: --cert and --key go together, with an https --url\n");
		free(path);
		return 2;
	}
	uint8_t *body = NULL;
	size_t body_len = 0;
	if (body_file && !(body = read_file(body_file, &body_len))) {
		fprintf(stderr, "kensho-bench: cannot read %s\n", body_file);
		free(path);
		return 2;
	}
	if (!method)
		method = body ? "POST" : "GET";

	struct fixed_workload fixed;
	struct files_workload files = {0};
	struct ocsp_workload *ocsp = NULL;
	struct bench_workload *workload = &fixed.super;
	fixed_workload_init(&fixed, method, path, body, body_len, content_type, check_share);
	if (body_dir) {
		int err = files_workload_init(&files, body_dir, path, content_type, body_once,
		                              check_share);
		if (err < 0) {
			fprintf(stderr, "kensho-bench: cannot read bodies from %s: %s\n", body_dir,
			        strerror(-err));
			fixed_workload_free(&fixed);
			free(path);
			return 2;
		}
		workload = &files.super;
	}
	if (ocsp_data && mix.scenario == OCSP_SCENARIO_UNIFORM && (prefetch || openssl_index)) {
		/* the scenario measures a cache nobody warmed for it */
		fprintf(stderr, "kensho-bench: --scenario uniform takes no --prefetch or "
		                "--openssl-index\n");
		fixed_workload_free(&fixed);
		free(path);
		return 2;
	}
	if (ocsp_data) {
		mix.check_share = check_share;
		if (ocsp_workload_open(ocsp_data, &mix, &ocsp) < 0) {
			fixed_workload_free(&fixed);
			free(path);
			return 1;
		}
		ocsp_workload_describe(ocsp);
		workload = ocsp_workload_base(ocsp);
	}
	int rc = 0;
	if (ocsp && (prefetch || openssl_index))
		rc = ocsp_setup(ocsp, &o, prefetch, save_responses, openssl_index);
	if (rc < 0 || setup_only) {
		fixed_workload_free(&fixed);
		ocsp_workload_free(ocsp);
		free(path);
		return rc < 0 ? 1 : 0;
	}
	struct bench_result result;
	rc = loadgen_run(&o, workload, &result);
	fixed_workload_free(&fixed);
	files_workload_free(&files);
	ocsp_workload_free(ocsp);
	free(path);
	if (rc < 0)
		return 1;

	print_text(label, &o, &result);
	if (json_path) {
		struct buf out = {0};
		loadgen_result_json(&o, label, &result, &out);
		buf_append(&out, "\n", 1);
		FILE *f = strcmp(json_path, "-") == 0 ? stdout : fopen(json_path, "w");
		if (!f || fwrite(out.data, 1, out.len, f) != out.len) {
			fprintf(stderr, "kensho-bench: cannot write %s\n", json_path);
			rc = -EIO;
		}
		if (f && f != stdout)
			fclose(f);
		buf_free(&out);
	}
	if (result.completed == 0) {
		fprintf(stderr, "kensho-bench: no request was answered\n");
		return 1;
	}
	if (result.check_failed) {
		fprintf(stderr, "kensho-bench: %llu checked answers were wrong\n",
		        (unsigned long long)result.check_failed);
		return 3;
	}
	return rc < 0 ? 1 : 0;
}
