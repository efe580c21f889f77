/* kenshod: reads flags and the config file, prepares the data directory,
 * then runs one event loop per worker process (core/process.h for N > 1).
 * Each worker opens its own store, builds the router from handlers/ and
 * serves until SIGTERM drains it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/exchange.h"
#include "core/heartbeat.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/privileges.h"
#include "core/proxy_protocol.h"
#include "core/process.h"
#include "core/readiness.h"
#include "core/reload.h"
#include "core/sdnotify.h"
#include "core/server.h"
#include "core/transport.h"
#include "core/version.h"
#include "handlers/config_keys.h"
#include "handlers/handlers.h"
#include "ca/ca.h"
#include "daemon/replica.h"
#include "storage/store.h"
#include "tls/tls.h"
#include "tls/tls_config_keys.h"
#include "tls/tls_demo_pki.h"
#include "tls/tls_proxy.h"
#include "tls/tls_ticket.h"

#define DEFAULT_DATA_DIR "./var/kensho"

struct daemon {
	struct config *config;
	const char *config_path; /* --config FILE, re-read on SIGHUP */
	const char *data_dir;
	unsigned workers;
	struct server_limits limits;
	bool access_log;
	char **listen; /* plain HTTP listeners */
	size_t listen_count;
	char **listen_tls; /* TLS listeners */
	size_t listen_tls_count;
	char **listen_proxy; /* behind a TLS-terminating balancer: PROXY v2 first */
	size_t listen_proxy_count;
	bool drop_privileges; /* become run_as after binding (server.user) */
	struct run_user run_as;
	struct replica_settings replica; /* .primary NULL: not a replica */
};

/* Per-worker state that signal callbacks need. */
struct worker {
	struct daemon *daemon;
	unsigned index;
	uv_loop_t loop;
	struct server *server;
	struct handlers_context *handlers; /* the endpoint families on this loop */
	uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
	bool stopping;
	struct tls_factory *tls;         /* shared by this worker's TLS listeners */
	struct tls_proxy_factory *proxy; /* its PROXY-protocol listeners */
	struct config *reloaded;         /* the file as last re-read on SIGHUP; NULL: as at start */
};

/* Every key kenshod accepts, each declared by the module that reads it. */
static const struct config_key *const config_tables[] = {
        core_config_keys,
        tls_config_keys,
        handlers_config_keys,
        NULL,
};

/* Paths printed on start so the operator can try the service at once.
 * Endpoint families add theirs here (OCSP, CRL, lookup...). */
static const char *const try_paths[] = {"/healthz", "/readyz", "/metrics",
                                        "/crl/sign.crl -o sign.crl"};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kenshod [--data DIR] --listen HOST:PORT [--listen HOST:PORT ...]\n"
	        "               [--listen-tls HOST:PORT ...] [--workers N] [--config FILE]\n"
	        "               [--log-level error|warn|info|debug] [--no-access-log]\n"
	        "               [--user NAME | --allow-root] [--replica-of https://PRIMARY:PORT]\n"
	        "       kenshod --check-config FILE | --config-reference FORMAT\n"
	        "       kenshod --version | --help\n"
	        "\n"
	        "  --data DIR         data directory (default " DEFAULT_DATA_DIR
	        "; created if missing)\n"
	        "  --listen HOST:PORT plain HTTP listener ([v6]:PORT for IPv6); repeatable\n"
	        "  --listen-tls H:P   HTTPS listener; repeatable\n"
	        "  --workers N        worker processes sharing the ports (SO_REUSEPORT)\n"
	        "  --config FILE      key = value settings (see docs/configuration.md)\n"
	        "  --log-level LEVEL  stderr log verbosity (default info)\n"
	        "  --no-access-log    do not write JSON access-log lines to stdout\n"
	        "  --user NAME        serve as user NAME once the listeners are bound\n"
	        "  --allow-root       serve as root (refused without it or --user)\n"
	        "  --replica-of URL   serve as a read replica of the primary at URL\n"
	        "                     (replication.cert/.key/.ca; docs/cluster.md)\n"
	        "  --check-config FILE  check FILE's keys and values, then exit 0 (valid) or 1\n"
	        "  --config-reference FORMAT  print every configuration key: markdown, roff\n"
	        "                     or example (a file with every key at its default)\n"
	        "  --version          print the version and exit\n"
	        "\n"
	        "The first listener's URL goes into the OCSP and CRL pointers of the demo\n"
	        "certificates made on first start (server.base_url sets another).\n");
}

/* --- the data directory --------------------------------------------------- */

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	int e = errno;
	log_error("cannot create %s: %s", path, strerror(e));
	return -e;
}

static int make_dirs(const char *path, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = make_dir(tmp, 0755);
		*p = '/';
		if (rc)
			return rc;
	}
	return make_dir(tmp, mode);
}

/* Prepares DIR on every start: DIR/ca (the CAs and OCSP responder keys),
 * DIR/tls (server certificate, demo TLS CA), DIR/store (the LMDB environment).
 * Key directories are owner-only (docs/architecture.md rule 5).
 *
 * On first start (no CA in DIR/ca yet) the demo CAs and a small population
 * are created with the same code as `kensho ca init` and `kensho issue`,
 * before any worker forks, so all workers open a store that is populated. */
/* People issued real certificate pairs in a new demo data directory. */
#define DEMO_PEOPLE 100

static int bootstrap_data_dir(const char *dir, const char *base_url, bool replica)
{
	char path[4096];
	int rc = make_dirs(dir, 0755);
	static const char *const subdirs[] = {"ca", "tls", STORE_DATA_SUBDIR};
	for (size_t i = 0; rc == 0 && i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		rc = make_dir(path, 0700);
	}
	/* A replica's CA files and store come from its primary (replica.c). */
	if (rc == 0 && !replica)
		rc = ca_bootstrap_demo(dir, base_url, DEMO_PEOPLE);
	return rc;
}

/* --- TLS ------------------------------------------------------------------- */

