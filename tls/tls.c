/* The TLS transport and its per-listener factory (see tls.h).
 *
 * mbedTLS runs over two in-memory directions: ciphertext read from the socket
 * is appended to `in` and consumed by the recv callback; everything mbedTLS
 * writes goes straight to the connection's send (which copies). Neither
 * callback ever blocks: an empty `in` answers WANT_READ and the handshake or
 * read resumes on the next on_read.
 *
 * With a loop, the handshake runs on the factory's own threads
 * (core/offload.h: libuv's pool announces completions in a way that can make
 * the loop spin, and its threads run at the loop's priority), one step per
 * connection at a time (a step: mbedtls_ssl_handshake_step until it wants
 * bytes that have not arrived). While a step runs the job owns the
 * connection's mbedTLS context, its input buffer `in` and its output buffer
 * `out`; the loop appends newly read ciphertext to `later` and touches
 * nothing else of the handshake. The step's done callback (on the loop) writes
 * `out` to the socket, moves `later` into `in`, applies what the step
 * decided (counters, refusals, the finished handshake) and submits the next
 * step if bytes are waiting. A connection closed during a step is freed by
 * that callback. The configuration generation a step reads is held by the
 * connection's reference, so a reload never frees it under a step. Shared
 * across steps of different connections: the factory's ctr_drbg (locked by
 * mbedTLS, MBEDTLS_THREADING_C) and each generation's key, trust store, CRLs,
 * policy and ticket keys, which steps only read (see warm_up). */
#include "tls/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "core/config.h"
#include "core/exchange.h"
#include "core/log.h"
#include "core/offload.h"
#include "pki/dn_text.h"
#include "pki/errors.h"
#include "tls/tls_policy.h"
#include "tls/tls_ticket.h"

/* Ciphertext waiting for mbedTLS is at most one partial record plus one read;
 * anything beyond this means the peer is flooding a stalled connection. */
#define TLS_MAX_PENDING_INPUT (256 * 1024)
/* Plaintext is handed up in pieces of at most one record. */
#define TLS_READ_CHUNK 16384

/* TLS 1.2 suites with forward secrecy and AEAD only (RFC 5289, RFC 7905),
 * strongest first. */
static const int allowed_ciphersuites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        0,
};

static const mbedtls_ecp_group_id allowed_curves[] = {
        MBEDTLS_ECP_DP_CURVE25519,
        MBEDTLS_ECP_DP_SECP256R1,
        MBEDTLS_ECP_DP_SECP384R1,
        MBEDTLS_ECP_DP_NONE,
};

/* Signature hashes for ServerKeyExchange and CertificateVerify (RFC 5246
 * §7.4.1.4.1): no SHA-1. */
static const int allowed_sig_hashes[] = {
        MBEDTLS_MD_SHA512,
        MBEDTLS_MD_SHA384,
        MBEDTLS_MD_SHA256,
        MBEDTLS_MD_NONE,
};

/* One generation of a listener's configuration. Connections hold a
 * reference, so a reload never changes what an open connection uses. */
struct tls_context {
	unsigned refs;
	unsigned generation;
	struct tls_factory *factory;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt chain;
	mbedtls_pk_context key;
	mbedtls_x509_crt trust;
	bool have_trust;
	bool have_tickets;
	struct tls_ticket_keys tickets;
	struct tls_policy *policy;
	enum tls_client_auth client_auth;
	int client_key_max_bits;
	uint8_t (*ca_spki)[32]; /* SHA-256 of each trusted CA's SubjectPublicKeyInfo */
	size_t ca_count;
	mbedtls_x509_crl crl;     /* tls.crl, each signed by a CA in tls.trust */
	uint8_t (*crl_signer)[32]; /* SPKI SHA-256 of the CA that signed each CRL */
	size_t crl_count;
};

struct tls_conn;

struct tls_factory {
	struct transport_factory super;
	uv_loop_t *loop;
	uv_timer_t timer;
	char *cert_file, *key_file, *trust_file, *policy_file, *crl_file;
	bool crl_optional;
	const struct role_table *roles; /* the names policy_file may use */
	enum tls_client_auth client_auth;
	int64_t handshake_timeout_ms;
	int64_t ticket_lifetime_s;
	int64_t ticket_rotation_s;
	char *ticket_key_file;
	uint8_t own_ticket_secret[TLS_TICKET_MASTER_LEN]; /* without a key file */
	int64_t (*clock)(void);
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	struct tls_context *current;
	int client_key_max_bits;
	struct tls_conn *handshaking; /* list of connections still in handshake */
	struct tls_conn *conns;       /* every live connection, for reload */
	struct tls_stats stats;
	unsigned max_handshakes; /* slots: handshakes in progress at once */
	struct offload *offload; /* the threads steps run on (with a loop) */
	bool timer_open;         /* the sweep timer is not closed yet */
	bool freeing;            /* tls_factory_free was called */
	bool was_busy;           /* in_progress reached max_handshakes */
	uv_thread_t loop_thread;
	void (*observer)(void *arg, enum tls_event event);
	void *observer_arg;
};

/* A TLS session's progress (named apart from core's connection states:
 * one TLS session runs under one core connection, and both have "open"). */
enum tls_state { TLS_STATE_HANDSHAKE, TLS_STATE_OPEN, TLS_STATE_CLOSED, TLS_STATE_FAILED };

struct tls_conn {
	struct transport super;
	struct tls_factory *factory;
	struct tls_context *ctx;
	mbedtls_ssl_context ssl;
	enum tls_state state;
	bool resumed;
	bool deliver_stopped;
	int64_t session_start; /* of a resumed session: its full handshake */
	uint8_t *in;
	size_t in_len, in_off, in_cap;
	uint64_t started_ms;
	struct tls_conn *prev, *next;         /* factory->handshaking */
	struct tls_conn *all_prev, *all_next; /* factory->conns */
	bool cert_checked;   /* the client's Certificate message passed the key bounds */
	bool verify_counted; /* a CertificateVerify with the client's key was started */
	bool issuer_known;
	uint8_t issuer_sha256[32]; /* the issuing CA in tls.trust (full handshakes) */
	/* The step on the factory's offload threads (see the top of this file). */
	struct offload_job job;
	bool in_pool;   /* a step is queued or running: the pool owns ssl, in, out */
	bool destroyed; /* the connection closed during a step: its done callback frees */
	bool buffering; /* mbedTLS output goes to `out`, not to the socket */
	bool slot;      /* holds one of the factory's max_handshakes slots */
	uint8_t *out;
	size_t out_len, out_cap;
	uint8_t *later; /* ciphertext read while a step ran */
	size_t later_len, later_cap;
	/* What a step decided, applied on the loop by step_finish. */
	int step_rc;
	unsigned step_count;
	bool step_on_loop;
	bool verify_new;   /* a CertificateVerify check was started */
	bool fail_pending; /* the step refused the client (alert already in `out`) */
	bool out_failed;   /* `out` could not grow */
	int fail_err;
	char fail_why[240];
};

/* The connection whose handshake step runs on this thread (ticket callbacks
 * get only the configuration generation as their argument). */
static _Thread_local struct tls_conn *tls_stepping;

static void describe(int mbedtls_err, char *out, size_t len)
{
	mbedtls_strerror(mbedtls_err, out, len);
}

/* --- configuration generations ---------------------------------------------- */

static void context_unref(struct tls_context *ctx)
{
	if (!ctx || --ctx->refs > 0)
		return;
	mbedtls_ssl_config_free(&ctx->conf);
	mbedtls_x509_crt_free(&ctx->chain);
	mbedtls_pk_free(&ctx->key);
	mbedtls_x509_crt_free(&ctx->trust);
	mbedtls_x509_crl_free(&ctx->crl);
	free(ctx->crl_signer);
	mbedtls_platform_zeroize(&ctx->tickets, sizeof ctx->tickets);
	tls_policy_free(ctx->policy);
	free(ctx->ca_spki);
	free(ctx);
}

