/* kenshod's configuration keys for a TLS listener (see tls.h, docs/tls.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "tls/tls.h"

/* --- settings ------------------------------------------------------------------ */

/* Puts DIR/tls/name into storage; returns it, or NULL when out of room. */
static const char *default_path(const char *data_dir, const char *name, char *storage,
                                size_t storage_len, size_t *used)
{
	int n = snprintf(storage + *used, storage_len - *used, "%s/tls/%s", data_dir, name);
	if (n < 0 || (size_t)n >= storage_len - *used)
		return NULL;
	const char *p = storage + *used;
	*used += (size_t)n + 1;
	return p;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int tls_settings_from_config(const struct config *c, const char *data_dir, struct tls_settings *out,
                             char *storage, size_t storage_len, char *err, size_t err_len)
{
	size_t used = 0;
	memset(out, 0, sizeof *out);
	const char *mode = config_get(c, "tls.client_auth", "optional");
	if (tls_client_auth_parse(mode, &out->client_auth) < 0) {
		snprintf(err, err_len, "tls.client_auth: \"%s\" is not none, optional or required",
		         mode);
		return -EINVAL;
	}
	struct {
		const char *key, *file;
		const char **dst;
		bool optional;
	} files[] = {
	        {"tls.cert", "server.pem", &out->cert_file, false},
	        {"tls.key", "server.key", &out->key_file, false},
	        {"tls.trust", "ca.pem", &out->trust_file, true},
	        {"tls.policy", "policy.conf", &out->policy_file, true},
	        {"tls.crl", "crl.pem", &out->crl_file, true},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *v = config_get(c, files[i].key, NULL);
		if (v && *v) {
			*files[i].dst = v;
			continue;
		}
		const char *p = default_path(data_dir, files[i].file, storage, storage_len, &used);
		if (!p) {
			snprintf(err, err_len, "data directory path too long");
			return -ENAMETOOLONG;
		}
		/* Defaults for the optional files apply only when they exist, so a
		 * listener with its own certificate needs no trust store. The CRL
		 * file is looked for again at every reload: a CRL put in place
		 * later takes effect on SIGHUP. */
		if (files[i].dst == &out->crl_file) {
			out->crl_file = p;
			out->crl_optional = true;
			continue;
		}
		*files[i].dst = (files[i].optional && !file_exists(p)) ? NULL : p;
	}
	if (!out->trust_file && out->client_auth != TLS_CLIENT_AUTH_NONE &&
	    !config_get(c, "tls.client_auth", NULL))
		out->client_auth = TLS_CLIENT_AUTH_NONE;
	out->handshake_timeout_ms = config_get_ms(c, "tls.handshake_timeout", 10000);
	int64_t max_hs = config_get_int(c, "tls.max_handshakes", TLS_DEFAULT_MAX_HANDSHAKES);
	if (max_hs < 1 || max_hs > 100000) {
		snprintf(err, err_len, "tls.max_handshakes: %lld is outside 1..100000",
		         (long long)max_hs);
		return -EINVAL;
	}
	out->max_handshakes = (unsigned)max_hs;
	out->ticket_lifetime_s = config_get_ms(c, "tls.ticket_lifetime", 3600 * 1000) / 1000;
	out->ticket_rotation_s = config_get_ms(c, "tls.ticket_rotation", 12 * 3600 * 1000) / 1000;
	if (out->handshake_timeout_ms < 0 || out->ticket_lifetime_s < 0) {
		snprintf(err, err_len,
		         "tls.handshake_timeout and tls.ticket_lifetime must not be negative");
		return -EINVAL;
	}
	if (out->ticket_rotation_s < 60) {
		snprintf(err, err_len, "tls.ticket_rotation must be at least 1m");
		return -EINVAL;
	}
	/* Client keys above this size are refused before mbedTLS uses them
	 * (docs/tls.md, Handshake cost); the range keeps one check bounded. */
	int64_t max_bits = config_get_int(c, "tls.client_key_max_bits", TLS_CLIENT_RSA_MAX_BITS);
	if (max_bits < TLS_CLIENT_RSA_MIN_BITS || max_bits > TLS_CLIENT_RSA_LIMIT_BITS) {
		snprintf(err, err_len,
		         "tls.client_key_max_bits: %lld is outside %d..%d (bits of the largest RSA "
		         "client-certificate key accepted)",
		         (long long)max_bits, TLS_CLIENT_RSA_MIN_BITS, TLS_CLIENT_RSA_LIMIT_BITS);
		return -EINVAL;
	}
	out->client_key_max_bits = (int)max_bits;
	/* Every process and machine derives the same ticket keys from this file
	 * (tls_ticket.h); kenshod creates the default one before workers fork. */
	const char *tk = config_get(c, "tls.ticket_key", NULL);
	if (tk && *tk) {
		out->ticket_key_file = tk;
	} else {
		out->ticket_key_file =
		        default_path(data_dir, "ticket.key", storage, storage_len, &used);
		if (!out->ticket_key_file) {
			snprintf(err, err_len, "data directory path too long");
			return -ENAMETOOLONG;
		}
	}
	return 0;
}