/* The one place where --listen-tls gets its transport: tls/ builds a factory
 * (certificates from tls.* config keys or DIR/tls/, client-certificate
 * policy, session tickets) per worker, after fork, so no two workers share
 * random state or ticket keys. SIGHUP (and POST /v1/admin/reload) re-read its
 * files through the "tls" reload hook. Returns NULL (logged) on error. */
/* TLS counters in /metrics, fed by the factory's observer. */
static struct {
	struct metric *handshake[4]; /* by enum tls_event */
	struct metric *steps[2];     /* handshake steps on the loop, on the pool */
	struct metric *reload_ok, *reload_refused;
} tls_metrics;

static void tls_observer_cb(void *arg, enum tls_event event)
{
	(void)arg;
	if ((unsigned)event < 4)
		metric_add(tls_metrics.handshake[event], 1);
	else if (event == TLS_EVENT_STEP_LOOP || event == TLS_EVENT_STEP_POOL)
		metric_add(tls_metrics.steps[event == TLS_EVENT_STEP_POOL], 1);
}

static void tls_metrics_register(void)
{
	static const char help[] = "TLS handshakes by outcome";
	static const char *const labels[4] = {
	        [TLS_EVENT_HANDSHAKE] = "result=\"full\"",
	        [TLS_EVENT_RESUMED] = "result=\"resumed\"",
	        [TLS_EVENT_HANDSHAKE_FAILED] = "result=\"failed\"",
	        [TLS_EVENT_HANDSHAKE_TIMEOUT] = "result=\"timeout\"",
	};
	for (int i = 0; i < 4; i++)
		tls_metrics.handshake[i] =
		        metrics_counter("kensho_tls_handshakes_total", labels[i], help);
	/* Handshake steps (signatures, key exchange, client-certificate checks)
	 * by the thread they ran on: thread="loop" stays 0 (docs/tls.md). */
	static const char steps_help[] = "TLS handshake steps by the thread that ran them";
	tls_metrics.steps[0] =
	        metrics_counter("kensho_tls_handshake_steps_total", "thread=\"loop\"", steps_help);
	tls_metrics.steps[1] =
	        metrics_counter("kensho_tls_handshake_steps_total", "thread=\"pool\"", steps_help);
	tls_metrics.reload_ok = metrics_counter("kensho_tls_reloads_total", "result=\"ok\"",
	                                        "TLS configuration reloads by outcome");
	tls_metrics.reload_refused =
	        metrics_counter("kensho_tls_reloads_total", "result=\"refused\"",
	                        "TLS configuration reloads by outcome");
}

static void tls_reload_cb(void *arg)
{
	struct worker *w = arg;
	char err[512];
	if (tls_factory_reload(w->tls, err, sizeof(err)) != 0) {
		metric_add(tls_metrics.reload_refused, 1);
		log_error("tls: reload refused, the previous configuration stays in force: %s",
		          err);
		reload_note_failure("tls", err);
		return;
	}
	metric_add(tls_metrics.reload_ok, 1);
	struct tls_stats st;
	tls_factory_stats(w->tls, &st);
	log_info("tls: reloaded certificate, key, trust store, CRLs and policy (generation %u)",
	         st.generation);
}

/* PROXY-protocol listeners' counters in /metrics, fed by their observer. */
static struct metric *proxy_metrics[TLS_PROXY_EVENTS];

static void proxy_observer_cb(void *arg, enum tls_proxy_event event)
{
	(void)arg;
	if ((unsigned)event < TLS_PROXY_EVENTS)
		metric_add(proxy_metrics[event], 1);
}

static void proxy_metrics_register(void)
{
	static const char help[] =
	        "connections on server.listen_proxy listeners: accepted, or refused and why";
	static const char *const labels[TLS_PROXY_EVENTS] = {
	        [TLS_PROXY_ACCEPTED] = "result=\"accepted\"",
	        [TLS_PROXY_UNTRUSTED] = "result=\"untrusted\"",
	        [TLS_PROXY_BAD_HEADER] = "result=\"bad_header\"",
	        [TLS_PROXY_CERT_REFUSED] = "result=\"certificate_refused\"",
	};
	for (int i = 0; i < TLS_PROXY_EVENTS; i++)
		proxy_metrics[i] = metrics_counter("kensho_proxy_connections_total", labels[i], help);
}

static struct transport_factory *tls_listener_factory(struct worker *w)
{
	char err[512], storage[4096];
	struct tls_settings settings;
	if (tls_settings_from_config(w->daemon->config, w->daemon->data_dir, &settings, storage,
	                             sizeof(storage), err, sizeof(err)) != 0) {
		log_error("tls: %s", err);
		return NULL;
	}
	settings.roles = &handler_roles; /* the role names tls.policy may use */
	if (tls_factory_new(&w->loop, &settings, &w->tls, err, sizeof(err)) != 0) {
		log_error("tls: %s", err);
		return NULL;
	}
	tls_metrics_register();
	tls_factory_set_observer(w->tls, tls_observer_cb, NULL);
	if (reload_register("tls", tls_reload_cb, w) != 0)
		log_warn("tls: cannot register the reload hook; SIGHUP will not reload TLS");
	return tls_factory_base(w->tls);
}

/* With --listen-tls and no tls.cert, DIR/tls/ gets the demo TLS PKI, once,
 * before workers fork. Without tls.ticket_key, DIR/tls/ticket.key gets a
 * random session ticket secret, also before fork, so every worker reads the
 * same one and a ticket from any worker resumes on all (docs/tls.md). A
 * configured tls.ticket_key is shared between machines and never made here. */
static int bootstrap_tls(const struct daemon *d)
{
	if (!d->listen_tls_count && !d->listen_proxy_count)
		return 0;
	char err[512];
	int rc = 0;
	if (!config_get(d->config, "tls.cert", NULL)) {
		enum tls_demo_key key = TLS_DEMO_KEY_ECDSA_P256;
		if (tls_demo_key_parse(config_get(d->config, "tls.demo_key", "ecdsa-p256"), &key) !=
		    0) {
			log_error("tls: tls.demo_key must be ecdsa-p256 or rsa-2048");
			return -EINVAL;
		}
		rc = tls_demo_pki_ensure_key(d->data_dir, &handler_roles, PEER_ROLES_DEMO_ANONYMOUS,
		                             key, err, sizeof(err));
	}
	const char *tk = config_get(d->config, "tls.ticket_key", NULL);
	if (rc == 0 && !(tk && *tk)) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/tls/ticket.key", d->data_dir);
		rc = tls_ticket_key_ensure(path, err, sizeof(err));
	}
	if (rc != 0)
		log_error("tls: %s", err);
	return rc;
}