static int64_t factory_now(const struct tls_factory *f)
{
	return f->clock ? f->clock() : (int64_t)time(NULL);
}

/* A resumed handshake is the only one that parses a ticket; tls_stepping is
 * the connection whose step runs on this thread. Any error here makes
 * mbedTLS fall back to a full handshake. */
static int ticket_parse_cb(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf,
                           size_t len)
{
	struct tls_context *ctx = p_ticket;
	int64_t start = 0;
	int rc = tls_ticket_open(&ctx->tickets, factory_now(ctx->factory), buf, len, session,
	                         &start);
	switch (rc) {
	case 0:
		if (tls_stepping) {
			tls_stepping->resumed = true;
			tls_stepping->session_start = start;
		}
		return 0;
	case -ETIME:
	case -ENOKEY: return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
	case -EBADMSG: return MBEDTLS_ERR_SSL_INVALID_MAC;
	default: return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
	}
}

static int ticket_write_cb(void *p_ticket, const mbedtls_ssl_session *session, unsigned char *start,
                           const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
	struct tls_context *ctx = p_ticket;
	if (end < start)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	/* A resumed session's new ticket keeps the start of the session, so
	 * resuming again and again never extends it past the lifetime. */
	int64_t now = factory_now(ctx->factory);
	const struct tls_conn *c = tls_stepping;
	int64_t session_start = c && c->resumed ? c->session_start : now;
	int rc = tls_ticket_seal(&ctx->tickets, now, session_start, mbedtls_ctr_drbg_random,
	                         &ctx->factory->drbg, session, start, (size_t)(end - start), tlen);
	if (rc < 0)
		return rc == -ENOSPC ? MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL
		                     : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	*lifetime = (uint32_t)ctx->tickets.lifetime_s;
	return 0;
}

/* Tickets are bound to the client-certificate trust store (tls_ticket.h). */
static void trust_fingerprint(const struct tls_context *ctx, uint8_t out[32])
{
	memset(out, 0, 32);
	if (!ctx->have_trust)
		return;
	mbedtls_sha256_context sha;
	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts_ret(&sha, 0);
	for (const mbedtls_x509_crt *c = &ctx->trust; c && c->raw.p; c = c->next)
		mbedtls_sha256_update_ret(&sha, c->raw.p, c->raw.len);
	mbedtls_sha256_finish_ret(&sha, out);
	mbedtls_sha256_free(&sha);
}

/* Rule 5 of docs/architecture.md: key material only from owner-only files. */
static int check_key_permissions(const char *path, char *err, size_t err_len)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		int rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, err_len,
		         "%s: private key readable by group or others (mode %03o); chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

static int load_error(int mbedtls_err, const char *path, const char *what, char *err,
                      size_t err_len)
{
	char why[128];
	describe(mbedtls_err, why, sizeof why);
	snprintf(err, err_len, "%s: cannot load %s: %s", path, what, why);
	return pki_errno(mbedtls_err);
}

/* mbedTLS reports a missing or unreadable file as "PK - Read/write of file
 * failed"; say which file, what the system said, and which setting names it,
 * before mbedTLS gets to it. */
static int check_readable(const char *path, const char *setting, const char *what, char *err,
                          size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (f) {
		fclose(f);
		return 0;
	}
	int rc = -errno;
	snprintf(err, err_len, "%s (%s, %s): cannot read: %s; fix the file or point %s at another",
	         path, setting, what, strerror(errno), setting);
	return rc;
}

/* A file that parsed to nothing usable: say what was expected in it. */
static int parse_error(int mbedtls_err, const char *path, const char *setting, const char *what,
                       char *err, size_t err_len)
{
	char why[128];
	if (mbedtls_err > 0)
		snprintf(why, sizeof why, "%d certificate(s) could not be parsed", mbedtls_err);
	else
		describe(mbedtls_err, why, sizeof why);
	snprintf(err, err_len, "%s (%s): not a valid %s: %s", path, setting, what, why);
	return mbedtls_err > 0 ? -EINVAL : pki_errno(mbedtls_err);
}

static void spki_hash(const mbedtls_x509_crt *crt, uint8_t out[32])
{
	mbedtls_sha256_ret(crt->pk_raw.p, crt->pk_raw.len, out, 0);
}

/* Policy rules name their issuing CA by its SPKI hash (tls_policy.h). */
static int trust_hashes(struct tls_context *ctx)
{
	size_t n = 0;
	for (const mbedtls_x509_crt *c = &ctx->trust; c && c->raw.p; c = c->next)
		n++;
	ctx->ca_spki = calloc(n ? n : 1, sizeof *ctx->ca_spki);
	if (!ctx->ca_spki)
		return -ENOMEM;
	size_t i = 0;
	for (const mbedtls_x509_crt *c = &ctx->trust; c && c->raw.p; c = c->next)
		spki_hash(c, ctx->ca_spki[i++]);
	ctx->ca_count = n;
	return 0;
}

/* The CA in tls.trust named `issuer` whose key made `sig` over `tbs` (a
 * certificate's or a CRL's signature), or NULL. One signature check per
 * trusted CA with that name. */
static const mbedtls_x509_crt *trusted_signer(const struct tls_context *ctx,
                                              const mbedtls_x509_buf *issuer,
                                              const mbedtls_x509_buf *tbs, mbedtls_md_type_t md_type,
                                              mbedtls_pk_type_t sig_pk, const void *sig_opts,
                                              const mbedtls_x509_buf *sig)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_type);
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];
	if (!ctx->have_trust || !md || mbedtls_md(md, tbs->p, tbs->len, hash) != 0)
		return NULL;
	for (const mbedtls_x509_crt *t = &ctx->trust; t && t->raw.p; t = t->next) {
		if (t->subject_raw.len != issuer->len ||
		    memcmp(t->subject_raw.p, issuer->p, issuer->len) != 0)
			continue;
		if (mbedtls_pk_verify_ext(sig_pk, sig_opts, (mbedtls_pk_context *)&t->pk, md_type,
		                          hash, mbedtls_md_get_size(md), sig->p, sig->len) == 0)
			return t;
	}
	return NULL;
}

/* tls.crl: the client-certificate CAs' CRLs (PEM or DER, several in one
 * file). Each must be signed by a CA in tls.trust, checked here once, so a
 * serial it lists is revoked by that CA alone. A CRL past its nextUpdate
 * still revokes what it lists (a late CRL must not un-revoke anyone) and is
 * logged. With `optional` (the default path), no file means no CRLs. */
static int load_crls(struct tls_context *ctx, const char *path, bool optional, char *err,
                     size_t err_len)
{
	if (optional && access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	int rc = check_readable(path, "tls.crl", "client-certificate CRLs", err, err_len);
	if (rc < 0)
		return rc;
	if (!ctx->have_trust) {
		snprintf(err, err_len, "%s (tls.crl): CRLs need the CAs that sign them in tls.trust",
		         path);
		return -EINVAL;
	}
	int mrc = mbedtls_x509_crl_parse_file(&ctx->crl, path);
	if (mrc != 0)
		return parse_error(mrc, path, "tls.crl", "PEM or DER CRL", err, err_len);
	size_t n = 0;
	for (const mbedtls_x509_crl *crl = &ctx->crl; crl && crl->raw.p; crl = crl->next)
		n++;
	ctx->crl_signer = calloc(n ? n : 1, sizeof *ctx->crl_signer);
	if (!ctx->crl_signer)
		return -ENOMEM;
	for (const mbedtls_x509_crl *crl = &ctx->crl; crl && crl->raw.p; crl = crl->next) {
		char issuer[256];
		if (dn_text(crl->issuer_raw.p, crl->issuer_raw.len, issuer, sizeof issuer) < 0)
			snprintf(issuer, sizeof issuer, "(unreadable name)");
		const mbedtls_x509_crt *ca = trusted_signer(ctx, &crl->issuer_raw, &crl->tbs,
		                                            crl->sig_md, crl->sig_pk, crl->sig_opts,
		                                            &crl->sig);
		if (!ca) {
			snprintf(err, err_len,
			         "%s (tls.crl): the CRL of \"%s\" is not signed by a CA in tls.trust",
			         path, issuer);
			return -EINVAL;
		}
		spki_hash(ca, ctx->crl_signer[ctx->crl_count++]);
		if (mbedtls_x509_time_is_past(&crl->next_update))
			log_warn("tls: %s (tls.crl): the CRL of \"%s\" is past its nextUpdate; its "
			         "revocations still apply, install a newer one",
			         path, issuer);
	}
	return 0;
}

/* mbedTLS 2.28 builds an EC group's fixed-point table (grp->T) on the first
 * multiplication by its generator and stores it in the group: a write into
 * a key that every handshake step shares (the server key signing, a trusted
 * CA's key verifying). Building each table here, on the loop before any
 * step can see this generation, leaves those keys read-only for the steps.
 * RSA keys lock their own blinding values (MBEDTLS_THREADING_C). */
static int warm_up_key(mbedtls_pk_context *pk, struct tls_factory *f)
{
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY))
		return 0;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
	if (mbedtls_ecp_get_type(&ec->grp) != MBEDTLS_ECP_TYPE_SHORT_WEIERSTRASS)
		return 0;
	mbedtls_ecp_point r;
	mbedtls_mpi one;
	mbedtls_ecp_point_init(&r);
	mbedtls_mpi_init(&one);
	int rc = mbedtls_mpi_lset(&one, 1);
	if (rc == 0)
		rc = mbedtls_ecp_mul(&ec->grp, &r, &one, &ec->grp.G, mbedtls_ctr_drbg_random,
		                     &f->drbg);
	mbedtls_ecp_point_free(&r);
	mbedtls_mpi_free(&one);
	return rc;
}

static int warm_up(struct tls_context *ctx, struct tls_factory *f)
{
	int rc = warm_up_key(&ctx->key, f);
	for (mbedtls_x509_crt *t = &ctx->trust; rc == 0 && ctx->have_trust && t && t->raw.p;
	     t = t->next)
		rc = warm_up_key(&t->pk, f);
	return rc;
}

static int context_load(struct tls_factory *f, struct tls_context **out, char *err, size_t err_len)
{
	struct tls_context *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return -ENOMEM;
	ctx->refs = 1;
	ctx->factory = f;
	ctx->client_auth = f->client_auth;
	mbedtls_ssl_config_init(&ctx->conf);
	mbedtls_x509_crt_init(&ctx->chain);
	mbedtls_pk_init(&ctx->key);
	mbedtls_x509_crt_init(&ctx->trust);
	mbedtls_x509_crl_init(&ctx->crl);
	int rc;

	rc = check_readable(f->cert_file, "tls.cert", "server certificate", err, err_len);
	if (rc < 0)
		goto fail;
	int mrc = mbedtls_x509_crt_parse_file(&ctx->chain, f->cert_file);
	if (mrc != 0) {
		rc = parse_error(mrc, f->cert_file, "tls.cert",
		                 "PEM certificate chain (leaf first)", err, err_len);
		goto fail;
	}
	rc = check_readable(f->key_file, "tls.key", "server private key", err, err_len);
	if (rc < 0)
		goto fail;
	rc = check_key_permissions(f->key_file, err, err_len);
	if (rc < 0)
		goto fail;
	mrc = mbedtls_pk_parse_keyfile(&ctx->key, f->key_file, NULL);
	if (mrc != 0) {
		rc = parse_error(mrc, f->key_file, "tls.key",
		                 "unencrypted PEM or DER private key (RSA or EC)", err, err_len);
		goto fail;
	}
	mbedtls_pk_type_t kt = mbedtls_pk_get_type(&ctx->key);
	if (kt != MBEDTLS_PK_RSA && kt != MBEDTLS_PK_ECKEY && kt != MBEDTLS_PK_ECDSA) {
		snprintf(err, err_len, "%s (tls.key): key is neither RSA nor ECDSA", f->key_file);
		rc = -EINVAL;
		goto fail;
	}
	mrc = mbedtls_pk_check_pair(&ctx->chain.pk, &ctx->key);
	if (mrc != 0) {
		snprintf(err, err_len,
		         "%s (tls.key) does not belong to the certificate in %s (tls.cert); "
		         "install the matching pair",
		         f->key_file, f->cert_file);
		rc = -EINVAL;
		goto fail;
	}
	if (f->trust_file) {
		rc = check_readable(f->trust_file, "tls.trust", "client-certificate CAs", err,
		                    err_len);
		if (rc < 0)
			goto fail;
		mrc = mbedtls_x509_crt_parse_file(&ctx->trust, f->trust_file);
		if (mrc != 0) {
			rc = parse_error(mrc, f->trust_file, "tls.trust",
			                 "PEM list of CA certificates", err, err_len);
			goto fail;
		}
		ctx->have_trust = true;
		rc = trust_hashes(ctx);
		if (rc < 0)
			goto fail;
	} else if (f->client_auth != TLS_CLIENT_AUTH_NONE) {
		snprintf(err, err_len,
		         "tls.client_auth is not none but no trust store (tls.trust) is set");
		rc = -EINVAL;
		goto fail;
	}
	if (f->crl_file) {
		rc = load_crls(ctx, f->crl_file, f->crl_optional, err, err_len);
		if (rc < 0)
			goto fail;
	}
	if (f->policy_file) {
		char perr[300];
		rc = check_readable(f->policy_file, "tls.policy", "client-certificate policy", err,
		                    err_len);
		if (rc == 0)
			rc = tls_policy_load(f->policy_file, f->roles, &ctx->policy, perr,
			                     sizeof perr);
		else
			perr[0] = '\0';
		if (rc == 0) {
			rc = tls_policy_bind(ctx->policy, (const uint8_t(*)[32])ctx->ca_spki,
			                     ctx->ca_count, perr, sizeof perr);
			if (rc > 0)
				log_warn("tls: %s: %s (tls.policy)", f->policy_file, perr);
			if (rc > 0)
				rc = 0;
		}
		if (rc < 0) {
			if (perr[0])
				snprintf(err, err_len, "%s: %s (tls.policy)", f->policy_file, perr);
			goto fail;
		}
	}
	ctx->client_key_max_bits = f->client_key_max_bits;

	mbedtls_ssl_config *conf = &ctx->conf;
	mrc = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                  MBEDTLS_SSL_PRESET_DEFAULT);
	if (mrc != 0) {
		rc = load_error(mrc, "(defaults)", "TLS configuration", err, err_len);
		goto fail;
	}
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &f->drbg);
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, allowed_ciphersuites);
	mbedtls_ssl_conf_curves(conf, allowed_curves);
	mbedtls_ssl_conf_sig_hashes(conf, allowed_sig_hashes);
	/* Renegotiation is a second handshake on a live connection: costly for
	 * the server and the root of CVE-2009-3555-style splicing. Secure
	 * renegotiation indication (RFC 5746) is still sent. */
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
	mbedtls_ssl_conf_extended_master_secret(conf, MBEDTLS_SSL_EXTENDED_MS_ENABLED);
	mrc = mbedtls_ssl_conf_own_cert(conf, &ctx->chain, &ctx->key);
	if (mrc != 0) {
		rc = load_error(mrc, f->cert_file, "certificate into TLS configuration", err,
		                err_len);
		goto fail;
	}
	if (ctx->have_trust)
		mbedtls_ssl_conf_ca_chain(conf, &ctx->trust, NULL);
	static const int authmodes[] = {
	        [TLS_CLIENT_AUTH_NONE] = MBEDTLS_SSL_VERIFY_NONE,
	        [TLS_CLIENT_AUTH_OPTIONAL] = MBEDTLS_SSL_VERIFY_OPTIONAL,
	        [TLS_CLIENT_AUTH_REQUIRED] = MBEDTLS_SSL_VERIFY_REQUIRED,
	};
	mbedtls_ssl_conf_authmode(conf, authmodes[f->client_auth]);
	if (f->ticket_lifetime_s > 0) {
		/* The key file is read on every load, so a reload picks up a
		 * replaced secret; keys are derived, so tickets sealed by an
		 * earlier generation (or another process) still open. A ticket
		 * honoured for longer than a rotation period could outlive its key
		 * (a key lives two periods), so the lifetime is capped at one. */
		ctx->have_tickets = true;
		if (f->ticket_key_file) {
			rc = tls_ticket_key_load(f->ticket_key_file, ctx->tickets.master, err,
			                         err_len);
			if (rc < 0)
				goto fail;
		} else {
			memcpy(ctx->tickets.master, f->own_ticket_secret, TLS_TICKET_MASTER_LEN);
		}
		ctx->tickets.rotation_s = f->ticket_rotation_s;
		ctx->tickets.lifetime_s = f->ticket_lifetime_s < f->ticket_rotation_s
		                                  ? f->ticket_lifetime_s
		                                  : f->ticket_rotation_s;
		if (ctx->tickets.lifetime_s > UINT32_MAX)
			ctx->tickets.lifetime_s = UINT32_MAX;
		trust_fingerprint(ctx, ctx->tickets.trust_fp);
		mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
		mbedtls_ssl_conf_session_tickets_cb(conf, ticket_write_cb, ticket_parse_cb, ctx);
	} else {
		mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	}
	mrc = warm_up(ctx, f);
	if (mrc != 0) {
		rc = load_error(mrc, f->key_file, "EC tables of the keys", err, err_len);
		goto fail;
	}
	ctx->generation = f->current ? f->current->generation + 1 : 1;
	*out = ctx;
	return 0;