/* --- the worker ------------------------------------------------------------ */

/* /readyz: the store opened (per worker, after fork). */
static int store_readiness_check(void *arg, char *why, size_t why_len)
{
	if (!arg) {
		snprintf(why, why_len, "store not open");
		return -ENODEV;
	}
	return 0;
}

/* kensho_store_map_bytes, read at each scrape: the map grows while serving
 * (here or in `kensho gen`), and every worker maps the same environment. */
static double store_map_bytes_read(void *store)
{
	return (double)store_map_size(store);
}

/* Closes a signal handle once, if it was ever initialised. */
/* A primary's replication.sync_replicas and sync_timeout, recorded in the
 * store so that the kensho command line's revocations wait the same way
 * (storage/replica_acks.c). Written only when they changed. */
static int sync_settings_record(const struct config *c, struct store *store)
{
	struct store_sync have, want;
	want.replicas = (uint32_t)config_get_int(c, "replication.sync_replicas", 0);
	want.timeout_ms = config_get_ms(c, "replication.sync_timeout", 10000);
	struct store_txn *txn;
	int rc = store_txn_begin(store, false, &txn);
	if (rc == 0) {
		rc = store_replication_sync_get(txn, &have);
		store_txn_abort(txn);
	}
	if (rc == 0 && (have.replicas != want.replicas ||
	                (want.replicas && have.timeout_ms != want.timeout_ms))) {
		if ((rc = store_txn_begin(store, true, &txn)) == 0) {
			rc = store_replication_sync_put(txn, &want);
			rc = rc ? (store_txn_abort(txn), rc) : store_txn_commit(txn);
		}
	}
	if (rc)
		log_error("cannot record replication.sync_replicas in the store: %s",
		          strerror(-rc));
	return rc;
}

static void signal_close(uv_signal_t *h)
{
	if (h->loop && !uv_is_closing((uv_handle_t *)h))
		uv_close((uv_handle_t *)h, NULL);
}

static void worker_close_signals(struct worker *w)
{
	signal_close(&w->sig_term);
	signal_close(&w->sig_int);
	signal_close(&w->sig_hup);
	signal_close(&w->sig_usr1);
}

static void drained_cb(struct server *s, void *arg)
{
	struct worker *w = arg;
	log_info("drained; exiting");
	heartbeat_stop();
	worker_close_signals(w);
	server_close(s);
	w->server = NULL;
}

static void stop_signal_cb(uv_signal_t *h, int signum)
{
	struct worker *w = h->data;
	if (!w->server)
		return;
	if (w->stopping) {
		log_warn("second %s: closing all connections now", strsignal(signum));
		drained_cb(w->server, w);
		return;
	}
	w->stopping = true;
	log_info("%s: draining", strsignal(signum));
	heartbeat_stopping();
	/* The families stop their timers (the CRL publisher among them) and
	 * keep answering what is in progress. */
	handlers_context_dispose(w->handlers);
	server_drain(w->server, drained_cb, w);
}

/* Logs a multi-line validation report as one line. */
static void join_lines(char *text)
{
	for (char *p = strchr(text, '\n'); p; p = strchr(p, '\n'))
		*p = ';';
}

/* Applies the keys a running worker can change: log.level, log.access and
 * the per-request limits (each marked live in its key table). */
static void config_apply_live(struct worker *w, const struct config *c)
{
	enum log_level level = LOG_INFO;
	log_parse_level(config_get(c, "log.level", "info"), &level);
	log_set_level(level);
	if (!w->server)
		return;
	server_set_access_log(w->server, config_get_bool(c, "log.access", true));
	struct server_limits limits;
	server_limits_default(&limits);
	server_limits_from_config(&limits, c);
	server_set_limits(w->server, &limits);
}

/* The "config" reload hook: re-reads --config FILE under the same flags.
 * A file that does not load or validate changes nothing (the reload is
 * marked failed, as for TLS); otherwise live keys are applied, and each
 * changed key that needs a restart is named, on every reload until then. */
static void config_reload_cb(void *arg)
{
	struct worker *w = arg;
	const struct daemon *d = w->daemon;
	static char err[16384];
	struct config *next = config_new();
	int rc = next ? config_copy_flags(next, d->config) : -ENOMEM;
	if (rc)
		snprintf(err, sizeof(err), "out of memory");
	if (rc == 0)
		rc = config_load_file(next, d->config_path, err, sizeof(err));
	if (rc == 0)
		rc = config_validate(next, config_tables, err, sizeof(err));
	if (rc) {
		join_lines(err);
		log_error("config: reload of %s refused, the previous configuration stays in "
		          "force: %s",
		          d->config_path, err);
		reload_note_failure("config", err);
		config_free(next);
		return;
	}
	const struct config *previous = w->reloaded ? w->reloaded : d->config;
	for (size_t t = 0; config_tables[t]; t++) {
		for (const struct config_key *k = config_tables[t]; k->name; k++) {
			/* Live keys against the last reload; the others against
			 * what this process started with, which is what they are. */
			const char *was = config_get(k->live ? previous : d->config, k->name, "");
			const char *now = config_get(next, k->name, "");
			if (strcmp(was, now) == 0)
				continue;
			if (k->live)
				log_info("config: %s changed: applied", k->name);
			else
				log_warn("config: %s changed: takes effect at restart", k->name);
		}
	}
	config_apply_live(w, next);
	config_free(w->reloaded);
	w->reloaded = next;
	log_info("config: reloaded %s", d->config_path);
}

static void reload_signal_cb(uv_signal_t *h, int signum)
{
	struct worker *w = h->data;
	(void)signum;
	log_info("SIGHUP: reloading");
	heartbeat_reload_begin();
	reload_run_all();
	heartbeat_reload_end(w->index);
}