fail:
	context_unref(ctx);
	return rc;
}

/* --- connections ------------------------------------------------------------- */

static void handshake_list_remove(struct tls_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (c->factory->handshaking == c)
		c->factory->handshaking = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Appends to a growing buffer; the handshake's output is a few kB. */
static int bytes_append(uint8_t **buf, size_t *blen, size_t *cap, const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (len > TLS_MAX_PENDING_INPUT - *blen)
		return -EMSGSIZE;
	if (*blen + len > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		while (ncap < *blen + len)
			ncap *= 2;
		uint8_t *n = realloc(*buf, ncap);
		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = ncap;
	}
	memcpy(*buf + *blen, data, len);
	*blen += len;
	return 0;
}

static int bio_send_cb(void *arg, const unsigned char *data, size_t len)
{
	struct tls_conn *c = arg;
	if (len > INT_MAX)
		len = INT_MAX;
	if (c->buffering) {
		/* on the pool: memory only, the loop writes it after the step */
		if (bytes_append(&c->out, &c->out_len, &c->out_cap, data, len) < 0) {
			c->out_failed = true;
			return MBEDTLS_ERR_NET_SEND_FAILED;
		}
		return (int)len;
	}
	if (c->super.io.send(c->super.io.conn, data, len) < 0)
		return MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)len;
}

static int bio_recv_cb(void *arg, unsigned char *out, size_t len)
{
	struct tls_conn *c = arg;
	size_t avail = c->in_len - c->in_off;
	if (avail == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (len > avail)
		len = avail;
	if (len > INT_MAX)
		len = INT_MAX;
	memcpy(out, c->in + c->in_off, len);
	c->in_off += len;
	return (int)len;
}

static void observe(struct tls_factory *f, enum tls_event event)
{
	if (f->observer)
		f->observer(f->observer_arg, event);
}

static void slot_release(struct tls_conn *c, bool closing);

static void conn_fail(struct tls_conn *c, int err, const char *why)
{
	if (c->state == TLS_STATE_FAILED)
		return;
	if (c->state == TLS_STATE_HANDSHAKE) {
		handshake_list_remove(c);
		c->factory->stats.handshake_failures++;
		observe(c->factory, err == -ETIMEDOUT ? TLS_EVENT_HANDSHAKE_TIMEOUT
		                                      : TLS_EVENT_HANDSHAKE_FAILED);
	}
	c->state = TLS_STATE_FAILED;
	slot_release(c, false);
	log_debug("tls: %s: %s", c->super.peer ? c->super.peer->address : "?", why);
	c->super.io.fail(c->super.io.conn, err, why);
}

static void conn_fail_mbedtls(struct tls_conn *c, int mbedtls_err, const char *during)
{
	char why[160], msg[200];
	describe(mbedtls_err, why, sizeof why);
	snprintf(msg, sizeof msg, "%s: %s", during, why);
	conn_fail(c, pki_errno(mbedtls_err), msg);
}

/* --- client certificates ------------------------------------------------------ */

static size_t get_u24(const uint8_t *p)
{
	return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

/* Refuses the handshake with a fatal alert (RFC 5246 §7.2.2). */
static void conn_refuse(struct tls_conn *c, unsigned char alert, int err, const char *why)
{
	mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, alert);
	conn_fail(c, err, why);
}

/* The same from inside a handshake step (possibly on the pool): the alert
 * goes to `out`; counting, logging and failing the connection wait for
 * step_finish on the loop. */
static void step_refuse(struct tls_conn *c, unsigned char alert, int err, const char *why)
{
	mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, alert);
	c->fail_pending = true;
	c->fail_err = err;
	snprintf(c->fail_why, sizeof c->fail_why, "%s", why);
}

/* Before mbedTLS reads the client's Certificate message (state
 * CLIENT_CERTIFICATE), look at it in our input buffer. In TLS 1.2 it is the
 * first message of the client's second flight, unencrypted, and mbedTLS 2.28
 * reads records only as it needs them and does not reassemble handshake
 * messages spanning records, so the whole message is the first record here.
 * Returns 0 to let mbedTLS go on, -EAGAIN to wait for more bytes, or -EACCES
 * once the connection has been refused. */
static int precheck_client_certificate(struct tls_conn *c)
{
	if (mbedtls_ssl_check_pending(&c->ssl)) {
		/* mbedTLS already holds bytes we cannot inspect: no client
		 * sends its Certificate before our ServerHelloDone. */
		step_refuse(c, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE, -EPROTO,
		            "client sent its certificate before the server asked for it");
		return -EACCES;
	}
	const uint8_t *p = c->in + c->in_off;
	size_t n = c->in_len - c->in_off;
	if (n < 5)
		return -EAGAIN;
	if (p[0] != MBEDTLS_SSL_MSG_HANDSHAKE) {
		/* A warning alert would be skipped by mbedTLS, and the record after
		 * it read unchecked in the same step. */
		step_refuse(c, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE, -EPROTO,
		            "expected the client's Certificate message");
		return -EACCES;
	}
	size_t rec_len = (size_t)p[3] << 8 | p[4];
	if (rec_len > MBEDTLS_SSL_IN_CONTENT_LEN)
		return 0; /* mbedTLS refuses the record by its header */
	if (n < 5 + rec_len)
		return -EAGAIN;
	const uint8_t *msg = p + 5;
	if (rec_len < 4 || msg[0] != MBEDTLS_SSL_HS_CERTIFICATE || get_u24(msg + 1) > rec_len - 4)
		return 0; /* not a whole Certificate message: mbedTLS refuses it */
	char why[200], msg_why[240];
	int rc =
	        tls_client_chain_check(msg + 4, get_u24(msg + 1), c->ctx->client_key_max_bits,
	                               c->ctx->have_trust ? &c->ctx->trust : NULL, why, sizeof why);
	if (rc == 0)
		return 0;
	snprintf(msg_why, sizeof msg_why, "client certificate refused before use: %s", why);
	step_refuse(c, MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT, -EACCES, msg_why);
	return -EACCES;
}

/* mbedTLS calls this for each certificate of the verified chain, root first;
 * depth 1 is the CA that issued the client's certificate. Policy rules are
 * bound to CAs in tls.trust, so only a trusted one is recorded. */
static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	(void)flags;
	struct tls_conn *c = arg;
	if (depth != 1)
		return 0;
	for (const mbedtls_x509_crt *t = &c->ctx->trust; c->ctx->have_trust && t && t->raw.p;
	     t = t->next) {
		if (t == crt) {
			spki_hash(crt, c->issuer_sha256);
			c->issuer_known = true;
			break;
		}
	}
	return 0;
}

/* The trusted CA whose key signed `leaf`, for sessions whose chain was
 * verified earlier (resumed by ticket, or re-evaluated after a reload). */
static bool find_issuer(const struct tls_context *ctx, const mbedtls_x509_crt *leaf,
                        uint8_t out[32])
{
	const mbedtls_x509_crt *ca =
	        trusted_signer(ctx, &leaf->issuer_raw, &leaf->tbs, leaf->sig_md, leaf->sig_pk,
	                       leaf->sig_opts, &leaf->sig);
	if (ca)
		spki_hash(ca, out);
	return ca != NULL;
}

/* True if a CRL in tls.crl, signed by the CA whose SPKI hash is `issuer`,
 * lists crt's serial. */
static bool crl_revokes(const struct tls_context *ctx, const mbedtls_x509_crt *crt,
                        const uint8_t *issuer)
{
	size_t i = 0;
	for (const mbedtls_x509_crl *crl = &ctx->crl; issuer && i < ctx->crl_count;
	     crl = crl->next, i++) {
		if (memcmp(ctx->crl_signer[i], issuer, 32) != 0)
			continue;
		for (const mbedtls_x509_crl_entry *e = &crl->entry; e && e->serial.len; e = e->next)
			if (e->serial.len == crt->serial.len &&
			    memcmp(e->serial.p, crt->serial.p, crt->serial.len) == 0)
				return true;
	}
	return false;
}

enum client_verdict { CLIENT_OK, CLIENT_DENIED, CLIENT_REVOKED };

/* The refusal a verdict other than CLIENT_OK gives the client (and the log). */
static const char *verdict_why(enum client_verdict v)
{
	return v == CLIENT_REVOKED ? "client certificate refused: revoked (a CRL in tls.crl lists it)"
	                           : "client certificate refused: denied by the policy (deny rule)";
}

/* Applies ctx's policy to a verified client certificate: fills the peer's
 * subject, SPKI hash and roles. `issuer` is the issuing CA's SPKI hash, NULL
 * when it is not in ctx's trust store (then only unbound rules can match). */
static enum client_verdict client_evaluate(const struct tls_context *ctx,
                                           const mbedtls_x509_crt *crt, const uint8_t *issuer,
                                           struct peer_info *peer)
{
	peer->client_cert = true;
	/* The one DN renderer: UTF-8 exactly, RFC 4514 escapes (policy rules,
	 * the access log and the audit log all see this text). */
	if (dn_text(crt->subject_raw.p, crt->subject_raw.len, peer->subject,
	            sizeof peer->subject) < 0)
		peer->subject[0] = '\0';
	spki_hash(crt, peer->spki_sha256);
	struct tls_client_id id = {
	        .subject = peer->subject,
	        .spki_sha256 = peer->spki_sha256,
	        .issuer_sha256 = issuer,
	        .serial = crt->serial.p,
	        .serial_len = crt->serial.len,
	};
	if (tls_policy_denies(ctx->policy, &id)) {
		peer->roles = 0;
		return CLIENT_DENIED;
	}
	if (crl_revokes(ctx, crt, issuer)) {
		peer->roles = 0;
		return CLIENT_REVOKED;
	}
	peer->roles = tls_policy_roles(ctx->policy, &id);
	return CLIENT_OK;
}

/* Right after mbedTLS parsed and verified the client's Certificate, before
 * it reads ClientKeyExchange and CertificateVerify: a certificate that does
 * not verify, or that the policy denies, ends the handshake here, so its key
 * is never used. Returns false once the connection has been refused. */
static bool check_after_certificate(struct tls_conn *c)
{
	const mbedtls_x509_crt *crt = c->ssl.session_negotiate->peer_cert;
	if (!crt)
		return true;
	uint32_t flags = c->ssl.session_negotiate->verify_result;
	if (flags != 0) {
		/* "optional" means a caller may come without a certificate, not
		 * with one that does not verify. */
		char info[160], msg[200];
		mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
		info[strcspn(info, "\n")] = '\0';
		snprintf(msg, sizeof msg, "client certificate refused: %s", info);
		step_refuse(c, MBEDTLS_SSL_ALERT_MSG_BAD_CERT, -EACCES, msg);
		return false;
	}
	struct peer_info scratch = {0};
	enum client_verdict v =
	        client_evaluate(c->ctx, crt, c->issuer_known ? c->issuer_sha256 : NULL, &scratch);
	if (v != CLIENT_OK) {
		step_refuse(c, MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, -EACCES, verdict_why(v));
		return false;
	}
	return true;
}

/* Fills in who the peer is and applies the policy. Returns false if the
 * connection was refused. */
static bool conn_identify(struct tls_conn *c)
{
	struct peer_info *peer = c->super.peer;
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	peer->tls = true;
	peer->client_cert = false;
	peer->subject[0] = '\0';
	memset(peer->spki_sha256, 0, sizeof peer->spki_sha256);
	if (!crt || c->ctx->client_auth == TLS_CLIENT_AUTH_NONE) {
		peer->roles = tls_policy_anonymous_roles(c->ctx->policy);
		return true;
	}
	uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
	if (flags != 0) {
		char info[160];
		mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
		info[strcspn(info, "\n")] = '\0';
		char msg[200];
		snprintf(msg, sizeof msg, "client certificate refused: %s", info);
		conn_refuse(c, MBEDTLS_SSL_ALERT_MSG_BAD_CERT, -EACCES, msg);
		return false;
	}
	/* A resumed session's chain was verified at its full handshake under
	 * the same trust store (tickets are bound to it); its issuer and the
	 * deny rules and CRLs are looked up again under the configuration in force now. */
	uint8_t found[32];
	const uint8_t *issuer = NULL;
	if (!c->resumed && c->issuer_known)
		issuer = c->issuer_sha256;
	else if (c->resumed && find_issuer(c->ctx, crt, found))
		issuer = found;
	enum client_verdict v = client_evaluate(c->ctx, crt, issuer, peer);
	if (v != CLIENT_OK) {
		conn_refuse(c, MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, -EACCES, verdict_why(v));
		return false;
	}
	return true;
}

/* After a reload: the roles an open connection's certificate has under the
 * new configuration. A certificate whose CA left the trust store, or that a
 * deny rule or a CRL now names, keeps its connection but loses every role. */