/* SIGUSR1 (from logrotate, or forwarded by the supervisor): log.file and
 * log.access_file are opened again by name. */
static void reopen_signal_cb(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	log_reopen();
}

static void print_urls(const struct daemon *d)
{
	for (size_t i = 0; i < d->listen_tls_count; i++) {
		fprintf(stderr, "kenshod: serving https://%s/ (demo CA: %s/tls/ca.pem)\n",
		        d->listen_tls[i], d->data_dir);
		/* Intake takes signed applications only over mutual TLS by default
		 * (docs/intake.md); the demo PKI has a client with that role. */
		fprintf(stderr,
		        "  submit: T=%s/tls; curl --cacert $T/ca.pem --cert $T/clients/intake.pem "
		        "--key $T/clients/intake.key --data-binary @application.p7s "
		        "https://%s/v1/intake\n",
		        d->data_dir, d->listen_tls[i]);
	}
	for (size_t i = 0; i < d->listen_proxy_count; i++)
		fprintf(stderr, "kenshod: serving %s behind a load balancer (PROXY protocol v2)\n",
		        d->listen_proxy[i]);
	for (size_t i = 0; i < d->listen_count; i++) {
		fprintf(stderr, "kenshod: serving http://%s/\n", d->listen[i]);
		for (size_t p = 0; p < sizeof(try_paths) / sizeof(try_paths[0]); p++)
			fprintf(stderr, "  try: curl http://%s%s\n", d->listen[i], try_paths[p]);
		/* The demo person's signing certificate: a real "good" answer from
		 * the pre-signed cache (no nonce, so nothing is signed live). */
		char demo[4200];
		snprintf(demo, sizeof(demo), "%s/demo/sign.pem", d->data_dir);
		if (access(demo, R_OK) == 0)
			fprintf(stderr,
			        "  try: openssl ocsp -issuer %s/ca/sign-ca.pem -cert %s -url "
			        "http://%s/ocsp -CAfile %s/ca/sign-ca.pem -no_nonce\n",
			        d->data_dir, demo, d->listen[i], d->data_dir);
	}
}