static void conn_reevaluate(struct tls_conn *c, const struct tls_context *ctx)
{
	struct peer_info *peer = c->super.peer;
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	core_role_set before = peer->roles;
	if (!peer->client_cert || !crt) {
		peer->roles = tls_policy_anonymous_roles(ctx->policy);
	} else {
		uint8_t issuer[32];
		if (!find_issuer(ctx, crt, issuer))
			peer->roles = 0;
		else
			client_evaluate(ctx, crt, issuer, peer);
	}
	if (peer->roles != before)
		log_info("tls: %s: roles of \"%s\" changed by reload", peer->address,
		         peer->subject[0] ? peer->subject : "(no certificate)");
}

static void input_compact(struct tls_conn *c)
{
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
}

static int input_append(struct tls_conn *c, const uint8_t *data, size_t len)
{
	input_compact(c);
	if (len > TLS_MAX_PENDING_INPUT - c->in_len)
		return -EMSGSIZE;
	if (c->in_len + len > c->in_cap) {
		size_t ncap = c->in_cap ? c->in_cap : 4096;
		while (ncap < c->in_len + len)
			ncap *= 2;
		uint8_t *n = realloc(c->in, ncap);
		if (!n)
			return -ENOMEM;
		c->in = n;
		c->in_cap = ncap;
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	return 0;
}

static void conn_read_plaintext(struct tls_conn *c)
{
	uint8_t chunk[TLS_READ_CHUNK];
	while (c->state == TLS_STATE_OPEN) {
		int n = mbedtls_ssl_read(&c->ssl, chunk, sizeof chunk);
		if (n > 0) {
			if (!c->deliver_stopped &&
			    c->super.io.deliver(c->super.io.conn, chunk, (size_t)n) < 0)
				c->deliver_stopped = true;
			continue;
		}
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			/* RFC 5246 §7.2.1: answer close_notify with our own. */
			mbedtls_ssl_close_notify(&c->ssl);
			c->state = TLS_STATE_CLOSED;
			return;
		}
		conn_fail_mbedtls(c, n, "TLS record");
		return;
	}
}

/* mbedtls_ssl_handshake() is this loop; stepping it ourselves gives the two
 * places where a client certificate is checked before its key is used. */
static int conn_run_handshake(struct tls_conn *c)
{
	while (c->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
		int state = c->ssl.state;
		if (state == MBEDTLS_SSL_CLIENT_CERTIFICATE && !c->cert_checked &&
		    c->ctx->client_auth != TLS_CLIENT_AUTH_NONE) {
			int rc = precheck_client_certificate(c);
			if (rc == -EAGAIN)
				return MBEDTLS_ERR_SSL_WANT_READ;
			if (rc < 0)
				return 0;
			c->cert_checked = true;
		}
		if (state == MBEDTLS_SSL_CERTIFICATE_VERIFY && !c->verify_counted &&
		    c->ssl.session_negotiate->peer_cert) {
			c->verify_counted = true;
			c->verify_new = true;
		}
		c->step_count++;
		int rc = mbedtls_ssl_handshake_step(&c->ssl);
		if (rc != 0)
			return rc;
		if (state == MBEDTLS_SSL_CLIENT_CERTIFICATE && !check_after_certificate(c))
			return 0;
	}
	return 0;
}

/* Gives back the connection's handshake slot once its handshake is over
 * (done, failed or closed) and no step of it is on the pool; a listener
 * waiting for room accepts again. */
static void slot_release(struct tls_conn *c, bool closing)
{
	struct tls_factory *f = c->factory;
	if (!c->slot || c->in_pool || (!closing && c->state == TLS_STATE_HANDSHAKE))
		return;
	c->slot = false;
	f->stats.in_progress--;
	if (f->was_busy && f->stats.in_progress < f->max_handshakes) {
		f->was_busy = false;
		if (f->super.room)
			f->super.room(f->super.room_arg);
	}
}

/* The step itself: on the pool, or in the caller without a loop. It touches
 * only the connection's mbedTLS context, `in`, `out`, the step result fields
 * and what its configuration generation holds (read-only). */
static void step_run(struct tls_conn *c)
{
	struct tls_factory *f = c->factory;
	c->step_on_loop = !f->loop;
	if (f->loop) {
		uv_thread_t self = uv_thread_self();
		c->step_on_loop = uv_thread_equal(&self, &f->loop_thread) != 0;
	}
	c->buffering = true;
	tls_stepping = c;
	c->step_rc = conn_run_handshake(c);
	tls_stepping = NULL;
	c->buffering = false;
}

static void step_submit(struct tls_conn *c);

/* On the loop, after a step: writes what it produced and applies what it
 * decided. */
static void step_finish(struct tls_conn *c)
{
	struct tls_factory *f = c->factory;
	if (c->step_on_loop)
		f->stats.steps_on_loop += c->step_count;
	else
		f->stats.steps_on_pool += c->step_count;
	for (unsigned i = 0; i < c->step_count; i++)
		observe(f, c->step_on_loop ? TLS_EVENT_STEP_LOOP : TLS_EVENT_STEP_POOL);
	c->step_count = 0;
	if (c->out_len > 0 && c->state != TLS_STATE_FAILED && c->state != TLS_STATE_CLOSED)
		c->super.io.send(c->super.io.conn, c->out, c->out_len);
	c->out_len = 0;
	if (c->verify_new) {
		c->verify_new = false;
		f->stats.client_cert_verifies++;
		log_debug("tls: %s: checking the client's CertificateVerify",
		          c->super.peer ? c->super.peer->address : "?");
	}
	if (c->state == TLS_STATE_FAILED || c->state == TLS_STATE_CLOSED)
		return; /* timed out while the step ran */
	if (c->fail_pending) {
		f->stats.client_cert_refused++;
		conn_fail(c, c->fail_err, c->fail_why);
		return;
	}
	int rc = c->step_rc;
	if (c->out_failed)
		rc = MBEDTLS_ERR_NET_SEND_FAILED;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		/* bytes that came in during the step: the next step */
		if (c->later_len > 0) {
			int arc = bytes_append(&c->in, &c->in_len, &c->in_cap, c->later,
			                       c->later_len);
			c->later_len = 0;
			if (arc < 0) {
				conn_fail(c, arc,
				          arc == -EMSGSIZE ? "too much unprocessed TLS input"
				                           : "out of memory");
				return;
			}
			step_submit(c);
		}
		return;
	}
	if (rc != 0) {
		/* mbedTLS leaves a missing required certificate unannounced; RFC
		 * 5246 §7.4.6 says to answer it with a fatal handshake_failure, so
		 * the client learns why instead of seeing a dropped connection. */
		if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
			mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
			                               MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
		conn_fail_mbedtls(c, rc, "TLS handshake");
		return;
	}
	handshake_list_remove(c);
	if (!conn_identify(c))
		return;
	/* A reload while this handshake ran: roles follow the policy in force. */
	if (c->ctx != c->factory->current)
		conn_reevaluate(c, c->factory->current);
	c->state = TLS_STATE_OPEN;
	slot_release(c, false);
	c->factory->stats.handshakes++;
	if (c->resumed)
		c->factory->stats.resumed++;
	observe(c->factory, c->resumed ? TLS_EVENT_RESUMED : TLS_EVENT_HANDSHAKE);
	c->super.io.established(c->super.io.conn);
	/* Records that followed the client's Finished. */
	if (c->later_len > 0) {
		int arc = bytes_append(&c->in, &c->in_len, &c->in_cap, c->later, c->later_len);
		c->later_len = 0;
		if (arc < 0) {
			conn_fail(c, arc, "too much unprocessed TLS input");
			return;
		}
	}
	if (c->state == TLS_STATE_OPEN)
		conn_read_plaintext(c);
	input_compact(c);
}

static void conn_free(struct tls_conn *c)
{
	mbedtls_ssl_free(&c->ssl);
	context_unref(c->ctx);
	free(c->in);
	free(c->out);
	free(c->later);
	free(c);
}

static void factory_release(struct tls_factory *f);

/* Steps queued or running on the factory's threads. */
static unsigned steps_pending(const struct tls_factory *f)
{
	return f->offload ? offload_pending(f->offload) : 0;
}

static void factory_maybe_release(struct tls_factory *f)
{
	if (f->freeing && !f->timer_open && steps_pending(f) == 0)
		factory_release(f);
}

static struct tls_conn *conn_of_job(struct offload_job *job)
{
	return (struct tls_conn *)((char *)job - offsetof(struct tls_conn, job));
}

static void step_work_cb(struct offload_job *job)
{
	step_run(conn_of_job(job));
}

static void step_after_cb(struct offload_job *job)
{
	struct tls_conn *c = conn_of_job(job);
	struct tls_factory *f = c->factory;
	c->in_pool = false;
	if (c->destroyed) {
		slot_release(c, true);
		conn_free(c);
		factory_maybe_release(f);
		return;
	}
	input_compact(c);
	step_finish(c);
	slot_release(c, false);
}

/* Runs the next step: on the factory's threads when there is a loop. */
static void step_submit(struct tls_conn *c)
{
	struct tls_factory *f = c->factory;
	if (!f->loop) {
		step_run(c);
		step_finish(c);
		return;
	}
	c->in_pool = true;
	c->job.work = step_work_cb;
	c->job.done = step_after_cb;
	offload_submit(f->offload, &c->job);
}

static int tls_start(struct transport *t)
{
	(void)t;
	return 0; /* the client speaks first */
}

static int tls_on_read(struct transport *t, const uint8_t *data, size_t len)
{
	struct tls_conn *c = (struct tls_conn *)t;
	if (c->state == TLS_STATE_FAILED || c->state == TLS_STATE_CLOSED)
		return 0;
	int rc;
	if (c->in_pool) {
		/* the step owns `in`: keep the bytes for after it */
		rc = bytes_append(&c->later, &c->later_len, &c->later_cap, data, len);
		if (rc == 0 && c->later_len + (c->in_len - c->in_off) > TLS_MAX_PENDING_INPUT)
			rc = -EMSGSIZE;
	} else {
		rc = input_append(c, data, len);
	}
	if (rc < 0) {
		conn_fail(c, rc,
		          rc == -EMSGSIZE ? "too much unprocessed TLS input" : "out of memory");
		return 0;
	}
	if (c->in_pool)
		return 0;
	if (c->state == TLS_STATE_HANDSHAKE) {
		step_submit(c);
		return 0;
	}
	if (c->state == TLS_STATE_OPEN)
		conn_read_plaintext(c);
	input_compact(c);
	return 0;
}

static int tls_write(struct transport *t, const uint8_t *data, size_t len)
{
	struct tls_conn *c = (struct tls_conn *)t;
	if (c->state != TLS_STATE_OPEN)
		return -ENOTCONN;
	size_t off = 0;
	while (off < len) {
		int n = mbedtls_ssl_write(&c->ssl, data + off, len - off);
		if (n < 0)
			return pki_errno(n);
		off += (size_t)n;
	}
	return 0;
}

static int tls_shutdown(struct transport *t)
{
	struct tls_conn *c = (struct tls_conn *)t;
	if (c->state != TLS_STATE_OPEN)
		return 0;
	c->state = TLS_STATE_CLOSED;
	int rc = mbedtls_ssl_close_notify(&c->ssl);
	return rc < 0 ? pki_errno(rc) : 0;
}