static int worker_main(unsigned index, void *arg)
{
	struct daemon *d = arg;
	struct worker w = {.daemon = d, .index = index};
	int status = 0;
	signal(SIGPIPE, SIG_IGN);
	log_set_worker((int)index);
	if (uv_loop_init(&w.loop) != 0)
		return 1;
	/* First, so a rotation while this worker starts reaches it too;
	 * unreferenced, so it never keeps a failed start's loop running. */
	uv_signal_init(&w.loop, &w.sig_usr1);
	uv_signal_start(&w.sig_usr1, reopen_signal_cb, SIGUSR1);
	uv_unref((uv_handle_t *)&w.sig_usr1);
	/* The store is opened here, after fork: an LMDB environment must not
	 * cross a fork. It is the one `kensho` writes. */
	struct store *store = NULL;
	struct router *router = NULL;
	/* LMDB map: the initial size and the cap it may grow to on MDB_MAP_FULL. */
	const struct store_options store_opts = {
	        .map_size = (size_t)config_get_size(d->config, "store.map_size", 0),
	        .map_max = (size_t)config_get_size(d->config, "store.map_max", 0),
	        .max_readers = (unsigned)config_get_int(d->config, "store.max_readers", 0),
	        .replication_retain = (uint64_t)config_get_int(d->config, "replication.retain", 0),
	        .replication_retain_bytes =
	                (uint64_t)config_get_size(d->config, "replication.retain_bytes", 1LL << 30),
	};
	struct replica_follower *follower = NULL;
	struct fence_watch *fence = NULL;
	struct replica_readiness replica_ready = {.max_lag_ms = d->replica.max_lag_ms,
	                                          .primary = d->replica.primary};
	/* Files the store and handlers create while starting belong to the user
	 * the worker becomes; root comes back only to bind the listeners. */
	if (d->drop_privileges && privileges_assume(&d->run_as) != 0) {
		status = PROCESS_EXIT_CONFIG;
		goto out;
	}
	if (ca_store_open_with(d->data_dir, &store_opts, &store) != 0) {
		log_error("cannot open the store of %s", d->data_dir);
		status = PROCESS_EXIT_CONFIG;
		goto out;
	}
	readiness_register("store", store_readiness_check, store);
	if (!d->replica.primary && index == 0 && sync_settings_record(d->config, store) != 0) {
		status = PROCESS_EXIT_CONFIG;
		goto out;
	}
	if (!d->replica.primary) {
		/* A primary that learns another was promoted stops being ready. */
		readiness_register("fence", replica_fence_readiness_check, store);
		if (index == 0 && replica_fence_watch_start(store, &d->replica, &fence) != 0) {
			status = PROCESS_EXIT_CONFIG;
			goto out;
		}
	}
	if (d->replica.primary) {
		/* Every worker judges lag from the store, which worker 0's
		 * follower keeps; so all of them stop being ready together. */
		replica_ready.store = store;
		readiness_register("replication", replica_readiness_check, &replica_ready);
		metrics_gauge_read(
		        "kensho_replication_lag_seconds", NULL,
		        "seconds since this replica last held everything its primary had "
		        "(-1: not yet in contact)",
		        METRICS_MERGE_MAX, replica_lag_seconds_read, &replica_ready);
		if (index == 0 &&
		    replica_follower_start(store, d->data_dir, &d->replica, &follower) != 0) {
			status = PROCESS_EXIT_CONFIG;
			goto out;
		}
	}
	metric_set(metrics_gauge_merged("kensho_build_info", "version=\"" KENSHO_VERSION "\"",
	                                "always 1; the label is the version of this kenshod",
	                                METRICS_MERGE_MAX),
	           1);
	metrics_gauge_read("kensho_store_map_bytes", NULL,
	                   "Size of the store's memory map in bytes (grows on demand).",
	                   METRICS_MERGE_MAX, store_map_bytes_read, store);
	router = router_new();
	struct handler_env env = {&w.loop, store, d->config, d->data_dir};
	if (!router || handlers_context_init(router, &env, &w.handlers) != 0) {
		status = PROCESS_EXIT_CONFIG;
		goto out;
	}
	w.server = server_new(&w.loop, router, &d->limits);
	if (!w.server) {
		status = 1;
		goto out;
	}
	server_set_access_log(w.server, d->access_log);
	readiness_register("server", server_readiness_check, w.server);
	/* Registered before TLS's hook, so a reload reads the file first. */
	if (d->config_path && reload_register("config", config_reload_cb, &w) != 0)
		log_warn("config: cannot register the reload hook; SIGHUP will not re-read %s",
		         d->config_path);
	/* PROXY listeners judge forwarded certificates with the TLS settings. */
	struct transport_factory *tls =
	        d->listen_tls_count || d->listen_proxy_count ? tls_listener_factory(&w) : NULL;
	if (tls && d->listen_proxy_count) {
		char err[512];
		if (tls_proxy_factory_new(w.tls, config_get(d->config, "proxy.trusted", ""),
		                          &w.proxy, err, sizeof(err)) != 0) {
			log_error("%s", err);
			status = PROCESS_EXIT_CONFIG;
		} else {
			proxy_metrics_register();
			tls_proxy_factory_set_observer(w.proxy, proxy_observer_cb, NULL);
		}
	}
	for (size_t i = 0; i < d->listen_proxy_count; i++) {
		if (!w.proxy) {
			status = PROCESS_EXIT_CONFIG;
			break;
		}
		if (server_listen(w.server, d->listen_proxy[i], tls_proxy_factory_base(w.proxy)) !=
		    0)
			status = PROCESS_EXIT_CONFIG;
	}
	if (d->drop_privileges && privileges_regain() != 0)
		status = PROCESS_EXIT_CONFIG;
	for (size_t i = 0; i < d->listen_count; i++) {
		if (server_listen(w.server, d->listen[i], NULL) != 0)
			status = PROCESS_EXIT_CONFIG;
	}
	for (size_t i = 0; i < d->listen_tls_count; i++) {
		if (!tls) {
			status = PROCESS_EXIT_CONFIG;
			break;
		}
		if (server_listen(w.server, d->listen_tls[i], tls) != 0)
			status = PROCESS_EXIT_CONFIG;
	}
	/* Listeners bound (a port below 1024 needs root) and the store open:
	 * nothing further needs the starting user's rights. */
	if (status == 0 && d->drop_privileges && privileges_drop(&d->run_as) != 0)
		status = PROCESS_EXIT_CONFIG;
	if (status) {
		server_close(w.server);
		w.server = NULL;
		/* The families' timers and threads (the refresher, the tree-head
		 * signer, the CRL publisher) started already: stop them too, or
		 * the loop never ends and a refused start hangs. */
		handlers_context_dispose(w.handlers);
		uv_run(&w.loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_signal_init(&w.loop, &w.sig_term);
	uv_signal_init(&w.loop, &w.sig_int);
	uv_signal_init(&w.loop, &w.sig_hup);
	w.sig_term.data = w.sig_int.data = w.sig_hup.data = &w;
	uv_signal_start(&w.sig_term, stop_signal_cb, SIGTERM);
	uv_signal_start(&w.sig_int, stop_signal_cb, SIGINT);
	uv_signal_start(&w.sig_hup, reload_signal_cb, SIGHUP);
	/* The hints are for a person at a terminal; a JSON log stays JSON. */
	if (index == 0 && log_get_format() == LOG_FORMAT_TEXT)
		print_urls(d);
	heartbeat_start(&w.loop, index);
	heartbeat_ready(index);
	uv_run(&w.loop, UV_RUN_DEFAULT);
out:
	tls_proxy_factory_free(w.proxy);
	if (w.tls) {
		/* Every connection is gone; the factory's timer closes on one more turn. */
		tls_factory_free(w.tls);
		uv_run(&w.loop, UV_RUN_DEFAULT);
	}
	fflush(stdout);
	/* A start that failed got no drain: every owner closes its handles
	 * here (each call does nothing the second time), and the loop runs
	 * until the last close callback and thread-pool job are done. */
	worker_close_signals(&w);
	handlers_context_dispose(w.handlers);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	handlers_dispose(w.handlers);
	if (uv_loop_close(&w.loop) != 0)
		log_warn("event loop closed with handles still open");
	if (router)
		router_free(router);
	replica_follower_stop(follower);
	replica_fence_watch_stop(fence);
	if (store)
		store_close(store);
	readiness_reset();
	reload_reset();
	metrics_reset();
	config_free(w.reloaded);
	return status;
}

/* --- flags and configuration ---------------------------------------------- */

static int add_address(char ***list, size_t *count, const char *text)
{
	char **bigger = realloc(*list, (*count + 1) * sizeof(char *));
	if (!bigger)
		return -ENOMEM;
	*list = bigger;
	if (!(bigger[*count] = strdup(text)))
		return -ENOMEM;
	(*count)++;
	return 0;
}

/* A config value may list several addresses separated by commas or spaces. */
static int add_address_list(char ***list, size_t *count, const char *text)
{
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *tok = strtok_r(copy, ", \t", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ", \t", &save))
		rc = add_address(list, count, tok);
	free(copy);
	return rc;
}

static void free_addresses(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

/* A repeatable flag's values, joined into one list-valued key. */
static int append_flag_value(struct buf *list, const char *value)
{
	if (list->len)
		buf_append_str(list, ", ");
	buf_append_str(list, value);
	return list->failed ? -ENOMEM : 0;
}

static int set_list_flag(struct config *c, const char *key, struct buf *list, const char *flag)
{
	if (!list->len)
		return 0;
	buf_append(list, "", 1);
	if (list->failed)
		return -ENOMEM;
	return config_set_flag(c, key, (const char *)list->data, flag);
}

/* Prints each problem config_validate found; returns 0 when there were none. */
static int report_config(const struct config *c)
{
	static char problems[16384];
	if (config_validate(c, config_tables, problems, sizeof(problems)) == 0)
		return 0;
	for (char *line = problems, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		fprintf(stderr, "kenshod: %s\n", line);
	}
	return -EINVAL;
}

/* `kenshod --check-config FILE`: the file alone, against the key tables. */
/* Like `nginx -t`, the files a configuration names are read too: with
 * tls.cert set, the certificate, key, trust store, CRLs and policy are
 * loaded exactly as a worker loads them (the demo PKI kenshod would create
 * for a TLS listener without tls.cert is not there to check yet). */
static int check_config_tls(const struct config *c, const char *path)
{
	if (!config_get(c, "tls.cert", NULL))
		return 0;
	char err[512] = "", storage[4096];
	struct tls_settings settings;
	const char *data_dir = config_get(c, "server.data", "./var/kensho");
	int rc = tls_settings_from_config(c, data_dir, &settings, storage, sizeof(storage), err,
	                                  sizeof(err));
	/* Without tls.ticket_key kenshod makes DIR/tls/ticket.key at start. */
	const char *tk = config_get(c, "tls.ticket_key", NULL);
	if (!(tk && *tk))
		settings.ticket_key_file = NULL;
	settings.roles = &handler_roles; /* the role names tls.policy may use */
	uv_loop_t loop;
	if (rc == 0)
		rc = uv_loop_init(&loop);
	if (rc == 0) {
		struct tls_factory *f = NULL;
		rc = tls_factory_new(&loop, &settings, &f, err, sizeof(err));
		if (f)
			tls_factory_free(f);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
	} else if (!err[0]) {
		snprintf(err, sizeof(err), "%s", uv_strerror(rc));
	}
	if (rc)
		fprintf(stderr, "kenshod: %s: tls: %s\n", path, err);
	return rc;
}

static int check_config_file(const char *path)
{
	struct config *c = config_new();
	char err[512];
	if (!c)
		return 1;
	int rc = config_load_file(c, path, err, sizeof(err));
	if (rc)
		fprintf(stderr, "kenshod: %s: %s\n", path, err);
	else
		rc = report_config(c);
	struct proxy_trust *trusted = NULL;
	if (rc == 0 && (rc = proxy_trust_parse(config_get(c, "proxy.trusted", ""), &trusted, err,
	                                       sizeof(err))) != 0)
		fprintf(stderr, "kenshod: %s: proxy.trusted: %s\n", path, err);
	proxy_trust_free(trusted);
	if (rc == 0)
		rc = check_config_tls(c, path);
	config_free(c);
	if (rc)
		return 1;
	printf("%s: ok\n", path);
	return 0;
}

/* The URL certificates name for OCSP and CRLs when the data directory is
 * created: server.base_url, else the first listener's (plain before TLS),
 * with a wildcard host replaced by loopback, which is where a demo is tried. */
static int derive_base_url(const struct daemon *d, char *out, size_t len)
{
	const char *configured = config_get(d->config, "server.base_url", NULL);
	if (configured) {
		if (strncmp(configured, "http://", 7) && strncmp(configured, "https://", 8)) {
			fprintf(stderr,
			        "kenshod: server.base_url: \"%s\" is not an http:// or https:// "
			        "URL\n",
			        configured);
			return -EINVAL;
		}
		snprintf(out, len, "%s", configured);
		for (size_t n = strlen(out); n > 0 && out[n - 1] == '/'; n--)
			out[n - 1] = '\0'; /* as ca init stores it */
		return 0;
	}
	/* A PROXY listener's clients come through a balancer: plain HTTP here. */
	bool plain = d->listen_count > 0 || !d->listen_tls_count;
	const char *first = d->listen_count ? d->listen[0]
	                    : d->listen_tls_count ? d->listen_tls[0]
	                                          : d->listen_proxy[0];
	char host[256], why[256];
	unsigned port;
	if (config_parse_address(first, host, sizeof(host), &port, why, sizeof(why)))
		return -EINVAL; /* validated already */
	const char *scheme = plain ? "http" : "https";
	if (!host[0] || strcmp(host, "0.0.0.0") == 0)
		snprintf(out, len, "%s://127.0.0.1:%u", scheme, port);
	else if (strcmp(host, "::") == 0)
		snprintf(out, len, "%s://[::1]:%u", scheme, port);
	else if (strchr(host, ':'))
		snprintf(out, len, "%s://[%s]:%u", scheme, host, port);
	else
		snprintf(out, len, "%s://%s:%u", scheme, host, port);
	return 0;
}

/* Says where the certificates of this data directory point, and warns when
 * that is not where this kenshod listens (they were made for another). */
static void log_base_url(const struct daemon *d, const char *wanted)
{
	char path[4096], url[512] = "";
	snprintf(path, sizeof(path), "%s/ca/base-url", d->data_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(url, sizeof(url), f))
		url[strcspn(url, "\r\n")] = '\0';
	fclose(f);
	log_info("certificates of %s point OCSP and CRL clients to %s (%s)", d->data_dir, url,
	         path);
	if (strcmp(url, wanted) != 0)
		log_warn("that is not %s: the data directory was created for another address",
		         wanted);
}

/* log.file and log.access_file: stderr and stdout become these files, so
 * every line (the supervisor's, each worker's, the start-up messages) goes
 * there and SIGUSR1 can reopen them for logrotate. */
static int redirect_logs(const struct config *c)
{
	static const struct {
		const char *key;
		int fd;
	} files[] = {{"log.file", STDERR_FILENO}, {"log.access_file", STDOUT_FILENO}};
	/* Until a worker's loop handles SIGUSR1, its default action would end
	 * the process: a rotation during start-up must not stop kenshod. */
	signal(SIGUSR1, SIG_IGN);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = config_get(c, files[i].key, NULL);
		if (!path || !*path)
			continue;
		int rc = log_redirect(files[i].fd, path);
		if (rc) {
			fprintf(stderr, "kenshod: %s: cannot open %s for appending: %s\n",
			        files[i].key, path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Decides whom workers run as: server.user, else the starting user, which
 * may be root only with server.allow_root. Runs before anything is created,
 * so a refusal leaves no data directory behind. */
static int choose_user(struct daemon *d)
{
	const char *user = config_get(d->config, "server.user", NULL);
	if (user) {
		char err[512];
		if (privileges_lookup(user, &d->run_as, err, sizeof(err)) != 0) {
			fprintf(stderr, "kenshod: server.user: %s\n", err);
			return -EINVAL;
		}
		if (d->run_as.uid == 0) {
			fprintf(stderr,
			        "kenshod: server.user: %s is root; name an unprivileged user\n",
			        user);
			return -EINVAL;
		}
		if (geteuid() == d->run_as.uid)
			return 0; /* already that user: nothing to drop */
		if (geteuid() != 0) {
			fprintf(stderr,
			        "kenshod: server.user: becoming %s needs root, and kenshod runs as "
			        "uid %u; start it as root or as %s\n",
			        user, (unsigned)geteuid(), user);
			return -EPERM;
		}
		d->drop_privileges = true;
		return 0;
	}
	if (geteuid() == 0 && !config_get_bool(d->config, "server.allow_root", false)) {
		fprintf(stderr,
		        "kenshod: refusing to run as root: a certificate validity service needs no "
		        "root rights once its ports are bound.\n"
		        "  Give --user NAME (server.user) to serve as NAME after binding, e.g. a "
		        "system user made with\n"
		        "    useradd --system --user-group --home-dir /var/lib/kensho --shell "
		        "/usr/sbin/nologin kensho\n"
		        "  or start kenshod as that user (User= in the systemd unit, see "
		        "docs/operators-guide.md),\n"
		        "  or give --allow-root (server.allow_root = on) to serve as root "
		        "anyway.\n");
		return -EPERM;
	}
	return 0;
}

/* The data directory belongs to the user workers become when kenshod created
 * it just now (existing is its stat from before, NULL if there was none);
 * an existing one the operator owns, so it is only checked. */
static int give_data_dir(const struct daemon *d, const struct stat *existing)
{
	if (!d->drop_privileges)
		return 0;
	if (!existing) {
		log_info("giving %s to user %s", d->data_dir, d->run_as.name);
		return privileges_chown_tree(d->data_dir, &d->run_as);
	}
	if (existing->st_uid != d->run_as.uid)
		log_warn("%s belongs to uid %u, not to %s, whom kenshod serves as: writes there "
		         "may fail (chown -R %s %s)",
		         d->data_dir, (unsigned)existing->st_uid, d->run_as.name, d->run_as.name,
		         d->data_dir);
	return 0;
}

/* The STATUS line the service manager shows once kenshod serves. */
static void describe_service(const struct daemon *d, char *out, size_t len)
{
	size_t used = (size_t)snprintf(out, len, "serving");
	for (size_t i = 0; i < d->listen_count + d->listen_tls_count && used < len; i++) {
		bool plain = i < d->listen_count;
		used += (size_t)snprintf(out + used, len - used, "%s %s://%s/", i ? "," : "",
		                         plain ? "http" : "https",
		                         plain ? d->listen[i] : d->listen_tls[i - d->listen_count]);
	}
	for (size_t i = 0; i < d->listen_proxy_count && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, ", %s (PROXY protocol)",
		                         d->listen_proxy[i]);
	if (used < len)
		snprintf(out + used, len - used, " with %u worker%s", d->workers,
		         d->workers == 1 ? "" : "s");
}

/* So 1,000s of connections per worker fit: the hard limit is the real one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	enum {
		OPT_LISTEN_TLS = 256,
		OPT_LOG_LEVEL,
		OPT_NO_ACCESS_LOG,
		OPT_VERSION,
		OPT_CHECK_CONFIG,
		OPT_CONFIG_REFERENCE,
		OPT_USER,
		OPT_ALLOW_ROOT,
		OPT_REPLICA_OF,
	};
	static const struct option options[] = {
	        {"data", required_argument, NULL, 'd'},
	        {"listen", required_argument, NULL, 'l'},
	        {"listen-tls", required_argument, NULL, OPT_LISTEN_TLS},
	        {"workers", required_argument, NULL, 'w'},
	        {"config", required_argument, NULL, 'c'},
	        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	        {"no-access-log", no_argument, NULL, OPT_NO_ACCESS_LOG},
	        {"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
	        {"config-reference", required_argument, NULL, OPT_CONFIG_REFERENCE},
	        {"user", required_argument, NULL, OPT_USER},
	        {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
	        {"replica-of", required_argument, NULL, OPT_REPLICA_OF},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct daemon d = {0};
	d.config = config_new();
	if (!d.config)
		return 1;
	const char *config_path = NULL, *check_path = NULL;
	struct buf listen = {0}, listen_tls = {0};
	int status = 2;
	int opt, rc = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "d:l:w:c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd': rc = config_set_flag(d.config, "server.data", optarg, "--data"); break;
		case 'l': rc = append_flag_value(&listen, optarg); break;
		case OPT_LISTEN_TLS: rc = append_flag_value(&listen_tls, optarg); break;
		case 'w':
			rc = config_set_flag(d.config, "server.workers", optarg, "--workers");
			break;
		case 'c': config_path = d.config_path = optarg; break;
		case OPT_LOG_LEVEL:
			rc = config_set_flag(d.config, "log.level", optarg, "--log-level");
			break;
		case OPT_NO_ACCESS_LOG:
			rc = config_set_flag(d.config, "log.access", "off", "--no-access-log");
			break;
		case OPT_CHECK_CONFIG: check_path = optarg; break;
		case OPT_CONFIG_REFERENCE: {
			enum config_reference_format format;
			if (config_reference_format_parse(optarg, &format) != 0) {
				fprintf(stderr,
				        "kenshod: --config-reference: \"%s\" is not a format; "
				        "accepted: markdown, roff, example\n",
				        optarg);
				goto out;
			}
			status = config_reference_print(stdout, config_tables, format) ? 1 : 0;
			goto out;
		}
		case OPT_USER:
			rc = config_set_flag(d.config, "server.user", optarg, "--user");
			break;
		case OPT_ALLOW_ROOT:
			rc = config_set_flag(d.config, "server.allow_root", "on", "--allow-root");
			break;
		case OPT_REPLICA_OF:
			rc = config_set_flag(d.config, "replication.primary", optarg,
			                     "--replica-of");
			break;
		case OPT_VERSION:
			printf("kenshod %s\n", KENSHO_VERSION);
			status = 0;
			goto out;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (rc == 0)
		rc = set_list_flag(d.config, "server.listen", &listen, "--listen");
	if (rc == 0)
		rc = set_list_flag(d.config, "server.listen_tls", &listen_tls, "--listen-tls");
	if (rc) {
		status = 1;
		goto out;
	}
	if (optind < argc) {
		fprintf(stderr, "kenshod: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	if (check_path) {
		status = check_config_file(check_path);
		goto out;
	}
	if (config_path) {
		char err[512];
		if (config_load_file(d.config, config_path, err, sizeof(err)) != 0) {
			fprintf(stderr, "kenshod: config %s: %s\n", config_path, err);
			goto out;
		}
	}
	/* Before anything else: a configuration kenshod would misread stops it
	 * here, with nothing created yet. */
	if (report_config(d.config) != 0) {
		fprintf(stderr,
		        "kenshod: refusing to start; see docs/configuration.md for every key\n");
		goto out;
	}
	enum log_level level = LOG_INFO;
	log_parse_level(config_get(d.config, "log.level", "info"), &level);
	log_set_level(level);
	enum log_format format = LOG_FORMAT_TEXT;
	log_parse_format(config_get(d.config, "log.format", "text"), &format);
	log_set_format(format);
	if (redirect_logs(d.config) != 0) {
		status = 1;
		goto out;
	}
	if (add_address_list(&d.listen, &d.listen_count,
	                     config_get(d.config, "server.listen", "")) ||
	    add_address_list(&d.listen_tls, &d.listen_tls_count,
	                     config_get(d.config, "server.listen_tls", "")) ||
	    add_address_list(&d.listen_proxy, &d.listen_proxy_count,
	                     config_get(d.config, "server.listen_proxy", ""))) {
		status = 1;
		goto out;
	}
	if (!d.listen_count && !d.listen_tls_count && !d.listen_proxy_count) {
		fprintf(stderr, "kenshod: nothing to listen on; give --listen HOST:PORT\n");
		usage(stderr);
		goto out;
	}
	d.workers = (unsigned)config_get_int(d.config, "server.workers", 1);
	d.data_dir = config_get(d.config, "server.data", DEFAULT_DATA_DIR);
	d.access_log = config_get_bool(d.config, "log.access", true);
	if (choose_user(&d) != 0) {
		status = 1;
		goto out;
	}
	/* Before any fork: every worker inherits the one metrics area. */
	unsigned max_series = (unsigned)config_get_int(d.config, "metrics.max_series",
	                                               METRICS_DEFAULT_MAX_SERIES);
	if (metrics_setup(d.workers, max_series) != 0) {
		fprintf(stderr, "kenshod: cannot map the shared metrics area\n");
		status = 1;
		goto out;
	}
	server_limits_default(&d.limits);
	server_limits_from_config(&d.limits, d.config);
	char base_url[512];
	if (derive_base_url(&d, base_url, sizeof(base_url)) != 0)
		goto out;
	raise_fd_limit();
	/* Workers bind with SO_REUSEPORT, which would let them join a port that
	 * another kenshod already serves: make sure every address is free first,
	 * and before a new data directory is filled for it. */
	for (size_t i = 0; i < d.listen_count + d.listen_tls_count; i++) {
		const char *address =
		        i < d.listen_count ? d.listen[i] : d.listen_tls[i - d.listen_count];
		if (server_check_address_free(address) != 0) {
			status = PROCESS_EXIT_CONFIG;
			goto out;
		}
	}
	for (size_t i = 0; i < d.listen_proxy_count; i++) {
		if (server_check_address_free(d.listen_proxy[i]) != 0) {
			status = PROCESS_EXIT_CONFIG;
			goto out;
		}
	}
	struct stat data_st;
	bool data_existed = stat(d.data_dir, &data_st) == 0;
	if (replica_settings_read(d.config, &d.replica) != 0) {
		status = 1;
		goto out;
	}
	if (d.replica.primary) {
		/* A replica signs nothing and publishes nothing: it serves what the
		 * primary signed and published (docs/cluster.md). */
		if (config_set_flag(d.config, "crl.generate", "false", "--replica-of") ||
		    config_set_flag(d.config, "ocsp.cached_only", "true", "--replica-of") ||
		    config_set_flag(d.config, "ocsp.refresh_rate", "0", "--replica-of")) {
			status = 1;
			goto out;
		}
	}
	if (bootstrap_data_dir(d.data_dir, base_url, d.replica.primary != NULL) != 0 ||
	    (d.replica.primary && replica_prepare(d.data_dir, &d.replica) != 0) ||
	    bootstrap_tls(&d) != 0 || give_data_dir(&d, data_existed ? &data_st : NULL) != 0) {
		status = 1;
		goto out;
	}
	log_base_url(&d, base_url);
	/* Line-buffered would cost a write per request; server.c flushes the
	 * access log once per loop iteration instead. */
	static char stdout_buffer[1 << 16];
	setvbuf(stdout, stdout_buffer, _IOFBF, sizeof(stdout_buffer));
	log_info("kenshod %s starting: data %s, %u worker(s)", KENSHO_VERSION, d.data_dir,
	         d.workers);
	/* Before fork and before privileges drop: the socket stays reachable. */
	char ready_status[512];
	describe_service(&d, ready_status, sizeof(ready_status));
	if (sdnotify_open() != 0 || heartbeat_setup(d.workers, ready_status) != 0)
		log_warn("the service manager will not hear from kenshod (see above)");
	if (d.workers == 1)
		status = worker_main(0, &d);
	else
		status = process_supervise(d.workers, worker_main, &d,
		                           d.limits.drain_timeout_ms + 2000);
out:
	buf_free(&listen);
	buf_free(&listen_tls);
	free_addresses(d.listen, d.listen_count);
	free_addresses(d.listen_tls, d.listen_tls_count);
	free_addresses(d.listen_proxy, d.listen_proxy_count);
	config_free(d.config);
	return status;
}