static void tls_destroy(struct transport *t)
{
	struct tls_conn *c = (struct tls_conn *)t;
	if (c->state == TLS_STATE_HANDSHAKE)
		handshake_list_remove(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else if (c->factory->conns == c)
		c->factory->conns = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	c->all_prev = c->all_next = NULL;
	if (c->in_pool) {
		/* the step still owns the mbedTLS context: its after_work frees */
		c->destroyed = true;
		return;
	}
	slot_release(c, true);
	conn_free(c);
}

static const struct transport_ops tls_ops = {
        .start = tls_start,
        .on_read = tls_on_read,
        .write = tls_write,
        .shutdown = tls_shutdown,
        .destroy = tls_destroy,
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

static struct transport *factory_create(struct transport_factory *self,
                                        const struct transport_io *io, struct peer_info *peer)
{
	struct tls_factory *f = (struct tls_factory *)self;
	struct tls_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->super.ops = &tls_ops;
	c->super.io = *io;
	c->super.peer = peer;
	c->factory = f;
	c->ctx = f->current;
	c->ctx->refs++;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &c->ctx->conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		context_unref(c->ctx);
		free(c);
		return NULL;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send_cb, bio_recv_cb, NULL);
	mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	c->state = TLS_STATE_HANDSHAKE;
	c->all_next = f->conns;
	if (c->all_next)
		c->all_next->all_prev = c;
	f->conns = c;
	c->started_ms = now_ms();
	c->slot = true;
	if (++f->stats.in_progress >= f->max_handshakes && !f->was_busy) {
		f->was_busy = true;
		f->stats.busy++;
	}
	c->next = f->handshaking;
	if (c->next)
		c->next->prev = c;
	f->handshaking = c;
	return &c->super;
}

/* --- factory ----------------------------------------------------------------- */

unsigned tls_factory_expire_handshakes(struct tls_factory *f, uint64_t now)
{
	if (f->handshake_timeout_ms <= 0)
		return 0;
	unsigned failed = 0;
	struct tls_conn *c = f->handshaking;
	while (c) {
		struct tls_conn *next = c->next;
		if (now - c->started_ms >= (uint64_t)f->handshake_timeout_ms) {
			conn_fail(c, -ETIMEDOUT, "TLS handshake timed out");
			failed++;
		}
		c = next;
	}
	return failed;
}

static bool factory_busy(struct transport_factory *self)
{
	const struct tls_factory *f = (const struct tls_factory *)self;
	return f->stats.in_progress >= f->max_handshakes;
}

static void sweep_cb(uv_timer_t *timer)
{
	tls_factory_expire_handshakes(timer->data, now_ms());
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void factory_release(struct tls_factory *f)
{
	offload_close(f->offload);
	context_unref(f->current);
	mbedtls_ctr_drbg_free(&f->drbg);
	mbedtls_entropy_free(&f->entropy);
	free(f->cert_file);
	free(f->key_file);
	free(f->trust_file);
	free(f->policy_file);
	free(f->crl_file);
	free(f->ticket_key_file);
	mbedtls_platform_zeroize(f->own_ticket_secret, sizeof f->own_ticket_secret);
	free(f);
}

int tls_factory_new(uv_loop_t *loop, const struct tls_settings *s, struct tls_factory **out,
                    char *err, size_t err_len)
{
	if (!s->cert_file || !s->key_file) {
		snprintf(err, err_len, "no TLS certificate or key configured (tls.cert, tls.key)");
		return -EINVAL;
	}
	struct tls_factory *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->super.create = factory_create;
	f->super.busy = factory_busy;
	f->max_handshakes = s->max_handshakes ? s->max_handshakes : TLS_DEFAULT_MAX_HANDSHAKES;
	f->cert_file = strdup(s->cert_file);
	f->key_file = strdup(s->key_file);
	f->trust_file = dup_or_null(s->trust_file);
	f->policy_file = dup_or_null(s->policy_file);
	f->crl_file = dup_or_null(s->crl_file);
	f->crl_optional = s->crl_optional;
	f->roles = s->roles;
	f->client_auth = s->client_auth;
	f->handshake_timeout_ms = s->handshake_timeout_ms;
	f->ticket_lifetime_s = s->ticket_lifetime_s;
	f->ticket_rotation_s = s->ticket_rotation_s > 0 ? s->ticket_rotation_s : 12 * 3600;
	f->ticket_key_file = dup_or_null(s->ticket_key_file);
	f->client_key_max_bits =
	        s->client_key_max_bits > 0 ? s->client_key_max_bits : TLS_CLIENT_RSA_MAX_BITS;
	mbedtls_entropy_init(&f->entropy);
	mbedtls_ctr_drbg_init(&f->drbg);
	if (!f->cert_file || !f->key_file || (s->trust_file && !f->trust_file) ||
	    (s->policy_file && !f->policy_file) || (s->crl_file && !f->crl_file) ||
	    (s->ticket_key_file && !f->ticket_key_file)) {
		factory_release(f);
		return -ENOMEM;
	}
	static const char personalisation[] = "kensho tls";
	int mrc = mbedtls_ctr_drbg_seed(&f->drbg, mbedtls_entropy_func, &f->entropy,
	                                (const unsigned char *)personalisation,
	                                sizeof personalisation - 1);
	if (mrc != 0) {
		load_error(mrc, "(entropy)", "random generator", err, err_len);
		factory_release(f);
		return pki_errno(mrc);
	}
	mrc = mbedtls_ctr_drbg_random(&f->drbg, f->own_ticket_secret, sizeof f->own_ticket_secret);
	if (mrc != 0) {
		load_error(mrc, "(entropy)", "ticket secret", err, err_len);
		factory_release(f);
		return pki_errno(mrc);
	}
	int rc = context_load(f, &f->current, err, err_len);
	if (rc < 0) {
		factory_release(f);
		return rc;
	}
	f->stats.generation = f->current->generation;
	f->loop = loop;
	if (loop) {
		f->loop_thread = uv_thread_self();
		/* One core fewer than the machine has (at least one thread): a
		 * flood of handshakes then leaves a core to the loop. */
		unsigned threads = uv_available_parallelism();
		threads = threads > 1 ? threads - 1 : 1;
		rc = offload_open(loop, threads > 4 ? 4 : threads, &f->offload);
		if (rc < 0) {
			snprintf(err, err_len, "cannot start the TLS handshake threads: %s",
			         strerror(-rc));
			factory_release(f);
			return rc;
		}
	}
	if (loop && f->handshake_timeout_ms > 0) {
		uint64_t period = (uint64_t)f->handshake_timeout_ms / 4;
		if (period < 50)
			period = 50;
		if (period > 1000)
			period = 1000;
		uv_timer_init(loop, &f->timer);
		f->timer_open = true;
		f->timer.data = f;
		uv_timer_start(&f->timer, sweep_cb, period, period);
		/* The sweep alone must not keep the loop alive at shutdown. */
		uv_unref((uv_handle_t *)&f->timer);
	}
	*out = f;
	return 0;
}

struct transport_factory *tls_factory_base(struct tls_factory *f)
{
	return &f->super;
}

int tls_factory_reload(struct tls_factory *f, char *err, size_t err_len)
{
	struct tls_context *next;
	int rc = context_load(f, &next, err, err_len);
	if (rc < 0) {
		f->stats.reload_failures++;
		return rc;
	}
	context_unref(f->current);
	f->current = next;
	f->stats.reloads++;
	f->stats.generation = next->generation;
	/* Roles follow the policy in force, not the one a connection started
	 * under: a withdrawn role must not live on in a keep-alive connection. */
	for (struct tls_conn *c = f->conns; c; c = c->all_next)
		if (c->state == TLS_STATE_OPEN)
			conn_reevaluate(c, next);
	return 0;
}

/* True if crt's subject has a CN equal to `cn`. */
static bool subject_has_cn(const mbedtls_x509_crt *crt, const char *cn)
{
	size_t n = strlen(cn);
	for (const mbedtls_x509_name *a = &crt->subject; a; a = a->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &a->oid) == 0 && a->val.len == n &&
		    memcmp(a->val.p, cn, n) == 0)
			return true;
	return false;
}

int tls_factory_forwarded_client(struct tls_factory *f, const uint8_t *der, size_t len,
                                 const char *expected_cn, struct peer_info *peer, char *why,
                                 size_t why_len)
{
	const struct tls_context *ctx = f->current;
	peer->client_cert = false;
	peer->subject[0] = '\0';
	memset(peer->spki_sha256, 0, sizeof peer->spki_sha256);
	peer->roles = 0;
	if (ctx->client_auth == TLS_CLIENT_AUTH_NONE) {
		peer->roles = tls_policy_anonymous_roles(ctx->policy);
		return 0;
	}
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	int rc = 0;
	uint8_t issuer[32];
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		snprintf(why, why_len, "the forwarded client certificate is not a DER certificate");
		rc = -EINVAL;
	} else if (expected_cn && *expected_cn && !subject_has_cn(&crt, expected_cn)) {
		snprintf(why, why_len,
		         "the forwarded client certificate's CN differs from the PROXY header's");
		rc = -EACCES;
	} else if (mbedtls_x509_time_is_past(&crt.valid_to) ||
	           mbedtls_x509_time_is_future(&crt.valid_from)) {
		snprintf(why, why_len, "client certificate refused: expired or not yet valid");
		rc = -EACCES;
	} else if (!find_issuer(ctx, &crt, issuer)) {
		/* The same refusal as a direct handshake's: only tls.trust's CAs
		 * vouch for a certificate, whatever the balancer trusts. */
		snprintf(why, why_len,
		         "client certificate refused: not issued by a CA in tls.trust");
		rc = -EACCES;
	} else {
		enum client_verdict v = client_evaluate(ctx, &crt, issuer, peer);
		if (v != CLIENT_OK) {
			snprintf(why, why_len, "%s", verdict_why(v));
			rc = -EACCES;
		}
	}
	if (rc < 0) {
		peer->roles = 0;
		f->stats.client_cert_refused++;
	}
	mbedtls_x509_crt_free(&crt);
	return rc;
}

core_role_set tls_factory_anonymous_roles(const struct tls_factory *f)
{
	return tls_policy_anonymous_roles(f->current->policy);
}

enum tls_client_auth tls_factory_client_auth(const struct tls_factory *f)
{
	return f->current->client_auth;
}

unsigned tls_factory_generation(const struct tls_factory *f)
{
	return f->current->generation;
}

void tls_factory_set_clock(struct tls_factory *f, int64_t (*now_s)(void))
{
	f->clock = now_s;
}

void tls_factory_stats(const struct tls_factory *f, struct tls_stats *out)
{
	*out = f->stats;
	out->steps_queued = steps_pending(f);
}

void tls_factory_set_observer(struct tls_factory *f, void (*fn)(void *arg, enum tls_event event),
                              void *arg)
{
	f->observer = fn;
	f->observer_arg = arg;
}

static void timer_close_cb(uv_handle_t *h)
{
	struct tls_factory *f = h->data;
	f->timer_open = false;
	factory_maybe_release(f);
}

/* Waits for the sweep timer to close and for steps still on the pool (of
 * connections closed meanwhile) to finish. */
void tls_factory_free(struct tls_factory *f)
{
	if (!f)
		return;
	f->freeing = true;
	if (f->timer_open)
		uv_close((uv_handle_t *)&f->timer, timer_close_cb);
	else
		factory_maybe_release(f);
}

int tls_client_auth_parse(const char *text, enum tls_client_auth *out)
{
	if (strcmp(text, "none") == 0)
		*out = TLS_CLIENT_AUTH_NONE;
	else if (strcmp(text, "optional") == 0)
		*out = TLS_CLIENT_AUTH_OPTIONAL;
	else if (strcmp(text, "required") == 0)
		*out = TLS_CLIENT_AUTH_REQUIRED;
	else
		return -EINVAL;
	return 0;
}
